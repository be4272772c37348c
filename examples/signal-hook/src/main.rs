//! Signal handlers installed with the `signal-hook` crate, run for signals the program
//! sends itself; one scenario per argument, the output and exit status the same
//! natively and in the unikernel:
//!
//! - `flags`: `signal_hook::flag::register` for SIGUSR1 and SIGTERM; `raise(SIGUSR1)`
//!   and `kill(getpid(), SIGTERM)` set the flags (a SIGTERM handler keeps the program
//!   alive); a blocked SIGUSR1 sets its flag only when unblocked;
//! - `low-level`: `signal_hook::low_level::register` handlers that run code (count,
//!   record the signal number) for SIGUSR2 and SIGHUP, sent with `raise`, `kill` and
//!   `tgkill`; `unregister` restores the default action, checked with SIGUSR2 ignored;
//!   A `tgkill` in hand-written assembly (in the unikernel: the register-frame path)
//!   runs the handler too;
//! - `eintr`: a thread blocked in a pipe `read` is sent SIGUSR1 with `tgkill`: without
//!   `SA_RESTART` the read fails with `EINTR` after the handler ran; with it (what
//!   signal-hook installs) the read goes on and returns the data written later; a
//!   `nanosleep` fails with `EINTR` even with `SA_RESTART`, and reports time left;
//! - `running`: a thread computing (no system calls) is sent SIGUSR1; its handler
//!   runs in the middle of the computation and ends it (the unikernel delivers it
//!   when the timer interrupt hands the CPU back to the thread);
//! - `masks`: a blocked, pending SIGUSR1 interrupts `ppoll` and `epoll_pwait` whose
//!   masks let it through, and is blocked again once they return.
//!
//! - `iterator`, `socketpair`: see [`iterator`] and [`socketpair`];
//! - `sigpipe`, `sigpipe-default`, `alarm`, `alarm-default`: signals the kernel
//!   generates, see [`kernel_signals`].

mod iterator;
mod kernel_signals;
mod socketpair;

use std::ffi::c_int;
use std::io::Error;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicUsize, Ordering};
use std::time::Duration;

use signal_hook::consts::{SIGHUP, SIGTERM, SIGUSR1, SIGUSR2};
use signal_hook::{flag, low_level};

fn check(what: &str, result: c_int) {
    let outcome = if result == 0 {
        "ok".to_owned()
    } else {
        Error::last_os_error().to_string()
    };
    println!("{what}: {outcome}");
}

fn mask(how: c_int, sig: c_int) {
    // SAFETY: a zeroed sigset_t is a valid argument for sigemptyset/sigaddset; no old
    // set wanted.
    unsafe {
        let mut set: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut set);
        libc::sigaddset(&mut set, sig);
        libc::pthread_sigmask(how, &set, std::ptr::null_mut());
    }
}

fn flags() {
    let usr1 = Arc::new(AtomicBool::new(false));
    let term = Arc::new(AtomicBool::new(false));
    flag::register(SIGUSR1, Arc::clone(&usr1)).expect("register SIGUSR1");
    flag::register(SIGTERM, Arc::clone(&term)).expect("register SIGTERM");
    println!(
        "before: usr1 {} term {}",
        usr1.load(Ordering::SeqCst),
        term.load(Ordering::SeqCst)
    );
    // SAFETY: plain system calls on ints.
    unsafe {
        check("raise(SIGUSR1)", libc::raise(SIGUSR1));
        println!("after raise: usr1 {}", usr1.load(Ordering::SeqCst));
        check("kill(self, SIGTERM)", libc::kill(libc::getpid(), SIGTERM));
        println!(
            "after kill: term {} (still running)",
            term.load(Ordering::SeqCst)
        );
    }
    usr1.store(false, Ordering::SeqCst);
    mask(libc::SIG_BLOCK, SIGUSR1);
    low_level::raise(SIGUSR1).expect("raise");
    println!("while blocked: usr1 {}", usr1.load(Ordering::SeqCst));
    mask(libc::SIG_UNBLOCK, SIGUSR1);
    println!("after unblocking: usr1 {}", usr1.load(Ordering::SeqCst));
}

static COUNT: AtomicUsize = AtomicUsize::new(0);
static LAST: AtomicI32 = AtomicI32::new(0);

