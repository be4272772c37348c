//! Opening and the name space: `open`, `openat`, `creat`, `unlink`, `rmdir`,
//! `unlinkat`, `rename`, `renameat`, `renameat2`, `link`, `linkat`, `symlink`,
//! `symlinkat`, `readlink`, `readlinkat`.

use unikernel_hal::uaccess;

use super::path::{AT_EMPTY_PATH, AT_FDCWD, AT_REMOVEDIR, AT_SYMLINK_FOLLOW, at, read_path};
use crate::errno::Errno;
use crate::syscall::{SysResult, SyscallArgs, UserAddr};
use crate::vfs::{self, Follow};

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
