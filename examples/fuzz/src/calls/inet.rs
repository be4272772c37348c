//! Calls that make and connect Internet sockets: `socket`, `bind`, `listen`,
//! `accept`, `accept4`, `connect` (the shared send, receive, option and name calls are
//! `calls::net`'s, and act on the pool's TCP sockets too).
//!
//! The socket a call acts on is a fresh non-blocking TCP socket made for it alone in
//! a random state (fresh, bound, listening, connecting) and closed after it
//! (`After::CloseMade`), one of the pool's (`crate::sources`: TCP in each state,
//! AF_UNIX pairs), another pool descriptor (ENOTSOCK) or a bad one. Addresses are
//! `sockaddr_in`s of the family's own or another, with lengths short, exact, long
//! and past a `sockaddr_storage`, or bad pointers; their IPv4 addresses only ever
//! those of `sources::inet_addresses` (0.0.0.0, 127.0.0.0/8, and in the image
//! 10.0.2.0/24).
//!
//! Rules that keep the run bounded: every socket these calls act on is
//! non-blocking, so `accept` never waits for a connection and `connect` returns
//! EINPROGRESS rather than waiting for a handshake nobody may answer (smoltcp
//! retries a SYN for good); `socket` may make blocking sockets, closed at once. The
//! image without a network device has no TCP sockets: `socket` is ENETDOWN there
//! and the other calls see only the other descriptors.

use super::Call;
use crate::args::{After, Gen, Prepared};
use crate::errno::*;
use crate::sources::{inet_socket, local_port, sockaddr_in};
use crate::world::syscall;

/// socket(2)'s ERRORS, what Linux's protocol modules return that the page omits
/// (ESOCKTNOSUPPORT for a type a family lacks, EPERM for raw sockets without
/// CAP_NET_RAW, EOPNOTSUPP from a few families' create), and the unikernel's
/// ENETDOWN when it has no network device (sysroot/README.md).
const SOCKET: &[i32] = &[
    EACCES,
    EAFNOSUPPORT,
    EINVAL,
    EMFILE,
    ENFILE,
    ENOBUFS,
    ENOMEM,
    EPROTONOSUPPORT,
    ESOCKTNOSUPPORT,
    EPERM,
    EOPNOTSUPP,
    ENETDOWN,
];
/// bind(2)'s ERRORS (its AF_UNIX path errors included, for the pairs) and ip(7)'s
/// EAFNOSUPPORT for another family; EOPNOTSUPP is the unikernel's for an AF_UNIX
/// pair (no socket names: a documented gap, sysroot/README.md), where Linux checks
/// the address (EINVAL) and binds a name.
const BIND: &[i32] = &[
    EACCES,
    EADDRINUSE,
    EBADF,
    EINVAL,
    ENOTSOCK,
    EADDRNOTAVAIL,
    EFAULT,
    ELOOP,
    ENAMETOOLONG,
    ENOENT,
    ENOMEM,
    ENOTDIR,
    EROFS,
    EAFNOSUPPORT,
    EOPNOTSUPP,
];
/// listen(2)'s ERRORS, and Linux's EINVAL for a socket neither fresh nor listening
/// (`inet_listen`) or an unbound AF_UNIX one (`unix_listen`).
const LISTEN: &[i32] = &[EADDRINUSE, EBADF, ENOTSOCK, EOPNOTSUPP, EINVAL];
/// accept(2)'s ERRORS, with the pending network errors its page says Linux passes
/// on from the new connection.
const ACCEPT: &[i32] = &[
    EAGAIN,
    EBADF,
    ECONNABORTED,
    EFAULT,
    EINTR,
    EINVAL,
    EMFILE,
    ENFILE,
    ENOBUFS,
    ENOMEM,
    ENOTSOCK,
    EOPNOTSUPP,
    EPERM,
    EPROTO,
    ENETDOWN,
    ENOPROTOOPT,
    EHOSTDOWN,
    ENONET,
    EHOSTUNREACH,
    ENETUNREACH,
];
/// connect(2)'s ERRORS; ip(7)'s EINVAL (a short address), ECONNABORTED,
/// ECONNRESET and EHOSTUNREACH (a connection the network ended); for an AF_UNIX pair
/// given an AF_UNIX address, unix(7)'s path resolution errors on Linux, and
/// EOPNOTSUPP in the unikernel (no socket names: a documented gap, as for `bind`).
const CONNECT: &[i32] = &[
    ECONNABORTED,
    EACCES,
    EPERM,
    EADDRINUSE,
    EADDRNOTAVAIL,
    EAFNOSUPPORT,
    EAGAIN,
    EALREADY,
    EBADF,
    ECONNREFUSED,
    EFAULT,
    EINPROGRESS,
    EINTR,
    EISCONN,
    ENETUNREACH,
    ENOTSOCK,
    EPROTOTYPE,
    ETIMEDOUT,
    EINVAL,
    ECONNRESET,
    EHOSTUNREACH,
    EOPNOTSUPP,
];

