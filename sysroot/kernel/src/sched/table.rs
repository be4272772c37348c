//! The thread table: per-thread kernel state and the scheduling decisions on it.
//! Pure bookkeeping; the switches themselves happen in `sched` after the lock is
//! dropped.
//!
//! The table is indexed by slot and grows on demand in RAM the memory manager gives
//! (`memory::grow_table`): it is as long as the highest slot ever used, and freed
//! slots are reused, lowest first.

use unikernel_hal::page_vec::PageVec;
use unikernel_hal::thread::{self as hal_thread, IDLE};

use super::queue::{END, Linked, RunQueue};
use crate::errno::Errno;
use crate::process::PID;

/// Most slots the table may have: Linux's ceiling on `threads-max` (`FUTEX_TID_MASK`,
/// `kernel/fork.c`), far beyond what RAM holds; below it, memory is the only limit.
const MAX_SLOTS: usize = 0x3fff_ffff;
const _: () = assert!(MAX_SLOTS < END as usize);

/// Why a blocked thread runs again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Wake {
    /// A futex wake named it.
    Woken,
    /// Its deadline passed.
    TimedOut,
    /// A signal for it is pending: the wait ends (`EINTR`) so that its handler runs.
    Interrupted,
}

/// A thread id (Linux `pid_t` of a task).
pub type Tid = u32;

/// The futex a thread waits on.
#[derive(Clone, Copy, Debug)]
pub(super) struct FutexWait {
    pub address: usize,
    pub expected: u32,
    pub bitset: u32,
}

/// What a blocked thread waits for.
#[derive(Clone, Copy, Debug)]
pub(super) struct Wait {
    pub futex: Option<FutexWait>,
    /// `CLOCK_MONOTONIC` nanoseconds.
    pub deadline: Option<u64>,
}

#[derive(Clone, Copy, Debug)]
pub(super) enum State {
    Free,
    Running,
    Runnable,
    Blocked(Wait),
}

#[derive(Clone, Copy, Debug)]
pub(super) struct Thread {
    pub tid: Tid,
    pub state: State,
    /// `CLONE_CHILD_CLEARTID` / `set_tid_address`.
    pub clear_child_tid: usize,
    /// `set_robust_list` (recorded only).
    pub robust_list: usize,
    /// Why the thread last woke up.
    pub wake: Wake,
    /// `prctl(PR_SET_NAME)`: up to 15 bytes and a NUL (Linux's `TASK_COMM_LEN`).
    pub name: [u8; 16],
    /// Order of blocking, so futex wakes go to the oldest waiter first.
    wait_order: u64,
    /// A signal for it came while it was not blocked: its next wait ends at once
    /// (cleared by that, or once its handlers ran).
    pub interrupted: bool,
    /// Nanoseconds it ran, up to the last scheduling decision ([`Scheduler::account`]).
    cpu_ns: u64,
    /// The slot after it in the run queue, while queued.
    next_queued: u32,
}

impl Linked for Thread {
    fn next_queued(&mut self) -> &mut u32 {
        &mut self.next_queued
    }
}

impl Thread {
    const FREE: Thread = Thread {
        tid: 0,
        state: State::Free,
        clear_child_tid: 0,
        robust_list: 0,
        wake: Wake::Woken,
        name: [0; 16],
        wait_order: 0,
        interrupted: false,
        cpu_ns: 0,
        next_queued: END,
    };
}

#[derive(Debug)]
pub(super) struct Scheduler {
    /// By slot, up to the highest slot ever used: the scans over the table
    /// (deadlines, futex waiters, tids) cost what the program's thread count costs.
    threads: PageVec<Thread>,
    run_queue: RunQueue,
    /// No slot below this one is free (where the search for a free slot starts).
    first_free: usize,
    next_tid: Tid,
    live: usize,
    waits: u64,
    /// `CLOCK_MONOTONIC` time at which the running thread's time slice ends.
    slice_end: u64,
    /// The process's real-time interval timer (`ITIMER_REAL`, `alarm`).
    pub alarm: Alarm,
    /// When the running thread (or the idle thread) started running.
    running_since: u64,
    /// CPU time of the threads that exited (the process's clock counts them).
    exited_cpu_ns: u64,
}

