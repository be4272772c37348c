//! `futex`: `FUTEX_WAIT`, `FUTEX_WAKE`, `FUTEX_WAIT_BITSET`, `FUTEX_WAKE_BITSET`
//! (futex(2)), with `FUTEX_PRIVATE_FLAG` and `FUTEX_CLOCK_REALTIME`.
//!
//! Futexes are keyed by address: there is one address space, so private and shared
//! futexes are the same thing (the shim's `pthread_join` waits shared on the thread-id
//! word that `CLONE_CHILD_CLEARTID` clears). The waiting and waking is `crate::sched`;
//! a signal ends a wait as Linux's does (`EINTR`, or a restart: see `FUTEX_WAIT`).

use super::{SysResult, SyscallArgs, UserAddr, read_timespec, timespec_ns};
use crate::errno::Errno;
use crate::sched::{self, Wake};
use crate::{signal, time};

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;
const FUTEX_BITSET_MATCH_ANY: u32 = u32::MAX;

/// `futex(uaddr, op, val, timeout, uaddr2, val3)`.
pub fn futex(args: SyscallArgs) -> SysResult {
    let uaddr: UserAddr = args.get(0)?;
    let op: u32 = args.get(1)?;
    let val: u32 = args.get(2)?;
    let timeout: UserAddr = args.get(3)?;
    if !uaddr.0.is_multiple_of(4) {
        return Err(Errno::EINVAL);
    }
    let realtime = op & FUTEX_CLOCK_REALTIME != 0;
    let cmd = op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME);
    // FUTEX_CLOCK_REALTIME only makes sense with an absolute timeout (Linux: ENOSYS).
    if realtime && cmd != FUTEX_WAIT_BITSET && cmd != FUTEX_WAIT {
        return Err(Errno::ENOSYS);
    }
    match cmd {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => {
            let bitset = if cmd == FUTEX_WAKE {
                FUTEX_BITSET_MATCH_ANY
            } else {
                args.get(5)?
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            // `val` is an int count; negative counts wake "all" on Linux (INT_MAX).
            let count = usize::try_from(val.cast_signed()).unwrap_or(i32::MAX as usize);
            Ok(sched::futex_wake(uaddr.0, count, bitset))
        }
        FUTEX_WAIT | FUTEX_WAIT_BITSET => {
            let bitset = if cmd == FUTEX_WAIT {
                FUTEX_BITSET_MATCH_ANY
            } else {
                args.get(5)?
            };
            if bitset == 0 {
                return Err(Errno::EINVAL);
            }
            let deadline = if timeout.is_null() {
                None
            } else {
                let request = timespec_ns(read_timespec(timeout)?);
                Some(if cmd == FUTEX_WAIT {
                    // Relative, measured on CLOCK_MONOTONIC.
                    time::monotonic_ns().saturating_add(request)
                } else if realtime {
                    time::realtime_to_monotonic(request)
                } else {
                    request
                })
            };
            let wait = || match sched::futex_wait(uaddr.0, val, bitset, deadline)? {
                Wake::Woken => Ok(0),
                Wake::TimedOut => Err(Errno::ETIMEDOUT),
                Wake::Interrupted => Err(Errno::EINTR),
            };
            // Linux restarts an untimed wait after a `SA_RESTART` handler
            // (`-ERESTARTSYS`); a timed one ends with `EINTR` (`-ERESTART_RESTARTBLOCK`
            // becomes `EINTR` whenever a handler runs).
            if deadline.is_none() {
                signal::restarting(wait)
            } else {
                wait()
            }
        }
        _ => Err(Errno::ENOSYS),
    }
}
