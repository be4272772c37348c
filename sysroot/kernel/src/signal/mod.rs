//! Signals: dispositions, per-thread masks and pending sets, and what happens when a
//! signal is generated (`kill`, `tkill`, `tgkill`) or a CPU exception raises one.
//!
//! The rules are Linux's (signal(7), `kernel/signal.c`), for one process:
//!
//! - a signal blocked by its target stays pending (per thread for `tkill`/`tgkill`,
//!   shared for `kill`) until the mask lets it through (`rt_sigprocmask`);
//! - an ignored signal (`SIG_IGN`, or `SIG_DFL` of a signal whose default is to
//!   ignore) is discarded when generated unless blocked (a blocked one may be caught
//!   by the time it is unblocked), and a pending one when its action becomes ignore;
//! - `SIG_DFL` of a terminating signal ends the whole program at once, whichever
//!   thread it was sent to: the console gets `unikernel: killed by SIGNAME` (what a
//!   shell reports) and the exit status is `128 + signal`;
//! - stop signals have nothing to stop them and nobody to continue them (no job
//!   control): they are ignored, like `SIGCONT`;
//! - a CPU exception in application code raises its signal (`fault`): a handler runs
//!   on a Linux signal frame (`frame`) and returns through `rt_sigreturn`; otherwise
//!   the program ends as above (a null pointer: `killed by SIGSEGV`, 139);
//! - a caught signal sent with `kill`/`tkill`/`tgkill` is pending until its thread
//!   next leaves the kernel, where `deliver` runs the handler; a thread blocked in a
//!   wait is woken for it (`sched::interrupt`) and the wait ends with `EINTR` or, for
//!   the calls Linux restarts, restarts after the handler if it has `SA_RESTART`.
//!
//! The per-thread state is a table indexed by scheduler slot that grows in free RAM
//! as threads are created ([`reserve`], called by `sched::spawn`); each entry says
//! whether its thread lives (from [`thread_started`] to [`thread_exited`]), which is
//! what a signal for the process picks a thread by.
//!
//! Lock order: the scheduler's lock before this module's (`reserve` and
//! `thread_started` run under the scheduler's), this module's ([`Level::Signals`])
//! before the memory manager's (the table grows under it); code here never calls
//! into the scheduler while holding its own.

mod deliver;
pub mod fault;
pub mod frame;
mod names;

use unikernel_hal::lock_order::{Level, OrderedMutex};
use unikernel_hal::page_vec::PageVec;

use crate::errno::Errno;
use crate::log::kinfo;
pub use deliver::{Delivered, deliver, restarting};
pub use names::name;

/// Signals 1..=64 (`_NSIG`).
pub const NSIG: usize = 64;
pub const SIGKILL: usize = 9;
pub const SIGSEGV: usize = 11;
pub const SIGPIPE: usize = 13;
pub const SIGALRM: usize = 14;
pub const SIGSTOP: usize = 19;

/// `SIG_DFL` and `SIG_IGN` in `sa_handler`.
pub const SIG_DFL: u64 = 0;
pub const SIG_IGN: u64 = 1;

/// `struct sigaction` as the kernel (not glibc) lays it out for `rt_sigaction`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Action {
    pub handler: u64,
    pub flags: u64,
    pub restorer: u64,
    pub mask: u64,
}

impl Action {
    pub const SIZE: usize = 32;

    pub fn from_bytes(bytes: &[u8; Self::SIZE]) -> Action {
        let word = |i: usize| {
            let mut w = [0u8; 8];
            w.copy_from_slice(&bytes[i * 8..i * 8 + 8]);
            u64::from_ne_bytes(w)
        };
        Action {
            handler: word(0),
            flags: word(1),
            restorer: word(2),
            mask: word(3),
        }
    }

    pub fn to_bytes(self) -> [u8; Self::SIZE] {
        let mut bytes = [0u8; Self::SIZE];
        for (i, w) in [self.handler, self.flags, self.restorer, self.mask]
            .into_iter()
            .enumerate()
        {
            bytes[i * 8..i * 8 + 8].copy_from_slice(&w.to_ne_bytes());
        }
        bytes
    }
}

/// What `SIG_DFL` does (signal(7), "Standard signals").
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum DefaultAction {
    /// Term or Core: the program ends with `128 + signal`.
    Terminate,
    /// Ign; also Stop and Cont, which have no meaning without job control.
    Ignore,
}

pub fn default_action(sig: usize) -> DefaultAction {
    match sig {
        // SIGCHLD, SIGCONT, SIGSTOP, SIGTSTP, SIGTTIN, SIGTTOU, SIGURG, SIGWINCH.
        17..=23 | 28 => DefaultAction::Ignore,
        _ => DefaultAction::Terminate,
    }
}

