//! Descriptor calls: `read`, `write`, `pread64`, `pwrite64`, `readv`, `writev`,
//! `preadv`, `pwritev`, `lseek`, `close`, `dup`, `dup2`, `dup3`, `fcntl`, `ioctl`,
//! `pipe`, `pipe2`, `fsync`, `fdatasync`, `ftruncate`, `sendfile`,
//! `copy_file_range`. What a descriptor reads and writes is `crate::vfs`'s business;
//! reads and writes on a blocking pipe or event counter wait in `vfs::wait`. A write
//! that fails with `EPIPE` (no reader) raises SIGPIPE, as Linux's `pipe_write` does.

use alloc::vec;

use unikernel_hal::uaccess;

use super::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::signal;
use crate::vfs::{self, Vfs, flags::*, ioctl::*};

/// Linux's `IOV_MAX`.
const IOV_MAX: usize = 1024;

/// `read(fd, buf, count)`.
pub fn read(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len: usize = args.get(2)?;
    vfs::wait::blocking(fd.0, |vfs| vfs.read(fd.0, buf.0, len, None))
}

/// `write(fd, buf, count)`.
pub fn write(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let buf: UserAddr = args.get(1)?;
    let len: usize = args.get(2)?;
    signal::on_broken_pipe(vfs::wait::write(fd.0, buf.0, len))
}

/// A `pread64`/`pwrite64` offset (`EINVAL` if negative).
fn offset(args: &SyscallArgs, index: usize) -> Result<u64, Errno> {
    u64::try_from(args.get::<isize>(index)?).map_err(|_| Errno::EINVAL)
}

