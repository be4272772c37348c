//! `setsockopt(2)` and `getsockopt(2)` for TCP sockets: the options std, mio and
//! tokio set. Others are `ENOPROTOOPT`, as Linux answers an option it does not know.

use unikernel_hal::uaccess;

use super::socket_of;
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};

const SOL_SOCKET: i32 = 1;
const IPPROTO_TCP: i32 = 6;

const SO_REUSEADDR: i32 = 2;
const SO_TYPE: i32 = 3;
const SO_ERROR: i32 = 4;
const SO_SNDBUF: i32 = 7;
const SO_RCVBUF: i32 = 8;
const SO_KEEPALIVE: i32 = 9;
const SO_ACCEPTCONN: i32 = 30;
const TCP_NODELAY: i32 = 1;

const SOCK_STREAM: i32 = 1;
/// What `SO_SNDBUF`/`SO_RCVBUF` report: the connection buffers' size (fixed).
const BUFFER_SIZE: i32 = 32 * 1024;

/// `setsockopt(fd, level, name, value, len)`.
pub fn setsockopt(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let value: UserAddr = args.get(3)?;
    let len: u32 = args.get(4)?;
    let (socket, _) = socket_of(fd)?;
    if len < 4 {
        return Err(Errno::EINVAL);
    }
    let on = uaccess::read_u32(value.0)? != 0;
    match (level, name) {
        (SOL_SOCKET, SO_REUSEADDR) => socket.with_options(|o| o.reuse_addr = on)?,
        (SOL_SOCKET, SO_KEEPALIVE) => socket.with_options(|o| o.keep_alive = on)?,
        (IPPROTO_TCP, TCP_NODELAY) => socket.with_options(|o| o.no_delay = on)?,
        // Accepted and without effect, as on a Linux where the size is clamped: the
        // buffers are fixed (`net::tcp`).
        (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => {}
        _ => return Err(Errno::ENOPROTOOPT),
    }
    Ok(0)
}

/// `getsockopt(fd, level, name, value, len)`.
pub fn getsockopt(args: SyscallArgs) -> SysResult {
    let Fd(fd) = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let value: UserAddr = args.get(3)?;
    let len_addr: UserAddr = args.get(4)?;
    let (socket, _) = socket_of(fd)?;
    let room = i32::try_from(uaccess::read_u32(len_addr.0)?).map_err(|_| Errno::EINVAL)?;
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let answer: i32 = match (level, name) {
        (SOL_SOCKET, SO_REUSEADDR) => socket.with_options(|o| o.reuse_addr)?.into(),
        (SOL_SOCKET, SO_KEEPALIVE) => socket.with_options(|o| o.keep_alive)?.into(),
        (IPPROTO_TCP, TCP_NODELAY) => socket.with_options(|o| o.no_delay)?.into(),
        (SOL_SOCKET, SO_TYPE) => SOCK_STREAM,
        (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => BUFFER_SIZE,
        (SOL_SOCKET, SO_ACCEPTCONN) => socket.is_listening()?.into(),
        (SOL_SOCKET, SO_ERROR) => socket.take_error()?.map_or(0, |errno| errno.0),
        _ => return Err(Errno::ENOPROTOOPT),
    };
    // Linux copies `min(len, 4)` bytes and writes that length back.
    let n = room.min(4);
    uaccess::copy_to(value.0, &answer.to_ne_bytes()[..n])?;
    uaccess::copy_to(len_addr.0, &(n as u32).to_ne_bytes())?;
    Ok(0)
}
