//! What a socket adds to [`super::FileLike`]: the socket calls (`sendto`, `recvfrom`,
//! `sendmsg`, `recvmsg`, `shutdown`, `getsockopt`, `setsockopt`, `getsockname`,
//! `getpeername`) reach the object through [`super::FileLike::socket`], which is
//! `None` (`ENOTSOCK`) for everything that is not a socket. Each kind of socket
//! (AF_UNIX stream pairs: [`super::unix`]) is one implementation.
//!
//! None of it waits: what is not ready is `EAGAIN`, and the system call waits (unless
//! the descriptor is `O_NONBLOCK` or the call passes `MSG_DONTWAIT`).

use crate::errno::Errno;

/// `send`/`recv` flags (`include/linux/socket.h`).
pub mod msg {
    pub const MSG_OOB: u32 = 0x1;
    pub const MSG_PEEK: u32 = 0x2;
    pub const MSG_DONTROUTE: u32 = 0x4;
    pub const MSG_TRUNC: u32 = 0x20;
    pub const MSG_DONTWAIT: u32 = 0x40;
    pub const MSG_EOR: u32 = 0x80;
    pub const MSG_WAITALL: u32 = 0x100;
    pub const MSG_NOSIGNAL: u32 = 0x4000;
    pub const MSG_MORE: u32 = 0x8000;
    pub const MSG_CMSG_CLOEXEC: u32 = 0x4000_0000;
}

/// `shutdown(2)`'s `how`, as the two directions Linux keeps (`sk_shutdown` bits:
/// `RCV_SHUTDOWN` 1, `SEND_SHUTDOWN` 2; `SHUT_RD` 0 → 1, `SHUT_WR` 1 → 2,
/// `SHUT_RDWR` 2 → 3).
pub mod shut {
    pub const RECEIVE: u8 = 1;
    pub const SEND: u8 = 2;
    pub const BOTH: u8 = RECEIVE | SEND;
}

/// `getsockopt`/`setsockopt` levels and the `SOL_SOCKET` options answered here
/// (`include/uapi/asm-generic/socket.h`).
pub mod opt {
    pub const SOL_SOCKET: i32 = 1;
    pub const SO_TYPE: i32 = 3;
    pub const SO_ERROR: i32 = 4;
    pub const SO_SNDBUF: i32 = 7;
    pub const SO_RCVBUF: i32 = 8;
    pub const SO_DOMAIN: i32 = 39;
    pub const SO_PROTOCOL: i32 = 38;
    pub const SO_ACCEPTCONN: i32 = 30;
}

/// One part of the caller's memory a transfer reads or writes (`struct iovec`).
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub base: usize,
    pub len: usize,
}

/// The socket operations of an object (see the module docs). `segments` are the
/// caller's buffers, checked on use through `uaccess`.
pub trait Socket: Send + Sync {
    /// Sends what `segments` hold (as much as fits): the bytes taken; `EAGAIN` when
    /// nothing fits, `EPIPE` when the peer can no longer receive (the caller raises
    /// SIGPIPE unless `MSG_NOSIGNAL`).
    fn send(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno>;

    /// Receives into `segments`: the bytes copied, `0` at end of stream, `EAGAIN`
    /// when nothing is there yet. `MSG_PEEK` leaves the bytes queued.
    fn recv(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno>;

    /// `shutdown(2)` of the [`shut`] directions.
    fn shutdown(&self, directions: u8) -> Result<(), Errno>;

    /// A `SOL_SOCKET` option's `int` value (`ENOPROTOOPT` for what it lacks).
    fn option(&self, name: i32) -> Result<i32, Errno>;

    /// `setsockopt(SOL_SOCKET, name, value)`.
    fn set_option(&self, name: i32, value: i32) -> Result<(), Errno>;

    /// The local (`peer == false`) or peer address as a `struct sockaddr_*`:
    /// `(bytes, length)`.
    fn address(&self, peer: bool) -> Result<([u8; 16], usize), Errno>;
}
