//! `tokio::signal::unix`: tokio's signal driver installs its handler with `sigaction`
//! (through `signal-hook-registry`) and wakes the runtime through an AF_UNIX stream
//! pair (mio's `UnixStream::pair`) that its I/O driver watches with epoll. A signal
//! the program raises itself, one sent with `kill` from a plain thread to a task
//! waiting in another worker, and a stream that received nothing (it times out).

use std::ffi::c_int;
use std::time::Duration;

use tokio::signal::unix::{SignalKind, signal};
use tokio::time;

const SIGUSR1: c_int = 10;
const SIGTERM: c_int = 15;

unsafe extern "C" {
    fn raise(sig: c_int) -> c_int;
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn getpid() -> c_int;
}

pub async fn signals() {
    let mut usr1 = signal(SignalKind::user_defined1()).expect("signal(SIGUSR1)");
    // SAFETY: raise takes and returns integers.
    let r = unsafe { raise(SIGUSR1) };
    println!("signal: raise(SIGUSR1) = {r}");
    let got = time::timeout(Duration::from_secs(10), usr1.recv()).await;
    println!("signal: SIGUSR1 stream yields: {got:?}");
    let none = time::timeout(Duration::from_millis(50), usr1.recv()).await;
    println!("signal: nothing more within 50 ms: {}", none.is_err());

    let mut term = signal(SignalKind::terminate()).expect("signal(SIGTERM)");
    let waiter = tokio::spawn(async move { term.recv().await });
    let sender = std::thread::spawn(|| {
        std::thread::sleep(Duration::from_millis(50));
        // SAFETY: as above.
        unsafe { kill(getpid(), SIGTERM) }
    });
    let got = time::timeout(Duration::from_secs(10), waiter).await;
    println!(
        "signal: kill(SIGTERM) from a thread wakes a waiting task: {:?}, kill = {}",
        got.map(|joined| joined.ok()),
        sender.join().unwrap()
    );
    println!("signal: still running after SIGTERM");
}
