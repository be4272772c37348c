//! Physical memory for the application: the free list and the mappings.
//!
//! Memory is identity-mapped, so "mapping" anonymous memory means taking a range of
//! free RAM, zeroing it and setting its page permissions. The allocator keeps the
//! [`Region`] ownership tokens the hardware layer handed out at boot: free ranges in
//! `free`, ranges given to the application in `mapped` (Linux's VMAs). Partial
//! `munmap`/`mprotect` split regions; freeing merges neighbours again.
//!
//! Capacities are fixed (no heap in the kernel: the application's heap sits on top of
//! `mmap`), and exhausting a table is reported as `ENOMEM`.

use spin::Mutex;
use unikernel_hal::memory::{Access, FreeRam, Region};
use unikernel_hal::{PAGE_SIZE, paging};

use crate::errno::Errno;

const FREE_SLOTS: usize = 128;
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
struct Mapping {
    region: Region,
    usage: Use,
}

#[derive(Debug)]
struct Memory {
    free: Slots<Region, FREE_SLOTS>,
    mapped: Slots<Mapping, MAPPED_SLOTS>,
}

static MEMORY: Mutex<Memory> = Mutex::new(Memory {
    free: Slots::new(),
    mapped: Slots::new(),
});

/// A fixed table of optional entries whose scans stop after the highest slot that ever
/// held one, so that they cost what the program's number of mappings costs rather than
/// the table's capacity (every `mmap`, `munmap` and `mprotect` scans both tables).
#[derive(Debug)]
struct Slots<T, const N: usize> {
    slots: [Option<T>; N],
    /// One past the highest slot that ever held an entry.
    end: usize,
}

impl<T, const N: usize> Slots<T, N> {
    const fn new() -> Self {
        Slots {
            slots: [const { None }; N],
            end: 0,
        }
    }

    fn iter(&self) -> core::slice::Iter<'_, Option<T>> {
        self.slots[..self.end].iter()
    }

    fn iter_mut(&mut self) -> core::slice::IterMut<'_, Option<T>> {
        self.slots[..self.end].iter_mut()
    }

    /// Stores `item` in the lowest empty slot; gives it back if the table is full.
    fn put(&mut self, item: T) -> Result<(), T> {
        match self.slots.iter().position(Option::is_none) {
            Some(index) => {
                self.slots[index] = Some(item);
                self.end = self.end.max(index + 1);
                Ok(())
            }
            None => Err(item),
        }
    }

    /// How many entries could still be stored.
    fn vacant(&self) -> usize {
        N - self.end + self.iter().filter(|slot| slot.is_none()).count()
    }
}

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
        memory.insert_free(region);
    }
    total
}

/// Bytes free.
pub fn free_bytes() -> usize {
    MEMORY.lock().free.iter().flatten().map(Region::len).sum()
}

impl Memory {
    /// Returns `region` to the free list, merged with its free neighbours.
    fn insert_free(&mut self, mut region: Region) {
        if region.access() != Access::ReadWrite {
            // Free memory is always mapped read-write; a table shortage here would
            // leave a page unusable, which `alloc` then skips via `as_mut_slice`.
            let _ = paging::protect(&mut region, Access::ReadWrite);
        }
        // The free list stays coalesced, so there is at most one neighbour per side.
        if let Some(slot) = self
            .free
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
            .free
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
        if let Err(region) = self.free.put(region) {
            // The free list is full: the memory is lost (the token is dropped).
            crate::log::kinfo!("memory: free list full, {} bytes lost", region.len());
        }
    }

