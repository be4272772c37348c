//! Path-based file calls: `open`, `openat`, `creat`, the `stat` family and `statx`,
//! `access`/`faccessat`, `mkdir`, `unlink`, `rmdir`, `rename*`, `link*`, `symlink*`,
//! `readlink*`, `getcwd`, `chdir`, `fchdir`, `chmod` family, `utimensat`, `truncate`,
//! `umask`, `getdents64`. The file system itself is `crate::vfs`.

use alloc::vec::Vec;

use unikernel_hal::uaccess;

use super::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::vfs::{self, Follow, Ino, MAX_PATH, Stat, Vfs};

const AT_FDCWD: i32 = -100;
const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
const AT_REMOVEDIR: u32 = 0x200;
const AT_EACCESS: u32 = 0x200;
const AT_SYMLINK_FOLLOW: u32 = 0x400;
const AT_NO_AUTOMOUNT: u32 = 0x800;
const AT_EMPTY_PATH: u32 = 0x1000;
const AT_STATX_SYNC_TYPE: u32 = 0x6000;
/// `statx` mask bit reserved for future extension: `EINVAL` (statx(2)).
const STATX_RESERVED: u32 = 0x8000_0000;

/// Reads a NUL-terminated path (at most `PATH_MAX` bytes with the NUL).
pub fn read_path(addr: UserAddr) -> Result<Vec<u8>, Errno> {
    if addr.is_null() {
        return Err(Errno::EFAULT);
    }
    let mut path = Vec::new();
    let mut at = addr.0;
    while path.len() < MAX_PATH {
        // Up to the end of the page only: the next page may be unmapped.
        let chunk = (4096 - at % 4096).min(MAX_PATH - path.len());
        let mut bytes = [0u8; 4096];
        uaccess::copy_from(at, &mut bytes[..chunk])?;
        if let Some(nul) = bytes[..chunk].iter().position(|&b| b == 0) {
            path.extend_from_slice(&bytes[..nul]);
            return Ok(path);
        }
        path.extend_from_slice(&bytes[..chunk]);
        at = at.checked_add(chunk).ok_or(Errno::EFAULT)?;
    }
    Err(Errno::ENAMETOOLONG)
}

/// Runs `f` with the start directory for `path` relative to `dirfd`.
fn at<R>(
    dirfd: i32,
    path: &[u8],
    f: impl FnOnce(&mut Vfs, Ino) -> Result<R, Errno>,
) -> Result<R, Errno> {
    vfs::with(|vfs| {
        let start = vfs.start_dir(dirfd, path)?;
        f(vfs, start)
    })
}

/// `open(path, flags, mode)`.
pub fn open(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    let (flags, mode): (u32, u32) = (args.get(1)?, args.get(2)?);
    at(AT_FDCWD, &path, |vfs, start| {
        vfs.open(start, &path, flags, mode)
    })
    .map(|fd| fd as usize)
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(args: SyscallArgs) -> SysResult {
    let dirfd: i32 = args.get(0)?;
    let path = read_path(args.get(1)?)?;
    let (flags, mode): (u32, u32) = (args.get(2)?, args.get(3)?);
    at(dirfd, &path, |vfs, start| {
        vfs.open(start, &path, flags, mode)
    })
    .map(|fd| fd as usize)
}

/// `creat(path, mode)` = `open(path, O_CREAT | O_WRONLY | O_TRUNC, mode)`.
pub fn creat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    let mode: u32 = args.get(1)?;
    let flags = vfs::flags::O_CREAT | vfs::flags::O_WRONLY | vfs::flags::O_TRUNC;
    at(AT_FDCWD, &path, |vfs, start| {
        vfs.open(start, &path, flags, mode)
    })
    .map(|fd| fd as usize)
}

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

/// `mkdir(path, mode)`.
pub fn mkdir(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    let mode: u32 = args.get(1)?;
    at(AT_FDCWD, &path, |vfs, start| vfs.mkdir(start, &path, mode)).map(|()| 0)
}

/// `mkdirat(dirfd, path, mode)`.
pub fn mkdirat(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(1)?)?;
    let mode: u32 = args.get(2)?;
    at(args.get(0)?, &path, |vfs, start| {
        vfs.mkdir(start, &path, mode)
    })
    .map(|()| 0)
}

/// `unlink(path)`.
pub fn unlink(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    at(AT_FDCWD, &path, |vfs, start| vfs.unlink(start, &path)).map(|()| 0)
}

/// `rmdir(path)`.
pub fn rmdir(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    at(AT_FDCWD, &path, |vfs, start| vfs.rmdir(start, &path)).map(|()| 0)
}

/// `unlinkat(dirfd, path, flags)`.
pub fn unlinkat(args: SyscallArgs) -> SysResult {
    let flags: u32 = args.get(2)?;
    if flags & !AT_REMOVEDIR != 0 {
        return Err(Errno::EINVAL);
    }
    let path = read_path(args.get(1)?)?;
    at(args.get(0)?, &path, |vfs, start| {
        if flags & AT_REMOVEDIR != 0 {
            vfs.rmdir(start, &path)
        } else {
            vfs.unlink(start, &path)
        }
    })
    .map(|()| 0)
}

fn rename_at(
    old_dirfd: i32,
    old: UserAddr,
    new_dirfd: i32,
    new: UserAddr,
    flags: u32,
) -> SysResult {
    let old = read_path(old)?;
    let new = read_path(new)?;
    vfs::with(|vfs| {
        let old_start = vfs.start_dir(old_dirfd, &old)?;
        let new_start = vfs.start_dir(new_dirfd, &new)?;
        vfs.rename(old_start, &old, new_start, &new, flags)
    })
    .map(|()| 0)
}