/// `ITIMER_REAL`: when it next expires (`CLOCK_MONOTONIC` ns) and the period after
/// that (0: one shot).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Alarm {
    pub deadline: Option<u64>,
    pub interval: u64,
}

/// How long a thread runs while others are runnable before the timer preempts it.
pub(super) const TIME_SLICE_NS: u64 = 10_000_000;

/// The main thread's slot (slot 0 is the idle thread).
const MAIN_SLOT: usize = 1;

impl Scheduler {
    pub(super) const fn new() -> Scheduler {
        Scheduler {
            threads: PageVec::new(),
            run_queue: RunQueue::new(),
            first_free: MAIN_SLOT + 1,
            next_tid: PID as Tid + 1,
            live: 0,
            waits: 0,
            slice_end: 0,
            alarm: Alarm {
                deadline: None,
                interval: 0,
            },
            running_since: 0,
            exited_cpu_ns: 0,
        }
    }

    /// Records the main thread (tid = pid, as on Linux); returns its slot.
    pub(super) fn add_main(&mut self, now: u64) -> Result<usize, Errno> {
        self.reserve(MAIN_SLOT)?;
        self.table_mut()[MAIN_SLOT] = Thread {
            tid: PID as Tid,
            state: State::Running,
            ..Thread::FREE
        };
        self.slice_end = now.saturating_add(TIME_SLICE_NS);
        self.running_since = now;
        self.live += 1;
        Ok(MAIN_SLOT)
    }

    fn table(&self) -> &[Thread] {
        self.threads.as_slice()
    }

    fn table_mut(&mut self) -> &mut [Thread] {
        self.threads.as_mut_slice()
    }

    /// Charges the running thread (not the idle thread) with the time since it
    /// started running or was last charged. Runs at every scheduling decision, before
    /// the running thread may change, so each thread's count is the time it ran.
    fn account(&mut self, now: u64) {
        let current = hal_thread::current();
        let ran = now.saturating_sub(self.running_since);
        self.running_since = now;
        if current != IDLE
            && let Some(thread) = self.table_mut().get_mut(current)
            && !matches!(thread.state, State::Free)
        {
            thread.cpu_ns += ran;
        }
    }

    /// CPU time of the thread in `slot` (`CLOCK_THREAD_CPUTIME_ID`), up to `now`.
    pub(super) fn thread_cpu_ns(&self, slot: usize, now: u64) -> u64 {
        let running = if slot == hal_thread::current() {
            now.saturating_sub(self.running_since)
        } else {
            0
        };
        self.table()[slot].cpu_ns + running
    }

    /// CPU time of every thread, live or exited (`CLOCK_PROCESS_CPUTIME_ID`).
    pub(super) fn process_cpu_ns(&self, now: u64) -> u64 {
        let live: u64 = self.table().iter().map(|t| t.cpu_ns).sum();
        let current = hal_thread::current();
        let running = if current == IDLE {
            0
        } else {
            now.saturating_sub(self.running_since)
        };
        self.exited_cpu_ns + live + running
    }

    pub(super) fn current(&self) -> &Thread {
        &self.table()[hal_thread::current()]
    }

    pub(super) fn current_mut(&mut self) -> &mut Thread {
        &mut self.table_mut()[hal_thread::current()]
    }

    pub(super) fn threads(&self) -> impl Iterator<Item = &Thread> {
        self.table()
            .iter()
            .filter(|t| !matches!(t.state, State::Free))
    }

    /// The lowest free slot (one past the table's end if none is free), to
    /// [`reserve`](Self::reserve) and [`add`](Self::add) a thread in; `EAGAIN` at
    /// [`MAX_SLOTS`].
    pub(super) fn free_slot(&mut self) -> Result<usize, Errno> {
        let start = self.first_free.max(MAIN_SLOT + 1);
        let slot = self.table()[start.min(self.threads.len())..]
            .iter()
            .position(|t| matches!(t.state, State::Free))
            .map_or(self.threads.len().max(start), |i| start + i);
        self.first_free = slot;
        if slot >= MAX_SLOTS {
            return Err(Errno::EAGAIN);
        }
        Ok(slot)
    }

