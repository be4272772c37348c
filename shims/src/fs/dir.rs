//! Directory streams: `opendir`, `fdopendir`, `readdir64`, `closedir`, `dirfd`.
//!
//! The kernel's `linux_dirent64` (from `getdents64`) has exactly the layout of
//! glibc's `struct dirent64`, so `readdir64` returns pointers straight into the
//! stream's buffer, valid until the next call on the same stream (as POSIX says).

use core::ffi::{c_char, c_int, c_void};

use super::fd::{AT_FDCWD, arg, close, openat};
use crate::errno::{Errno, set_errno};
use crate::malloc;
use crate::syscall::{nr, result, syscall3};

const BUF_LEN: usize = 32 * 1024;
const O_RDONLY_DIRECTORY_CLOEXEC: c_int = 0o200000 | 0o2000000;
const F_GETFL: c_int = 3;
const O_PATH: c_int = 0o10000000;
const O_ACCMODE: c_int = 3;

/// `DIR`: the descriptor and a buffer of raw `getdents64` records.
#[repr(C)]
#[derive(Debug)]
pub struct Dir {
    fd: c_int,
    pos: usize,
    len: usize,
    buf: [u8; BUF_LEN],
}

/// `fdopendir(3)`: takes ownership of `fd` on success.
#[unsafe(no_mangle)]
pub extern "C" fn fdopendir(fd: c_int) -> *mut Dir {
    // POSIX: EBADF unless `fd` is open for reading (an O_PATH descriptor is not).
    // SAFETY: F_GETFL takes no pointer argument.
    let fl = unsafe { super::fd::fcntl(fd, F_GETFL, 0) };
    if fl < 0 {
        return core::ptr::null_mut();
    }
    if fl & O_PATH != 0 || fl & O_ACCMODE == 1 {
        set_errno(Errno::EBADF);
        return core::ptr::null_mut();
    }
    let d = malloc::malloc(size_of::<Dir>()).cast::<Dir>();
    if !d.is_null() {
        // SAFETY: a fresh allocation of a whole Dir; the buffer needs no init.
        unsafe {
            (&raw mut (*d).fd).write(fd);
            (&raw mut (*d).pos).write(0);
            (&raw mut (*d).len).write(0);
        }
    }
    d
}

/// `opendir(3)`.
///
/// # Safety
/// `path` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn opendir(path: *const c_char) -> *mut Dir {
    // SAFETY: per the caller.
    let fd = unsafe { openat(AT_FDCWD, path, O_RDONLY_DIRECTORY_CLOEXEC, 0) };
    if fd < 0 {
        return core::ptr::null_mut();
    }
    let d = fdopendir(fd);
    if d.is_null() {
        close(fd);
    }
    d
}

/// `readdir64(3)`: the next entry, or NULL at the end (errno untouched) or on
/// error (errno set).
///
/// # Safety
/// `d` must come from `opendir`/`fdopendir` and not be closed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir64(d: *mut Dir) -> *mut c_void {
    // SAFETY: per the caller, `d` is a live stream owned by the caller's thread.
    let d = unsafe { &mut *d };
    if d.pos >= d.len {
        // SAFETY: the buffer is writable for BUF_LEN bytes.
        let r = unsafe {
            syscall3(
                nr::GETDENTS64,
                arg(d.fd),
                d.buf.as_mut_ptr() as usize,
                BUF_LEN,
            )
        };
        match result(r) {
            Ok(0) => return core::ptr::null_mut(),
            Ok(n) => {
                d.pos = 0;
                d.len = n;
            }
            Err(e) => {
                set_errno(e);
                return core::ptr::null_mut();
            }
        }
    }
    let ent = d.buf[d.pos..].as_mut_ptr();
    // d_reclen is the u16 at offset 16 of linux_dirent64.
    let reclen = u16::from_ne_bytes([d.buf[d.pos + 16], d.buf[d.pos + 17]]);
    d.pos += usize::from(reclen);
    ent.cast()
}

/// `readdir(3)`: the same as `readdir64` on 64-bit.
///
/// # Safety
/// As for [`readdir64`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readdir(d: *mut Dir) -> *mut c_void {
    // SAFETY: per the caller.
    unsafe { readdir64(d) }
}

/// `closedir(3)`.
///
/// # Safety
/// `d` must come from `opendir`/`fdopendir`; it is freed.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn closedir(d: *mut Dir) -> c_int {
    // SAFETY: per the caller.
    let fd = unsafe { (*d).fd };
    // SAFETY: `d` was allocated by fdopendir with malloc.
    unsafe { malloc::free(d.cast()) };
    close(fd)
}

/// `dirfd(3)`.
///
/// # Safety
/// `d` must be a live stream.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dirfd(d: *mut Dir) -> c_int {
    // SAFETY: per the caller.
    unsafe { (*d).fd }
}
