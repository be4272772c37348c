//! Socket system calls for TCP over IPv4: `socket`, `bind`, `listen`, `accept`,
//! `accept4`, `connect`, `shutdown`, `getsockname`, `getpeername` here; the data
//! transfers (`sendto`, `recvfrom`, `sendmsg`, `recvmsg`) in `transfer`, the options in `options`, `sockaddr_in` in `addr`. The
//! sockets themselves are `crate::net::tcp`'s; `read`, `write`, `close`, `dup`,
//! `fcntl`, `poll` and `epoll` reach them as any descriptor.
//!
//! Waiting (a blocking `accept`, `connect`, `recvfrom`) is the VFS's (`vfs::wait`):
//! every change of the network stack wakes the waiters to try again; a signal ends the
//! wait with `EINTR` (restarted with `SA_RESTART` where Linux restarts).

mod addr;
mod options;
mod transfer;

use alloc::sync::Arc;
use core::any::Any;

pub use options::{getsockopt, setsockopt};
pub use transfer::{recvfrom, recvmsg, sendmsg, sendto};

use super::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::net::tcp::TcpSocket;
use crate::vfs::wait::{self, Attempt};
use crate::vfs::{self, OpenFile, flags};

const SOCK_STREAM: u32 = 1;
/// `SOCK_NONBLOCK` and `SOCK_CLOEXEC` are `O_NONBLOCK` and `O_CLOEXEC`.
const SOCK_NONBLOCK: u32 = flags::O_NONBLOCK;
const SOCK_CLOEXEC: u32 = flags::O_CLOEXEC;
const SOCK_TYPE_MASK: u32 = 0xf;
const IPPROTO_TCP: u32 = 6;

/// The TCP socket behind `fd` and whether its description is non-blocking;
/// `ENOTSOCK` for another object.
fn socket_of(fd: u32) -> Result<(Arc<TcpSocket>, bool), Errno> {
    let (object, nonblocking) = vfs::with(|vfs| {
        let file = vfs.file(fd)?;
        Ok((file.object.clone(), file.nonblocking()))
    })?;
    let object: Arc<dyn Any + Send + Sync> = object;
    let socket = object
        .downcast::<TcpSocket>()
        .map_err(|_| Errno::ENOTSOCK)?;
    Ok((socket, nonblocking))
}

/// A new descriptor for `socket` with the `SOCK_NONBLOCK`/`SOCK_CLOEXEC` of `flags`.
fn install(socket: TcpSocket, flags: u32) -> SysResult {
    let file = OpenFile::new(Arc::new(socket), flags::O_RDWR | (flags & SOCK_NONBLOCK));
    vfs::with(|vfs| vfs.install(file, 0, flags & SOCK_CLOEXEC != 0)).map(|fd| fd as usize)
}

/// `socket(domain, type, protocol)`: `AF_INET` `SOCK_STREAM` (TCP).
pub fn socket(args: SyscallArgs) -> SysResult {
    let domain: u32 = args.get(0)?;
    let kind: u32 = args.get(1)?;
    let protocol: u32 = args.get(2)?;
    if kind & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if u16::try_from(domain) != Ok(addr::AF_INET) {
        return Err(Errno::EAFNOSUPPORT);
    }
    if kind & SOCK_TYPE_MASK != SOCK_STREAM {
        return Err(Errno::ESOCKTNOSUPPORT);
    }
    if protocol != 0 && protocol != IPPROTO_TCP {
        return Err(Errno::EPROTONOSUPPORT);
    }
    install(TcpSocket::new()?, kind)
}

/// `bind(fd, addr, addrlen)`.
pub fn bind(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let address: UserAddr = args.get(1)?;
    let len: u32 = args.get(2)?;
    let (socket, _) = socket_of(fd)?;
    socket.bind(addr::read(address, len as usize)?)?;
    Ok(0)
}

/// `listen(fd, backlog)`: the backlog bounds the connections completing at once.
pub fn listen(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let backlog: i32 = args.get(1)?;
    let (socket, _) = socket_of(fd)?;
    socket.listen(usize::try_from(backlog).unwrap_or(0))?;
    Ok(0)
}

/// `accept4(fd, addr, addrlen, flags)`.
pub fn accept4(args: SyscallArgs) -> SysResult {
    let flags: u32 = args.get(3)?;
    accept_with(args, flags)
}

/// `accept(fd, addr, addrlen)`.
pub fn accept(args: SyscallArgs) -> SysResult {
    accept_with(args, 0)
}

fn accept_with(args: SyscallArgs, flags: u32) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let address: UserAddr = args.get(1)?;
    let len: UserAddr = args.get(2)?;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    let (socket, _) = socket_of(fd)?;
    let accepted = wait::blocking(fd, |_| socket.accept())?;
    if !address.is_null() {
        addr::write(address, len, accepted.peer()?)?;
    }
    install(accepted, flags)
}

/// `connect(fd, addr, addrlen)`: `EINPROGRESS` on a non-blocking socket (the outcome
/// in `SO_ERROR` once it is writable); a blocking one waits for the handshake.
pub fn connect(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let address: UserAddr = args.get(1)?;
    let len: u32 = args.get(2)?;
    let (socket, nonblocking) = socket_of(fd)?;
    socket.connect(addr::read(address, len as usize)?)?;
    if nonblocking {
        return Err(Errno::EINPROGRESS);
    }
    // Interrupted, the handshake goes on (Linux: `EINTR`, never restarted).
    wait::until(None, |_| match socket.connected() {
        Err(Errno::EAGAIN) => Ok(Attempt::Wait),
        other => other.map(Attempt::Done),
    })?;
    Ok(0)
}

/// `shutdown(fd, how)`.
pub fn shutdown(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let how: u32 = args.get(1)?;
    let (socket, _) = socket_of(fd)?;
    socket.shutdown(how)?;
    Ok(0)
}

/// `getsockname(fd, addr, addrlen)`.
pub fn getsockname(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let (socket, _) = socket_of(fd)?;
    addr::write(args.get(1)?, args.get(2)?, socket.local()?)?;
    Ok(0)
}

/// `getpeername(fd, addr, addrlen)`.
pub fn getpeername(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let (socket, _) = socket_of(fd)?;
    addr::write(args.get(1)?, args.get(2)?, socket.peer()?)?;
    Ok(0)
}
