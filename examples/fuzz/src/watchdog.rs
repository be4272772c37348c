//! The hang detector: each thread records the call it is about to make; the main
//! thread checks, once a second, that every unfinished thread has moved on since, and
//! if one has been in the same call for too long (no call the fuzzer makes may wait
//! more than about a millisecond) it prints that call with its arguments and ends the
//! program with exit code 3, so a hang names its call instead of running into the
//! runner's timeout.

use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering::Relaxed};
use std::time::{Duration, Instant};

use crate::calls::Call;

/// Exit code of a run that hung in a system call.
pub const HUNG: i32 = 3;

#[derive(Debug, Default)]
struct Slot {
    /// Calls started (the current one included).
    started: AtomicU64,
    call: AtomicUsize,
    args: [AtomicUsize; 6],
    done: AtomicBool,
}

/// What every thread is doing.
#[derive(Debug)]
pub struct Progress(Vec<Slot>);

impl Progress {
    pub fn new(threads: usize) -> Progress {
        Progress((0..threads).map(|_| Slot::default()).collect())
    }

    /// Thread `thread` is about to make call `call` (its index in the table).
    pub fn before(&self, thread: usize, call: usize, args: &[usize; 6]) {
        let slot = &self.0[thread];
        slot.call.store(call, Relaxed);
        for (to, &from) in slot.args.iter().zip(args) {
            to.store(from, Relaxed);
        }
        slot.started.fetch_add(1, Relaxed);
    }

    pub fn finished(&self, thread: usize) {
        self.0[thread].done.store(true, Relaxed);
    }

    /// Returns once every thread finished; exits with [`HUNG`] if one stays in one
    /// call for `limit`.
    pub fn watch(&self, table: &[&Call], limit: Duration) {
        let mut seen: Vec<(u64, Instant)> = self.0.iter().map(|_| (0, Instant::now())).collect();
        loop {
            std::thread::sleep(Duration::from_millis(200));
            let mut running = false;
            for (thread, (slot, seen)) in self.0.iter().zip(&mut seen).enumerate() {
                if slot.done.load(Relaxed) {
                    continue;
                }
                running = true;
                let started = slot.started.load(Relaxed);
                if started != seen.0 {
                    *seen = (started, Instant::now());
                } else if seen.1.elapsed() > limit {
                    let args: Vec<String> = slot
                        .args
                        .iter()
                        .map(|a| format!("{:#x}", a.load(Relaxed)))
                        .collect();
                    println!(
                        "hang: thread {thread} call {}: {}({}) has not returned for {limit:?}",
                        started - 1,
                        table[slot.call.load(Relaxed)].name,
                        args.join(", ")
                    );
                    std::process::exit(HUNG);
                }
            }
            if !running {
                return;
            }
        }
    }
}
