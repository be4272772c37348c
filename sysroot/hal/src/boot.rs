//! PVH entry, the switch to long mode, and the hand-over to the kernel.
//!
//! A PVH loader (QEMU `-kernel`, Firecracker, Cloud Hypervisor) finds the 32-bit entry
//! point in the ELF note `Xen`/`XEN_ELFNOTE_PHYS32_ENTRY` (type 18) and jumps there in
//! 32-bit protected mode with paging off, flat 4 GiB segments, interrupts off and the
//! physical address of `hvm_start_info` in `ebx` (Xen `docs/misc/pvh.pandoc`). There is
//! no stack. The entry below:
//!
//! 1. reads the TSC (the boot-time measurement starts at this instruction);
//! 2. builds boot page tables identity-mapping the low 4 GiB with 2 MiB pages;
//! 3. enables PAE, SSE (`CR4.OSFXSR`, `CR4.OSXMMEXCPT`, `CR0.MP`, not `CR0.EM`: the
//!    target's Rust code uses SSE from the first instruction), `EFER.LME`, `EFER.NXE`
//!    (NX bits in the final tables), `EFER.SCE` (the `syscall` trap path), `CR0.WP`
//!    (ring 0 honours read-only pages, or W^X would mean nothing) and paging;
//! 4. far-jumps into 64-bit code, sets up the boot stack and calls [`rust_entry`].
//!
//! [`rust_entry`] then brings up the console, CPU tables and final page tables and
//! calls the kernel's `__unikernel_kernel_main` with a [`BootInfo`].

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, Ordering};

use crate::memory::FreeRam;
use crate::pvh;
pub use crate::pvh::{MemoryKind, MemoryMap, MemoryRegion};
use crate::{apic, console, exceptions, exit, gdt, image, paging, stacks, syscall_entry};

/// The boot page tables: one PML4, one PDPT and four page directories of 2 MiB pages
/// covering 0..4 GiB. Only used until [`paging::init`] installs the real tables.
#[repr(C, align(4096))]
struct BootTables {
    pml4: [u64; 512],
    pdpt: [u64; 512],
    pd: [[u64; 512]; 4],
}

#[unsafe(link_section = ".bss.unikernel_boot_tables")]
static mut BOOT_TABLES: BootTables = BootTables {
    pml4: [0; 512],
    pdpt: [0; 512],
    pd: [[0; 512]; 4],
};

// The PVH entry's out-of-memory stop writes this status as text.
const _: () = assert!(exit::EXIT_OUT_OF_MEMORY == 123);

/// TSC at the first instruction of the PVH entry.
static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

