//! Stress: many threads hammering a Mutex, a Condvar relay and channels; many small file
//! writes and reads; a large Vec grown element by element. Every result is checked
//! against its closed form and printed, so a lost wake-up, a torn write or a
//! mis-sized reallocation shows up as a difference (or a hang, which the test's timeout
//! turns into a failure).
//!
//! `stress [THREADS] [ROUNDS]` (defaults 8 and 2000).

use std::fs;
use std::io::{Read, Write};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex, mpsc};
use std::thread;

fn main() {
    let mut args = std::env::args()
        .skip(1)
        .map(|a| a.parse::<u64>().expect("a number"));
    let threads = args.next().unwrap_or(8);
    let rounds = args.next().unwrap_or(2000);
    println!("stress: {threads} threads x {rounds} rounds");
    mutex(threads, rounds);
    condvar_relay(threads, rounds / 10);
    channels(threads, rounds);
    files(threads, rounds / 20);
    vec_growth();
    println!("stress: done");
}

/// Every thread adds its id to a shared sum `rounds` times, each under the lock.
fn mutex(threads: u64, rounds: u64) {
    let state = Arc::new(Mutex::new((0u64, 0u64)));
    let start = Arc::new(Barrier::new(threads as usize));
    let handles: Vec<_> = (1..=threads)
        .map(|id| {
            let state = Arc::clone(&state);
            let start = Arc::clone(&start);
            thread::spawn(move || {
                start.wait();
                for _ in 0..rounds {
                    let mut guard = state.lock().unwrap();
                    guard.0 += id;
                    guard.1 += 1;
                    if guard.1 % 64 == 0 {
                        drop(guard);
                        thread::yield_now();
                    }
                }
            })
        })
        .collect();
    for handle in handles {
        handle.join().unwrap();
    }
    let (sum, count) = *state.lock().unwrap();
    let expected = rounds * threads * (threads + 1) / 2;
    println!(
        "mutex: {count} increments, sum {sum}, expected {expected}, ok {}",
        sum == expected && count == rounds * threads
    );
}

/// A token passes around a ring of threads `laps` times; each hand-off is a Condvar
/// wake-up of exactly the next thread.
fn condvar_relay(threads: u64, laps: u64) {
    let ring = Arc::new((Mutex::new(0u64), Condvar::new()));
    let total = laps * threads;
    let handles: Vec<_> = (0..threads)
        .map(|me| {
            let ring = Arc::clone(&ring);
            thread::spawn(move || {
                let (token, turn) = &*ring;
                let mut passes = 0u64;
                let mut held = token.lock().unwrap();
                loop {
                    while *held < total && *held % threads != me {
                        held = turn.wait(held).unwrap();
                    }
                    if *held >= total {
                        return passes;
                    }
                    *held += 1;
                    passes += 1;
                    turn.notify_all();
                }
            })
        })
        .collect();
    let passes: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!(
        "condvar relay: {} hand-offs, each thread {laps}: {}",
        passes.iter().sum::<u64>(),
        passes.iter().all(|&p| p == laps)
    );
}

/// Producers send numbered messages over one mpsc channel and get each echoed back
/// over their own sync_channel(0) (a rendezvous: every echo is a round trip).
fn channels(threads: u64, rounds: u64) {
    let (to_echo, echo_inbox) = mpsc::channel::<(u64, u64, mpsc::SyncSender<u64>)>();
    let echo = thread::spawn(move || {
        let mut served = 0u64;
        for (_, value, reply) in echo_inbox {
            reply.send(value * 2).unwrap();
            served += 1;
        }
        served
    });
    let round_trips = rounds / 4;
    let sums = Arc::new(AtomicU64::new(0));
    let producers: Vec<_> = (0..threads)
        .map(|id| {
            let to_echo = to_echo.clone();
            let sums = Arc::clone(&sums);
            thread::spawn(move || {
                let (reply, replies) = mpsc::sync_channel(0);
                for i in 0..round_trips {
                    to_echo.send((id, i, reply.clone())).unwrap();
                    sums.fetch_add(replies.recv().unwrap(), Ordering::Relaxed);
                }
            })
        })
        .collect();
    drop(to_echo);
    for producer in producers {
        producer.join().unwrap();
    }
    let served = echo.join().unwrap();
    let expected = threads * round_trips * (round_trips - 1);
    let sum = sums.load(Ordering::Relaxed);
    println!(
        "channels: {served} round trips, sum {sum}, expected {expected}, ok {}",
        sum == expected
    );
}

/// Each thread writes, appends to and reads back many small files in its own
/// directory, then removes them.
fn files(threads: u64, per_thread: u64) {
    let root = std::env::temp_dir().join(format!("stress-{}", std::process::id()));
    fs::create_dir_all(&root).unwrap();
    let handles: Vec<_> = (0..threads)
        .map(|id| {
            let dir: PathBuf = root.join(format!("t{id}"));
            thread::spawn(move || {
                fs::create_dir(&dir).unwrap();
                let mut bytes = 0u64;
                for n in 0..per_thread {
                    let path = dir.join(format!("f{n}"));
                    let line = format!("thread {id} file {n}\n");
                    fs::write(&path, &line).unwrap();
                    let mut file = fs::OpenOptions::new().append(true).open(&path).unwrap();
                    file.write_all(line.as_bytes()).unwrap();
                    drop(file);
                    let mut back = String::new();
                    fs::File::open(&path)
                        .unwrap()
                        .read_to_string(&mut back)
                        .unwrap();
                    assert_eq!(back, line.repeat(2), "{}", path.display());
                    bytes += back.len() as u64;
                }
                let listed = fs::read_dir(&dir).unwrap().count() as u64;
                fs::remove_dir_all(&dir).unwrap();
                (listed, bytes)
            })
        })
        .collect();
    let results: Vec<(u64, u64)> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    fs::remove_dir(&root).unwrap();
    let files: u64 = results.iter().map(|r| r.0).sum();
    let bytes: u64 = results.iter().map(|r| r.1).sum();
    println!(
        "files: {files} files listed, {bytes} bytes read back, root removed {}",
        !root.exists()
    );
}

/// A Vec of 8 million u64 grown one push at a time (64 MiB at the end, through some
/// twenty reallocations), then checked.
fn vec_growth() {
    let n = 8usize << 20;
    let mut v = Vec::new();
    for i in 0..n {
        v.push(i as u64 ^ 0x5555);
    }
    let ok = v.iter().enumerate().all(|(i, &x)| x == i as u64 ^ 0x5555);
    println!(
        "vec: {} elements, {} MiB, contents ok {ok}",
        v.len(),
        v.len() * 8 >> 20
    );
}
