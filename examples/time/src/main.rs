//! Time: Instant is monotonic and covers a sleep, SystemTime is after the epoch and after
//! 2020, Duration arithmetic, thread::sleep on two threads at once, and the CPU-time
//! clocks of threads and of the process ([`cpu`]).
//!
//! Only booleans and computed Durations are printed, never a measured time, and only
//! lower bounds are checked: a slow or emulated machine may oversleep, never undersleep.

use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// 2020-01-01T00:00:00Z in seconds since the Unix epoch.
const YEAR_2020: u64 = 1_577_836_800;

mod cpu;

fn main() {
    instant();
    system_time();
    duration_arithmetic();
    sleeping_threads();
    cpu::cpu_clocks();
    println!("time: done");
}

fn instant() {
    let first = Instant::now();
    let second = Instant::now();
    println!("instant: second >= first {}", second >= first);
    println!(
        "instant: first.checked_duration_since(second) is none or zero {}",
        first
            .checked_duration_since(second)
            .is_none_or(|d| d.is_zero())
    );

    let start = Instant::now();
    thread::sleep(Duration::from_millis(20));
    let elapsed = start.elapsed();
    println!(
        "sleep 20ms: elapsed >= 20ms {}",
        elapsed >= Duration::from_millis(20)
    );
    println!("sleep 20ms: now > start {}", Instant::now() > start);
    println!(
        "instant: (start + elapsed) - start == elapsed {}",
        (start + elapsed) - start == elapsed
    );
    println!(
        "instant: start.saturating_duration_since(later) {:?}",
        start.saturating_duration_since(start + elapsed)
    );

    thread::sleep(Duration::ZERO);
    println!("sleep zero: returned true");
}

fn system_time() {
    let now = SystemTime::now();
    let since_epoch = now.duration_since(UNIX_EPOCH);
    println!("system_time: after UNIX_EPOCH {}", since_epoch.is_ok());
    let secs = since_epoch.map_or(0, |d| d.as_secs());
    println!("system_time: after 2020-01-01 {}", secs >= YEAR_2020);
    println!(
        "system_time: > epoch + 2020 {}",
        now > UNIX_EPOCH + Duration::from_secs(YEAR_2020)
    );

    let day = UNIX_EPOCH + Duration::from_secs(86_400);
    println!(
        "system_time: epoch + 1 day since epoch {:?}",
        day.duration_since(UNIX_EPOCH)
    );
    let backwards = UNIX_EPOCH.duration_since(day).map_err(|e| e.duration());
    println!("system_time: epoch since epoch + 1 day {backwards:?}");
    println!(
        "system_time: epoch - 1s representable {}",
        UNIX_EPOCH.checked_sub(Duration::from_secs(1)).is_some()
    );
}

fn duration_arithmetic() {
    let a = Duration::from_millis(1500);
    let b = Duration::from_micros(250_000);
    println!("duration: a {a:?}, b {b:?}");
    println!("duration: a + b {:?}, a - b {:?}", a + b, a - b);
    println!("duration: a * 3 {:?}, a / 4 {:?}", a * 3, a / 4);
    println!(
        "duration: b.checked_sub(a) {:?}, b.saturating_sub(a) {:?}",
        b.checked_sub(a),
        b.saturating_sub(a)
    );
    println!(
        "duration: MAX.checked_add(1ns) {:?}",
        Duration::MAX.checked_add(Duration::from_nanos(1))
    );
    println!(
        "duration: a.as_millis {}, a.as_secs {}, a.subsec_nanos {}",
        a.as_millis(),
        a.as_secs(),
        a.subsec_nanos()
    );
    println!(
        "duration: a.as_secs_f64 {}, from_secs_f64(0.125) {:?}",
        a.as_secs_f64(),
        Duration::from_secs_f64(0.125)
    );
    println!(
        "duration: 90061s {:?}, 1ns {:?}, 1001us {:?}",
        Duration::from_secs(90_061),
        Duration::from_nanos(1),
        Duration::from_micros(1001)
    );
    println!(
        "duration: a.mul_f64(1.5) {:?}, a.div_duration_f64(b) {}",
        a.mul_f64(1.5),
        a.div_duration_f64(b)
    );
    let parts: Duration = [a, b, Duration::from_nanos(7)].into_iter().sum();
    println!("duration: sum {parts:?}, a > b {}", a > b);
}

/// Two threads sleep at the same time; each, and the whole, take at least the sleep.
fn sleeping_threads() {
    const NAP: Duration = Duration::from_millis(30);
    let start = Instant::now();
    let sleepers: Vec<_> = (0..2)
        .map(|_| {
            thread::spawn(|| {
                let start = Instant::now();
                thread::sleep(NAP);
                start.elapsed() >= NAP
            })
        })
        .collect();
    let each: Vec<bool> = sleepers.into_iter().map(|h| h.join().unwrap()).collect();
    println!("two sleepers: each slept >= 30ms {each:?}");
    println!("two sleepers: whole >= 30ms {}", start.elapsed() >= NAP);
}
