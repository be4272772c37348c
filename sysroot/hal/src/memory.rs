//! Ownership of RAM.
//!
//! A [`Region`] is a token for exclusive ownership of a page-aligned range of
//! identity-mapped RAM, like a `Box<[u8]>` without an allocator behind it: only
//! [`paging::init`] creates them (from the boot memory map, minus the image), they
//! cannot be copied, and splitting or merging keeps them disjoint. That is what makes
//! [`Region::as_mut_slice`] and the page-permission changes in [`paging`] safe to offer
//! to the kernel, whose allocator (in safe Rust) keeps the tokens of free memory and of
//! memory mapped for the application.
//!
//! [`paging::init`]: crate::paging::init
//! [`paging`]: crate::paging

use crate::PAGE_SIZE;

/// Page permissions of a range.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Access {
    /// Not mapped: every access faults (guard pages, `PROT_NONE`).
    None,
    /// Read-only, not executable.
    Read,
    /// Read and write, not executable (the default for RAM).
    ReadWrite,
    /// Read and execute (W^X: never writable at the same time).
    ReadExecute,
}

/// Exclusive ownership of `len` bytes of RAM at `start` (both page-aligned, `len > 0`).
#[derive(Debug, PartialEq, Eq)]
pub struct Region {
    start: usize,
    len: usize,
    access: Access,
}

impl Region {
    /// # Safety
    ///
    /// `start..start + len` must be page-aligned, non-empty RAM mapped read-write that
    /// nothing else uses or will use, and no other `Region` may cover any of it.
    pub(crate) unsafe fn new(start: usize, len: usize) -> Region {
        debug_assert!(start.is_multiple_of(PAGE_SIZE) && len.is_multiple_of(PAGE_SIZE) && len > 0);
        Region {
            start,
            len,
            access: Access::ReadWrite,
        }
    }

    /// First byte.
    pub fn start(&self) -> usize {
        self.start
    }

    /// Length in bytes (a multiple of the page size).
    pub fn len(&self) -> usize {
        self.len
    }

    /// Never empty; here for the `len` convention.
    pub fn is_empty(&self) -> bool {
        false
    }

    /// One past the last byte.
    pub fn end(&self) -> usize {
        self.start + self.len
    }

    /// Current page permissions.
    pub fn access(&self) -> Access {
        self.access
    }

    pub(crate) fn set_access(&mut self, access: Access) {
        self.access = access;
    }

    /// Splits into `[start, start + offset)` and the rest. `offset` must be a non-zero
    /// multiple of the page size below `len`; otherwise the region comes back unchanged.
    pub fn split_at(self, offset: usize) -> Result<(Region, Region), Region> {
        if offset == 0 || offset >= self.len || !offset.is_multiple_of(PAGE_SIZE) {
            return Err(self);
        }
        let head = Region {
            start: self.start,
            len: offset,
            access: self.access,
        };
        let tail = Region {
            start: self.start + offset,
            len: self.len - offset,
            access: self.access,
        };
        Ok((head, tail))
    }

    /// Joins `self` with `next` if `next` starts where `self` ends and both have the
    /// same permissions; otherwise gives both back.
    pub fn merge(self, next: Region) -> Result<Region, (Region, Region)> {
        if self.end() == next.start && self.access == next.access {
            Ok(Region {
                start: self.start,
                len: self.len + next.len,
                access: self.access,
            })
        } else {
            Err((self, next))
        }
    }

    /// The memory as bytes, if it is mapped read-write.
    pub fn as_mut_slice(&mut self) -> Option<&mut [u8]> {
        if self.access != Access::ReadWrite {
            return None;
        }
        // SAFETY: the token owns start..start+len exclusively (constructor contract,
        // kept by split/merge), the range is mapped read-write (checked above), and the
        // slice borrows the token mutably, so no second slice can exist at once.
        Some(unsafe { core::slice::from_raw_parts_mut(self.start as *mut u8, self.len) })
    }

    /// Zero-fills the memory; `false` if it is not mapped read-write.
    pub fn zero(&mut self) -> bool {
        match self.as_mut_slice() {
            Some(bytes) => {
                bytes.fill(0);
                true
            }
            None => false,
        }
    }
}

/// Most separate free RAM ranges handed to the kernel.
pub(crate) const FREE_RAM_MAX: usize = 16;

/// The free RAM at boot, as region tokens (an iterator that hands each out once).
#[derive(Debug)]
pub struct FreeRam {
    regions: [Option<Region>; FREE_RAM_MAX],
}

impl FreeRam {
    pub(crate) const fn new() -> FreeRam {
        FreeRam {
            regions: [const { None }; FREE_RAM_MAX],
        }
    }

    /// Adds a region; `false` (and the range is lost) if the table is full.
    pub(crate) fn push(&mut self, region: Region) -> bool {
        match self.regions.iter_mut().find(|slot| slot.is_none()) {
            Some(slot) => {
                *slot = Some(region);
                true
            }
            None => false,
        }
    }
}

impl Iterator for FreeRam {
    type Item = Region;

    fn next(&mut self) -> Option<Region> {
        self.regions.iter_mut().find_map(Option::take)
    }
}
