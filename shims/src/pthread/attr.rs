//! Thread attributes: `pthread_attr_*` and `pthread_getattr_np`.

use core::ffi::{c_int, c_void};

use super::thread::{PthreadT, Thread};
use crate::auxv::{self, page_size};
use crate::errno::Errno;
use crate::syscall::{nr, syscall4};

/// `PTHREAD_STACK_MIN` on x86_64 glibc.
const STACK_MIN: usize = 16384;
/// Default stack of a thread created without a size: glibc uses RLIMIT_STACK,
/// typically 8 MiB.
const DEFAULT_STACK: usize = 8 << 20;

/// `pthread_attr_t`: glibc's 56-byte opaque object, our fields at the front.
#[repr(C, align(8))]
#[derive(Debug)]
pub struct PthreadAttr {
    stack_addr: usize,
    stack_size: usize,
    guard_size: usize,
    detached: u32,
    _reserved: [u8; 28],
}

const _: () = assert!(size_of::<PthreadAttr>() == 56);

/// Stack and guard sizes (page-rounded) and detach state a new thread gets from
/// `attr`.
///
/// # Safety
/// `attr` must be null or point at an initialised attribute object.
pub unsafe fn params(attr: *const PthreadAttr) -> (usize, usize, bool) {
    let page = page_size();
    // SAFETY: per the caller.
    let (stack, guard, detached) = match unsafe { attr.as_ref() } {
        Some(a) => {
            let stack = if a.stack_size == 0 {
                DEFAULT_STACK
            } else {
                a.stack_size
            };
            (stack, a.guard_size, a.detached != 0)
        }
        None => (DEFAULT_STACK, page, false),
    };
    (
        stack.next_multiple_of(page),
        guard.next_multiple_of(page),
        detached,
    )
}

/// Bounds `(lowest address, size)` of the main thread's stack.
///
/// The top is the page end of the initial stack's strings (`AT_EXECFN` is the last
/// one the kernel places); the size is RLIMIT_STACK (8 MiB if unlimited), which is
/// how far the kernel lets the stack grow. No `/proc/self/maps` needed.
pub fn main_thread_stack() -> (usize, usize) {
    let page = page_size();
    let mut top = auxv::initial_sp();
    if let Some(execfn) = auxv::auxv_lookup(auxv::AT_EXECFN) {
        // SAFETY: AT_EXECFN points at a NUL-terminated string on the initial stack.
        let len = unsafe { crate::string::strlen(execfn as *const _) };
        top = top.max(execfn + len + 1);
    }
    let top = top.next_multiple_of(page);
    let mut lim = [0u64; 2];
    // SAFETY: prlimit64(0 = self, RLIMIT_STACK = 3, no new limit, &old) writes two
    // u64 into `lim`.
    let r = unsafe { syscall4(nr::PRLIMIT64, 0, 3, 0, lim.as_mut_ptr() as usize) };
    let size = match usize::try_from(lim[0]) {
        Ok(cur) if r == 0 && cur != usize::MAX && cur != 0 => cur.min(top) & !(page - 1),
        _ => DEFAULT_STACK,
    };
    (top - size, size)
}

/// `pthread_attr_init(3)`.
///
/// # Safety
/// `attr` must be writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_init(attr: *mut PthreadAttr) -> c_int {
    // SAFETY: per the caller.
    unsafe {
        attr.write(PthreadAttr {
            stack_addr: 0,
            stack_size: 0,
            guard_size: page_size(),
            detached: 0,
            _reserved: [0; 28],
        });
    }
    0
}

/// `pthread_attr_destroy(3)`.
///
/// # Safety
/// `attr` must be initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_destroy(_attr: *mut PthreadAttr) -> c_int {
    0
}

/// `pthread_attr_setstacksize(3)`: EINVAL below `PTHREAD_STACK_MIN`.
///
/// # Safety
/// `attr` must be initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_setstacksize(attr: *mut PthreadAttr, size: usize) -> c_int {
    if size < STACK_MIN {
        return Errno::EINVAL.0;
    }
    // SAFETY: per the caller.
    unsafe { (*attr).stack_size = size };
    0
}

/// `pthread_attr_getstacksize(3)`.
///
/// # Safety
/// `attr` initialised, `size` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_getstacksize(
    attr: *const PthreadAttr,
    size: *mut usize,
) -> c_int {
    // SAFETY: per the caller.
    unsafe {
        *size = if (*attr).stack_size == 0 {
            DEFAULT_STACK
        } else {
            (*attr).stack_size
        }
    };
    0
}

/// `pthread_attr_setguardsize(3)`.
///
/// # Safety
/// `attr` must be initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_setguardsize(attr: *mut PthreadAttr, size: usize) -> c_int {
    // SAFETY: per the caller.
    unsafe { (*attr).guard_size = size };
    0
}

/// `pthread_attr_getguardsize(3)`.
///
/// # Safety
/// `attr` initialised, `size` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_getguardsize(
    attr: *const PthreadAttr,
    size: *mut usize,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { *size = (*attr).guard_size };
    0
}

/// `pthread_attr_getstack(3)`: lowest usable address and size.
///
/// # Safety
/// `attr` initialised, `addr` and `size` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_getstack(
    attr: *const PthreadAttr,
    addr: *mut *mut c_void,
    size: *mut usize,
) -> c_int {
    // SAFETY: per the caller.
    unsafe {
        *addr = (*attr).stack_addr as *mut c_void;
        *size = (*attr).stack_size;
    }
    0
}

/// `pthread_attr_setdetachstate(3)`: 0 joinable, 1 detached.
///
/// # Safety
/// `attr` must be initialised.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_attr_setdetachstate(
    attr: *mut PthreadAttr,
    state: c_int,
) -> c_int {
    let Ok(detached @ (0 | 1)) = u32::try_from(state) else {
        return Errno::EINVAL.0;
    };
    // SAFETY: per the caller.
    unsafe { (*attr).detached = detached };
    0
}

/// `pthread_getattr_np(3)`: the attributes of a running thread.
///
/// # Safety
/// `thread` must be live; `attr` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_getattr_np(thread: PthreadT, attr: *mut PthreadAttr) -> c_int {
    // SAFETY: per the caller, `thread` names a live descriptor.
    let t: &Thread = unsafe { &*(thread as *const Thread) };
    let guard = if t.map_len == 0 {
        page_size()
    } else {
        t.guard_size
    };
    // SAFETY: per the caller.
    unsafe {
        attr.write(PthreadAttr {
            stack_addr: t.stack_lo,
            stack_size: t.stack_size,
            guard_size: guard,
            detached: 0,
            _reserved: [0; 28],
        });
    }
    0
}
