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
//! - the handler of a signal sent with `kill`/`tkill`/`tgkill` is not run yet: the
//!   kernel says so once per signal and applies the default action instead; a thread
//!   in `pause` returns `EINTR`.
//!
//! Lock order: the scheduler's lock before this module's (`thread_started` runs under
//! the scheduler's); code here never calls into the scheduler while holding its own.

pub mod fault;
pub mod frame;
mod names;

use spin::Mutex;
use unikernel_hal::thread::MAX_THREADS;

use crate::log::kinfo;
pub use names::name;

/// Signals 1..=64 (`_NSIG`).
pub const NSIG: usize = 64;
pub const SIGKILL: usize = 9;
pub const SIGSEGV: usize = 11;
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
}

impl ThreadSignals {
    const NEW: ThreadSignals = ThreadSignals {
        mask: 0,
        pending: 0,
        altstack: AltStack::DISABLED,
    };
}

#[derive(Debug)]
struct State {
    actions: [Action; NSIG],
    /// Pending for the process (`kill`), not for one thread.
    shared_pending: u64,
    /// By scheduler slot (`unikernel_hal::thread`), like the hal's contexts.
    threads: [ThreadSignals; MAX_THREADS],
    /// Signals whose "handler not run" message was printed.
    reported: u64,
}

static STATE: Mutex<State> = Mutex::new(State {
    actions: [Action {
        handler: SIG_DFL,
        flags: 0,
        restorer: 0,
        mask: 0,
    }; NSIG],
    shared_pending: 0,
    threads: [ThreadSignals::NEW; MAX_THREADS],
    reported: 0,
});

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

/// A new thread in `child` (`clone`): like Linux, it inherits the mask of `parent`,
/// has nothing pending and no alternate stack. Called under the scheduler's lock.
pub fn thread_started(parent: usize, child: usize) {
    let mut state = STATE.lock();
    let mask = state.threads.get(parent).map_or(0, |t| t.mask);
    if let Some(t) = state.threads.get_mut(child) {
        *t = ThreadSignals {
            mask,
            ..ThreadSignals::NEW
        };
    }
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
            for t in state.threads.iter_mut() {
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
/// become unblocked and are pending are delivered before this returns.
pub fn update_mask(update: impl FnOnce(u64) -> u64) -> u64 {
    let old = {
        let mut state = STATE.lock();
        let t = &mut state.threads[current_slot()];
        let old = t.mask;
        t.mask = update(old) & !unblockable();
        old
    };
    deliver_pending();
    old
}

/// The calling thread's alternate signal stack; `replace` installs a new one first.
pub fn altstack(replace: Option<AltStack>) -> AltStack {
    let mut state = STATE.lock();
    let t = &mut state.threads[current_slot()];
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
    /// A handler would run on `slot`.
    Caught {
        slot: usize,
    },
}

/// Generates `sig` (1..=64) for `target`. `live` lists the live threads' slots (from
/// the scheduler, taken before this module's lock). Returns only if the program goes
/// on.
pub fn send(sig: usize, target: Target, live: &[bool; MAX_THREADS]) {
    let outcome = {
        let mut state = STATE.lock();
        let b = bit(sig);
        let action = state.actions[sig - 1];
        let slot = match target {
            Target::Thread(slot) => (state.threads[slot].mask & b == 0).then_some(slot),
            Target::Process => {
                let current = current_slot();
                if live[current] && state.threads[current].mask & b == 0 {
                    Some(current)
                } else {
                    (0..MAX_THREADS).find(|&s| live[s] && state.threads[s].mask & b == 0)
                }
            }
        };
        match slot {
            None => {
                match target {
                    Target::Thread(slot) => state.threads[slot].pending |= b,
                    Target::Process => state.shared_pending |= b,
                }
                Outcome::Nothing
            }
            Some(slot) => decide(&mut state, sig, &action, slot),
        }
    };
    carry_out(outcome);
}

fn decide(state: &mut State, sig: usize, action: &Action, slot: usize) -> Outcome {
    if is_ignored(action, sig) {
        return Outcome::Nothing;
    }
    if action.handler == SIG_DFL {
        return Outcome::Terminate(sig);
    }
    if state.reported & bit(sig) == 0 {
        state.reported |= bit(sig);
        kinfo!(
            "{} has a handler, but the kernel does not yet run handlers of signals sent with kill/tkill/tgkill: applying the default action",
            name(sig)
        );
    }
    match default_action(sig) {
        DefaultAction::Terminate => Outcome::Terminate(sig),
        DefaultAction::Ignore => Outcome::Caught { slot },
    }
}

fn carry_out(outcome: Outcome) {
    match outcome {
        Outcome::Nothing => {}
        Outcome::Terminate(sig) => terminate(sig),
        Outcome::Caught { slot } => crate::sched::interrupt(slot),
    }
}

/// Delivers what is pending for the calling thread (its own and the process's) and no
/// longer blocked.
fn deliver_pending() {
    loop {
        let outcome = {
            let mut state = STATE.lock();
            let slot = current_slot();
            let t = state.threads[slot];
            let ready = (t.pending | state.shared_pending) & !t.mask;
            if ready == 0 {
                return;
            }
            // Lowest number first, as Linux's `next_signal` (synchronous ones aside).
            let sig = ready.trailing_zeros() as usize + 1;
            state.threads[slot].pending &= !bit(sig);
            state.shared_pending &= !bit(sig);
            let action = state.actions[sig - 1];
            decide(&mut state, sig, &action, slot)
        };
        carry_out(outcome);
    }
}

/// Ends the program as the default action of `sig` would: the shell's report on the
/// console and exit status `128 + sig`.
pub fn terminate(sig: usize) -> ! {
    kinfo!("killed by {}", name(sig));
    crate::process::exit(128 + sig as i32)
}
