//! Physical memory for the application: the free list and the mappings.
//!
//! Memory is identity-mapped, so "mapping" anonymous memory means taking a range of
//! free RAM, zeroing it and setting its page permissions. The allocator keeps the
//! [`Region`] ownership tokens the hardware layer handed out at boot: free ranges in
//! the free list ([`free`]), ranges given to the application in the mapping table
//! ([`mappings`], Linux's VMAs). Partial `munmap`/`mprotect` split regions; freeing
//! merges neighbours again. Here: the operations behind `mmap`, `munmap`,
//! `mprotect`, `madvise`, `mremap` and thread stacks, which move regions between the
//! two tables.
//!
//! Nothing has a fixed capacity: the records of both tables and the page-table frames
//! come from free RAM on demand (`supply`) and go back to it, as does the storage of
//! the kernel's per-thread tables (`tables`); running out of RAM is
//! reported as `ENOMEM`, and a protection that cannot be set (no frame for the page
//! table a split needs) fails the call rather than leaving more access than asked.

use unikernel_hal::lock_order::{Level, OrderedMutex};
use unikernel_hal::memory::{Access, FreeRam, Region};
use unikernel_hal::{PAGE_SIZE, paging};

use crate::errno::Errno;
use free::FreeList;
use mappings::Mappings;
pub use mappings::Use;
pub use owned::{application_owns, register_main_stack};
pub use remap::remap;
use supply::feed_tables;
pub use tables::{grow_table, replace_storage};

mod free;
mod mappings;
mod owned;
mod remap;
mod supply;
mod tables;

#[derive(Debug)]
struct Memory {
    free: FreeList,
    mapped: Mappings,
}

static MEMORY: OrderedMutex<Memory> = OrderedMutex::new(
    Level::Memory,
    Memory {
        free: FreeList::new(),
        mapped: Mappings::new(),
    },
);

