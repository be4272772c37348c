//! `clone` for threads (clone(2), x86-64 argument order: `flags, stack, parent_tid,
//! child_tid, tls`).
//!
//! Only reachable with the caller's register frame (the `syscall` trap path or
//! `__unikernel_syscall_stub`): the child resumes at the instruction after the system
//! call with `rax` = 0, `rsp` = `stack`, the FS base = `tls` (with `CLONE_SETTLS`) and
//! every other register as in the parent. A direct C call cannot return twice, so
//! there is no `__unikernel_sys_clone`.
//!
//! Supported: threads of the one process, i.e. `CLONE_VM | CLONE_FS | CLONE_FILES |
//! CLONE_SIGHAND | CLONE_THREAD`, optionally with `CLONE_SYSVSEM`, `CLONE_SETTLS`,
//! `CLONE_PARENT_SETTID`, `CLONE_CHILD_SETTID`, `CLONE_CHILD_CLEARTID` and the
//! obsolete `CLONE_DETACHED`. Creating a process (no `CLONE_THREAD`: fork, vfork,
//! `posix_spawn`) is `ENOSYS`: there is one address space and one process. Anything
//! else is `EINVAL`; both are logged once.

use core::sync::atomic::{AtomicBool, Ordering};

use unikernel_hal::{SyscallFrame, cpu, uaccess};

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::log::kinfo;
use crate::sched::{self, NewThread};
use crate::signal;

const CSIGNAL: u64 = 0xff;
const CLONE_VM: u64 = 0x100;
const CLONE_FS: u64 = 0x200;
const CLONE_FILES: u64 = 0x400;
const CLONE_SIGHAND: u64 = 0x800;
const CLONE_THREAD: u64 = 0x1_0000;
const CLONE_SYSVSEM: u64 = 0x4_0000;
const CLONE_SETTLS: u64 = 0x8_0000;
const CLONE_PARENT_SETTID: u64 = 0x10_0000;
const CLONE_CHILD_CLEARTID: u64 = 0x20_0000;
const CLONE_DETACHED: u64 = 0x40_0000;
const CLONE_CHILD_SETTID: u64 = 0x100_0000;

/// What a thread of this process must share with its creator.
const THREAD: u64 = CLONE_VM | CLONE_FS | CLONE_FILES | CLONE_SIGHAND | CLONE_THREAD;
/// Flags accepted on top of [`THREAD`] (the exit signal is ignored for threads).
const OPTIONAL: u64 = CSIGNAL
    | CLONE_SYSVSEM
    | CLONE_SETTLS
    | CLONE_PARENT_SETTID
    | CLONE_CHILD_CLEARTID
    | CLONE_DETACHED
    | CLONE_CHILD_SETTID;

static REPORTED: AtomicBool = AtomicBool::new(false);

fn refuse(flags: u64, why: &str, errno: Errno) -> Errno {
    if !REPORTED.swap(true, Ordering::Relaxed) {
        kinfo!("clone with flags {flags:#x} refused ({why}): returning {errno:?}");
    }
    errno
}

/// `clone(flags, stack, parent_tid, child_tid, tls)` with the caller's frame.
pub fn clone(frame: &SyscallFrame) -> SysResult {
    let args = SyscallArgs(frame.args());
    let flags: u64 = args.get(0)?;
    let stack: UserAddr = args.get(1)?;
    let parent_tid: UserAddr = args.get(2)?;
    let child_tid: UserAddr = args.get(3)?;
    let tls: u64 = args.get(4)?;

    // Linux's own consistency rules (kernel/fork.c, copy_process) first.
    if flags & CLONE_THREAD != 0 && flags & CLONE_SIGHAND == 0
        || flags & CLONE_SIGHAND != 0 && flags & CLONE_VM == 0
    {
        return Err(refuse(
            flags,
            "CLONE_THREAD needs CLONE_SIGHAND, which needs CLONE_VM",
            Errno::EINVAL,
        ));
    }
    if flags & CLONE_THREAD == 0 {
        return Err(refuse(
            flags,
            "creating a process: one address space, one process",
            Errno::ENOSYS,
        ));
    }
    if flags & THREAD != THREAD || flags & !(THREAD | OPTIONAL) != 0 {
        return Err(refuse(
            flags,
            "only threads sharing everything are supported",
            Errno::EINVAL,
        ));
    }
    if stack.is_null() {
        return Err(refuse(
            flags,
            "a thread needs a stack of its own",
            Errno::EINVAL,
        ));
    }
    let fs_base = if flags & CLONE_SETTLS != 0 {
        tls
    } else {
        cpu::fs_base()
    };
    // A non-canonical thread pointer would fault at the first TLS access (Linux's
    // arch_prctl refuses it with EPERM).
    if (fs_base.cast_signed() << 16 >> 16).cast_unsigned() != fs_base {
        return Err(Errno::EPERM);
    }
    let new = NewThread {
        stack_pointer: stack.0,
        fs_base,
        clear_child_tid: if flags & CLONE_CHILD_CLEARTID != 0 {
            child_tid.0
        } else {
            0
        },
    };
    let tid = sched::spawn(frame, new, signal::reserve, |tid, slot| {
        // The new thread starts with its creator's signal mask (`clone(2)`).
        signal::thread_started(unikernel_hal::thread::current(), slot);
        // Both stores happen before either thread runs on; like Linux, a bad address
        // here does not undo the clone.
        if flags & CLONE_PARENT_SETTID != 0 {
            let _ = uaccess::copy_to(parent_tid.0, &tid.to_ne_bytes());
        }
        if flags & CLONE_CHILD_SETTID != 0 {
            let _ = uaccess::copy_to(child_tid.0, &tid.to_ne_bytes());
        }
    })?;
    Ok(tid as usize)
}
