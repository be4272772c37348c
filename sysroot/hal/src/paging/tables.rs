//! The page tables of the one address space and the frames they live in.
//!
//! Page-table frames come from RAM on demand: while [`super::init`] builds the tables
//! they are carved from the first free RAM above the image (the boot range); after
//! that, the kernel gives frames of free RAM with [`AddressSpace::donate`] when a
//! change reports [`PagingError::OutOfTables`], and takes spare ones back with
//! [`AddressSpace::reclaim`]. A page table whose 512 entries become uniform again (all
//! unmapped, or all mapping their 2 MiB block with equal permissions) is removed: the
//! directory entry becomes unused or a 2 MiB page again and the frame becomes spare.
//! Spare frames form a stack linked through their first word.

use x86_64::PhysAddr;
use x86_64::structures::paging::page_table::PageTableEntry;
use x86_64::structures::paging::{PageTable, PageTableFlags as Flags};

use super::PagingError;
use crate::PAGE_SIZE;

pub(super) const HUGE_PAGE_SIZE: usize = 2 * 1024 * 1024;
/// Non-leaf entries are permissive; the leaf decides (SDM Vol. 3A, 4.6).
const TABLE_FLAGS: Flags = Flags::PRESENT.union(Flags::WRITABLE);
/// Bits the CPU sets by itself (SDM Vol. 3A, 4.8): not part of a mapping's permissions.
const STATUS_FLAGS: Flags = Flags::ACCESSED.union(Flags::DIRTY);

/// The page tables, reached through the identity map, and their spare frames.
#[derive(Debug)]
pub(super) struct AddressSpace {
    pml4: usize,
    pub active: bool,
    /// Top of the stack of spare frames (0: none).
    spare: usize,
    spare_count: usize,
    /// Frames linked into the tables.
    in_use: usize,
    /// `next..end`: frames not yet carved from the boot range (empty after `init`).
    boot: (usize, usize),
}

/// # Safety
///
/// `phys` must be a page table of an address space (from `alloc_table`, reached
/// through its entries) that the caller borrows mutably (under the `SPACE` lock, or in
/// `init` before the space is published), and the caller must not create a second
/// reference to the same table while this one lives.
unsafe fn table_mut<'a>(phys: usize) -> &'a mut PageTable {
    // SAFETY: per the contract, an identity-mapped, exclusively borrowed table.
    unsafe { &mut *(phys as *mut PageTable) }
}

impl AddressSpace {
    /// An address space whose tables are carved from `boot_start..boot_end` (RAM
    /// mapped read-write by the current tables, owned by nothing else).
    pub fn new(boot_start: usize, boot_end: usize) -> Result<AddressSpace, PagingError> {
        let mut space = AddressSpace {
            pml4: 0,
            active: false,
            spare: 0,
            spare_count: 0,
            in_use: 0,
            boot: (boot_start, boot_end),
        };
        space.pml4 = space.alloc_table()?;
        Ok(space)
    }

    pub fn pml4(&self) -> usize {
        self.pml4
    }

    /// Ends carving from the boot range; returns where the carved part ends.
    pub fn end_boot_range(&mut self) -> usize {
        let next = self.boot.0;
        self.boot = (next, next);
        next
    }

    /// Frames linked into the tables and spare ones.
    pub fn frames(&self) -> (usize, usize) {
        (self.in_use, self.spare_count)
    }

    /// Carves one frame from the boot range, if any is left.
    pub fn boot_frame(&mut self) -> Option<usize> {
        (self.boot.0 < self.boot.1).then(|| {
            self.boot.0 += PAGE_SIZE;
            self.boot.0 - PAGE_SIZE
        })
    }

    /// Takes a zeroed frame for a page table; returns its physical (= virtual) address.
    fn alloc_table(&mut self) -> Result<usize, PagingError> {
        let frame = if self.spare != 0 {
            let frame = self.spare;
            // SAFETY: a spare frame is RAM mapped read-write that only this stack
            // references; its first word links to the next spare frame.
            self.spare = unsafe { (frame as *const usize).read() };
            self.spare_count -= 1;
            frame
        } else {
            self.boot_frame().ok_or(PagingError::OutOfTables)?
        };
        // SAFETY: the frame is owned by the tables from now on and referenced nowhere.
        unsafe { table_mut(frame) }.zero();
        self.in_use += 1;
        Ok(frame)
    }