/// Rounds up to a whole number of pages; `None` on overflow.
pub fn page_align_up(len: usize) -> Option<usize> {
    Some(len.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// Takes the boot-time free RAM. Returns the number of bytes now free.
pub fn init(ram: FreeRam) -> usize {
    let mut memory = MEMORY.lock();
    for region in ram {
        memory.release(region);
    }
    memory.trim_tables();
    memory.free.bytes()
}

/// Bytes free.
pub fn free_bytes() -> usize {
    MEMORY.lock().free.bytes()
}

fn checked_range(start: usize, len: usize) -> Result<usize, Errno> {
    if !start.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
    start.checked_add(len).ok_or(Errno::ENOMEM)
}

impl Memory {
    /// Zero-fills `region`, copies `contents` to its start (cut to its length) and
    /// sets its permissions; on failure the region goes back to the free list.
    fn prepare(
        &mut self,
        mut region: Region,
        access: Access,
        contents: &[u8],
    ) -> Result<Region, Errno> {
        if let Some(bytes) = region.as_mut_slice() {
            let n = contents.len().min(bytes.len());
            bytes[..n].copy_from_slice(&contents[..n]);
            bytes[n..].fill(0);
        }
        if access != Access::ReadWrite
            && let Err(err) = self.set_access(&mut region, access)
        {
            // Never more access than asked: no mapping rather than a read-write one.
            self.release(region);
            return Err(err);
        }
        Ok(region)
    }

    /// Takes a prepared region of `len` bytes (anywhere, or at `start`) and records it.
    fn map_new(
        &mut self,
        start: Option<usize>,
        len: usize,
        access: Access,
        contents: &[u8],
    ) -> Result<usize, Errno> {
        self.reserve_records()?;
        let region = match start {
            Some(start) => self.free.take_at(start, len)?,
            None => self.free.take_placed(len)?,
        };
        let result = self
            .prepare(region, access, contents)
            .and_then(|region| self.add_mapping(region, Use::Anonymous));
        self.trim_tables();
        result
    }
}

/// Maps `len` bytes (rounded up to pages) anywhere: `contents` (a file mapping's
/// bytes, empty for anonymous memory), then zeros; returns the address.
pub fn map_anywhere(len: usize, access: Access, contents: &[u8]) -> Result<usize, Errno> {
    let len = page_align_up(len)
        .filter(|&len| len > 0)
        .ok_or(Errno::ENOMEM)?;
    MEMORY.lock().map_new(None, len, access, contents)
}

/// Maps `contents`, then zeros, at exactly `start`; with `replace`, existing mappings
/// there are unmapped first (`MAP_FIXED`), otherwise they make it fail
/// (`MAP_FIXED_NOREPLACE`).
pub fn map_fixed(
    start: usize,
    len: usize,
    access: Access,
    replace: bool,
    contents: &[u8],
) -> Result<usize, Errno> {
    let end = checked_range(start, len)?;
    if end == start {
        return Err(Errno::EINVAL);
    }
    let mut memory = MEMORY.lock();
    if memory.mapped.covered(start, end, None) > 0 {
        if !replace {
            return Err(Errno::EEXIST);
        }
        memory.unmap_range(start, end)?;
    }
    memory.map_new(Some(start), end - start, access, contents)
}

impl Memory {
    /// Unmaps the anonymous mappings in `start..end` (guard pages stay: they belong to
    /// the kernel's stacks).
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        self.reserve_records()?;
        self.mapped.isolate(start, end)?;
        let mut index = self.mapped.overlapping(start, end).start;
        while index < self.mapped.overlapping(start, end).end {
            if self.mapped.get_mut(index).usage == Use::Anonymous {
                let mapping = self.mapped.remove(index);
                self.release(mapping.region);
            } else {
                index += 1;
            }
        }
        self.trim_tables();
        Ok(())
    }
}

/// Unmaps `start..start + len`; ranges that are not mapped are ignored, as on Linux.
pub fn unmap(start: usize, len: usize) -> Result<(), Errno> {
    let end = checked_range(start, len)?;
    if end == start {
        return Err(Errno::EINVAL);
    }
    MEMORY.lock().unmap_range(start, end)
}

/// Changes the permissions of `start..start + len`, which must be mapped entirely.
/// `ENOMEM` if a page table needed cannot be had; then the mappings before the one
/// that failed have the new permissions and the rest keep theirs, never more.
pub fn protect(start: usize, len: usize, access: Access) -> Result<(), Errno> {
    let end = checked_range(start, len)?;
    let mut memory = MEMORY.lock();
    if memory.mapped.covered(start, end, None) != end - start {
        return Err(Errno::ENOMEM);
    }
    memory.reserve_records()?;
    memory.mapped.isolate(start, end)?;
    let Memory { free, mapped } = &mut *memory;
    let mut result = Ok(());
    for index in mapped.overlapping(start, end) {
        let mapping = mapped.get_mut(index);
        if mapping.usage == Use::Anonymous {
            result = feed_tables(free, || paging::protect(&mut mapping.region, access));
            if result.is_err() {
                break;
            }
        }
    }
    memory.trim_tables();
    result
}

/// `MADV_DONTNEED`: the next reads of `start..start + len` see zeroes. Parts that are
/// not mapped, or not writable (nothing to discard), are left alone.
pub fn discard(start: usize, len: usize) -> Result<(), Errno> {
    let end = checked_range(start, len)?;
    let mut memory = MEMORY.lock();
    for index in memory.mapped.overlapping(start, end) {
        let mapping = memory.mapped.get_mut(index);
        let (lo, hi) = (
            mapping.region.start().max(start),
            mapping.region.end().min(end),
        );
        if lo < hi && mapping.usage == Use::Anonymous {
            let base = mapping.region.start();
            if let Some(bytes) = mapping.region.as_mut_slice() {
                bytes[lo - base..hi - base].fill(0);
            }
        }
    }
    Ok(())
}

/// A stack of `len` bytes (page multiple) with an unmapped guard page below it, named
/// `owner` in crash reports. The memory is not zeroed.
pub fn alloc_stack(len: usize, owner: &'static str) -> Result<Region, Errno> {
    let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
    let mut memory = MEMORY.lock();
    memory.reserve_records()?;
    let mut region = memory
        .free
        .take(len.checked_add(PAGE_SIZE).ok_or(Errno::ENOMEM)?)?;
    let (guard, stack) = loop {
        match paging::add_guard_page(region, owner) {
            Ok(parts) => break parts,
            Err((back, paging::PagingError::OutOfTables)) => {
                region = back;
                // The guard needs a page table: feed one and try again.
                if let Err(err) = supply::donate_frame(&mut memory.free) {
                    memory.release(region);
                    return Err(err);
                }
            }
            Err((back, _)) => {
                memory.release(back);
                return Err(Errno::ENOMEM);
            }
        }
    };
    if let Err(err) = memory.add_mapping(guard, Use::StackGuard) {
        memory.release(stack);
        return Err(err);
    }
    memory.trim_tables();
    Ok(stack)
}
