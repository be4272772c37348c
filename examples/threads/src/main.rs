//! Threads: spawn/join with results, a Mutex counter, a Condvar ping-pong, mpsc channels
//! with several producers, a Barrier, thread_local! destructors, thread names and
//! `thread::scope`. Only order-independent results are printed.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Barrier, Condvar, Mutex, mpsc};
use std::thread;

fn main() {
    spawn_join();
    mutex_counter();
    condvar_ping_pong();
    channels();
    barrier();
    thread_locals();
    names();
    scoped();
    println!("threads: done");
}

fn spawn_join() {
    let handles: Vec<_> = (1..=4u64)
        .map(|i| thread::spawn(move || (1..=i * 10).sum::<u64>()))
        .collect();
    let sums: Vec<u64> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    println!("spawn/join: {sums:?}");
}

fn mutex_counter() {
    let counter = Arc::new(Mutex::new(0u32));
    let handles: Vec<_> = (0..8)
        .map(|_| {
            let counter = Arc::clone(&counter);
            thread::spawn(move || (0..1000).for_each(|_| *counter.lock().unwrap() += 1))
        })
        .collect();
    handles.into_iter().for_each(|h| h.join().unwrap());
    println!("mutex: 8 threads x 1000 = {}", *counter.lock().unwrap());
}

/// Main and a worker take strict turns, so the log order is fixed.
fn condvar_ping_pong() {
    const ROUNDS: u32 = 5;
    let shared = Arc::new((Mutex::new((0u32, Vec::new())), Condvar::new()));
    let worker = {
        let shared = Arc::clone(&shared);
        thread::spawn(move || take_turns(&shared, 1, "pong", ROUNDS))
    };
    take_turns(&shared, 0, "ping", ROUNDS);
    worker.join().unwrap();
    let (turn, log) = &*shared.0.lock().unwrap();
    println!("condvar: {turn} turns: {}", log.join(" "));
}

/// Turns taken so far and what each turn logged, with the condvar that signals a turn.
type Turns = (Mutex<(u32, Vec<&'static str>)>, Condvar);

fn take_turns(shared: &Turns, me: u32, word: &'static str, rounds: u32) {
    let (lock, cvar) = shared;
    for _ in 0..rounds {
        let mut state = cvar
            .wait_while(lock.lock().unwrap(), |s| s.0 % 2 != me)
            .unwrap();
        state.0 += 1;
        state.1.push(word);
        cvar.notify_all();
    }
}

fn channels() {
    let (tx, rx) = mpsc::channel();
    let producers: Vec<_> = (0..4u32)
        .map(|producer| {
            let tx = tx.clone();
            thread::spawn(move || (0..25).for_each(|k| tx.send(producer * 100 + k).unwrap()))
        })
        .collect();
    drop(tx); // the receiver ends once every producer's sender is gone
    let mut values: Vec<u32> = rx.iter().collect();
    producers.into_iter().for_each(|h| h.join().unwrap());
    values.sort_unstable();
    let (len, sum): (usize, u32) = (values.len(), values.iter().sum());
    let (min, max) = (values[0], values[len - 1]);
    println!("mpsc: {len} values, sum {sum}, min {min}, max {max}");

    // A bounded channel with one producer keeps FIFO order.
    let (tx, rx) = mpsc::sync_channel(2);
    let producer = thread::spawn(move || (1..=6).for_each(|i| tx.send(i * i).unwrap()));
    let squares: Vec<i32> = rx.iter().collect();
    producer.join().unwrap();
    println!("sync_channel: {squares:?}");
}

fn barrier() {
    const N: usize = 6;
    let barrier = Arc::new(Barrier::new(N));
    let arrived = Arc::new(AtomicUsize::new(0));
    let handles: Vec<_> = (0..N)
        .map(|_| {
            let (barrier, arrived) = (Arc::clone(&barrier), Arc::clone(&arrived));
            thread::spawn(move || {
                arrived.fetch_add(1, Ordering::SeqCst);
                let leader = barrier.wait().is_leader();
                (leader, arrived.load(Ordering::SeqCst))
            })
        })
        .collect();
    let results: Vec<_> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    let leaders = results.iter().filter(|r| r.0).count();
    let all_arrived = results.iter().all(|r| r.1 == N);
    println!("barrier: {N} threads, leaders {leaders}, all saw every arrival: {all_arrived}");
}

static DROPPED: AtomicUsize = AtomicUsize::new(0);
static DROPPED_SUM: AtomicUsize = AtomicUsize::new(0);

/// A thread-local whose destructor, run at thread exit, records the final value.
struct Tracked(Cell<usize>);

impl Drop for Tracked {
    fn drop(&mut self) {
        DROPPED.fetch_add(1, Ordering::SeqCst);
        DROPPED_SUM.fetch_add(self.0.get(), Ordering::SeqCst);
    }
}

thread_local! {
    static TRACKED: Tracked = const { Tracked(Cell::new(0)) };
    static PLAIN: Cell<u32> = const { Cell::new(7) };
}

fn thread_locals() {
    PLAIN.set(1000);
    let handles: Vec<_> = (1..=4)
        .map(|i| {
            thread::spawn(move || {
                (0..i).for_each(|_| TRACKED.with(|t| t.0.set(t.0.get() + 1)));
                PLAIN.get() // every thread starts from the initial value
            })
        })
        .collect();
    let initial: Vec<u32> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    // `join` returns after the thread has exited, so its destructors have run.
    let dropped = DROPPED.load(Ordering::SeqCst);
    let sum = DROPPED_SUM.load(Ordering::SeqCst);
    println!(
        "thread_local: initial {initial:?}, main {}, destructors {dropped}, sum {sum}",
        PLAIN.get()
    );
}

fn names() {
    println!("name: main thread {:?}", thread::current().name());
    let named = thread::Builder::new()
        .name("worker-7".into())
        .stack_size(256 * 1024)
        .spawn(|| thread::current().name().map(str::to_owned))
        .unwrap();
    println!("name: builder thread {:?}", named.join().unwrap());
    let unnamed = thread::spawn(|| thread::current().name().map(str::to_owned));
    println!("name: spawned thread {:?}", unnamed.join().unwrap());
}

fn scoped() {
    let data: Vec<u64> = (1..=100).collect();
    let mut total = 0;
    let parts: Vec<u64> = thread::scope(|s| {
        let handles: Vec<_> = data
            .chunks(25)
            .map(|c| s.spawn(move || c.iter().sum::<u64>()))
            .collect();
        s.spawn(|| total = data.iter().map(|x| x * x).sum::<u64>());
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    println!("scope: chunk sums {parts:?}, sum of squares {total}");
}
