//! The kinds of descriptor the pool holds, one row each in [`SOURCES`]: how to open
//! a few, and whether they are sockets (which the socket calls pick first). Every
//! descriptor is non-blocking, so no call on it can wait (see `calls::io`). A new
//! kind is one more row and, for its own calls, one more module in `calls` (the
//! INET sockets: `calls::inet`).

use std::ffi::{CString, c_long};
use std::path::Path;
use std::sync::atomic::{AtomicU16, Ordering};

use crate::sys::{O_CLOEXEC, O_CREAT, O_DIRECTORY, O_NONBLOCK, O_RDWR, syscall};

/// One kind of descriptor.
#[derive(Debug)]
pub struct Source {
    pub name: &'static str,
    /// The socket calls may use them as sockets.
    pub socket: bool,
    /// Opens this kind's descriptors, given the scratch directory.
    pub open: fn(&Path) -> Vec<i32>,
}

pub const SOURCES: &[Source] = &[
    Source {
        name: "file",
        socket: false,
        open: |root| {
            vec![
                open(&root.join("f0"), O_RDWR | O_CREAT),
                open(&root.join("f1"), O_RDWR | O_CREAT),
            ]
        },
    },
    Source {
        name: "directory",
        socket: false,
        open: |root| vec![open(root, O_DIRECTORY)],
    },
    Source {
        name: "pipe",
        socket: false,
        open: |_| {
            let mut pipe = [0i32; 2];
            // SAFETY: `pipe` is two writable ints, as pipe2(2) wants.
            let ok = unsafe { syscall(293, pipe.as_mut_ptr(), O_NONBLOCK | O_CLOEXEC) };
            assert_eq!(ok, 0, "pipe2");
            pipe.to_vec()
        },
    },
    Source {
        name: "eventfd",
        socket: false,
        // SAFETY: eventfd2 takes no pointers.
        open: |_| {
            vec![checked(
                unsafe { syscall(290, 0, O_NONBLOCK | O_CLOEXEC) },
                "eventfd2",
            )]
        },
    },
    Source {
        name: "epoll",
        socket: false,
        // SAFETY: epoll_create1 takes no pointers.
        open: |_| vec![checked(unsafe { syscall(291, O_CLOEXEC) }, "epoll_create1")],
    },
    Source {
        name: "null",
        socket: false,
        open: |_| vec![open(Path::new("/dev/null"), O_RDWR)],
    },
    // Two connected pairs, and a pair whose first end has shut down writing (its
    // writes fail with EPIPE, the other end reads end of stream): the pool's sockets
    // never close and are never shut down further (`calls::net`).
    Source {
        name: "unix stream pair",
        socket: true,
        open: |_| {
            let mut fds = unix_pair();
            fds.extend(unix_pair());
            let shut = unix_pair();
            // SAFETY: shutdown(SHUT_WR) of the program's own socket.
            unsafe { syscall(48, shut[0] as c_long, 1 as c_long) };
            fds.extend(shut);
            fds
        },
    },
    // TCP sockets in each state: fresh, bound, listening, connecting (to the
    // listener: on Linux it connects, in the image it stays in SYN-SENT, as smoltcp
    // does not talk to itself). None if the system has no network (the unikernel
    // without a NIC: `socket` is ENETDOWN there).
    Source {
        name: "inet stream",
        socket: true,
        open: |_| inet_sockets(),
    },
];

/// The local addresses the fuzzer binds and connects to: 0.0.0.0, loopback, and,
/// in the image only, QEMU user networking's 10.0.2.0/24 (the guest, the gateway,
/// an address nobody has). Never any other: natively a 10.0.2.x address might leave
/// the machine, so the host gets loopback only.
pub fn inet_addresses(image: bool) -> Vec<[u8; 4]> {
    let mut addresses = vec![[0, 0, 0, 0], [127, 0, 0, 1], [127, 1, 2, 3]];
    if image {
        addresses.extend([[10, 0, 2, 15], [10, 0, 2, 2], [10, 0, 2, 99]]);
    }
    addresses
}

