//! Signals: `rt_sigaction`, `rt_sigprocmask`, `sigaltstack`. Dispositions, the mask and
//! the alternate stack are recorded and reported back, but nothing delivers signals
//! yet (faults stop the machine with a report instead; see hal `exceptions`).

use spin::Mutex;
use unikernel_hal::uaccess;

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;

const NSIG: usize = 64;
const SIGKILL: usize = 9;
const SIGSTOP: usize = 19;
/// The kernel's `sigset_t` is 64 bits.
const SIGSET_SIZE: usize = 8;
/// `struct sigaction` as the kernel sees it: handler, flags, restorer, mask.
const SIGACTION_SIZE: usize = 32;

#[derive(Debug)]
struct SignalState {
    actions: [[u8; SIGACTION_SIZE]; NSIG],
    mask: u64,
    /// `stack_t { void *ss_sp; int ss_flags; size_t ss_size; }`.
    altstack: (u64, i32, u64),
}

const SS_ONSTACK: i32 = 1;
const SS_DISABLE: i32 = 2;
const SS_AUTODISARM: i32 = 1 << 31;
const MINSIGSTKSZ: u64 = 2048;

static STATE: Mutex<SignalState> = Mutex::new(SignalState {
    actions: [[0; SIGACTION_SIZE]; NSIG],
    mask: 0,
    altstack: (0, SS_DISABLE, 0),
});

fn unblockable() -> u64 {
    (1 << (SIGKILL - 1)) | (1 << (SIGSTOP - 1))
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
    let sig = usize::try_from(sig).ok().filter(|s| (1..=NSIG).contains(s)).ok_or(Errno::EINVAL)?;
    let mut new = [0u8; SIGACTION_SIZE];
    if !act.is_null() {
        if sig == SIGKILL || sig == SIGSTOP {
            return Err(Errno::EINVAL);
        }
        uaccess::copy_from(act.0, &mut new)?;
    }
    let mut state = STATE.lock();
    if !oact.is_null() {
        uaccess::copy_to(oact.0, &state.actions[sig - 1])?;
    }
    if !act.is_null() {
        state.actions[sig - 1] = new;
    }
    Ok(0)
}

const SIG_BLOCK: i32 = 0;
const SIG_UNBLOCK: i32 = 1;
const SIG_SETMASK: i32 = 2;

/// `rt_sigprocmask(how, set, oset, sigsetsize)`.
pub fn rt_sigprocmask(args: SyscallArgs) -> SysResult {
    let how: i32 = args.get(0)?;
    let set: UserAddr = args.get(1)?;
    let oset: UserAddr = args.get(2)?;
    let sigsetsize: usize = args.get(3)?;
    if sigsetsize != SIGSET_SIZE {
        return Err(Errno::EINVAL);
    }
    let mut state = STATE.lock();
    let old = state.mask;
    if !set.is_null() {
        let set = uaccess::read_u64(set.0)?;
        state.mask = match how {
            SIG_BLOCK => old | set,
            SIG_UNBLOCK => old & !set,
            SIG_SETMASK => set,
            _ => return Err(Errno::EINVAL),
        } & !unblockable();
    }
    if !oset.is_null() {
        uaccess::copy_to(oset.0, &old.to_ne_bytes())?;
    }
    Ok(0)
}

/// `sigaltstack(ss, old_ss)`.
pub fn sigaltstack(args: SyscallArgs) -> SysResult {
    let ss: UserAddr = args.get(0)?;
    let old: UserAddr = args.get(1)?;
    let mut state = STATE.lock();
    if !old.is_null() {
        let (sp, flags, size) = state.altstack;
        let mut bytes = [0u8; 24];
        bytes[..8].copy_from_slice(&sp.to_ne_bytes());
        bytes[8..12].copy_from_slice(&flags.to_ne_bytes());
        bytes[16..].copy_from_slice(&size.to_ne_bytes());
        uaccess::copy_to(old.0, &bytes)?;
    }
    if !ss.is_null() {
        let mut bytes = [0u8; 24];
        uaccess::copy_from(ss.0, &mut bytes)?;
        let sp = u64::from_ne_bytes(bytes[..8].try_into().map_err(|_| Errno::EFAULT)?);
        let flags = i32::from_ne_bytes(bytes[8..12].try_into().map_err(|_| Errno::EFAULT)?);
        let size = u64::from_ne_bytes(bytes[16..].try_into().map_err(|_| Errno::EFAULT)?);
        let mode = flags & !SS_AUTODISARM;
        if mode == SS_DISABLE {
            state.altstack = (0, SS_DISABLE, 0);
        } else if mode == 0 || mode == SS_ONSTACK {
            if size < MINSIGSTKSZ {
                return Err(Errno::ENOMEM);
            }
            state.altstack = (sp, flags & SS_AUTODISARM, size);
        } else {
            return Err(Errno::EINVAL);
        }
    }
    Ok(0)
}
