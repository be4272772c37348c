//! Path operations: unlink, rmdir, rename, mkdir, links, readlink, chdir, getcwd,
//! chmod, access.

use core::ffi::{c_char, c_int, c_uint};

use super::fd::{AT_FDCWD, arg};
use crate::errno::{Errno, ret_isize, ret_zero, set_errno};
use crate::syscall::{nr, result, syscall1, syscall2, syscall3, syscall4, syscall5};

const AT_REMOVEDIR: c_int = 0x200;

/// `unlinkat(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn unlinkat(dirfd: c_int, path: *const c_char, flags: c_int) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::UNLINKAT, arg(dirfd), path as usize, arg(flags))
    }))
}

/// `unlink(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn unlink(path: *const c_char) -> c_int {
    // SAFETY: per the caller.
    unsafe { unlinkat(AT_FDCWD, path, 0) }
}

/// `rmdir(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rmdir(path: *const c_char) -> c_int {
    // SAFETY: per the caller.
    unsafe { unlinkat(AT_FDCWD, path, AT_REMOVEDIR) }
}

/// `renameat(2)`.
///
/// # Safety
/// Both paths NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn renameat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall4(
            nr::RENAMEAT,
            arg(olddir),
            old as usize,
            arg(newdir),
            new as usize,
        )
    }))
}

/// `renameat2(2)`.
///
/// # Safety
/// Both paths NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn renameat2(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_uint,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall5(
            nr::RENAMEAT2,
            arg(olddir),
            old as usize,
            arg(newdir),
            new as usize,
            flags as usize,
        )
    }))
}

/// `rename(2)`.
///
/// # Safety
/// Both paths NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn rename(old: *const c_char, new: *const c_char) -> c_int {
    // SAFETY: per the caller.
    unsafe { renameat(AT_FDCWD, old, AT_FDCWD, new) }
}

/// `mkdirat(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mkdirat(dirfd: c_int, path: *const c_char, mode: c_uint) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::MKDIRAT, arg(dirfd), path as usize, mode as usize)
    }))
}

/// `mkdir(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn mkdir(path: *const c_char, mode: c_uint) -> c_int {
    // SAFETY: per the caller.
    unsafe { mkdirat(AT_FDCWD, path, mode) }
}

/// `symlink(2)`.
///
/// # Safety
/// Both strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn symlink(target: *const c_char, path: *const c_char) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::SYMLINKAT, target as usize, arg(AT_FDCWD), path as usize)
    }))
}

/// `linkat(2)`.
///
/// # Safety
/// Both paths NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn linkat(
    olddir: c_int,
    old: *const c_char,
    newdir: c_int,
    new: *const c_char,
    flags: c_int,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall5(
            nr::LINKAT,
            arg(olddir),
            old as usize,
            arg(newdir),
            new as usize,
            arg(flags),
        )
    }))
}

/// `link(2)`.
///
/// # Safety
/// Both paths NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn link(old: *const c_char, new: *const c_char) -> c_int {
    // SAFETY: per the caller.
    unsafe { linkat(AT_FDCWD, old, AT_FDCWD, new, 0) }
}

/// `readlinkat(2)`.
///
/// # Safety
/// `path` NUL-terminated; `buf` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readlinkat(
    dirfd: c_int,
    path: *const c_char,
    buf: *mut c_char,
    len: usize,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall4(nr::READLINKAT, arg(dirfd), path as usize, buf as usize, len)
    }))
}

/// `readlink(2)`.
///
/// # Safety
/// As for [`readlinkat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readlink(path: *const c_char, buf: *mut c_char, len: usize) -> isize {
    // SAFETY: per the caller.
    unsafe { readlinkat(AT_FDCWD, path, buf, len) }
}

/// `chdir(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chdir(path: *const c_char) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe { syscall1(nr::CHDIR, path as usize) }))
}

/// `fchdir(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn fchdir(fd: c_int) -> c_int {
    // SAFETY: fchdir touches no memory of ours.
    ret_zero(result(unsafe { syscall1(nr::FCHDIR, arg(fd)) }))
}

/// `getcwd(3)`: with a NULL `buf`, allocates (`size` bytes, or as many as needed
/// when `size` is 0), as glibc does.
///
/// # Safety
/// `buf` null or writable for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getcwd(buf: *mut c_char, size: usize) -> *mut c_char {
    let (target, len) = if buf.is_null() {
        let len = if size == 0 { 4096 } else { size };
        let p = crate::malloc::malloc(len).cast::<c_char>();
        if p.is_null() {
            return p;
        }
        (p, len)
    } else {
        if size == 0 {
            set_errno(Errno::EINVAL);
            return core::ptr::null_mut();
        }
        (buf, size)
    };
    // SAFETY: `target` is writable for `len` bytes.
    match result(unsafe { syscall2(nr::GETCWD, target as usize, len) }) {
        // Linux prefixes unreachable working directories with "(unreachable)".
        // SAFETY: the kernel wrote a NUL-terminated path of at least one byte.
        Ok(_) if unsafe { *target } != b'/' as c_char => fail_getcwd(buf, target, Errno::ENOENT),
        Ok(_) => target,
        Err(e) => fail_getcwd(buf, target, e),
    }
}

fn fail_getcwd(buf: *mut c_char, target: *mut c_char, e: Errno) -> *mut c_char {
    if buf.is_null() {
        // SAFETY: `target` was allocated by getcwd above.
        unsafe { crate::malloc::free(target.cast()) };
    }
    set_errno(e);
    core::ptr::null_mut()
}

/// `chmod(2)` (through `fchmodat`).
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chmod(path: *const c_char, mode: c_uint) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::FCHMODAT, arg(AT_FDCWD), path as usize, mode as usize)
    }))
}

/// `access(2)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn access(path: *const c_char, mode: c_int) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::FACCESSAT, arg(AT_FDCWD), path as usize, arg(mode))
    }))
}
