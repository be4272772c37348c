//! BSD sockets: thin wrappers of the Linux socket system calls.

use core::ffi::{c_int, c_uint, c_void};

use crate::errno::{ret_int, ret_isize, ret_zero};
use crate::fs::fd::arg;
use crate::syscall::{nr, result, syscall2, syscall3, syscall4, syscall5, syscall6};

/// `socklen_t`.
pub type SockLen = c_uint;

/// `socket(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn socket(domain: c_int, ty: c_int, protocol: c_int) -> c_int {
    // SAFETY: socket touches no memory of ours.
    ret_int(result(unsafe {
        syscall3(nr::SOCKET, arg(domain), arg(ty), arg(protocol))
    }))
}

/// `socketpair(2)`.
///
/// # Safety
/// `fds` writable for two ints.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn socketpair(
    domain: c_int,
    ty: c_int,
    protocol: c_int,
    fds: *mut c_int,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall4(
            nr::SOCKETPAIR,
            arg(domain),
            arg(ty),
            arg(protocol),
            fds as usize,
        )
    }))
}

/// `bind(2)`.
///
/// # Safety
/// `addr` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bind(fd: c_int, addr: *const c_void, len: SockLen) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::BIND, arg(fd), addr as usize, len as usize)
    }))
}

/// `connect(2)`.
///
/// # Safety
/// `addr` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn connect(fd: c_int, addr: *const c_void, len: SockLen) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::CONNECT, arg(fd), addr as usize, len as usize)
    }))
}

/// `listen(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn listen(fd: c_int, backlog: c_int) -> c_int {
    // SAFETY: listen touches no memory of ours.
    ret_zero(result(unsafe {
        syscall2(nr::LISTEN, arg(fd), arg(backlog))
    }))
}

/// `accept4(2)`.
///
/// # Safety
/// `addr` null, or writable for `*len` bytes with `len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept4(
    fd: c_int,
    addr: *mut c_void,
    len: *mut SockLen,
    flags: c_int,
) -> c_int {
    // SAFETY: per the caller.
    ret_int(result(unsafe {
        syscall4(
            nr::ACCEPT4,
            arg(fd),
            addr as usize,
            len as usize,
            arg(flags),
        )
    }))
}

/// `accept(2)`.
///
/// # Safety
/// As for [`accept4`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn accept(fd: c_int, addr: *mut c_void, len: *mut SockLen) -> c_int {
    // SAFETY: per the caller.
    unsafe { accept4(fd, addr, len, 0) }
}

/// `shutdown(2)`.
#[unsafe(no_mangle)]
pub extern "C" fn shutdown(fd: c_int, how: c_int) -> c_int {
    // SAFETY: shutdown touches no memory of ours.
    ret_zero(result(unsafe { syscall2(nr::SHUTDOWN, arg(fd), arg(how)) }))
}

/// `getsockname(2)`.
///
/// # Safety
/// `addr` writable for `*len` bytes; `len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockname(fd: c_int, addr: *mut c_void, len: *mut SockLen) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::GETSOCKNAME, arg(fd), addr as usize, len as usize)
    }))
}

/// `getpeername(2)`.
///
/// # Safety
/// `addr` writable for `*len` bytes; `len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getpeername(fd: c_int, addr: *mut c_void, len: *mut SockLen) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall3(nr::GETPEERNAME, arg(fd), addr as usize, len as usize)
    }))
}

/// `setsockopt(2)`.
///
/// # Safety
/// `val` readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn setsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *const c_void,
    len: SockLen,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall5(
            nr::SETSOCKOPT,
            arg(fd),
            arg(level),
            arg(name),
            val as usize,
            len as usize,
        )
    }))
}

/// `getsockopt(2)`.
///
/// # Safety
/// `val` writable for `*len` bytes; `len` valid.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getsockopt(
    fd: c_int,
    level: c_int,
    name: c_int,
    val: *mut c_void,
    len: *mut SockLen,
) -> c_int {
    // SAFETY: per the caller.
    ret_zero(result(unsafe {
        syscall5(
            nr::GETSOCKOPT,
            arg(fd),
            arg(level),
            arg(name),
            val as usize,
            len as usize,
        )
    }))
}

/// `sendto(2)`.
///
/// # Safety
/// `buf` readable for `n` bytes; `addr` null or readable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendto(
    fd: c_int,
    buf: *const c_void,
    n: usize,
    flags: c_int,
    addr: *const c_void,
    len: SockLen,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall6(
            nr::SENDTO,
            arg(fd),
            buf as usize,
            n,
            arg(flags),
            addr as usize,
            len as usize,
        )
    }))
}

/// `send(2)`.
///
/// # Safety
/// `buf` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn send(fd: c_int, buf: *const c_void, n: usize, flags: c_int) -> isize {
    // SAFETY: per the caller.
    unsafe { sendto(fd, buf, n, flags, core::ptr::null(), 0) }
}

/// `recvfrom(2)`.
///
/// # Safety
/// `buf` writable for `n` bytes; `addr` null, or writable for `*len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvfrom(
    fd: c_int,
    buf: *mut c_void,
    n: usize,
    flags: c_int,
    addr: *mut c_void,
    len: *mut SockLen,
) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall6(
            nr::RECVFROM,
            arg(fd),
            buf as usize,
            n,
            arg(flags),
            addr as usize,
            len as usize,
        )
    }))
}

/// `recv(2)`.
///
/// # Safety
/// `buf` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recv(fd: c_int, buf: *mut c_void, n: usize, flags: c_int) -> isize {
    // SAFETY: per the caller.
    unsafe {
        recvfrom(
            fd,
            buf,
            n,
            flags,
            core::ptr::null_mut(),
            core::ptr::null_mut(),
        )
    }
}

/// `sendmsg(2)`.
///
/// # Safety
/// `msg` must be a valid `struct msghdr`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sendmsg(fd: c_int, msg: *const c_void, flags: c_int) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::SENDMSG, arg(fd), msg as usize, arg(flags))
    }))
}

/// `recvmsg(2)`.
///
/// # Safety
/// `msg` must be a valid `struct msghdr` with writable buffers.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn recvmsg(fd: c_int, msg: *mut c_void, flags: c_int) -> isize {
    // SAFETY: per the caller.
    ret_isize(result(unsafe {
        syscall3(nr::RECVMSG, arg(fd), msg as usize, arg(flags))
    }))
}
