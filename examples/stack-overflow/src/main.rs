//! Recurses without end: on Linux std's SIGSEGV handler prints "thread '...' has
//! overflowed its stack" and aborts (SIGABRT, status 134). In the unikernel the same
//! handler runs and prints the same, after the kernel's report of the guard-page hit
//! naming `recurse`; status 134 too.
//!
//! With no argument the main thread overflows; with `thread`, a thread named `deep`.

use std::hint::black_box;

/// One kilobyte of stack per level; never inlined and not a tail call, so each level
/// is a real frame that the crash report can name.
#[inline(never)]
fn recurse(depth: u64) -> u64 {
    let mut frame = [0u8; 1024];
    frame[0] = depth as u8;
    black_box(&mut frame);
    if depth == u64::MAX {
        return 0;
    }
    recurse(depth + 1).wrapping_add(u64::from(frame[0]))
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        None => {
            println!("recursing on thread 'main'");
            println!("unreachable: {}", recurse(0));
        }
        Some("thread") => {
            println!("recursing on thread 'deep'");
            let worker = std::thread::Builder::new().name("deep".into()).spawn(|| recurse(0));
            let result = worker.expect("spawn").join();
            println!("unreachable: {result:?}");
        }
        Some(other) => {
            eprintln!("usage: stack-overflow [thread] (got {other:?})");
            std::process::exit(2);
        }
    }
}
