//! The initial process stack's auxiliary vector: `getauxval`, the page size, and
//! where the initial stack is.
//!
//! `start` records the vector once, before anything else runs (psABI x86_64,
//! 3.4.1: the auxv pairs follow `envp[]`'s NULL and end with `AT_NULL`); every
//! other module reads it from here.

use core::ffi::{c_int, c_ulong};
use core::sync::atomic::{AtomicPtr, AtomicUsize, Ordering};

use crate::errno::{Errno, set_errno};

/// Auxiliary vector keys (linux/auxvec.h).
pub const AT_NULL: usize = 0;
/// Address of the program headers.
pub const AT_PHDR: usize = 3;
/// Number of program headers.
pub const AT_PHNUM: usize = 5;
/// System page size.
pub const AT_PAGESZ: usize = 6;
/// Address of 16 random bytes.
pub const AT_RANDOM: usize = 25;
/// Address of the executable's file name string.
pub const AT_EXECFN: usize = 31;

/// The auxiliary vector (pairs of words ending in `AT_NULL`).
static AUXV: AtomicPtr<usize> = AtomicPtr::new(core::ptr::null_mut());
/// The initial stack pointer handed to `__unikernel_libc_start`.
static INITIAL_SP: AtomicUsize = AtomicUsize::new(0);

/// Records the initial stack pointer `sp` and the auxiliary vector at `auxv`.
///
/// # Safety
/// `auxv` must point at the initial stack's auxiliary vector (pairs of words
/// ending in `AT_NULL`), which must stay valid for the life of the process.
pub unsafe fn record(sp: *const usize, auxv: *mut usize) {
    INITIAL_SP.store(sp as usize, Ordering::Relaxed);
    AUXV.store(auxv, Ordering::Relaxed);
}

/// Returns the value of auxiliary vector entry `kind`, or 0 (errno ENOENT).
#[unsafe(no_mangle)]
pub extern "C" fn getauxval(kind: c_ulong) -> c_ulong {
    match auxv_lookup(kind as usize) {
        Some(v) => v as c_ulong,
        None => {
            set_errno(Errno::ENOENT);
            0
        }
    }
}

/// Looks `kind` up in the auxiliary vector.
pub fn auxv_lookup(kind: usize) -> Option<usize> {
    let mut p = AUXV.load(Ordering::Relaxed).cast_const();
    if p.is_null() {
        return None;
    }
    // SAFETY: AUXV points into the initial stack's auxv, terminated by AT_NULL.
    unsafe {
        while *p != AT_NULL {
            if *p == kind {
                return Some(*p.add(1));
            }
            p = p.add(2);
        }
    }
    None
}

/// The page size (from `AT_PAGESZ`, 4 KiB if absent).
pub fn page_size() -> usize {
    auxv_lookup(AT_PAGESZ)
        .filter(|p| p.is_power_of_two())
        .unwrap_or(4096)
}

/// Returns the page size.
#[unsafe(no_mangle)]
pub extern "C" fn getpagesize() -> c_int {
    c_int::try_from(page_size()).unwrap_or(4096)
}

/// The stack pointer the process started with.
pub fn initial_sp() -> usize {
    INITIAL_SP.load(Ordering::Relaxed)
}
