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
//! Capacities are fixed (no heap in the kernel: the application's heap sits on top of
//! `mmap`), and exhausting a table is reported as `ENOMEM`.

use spin::Mutex;
use unikernel_hal::memory::{Access, FreeRam, Region};
use unikernel_hal::{PAGE_SIZE, paging};

use crate::errno::Errno;
use free::FreeList;
pub use mappings::Use;
use mappings::{Mapping, Mappings};
pub use owned::{application_owns, register_main_stack};

mod free;
mod mappings;
mod owned;
mod slots;

#[derive(Debug)]
struct Memory {
    free: FreeList,
    mapped: Mappings,
}

static MEMORY: Mutex<Memory> = Mutex::new(Memory {
    free: FreeList::new(),
    mapped: Mappings::new(),
});

/// Rounds up to a whole number of pages; `None` on overflow.
pub fn page_align_up(len: usize) -> Option<usize> {
    Some(len.checked_add(PAGE_SIZE - 1)? & !(PAGE_SIZE - 1))
}

/// Takes the boot-time free RAM. Returns the number of bytes now free.
pub fn init(ram: FreeRam) -> usize {
    let mut memory = MEMORY.lock();
    let mut total = 0;
    for region in ram {
        total += region.len();
        memory.free.insert(region);
    }
    total
}

/// Bytes free.
pub fn free_bytes() -> usize {
    MEMORY.lock().free.bytes()
}

impl Memory {
    fn add_mapping(&mut self, region: Region, usage: Use) -> Result<usize, Errno> {
        let start = region.start();
        match self.mapped.put(Mapping { region, usage }) {
            Ok(()) => Ok(start),
            Err(mapping) => {
                self.free.insert(mapping.region);
                Err(Errno::ENOMEM)
            }
        }
    }
}

