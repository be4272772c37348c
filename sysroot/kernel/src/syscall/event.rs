//! Readiness and event loops: `poll`, `ppoll`, `epoll_create`, `epoll_create1`,
//! `epoll_ctl`, `epoll_wait`, `epoll_pwait`, `epoll_pwait2`, `eventfd`, `eventfd2`.
//! Readiness itself and the waiting are `crate::vfs`'s (`vfs::wait`).
//!
//! A signal for the waiting thread ends every wait here with `EINTR`, never restarted
//! (signal(7)). The signal masks of `ppoll` and `epoll_pwait*` replace the thread's
//! mask for the duration of the call, as Linux's `set_user_sigmask`: a handler that
//! interrupts the wait runs with it, and the old mask is back when the call returns.

use alloc::vec::Vec;

use unikernel_hal::uaccess;

use super::{Fd, SysResult, SyscallArgs, UserAddr, read_timespec, timespec_ns, write_timespec};
use crate::errno::Errno;
use crate::vfs;
use crate::vfs::wait::{self, Attempt};
use crate::{signal, time};

/// `RLIMIT_NOFILE`: `poll` refuses more entries (`EINVAL`).
const MAX_POLL_FDS: usize = 1024;
/// Linux's `EP_MAX_EVENTS`: `INT_MAX / sizeof(struct epoll_event)`.
const EP_MAX_EVENTS: usize = i32::MAX as usize / EPOLL_EVENT_SIZE;
/// `struct epoll_event { u32 events; u64 data; }`, packed on x86-64.
const EPOLL_EVENT_SIZE: usize = 12;
/// `struct pollfd { int fd; short events; short revents; }`.
const POLLFD_SIZE: usize = 8;
/// The kernel's `sigset_t`.
const SIGSET_SIZE: usize = 8;

/// A timeout in milliseconds as `poll` and `epoll_wait` take it: negative waits
/// forever, 0 does not wait.
fn deadline_after_ms(timeout_ms: i32) -> Option<u64> {
    let ms = u64::try_from(timeout_ms).ok()?;
    Some(time::monotonic_ns().saturating_add(ms.saturating_mul(1_000_000)))
}

/// A relative `struct timespec *` timeout (`ppoll`, `epoll_pwait2`): NULL waits forever.
fn deadline_after_timespec(timeout: UserAddr) -> Result<Option<u64>, Errno> {
    if timeout.is_null() {
        return Ok(None);
    }
    let ns = timespec_ns(read_timespec(timeout)?);
    Ok(Some(time::monotonic_ns().saturating_add(ns)))
}

/// Runs `wait` with the signal mask at `sigmask` (if not NULL) in place of the calling
/// thread's.
fn with_sigmask(sigmask: UserAddr, size: usize, wait: impl FnOnce() -> SysResult) -> SysResult {
    if sigmask.is_null() {
        return wait();
    }
    if size != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mask = uaccess::read_u64(sigmask.0)?;
    let old = signal::replace_mask_for_wait(mask);
    let result = wait();
    if result == Err(Errno::EINTR) {
        // The handlers run under the call's mask; the thread's own comes back after.
        signal::deliver(None);
    }
    signal::update_mask(|_| old);
    result
}

/// Whether `deadline` means "do not wait at all".
fn is_now(deadline: Option<u64>, now: u64) -> bool {
    deadline.is_some_and(|d| d <= now)
}

/// Polls the `nfds` entries at `fds` until one is ready or `deadline` passes; writes
/// every `revents` back and returns how many entries have some.
fn poll_until(fds: UserAddr, nfds: usize, deadline: Option<u64>) -> SysResult {
    if nfds > MAX_POLL_FDS {
        return Err(Errno::EINVAL);
    }
    let mut entries: Vec<(i32, u16)> = Vec::new();
    entries.try_reserve(nfds).map_err(|_| Errno::ENOMEM)?;
    for index in 0..nfds {
        let mut raw = [0u8; POLLFD_SIZE];
        uaccess::copy_from(fds.offset(index * POLLFD_SIZE)?.0, &mut raw)?;
        let fd = i32::from_ne_bytes([raw[0], raw[1], raw[2], raw[3]]);
        entries.push((fd, u16::from_ne_bytes([raw[4], raw[5]])));
    }
    // Checked now, so the result cannot be lost to a bad buffer after a wait.
    uaccess::with_bytes(fds.0, nfds * POLLFD_SIZE, |_| ())?;
    let no_wait = is_now(deadline, time::monotonic_ns());
    let mut revents: Vec<u16> = Vec::new();
    revents.try_reserve(nfds).map_err(|_| Errno::ENOMEM)?;
    let scan = |vfs: &mut vfs::Vfs, revents: &mut Vec<u16>| {
        revents.clear();
        revents.extend(entries.iter().map(|&(fd, events)| match u32::try_from(fd) {
            Ok(fd) => vfs.poll(fd, events),
            // Negative descriptors are skipped (`revents` 0).
            Err(_) => 0,
        }));
        revents.iter().filter(|&&r| r != 0).count()
    };
    let ready = wait::until(deadline, |vfs| {
        let ready = scan(vfs, &mut revents);
        Ok(if ready > 0 || no_wait {
            Attempt::Done(ready)
        } else {
            Attempt::Wait
        })
    })?;
    if ready.is_none() {
        revents.clear();
        revents.resize(nfds, 0);
    }
    for (index, value) in revents.iter().enumerate() {
        uaccess::copy_to(fds.offset(index * POLLFD_SIZE + 6)?.0, &value.to_ne_bytes())?;
    }
    Ok(ready.unwrap_or(0))
}

