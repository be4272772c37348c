//! Error messages: `strerror`, `strerror_r` (GNU) and `__xpg_strerror_r` (POSIX,
//! what std calls for `io::Error`'s Display). The texts are glibc's, so programs
//! print the same messages as under glibc (e.g. "No such file or directory"); they
//! live with the error numbers in the ABI crate (`unikernel_abi::errno`).

use core::ffi::{CStr, c_char, c_int};

use crate::errno::Errno;

/// glibc's messages indexed by error number: "Success" for 0, the ABI crate's message
/// for every Linux error number, empty for the numbers Linux does not use. A table
/// built at compile time, so a lookup is one bounds check and one load.
static MESSAGES: [&CStr; MESSAGE_COUNT] = messages();

/// One past the highest Linux error number.
const MESSAGE_COUNT: usize = match Errno::ALL.last() {
    Some(last) => last.0 as usize + 1,
    None => 1,
};

const fn messages() -> [&'static CStr; MESSAGE_COUNT] {
    let mut table = [c""; MESSAGE_COUNT];
    table[0] = c"Success";
    let mut i = 0;
    while i < Errno::ALL.len() {
        let errno = Errno::ALL[i];
        if let Some(message) = errno.message() {
            table[errno.0 as usize] = message;
        }
        i += 1;
    }
    table
}

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
