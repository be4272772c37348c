//! `/proc/self/exe`: the image file, where std's backtrace (and anything else that
//! follows Linux's `proc_pid_exe(5)` convention) looks for the program's own symbols
//! and DWARF.
//!
//! The loaded segments carry neither; the file does when the VMM passed it as the
//! first boot module (`cargo unikernel run` does, see `unikernel_hal::image`). Its
//! bytes stay mapped read-only for the whole run, so the file serves them in place
//! ([`FileData::Executable`]): no copy in the heap. Without the module (another VMM,
//! Firecracker without an initrd) there is no `/proc` at all and `readlink` of the
//! path is `ENOENT`, as before: std then prints backtraces without names.
//!
//! Unlike Linux, `exe` is not a magic symbolic link but the regular file itself, so
//! `lstat` calls it a file; `readlink` still answers with a path that opens it
//! ([`EXE_PATH`]), which is all `std::env::current_exe` needs.

use super::inode::{FileData, Ino, Node, ROOT};
use super::state::Vfs;
use crate::errno::Errno;

/// What `readlink("/proc/self/exe")` returns: the path of the file itself.
pub const EXE_PATH: &[u8] = b"/proc/self/exe";

impl Vfs {
    /// Adds `/proc/self/exe` serving `image` (directories 0555 and the file 0555, as
    /// Linux shows them; nothing here can write it).
    pub(super) fn add_executable(&mut self, image: &'static [u8]) -> Result<Ino, Errno> {
        let proc = self.mkdir_in(ROOT, b"proc", 0o555)?;
        let this = self.mkdir_in(proc, b"self", 0o555)?;
        self.link_new(this, b"exe", Node::File(FileData::Executable(image)), 0o555)
    }
}
