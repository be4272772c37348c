//! Files: `open`, `openat`. There is no file system yet, so every path is missing.

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;

/// `open(path, flags, mode)`.
pub fn open(args: SyscallArgs) -> SysResult {
    let path: UserAddr = args.get(0)?;
    if path.is_null() {
        return Err(Errno::EFAULT);
    }
    Err(Errno::ENOENT)
}

/// `openat(dirfd, path, flags, mode)`.
pub fn openat(args: SyscallArgs) -> SysResult {
    let _dirfd: i32 = args.get(0)?;
    let path: UserAddr = args.get(1)?;
    if path.is_null() {
        return Err(Errno::EFAULT);
    }
    Err(Errno::ENOENT)
}