    /// Pushes `frame` (a page-aligned frame of RAM mapped read-write that nothing
    /// references) onto the spare stack.
    ///
    /// # Safety
    ///
    /// As stated: the frame must be unreferenced RAM mapped read-write, no longer
    /// linked into any table (and the TLB flushed since it was unlinked).
    pub unsafe fn push_spare(&mut self, frame: usize) {
        // SAFETY: per the contract, the frame is ours to write.
        unsafe { (frame as *mut usize).write(self.spare) };
        self.spare = frame;
        self.spare_count += 1;
    }

    /// Pops a spare frame, if any (the frame is unreferenced RAM mapped read-write).
    pub fn pop_spare(&mut self) -> Option<usize> {
        if self.spare == 0 {
            return None;
        }
        let frame = self.spare;
        // SAFETY: as in `alloc_table`.
        self.spare = unsafe { (frame as *const usize).read() };
        self.spare_count -= 1;
        Some(frame)
    }

    /// Returns a page table unlinked from the tables (and flushed from the TLB).
    fn free_table(&mut self, frame: usize) {
        self.in_use -= 1;
        // SAFETY: the caller unlinked the table and flushed the TLB; the frame is RAM
        // mapped read-write (taken from free RAM or the boot range).
        unsafe { self.push_spare(frame) };
    }

    /// The page-directory entry covering `va`; creates the PDPT and PD on the way when
    /// `create`, else `None` where they are missing.
    fn pd_entry(
        &mut self,
        va: usize,
        create: bool,
    ) -> Result<Option<&mut PageTableEntry>, PagingError> {
        let mut table = self.pml4;
        for shift in [39, 30] {
            // SAFETY: `table` is the PML4 or came from one of our entries.
            let entry = &mut unsafe { table_mut(table) }[(va >> shift) & 511];
            if entry.is_unused() {
                if !create {
                    return Ok(None);
                }
                let new = self.alloc_table()?;
                // SAFETY: re-borrow after `alloc_table` borrowed `self`; same table.
                let entry = &mut unsafe { table_mut(table) }[(va >> shift) & 511];
                entry.set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
            }
            // SAFETY: as above.
            table = unsafe { table_mut(table) }[(va >> shift) & 511]
                .addr()
                .as_u64() as usize;
        }
        // SAFETY: `table` is a page directory reached through our own entries.
        Ok(Some(&mut unsafe { table_mut(table) }[(va >> 21) & 511]))
    }

    /// Maps `start..end` (page-aligned) with `leaf` flags, or unmaps it for `None`.
    /// On `OutOfTables` part of the range may have changed; calling again with the
    /// same arguments (after donating frames) completes the change.
    pub fn set_range(
        &mut self,
        start: usize,
        end: usize,
        leaf: Option<Flags>,
    ) -> Result<(), PagingError> {
        let mut va = start;
        let result = loop {
            if va >= end {
                break Ok(());
            }
            let block = va & !(HUGE_PAGE_SIZE - 1);
            let huge_end = block + HUGE_PAGE_SIZE;
            match self.set_in_block(va, end.min(huge_end), leaf) {
                Ok(()) => va = huge_end,
                Err(err) => break Err(err),
            }
        };
        if self.active {
            x86_64::instructions::tlb::flush_all();
        }
        result
    }

