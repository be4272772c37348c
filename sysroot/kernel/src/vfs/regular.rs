//! Regular files' bytes: reading, writing, truncating (`read`, `write`, their
//! positional forms, `ftruncate`, `truncate`, `O_TRUNC`) and moving a position in them
//! (`lseek`). The executable (`/proc/self/exe`, [`FileData::Executable`]) reads like
//! any file and refuses changes (`ETXTBSY`).

use unikernel_hal::uaccess;

use super::file::flags::O_APPEND;
use super::inode::{FileData, Inode, Node};
use crate::errno::Errno;

/// `lseek` whence values.
pub const SEEK_SET: u32 = 0;
pub const SEEK_CUR: u32 = 1;
pub const SEEK_END: u32 = 2;
const SEEK_DATA: u32 = 3;
const SEEK_HOLE: u32 = 4;

/// The current time for timestamps.
fn now() -> u64 {
    crate::time::realtime_ns()
}

/// Copies up to `len` bytes of `data` from `pos` to `buf`: the bytes copied.
pub fn read(data: &FileData, pos: u64, buf: usize, len: usize) -> Result<usize, Errno> {
    let pos = usize::try_from(pos).unwrap_or(usize::MAX).min(data.len());
    let n = len.min(data.len() - pos);
    uaccess::copy_to(buf, &data[pos..pos + n])?;
    Ok(n)
}

/// `offset` moved as `lseek` asks, for an object of `size` bytes; `SEEK_DATA` and
/// `SEEK_HOLE` see one data extent (no holes).
pub fn seek_position(offset: u64, size: u64, to: i64, whence: u32) -> Result<u64, Errno> {
    let base = match whence {
        SEEK_SET => 0,
        SEEK_CUR => offset,
        SEEK_END => size,
        SEEK_DATA | SEEK_HOLE => {
            let at = u64::try_from(to).map_err(|_| Errno::ENXIO)?;
            if at >= size {
                return Err(Errno::ENXIO);
            }
            return Ok(if whence == SEEK_DATA { at } else { size });
        }
        _ => return Err(Errno::EINVAL),
    };
    base.checked_add_signed(to)
        .filter(|&n| n <= i64::MAX as u64)
        .ok_or(Errno::EINVAL)
}

/// Writes `len` bytes from `buf` into a regular file at `pos` (or its end with
/// `O_APPEND`, also for `pwrite64`, as Linux does); returns the offset after them.
pub fn write(
    inode: &mut Inode,
    buf: usize,
    len: usize,
    flags: u32,
    pos: u64,
) -> Result<u64, Errno> {
    let now = now();
    let data = match &mut inode.node {
        Node::File(data) => data.heap_mut()?,
        _ => return Err(Errno::EIO),
    };
    if len == 0 {
        return Ok(pos);
    }
    let pos = if flags & O_APPEND != 0 {
        data.len()
    } else {
        usize::try_from(pos).map_err(|_| Errno::EFBIG)?
    };
    let end = pos
        .checked_add(len)
        .filter(|&e| e <= isize::MAX as usize)
        .ok_or(Errno::EFBIG)?;
    let old_len = data.len();
    if end > old_len {
        data.try_reserve(end - old_len).map_err(|_| Errno::ENOSPC)?;
        data.resize(end, 0);
    }
    if let Err(fault) = uaccess::copy_from(buf, &mut data[pos..end]) {
        data.truncate(old_len);
        return Err(fault.into());
    }
    inode.times.mtime = now;
    inode.times.ctime = now;
    Ok(end as u64)
}

/// Sets a regular file's length (`ftruncate`, `truncate`, `O_TRUNC`); new bytes read
/// as zeros. `EISDIR` for a directory, `EINVAL` for anything else that is not a
/// regular file, `ETXTBSY` for the executable.
pub fn truncate(inode: &mut Inode, len: u64) -> Result<(), Errno> {
    let now = now();
    let is_dir = inode.is_dir();
    let Node::File(data) = &mut inode.node else {
        return Err(if is_dir { Errno::EISDIR } else { Errno::EINVAL });
    };
    let data = data.heap_mut()?;
    let len = usize::try_from(len)
        .ok()
        .filter(|&l| l <= isize::MAX as usize)
        .ok_or(Errno::EFBIG)?;
    if len > data.len() {
        data.try_reserve(len - data.len())
            .map_err(|_| Errno::ENOSPC)?;
    }
    data.resize(len, 0);
    inode.times.mtime = now;
    inode.times.ctime = now;
    Ok(())
}
