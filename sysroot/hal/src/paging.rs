//! Identity-mapped page tables with W^X and guard pages.
//!
//! There is one address space: virtual address = physical address. [`init`] replaces
//! the boot tables (low 4 GiB, all writable and executable) with tables that map
//!
//! - every RAM and ACPI range of the boot memory map read-write, no-execute, in 2 MiB
//!   pages where alignment allows;
//! - the image with the permissions of its sections (linker symbols, see `image.ld`):
//!   headers and rodata read-only, text read + execute, data and bss read-write NX;
//! - nothing at page 0 (null dereferences fault) and nothing at the guard page below
//!   each kernel stack.
//!
//! Later changes (guard pages of application stacks, `mprotect`) go through
//! [`protect`], which takes the [`Region`] token of the memory, so the kernel can only
//! change permissions of memory it owns. 2 MiB pages are split into 4 KiB pages on
//! demand. Page-table frames come from a fixed pool in `.bss` (`POOL_FRAMES`).
//!
//! `CR4.PGE` is off, so no mapping is global and reloading CR3 flushes the TLB.

use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Mutex;
use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{PageTable, PageTableFlags as Flags, PhysFrame};

use crate::memory::{Access, FreeRam, Region};
use crate::pvh::{MemoryKind, MemoryMap};
use crate::{PAGE_SIZE, image, stacks};

const HUGE_PAGE_SIZE: usize = 2 * 1024 * 1024;
/// Page-table frames available (each maps 2 MiB with 4 KiB pages, or 1 GiB of PDs).
const POOL_FRAMES: usize = 64;
/// Non-leaf entries are permissive; the leaf decides (SDM Vol. 3A, 4.6).
const TABLE_FLAGS: Flags = Flags::PRESENT.union(Flags::WRITABLE);

/// Why a page-table change failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// The page-table frame pool is exhausted.
    OutOfTables,
    /// The paging layer was used before `init`.
    NotInitialized,
    /// A guard page needs a region of at least two pages.
    RegionTooSmall,
}

#[repr(C, align(4096))]
struct Pool([PageTable; POOL_FRAMES]);

#[unsafe(link_section = ".bss.unikernel_page_tables")]
static mut POOL: Pool = Pool([const { PageTable::new() }; POOL_FRAMES]);
static POOL_USED: AtomicUsize = AtomicUsize::new(0);

/// Takes a zeroed page table from the pool; returns its physical (= virtual) address.
fn alloc_table() -> Result<usize, PagingError> {
    let index = POOL_USED.fetch_add(1, Ordering::Relaxed);
    if index >= POOL_FRAMES {
        POOL_USED.store(POOL_FRAMES, Ordering::Relaxed);
        return Err(PagingError::OutOfTables);
    }
    // SAFETY: each pool index is handed out once (the atomic counter above), so this
    // is the only reference to that table ever created outside `table_mut`.
    let table = unsafe { &mut POOL.0[index] };
    table.zero();
    Ok(table as *mut PageTable as usize)
}

/// Page-table frames used so far and the pool size, for the boot report.
pub fn table_frames_used() -> (usize, usize) {
    (
        POOL_USED.load(Ordering::Relaxed).min(POOL_FRAMES),
        POOL_FRAMES,
    )
}

fn leaf_flags(access: Access) -> Option<Flags> {
    let present = Flags::PRESENT;
    match access {
        Access::None => None,
        Access::Read => Some(present | Flags::NO_EXECUTE),
        Access::ReadWrite => Some(present | Flags::WRITABLE | Flags::NO_EXECUTE),
        Access::ReadExecute => Some(present),
    }
}

/// The page tables, reached through the identity map.
struct AddressSpace {
    pml4: usize,
    active: bool,
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
    /// The page-directory entry covering `va`; creates the PDPT and PD on the way when
    /// `create`, else `None` where they are missing.
    fn pd_entry(
        &mut self,
        va: usize,
        create: bool,
    ) -> Result<Option<&mut x86_64::structures::paging::page_table::PageTableEntry>, PagingError>
    {
        let mut table = self.pml4;
        for shift in [39, 30] {
            // SAFETY: `table` is the PML4 or came from one of our entries.
            let entry = &mut unsafe { table_mut(table) }[(va >> shift) & 511];
            if entry.is_unused() {
                if !create {
                    return Ok(None);
                }
                let new = alloc_table()?;
                entry.set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
            }
            table = entry.addr().as_u64() as usize;
        }
        // SAFETY: `table` is a page directory reached through our own entries.
        Ok(Some(&mut unsafe { table_mut(table) }[(va >> 21) & 511]))
    }

