//! The one lock of the VFS (see the module docs of `vfs`) and the state behind it,
//! built on first use.

use spin::Mutex;

use super::state::Vfs;
use crate::errno::Errno;

static VFS: Mutex<Option<Vfs>> = Mutex::new(None);

/// Runs `f` on the VFS with its lock held (building the VFS on first use).
pub fn with<R>(f: impl FnOnce(&mut Vfs) -> Result<R, Errno>) -> Result<R, Errno> {
    let mut guard = VFS.lock();
    let vfs = match &mut *guard {
        Some(vfs) => vfs,
        None => guard.insert(Vfs::boot()?),
    };
    f(vfs)
}
