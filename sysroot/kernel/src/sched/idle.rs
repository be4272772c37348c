//! The idle thread: what the CPU does when no thread can run.
//!
//! It polls the network stack through a hook (installed by the first socket, so
//! programs that open none carry no call into it), fires the alarm, runs whatever
//! became runnable; otherwise it arms the APIC timer for the earliest deadline (a
//! sleeper's, the alarm's or the poll's) and halts until an interrupt, or, when
//! nothing could ever wake a thread, reports the deadlock and stops the program.

use unikernel_hal::{apic, exit, irq, uaccess};

use super::table::{State, Thread, Wait};
use super::{SCHED, arm_timer, fire_alarm, switch};
use crate::log::kinfo;
use crate::time;

/// When the idle loop's poll wants to run again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PollAgain {
    /// At this time (`CLOCK_MONOTONIC` ns), or at an interrupt before.
    At(u64),
    /// At the next interrupt (a device's): no deadline, yet not a deadlock.
    OnInterrupt,
}

/// A poll the idle loop runs before it looks for work (the network stack's, installed
/// by its first socket): it gets the time (`CLOCK_MONOTONIC` ns). A hook rather than
/// a call keeps the network out of programs that open no socket.
static IDLE_POLL: spin::Once<fn(u64) -> PollAgain> = spin::Once::new();

/// Installs the idle loop's poll (once; later calls are ignored).
pub fn set_idle_poll(poll: fn(u64) -> PollAgain) {
    IDLE_POLL.call_once(|| poll);
}

/// The idle thread: runs whatever becomes runnable; otherwise sleeps until the next
/// deadline, or reports a deadlock.
pub(super) fn idle_loop() -> ! {
    loop {
        let _irq = irq::disable();
        fire_alarm();
        // Before the scheduler's lock: the poll may wake threads.
        let poll_again = IDLE_POLL.get().map(|poll| poll(time::monotonic_ns()));
        let mut sched = SCHED.lock();
        let now = time::monotonic_ns();
        sched.expire(now);
        if let Some(next) = sched.pop_runnable(now) {
            arm_timer(&sched, next);
            drop(sched);
            switch(next);
            continue;
        }
        let deadline = match (sched.earliest_deadline(), poll_again) {
            (Some(a), Some(PollAgain::At(b))) => Some(a.min(b)),
            (None, Some(PollAgain::At(b))) => Some(b),
            (a, _) => a,
        };
        match deadline {
            None if poll_again == Some(PollAgain::OnInterrupt) => {
                // Only a device can make work: sleep until it interrupts.
                drop(sched);
                apic::disarm();
                irq::wait_for_interrupt();
            }
            Some(deadline) => {
                drop(sched);
                if apic::arm_at(time::monotonic_to_tsc(deadline)) {
                    irq::wait_for_interrupt();
                    apic::disarm();
                } else {
                    core::hint::spin_loop();
                }
            }
            None => {
                report_deadlock(sched.threads());
                drop(sched);
                exit::exit(exit::EXIT_DEADLOCK);
            }
        }
    }
}

fn report_deadlock<'a>(threads: impl Iterator<Item = &'a Thread>) {
    kinfo!("deadlock: every thread is blocked and no timeout is pending; nothing can wake them");
    for thread in threads {
        if let State::Blocked(Wait {
            futex: None,
            deadline: None,
        }) = thread.state
        {
            kinfo!("  thread {} waits for a signal (pause)", thread.tid);
        }
        if let State::Blocked(Wait {
            futex: Some(futex), ..
        }) = thread.state
        {
            let (tid, address, expected) = (thread.tid, futex.address, futex.expected);
            // The word may be the kernel's own (the VFS's), which `read_u32` refuses.
            match uaccess::peek_u32(address) {
                Ok(value) => kinfo!(
                    "  thread {tid} waits on futex {address:#x} (expected {expected}, holds {value})"
                ),
                Err(_) => kinfo!(
                    "  thread {tid} waits on futex {address:#x} (expected {expected}, unreadable)"
                ),
            }
        }
    }
}
