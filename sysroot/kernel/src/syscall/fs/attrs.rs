//! Inode attributes: permission bits (`chmod`, `fchmod`, `fchmodat`), timestamps
//! (`utimensat`), length (`truncate`), and the creation mask (`umask`).

use unikernel_hal::uaccess;

use super::path::{AT_EMPTY_PATH, AT_FDCWD, AT_SYMLINK_NOFOLLOW, at, read_path};
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::{self, Follow, Ino, Vfs};

fn chmod_at(dirfd: i32, path: &[u8], mode: u32, follow: Follow) -> SysResult {
    at(dirfd, path, |vfs, start| {
        let ino = vfs.resolve(start, path, follow)?;
        vfs.chmod(ino, mode)
    })
    .map(|()| 0)
}

/// `chmod(path, mode)`.
pub fn chmod(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    chmod_at(AT_FDCWD, &path, args.get(1)?, Follow::Yes)
}

/// `fchmodat(dirfd, path, mode)`.
pub fn fchmodat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(1)?)?;
    chmod_at(args.get(0)?, &path, args.get(2)?, Follow::Yes)
}

/// The inode behind `fd`; pipes, the console, eventfds and epoll instances have none
/// here: EOPNOTSUPP, as Linux answers for the anonymous inodes of eventfd.
fn fd_inode(vfs: &Vfs, fd: u32) -> Result<Ino, Errno> {
    vfs.file(fd)?.object.inode().ok_or(Errno::EOPNOTSUPP)
}

/// `fchmod(fd, mode)` (std's `fs::copy` and `set_permissions`).
pub fn fchmod(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let mode: u32 = args.get(1)?;
    vfs::with(|vfs| {
        let ino = fd_inode(vfs, fd.0)?;
        vfs.chmod(ino, mode)
    })
    .map(|()| 0)
}

const UTIME_NOW: i64 = (1 << 30) - 1;
const UTIME_OMIT: i64 = (1 << 30) - 2;

/// One `timespec` of `utimensat`: `None` for `UTIME_OMIT`.
fn utime(addr: Option<UserAddr>, now: u64) -> Result<Option<u64>, Errno> {
    let Some(addr) = addr else {
        return Ok(Some(now));
    };
    let mut bytes = [0u8; 16];
    uaccess::copy_from(addr.0, &mut bytes)?;
    let sec = i64::from_ne_bytes(bytes[..8].try_into().map_err(|_| Errno::EFAULT)?);
    let nsec = i64::from_ne_bytes(bytes[8..].try_into().map_err(|_| Errno::EFAULT)?);
    match nsec {
        UTIME_OMIT => Ok(None),
        UTIME_NOW => Ok(Some(now)),
        0..1_000_000_000 => {
            let sec = u64::try_from(sec).map_err(|_| Errno::EINVAL)?;
            Ok(Some(
                sec.saturating_mul(1_000_000_000)
                    .saturating_add(nsec as u64),
            ))
        }
        _ => Err(Errno::EINVAL),
    }
}

/// `utimensat(dirfd, path, times[2], flags)`; a NULL path means `dirfd` itself
/// (`futimens`).
pub fn utimensat(args: SyscallArgs) -> SysResult {
    let dirfd: i32 = args.get(0)?;
    let path: UserAddr = args.get(1)?;
    let times: UserAddr = args.get(2)?;
    let flags: u32 = args.get(3)?;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let now = crate::time::realtime_ns();
    let (atime, mtime) = if times.is_null() {
        (Some(now), Some(now))
    } else {
        (
            utime(Some(times), now)?,
            utime(Some(times.offset(16)?), now)?,
        )
    };
    let path = if path.is_null() {
        None
    } else {
        Some(read_path(path)?)
    };
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    vfs::with(|vfs| {
        let ino = match &path {
            None => fd_inode(vfs, u32::try_from(dirfd).map_err(|_| Errno::EBADF)?)?,
            Some(path) if path.is_empty() && flags & AT_EMPTY_PATH != 0 => {
                fd_inode(vfs, u32::try_from(dirfd).map_err(|_| Errno::EBADF)?)?
            }
            Some(path) => {
                let start = vfs.start_dir(dirfd, path)?;
                vfs.resolve(start, path, follow)?
            }
        };
        vfs.set_times(ino, atime, mtime)
    })
    .map(|()| 0)
}

/// `truncate(path, length)`.
pub fn truncate(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    let len = u64::try_from(args.get::<isize>(1)?).map_err(|_| Errno::EINVAL)?;
    at(AT_FDCWD, &path, |vfs, start| {
        let ino = vfs.resolve(start, &path, Follow::Yes)?;
        vfs.truncate(ino, len)
    })
    .map(|()| 0)
}

/// `umask(mask)`: the previous mask.
pub fn umask(args: SyscallArgs) -> SysResult {
    let mask: u32 = args.get(0)?;
    vfs::with(|vfs| Ok(vfs.set_umask(mask) as usize))
}
