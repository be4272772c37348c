//! Error messages: `strerror`, `strerror_r` (GNU) and `__xpg_strerror_r` (POSIX,
//! what std calls for `io::Error`'s Display). The texts are glibc's, so programs
//! print the same messages as under glibc (e.g. "No such file or directory").

use core::ffi::{CStr, c_char, c_int};

use crate::errno::Errno;

/// Messages indexed by errno; empty for numbers Linux does not use.
static MESSAGES: [&CStr; 134] = [
    c"Success",
    c"Operation not permitted",
    c"No such file or directory",
    c"No such process",
    c"Interrupted system call",
    c"Input/output error",
    c"No such device or address",
    c"Argument list too long",
    c"Exec format error",
    c"Bad file descriptor",
    c"No child processes",
    c"Resource temporarily unavailable",
    c"Cannot allocate memory",
    c"Permission denied",
    c"Bad address",
    c"Block device required",
    c"Device or resource busy",
    c"File exists",
    c"Invalid cross-device link",
    c"No such device",
    c"Not a directory",
    c"Is a directory",
    c"Invalid argument",
    c"Too many open files in system",
    c"Too many open files",
    c"Inappropriate ioctl for device",
    c"Text file busy",
    c"File too large",
    c"No space left on device",
    c"Illegal seek",
    c"Read-only file system",
    c"Too many links",
    c"Broken pipe",
    c"Numerical argument out of domain",
    c"Numerical result out of range",
    c"Resource deadlock avoided",
    c"File name too long",
    c"No locks available",
    c"Function not implemented",
    c"Directory not empty",
    c"Too many levels of symbolic links",
    c"",
    c"No message of desired type",
    c"Identifier removed",
    c"Channel number out of range",
    c"Level 2 not synchronized",
    c"Level 3 halted",
    c"Level 3 reset",
    c"Link number out of range",
    c"Protocol driver not attached",
    c"No CSI structure available",
    c"Level 2 halted",
    c"Invalid exchange",
    c"Invalid request descriptor",
    c"Exchange full",
    c"No anode",
    c"Invalid request code",
    c"Invalid slot",
    c"",
    c"Bad font file format",
    c"Device not a stream",
    c"No data available",
    c"Timer expired",
    c"Out of streams resources",
    c"Machine is not on the network",
    c"Package not installed",
    c"Object is remote",
    c"Link has been severed",
    c"Advertise error",
    c"Srmount error",
    c"Communication error on send",
    c"Protocol error",
    c"Multihop attempted",
    c"RFS specific error",
    c"Bad message",
    c"Value too large for defined data type",
    c"Name not unique on network",
    c"File descriptor in bad state",
    c"Remote address changed",
    c"Can not access a needed shared library",
    c"Accessing a corrupted shared library",
    c".lib section in a.out corrupted",
    c"Attempting to link in too many shared libraries",
    c"Cannot exec a shared library directly",
    c"Invalid or incomplete multibyte or wide character",
    c"Interrupted system call should be restarted",
    c"Streams pipe error",
    c"Too many users",
    c"Socket operation on non-socket",
    c"Destination address required",
    c"Message too long",
    c"Protocol wrong type for socket",
    c"Protocol not available",
    c"Protocol not supported",
    c"Socket type not supported",
    c"Operation not supported",
    c"Protocol family not supported",
    c"Address family not supported by protocol",
    c"Address already in use",
    c"Cannot assign requested address",
    c"Network is down",
    c"Network is unreachable",
    c"Network dropped connection on reset",
    c"Software caused connection abort",
    c"Connection reset by peer",
    c"No buffer space available",
    c"Transport endpoint is already connected",
    c"Transport endpoint is not connected",
    c"Cannot send after transport endpoint shutdown",
    c"Too many references: cannot splice",
    c"Connection timed out",
    c"Connection refused",
    c"Host is down",
    c"No route to host",
    c"Operation already in progress",
    c"Operation now in progress",
    c"Stale file handle",
    c"Structure needs cleaning",
    c"Not a XENIX named type file",
    c"No XENIX semaphores available",
    c"Is a named type file",
    c"Remote I/O error",
    c"Disk quota exceeded",
    c"No medium found",
    c"Wrong medium type",
    c"Operation canceled",
    c"Required key not available",
    c"Key has expired",
    c"Key has been revoked",
    c"Key was rejected by service",
    c"Owner died",
    c"State not recoverable",
    c"Operation not possible due to RF-kill",
    c"Memory page has hardware error",
];

