//! File status by path or descriptor: `stat`, `lstat`, `fstat`, `newfstatat`,
//! `statx`, and the permission checks of `access`, `faccessat`, `faccessat2`.

use unikernel_hal::uaccess;

use super::path::{AT_EACCESS, AT_EMPTY_PATH, AT_FDCWD, AT_NO_AUTOMOUNT, AT_STATX_SYNC_TYPE};
use super::path::{AT_SYMLINK_NOFOLLOW, read_path};
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::{self, Follow, Stat};

/// `statx` mask bit reserved for future extension: `EINVAL` (statx(2)).
const STATX_RESERVED: u32 = 0x8000_0000;

/// The status `dirfd` + `path` names, with the `AT_*` flags of `fstatat`/`statx`.
fn stat_at(dirfd: i32, path: &[u8], flags: u32) -> Result<Stat, Errno> {
    let follow = if flags & AT_SYMLINK_NOFOLLOW != 0 {
        Follow::No
    } else {
        Follow::Yes
    };
    vfs::with(|vfs| {
        if path.is_empty() {
            if flags & AT_EMPTY_PATH == 0 {
                return Err(Errno::ENOENT);
            }
            if dirfd == AT_FDCWD {
                return vfs.stat_inode(vfs.cwd());
            }
            return vfs.stat_fd(u32::try_from(dirfd).map_err(|_| Errno::EBADF)?);
        }
        let start = vfs.start_dir(dirfd, path)?;
        let ino = vfs.resolve(start, path, follow)?;
        vfs.stat_inode(ino)
    })
}

fn write_stat(buf: UserAddr, stat: &Stat) -> SysResult {
    uaccess::copy_to(buf.0, &stat.to_stat())?;
    Ok(0)
}

/// `stat(path, buf)`.
pub fn stat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    write_stat(args.get(1)?, &stat_at(AT_FDCWD, &path, 0)?)
}

/// `lstat(path, buf)`.
pub fn lstat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    write_stat(
        args.get(1)?,
        &stat_at(AT_FDCWD, &path, AT_SYMLINK_NOFOLLOW)?,
    )
}

/// `fstat(fd, buf)`.
pub fn fstat(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    write_stat(args.get(1)?, &vfs::with(|vfs| vfs.stat_fd(fd.0))?)
}

/// `newfstatat(dirfd, path, buf, flags)`.
pub fn newfstatat(args: SyscallArgs) -> SysResult {
    let dirfd: i32 = args.get(0)?;
    let flags: u32 = args.get(3)?;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT) != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(args.get(1)?)?;
    write_stat(args.get(2)?, &stat_at(dirfd, &path, flags)?)
}

/// `statx(dirfd, path, flags, mask, buf)`. Everything is always known, so the mask
/// only gets checked; a NULL path is `EFAULT` (std probes for statx that way).
pub fn statx(args: SyscallArgs) -> SysResult {
    let dirfd: i32 = args.get(0)?;
    let flags: u32 = args.get(2)?;
    let mask: u32 = args.get(3)?;
    let buf: UserAddr = args.get(4)?;
    if flags & !(AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH | AT_NO_AUTOMOUNT | AT_STATX_SYNC_TYPE) != 0
        || flags & AT_STATX_SYNC_TYPE == AT_STATX_SYNC_TYPE
        || mask & STATX_RESERVED != 0
    {
        return Err(Errno::EINVAL);
    }
    let path = read_path(args.get(1)?)?;
    let stat = stat_at(dirfd, &path, flags)?;
    uaccess::copy_to(buf.0, &stat.to_statx())?;
    Ok(0)
}

const R_OK: u32 = 4;
const W_OK: u32 = 2;
const X_OK: u32 = 1;

fn access_at(dirfd: i32, path: &[u8], mode: u32, flags: u32) -> SysResult {
    if mode & !(R_OK | W_OK | X_OK) != 0
        || flags & !(AT_EACCESS | AT_SYMLINK_NOFOLLOW | AT_EMPTY_PATH) != 0
    {
        return Err(Errno::EINVAL);
    }
    let stat = stat_at(dirfd, path, flags)?;
    // The process is root: reading and writing are always allowed; executing needs an
    // execute bit somewhere, or a directory (Linux `generic_permission`).
    let is_dir = stat.mode & vfs::mode::S_IFMT == vfs::mode::S_IFDIR;
    if mode & X_OK != 0 && !is_dir && stat.mode & 0o111 == 0 {
        return Err(Errno::EACCES);
    }
    Ok(0)
}

/// `access(path, mode)`.
pub fn access(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    access_at(AT_FDCWD, &path, args.get(1)?, 0)
}

/// `faccessat(dirfd, path, mode)` (no flags argument in the system call).
pub fn faccessat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(1)?)?;
    access_at(args.get(0)?, &path, args.get(2)?, 0)
}

/// `faccessat2(dirfd, path, mode, flags)`.
pub fn faccessat2(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(1)?)?;
    access_at(args.get(0)?, &path, args.get(2)?, args.get(3)?)
}
