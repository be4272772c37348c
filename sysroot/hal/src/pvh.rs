//! The PVH boot protocol's `hvm_start_info` (Xen `arch-x86/hvm/start_info.h`, the
//! structure QEMU, Firecracker and Cloud Hypervisor hand a PVH kernel in `ebx`).
//!
//! Everything the kernel needs from it (command line, memory map) is copied into the
//! image's own storage before the boot page tables are replaced, so nothing outside the
//! image has to stay mapped or reserved afterwards.

use core::mem::size_of;

use spin::Once;

/// `hvm_start_info.magic`: "xEn3" with the top bit of the first byte set.
const START_INFO_MAGIC: u32 = 0x336e_c578;
/// Longest command line kept; the rest is cut off (reported by the kernel).
pub(crate) const CMDLINE_MAX: usize = 4096;
/// Most memory-map entries kept.
pub(crate) const MEMMAP_MAX: usize = 64;

#[repr(C)]
#[derive(Clone, Copy)]
struct StartInfo {
    magic: u32,
    version: u32,
    flags: u32,
    nr_modules: u32,
    modlist_paddr: u64,
    cmdline_paddr: u64,
    rsdp_paddr: u64,
    // Version 1 and later.
    memmap_paddr: u64,
    memmap_entries: u32,
    reserved: u32,
}

/// `hvm_modlist_entry`: one module (QEMU passes `-initrd` as the first).
#[repr(C)]
#[derive(Clone, Copy)]
struct ModlistEntry {
    paddr: u64,
    size: u64,
    cmdline_paddr: u64,
    reserved: u64,
}

#[repr(C)]
#[derive(Clone, Copy)]
struct MemmapEntry {
    addr: u64,
    size: u64,
    kind: u32,
    reserved: u32,
}

/// What a physical memory range is, in the E820 types the PVH memory map uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MemoryKind {
    /// Usable RAM (E820 type 1).
    Ram,
    /// Reserved (type 2), e.g. firmware or MMIO.
    Reserved,
    /// ACPI tables, reclaimable after they are read (type 3).
    AcpiReclaimable,
    /// ACPI non-volatile storage (type 4).
    AcpiNvs,
    /// Defective RAM (type 5).
    Unusable,
    /// Any other type number.
    Other(u32),
}

impl From<u32> for MemoryKind {
    fn from(kind: u32) -> Self {
        match kind {
            1 => Self::Ram,
            2 => Self::Reserved,
            3 => Self::AcpiReclaimable,
            4 => Self::AcpiNvs,
            5 => Self::Unusable,
            other => Self::Other(other),
        }
    }
}

/// One entry of the boot memory map.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MemoryRegion {
    /// Physical start address.
    pub start: u64,
    /// Length in bytes.
    pub len: u64,
    /// What the range holds.
    pub kind: MemoryKind,
}

impl MemoryRegion {
    /// One past the last byte (saturating).
    pub fn end(&self) -> u64 {
        self.start.saturating_add(self.len)
    }
}

/// The boot memory map as the VMM reported it.
#[derive(Debug)]
pub struct MemoryMap {
    entries: [MemoryRegion; MEMMAP_MAX],
    len: usize,
    /// Entries that did not fit and were dropped.
    pub dropped: usize,
}

impl MemoryMap {
    /// The entries, in the VMM's order.
    pub fn regions(&self) -> &[MemoryRegion] {
        &self.entries[..self.len]
    }
}

/// The command line and memory map, copied out of the VMM's structures.
pub(crate) struct PvhInfo {
    pub(crate) cmdline: &'static str,
    pub(crate) cmdline_truncated: bool,
    pub(crate) memory_map: &'static MemoryMap,
    /// The first boot module (physical start, length), if the loader passed one. It
    /// stays where the loader put it: `paging::init` keeps it out of the free RAM.
    pub(crate) module: Option<(usize, usize)>,
}

static CMDLINE: Once<([u8; CMDLINE_MAX], usize, bool)> = Once::new();
static MEMORY_MAP: Once<MemoryMap> = Once::new();

/// Reads the start-info structure at physical address `start_info`.
///
/// # Safety
///
/// `start_info` must be the value the PVH loader passed in `ebx`, and the memory it
/// and the structures it points to occupy must still be identity-mapped (the boot
/// page tables map the low 4 GiB).
pub(crate) unsafe fn read(start_info: usize) -> Result<PvhInfo, &'static str> {
    if start_info == 0 {
        return Err("no PVH start_info (ebx was 0): not booted through the PVH entry");
    }
    // SAFETY: per this function's contract the address is the loader's start_info,
    // identity-mapped; read_unaligned because the loader promises no alignment.
    let info = unsafe { (start_info as *const StartInfo).read_unaligned() };
    if info.magic != START_INFO_MAGIC {
        return Err("PVH start_info has a bad magic number");
    }
    if info.version < 1 || info.memmap_paddr == 0 || info.memmap_entries == 0 {
        return Err("PVH start_info has no memory map (version 0 loader)");
    }

    let cmdline = CMDLINE.call_once(|| {
        let mut buf = [0u8; CMDLINE_MAX];
        let mut len = 0;
        let mut truncated = false;
        if info.cmdline_paddr != 0 {
            let src = info.cmdline_paddr as usize as *const u8;
            loop {
                // SAFETY: the loader's command line is a NUL-terminated string in
                // identity-mapped low memory; we stop at the NUL or at our limit.
                let byte = unsafe { src.add(len).read() };
                if byte == 0 {
                    break;
                }
                if len == CMDLINE_MAX {
                    truncated = true;
                    break;
                }
                buf[len] = byte;
                len += 1;
            }
        }
        (buf, len, truncated)
    });
    let bytes = &cmdline.0[..cmdline.1];
    let text = match core::str::from_utf8(bytes) {
        Ok(text) => text,
        // Keep the valid prefix: the command line is ASCII in practice.
        Err(err) => core::str::from_utf8(&bytes[..err.valid_up_to()]).unwrap_or(""),
    };

    let memory_map = MEMORY_MAP.call_once(|| {
        let mut map = MemoryMap {
            entries: [MemoryRegion {
                start: 0,
                len: 0,
                kind: MemoryKind::Reserved,
            }; MEMMAP_MAX],
            len: 0,
            dropped: 0,
        };
        let base = info.memmap_paddr as usize;
        for i in 0..info.memmap_entries as usize {
            // SAFETY: the loader's memory map holds `memmap_entries` entries at
            // `memmap_paddr`, identity-mapped; read_unaligned for lack of guarantees.
            let entry = unsafe {
                ((base + i * size_of::<MemmapEntry>()) as *const MemmapEntry).read_unaligned()
            };
            if map.len == MEMMAP_MAX {
                map.dropped += 1;
                continue;
            }
            map.entries[map.len] = MemoryRegion {
                start: entry.addr,
                len: entry.size,
                kind: entry.kind.into(),
            };
            map.len += 1;
        }
        map
    });

    let module = if info.nr_modules == 0 || info.modlist_paddr == 0 {
        None
    } else {
        // SAFETY: the loader's module list holds `nr_modules` (here at least one)
        // entries at `modlist_paddr`, identity-mapped; read_unaligned for lack of
        // guarantees.
        let entry =
            unsafe { (info.modlist_paddr as usize as *const ModlistEntry).read_unaligned() };
        Some((entry.paddr as usize, entry.size as usize))
            .filter(|&(start, len)| start != 0 && len != 0)
    };

    Ok(PvhInfo {
        cmdline: text,
        cmdline_truncated: cmdline.2,
        memory_map,
        module,
    })
}
