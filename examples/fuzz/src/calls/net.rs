//! Socket calls on AF_UNIX stream pairs: `socketpair`, `sendto`, `recvfrom`,
//! `sendmsg`, `recvmsg`, `shutdown`, `getsockname`, `getpeername`, `setsockopt`,
//! `getsockopt`.
//!
//! The socket a call acts on ([`socket`]) is one of the pool's (`crate::sources`:
//! long-lived, with whatever earlier calls queued), a pair the generator makes for
//! this call alone and closes after it (`After::CloseMade`), in a random state
//! (bytes queued either way, a direction shut down, the peer closed with unread
//! bytes, which leaves ECONNRESET), another pool descriptor (ENOTSOCK) or a bad one.
//!
//! Rules that keep the run bounded: every socket is non-blocking (the pool's, most
//! fresh pairs; `socketpair` may make blocking pairs, closed at once), so no send
//! or receive waits whatever its flags, or it is a blocking fresh end whose peer is
//! gone (`fresh`), which reaches the kernel's waiting paths without waiting; `shutdown` acts only on fresh pairs, so the
//! pool's sockets stay usable; a send to a shut socket raises SIGPIPE, which the
//! program ignores (std's setting, kept by `calls::task`); `setsockopt` never sets the
//! options that need privileges or take filters (SO_SNDBUFFORCE, SO_ATTACH_FILTER,
//! SO_BINDTODEVICE, SO_DEBUG), so buffers stay at most Linux's `wmem_max`.

use super::Call;
use crate::args::{After, Gen, Prepared};
use crate::errno::*;
use crate::world::syscall;

/// send(2)'s ERRORS, ip(7)'s EAFNOSUPPORT (an address of another family given to a
/// TCP socket), and a TCP connection's pending errors (`calls::CONNECTION`).
const SEND: &[i32] = &[
    EAFNOSUPPORT,
    ECONNREFUSED,
    ECONNABORTED,
    ETIMEDOUT,
    EHOSTUNREACH,
    ENETUNREACH,
    EACCES,
    EAGAIN,
    EALREADY,
    EBADF,
    ECONNRESET,
    EDESTADDRREQ,
    EFAULT,
    EINTR,
    EINVAL,
    EISCONN,
    EMSGSIZE,
    ENOBUFS,
    ENOMEM,
    ENOTCONN,
    ENOTSOCK,
    EOPNOTSUPP,
    EPIPE,
];
/// recv(2)'s ERRORS, and two Linux returns that the page omits: ECONNRESET from a
/// stream whose peer closed with bytes unread (`unix_release_sock` sets the peer's
/// `sk_err`; unix(7)), and EMSGSIZE for more than `UIO_MAXIOV` iovecs (recvmsg, as
/// send(2) documents it for sendmsg); EOPNOTSUPP for MSG_OOB on kernels without
/// `CONFIG_AF_UNIX_OOB`; a TCP connection's pending errors (`calls::CONNECTION`).
const RECV: &[i32] = &[
    ECONNABORTED,
    ETIMEDOUT,
    EHOSTUNREACH,
    ENETUNREACH,
    EAGAIN,
    EBADF,
    ECONNREFUSED,
    EFAULT,
    EINTR,
    EINVAL,
    ENOMEM,
    ENOTCONN,
    ENOTSOCK,
    ECONNRESET,
    EMSGSIZE,
    EOPNOTSUPP,
];
/// socketpair(2)'s ERRORS, socket(2)'s EINVAL (unknown flags in `type`) and EACCES
/// (Linux's for an ICMP "ping" socket outside `ping_group_range`), and what
/// Linux's protocol modules return that the pages omit: ESOCKTNOSUPPORT (a type
/// AF_UNIX lacks, `unix_create`), EPERM (SOCK_RAW without CAP_NET_RAW).
const SOCKETPAIR: &[i32] = &[
    EACCES,
    EAFNOSUPPORT,
    EFAULT,
    EMFILE,
    ENFILE,
    EOPNOTSUPP,
    EPROTONOSUPPORT,
    EINVAL,
    ESOCKTNOSUPPORT,
    EPERM,
];
const SHUTDOWN: &[i32] = &[EBADF, EINVAL, ENOTCONN, ENOTSOCK];
/// getsockopt(2)'s ERRORS, and two Linux returns the page omits: EOPNOTSUPP for a
/// level other than SOL_SOCKET on a socket whose family has no options of its own
/// (AF_UNIX, `do_sock_setsockopt`), EDOM for SO_RCVTIMEO/SO_SNDTIMEO given a
/// `timeval` whose microseconds are out of range (`sock_set_timeout`); and what
/// the SOL_SOCKET numbers mean at the TCP and IP levels (tcp(7), ip(7)): EPERM
/// (TCP_REPAIR_QUEUE and TCP_QUEUE_SEQ need CAP_NET_ADMIN), ENOENT (TCP_CONGESTION
/// naming no algorithm), EMSGSIZE (IP_OPTIONS longer than 40 bytes).
const SOCKOPT: &[i32] = &[
    EPERM,
    ENOENT,
    EMSGSIZE,
    EBADF,
    EFAULT,
    EINVAL,
    ENOPROTOOPT,
    ENOTSOCK,
    EOPNOTSUPP,
    EDOM,
];
/// getsockname(2)'s ERRORS.
const SOCKNAME: &[i32] = &[EBADF, EFAULT, EINVAL, ENOBUFS, ENOTSOCK];
/// getpeername(2)'s ERRORS.
const PEERNAME: &[i32] = &[EBADF, EFAULT, EINVAL, ENOBUFS, ENOTCONN, ENOTSOCK];

