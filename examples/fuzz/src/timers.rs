//! The timer signals: `alarm` and `setitimer` (fuzzed in `calls::timer`) arm timers
//! whose signals (SIGALRM, and natively SIGVTALRM and SIGPROF) would end the program
//! by their default action. [`catch`] installs, before any call, a handler that only
//! counts them, with `SA_RESTART` (libc's `signal`): a timer firing then interrupts
//! only the calls that never restart (sleeps, waits: `EINTR`, which their tables
//! allow) at random points of the run, and the run reports how many it caught. No
//! fuzzed call changes these signals' actions (`calls::task`).

use std::sync::atomic::{AtomicU64, Ordering};

const SIGALRM: i32 = 14;
const SIGVTALRM: i32 = 26;
const SIGPROF: i32 = 27;
/// libc's `SIG_ERR`.
const SIG_ERR: usize = usize::MAX;

static CAUGHT: AtomicU64 = AtomicU64::new(0);

unsafe extern "C" {
    fn signal(signal: i32, handler: usize) -> usize;
}

extern "C" fn count(_signal: i32) {
    CAUGHT.fetch_add(1, Ordering::Relaxed);
}

/// Installs the counting handler for the timer signals.
pub fn catch() {
    for number in [SIGALRM, SIGVTALRM, SIGPROF] {
        // SAFETY: `count` is async-signal-safe (one atomic add).
        let old = unsafe { signal(number, count as extern "C" fn(i32) as usize) };
        assert_ne!(old, SIG_ERR, "signal({number})");
    }
}

/// Timer signals caught so far.
pub fn caught() -> u64 {
    CAUGHT.load(Ordering::Relaxed)
}
