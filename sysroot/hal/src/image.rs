//! The loaded image: section boundaries from the linker script (`sysroot/image.ld`)
//! and the ELF program headers, which the script keeps loaded so the kernel can point
//! `AT_PHDR` at them (the libc shim finds `PT_TLS` and `PT_GNU_EH_FRAME` there).

use core::ops::Range;

unsafe extern "C" {
    static __ehdr_start: u8;
    static __unikernel_image_start: u8;
    static __unikernel_text_start: u8;
    static __unikernel_text_end: u8;
    static __unikernel_rodata_start: u8;
    static __unikernel_rodata_end: u8;
    static __unikernel_data_start: u8;
    static __unikernel_image_end: u8;
    static __unikernel_initfs_start: u8;
    static __unikernel_initfs_end: u8;
}

macro_rules! addr {
    ($symbol:ident) => {
        (&raw const $symbol) as usize
    };
}

/// The whole loaded image, page-aligned: headers, text, rodata, data, bss.
pub fn image() -> Range<usize> {
    addr!(__unikernel_image_start)..addr!(__unikernel_image_end)
}

/// Executable code (mapped read + execute).
pub fn text() -> Range<usize> {
    addr!(__unikernel_text_start)..addr!(__unikernel_text_end)
}

/// Read-only data, EH frames, notes (mapped read-only, no execute).
pub fn rodata() -> Range<usize> {
    addr!(__unikernel_rodata_start)..addr!(__unikernel_rodata_end)
}

/// TLS templates, init arrays, data and bss (mapped read + write, no execute).
pub fn data() -> Range<usize> {
    addr!(__unikernel_data_start)..addr!(__unikernel_image_end)
}

/// The initial file archive (`.unikernel_initfs`, in the read-only segment; empty when
/// the image was linked without files).
pub fn initfs() -> &'static [u8] {
    let start = addr!(__unikernel_initfs_start);
    let len = addr!(__unikernel_initfs_end).saturating_sub(start);
    // SAFETY: the linker script puts the section's bytes between the two symbols in
    // the rodata segment, which is mapped read-only for the whole run and never
    // written, so a shared `'static` slice of it is sound.
    unsafe { core::slice::from_raw_parts(start as *const u8, len) }
}

/// Where the program headers are and how they are laid out (the `AT_PHDR`,
/// `AT_PHNUM` and `AT_PHENT` auxiliary-vector entries).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ProgramHeaders {
    pub address: usize,
    pub count: usize,
    pub entry_size: usize,
    /// The ELF entry point (`AT_ENTRY`).
    pub entry: usize,
}

/// Reads the loaded ELF header.
pub fn program_headers() -> ProgramHeaders {
    let ehdr = (&raw const __ehdr_start).cast::<u8>();
    // SAFETY: the linker script loads the ELF file header at __ehdr_start (FILEHDR in
    // the first PT_LOAD); these are the e_entry, e_phoff, e_phentsize and e_phnum
    // fields of an Elf64_Ehdr, read unaligned to make no assumption.
    let (entry, phoff, phentsize, phnum) = unsafe {
        (
            ehdr.add(24).cast::<u64>().read_unaligned(),
            ehdr.add(32).cast::<u64>().read_unaligned(),
            ehdr.add(54).cast::<u16>().read_unaligned(),
            ehdr.add(56).cast::<u16>().read_unaligned(),
        )
    };
    ProgramHeaders {
        address: ehdr as usize + phoff as usize,
        count: usize::from(phnum),
        entry_size: usize::from(phentsize),
        entry: entry as usize,
    }
}
