//! The environment: `environ`, `getenv`, `setenv`, `unsetenv`.
//!
//! `environ` starts as the kernel-provided `envp` array. `setenv` copies it into a
//! malloc'ed array the first time it must grow. Replaced and removed strings are
//! never freed, as in glibc: another thread may still hold a `getenv` result
//! (std serialises its own accesses with its env lock, C code may not).

use core::ffi::{c_char, c_int};
use core::ptr;

use crate::errno::{Errno, set_errno};
use crate::lock::Mutex;
use crate::malloc;
use crate::string::{memcpy, strlen};

/// The process environment (NULL-terminated array of "NAME=value").
#[unsafe(no_mangle)]
pub static mut environ: *mut *mut c_char = ptr::null_mut();

/// Capacity of `environ` when we own the array (0 while it is the initial one).
static OWNED_CAP: Mutex<usize> = Mutex::new(0);

/// Installs the initial environment.
///
/// # Safety
/// `envp` must be a NULL-terminated array that lives for the process.
pub unsafe fn init(envp: *mut *mut c_char) {
    // SAFETY: single-threaded start-up.
    unsafe { environ = envp };
}

/// Length of the name, or None if it is empty or contains '='.
///
/// # Safety
/// `name` NUL-terminated.
unsafe fn name_len(name: *const c_char) -> Option<usize> {
    // SAFETY: per the caller.
    let n = unsafe { strlen(name) };
    // SAFETY: `name` has `n` readable bytes.
    let bytes = unsafe { core::slice::from_raw_parts(name.cast::<u8>(), n) };
    (n != 0 && !bytes.contains(&b'=')).then_some(n)
}

/// Index of the entry for the `n`-byte `name`, and the number of entries.
///
/// # Safety
/// `environ` must be a valid environment; `name` readable for `n` bytes.
unsafe fn find(name: *const c_char, n: usize) -> (Option<usize>, usize) {
    // SAFETY: the environment array is NULL-terminated with NUL-terminated strings.
    unsafe {
        let env = environ;
        if env.is_null() {
            return (None, 0);
        }
        let mut found = None;
        let mut i = 0;
        while !(*env.add(i)).is_null() {
            let e = *env.add(i);
            if found.is_none()
                && crate::string::strncmp(e, name, n) == 0
                && *e.add(n) == b'=' as c_char
            {
                found = Some(i);
            }
            i += 1;
        }
        (found, i)
    }
}

/// `getenv(3)`.
///
/// # Safety
/// `name` NUL-terminated; the environment must not be modified concurrently.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getenv(name: *const c_char) -> *mut c_char {
    // SAFETY: per the caller.
    let Some(n) = (unsafe { name_len(name) }) else {
        return ptr::null_mut();
    };
    // SAFETY: per the caller.
    match unsafe { find(name, n) } {
        // SAFETY: the entry is "NAME=value"; the value follows the '='.
        (Some(i), _) => unsafe { (*environ.add(i)).add(n + 1) },
        (None, _) => ptr::null_mut(),
    }
}

/// `setenv(3)`.
///
/// # Safety
/// `name` and `value` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setenv(
    name: *const c_char,
    value: *const c_char,
    overwrite: c_int,
) -> c_int {
    // SAFETY: per the caller.
    let Some(n) = (unsafe { name_len(name) }) else {
        set_errno(Errno::EINVAL);
        return -1;
    };
    let mut cap = OWNED_CAP.lock();
    // SAFETY: the environment is consistent under the lock.
    let (found, count) = unsafe { find(name, n) };
    if found.is_some() && overwrite == 0 {
        return 0;
    }
    // SAFETY: per the caller.
    let vlen = unsafe { strlen(value) };
    let entry = malloc::malloc(n + vlen + 2).cast::<c_char>();
    if entry.is_null() {
        return -1;
    }
    // SAFETY: `entry` holds n + 1 + vlen + 1 bytes.
    unsafe {
        memcpy(entry.cast(), name.cast(), n);
        *entry.add(n) = b'=' as c_char;
        memcpy(entry.add(n + 1).cast(), value.cast(), vlen + 1);
    }
    if let Some(i) = found {
        // SAFETY: `i` indexes the live array.
        unsafe { *environ.add(i) = entry };
        return 0;
    }
    if count + 1 >= *cap {
        let new_cap = (count + 2).max(16) * 2;
        let arr = malloc::malloc(new_cap * size_of::<*mut c_char>()).cast::<*mut c_char>();
        if arr.is_null() {
            return -1;
        }
        // SAFETY: the old array has `count` entries; the new has room for more.
        // An owned old array is not freed: a reader may still be walking it.
        unsafe {
            if count > 0 {
                memcpy(arr.cast(), environ.cast(), count * size_of::<*mut c_char>());
            }
            environ = arr;
        }
        *cap = new_cap;
    }
    // SAFETY: capacity checked above.
    unsafe {
        *environ.add(count) = entry;
        *environ.add(count + 1) = ptr::null_mut();
    }
    0
}

/// `unsetenv(3)`: removes every entry for `name`.
///
/// # Safety
/// `name` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn unsetenv(name: *const c_char) -> c_int {
    // SAFETY: per the caller.
    let Some(n) = (unsafe { name_len(name) }) else {
        set_errno(Errno::EINVAL);
        return -1;
    };
    let _cap = OWNED_CAP.lock();
    // SAFETY: the environment is consistent under the lock; entries after a
    // removed one shift down, the NULL terminator included.
    unsafe {
        loop {
            let (found, count) = find(name, n);
            let Some(i) = found else { return 0 };
            for j in i..count {
                *environ.add(j) = *environ.add(j + 1);
            }
        }
    }
}
