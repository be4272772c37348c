//! `errno`: the error type used inside the shim and the C `errno` at the ABI edge.
//!
//! Inside the shim, system calls return `Result<_, Errno>`; only the exported C
//! functions turn an `Err` into "set errno, return -1" (or return the error number
//! directly where POSIX says so, e.g. `pthread_*`, `clock_nanosleep`). The C
//! `errno` lives in the calling thread's control block (`tcb::Tcb`), so
//! `__errno_location` needs no `#[thread_local]`.

use core::ffi::c_int;

use crate::tcb;

/// A Linux error number (asm-generic/errno-base.h, asm-generic/errno.h).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Errno(pub i32);

#[allow(missing_docs)]
impl Errno {
    pub const EPERM: Errno = Errno(1);
    pub const ENOENT: Errno = Errno(2);
    pub const ESRCH: Errno = Errno(3);
    pub const EINTR: Errno = Errno(4);
    pub const EIO: Errno = Errno(5);
    pub const EBADF: Errno = Errno(9);
    pub const EAGAIN: Errno = Errno(11);
    pub const ENOMEM: Errno = Errno(12);
    pub const EACCES: Errno = Errno(13);
    pub const EFAULT: Errno = Errno(14);
    pub const EBUSY: Errno = Errno(16);
    pub const EEXIST: Errno = Errno(17);
    pub const ENOTDIR: Errno = Errno(20);
    pub const EINVAL: Errno = Errno(22);
    pub const ENOTTY: Errno = Errno(25);
    pub const ERANGE: Errno = Errno(34);
    pub const EDEADLK: Errno = Errno(35);
    pub const ENAMETOOLONG: Errno = Errno(36);
    pub const ENOSYS: Errno = Errno(38);
    pub const ELOOP: Errno = Errno(40);
    pub const EOVERFLOW: Errno = Errno(75);
    pub const ETIMEDOUT: Errno = Errno(110);
}

/// Stores `e` in the calling thread's `errno`.
#[inline]
pub fn set_errno(e: Errno) {
    // SAFETY: `__errno_location` returns a valid pointer into the current thread's
    // control block, which only this thread writes.
    unsafe { *__errno_location() = e.0 };
}

/// ABI edge for calls returning `int`: `Ok(v)` -> `v`, `Err(e)` -> errno = e, -1.
#[inline]
pub fn ret_int(r: Result<usize, Errno>) -> c_int {
    match r.and_then(|v| c_int::try_from(v).map_err(|_| Errno::EOVERFLOW)) {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// ABI edge for calls returning `ssize_t` (or `off64_t`, `long`).
#[inline]
pub fn ret_isize(r: Result<usize, Errno>) -> isize {
    match r.and_then(|v| isize::try_from(v).map_err(|_| Errno::EOVERFLOW)) {
        Ok(v) => v,
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// ABI edge for calls returning `int` that is 0 on success.
#[inline]
pub fn ret_zero(r: Result<usize, Errno>) -> c_int {
    ret_int(r.map(|_| 0))
}

/// Returns the address of the calling thread's `errno`.
#[unsafe(no_mangle)]
pub extern "C" fn __errno_location() -> *mut c_int {
    // The control block outlives every call made on its thread.
    tcb::current_errno_ptr()
}
