//! The socket ABI every kind of socket shares: address families, socket types, the
//! `send`/`recv` flags, `shutdown` directions, option levels and names, and the
//! caller's buffers of a transfer ([`Segment`]). The operations themselves are
//! [`super::file::Socket`], beside the object interface they extend.

use core::sync::atomic::{AtomicU64, Ordering};

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

/// Address families (`include/linux/socket.h`).
pub mod family {
    pub const AF_UNIX: i32 = 1;
    pub const AF_INET: i32 = 2;
    pub const AF_INET6: i32 = 10;
    /// Linux's `NPROTO`: families at or above it are `EAFNOSUPPORT` at once.
    pub const NPROTO: i32 = 46;
}

/// Socket types (`include/linux/net.h`) and the flags `socket`, `socketpair` and
/// `accept4` take with them (`O_NONBLOCK` and `O_CLOEXEC`).
pub mod kind {
    pub const SOCK_STREAM: i32 = 1;
    pub const SOCK_DGRAM: i32 = 2;
    pub const SOCK_RAW: i32 = 3;
    pub const SOCK_SEQPACKET: i32 = 5;
    /// Linux's `SOCK_MAX`; the type is the low four bits (`SOCK_TYPE_MASK`).
    pub const SOCK_MAX: i32 = 11;
    pub const SOCK_TYPE_MASK: i32 = 0xf;
    pub const SOCK_NONBLOCK: i32 = 0o4000;
    pub const SOCK_CLOEXEC: i32 = 0o2000000;
}

/// `getsockopt`/`setsockopt` levels and the options answered here
/// (`include/uapi/asm-generic/socket.h`, `include/uapi/linux/tcp.h`).
pub mod opt {
    pub const SOL_SOCKET: i32 = 1;
    pub const IPPROTO_TCP: i32 = 6;
    pub const SO_REUSEADDR: i32 = 2;
    pub const SO_KEEPALIVE: i32 = 9;
    pub const TCP_NODELAY: i32 = 1;
    pub const SO_TYPE: i32 = 3;
    pub const SO_ERROR: i32 = 4;
    pub const SO_SNDBUF: i32 = 7;
    pub const SO_RCVBUF: i32 = 8;
    pub const SO_DOMAIN: i32 = 39;
    pub const SO_PROTOCOL: i32 = 38;
    pub const SO_ACCEPTCONN: i32 = 30;
    /// `struct timeval`s, not `int`s: the handlers answer them for every family
    /// ([`super::Timeouts`]). x86-64's `SO_RCVTIMEO_OLD`/`SO_SNDTIMEO_OLD`, what
    /// glibc's `SO_RCVTIMEO` is on a 64-bit `time_t`.
    pub const SO_RCVTIMEO: i32 = 20;
    pub const SO_SNDTIMEO: i32 = 21;
}

/// A socket's `SO_RCVTIMEO` and `SO_SNDTIMEO` in ns (Linux's `sk_rcvtimeo` and
/// `sk_sndtimeo`): how long a blocking receive or `accept` (send or `connect`) waits
/// before it ends with what it has or `EAGAIN` (`EINPROGRESS` for `connect`). `None`:
/// for ever, the default.
#[derive(Debug)]
pub struct Timeouts {
    receive: AtomicU64,
    send: AtomicU64,
}

/// [`Timeouts`]' word for "no timeout".
const FOREVER: u64 = u64::MAX;

impl Default for Timeouts {
    fn default() -> Timeouts {
        Timeouts {
            receive: AtomicU64::new(FOREVER),
            send: AtomicU64::new(FOREVER),
        }
    }
}

impl Timeouts {
    /// A copy (an accepted socket inherits its listener's, as Linux's `sk_clone`).
    pub fn copy(&self) -> Timeouts {
        let copy = Timeouts::default();
        copy.set(false, self.get(false));
        copy.set(true, self.get(true));
        copy
    }

    fn word(&self, send: bool) -> &AtomicU64 {
        if send { &self.send } else { &self.receive }
    }

    /// The send (`send`) or receive timeout.
    pub fn get(&self, send: bool) -> Option<u64> {
        Some(self.word(send).load(Ordering::Relaxed)).filter(|&ns| ns != FOREVER)
    }

    pub fn set(&self, send: bool, ns: Option<u64>) {
        let ns = ns.map_or(FOREVER, |ns| ns.min(FOREVER - 1));
        self.word(send).store(ns, Ordering::Relaxed);
    }
}

/// One part of the caller's memory a transfer reads or writes (`struct iovec`).
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub base: usize,
    pub len: usize,
}
