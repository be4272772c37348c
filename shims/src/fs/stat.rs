//! File status: `stat`, `lstat`, `fstat`, `fstatat` (and their `64` names, the
//! same functions on x86_64, where glibc's `struct stat64` is the kernel's
//! `struct stat`), and `statx`. All go through `newfstatat`/`statx`, so a kernel
//! needs only those two.

use core::ffi::{c_char, c_int, c_uint, c_void};

use super::fd::{AT_FDCWD, arg};
use crate::errno::ret_zero;
use crate::syscall::{nr, result, syscall4, syscall5};

const AT_SYMLINK_NOFOLLOW: c_int = 0x100;
const AT_EMPTY_PATH: c_int = 0x1000;

/// `fstatat64(2)`.
///
/// # Safety
/// `path` NUL-terminated; `buf` writable for a `struct stat` (144 bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fstatat64(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_void,
    flags: c_int,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall4(
            nr::NEWFSTATAT,
            arg(dirfd),
            path as usize,
            buf as usize,
            arg(flags),
        )
    }))
}

/// `fstatat(2)`.
///
/// # Safety
/// As for [`fstatat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fstatat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_void,
    flags: c_int,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstatat64(dirfd, path, buf, flags) }
}

/// `stat64(2)`.
///
/// # Safety
/// As for [`fstatat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stat64(path: *const c_char, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstatat64(AT_FDCWD, path, buf, 0) }
}

/// `stat(2)`.
///
/// # Safety
/// As for [`fstatat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn stat(path: *const c_char, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstatat64(AT_FDCWD, path, buf, 0) }
}

/// `lstat64(2)`.
///
/// # Safety
/// As for [`fstatat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lstat64(path: *const c_char, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstatat64(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW) }
}

/// `lstat(2)`.
///
/// # Safety
/// As for [`fstatat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lstat(path: *const c_char, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstatat64(AT_FDCWD, path, buf, AT_SYMLINK_NOFOLLOW) }
}

/// `fstat64(2)`.
///
/// # Safety
/// `buf` writable for a `struct stat`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fstat64(fd: c_int, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller; the empty path is a static NUL.
    unsafe { fstatat64(fd, c"".as_ptr(), buf, AT_EMPTY_PATH) }
}

/// `fstat(2)`.
///
/// # Safety
/// As for [`fstat64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fstat(fd: c_int, buf: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    unsafe { fstat64(fd, buf) }
}

/// `statx(2)`.
///
/// # Safety
/// `path` NUL-terminated; `buf` writable for a `struct statx` (256 bytes).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn statx(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mask: c_uint,
    buf: *mut c_void,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall5(
            nr::STATX,
            arg(dirfd),
            path as usize,
            arg(flags),
            mask as usize,
            buf as usize,
        )
    }))
}
