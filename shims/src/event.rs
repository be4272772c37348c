//! Readiness notification: `epoll_*` and `eventfd` (what mio/tokio use).

use core::ffi::{c_int, c_uint, c_void};

use crate::errno::{ret_int, ret_zero};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall1, syscall2, syscall4};

/// `epoll_create1(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn epoll_create1(flags: c_int) -> c_int {
    // SAFETY: epoll_create1 touches no memory of ours.
    ret_int(result(unsafe { syscall1(nr::EPOLL_CREATE1, arg(flags)) }))
}

/// `epoll_ctl(2)`.
///
/// # Safety
/// `event` null (for EPOLL_CTL_DEL) or a valid `struct epoll_event`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_ctl(epfd: c_int, op: c_int, fd: c_int, event: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall4(nr::EPOLL_CTL, arg(epfd), arg(op), arg(fd), event as usize)
    }))
}

/// `epoll_wait(2)`.
///
/// # Safety
/// `events` writable for `max` `struct epoll_event`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_wait(
    epfd: c_int,
    events: *mut c_void,
    max: c_int,
    timeout: c_int,
) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall4(
            nr::EPOLL_WAIT,
            arg(epfd),
            events as usize,
            arg(max),
            arg(timeout),
        )
    }))
}

/// `eventfd(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn eventfd(initval: c_uint, flags: c_int) -> c_int {
    // SAFETY: eventfd2 touches no memory of ours.
    ret_int(result(unsafe {
        syscall2(nr::EVENTFD2, initval as usize, arg(flags))
    }))
}
