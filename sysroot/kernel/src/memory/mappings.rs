//! The mapping table: what the application was given (Linux's VMAs), one [`Region`]
//! per mapping, split where a partial `munmap` or `mprotect` needs a boundary.

use core::iter::Flatten;
use core::slice;

use unikernel_hal::memory::Region;

use super::slots::Slots;
use crate::errno::Errno;

/// How many mappings can exist at once.
const MAPPED_SLOTS: usize = 512;

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
pub struct Mappings(Slots<Mapping, MAPPED_SLOTS>);

impl Mappings {
    pub const fn new() -> Self {
        Self(Slots::new())
    }

    /// Stores `mapping`; gives it back if the table is full.
    pub fn put(&mut self, mapping: Mapping) -> Result<(), Mapping> {
        self.0.put(mapping)
    }

    pub fn iter(&self) -> Flatten<slice::Iter<'_, Option<Mapping>>> {
        self.0.iter().flatten()
    }

    pub fn iter_mut(&mut self) -> Flatten<slice::IterMut<'_, Option<Mapping>>> {
        self.0.iter_mut().flatten()
    }

    /// Splits the mapping that straddles `boundary`, if any, so that `boundary` becomes
    /// a mapping boundary. Needs one free mapping slot (checked by the callers).
    fn split_at(&mut self, boundary: usize) -> Result<(), Errno> {
        let Some(slot) = self.0.iter_mut().find(|slot| {
            slot.as_ref()
                .is_some_and(|m| m.region.start() < boundary && boundary < m.region.end())
        }) else {
            return Ok(());
        };
        let Some(mapping) = slot.take() else {
            return Ok(());
        };
        let offset = boundary - mapping.region.start();
        match mapping.region.split_at(offset) {
            Ok((head, tail)) => {
                *slot = Some(Mapping {
                    region: head,
                    usage: mapping.usage,
                });
                self.0
                    .put(Mapping {
                        region: tail,
                        usage: mapping.usage,
                    })
                    .map_err(|_| Errno::ENOMEM)
            }
            Err(region) => {
                *slot = Some(Mapping {
                    region,
                    usage: mapping.usage,
                });
                Err(Errno::EINVAL)
            }
        }
    }

    /// Makes `start` and `end` mapping boundaries; afterwards every mapping is either
    /// inside `start..end` or outside it.
    pub fn isolate(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        if self.0.vacant() < 2 {
            return Err(Errno::ENOMEM);
        }
        self.split_at(start)?;
        self.split_at(end)
    }

    /// Bytes of `start..end` covered by mappings.
    pub fn covered(&self, start: usize, end: usize) -> usize {
        self.0
            .iter()
            .flatten()
            .map(|m| {
                m.region
                    .end()
                    .min(end)
                    .saturating_sub(m.region.start().max(start))
            })
            .sum()
    }

    pub fn inside(
        &mut self,
        start: usize,
        end: usize,
    ) -> impl Iterator<Item = &mut Option<Mapping>> {
        self.0.iter_mut().filter(move |slot| {
            slot.as_ref()
                .is_some_and(|m| start <= m.region.start() && m.region.end() <= end)
        })
    }
}