/// `stack_t { void *ss_sp; int ss_flags; size_t ss_size; }` (per thread).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AltStack {
    pub sp: u64,
    pub flags: i32,
    pub size: u64,
}

pub const SS_ONSTACK: i32 = 1;
pub const SS_DISABLE: i32 = 2;
pub const SS_AUTODISARM: i32 = 1 << 31;

impl AltStack {
    pub const DISABLED: AltStack = AltStack {
        sp: 0,
        flags: SS_DISABLE,
        size: 0,
    };
}

#[derive(Clone, Copy, Debug)]
struct ThreadSignals {
    mask: u64,
    pending: u64,
    altstack: AltStack,
    /// A thread lives in this slot (signals for the process may go to it).
    live: bool,
}

impl ThreadSignals {
    const NEW: ThreadSignals = ThreadSignals {
        mask: 0,
        pending: 0,
        altstack: AltStack::DISABLED,
        live: false,
    };
}

#[derive(Debug)]
struct State {
    actions: [Action; NSIG],
    /// Pending for the process (`kill`), not for one thread.
    shared_pending: u64,
    /// By scheduler slot (`unikernel_hal::thread`), like the hal's contexts; every
    /// thread's slot is in it ([`reserve`] before the thread exists).
    threads: PageVec<ThreadSignals>,
}

impl State {
    fn thread(&self, slot: usize) -> &ThreadSignals {
        &self.threads.as_slice()[slot]
    }

    fn thread_mut(&mut self, slot: usize) -> &mut ThreadSignals {
        &mut self.threads.as_mut_slice()[slot]
    }

    /// The action of `sig` and the thread in `slot`, both to change.
    fn action_and_thread(&mut self, sig: usize, slot: usize) -> (&mut Action, &mut ThreadSignals) {
        (
            &mut self.actions[sig - 1],
            &mut self.threads.as_mut_slice()[slot],
        )
    }
}

static STATE: OrderedMutex<State> = OrderedMutex::new(
    Level::Signals,
    State {
        actions: [Action {
            handler: SIG_DFL,
            flags: 0,
            restorer: 0,
            mask: 0,
        }; NSIG],
        shared_pending: 0,
        threads: PageVec::new(),
    },
);

pub fn bit(sig: usize) -> u64 {
    1 << (sig - 1)
}

/// SIGKILL and SIGSTOP can be neither blocked nor caught.
pub fn unblockable() -> u64 {
    bit(SIGKILL) | bit(SIGSTOP)
}

fn current_slot() -> usize {
    unikernel_hal::thread::current()
}

/// Makes room for a thread in `slot` (the table grows in free RAM); `ENOMEM` when RAM
/// runs out. Called under the scheduler's lock, before the thread exists.
pub fn reserve(slot: usize) -> Result<(), Errno> {
    let mut state = STATE.lock();
    crate::memory::grow_table(&mut state.threads, slot + 1, || ThreadSignals::NEW)
}

/// A new thread in `child` (`clone`; its slot [`reserve`]d): like Linux, it inherits
/// the mask of `parent`, has nothing pending and no alternate stack. Called under the
/// scheduler's lock.
pub fn thread_started(parent: usize, child: usize) {
    let mut state = STATE.lock();
    let mask = state.threads.as_slice().get(parent).map_or(0, |t| t.mask);
    if let Some(t) = state.threads.as_mut_slice().get_mut(child) {
        *t = ThreadSignals {
            mask,
            live: true,
            ..ThreadSignals::NEW
        };
    }
}

/// The main thread runs in `slot` (at boot): nothing blocked, nothing pending.
pub fn main_thread_started(slot: usize) -> Result<(), Errno> {
    reserve(slot)?;
    let mut state = STATE.lock();
    *state.thread_mut(slot) = ThreadSignals {
        live: true,
        ..ThreadSignals::NEW
    };
    Ok(())
}

/// The calling thread is exiting: signals for the process no longer go to it, and
/// what was pending for it alone is dropped (Linux's `exit_signals`).
pub fn thread_exited() {
    let mut state = STATE.lock();
    let t = state.thread_mut(current_slot());
    t.live = false;
    t.pending = 0;
}

/// The action of `sig`; `replace` installs a new one first (returns the old one).
pub fn action(sig: usize, replace: Option<Action>) -> Action {
    let mut state = STATE.lock();
    let old = state.actions[sig - 1];
    if let Some(new) = replace {
        state.actions[sig - 1] = new;
        // POSIX: setting a pending signal's action to ignore discards it.
        if is_ignored(&new, sig) {
            let b = bit(sig);
            state.shared_pending &= !b;
            for t in state.threads.as_mut_slice() {
                t.pending &= !b;
            }
        }
    }
    old
}

fn is_ignored(action: &Action, sig: usize) -> bool {
    action.handler == SIG_IGN
        || (action.handler == SIG_DFL && default_action(sig) == DefaultAction::Ignore)
}

