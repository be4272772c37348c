//! Open file descriptions and the interface of what they refer to.
//!
//! A description ([`OpenFile`]: what `open`, `pipe2`, `eventfd2`, `epoll_create1` and
//! the console descriptors create and `dup` shares) holds the offset, the status flags
//! and an object. Every kind of object — RAM files, directories and symbolic links,
//! the `/dev` devices, the console, pipe ends, event counters, `epoll` instances — is
//! one implementation of [`FileLike`] (Linux's `file_operations`), so a new kind (a
//! socket) is one more implementation, not one more arm in every operation.
//!
//! The VFS has one lock ([`super::with`]) held for a system call's whole file-system
//! work, so an object's methods run under it; objects that other descriptions share
//! (a pipe's two ends) keep their state behind a lock of their own, taken after it.
//! Objects backed by an inode of the RAM file system get the inode table as an
//! argument rather than a pointer of their own: the table owns the inodes, and the
//! name-space operations (`rename`, `unlink`, ...) work on it directly.

use alloc::sync::Arc;
use core::fmt;

use unikernel_hal::uaccess;

use super::inode::{Ino, Inodes};
use super::poll::bits::{READABLE, WRITABLE};
use super::socket::{Segment, Timeouts};
use super::stat::Stat;
use crate::errno::Errno;

/// `open(2)` flags (x86-64 values, `include/uapi/asm-generic/fcntl.h`).
pub mod flags {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const O_ASYNC: u32 = 0o20000;
    pub const O_DIRECT: u32 = 0o40000;
    pub const O_LARGEFILE: u32 = 0o100000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;
    /// The flags `F_SETFL` may change (Linux `SETFL_MASK`).
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    /// The flags kept in the description after `open` (creation flags are not).
    pub const KEPT: u32 = O_ACCMODE
        | O_APPEND
        | O_NONBLOCK
        | O_DSYNC
        | O_ASYNC
        | O_DIRECT
        | O_LARGEFILE
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_NOATIME
        | O_SYNC
        | O_PATH;
}

/// The generic `ioctl` requests (`include/uapi/asm-generic/ioctls.h`).
pub mod ioctl {
    pub const FIONREAD: u32 = 0x541b;
    pub const FIONBIO: u32 = 0x5421;
    pub const FIONCLEX: u32 = 0x5450;
    pub const FIOCLEX: u32 = 0x5451;
}

/// Answers `FIONREAD` with `n` bytes ready (an `int` at `arg`, capped).
pub fn reply_fionread(arg: usize, n: usize) -> Result<usize, Errno> {
    let n = i32::try_from(n).unwrap_or(i32::MAX);
    uaccess::copy_to(arg, &n.to_ne_bytes())?;
    Ok(0)
}

/// Where a read or write happens.
#[derive(Debug)]
pub enum At<'a> {
    /// At the description's offset (`read`, `write`), which objects with a position
    /// move past the bytes transferred.
    Offset(&'a mut u64),
    /// At this position, leaving the offset alone (`pread64`, `pwrite64`).
    Position(u64),
}

impl At<'_> {
    /// For objects without a position (pipes, counters, the console): `ESPIPE` for an
    /// explicit position, as Linux's `FMODE_PREAD` check.
    pub fn stream(&self) -> Result<(), Errno> {
        match self {
            At::Offset(_) => Ok(()),
            At::Position(_) => Err(Errno::ESPIPE),
        }
    }

    /// The position the transfer starts at.
    pub fn position(&self) -> u64 {
        match self {
            At::Offset(offset) => **offset,
            At::Position(position) => *position,
        }
    }

    /// The transfer ended at `end`: the description's offset moves there.
    pub fn end_at(self, end: u64) {
        if let At::Offset(offset) = self {
            *offset = end;
        }
    }
}

/// What a description reads, writes, polls and stats. Each default is what Linux
/// answers for an object that lacks the operation; the description's access mode and
/// `O_PATH` are checked before any of these is called.
///
/// `buf` addresses are the caller's (checked copies through `uaccess`); lengths are
/// already capped at Linux's `MAX_RW_COUNT`.
pub trait FileLike: Send + Sync {
    /// `read(2)` and `pread64(2)`: `EINVAL` for what cannot be read, `ESPIPE` for a
    /// position on what has none.
    fn read(&self, _fs: &Inodes, at: At<'_>, _buf: usize, _len: usize) -> Result<usize, Errno> {
        at.stream()?;
        Err(Errno::EINVAL)
    }

    /// `write(2)` and `pwrite64(2)` (`flags`: the description's, for `O_APPEND`).
    fn write(
        &self,
        _fs: &mut Inodes,
        at: At<'_>,
        _flags: u32,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        at.stream()?;
        Err(Errno::EINVAL)
    }

