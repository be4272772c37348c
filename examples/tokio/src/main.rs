//! A tokio multi-thread runtime without sockets: timers, channels and sync
//! primitives across worker threads, `spawn_blocking`, an `AsyncFd` over a pipe (the
//! epoll-driven I/O driver and its eventfd waker), and a blocking `std::io::pipe`
//! read on another thread, and `tokio::signal::unix` ([`signals`]: the signal
//! driver's AF_UNIX socketpair and `sigaction`).
//!
//! Output is deterministic: results are sorted or summed before printing, and
//! timings are only checked against lower bounds.

mod signals;

use std::io::{Read, Write};
use std::os::fd::AsRawFd;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use tokio::io::Interest;
use tokio::io::unix::AsyncFd;
use tokio::sync::{Mutex, Notify, Semaphore, broadcast, mpsc, oneshot, watch};
use tokio::task::JoinSet;
use tokio::time::{self, Instant};

#[tokio::main(flavor = "multi_thread", worker_threads = 2)]
async fn main() {
    timers().await;
    channels().await;
    sync_primitives().await;
    blocking_pool().await;
    async_pipe().await;
    std_pipe();
    signals::signals().await;
    println!("done");
}

async fn timers() {
    let start = Instant::now();
    time::sleep(Duration::from_millis(20)).await;
    println!(
        "sleep: slept at least 20 ms: {}",
        start.elapsed() >= Duration::from_millis(20)
    );

    let late = time::timeout(
        Duration::from_millis(10),
        time::sleep(Duration::from_secs(60)),
    )
    .await;
    println!("timeout: elapsed: {}", late.is_err());
    let early = time::timeout(Duration::from_secs(60), async { 7 }).await;
    println!("timeout: in time: {early:?}");

    let start = Instant::now();
    let mut interval = time::interval(Duration::from_millis(10));
    for _ in 0..4 {
        interval.tick().await;
    }
    println!(
        "interval: 4 ticks took at least 30 ms: {}",
        start.elapsed() >= Duration::from_millis(30)
    );

    // Sleeps of different lengths on the worker threads; the order they finish in
    // depends on the machine, so only the set is printed.
    let mut set = JoinSet::new();
    for ms in [30u64, 10, 20, 0] {
        set.spawn(async move {
            time::sleep(Duration::from_millis(ms)).await;
            ms
        });
    }
    let mut finished: Vec<u64> = set.join_all().await;
    finished.sort_unstable();
    println!("sleepers: {finished:?}");
}

async fn channels() {
    let (tx, mut rx) = mpsc::channel::<u64>(4);
    for producer in 0..4u64 {
        let tx = tx.clone();
        tokio::spawn(async move {
            for i in 0..100 {
                tx.send(producer * 1000 + i).await.expect("receiver alive");
                if i % 25 == 0 {
                    tokio::task::yield_now().await;
                }
            }
        });
    }
    drop(tx);
    let (mut count, mut sum) = (0, 0);
    while let Some(value) = rx.recv().await {
        count += 1;
        sum += value;
    }
    println!("mpsc: {count} messages, sum {sum}");

    let (tx, rx) = oneshot::channel();
    tokio::spawn(async move {
        time::sleep(Duration::from_millis(5)).await;
        tx.send("pong").expect("receiver alive");
    });
    println!("oneshot: {}", rx.await.expect("sender sent"));

    let (tx, _) = broadcast::channel::<u32>(16);
    let mut receivers = JoinSet::new();
    for _ in 0..3 {
        let mut rx = tx.subscribe();
        receivers.spawn(async move {
            let mut total = 0;
            while let Ok(v) = rx.recv().await {
                total += v;
            }
            total
        });
    }
    for v in 1..=10 {
        tx.send(v).expect("subscribers alive");
    }
    drop(tx);
    println!("broadcast: totals {:?}", receivers.join_all().await);

    let (tx, mut rx) = watch::channel(0u32);
    let watcher = tokio::spawn(async move {
        while rx.changed().await.is_ok() {
            if *rx.borrow_and_update() == 5 {
                return true;
            }
        }
        false
    });
    for v in 1..=5 {
        tx.send(v).expect("watcher alive");
        time::sleep(Duration::from_millis(1)).await;
    }
    println!(
        "watch: saw the last value: {}",
        watcher.await.expect("watcher ran")
    );
}

async fn sync_primitives() {
    let counter = Arc::new(Mutex::new(0u32));
    let mut set = JoinSet::new();
    for _ in 0..8 {
        let counter = Arc::clone(&counter);
        set.spawn(async move {
            for _ in 0..50 {
                *counter.lock().await += 1;
                tokio::task::yield_now().await;
            }
        });
    }
    set.join_all().await;
    println!("mutex: {}", *counter.lock().await);

    let permits = Arc::new(Semaphore::new(2));
    let busy = Arc::new(AtomicUsize::new(0));
    let most = Arc::new(AtomicUsize::new(0));
    let mut set = JoinSet::new();
    for _ in 0..6 {
        let (permits, busy, most) = (Arc::clone(&permits), Arc::clone(&busy), Arc::clone(&most));
        set.spawn(async move {
            let _permit = permits.acquire().await.expect("semaphore open");
            let now = busy.fetch_add(1, Ordering::SeqCst) + 1;
            most.fetch_max(now, Ordering::SeqCst);
            time::sleep(Duration::from_millis(2)).await;
            busy.fetch_sub(1, Ordering::SeqCst);
        });
    }
    set.join_all().await;
    println!("semaphore: at most {} holders", most.load(Ordering::SeqCst));

    let notify = Arc::new(Notify::new());
    let waiter = {
        let notify = Arc::clone(&notify);
        tokio::spawn(async move {
            notify.notified().await;
            "notified"
        })
    };
    time::sleep(Duration::from_millis(5)).await;
    notify.notify_one();
    println!("notify: {}", waiter.await.expect("waiter ran"));
}

