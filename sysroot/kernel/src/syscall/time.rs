//! Clocks, sleeping and the real-time timer: `clock_gettime`, `clock_getres`,
//! `nanosleep`, `clock_nanosleep`, `alarm`, `getitimer`, `setitimer`. Sleeping
//! blocks the thread until its deadline (`crate::sched`) or a signal for it (`EINTR`
//! and the time left, as Linux). The timer (`ITIMER_REAL`) is the scheduler's alarm,
//! which sends SIGALRM when it expires.

use super::{SysResult, SyscallArgs, UserAddr, read_timespec, timespec_ns, write_timespec};
use crate::errno::Errno;
use crate::sched::{self, Alarm, Wake};
use crate::time;

/// Clock ids (`include/uapi/linux/time.h`), and the CPU-time clocks of a process or
/// thread that `clock_getcpuclockid`/`pthread_getcpuclockid` form (negative ids:
/// `~pid << 3 | type`, bit 2 for a thread, `kernel/time/posix-cpu-timers.c`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum ClockId {
    Realtime,
    Monotonic,
    ProcessCputime,
    /// A thread's CPU time (`None`: the calling thread's).
    ThreadCputime(Option<sched::Tid>),
    MonotonicRaw,
    RealtimeCoarse,
    MonotonicCoarse,
    Boottime,
}

/// Bit 2 of a CPU clock id: the clock of one thread (`CPUCLOCK_PERTHREAD_MASK`).
const CPUCLOCK_PERTHREAD: i32 = 4;
/// The clock types (`CPUCLOCK_PROF`, `_VIRT`, `_SCHED`) are 0..=2; 3 is invalid. With
/// no user/kernel split here, the three count the same time.
const CPUCLOCK_TYPES: i32 = 3;

impl TryFrom<i32> for ClockId {
    type Error = Errno;

    fn try_from(id: i32) -> Result<Self, Errno> {
        Ok(match id {
            0 => ClockId::Realtime,
            1 => ClockId::Monotonic,
            2 => ClockId::ProcessCputime,
            3 => ClockId::ThreadCputime(None),
            4 => ClockId::MonotonicRaw,
            5 => ClockId::RealtimeCoarse,
            6 => ClockId::MonotonicCoarse,
            7 => ClockId::Boottime,
            id if id < 0 => {
                if id & CPUCLOCK_TYPES == CPUCLOCK_TYPES {
                    return Err(Errno::EINVAL);
                }
                let pid = u32::try_from(!(id >> 3)).map_err(|_| Errno::EINVAL)?;
                if id & CPUCLOCK_PERTHREAD != 0 {
                    let tid = (pid != 0).then_some(pid);
                    sched::thread_cpu_ns(tid).ok_or(Errno::EINVAL)?;
                    ClockId::ThreadCputime(tid)
                } else if pid == 0 || pid as usize == crate::process::PID {
                    ClockId::ProcessCputime
                } else {
                    return Err(Errno::EINVAL);
                }
            }
            _ => return Err(Errno::EINVAL),
        })
    }
}

impl ClockId {
    /// The clock's time; `EINVAL` for the clock of a thread that has exited.
    fn now_ns(self) -> Result<u64, Errno> {
        Ok(match self {
            ClockId::Realtime | ClockId::RealtimeCoarse => time::realtime_ns(),
            ClockId::Monotonic
            | ClockId::MonotonicRaw
            | ClockId::MonotonicCoarse
            | ClockId::Boottime => time::monotonic_ns(),
            ClockId::ProcessCputime => sched::process_cpu_ns(),
            ClockId::ThreadCputime(tid) => sched::thread_cpu_ns(tid).ok_or(Errno::EINVAL)?,
        })
    }

    fn is_cpu_time(self) -> bool {
        matches!(self, ClockId::ProcessCputime | ClockId::ThreadCputime(_))
    }
}

