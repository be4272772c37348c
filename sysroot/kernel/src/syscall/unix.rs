//! Socket calls on AF_UNIX stream pairs: `socketpair`, `sendto`, `recvfrom`,
//! `sendmsg`, `recvmsg`, `shutdown`, `getsockopt`, `setsockopt`, `getsockname`,
//! `getpeername`. The socket itself is `crate::vfs`'s (`Socket`, reached through the
//! descriptor's object); this file checks arguments, waits while a blocking socket
//! is not ready (not with `O_NONBLOCK` or `MSG_DONTWAIT`), and raises SIGPIPE for a
//! send to a peer that is gone unless `MSG_NOSIGNAL`.
//!
//! Every call but `socketpair` works on any object with socket operations, so other
//! families are one more `Socket` implementation, not new handlers.

use alloc::vec::Vec;

use unikernel_hal::uaccess;

use super::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::signal;
use crate::vfs::wait::{self, Attempt};
use crate::vfs::{self, Segment, Socket, socket_msg::*, socket_opt::SOL_SOCKET, socket_shut};

const AF_UNIX: i32 = 1;
const AF_INET: i32 = 2;
const AF_INET6: i32 = 10;
/// Linux's `NPROTO`: families at or above it are `EAFNOSUPPORT` at once.
const NPROTO: i32 = 46;
const SOCK_STREAM: i32 = 1;
const SOCK_DGRAM: i32 = 2;
const SOCK_RAW: i32 = 3;
const SOCK_SEQPACKET: i32 = 5;
/// Linux's `SOCK_MAX`; the type is the low four bits (`SOCK_TYPE_MASK`).
const SOCK_MAX: i32 = 11;
const SOCK_TYPE_MASK: i32 = 0xf;
const SOCK_NONBLOCK: i32 = 0o4000;
const SOCK_CLOEXEC: i32 = 0o2000000;
/// `struct msghdr`'s size on x86-64.
const MSGHDR_SIZE: usize = 56;
/// Linux's `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;

/// `socketpair(domain, type, protocol, sv)`, in Linux's order of checks
/// (`__sys_socketpair`, `__sock_create`, `unix_create`): flags, family range, type
/// range, family, protocol, type.
pub fn socketpair(args: SyscallArgs) -> SysResult {
    let domain: i32 = args.get(0)?;
    let kind: i32 = args.get(1)?;
    let protocol: i32 = args.get(2)?;
    let sv: UserAddr = args.get(3)?;
    if kind & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if !(0..NPROTO).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT);
    }
    let kind_only = kind & SOCK_TYPE_MASK;
    if kind_only >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    match domain {
        AF_UNIX => {}
        // Internet sockets exist on Linux but have no pairs (`sock_no_socketpair`).
        AF_INET | AF_INET6 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    if protocol != 0 && protocol != AF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match kind_only {
        SOCK_STREAM => {}
        // Linux has them; this kernel does not (sysroot/README.md).
        SOCK_DGRAM | SOCK_RAW | SOCK_SEQPACKET => return Err(Errno::ESOCKTNOSUPPORT),
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    }
    let status = if kind & SOCK_NONBLOCK != 0 {
        vfs::flags::O_NONBLOCK
    } else {
        0
    };
    vfs::with(|vfs| {
        let (a, b) = vfs.unix_stream_pair(status, kind & SOCK_CLOEXEC != 0)?;
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&a.to_ne_bytes());
        bytes[4..].copy_from_slice(&b.to_ne_bytes());
        if let Err(fault) = uaccess::copy_to(sv.0, &bytes) {
            let _ = vfs.close(a);
            let _ = vfs.close(b);
            return Err(fault.into());
        }
        Ok(0)
    })
}

/// `segments` without their first `done` bytes (and without empty segments, which
/// move nothing).
fn skip(segments: &[Segment], mut done: usize) -> Vec<Segment> {
    let mut rest = Vec::with_capacity(segments.len());
    for segment in segments {
        if done >= segment.len {
            done -= segment.len;
            continue;
        }
        rest.push(Segment {
            base: segment.base + done,
            len: segment.len - done,
        });
        done = 0;
    }
    rest
}

/// Runs `step` (a send or receive on `fd`'s socket, given the bytes moved so far)
/// until it is done, waiting while it is `EAGAIN` on a blocking socket. `whole`: a
/// blocking call goes on until `total` bytes moved (a stream send; a receive with
/// `MSG_WAITALL`) or the stream ends. A signal ends the wait with `EINTR`, or the
/// bytes moved so far, or restarts it (`SA_RESTART`), as Linux's `-ERESTARTSYS`.
fn transfer(
    fd: u32,
    flags: u32,
    total: usize,
    whole: bool,
    mut step: impl FnMut(&dyn Socket, usize) -> Result<usize, Errno>,
) -> SysResult {
    let mut done = 0;
    signal::restarting(|| {
        let result = wait::until(None, |vfs| {
            let file = vfs.file(fd)?;
            let nonblocking = file.nonblocking() || flags & MSG_DONTWAIT != 0;
            let socket = file.object.socket().ok_or(Errno::ENOTSOCK)?;
            match step(socket, done) {
                Ok(n) => {
                    done += n;
                    if whole && n > 0 && done < total && !nonblocking {
                        Ok(Attempt::Wait)
                    } else {
                        Ok(Attempt::Done(done))
                    }
                }
                Err(Errno::EAGAIN) if !nonblocking => Ok(Attempt::Wait),
                Err(_) if done > 0 => Ok(Attempt::Done(done)),
                Err(error) => Err(error),
            }
        })
        .and_then(|done| done.ok_or(Errno::EAGAIN));
        match result {
            Err(Errno::EINTR) if done > 0 => Ok(done),
            other => other,
        }
    })
}