/// A `struct sockaddr_in` for `address:port`, as two words.
pub fn sockaddr_in(family: u16, address: [u8; 4], port: u16) -> [u64; 2] {
    let mut bytes = [0u8; 16];
    bytes[..2].copy_from_slice(&family.to_ne_bytes());
    bytes[2..4].copy_from_slice(&port.to_be_bytes());
    bytes[4..8].copy_from_slice(&address);
    [
        u64::from_ne_bytes(bytes[..8].try_into().unwrap()),
        u64::from_ne_bytes(bytes[8..].try_into().unwrap()),
    ]
}

/// The port the pool's listener binds (`--listen`; 0: an ephemeral one).
static LISTEN_PORT: AtomicU16 = AtomicU16::new(0);

/// Sets the port the pool's listener binds, before the pool is opened.
pub fn listen_on(port: u16) {
    LISTEN_PORT.store(port, Ordering::Relaxed);
}

/// A non-blocking TCP socket, or `None` without a network.
pub fn inet_socket() -> Option<i32> {
    // SAFETY: socket takes no pointers.
    let fd = unsafe { syscall(41, 2 as c_long, 1 | O_NONBLOCK | O_CLOEXEC, 0 as c_long) };
    (fd >= 0).then_some(fd as i32)
}

/// The local port `fd` is bound to (0 if none).
pub fn local_port(fd: i32) -> u16 {
    let mut name = [0u64; 2];
    let mut len: u32 = 16;
    // SAFETY: `name` is 16 writable bytes and `len` says so, as getsockname wants.
    unsafe { syscall(51, fd as c_long, name.as_mut_ptr(), &mut len as *mut u32) };
    let bytes = name[0].to_ne_bytes();
    u16::from_be_bytes([bytes[2], bytes[3]])
}

fn inet_sockets() -> Vec<i32> {
    let Some(fresh) = inet_socket() else {
        return Vec::new();
    };
    let bind = |fd: i32| {
        let name = sockaddr_in(2, [127, 0, 0, 1], 0);
        // SAFETY: `name` is a 16-byte sockaddr_in that bind only reads.
        unsafe { syscall(49, fd as c_long, name.as_ptr(), 16 as c_long) }
    };
    let (bound, listener, connecting) = (
        inet_socket().expect("a second socket"),
        inet_socket().expect("a third socket"),
        inet_socket().expect("a fourth socket"),
    );
    // The image has no loopback (its bind to 127.0.0.1 is EADDRNOTAVAIL, leaving it
    // fresh); the listener takes the wildcard.
    let _ = bind(bound);
    let wildcard = sockaddr_in(2, [0, 0, 0, 0], LISTEN_PORT.load(Ordering::Relaxed));
    // SAFETY: `wildcard` is a 16-byte sockaddr_in that bind only reads; listen takes
    // no pointers.
    unsafe {
        syscall(49, listener as c_long, wildcard.as_ptr(), 16 as c_long);
        assert_eq!(syscall(50, listener as c_long, 8 as c_long), 0, "listen");
    }
    let to = sockaddr_in(2, [127, 0, 0, 1], local_port(listener));
    // SAFETY: `to` is a 16-byte sockaddr_in that connect only reads; non-blocking,
    // so it returns at once (0 or EINPROGRESS on Linux, an error in the image).
    unsafe { syscall(42, connecting as c_long, to.as_ptr(), 16 as c_long) };
    vec![fresh, bound, listener, connecting]
}

/// A non-blocking connected AF_UNIX stream pair.
pub fn unix_pair() -> Vec<i32> {
    let mut pair = [0i32; 2];
    // SAFETY: `pair` is two writable ints, as socketpair(2) wants.
    let ok = unsafe {
        syscall(
            53,
            1 as c_long,
            1 | O_NONBLOCK | O_CLOEXEC,
            0 as c_long,
            pair.as_mut_ptr(),
        )
    };
    assert_eq!(ok, 0, "socketpair");
    pair.to_vec()
}

fn checked(fd: c_long, what: &str) -> i32 {
    assert!(fd >= 0, "{what}");
    fd as i32
}

fn open(path: &Path, flags: c_long) -> i32 {
    let path = CString::new(path.as_os_str().as_encoded_bytes()).expect("no NUL in paths");
    // SAFETY: `path` is a NUL-terminated string; open(2) reads only it.
    let fd = unsafe { syscall(2, path.as_ptr(), flags | O_NONBLOCK | O_CLOEXEC, 0o600) };
    checked(fd, &format!("open {path:?}"))
}
