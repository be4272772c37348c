//! Clocks and sleeping: `clock_gettime`, `clock_getres`, `nanosleep`,
//! `clock_nanosleep`. Sleeping blocks the thread until its deadline (`crate::sched`)
//! or a signal for it (`EINTR` and the time left, as Linux).

use super::{SysResult, SyscallArgs, UserAddr, read_timespec, timespec_ns, write_timespec};
use crate::errno::Errno;
use crate::sched::{self, Wake};
use crate::time;

/// Clock ids (`include/uapi/linux/time.h`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClockId {
    Realtime,
    Monotonic,
    ProcessCputime,
    ThreadCputime,
    MonotonicRaw,
    RealtimeCoarse,
    MonotonicCoarse,
    Boottime,
}

impl TryFrom<i32> for ClockId {
    type Error = Errno;

    fn try_from(id: i32) -> Result<Self, Errno> {
        Ok(match id {
            0 => ClockId::Realtime,
            1 => ClockId::Monotonic,
            2 => ClockId::ProcessCputime,
            3 => ClockId::ThreadCputime,
            4 => ClockId::MonotonicRaw,
            5 => ClockId::RealtimeCoarse,
            6 => ClockId::MonotonicCoarse,
            7 => ClockId::Boottime,
            _ => return Err(Errno::EINVAL),
        })
    }
}

impl ClockId {
    fn now_ns(self) -> u64 {
        match self {
            ClockId::Realtime | ClockId::RealtimeCoarse => time::realtime_ns(),
            // One CPU that never idles: CPU time is time since boot.
            ClockId::Monotonic
            | ClockId::MonotonicRaw
            | ClockId::MonotonicCoarse
            | ClockId::Boottime
            | ClockId::ProcessCputime
            | ClockId::ThreadCputime => time::monotonic_ns(),
        }
    }
}

/// `clock_gettime(clockid, tp)`.
pub fn clock_gettime(args: SyscallArgs) -> SysResult {
    let clock = ClockId::try_from(args.get::<i32>(0)?)?;
    let tp: UserAddr = args.get(1)?;
    write_timespec(tp, clock.now_ns())?;
    Ok(0)
}

/// `clock_getres(clockid, res)`: 1 ns, as Linux reports for high-resolution clocks.
pub fn clock_getres(args: SyscallArgs) -> SysResult {
    ClockId::try_from(args.get::<i32>(0)?)?;
    let res: UserAddr = args.get(1)?;
    if !res.is_null() {
        write_timespec(res, 1)?;
    }
    Ok(0)
}

/// Sleeps until `deadline` (`CLOCK_MONOTONIC` ns). A signal ends the sleep with
/// `EINTR` (never restarted, even with `SA_RESTART`: signal(7)), and a relative sleep
/// writes the time left to `rem` unless it is NULL.
fn sleep(deadline: u64, rem: Option<UserAddr>) -> SysResult {
    match sched::sleep_until(deadline) {
        Wake::Interrupted => {
            if let Some(rem) = rem.filter(|rem| !rem.is_null()) {
                write_timespec(rem, deadline.saturating_sub(time::monotonic_ns()))?;
            }
            Err(Errno::EINTR)
        }
        Wake::Woken | Wake::TimedOut => Ok(0),
    }
}

/// `nanosleep(req, rem)`.
pub fn nanosleep(args: SyscallArgs) -> SysResult {
    let duration = timespec_ns(read_timespec(args.get(0)?)?);
    sleep(
        time::monotonic_ns().saturating_add(duration),
        Some(args.get(1)?),
    )
}

const TIMER_ABSTIME: u32 = 1;

/// `clock_nanosleep(clockid, flags, req, rem)`.
pub fn clock_nanosleep(args: SyscallArgs) -> SysResult {
    let clock = ClockId::try_from(args.get::<i32>(0)?)?;
    let flags: u32 = args.get(1)?;
    let request = timespec_ns(read_timespec(args.get(2)?)?);
    if matches!(clock, ClockId::ThreadCputime) {
        return Err(Errno::EINVAL);
    }
    let deadline = if flags & TIMER_ABSTIME == 0 {
        time::monotonic_ns().saturating_add(request)
    } else if matches!(clock, ClockId::Realtime | ClockId::RealtimeCoarse) {
        time::realtime_to_monotonic(request)
    } else {
        // Every other clock counts from boot like CLOCK_MONOTONIC (`now_ns`).
        request
    };
    let rem = (flags & TIMER_ABSTIME == 0)
        .then(|| args.get(3))
        .transpose()?;
    sleep(deadline, rem)
}

/// `gettimeofday(tv, tz)`: `struct timeval { i64 tv_sec; i64 tv_usec; }`; the time
/// zone is always UTC (zeroes).
pub fn gettimeofday(args: SyscallArgs) -> SysResult {
    let tv: UserAddr = args.get(0)?;
    let tz: UserAddr = args.get(1)?;
    if !tv.is_null() {
        let ns = time::realtime_ns();
        let mut bytes = [0u8; 16];
        bytes[..8].copy_from_slice(&(ns / 1_000_000_000).to_ne_bytes());
        bytes[8..].copy_from_slice(&(ns % 1_000_000_000 / 1000).to_ne_bytes());
        unikernel_hal::uaccess::copy_to(tv.0, &bytes)?;
    }
    if !tz.is_null() {
        unikernel_hal::uaccess::copy_to(tz.0, &[0u8; 8])?;
    }
    Ok(0)
}

/// `time(tloc)`: seconds since the epoch.
pub fn time(args: SyscallArgs) -> SysResult {
    let tloc: UserAddr = args.get(0)?;
    let seconds = time::realtime_ns() / 1_000_000_000;
    if !tloc.is_null() {
        unikernel_hal::uaccess::copy_to(tloc.0, &seconds.to_ne_bytes())?;
    }
    usize::try_from(seconds).map_err(|_| Errno::EOVERFLOW)
}