/// `pread64(fd, buf, count, offset)`.
pub fn pread64(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (buf, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let at = offset(&args, 3)?;
    vfs::with(|vfs| vfs.read(fd.0, buf.0, len, Some(at)))
}

/// `pwrite64(fd, buf, count, offset)`.
pub fn pwrite64(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let (buf, len): (UserAddr, usize) = (args.get(1)?, args.get(2)?);
    let at = offset(&args, 3)?;
    vfs::with(|vfs| vfs.write(fd.0, buf.0, len, Some(at)))
}

/// Reads the `index`th `struct iovec { void *base; size_t len; }` of an array.
fn iovec(array: UserAddr, index: usize) -> Result<(usize, usize), Errno> {
    let at = array.offset(index.checked_mul(16).ok_or(Errno::EINVAL)?)?;
    let base = uaccess::read_u64(at.0)?;
    let len = uaccess::read_u64(at.offset(8)?.0)?;
    Ok((
        base as usize,
        usize::try_from(len).map_err(|_| Errno::EINVAL)?,
    ))
}

/// The segments' lengths must add up to at most `isize::MAX` (`readv(2)`: `EINVAL`).
fn check_iovecs(iov: UserAddr, count: i32) -> Result<usize, Errno> {
    let count = usize::try_from(count)
        .ok()
        .filter(|&n| n <= IOV_MAX)
        .ok_or(Errno::EINVAL)?;
    let mut total: usize = 0;
    for index in 0..count {
        let (_, len) = iovec(iov, index)?;
        total = total
            .checked_add(len)
            .filter(|&t| t <= isize::MAX as usize)
            .ok_or(Errno::EINVAL)?;
    }
    Ok(count)
}

/// One segment's transfer: [`Vfs::read`] or [`Vfs::write`] (`fd`, address, length,
/// position).
type Transfer = fn(&mut Vfs, u32, usize, usize, Option<u64>) -> Result<usize, Errno>;

/// Transfers segment by segment, stopping at the first short one; an error after some
/// bytes moved reports the bytes (as Linux does).
fn vectored(
    fd: u32,
    iov: UserAddr,
    count: i32,
    mut at: Option<u64>,
    transfer: Transfer,
) -> SysResult {
    let count = check_iovecs(iov, count)?;
    vfs::wait::blocking(fd, |vfs| {
        vfs.file(fd)?;
        let mut total = 0;
        for index in 0..count {
            let (base, len) = iovec(iov, index)?;
            let n = match transfer(vfs, fd, base, len, at) {
                Ok(n) => n,
                Err(_) if total > 0 => break,
                Err(e) => return Err(e),
            };
            total += n;
            at = at.map(|a| a + n as u64);
            if n < len {
                break;
            }
        }
        Ok(total)
    })
}

/// `readv(fd, iov, iovcnt)`.
pub fn readv(args: SyscallArgs) -> SysResult {
    vectored(
        args.get::<Fd>(0)?.0,
        args.get(1)?,
        args.get(2)?,
        None,
        Vfs::read,
    )
}

/// `writev(fd, iov, iovcnt)`.
pub fn writev(args: SyscallArgs) -> SysResult {
    signal::on_broken_pipe(vectored(
        args.get::<Fd>(0)?.0,
        args.get(1)?,
        args.get(2)?,
        None,
        Vfs::write,
    ))
}

/// `preadv(fd, iov, iovcnt, offset)` (the offset's high half, `a4`, is 0 on x86-64).
pub fn preadv(args: SyscallArgs) -> SysResult {
    let at = offset(&args, 3)?;
    vectored(
        args.get::<Fd>(0)?.0,
        args.get(1)?,
        args.get(2)?,
        Some(at),
        Vfs::read,
    )
}

/// `pwritev(fd, iov, iovcnt, offset)`.
pub fn pwritev(args: SyscallArgs) -> SysResult {
    let at = offset(&args, 3)?;
    vectored(
        args.get::<Fd>(0)?.0,
        args.get(1)?,
        args.get(2)?,
        Some(at),
        Vfs::write,
    )
}

/// `lseek(fd, offset, whence)`.
pub fn lseek(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let offset = args.get::<isize>(1)? as i64;
    let whence: u32 = args.get(2)?;
    vfs::with(|vfs| vfs.seek(fd.0, offset, whence)).map(|pos| pos as usize)
}

/// `close(fd)`.
pub fn close(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    vfs::with(|vfs| vfs.close(fd.0)).map(|()| 0)
}

/// `dup(fd)`.
pub fn dup(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    vfs::with(|vfs| vfs.dup(fd.0, 0, false)).map(|fd| fd as usize)
}

/// `dup2(old, new)`.
pub fn dup2(args: SyscallArgs) -> SysResult {
    let (old, new): (Fd, Fd) = (args.get(0)?, args.get(1)?);
    vfs::with(|vfs| vfs.dup_to(old.0, new.0, false)).map(|fd| fd as usize)
}

/// `dup3(old, new, flags)`: like `dup2`, but `old == new` is `EINVAL`.
pub fn dup3(args: SyscallArgs) -> SysResult {
    let (old, new): (Fd, Fd) = (args.get(0)?, args.get(1)?);
    let flags: u32 = args.get(2)?;
    if flags & !O_CLOEXEC != 0 || old == new {
        return Err(Errno::EINVAL);
    }
    vfs::with(|vfs| vfs.dup_to(old.0, new.0, flags & O_CLOEXEC != 0)).map(|fd| fd as usize)
}

const F_DUPFD: u32 = 0;
const F_GETFD: u32 = 1;
const F_SETFD: u32 = 2;
const F_GETFL: u32 = 3;
const F_SETFL: u32 = 4;
const F_DUPFD_CLOEXEC: u32 = 1030;
const FD_CLOEXEC: usize = 1;

/// `fcntl(fd, cmd, arg)`: descriptor flags, status flags and duplication. Record
/// locks and the rest are `EINVAL`, as for an unknown command.
pub fn fcntl(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let cmd: u32 = args.get(1)?;
    let arg: usize = args.get(2)?;
    vfs::with(|vfs| match cmd {
        F_DUPFD | F_DUPFD_CLOEXEC => {
            let min = u32::try_from(arg)
                .ok()
                .filter(|&m| m < 1024)
                .ok_or(Errno::EINVAL)?;
            vfs.dup(fd.0, min, cmd == F_DUPFD_CLOEXEC)
                .map(|fd| fd as usize)
        }
        F_GETFD => Ok(if vfs.cloexec(fd.0)? { FD_CLOEXEC } else { 0 }),
        F_SETFD => vfs.set_cloexec(fd.0, arg & FD_CLOEXEC != 0).map(|()| 0),
        F_GETFL => Ok(vfs.file(fd.0)?.flags as usize),
        F_SETFL => {
            let file = vfs.file_mut(fd.0)?;
            let new = (arg as u32) & SETFL_MASK;
            file.flags = (file.flags & !SETFL_MASK) | new;
            Ok(0)
        }
        _ => {
            vfs.file(fd.0)?;
            Err(Errno::EINVAL)
        }
    })
}

/// `ioctl(fd, request, arg)`: `FIONBIO`, `FIOCLEX` and `FIONCLEX` work on every
/// descriptor; the rest is the object's (`FIONREAD` on files and pipe read ends).
/// Nothing is a terminal, so every terminal request (`TCGETS`, `TIOCGWINSZ`, ...) is
/// `ENOTTY` and `isatty()` is false.
pub fn ioctl(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let request: u32 = args.get(1)?;
    let arg: UserAddr = args.get(2)?;
    vfs::with(|vfs| match request {
        FIOCLEX | FIONCLEX => vfs.set_cloexec(fd.0, request == FIOCLEX).map(|()| 0),
        FIONBIO => {
            let on = uaccess::read_u32(arg.0)? != 0;
            let file = vfs.file_mut(fd.0)?;
            file.flags = if on {
                file.flags | O_NONBLOCK
            } else {
                file.flags & !O_NONBLOCK
            };
            Ok(0)
        }
        _ => vfs.ioctl(fd.0, request, arg.0),
    })
}

/// `pipe2(fds[2], flags)`.
pub fn pipe2(args: SyscallArgs) -> SysResult {
    let fds: UserAddr = args.get(0)?;
    let flags: u32 = args.get(1)?;
    vfs::with(|vfs| {
        let (read, write) = vfs.pipe(flags)?;
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&read.to_ne_bytes());
        bytes[4..].copy_from_slice(&write.to_ne_bytes());
        if let Err(fault) = uaccess::copy_to(fds.0, &bytes) {
            let _ = vfs.close(read);
            let _ = vfs.close(write);
            return Err(fault.into());
        }
        Ok(0)
    })
}