fn checked_range(start: usize, len: usize) -> Result<usize, Errno> {
    if !start.is_multiple_of(PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    let len = page_align_up(len).ok_or(Errno::ENOMEM)?;
    start.checked_add(len).ok_or(Errno::ENOMEM)
}

/// Zero-fills `region`, copies `contents` to its start (cut to its length) and sets
/// its permissions.
fn prepare(mut region: Region, access: Access, contents: &[u8]) -> Region {
    if let Some(bytes) = region.as_mut_slice() {
        let n = contents.len().min(bytes.len());
        bytes[..n].copy_from_slice(&contents[..n]);
        bytes[n..].fill(0);
    }
    if access != Access::ReadWrite {
        // Without page-table frames the region stays read-write: more permissive
        // than asked, never less, and never writable + executable.
        let _ = paging::protect(&mut region, access);
    }
    region
}

/// Maps `len` bytes (rounded up to pages) anywhere: `contents` (a file mapping's
/// bytes, empty for anonymous memory), then zeros; returns the address.
pub fn map_anywhere(len: usize, access: Access, contents: &[u8]) -> Result<usize, Errno> {
    let len = page_align_up(len)
        .filter(|&len| len > 0)
        .ok_or(Errno::ENOMEM)?;
    let mut memory = MEMORY.lock();
    let region = memory.free.take(len)?;
    memory.add_mapping(prepare(region, access, contents), Use::Anonymous)
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
    if memory.mapped.covered(start, end) > 0 {
        if !replace {
            return Err(Errno::EEXIST);
        }
        memory.unmap_range(start, end)?;
    }
    let region = memory.free.take_at(start, end - start)?;
    memory.add_mapping(prepare(region, access, contents), Use::Anonymous)
}

impl Memory {
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        self.mapped.isolate(start, end)?;
        let mut freed: [Option<Region>; 8] = [const { None }; 8];
        loop {
            // Collect a batch (the free list and the mapping table are both `self`).
            let mut count = 0;
            for slot in self.mapped.inside(start, end) {
                if slot.as_ref().is_some_and(|m| m.usage == Use::Anonymous) && count < freed.len() {
                    freed[count] = slot.take().map(|m| m.region);
                    count += 1;
                }
            }
            if count == 0 {
                return Ok(());
            }
            for region in freed.iter_mut().filter_map(Option::take) {
                self.free.insert(region);
            }
        }
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
pub fn protect(start: usize, len: usize, access: Access) -> Result<(), Errno> {
    let end = checked_range(start, len)?;
    let mut memory = MEMORY.lock();
    if memory.mapped.covered(start, end) != end - start {
        return Err(Errno::ENOMEM);
    }
    memory.mapped.isolate(start, end)?;
    for slot in memory.mapped.inside(start, end) {
        if let Some(mapping) = slot.as_mut()
            && mapping.usage == Use::Anonymous
        {
            paging::protect(&mut mapping.region, access).map_err(|_| Errno::ENOMEM)?;
        }
    }
    Ok(())
}

/// `MADV_DONTNEED`: the next reads of `start..start + len` see zeroes. Parts that are
/// not mapped, or not writable (nothing to discard), are left alone.
pub fn discard(start: usize, len: usize) -> Result<(), Errno> {
    let end = checked_range(start, len)?;
    let mut memory = MEMORY.lock();
    for mapping in memory.mapped.iter_mut() {
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
    let region = memory
        .free
        .take(len.checked_add(PAGE_SIZE).ok_or(Errno::ENOMEM)?)?;
    match paging::add_guard_page(region, owner) {
        Ok((guard, stack)) => {
            if let Err(err) = memory.add_mapping(guard, Use::StackGuard) {
                memory.free.insert(stack);
                return Err(err);
            }
            Ok(stack)
        }
        Err((region, _)) => {
            memory.free.insert(region);
            Err(Errno::ENOMEM)
        }
    }
}

/// `mremap`: resizes the mapping at `start` (`old_len` bytes, entirely mapped) to
/// `new_len` bytes. Grows in place when the memory after it is free, otherwise moves
/// (copying) if `may_move`. Returns the new address.
pub fn remap(start: usize, old_len: usize, new_len: usize, may_move: bool) -> Result<usize, Errno> {
    let old_end = checked_range(start, old_len)?;
    let new_len = page_align_up(new_len)
        .filter(|&len| len > 0)
        .ok_or(Errno::EINVAL)?;
    let old_len = old_end - start;
    let mut memory = MEMORY.lock();
    if old_len == 0 || memory.mapped.covered(start, old_end) != old_len {
        return Err(Errno::EFAULT);
    }
    if new_len <= old_len {
        if new_len < old_len {
            memory.unmap_range(start + new_len, old_end)?;
        }
        return Ok(start);
    }
    let access = memory
        .mapped
        .iter()
        .find(|m| m.region.start() <= start && start < m.region.end())
        .map(|m| m.region.access())
        .ok_or(Errno::EFAULT)?;
    // In place: the pages right after the mapping are free.
    if let Ok(tail) = memory.free.take_at(old_end, new_len - old_len) {
        memory.add_mapping(prepare(tail, access, &[]), Use::Anonymous)?;
        return Ok(start);
    }
    if !may_move {
        return Err(Errno::ENOMEM);
    }
    let mut target = memory.free.take(new_len)?;
    target.zero();
    let Some(bytes) = target.as_mut_slice() else {
        memory.free.insert(target);
        return Err(Errno::ENOMEM);
    };
    for mapping in memory.mapped.iter_mut() {
        let (lo, hi) = (
            mapping.region.start().max(start),
            mapping.region.end().min(old_end),
        );
        if lo >= hi {
            continue;
        }
        let base = mapping.region.start();
        let Some(source) = mapping.region.as_mut_slice() else {
            // Not readable as bytes (PROT_NONE or read-only after mprotect): its
            // contents cannot be copied through a slice. Rare; report it.
            memory.free.insert(target);
            return Err(Errno::EFAULT);
        };
        bytes[lo - start..hi - start].copy_from_slice(&source[lo - base..hi - base]);
    }
    memory.unmap_range(start, old_end)?;
    let new_start = memory.add_mapping(prepare_moved(target, access), Use::Anonymous)?;
    Ok(new_start)
}

fn prepare_moved(mut region: Region, access: Access) -> Region {
    if access != Access::ReadWrite {
        let _ = paging::protect(&mut region, access);
    }
    region
}