/// A send: whole on a blocking stream; `EPIPE` raises SIGPIPE unless `MSG_NOSIGNAL`.
fn send(fd: u32, segments: &[Segment], flags: u32) -> SysResult {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let total = segments.iter().map(|s| s.len).sum();
    let result = transfer(fd, flags, total, true, |socket, done| {
        socket.send(&skip(segments, done), flags)
    });
    if result == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        signal::raise_broken_pipe();
    }
    result
}

fn recv(fd: u32, segments: &[Segment], flags: u32) -> SysResult {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let total = segments.iter().map(|s| s.len).sum();
    let whole = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0;
    transfer(fd, flags, total, whole, |socket, done| {
        socket.recv(&skip(segments, done), flags)
    })
}

/// A connected stream takes no destination (`unix_stream_sendmsg`: `EISCONN`).
fn no_destination(namelen: u32) -> Result<(), Errno> {
    if namelen == 0 {
        Ok(())
    } else {
        Err(Errno::EISCONN)
    }
}

/// `sendto(fd, buf, len, flags, dest_addr, addrlen)`.
pub fn sendto(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (base, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let flags: u32 = args.get(3)?;
    let addr: UserAddr = args.get(4)?;
    let addrlen: u32 = args.get(5)?;
    socket_of(fd)?;
    if !addr.is_null() {
        no_destination(addrlen)?;
    }
    send(fd.0, &[Segment { base: base.0, len }], flags)
}

/// Writes an address of `len` bytes to `addr`/`addrlen` (`move_addr_to_user`): at
/// most what the caller's length allows, and the full length to `addrlen`.
fn put_address(addr: UserAddr, addrlen: UserAddr, bytes: &[u8]) -> Result<(), Errno> {
    let room = i32::from_ne_bytes(uaccess::read_u32(addrlen.0)?.to_ne_bytes());
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let n = room.min(bytes.len());
    if n > 0 {
        uaccess::copy_to(addr.0, &bytes[..n])?;
    }
    let len = u32::try_from(bytes.len()).map_err(|_| Errno::EINVAL)?;
    uaccess::copy_to(addrlen.0, &len.to_ne_bytes())?;
    Ok(())
}

/// `recvfrom(fd, buf, len, flags, src_addr, addrlen)`: the peer of a pair is unnamed,
/// so a source address is reported with length 0.
pub fn recvfrom(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (base, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let flags: u32 = args.get(3)?;
    let addr: UserAddr = args.get(4)?;
    let addrlen: UserAddr = args.get(5)?;
    socket_of(fd)?;
    let n = recv(fd.0, &[Segment { base: base.0, len }], flags)?;
    if !addr.is_null() && !addrlen.is_null() {
        put_address(addr, addrlen, &[])?;
    }
    Ok(n)
}

/// The fields of a `struct msghdr` the calls use.
struct MsgHdr {
    namelen: u32,
    segments: Vec<Segment>,
    controllen: u64,
}

fn word(bytes: &[u8; MSGHDR_SIZE], at: usize) -> u64 {
    let mut w = [0u8; 8];
    w.copy_from_slice(&bytes[at..at + 8]);
    u64::from_ne_bytes(w)
}

/// Reads a `struct msghdr { name, namelen, iov, iovlen, control, controllen, flags }`
/// and its `iovec` array (`EMSGSIZE` beyond `UIO_MAXIOV` segments, `EINVAL` for a
/// total beyond `isize::MAX`).
fn read_msghdr(addr: UserAddr) -> Result<MsgHdr, Errno> {
    let mut bytes = [0u8; MSGHDR_SIZE];
    uaccess::copy_from(addr.0, &mut bytes)?;
    let namelen = word(&bytes, 8) as u32;
    let iov = word(&bytes, 16) as usize;
    let iovlen = usize::try_from(word(&bytes, 24)).map_err(|_| Errno::EMSGSIZE)?;
    if iovlen > IOV_MAX {
        return Err(Errno::EMSGSIZE);
    }
    let mut segments = Vec::new();
    segments.try_reserve(iovlen).map_err(|_| Errno::ENOMEM)?;
    let mut total: usize = 0;
    for index in 0..iovlen {
        let at = iov.checked_add(index * 16).ok_or(Errno::EFAULT)?;
        let base = uaccess::read_u64(at)? as usize;
        let len = usize::try_from(uaccess::read_u64(at + 8)?).map_err(|_| Errno::EINVAL)?;
        total = total
            .checked_add(len)
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)?;
        segments.push(Segment { base, len });
    }
    Ok(MsgHdr {
        namelen,
        segments,
        controllen: word(&bytes, 40),
    })
}

/// `sendmsg(fd, msg, flags)`. Ancillary data (`SCM_RIGHTS`, credentials) is not
/// passed: `EOPNOTSUPP` (sysroot/README.md).
pub fn sendmsg(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let msg: UserAddr = args.get(1)?;
    let flags: u32 = args.get(2)?;
    socket_of(fd)?;
    let header = read_msghdr(msg)?;
    no_destination(header.namelen)?;
    if header.controllen != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    send(fd.0, &header.segments, flags)
}

/// `recvmsg(fd, msg, flags)`: no name, no ancillary data, no flags come back.
pub fn recvmsg(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let msg: UserAddr = args.get(1)?;
    let flags: u32 = args.get(2)?;
    socket_of(fd)?;
    let header = read_msghdr(msg)?;
    let n = recv(fd.0, &header.segments, flags)?;
    // msg_namelen (8), msg_controllen (40) and msg_flags (48) as Linux leaves them.
    uaccess::copy_to(msg.offset(8)?.0, &0u32.to_ne_bytes())?;
    uaccess::copy_to(msg.offset(40)?.0, &0u64.to_ne_bytes())?;
    uaccess::copy_to(msg.offset(48)?.0, &0i32.to_ne_bytes())?;
    Ok(n)
}

/// Checks that `fd` is an open socket (`EBADF`, `ENOTSOCK`).
fn socket_of(fd: Fd) -> Result<(), Errno> {
    vfs::with(|vfs| {
        vfs.file(fd.0)?
            .object
            .socket()
            .map(|_| ())
            .ok_or(Errno::ENOTSOCK)
    })
}

/// Runs `op` on `fd`'s socket under the VFS lock.
fn with_socket<R>(fd: Fd, op: impl FnOnce(&dyn Socket) -> Result<R, Errno>) -> Result<R, Errno> {
    vfs::with(|vfs| op(vfs.file(fd.0)?.object.socket().ok_or(Errno::ENOTSOCK)?))
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

/// `getsockopt(fd, level, name, optval, optlen)`: `SOL_SOCKET` options as `int`s
/// (Linux's `sk_getsockopt` copies at most `sizeof(int)`); other levels have no
/// options on these sockets (`EOPNOTSUPP`).
pub fn getsockopt(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let (optval, optlen): (UserAddr, UserAddr) = (args.get(3)?, args.get(4)?);
    with_socket(fd, |socket| {
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let len = i32::from_ne_bytes(uaccess::read_u32(optlen.0)?.to_ne_bytes());
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?.min(4);
        let value = socket.option(name)?;
        uaccess::copy_to(optval.0, &value.to_ne_bytes()[..len])?;
        uaccess::copy_to(optlen.0, &(len as u32).to_ne_bytes())?;
        Ok(0)
    })
}

/// `setsockopt(fd, level, name, optval, optlen)`: an `int` (`EINVAL` if shorter).
pub fn setsockopt(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let optval: UserAddr = args.get(3)?;
    let optlen: u32 = args.get(4)?;
    with_socket(fd, |socket| {
        if level != SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        if optlen < 4 {
            return Err(Errno::EINVAL);
        }
        let value = i32::from_ne_bytes(uaccess::read_u32(optval.0)?.to_ne_bytes());
        socket.set_option(name, value).map(|()| 0)
    })
}

fn address(args: SyscallArgs, peer: bool) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (addr, addrlen): (UserAddr, UserAddr) = (args.get(1)?, args.get(2)?);
    let (bytes, len) = with_socket(fd, |socket| socket.address(peer))?;
    put_address(addr, addrlen, &bytes[..len]).map(|()| 0)
}

/// `getsockname(fd, addr, addrlen)`.
pub fn getsockname(args: SyscallArgs) -> SysResult {
    address(args, false)
}

/// `getpeername(fd, addr, addrlen)`.
pub fn getpeername(args: SyscallArgs) -> SysResult {
    address(args, true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn skipping_moves_through_segments() {
        let segments = [
            Segment { base: 100, len: 4 },
            Segment { base: 200, len: 0 },
            Segment { base: 300, len: 6 },
        ];
        let bases = |rest: Vec<Segment>| rest.iter().map(|s| (s.base, s.len)).collect::<Vec<_>>();
        assert_eq!(bases(skip(&segments, 0)), [(100, 4), (300, 6)]);
        assert_eq!(bases(skip(&segments, 3)), [(103, 1), (300, 6)]);
        assert_eq!(bases(skip(&segments, 4)), [(300, 6)]);
        assert_eq!(bases(skip(&segments, 7)), [(303, 3)]);
        assert_eq!(bases(skip(&segments, 10)), []);
    }
}
