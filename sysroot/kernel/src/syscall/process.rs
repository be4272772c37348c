//! Process identity and lifetime: `exit`, `exit_group`, the id getters, `uname`,
//! `arch_prctl`, `prctl` (thread names), `set_tid_address`, `set_robust_list`,
//! `getrlimit`, `prlimit64`.

use unikernel_hal::{cpu, uaccess};

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::process::{self as proc, PID};
use crate::sched;

/// `exit(status)`: ends the calling thread (the last one's exit ends the program).
/// From here on no signal is delivered to it (Linux's `PF_EXITING`).
pub fn exit(args: SyscallArgs) -> SysResult {
    let status = args.get(0)?;
    crate::signal::thread_exited();
    sched::exit_thread(status)
}

/// `exit_group(status)`.
pub fn exit_group(args: SyscallArgs) -> SysResult {
    proc::exit(args.get(0)?)
}

pub fn getpid(_: SyscallArgs) -> SysResult {
    Ok(PID)
}

pub fn gettid(_: SyscallArgs) -> SysResult {
    Ok(sched::current_tid() as usize)
}

/// The parent of the only process is nobody (like init's).
pub fn getppid(_: SyscallArgs) -> SysResult {
    Ok(0)
}

pub fn getuid(_: SyscallArgs) -> SysResult {
    Ok(0)
}

pub fn geteuid(_: SyscallArgs) -> SysResult {
    Ok(0)
}

pub fn getgid(_: SyscallArgs) -> SysResult {
    Ok(0)
}

pub fn getegid(_: SyscallArgs) -> SysResult {
    Ok(0)
}

/// `uname(buf)`: `struct utsname`, six 65-byte NUL-terminated fields. The system
/// reports itself as Linux so that version checks in libraries take Linux paths.
pub fn uname(args: SyscallArgs) -> SysResult {
    let buf: UserAddr = args.get(0)?;
    const FIELD: usize = 65;
    let fields = [
        "Linux",
        "unikernel",
        "6.1.0-unikernel",
        "#1 cargo-unikernel",
        "x86_64",
        "(none)",
    ];
    let mut bytes = [0u8; FIELD * 6];
    for (i, field) in fields.iter().enumerate() {
        bytes[i * FIELD..i * FIELD + field.len()].copy_from_slice(field.as_bytes());
    }
    uaccess::copy_to(buf.0, &bytes)?;
    Ok(0)
}

const ARCH_SET_FS: u32 = 0x1002;
const ARCH_GET_FS: u32 = 0x1003;

