//! The loaded image: section boundaries from the linker script (`sysroot/image.ld`)
//! and the ELF program headers, which the script keeps loaded so the kernel can point
//! `AT_PHDR` at them (the libc shim finds `PT_TLS` and `PT_GNU_EH_FRAME` there).
//!
//! It also holds the image *file* when the VMM passed it as the first boot module
//! (`cargo unikernel run` does, with `-initrd`): the loaded segments carry no symbol
//! table or DWARF, the file does. Crash reports symbolize with it and the VFS serves
//! it as `/proc/self/exe`, where std's backtrace looks for symbols, as on Linux.

use core::ops::Range;

use spin::Once;

unsafe extern "C" {
    static __ehdr_start: u8;
    static __unikernel_image_start: u8;
    static __unikernel_text_start: u8;
    static __unikernel_text_end: u8;
    static __unikernel_rodata_start: u8;
    static __unikernel_rodata_end: u8;
    static __unikernel_data_start: u8;
    static __unikernel_image_end: u8;
    static __unikernel_kernel_data_start: u8;
    static __unikernel_kernel_data_end: u8;
    static __unikernel_initfs_start: u8;
    static __unikernel_initfs_end: u8;
    static __eh_frame_hdr_start: u8;
    static __eh_frame_hdr_end: u8;
    static __eh_frame_start: u8;
    static __eh_frame_end: u8;
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

/// The kernel's own writable memory inside the data segment (page-aligned): its
/// statics, its stacks, the boot page tables and the page-table pool (see `image.ld`).
/// Never the application's, so never a system call's buffer (`uaccess`).
pub fn kernel_data() -> Range<usize> {
    addr!(__unikernel_kernel_data_start)..addr!(__unikernel_kernel_data_end)
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

/// A read-only section of the loaded image between two linker-script symbols.
fn rodata_section(start: usize, end: usize) -> &'static [u8] {
    // SAFETY: the linker script puts the section between the two symbols inside the
    // rodata segment, mapped read-only and never written for the whole run.
    unsafe { core::slice::from_raw_parts(start as *const u8, end.saturating_sub(start)) }
}

/// `.eh_frame_hdr` (the binary-search table of FDEs); its address is the slice's.
pub fn eh_frame_hdr() -> &'static [u8] {
    rodata_section(addr!(__eh_frame_hdr_start), addr!(__eh_frame_hdr_end))
}

/// `.eh_frame` (call-frame information, for unwinding and backtraces).
pub fn eh_frame() -> &'static [u8] {
    rodata_section(addr!(__eh_frame_start), addr!(__eh_frame_end))
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

static EXECUTABLE: Once<Option<&'static [u8]>> = Once::new();

/// Records the boot module as the image file if it is one: its ELF header and program
/// headers must be byte for byte the ones loaded at `__ehdr_start` (so a stale or
/// foreign module is never used to name this image's code).
pub(crate) fn set_executable(module: Option<(usize, usize)>) {
    EXECUTABLE.call_once(|| {
        let (start, len) = module?;
        let headers = program_headers();
        let loaded_len = headers.address + headers.count * headers.entry_size - addr!(__ehdr_start);
        if len < loaded_len {
            return None;
        }
        // SAFETY: the boot module is RAM that `paging::init` mapped read-only and kept
        // out of the free RAM, so nothing writes it for the rest of the run.
        let file = unsafe { core::slice::from_raw_parts(start as *const u8, len) };
        // SAFETY: the ELF header and program headers are in the headers segment, loaded
        // and mapped read-only for the whole run.
        let loaded = unsafe {
            core::slice::from_raw_parts((&raw const __ehdr_start).cast::<u8>(), loaded_len)
        };
        (file[..loaded_len] == *loaded).then_some(file)
    });
}

/// The image file (ELF, with its symbol table unless it was stripped), if the VMM
/// passed it as the first boot module.
pub fn executable() -> Option<&'static [u8]> {
    EXECUTABLE.get().copied().flatten()
}
