//! In-kernel copies std's `fs::copy` and `io::copy` use: `copy_file_range`,
//! `sendfile`, `splice`.

use core::ffi::{c_int, c_uint};

use super::fd::arg;
use crate::errno::ret_isize;
use crate::syscall::{nr, result, syscall4, syscall6};

/// `copy_file_range(2)`.
///
/// # Safety
/// `off_in`/`off_out` null or valid `off64_t` pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn copy_file_range(
    fd_in: c_int,
    off_in: *mut i64,
    fd_out: c_int,
    off_out: *mut i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall6(
            nr::COPY_FILE_RANGE,
            arg(fd_in),
            off_in as usize,
            arg(fd_out),
            off_out as usize,
            len,
            flags as usize,
        )
    }))
}

/// `sendfile64(2)`.
///
/// # Safety
/// `offset` null or a valid `off64_t` pointer.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile64(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: usize,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall4(
            nr::SENDFILE,
            arg(out_fd),
            arg(in_fd),
            offset as usize,
            count,
        )
    }))
}

/// `sendfile(2)`: off_t is 64-bit on x86_64.
///
/// # Safety
/// As for [`sendfile64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendfile(
    out_fd: c_int,
    in_fd: c_int,
    offset: *mut i64,
    count: usize,
) -> isize {
    // SAFETY: per the caller.
    unsafe { sendfile64(out_fd, in_fd, offset, count) }
}

/// `splice(2)`.
///
/// # Safety
/// `off_in`/`off_out` null or valid `off64_t` pointers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn splice(
    fd_in: c_int,
    off_in: *mut i64,
    fd_out: c_int,
    off_out: *mut i64,
    len: usize,
    flags: c_uint,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall6(
            nr::SPLICE,
            arg(fd_in),
            off_in as usize,
            arg(fd_out),
            off_out as usize,
            len,
            flags as usize,
        )
    }))
}
