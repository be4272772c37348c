//! File-descriptor I/O: open/read/write/seek/close, dup, pipes, fcntl, ioctl,
//! poll, sync.
//!
//! The C prototypes of `open`, `openat`, `fcntl` and `ioctl` are variadic; here
//! they are defined with their full fixed argument list (the x86_64 SysV
//! registers are the same, and the pass rewrites variadic call sites to these
//! types).

use core::ffi::{c_char, c_int, c_uint, c_ulong, c_void};

use crate::errno::{ret_int, ret_isize, ret_zero};
use crate::syscall::{nr, result, syscall1, syscall2, syscall3, syscall4};

/// `AT_FDCWD`: paths relative to the working directory.
pub const AT_FDCWD: c_int = -100;

/// Widens a C int to a syscall argument, keeping its bit pattern as the kernel
/// reads `int` arguments (sign-extended).
#[inline(always)]
pub fn arg(v: c_int) -> usize {
    v as isize as usize
}

/// `openat(2)`.
///
/// # Safety
/// `path` must be NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall4(
            nr::OPENAT,
            arg(dirfd),
            path as usize,
            arg(flags),
            mode as usize,
        )
    }))
}

/// `openat64(2)`: `openat` (off_t is 64-bit already).
///
/// # Safety
/// As for [`openat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn openat64(
    dirfd: c_int,
    path: *const c_char,
    flags: c_int,
    mode: c_uint,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { openat(dirfd, path, flags, mode) }
}

/// `open(2)`.
///
/// # Safety
/// As for [`openat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: per the caller.
    unsafe { openat(AT_FDCWD, path, flags, mode) }
}

/// `open64(2)`.
///
/// # Safety
/// As for [`openat`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn open64(path: *const c_char, flags: c_int, mode: c_uint) -> c_int {
    // SAFETY: per the caller.
    unsafe { openat(AT_FDCWD, path, flags, mode) }
}

/// `close(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn close(fd: c_int) -> c_int {
    // SAFETY: closing a descriptor touches no memory of ours.
    ret_zero(result(unsafe { syscall1(nr::CLOSE, arg(fd)) }))
}

/// `read(2)`.
///
/// # Safety
/// `buf` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn read(fd: c_int, buf: *mut c_void, n: usize) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::READ, arg(fd), buf as usize, n)
    }))
}

/// `write(2)`.
///
/// # Safety
/// `buf` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn write(fd: c_int, buf: *const c_void, n: usize) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::WRITE, arg(fd), buf as usize, n)
    }))
}

/// `readv(2)`.
///
/// # Safety
/// `iov` must hold `cnt` valid iovecs with writable buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn readv(fd: c_int, iov: *const c_void, cnt: c_int) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::READV, arg(fd), iov as usize, arg(cnt))
    }))
}

/// `writev(2)`.
///
/// # Safety
/// `iov` must hold `cnt` valid iovecs with readable buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn writev(fd: c_int, iov: *const c_void, cnt: c_int) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::WRITEV, arg(fd), iov as usize, arg(cnt))
    }))
}

/// `pread64(2)`.
///
/// # Safety
/// `buf` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pread64(fd: c_int, buf: *mut c_void, n: usize, off: i64) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall4(nr::PREAD64, arg(fd), buf as usize, n, off as usize)
    }))
}

/// `pwrite64(2)`.
///
/// # Safety
/// `buf` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pwrite64(fd: c_int, buf: *const c_void, n: usize, off: i64) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall4(nr::PWRITE64, arg(fd), buf as usize, n, off as usize)
    }))
}

/// `lseek64(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn lseek64(fd: c_int, off: i64, whence: c_int) -> i64 {
    // SAFETY: lseek touches no memory of ours.
    let r = result(unsafe { syscall3(nr::LSEEK, arg(fd), off as usize, arg(whence)) });
    ret_isize(r) as i64
}

/// `lseek(2)`: off_t is 64-bit on x86_64.
#[unsafe(no_mangle)]
pub extern "C" fn lseek(fd: c_int, off: i64, whence: c_int) -> i64 {
    lseek64(fd, off, whence)
}

/// `dup(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup(fd: c_int) -> c_int {
    // SAFETY: dup touches no memory of ours.
    ret_int(result(unsafe { syscall1(nr::DUP, arg(fd)) }))
}

/// `dup2(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup2(old: c_int, new: c_int) -> c_int {
    // SAFETY: dup2 touches no memory of ours.
    ret_int(result(unsafe { syscall2(nr::DUP2, arg(old), arg(new)) }))
}