global_asm!(
    // The PVH note. Its alignment must stay 4: QEMU finds the descriptor by rounding
    // the name size up to the PT_NOTE segment's p_align.
    ".pushsection .note.Xen, \"a\", @note",
    ".p2align 2",
    ".long 4",          // namesz: "Xen\0"
    ".long 8",          // descsz
    ".long 18",         // XEN_ELFNOTE_PHYS32_ENTRY
    ".asciz \"Xen\"",
    ".p2align 2",
    ".long __unikernel_pvh_start",
    ".long 0",
    ".popsection",

    // The boot GDT: null, 64-bit ring-0 code (0x08), ring-0 data (0x10). The same
    // selectors are used by the final GDT (gdt.rs).
    ".pushsection .rodata.unikernel_boot_gdt, \"a\"",
    ".p2align 3",
    "__unikernel_boot_gdt:",
    ".quad 0",
    ".quad 0x00af9a000000ffff",
    ".quad 0x00cf92000000ffff",
    "__unikernel_boot_gdtr:",
    ".word 23",
    ".long __unikernel_boot_gdt",
    ".popsection",

    ".pushsection .text.unikernel_pvh_start, \"ax\", @progbits",
    ".code32",
    ".globl __unikernel_pvh_start",
    ".type __unikernel_pvh_start, @function",
    "__unikernel_pvh_start:",
    "cli",
    "cld",
    "rdtsc",
    "movl %eax, {boot_tsc}",
    "movl %edx, {boot_tsc}+4",
    "movl %ebx, %esi",                  // start_info, kept in esi until rust_entry

    // A loader short of RAM puts the first boot module (the image file, `-initrd`) at
    // the top of RAM over the image's own memory (QEMU does with 2 or 3 MiB for a
    // 1 MiB image): the image's data is then garbage and the first write to its
    // .bss would corrupt the module. Stop here, before anything else is touched, with
    // a console line and the out-of-memory status, instead of running into a triple
    // fault. hvm_start_info: nr_modules at +12, modlist_paddr at +16; a modlist entry
    // starts with paddr, size (u64 each; the low 4 GiB is all a 32-bit entry sees).
    "cmpl $0, 12(%ebx)",
    "je 4f",
    "movl 16(%ebx), %edi",
    "movl (%edi), %eax",
    "cmpl $__unikernel_image_end, %eax",
    "jae 4f",
    "addl 8(%edi), %eax",
    "cmpl $__unikernel_image_start, %eax",
    "jbe 4f",
    // There is no stack yet: the two writes are inline loops, not calls.
    "movl $__unikernel_boot_overlap_message, %esi",
    "movw $0x3f8, %dx",                 // COM1 data register: QEMU's UART needs no setup
    "5:",
    "movb (%esi), %al",
    "testb %al, %al",
    "jz 6f",
    "outb %al, %dx",
    "incl %esi",
    "jmp 5b",
    "6:",
    "movl $__unikernel_boot_overlap_status, %esi",
    "movw $0xe9, %dx",                  // the debug console's exit-status line (exit.rs)
    "7:",
    "movb (%esi), %al",
    "testb %al, %al",
    "jz 8f",
    "outb %al, %dx",
    "incl %esi",
    "jmp 7b",
    "8:",
    "movw $0xf4, %dx",                  // isa-debug-exit
    "movl ${out_of_memory}, %eax",
    "outl %eax, %dx",
    "3:",
    "hlt",
    "jmp 3b",
    "__unikernel_boot_overlap_message:",
    ".asciz \"unikernel: boot failed: too little memory: the loader put the boot module (the image file) over the image; give the machine more memory\\n\"",
    "__unikernel_boot_overlap_status:",
    ".asciz \"unikernel-exit-status 123\\n\"",
    "4:",

    // Zero the PML4 and PDPT, then link PML4[0] -> PDPT -> 4 PDs (present|writable).
    "movl ${tables}, %edi",
    "xorl %eax, %eax",
    "movl $2048, %ecx",
    "rep stosl",
    "movl ${tables}, %edi",
    "leal 0x1003(%edi), %eax",
    "movl %eax, (%edi)",
    "leal 0x2003(%edi), %eax",
    "movl %eax, 0x1000(%edi)",
    "leal 0x3003(%edi), %eax",
    "movl %eax, 0x1008(%edi)",
    "leal 0x4003(%edi), %eax",
    "movl %eax, 0x1010(%edi)",
    "leal 0x5003(%edi), %eax",
    "movl %eax, 0x1018(%edi)",
    // 2048 PD entries: i * 2 MiB | present|writable|page-size.
    "leal 0x2000(%edi), %ebx",
    "movl $0x83, %eax",
    "xorl %ecx, %ecx",
    "1:",
    "movl %eax, (%ebx,%ecx,8)",
    "movl $0, 4(%ebx,%ecx,8)",
    "addl $0x200000, %eax",
    "incl %ecx",
    "cmpl $2048, %ecx",
    "jb 1b",

    "movl %cr4, %eax",
    "orl $0x620, %eax",                 // PAE | OSFXSR | OSXMMEXCPT
    "movl %eax, %cr4",
    "movl ${tables}, %eax",
    "movl %eax, %cr3",
    "movl $0xc0000080, %ecx",           // IA32_EFER
    "rdmsr",
    "orl $0x901, %eax",                 // SCE | LME | NXE
    "wrmsr",
    "movl %cr0, %eax",
    "andl $0xfffffffb, %eax",           // clear EM
    "orl $0x80010023, %eax",            // PG | WP | NE | MP | PE
    "movl %eax, %cr0",
    "lgdtl __unikernel_boot_gdtr",
    "ljmpl $0x08, $__unikernel_long_mode",

    ".code64",
    "__unikernel_long_mode:",
    "movl $0x10, %eax",
    "movl %eax, %ds",
    "movl %eax, %es",
    "movl %eax, %ss",
    "xorl %eax, %eax",
    "movl %eax, %fs",
    "movl %eax, %gs",
    "movq ${stacks}+{boot_stack_top}, %rsp",
    "xorl %ebp, %ebp",
    "movl %esi, %edi",                  // zero-extends start_info into the first argument
    "call {rust_entry}",
    "ud2",
    ".size __unikernel_pvh_start, . - __unikernel_pvh_start",
    ".popsection",
    boot_tsc = sym BOOT_TSC,
    tables = sym BOOT_TABLES,
    stacks = sym stacks::STACKS,
    boot_stack_top = const stacks::BOOT_STACK_TOP_OFFSET,
    rust_entry = sym rust_entry,
    out_of_memory = const exit::EXIT_OUT_OF_MEMORY,
    options(att_syntax),
);

