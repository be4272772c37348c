//! Process, signal, time and futex calls.
//!
//! Signals: `rt_sigaction` sets only SIG_DFL or SIG_IGN, and only for signals whose
//! default action is to ignore (SIGCHLD, SIGCONT, SIGURG, SIGWINCH) or SIG_IGN for
//! SIGPIPE (std's setting, which a broken pipe needs); other numbers get any handler
//! but are invalid (0, SIGKILL, SIGSTOP, above 64). A handler the fuzzer installed would
//! need a restorer and would run at random points. `kill`, `tkill` and `tgkill` send
//! only those default-ignored signals or signal 0, to this process, its threads or
//! nonexistent ids; `kill` of process group 0 only with signal 0 (natively the group
//! holds the test harness too).
//!
//! Waits are short: every timeout is at most a millisecond or invalid, and futex
//! waits always have one. The PI futex operations that wait (LOCK_PI, LOCK_PI2,
//! WAIT_REQUEUE_PI, CMP_REQUEUE_PI) are left out; TRYLOCK_PI and UNLOCK_PI never wait.
//! `clock_nanosleep` never sleeps on a CPU-time clock (`cpu_sleep`): with one thread
//! left, the process's CPU time stands still while it sleeps, and another thread's
//! may never advance. The timer signals (SIGALRM, SIGVTALRM, SIGPROF) keep the counting
//! handler `crate::timers` installs: no call here changes their actions. `prlimit64` is only given invalid
//! new limits (soft above hard): a valid lower limit (RLIMIT_FSIZE, RLIMIT_CPU) would
//! end the program by a signal natively. `arch_prctl` never sets FS (the thread
//! pointer of std's thread-locals); `prctl` only reads, except PR_SET_NAME.

use super::Call;
use crate::args::{Gen, Prepared};
use crate::errno::*;

const SIGPIPE: usize = 13;
/// Signals whose default action is to ignore them.
const HARMLESS: [usize; 4] = [17, 18, 23, 28];
const INVALID_SIGNALS: [usize; 5] = [0, 9, 19, 65, usize::MAX];

const SIGACTION: &[i32] = &[EFAULT, EINVAL];
const KILL: &[i32] = &[EINVAL, EPERM, ESRCH, EAGAIN];
const CLOCK: &[i32] = &[EFAULT, EINVAL, EOVERFLOW, EPERM];
const SLEEP: &[i32] = &[EFAULT, EINTR, EINVAL, EOPNOTSUPP];
const RLIMIT: &[i32] = &[EFAULT, EINVAL, EPERM, ESRCH];
const FUTEX: &[i32] = &[
    EACCES, EAGAIN, EDEADLK, EFAULT, EINTR, EINVAL, ENFILE, ENOMEM, ENOSYS, EPERM, ESRCH, ETIMEDOUT,
];
const PRCTL: &[i32] = &[
    EACCES, EBADF, EBUSY, EFAULT, EINVAL, ENXIO, EOPNOTSUPP, EPERM, ERANGE,
];

/// Clock ids: the static ones (0..=11), the CPU-time clocks of the process and of
/// the fuzzing threads (negative ids, `~id << 3 | type`, bit 2 for a thread: what
/// `clock_getcpuclockid` and `pthread_getcpuclockid` form), and invalid ones (type 3,
/// another process, dynamic-clock encodings of closed descriptors, out of range).
fn clock(g: &mut Gen) -> usize {
    let cpu = |id: i64, thread: bool, kind: u64| {
        ((!id << 3) as u64 | u64::from(thread) << 2 | kind) as i32
    };
    match g.below(8) {
        0 => g.pick(&[
            12,
            99,
            usize::MAX,
            (!(3usize << 3)) | 3,
            -((1000 << 3) as isize) as usize | 3,
        ]),
        1 => {
            let (kind, thread) = (g.below(4), g.one_in(2));
            let id = match g.below(3) {
                0 => 0,
                1 if thread => i64::from(g.world.tid(g.below(64) as usize)),
                1 => i64::from(g.world.pid),
                _ => 0x3fff_ffff,
            };
            cpu(id, thread, kind) as isize as usize
        }
        _ => g.below(12) as usize,
    }
}

/// Whether `clock_nanosleep` could sleep on `clock` for good: a CPU-time clock of
/// the process (with one thread left it stands still while that thread sleeps), or
/// of another thread (Linux waits for that thread to run; it may be asleep or gone).
/// Left to fail: the calling thread's own (`EINVAL`), a missing id, type 3.
fn cpu_sleep(clock: usize) -> bool {
    let id = clock as i32;
    let (thread, owner) = (id & 4 != 0, !(id >> 3));
    id == 2 || (id < 0 && id & 3 != 3 && owner != 0x3fff_ffff && !(thread && owner == 0))
}

