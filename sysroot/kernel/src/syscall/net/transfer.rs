//! Data on a connected socket with flags: `sendto`, `recvfrom` and their
//! scatter-gather forms `sendmsg` and `recvmsg` (no control messages). A blocking
//! call waits while the socket is not ready (not with `O_NONBLOCK` or
//! `MSG_DONTWAIT`); a send to a peer that is gone (`EPIPE`) raises SIGPIPE unless
//! `MSG_NOSIGNAL`, for every kind of socket, as `write` does (`syscall::io`).

use alloc::vec::Vec;

use unikernel_hal::uaccess;

use super::{address, deadline, ensure_socket, restarting_unless_timed, socket_in};
use crate::errno::Errno;
use crate::signal;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::socket_msg::*;
use crate::vfs::wait::{self, Attempt};
use crate::vfs::{Segment, Socket};

/// `struct msghdr`'s size on x86-64.
const MSGHDR_SIZE: usize = 56;
/// `sizeof(struct sockaddr_storage)`.
const SOCKADDR_STORAGE: u32 = 128;
/// Linux's `UIO_MAXIOV`.
const IOV_MAX: usize = 1024;
/// `INT_MAX & PAGE_MASK`: the most one `sendto`/`recvfrom` moves on Linux.
const MAX_RW_COUNT: usize = 0x7fff_f000;

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
/// The socket's timeout for the direction (`send`: `SO_SNDTIMEO`, else
/// `SO_RCVTIMEO`) ends it with the bytes moved so far or `EAGAIN`, and a signal then
/// is never restarted.
fn transfer(
    fd: u32,
    flags: u32,
    total: usize,
    (whole, send): (bool, bool),
    mut step: impl FnMut(&dyn Socket, usize) -> Result<usize, Errno>,
) -> SysResult {
    let mut done = 0;
    let deadline = deadline(fd, send)?;
    restarting_unless_timed(deadline, || {
        let result = wait::until(deadline, |vfs| {
            let nonblocking = vfs.file(fd)?.nonblocking() || flags & MSG_DONTWAIT != 0;
            let socket = socket_in(vfs, fd)?;
            // After progress, try again at once: the state that ends the call (end
            // of stream, a peer gone) may already hold, and no later change would
            // wake a wait for it (a MSG_WAITALL receive of a pair whose peer had shut
            // down waited for good, found by the fuzzer).
            loop {
                match step(socket, done) {
                    Ok(n) => {
                        done += n;
                        if !(whole && n > 0 && done < total && !nonblocking) {
                            return Ok(Attempt::Done(done));
                        }
                    }
                    Err(Errno::EAGAIN) if !nonblocking => return Ok(Attempt::Wait),
                    Err(_) if done > 0 => return Ok(Attempt::Done(done)),
                    Err(error) => return Err(error),
                }
            }
        })
        .and_then(|finished| match finished {
            Some(n) => Ok(n),
            // Timed out (Linux's `sock_rcvtimeo`/`sock_sndtimeo`).
            None if done > 0 => Ok(done),
            None => Err(Errno::EAGAIN),
        });
        match result {
            Err(Errno::EINTR) if done > 0 => Ok(done),
            other => other,
        }
    })
}

/// A send (to `to`, a `sockaddr`, if given): whole on a blocking stream (a datagram
/// goes whole or not at all); `EPIPE` raises SIGPIPE unless `MSG_NOSIGNAL`.
fn send(fd: u32, segments: &[Segment], flags: u32, to: Option<&[u8]>) -> SysResult {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let total = segments.iter().map(|s| s.len).sum();
    let result = transfer(fd, flags, total, (true, true), |socket, done| {
        socket.send_to(&skip(segments, done), flags, to)
    });
    if result == Err(Errno::EPIPE) && flags & MSG_NOSIGNAL == 0 {
        signal::raise_broken_pipe();
    }
    result
}