/// Keeps the 64-bit entry alive through whole-program optimisation: it is referenced
/// only from module-level assembly, which LLVM does not look into.
#[used]
static KEEP_RUST_ENTRY: unsafe extern "C" fn(usize) -> ! = rust_entry;

/// What the hardware layer hands the kernel.
#[derive(Debug)]
pub struct BootInfo {
    /// The kernel command line (valid UTF-8 prefix of what the VMM passed).
    pub cmdline: &'static str,
    /// The command line was longer than the kernel keeps and was cut.
    pub cmdline_truncated: bool,
    /// The VMM's memory map.
    pub memory_map: &'static MemoryMap,
    /// RAM not used by the image, as ownership tokens for the kernel's allocator.
    pub free_ram: FreeRam,
    /// TSC at the first instruction of the kernel.
    pub boot_tsc: u64,
    /// TSC when the hardware layer handed over to the kernel.
    pub handover_tsc: u64,
}

unsafe extern "Rust" {
    /// The kernel's boot flow (defined by `unikernel-kernel`).
    safe fn __unikernel_kernel_main(boot: BootInfo) -> !;
}

/// First Rust code: runs on the boot stack under the boot page tables.
///
/// # Safety
///
/// Only called once, from the PVH entry above, with the loader's `ebx` value.
unsafe extern "C" fn rust_entry(start_info: usize) -> ! {
    console::init();
    gdt::init();
    exceptions::init();
    // SAFETY: start_info is the loader's value (this function's contract) and the boot
    // tables identity-map the low 4 GiB where the loader put it.
    let pvh = match unsafe { pvh::read(start_info) } {
        Ok(pvh) => pvh,
        Err(message) => boot_failure(message),
    };
    let free_ram = match paging::init(pvh.memory_map, pvh.module) {
        Ok(free_ram) => free_ram,
        // Every way paging's set-up fails is RAM that is not there: the status says
        // "too little memory", as the boot module check above does.
        Err(message) => out_of_memory(message),
    };
    image::set_executable(pvh.module);
    syscall_entry::init();
    if !apic::init() {
        console::print(format_args!(
            "unikernel: no usable local APIC: idle waits poll the clock\n"
        ));
    }
    __unikernel_kernel_main(BootInfo {
        cmdline: pvh.cmdline,
        cmdline_truncated: pvh.cmdline_truncated,
        memory_map: pvh.memory_map,
        free_ram,
        boot_tsc: BOOT_TSC.load(Ordering::Relaxed),
        handover_tsc: crate::tsc::read(),
    })
}

/// Reports that the machine has too little RAM to boot and stops it with
/// [`exit::EXIT_OUT_OF_MEMORY`].
fn out_of_memory(message: &str) -> ! {
    console::print(format_args!(
        "unikernel: boot failed: too little memory: {message}; give the machine more memory\n"
    ));
    exit::exit(exit::EXIT_OUT_OF_MEMORY)
}

/// Reports a failure of the hardware bring-up and stops the machine.
fn boot_failure(message: &str) -> ! {
    console::print(format_args!("unikernel: boot failed: {message}\n"));
    exit::exit(exit::EXIT_BOOT_FAILURE)
}
