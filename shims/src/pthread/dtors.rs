//! `thread_local` destructors: `__cxa_thread_atexit_impl`.
//!
//! std registers each initialised `thread_local!` with a destructor here. They run
//! when the thread exits (`pthread_exit` or returning from its start routine) and,
//! for the thread that calls `exit`, at `exit`; most recently registered first, as
//! in glibc (stdlib/cxa_thread_atexit_impl.c). A destructor may register more.

use core::ffi::{c_int, c_void};

use super::thread::{TlsDtor, current};
use crate::malloc;

/// Registers `func(obj)` to run when the calling thread exits.
///
/// # Safety
/// `func` must be safe to call with `obj` at thread exit.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __cxa_thread_atexit_impl(
    func: unsafe extern "C" fn(*mut c_void),
    obj: *mut c_void,
    _dso: *mut c_void,
) -> c_int {
    let node = malloc::alloc_raw(size_of::<TlsDtor>()).cast::<TlsDtor>();
    if node.is_null() {
        return -1;
    }
    let t = current();
    // SAFETY: `node` is a fresh allocation for a TlsDtor; the list belongs to the
    // calling thread only.
    unsafe {
        node.write(TlsDtor {
            func,
            obj,
            next: (*t).tls_dtors,
        });
        (*t).tls_dtors = node;
    }
    0
}

/// Runs and frees the calling thread's registered destructors, newest first.
pub fn run_thread_local_dtors() {
    let t = current();
    loop {
        // SAFETY: the list belongs to this thread; each node is unlinked before
        // its destructor runs, so re-registration from inside it is fine.
        unsafe {
            let node = (*t).tls_dtors;
            if node.is_null() {
                return;
            }
            let TlsDtor { func, obj, next } = node.read();
            (*t).tls_dtors = next;
            malloc::free_raw(node.cast());
            func(obj);
        }
    }
}