    /// Makes the table long enough to hold `slot`, growing it from free RAM;
    /// `ENOMEM` when RAM runs out.
    pub(super) fn reserve(&mut self, slot: usize) -> Result<(), Errno> {
        crate::memory::grow_table(&mut self.threads, slot + 1, || Thread::FREE)
    }

    /// Records a new runnable thread in `slot`; returns its tid.
    pub(super) fn add(&mut self, slot: usize, clear_child_tid: usize) -> Tid {
        let tid = self.next_tid;
        // Like Linux's `comm`, a new thread starts with its creator's name.
        let name = self.current().name;
        // Thread ids are never reused while the program runs (2^31 creations).
        self.next_tid = self.next_tid.wrapping_add(1).max(PID as Tid + 1) & 0x7fff_ffff;
        self.table_mut()[slot] = Thread {
            tid,
            state: State::Runnable,
            clear_child_tid,
            name,
            ..Thread::FREE
        };
        self.run_queue.push(self.threads.as_mut_slice(), slot);
        self.live += 1;
        tid
    }

    /// Frees the running thread's entry; returns how many threads are left.
    pub(super) fn remove_current(&mut self, now: u64) -> usize {
        self.account(now);
        self.exited_cpu_ns += self.current().cpu_ns;
        *self.current_mut() = Thread::FREE;
        self.first_free = self.first_free.min(hal_thread::current());
        self.live -= 1;
        self.live
    }

    fn make_runnable(&mut self, slot: usize, wake: Wake) {
        let thread = &mut self.table_mut()[slot];
        thread.state = State::Runnable;
        thread.wake = wake;
        self.run_queue.push(self.threads.as_mut_slice(), slot);
    }

    pub(super) fn block_current(&mut self, wait: Wait) {
        self.waits += 1;
        let order = self.waits;
        let thread = self.current_mut();
        thread.state = State::Blocked(wait);
        thread.wait_order = order;
    }

    /// Wakes every thread whose deadline is at or before `now`.
    pub(super) fn expire(&mut self, now: u64) {
        for slot in 0..self.threads.len() {
            if let State::Blocked(Wait {
                deadline: Some(deadline),
                ..
            }) = self.table()[slot].state
                && deadline <= now
            {
                self.make_runnable(slot, Wake::TimedOut);
            }
        }
    }

    /// The earliest sleeper's deadline or the alarm's, whichever comes first.
    pub(super) fn earliest_deadline(&self) -> Option<u64> {
        self.table()
            .iter()
            .filter_map(|t| match t.state {
                State::Blocked(Wait { deadline, .. }) => deadline,
                _ => None,
            })
            .chain(self.alarm.deadline)
            .min()
    }

    /// `true` if the alarm expired by `now`; it is re-armed one period later (a
    /// period missed meanwhile is skipped: a pending signal is one bit anyway), or
    /// disarmed.
    pub(super) fn take_alarm(&mut self, now: u64) -> bool {
        match self.alarm.deadline {
            Some(deadline) if deadline <= now => {
                self.alarm.deadline = (self.alarm.interval > 0).then(|| {
                    let missed = (now - deadline) / self.alarm.interval;
                    deadline + (missed + 1) * self.alarm.interval
                });
                true
            }
            _ => false,
        }
    }

    /// Takes the next runnable thread off the queue and marks it running; its time
    /// slice starts at `now`.
    pub(super) fn pop_runnable(&mut self, now: u64) -> Option<usize> {
        self.account(now);
        let slot = self.run_queue.pop(self.threads.as_mut_slice())?;
        self.table_mut()[slot].state = State::Running;
        self.slice_end = now.saturating_add(TIME_SLICE_NS);
        Some(slot)
    }

