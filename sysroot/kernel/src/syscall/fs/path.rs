//! What the path-based calls share: reading a path argument, the `AT_*` flags and
//! the start directory of a relative path (`dirfd` or the working directory).

use alloc::vec::Vec;

use unikernel_hal::uaccess;

use crate::errno::Errno;
use crate::syscall::UserAddr;
use crate::vfs::{self, Ino, MAX_PATH, Vfs};

pub const AT_FDCWD: i32 = -100;
pub const AT_SYMLINK_NOFOLLOW: u32 = 0x100;
pub const AT_REMOVEDIR: u32 = 0x200;
pub const AT_EACCESS: u32 = 0x200;
pub const AT_SYMLINK_FOLLOW: u32 = 0x400;
pub const AT_NO_AUTOMOUNT: u32 = 0x800;
pub const AT_EMPTY_PATH: u32 = 0x1000;
pub const AT_STATX_SYNC_TYPE: u32 = 0x6000;

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
pub fn at<R>(
    dirfd: i32,
    path: &[u8],
    f: impl FnOnce(&mut Vfs, Ino) -> Result<R, Errno>,
) -> Result<R, Errno> {
    vfs::with(|vfs| {
        let start = vfs.start_dir(dirfd, path)?;
        f(vfs, start)
    })
}