fn sigaction(g: &mut Gen) -> Prepared {
    let (signal, handler) = match g.below(4) {
        0 => (SIGPIPE, 1),
        1 => (g.pick(&INVALID_SIGNALS), g.rng.next() as usize & 0xffff),
        _ => (g.pick(&HARMLESS), g.below(2) as usize),
    };
    let act = match g.below(6) {
        0 => 0,
        1 => g.bad_pointer(),
        _ => {
            let flags = g.rng.next() & 0xffff_ffff;
            let mask = g.sigset();
            g.place(&[handler as u64, flags, 0, mask])
        }
    };
    let old = match g.below(3) {
        0 => 0,
        _ => g.out_pointer(),
    };
    let size = if g.one_in(8) { g.length() } else { 8 };
    Prepared::new(&[signal, act, old, size])
}

fn procmask(g: &mut Gen) -> Prepared {
    let how = g.pick(&[0, 1, 2, 3, usize::MAX]);
    let set = match g.below(4) {
        0 => 0,
        1 => g.bad_pointer(),
        _ => {
            let bits = g.sigset();
            g.place(&[bits])
        }
    };
    let old = if g.one_in(2) { 0 } else { g.out_pointer() };
    let size = if g.one_in(8) { g.length() } else { 8 };
    Prepared::new(&[how, set, old, size])
}

fn pid(g: &mut Gen) -> usize {
    match g.below(4) {
        0 => g.world.pid as usize,
        1 => 0x3fff_ffff,
        2 => (-0x3fff_ffff_isize) as usize,
        _ => i32::MIN as isize as usize,
    }
}

fn tid(g: &mut Gen) -> usize {
    if g.one_in(3) {
        g.pick(&[0, usize::MAX, 0x3fff_ffff])
    } else {
        let index = g.below(64) as usize;
        g.world.tid(index) as usize
    }
}

fn signal(g: &mut Gen) -> usize {
    match g.below(4) {
        0 => 0,
        1 => g.pick(&[65, usize::MAX, 1000]),
        _ => g.pick(&HARMLESS),
    }
}

fn futex(g: &mut Gen) -> Prepared {
    let op = g.pick(&[0, 1, 3, 4, 5, 7, 8, 9, 10, 99]) | (g.flags(0x180) & 0x180);
    let uaddr = match g.below(6) {
        0 => g.bad_pointer(),
        1 => g.arena_pointer(),
        _ => g.world.arena + 4 * g.below(16) as usize,
    };
    let uaddr2 = if g.one_in(3) {
        g.bad_pointer()
    } else {
        g.world.arena + 4 * g.below(16) as usize
    };
    let val = if g.one_in(2) {
        0
    } else {
        g.rng.next() as usize
    };
    // WAIT and WAIT_BITSET read a timeout; the others a count.
    let timeout = if matches!(op & 0x7f, 0 | 9) {
        g.short_timespec()
    } else {
        g.below(4) as usize
    };
    let val3 = if g.one_in(3) {
        0
    } else {
        g.rng.next() as usize
    };
    Prepared::new(&[uaddr, op, val, timeout, uaddr2, val3])
}

fn out_or_null(g: &mut Gen) -> usize {
    if g.one_in(4) { 0 } else { g.out_pointer() }
}

/// prctl options: GET_PDEATHSIG, GET_DUMPABLE, SET_NAME, GET_NAME, GET_SECCOMP,
/// CAPBSET_READ, GET_TIMERSLACK, GET_CHILD_SUBREAPER, GET_NO_NEW_PRIVS, unknown ones.
const PRCTL_OPTIONS: [usize; 11] = [2, 3, 15, 16, 21, 23, 30, 37, 39, 0, 1000];

