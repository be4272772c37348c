//! The kinds of descriptor the pool holds, one row each in [`SOURCES`]: how to open
//! a few, and whether they are sockets (which the socket calls pick first). Every
//! descriptor is non-blocking, so no call on it can wait (see `calls::io`). A new
//! kind (the INET sockets to come) is one more row and, for its own calls, one more
//! module in `calls`.

use std::ffi::{CString, c_long};
use std::path::Path;

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
];

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
