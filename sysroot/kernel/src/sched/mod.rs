//! Threads on one CPU: the thread table, the run queue, blocking and waking.
//!
//! Each thread has a slot number shared with the hal's context table
//! (`unikernel_hal::thread`); slot `IDLE` is the idle thread, which runs
//! [`idle::idle_loop`] on a stack of its own. A thread runs until it blocks (futex wait,
//! sleep), yields or exits, or until the timer preempts it: when other threads are
//! runnable, the APIC timer is armed for the end of the running thread's time slice
//! (`TIME_SLICE_NS`) and its interrupt ([`preempt`]) requeues it behind them. The
//! timer is also armed for the earliest sleeper's deadline, so sleepers wake on time
//! while another thread computes. The run queue is FIFO.
//!
//! CPU time: at every scheduling decision the running thread is charged with the
//! time since it started running (`CLOCK_THREAD_CPUTIME_ID`); the process's clock is
//! the sum over all threads, including those that exited. The idle thread's time
//! counts for nobody.
//!
//! The process's real-time timer (`ITIMER_REAL`, `alarm`) is one more deadline: the
//! timer is armed for it as for a sleeper's, and when it expires the timer interrupt
//! or the idle loop runs the action set with [`on_alarm`] (SIGALRM).
//!
//! Blocked threads wait on a futex word, a deadline (`CLOCK_MONOTONIC` nanoseconds),
//! or both. Deadlines expire at every scheduling decision; when nothing can run, the
//! idle thread arms the APIC timer for the earliest deadline and halts until an
//! interrupt. If nothing can run and no deadline is pending, every thread waits on a
//! futex nothing can wake: the kernel reports the deadlock and stops with
//! `EXIT_DEADLOCK`.
//!
//! Thread count: the thread table and the hal's context table grow in free RAM as
//! threads are created (doubling), and freed slots are reused; when RAM runs out,
//! `clone` fails with `EAGAIN`, as Linux's does at `threads-max`, which it derives
//! from RAM.
//!
//! Locking (see the crate README): the table is an [`IrqMutex`]; an operation that
//! switches threads holds an [`irq::disable`] guard from its decision until the switch,
//! and drops the lock before switching (the next thread takes it again). The tables
//! grow under it: the memory manager's lock, the only one allocation takes, is never
//! held while the scheduler's is taken.

mod idle;
mod queue;
mod table;

use core::sync::atomic::{AtomicU32, Ordering};

use unikernel_hal::irq::{self, IrqMutex};
use unikernel_hal::thread::{self as hal_thread, IDLE, ThreadError};
use unikernel_hal::{SyscallFrame, apic, exit, uaccess};

use self::table::{Scheduler, Wait};
use crate::errno::Errno;
use crate::log::kinfo;
use crate::{memory, time};

pub use self::idle::{PollAgain, set_idle_poll};
pub use self::table::{Alarm, Tid, Wake};

static SCHED: IrqMutex<Scheduler> = IrqMutex::new(Scheduler::new());

/// What runs when the alarm expires ([`on_alarm`]): set at boot to the signal
/// module's SIGALRM, which the scheduler cannot name (that module calls into this
/// one).
static ALARM_ACTION: spin::Once<fn()> = spin::Once::new();

/// Sets what runs, without the scheduler's lock, each time the alarm expires.
pub fn on_alarm(action: fn()) {
    ALARM_ACTION.call_once(|| action);
}

/// `setitimer(ITIMER_REAL)`/`alarm`: arms (or, with no deadline, disarms) the
/// process's alarm; returns the previous one.
pub fn set_alarm(alarm: Alarm) -> Alarm {
    let _irq = irq::disable();
    let mut sched = SCHED.lock();
    let old = core::mem::replace(&mut sched.alarm, alarm);
    arm_timer(&sched, hal_thread::current());
    old
}

/// `getitimer(ITIMER_REAL)`: the process's alarm.
pub fn alarm() -> Alarm {
    SCHED.lock().alarm
}

/// Runs the alarm's action if the alarm expired (from the timer interrupt and the
/// idle loop; interrupts disabled, the scheduler's lock not held).
fn fire_alarm() {
    let due = SCHED.lock().take_alarm(time::monotonic_ns());
    if due && let Some(action) = ALARM_ACTION.get() {
        action();
    }
}

