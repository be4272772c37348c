//! Thread names: `pthread_setname_np` (Linux `comm`, at most 15 bytes + NUL).

use core::ffi::{c_char, c_int};

use super::thread::{PthreadT, current, tid_of};
use crate::errno::Errno;
use crate::string::strlen;
use crate::syscall::{nr, result, syscall1, syscall2, syscall3, syscall4};

const PR_SET_NAME: usize = 15;
const TASK_COMM_LEN: usize = 16;

/// `pthread_setname_np(3)`: ERANGE if the name does not fit `comm`.
///
/// # Safety
/// `thread` must be live and `name` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pthread_setname_np(thread: PthreadT, name: *const c_char) -> c_int {
    // SAFETY: per the caller.
    let len = unsafe { strlen(name) };
    if len >= TASK_COMM_LEN {
        return Errno::ERANGE.0;
    }
    if thread == current() as PthreadT {
        // SAFETY: PR_SET_NAME reads a NUL-terminated string of < 16 bytes.
        return match result(unsafe { syscall2(nr::PRCTL, PR_SET_NAME, name as usize) }) {
            Ok(_) => 0,
            Err(e) => e.0,
        };
    }
    // Another thread: write /proc/self/task/<tid>/comm, as glibc does.
    let mut path = *b"/proc/self/task/\0\0\0\0\0\0\0\0\0\0\0/comm\0";
    let mut at = 16;
    let tid = tid_of(thread);
    let mut digits = [0u8; 11];
    let mut n = tid.unsigned_abs();
    let mut nd = 0;
    loop {
        digits[nd] = b'0' + (n % 10) as u8;
        nd += 1;
        n /= 10;
        if n == 0 {
            break;
        }
    }
    for d in digits[..nd].iter().rev() {
        path[at] = *d;
        at += 1;
    }
    path[at..at + 6].copy_from_slice(b"/comm\0");
    const O_WRONLY_CLOEXEC: usize = 0o1 | 0o2000000;
    // SAFETY: `path` is NUL-terminated; AT_FDCWD is -100.
    let fd = match result(unsafe {
        syscall4(
            nr::OPENAT,
            -100isize as usize,
            path.as_ptr() as usize,
            O_WRONLY_CLOEXEC,
            0,
        )
    }) {
        Ok(fd) => fd,
        Err(e) => return e.0,
    };
    // SAFETY: `name` has `len` readable bytes; `fd` is ours to write and close.
    let r = unsafe { syscall3(nr::WRITE, fd, name as usize, len) };
    // SAFETY: closing the descriptor opened above.
    unsafe { syscall1(nr::CLOSE, fd) };
    match result(r) {
        Ok(_) => 0,
        Err(e) => e.0,
    }
}
