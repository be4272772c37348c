//! The one lock of the VFS (see the module docs of `vfs`) and the state behind it,
//! built on first use.

use spin::Mutex;

use super::state::Vfs;
use crate::errno::Errno;
use crate::sched;

static VFS: Mutex<Option<Vfs>> = Mutex::new(None);

/// Runs `f` on the VFS with its lock held (building the VFS on first use).
///
/// Kernel code is never preempted, so a lock found held belongs to a thread that is
/// not running: one that blocked while holding it (the VFS allocates through the
/// shim's `malloc`, whose lock is a futex, so a thread that entered the VFS can wait
/// there for a thread preempted inside `malloc`). Spinning would never let that thread
/// run again; yielding does.
pub fn with<R>(f: impl FnOnce(&mut Vfs) -> Result<R, Errno>) -> Result<R, Errno> {
    let mut guard = loop {
        match VFS.try_lock() {
            Some(guard) => break guard,
            None => sched::yield_now(),
        }
    };
    let vfs = match &mut *guard {
        Some(vfs) => vfs,
        None => guard.insert(Vfs::boot()?),
    };
    f(vfs)
}
