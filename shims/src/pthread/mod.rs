//! POSIX threads on `clone`: creation, join, detach, exit, identity.
//!
//! A thread lives in one anonymous mapping: `[guard page(s) | stack | TLS +
//! Thread]`. `pthread_t` is the address of the thread's descriptor ([`Thread`],
//! `thread.rs`), which starts with its control block (`tcb::Tcb`): the thread
//! pointer. The kernel writes the thread id into `Thread::tid` at creation (`CLONE_PARENT_SETTID`) and clears it with a futex
//! wake when the thread is gone (`CLONE_CHILD_CLEARTID`): `pthread_join` waits on
//! that word, then unmaps the thread. A detached thread cannot unmap the stack it
//! is running on, so it queues itself on a reap list; later thread creations
//! release queued threads whose `tid` the kernel has cleared. Released mappings go to
//! a small cache (`cache.rs`) that the next creations reuse.

mod attr;
mod cache;
mod clone;
mod dtors;
mod key;
mod name;
mod thread;

use core::ffi::{c_int, c_void};
use core::ptr;
use core::sync::atomic::{AtomicI32, AtomicU32, Ordering};

pub use attr::PthreadAttr;
pub use dtors::run_thread_local_dtors;
pub use thread::{PthreadT, Thread};

use crate::auxv::{self, page_size};
use crate::errno::Errno;
use crate::lock::{Mutex, futex_wait_shared};
use crate::mman;
use crate::syscall::{nr, syscall1};
use crate::tcb::Tcb;
use crate::tls;
use thread::{DETACHED, EXITED, JOINABLE, StartFn, current};

/// Sets up the main thread's TLS and control block. Must run first at start-up.
///
/// On an error the process has no thread pointer (and no `errno`): the caller
/// can only end it.
///
/// # Safety
/// Call once, on the main thread, before anything touches TLS or errno.
pub unsafe fn init_main_thread() -> Result<(), Errno> {
    let (phdrs, base) = crate::dl::image_phdrs();
    // SAFETY: these are the running image's program headers and load bias.
    unsafe { tls::record_image(phdrs, base) };
    let len = tls::block_size::<Thread>();
    let mem = mman::map_anonymous(len)?;
    // SAFETY: `mem` is a fresh mapping of `block_size()` bytes.
    let tp = unsafe { tls::init_block::<Thread>(mem, len) };
    // Canary from AT_RANDOM with a zero low byte, as glibc does (stops string
    // overflows from reproducing it).
    let guard = auxv::auxv_lookup(auxv::AT_RANDOM)
        // SAFETY: AT_RANDOM points at 16 random bytes on the initial stack.
        .map_or(0, |p| unsafe { (p as *const usize).read_unaligned() })
        & !0xff;
    let mut thread = Thread::new(Tcb::new(tp.cast(), guard));
    // SAFETY: gettid has no preconditions.
    let tid = unsafe { syscall1(nr::GETTID, 0) };
    thread.tid = AtomicI32::new(i32::try_from(tid).unwrap_or(0));
    let (lo, size) = attr::main_thread_stack();
    thread.stack_lo = lo;
    thread.stack_size = size;
    // SAFETY: `tp` is the thread pointer `init_block` laid out in the fresh mapping;
    // the descriptor written there becomes the thread pointer and lives for the
    // process.
    unsafe {
        tp.write(thread);
        tls::set_thread_pointer(tp.cast())
    }
}

/// Runs in the new thread: calls the start routine and exits with its result.
unsafe extern "C" fn thread_entry(tcb: *mut Tcb) -> ! {
    // SAFETY: `tcb` is this thread's control block (also its thread pointer), the
    // header of the `Thread` in which `pthread_create` stored the start routine and
    // its argument.
    let ret = unsafe {
        let t = tcb.cast::<Thread>();
        let start = (*t).start.expect("thread without start routine");
        start((*t).arg)
    };
    exit_thread(ret)
}

/// Queue of detached threads waiting to be unmapped.
struct ReapList(*mut Thread);
// SAFETY: the list is only touched under `REAP`'s lock.
unsafe impl Send for ReapList {}
static REAP: Mutex<ReapList> = Mutex::new(ReapList(ptr::null_mut()));

