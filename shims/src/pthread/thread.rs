//! The thread descriptor: everything one thread owns, at its thread pointer.
//!
//! As glibc's `struct pthread` starts with `tcbhead_t`, a [`Thread`] starts with
//! the control block header ([`Tcb`]), so the thread pointer, the `Tcb` and the
//! `Thread` are one address, and that address is the `pthread_t`. After the header
//! come the thread's identity and stack, its start routine and result, and the
//! per-thread slots the other pthread modules fill: the `thread_local`
//! destructors (`dtors.rs`) and the pthread key values (`key.rs`).
//!
//! The leaf of the pthread modules: it uses only the control block header, so
//! `attr`, `key`, `dtors` and `name` can reach the calling thread without naming
//! the creation and exit code in `mod.rs`.

use core::ffi::{c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

use crate::tcb::{self, Tcb};

/// `pthread_t`: the address of the thread's descriptor (and control block).
pub type PthreadT = usize;

/// A thread's start routine.
pub type StartFn = unsafe extern "C" fn(*mut c_void) -> *mut c_void;

/// [`Thread::state`]: joinable, not finished.
pub const JOINABLE: u32 = 0;
/// [`Thread::state`]: detached, not finished.
pub const DETACHED: u32 = 1;
/// [`Thread::state`]: finished, not yet joined.
pub const EXITED: u32 = 2;

/// Number of keys (glibc: `PTHREAD_KEYS_MAX` 1024; std needs a handful).
pub const KEYS_MAX: usize = 128;

/// Per-thread state; the thread pointer points at it.
#[repr(C)]
#[derive(Debug)]
pub struct Thread {
    /// The control block header: must stay first (see the module doc).
    pub(super) tcb: Tcb,
    /// Kernel thread id; zeroed by the kernel (with a futex wake) at thread exit.
    pub(super) tid: AtomicI32,
    /// JOINABLE, DETACHED or EXITED.
    pub(super) state: AtomicU32,
    /// The mapping that holds this thread (0 for the main thread).
    pub(super) map_base: usize,
    pub(super) map_len: usize,
    /// Usable stack `[stack_lo, stack_lo + stack_size)` and the guard below it.
    pub(super) stack_lo: usize,
    pub(super) stack_size: usize,
    pub(super) guard_size: usize,
    pub(super) start: Option<StartFn>,
    pub(super) arg: *mut c_void,
    pub(super) result: *mut c_void,
    /// `__cxa_thread_atexit_impl` destructors, most recent first.
    pub(super) tls_dtors: *mut TlsDtor,
    /// `pthread_setspecific` values.
    pub(super) keys: [KeyValue; KEYS_MAX],
    /// Next thread on the reap list.
    pub(super) reap_next: *mut Thread,
}

const _: () = assert!(core::mem::offset_of!(Thread, tcb) == 0);

impl Thread {
    /// A joinable thread with header `tcb` and nothing else set.
    pub fn new(tcb: Tcb) -> Thread {
        Thread {
            tcb,
            tid: AtomicI32::new(0),
            state: AtomicU32::new(JOINABLE),
            map_base: 0,
            map_len: 0,
            stack_lo: 0,
            stack_size: 0,
            guard_size: 0,
            start: None,
            arg: ptr::null_mut(),
            result: ptr::null_mut(),
            tls_dtors: ptr::null_mut(),
            keys: [KeyValue::EMPTY; KEYS_MAX],
            reap_next: ptr::null_mut(),
        }
    }
}

/// The calling thread's descriptor.
pub fn current() -> *mut Thread {
    // Every thread pointer the shim installs is a `Thread` (`init_main_thread`,
    // `pthread_create`), whose header is its first field.
    tcb::current().cast()
}

/// Kernel thread id of `thread` (for `pthread_setname_np`).
pub fn tid_of(thread: PthreadT) -> c_int {
    // SAFETY: callers pass live threads.
    unsafe { (*(thread as *mut Thread)).tid.load(Ordering::Relaxed) }
}

/// A thread's value for one key.
#[derive(Clone, Copy, Debug)]
pub struct KeyValue {
    pub(super) ptr: *mut c_void,
    /// The key's sequence number when the value was stored.
    pub(super) seq: u32,
}

impl KeyValue {
    /// No value.
    pub const EMPTY: KeyValue = KeyValue {
        ptr: ptr::null_mut(),
        seq: 0,
    };
}

/// One registered `thread_local` destructor.
#[derive(Debug)]
pub struct TlsDtor {
    pub(super) func: unsafe extern "C" fn(*mut c_void),
    pub(super) obj: *mut c_void,
    pub(super) next: *mut TlsDtor,
}