/// Makes the code that calls this (the boot flow, about to enter the application) the
/// main thread, tid [`crate::process::PID`], and prepares the idle thread; returns the
/// main thread's slot. [`ThreadError::BadSlot`] if there is no RAM for the tables.
pub fn init_main_thread() -> Result<usize, ThreadError> {
    let mut sched = SCHED.lock();
    let slot = sched
        .add_main(time::monotonic_ns())
        .map_err(|_| ThreadError::BadSlot)?;
    reserve_context(slot).map_err(|_| ThreadError::BadSlot)?;
    hal_thread::init_idle(idle::idle_loop)?;
    hal_thread::start_main(slot)?;
    // The sampling profiler's first deadline (nothing else is pending yet).
    arm_timer(&sched, slot);
    Ok(slot)
}

/// Makes the hal's context table hold `slot`: its storage doubles, from free RAM.
fn reserve_context(slot: usize) -> Result<(), Errno> {
    let capacity = hal_thread::capacity();
    if slot < capacity {
        return Ok(());
    }
    let slots = (slot + 1).max(capacity * 2);
    memory::replace_storage(hal_thread::bytes_for(slots), hal_thread::grow)
}

/// The sampling profiler's next deadline, if it is on (the `profile` module, which
/// this one cannot name: it uses the crash reporter, which uses the scheduler).
static SAMPLER: spin::Once<fn() -> Option<u64>> = spin::Once::new();

/// Makes the timer also fire at `next_deadline()` while a thread runs.
pub fn set_sampler(next_deadline: fn() -> Option<u64>) {
    SAMPLER.call_once(|| next_deadline);
}

/// Programs the timer for thread `next`, which is about to run (or keeps running).
/// The idle thread arms its own deadlines.
fn arm_timer(sched: &Scheduler, next: usize) {
    if next == IDLE {
        apic::disarm();
        return;
    }
    let sampler = SAMPLER.get().and_then(|next| next());
    match sched
        .next_timer()
        .map_or(sampler, |d| Some(sampler.map_or(d, |s| d.min(s))))
    {
        Some(deadline) => {
            apic::arm_at(time::monotonic_to_tsc(deadline));
        }
        None => apic::disarm(),
    }
}

/// The timer interrupted a thread (hal `apic`; interrupts are disabled): if its time
/// slice is over and another thread is runnable, it goes to the back of the queue.
pub fn preempt() {
    let _irq = irq::disable();
    fire_alarm();
    let next = {
        let mut sched = SCHED.lock();
        let now = time::monotonic_ns();
        sched.expire(now);
        let current = hal_thread::current();
        if !sched.should_preempt(now) {
            arm_timer(&sched, current);
            return;
        }
        let next = sched.yield_current(now).unwrap_or(current);
        arm_timer(&sched, next);
        next
    };
    switch(next);
}

/// The calling thread's id.
pub fn current_tid() -> Tid {
    SCHED.lock().current().tid
}

/// The running thread's id, unless the scheduler is locked (crash reports, which may
/// run while it is).
pub fn try_current_tid() -> Option<Tid> {
    SCHED.try_lock().map(|sched| sched.current().tid)
}

/// `set_tid_address`: the word to clear (and wake) when the calling thread exits.
pub fn set_clear_child_tid(address: usize) -> Tid {
    let mut sched = SCHED.lock();
    let thread = sched.current_mut();
    thread.clear_child_tid = address;
    thread.tid
}

/// `set_robust_list`: recorded per thread (not walked at exit: no robust futexes in
/// the shim).
pub fn set_robust_list(head: usize) {
    SCHED.lock().current_mut().robust_list = head;
}

/// `PR_SET_NAME`: the calling thread's name (truncated to 15 bytes, NUL-terminated).
pub fn set_name(name: &[u8]) {
    let mut padded = [0u8; 16];
    let len = name
        .iter()
        .position(|&b| b == 0)
        .unwrap_or(name.len())
        .min(15);
    padded[..len].copy_from_slice(&name[..len]);
    SCHED.lock().current_mut().name = padded;
}

/// `PR_GET_NAME`: the calling thread's name, NUL-padded.
pub fn name() -> [u8; 16] {
    SCHED.lock().current().name
}

