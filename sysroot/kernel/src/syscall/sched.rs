//! Scheduling: `sched_yield`, `sched_getaffinity`. One CPU.

use unikernel_hal::uaccess;

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::process::PID;

/// `sched_yield()`: every other runnable thread runs first.
pub fn sched_yield(_: SyscallArgs) -> SysResult {
    crate::sched::yield_now();
    Ok(0)
}

/// Bytes of the kernel's CPU mask (`nr_cpu_ids` rounded up to a `long`).
const CPUMASK_SIZE: usize = 8;

/// `sched_getaffinity(pid, cpusetsize, mask)`: CPU 0 only; returns the mask size.
pub fn sched_getaffinity(args: SyscallArgs) -> SysResult {
    let pid: i32 = args.get(0)?;
    let len: usize = args.get(1)?;
    let mask: UserAddr = args.get(2)?;
    if pid != 0 && pid != PID as i32 {
        return Err(Errno::ESRCH);
    }
    if len < CPUMASK_SIZE || !len.is_multiple_of(CPUMASK_SIZE) {
        return Err(Errno::EINVAL);
    }
    uaccess::copy_to(mask.0, &1u64.to_ne_bytes())?;
    Ok(CPUMASK_SIZE)
}