    /// When the timer must next interrupt the thread about to run (not the idle
    /// thread): at the end of its slice if another thread is waiting to run, or at
    /// the earliest sleeper's deadline; `None` if neither.
    pub(super) fn next_timer(&self) -> Option<u64> {
        let slice = (!self.run_queue.is_empty()).then_some(self.slice_end);
        match (slice, self.earliest_deadline()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// `true` if the running thread's slice is over and another thread can run.
    pub(super) fn should_preempt(&self, now: u64) -> bool {
        !self.run_queue.is_empty() && now >= self.slice_end
    }

    /// The thread to run after the current one stopped running: the next runnable
    /// one, else the idle thread.
    pub(super) fn pick_next(&mut self, now: u64) -> usize {
        self.account(now);
        self.expire(now);
        self.pop_runnable(now).unwrap_or(IDLE)
    }

    /// Requeues the running thread behind the others; the thread to switch to, or
    /// `None` if nothing else is runnable.
    pub(super) fn yield_current(&mut self, now: u64) -> Option<usize> {
        self.account(now);
        self.expire(now);
        if self.run_queue.is_empty() {
            return None;
        }
        let current = hal_thread::current();
        if current != IDLE {
            self.make_runnable(current, Wake::Woken);
        }
        self.pop_runnable(now)
    }

    /// A signal for the thread in `slot` is pending: a blocked thread runs again
    /// (`Wake::Interrupted`); any other live one has its next wait end at once. `true`
    /// if a thread was made runnable.
    pub(super) fn interrupt(&mut self, slot: usize) -> bool {
        let Some(thread) = self.table_mut().get_mut(slot) else {
            return false;
        };
        match thread.state {
            State::Blocked(_) => {
                self.make_runnable(slot, Wake::Interrupted);
                true
            }
            State::Running | State::Runnable => {
                thread.interrupted = true;
                false
            }
            State::Free => false,
        }
    }

    /// The slot of the live thread `tid`.
    pub(super) fn slot_of(&self, tid: Tid) -> Option<usize> {
        self.table().iter().enumerate().position(|(slot, thread)| {
            slot != IDLE && thread.tid == tid && !matches!(thread.state, State::Free)
        })
    }

    /// Wakes up to `count` (at least one, as Linux) waiters on `address` whose bitset
    /// shares a bit with `bitset`, oldest first.
    pub(super) fn wake_futex(&mut self, address: usize, count: usize, bitset: u32) -> usize {
        let mut woken = 0;
        while woken < count.max(1) {
            let oldest = self
                .table()
                .iter()
                .enumerate()
                .filter_map(|(slot, thread)| match thread.state {
                    State::Blocked(Wait { futex: Some(f), .. })
                        if f.address == address && f.bitset & bitset != 0 =>
                    {
                        Some((thread.wait_order, slot))
                    }
                    _ => None,
                })
                .min();
            let Some((_, slot)) = oldest else { break };
            self.make_runnable(slot, Wake::Woken);
            woken += 1;
        }
        woken
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_shot_alarm_fires_once() {
        let mut sched = Scheduler::new();
        sched.alarm = Alarm {
            deadline: Some(1_000),
            interval: 0,
        };
        assert_eq!(sched.earliest_deadline(), Some(1_000));
        assert!(!sched.take_alarm(999));
        assert!(sched.take_alarm(1_000));
        assert_eq!(sched.alarm.deadline, None);
        assert!(!sched.take_alarm(5_000));
        assert_eq!(sched.earliest_deadline(), None);
    }

    #[test]
    fn periodic_alarm_rearms_and_skips_missed_periods() {
        let mut sched = Scheduler::new();
        sched.alarm = Alarm {
            deadline: Some(1_000),
            interval: 100,
        };
        assert!(sched.take_alarm(1_010));
        assert_eq!(sched.alarm.deadline, Some(1_100));
        // Three periods late: one signal, the next deadline still on the grid.
        assert!(sched.take_alarm(1_350));
        assert_eq!(sched.alarm.deadline, Some(1_400));
    }
}
