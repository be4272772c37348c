//! Signals: `rt_sigaction`, `rt_sigprocmask`, `sigaltstack`, `kill`, `tkill`, `tgkill`,
//! `pause`. The rules (pending, blocked, ignored, default actions) live in
//! `crate::signal`; this file is the argument checking of each call.

use unikernel_hal::uaccess;

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::process::PID;
use crate::sched;
use crate::signal::{self, Action, AltStack, NSIG, SIGKILL, SIGSTOP, Target};

/// The kernel's `sigset_t` is 64 bits.
const SIGSET_SIZE: usize = 8;
const MINSIGSTKSZ: u64 = 2048;

/// A signal number argument: 1..=64, or 0 where "no signal" is allowed.
fn signal_number(raw: i32) -> Result<usize, Errno> {
    usize::try_from(raw)
        .ok()
        .filter(|&s| s <= NSIG)
        .ok_or(Errno::EINVAL)
}

/// `rt_sigaction(sig, act, oact, sigsetsize)`.
pub fn rt_sigaction(args: SyscallArgs) -> SysResult {
    let sig: i32 = args.get(0)?;
    let act: UserAddr = args.get(1)?;
    let oact: UserAddr = args.get(2)?;
    let sigsetsize: usize = args.get(3)?;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let sig = signal_number(sig)
        .ok()
        .filter(|&s| s != 0)
        .ok_or(Errno::EINVAL)?;
    let new = if act.is_null() {
        None
    } else {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        let mut bytes = [0u8; Action::SIZE];
        uaccess::copy_from(act.0, &mut bytes)?;
        Some(Action::from_bytes(&bytes))
    };
    if !oact.is_null() {
        // Checked before anything changes, as Linux copies out only after success.
        uaccess::copy_to(oact.0, &signal::action(sig, None).to_bytes())?;
    }
    signal::action(sig, new);
    Ok(0)
}

const SIG_BLOCK: i32 = 0;
const SIG_UNBLOCK: i32 = 1;
const SIG_SETMASK: i32 = 2;

/// `rt_sigprocmask(how, set, oset, sigsetsize)`: the calling thread's mask.
pub fn rt_sigprocmask(args: SyscallArgs) -> SysResult {
    let how: i32 = args.get(0)?;
    let set: UserAddr = args.get(1)?;
    let oset: UserAddr = args.get(2)?;
    let sigsetsize: usize = args.get(3)?;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let old = if set.is_null() {
        signal::update_mask(|old| old)
    } else {
        let set = uaccess::read_u64(set.0)?;
        if !matches!(how, SIG_BLOCK | SIG_UNBLOCK | SIG_SETMASK) {
            return Err(Errno::EINVAL);
        }
        if !oset.is_null() {
            // Fail with EFAULT before changing the mask.
            uaccess::copy_to(oset.0, &signal::update_mask(|old| old).to_ne_bytes())?;
        }
        signal::update_mask(|old| match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            _ => set,
        })
    };
    if !oset.is_null() {
        uaccess::copy_to(oset.0, &old.to_ne_bytes())?;
    }
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`: the calling thread's alternate signal stack.
pub fn sigaltstack(args: SyscallArgs) -> SysResult {
    let ss: UserAddr = args.get(0)?;
    let old: UserAddr = args.get(1)?;
    let current = signal::altstack(None);
    if !old.is_null() {
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&current.sp.to_ne_bytes());
        bytes[8..12].copy_from_slice(&current.flags.to_ne_bytes());
        bytes[16..].copy_from_slice(&current.size.to_ne_bytes());
        uaccess::copy_to(old.0, &bytes)?;
    }
    if !ss.is_null() {
        let mut bytes = [0u8; 24];
        uaccess::copy_from(ss.0, &mut bytes)?;
        let sp = u64::from_ne_bytes(bytes[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = i32::from_ne_bytes(bytes[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_ne_bytes(bytes[16..].try_into().map_err(|_| Errno::EFAULT)?);
        let mode = flags & !signal::SS_AUTODISARM;
        let new = if mode == signal::SS_DISABLE {
            AltStack::DISABLED
        } else if mode == 0 || mode == signal::SS_ONSTACK {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            AltStack {
                sp,
                flags: flags & signal::SS_AUTODISARM,
                size,
            }
        } else {
            return Err(Errno::EINVAL);
        };
        signal::altstack(Some(new));
    }
    Ok(0)
}

/// Sends `sig` (0: only the existence check) to `target`.
fn send(sig: usize, target: Target) -> SysResult {
    if sig != 0 {
        signal::send(sig, target);
    }
    Ok(0)
}

/// `kill(pid, sig)`: this process is pid 1 and its own process group; `pid` 0 and
/// `-1` (every process the caller may signal but init, which this process is) follow
/// kill(2).
pub fn kill(args: SyscallArgs) -> SysResult {
    let pid: i32 = args.get(0)?;
    let sig = signal_number(args.get(1)?)?;
    match pid {
        0 => send(sig, Target::Process),
        p if p.unsigned_abs() as usize == PID && p != -1 => send(sig, Target::Process),
        _ => Err(Errno::ESRCH),
    }
}

/// The scheduler slot of thread `tid`, or `ESRCH`.
fn thread(tid: i32) -> Result<usize, Errno> {
    let tid = u32::try_from(tid)
        .ok()
        .filter(|&t| t > 0)
        .ok_or(Errno::EINVAL)?;
    sched::slot_of(tid).ok_or(Errno::ESRCH)
}

/// `tkill(tid, sig)`.
pub fn tkill(args: SyscallArgs) -> SysResult {
    let tid: i32 = args.get(0)?;
    let sig = signal_number(args.get(1)?)?;
    send(sig, Target::Thread(thread(tid)?))
}

/// `tgkill(tgid, tid, sig)`.
pub fn tgkill(args: SyscallArgs) -> SysResult {
    let tgid: i32 = args.get(0)?;
    let tid: i32 = args.get(1)?;
    let sig = signal_number(args.get(2)?)?;
    if tgid <= 0 {
        return Err(Errno::EINVAL);
    }
    let slot = thread(tid)?;
    if tgid as usize != PID {
        return Err(Errno::ESRCH);
    }
    send(sig, Target::Thread(slot))
}

/// `pause()`: sleeps until a signal is delivered, then fails with `EINTR` (a signal
/// that ends the program never returns here).
pub fn pause(_: SyscallArgs) -> SysResult {
    sched::pause();
    Err(Errno::EINTR)
}