const AF_INET: u16 = 2;
const SOCK_NONBLOCK: usize = 0o4000;
const SOCK_CLOEXEC: usize = 0o2000000;

/// A fresh non-blocking TCP socket in a random state, in a private word (the other
/// half marked closed) for `After::CloseMade`; `None` without a network.
fn fresh(g: &mut Gen) -> Option<(usize, usize)> {
    let fd = inet_socket()?;
    let words = g.place(&[(u64::from(u32::MAX) << 32) | fd as u64]);
    let fd = fd as usize;
    let state = g.below(4);
    if state >= 1 {
        let address = g.pick(&g.world.addresses.clone());
        let name = g.place(&sockaddr_in(AF_INET, address, 0));
        // SAFETY: a 16-byte sockaddr_in in private memory, which bind only reads.
        unsafe { syscall(49, fd, name, 16usize) };
    }
    if state == 2 {
        // SAFETY: listen takes no pointers.
        unsafe { syscall(50, fd, g.below(10) as usize) };
    } else if state == 3 {
        let to = sockaddr(g, true);
        // SAFETY: a 16-byte sockaddr_in in private memory, which connect only reads;
        // non-blocking, so it returns at once.
        unsafe { syscall(42, fd, to, 16usize) };
    }
    Some((fd, words))
}

/// The socket for a call and its clean-up (see the module's docs).
fn socket(g: &mut Gen) -> (usize, After) {
    match g.below(10) {
        0..=2 if !g.world.sockets.is_empty() => {
            let sockets = &g.world.sockets;
            (
                sockets[g.below(sockets.len() as u64) as usize] as usize,
                After::Nothing,
            )
        }
        7 => (g.fd(), After::Nothing),
        8 => (g.bad_fd(), After::Nothing),
        _ => match fresh(g) {
            Some((fd, words)) => (fd, After::CloseMade(words)),
            None => (g.fd(), After::Nothing),
        },
    }
}

/// A port: one a pool socket has (the listener's, a bound one's), a well-known or
/// privileged one, 0, the extremes, or any.
fn port(g: &mut Gen) -> u16 {
    match g.below(6) {
        0 | 1 if !g.world.inet.is_empty() => {
            let inet = &g.world.inet;
            local_port(inet[g.below(inet.len() as u64) as usize])
        }
        2 => g.below(65536) as u16,
        _ => g.pick(&[0, 1, 22, 80, 1023, 1024, 8080, 32768, 49152, 60999, 65535]),
    }
}

/// A `sockaddr_in` (private, 128 bytes readable) with a permitted address; `inet`:
/// always AF_INET, else sometimes AF_UNSPEC, AF_UNIX, AF_INET6 or junk.
fn sockaddr(g: &mut Gen, inet: bool) -> usize {
    let family = if inet || g.below(4) > 0 {
        AF_INET
    } else {
        g.pick(&[0, 1, 10, 17, 0xffff])
    };
    let address = g.pick(&g.world.addresses.clone());
    let port = port(g);
    let mut words = [0u64; 16];
    words[..2].copy_from_slice(&sockaddr_in(family, address, port));
    if g.one_in(4) {
        // Junk in `sin_zero` and past it.
        for word in &mut words[1..] {
            *word = g.rng.next();
        }
    }
    g.place(&words)
}

