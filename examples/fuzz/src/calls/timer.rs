//! The interval timers: `alarm`, `getitimer`, `setitimer`. Their signals are caught
//! and counted (`crate::timers`), so any timer may fire during the run; to keep the
//! run making progress, a periodic timer repeats at most every millisecond (a shorter
//! period would spend the run in the handler), and a first expiry is at most a few
//! seconds away or never comes within the run (`alarm` of hours or more).

use super::Call;
use crate::args::{Gen, Prepared};
use crate::errno::*;

/// getitimer(2)'s ERRORS (setitimer's are the same).
const ITIMER: &[i32] = &[EFAULT, EINVAL];
/// Timers: ITIMER_REAL (SIGALRM), ITIMER_VIRTUAL and ITIMER_PROF (CPU time:
/// SIGVTALRM, SIGPROF), and invalid ones.
const WHICH: [usize; 8] = [0, 0, 0, 1, 2, 3, usize::MAX, (1 << 32) | 5];

/// A `struct timeval`: zero, under a millisecond (a first expiry that comes before
/// the next call rearms the timer), up to a few seconds, or invalid (negative,
/// microseconds out of range).
fn timeval(g: &mut Gen) -> [u64; 2] {
    match g.below(8) {
        0 | 1 => [0, 0],
        2 => [0, 1_000_000],
        3 => [u64::MAX, 0],
        4 => [0, u64::MAX],
        5 => [g.below(3), g.below(1_000_000)],
        6 => [0, 1 + g.below(999)],
        _ => [0, 1000 + g.below(999_000)],
    }
}

/// A `struct itimerval { it_interval, it_value }` (private), or a bad pointer.
fn itimerval(g: &mut Gen) -> usize {
    match g.below(6) {
        0 => 0,
        1 => g.bad_pointer(),
        _ => {
            // A period is at least a millisecond (see the module's docs).
            let interval = match timeval(g) {
                [0, usec] if usec < 1000 => [0, 0],
                other if g.one_in(3) => other,
                _ => [0, 0],
            };
            let value = timeval(g);
            g.place(&[interval[0], interval[1], value[0], value[1]])
        }
    }
}

pub const CALLS: &[Call] = &[
    Call {
        name: "getitimer",
        number: 36,
        errnos: &[ITIMER],
        make: |g| Prepared::new(&[g.pick(&WHICH), g.out_pointer()]),
    },
    Call {
        name: "alarm",
        number: 37,
        // alarm(2): "No error".
        errnos: &[],
        make: |g| {
            let seconds = g.pick(&[0, 0, 1, 2, 3600, u32::MAX as usize, (1 << 32) | 1]);
            Prepared::new(&[seconds])
        },
    },
    Call {
        name: "setitimer",
        number: 38,
        errnos: &[ITIMER],
        make: |g| {
            let which = g.pick(&WHICH);
            let new = itimerval(g);
            let old = if g.one_in(3) { 0 } else { g.out_pointer() };
            Prepared::new(&[which, new, old])
        },
    },
];