/// `rename(old, new)`.
pub fn rename(args: SyscallArgs) -> SysResult {
    rename_at(AT_FDCWD, args.get(0)?, AT_FDCWD, args.get(1)?, 0)
}

/// `renameat(olddirfd, old, newdirfd, new)`.
pub fn renameat(args: SyscallArgs) -> SysResult {
    rename_at(args.get(0)?, args.get(1)?, args.get(2)?, args.get(3)?, 0)
}

/// `renameat2(olddirfd, old, newdirfd, new, flags)`.
pub fn renameat2(args: SyscallArgs) -> SysResult {
    rename_at(
        args.get(0)?,
        args.get(1)?,
        args.get(2)?,
        args.get(3)?,
        args.get(4)?,
    )
}

fn link_at(old_dirfd: i32, old: UserAddr, new_dirfd: i32, new: UserAddr, flags: u32) -> SysResult {
    if flags & !(AT_SYMLINK_FOLLOW | AT_EMPTY_PATH) != 0 {
        return Err(Errno::EINVAL);
    }
    let follow = if flags & AT_SYMLINK_FOLLOW != 0 {
        Follow::Yes
    } else {
        Follow::No
    };
    let old = read_path(old)?;
    let new = read_path(new)?;
    vfs::with(|vfs| {
        let old_start = vfs.start_dir(old_dirfd, &old)?;
        let new_start = vfs.start_dir(new_dirfd, &new)?;
        vfs.link(old_start, &old, new_start, &new, follow)
    })
    .map(|()| 0)
}

/// `link(old, new)`.
pub fn link(args: SyscallArgs) -> SysResult {
    link_at(AT_FDCWD, args.get(0)?, AT_FDCWD, args.get(1)?, 0)
}

/// `linkat(olddirfd, old, newdirfd, new, flags)`.
pub fn linkat(args: SyscallArgs) -> SysResult {
    link_at(
        args.get(0)?,
        args.get(1)?,
        args.get(2)?,
        args.get(3)?,
        args.get(4)?,
    )
}

fn symlink_at(target: UserAddr, dirfd: i32, path: UserAddr) -> SysResult {
    let target = read_path(target)?;
    let path = read_path(path)?;
    at(dirfd, &path, |vfs, start| {
        vfs.symlink(&target, start, &path)
    })
    .map(|()| 0)
}

/// `symlink(target, path)`.
pub fn symlink(args: SyscallArgs) -> SysResult {
    symlink_at(args.get(0)?, AT_FDCWD, args.get(1)?)
}

/// `symlinkat(target, dirfd, path)`.
pub fn symlinkat(args: SyscallArgs) -> SysResult {
    symlink_at(args.get(0)?, args.get(1)?, args.get(2)?)
}

fn readlink_at(dirfd: i32, path: UserAddr, buf: UserAddr, size: i32) -> SysResult {
    let size = usize::try_from(size)
        .ok()
        .filter(|&s| s > 0)
        .ok_or(Errno::EINVAL)?;
    let path = read_path(path)?;
    at(dirfd, &path, |vfs, start| {
        let target = vfs.readlink(start, &path)?;
        let n = target.len().min(size);
        uaccess::copy_to(buf.0, &target[..n])?;
        Ok(n)
    })
}

/// `readlink(path, buf, size)`: `EINVAL` for anything but a symbolic link, except
/// `/proc/self/exe`, which names itself (`ENOENT` when the image was booted without
/// its file: std's `current_exe` reports that).
pub fn readlink(args: SyscallArgs) -> SysResult {
    readlink_at(AT_FDCWD, args.get(0)?, args.get(1)?, args.get(2)?)
}

/// `readlinkat(dirfd, path, buf, size)`.
pub fn readlinkat(args: SyscallArgs) -> SysResult {
    readlink_at(args.get(0)?, args.get(1)?, args.get(2)?, args.get(3)?)
}

/// `getcwd(buf, size)`: the length with the NUL, as the system call (not the libc
/// function) returns.
pub fn getcwd(args: SyscallArgs) -> SysResult {
    let buf: UserAddr = args.get(0)?;
    let size: usize = args.get(1)?;
    let mut path = vfs::with(|vfs| vfs.dir_path(vfs.cwd()))?;
    path.push(0);
    if path.len() > size {
        return Err(Errno::ERANGE);
    }
    uaccess::copy_to(buf.0, &path)?;
    Ok(path.len())
}

/// `chdir(path)`.
pub fn chdir(args: SyscallArgs) -> SysResult {
    let path = read_path(args.get(0)?)?;
    at(AT_FDCWD, &path, |vfs, start| {
        let ino = vfs.resolve(start, &path, Follow::Yes)?;
        vfs.set_cwd(ino)
    })
    .map(|()| 0)
}

/// `fchdir(fd)`.
pub fn fchdir(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    vfs::with(|vfs| match vfs.file(fd.0)?.object.inode() {
        Some(ino) => vfs.set_cwd(ino),
        None => Err(Errno::ENOTDIR),
    })
    .map(|()| 0)
}

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

/// The inode behind `fd` (`EBADF` for pipes and the console where one is needed).
fn fd_inode(vfs: &Vfs, fd: u32) -> Result<Ino, Errno> {
    vfs.file(fd)?.object.inode().ok_or(Errno::EINVAL)
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

/// `getdents64(fd, buf, len)`.
pub fn getdents64(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len: u32 = args.get(2)?;
    vfs::with(|vfs| vfs.getdents(fd.0, buf.0, len as usize))
}