const AF_UNIX: usize = 1;
const SOCK_STREAM: usize = 1;
const SOCK_NONBLOCK: usize = 0o4000;
const SOCK_CLOEXEC: usize = 0o2000000;
/// Every MSG_ flag of `include/linux/socket.h` up to MSG_CMSG_CLOEXEC.
const MSG_FLAGS: u64 = 0x7fff_ffff;
/// The flags that matter for AF_UNIX streams: OOB, PEEK, TRUNC, DONTWAIT, EOR,
/// WAITALL, NOSIGNAL, MORE, CMSG_CLOEXEC.
const MSG_COMMON: [usize; 9] = [
    0x1,
    0x2,
    0x20,
    0x40,
    0x80,
    0x100,
    0x4000,
    0x8000,
    0x4000_0000,
];

/// `send`/`recv` flags: none, one or two of the common ones, or random bits.
fn msg_flags(g: &mut Gen) -> usize {
    match g.below(6) {
        0 => 0,
        1 => g.flags(MSG_FLAGS),
        2 => g.pick(&MSG_COMMON) | g.pick(&MSG_COMMON),
        _ => g.pick(&MSG_COMMON),
    }
}

/// A fresh pair for one call, in a random state; its descriptors are in private
/// words (closed after the call: `After::CloseMade`). Returns the end the call acts
/// on and the words. A blocking pair's other end is closed or shut down both ways,
/// so the end the call gets never waits: its sends fail with EPIPE, its receives
/// return what is queued, then end of stream.
fn fresh(g: &mut Gen) -> (usize, usize) {
    let words = g.place(&[u64::MAX]);
    let blocking = g.one_in(4);
    let kind = SOCK_STREAM | SOCK_CLOEXEC | if blocking { 0 } else { SOCK_NONBLOCK };
    // SAFETY: socketpair writes two ints to `words`, the thread's private memory.
    let ok = unsafe { syscall(53, AF_UNIX, kind, 0usize, words) };
    assert_eq!(ok, 0, "socketpair for a fresh pair");
    // SAFETY: the word socketpair just wrote.
    let pair = unsafe { std::ptr::read_volatile(words as *const u64) };
    let (a, b) = (pair as u32 as usize, (pair >> 32) as usize);
    if g.one_in(2) {
        let (from, len) = (if g.one_in(2) { a } else { b }, g.below(4096) as usize);
        // SAFETY: a send on the pair's own socket of bytes of the arena, which it
        // only reads; MSG_DONTWAIT | MSG_NOSIGNAL.
        unsafe { syscall(44, from, g.world.arena, len, 0x4040usize, 0usize, 0usize) };
    }
    if g.one_in(4) {
        let end = if g.one_in(2) { a } else { b };
        // SAFETY: shutdown of the pair's own socket.
        unsafe { syscall(48, end, g.below(3) as usize) };
    }
    if g.one_in(6) || blocking && g.one_in(2) {
        // The peer goes away: it is closed and its word marked closed (-1), so the
        // clean-up never closes a number another thread may have been given since.
        // SAFETY: closing the pair's own descriptor, which nothing else uses.
        unsafe { syscall(3, b) };
        let left = (u64::from(u32::MAX) << 32) | a as u64;
        // SAFETY: the private word that held the pair.
        unsafe { std::ptr::write_volatile(words as *mut u64, left) };
    } else if blocking {
        // SAFETY: shutdown(SHUT_RDWR) of the pair's own socket.
        unsafe { syscall(48, b, 2usize) };
    }
    (a, words)
}

