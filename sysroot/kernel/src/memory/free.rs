//! The free list: the [`Region`] tokens of free RAM, kept coalesced (at most one free
//! neighbour per side) and read-write; lookups scan it (first fit, lowest address).

use unikernel_hal::memory::{Access, Region};
use unikernel_hal::paging;

use super::slots::Slots;
use crate::errno::Errno;

/// How many separate free ranges can be kept.
const FREE_SLOTS: usize = 128;

#[derive(Debug)]
pub struct FreeList(Slots<Region, FREE_SLOTS>);

impl FreeList {
    pub const fn new() -> Self {
        Self(Slots::new())
    }

    /// Bytes free.
    pub fn bytes(&self) -> usize {
        self.0.iter().flatten().map(Region::len).sum()
    }

    /// Returns `region` to the free list, merged with its free neighbours.
    pub fn insert(&mut self, mut region: Region) {
        if region.access() != Access::ReadWrite {
            // Free memory is always mapped read-write; a table shortage here would
            // leave a page unusable, which `alloc` then skips via `as_mut_slice`.
            let _ = paging::protect(&mut region, Access::ReadWrite);
        }
        // The free list stays coalesced, so there is at most one neighbour per side.
        if let Some(slot) = self
            .0
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|r| r.end() == region.start()))
            && let Some(low) = slot.take()
        {
            region = match low.merge(region) {
                Ok(merged) => merged,
                Err((low, region)) => {
                    *slot = Some(low);
                    region
                }
            };
        }
        if let Some(slot) = self
            .0
            .iter_mut()
            .find(|s| s.as_ref().is_some_and(|r| r.start() == region.end()))
            && let Some(high) = slot.take()
        {
            region = match region.merge(high) {
                Ok(merged) => merged,
                Err((region, high)) => {
                    *slot = Some(high);
                    region
                }
            };
        }
        if let Err(region) = self.0.put(region) {
            // The free list is full: the memory is lost (the token is dropped).
            crate::log::kinfo!("memory: free list full, {} bytes lost", region.len());
        }
    }

    /// Takes `len` bytes (page multiple) from the free list, first fit, lowest address.
    pub fn take(&mut self, len: usize) -> Result<Region, Errno> {
        let slot = self
            .0
            .iter_mut()
            .filter(|slot| slot.as_ref().is_some_and(|r| r.len() >= len))
            .min_by_key(|slot| slot.as_ref().map_or(usize::MAX, Region::start))
            .ok_or(Errno::ENOMEM)?;
        let region = slot.take().ok_or(Errno::ENOMEM)?;
        match region.split_at(len) {
            Ok((head, tail)) => {
                *slot = Some(tail);
                Ok(head)
            }
            Err(whole) => Ok(whole), // exactly `len`
        }
    }

    /// Takes exactly `start..start + len` from the free list.
    pub fn take_at(&mut self, start: usize, len: usize) -> Result<Region, Errno> {
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        let slot = self
            .0
            .iter_mut()
            .find(|slot| {
                slot.as_ref()
                    .is_some_and(|r| r.start() <= start && end <= r.end())
            })
            .ok_or(Errno::ENOMEM)?;
        let mut region = slot.take().ok_or(Errno::ENOMEM)?;
        if region.start() < start {
            let offset = start - region.start();
            match region.split_at(offset) {
                Ok((head, tail)) => {
                    *slot = Some(head);
                    region = tail;
                }
                Err(region) => {
                    *slot = Some(region);
                    return Err(Errno::ENOMEM);
                }
            }
        }
        if region.len() > len {
            match region.split_at(len) {
                Ok((head, tail)) => {
                    region = head;
                    if let Err(tail) = self.0.put(tail) {
                        self.insert(region.merge(tail).unwrap_or_else(|(a, _)| a));
                        return Err(Errno::ENOMEM);
                    }
                }
                Err(whole) => region = whole,
            }
        }
        Ok(region)
    }
}
