//! Thread-specific data: `pthread_key_create/delete`, `pthread_get/setspecific`.
//!
//! As in glibc (nptl/pthread_key_create.c), each key slot has a sequence number:
//! odd while the key is allocated, bumped on create and delete. A thread's value
//! records the sequence it was stored under, so a deleted-and-reused key never
//! shows another key's stale value.

use core::ffi::{c_int, c_uint, c_void};
use core::ptr;
use core::sync::atomic::{AtomicU32, AtomicUsize, Ordering};

use super::thread::{KEYS_MAX, KeyValue, current};
use crate::errno::Errno;

/// `PTHREAD_DESTRUCTOR_ITERATIONS`.
const DESTRUCTOR_ITERATIONS: usize = 4;

struct Slot {
    seq: AtomicU32,
    dtor: AtomicUsize,
}

static SLOTS: [Slot; KEYS_MAX] = [const {
    Slot {
        seq: AtomicU32::new(0),
        dtor: AtomicUsize::new(0),
    }
}; KEYS_MAX];

type Dtor = unsafe extern "C" fn(*mut c_void);

/// `pthread_key_create(3)`.
///
/// # Safety
/// `key` must be writable; `dtor` null or callable with a stored value.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_key_create(key: *mut c_uint, dtor: Option<Dtor>) -> c_int {
    for (i, slot) in SLOTS.iter().enumerate() {
        let seq = slot.seq.load(Ordering::Relaxed);
        if seq % 2 == 0
            && slot
                .seq
                .compare_exchange(seq, seq + 1, Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            slot.dtor
                .store(dtor.map_or(0, |f| f as usize), Ordering::Release);
            // SAFETY: per the caller; `i < KEYS_MAX` fits a c_uint.
            unsafe { *key = i as c_uint };
            return 0;
        }
    }
    Errno::EAGAIN.0
}

/// `pthread_key_delete(3)`: the key's values are abandoned, no destructor runs.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_key_delete(key: c_uint) -> c_int {
    let Some(slot) = SLOTS.get(key as usize) else {
        return Errno::EINVAL.0;
    };
    let seq = slot.seq.load(Ordering::Relaxed);
    if seq % 2 == 1
        && slot
            .seq
            .compare_exchange(seq, seq + 1, Ordering::AcqRel, Ordering::Relaxed)
            .is_ok()
    {
        0
    } else {
        Errno::EINVAL.0
    }
}

/// `pthread_getspecific(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn pthread_getspecific(key: c_uint) -> *mut c_void {
    let Some(slot) = SLOTS.get(key as usize) else {
        return ptr::null_mut();
    };
    // SAFETY: the value table belongs to the calling thread.
    let v = unsafe { (*current()).keys[key as usize] };
    if v.seq == slot.seq.load(Ordering::Acquire) {
        v.ptr
    } else {
        ptr::null_mut()
    }
}

/// `pthread_setspecific(3)`.
///
/// # Safety
/// `value` must be acceptable to the key's destructor.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_setspecific(key: c_uint, value: *const c_void) -> c_int {
    let Some(slot) = SLOTS.get(key as usize) else {
        return Errno::EINVAL.0;
    };
    let seq = slot.seq.load(Ordering::Acquire);
    if seq % 2 == 0 {
        return Errno::EINVAL.0;
    }
    // SAFETY: the value table belongs to the calling thread.
    unsafe {
        (*current()).keys[key as usize] = KeyValue {
            ptr: value.cast_mut(),
            seq,
        }
    };
    0
}

/// Runs key destructors for the exiting thread (POSIX: up to
/// `PTHREAD_DESTRUCTOR_ITERATIONS` rounds while values remain).
pub fn run_key_destructors() {
    let t = current();
    for _ in 0..DESTRUCTOR_ITERATIONS {
        let mut ran = false;
        for (i, slot) in SLOTS.iter().enumerate() {
            // SAFETY: the value table belongs to the calling thread.
            let v = unsafe { (*t).keys[i] };
            let seq = slot.seq.load(Ordering::Acquire);
            if v.ptr.is_null() || v.seq != seq || seq % 2 == 0 {
                continue;
            }
            // SAFETY: as above.
            unsafe { (*t).keys[i] = KeyValue::EMPTY };
            let dtor = slot.dtor.load(Ordering::Acquire);
            if dtor != 0 {
                // SAFETY: `dtor` was stored from a `Dtor` by pthread_key_create.
                let f: Dtor = unsafe { core::mem::transmute::<usize, Dtor>(dtor) };
                // SAFETY: the caller of pthread_setspecific vouched for the value.
                unsafe { f(v.ptr) };
                ran = true;
            }
        }
        if !ran {
            return;
        }
    }
}