/// The socket for a call, and what to undo after it (see the module's docs).
/// `pool`: whether the pool's sockets may be used.
fn socket(g: &mut Gen, pool: bool) -> (usize, After) {
    match g.below(10) {
        0..=3 if pool => {
            let sockets = &g.world.sockets;
            let fd = sockets[g.below(sockets.len() as u64) as usize];
            (fd as usize, After::Nothing)
        }
        7 => (g.fd(), After::Nothing),
        8 => (g.bad_fd(), After::Nothing),
        _ => {
            let (fd, words) = fresh(g);
            (fd, After::CloseMade(words))
        }
    }
}

/// A `socklen_t` (private) for calls that read and write one: a usual size, zero,
/// negative; or a bad pointer.
fn socklen(g: &mut Gen) -> usize {
    if g.one_in(6) {
        g.bad_pointer()
    } else {
        let len = g.pick(&[0u64, 1, 2, 4, 8, 16, 110, 128, 0xffff_ffff, 0x8000_0000]);
        g.place(&[len])
    }
}

/// An address to send to or receive into: mostly none.
fn address(g: &mut Gen, out: bool) -> usize {
    match g.below(4) {
        0 | 1 => 0,
        2 if out => g.out_pointer(),
        _ => g.in_pointer(),
    }
}

/// A `struct msghdr` (private) with its iovec array, or a bad pointer. `recvmsg`
/// writes back its length and flag fields, which are this call's own.
fn msghdr(g: &mut Gen, out: bool) -> usize {
    if g.one_in(8) {
        return g.bad_pointer();
    }
    let name = address(g, out);
    let namelen = if g.one_in(3) {
        g.pick(&[0u64, 2, 16, 110, 128, 129, 0xffff_ffff])
    } else {
        0
    };
    let iovlen = match g.below(8) {
        0 => g.pick(&[1024u64, 1025, u64::MAX, 1 << 32]),
        _ => g.below(5),
    };
    let iov = if g.one_in(8) {
        g.bad_pointer()
    } else {
        g.iovecs(4)
    };
    let (control, controllen) = if g.one_in(4) {
        let control = if out { g.out_pointer() } else { g.in_pointer() };
        (control, g.pick(&[0u64, 16, 24, 64, 1 << 31, u64::MAX]))
    } else {
        (0, 0)
    };
    let flags = g.rng.next() & 0xffff_ffff;
    g.place(&[
        name as u64,
        namelen,
        iov as u64,
        iovlen,
        control as u64,
        controllen,
        flags,
    ])
}

/// Levels: SOL_SOCKET mostly, IPPROTO_IP, IPPROTO_TCP, IPPROTO_IPV6, SOL_UNIX,
/// invalid.
const LEVELS: [usize; 8] = [1, 1, 1, 0, 6, 41, 263, usize::MAX];
/// SOL_SOCKET options (see the module's rules for those left out), and unknown ones.
const OPTIONS: [usize; 20] = [
    2, 3, 4, 6, 7, 8, 9, 10, 13, 15, 16, 17, 18, 20, 21, 30, 38, 39, 0, 9999,
];

fn sockopt(g: &mut Gen, get: bool) -> Prepared {
    let (fd, after) = socket(g, true);
    let (level, name) = (g.pick(&LEVELS), g.pick(&OPTIONS));
    let value = if get {
        if g.one_in(4) { 0 } else { g.out_pointer() }
    } else if g.one_in(4) {
        g.in_pointer()
    } else {
        let value = g.pick(&[0u64, 1, 0xffff_ffff, 4096, 0x7fff_ffff, 1 << 20]);
        let next = g.rng.next();
        g.place(&[value, next])
    };
    let len = if get {
        socklen(g)
    } else {
        g.pick(&[0, 1, 3, 4, 8, 16, 0xffff_ffff, 0x8000_0000, (1 << 32) | 4])
    };
    Prepared::new(&[fd, level, name, value, len]).then(after)
}