/// What a new thread starts with besides the parent's registers.
#[derive(Clone, Copy, Debug)]
pub struct NewThread {
    pub stack_pointer: usize,
    pub fs_base: u64,
    /// `CLONE_CHILD_CLEARTID`: cleared and woken at exit.
    pub clear_child_tid: usize,
}

/// Creates a runnable thread that resumes from a copy of `parent` (`clone`); returns
/// its tid. Other modules keep state per thread under the same slot (signals):
/// `reserve` makes room for the slot first (its failure fails the call), and
/// `publish`, after the thread exists but before it can run, gets its tid and slot;
/// both under the scheduler's lock.
///
/// `EAGAIN` when RAM for the per-thread tables runs out: Linux's `clone` fails so at
/// `threads-max`, its limit derived from RAM.
pub fn spawn(
    parent: &SyscallFrame,
    new: NewThread,
    reserve: impl FnOnce(usize) -> Result<(), Errno>,
    publish: impl FnOnce(Tid, usize),
) -> Result<Tid, Errno> {
    let mut sched = SCHED.lock();
    let slot = sched.free_slot()?;
    sched.reserve(slot).map_err(|_| Errno::EAGAIN)?;
    reserve_context(slot).map_err(|_| Errno::EAGAIN)?;
    reserve(slot).map_err(|_| Errno::EAGAIN)?;
    hal_thread::spawn(slot, parent, new.stack_pointer, new.fs_base).map_err(|err| match err {
        ThreadError::BadStack => Errno::EFAULT,
        ThreadError::BadSlot | ThreadError::WrongState => Errno::EAGAIN,
    })?;
    let tid = sched.add(slot, new.clear_child_tid);
    publish(tid, slot);
    arm_timer(&sched, hal_thread::current());
    Ok(tid)
}

/// Blocks the calling thread with `wait` until it is woken or its deadline passes.
/// `check` runs under the scheduler lock just before the thread is queued (the futex
/// value comparison); its error cancels the wait.
fn block(wait: Wait, check: impl FnOnce() -> Result<(), Errno>) -> Result<Wake, Errno> {
    let _irq = irq::disable();
    let next = {
        let mut sched = SCHED.lock();
        // A signal came while the thread was not waiting: this wait ends at once.
        if core::mem::take(&mut sched.current_mut().interrupted) {
            return Ok(Wake::Interrupted);
        }
        check()?;
        if wait.deadline.is_some_and(|d| d <= time::monotonic_ns()) {
            return Ok(Wake::TimedOut);
        }
        sched.block_current(wait);
        let next = sched.pick_next(time::monotonic_ns());
        arm_timer(&sched, next);
        next
    };
    switch(next);
    Ok(SCHED.lock().current().wake)
}

fn switch(next: usize) {
    if let Err(err) = hal_thread::switch_to(next) {
        kinfo!("scheduler: cannot switch to slot {next}: {err:?}");
        exit::exit(exit::EXIT_DEADLOCK);
    }
}

/// `pause`: blocks the calling thread until [`interrupt`] wakes it (a signal).
pub fn pause() {
    let _ = block(
        Wait {
            futex: None,
            deadline: None,
        },
        || Ok(()),
    );
}

/// A signal for the thread in `slot` is pending: if it waits (futex, sleep, VFS wait,
/// `pause`), the wait ends with [`Wake::Interrupted`]; if not, its next wait does,
/// until [`clear_interrupt`].
pub fn interrupt(slot: usize) {
    let mut sched = SCHED.lock();
    if sched.interrupt(slot) {
        arm_timer(&sched, hal_thread::current());
    }
}

/// The calling thread has no deliverable signal left (its handlers ran): its waits
/// block again.
pub fn clear_interrupt() {
    SCHED.lock().current_mut().interrupted = false;
}

/// CPU time (ns) of thread `tid` (`None`: the calling thread), or `None` if no such
/// thread lives.
pub fn thread_cpu_ns(tid: Option<Tid>) -> Option<u64> {
    let sched = SCHED.lock();
    let slot = match tid {
        None => hal_thread::current(),
        Some(tid) => sched.slot_of(tid)?,
    };
    Some(sched.thread_cpu_ns(slot, time::monotonic_ns()))
}

