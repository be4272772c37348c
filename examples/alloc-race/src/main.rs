//! Allocation racing file churn: one thread allocates and frees many small blocks and
//! asks for a directory's metadata, another creates and removes files in it, for a
//! number of rounds of a fixed length. In the kernel the file system allocates through
//! the same `malloc` as the app, so a thread preempted inside `malloc` while another is
//! inside the file system is the case this exercises (it hung the whole VM once).
//!
//! `alloc-race [ROUNDS] [MILLISECONDS]` (defaults 100 and 100). Prints only counts that
//! do not depend on timing.

use std::fs;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let rounds = args.next().unwrap_or(100);
    let round_ms = args.next().unwrap_or(100);
    let dir = std::env::temp_dir().join("alloc-race");
    fs::create_dir_all(&dir).expect("create the directory");

    let mut rounds_with_progress = 0;
    for round in 0..rounds {
        let stop = Arc::new(AtomicBool::new(false));
        let churn = {
            let stop = Arc::clone(&stop);
            let dir = dir.clone();
            thread::spawn(move || {
                let mut files = 0u64;
                while !stop.load(Ordering::Relaxed) {
                    let path = dir.join(format!("f{}", files % 16));
                    fs::write(&path, vec![round as u8; 64 + (files % 64) as usize])
                        .expect("write a file");
                    fs::remove_file(&path).expect("remove the file");
                    files += 1;
                }
                files
            })
        };
        let deadline = Instant::now() + Duration::from_millis(round_ms);
        let mut allocations = 0u64;
        while Instant::now() < deadline {
            let blocks: Vec<Box<[u8]>> = (0..32)
                .map(|i| vec![i as u8; 16 + i * 24].into_boxed_slice())
                .collect();
            let metadata = fs::metadata(&dir).expect("the directory's metadata");
            assert!(metadata.is_dir());
            allocations += blocks.len() as u64;
        }
        stop.store(true, Ordering::Relaxed);
        let files = churn.join().expect("the churn thread");
        if allocations > 0 && files > 0 {
            rounds_with_progress += 1;
        }
    }
    let left = fs::read_dir(&dir).expect("list the directory").count();
    fs::remove_dir(&dir).expect("remove the directory");
    println!("alloc-race: {rounds} rounds, {rounds_with_progress} with both threads progressing, {left} files left");
}