fn low_level_handlers() {
    // SAFETY: the closures only touch atomics (async-signal-safe).
    let usr2 = unsafe {
        low_level::register(SIGUSR2, || {
            COUNT.fetch_add(1, Ordering::SeqCst);
            LAST.store(SIGUSR2, Ordering::SeqCst);
        })
    }
    .expect("register SIGUSR2");
    // SAFETY: as above.
    unsafe {
        low_level::register(SIGHUP, || {
            COUNT.fetch_add(10, Ordering::SeqCst);
            LAST.store(SIGHUP, Ordering::SeqCst);
        })
    }
    .expect("register SIGHUP");
    let report = |what: &str| {
        println!(
            "{what}: count {} last {}",
            COUNT.load(Ordering::SeqCst),
            LAST.load(Ordering::SeqCst)
        );
    };
    low_level::raise(SIGUSR2).expect("raise");
    report("raise(SIGUSR2)");
    // SAFETY: plain system calls on ints.
    unsafe {
        check("kill(self, SIGHUP)", libc::kill(libc::getpid(), SIGHUP));
        report("kill(SIGHUP)");
        let r = libc::syscall(libc::SYS_tgkill, libc::getpid(), libc::gettid(), SIGUSR2);
        check("tgkill(self, SIGUSR2)", r as c_int);
        report("tgkill(SIGUSR2)");
    }
    let r = raw_tgkill(SIGUSR2);
    println!("asm tgkill(self, SIGUSR2): {r}");
    report("asm tgkill(SIGUSR2)");
    println!("unregister SIGUSR2: {}", low_level::unregister(usr2));
    // With the last action gone, signal-hook restores the original one (SIG_DFL,
    // which would end the program): ignore it instead, then send it.
    // SAFETY: SIG_IGN is a valid disposition.
    unsafe { libc::signal(SIGUSR2, libc::SIG_IGN) };
    low_level::raise(SIGUSR2).expect("raise");
    report("raise(SIGUSR2) ignored");
}

/// `tgkill(getpid(), gettid(), sig)` with hand-written assembly that loads the number
/// itself: the unikernel's build cannot make that a direct call of the kernel, so its
/// `syscall` instruction becomes a call of the register-frame entry (build report:
/// `stub_calls`), where the handler runs from the saved register frame.
fn raw_tgkill(sig: c_int) -> i64 {
    // SAFETY: plain system calls on ints.
    let (pid, tid) = unsafe { (libc::getpid(), libc::gettid()) };
    let result: i64;
    // SAFETY: tgkill takes three integers; `syscall` clobbers rcx and r11 only.
    unsafe {
        std::arch::asm!(
            "mov eax, {nr}",
            "syscall",
            nr = const libc::SYS_tgkill,
            lateout("rax") result,
            in("rdi") i64::from(pid),
            in("rsi") i64::from(tid),
            in("rdx") i64::from(sig),
            lateout("rcx") _,
            lateout("r11") _,
            options(nostack),
        );
    }
    result
}

/// Clears or sets `SA_RESTART` on the action signal-hook installed for `sig`.
fn set_restart(sig: c_int, restart: bool) {
    // SAFETY: `action` is filled by the first call and handed back unchanged but for
    // the flag.
    unsafe {
        let mut action: libc::sigaction = std::mem::zeroed();
        libc::sigaction(sig, std::ptr::null(), &mut action);
        if restart {
            action.sa_flags |= libc::SA_RESTART;
        } else {
            action.sa_flags &= !libc::SA_RESTART;
        }
        libc::sigaction(sig, &action, std::ptr::null_mut());
    }
}

static HANDLED: AtomicUsize = AtomicUsize::new(0);

/// A thread blocks reading an empty pipe; SIGUSR1 is sent to it after 100 ms, then,
/// after 200 ms more, one byte is written. Returns what the read returned.
fn interrupted_read(restart: bool) -> String {
    set_restart(SIGUSR1, restart);
    let mut fds = [0; 2];
    // SAFETY: `fds` has room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    let (tx, rx) = std::sync::mpsc::channel();
    let reader = std::thread::spawn(move || {
        // SAFETY: no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let mut byte = [0u8; 1];
        // SAFETY: reads at most one byte into `byte`.
        let n = unsafe { libc::read(fds[0], byte.as_mut_ptr().cast(), 1) };
        if n < 0 {
            format!("read failed: {}", Error::last_os_error())
        } else {
            format!("read {n} byte(s): {:?}", byte[0] as char)
        }
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: plain system call on ints.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, SIGUSR1) };
    assert_eq!(r, 0);
    std::thread::sleep(Duration::from_millis(200));
    // SAFETY: writes one byte from a static string.
    unsafe { libc::write(fds[1], b"x".as_ptr().cast(), 1) };
    let outcome = reader.join().unwrap();
    // SAFETY: our own descriptors, closed once.
    unsafe {
        libc::close(fds[0]);
        libc::close(fds[1]);
    }
    outcome
}

fn eintr() {
    // SAFETY: the closure only touches an atomic.
    unsafe {
        low_level::register(SIGUSR1, || {
            HANDLED.fetch_add(1, Ordering::SeqCst);
        })
    }
    .expect("register SIGUSR1");
    let outcome = interrupted_read(false);
    println!(
        "without SA_RESTART: {outcome}; handler ran {} time(s)",
        HANDLED.load(Ordering::SeqCst)
    );
    let outcome = interrupted_read(true);
    println!(
        "with SA_RESTART: {outcome}; handler ran {} time(s)",
        HANDLED.load(Ordering::SeqCst)
    );
    let outcome = interrupted_sleep();
    println!(
        "with SA_RESTART: {outcome}; handler ran {} time(s)",
        HANDLED.load(Ordering::SeqCst)
    );
}

