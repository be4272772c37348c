//! `echo timeouts`: `SO_RCVTIMEO` and `SO_SNDTIMEO` over 127.0.0.1 and on an AF_UNIX
//! pair. A read with nothing to read, a write into a peer that never reads and an
//! `accept` with no client each end with `EAGAIN` (`WouldBlock`) once the timeout
//! passed, not before and not much later; `getsockopt` gives the timeouts back; a
//! `timeval` with a million microseconds is `EDOM`. Prints only what does not vary.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_millis(200);

/// How an operation that should time out ended, and whether it took about
/// [`TIMEOUT`] (at least it, at most a generous bound for a loaded machine).
fn report<T>(what: &str, start: Instant, result: std::io::Result<T>) {
    let took = start.elapsed();
    let outcome = match result {
        Ok(_) => "completed".to_string(),
        Err(error) => format!("{:?}", error.kind()),
    };
    let waited = took >= TIMEOUT && took < TIMEOUT * 25;
    println!("{what}: {outcome}, waited about the timeout: {waited}");
}

/// `setsockopt(SOL_SOCKET, name, &timeval)` through libc.
fn set_timeval(fd: i32, name: i32, sec: i64, usec: i64) -> std::io::Result<()> {
    let tv = libc::timeval {
        tv_sec: sec,
        tv_usec: usec,
    };
    // SAFETY: `tv` is a live timeval and the length is its size.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&raw const tv).cast(),
            size_of::<libc::timeval>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

pub fn run() -> std::io::Result<()> {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
    set_timeval(listener.as_raw_fd(), libc::SO_RCVTIMEO, 0, 200_000)?;
    let start = Instant::now();
    report("accept with no client", start, listener.accept());

    let mut client = TcpStream::connect(listener.local_addr()?)?;
    let (_server, _) = listener.accept()?;
    client.set_read_timeout(Some(TIMEOUT))?;
    client.set_write_timeout(Some(TIMEOUT))?;
    println!("read timeout {:?}", client.read_timeout()?);
    println!("write timeout {:?}", client.write_timeout()?);
    let start = Instant::now();
    report("read with nothing sent", start, client.read(&mut [0u8; 16]));

    // The server never reads: the buffers fill and a write waits, then gives up.
    let chunk = vec![7u8; 1 << 20];
    let mut outcome = Ok(());
    let mut taken = 0;
    for _ in 0..256 {
        let start = Instant::now();
        match client.write(&chunk) {
            Ok(n) => taken += n,
            Err(error) => {
                outcome = Err((start, error));
                break;
            }
        }
    }
    match outcome {
        Err((start, error)) => report("write into a full peer", start, Err::<(), _>(error)),
        Ok(()) => println!("write into a full peer: {taken} bytes taken"),
    }

    let (mut one, _two) = UnixStream::pair()?;
    one.set_read_timeout(Some(TIMEOUT))?;
    let start = Instant::now();
    report("unix pair read", start, one.read(&mut [0u8; 16]));

    match set_timeval(one.as_raw_fd(), libc::SO_SNDTIMEO, 0, 1_000_000) {
        Err(error) => println!("a million microseconds: {error}"),
        Ok(()) => println!("a million microseconds: accepted"),
    }
    client.set_read_timeout(None)?;
    println!("read timeout cleared: {:?}", client.read_timeout()?);
    Ok(())
}
