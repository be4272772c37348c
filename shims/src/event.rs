//! Readiness notification: `epoll_*`, `eventfd` (what mio/tokio use) and `ppoll`
//! (`poll` itself is with the descriptor calls).

use core::ffi::{c_int, c_uint, c_ulong, c_void};

use crate::errno::{ret_int, ret_zero};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall1, syscall2, syscall3, syscall4, syscall5, syscall6};

/// The kernel's `sigset_t` size (`_NSIG / 8`), which the signal-mask variants pass.
const SIGSET_SIZE: usize = 8;

/// `epoll_create1(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn epoll_create1(flags: c_int) -> c_int {
    // SAFETY: epoll_create1 touches no memory of ours.
    ret_int(result(unsafe { syscall1(nr::EPOLL_CREATE1, arg(flags)) }))
}

/// `epoll_create(2)`: `size` must be positive and is otherwise ignored.
#[unsafe(no_mangle)]
pub extern "C" fn epoll_create(size: c_int) -> c_int {
    // SAFETY: epoll_create touches no memory of ours.
    ret_int(result(unsafe { syscall1(nr::EPOLL_CREATE, arg(size)) }))
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

/// `epoll_pwait(2)`.
///
/// # Safety
/// `events` writable for `max` `struct epoll_event`s; `sigmask` null or a valid
/// `sigset_t`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_pwait(
    epfd: c_int,
    events: *mut c_void,
    max: c_int,
    timeout: c_int,
    sigmask: *const c_void,
) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall6(
            nr::EPOLL_PWAIT,
            arg(epfd),
            events as usize,
            arg(max),
            arg(timeout),
            sigmask as usize,
            SIGSET_SIZE,
        )
    }))
}

/// `epoll_pwait2(2)`: the timeout is a `struct timespec` (null: forever).
///
/// # Safety
/// `events` writable for `max` `struct epoll_event`s; `timeout` and `sigmask` null
/// or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn epoll_pwait2(
    epfd: c_int,
    events: *mut c_void,
    max: c_int,
    timeout: *const c_void,
    sigmask: *const c_void,
) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall6(
            nr::EPOLL_PWAIT2,
            arg(epfd),
            events as usize,
            arg(max),
            timeout as usize,
            sigmask as usize,
            SIGSET_SIZE,
        )
    }))
}

/// `ppoll(2)`. The system call writes the time left back to its timeout argument;
/// like glibc, the wrapper hands it a copy, so the caller's `*timeout` is unchanged.
///
/// # Safety
/// `fds` must hold `n` pollfd structs; `timeout` and `sigmask` null or valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ppoll(
    fds: *mut c_void,
    n: c_ulong,
    timeout: *const [i64; 2],
    sigmask: *const c_void,
) -> c_int {
    // SAFETY: per the caller, `timeout` is null or a valid timespec.
    let mut copy = (!timeout.is_null()).then(|| unsafe { *timeout });
    let timeout = copy.as_mut().map_or(0, |t| t as *mut [i64; 2] as usize);
    // SAFETY: per the caller; `timeout` is null or our own copy.
    ret_int(result(unsafe {
        syscall5(
            nr::PPOLL,
            fds as usize,
            n as usize,
            timeout,
            sigmask as usize,
            SIGSET_SIZE,
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

/// `eventfd_read(3)`: reads the counter into `*value`; 0 or -1.
///
/// # Safety
/// `value` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn eventfd_read(fd: c_int, value: *mut u64) -> c_int {
    // SAFETY: per the caller, `value` holds 8 writable bytes.
    let r = result(unsafe { syscall3(nr::READ, arg(fd), value as usize, 8) });
    ret_zero(r)
}

/// `eventfd_write(3)`: adds `value` to the counter; 0 or -1.
#[unsafe(no_mangle)]
pub extern "C" fn eventfd_write(fd: c_int, value: u64) -> c_int {
    // SAFETY: the kernel reads the 8 bytes of `value`, which live across the call.
    let r = result(unsafe { syscall3(nr::WRITE, arg(fd), &value as *const u64 as usize, 8) });
    ret_zero(r)
}
