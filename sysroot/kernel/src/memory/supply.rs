//! How the memory manager feeds itself from free RAM: storage for its own records (the
//! free list and the mapping table grow by doubling) and page-table frames for the
//! hardware layer (given when a page-table change asks, taken back when spare).
//!
//! Nothing here allocates on the application's heap: that heap sits on `mmap`, i.e. on
//! this manager, so using it under the memory lock would re-enter the lock.

use unikernel_hal::memory::{Access, Region};
use unikernel_hal::page_vec::PageVec;
use unikernel_hal::{PAGE_SIZE, paging};

use super::Memory;
use super::free::FreeList;
use super::mappings::{Mapping, Use};
use crate::errno::Errno;

/// Spare page-table frames kept between changes (the rest go back to the free list),
/// so that splitting a page or two does not take and return frames every time.
const SPARE_TABLES: usize = 4;
/// Records in the first storage of a table (one page of free ranges or mappings).
const FIRST_RECORDS: usize = PAGE_SIZE / 32;

/// Runs `change` (a page-table change), giving the hardware layer a frame of free RAM
/// each time it asks for one; `ENOMEM` when there is none left (then nothing changed,
/// see `paging::protect`).
pub(super) fn feed_tables<T>(
    free: &mut FreeList,
    mut change: impl FnMut() -> Result<T, paging::PagingError>,
) -> Result<T, Errno> {
    loop {
        match change() {
            Ok(value) => return Ok(value),
            Err(paging::PagingError::OutOfTables) => donate_frame(free)?,
            Err(_) => return Err(Errno::ENOMEM),
        }
    }
}

/// Gives the hardware layer one frame of free RAM for a page table.
pub(super) fn donate_frame(free: &mut FreeList) -> Result<(), Errno> {
    let frame = free.take(PAGE_SIZE)?;
    paging::donate_table_frames(frame).map_err(|frame| {
        lose(free.insert(frame));
        Errno::ENOMEM
    })
}

/// Logs memory that could not be kept (no record and no RAM for one).
fn lose(result: Result<(), Region>) {
    if let Err(region) = result {
        crate::log::kinfo!(
            "memory: no record for a free range, {} bytes lost",
            region.len()
        );
    }
}

impl Memory {
    /// Sets the permissions of `region`, feeding page-table frames as needed.
    pub(super) fn set_access(&mut self, region: &mut Region, access: Access) -> Result<(), Errno> {
        feed_tables(&mut self.free, || paging::protect(region, access))
    }

    /// Returns page-table frames beyond [`SPARE_TABLES`] (left over, or freed when
    /// tables merged back into 2 MiB pages) to the free list.
    pub(super) fn trim_tables(&mut self) {
        while paging::spare_table_frames() > SPARE_TABLES {
            let Some(frame) = paging::reclaim_table_frame() else {
                return;
            };
            self.release(frame);
        }
    }

    /// Returns `region` to the free list: read-write again, merged with its
    /// neighbours, with a new record if needed (taken from free RAM, or from the start
    /// of `region` itself when nothing else is free, as at boot).
    pub(super) fn release(&mut self, mut region: Region) {
        if region.access() != Access::ReadWrite
            && self.set_access(&mut region, Access::ReadWrite).is_err()
        {
            crate::log::kinfo!(
                "memory: no page table to make {} bytes read-write again; lost",
                region.len()
            );
            return;
        }
        let region = match self.free.insert(region) {
            Ok(()) => return,
            Err(region) => region,
        };
        if self.grow_free().is_ok() {
            lose(self.free.insert(region));
            return;
        }
        let bytes = PageVec::<Region>::bytes_for(self.free.capacity().max(FIRST_RECORDS) * 2);
        match region.split_at(bytes) {
            Ok((storage, rest)) => match self.free.move_to(storage) {
                Ok(old) => {
                    lose(self.free.insert(rest));
                    if let Some(old) = old {
                        lose(self.free.insert(old));
                    }
                }
                Err(storage) => lose(
                    self.free
                        .insert(storage.merge(rest).unwrap_or_else(|(s, _)| s)),
                ),
            },
            Err(region) => lose(Err(region)),
        }
    }

    /// Doubles the free list's storage, taken from the free list.
    fn grow_free(&mut self) -> Result<(), Errno> {
        let bytes = PageVec::<Region>::bytes_for(self.free.capacity().max(FIRST_RECORDS) * 2);
        let storage = self.free.take(bytes)?;
        match self.free.move_to(storage) {
            Ok(Some(old)) => lose(self.free.insert(old)),
            Ok(None) => {}
            Err(storage) => {
                lose(self.free.insert(storage));
                return Err(Errno::ENOMEM);
            }
        }
        Ok(())
    }

    /// Doubles the mapping table's storage, taken from the free list.
    fn grow_mapped(&mut self) -> Result<(), Errno> {
        let capacity = self.mapped.capacity().max(FIRST_RECORDS) * 2;
        let storage = self.free.take(PageVec::<Mapping>::bytes_for(capacity))?;
        match self.mapped.move_to(storage) {
            Ok(Some(old)) => self.release(old),
            Ok(None) => {}
            Err(storage) => {
                self.release(storage);
                return Err(Errno::ENOMEM);
            }
        }
        Ok(())
    }

    /// Makes room for the records one operation may add (two mappings, two free ranges).
    pub(super) fn reserve_records(&mut self) -> Result<(), Errno> {
        if self.free.is_nearly_full() {
            self.grow_free()?;
        }
        if self.mapped.is_nearly_full() {
            self.grow_mapped()?;
        }
        Ok(())
    }

    /// Records `region` as a mapping; returns its address. On failure the region
    /// goes back to the free list.
    pub(super) fn add_mapping(&mut self, region: Region, usage: Use) -> Result<usize, Errno> {
        let start = region.start();
        if let Err(err) = self.reserve_records() {
            self.release(region);
            return Err(err);
        }
        match self.mapped.put(Mapping { region, usage }) {
            Ok(()) => Ok(start),
            Err(mapping) => {
                self.release(mapping.region);
                Err(Errno::ENOMEM)
            }
        }
    }
}
