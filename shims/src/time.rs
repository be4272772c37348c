//! Clocks and sleeping: `clock_gettime`, `clock_getres`, `nanosleep`,
//! `clock_nanosleep`, `gettimeofday`, `time`, and the real-time interval timer:
//! `alarm`, `getitimer`, `setitimer`.
//!
//! `clock_gettime` reads the clock without a system call where it can
//! ([`crate::vdso`]): through Linux's vDSO in hosted builds, as glibc does, and through
//! the kernel's clock read in the unikernel; other clocks (CPU time) take the syscall,
//! which the pass turns into a direct call of the kernel in the unikernel.

use core::ffi::{c_int, c_void};

use crate::errno::ret_zero;
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall1, syscall2, syscall3, syscall4};

/// `clock_gettime(2)`.
///
/// # Safety
/// `ts` writable for a `struct timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_gettime(clock: c_int, ts: *mut c_void) -> c_int {
    if let Some(now) = crate::vdso::unikernel_clock() {
        let mut ns = 0u64;
        // SAFETY: the kernel's clock read only reads the clock and writes `ns`.
        if unsafe { now(clock, &mut ns) } {
            let secs = (ns / 1_000_000_000) as i64;
            let nsecs = (ns % 1_000_000_000) as i64;
            // SAFETY: per the caller, `ts` is writable for a `struct timespec`
            // (`tv_sec`, `tv_nsec`: two `i64` on x86-64).
            unsafe { ts.cast::<[i64; 2]>().write([secs, nsecs]) };
            return 0;
        }
    }
    if let Some(vdso) = crate::vdso::clock_gettime() {
        // SAFETY: per the caller; the vDSO's function returns 0 or a negative errno.
        let r = unsafe { vdso(clock, ts) };
        return ret_zero(result(r as isize as usize));
    }
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::CLOCK_GETTIME, arg(clock), ts as usize)
    }))
}

/// `clock_getres(2)`.
///
/// # Safety
/// `ts` null or writable for a `struct timespec`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_getres(clock: c_int, ts: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::CLOCK_GETRES, arg(clock), ts as usize)
    }))
}

/// `nanosleep(2)`.
///
/// # Safety
/// `req` readable, `rem` null or writable (`struct timespec`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn nanosleep(req: *const c_void, rem: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::NANOSLEEP, req as usize, rem as usize)
    }))
}

/// `clock_nanosleep(2)`: returns the error number (errno untouched), per POSIX.
///
/// # Safety
/// `req` readable, `rem` null or writable (`struct timespec`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn clock_nanosleep(
    clock: c_int,
    flags: c_int,
    req: *const c_void,
    rem: *mut c_void,
) -> c_int {
    // SAFETY: per the caller.
    let r = unsafe {
        syscall4(
            nr::CLOCK_NANOSLEEP,
            arg(clock),
            arg(flags),
            req as usize,
            rem as usize,
        )
    };
    match result(r) {
        Ok(_) => 0,
        Err(e) => e.0,
    }
}

/// `gettimeofday(2)`.
///
/// # Safety
/// `tv` null or writable for a `struct timeval`; `tz` null or a `struct timezone`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn gettimeofday(tv: *mut c_void, tz: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::GETTIMEOFDAY, tv as usize, tz as usize)
    }))
}

/// `time(2)`.
///
/// # Safety
/// `t` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn time(t: *mut i64) -> i64 {
    // SAFETY: per the caller.
    let r = unsafe { syscall1(nr::TIME, t as usize) };
    // time(2) cannot fail with a valid pointer; the value is the seconds.
    r as i64
}

/// `getitimer(2)`.
///
/// # Safety
/// `value` writable for a `struct itimerval`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getitimer(which: c_int, value: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::GETITIMER, arg(which), value as usize)
    }))
}

/// `setitimer(2)`.
///
/// # Safety
/// `new` readable, `old` null or writable (`struct itimerval`).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setitimer(which: c_int, new: *const c_void, old: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::SETITIMER, arg(which), new as usize, old as usize)
    }))
}

/// `alarm(2)`: the seconds left of the previous alarm (it cannot fail).
#[unsafe(no_mangle)]
pub extern "C" fn alarm(seconds: u32) -> u32 {
    // SAFETY: alarm touches no memory of ours.
    let left = unsafe { syscall1(nr::ALARM, seconds as usize) };
    u32::try_from(left).unwrap_or(0)
}
