//! Data on a connected TCP socket with flags: `sendto` and `recvfrom` (the address
//! arguments of which a connected stream socket ignores, as Linux does).

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