/// Unmaps queued detached threads that the kernel has finished with.
fn reap_exited() {
    let mut list = REAP.lock();
    let mut link: *mut *mut Thread = &mut list.0;
    // SAFETY: queued threads stay mapped until unlinked and unmapped here.
    unsafe {
        while !(*link).is_null() {
            let t = *link;
            if (*t).tid.load(Ordering::Acquire) == 0 {
                *link = (*t).reap_next;
                release(t);
            } else {
                link = &raw mut (*t).reap_next;
            }
        }
    }
}

/// Ends the calling thread with `ret`: destructors, then `exit`.
fn exit_thread(ret: *mut c_void) -> ! {
    let t = current();
    // glibc order (nptl/pthread_create.c): thread_local destructors, then key
    // destructors.
    run_thread_local_dtors();
    key::run_key_destructors();
    // SAFETY: `t` is this thread's live state.
    unsafe {
        (*t).result = ret;
        let was = (*t).state.swap(EXITED, Ordering::AcqRel);
        if was == DETACHED && (*t).map_len != 0 {
            let mut list = REAP.lock();
            (*t).reap_next = list.0;
            list.0 = t;
        }
    }
    loop {
        // SAFETY: SYS_exit ends only this thread; the kernel then clears `tid`.
        unsafe { syscall1(nr::EXIT, 0) };
    }
}

/// `pthread_create(3)`.
///
/// # Safety
/// `out` must be writable; `attr` null or initialised; `start` callable with `arg`
/// on another thread.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_create(
    out: *mut PthreadT,
    attr: *const PthreadAttr,
    start: StartFn,
    arg: *mut c_void,
) -> c_int {
    reap_exited();
    // SAFETY: per the caller, `attr` is null or initialised.
    let (stack_size, guard_size, detached) = unsafe { attr::params(attr) };
    let page = page_size();
    let tls_len = tls::block_size::<Thread>().next_multiple_of(page);
    let Some(map_len) = guard_size
        .checked_add(stack_size)
        .and_then(|n| n.checked_add(tls_len))
    else {
        return Errno::EINVAL.0;
    };
    let base = match cache::take(map_len, guard_size) {
        Some(cached) => cached.base as *mut u8,
        None => {
            let base = match mman::map_anonymous_with(map_len, mman::MAP_STACK) {
                Ok(p) => p,
                Err(_) => return Errno::EAGAIN.0,
            };
            if guard_size != 0 && mman::protect(base, guard_size, mman::PROT_NONE).is_err() {
                let _ = mman::unmap(base, map_len);
                return Errno::EAGAIN.0;
            }
            base
        }
    };
    let stack_lo = base as usize + guard_size;
    // SAFETY: the TLS area is the top `tls_len` (>= `block_size`) bytes of our
    // mapping.
    let tp = unsafe { tls::init_block::<Thread>((stack_lo + stack_size) as *mut u8, tls_len) };
    // The canary is inherited from the creating thread, as in glibc.
    // SAFETY: the calling thread's descriptor is live.
    let canary = unsafe { (*current()).tcb.stack_guard };
    let mut thread = Thread::new(Tcb::new(tp.cast(), canary));
    thread.map_base = base as usize;
    thread.map_len = map_len;
    thread.stack_lo = stack_lo;
    thread.stack_size = stack_size;
    thread.guard_size = guard_size;
    thread.start = Some(start);
    thread.arg = arg;
    if detached {
        thread.state = AtomicU32::new(DETACHED);
    }
    // SAFETY: `tp` is the thread pointer `init_block` laid out for a `Thread`.
    unsafe { tp.write(thread) };
    const FLAGS: usize =
        0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000;
    // CLONE_VM | FS | FILES | SIGHAND | THREAD | SYSVSEM | SETTLS | PARENT_SETTID |
    // CHILD_CLEARTID (linux/sched.h).
    // SAFETY: the stack top is the 16-byte-aligned end of the stack part of the
    // mapping (page-aligned); `tid` lives in the new descriptor, which stays
    // mapped until join/reap observes the kernel clearing it.
    let r = unsafe {
        let tid = (&raw mut (*tp).tid).cast::<c_int>();
        clone::spawn(
            FLAGS,
            (stack_lo + stack_size) as *mut usize,
            tid,
            tid,
            tp.cast(),
            thread_entry,
        )
    };
    match r {
        Ok(_) => {
            // SAFETY: per the caller.
            unsafe { *out = tp as PthreadT };
            0
        }
        Err(e) => {
            cache::give_back(cache::Mapping {
                base: base as usize,
                len: map_len,
                guard: guard_size,
            });
            if e == Errno::ENOMEM {
                Errno::EAGAIN.0
            } else {
                e.0
            }
        }
    }
}

