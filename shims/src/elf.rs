//! ELF types the shim reads from its own loaded image (`<elf.h>`): the program
//! header and the segment types it looks for.
//!
//! A leaf: `tls` reads the `PT_TLS` template from these headers and `dl` reports
//! them through `dl_iterate_phdr`.

/// `PT_TLS`: the thread-local storage template.
pub const PT_TLS: u32 = 7;
/// `PT_PHDR`: the program header table itself.
pub const PT_PHDR: u32 = 6;

/// `Elf64_Phdr`.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
#[allow(missing_docs)]
pub struct Phdr {
    pub p_type: u32,
    pub p_flags: u32,
    pub p_offset: u64,
    pub p_vaddr: u64,
    pub p_paddr: u64,
    pub p_filesz: u64,
    pub p_memsz: u64,
    pub p_align: u64,
}
