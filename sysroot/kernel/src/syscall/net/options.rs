//! `getsockopt(2)` and `setsockopt(2)`: `int` options, at the level and name the
//! socket knows (`vfs::Socket::option`); the handler moves the `int` and its length.
//! `SO_RCVTIMEO`/`SO_SNDTIMEO` (`struct timeval`) are the handlers' own, for every
//! family (`vfs::Socket::timeouts`).

use unikernel_hal::uaccess;

use super::with_socket;
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::socket_opt::{SO_RCVTIMEO, SO_SNDTIMEO, SOL_SOCKET};

/// `getsockopt(fd, level, name, optval, optlen)`: Linux's `sk_getsockopt` copies at
/// most the value's size (`sizeof(int)`, a `struct timeval` for the timeouts) and
/// writes that length back (`EINVAL` for a negative one).
pub fn getsockopt(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let level: i32 = args.get(1)?;
    let name: i32 = args.get(2)?;
    let (optval, optlen): (UserAddr, UserAddr) = (args.get(3)?, args.get(4)?);
    with_socket(fd, |socket| {
        let len = i32::from_ne_bytes(uaccess::read_u32(optlen.0)?.to_ne_bytes());
        let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
        let mut value = [0u8; TIMEVAL];
        let size = match timeout_option(level, name) {
            Some(send) => {
                value = timeval(socket.timeouts().get(send));
                TIMEVAL
            }
            None => {
                value[..4].copy_from_slice(&socket.option(level, name)?.to_ne_bytes());
                4
            }
        };
        let len = len.min(size);
        uaccess::copy_to(optval.0, &value[..len])?;
        uaccess::copy_to(optlen.0, &(len as u32).to_ne_bytes())?;
        Ok(0)
    })
}

/// `setsockopt(fd, level, name, optval, optlen)`: an `int`. A shorter value is
/// `EINVAL` once the socket knows the level (a level without options answers
/// first, as Linux's `__sys_setsockopt` asks the family before any length check).
/// The timeouts take a `struct timeval` (shorter: `EINVAL`).
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
        if let Some(send) = timeout_option(level, name) {
            if optlen < TIMEVAL as i32 {
                return Err(Errno::EINVAL);
            }
            let mut bytes = [0u8; TIMEVAL];
            uaccess::copy_from(optval.0, &mut bytes)?;
            socket.timeouts().set(send, timeout(bytes)?);
            return Ok(0);
        }
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

/// `sizeof(struct timeval)`: `tv_sec` and `tv_usec`, 64 bits each.
const TIMEVAL: usize = 16;
const NS_PER_SEC: u64 = 1_000_000_000;

/// Whether (`level`, `name`) is a timeout: `Some(true)` for `SO_SNDTIMEO`,
/// `Some(false)` for `SO_RCVTIMEO`.
fn timeout_option(level: i32, name: i32) -> Option<bool> {
    match (level, name) {
        (SOL_SOCKET, SO_SNDTIMEO) => Some(true),
        (SOL_SOCKET, SO_RCVTIMEO) => Some(false),
        _ => None,
    }
}

/// A timeout as `getsockopt` reports it: none is zero.
fn timeval(timeout: Option<u64>) -> [u8; TIMEVAL] {
    let ns = timeout.unwrap_or(0);
    let mut bytes = [0u8; TIMEVAL];
    bytes[..8].copy_from_slice(&(ns / NS_PER_SEC).to_ne_bytes());
    bytes[8..].copy_from_slice(&(ns % NS_PER_SEC / 1000).to_ne_bytes());
    bytes
}

/// A `struct timeval` as `setsockopt` takes it (Linux's `sock_set_timeout`):
/// `EDOM` for microseconds outside a second, a negative time is zero (no wait at
/// all), zero is none.
fn timeout(bytes: [u8; TIMEVAL]) -> Result<Option<u64>, Errno> {
    let field = |at: usize| {
        let mut word = [0u8; 8];
        word.copy_from_slice(&bytes[at..at + 8]);
        i64::from_ne_bytes(word)
    };
    let (sec, usec) = (field(0), field(8));
    if !(0..1_000_000).contains(&usec) {
        return Err(Errno::EDOM);
    }
    Ok(match u64::try_from(sec) {
        Err(_) => Some(0),
        Ok(0) if usec == 0 => None,
        Ok(sec) => Some(
            sec.saturating_mul(NS_PER_SEC)
                .saturating_add(usec as u64 * 1000),
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tv(sec: i64, usec: i64) -> [u8; TIMEVAL] {
        let mut bytes = [0u8; TIMEVAL];
        bytes[..8].copy_from_slice(&sec.to_ne_bytes());
        bytes[8..].copy_from_slice(&usec.to_ne_bytes());
        bytes
    }

    #[test]
    fn timevals_read_as_linux_reads_them() {
        assert_eq!(timeout(tv(0, 0)), Ok(None));
        assert_eq!(timeout(tv(1, 500_000)), Ok(Some(1_500_000_000)));
        assert_eq!(timeout(tv(-1, 0)), Ok(Some(0)));
        assert_eq!(timeout(tv(0, 1_000_000)), Err(Errno::EDOM));
        assert_eq!(timeout(tv(0, -1)), Err(Errno::EDOM));
        assert_eq!(timeout(tv(i64::MAX, 0)), Ok(Some(u64::MAX)));
        assert_eq!(timeval(Some(1_500_000_000)), tv(1, 500_000));
        assert_eq!(timeval(None), tv(0, 0));
    }
}