    /// A blocking `write` returns only once every byte is in (pipes, `pipe(7)`), not
    /// after the first chunk.
    fn writes_whole(&self) -> bool {
        false
    }

    /// `lseek(2)` from the description's `*offset`: the new offset.
    fn seek(&self, _fs: &Inodes, _offset: &mut u64, _to: i64, _whence: u32) -> Result<u64, Errno> {
        Err(Errno::ESPIPE)
    }

    /// `getdents64(2)` from position `*offset`: the bytes of records written.
    fn getdents(
        &self,
        _fs: &Inodes,
        _offset: &mut u64,
        _buf: usize,
        _len: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::ENOTDIR)
    }

    /// `ioctl(2)` requests other than the descriptor-level `FIONBIO`, `FIOCLEX` and
    /// `FIONCLEX`; nothing is a terminal, so the rest is `ENOTTY`.
    fn ioctl(
        &self,
        _fs: &Inodes,
        _offset: u64,
        _request: u32,
        _arg: usize,
    ) -> Result<usize, Errno> {
        Err(Errno::ENOTTY)
    }

    /// `fstat(2)`.
    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno>;

    /// Every `poll` bit that holds now (Linux's `f_op->poll`). The default is Linux's
    /// `DEFAULT_POLLMASK`: an object without a poll method never waits.
    fn poll(&self) -> u16 {
        READABLE | WRITABLE
    }

    /// How often the object woke its waiters (a change that may have made it ready):
    /// edge-triggered `epoll` reports an entry again only after this moves. This is
    /// the wake-up side of the interface: an object that can become ready moves the
    /// count and calls [`super::wake::notify`], which wakes every waiter (`poll`,
    /// `epoll_wait`, blocking reads and writes) to look at [`FileLike::poll`] again.
    /// Objects that never wait never change.
    fn changes(&self) -> u64 {
        0
    }

    /// Whether `epoll_ctl(EPOLL_CTL_ADD)` may watch it (`EPERM` for what has no poll
    /// method: regular files and directories).
    fn check_epoll_target(&self, _fs: &Inodes) -> Result<(), Errno> {
        Ok(())
    }

    /// The bytes a mapping of it starts with (`mmap(2)` of a descriptor); `ENODEV`
    /// for what cannot be mapped.
    fn map_contents<'fs>(&self, _fs: &'fs Inodes, _shared_write: bool) -> Result<&'fs [u8], Errno> {
        Err(Errno::ENODEV)
    }

    /// `ftruncate(2)` (on a description open for writing).
    fn truncate(&self, _fs: &mut Inodes, _len: u64) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }

    /// `fsync(2)`/`fdatasync(2)`: `EINVAL` for what cannot be synced.
    fn fsync(&self) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }

    /// The socket operations, for a socket (the socket calls answer `ENOTSOCK` for
    /// the rest).
    fn socket(&self) -> Option<&dyn Socket> {
        None
    }

    /// The inode of the RAM file system behind it, for the calls that work on the
    /// inode itself (`fchmod`, `fchdir`, `futimens`, `*at` directories).
    fn inode(&self) -> Option<Ino> {
        None
    }

    /// A new description refers to it: by default, its inode (if any) counts one more
    /// open description.
    fn opened(&self, fs: &mut Inodes) -> Result<(), Errno> {
        match self.inode() {
            Some(ino) => fs.open(ino),
            None => Ok(()),
        }
    }

    /// The last descriptor of a description that referred to it closed: by default,
    /// its inode (if any) counts one open description fewer.
    fn released(&self, fs: &mut Inodes) {
        if let Some(ino) = self.inode() {
            fs.close(ino);
        }
    }
}

/// Descriptions print their object as `FileLike`: a `Debug` bound on the trait would
/// keep every object's formatting code in the image through the vtables, for
/// nothing (the kernel never prints a description).
impl fmt::Debug for dyn FileLike {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("FileLike")
    }
}

#[derive(Debug)]
pub struct OpenFile {
    pub object: Arc<dyn FileLike>,
    /// Access mode and status flags ([`flags::KEPT`]).
    pub flags: u32,
    pub offset: u64,
    /// Descriptors sharing this description.
    pub(super) refs: u32,
}

impl OpenFile {
    pub fn new(object: Arc<dyn FileLike>, flags: u32) -> Self {
        Self {
            object,
            flags: flags & flags::KEPT,
            offset: 0,
            refs: 0,
        }
    }

    pub fn readable(&self) -> bool {
        self.flags & flags::O_PATH == 0 && self.flags & flags::O_ACCMODE != flags::O_WRONLY
    }

    /// `O_NONBLOCK`: `EAGAIN` instead of waiting.
    pub fn nonblocking(&self) -> bool {
        self.flags & flags::O_NONBLOCK != 0
    }