    /// [`Self::set_range`] for `va..stop`, which lies in one 2 MiB block.
    fn set_in_block(
        &mut self,
        va: usize,
        stop: usize,
        leaf: Option<Flags>,
    ) -> Result<(), PagingError> {
        let block = va & !(HUGE_PAGE_SIZE - 1);
        let whole = va == block && stop - va == HUGE_PAGE_SIZE;
        let Some(pde) = self.pd_entry(va, leaf.is_some())? else {
            return Ok(()); // nothing mapped there, nothing to unmap
        };
        let is_table = !pde.is_unused() && !pde.flags().contains(Flags::HUGE_PAGE);
        if whole {
            match leaf {
                Some(flags) => {
                    let old = is_table.then(|| pde.addr().as_u64() as usize);
                    pde.set_addr(PhysAddr::new(va as u64), flags | Flags::HUGE_PAGE);
                    if let Some(table) = old {
                        self.retire(table);
                    }
                }
                None => {
                    let old = is_table.then(|| pde.addr().as_u64() as usize);
                    pde.set_unused();
                    if let Some(table) = old {
                        self.retire(table);
                    }
                }
            }
            return Ok(());
        }
        if pde.is_unused() {
            if leaf.is_none() {
                return Ok(());
            }
            let new = self.alloc_table()?;
            self.pde_of(va)
                .set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
        } else if pde.flags().contains(Flags::HUGE_PAGE) {
            let flags = pde.flags() - Flags::HUGE_PAGE - STATUS_FLAGS;
            if leaf == Some(flags) {
                return Ok(()); // already mapped so: no split
            }
            // Split: 512 small pages with the huge page's permissions.
            let new = self.alloc_table()?;
            // SAFETY: `new` was just taken for this table and is linked only here.
            let table = unsafe { table_mut(new) };
            for (i, entry) in table.iter_mut().enumerate() {
                entry.set_addr(PhysAddr::new((block + i * PAGE_SIZE) as u64), flags);
            }
            self.pde_of(va)
                .set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
        }
        let pt = self.pde_of(va).addr().as_u64() as usize;
        // SAFETY: `pt` is a page table reached through our own PD entry.
        let table = unsafe { table_mut(pt) };
        let mut page = va;
        while page < stop {
            let entry = &mut table[(page >> 12) & 511];
            match leaf {
                Some(flags) => entry.set_addr(PhysAddr::new(page as u64), flags),
                None => entry.set_unused(),
            }
            page += PAGE_SIZE;
        }
        self.merge(block, pt);
        Ok(())
    }

    /// The existing page-directory entry of `va` (its tables exist).
    fn pde_of(&mut self, va: usize) -> &mut PageTableEntry {
        match self.pd_entry(va, false) {
            Ok(Some(entry)) => entry,
            _ => unreachable!("the page directory of {va:#x} was just walked"),
        }
    }

    /// Replaces the page table `pt` of the 2 MiB `block` by one directory entry when
    /// its entries are uniform: all unmapped, or all mapping the block (identity) with
    /// the same permissions.
    fn merge(&mut self, block: usize, pt: usize) {
        // SAFETY: `pt` is a page table reached through our own PD entry.
        let table = unsafe { table_mut(pt) };
        let first = &table[0];
        let replacement = if first.is_unused() {
            table.iter().all(PageTableEntry::is_unused).then_some(None)
        } else {
            let flags = first.flags() - STATUS_FLAGS;
            table
                .iter()
                .enumerate()
                .all(|(i, e)| {
                    !e.is_unused()
                        && e.addr().as_u64() as usize == block + i * PAGE_SIZE
                        && e.flags() - STATUS_FLAGS == flags
                })
                .then_some(Some(flags))
        };
        let Some(replacement) = replacement else {
            return;
        };
        let pde = self.pde_of(block);
        match replacement {
            Some(flags) => pde.set_addr(PhysAddr::new(block as u64), flags | Flags::HUGE_PAGE),
            None => pde.set_unused(),
        }
        self.retire(pt);
    }

    /// Frees a page table just unlinked from its directory entry.
    fn retire(&mut self, table: usize) {
        // The TLB and paging-structure caches may still hold translations through the
        // table: flush before the frame can be reused (SDM Vol. 3A, 4.10.4).
        if self.active {
            x86_64::instructions::tlb::flush_all();
        }
        self.free_table(table);
    }

    /// The leaf flags mapping `va`, if it is mapped.
    pub fn lookup(&mut self, va: usize) -> Option<Flags> {
        let pde = self.pd_entry(va, false).ok()??;
        if pde.is_unused() {
            return None;
        }
        if pde.flags().contains(Flags::HUGE_PAGE) {
            return Some(pde.flags());
        }
        let pt = pde.addr().as_u64() as usize;
        // SAFETY: a page table reached through our own PD entry.
        let entry = &unsafe { table_mut(pt) }[(va >> 12) & 511];
        (!entry.is_unused()).then(|| entry.flags())
    }
}