/// The calling thread's mask; `update` maps the old mask to the new one. Signals that
/// become unblocked and are pending are delivered when the thread leaves the kernel.
pub fn update_mask(update: impl FnOnce(u64) -> u64) -> u64 {
    let mut state = STATE.lock();
    let t = state.thread_mut(current_slot());
    let old = t.mask;
    t.mask = update(old) & !unblockable();
    old
}

/// Replaces the calling thread's mask for the duration of a wait (`ppoll`,
/// `epoll_pwait`); returns the old one, which the caller restores after the wait. A
/// signal the new mask lets through that is already pending ends the wait at once.
pub fn replace_mask_for_wait(mask: u64) -> u64 {
    let (old, ready) = {
        let mut state = STATE.lock();
        let slot = current_slot();
        let shared = state.shared_pending;
        let t = state.thread_mut(slot);
        let old = t.mask;
        t.mask = mask & !unblockable();
        (old, (t.pending | shared) & !t.mask != 0)
    };
    if ready {
        crate::sched::interrupt(current_slot());
    }
    old
}

/// The calling thread's alternate signal stack; `replace` installs a new one first.
pub fn altstack(replace: Option<AltStack>) -> AltStack {
    let mut state = STATE.lock();
    let t = state.thread_mut(current_slot());
    let old = t.altstack;
    if let Some(new) = replace {
        t.altstack = new;
    }
    old
}

/// Whom a signal is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    /// The process (`kill`): any thread that does not block it.
    Process,
    /// One thread (`tkill`, `tgkill`), by scheduler slot.
    Thread(usize),
}

/// What generating a signal comes to, decided under the lock, done after it.
enum Outcome {
    Nothing,
    Terminate(usize),
    /// A handler will run on `slot`: wake it if it waits.
    Caught {
        slot: usize,
    },
}

/// Generates `sig` (1..=64) for `target`. Returns only if the program goes on.
pub fn send(sig: usize, target: Target) {
    let outcome = {
        let mut state = STATE.lock();
        let b = bit(sig);
        let action = state.actions[sig - 1];
        let takes = |t: &ThreadSignals| t.live && t.mask & b == 0;
        let threads = state.threads.as_slice();
        let slot = match target {
            Target::Thread(slot) => {
                if !threads.get(slot).is_some_and(|t| t.live) {
                    // It exited since its tid was looked up: nobody to signal.
                    return;
                }
                (threads[slot].mask & b == 0).then_some(slot)
            }
            Target::Process => {
                let current = current_slot();
                if threads.get(current).is_some_and(takes) {
                    Some(current)
                } else {
                    threads.iter().position(takes)
                }
            }
        };
        let outcome = match slot {
            // Blocked everywhere: pending until a mask lets it through.
            None => Outcome::Nothing,
            Some(_) if is_ignored(&action, sig) => return,
            Some(_) if action.handler == SIG_DFL => Outcome::Terminate(sig),
            Some(slot) => Outcome::Caught { slot },
        };
        if !matches!(outcome, Outcome::Terminate(_)) {
            match target {
                Target::Thread(slot) => state.thread_mut(slot).pending |= b,
                Target::Process => state.shared_pending |= b,
            }
            deliver::note_pending();
        }
        outcome
    };
    match outcome {
        Outcome::Nothing => {}
        Outcome::Terminate(sig) => terminate(sig),
        Outcome::Caught { slot } => crate::sched::interrupt(slot),
    }
}

/// A write found nobody to read it (a pipe without read ends, a socket whose peer
/// is gone): besides `EPIPE`, Linux sends SIGPIPE to the writing thread
/// (`pipe_write`, `unix_stream_sendmsg`). Called without the VFS lock.
pub fn raise_broken_pipe() {
    send(SIGPIPE, Target::Thread(current_slot()));
}

/// The process's alarm (`ITIMER_REAL`) expired: SIGALRM for the process, as Linux's
/// `it_real_fn`. The scheduler runs this (`sched::on_alarm`, set at boot) without
/// its lock.
pub fn alarm_expired() {
    send(SIGALRM, Target::Process);
}

/// `result` of a write: SIGPIPE if it is `EPIPE` ([`raise_broken_pipe`]).
pub fn on_broken_pipe<T>(result: Result<T, crate::errno::Errno>) -> Result<T, crate::errno::Errno> {
    if matches!(result, Err(crate::errno::Errno::EPIPE)) {
        raise_broken_pipe();
    }
    result
}

/// Ends the program as the default action of `sig` would: the shell's report on the
/// console and exit status `128 + sig`.
pub fn terminate(sig: usize) -> ! {
    kinfo!("killed by {}", name(sig));
    crate::process::exit(128 + sig as i32)
}
