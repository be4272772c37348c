//! The socket ABI every kind of socket shares: address families, socket types, the
//! `send`/`recv` flags, `shutdown` directions, option levels and names, and the
//! caller's buffers of a transfer ([`Segment`]). The operations themselves are
//! [`super::file::Socket`], beside the object interface they extend.

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
}

/// One part of the caller's memory a transfer reads or writes (`struct iovec`).
#[derive(Clone, Copy, Debug)]
pub struct Segment {
    pub base: usize,
    pub len: usize,
}
