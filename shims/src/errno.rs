//! `errno`: the error type used inside the shim and the C `errno` at the ABI edge.
//!
//! Inside the shim, system calls return `Result<_, Errno>`; only the exported C
//! functions turn an `Err` into "set errno, return -1" (or return the error number
//! directly where POSIX says so, e.g. `pthread_*`, `clock_nanosleep`). The C
//! `errno` lives in the calling thread's control block (`tcb::Tcb`), so
//! `__errno_location` needs no `#[thread_local]`.

use core::ffi::c_int;

use crate::tcb;

/// A Linux error number (`Errno(pub i32)` with `Errno::ENOENT` & co.), from the ABI
/// crate, which also holds each number's name and glibc's message (`strerror.rs`).
pub use unikernel_abi::Errno;

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