fn name(g: &mut Gen) -> Prepared {
    let (fd, after) = socket(g, true);
    let addr = if g.one_in(4) { 0 } else { g.out_pointer() };
    Prepared::new(&[fd, addr, socklen(g)]).then(after)
}

pub const CALLS: &[Call] = &[
    Call {
        name: "sendto",
        number: 44,
        errnos: &[SEND],
        make: |g| {
            let (fd, after) = socket(g, true);
            let (buf, len, flags) = (g.in_pointer(), g.length(), msg_flags(g));
            let addr = address(g, false);
            let addrlen = g.pick(&[0, 0, 2, 16, 110, 128, 129, 0xffff_ffff]);
            Prepared::new(&[fd, buf, len, flags, addr, addrlen]).then(after)
        },
    },
    Call {
        name: "recvfrom",
        number: 45,
        errnos: &[RECV],
        make: |g| {
            let (fd, after) = socket(g, true);
            let (buf, len, flags) = (g.out_pointer(), g.length(), msg_flags(g));
            let addr = address(g, true);
            let addrlen = if g.one_in(4) { 0 } else { socklen(g) };
            Prepared::new(&[fd, buf, len, flags, addr, addrlen]).then(after)
        },
    },
    Call {
        name: "sendmsg",
        number: 46,
        errnos: &[SEND],
        make: |g| {
            let (fd, after) = socket(g, true);
            let msg = msghdr(g, false);
            Prepared::new(&[fd, msg, msg_flags(g)]).then(after)
        },
    },
    Call {
        name: "recvmsg",
        number: 47,
        errnos: &[RECV],
        make: |g| {
            let (fd, after) = socket(g, true);
            let msg = msghdr(g, true);
            Prepared::new(&[fd, msg, msg_flags(g)]).then(after)
        },
    },
    Call {
        name: "shutdown",
        number: 48,
        errnos: &[SHUTDOWN],
        make: |g| {
            let (fd, after) = socket(g, false);
            let how = g.pick(&[0, 1, 2, 3, usize::MAX, 1 << 32]);
            Prepared::new(&[fd, how]).then(after)
        },
    },
    Call {
        name: "getsockname",
        number: 51,
        errnos: &[SOCKNAME],
        make: name,
    },
    Call {
        name: "getpeername",
        number: 52,
        errnos: &[PEERNAME],
        make: name,
    },
    Call {
        name: "socketpair",
        number: 53,
        errnos: &[SOCKETPAIR],
        make: |g| {
            let domain = g.pick(&[1, 1, 1, 1, 2, 10, 0, 46, usize::MAX, (1 << 32) | 1]);
            let kind = match g.below(4) {
                0 => g.pick(&[0, 2, 3, 4, 5, 6, 10, 11, 15]) | g.flags(0o2004000),
                1 => g.flags(u64::MAX),
                _ => SOCK_STREAM | g.flags(0o2004000),
            };
            let protocol = g.pick(&[0, 0, 0, 1, 6, 17, usize::MAX]);
            match g.below(6) {
                0 => Prepared::new(&[domain, kind, protocol, g.bad_pointer()]),
                1 => {
                    // The read-only page, or across the arena's guard page.
                    let sv = if g.one_in(2) {
                        g.world.unterminated + g.below(4096) as usize
                    } else {
                        g.world.arena + crate::world::ARENA - 4
                    };
                    Prepared::new(&[domain, kind, protocol, sv])
                }
                _ => {
                    let sv = g.place(&[0]);
                    Prepared::new(&[domain, kind, protocol, sv]).then(After::ClosePair(sv))
                }
            }
        },
    },
    Call {
        name: "setsockopt",
        number: 54,
        errnos: &[SOCKOPT],
        make: |g| sockopt(g, false),
    },
    Call {
        name: "getsockopt",
        number: 55,
        errnos: &[SOCKOPT],
        make: |g| sockopt(g, true),
    },
];
