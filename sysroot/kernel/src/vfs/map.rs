//! What a file mapping starts with: the bytes `mmap` of a descriptor copies into fresh
//! memory (`crate::memory` fills the rest of the mapping with zeros).
//!
//! Memory is identity-mapped and there is no page cache, so a mapping of a file is a
//! copy taken at `mmap` time. That is exact for `MAP_PRIVATE` as long as the file is
//! not written afterwards (Linux leaves unspecified whether a private mapping sees
//! later writes, `mmap(2)`), and makes a read-only `MAP_SHARED` mapping a snapshot. A
//! writable shared mapping of a file could never reach the file: `ENODEV`.

use super::file::flags::O_PATH;
use super::state::Vfs;
use crate::errno::Errno;

impl Vfs {
    /// The bytes a mapping of `fd` copies from its offset 0 on: a regular file's
    /// contents, nothing for `/dev/zero` (zeros, like an anonymous mapping).
    ///
    /// Errors as Linux's `mmap(2)`: `EBADF` for an `O_PATH` descriptor, `EACCES` if it
    /// is not open for reading or, for a writable shared mapping, for writing; `ENODEV`
    /// for what has no `mmap` (directories, pipes, the console, event counters, epoll,
    /// the other devices) and for writable shared mappings of files (see above).
    pub fn map_contents(&self, fd: u32, shared_write: bool) -> Result<&[u8], Errno> {
        let file = self.file(fd)?;
        if file.flags & O_PATH != 0 {
            return Err(Errno::EBADF);
        }
        if !file.readable() || (shared_write && !file.writable()) {
            return Err(Errno::EACCES);
        }
        file.object.map_contents(&self.inodes, shared_write)
    }
}