/// `clock_gettime(clockid, tp)`.
pub fn clock_gettime(args: SyscallArgs) -> SysResult {
    let clock = ClockId::try_from(args.get::<i32>(0)?)?;
    let tp: UserAddr = args.get(1)?;
    write_timespec(tp, clock.now_ns()?)?;
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
    // Linux refuses a thread's CPU clock; sleeping on the process's CPU clock (until
    // the other threads have run long enough) is not implemented here.
    if matches!(clock, ClockId::ThreadCputime(_)) {
        return Err(Errno::EINVAL);
    }
    if clock.is_cpu_time() {
        return Err(Errno::EOPNOTSUPP);
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

/// `which` of `getitimer`/`setitimer`: only `ITIMER_REAL`; the CPU-time timers
/// (`ITIMER_VIRTUAL`, `ITIMER_PROF`) are not implemented (`EINVAL`, sysroot/README.md).
fn itimer_real(which: i32) -> Result<(), Errno> {
    if which == 0 {
        Ok(())
    } else {
        Err(Errno::EINVAL)
    }
}

/// Reads a `struct timeval` as nanoseconds (`EINVAL` unless `0 <= tv_usec < 10^6` and
/// `tv_sec >= 0`, as Linux's `timeval_valid`).
fn read_timeval(bytes: &[u8]) -> Result<u64, Errno> {
    let field = |at: usize| {
        let mut w = [0u8; 8];
        w.copy_from_slice(&bytes[at..at + 8]);
        i64::from_ne_bytes(w)
    };
    let sec = u64::try_from(field(0)).map_err(|_| Errno::EINVAL)?;
    let usec = u64::try_from(field(8))
        .ok()
        .filter(|&u| u < 1_000_000)
        .ok_or(Errno::EINVAL)?;
    Ok(sec
        .saturating_mul(1_000_000_000)
        .saturating_add(usec * 1000))
}

fn timeval_bytes(ns: u64) -> [u8; 16] {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_ne_bytes());
    bytes[8..].copy_from_slice(&((ns % 1_000_000_000 / 1000) as i64).to_ne_bytes());
    bytes
}

/// What is left of `alarm` (ns) and its period: an armed timer reports at least 1 µs,
/// as Linux's `itimer_get_remtime`.
fn remaining(alarm: Alarm) -> (u64, u64) {
    match alarm.deadline {
        Some(deadline) => (
            deadline.saturating_sub(time::monotonic_ns()).max(1000),
            alarm.interval,
        ),
        None => (0, 0),
    }
}

/// A `struct itimerval { it_interval, it_value }` for `alarm`.
fn itimerval_bytes(alarm: Alarm) -> [u8; 32] {
    let (value, interval) = remaining(alarm);
    let mut bytes = [0u8; 32];
    bytes[..16].copy_from_slice(&timeval_bytes(interval));
    bytes[16..].copy_from_slice(&timeval_bytes(value));
    bytes
}

/// Arms the alarm `value` ns from now, then every `interval` ns (`value` 0: disarm).
fn arm(value: u64, interval: u64) -> Alarm {
    let alarm = if value == 0 {
        Alarm::default()
    } else {
        Alarm {
            deadline: Some(time::monotonic_ns().saturating_add(value)),
            interval,
        }
    };
    sched::set_alarm(alarm)
}

/// `getitimer(which, value)`.
pub fn getitimer(args: SyscallArgs) -> SysResult {
    itimer_real(args.get(0)?)?;
    let value: UserAddr = args.get(1)?;
    unikernel_hal::uaccess::copy_to(value.0, &itimerval_bytes(sched::alarm()))?;
    Ok(0)
}

/// `setitimer(which, new, old)`: a NULL `new` disarms, as Linux does.
pub fn setitimer(args: SyscallArgs) -> SysResult {
    itimer_real(args.get(0)?)?;
    let new: UserAddr = args.get(1)?;
    let old: UserAddr = args.get(2)?;
    let (interval, value) = if new.is_null() {
        (0, 0)
    } else {
        let mut bytes = [0u8; 32];
        unikernel_hal::uaccess::copy_from(new.0, &mut bytes)?;
        (read_timeval(&bytes[..16])?, read_timeval(&bytes[16..])?)
    };
    if !old.is_null() {
        // Fail with EFAULT before anything changes.
        unikernel_hal::uaccess::copy_to(old.0, &itimerval_bytes(sched::alarm()))?;
    }
    let previous = arm(value, interval);
    if !old.is_null() {
        unikernel_hal::uaccess::copy_to(old.0, &itimerval_bytes(previous))?;
    }
    Ok(0)
}

/// `alarm(seconds)`: the seconds left of the previous timer, rounded as Linux's
/// `alarm_setitimer` (a fraction of a second left counts as one; half a second or
/// more rounds up).
pub fn alarm(args: SyscallArgs) -> SysResult {
    let seconds: u32 = args.get(0)?;
    let (left, _) = remaining(arm(u64::from(seconds) * 1_000_000_000, 0));
    Ok(alarm_seconds(left) as usize)
}

/// `alarm`'s answer for `left` ns: whole seconds, a fraction of a second left counting
/// as one and half a second or more rounding up.
fn alarm_seconds(left: u64) -> u64 {
    let (sec, usec) = (left / 1_000_000_000, left % 1_000_000_000 / 1000);
    if (sec == 0 && usec > 0) || usec >= 500_000 {
        sec + 1
    } else {
        sec
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alarm_rounds_as_linux() {
        assert_eq!(alarm_seconds(0), 0);
        assert_eq!(alarm_seconds(1_000), 1);
        assert_eq!(alarm_seconds(9_999_999_000), 10);
        assert_eq!(alarm_seconds(9_400_000_000), 9);
        assert_eq!(alarm_seconds(9_500_000_000), 10);
        assert_eq!(alarm_seconds(10_000_000_000), 10);
    }

    #[test]
    fn timevals_are_validated() {
        let tv = |sec: i64, usec: i64| {
            let mut bytes = [0u8; 16];
            bytes[..8].copy_from_slice(&sec.to_ne_bytes());
            bytes[8..].copy_from_slice(&usec.to_ne_bytes());
            bytes
        };
        assert_eq!(read_timeval(&tv(2, 500_000)), Ok(2_500_000_000));
        assert_eq!(read_timeval(&tv(0, 1_000_000)), Err(Errno::EINVAL));
        assert_eq!(read_timeval(&tv(0, -1)), Err(Errno::EINVAL));
        assert_eq!(read_timeval(&tv(-1, 0)), Err(Errno::EINVAL));
        assert_eq!(timeval_bytes(2_500_000_000), tv(2, 500_000));
    }

    #[test]
    fn process_cpu_clock_ids_decode() {
        // glibc's clock_getcpuclockid(0) and (getpid()): `~pid << 3 | CPUCLOCK_SCHED`.
        let process = |pid: i32| (!pid << 3) | 2;
        assert_eq!(ClockId::try_from(process(0)), Ok(ClockId::ProcessCputime));
        let pid = crate::process::PID as i32;
        assert_eq!(ClockId::try_from(process(pid)), Ok(ClockId::ProcessCputime));
        assert_eq!(ClockId::try_from(process(pid + 1)), Err(Errno::EINVAL));
        // Type 3 is no clock.
        assert_eq!(ClockId::try_from((!0 << 3) | 3), Err(Errno::EINVAL));
        assert_eq!(ClockId::try_from(8), Err(Errno::EINVAL));
    }
}