/// `pipe(fds[2])`.
pub fn pipe(args: SyscallArgs) -> SysResult {
    pipe2(SyscallArgs([args.0[0], 0, 0, 0, 0, 0]))
}

/// `fsync(fd)`/`fdatasync(fd)`: RAM is as durable as it gets; `EINVAL` for objects
/// that cannot be synced (pipes, the console, devices), as on Linux.
pub fn fsync(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    vfs::with(|vfs| vfs.file(fd.0)?.object.fsync()).map(|()| 0)
}

/// `ftruncate(fd, length)`: the descriptor must be open for writing (`EINVAL`).
pub fn ftruncate(args: SyscallArgs) -> SysResult {
    let fd: Fd = args.get(0)?;
    let len = u64::try_from(args.get::<isize>(1)?).map_err(|_| Errno::EINVAL)?;
    vfs::with(|vfs| vfs.truncate_fd(fd.0, len)).map(|()| 0)
}

/// Copies up to `len` bytes between two descriptors through a kernel buffer; the
/// offsets are the descriptors' own or the given ones (updated). Returns the bytes
/// copied (short at end of input).
fn copy_between(
    vfs: &mut Vfs,
    from: (u32, Option<&mut u64>),
    to: (u32, Option<&mut u64>),
    len: usize,
) -> SysResult {
    let (in_fd, mut in_off) = from;
    let (out_fd, mut out_off) = to;
    if !vfs.file(in_fd)?.readable() || !vfs.file(out_fd)?.writable() {
        return Err(Errno::EBADF);
    }
    // One address space: a kernel buffer goes through the same checked copies as the
    // caller's would. Only its address is used while the VFS fills and drains it.
    let mut chunk = vec![0u8; len.min(64 * 1024)];
    let buffer = chunk.as_mut_ptr() as usize;
    let mut total = 0;
    while total < len {
        let want = (len - total).min(chunk.len());
        let n = vfs.read(in_fd, buffer, want, in_off.as_deref().copied())?;
        if n == 0 {
            break;
        }
        let written = vfs.write(out_fd, buffer, n, out_off.as_deref().copied())?;
        if let Some(off) = in_off.as_deref_mut() {
            *off += written as u64;
        }
        if let Some(off) = out_off.as_deref_mut() {
            *off += written as u64;
        }
        total += written;
        if written < n || n < want {
            break;
        }
    }
    Ok(total)
}

