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
//! demand and merge back when uniform again; page-table frames come from RAM on demand
//! (see `tables`).
//!
//! `CR4.PGE` is off, so no mapping is global and reloading CR3 flushes the TLB.

use x86_64::PhysAddr;
use x86_64::registers::control::{Cr3, Cr3Flags};
use x86_64::structures::paging::{PageTableFlags as Flags, PhysFrame};

use crate::lock_order::{Level, OrderedMutex};
use crate::memory::{Access, FreeRam, Region};
use crate::pvh::{MemoryKind, MemoryMap};
use crate::{PAGE_SIZE, image, stacks};
use tables::AddressSpace;

mod tables;

/// Spare page-table frames `init` keeps beyond what the initial tables use, for the
/// changes made before the kernel has taken the free RAM (the local APIC's page).
const BOOT_SPARE_FRAMES: usize = 8;

/// Why a page-table change failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PagingError {
    /// A page-table frame is needed: give one with [`donate_table_frame`] and retry
    /// (the change is idempotent; part of it may already be done).
    OutOfTables,
    /// The paging layer was used before `init`.
    NotInitialized,
    /// A guard page needs a region of at least two pages.
    RegionTooSmall,
}

/// Page-table frames linked into the tables and spare ones, for the boot report and
/// tests.
pub fn table_frames_used() -> (usize, usize) {
    SPACE.lock().as_ref().map_or((0, 0), AddressSpace::frames)
}

/// Gives the tables `region` (free RAM, read-write) as page-table frames: the way
/// to answer [`PagingError::OutOfTables`]. Gives it back if it is not read-write.
pub fn donate_table_frames(region: Region) -> Result<(), Region> {
    if region.access() != Access::ReadWrite {
        return Err(region);
    }
    let mut guard = SPACE.lock();
    let Some(space) = guard.as_mut() else {
        return Err(region);
    };
    let mut frame = region.start();
    while frame < region.end() {
        // SAFETY: the token owned the range exclusively and is consumed here (it has no
        // destructor and no copy), so the frames are unreferenced RAM, mapped
        // read-write (checked above) and linked into no table.
        unsafe { space.push_spare(frame) };
        frame += PAGE_SIZE;
    }
    Ok(())
}

/// Takes back one spare page-table frame (left over after a change, or freed when a
/// table merged back into a 2 MiB page) as a region of free RAM.
pub fn reclaim_table_frame() -> Option<Region> {
    let frame = SPACE.lock().as_mut()?.pop_spare()?;
    // SAFETY: a spare frame is page-aligned RAM mapped read-write that nothing
    // references (it left the spare stack just now) and no other token covers: it came
    // from a donated region or from the boot range, which `init` kept out of the free RAM.
    Some(unsafe { Region::new(frame, PAGE_SIZE) })
}