/// Writes `msg` (truncated) and a NUL into `buf[..len]`; false if truncated.
///
/// # Safety
/// `buf` writable for `len` bytes.
unsafe fn copy_message(msg: &[u8], buf: *mut c_char, len: usize) -> bool {
    if len == 0 {
        return false;
    }
    let n = msg.len().min(len - 1);
    // SAFETY: per the caller, `buf` has `len > n` bytes.
    unsafe {
        core::ptr::copy_nonoverlapping(msg.as_ptr(), buf.cast::<u8>(), n);
        *buf.add(n) = 0;
    }
    n == msg.len()
}

/// Formats "Unknown error N" into `out`, returning the used length.
fn unknown(errnum: c_int, out: &mut [u8; 32]) -> usize {
    let prefix = b"Unknown error ";
    out[..prefix.len()].copy_from_slice(prefix);
    let mut at = prefix.len();
    if errnum < 0 {
        out[at] = b'-';
        at += 1;
    }
    let mut digits = [0u8; 10];
    let mut v = errnum.unsigned_abs();
    let mut nd = 0;
    loop {
        digits[nd] = b'0' + (v % 10) as u8;
        nd += 1;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    for d in digits[..nd].iter().rev() {
        out[at] = *d;
        at += 1;
    }
    at
}

fn known(errnum: c_int) -> Option<&'static CStr> {
    let m = MESSAGES.get(usize::try_from(errnum).ok()?)?;
    (!m.is_empty()).then_some(*m)
}

/// `__xpg_strerror_r`: POSIX `strerror_r`; 0, or EINVAL (unknown number, message
/// "Unknown error N" still written) or ERANGE (buffer too small).
///
/// # Safety
/// `buf` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn __xpg_strerror_r(errnum: c_int, buf: *mut c_char, len: usize) -> c_int {
    let mut tmp = [0u8; 32];
    let (msg, status) = match known(errnum) {
        Some(m) => (m.to_bytes(), 0),
        None => {
            let n = unknown(errnum, &mut tmp);
            (&tmp[..n], Errno::EINVAL.0)
        }
    };
    // SAFETY: per the caller.
    if unsafe { copy_message(msg, buf, len) } {
        status
    } else {
        Errno::ERANGE.0
    }
}

/// GNU `strerror_r`: returns the message, static or written into `buf`.
///
/// # Safety
/// `buf` writable for `len` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strerror_r(errnum: c_int, buf: *mut c_char, len: usize) -> *mut c_char {
    match known(errnum) {
        Some(m) => m.as_ptr().cast_mut(),
        None => {
            // SAFETY: per the caller.
            unsafe { __xpg_strerror_r(errnum, buf, len) };
            buf
        }
    }
}

/// `strerror(3)`: unknown numbers share one static buffer, as in C.
#[unsafe(no_mangle)]
pub extern "C" fn strerror(errnum: c_int) -> *mut c_char {
    static UNKNOWN: crate::lock::Mutex<[u8; 32]> = crate::lock::Mutex::new([0; 32]);
    match known(errnum) {
        Some(m) => m.as_ptr().cast_mut(),
        None => {
            let mut buf = UNKNOWN.lock();
            let n = unknown(errnum, &mut buf);
            buf[n] = 0;
            buf.as_mut_ptr().cast()
        }
    }
}