fn read_offset(addr: UserAddr) -> Result<Option<u64>, Errno> {
    if addr.is_null() {
        return Ok(None);
    }
    let value = uaccess::read_u64(addr.0)? as i64;
    u64::try_from(value).map(Some).map_err(|_| Errno::EINVAL)
}

/// `sendfile(out_fd, in_fd, offset, count)`.
pub fn sendfile(args: SyscallArgs) -> SysResult {
    let (out_fd, in_fd): (Fd, Fd) = (args.get(0)?, args.get(1)?);
    let offset_addr: UserAddr = args.get(2)?;
    let count: usize = args.get(3)?;
    let mut offset = read_offset(offset_addr)?;
    let n = signal::on_broken_pipe(vfs::with(|vfs| {
        copy_between(vfs, (in_fd.0, offset.as_mut()), (out_fd.0, None), count)
    }))?;
    if let Some(offset) = offset {
        uaccess::copy_to(offset_addr.0, &offset.to_ne_bytes())?;
    }
    Ok(n)
}

/// `copy_file_range(fd_in, off_in, fd_out, off_out, len, flags)`: regular files only
/// (`EINVAL` otherwise, which makes std fall back to a read/write loop).
pub fn copy_file_range(args: SyscallArgs) -> SysResult {
    let (in_fd, out_fd): (Fd, Fd) = (args.get(0)?, args.get(2)?);
    let (in_addr, out_addr): (UserAddr, UserAddr) = (args.get(1)?, args.get(3)?);
    let len: usize = args.get(4)?;
    let flags: u32 = args.get(5)?;
    if flags != 0 {
        return Err(Errno::EINVAL);
    }
    let mut in_off = read_offset(in_addr)?;
    let mut out_off = read_offset(out_addr)?;
    let n = vfs::with(|vfs| {
        for fd in [in_fd.0, out_fd.0] {
            match vfs.file(fd)?.object.inode() {
                Some(ino) if matches!(vfs.inode(ino)?.node, vfs::Node::File(_)) => {}
                Some(ino) if vfs.inode(ino)?.is_dir() => return Err(Errno::EISDIR),
                _ => return Err(Errno::EINVAL),
            }
        }
        if vfs.file(out_fd.0)?.flags & O_APPEND != 0 {
            return Err(Errno::EBADF);
        }
        copy_between(
            vfs,
            (in_fd.0, in_off.as_mut()),
            (out_fd.0, out_off.as_mut()),
            len,
        )
    })?;
    for (addr, off) in [(in_addr, in_off), (out_addr, out_off)] {
        if let Some(off) = off {
            uaccess::copy_to(addr.0, &off.to_ne_bytes())?;
        }
    }
    Ok(n)
}