/// CPU time (ns) of the whole process: every thread, including those that exited.
pub fn process_cpu_ns() -> u64 {
    SCHED.lock().process_cpu_ns(time::monotonic_ns())
}

/// The slot of the live thread `tid`.
pub fn slot_of(tid: Tid) -> Option<usize> {
    SCHED.lock().slot_of(tid)
}

/// Sleeps until `CLOCK_MONOTONIC` reaches `deadline_ns` ([`Wake::TimedOut`]) or a
/// signal interrupts the sleep ([`Wake::Interrupted`]).
pub fn sleep_until(deadline_ns: u64) -> Wake {
    block(
        Wait {
            futex: None,
            deadline: Some(deadline_ns),
        },
        || Ok(()),
    )
    .unwrap_or(Wake::TimedOut)
}

/// `FUTEX_WAIT`: blocks while the word at `address` (the application's) holds
/// `expected`, until a wake whose bitset shares a bit with `bitset`, or the deadline.
pub fn futex_wait(
    address: usize,
    expected: u32,
    bitset: u32,
    deadline_ns: Option<u64>,
) -> Result<Wake, Errno> {
    let read = || uaccess::read_u32(address).map_err(Errno::from);
    futex_wait_on(address, expected, bitset, deadline_ns, read)
}

/// [`futex_wait`] on a word of the kernel's own (the VFS's wait word): read directly,
/// as it is not the application's memory, which is all `uaccess` accepts. Woken by
/// [`futex_wake`] with the word's address.
pub fn futex_wait_kernel(
    word: &'static AtomicU32,
    expected: u32,
    bitset: u32,
    deadline_ns: Option<u64>,
) -> Result<Wake, Errno> {
    let address = word as *const AtomicU32 as usize;
    let read = || Ok(word.load(Ordering::SeqCst));
    futex_wait_on(address, expected, bitset, deadline_ns, read)
}

fn futex_wait_on(
    address: usize,
    expected: u32,
    bitset: u32,
    deadline_ns: Option<u64>,
    read: impl Fn() -> Result<u32, Errno>,
) -> Result<Wake, Errno> {
    let futex = table::FutexWait {
        address,
        expected,
        bitset,
    };
    block(
        Wait {
            futex: Some(futex),
            deadline: deadline_ns,
        },
        || {
            if read()? == expected {
                Ok(())
            } else {
                Err(Errno::EAGAIN)
            }
        },
    )
}

/// `FUTEX_WAKE`: wakes up to `count` waiters on `address` whose bitset matches, oldest
/// first; returns how many.
pub fn futex_wake(address: usize, count: usize, bitset: u32) -> usize {
    let mut sched = SCHED.lock();
    let woken = sched.wake_futex(address, count, bitset);
    if woken > 0 {
        arm_timer(&sched, hal_thread::current());
    }
    woken
}

/// `sched_yield`: lets every other runnable thread run first.
pub fn yield_now() {
    let _irq = irq::disable();
    let next = {
        let mut sched = SCHED.lock();
        match sched.yield_current(time::monotonic_ns()) {
            Some(next) => {
                arm_timer(&sched, next);
                next
            }
            None => return,
        }
    };
    switch(next);
}

/// `exit`: ends the calling thread. Its `clear_child_tid` word is zeroed and woken
/// (what `pthread_join` waits for); the last thread's exit ends the program.
pub fn exit_thread(status: i32) -> ! {
    let _irq = irq::disable();
    let next = {
        let mut sched = SCHED.lock();
        let clear = sched.current().clear_child_tid;
        if clear != 0 && uaccess::copy_to(clear, &0u32.to_ne_bytes()).is_ok() {
            sched.wake_futex(clear, 1, u32::MAX);
        }
        if sched.remove_current(time::monotonic_ns()) == 0 {
            drop(sched);
            crate::process::exit(status);
        }
        let next = sched.pick_next(time::monotonic_ns());
        arm_timer(&sched, next);
        next
    };
    // From here on nothing runs on this thread's stack, which the application may
    // unmap as soon as its joiner runs.
    match hal_thread::exit_to(next) {
        Ok(never) => match never {},
        Err(err) => {
            kinfo!("scheduler: thread exit cannot switch to slot {next}: {err:?}");
            exit::exit(exit::EXIT_DEADLOCK)
        }
    }
}