    /// Maps `start..end` (page-aligned) with `leaf` flags, or unmaps it for `None`.
    fn set_range(
        &mut self,
        start: usize,
        end: usize,
        leaf: Option<Flags>,
    ) -> Result<(), PagingError> {
        let mut va = start;
        while va < end {
            let huge_end = (va & !(HUGE_PAGE_SIZE - 1)) + HUGE_PAGE_SIZE;
            let whole = va.is_multiple_of(HUGE_PAGE_SIZE) && end - va >= HUGE_PAGE_SIZE;
            let Some(pde) = self.pd_entry(va, leaf.is_some())? else {
                va = huge_end;
                continue;
            };
            let is_table = !pde.is_unused() && !pde.flags().contains(Flags::HUGE_PAGE);
            if whole && !is_table {
                match leaf {
                    Some(flags) => pde.set_addr(PhysAddr::new(va as u64), flags | Flags::HUGE_PAGE),
                    None => pde.set_unused(),
                }
                va = huge_end;
                continue;
            }
            if pde.is_unused() {
                if leaf.is_none() {
                    va = huge_end;
                    continue;
                }
                let new = alloc_table()?;
                pde.set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
            } else if pde.flags().contains(Flags::HUGE_PAGE) {
                // Split: 512 small pages with the huge page's permissions.
                let base = pde.addr().as_u64() as usize;
                let flags = pde.flags() - Flags::HUGE_PAGE;
                let new = alloc_table()?;
                pde.set_addr(PhysAddr::new(new as u64), TABLE_FLAGS);
                // SAFETY: `new` was just taken from the pool and linked only here.
                let table = unsafe { table_mut(new) };
                for (i, entry) in table.iter_mut().enumerate() {
                    entry.set_addr(PhysAddr::new((base + i * PAGE_SIZE) as u64), flags);
                }
            }
            let pt = pde.addr().as_u64() as usize;
            let stop = end.min(huge_end);
            // SAFETY: `pt` is a page table reached through our own PD entry.
            let table = unsafe { table_mut(pt) };
            while va < stop {
                let entry = &mut table[(va >> 12) & 511];
                match leaf {
                    Some(flags) => entry.set_addr(PhysAddr::new(va as u64), flags),
                    None => entry.set_unused(),
                }
                va += PAGE_SIZE;
            }
        }
        if self.active {
            x86_64::instructions::tlb::flush_all();
        }
        Ok(())
    }