/// `poll(fds, nfds, timeout_ms)`.
pub fn poll(args: SyscallArgs) -> SysResult {
    let fds: UserAddr = args.get(0)?;
    let nfds: usize = args.get(1)?;
    let timeout_ms: i32 = args.get(2)?;
    poll_until(fds, nfds, deadline_after_ms(timeout_ms))
}

/// `ppoll(fds, nfds, timeout, sigmask, sigsetsize)`: like Linux, writes the time left
/// back to `*timeout`.
pub fn ppoll(args: SyscallArgs) -> SysResult {
    let fds: UserAddr = args.get(0)?;
    let nfds: usize = args.get(1)?;
    let timeout: UserAddr = args.get(2)?;
    let deadline = deadline_after_timespec(timeout)?;
    let ready = with_sigmask(args.get(3)?, args.get(4)?, || {
        poll_until(fds, nfds, deadline)
    });
    if let Some(deadline) = deadline
        && matches!(ready, Ok(_) | Err(Errno::EINTR))
    {
        write_timespec(timeout, deadline.saturating_sub(time::monotonic_ns()))?;
    }
    ready
}

/// `epoll_create1(flags)`.
pub fn epoll_create1(args: SyscallArgs) -> SysResult {
    let flags: u32 = args.get(0)?;
    vfs::with(|vfs| vfs.epoll_create(flags)).map(|fd| fd as usize)
}

/// `epoll_create(size)`: `size` must be positive and is otherwise ignored.
pub fn epoll_create(args: SyscallArgs) -> SysResult {
    if args.get::<i32>(0)? <= 0 {
        return Err(Errno::EINVAL);
    }
    vfs::with(|vfs| vfs.epoll_create(0)).map(|fd| fd as usize)
}

/// `epoll_ctl(epfd, op, fd, event)`.
pub fn epoll_ctl(args: SyscallArgs) -> SysResult {
    let epfd: Fd = args.get(0)?;
    let op: u32 = args.get(1)?;
    let fd: Fd = args.get(2)?;
    let event: UserAddr = args.get(3)?;
    let event = if op == vfs::EPOLL_CTL_DEL {
        (0, 0)
    } else {
        let mut raw = [0u8; EPOLL_EVENT_SIZE];
        uaccess::copy_from(event.0, &mut raw)?;
        let (events, data) = raw.split_at(4);
        let events = u32::from_ne_bytes(events.try_into().map_err(|_| Errno::EFAULT)?);
        let data = u64::from_ne_bytes(data.try_into().map_err(|_| Errno::EFAULT)?);
        (events, data)
    };
    vfs::with(|vfs| vfs.epoll_ctl(epfd.0, op, fd.0, event)).map(|()| 0)
}

/// Waits on instance `epfd` for up to `max` events into `events`, until `deadline`.
fn epoll_wait_until(epfd: Fd, events: UserAddr, max: i32, deadline: Option<u64>) -> SysResult {
    let max = usize::try_from(max)
        .ok()
        .filter(|&m| m > 0 && m <= EP_MAX_EVENTS)
        .ok_or(Errno::EINVAL)?;
    let size = max.checked_mul(EPOLL_EVENT_SIZE).ok_or(Errno::EINVAL)?;
    uaccess::with_bytes(events.0, size, |_| ())?;
    let no_wait = is_now(deadline, time::monotonic_ns());
    let found = wait::until(deadline, |vfs| {
        let found = vfs.epoll_collect(epfd.0, max, |index, ready| {
            let mut raw = [0u8; EPOLL_EVENT_SIZE];
            raw[..4].copy_from_slice(&ready.events.to_ne_bytes());
            raw[4..].copy_from_slice(&ready.data.to_ne_bytes());
            uaccess::copy_to(events.offset(index * EPOLL_EVENT_SIZE)?.0, &raw)?;
            Ok(())
        })?;
        Ok(if found > 0 || no_wait {
            Attempt::Done(found)
        } else {
            Attempt::Wait
        })
    })?;
    Ok(found.unwrap_or(0))
}

/// `epoll_wait(epfd, events, maxevents, timeout_ms)`.
pub fn epoll_wait(args: SyscallArgs) -> SysResult {
    epoll_wait_until(
        args.get(0)?,
        args.get(1)?,
        args.get(2)?,
        deadline_after_ms(args.get(3)?),
    )
}

/// `epoll_pwait(epfd, events, maxevents, timeout_ms, sigmask, sigsetsize)`.
pub fn epoll_pwait(args: SyscallArgs) -> SysResult {
    let deadline = deadline_after_ms(args.get(3)?);
    with_sigmask(args.get(4)?, args.get(5)?, || {
        epoll_wait_until(args.get(0)?, args.get(1)?, args.get(2)?, deadline)
    })
}

/// `epoll_pwait2(epfd, events, maxevents, timeout, sigmask, sigsetsize)`: the timeout
/// is a `struct timespec *` (NULL: forever).
pub fn epoll_pwait2(args: SyscallArgs) -> SysResult {
    let deadline = deadline_after_timespec(args.get(3)?)?;
    with_sigmask(args.get(4)?, args.get(5)?, || {
        epoll_wait_until(args.get(0)?, args.get(1)?, args.get(2)?, deadline)
    })
}

/// `eventfd2(initval, flags)`.
pub fn eventfd2(args: SyscallArgs) -> SysResult {
    let initval: u32 = args.get(0)?;
    let flags: u32 = args.get(1)?;
    vfs::with(|vfs| vfs.eventfd(initval, flags)).map(|fd| fd as usize)
}

/// `eventfd(initval)`: `eventfd2` without flags.
pub fn eventfd(args: SyscallArgs) -> SysResult {
    let initval: u32 = args.get(0)?;
    vfs::with(|vfs| vfs.eventfd(initval, 0)).map(|fd| fd as usize)
}
