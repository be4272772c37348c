//! `getsockopt(2)` and `setsockopt(2)`: `int` options, at the level and name the
//! socket knows (`vfs::Socket::option`); the handler moves the `int` and its length.

use unikernel_hal::uaccess;

use super::with_socket;
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};

/// `getsockopt(fd, level, name, optval, optlen)`: Linux's `sk_getsockopt` copies at
/// most `sizeof(int)` and writes that length back (`EINVAL` for a negative one).
pub fn getsockopt(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let (optval, optlen): (UserAddr, UserAddr) = (args.get(3)?, args.get(4)?);
    with_socket(fd, |socket| {
        let len = i32::from_ne_bytes(uaccess::read_u32(optlen.0)?.to_ne_bytes());
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?.min(4);
        let value = socket.option(level, name)?;
        uaccess::copy_to(optval.0, &value.to_ne_bytes()[..len])?;
        uaccess::copy_to(optlen.0, &(len as u32).to_ne_bytes())?;
        Ok(0)
    })
}

/// `setsockopt(fd, level, name, optval, optlen)`: an `int`. A shorter value is
/// `EINVAL` once the socket knows the level (a level without options answers
/// first, as Linux's `__sys_setsockopt` asks the family before any length check).
pub fn setsockopt(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let optval: UserAddr = args.get(3)?;
    let optlen: i32 = args.get(4)?;
    if optlen < 0 {
        return Err(Errno::EINVAL);
    }
    with_socket(fd, |socket| {
        let value = if optlen >= 4 {
            Some(i32::from_ne_bytes(
                uaccess::read_u32(optval.0)?.to_ne_bytes(),
            ))
        } else {
            None
        };
        socket.set_option(level, name, value).map(|()| 0)
    })
}
