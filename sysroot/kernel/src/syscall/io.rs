//! Console I/O on the standard descriptors: `read`, `write`, `readv`, `writev`,
//! `close`, `poll`, `ioctl`, `fcntl`.
//!
//! fd 0 is an input that is always at end of file; fd 1 and 2 write to the serial
//! console. There are no other descriptors yet (files come with the VFS).

use unikernel_hal::{console, uaccess};

use super::{Fd, StdFd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;

/// Linux's `IOV_MAX`.
const IOV_MAX: usize = 1024;

fn console_write(fd: StdFd, buf: UserAddr, len: usize) -> SysResult {
    match fd {
        StdFd::Stdout | StdFd::Stderr => {
            uaccess::with_bytes(buf.0, len, console::write_bytes)?;
            Ok(len)
        }
        StdFd::Stdin => Err(Errno::EBADF),
    }
}

/// `read(fd, buf, count)`: stdin is at end of file.
pub fn read(args: SyscallArgs) -> SysResult {
    let fd = StdFd::try_from(args.get::<Fd>(0)?)?;
    let _buf: UserAddr = args.get(1)?;
    let _count: usize = args.get(2)?;
    match fd {
        StdFd::Stdin => Ok(0),
        StdFd::Stdout | StdFd::Stderr => Err(Errno::EBADF),
    }
}

/// `write(fd, buf, count)`.
pub fn write(args: SyscallArgs) -> SysResult {
    let fd = StdFd::try_from(args.get::<Fd>(0)?)?;
    console_write(fd, args.get(1)?, args.get(2)?)
}

/// Reads the `index`th `struct iovec { void *base; size_t len; }` of an array.
fn iovec(array: UserAddr, index: usize) -> Result<(UserAddr, usize), Errno> {
    let at = array.offset(index.checked_mul(16).ok_or(Errno::EINVAL)?)?;
    let base = uaccess::read_u64(at.0)?;
    let len = uaccess::read_u64(at.offset(8)?.0)?;
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    Ok((UserAddr(base as usize), len))
}

fn iov_count(args: &SyscallArgs) -> Result<usize, Errno> {
    let count: i32 = args.get(2)?;
    usize::try_from(count).ok().filter(|&n| n <= IOV_MAX).ok_or(Errno::EINVAL)
}

/// `writev(fd, iov, iovcnt)`.
pub fn writev(args: SyscallArgs) -> SysResult {
    let fd = StdFd::try_from(args.get::<Fd>(0)?)?;
    let iov: UserAddr = args.get(1)?;
    let count = iov_count(&args)?;
    let mut total: usize = 0;
    for index in 0..count {
        let (base, len) = iovec(iov, index)?;
        total = total.checked_add(len).filter(|&t| t <= isize::MAX as usize).ok_or(Errno::EINVAL)?;
        console_write(fd, base, len)?;
    }
    Ok(total)
}

/// `readv(fd, iov, iovcnt)`: stdin is at end of file.
pub fn readv(args: SyscallArgs) -> SysResult {
    let fd = StdFd::try_from(args.get::<Fd>(0)?)?;
    iov_count(&args)?;
    match fd {
        StdFd::Stdin => Ok(0),
        StdFd::Stdout | StdFd::Stderr => Err(Errno::EBADF),
    }
}

/// `close(fd)`: the console descriptors stay usable (nothing to release).
pub fn close(args: SyscallArgs) -> SysResult {
    StdFd::try_from(args.get::<Fd>(0)?)?;
    Ok(0)
}

const POLLIN: u16 = 0x001;
const POLLOUT: u16 = 0x004;
const POLLNVAL: u16 = 0x020;

/// `poll(fds, nfds, timeout)`: stdin is always readable (EOF), stdout and stderr always
/// writable, anything else is `POLLNVAL`.
pub fn poll(args: SyscallArgs) -> SysResult {
    let fds: UserAddr = args.get(0)?;
    let nfds: usize = args.get(1)?;
    let timeout_ms: i32 = args.get(2)?;
    if nfds > 1024 * 1024 {
        return Err(Errno::EINVAL);
    }
    let mut ready = 0;
    for index in 0..nfds {
        // struct pollfd { int fd; short events; short revents; }
        let at = fds.offset(index * 8)?;
        let mut entry = [0u8; 8];
        uaccess::copy_from(at.0, &mut entry)?;
        let fd = i32::from_ne_bytes([entry[0], entry[1], entry[2], entry[3]]);
        let events = u16::from_ne_bytes([entry[4], entry[5]]);
        let revents = match fd {
            fd if fd < 0 => 0,
            0 => events & POLLIN,
            1 | 2 => events & POLLOUT,
            _ => POLLNVAL,
        };
        if revents != 0 {
            ready += 1;
        }
        uaccess::copy_to(at.offset(6)?.0, &revents.to_ne_bytes())?;
    }
    if ready == 0 && timeout_ms > 0 {
        let ms = u64::from(timeout_ms.unsigned_abs());
        crate::time::wait_until_monotonic(crate::time::monotonic_ns() + ms * 1_000_000);
    }
    Ok(ready)
}

/// `ioctl(fd, request, arg)`: the console is not a terminal (`ENOTTY`), so `isatty()`
/// is false and std does not ask for window sizes.
pub fn ioctl(args: SyscallArgs) -> SysResult {
    StdFd::try_from(args.get::<Fd>(0)?)?;
    // TIOCGWINSZ, TCGETS, ...: every terminal request fails the same way.
    let _request: u32 = args.get(1)?;
    Err(Errno::ENOTTY)
}

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_DUPFD_CLOEXEC: u32 = 1030;
const O_RDONLY: usize = 0;
const O_WRONLY: usize = 1;

/// `fcntl(fd, cmd, arg)` on the console descriptors.
pub fn fcntl(args: SyscallArgs) -> SysResult {
    let fd = StdFd::try_from(args.get::<Fd>(0)?)?;
    let cmd: u32 = args.get(1)?;
    match cmd {
        F_GETFD => Ok(0),
        F_SETFD | F_SETFL => Ok(0),
        F_GETFL => Ok(if fd == StdFd::Stdin { O_RDONLY } else { O_WRONLY }),
        F_DUPFD | F_DUPFD_CLOEXEC => Err(Errno::EMFILE),
        _ => Err(Errno::EINVAL),
    }
}
