//! Signals sent to the program itself, one scenario per argument; the output and exit
//! status are the same natively and in the unikernel:
//!
//! - `basics`: `kill(pid, 0)` finds the process, other pids and tids are `ESRCH`; an
//!   ignored `SIGUSR1` and a default-ignored `SIGCHLD` change nothing; a blocked
//!   `SIGTERM` stays pending until it is unblocked, which ends the program
//!   (killed by SIGTERM, status 143);
//! - `abort`: `std::process::abort()` (killed by SIGABRT, 134);
//! - `pause`: a thread `pause`s until the main thread sends it `SIGUSR2` with
//!   `tgkill` (killed by SIGUSR2, 140).

use std::ffi::c_int;
use std::io::Error;
use std::time::Duration;

unsafe extern "C" {
    fn kill(pid: c_int, sig: c_int) -> c_int;
    fn raise(sig: c_int) -> c_int;
    fn getpid() -> c_int;
    fn gettid() -> c_int;
    fn pause() -> c_int;
    fn signal(sig: c_int, handler: usize) -> usize;
    fn sigprocmask(how: c_int, set: *const [u64; 16], old: *mut [u64; 16]) -> c_int;
    fn syscall(nr: i64, ...) -> i64;
}

const SIGUSR1: c_int = 10;
const SIGUSR2: c_int = 12;
const SIGTERM: c_int = 15;
const SIGCHLD: c_int = 17;
const SIG_IGN: usize = 1;
const SIG_BLOCK: c_int = 0;
const SIG_UNBLOCK: c_int = 1;
const SYS_TGKILL: i64 = 234;

fn check(what: &str, result: c_int) {
    let outcome = if result == 0 { "ok".to_owned() } else { Error::last_os_error().to_string() };
    println!("{what}: {outcome}");
}

fn mask(how: c_int, sig: c_int) {
    let mut set = [0u64; 16];
    set[0] = 1 << (sig - 1);
    // SAFETY: a valid set; no old set wanted.
    unsafe { sigprocmask(how, &set, std::ptr::null_mut()) };
}

fn basics() {
    // SAFETY: plain system calls on ints.
    unsafe {
        check("kill(self, 0)", kill(getpid(), 0));
        check("kill(4242, 0)", kill(4242, 0));
        check("tgkill(self, 4242, 0)", syscall(SYS_TGKILL, getpid(), 4242, 0) as c_int);
        signal(SIGUSR1, SIG_IGN);
        check("raise(SIGUSR1) while ignored", raise(SIGUSR1));
        check("raise(SIGCHLD) by default ignored", raise(SIGCHLD));
        mask(SIG_BLOCK, SIGTERM);
        check("kill(self, SIGTERM) while blocked", kill(getpid(), SIGTERM));
        println!("still running; unblocking SIGTERM");
        mask(SIG_UNBLOCK, SIGTERM);
    }
    println!("unreachable: SIGTERM was pending");
}

fn pause_thread() {
    let (tx, rx) = std::sync::mpsc::channel();
    let sleeper = std::thread::spawn(move || {
        // SAFETY: no arguments.
        tx.send(unsafe { gettid() }).unwrap();
        // SAFETY: no arguments.
        let r = unsafe { pause() };
        println!("unreachable: pause returned {r}");
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(50));
    println!("sending SIGUSR2 to the pausing thread");
    // SAFETY: plain system call on ints.
    unsafe { syscall(SYS_TGKILL, getpid(), tid, SIGUSR2) };
    sleeper.join().unwrap();
    println!("unreachable: the thread ended");
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("basics") => basics(),
        Some("abort") => {
            println!("aborting");
            std::process::abort();
        }
        Some("pause") => pause_thread(),
        other => {
            eprintln!("usage: signals basics|abort|pause (got {other:?})");
            std::process::exit(2);
        }
    }
}