/// `dup3(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn dup3(old: c_int, new: c_int, flags: c_int) -> c_int {
    // SAFETY: dup3 touches no memory of ours.
    ret_int(result(unsafe {
        syscall3(nr::DUP3, arg(old), arg(new), arg(flags))
    }))
}

/// `pipe2(2)`.
///
/// # Safety
/// `fds` writable for two ints.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe2(fds: *mut c_int, flags: c_int) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall2(nr::PIPE2, fds as usize, arg(flags))
    }))
}

/// `pipe(2)`.
///
/// # Safety
/// `fds` writable for two ints.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn pipe(fds: *mut c_int) -> c_int {
    // SAFETY: per the caller.
    unsafe { pipe2(fds, 0) }
}

/// `fcntl(2)`, non-variadic: `arg` is the third argument (int or pointer).
///
/// # Safety
/// For pointer commands (`F_GETLK`, ...) `a` must point at the right struct.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl(fd: c_int, cmd: c_int, a: usize) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe { syscall3(nr::FCNTL, arg(fd), arg(cmd), a) }))
}

/// `fcntl64`: the same as `fcntl` on 64-bit.
///
/// # Safety
/// As for [`fcntl`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn fcntl64(fd: c_int, cmd: c_int, a: usize) -> c_int {
    // SAFETY: per the caller.
    unsafe { fcntl(fd, cmd, a) }
}

/// `ioctl(2)`, non-variadic: `a` is the third argument.
///
/// # Safety
/// `a` must be what request `req` expects.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn ioctl(fd: c_int, req: c_ulong, a: usize) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall3(nr::IOCTL, arg(fd), req as usize, a)
    }))
}

/// `isatty(3)`: 1 if `fd` is a terminal (TCGETS succeeds), else 0 with errno.
#[unsafe(no_mangle)]
pub extern "C" fn isatty(fd: c_int) -> c_int {
    const TCGETS: usize = 0x5401;
    let mut termios = [0u8; 60];
    // SAFETY: TCGETS writes a 60-byte struct termios (asm-generic/termbits.h).
    let r = result(unsafe { syscall3(nr::IOCTL, arg(fd), TCGETS, termios.as_mut_ptr() as usize) });
    c_int::from(ret_zero(r) == 0)
}

/// `poll(2)`.
///
/// # Safety
/// `fds` must hold `n` pollfd structs.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn poll(fds: *mut c_void, n: c_ulong, timeout: c_int) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall3(nr::POLL, fds as usize, n as usize, arg(timeout))
    }))
}

/// `fsync(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn fsync(fd: c_int) -> c_int {
    // SAFETY: fsync touches no memory of ours.
    ret_zero(result(unsafe { syscall1(nr::FSYNC, arg(fd)) }))
}

/// `fdatasync(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn fdatasync(fd: c_int) -> c_int {
    // SAFETY: fdatasync touches no memory of ours.
    ret_zero(result(unsafe { syscall1(nr::FDATASYNC, arg(fd)) }))
}

/// `ftruncate64(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ftruncate64(fd: c_int, len: i64) -> c_int {
    // SAFETY: ftruncate touches no memory of ours.
    ret_zero(result(unsafe {
        syscall2(nr::FTRUNCATE, arg(fd), len as usize)
    }))
}

/// `ftruncate(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn ftruncate(fd: c_int, len: i64) -> c_int {
    ftruncate64(fd, len)
}

/// `fchmod(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn fchmod(fd: c_int, mode: c_uint) -> c_int {
    // SAFETY: fchmod touches no memory of ours.
    ret_zero(result(unsafe {
        syscall2(nr::FCHMOD, arg(fd), mode as usize)
    }))
}

/// `utimensat(2)`: set a file's access and modification times (`times` NULL: now).
///
/// # Safety
/// `path` NULL or a NUL-terminated string; `times` NULL or two readable `timespec`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn utimensat(
    dirfd: c_int,
    path: *const c_char,
    times: *const c_void,
    flags: c_int,
) -> c_int {
    // SAFETY: the kernel reads the path and the two timespecs, which the caller
    // provides (or NULL).
    ret_zero(result(unsafe {
        syscall4(
            nr::UTIMENSAT,
            arg(dirfd),
            path as usize,
            times as usize,
            arg(flags),
        )
    }))
}

/// `futimens(3)`: `utimensat` on the descriptor itself (a NULL path).
///
/// # Safety
/// `times` NULL or two readable `timespec`s.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn futimens(fd: c_int, times: *const c_void) -> c_int {
    // SAFETY: as for utimensat; a NULL path means the file `fd` refers to.
    unsafe { utimensat(fd, core::ptr::null(), times, 0) }
}