    /// The leaf flags mapping `va`, if it is mapped.
    fn lookup(&mut self, va: usize) -> Option<Flags> {
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

static SPACE: Mutex<Option<AddressSpace>> = Mutex::new(None);

/// Guard pages of the kernel's clients (application stacks), for crash reports.
static GUARDS: Mutex<[Option<(usize, &'static str)>; 32]> = Mutex::new([None; 32]);

const fn align_down(x: usize) -> usize {
    x & !(PAGE_SIZE - 1)
}

const fn align_up(x: usize) -> usize {
    (x + PAGE_SIZE - 1) & !(PAGE_SIZE - 1)
}

/// Builds and loads the final page tables; returns the free RAM as region tokens.
/// `module` (the boot module: the image file, see `image::executable`) is mapped
/// read-only and kept out of the free RAM.
pub(crate) fn init(
    memory_map: &MemoryMap,
    module: Option<(usize, usize)>,
) -> Result<FreeRam, &'static str> {
    let out_of_tables = |_| "page-table pool exhausted while building the initial tables";
    let mut space = AddressSpace {
        pml4: alloc_table().map_err(out_of_tables)?,
        active: false,
    };
    let rw = leaf_flags(Access::ReadWrite);
    for region in memory_map.regions() {
        if matches!(
            region.kind,
            MemoryKind::Ram | MemoryKind::AcpiReclaimable | MemoryKind::AcpiNvs
        ) {
            let start = align_down(region.start as usize);
            let end = align_up(region.end() as usize);
            space.set_range(start, end, rw).map_err(out_of_tables)?;
        }
    }
    let image = image::image();
    let (text, rodata, data) = (image::text(), image::rodata(), image::data());
    space
        .set_range(image.start, text.start, leaf_flags(Access::Read))
        .map_err(out_of_tables)?;
    space
        .set_range(text.start, text.end, leaf_flags(Access::ReadExecute))
        .map_err(out_of_tables)?;
    space
        .set_range(rodata.start, rodata.end, leaf_flags(Access::Read))
        .map_err(out_of_tables)?;
    space
        .set_range(data.start, data.end, rw)
        .map_err(out_of_tables)?;
    space.set_range(0, PAGE_SIZE, None).map_err(out_of_tables)?;
    let module =
        module.map(|(start, len)| (align_down(start), align_up(start.saturating_add(len))));
    if let Some((start, end)) = module {
        space
            .set_range(start, end, leaf_flags(Access::Read))
            .map_err(out_of_tables)?;
    }
    for (guard, _) in stacks::guard_pages() {
        space
            .set_range(guard, guard + PAGE_SIZE, None)
            .map_err(out_of_tables)?;
    }

    let frame = PhysFrame::containing_address(PhysAddr::new(space.pml4 as u64));
    // SAFETY: the new tables identity-map everything the kernel touches from here on:
    // the image (code we run, stacks, statics) with its section permissions and all
    // RAM. The loader's structures were copied out by `pvh::read` before this call.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
    space.active = true;
    *SPACE.lock() = Some(space);

    // Free RAM: RAM entries above the image (low memory and the image are not given).
    let mut free = FreeRam::new();
    let floor = align_up(image.end);
    for region in memory_map.regions() {
        if region.kind != MemoryKind::Ram {
            continue;
        }
        let start = align_up((region.start as usize).max(floor));
        let end = align_down(region.end() as usize);
        // The boot module splits a RAM range into the parts below and above it.
        let (below, above) = match module {
            Some((m_start, m_end)) if m_start < end && start < m_end => {
                ((start, m_start), (m_end, end))
            }
            _ => ((start, end), (end, end)),
        };
        for (start, end) in [below, above] {
            if start < end {
                // SAFETY: RAM per the memory map, above the image, outside the boot
                // module and page-aligned, mapped read-write just above; memory-map RAM
                // entries do not overlap, and this is the only place tokens are created.
                free.push(unsafe { Region::new(start, end - start) });
            }
        }
    }
    Ok(free)
}

fn with_space<T>(
    f: impl FnOnce(&mut AddressSpace) -> Result<T, PagingError>,
) -> Result<T, PagingError> {
    match SPACE.lock().as_mut() {
        Some(space) => f(space),
        None => Err(PagingError::NotInitialized),
    }
}

/// Maps the device registers at `start..start + len` read-write, no-execute and
/// uncached (the local APIC). Device memory is not RAM: no [`Region`] covers it.
pub(crate) fn map_device(start: usize, len: usize) -> Result<(), PagingError> {
    let flags = Flags::PRESENT
        | Flags::WRITABLE
        | Flags::NO_EXECUTE
        | Flags::NO_CACHE
        | Flags::WRITE_THROUGH;
    let end = start.checked_add(len).ok_or(PagingError::RegionTooSmall)?;
    with_space(|space| space.set_range(align_down(start), align_up(end), Some(flags)))
}

/// Changes the permissions of the memory `region` owns.
pub fn protect(region: &mut Region, access: Access) -> Result<(), PagingError> {
    with_space(|space| space.set_range(region.start(), region.end(), leaf_flags(access)))?;
    region.set_access(access);
    Ok(())
}

/// Makes the first page of `region` a guard page (unmapped) named `owner` in crash
/// reports; returns the guard page and the rest of the region (the usable part).
pub fn add_guard_page(
    region: Region,
    owner: &'static str,
) -> Result<(Region, Region), (Region, PagingError)> {
    let (mut guard, rest) = match region.split_at(PAGE_SIZE) {
        Ok(parts) => parts,
        Err(region) => return Err((region, PagingError::RegionTooSmall)),
    };
    if let Err(err) = protect(&mut guard, Access::None) {
        // Nothing changed: both halves still have the same permissions.
        let whole = guard
            .merge(rest)
            .expect("the halves of a split region merge back");
        return Err((whole, err));
    }
    // The name is only for crash reports: a full registry loses the name, not the guard.
    if let Some(slot) = GUARDS.lock().iter_mut().find(|slot| slot.is_none()) {
        *slot = Some((guard.start(), owner));
    }
    Ok((guard, rest))
}

fn forget_guard(page: usize) {
    for slot in GUARDS.lock().iter_mut() {
        if matches!(slot, Some((p, _)) if *p == page) {
            *slot = None;
        }
    }
}

/// Undoes [`add_guard_page`]: maps the guard page again and forgets its name.
pub fn remove_guard_page(guard: &mut Region) -> Result<(), PagingError> {
    forget_guard(guard.start());
    protect(guard, Access::ReadWrite)
}

/// The owner of the guard page at `page`, if one is registered (crash reports; never
/// blocks, since it may run while the registry is locked).
pub(crate) fn guard_page_owner(page: usize) -> Option<&'static str> {
    let guards = GUARDS.try_lock()?;
    guards
        .iter()
        .flatten()
        .find(|(p, _)| *p == page)
        .map(|(_, owner)| *owner)
}

/// Whether every page of `start..start + len` is mapped, and writable if `write`.
pub fn is_accessible(start: usize, len: usize, write: bool) -> bool {
    if len == 0 {
        return true;
    }
    let Some(last) = start.checked_add(len - 1) else {
        return false;
    };
    let Some(mut guard) = SPACE.try_lock() else {
        return false;
    };
    let Some(space) = guard.as_mut() else {
        return false;
    };
    let mut page = align_down(start);
    loop {
        match space.lookup(page) {
            Some(flags) if !write || flags.contains(Flags::WRITABLE) => {}
            _ => return false,
        }
        if page >= align_down(last) {
            return true;
        }
        page += PAGE_SIZE;
    }
}