/// `arch_prctl(code, addr)`: the FS base (the thread pointer of the TLS ABI).
pub fn arch_prctl(args: SyscallArgs) -> SysResult {
    let code: u32 = args.get(0)?;
    let addr: UserAddr = args.get(1)?;
    match code {
        ARCH_SET_FS => {
            if cpu::set_fs_base(addr.0 as u64) {
                Ok(0)
            } else {
                Err(Errno::EPERM)
            }
        }
        ARCH_GET_FS => {
            uaccess::copy_to(addr.0, &cpu::fs_base().to_ne_bytes())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `set_tid_address(tidptr)`: the calling thread's word to clear and wake at exit.
pub fn set_tid_address(args: SyscallArgs) -> SysResult {
    let tidptr: UserAddr = args.get(0)?;
    Ok(sched::set_clear_child_tid(tidptr.0) as usize)
}

/// `set_robust_list(head, len)`: recorded; `len` must be `sizeof(struct
/// robust_list_head)` as on Linux.
pub fn set_robust_list(args: SyscallArgs) -> SysResult {
    let head: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    if len != 24 {
        return Err(Errno::EINVAL);
    }
    sched::set_robust_list(head.0);
    Ok(0)
}

const PR_SET_NAME: i32 = 15;
const PR_GET_NAME: i32 = 16;

/// `prctl(option, arg2, ...)`: `PR_SET_NAME` and `PR_GET_NAME` (the thread's name, 16
/// bytes with the NUL, as `pthread_setname_np` uses it); other options are `EINVAL`.
pub fn prctl(args: SyscallArgs) -> SysResult {
    let option: i32 = args.get(0)?;
    let name: UserAddr = args.get(1)?;
    match option {
        PR_SET_NAME => {
            // The name may sit at the end of a page: read at most what is mapped.
            let mut bytes = [0u8; 16];
            for (i, byte) in bytes.iter_mut().enumerate().take(15) {
                let mut one = [0u8; 1];
                uaccess::copy_from(name.offset(i)?.0, &mut one)?;
                *byte = one[0];
                if one[0] == 0 {
                    break;
                }
            }
            sched::set_name(&bytes);
            Ok(0)
        }
        PR_GET_NAME => {
            uaccess::copy_to(name.0, &sched::name())?;
            Ok(0)
        }
        _ => Err(Errno::EINVAL),
    }
}

const RLIMIT_STACK: u32 = 3;
const RLIMIT_NOFILE: u32 = 7;
const RLIM_NLIMITS: u32 = 16;
const RLIM_INFINITY: u64 = u64::MAX;

fn limit(resource: u32) -> Result<(u64, u64), Errno> {
    match resource {
        RLIMIT_STACK => {
            let size = proc::main_stack_size() as u64;
            Ok((size, size))
        }
        RLIMIT_NOFILE => Ok((1024, 1024)),
        r if r < RLIM_NLIMITS => Ok((RLIM_INFINITY, RLIM_INFINITY)),
        _ => Err(Errno::EINVAL),
    }
}

fn write_limit(addr: UserAddr, (cur, max): (u64, u64)) -> Result<(), Errno> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&cur.to_ne_bytes());
    bytes[8..].copy_from_slice(&max.to_ne_bytes());
    uaccess::copy_to(addr.0, &bytes)?;
    Ok(())
}

/// `getrlimit(resource, rlim)`.
pub fn getrlimit(args: SyscallArgs) -> SysResult {
    let resource: u32 = args.get(0)?;
    let rlim: UserAddr = args.get(1)?;
    write_limit(rlim, limit(resource)?)?;
    Ok(0)
}

/// `prlimit64(pid, resource, new, old)`. Nothing here enforces a limit, so none can
/// change: setting the values a limit already has succeeds (the common "raise the soft
/// limit to the hard one" of servers), a soft limit above the hard one is `EINVAL`,
/// raising either above the hard limit is `EPERM` as for an unprivileged Linux process,
/// and lowering one is `EPERM` too, since a lower limit that is not enforced would be a
/// pretence.
pub fn prlimit64(args: SyscallArgs) -> SysResult {
    let pid: i32 = args.get(0)?;
    let resource: u32 = args.get(1)?;
    let new: UserAddr = args.get(2)?;
    let old: UserAddr = args.get(3)?;
    if pid != 0 && pid != PID as i32 {
        return Err(Errno::ESRCH);
    }
    let current = limit(resource)?;
    if !new.is_null() {
        let mut bytes = [0u8; 16];
        uaccess::copy_from(new.0, &mut bytes)?;
        let [cur, max] = [&bytes[..8], &bytes[8..]]
            .map(|half| u64::from_ne_bytes(half.try_into().expect("eight bytes")));
        check_change(current, (cur, max))?;
    }
    if !old.is_null() {
        write_limit(old, current)?;
    }
    Ok(0)
}

/// Whether limits `current` may become `new` (see [`prlimit64`]).
fn check_change(current: (u64, u64), new: (u64, u64)) -> Result<(), Errno> {
    if new.0 > new.1 {
        Err(Errno::EINVAL)
    } else if new == current {
        Ok(())
    } else {
        Err(Errno::EPERM)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_stay_as_they_are() {
        let nofile = (1024, 1024);
        assert_eq!(check_change(nofile, (1024, 1024)), Ok(()));
        assert_eq!(check_change(nofile, (2048, 1024)), Err(Errno::EINVAL));
        assert_eq!(check_change(nofile, (4096, 4096)), Err(Errno::EPERM));
        assert_eq!(check_change(nofile, (256, 1024)), Err(Errno::EPERM));
        let infinite = (RLIM_INFINITY, RLIM_INFINITY);
        assert_eq!(check_change(infinite, infinite), Ok(()));
        assert_eq!(
            check_change(infinite, (1 << 30, 1 << 30)),
            Err(Errno::EPERM)
        );
    }
}
