//! `futex` for a single thread.
//!
//! `FUTEX_WAKE` wakes nobody (returns 0). `FUTEX_WAIT` returns `EAGAIN` when the word
//! no longer holds the expected value, sleeps out a timeout, and otherwise would block
//! forever, since no other thread exists to wake it: the kernel reports the deadlock
//! and stops with `EXIT_DEADLOCK` rather than hang.

use unikernel_hal::{exit, uaccess};

use super::{read_timespec, timespec_ns, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::log::kinfo;
use crate::time;

const FUTEX_WAIT: u32 = 0;
const FUTEX_WAKE: u32 = 1;
const FUTEX_WAIT_BITSET: u32 = 9;
const FUTEX_WAKE_BITSET: u32 = 10;
const FUTEX_PRIVATE_FLAG: u32 = 128;
const FUTEX_CLOCK_REALTIME: u32 = 256;

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
    match op & !(FUTEX_PRIVATE_FLAG | FUTEX_CLOCK_REALTIME) {
        FUTEX_WAKE | FUTEX_WAKE_BITSET => Ok(0),
        cmd @ (FUTEX_WAIT | FUTEX_WAIT_BITSET) => {
            if uaccess::read_u32(uaddr.0)? != val {
                return Err(Errno::EAGAIN);
            }
            if timeout.is_null() {
                kinfo!(
                    "deadlock: the only thread waits on futex {:#x} (value {val}) with no timeout; nothing can wake it",
                    uaddr.0
                );
                exit::exit(exit::EXIT_DEADLOCK);
            }
            let request = timespec_ns(read_timespec(timeout)?);
            // FUTEX_WAIT: relative timeout; FUTEX_WAIT_BITSET: absolute, on
            // CLOCK_MONOTONIC or (with FUTEX_CLOCK_REALTIME) CLOCK_REALTIME.
            let duration = if cmd == FUTEX_WAIT {
                request
            } else if realtime {
                request.saturating_sub(time::realtime_ns())
            } else {
                request.saturating_sub(time::monotonic_ns())
            };
            time::wait_until_monotonic(time::monotonic_ns().saturating_add(duration));
            Err(Errno::ETIMEDOUT)
        }
        _ => Err(Errno::ENOSYS),
    }
}
