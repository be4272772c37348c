//! Clock reads without a system call: Linux's vDSO in hosted builds, the kernel's
//! clock read in the unikernel.
//!
//! Linux maps a small shared object into every process and names it in the auxiliary
//! vector (`AT_SYSINFO_EHDR`, vdso(7)); its `__vdso_clock_gettime` reads the clock
//! from a page the kernel keeps current, as glibc does. [`init`] finds that function
//! once at start: from the ELF header to the dynamic symbol table (through the section
//! headers, which the vDSO image carries) to the symbol, relocated by the image's load
//! bias (its `PT_LOAD` at file offset 0).
//!
//! The unikernel's kernel maps no vDSO. Its clock read (`__unikernel_clock_now`, a
//! TSC read and a scale) is in the same module as the shim, and the build pass stores
//! its address in [`__unikernel_shim_clock`] as a constant (`pass/src/clock.rs`), so
//! the optimizer turns the call into a direct one and inlines it: `clock_gettime`
//! spares the system call entry and the check of the `timespec` buffer (written here,
//! in the application, as Linux's vDSO does). In hosted builds nothing sets it, and
//! the optimizer drops that branch.

use core::ffi::{c_int, c_void};
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::auxv::auxv_lookup;

/// `AT_SYSINFO_EHDR`: where the vDSO's ELF header is (linux/auxvec.h).
const AT_SYSINFO_EHDR: usize = 33;
/// `PT_LOAD`, `SHT_DYNSYM` (`<elf.h>`).
const PT_LOAD: u32 = 1;
const SHT_DYNSYM: u32 = 11;

/// `__vdso_clock_gettime`'s address, or 0 (no vDSO, or it lacks the symbol).
static CLOCK_GETTIME: AtomicUsize = AtomicUsize::new(0);
/// The unikernel kernel's clock read (`__unikernel_clock_now`), or 0: the build pass
/// makes it a constant with that address in images; nothing writes it at run time.
#[unsafe(no_mangle)]
#[allow(non_upper_case_globals)]
pub static __unikernel_shim_clock: AtomicUsize = AtomicUsize::new(0);

/// The unikernel kernel's clock read: stores the clock's nanoseconds and returns
/// true, or returns false for a clock it does not serve.
pub type UnikernelClock = unsafe extern "C" fn(c_int, *mut u64) -> bool;

/// The vDSO's `clock_gettime(clockid, timespec*)`: 0, or a negative errno.
pub type ClockGettime = unsafe extern "C" fn(c_int, *mut c_void) -> c_int;

/// Look the vDSO's functions up. Called once at start, after the auxv is recorded.
pub fn init() {
    let Some(base) = auxv_lookup(AT_SYSINFO_EHDR).filter(|&b| b != 0) else {
        return;
    };
    // SAFETY: the kernel maps the whole vDSO image, readable, at `base` for the life of
    // the process (vdso(7)); `symbol` reads only inside the bounds its headers give.
    if let Some(address) = unsafe { symbol(base, b"__vdso_clock_gettime") } {
        CLOCK_GETTIME.store(address, Ordering::Relaxed);
    }
}

/// The vDSO's `clock_gettime`, if there is one.
#[inline]
pub fn clock_gettime() -> Option<ClockGettime> {
    let address = CLOCK_GETTIME.load(Ordering::Relaxed);
    if address == 0 {
        return None;
    }
    // SAFETY: `init` stored the address of the vDSO's `__vdso_clock_gettime`, whose C
    // signature is this one (vdso(7), x86_64 functions).
    Some(unsafe { core::mem::transmute::<usize, ClockGettime>(address) })
}

/// The unikernel kernel's clock read, if the kernel named one.
#[inline]
pub fn unikernel_clock() -> Option<UnikernelClock> {
    // SAFETY: nothing writes the word at run time (the pass sets its initial value), so
    // a plain read races with nothing; a plain read, unlike an atomic one, lets the
    // optimizer fold the constant into a direct call.
    let address = unsafe { __unikernel_shim_clock.as_ptr().read() };
    if address == 0 {
        return None;
    }
    // SAFETY: the pass set the address of the kernel's `__unikernel_clock_now`, whose
    // signature this is.
    Some(unsafe { core::mem::transmute::<usize, UnikernelClock>(address) })
}

/// The address of the defined dynamic symbol `name` of the ELF image at `base`.
///
/// # Safety
/// `base` must be the start of a complete, readable ELF64 image (as the kernel maps
/// the vDSO).
unsafe fn symbol(base: usize, name: &[u8]) -> Option<usize> {
    let read_u16 = |at: usize| {
        // SAFETY: per the caller, `at` is inside the image (all offsets come from its
        // own headers); unaligned reads make no assumption about their alignment.
        unsafe { core::ptr::read_unaligned((base + at) as *const u16) }
    };
    let read_u32 = |at: usize| {
        // SAFETY: as `read_u16`.
        unsafe { core::ptr::read_unaligned((base + at) as *const u32) }
    };
    let read_u64 = |at: usize| {
        // SAFETY: as `read_u16`.
        unsafe { core::ptr::read_unaligned((base + at) as *const u64) as usize }
    };
    // Elf64_Ehdr: magic, 64-bit class, x86-64 machine.
    if read_u32(0) != 0x464c_457f || read_u16(18) != 62 || (read_u16(4) & 0xff) != 2 {
        return None;
    }
    let (phoff, phentsize, phnum) = (read_u64(32), usize::from(read_u16(54)), read_u16(56));
    let (shoff, shentsize, shnum) = (read_u64(40), usize::from(read_u16(58)), read_u16(60));
    // The load bias: where the segment holding file offset 0 is, against its address.
    let bias = (0..usize::from(phnum))
        .map(|i| phoff + i * phentsize)
        .find(|&ph| read_u32(ph) == PT_LOAD && read_u64(ph + 8) == 0)
        .map(|ph| base.wrapping_sub(read_u64(ph + 16)))?;
    // Elf64_Shdr: sh_type at 4, sh_offset at 24, sh_size at 32, sh_link at 40,
    // sh_entsize at 56.
    let dynsym = (0..usize::from(shnum))
        .map(|i| shoff + i * shentsize)
        .find(|&sh| read_u32(sh + 4) == SHT_DYNSYM)?;
    let strtab = shoff + read_u32(dynsym + 40) as usize * shentsize;
    let (symbols, size, entsize) = (
        read_u64(dynsym + 24),
        read_u64(dynsym + 32),
        read_u64(dynsym + 56),
    );
    let strings = read_u64(strtab + 24);
    if entsize == 0 {
        return None;
    }
    // Elf64_Sym: st_name at 0, st_shndx at 6, st_value at 8.
    (0..size / entsize)
        .map(|i| symbols + i * entsize)
        .filter(|&sym| read_u16(sym + 6) != 0)
        .find(|&sym| {
            let start = base + strings + read_u32(sym) as usize;
            // SAFETY: st_name indexes the NUL-terminated string table of the image.
            let text = unsafe { core::ffi::CStr::from_ptr(start as *const core::ffi::c_char) };
            text.to_bytes() == name
        })
        .map(|sym| bias.wrapping_add(read_u64(sym + 8)))
}
