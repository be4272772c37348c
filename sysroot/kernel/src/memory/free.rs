//! The free list: the [`Region`] tokens of free RAM, sorted by address and kept
//! coalesced (no two entries touch), all mapped read-write. Its records live in a
//! [`PageVec`] whose storage the memory manager takes from the free RAM itself
//! (`super::Memory::grow_free`), so the number of free ranges is limited by RAM only.

use unikernel_hal::memory::{Access, Region};
use unikernel_hal::page_vec::PageVec;

use crate::errno::Errno;

/// Mappings of this many bytes or more are placed high (see [`FreeList::take_placed`]).
const LARGE: usize = 1 << 20;

#[derive(Debug)]
pub struct FreeList(PageVec<Region>);

impl FreeList {
    pub const fn new() -> Self {
        Self(PageVec::new())
    }

    /// Bytes free.
    pub fn bytes(&self) -> usize {
        self.0.as_slice().iter().map(Region::len).sum()
    }

    /// Whether `insert` and `take_at` could need a new record (each adds at most one).
    pub fn is_nearly_full(&self) -> bool {
        self.0.len() + 2 > self.0.capacity()
    }

    /// Records now and the capacity, for growing the storage.
    pub fn capacity(&self) -> usize {
        self.0.capacity()
    }

    /// Moves the records into `storage`; returns the old storage.
    pub fn move_to(&mut self, storage: Region) -> Result<Option<Region>, Region> {
        self.0.move_to(storage)
    }

    /// Index of the first entry that ends after `address`.
    fn first_ending_after(&self, address: usize) -> usize {
        self.0.as_slice().partition_point(|r| r.end() <= address)
    }

    /// Returns `region` (read-write) to the free list, merged with its free
    /// neighbours; gives it back if it is not read-write or a new record is needed and
    /// there is no room for one.
    pub fn insert(&mut self, region: Region) -> Result<(), Region> {
        if region.access() != Access::ReadWrite {
            return Err(region);
        }
        let index = self.first_ending_after(region.start());
        let mut region = region;
        // The neighbour below ends exactly where `region` starts: absorb it.
        let mut at = index;
        if at > 0 && self.0.as_slice()[at - 1].end() == region.start() {
            let low = self.0.remove(at - 1);
            at -= 1;
            region = match low.merge(region) {
                Ok(merged) => merged,
                Err((low, region)) => {
                    self.restore(at, low);
                    return Err(region);
                }
            };
        }
        if self
            .0
            .as_slice()
            .get(at)
            .is_some_and(|high| high.start() == region.end())
        {
            let high = self.0.remove(at);
            region = match region.merge(high) {
                Ok(merged) => merged,
                Err((region, high)) => {
                    self.restore(at, high);
                    return Err(region);
                }
            };
        }
        self.0.insert(at, region)
    }

    /// Puts back an entry just removed (the slot it left is free).
    fn restore(&mut self, at: usize, region: Region) {
        if self.0.insert(at, region).is_err() {
            unreachable!("a slot just freed holds the entry again");
        }
    }

    /// Takes `len` bytes (page multiple) from the free list, first fit, lowest address.
    pub fn take(&mut self, len: usize) -> Result<Region, Errno> {
        let index = self
            .0
            .as_slice()
            .iter()
            .position(|r| r.len() >= len)
            .ok_or(Errno::ENOMEM)?;
        let region = self.0.remove(index);
        match region.split_at(len) {
            Ok((head, tail)) => {
                self.restore(index, tail);
                Ok(head)
            }
            Err(whole) => Ok(whole), // exactly `len`
        }
    }

    /// Takes `len` bytes (page multiple) from the end of the highest free range that
    /// holds them (last fit, highest address).
    pub fn take_high(&mut self, len: usize) -> Result<Region, Errno> {
        let index = self
            .0
            .as_slice()
            .iter()
            .rposition(|r| r.len() >= len)
            .ok_or(Errno::ENOMEM)?;
        let region = self.0.remove(index);
        let keep = region.len() - len;
        match region.split_at(keep) {
            Ok((head, tail)) => {
                self.restore(index, head);
                Ok(tail)
            }
            Err(whole) => Ok(whole), // exactly `len`
        }
    }

    /// Takes `len` bytes where a mapping of that size belongs: small ones low (first
    /// fit), large ones high (last fit). Large mappings are the ones that grow
    /// (`mremap` of a growing buffer); kept apart from the many small ones they have
    /// free RAM below them to grow into (`remap`'s slide), and the small ones do not
    /// land in the gaps a large one needs next.
    pub fn take_placed(&mut self, len: usize) -> Result<Region, Errno> {
        if len >= LARGE {
            self.take_high(len)
        } else {
            self.take(len)
        }
    }

    /// Bytes free from `address` on, contiguously (0 if `address` is not free).
    pub fn free_after(&self, address: usize) -> usize {
        let index = self.first_ending_after(address);
        self.0
            .as_slice()
            .get(index)
            .filter(|r| r.start() <= address)
            .map_or(0, |r| r.end() - address)
    }

    /// Bytes free just below `address`, contiguously.
    pub fn free_before(&self, address: usize) -> usize {
        let index = self.first_ending_after(address);
        match index.checked_sub(1).map(|i| &self.0.as_slice()[i]) {
            Some(r) if r.end() == address => r.len(),
            _ => 0,
        }
    }

    /// Takes exactly `start..start + len` from the free list. Needs room for one more
    /// record (see [`Self::is_nearly_full`]).
    pub fn take_at(&mut self, start: usize, len: usize) -> Result<Region, Errno> {
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        let index = self.first_ending_after(start);
        if !self
            .0
            .as_slice()
            .get(index)
            .is_some_and(|r| r.start() <= start && end <= r.end())
        {
            return Err(Errno::ENOMEM);
        }
        let mut region = self.0.remove(index);
        let mut at = index;
        if region.start() < start {
            let offset = start - region.start();
            match region.split_at(offset) {
                Ok((head, tail)) => {
                    self.restore(at, head);
                    at += 1;
                    region = tail;
                }
                Err(whole) => {
                    self.restore(at, whole);
                    return Err(Errno::ENOMEM);
                }
            }
        }
        if region.len() > len {
            match region.split_at(len) {
                Ok((head, tail)) => {
                    if let Err(tail) = self.0.insert(at, tail) {
                        // No record for the tail: undo.
                        let whole = head.merge(tail).unwrap_or_else(|(head, _)| head);
                        let _ = self.insert(whole);
                        return Err(Errno::ENOMEM);
                    }
                    region = head;
                }
                Err(whole) => region = whole,
            }
        }
        Ok(region)
    }
}
