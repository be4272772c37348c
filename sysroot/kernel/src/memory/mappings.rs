//! The mapping table: what the application was given (Linux's VMAs), one [`Region`]
//! per mapping, sorted by address (mappings never overlap), split where a partial
//! `munmap` or `mprotect` needs a boundary. The records live in a [`PageVec`] whose
//! storage the memory manager takes from free RAM (`super::Memory::grow_mapped`), so
//! the number of mappings is limited by RAM only; lookups are binary searches.

use core::ops::Range;

use unikernel_hal::memory::Region;
use unikernel_hal::page_vec::PageVec;

use crate::errno::Errno;

/// What a mapping is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Use {
    /// `mmap` memory: anonymous, or a copy of a file's bytes (`syscall::mm`).
    Anonymous,
    /// A thread stack's guard page.
    StackGuard,
}

#[derive(Debug)]
pub struct Mapping {
    pub region: Region,
    pub usage: Use,
}

#[derive(Debug)]
pub struct Mappings(PageVec<Mapping>);

impl Mappings {
    pub const fn new() -> Self {
        Self(PageVec::new())
    }

    /// Whether an operation could run out of records (each adds at most two).
    pub fn is_nearly_full(&self) -> bool {
        self.0.len() + 2 > self.0.capacity()
    }

    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Moves the records into `storage`; returns the old storage.
    pub fn move_to(&mut self, storage: Region) -> Result<Option<Region>, Region> {
        self.0.move_to(storage)
    }

    /// Stores `mapping` (which overlaps no other); gives it back if there is no room.
    pub fn put(&mut self, mapping: Mapping) -> Result<(), Mapping> {
        let index = self.first_ending_after(mapping.region.start());
        self.0.insert(index, mapping)
    }

    /// Index of the first mapping that ends after `address`.
    fn first_ending_after(&self, address: usize) -> usize {
        self.0
            .as_slice()
            .partition_point(|m| m.region.end() <= address)
    }

    /// Indices of the mappings that overlap `start..end`.
    pub fn overlapping(&self, start: usize, end: usize) -> Range<usize> {
        let first = self.first_ending_after(start);
        let count = self.0.as_slice()[first..]
            .iter()
            .take_while(|m| m.region.start() < end)
            .count();
        first..first + count
    }

    pub fn get_mut(&mut self, index: usize) -> &mut Mapping {
        &mut self.0.as_mut_slice()[index]
    }

    pub fn remove(&mut self, index: usize) -> Mapping {
        self.0.remove(index)
    }

    /// The mapping containing `address`.
    pub fn containing(&self, address: usize) -> Option<&Mapping> {
        let index = self.first_ending_after(address);
        self.0
            .as_slice()
            .get(index)
            .filter(|m| m.region.start() <= address)
    }

    /// Splits the mapping that straddles `boundary`, if any, so that `boundary` becomes
    /// a mapping boundary. Needs room for one more record (see `is_nearly_full`).
    fn split_at(&mut self, boundary: usize) -> Result<(), Errno> {
        let index = self.first_ending_after(boundary);
        let straddles = self
            .0
            .as_slice()
            .get(index)
            .is_some_and(|m| m.region.start() < boundary);
        if !straddles {
            return Ok(());
        }
        let mapping = self.0.remove(index);
        let usage = mapping.usage;
        let offset = boundary - mapping.region.start();
        let (head, tail) = match mapping.region.split_at(offset) {
            Ok(parts) => parts,
            Err(region) => {
                self.restore(index, Mapping { region, usage });
                return Err(Errno::EINVAL);
            }
        };
        self.restore(
            index,
            Mapping {
                region: head,
                usage,
            },
        );
        if let Err(tail) = self.0.insert(
            index + 1,
            Mapping {
                region: tail,
                usage,
            },
        ) {
            // No record for the tail: join it to the head again.
            let head = self.0.remove(index);
            let region = head
                .region
                .merge(tail.region)
                .unwrap_or_else(|(head, _)| head);
            self.restore(index, Mapping { region, usage });
            return Err(Errno::ENOMEM);
        }
        Ok(())
    }

    fn restore(&mut self, index: usize, mapping: Mapping) {
        if self.0.insert(index, mapping).is_err() {
            unreachable!("a slot just freed holds the record again");
        }
    }

    /// Makes `start` and `end` mapping boundaries; afterwards every mapping is either
    /// inside `start..end` or outside it. Needs room for two more records.
    pub fn isolate(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        self.split_at(start)?;
        self.split_at(end)
    }

    /// Bytes of `start..end` covered by mappings (of `usage`, if given).
    pub fn covered(&self, start: usize, end: usize, usage: Option<Use>) -> usize {
        let range = self.overlapping(start, end);
        self.0.as_slice()[range]
            .iter()
            .filter(|m| usage.is_none_or(|u| m.usage == u))
            .map(|m| {
                m.region
                    .end()
                    .min(end)
                    .saturating_sub(m.region.start().max(start))
            })
            .sum()
    }
}
