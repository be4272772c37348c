//! Directories and the working directory: `mkdir`, `mkdirat`, `getcwd`, `chdir`,
//! `fchdir`, `getdents64`.

use unikernel_hal::uaccess;

use super::path::{AT_FDCWD, at, read_path};
use crate::errno::Errno;
use crate::syscall::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::vfs::{self, Follow};

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

/// `getdents64(fd, buf, len)`.
pub fn getdents64(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len: u32 = args.get(2)?;
    vfs::with(|vfs| vfs.getdents(fd.0, buf.0, len as usize))
}
