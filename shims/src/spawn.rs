//! Creating and waiting for processes, and the credentials a child would be set up
//! with: what std's `process::Command` links against (libtest does, for its
//! `panic=abort` subprocess mode, so every test harness needs these symbols).
//!
//! An image is one process, so there is nothing to fork, exec or spawn: `fork`,
//! `execvp` and `posix_spawnp` fail with `ENOSYS` (`Command::spawn` then returns
//! "Function not implemented"), in hosted builds too, where the shim does not carry a
//! `fork`-safe runtime either. The `posix_spawn` attribute and file-action objects are
//! opaque to std and never used once spawning fails: their setters succeed and record
//! nothing. The waits and the id setters are plain system calls (Linux answers them in
//! hosted builds; the kernel with its own errno). There is no user database:
//! `getpwuid_r` finds no entry, as glibc's does for an unknown uid.

use core::ffi::{c_char, c_int, c_short, c_uint, c_void};

use crate::errno::{Errno, ret_int, ret_zero, set_errno};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall0, syscall1, syscall2, syscall4, syscall5};

/// `fork(2)`: no second process.
#[unsafe(no_mangle)]
pub extern "C" fn fork() -> c_int {
    set_errno(Errno::ENOSYS);
    -1
}

/// `execvp(3)`: no program to replace this one with.
#[unsafe(no_mangle)]
pub extern "C" fn execvp(_file: *const c_char, _argv: *const *const c_char) -> c_int {
    set_errno(Errno::ENOSYS);
    -1
}

/// `posix_spawnp(3)`: returns the error number (it does not set `errno`).
#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnp(
    _pid: *mut c_int,
    _file: *const c_char,
    _actions: *const c_void,
    _attr: *const c_void,
    _argv: *const *const c_char,
    _envp: *const *const c_char,
) -> c_int {
    Errno::ENOSYS.0
}

/// `posix_spawn_file_actions_init(3)` and the rest: opaque objects that record nothing
/// (spawning always fails, see the module docs); 0 = success.
#[unsafe(no_mangle)]
pub extern "C" fn posix_spawn_file_actions_init(_actions: *mut c_void) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawn_file_actions_destroy(_actions: *mut c_void) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawn_file_actions_adddup2(
    _actions: *mut c_void,
    _fd: c_int,
    _newfd: c_int,
) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnattr_init(_attr: *mut c_void) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnattr_destroy(_attr: *mut c_void) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnattr_setflags(_attr: *mut c_void, _flags: c_short) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnattr_setpgroup(_attr: *mut c_void, _pgroup: c_int) -> c_int {
    0
}

#[unsafe(no_mangle)]
pub extern "C" fn posix_spawnattr_setsigdefault(_attr: *mut c_void, _set: *const c_void) -> c_int {
    0
}

/// `waitpid(2)`, as `wait4` without usage.
///
/// # Safety
/// `status` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitpid(pid: c_int, status: *mut c_int, options: c_int) -> c_int {
    // SAFETY: per the caller; the kernel checks the pointer.
    ret_int(result(unsafe {
        syscall4(nr::WAIT4, arg(pid), status as usize, arg(options), 0)
    }))
}

/// `waitid(2)`.
///
/// # Safety
/// `info` null or writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn waitid(
    idtype: c_uint,
    id: c_uint,
    info: *mut c_void,
    options: c_int,
) -> c_int {
    // SAFETY: per the caller; the kernel checks the pointer.
    ret_zero(result(unsafe {
        syscall5(
            nr::WAITID,
            idtype as usize,
            id as usize,
            info as usize,
            arg(options),
            0,
        )
    }))
}

/// `setuid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn setuid(uid: c_uint) -> c_int {
    // SAFETY: no pointers.
    ret_zero(result(unsafe { syscall1(nr::SETUID, uid as usize) }))
}

/// `setgid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn setgid(gid: c_uint) -> c_int {
    // SAFETY: no pointers.
    ret_zero(result(unsafe { syscall1(nr::SETGID, gid as usize) }))
}

/// `setgroups(2)`.
///
/// # Safety
/// `list` readable for `size` ids.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setgroups(size: usize, list: *const c_uint) -> c_int {
    // SAFETY: per the caller; the kernel checks the pointer.
    ret_zero(result(unsafe {
        syscall2(nr::SETGROUPS, size, list as usize)
    }))
}

/// `setsid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn setsid() -> c_int {
    // SAFETY: no arguments.
    ret_int(result(unsafe { syscall0(nr::SETSID) }))
}

/// `setpgid(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn setpgid(pid: c_int, pgid: c_int) -> c_int {
    // SAFETY: no pointers.
    ret_zero(result(unsafe {
        syscall2(nr::SETPGID, arg(pid), arg(pgid))
    }))
}

/// `chroot(2)`.
///
/// # Safety
/// `path` a NUL-terminated string.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn chroot(path: *const c_char) -> c_int {
    // SAFETY: per the caller; the kernel checks the pointer.
    ret_zero(result(unsafe { syscall1(nr::CHROOT, path as usize) }))
}

/// `getpwuid_r(3)`: no user database, so no entry (`*result` null, 0 returned).
///
/// # Safety
/// `result` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getpwuid_r(
    _uid: c_uint,
    _pwd: *mut c_void,
    _buf: *mut c_char,
    _len: usize,
    result: *mut *mut c_void,
) -> c_int {
    // SAFETY: per the caller.
    unsafe { *result = core::ptr::null_mut() };
    0
}
