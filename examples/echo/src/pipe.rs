//! `echo pipe PORT [ADDRESS]`: SIGPIPE on a TCP socket. Accepts one connection, sends
//! a line, shuts its own sending side down, then sends again three ways: `send` with
//! `MSG_NOSIGNAL` (EPIPE, no signal), `write` and `send` without it (EPIPE and a
//! SIGPIPE each, counted by a handler), as Linux's `tcp_sendmsg` does. std's own
//! `write` passes `MSG_NOSIGNAL`, so the calls go through libc.

use std::io::Write;
use std::net::{Shutdown, TcpListener};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicUsize, Ordering};

static SIGPIPES: AtomicUsize = AtomicUsize::new(0);

extern "C" fn count_sigpipe(_signal: libc::c_int) {
    SIGPIPES.fetch_add(1, Ordering::SeqCst);
}

/// The outcome of one send as a line: bytes sent or the error, and the signals so far.
fn report(call: &str, result: isize) -> String {
    let outcome = if result < 0 {
        std::io::Error::last_os_error().to_string()
    } else {
        format!("{result} bytes")
    };
    format!(
        "{call}: {outcome}; SIGPIPE caught {} time(s)",
        SIGPIPES.load(Ordering::SeqCst)
    )
}

pub fn run(address: &str, port: u16) -> std::io::Result<()> {
    let listener = TcpListener::bind((address, port))?;
    println!("listening on port {}", listener.local_addr()?.port());
    let (mut stream, _peer) = listener.accept()?;
    stream.write_all(b"hello\n")?;
    stream.shutdown(Shutdown::Write)?;
    let fd = stream.as_raw_fd();
    let byte = b"x";

    // SAFETY: `fd` is the open stream's; `byte` is valid for its length.
    let sent = unsafe { libc::send(fd, byte.as_ptr().cast(), 1, libc::MSG_NOSIGNAL) };
    println!("{}", report("send with MSG_NOSIGNAL", sent));

    let handler: extern "C" fn(libc::c_int) = count_sigpipe;
    // SAFETY: installs a handler that only touches an atomic (async-signal-safe).
    let old = unsafe { libc::signal(libc::SIGPIPE, handler as libc::sighandler_t) };
    if old == libc::SIG_ERR {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: as above.
    let written = unsafe { libc::write(fd, byte.as_ptr().cast(), 1) };
    println!("{}", report("write", written));
    // SAFETY: as above.
    let sent = unsafe { libc::send(fd, byte.as_ptr().cast(), 1, 0) };
    println!("{}", report("send", sent));
    Ok(())
}
