//! The socket system calls, one handler each for every kind of socket: the object
//! behind the descriptor answers through `vfs::Socket` (AF_UNIX stream pairs in
//! `crate::vfs`, TCP over IPv4 in `crate::net::tcp`), so a new family is one more
//! implementation, not new handlers. `read`, `write`, `close`, `dup`, `fcntl`, `poll`
//! and `epoll` reach sockets as any descriptor.
//!
//! Modules by concern: [`create`] (`socket` by family, `socketpair`), [`connection`]
//! (`bind`, `listen`, `accept`, `accept4`, `connect`, `shutdown`, `getsockname`,
//! `getpeername`), [`transfer`] (`sendto`, `recvfrom`, `sendmsg`, `recvmsg`, with
//! SIGPIPE on `EPIPE` unless `MSG_NOSIGNAL`), [`options`] (`getsockopt`,
//! `setsockopt`), [`address`] (socket addresses in the caller's memory).
//!
//! Waiting (a blocking `accept`, `connect`, transfer) is the VFS's (`vfs::wait`):
//! every change of a socket wakes the waiters to try again; a signal ends the wait
//! with `EINTR` (restarted with `SA_RESTART` where Linux restarts, never with a
//! timeout set). `SO_RCVTIMEO` bounds a receive and `accept`, `SO_SNDTIMEO` a send
//! and `connect` ([`deadline`]), as Linux's `sock_rcvtimeo`/`sock_sndtimeo`.

mod address;
mod connection;
mod create;
mod options;
mod transfer;

pub use connection::{accept, accept4, bind, connect, getpeername, getsockname, listen, shutdown};
pub use create::{socket, socketpair};
pub use options::{getsockopt, setsockopt};
pub use transfer::{recvfrom, recvmsg, sendmsg, sendto};

use super::Fd;
use crate::errno::Errno;
use crate::vfs::{self, Socket, Vfs};
use crate::{signal, time};

/// `fd`'s socket operations (`EBADF`, `ENOTSOCK`), for a call under the VFS lock.
fn socket_in(vfs: &Vfs, fd: u32) -> Result<&dyn Socket, Errno> {
    vfs.file(fd)?.object.socket().ok_or(Errno::ENOTSOCK)
}

/// Runs `op` on `fd`'s socket under the VFS lock.
fn with_socket<R>(fd: Fd, op: impl FnOnce(&dyn Socket) -> Result<R, Errno>) -> Result<R, Errno> {
    vfs::with(|vfs| op(socket_in(vfs, fd.0)?))
}

/// When a blocking wait on `fd`'s socket to send (`send`) or receive gives up: its
/// `SO_SNDTIMEO` or `SO_RCVTIMEO` from now (`CLOCK_MONOTONIC` ns), `None` for never.
fn deadline(fd: u32, send: bool) -> Result<Option<u64>, Errno> {
    let timeout = vfs::with(|vfs| Ok(socket_in(vfs, fd)?.timeouts().get(send)))?;
    Ok(timeout.map(|ns| time::monotonic_ns().saturating_add(ns)))
}

/// Runs `call` (a wait until `deadline`), restarting it after a signal whose handlers
/// all have `SA_RESTART` only when there is no deadline: a socket call with a timeout
/// fails with `EINTR` (signal(7); Linux's `sock_intr_errno`).
fn restarting_unless_timed<R>(
    deadline: Option<u64>,
    mut call: impl FnMut() -> Result<R, Errno>,
) -> Result<R, Errno> {
    match deadline {
        Some(_) => call(),
        None => signal::restarting(call),
    }
}

/// Checks that `fd` is an open socket (`EBADF`, `ENOTSOCK`) before a call reads its
/// other arguments, in Linux's order.
fn ensure_socket(fd: Fd) -> Result<(), Errno> {
    with_socket(fd, |_| Ok(()))
}
