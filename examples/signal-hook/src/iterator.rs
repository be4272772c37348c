//! `iterator`: `signal_hook::iterator::Signals`, whose handlers write a byte to one
//! end of an AF_UNIX socketpair (`send` with `MSG_DONTWAIT`) and whose reader waits on
//! the other end. Signals raised by the reading thread itself are collected with
//! `pending()`; a thread blocked in `forever()` receives signals sent with `raise`,
//! `kill` and `tgkill` from the main thread, one at a time, and ends at SIGTERM.

use std::sync::mpsc;

use signal_hook::consts::{SIGHUP, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::iterator::Signals;
use signal_hook::low_level;

pub fn run() {
    let mut signals = Signals::new([SIGUSR1, SIGUSR2, SIGHUP, SIGTERM]).expect("Signals::new");
    println!(
        "pending before any signal: {:?}",
        signals.pending().collect::<Vec<_>>()
    );
    low_level::raise(SIGUSR2).expect("raise");
    let mut got: Vec<_> = signals.pending().collect();
    got.sort_unstable();
    println!("pending after raise(SIGUSR2): {got:?}");

    let (tx, rx) = mpsc::channel();
    let reader = std::thread::spawn(move || {
        for sig in signals.forever() {
            tx.send(sig).expect("send to main");
            if sig == SIGTERM {
                break;
            }
        }
    });
    low_level::raise(SIGUSR1).expect("raise");
    println!("forever() after raise(SIGUSR1): {}", rx.recv().unwrap());
    // SAFETY: plain system calls on ints.
    unsafe { libc::kill(libc::getpid(), SIGHUP) };
    println!("forever() after kill(SIGHUP): {}", rx.recv().unwrap());
    // SAFETY: as above.
    unsafe { libc::kill(libc::getpid(), SIGTERM) };
    println!("forever() after kill(SIGTERM): {}", rx.recv().unwrap());
    reader.join().expect("reader thread");
    println!("reader ended after SIGTERM, program still running");
}