/// A receive: the bytes and the sender's `sockaddr` (length 0 for a stream).
fn recv(fd: u32, segments: &[Segment], flags: u32) -> Result<(usize, ([u8; 16], usize)), Errno> {
    if flags & MSG_OOB != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let total = segments.iter().map(|s| s.len).sum();
    // One datagram per call, whatever MSG_WAITALL says.
    let datagram = crate::vfs::with(|vfs| Ok(socket_in(vfs, fd)?.is_datagram()))?;
    let whole = flags & MSG_WAITALL != 0 && flags & MSG_PEEK == 0 && !datagram;
    let mut from = ([0u8; 16], 0);
    let n = transfer(fd, flags, total, (whole, false), |socket, done| {
        let (n, sender) = socket.recv_from(&skip(segments, done), flags)?;
        if sender.1 > 0 {
            from = sender;
        }
        Ok(n)
    })?;
    Ok((n, from))
}

/// A destination `sockaddr` (`namelen` bytes at `name`; none if either is zero),
/// read as Linux's `move_addr_to_kernel`; what it means is the socket's
/// (`vfs::Socket::send_to`).
fn destination(name: UserAddr, namelen: u32) -> Result<Option<Vec<u8>>, Errno> {
    if name.is_null() || namelen == 0 {
        return Ok(None);
    }
    let namelen = i32::try_from(namelen).map_err(|_| Errno::EINVAL)?;
    address::read(name, namelen).map(Some)
}

/// `sendto(fd, buf, len, flags, dest_addr, addrlen)`.
pub fn sendto(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (base, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let flags: u32 = args.get(3)?;
    let addr: UserAddr = args.get(4)?;
    let addrlen: u32 = args.get(5)?;
    let len = len.min(MAX_RW_COUNT);
    ensure_socket(fd)?;
    let to = destination(addr, addrlen)?;
    send(fd.0, &[Segment { base: base.0, len }], flags, to.as_deref())
}

/// `recvfrom(fd, buf, len, flags, src_addr, addrlen)`: the sender of a datagram; a
/// connected stream reports no source address (length 0), as Linux's
/// `unix_stream_recvmsg` and `tcp_recvmsg`.
pub fn recvfrom(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (base, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let flags: u32 = args.get(3)?;
    let addr: UserAddr = args.get(4)?;
    let addrlen: UserAddr = args.get(5)?;
    let len = len.min(MAX_RW_COUNT);
    ensure_socket(fd)?;
    let (n, (from, from_len)) = recv(fd.0, &[Segment { base: base.0, len }], flags)?;
    if !addr.is_null() && !addrlen.is_null() {
        address::write(addr, addrlen, &from[..from_len])?;
    }
    Ok(n)
}

/// The fields of a `struct msghdr` the calls use.
struct MsgHdr {
    name: UserAddr,
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
    let name = UserAddr(word(&bytes, 0) as usize);
    // As `__copy_msghdr`: no name, no length; a negative one `EINVAL`; a longer one
    // than a `sockaddr_storage` cut to it.
    let namelen = if name.is_null() {
        0
    } else {
        word(&bytes, 8) as u32
    };
    if i32::try_from(namelen).is_err() {
        return Err(Errno::EINVAL);
    }
    let namelen = namelen.min(SOCKADDR_STORAGE);
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
        name,
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
    ensure_socket(fd)?;
    let header = read_msghdr(msg)?;
    let to = destination(header.name, header.namelen)?;
    if header.controllen != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    send(fd.0, &header.segments, flags, to.as_deref())
}

/// `recvmsg(fd, msg, flags)`: a datagram's sender in `msg_name` (at most
/// `msg_namelen` bytes; its length back); no ancillary data, no flags come back.
pub fn recvmsg(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let msg: UserAddr = args.get(1)?;
    let flags: u32 = args.get(2)?;
    ensure_socket(fd)?;
    let header = read_msghdr(msg)?;
    let (n, (from, from_len)) = recv(fd.0, &header.segments, flags)?;
    let copied = from_len.min(header.namelen as usize);
    if !header.name.is_null() && copied > 0 {
        uaccess::copy_to(header.name.0, &from[..copied])?;
    }
    // msg_namelen (8), msg_controllen (40) and msg_flags (48) as Linux leaves them.
    uaccess::copy_to(msg.offset(8)?.0, &(from_len as u32).to_ne_bytes())?;
    uaccess::copy_to(msg.offset(40)?.0, &0u64.to_ne_bytes())?;
    uaccess::copy_to(msg.offset(48)?.0, &0i32.to_ne_bytes())?;
    Ok(n)
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