/// `(addr, addrlen)` for bind and connect: mostly a good address of its own length,
/// else short, long, past a `sockaddr_storage` or negative; or a bad pointer, or
/// one across the arena's guard page.
fn address_in(g: &mut Gen) -> (usize, usize) {
    let addr = match g.below(10) {
        0 => g.bad_pointer(),
        1 => g.world.arena + crate::world::ARENA - g.below(16) as usize,
        _ => sockaddr(g, false),
    };
    let len = match g.below(4) {
        0 => g.pick(&[
            0,
            1,
            2,
            8,
            15,
            17,
            28,
            110,
            128,
            129,
            4096,
            0xffff_ffff,
            0x8000_0000,
        ]),
        _ => 16,
    };
    (addr, len)
}

/// A `socklen_t` (private) for accept's peer address, or a bad pointer.
fn addrlen_out(g: &mut Gen) -> usize {
    if g.one_in(6) {
        g.bad_pointer()
    } else {
        let len = g.pick(&[0u64, 4, 15, 16, 128, 0xffff_ffff, 0x8000_0000]);
        g.place(&[len])
    }
}

fn accept_args(g: &mut Gen) -> (usize, After, usize, usize) {
    let (fd, after) = socket(g);
    let (addr, addrlen) = match g.below(4) {
        0 => (0, 0),
        1 => (g.out_pointer(), g.bad_pointer()),
        _ => (g.out_pointer(), addrlen_out(g)),
    };
    (fd, after, addr, addrlen)
}

pub const CALLS: &[Call] = &[
    Call {
        name: "socket",
        number: 41,
        errnos: &[SOCKET],
        make: |g| {
            let domain = g.pick(&[2, 2, 2, 2, 1, 10, 0, 16, 17, 46, usize::MAX, (1 << 32) | 2]);
            let kind = match g.below(4) {
                0 => g.pick(&[0, 2, 3, 4, 5, 6, 10, 11, 15]) | g.flags(0o2004000),
                1 => g.flags(u64::MAX),
                _ => 1 | g.flags(0o2004000),
            };
            let protocol = g.pick(&[0, 0, 0, 6, 6, 17, 1, 255, 256, usize::MAX]);
            Prepared::new(&[domain, kind, protocol]).then(After::CloseResult)
        },
    },
    Call {
        name: "bind",
        number: 49,
        errnos: &[BIND, super::PATH],
        make: |g| {
            let (fd, after) = socket(g);
            let (addr, len) = address_in(g);
            Prepared::new(&[fd, addr, len]).then(after)
        },
    },
    Call {
        name: "listen",
        number: 50,
        errnos: &[LISTEN],
        make: |g| {
            let (fd, after) = socket(g);
            let backlog = g.pick(&[0, 1, 8, 128, 4096, usize::MAX, 0x8000_0000, 1 << 32]);
            Prepared::new(&[fd, backlog]).then(after)
        },
    },
    Call {
        name: "accept",
        number: 43,
        errnos: &[ACCEPT],
        make: |g| {
            let (fd, after, addr, addrlen) = accept_args(g);
            Prepared::new(&[fd, addr, addrlen]).then(accepted(after))
        },
    },
    Call {
        name: "accept4",
        number: 288,
        errnos: &[ACCEPT],
        make: |g| {
            let (fd, after, addr, addrlen) = accept_args(g);
            let flags = match g.below(4) {
                0 => g.flags(u64::MAX),
                _ => g.pick(&[0, SOCK_NONBLOCK, SOCK_CLOEXEC, SOCK_NONBLOCK | SOCK_CLOEXEC]),
            };
            Prepared::new(&[fd, addr, addrlen, flags]).then(accepted(after))
        },
    },
    Call {
        name: "connect",
        number: 42,
        errnos: &[CONNECT, super::PATH],
        make: |g| {
            let (fd, after) = socket(g);
            let (addr, len) = address_in(g);
            Prepared::new(&[fd, addr, len]).then(after)
        },
    },
];

/// What to undo after an accept: a socket made for it is closed whatever happened;
/// otherwise a connection accepted from a pool listener (its descriptor the result).
fn accepted(after: After) -> After {
    match after {
        After::Nothing => After::CloseResult,
        made => made,
    }
}