    pub fn writable(&self) -> bool {
        self.flags & flags::O_PATH == 0
            && matches!(
                self.flags & flags::O_ACCMODE,
                flags::O_WRONLY | flags::O_RDWR
            )
    }
}

/// What a socket adds to [`FileLike`] (Linux's `proto_ops`): every socket call
/// (`bind`, `listen`, `accept`, `connect`, the transfers, `shutdown`, the options and
/// names) reaches the object through [`FileLike::socket`], so each kind of socket
/// (AF_UNIX stream pairs, TCP) is one implementation and the system calls are one
/// handler each. The defaults are Linux's `sock_no_*` answers for a family without
/// the operation. It lives beside `FileLike` because `accept` makes a new object.
///
/// None of it waits: what is not ready is `EAGAIN`, and the system call waits (unless
/// the descriptor is `O_NONBLOCK` or the call passes `MSG_DONTWAIT`). `segments` are
/// the caller's buffers, checked on use through `uaccess`; addresses are a
/// `struct sockaddr_*` as bytes, the family's to parse.
pub trait Socket: Send + Sync {
    /// Sends what `segments` hold (as much as fits): the bytes taken; `EAGAIN` when
    /// nothing fits, `EPIPE` when the peer can no longer receive (the caller raises
    /// SIGPIPE unless `MSG_NOSIGNAL`).
    fn send(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno>;

    /// Receives into `segments`: the bytes copied, `0` at end of stream, `EAGAIN`
    /// when nothing is there yet. `MSG_PEEK` leaves the bytes queued.
    fn recv(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno>;

    /// `sendto`/`sendmsg`: sends to `to` (the caller's `sockaddr`, if it gave a
    /// non-empty one). A connected stream's answer to an address is
    /// [`Socket::check_destination`]'s (the default); a datagram socket sends there.
    fn send_to(&self, segments: &[Segment], flags: u32, to: Option<&[u8]>) -> Result<usize, Errno> {
        if to.is_some() {
            self.check_destination()?;
        }
        self.send(segments, flags)
    }

    /// `recvfrom`/`recvmsg`: [`Socket::recv`] and the sender's `sockaddr` (bytes and
    /// length). A connected stream names none (length 0, the default), as Linux.
    fn recv_from(
        &self,
        segments: &[Segment],
        flags: u32,
    ) -> Result<(usize, ([u8; 16], usize)), Errno> {
        Ok((self.recv(segments, flags)?, ([0; 16], 0)))
    }

    /// Whether a send is one datagram (sent whole or not at all), not part of a
    /// stream that a blocking send waits to finish.
    fn is_datagram(&self) -> bool {
        false
    }

    /// What `sendto`/`sendmsg` with a destination address does on this connected
    /// stream: TCP ignores it (the default, tcp(7)); an AF_UNIX stream says `EISCONN`.
    fn check_destination(&self) -> Result<(), Errno> {
        Ok(())
    }

    /// `shutdown(2)` of the `shut` directions.
    fn shutdown(&self, directions: u8) -> Result<(), Errno>;

    /// The socket's `SO_RCVTIMEO` and `SO_SNDTIMEO`, which the handlers set, read and
    /// wait by (the same for every family, as Linux's `sock_setsockopt`).
    fn timeouts(&self) -> &Timeouts;

    /// An option's `int` value at `level` (`ENOPROTOOPT` for a name it lacks).
    fn option(&self, level: i32, name: i32) -> Result<i32, Errno>;

    /// `setsockopt(level, name, value)`; `value` is `None` when the caller's is
    /// shorter than an `int` (`EINVAL`, once the level is known to have options).
    fn set_option(&self, level: i32, name: i32, value: Option<i32>) -> Result<(), Errno>;

    /// The local (`peer == false`) or peer address as a `struct sockaddr_*`:
    /// `(bytes, length)`; `ENOTCONN` for the peer of an unconnected socket.
    fn address(&self, peer: bool) -> Result<([u8; 16], usize), Errno>;

    /// `bind(2)` to `address` (`sock_no_bind`: `EOPNOTSUPP`).
    fn bind(&self, _address: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// `listen(2)` with a backlog of at most `backlog` (`sock_no_listen`).
    fn listen(&self, _backlog: usize) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Takes one connection that finished its handshake: the new socket's object
    /// (`EAGAIN` while there is none; `sock_no_accept`: `EOPNOTSUPP`).
    fn accept(&self) -> Result<Arc<dyn FileLike>, Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// Starts connecting to `address` (`sock_no_connect`: `EOPNOTSUPP`); the outcome
    /// is [`Socket::connected`]'s.
    fn connect(&self, _address: &[u8]) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    /// The outcome of the `connect` in progress: `EAGAIN` while the handshake runs,
    /// its error once it failed.
    fn connected(&self) -> Result<(), Errno> {
        Ok(())
    }
}