/// How many spare page-table frames there are.
pub fn spare_table_frames() -> usize {
    SPACE.lock().as_ref().map_or(0, |space| space.frames().1)
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

static SPACE: OrderedMutex<Option<AddressSpace>> = OrderedMutex::new(Level::PageTables, None);

/// Guard pages of the kernel's clients (application stacks), for crash reports.
static GUARDS: OrderedMutex<[Option<(usize, &'static str)>; 32]> =
    OrderedMutex::new(Level::GuardNames, [None; 32]);

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
    let out_of_tables = |_| "no RAM for the initial page tables";
    let image = image::image();
    let floor = align_up(image.end);
    let module =
        module.map(|(start, len)| (align_down(start), align_up(start.saturating_add(len))));
    let (boot_start, boot_end) =
        boot_range(memory_map, floor, module).ok_or("no RAM above the image")?;
    let mut space = AddressSpace::new(boot_start, boot_end).map_err(out_of_tables)?;
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
    let (text, rodata, data) = (image::text(), image::rodata(), image::data());
    let sections = [
        (image.start, text.start, leaf_flags(Access::Read)),
        (text.start, text.end, leaf_flags(Access::ReadExecute)),
        (rodata.start, rodata.end, leaf_flags(Access::Read)),
        (data.start, data.end, rw),
        (0, PAGE_SIZE, None),
    ];
    for (start, end, flags) in sections {
        space.set_range(start, end, flags).map_err(out_of_tables)?;
    }
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
    for _ in 0..BOOT_SPARE_FRAMES {
        let frame = space.boot_frame().ok_or("no RAM for spare page tables")?;
        // SAFETY: a frame just carved from the boot range: RAM mapped read-write
        // (by the boot tables and the new ones) that nothing references.
        unsafe { space.push_spare(frame) };
    }
    let carved = (boot_start, space.end_boot_range());

    let frame = PhysFrame::containing_address(PhysAddr::new(space.pml4() as u64));
    // SAFETY: the new tables identity-map everything the kernel touches from here on:
    // the image (code we run, stacks, statics) with its section permissions and all
    // RAM. The loader's structures were copied out by `pvh::read` before this call.
    unsafe { Cr3::write(frame, Cr3Flags::empty()) };
    space.active = true;
    *SPACE.lock() = Some(space);

    // Free RAM: RAM entries above the image (low memory and the image are not given),
    // without the boot module and the frames the tables were carved from.
    let mut free = FreeRam::new();
    for region in memory_map.regions() {
        if region.kind != MemoryKind::Ram {
            continue;
        }
        let start = align_up((region.start as usize).max(floor));
        let end = align_down(region.end() as usize);
        let pieces = without((start, end), module)
            .into_iter()
            .flatten()
            .flat_map(|piece| without(piece, Some(carved)).into_iter().flatten());
        for (start, end) in pieces {
            {
                // SAFETY: RAM per the memory map, above the image, outside the boot
                // module and the page tables' frames, page-aligned, mapped read-write
                // above; memory-map RAM entries do not overlap, and this is the only
                // place tokens of boot RAM are created.
                free.push(unsafe { Region::new(start, end - start) });
            }
        }
    }
    Ok(free)
}

/// Where `init` carves page-table frames from: the first RAM above `floor`, below
/// 4 GiB (what the boot tables map) and outside the boot module.
fn boot_range(
    memory_map: &MemoryMap,
    floor: usize,
    module: Option<(usize, usize)>,
) -> Option<(usize, usize)> {
    const BOOT_MAPPED: usize = 1 << 32;
    memory_map
        .regions()
        .iter()
        .filter(|region| region.kind == MemoryKind::Ram)
        .map(|region| {
            let start = align_up((region.start as usize).max(floor));
            let end = align_down(region.end() as usize).min(BOOT_MAPPED);
            without((start, end), module)
        })
        .flat_map(|pieces| pieces.into_iter().flatten())
        .find(|&(start, end)| end.saturating_sub(start) >= 64 * PAGE_SIZE)
}

/// `range` minus `hole`: the parts below and above it.
fn without(range: (usize, usize), hole: Option<(usize, usize)>) -> [Option<(usize, usize)>; 2] {
    let (start, end) = range;
    match hole {
        Some((h_start, h_end)) if h_start < end && start < h_end => [
            (start < h_start).then_some((start, h_start)),
            (h_end < end).then_some((h_end, end)),
        ],
        _ => [(start < end).then_some(range), None],
    }
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

/// Changes the permissions of the memory `region` owns. On failure nothing changed:
/// the pages already changed get their old permissions back (which needs no new
/// page table: the ones the first attempt linked stay until the range is uniform).
pub fn protect(region: &mut Region, access: Access) -> Result<(), PagingError> {
    let (start, end, old) = (region.start(), region.end(), region.access());
    with_space(|space| {
        space
            .set_range(start, end, leaf_flags(access))
            .inspect_err(|_| {
                let _ = space.set_range(start, end, leaf_flags(old));
            })
    })?;
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
