//! Signals the kernel generates itself, caught with `signal_hook::low_level`
//! handlers:
//!
//! - `sigpipe`: a write to a pipe without readers and to a socket whose peer is closed
//!   fails with `EPIPE` and raises SIGPIPE (Rust programs start with it ignored; a
//!   handler catches it); `send` with `MSG_NOSIGNAL` fails the same way, silently;
//! - `sigpipe-default`: the same write with SIGPIPE's default action ends the program
//!   (141);
//! - `alarm`: `alarm` and `setitimer(ITIMER_REAL)` deliver SIGALRM (one shot and
//!   periodic), `getitimer` reports what is left, disarming returns the old timer;
//! - `alarm-default`: an alarm with SIGALRM's default action ends the program (142).

use std::io::Error;
use std::sync::atomic::{AtomicUsize, Ordering};

use signal_hook::consts::{SIGALRM, SIGPIPE};
use signal_hook::low_level;

static PIPES: AtomicUsize = AtomicUsize::new(0);
static ALARMS: AtomicUsize = AtomicUsize::new(0);

fn result(r: isize) -> String {
    if r < 0 {
        Error::last_os_error().to_string()
    } else {
        r.to_string()
    }
}

/// Writes one byte to `fd`, after closing `close`.
fn broken_write(fd: i32, close: i32) -> isize {
    // SAFETY: plain system calls with a valid one-byte buffer.
    unsafe {
        libc::close(close);
        libc::write(fd, b"x".as_ptr().cast(), 1)
    }
}

fn pipe() -> [i32; 2] {
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    assert_eq!(unsafe { libc::pipe(fds.as_mut_ptr()) }, 0);
    fds
}

fn socketpair() -> [i32; 2] {
    let mut fds = [0; 2];
    // SAFETY: room for two descriptors.
    let r = unsafe { libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, fds.as_mut_ptr()) };
    assert_eq!(r, 0, "socketpair: {}", Error::last_os_error());
    fds
}

pub fn sigpipe() {
    // SAFETY: the handler only touches an atomic.
    unsafe { low_level::register(SIGPIPE, || _ = PIPES.fetch_add(1, Ordering::SeqCst)) }
        .expect("register SIGPIPE");
    let [r, w] = pipe();
    println!(
        "write to a pipe without readers: {}",
        result(broken_write(w, r))
    );
    println!("SIGPIPE handled: {}", PIPES.load(Ordering::SeqCst));
    let [a, b] = socketpair();
    println!("write to a closed peer: {}", result(broken_write(a, b)));
    println!("SIGPIPE handled: {}", PIPES.load(Ordering::SeqCst));
    // SAFETY: a valid one-byte buffer.
    let n = unsafe { libc::send(a, b"x".as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
    println!("send MSG_NOSIGNAL to a closed peer: {}", result(n));
    println!("SIGPIPE handled: {}", PIPES.load(Ordering::SeqCst));
    // SAFETY: as above.
    let n = unsafe { libc::send(a, b"x".as_ptr().cast(), 1, 0) };
    println!("send to a closed peer: {}", result(n));
    println!("SIGPIPE handled: {}", PIPES.load(Ordering::SeqCst));
}

pub fn sigpipe_default() {
    // SAFETY: restores the default action; nothing else runs.
    unsafe { libc::signal(SIGPIPE, libc::SIG_DFL) };
    let [r, w] = pipe();
    println!("writing to a pipe without readers, SIGPIPE default");
    let n = broken_write(w, r);
    println!("still running after the write: {}", result(n));
}

fn timer(value_us: i64, interval_us: i64) -> libc::itimerval {
    let tv = |us: i64| libc::timeval {
        tv_sec: us / 1_000_000,
        tv_usec: us % 1_000_000,
    };
    libc::itimerval {
        it_interval: tv(interval_us),
        it_value: tv(value_us),
    }
}

fn us(tv: libc::timeval) -> i64 {
    tv.tv_sec * 1_000_000 + tv.tv_usec
}

fn set(value_us: i64, interval_us: i64) -> libc::itimerval {
    let mut old = timer(0, 0);
    // SAFETY: valid new and old values.
    let r = unsafe { libc::setitimer(libc::ITIMER_REAL, &timer(value_us, interval_us), &mut old) };
    assert_eq!(r, 0, "setitimer: {}", Error::last_os_error());
    old
}

fn get() -> libc::itimerval {
    let mut now = timer(0, 0);
    // SAFETY: a valid out value.
    assert_eq!(unsafe { libc::getitimer(libc::ITIMER_REAL, &mut now) }, 0);
    now
}

/// Waits until `count` alarms were handled, in short sleeps (a sleep that a handler
/// interrupts goes on): `pause` could miss a one-shot alarm that fires just before it
/// on a loaded machine, and then wait forever. Gives up after 10 s.
fn wait_for(count: usize) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    while ALARMS.load(Ordering::SeqCst) < count && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(1));
    }
}

pub fn alarm() {
    // SAFETY: the handler only touches an atomic.
    unsafe { low_level::register(SIGALRM, || _ = ALARMS.fetch_add(1, Ordering::SeqCst)) }
        .expect("register SIGALRM");
    // SAFETY: alarm takes and returns plain integers.
    unsafe {
        println!("alarm(10) with none armed: {}", libc::alarm(10));
        println!("alarm(0) after it: {} (seconds left)", libc::alarm(0));
    }
    let left = us(get().it_value);
    println!("getitimer after alarm(0): {left}");

    set(2_000_000, 0);
    let now = get();
    let left = us(now.it_value);
    println!(
        "getitimer of a 2 s timer: 1 s < left <= 2 s: {}, interval {}",
        left > 1_000_000 && left <= 2_000_000,
        us(now.it_interval)
    );
    let old = set(50_000, 0);
    println!(
        "re-armed at 50 ms; the old one had more than 1 s left: {}",
        us(old.it_value) > 1_000_000
    );
    wait_for(1);
    println!(
        "one-shot alarm delivered: alarms {}",
        ALARMS.load(Ordering::SeqCst)
    );
    println!("getitimer after it fired: {}", us(get().it_value));

    set(20_000, 20_000);
    // A periodic timer always fires again, so `pause` cannot miss it.
    // SAFETY: no arguments.
    let r = unsafe { libc::pause() };
    println!(
        "pause under a periodic timer: {} ({})",
        r,
        Error::last_os_error()
    );
    wait_for(5);
    let old = set(0, 0);
    println!(
        "periodic 20 ms: at least 4 more alarms: {}; disarmed, its interval was {} us",
        ALARMS.load(Ordering::SeqCst) >= 5,
        us(old.it_interval)
    );
    let after = ALARMS.load(Ordering::SeqCst);
    std::thread::sleep(std::time::Duration::from_millis(100));
    println!(
        "no alarm after disarming: {}",
        ALARMS.load(Ordering::SeqCst) == after
    );
    println!(
        "getitimer when disarmed: {} {}",
        us(get().it_value),
        us(get().it_interval)
    );

    // SAFETY: as above.
    unsafe { libc::alarm(1) };
    wait_for(after + 1);
    println!(
        "alarm(1) delivered once: {}",
        ALARMS.load(Ordering::SeqCst) == after + 1
    );
}

pub fn alarm_default() {
    // SAFETY: plain integers.
    unsafe { libc::alarm(1) };
    println!("alarm(1) armed, SIGALRM default");
    std::thread::sleep(std::time::Duration::from_secs(5));
    println!("still running after 5 s");
}