pub const CALLS: &[Call] = &[
    Call {
        name: "rt_sigaction",
        number: 13,
        errnos: &[SIGACTION],
        make: sigaction,
    },
    Call {
        name: "rt_sigprocmask",
        number: 14,
        errnos: &[SIGACTION],
        make: procmask,
    },
    Call {
        name: "sched_yield",
        number: 24,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "nanosleep",
        number: 35,
        errnos: &[SLEEP],
        make: |g| Prepared::new(&[g.short_timespec(), out_or_null(g)]),
    },
    Call {
        name: "getpid",
        number: 39,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "kill",
        number: 62,
        errnos: &[KILL],
        make: |g| {
            let signal = signal(g);
            let pid = if signal == 0 && g.one_in(4) {
                0
            } else {
                pid(g)
            };
            Prepared::new(&[pid, signal])
        },
    },
    Call {
        name: "uname",
        number: 63,
        errnos: &[&[EFAULT]],
        make: |g| Prepared::new(&[g.out_pointer()]),
    },
    Call {
        name: "gettimeofday",
        number: 96,
        errnos: &[&[EFAULT, EINVAL]],
        make: |g| Prepared::new(&[out_or_null(g), out_or_null(g)]),
    },
    Call {
        name: "getrlimit",
        number: 97,
        errnos: &[RLIMIT],
        make: |g| Prepared::new(&[g.pick(&[0, 3, 7, 9, 15, 16, usize::MAX]), g.out_pointer()]),
    },
    Call {
        name: "getuid",
        number: 102,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "getgid",
        number: 104,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "geteuid",
        number: 107,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "getegid",
        number: 108,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "getppid",
        number: 110,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "sigaltstack",
        number: 131,
        errnos: &[&[EFAULT, EINVAL, ENOMEM, EPERM]],
        make: |g| {
            let ss = match g.below(4) {
                0 => 0,
                1 => g.bad_pointer(),
                _ => {
                    let (sp, flags) = (g.arena_pointer() as u64, g.flags(6) as u64);
                    let size = g.length() as u64;
                    g.place(&[sp, flags & 0xffff_ffff, size])
                }
            };
            Prepared::new(&[ss, out_or_null(g)])
        },
    },
    Call {
        name: "prctl",
        number: 157,
        errnos: &[PRCTL],
        make: |g| {
            let option = g.pick(&PRCTL_OPTIONS);
            let arg = if option == 15 {
                g.in_pointer()
            } else {
                out_or_null(g)
            };
            Prepared::new(&[option, arg, g.below(2) as usize, 0, 0])
        },
    },
    Call {
        name: "arch_prctl",
        number: 158,
        errnos: &[&[EFAULT, EINVAL, EPERM]],
        make: |g| {
            let code = g.pick(&[0x1003, 0x1004, 0x1011, 0, 0x1234]);
            Prepared::new(&[code, out_or_null(g)])
        },
    },
    Call {
        name: "gettid",
        number: 186,
        errnos: &[],
        make: |_| Prepared::new(&[]),
    },
    Call {
        name: "tkill",
        number: 200,
        errnos: &[KILL],
        make: |g| Prepared::new(&[tid(g), signal(g)]),
    },
    Call {
        name: "time",
        number: 201,
        errnos: &[&[EFAULT]],
        make: |g| Prepared::new(&[out_or_null(g)]),
    },
    Call {
        name: "futex",
        number: 202,
        errnos: &[FUTEX],
        make: futex,
    },
    Call {
        name: "sched_getaffinity",
        number: 204,
        errnos: &[&[EFAULT, EINVAL, EPERM, ESRCH]],
        make: |g| {
            let who = if g.one_in(2) { 0 } else { tid(g) };
            let len = g.pick(&[0, 1, 8, 128, 4096, 7, usize::MAX]);
            Prepared::new(&[who, len, g.out_pointer()])
        },
    },
    Call {
        name: "clock_gettime",
        number: 228,
        errnos: &[CLOCK],
        make: |g| Prepared::new(&[clock(g), g.out_pointer()]),
    },
    Call {
        name: "clock_getres",
        number: 229,
        errnos: &[CLOCK],
        make: |g| Prepared::new(&[clock(g), out_or_null(g)]),
    },
    Call {
        name: "clock_nanosleep",
        number: 230,
        errnos: &[SLEEP],
        make: |g| {
            let clock = match clock(g) {
                cpu if cpu_sleep(cpu) => 1,
                other => other,
            };
            let flags = g.flags(1);
            Prepared::new(&[clock, flags, g.short_timespec(), out_or_null(g)])
        },
    },
    Call {
        name: "tgkill",
        number: 234,
        errnos: &[KILL],
        make: |g| {
            let tgid = if g.one_in(4) {
                pid(g)
            } else {
                g.world.pid as usize
            };
            Prepared::new(&[tgid, tid(g), signal(g)])
        },
    },
    Call {
        name: "set_robust_list",
        number: 273,
        errnos: &[&[EINVAL]],
        make: |g| {
            // A list the kernel accepts is walked at thread exit, and Linux sets a bit
            // in any word it points at that holds the thread's id: only bad pointers.
            let len = g.pick(&[24, 0, 23, 25, usize::MAX]);
            let head = if len == 24 {
                g.bad_pointer()
            } else {
                g.out_pointer()
            };
            Prepared::new(&[head, len])
        },
    },
    Call {
        name: "prlimit64",
        number: 302,
        errnos: &[RLIMIT],
        make: |g| {
            let pid = if g.one_in(2) { 0 } else { pid(g) };
            let resource = g.pick(&[0, 3, 7, 9, 15, 16, usize::MAX]);
            let new = match g.below(3) {
                0 => 0,
                1 => g.bad_pointer(),
                _ => {
                    let hard = g.below(1 << 20);
                    let soft = hard + 1 + g.below(100);
                    g.place(&[soft, hard])
                }
            };
            Prepared::new(&[pid, resource, new, out_or_null(g)])
        },
    },
    Call {
        name: "getrandom",
        number: 318,
        errnos: &[&[EAGAIN, EFAULT, EINTR, EINVAL, ENOSYS]],
        make: |g| Prepared::new(&[g.out_pointer(), g.length(), g.flags(7)]),
    },
];
