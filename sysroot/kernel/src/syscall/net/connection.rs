//! The calls that make, take and end connections, and name their ends: `bind`,
//! `listen`, `accept`, `accept4`, `connect`, `shutdown`, `getsockname`,
//! `getpeername`.

use super::{address, deadline, restarting_unless_timed, socket_in, with_socket};
use crate::errno::Errno;
use crate::net::tcp::CONNECT_TIMEOUT_NS;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::socket_kind::{SOCK_CLOEXEC, SOCK_NONBLOCK};
use crate::vfs::wait::{self, Attempt};
use crate::vfs::{self, OpenFile, flags, socket_shut};

/// `bind(fd, addr, addrlen)`.
pub fn bind(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let bytes = address::read(args.get(1)?, args.get(2)?)?;
    with_socket(fd, |socket| socket.bind(&bytes)).map(|()| 0)
}

/// `listen(fd, backlog)`: the backlog bounds the connections completing at once (a
/// negative one counts as 0, as Linux clamps it).
pub fn listen(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let backlog: i32 = args.get(1)?;
    let backlog = usize::try_from(backlog).unwrap_or(0);
    with_socket(fd, |socket| socket.listen(backlog)).map(|()| 0)
}

/// `accept4(fd, addr, addrlen, flags)`.
pub fn accept4(args: SyscallArgs) -> SysResult {
    let flags: i32 = args.get(3)?;
    accept_with(args, flags)
}

/// `accept(fd, addr, addrlen)`.
pub fn accept(args: SyscallArgs) -> SysResult {
    accept_with(args, 0)
}

/// Waits (on a blocking socket) for a connection, names its peer to the caller and
/// gives it a descriptor with the `SOCK_NONBLOCK`/`SOCK_CLOEXEC` of `flags`.
fn accept_with(args: SyscallArgs, flags: i32) -> SysResult {
    let fd: Fd = args.get(0)?;
    let addr: UserAddr = args.get(1)?;
    let addrlen: UserAddr = args.get(2)?;
    if flags & !(SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    // `SO_RCVTIMEO` bounds the wait (`EAGAIN`), as Linux's `inet_csk_accept`.
    let deadline = deadline(fd.0, false)?;
    let accepted = restarting_unless_timed(deadline, || {
        wait::until(deadline, |vfs| match socket_in(vfs, fd.0)?.accept() {
            Err(Errno::EAGAIN) if !vfs.file(fd.0)?.nonblocking() => Ok(Attempt::Wait),
            other => other.map(Attempt::Done),
        })?
        .ok_or(Errno::EAGAIN)
    })?;
    if !addr.is_null() {
        let peer = accepted.socket().ok_or(Errno::ENOTSOCK)?.address(true)?;
        address::write(addr, addrlen, &peer.0[..peer.1])?;
    }
    let status = if flags & SOCK_NONBLOCK != 0 {
        flags::O_NONBLOCK
    } else {
        0
    };
    let file = OpenFile::new(accepted, flags::O_RDWR | status);
    vfs::with(|vfs| vfs.install(file, 0, flags & SOCK_CLOEXEC != 0)).map(|fd| fd as usize)
}

/// `connect(fd, addr, addrlen)`: `EINPROGRESS` on a non-blocking socket (the outcome
/// in `SO_ERROR` once it is writable); a blocking one waits for the handshake.
pub fn connect(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let bytes = address::read(args.get(1)?, args.get(2)?)?;
    let nonblocking = vfs::with(|vfs| {
        socket_in(vfs, fd.0)?.connect(&bytes)?;
        Ok(vfs.file(fd.0)?.nonblocking())
    })?;
    if nonblocking {
        return Err(Errno::EINPROGRESS);
    }
    // Interrupted, the handshake goes on (Linux: `EINTR`, never restarted). Past
    // `SO_SNDTIMEO` it is reported as `EINPROGRESS` (`inet_stream_connect`); at the
    // connection timeout the last attempt finds it timed out (`ETIMEDOUT`): nothing
    // else would wake a wait for an address that never answers.
    let timed_out = crate::time::monotonic_ns().saturating_add(CONNECT_TIMEOUT_NS);
    let (until, expired) = match deadline(fd.0, true)? {
        Some(user) if user < timed_out => (user, Errno::EINPROGRESS),
        _ => (timed_out, Errno::ETIMEDOUT),
    };
    wait::until(Some(until), |vfs| match socket_in(vfs, fd.0)?.connected() {
        Err(Errno::EAGAIN) => Ok(Attempt::Wait),
        other => other.map(Attempt::Done),
    })?
    .ok_or(expired)?;
    Ok(0)
}

/// `shutdown(fd, how)`.
pub fn shutdown(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let how: i32 = args.get(1)?;
    let directions = match how {
        0 => socket_shut::RECEIVE,
        1 => socket_shut::SEND,
        2 => socket_shut::BOTH,
        _ => return Err(Errno::EINVAL),
    };
    with_socket(fd, |socket| socket.shutdown(directions)).map(|()| 0)
}

fn name(args: SyscallArgs, peer: bool) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (addr, addrlen): (UserAddr, UserAddr) = (args.get(1)?, args.get(2)?);
    let (bytes, len) = with_socket(fd, |socket| socket.address(peer))?;
    address::write(addr, addrlen, &bytes[..len]).map(|()| 0)
}

/// `getsockname(fd, addr, addrlen)`.
pub fn getsockname(args: SyscallArgs) -> SysResult {
    name(args, false)
}

/// `getpeername(fd, addr, addrlen)`.
pub fn getpeername(args: SyscallArgs) -> SysResult {
    name(args, true)
}