/// Waits until the kernel has cleared the thread's `tid` (it is gone).
fn wait_gone(t: *mut Thread) {
    // SAFETY: the thread's control block stays mapped until the caller unmaps it.
    let tid = unsafe { &(*t).tid };
    loop {
        let v = tid.load(Ordering::Acquire);
        if v == 0 {
            return;
        }
        // SAFETY: AtomicI32 and AtomicU32 have the same size and alignment.
        futex_wait_shared(
            unsafe { &*(tid as *const AtomicI32).cast::<AtomicU32>() },
            v as u32,
        );
    }
}

/// `pthread_join(3)`.
///
/// # Safety
/// `thread` must be a joinable, not yet joined thread; `retval` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_join(thread: PthreadT, retval: *mut *mut c_void) -> c_int {
    if thread == current() as PthreadT {
        return Errno::EDEADLK.0;
    }
    let t = thread as *mut Thread;
    wait_gone(t);
    // SAFETY: the thread has exited; its mapping is now ours to read and free.
    unsafe {
        if !retval.is_null() {
            *retval = (*t).result;
        }
        release(t);
    }
    0
}

/// Hands a finished thread's mapping to the cache (which may unmap it).
///
/// # Safety
/// The thread must be gone (its `tid` cleared by the kernel) and not released before;
/// `t` must not be used afterwards.
unsafe fn release(t: *mut Thread) {
    // SAFETY: per the caller, the control block is still mapped and ours.
    let mapping = unsafe {
        cache::Mapping {
            base: (*t).map_base,
            len: (*t).map_len,
            guard: (*t).guard_size,
        }
    };
    cache::give_back(mapping);
}

/// `pthread_detach(3)`.
///
/// # Safety
/// `thread` must be a joinable thread not yet joined or detached.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_detach(thread: PthreadT) -> c_int {
    let t = thread as *mut Thread;
    // SAFETY: per the caller, `thread` names a live descriptor.
    let state = unsafe { &(*t).state };
    match state.compare_exchange(JOINABLE, DETACHED, Ordering::AcqRel, Ordering::Acquire) {
        Ok(_) => 0,
        Err(EXITED) => {
            // It already finished: reclaim it as a join would.
            // SAFETY: as for join.
            unsafe { pthread_join(thread, ptr::null_mut()) }
        }
        Err(_) => Errno::EINVAL.0,
    }
}

/// `pthread_self(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_self() -> PthreadT {
    current() as PthreadT
}

/// `pthread_getcpuclockid(3)`: the CPU-time clock of `thread`, in the encoding the
/// Linux kernel reads (`~tid << 3 | CPUCLOCK_PERTHREAD_MASK | CPUCLOCK_SCHED`, as
/// glibc forms it).
///
/// # Safety
/// `thread` names a live thread; `clock` is writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_getcpuclockid(thread: PthreadT, clock: *mut c_int) -> c_int {
    let tid = thread::tid_of(thread);
    if tid <= 0 {
        return Errno::ESRCH.0;
    }
    // SAFETY: per the caller.
    unsafe { clock.write((!tid << 3) | 4 | 2) };
    0
}

/// `pthread_equal(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_equal(a: PthreadT, b: PthreadT) -> c_int {
    c_int::from(a == b)
}

/// `pthread_exit(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_exit(ret: *mut c_void) -> ! {
    exit_thread(ret)
}
