//! Signals: `sigaction`, `signal`, `sigaltstack`, signal sets, masks, `raise`,
//! `abort`, `pause`, and glibc's `SIGRTMIN`/`SIGRTMAX` functions.
//!
//! glibc's `struct sigaction` (1024-bit mask) is translated to the kernel's
//! (64-bit mask, `SA_RESTORER` + restorer). The restorer must run
//! `rt_sigreturn` with the stack exactly as the kernel left it, so it is a
//! two-instruction naked function: like the clone trampoline it is not a bare
//! `syscall` template and stays on the trap path in a unikernel build.

use core::ffi::{c_int, c_void};
use core::ptr;

use crate::errno::{Errno, ret_zero, set_errno};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall0, syscall2, syscall3, syscall4};

const SA_RESTORER: u64 = 0x0400_0000;
const SA_RESTART: c_int = 0x1000_0000;
const SIG_DFL: usize = 0;
const SIG_ERR: usize = usize::MAX;
const SIGABRT: c_int = 6;
const NSIG: c_int = 65;
/// Bytes of the kernel's signal mask (`_NSIG / 8`).
const KERNEL_SIGSET: usize = 8;

/// glibc `sigset_t`: 1024 bits; the kernel reads the first 64.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub struct SigSet([u64; 16]);

/// glibc `struct sigaction` (x86_64).
#[repr(C)]
#[derive(Debug)]
pub struct SigAction {
    handler: usize,
    mask: SigSet,
    flags: c_int,
    restorer: usize,
}

/// The kernel's `struct sigaction` for `rt_sigaction` (x86_64).
#[repr(C)]
#[derive(Debug, Default)]
struct KernelSigAction {
    handler: usize,
    flags: u64,
    restorer: usize,
    mask: u64,
}

/// Returns from a signal handler (`SA_RESTORER` target).
#[unsafe(naked)]
unsafe extern "C" fn restore_rt() {
    core::arch::naked_asm!("mov eax, {nr}", "syscall", nr = const nr::RT_SIGRETURN)
}

/// `sigaction(2)`.
///
/// # Safety
/// `act` null or valid; `old` null or writable; handlers must be async-signal-safe.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaction(
    sig: c_int,
    act: *const SigAction,
    old: *mut SigAction,
) -> c_int {
    // SAFETY: per the caller.
    let new = unsafe { act.as_ref() }.map(|a| KernelSigAction {
        handler: a.handler,
        flags: u64::from(a.flags as u32) | SA_RESTORER,
        restorer: restore_rt as *const () as usize,
        mask: a.mask.0[0],
    });
    let mut prev = KernelSigAction::default();
    let new_ptr = new
        .as_ref()
        .map_or(0, |k| k as *const KernelSigAction as usize);
    // SAFETY: both structs are valid for the kernel's reads/writes.
    let r = result(unsafe {
        syscall4(
            nr::RT_SIGACTION,
            arg(sig),
            new_ptr,
            &raw mut prev as usize,
            KERNEL_SIGSET,
        )
    });
    if r.is_ok() && !old.is_null() {
        let mut mask = SigSet([0; 16]);
        mask.0[0] = prev.mask;
        // SAFETY: per the caller. The kernel's flags fit glibc's int field.
        unsafe {
            old.write(SigAction {
                handler: prev.handler,
                mask,
                flags: prev.flags as u32 as c_int,
                restorer: prev.restorer,
            });
        }
    }
    ret_zero(r)
}

/// `signal(2)` with BSD semantics (`SA_RESTART`), as glibc's.
///
/// # Safety
/// `handler` must be SIG_DFL, SIG_IGN or an async-signal-safe function.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn signal(sig: c_int, handler: usize) -> usize {
    let act = SigAction {
        handler,
        mask: SigSet([0; 16]),
        flags: SA_RESTART,
        restorer: 0,
    };
    let mut old = SigAction {
        handler: 0,
        mask: SigSet([0; 16]),
        flags: 0,
        restorer: 0,
    };
    // SAFETY: both structs are valid; handler per the caller.
    if unsafe { sigaction(sig, &act, &mut old) } < 0 {
        SIG_ERR
    } else {
        old.handler
    }
}

/// `sigaltstack(2)` (glibc's `stack_t` is the kernel's).
///
/// # Safety
/// `ss` null or valid; `old` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaltstack(ss: *const c_void, old: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::SIGALTSTACK, ss as usize, old as usize)
    }))
}

/// Bit of `sig` in a set, or EINVAL.
fn bit(sig: c_int) -> Result<(usize, u64), Errno> {
    if !(1..NSIG).contains(&sig) {
        return Err(Errno::EINVAL);
    }
    let n = (sig - 1) as usize;
    Ok((n / 64, 1 << (n % 64)))
}

/// `sigemptyset(3)`.
///
/// # Safety
/// `set` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigemptyset(set: *mut SigSet) -> c_int {
    // SAFETY: per the caller.
    unsafe { set.write(SigSet([0; 16])) };
    0
}

