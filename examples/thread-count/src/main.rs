//! Starts `N` threads (default 1000) with `STACK_KIB` KiB stacks (default 64), all alive
//! at once (each waits on one `Barrier` after its work), and prints a checksum of
//! their results: the thread count is limited by memory, not by a kernel table.

use std::sync::{Arc, Barrier};
use std::thread;

/// A little deterministic work per thread: an FNV-1a hash over the thread's index and
/// a buffer on its own stack (so the stack is really used).
fn work(index: u64) -> u64 {
    let mut buffer = [0u8; 4096];
    for (i, byte) in buffer.iter_mut().enumerate() {
        *byte = (index as usize).wrapping_mul(31).wrapping_add(i) as u8;
    }
    buffer.iter().fold(0xcbf2_9ce4_8422_2325u64 ^ index, |hash, &b| {
        (hash ^ u64::from(b)).wrapping_mul(0x100_0000_01b3)
    })
}

fn main() {
    let mut args = std::env::args().skip(1);
    let count: u64 = args.next().map_or(1000, |a| a.parse().expect("thread count"));
    let stack_kib: usize = args.next().map_or(64, |a| a.parse().expect("stack KiB"));
    let barrier = Arc::new(Barrier::new(count as usize));
    let handles: Vec<_> = (0..count)
        .map(|index| {
            let barrier = Arc::clone(&barrier);
            thread::Builder::new()
                .stack_size(stack_kib * 1024)
                .spawn(move || {
                    let result = work(index);
                    // Everyone is alive at this point: nobody passes before the last.
                    barrier.wait();
                    result
                })
                .unwrap_or_else(|e| panic!("spawning thread {index}: {e}"))
        })
        .collect();
    let checksum = handles
        .into_iter()
        .map(|handle| handle.join().expect("thread panicked"))
        .fold(0u64, |sum, result| sum.wrapping_add(result));
    println!("threads: {count} with {stack_kib} KiB stacks, all alive at once");
    println!("checksum: {checksum:016x}");
}