    /// Takes `len` bytes (page multiple) from the free list, first fit, lowest address.
    fn take(&mut self, len: usize) -> Result<Region, Errno> {
        let slot = self
            .free
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
    fn take_at(&mut self, start: usize, len: usize) -> Result<Region, Errno> {
        let end = start.checked_add(len).ok_or(Errno::ENOMEM)?;
        let slot = self
            .free
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
                    if let Err(tail) = self.free.put(tail) {
                        self.insert_free(region.merge(tail).unwrap_or_else(|(a, _)| a));
                        return Err(Errno::ENOMEM);
                    }
                }
                Err(whole) => region = whole,
            }
        }
        Ok(region)
    }

    fn add_mapping(&mut self, region: Region, usage: Use) -> Result<usize, Errno> {
        let start = region.start();
        match self.mapped.put(Mapping { region, usage }) {
            Ok(()) => Ok(start),
            Err(mapping) => {
                self.insert_free(mapping.region);
                Err(Errno::ENOMEM)
            }
        }
    }

    fn free_mapping_slots(&self) -> usize {
        self.mapped.vacant()
    }

    /// Splits the mapping that straddles `boundary`, if any, so that `boundary` becomes
    /// a mapping boundary. Needs one free mapping slot (checked by the callers).
    fn split_mapping_at(&mut self, boundary: usize) -> Result<(), Errno> {
        let Some(slot) = self.mapped.iter_mut().find(|slot| {
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
                self.mapped
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
    fn isolate(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        if self.free_mapping_slots() < 2 {
            return Err(Errno::ENOMEM);
        }
        self.split_mapping_at(start)?;
        self.split_mapping_at(end)
    }

    /// Bytes of `start..end` covered by mappings.
    fn covered(&self, start: usize, end: usize) -> usize {
        self.mapped
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

    fn inside(&mut self, start: usize, end: usize) -> impl Iterator<Item = &mut Option<Mapping>> {
        self.mapped.iter_mut().filter(move |slot| {
            slot.as_ref()
                .is_some_and(|m| start <= m.region.start() && m.region.end() <= end)
        })
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
    let region = memory.take(len)?;
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
    if memory.covered(start, end) > 0 {
        if !replace {
            return Err(Errno::EEXIST);
        }
        memory.unmap_range(start, end)?;
    }
    let region = memory.take_at(start, end - start)?;
    memory.add_mapping(prepare(region, access, contents), Use::Anonymous)
}

impl Memory {
    fn unmap_range(&mut self, start: usize, end: usize) -> Result<(), Errno> {
        self.isolate(start, end)?;
        let mut freed: [Option<Region>; 8] = [const { None }; 8];
        loop {
            // Collect a batch (the free list and the mapping table are both `self`).
            let mut count = 0;
            for slot in self.inside(start, end) {
                if slot.as_ref().is_some_and(|m| m.usage == Use::Anonymous) && count < freed.len() {
                    freed[count] = slot.take().map(|m| m.region);
                    count += 1;
                }
            }
            if count == 0 {
                return Ok(());
            }
            for region in freed.iter_mut().filter_map(Option::take) {
                self.insert_free(region);
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
    if memory.covered(start, end) != end - start {
        return Err(Errno::ENOMEM);
    }
    memory.isolate(start, end)?;
    for slot in memory.inside(start, end) {
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
    for mapping in memory.mapped.iter_mut().flatten() {
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
    let region = memory.take(len.checked_add(PAGE_SIZE).ok_or(Errno::ENOMEM)?)?;
    match paging::add_guard_page(region, owner) {
        Ok((guard, stack)) => {
            if let Err(err) = memory.add_mapping(guard, Use::StackGuard) {
                memory.insert_free(stack);
                return Err(err);
            }
            Ok(stack)
        }
        Err((region, _)) => {
            memory.insert_free(region);
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
    if old_len == 0 || memory.covered(start, old_end) != old_len {
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
        .flatten()
        .find(|m| m.region.start() <= start && start < m.region.end())
        .map(|m| m.region.access())
        .ok_or(Errno::EFAULT)?;
    // In place: the pages right after the mapping are free.
    if let Ok(tail) = memory.take_at(old_end, new_len - old_len) {
        memory.add_mapping(prepare(tail, access, &[]), Use::Anonymous)?;
        return Ok(start);
    }
    if !may_move {
        return Err(Errno::ENOMEM);
    }
    let mut target = memory.take(new_len)?;
    target.zero();
    let Some(bytes) = target.as_mut_slice() else {
        memory.insert_free(target);
        return Err(Errno::ENOMEM);
    };
    for mapping in memory.mapped.iter_mut().flatten() {
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
            memory.insert_free(target);
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
