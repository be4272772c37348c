//! `socketpair`: the AF_UNIX stream pair `signal_hook::iterator` is built on
//! (`UnixStream::pair`), on its own: data both ways, `send`/`recv` with
//! `MSG_DONTWAIT` and `MSG_PEEK`, `sendmsg`/`recvmsg` with two segments,
//! non-blocking reads (`EAGAIN`), `poll` readiness, `shutdown` (end of file for the
//! peer, `EPIPE` for the writer), socket options, `EPIPE` once the peer is closed
//! (SIGPIPE is ignored, as Rust programs start), and the errors of other families.

use std::io::{Error, ErrorKind, Read, Write};
use std::net::Shutdown;
use std::os::fd::AsRawFd;
use std::os::unix::net::UnixStream;

fn last(result: isize) -> String {
    if result < 0 {
        Error::last_os_error().to_string()
    } else {
        result.to_string()
    }
}

fn poll_in(fd: i32) -> String {
    let mut p = libc::pollfd {
        fd,
        events: libc::POLLIN | libc::POLLOUT,
        revents: 0,
    };
    // SAFETY: one valid pollfd, no wait.
    let n = unsafe { libc::poll(&mut p, 1, 0) };
    let mut bits = Vec::new();
    for (bit, name) in [
        (libc::POLLIN, "IN"),
        (libc::POLLOUT, "OUT"),
        (libc::POLLHUP, "HUP"),
        (libc::POLLRDHUP, "RDHUP"),
        (libc::POLLERR, "ERR"),
    ] {
        if p.revents & bit != 0 {
            bits.push(name);
        }
    }
    format!("{n} {}", bits.join("|"))
}

fn sockopt(fd: i32, name: i32) -> String {
    let mut value: i32 = -1;
    let mut len = size_of::<i32>() as libc::socklen_t;
    // SAFETY: an int-sized buffer and its length.
    let r = unsafe {
        libc::getsockopt(
            fd,
            libc::SOL_SOCKET,
            name,
            (&raw mut value).cast(),
            &mut len,
        )
    };
    if r < 0 {
        Error::last_os_error().to_string()
    } else {
        format!("{value} (len {len})")
    }
}

pub fn run() {
    let (mut a, mut b) = UnixStream::pair().expect("UnixStream::pair");
    let (fa, fb) = (a.as_raw_fd(), b.as_raw_fd());
    println!("poll empty: {}", poll_in(fb));
    a.write_all(b"hello").unwrap();
    println!("poll after write: {}", poll_in(fb));
    let mut buf = [0u8; 16];
    let n = b.read(&mut buf).unwrap();
    println!("read: {:?}", String::from_utf8_lossy(&buf[..n]));
    b.write_all(b"back").unwrap();
    let n = a.read(&mut buf).unwrap();
    println!(
        "read the other way: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    b.set_nonblocking(true).unwrap();
    println!(
        "non-blocking read of nothing: {:?}",
        b.read(&mut buf).map_err(|e| e.kind())
    );
    b.set_nonblocking(false).unwrap();
    // SAFETY: valid buffers and lengths for every call below.
    unsafe {
        let r = libc::recv(fb, buf.as_mut_ptr().cast(), buf.len(), libc::MSG_DONTWAIT);
        println!("recv MSG_DONTWAIT of nothing: {}", last(r));
        println!(
            "send of 0 bytes: {}",
            last(libc::send(fa, buf.as_ptr().cast(), 0, libc::MSG_DONTWAIT))
        );
        println!(
            "send MSG_DONTWAIT: {}",
            last(libc::send(
                fa,
                b"xyz".as_ptr().cast(),
                3,
                libc::MSG_DONTWAIT
            ))
        );
        let r = libc::recv(fb, buf.as_mut_ptr().cast(), 2, libc::MSG_PEEK);
        println!("recv MSG_PEEK: {} {:?}", last(r), &buf[..2]);
        let r = libc::recvfrom(
            fb,
            buf.as_mut_ptr().cast(),
            16,
            0,
            std::ptr::null_mut(),
            std::ptr::null_mut(),
        );
        println!(
            "recvfrom: {} {:?}",
            last(r),
            String::from_utf8_lossy(&buf[..3])
        );

        let (mut one, mut two) = (*b"ab", *b"cde");
        let mut iov = [
            libc::iovec {
                iov_base: one.as_mut_ptr().cast(),
                iov_len: 2,
            },
            libc::iovec {
                iov_base: two.as_mut_ptr().cast(),
                iov_len: 3,
            },
        ];
        let mut msg: libc::msghdr = std::mem::zeroed();
        msg.msg_iov = iov.as_mut_ptr();
        msg.msg_iovlen = 2;
        println!(
            "sendmsg: {}",
            last(libc::sendmsg(fa, &msg, libc::MSG_NOSIGNAL))
        );
        one = [0; 2];
        two = [0; 3];
        iov[0].iov_base = one.as_mut_ptr().cast();
        iov[1].iov_base = two.as_mut_ptr().cast();
        msg.msg_iov = iov.as_mut_ptr();
        let r = libc::recvmsg(fb, &mut msg, 0);
        println!(
            "recvmsg: {} {:?} {:?} flags {}",
            last(r),
            one,
            two,
            msg.msg_flags
        );
    }
    println!("SO_TYPE: {}", sockopt(fa, libc::SO_TYPE));
    println!("SO_ERROR: {}", sockopt(fa, libc::SO_ERROR));
    println!("take_error: {:?}", a.take_error().map_err(|e| e.kind()));

    a.shutdown(Shutdown::Write).unwrap();
    println!("poll after peer shut down writing: {}", poll_in(fb));
    println!("read after shutdown: {:?}", b.read(&mut buf));
    println!(
        "write after own shutdown: {:?}",
        a.write(b"no").map_err(|e| e.kind())
    );
    b.write_all(b"still").unwrap();
    let n = a.read(&mut buf).unwrap();
    println!(
        "other direction still open: {:?}",
        String::from_utf8_lossy(&buf[..n])
    );

    b.set_nonblocking(true).unwrap();
    let chunk = [7u8; 4096];
    let mut full = None;
    for _ in 0..10_000 {
        if let Err(e) = b.write(&chunk) {
            full = Some(e.kind());
            break;
        }
    }
    println!(
        "filling the buffer ends with: {full:?}; poll: {}",
        poll_in(fb)
    );
    a.set_nonblocking(true).unwrap();
    let mut drained = 0;
    while let Ok(n) = a.read(&mut [0u8; 65536]) {
        drained += n;
    }
    println!("drained something: {}; poll: {}", drained > 0, poll_in(fb));

    drop(a);
    println!("poll after peer closed: {}", poll_in(fb));
    println!(
        "write to a closed peer: {:?}",
        b.write(b"x").map_err(|e| e.kind() == ErrorKind::BrokenPipe)
    );
    // SAFETY: plain system calls with valid arguments.
    unsafe {
        let mut fds = [0; 2];
        let r = libc::socketpair(libc::AF_INET, libc::SOCK_STREAM, 0, fds.as_mut_ptr());
        println!("socketpair(AF_INET): {}", last(r as isize));
        let r = libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 2, fds.as_mut_ptr());
        println!("socketpair(AF_UNIX, protocol 2): {}", last(r as isize));
        let r = libc::socketpair(libc::AF_UNIX, libc::SOCK_STREAM, 0, std::ptr::null_mut());
        println!("socketpair(NULL): {}", last(r as isize));
        let r = libc::send(0, buf.as_ptr().cast(), 1, 0);
        println!("send on a non-socket: {}", last(r));
    }
}
