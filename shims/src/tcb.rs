//! The thread control block header: what the thread pointer (`fs` base) points at.
//!
//! Per the ELF TLS ABI for x86_64 (Drepper, "ELF Handling For Thread-Local
//! Storage", variant II) the first word at the thread pointer points to itself
//! (`%fs:0`). The header keeps glibc's `tcbhead_t` offsets for the words compiled
//! code may read directly (`%fs:0x28` stack-protector canary, `%fs:0x30` pointer
//! guard) and then holds the calling thread's C `errno`.
//!
//! This module is a leaf (it uses only `core`) so that `errno` can find the
//! calling thread's `errno` without depending on anything that sets `errno`.
//! The pthread layer's thread descriptor (`pthread::Thread`) starts with this
//! header, as glibc's `struct pthread` starts with `tcbhead_t`; the static TLS
//! layout around it is `tls`'s business.

use core::ffi::c_int;

/// The thread control block header; the thread pointer points at it.
#[repr(C)]
#[derive(Debug)]
pub struct Tcb {
    /// `%fs:0`: points to this block (TLS ABI requirement).
    self_ptr: *mut Tcb,
    /// glibc's `dtv`, `self`, `multiple_threads`, `gscope_flag`: unused, kept so the
    /// next two fields sit at glibc's offsets.
    _glibc_reserved: [usize; 4],
    /// `%fs:0x28`: canary read by `-fstack-protector` code.
    pub stack_guard: usize,
    /// `%fs:0x30`: glibc's pointer guard; kept for layout, unused by the shim.
    pub pointer_guard: usize,
    /// This thread's C `errno`.
    pub errno: c_int,
}

const _: () = assert!(core::mem::offset_of!(Tcb, stack_guard) == 0x28);

impl Tcb {
    /// A header for the control block that will live at `at` (the future thread
    /// pointer), with the stack-protector canary `stack_guard` and `errno` 0.
    pub fn new(at: *mut Tcb, stack_guard: usize) -> Tcb {
        Tcb {
            self_ptr: at,
            _glibc_reserved: [0; 4],
            stack_guard,
            pointer_guard: 0,
            errno: 0,
        }
    }
}

/// The calling thread's control block.
#[inline(always)]
pub fn current() -> *mut Tcb {
    let tp: *mut Tcb;
    // SAFETY: start-up (and thread creation) set `fs` to a control block whose first
    // word points to itself before any code that calls this runs; reading it has
    // no side effects.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
            options(nostack, preserves_flags, readonly, pure));
    }
    tp
}

/// Address of the calling thread's `errno`.
#[inline(always)]
pub fn current_errno_ptr() -> *mut c_int {
    // SAFETY: `current()` is the live control block of this thread; taking a field
    // address creates no reference.
    unsafe { &raw mut (*current()).errno }
}
