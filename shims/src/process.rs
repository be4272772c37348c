//! Process and CPU facts: ids, `sysconf`, scheduling, randomness.

use core::ffi::{c_int, c_long, c_uint, c_void};

use crate::errno::{Errno, ret_isize, ret_zero, set_errno};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall0, syscall3, syscall4};

/// `getpid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn getpid() -> c_int {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETPID) as c_int }
}

/// `getppid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn getppid() -> c_int {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETPPID) as c_int }
}

/// `gettid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn gettid() -> c_int {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETTID) as c_int }
}

/// `getuid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn getuid() -> c_uint {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETUID) as c_uint }
}

/// `geteuid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn geteuid() -> c_uint {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETEUID) as c_uint }
}

/// `getgid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn getgid() -> c_uint {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETGID) as c_uint }
}

/// `getegid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn getegid() -> c_uint {
    // SAFETY: no arguments, cannot fail.
    unsafe { syscall0(nr::GETEGID) as c_uint }
}

/// `sched_yield(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn sched_yield() -> c_int {
    // SAFETY: no arguments.
    ret_zero(result(unsafe { syscall0(nr::SCHED_YIELD) }))
}

/// `sched_getaffinity(2)`, glibc flavour: 0 on success with the bytes past the
/// kernel's mask zeroed.
///
/// # Safety
/// `mask` writable for `size` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sched_getaffinity(pid: c_int, size: usize, mask: *mut c_void) -> c_int {
    // SAFETY: per the caller.
    match result(unsafe { syscall3(nr::SCHED_GETAFFINITY, arg(pid), size, mask as usize) }) {
        Ok(n) => {
            // SAFETY: the kernel wrote `n <= size` bytes; zero the rest.
            unsafe { core::ptr::write_bytes(mask.cast::<u8>().add(n), 0, size - n) };
            0
        }
        Err(e) => {
            set_errno(e);
            -1
        }
    }
}

/// CPUs this thread may run on (at least 1).
fn online_cpus() -> c_long {
    let mut mask = [0u64; 16];
    // SAFETY: `mask` is writable for its full size.
    let r = unsafe { sched_getaffinity(0, size_of_val(&mask), mask.as_mut_ptr().cast()) };
    let n: u32 = if r == 0 {
        mask.iter().map(|w| w.count_ones()).sum()
    } else {
        1
    };
    c_long::from(n.max(1))
}

/// `sysconf(3)` for the names programs ask about; EINVAL for the rest.
#[unsafe(no_mangle)]
pub extern "C" fn sysconf(name: c_int) -> c_long {
    const SC_CLK_TCK: c_int = 2;
    const SC_OPEN_MAX: c_int = 4;
    const SC_PAGESIZE: c_int = 30;
    const SC_GETPW_R_SIZE_MAX: c_int = 70;
    const SC_THREAD_STACK_MIN: c_int = 75;
    const SC_NPROCESSORS_CONF: c_int = 83;
    const SC_NPROCESSORS_ONLN: c_int = 84;
    match name {
        SC_CLK_TCK => 100,
        SC_PAGESIZE => c_long::try_from(crate::auxv::page_size()).unwrap_or(4096),
        SC_NPROCESSORS_CONF | SC_NPROCESSORS_ONLN => online_cpus(),
        SC_THREAD_STACK_MIN => 16384,
        // glibc: no fixed limit.
        SC_GETPW_R_SIZE_MAX => -1,
        SC_OPEN_MAX => {
            let mut lim = [0u64; 2];
            // SAFETY: prlimit64(self, RLIMIT_NOFILE = 7, no new limit, &old).
            let r = unsafe { syscall4(nr::PRLIMIT64, 0, 7, 0, lim.as_mut_ptr() as usize) };
            if r == 0 {
                c_long::try_from(lim[0]).unwrap_or(-1)
            } else {
                -1
            }
        }
        _ => {
            set_errno(Errno::EINVAL);
            -1
        }
    }
}

/// `getrandom(2)`.
///
/// # Safety
/// `buf` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getrandom(buf: *mut c_void, len: usize, flags: c_uint) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::GETRANDOM, buf as usize, len, flags as usize)
    }))
}

/// `gnu_get_libc_version(3)`: the glibc ABI level the shim implements (that of
/// Debian 12's glibc). std consults it to decide on resolver workarounds that
/// only very old glibc versions need.
#[unsafe(no_mangle)]
pub extern "C" fn gnu_get_libc_version() -> *const core::ffi::c_char {
    c"2.36".as_ptr()
}