/// `sigfillset(3)`.
///
/// # Safety
/// `set` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigfillset(set: *mut SigSet) -> c_int {
    // SAFETY: per the caller.
    unsafe { set.write(SigSet([u64::MAX; 16])) };
    0
}

/// `sigaddset(3)`.
///
/// # Safety
/// `set` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigaddset(set: *mut SigSet, sig: c_int) -> c_int {
    match bit(sig) {
        // SAFETY: per the caller.
        Ok((w, b)) => unsafe {
            (*set).0[w] |= b;
            0
        },
        Err(e) => ret_zero(Err(e)),
    }
}

/// `sigdelset(3)`.
///
/// # Safety
/// `set` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigdelset(set: *mut SigSet, sig: c_int) -> c_int {
    match bit(sig) {
        // SAFETY: per the caller.
        Ok((w, b)) => unsafe {
            (*set).0[w] &= !b;
            0
        },
        Err(e) => ret_zero(Err(e)),
    }
}

/// `sigismember(3)`.
///
/// # Safety
/// `set` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigismember(set: *const SigSet, sig: c_int) -> c_int {
    match bit(sig) {
        // SAFETY: per the caller.
        Ok((w, b)) => c_int::from(unsafe { (*set).0[w] } & b != 0),
        Err(e) => ret_zero(Err(e)),
    }
}

/// `pthread_sigmask(3)`: returns the error number.
///
/// # Safety
/// `set` null or valid; `old` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_sigmask(
    how: c_int,
    set: *const SigSet,
    old: *mut SigSet,
) -> c_int {
    if !old.is_null() {
        // SAFETY: per the caller; the kernel fills only the first word.
        unsafe { old.write(SigSet([0; 16])) };
    }
    // SAFETY: per the caller; the kernel reads/writes 8 bytes of each set.
    let r = unsafe {
        syscall4(
            nr::RT_SIGPROCMASK,
            arg(how),
            set as usize,
            old as usize,
            KERNEL_SIGSET,
        )
    };
    match result(r) {
        Ok(_) => 0,
        Err(e) => e.0,
    }
}

/// `sigprocmask(2)`.
///
/// # Safety
/// As for [`pthread_sigmask`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sigprocmask(how: c_int, set: *const SigSet, old: *mut SigSet) -> c_int {
    // SAFETY: per the caller.
    match unsafe { pthread_sigmask(how, set, old) } {
        0 => 0,
        e => ret_zero(Err(Errno(e))),
    }
}

/// `raise(3)`: the signal goes to the calling thread.
#[unsafe(no_mangle)]
pub extern "C" fn raise(sig: c_int) -> c_int {
    let pid = crate::process::getpid();
    let tid = crate::process::gettid();
    // SAFETY: tgkill touches no memory of ours.
    ret_zero(result(unsafe {
        syscall3(nr::TGKILL, arg(pid), arg(tid), arg(sig))
    }))
}

/// `kill(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn kill(pid: c_int, sig: c_int) -> c_int {
    // SAFETY: kill touches no memory of ours.
    ret_zero(result(unsafe { syscall2(nr::KILL, arg(pid), arg(sig)) }))
}

/// glibc's `SIGRTMIN` (what `libc::SIGRTMIN()` calls): 34, as glibc, which keeps 32
/// and 33 for itself; programs and tables sized by it (tokio's signal registry) see
/// the same numbers as natively.
#[unsafe(no_mangle)]
pub extern "C" fn __libc_current_sigrtmin() -> c_int {
    34
}

/// glibc's `SIGRTMAX` (`libc::SIGRTMAX()`): 64, the kernel's `_NSIG`.
#[unsafe(no_mangle)]
pub extern "C" fn __libc_current_sigrtmax() -> c_int {
    64
}

/// `pause(2)`: waits for a signal; always -1/EINTR.
#[unsafe(no_mangle)]
pub extern "C" fn pause() -> c_int {
    // SAFETY: no arguments.
    ret_zero(result(unsafe { syscall0(nr::PAUSE) }))
}

/// `abort(3)`: SIGABRT (unblocked); if a handler returns, again with the default
/// action; as a last resort, exit status 127.
#[unsafe(no_mangle)]
pub extern "C" fn abort() -> ! {
    #[cfg(feature = "profile")]
    crate::profile::write_at_exit();
    let mut set = SigSet([0; 16]);
    set.0[0] = 1 << (SIGABRT - 1);
    // SAFETY: valid set; SIG_UNBLOCK = 1.
    unsafe { pthread_sigmask(1, &set, ptr::null_mut()) };
    raise(SIGABRT);
    let dfl = SigAction {
        handler: SIG_DFL,
        mask: SigSet([0; 16]),
        flags: 0,
        restorer: 0,
    };
    // SAFETY: resetting to the default action.
    unsafe { sigaction(SIGABRT, &dfl, ptr::null_mut()) };
    raise(SIGABRT);
    set_errno(Errno::EINTR);
    crate::exit::exit_now(127)
}
