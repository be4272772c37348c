//! CPU-time clocks: a computing thread's `CLOCK_THREAD_CPUTIME_ID` grows with the
//! time it computes, a sleeping thread's barely moves while another thread computes,
//! `pthread_getcpuclockid` names a thread's clock from another thread, and
//! `CLOCK_PROCESS_CPUTIME_ID` counts every thread, including those that exited.
//! Only orderings with wide margins are printed, so that neither a loaded host nor
//! emulation changes the output.

use std::ffi::c_int;
use std::thread;
use std::time::{Duration, Instant};

const CLOCK_PROCESS_CPUTIME_ID: c_int = 2;
const CLOCK_THREAD_CPUTIME_ID: c_int = 3;

#[repr(C)]
struct Timespec {
    sec: i64,
    nsec: i64,
}

unsafe extern "C" {
    fn clock_gettime(clock: c_int, ts: *mut Timespec) -> c_int;
    fn clock_getres(clock: c_int, ts: *mut Timespec) -> c_int;
    fn pthread_self() -> usize;
    fn pthread_getcpuclockid(thread: usize, clock: *mut c_int) -> c_int;
}

fn read(clock: c_int) -> Duration {
    let mut ts = Timespec { sec: 0, nsec: 0 };
    // SAFETY: a valid timespec to write.
    assert_eq!(
        unsafe { clock_gettime(clock, &mut ts) },
        0,
        "clock_gettime({clock})"
    );
    Duration::new(ts.sec as u64, ts.nsec as u32)
}

/// Computes until the calling thread has run for `amount` of CPU time (or 20 s of
/// wall time pass, however loaded the host); whether it got there.
fn compute(amount: Duration) -> bool {
    let start = read(CLOCK_THREAD_CPUTIME_ID);
    let deadline = Instant::now() + Duration::from_secs(20);
    let mut x = 1u64;
    while read(CLOCK_THREAD_CPUTIME_ID) - start < amount {
        for i in 0..10_000 {
            x = std::hint::black_box(x.wrapping_mul(6364136223846793005).wrapping_add(i));
        }
        if Instant::now() > deadline {
            return false;
        }
    }
    true
}

pub fn cpu_clocks() {
    for (name, clock) in [
        ("process", CLOCK_PROCESS_CPUTIME_ID),
        ("thread", CLOCK_THREAD_CPUTIME_ID),
    ] {
        let mut res = Timespec { sec: 1, nsec: 0 };
        // SAFETY: a valid timespec to write.
        let r = unsafe { clock_getres(clock, &mut res) };
        println!(
            "cpu: {name} clock_getres ok and at most 1 ms: {}",
            r == 0 && res.sec == 0 && res.nsec <= 1_000_000
        );
    }

    let sleeper = thread::spawn(|| {
        let mut own: c_int = 0;
        // SAFETY: our own live thread and a valid out pointer.
        let r = unsafe { pthread_getcpuclockid(pthread_self(), &mut own) };
        let before = read(CLOCK_THREAD_CPUTIME_ID);
        thread::sleep(Duration::from_millis(300));
        let slept = read(CLOCK_THREAD_CPUTIME_ID) - before;
        let by_id = read(own);
        (r, slept, by_id >= before + slept)
    });
    let main_before = read(CLOCK_THREAD_CPUTIME_ID);
    let computed = compute(Duration::from_millis(150));
    let main_grew = read(CLOCK_THREAD_CPUTIME_ID) - main_before;
    let (r, slept, by_id) = sleeper.join().unwrap();
    println!("cpu: computing 150 ms of thread CPU time finished: {computed}");
    println!(
        "cpu: the computing thread's clock grew by at least 150 ms: {}",
        main_grew >= Duration::from_millis(150)
    );
    println!(
        "cpu: a thread sleeping 300 ms ran less than 50 ms: {}",
        slept < Duration::from_millis(50)
    );
    println!("cpu: pthread_getcpuclockid: {r}, its clock reads at least as far: {by_id}");

    let worker = thread::spawn(|| {
        let done = compute(Duration::from_millis(100));
        (done, read(CLOCK_THREAD_CPUTIME_ID))
    });
    let (done, worker_cpu) = worker.join().unwrap();
    let main_cpu = read(CLOCK_THREAD_CPUTIME_ID);
    let process = read(CLOCK_PROCESS_CPUTIME_ID);
    println!("cpu: a thread computed 100 ms and exited: {done}");
    println!(
        "cpu: process CPU time >= main thread + exited worker: {}",
        process >= main_cpu + worker_cpu
    );
}
