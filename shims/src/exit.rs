//! Process exit and exit handlers: `exit`, `_exit`, `atexit`, `__cxa_atexit`,
//! `__cxa_finalize`.
//!
//! `exit` follows glibc's order (stdlib/exit.c): first the calling thread's
//! `thread_local` destructors, then the `atexit`/`__cxa_atexit` handlers in reverse
//! order of registration, then `exit_group`.

use core::ffi::{c_int, c_void};
use core::ptr;

use crate::lock::Mutex;
use crate::malloc;
use crate::pthread;
use crate::syscall::{nr, syscall1};

/// One registered exit handler.
#[derive(Debug)]
struct Handler {
    func: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
    dso: *mut c_void,
    next: *mut Handler,
}

/// Most recently registered first.
struct Handlers(*mut Handler);
// SAFETY: the list is only touched under `HANDLERS`' lock.
unsafe impl Send for Handlers {}

static HANDLERS: Mutex<Handlers> = Mutex::new(Handlers(ptr::null_mut()));

/// glibc's crtbegin symbol identifying "the main program" for `__cxa_atexit` and
/// `__cxa_thread_atexit_impl`; std passes its address.
#[unsafe(no_mangle)]
pub static __dso_handle: u8 = 0;

/// Registers `func(arg)` to run at `exit` (or at `__cxa_finalize(dso)`).
///
/// # Safety
/// `func` must be safe to call with `arg` at exit time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __cxa_atexit(
    func: unsafe extern "C" fn(*mut c_void),
    arg: *mut c_void,
    dso: *mut c_void,
) -> c_int {
    let node = malloc::alloc_raw(size_of::<Handler>()).cast::<Handler>();
    if node.is_null() {
        return -1;
    }
    let mut list = HANDLERS.lock();
    // SAFETY: `node` is a fresh allocation large and aligned enough for a Handler.
    unsafe {
        node.write(Handler {
            func,
            arg,
            dso,
            next: list.0,
        })
    };
    list.0 = node;
    0
}

/// Registers `func` to run at `exit`.
///
/// # Safety
/// `func` must be safe to call at exit time.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn atexit(func: unsafe extern "C" fn()) -> c_int {
    // SAFETY: a `fn()` called with an ignored extra argument in rdi is sound under
    // the SysV calling convention, which is how glibc implements atexit too.
    unsafe {
        let func: unsafe extern "C" fn(*mut c_void) = core::mem::transmute(func);
        __cxa_atexit(func, ptr::null_mut(), ptr::null_mut())
    }
}

/// Runs (once) the handlers registered for `dso`, or all of them for NULL.
///
/// # Safety
/// Handlers run arbitrary code; call only where that is sound (exit, unload).
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __cxa_finalize(dso: *mut c_void) {
    loop {
        // Unlink one matching handler under the lock, run it without the lock so
        // it may register further handlers.
        let node = {
            let mut list = HANDLERS.lock();
            let mut link: *mut *mut Handler = &mut list.0;
            // SAFETY: the list nodes are valid allocations owned by the list.
            unsafe {
                while !((*link).is_null() || dso.is_null() || (**link).dso == dso) {
                    link = &raw mut (**link).next;
                }
                let node = *link;
                if !node.is_null() {
                    *link = (*node).next;
                }
                node
            }
        };
        if node.is_null() {
            return;
        }
        // SAFETY: the node was unlinked above, so it is ours to run and free.
        unsafe {
            let Handler { func, arg, .. } = node.read();
            malloc::free_raw(node.cast());
            func(arg);
        }
    }
}

/// `exit(3)`: ends the process after running exit handlers.
#[unsafe(no_mangle)]
pub extern "C" fn exit(status: c_int) -> ! {
    pthread::run_thread_local_dtors();
    // SAFETY: process exit is the point where every handler is meant to run.
    unsafe { __cxa_finalize(ptr::null_mut()) };
    exit_now(status)
}

/// Ends the process immediately (`exit_group`).
pub fn exit_now(status: c_int) -> ! {
    #[cfg(feature = "profile")]
    crate::profile::write_at_exit();
    // The kernel reads the status as an `int`; sign extension keeps its bits.
    let status = status as isize as usize;
    loop {
        // SAFETY: exit_group does not return and touches no user memory.
        unsafe { syscall1(nr::EXIT_GROUP, status) };
    }
}

/// `_exit(2)`: ends the process without running handlers.
#[unsafe(no_mangle)]
pub extern "C" fn _exit(status: c_int) -> ! {
    exit_now(status)
}

/// `_Exit(3)`: same as `_exit`.
#[unsafe(no_mangle)]
pub extern "C" fn _Exit(status: c_int) -> ! {
    exit_now(status)
}