async fn blocking_pool() {
    let mut handles = Vec::new();
    for i in 0..6u64 {
        handles.push(tokio::task::spawn_blocking(move || {
            std::thread::sleep(Duration::from_millis(5));
            (1..=1000u64).map(|x| x * i).sum::<u64>()
        }));
    }
    let mut total = 0;
    for handle in handles {
        total += handle.await.expect("blocking task ran");
    }
    println!("spawn_blocking: total {total}");

    // A blocking task waiting on a std channel fed from async code.
    let (tx, rx) = std::sync::mpsc::channel::<u32>();
    let consumer = tokio::task::spawn_blocking(move || rx.iter().sum::<u32>());
    for v in 1..=20 {
        tx.send(v).expect("consumer alive");
        if v % 5 == 0 {
            time::sleep(Duration::from_millis(1)).await;
        }
    }
    drop(tx);
    println!(
        "spawn_blocking: channel sum {}",
        consumer.await.expect("consumer ran")
    );
}

/// Sets `O_NONBLOCK`, as `AsyncFd` requires; through `ioctl(FIONBIO)`, so the example
/// needs no `libc` dependency of its own: std's `UnixStream` is not available without
/// sockets, and pipes have no `set_nonblocking`.
fn set_nonblocking(fd: &impl AsRawFd) {
    unsafe extern "C" {
        fn ioctl(fd: i32, request: u64, ...) -> i32;
    }
    const FIONBIO: u64 = 0x5421;
    let on: i32 = 1;
    // SAFETY: FIONBIO reads one int from the pointer, which is valid for the call.
    let rc = unsafe { ioctl(fd.as_raw_fd(), FIONBIO, &on as *const i32) };
    assert_eq!(rc, 0, "ioctl(FIONBIO) failed");
}

async fn async_pipe() {
    let (reader, mut writer) = std::io::pipe().expect("pipe");
    set_nonblocking(&reader);
    // SAFETY: the `PipeReader` owns its descriptor and nothing closes or replaces it
    // while the `AsyncFd` holds it.
    let reader = unsafe { AsyncFd::register_with_interest(reader, Interest::READABLE) }
        .expect("register the pipe with epoll");

    // The writer is another task that sleeps between writes, so the reader really
    // waits for epoll to report the pipe readable.
    let writer_task = tokio::spawn(async move {
        for chunk in 0..5u8 {
            time::sleep(Duration::from_millis(3)).await;
            writer.write_all(&[chunk; 100]).expect("write to the pipe");
        }
    });

    let mut received = Vec::new();
    let mut buf = [0u8; 64];
    loop {
        let mut guard = reader.readable().await.expect("readable");
        match guard.try_io(|inner| {
            let mut pipe: &std::io::PipeReader = inner.get_ref();
            pipe.read(&mut buf)
        }) {
            Ok(Ok(0)) => break,
            Ok(Ok(n)) => received.extend_from_slice(&buf[..n]),
            Ok(Err(err)) => panic!("pipe read failed: {err}"),
            Err(_would_block) => continue,
        }
    }
    writer_task.await.expect("writer ran");
    let sum: u32 = received.iter().map(|&b| u32::from(b)).sum();
    println!("AsyncFd pipe: {} bytes, byte sum {sum}", received.len());
}

/// A blocking `std::io::pipe` read on another thread: the reader blocks until the
/// writer, which sleeps first, writes; a large write blocks until the reader drains it.
fn std_pipe() {
    let (mut reader, mut writer) = std::io::pipe().expect("pipe");
    let reading = std::thread::spawn(move || {
        let mut first = [0u8; 5];
        reader.read_exact(&mut first).expect("read the greeting");
        let mut rest = Vec::new();
        reader.read_to_end(&mut rest).expect("read to end of file");
        (first, rest)
    });
    std::thread::sleep(Duration::from_millis(20));
    writer.write_all(b"hello").expect("write the greeting");
    // Four times the pipe's capacity: the writer blocks until the reader catches up.
    let big: Vec<u8> = (0..256 * 1024).map(|i: u32| (i % 251) as u8).collect();
    writer.write_all(&big).expect("write the bulk");
    drop(writer);
    let (first, rest) = reading.join().expect("reader thread");
    let sum: u64 = rest.iter().map(|&b| u64::from(b)).sum();
    println!(
        "std pipe: {:?}, then {} bytes, byte sum {sum}, equal: {}",
        std::str::from_utf8(&first).expect("utf-8"),
        rest.len(),
        rest == big
    );
}
