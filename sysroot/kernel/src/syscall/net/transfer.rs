//! Data on a connected TCP socket with flags: `sendto` and `recvfrom` (the address
//! arguments of which a connected stream socket ignores, as Linux does), and their
//! scatter-gather forms `sendmsg` and `recvmsg` (no control messages).

use unikernel_hal::uaccess;

use super::{addr, socket_of};
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::wait;

const MSG_PEEK: u32 = 0x2;
const MSG_DONTWAIT: u32 = 0x40;
const MSG_WAITALL: u32 = 0x100;
const MSG_NOSIGNAL: u32 = 0x4000;
/// Linux's `MAX_RW_COUNT`: longer transfers are cut to it.
const MAX_RW_COUNT: usize = 0x7fff_f000;
/// Linux's `UIO_MAXIOV`.
const MAX_IOV: usize = 1024;

/// `struct msghdr` (x86-64): name, namelen (+pad), iov, iovlen, control, controllen,
/// flags (+pad).
struct MsgHdr {
    at: UserAddr,
    name: UserAddr,
    iov: usize,
    iovlen: usize,
}

impl MsgHdr {
    const NAMELEN: usize = 8;
    const CONTROLLEN: usize = 40;
    const FLAGS: usize = 48;

    fn read(at: UserAddr) -> Result<MsgHdr, Errno> {
        let word = |offset: usize| -> Result<usize, Errno> {
            Ok(uaccess::read_u64(at.offset(offset)?.0)? as usize)
        };
        let iovlen = word(24)?;
        if iovlen > MAX_IOV {
            return Err(Errno::EMSGSIZE);
        }
        Ok(MsgHdr {
            at,
            name: UserAddr(word(0)?),
            iov: word(16)?,
            iovlen,
        })
    }

    /// Element `i` of the `iovec` array: (base, len).
    fn iovec(&self, i: usize) -> Result<(usize, usize), Errno> {
        let at = self.iov.checked_add(i * 16).ok_or(Errno::EFAULT)?;
        let base = uaccess::read_u64(at)? as usize;
        let len = uaccess::read_u64(at + 8)? as usize;
        Ok((base, len))
    }
}

/// `sendto(fd, buf, len, flags, addr, addrlen)`.
pub fn sendto(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len = args.get::<usize>(2)?.min(MAX_RW_COUNT);
    let flags: u32 = args.get(3)?;
    if flags & !(MSG_DONTWAIT | MSG_NOSIGNAL) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (socket, nonblocking) = socket_of(fd)?;
    if nonblocking || flags & MSG_DONTWAIT != 0 {
        return socket.send(buf.0, len);
    }
    wait::write(fd, buf.0, len)
}

/// `recvfrom(fd, buf, len, flags, addr, addrlen)`: the peer's address when asked.
pub fn recvfrom(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len = args.get::<usize>(2)?.min(MAX_RW_COUNT);
    let flags: u32 = args.get(3)?;
    let address: UserAddr = args.get(4)?;
    let address_len: UserAddr = args.get(5)?;
    if flags & !(MSG_PEEK | MSG_DONTWAIT | MSG_WAITALL) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (socket, nonblocking) = socket_of(fd)?;
    let peek = flags & MSG_PEEK != 0;
    let n = if nonblocking || flags & MSG_DONTWAIT != 0 {
        socket.recv(buf.0, len, peek)?
    } else {
        wait::blocking(fd, |_| socket.recv(buf.0, len, peek))?
    };
    if !address.is_null() {
        addr::write(address, address_len, socket.peer()?)?;
    }
    Ok(n)
}

/// `sendmsg(fd, msg, flags)`: the `iovec`s in order, as one `sendto`.
pub fn sendmsg(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let msg = MsgHdr::read(args.get(1)?)?;
    let flags: u32 = args.get(2)?;
    if flags & !(MSG_DONTWAIT | MSG_NOSIGNAL) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (socket, nonblocking) = socket_of(fd)?;
    let nonblocking = nonblocking || flags & MSG_DONTWAIT != 0;
    let mut done = 0;
    for i in 0..msg.iovlen {
        let (base, len) = msg.iovec(i)?;
        let len = len.min(MAX_RW_COUNT - done);
        // Blocking: every `iovec` whole, as a blocking `sendto` of each.
        let sent = if nonblocking {
            socket.send(base, len)
        } else {
            wait::write(fd, base, len)
        };
        match sent {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(_) if done > 0 => break,
            Err(error) => return Err(error),
        }
    }
    Ok(done)
}

/// `recvmsg(fd, msg, flags)`: fills the `iovec`s in order; waits (if at all) only for
/// the first bytes. Reports no control data and no flags.
pub fn recvmsg(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let msg = MsgHdr::read(args.get(1)?)?;
    let flags: u32 = args.get(2)?;
    if flags & !(MSG_DONTWAIT | MSG_WAITALL) != 0 {
        return Err(Errno::EOPNOTSUPP);
    }
    let (socket, nonblocking) = socket_of(fd)?;
    let nonblocking = nonblocking || flags & MSG_DONTWAIT != 0;
    let mut done = 0;
    for i in 0..msg.iovlen {
        let (base, len) = msg.iovec(i)?;
        let len = len.min(MAX_RW_COUNT - done);
        let got = if done > 0 || nonblocking {
            socket.recv(base, len, false)
        } else {
            wait::blocking(fd, |_| socket.recv(base, len, false))
        };
        match got {
            Ok(n) => {
                done += n;
                if n < len {
                    break;
                }
            }
            Err(_) if done > 0 => break,
            Err(error) => return Err(error),
        }
    }
    if !msg.name.is_null() {
        addr::write(msg.name, msg.at.offset(MsgHdr::NAMELEN)?, socket.peer()?)?;
    }
    uaccess::copy_to(msg.at.offset(MsgHdr::CONTROLLEN)?.0, &0u64.to_ne_bytes())?;
    uaccess::copy_to(msg.at.offset(MsgHdr::FLAGS)?.0, &0u32.to_ne_bytes())?;
    Ok(done)
}
