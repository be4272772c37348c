//! `mremap` growth without waste where the memory allows it.
//!
//! Memory is identity-mapped, so a mapping cannot be moved by changing page tables:
//! moving copies. Growing therefore tries, in order: extending in place into the free
//! pages after the mapping; sliding down into free pages before it (and after it),
//! moving the bytes down within the same memory (no second copy of the data is ever
//! held, so the peak is the new size, not old + new); and only then, if the caller
//! allows moving, a copy into a fresh range.

use unikernel_hal::memory::{Access, Region};

use super::mappings::{Mapping, Use};
use super::{MEMORY, Memory, checked_range, page_align_up};
use crate::errno::Errno;

/// `mremap`: resizes the mapping at `start` (`old_len` bytes, entirely mapped) to
/// `new_len` bytes; returns the new address.
pub fn remap(start: usize, old_len: usize, new_len: usize, may_move: bool) -> Result<usize, Errno> {
    let old_end = checked_range(start, old_len)?;
    let new_len = page_align_up(new_len)
        .filter(|&len| len > 0)
        .ok_or(Errno::EINVAL)?;
    let old_len = old_end - start;
    let mut memory = MEMORY.lock();
    if old_len == 0 || memory.mapped.covered(start, old_end, Some(Use::Anonymous)) != old_len {
        return Err(Errno::EFAULT);
    }
    if new_len <= old_len {
        if new_len < old_len {
            memory.unmap_range(start + new_len, old_end)?;
        }
        return Ok(start);
    }
    memory.reserve_records()?;
    let growth = new_len - old_len;
    let after = memory.free.free_after(old_end);
    if after >= growth {
        memory.extend_in_place(old_end, growth)?;
        return Ok(start);
    }
    if !may_move {
        return Err(Errno::ENOMEM);
    }
    let whole = memory
        .mapped
        .containing(start)
        .is_some_and(|m| m.region.start() == start && m.region.end() == old_end);
    let below = growth - after;
    if whole && memory.free.free_before(start) >= below {
        return memory.slide_down(start, old_end, below, after);
    }
    memory.copy_to_new(start, old_end, new_len)
}

impl Memory {
    /// Grows the mapping ending at `old_end` by `growth` bytes of the free pages after it.
    fn extend_in_place(&mut self, old_end: usize, growth: usize) -> Result<(), Errno> {
        let access = self
            .mapped
            .containing(old_end - 1)
            .map(|m| m.region.access())
            .ok_or(Errno::EFAULT)?;
        let tail = self.free.take_at(old_end, growth)?;
        let tail = self.prepare(tail, access, &[])?;
        let last = self.mapped.overlapping(old_end - 1, old_end).start;
        let mapping = self.mapped.remove(last);
        // One record for the grown mapping, so it can slide later.
        match mapping.region.merge(tail) {
            Ok(region) => {
                let _ = self.mapped.put(Mapping {
                    region,
                    usage: mapping.usage,
                });
            }
            Err((region, tail)) => {
                let _ = self.mapped.put(Mapping {
                    region,
                    usage: mapping.usage,
                });
                self.add_mapping(tail, Use::Anonymous)?;
            }
        }
        self.trim_tables();
        Ok(())
    }

    /// Grows the one mapping `start..old_end` (read-write) into the `below` free bytes
    /// before it and the `after` free bytes after it, moving its bytes down.
    fn slide_down(
        &mut self,
        start: usize,
        old_end: usize,
        below: usize,
        after: usize,
    ) -> Result<usize, Errno> {
        let index = self.mapped.overlapping(start, old_end).start;
        if self.mapped.get_mut(index).region.access() != Access::ReadWrite {
            return self.copy_to_new(start, old_end, old_end - start + below + after);
        }
        let low = self.free.take_at(start - below, below)?;
        let high = match after {
            0 => None,
            _ => match self.free.take_at(old_end, after) {
                Ok(high) => Some(high),
                Err(err) => {
                    self.release(low);
                    return Err(err);
                }
            },
        };
        let mapping = self.mapped.remove(index);
        let mut region = match low.merge(mapping.region) {
            Ok(region) => region,
            Err((low, old)) => {
                let _ = self.mapped.put(Mapping {
                    region: old,
                    usage: mapping.usage,
                });
                self.release(low);
                if let Some(high) = high {
                    self.release(high);
                }
                return Err(Errno::ENOMEM);
            }
        };
        if let Some(high) = high {
            region = region.merge(high).unwrap_or_else(|(region, high)| {
                self.release(high);
                region
            });
        }
        let old_len = old_end - start;
        if let Some(bytes) = region.as_mut_slice() {
            bytes.copy_within(below..below + old_len, 0);
            bytes[old_len..].fill(0);
        }
        let new_start = region.start();
        self.add_mapping(region, mapping.usage)?;
        Ok(new_start)
    }

    /// Moves `start..old_end` into a fresh range of `new_len` bytes (copying).
    fn copy_to_new(
        &mut self,
        start: usize,
        old_end: usize,
        new_len: usize,
    ) -> Result<usize, Errno> {
        let access = self
            .mapped
            .containing(start)
            .map(|m| m.region.access())
            .ok_or(Errno::EFAULT)?;
        let range = self.mapped.overlapping(start, old_end);
        if range
            .clone()
            .any(|index| self.mapped.get_mut(index).region.as_mut_slice().is_none())
        {
            // Not readable as bytes (PROT_NONE or read-only after mprotect): its
            // contents cannot be copied through a slice. Rare; report it.
            return Err(Errno::EFAULT);
        }
        let mut target = self.free.take_placed(new_len)?;
        if let Some(bytes) = target.as_mut_slice() {
            bytes[old_end - start..].fill(0);
            for index in range {
                let mapping = self.mapped.get_mut(index);
                let (lo, hi) = (
                    mapping.region.start().max(start),
                    mapping.region.end().min(old_end),
                );
                let base = mapping.region.start();
                if let Some(source) = mapping.region.as_mut_slice() {
                    bytes[lo - start..hi - start].copy_from_slice(&source[lo - base..hi - base]);
                }
            }
        }
        // The copy gets its permissions before the original goes: a failure leaves
        // the original as it was.
        let target = self.prepare_moved(target, access)?;
        self.unmap_range(start, old_end)?;
        self.add_mapping(target, Use::Anonymous)
    }

    fn prepare_moved(&mut self, mut region: Region, access: Access) -> Result<Region, Errno> {
        if access != Access::ReadWrite
            && let Err(err) = self.set_access(&mut region, access)
        {
            self.release(region);
            return Err(err);
        }
        Ok(region)
    }
}
