//! Memory mappings: `mmap`, `munmap`, `mprotect`, `madvise`, `mremap`, plus the
//! typed helpers the allocator and thread stacks use.

use core::ffi::{c_int, c_void};

use crate::errno::{Errno, ret_zero, set_errno};
use crate::syscall::{nr, result, syscall2, syscall3, syscall5, syscall6};

/// `PROT_*`, `MAP_*` (asm-generic/mman-common.h, x86 mman.h).
pub const PROT_NONE: usize = 0;
/// Readable.
pub const PROT_READ: usize = 1;
/// Writable.
pub const PROT_WRITE: usize = 2;
/// Private copy-on-write mapping.
pub const MAP_PRIVATE: usize = 0x02;
/// Not backed by a file.
pub const MAP_ANONYMOUS: usize = 0x20;
/// Hint that the mapping is a stack.
pub const MAP_STACK: usize = 0x20000;
const MREMAP_MAYMOVE: usize = 1;
const MAP_FAILED: *mut c_void = usize::MAX as *mut c_void;

/// Maps `len` bytes of fresh zeroed read/write memory.
pub fn map_anonymous(len: usize) -> Result<*mut u8, Errno> {
    map_anonymous_with(len, 0)
}

/// Like [`map_anonymous`] with extra `MAP_*` flags.
pub fn map_anonymous_with(len: usize, flags: usize) -> Result<*mut u8, Errno> {
    // SAFETY: an anonymous mapping at a kernel-chosen address aliases nothing.
    let r = unsafe {
        syscall6(
            nr::MMAP,
            0,
            len,
            PROT_READ | PROT_WRITE,
            MAP_PRIVATE | MAP_ANONYMOUS | flags,
            usize::MAX,
            0,
        )
    };
    result(r).map(|p| p as *mut u8)
}

/// Grows or shrinks a mapping (`mremap`).
pub fn remap(p: *mut u8, old: usize, new: usize, can_move: bool) -> Result<*mut u8, Errno> {
    let flags = if can_move { MREMAP_MAYMOVE } else { 0 };
    // SAFETY: used only on mappings the caller owns (the allocator's segments).
    result(unsafe { syscall5(nr::MREMAP, p as usize, old, new, flags, 0) }).map(|q| q as *mut u8)
}

/// Unmaps `[p, p+len)`.
pub fn unmap(p: *mut u8, len: usize) -> Result<(), Errno> {
    // SAFETY: used only on mappings the caller owns and no longer references.
    result(unsafe { syscall2(nr::MUNMAP, p as usize, len) }).map(|_| ())
}

/// Changes the protection of `[p, p+len)`.
pub fn protect(p: *mut u8, len: usize, prot: usize) -> Result<(), Errno> {
    // SAFETY: used only on mappings the caller owns.
    result(unsafe { syscall3(nr::MPROTECT, p as usize, len, prot) }).map(|_| ())
}

/// `mmap(2)`.
///
/// # Safety
/// A fixed or file mapping may replace memory others use; the caller owns that.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // SAFETY: per the caller. Flags and fd are C ints the kernel reads as such.
    let r = unsafe {
        syscall6(
            nr::MMAP,
            addr as usize,
            len,
            prot as usize,
            flags as usize,
            fd as usize,
            off as usize,
        )
    };
    match result(r) {
        Ok(p) => p as *mut c_void,
        Err(e) => {
            set_errno(e);
            MAP_FAILED
        }
    }
}

/// `mmap64(2)`: the same as `mmap` on 64-bit.
///
/// # Safety
/// As for [`mmap`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mmap64(
    addr: *mut c_void,
    len: usize,
    prot: c_int,
    flags: c_int,
    fd: c_int,
    off: i64,
) -> *mut c_void {
    // SAFETY: per the caller.
    unsafe { mmap(addr, len, prot, flags, fd, off) }
}

/// `munmap(2)`.
///
/// # Safety
/// The range must not be in use.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn munmap(addr: *mut c_void, len: usize) -> c_int {
    ret_zero(unmap(addr.cast(), len).map(|_| 0))
}

/// `mprotect(2)`.
///
/// # Safety
/// Removing access from memory in use faults its users.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mprotect(addr: *mut c_void, len: usize, prot: c_int) -> c_int {
    ret_zero(protect(addr.cast(), len, prot as usize).map(|_| 0))
}

/// `madvise(2)`.
///
/// # Safety
/// `MADV_DONTNEED` and friends discard contents; the caller owns the range.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn madvise(addr: *mut c_void, len: usize, advice: c_int) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::MADVISE, addr as usize, len, advice as usize)
    }))
}

/// `mremap(2)`, non-variadic: the fifth argument is read only with `MREMAP_FIXED`.
///
/// # Safety
/// The caller owns the old mapping (and the target range with `MREMAP_FIXED`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mremap(
    old: *mut c_void,
    old_len: usize,
    new_len: usize,
    flags: c_int,
    new_addr: *mut c_void,
) -> *mut c_void {
    // SAFETY: per the caller.
    let r = unsafe {
        syscall5(
            nr::MREMAP,
            old as usize,
            old_len,
            new_len,
            flags as usize,
            new_addr as usize,
        )
    };
    match result(r) {
        Ok(p) => p as *mut c_void,
        Err(e) => {
            set_errno(e);
            MAP_FAILED
        }
    }
}