/// A thread sleeps 5 s in `nanosleep`; SIGUSR1 comes after 100 ms.
fn interrupted_sleep() -> String {
    let (tx, rx) = std::sync::mpsc::channel();
    let sleeper = std::thread::spawn(move || {
        // SAFETY: no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let request = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        let mut left = libc::timespec {
            tv_sec: 0,
            tv_nsec: 0,
        };
        // SAFETY: both timespecs are valid.
        let r = unsafe { libc::nanosleep(&request, &mut left) };
        let error = Error::last_os_error();
        let some_left = left.tv_sec > 0 || left.tv_nsec > 0;
        format!("nanosleep returned {r} ({error}); time left reported: {some_left}")
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: plain system call on ints.
    unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, SIGUSR1) };
    sleeper.join().unwrap()
}

static STOP: AtomicBool = AtomicBool::new(false);

fn running() {
    // SAFETY: the closure only touches an atomic.
    unsafe { low_level::register(SIGUSR1, || STOP.store(true, Ordering::SeqCst)) }
        .expect("register SIGUSR1");
    let (tx, rx) = std::sync::mpsc::channel();
    let worker = std::thread::spawn(move || {
        // SAFETY: no arguments.
        tx.send(unsafe { libc::gettid() }).unwrap();
        let mut rounds = 0u64;
        while !STOP.load(Ordering::SeqCst) {
            rounds = std::hint::black_box(rounds.wrapping_add(1));
        }
        rounds > 0
    });
    let tid = rx.recv().unwrap();
    std::thread::sleep(Duration::from_millis(100));
    // SAFETY: plain system call on ints.
    let r = unsafe { libc::syscall(libc::SYS_tgkill, libc::getpid(), tid, SIGUSR1) };
    check("tgkill(worker, SIGUSR1)", r as c_int);
    println!(
        "worker stopped by its handler, after computing: {}",
        worker.join().unwrap()
    );
}

fn masks() {
    // SAFETY: the closure only touches an atomic.
    unsafe {
        low_level::register(SIGUSR1, || {
            HANDLED.fetch_add(1, Ordering::SeqCst);
        })
    }
    .expect("register SIGUSR1");
    let handled = || HANDLED.load(Ordering::SeqCst);
    mask(libc::SIG_BLOCK, SIGUSR1);
    low_level::raise(SIGUSR1).expect("raise");
    println!("blocked and raised: handled {}", handled());
    // SAFETY: an empty set, a valid timeout, no descriptors.
    let r = unsafe {
        let mut open: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut open);
        let timeout = libc::timespec {
            tv_sec: 5,
            tv_nsec: 0,
        };
        libc::ppoll(std::ptr::null_mut(), 0, &timeout, &open)
    };
    println!(
        "ppoll with an open mask: {r} ({}); handled {}",
        Error::last_os_error(),
        handled()
    );
    low_level::raise(SIGUSR1).expect("raise");
    println!(
        "raised again after ppoll (blocked again): handled {}",
        handled()
    );
    // SAFETY: a fresh epoll instance with nothing in it, an empty set, room for one
    // event.
    let r = unsafe {
        let epfd = libc::epoll_create1(0);
        let mut open: libc::sigset_t = std::mem::zeroed();
        libc::sigemptyset(&mut open);
        let mut event = libc::epoll_event { events: 0, u64: 0 };
        let r = libc::epoll_pwait(epfd, &mut event, 1, 5000, &open);
        let error = Error::last_os_error();
        libc::close(epfd);
        format!("{r} ({error})")
    };
    println!("epoll_pwait with an open mask: {r}; handled {}", handled());
    mask(libc::SIG_UNBLOCK, SIGUSR1);
    println!("unblocked: handled {}", handled());
}

fn main() {
    match std::env::args().nth(1).as_deref() {
        Some("flags") => flags(),
        Some("low-level") => low_level_handlers(),
        Some("eintr") => eintr(),
        Some("running") => running(),
        Some("masks") => masks(),
        Some("iterator") => iterator::run(),
        Some("socketpair") => socketpair::run(),
        Some("sigpipe") => kernel_signals::sigpipe(),
        Some("sigpipe-default") => kernel_signals::sigpipe_default(),
        Some("alarm") => kernel_signals::alarm(),
        Some("alarm-default") => kernel_signals::alarm_default(),
        other => {
            eprintln!(
                "usage: signal-hook flags|low-level|eintr|running|masks|iterator|socketpair|sigpipe|sigpipe-default|alarm|alarm-default (got {other:?})"
            );
            std::process::exit(2);
        }
    }
    println!("done");
    std::process::exit(3);
}
