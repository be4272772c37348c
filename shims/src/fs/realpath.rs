//! `realpath(3)`, resolved in user space component by component (`lstat` +
//! `readlink`, at most 40 links as Linux's `MAXSYMLINKS`), like glibc's
//! stdlib/canonicalize.c. It needs no `/proc`, which a unikernel may lack.

use core::ffi::c_char;

use super::path::readlink;
use super::stat::lstat64;
use crate::errno::{Errno, set_errno};
use crate::string::strlen;

const PATH_MAX: usize = 4096;
const MAX_LINKS: usize = 40;
const S_IFMT: u32 = 0o170000;
const S_IFLNK: u32 = 0o120000;
const S_IFDIR: u32 = 0o040000;

/// `st_mode` of `path` without following a final symlink.
fn lstat_mode(path: &[u8; PATH_MAX]) -> Result<u32, Errno> {
    // struct stat on x86_64 is 144 bytes; st_mode is the u32 at offset 24.
    let mut st = [0u64; 18];
    // SAFETY: `path` is NUL-terminated by the caller; `st` holds a struct stat.
    if unsafe { lstat64(path.as_ptr().cast(), st.as_mut_ptr().cast()) } < 0 {
        // SAFETY: errno of this thread was just set by lstat64.
        return Err(Errno(unsafe { *crate::errno::__errno_location() }));
    }
    Ok((st[3] & 0xffff_ffff) as u32)
}

/// Resolves `path` into `out`, returning the length (without the NUL).
///
/// # Safety
/// `path` must be NUL-terminated.
unsafe fn resolve(path: *const c_char, out: &mut [u8; PATH_MAX]) -> Result<usize, Errno> {
    // SAFETY: per the caller.
    let len = unsafe { strlen(path) };
    if len == 0 {
        return Err(Errno::ENOENT);
    }
    if len >= PATH_MAX {
        return Err(Errno::ENAMETOOLONG);
    }
    let mut rest = [0u8; PATH_MAX];
    // SAFETY: `path` has `len` readable bytes.
    rest[..len].copy_from_slice(unsafe { core::slice::from_raw_parts(path.cast::<u8>(), len) });
    let (mut rpos, mut rlen) = (0, len);
    let mut olen = if rest[0] == b'/' {
        out[0] = b'/';
        1
    } else {
        // SAFETY: `out` is writable for PATH_MAX bytes.
        if unsafe { super::path::getcwd(out.as_mut_ptr().cast(), PATH_MAX) }.is_null() {
            // SAFETY: errno of this thread was just set by getcwd.
            return Err(Errno(unsafe { *crate::errno::__errno_location() }));
        }
        out.iter().position(|&b| b == 0).unwrap_or(PATH_MAX)
    };
    let mut links = 0;
    while rpos < rlen {
        while rpos < rlen && rest[rpos] == b'/' {
            rpos += 1;
        }
        let start = rpos;
        while rpos < rlen && rest[rpos] != b'/' {
            rpos += 1;
        }
        let comp = &rest[start..rpos];
        match comp {
            b"" | b"." => continue,
            b".." => {
                while olen > 1 && out[olen - 1] != b'/' {
                    olen -= 1;
                }
                if olen > 1 {
                    olen -= 1;
                }
                continue;
            }
            _ => {}
        }
        let prev = olen;
        let sep = usize::from(olen > 1);
        if olen + sep + comp.len() >= PATH_MAX {
            return Err(Errno::ENAMETOOLONG);
        }
        if sep == 1 {
            out[olen] = b'/';
        }
        out[olen + sep..olen + sep + comp.len()].copy_from_slice(comp);
        olen += sep + comp.len();
        out[olen] = 0;
        let mode = lstat_mode(out)?;
        if mode & S_IFMT == S_IFLNK {
            links += 1;
            if links > MAX_LINKS {
                return Err(Errno::ELOOP);
            }
            let mut target = [0u8; PATH_MAX];
            // SAFETY: `out` is NUL-terminated; `target` has PATH_MAX - 1 bytes.
            let n = unsafe {
                readlink(
                    out.as_ptr().cast(),
                    target.as_mut_ptr().cast(),
                    PATH_MAX - 1,
                )
            };
            let n = usize::try_from(n).map_err(|_| {
                // SAFETY: errno of this thread was just set by readlink.
                Errno(unsafe { *crate::errno::__errno_location() })
            })?;
            // New remaining path: the link target, then what followed the link
            // (which, if anything, starts with its '/').
            let tail = rlen - rpos;
            if n + tail >= PATH_MAX {
                return Err(Errno::ENAMETOOLONG);
            }
            target[n..n + tail].copy_from_slice(&rest[rpos..rlen]);
            rest[..n + tail].copy_from_slice(&target[..n + tail]);
            (rpos, rlen) = (0, n + tail);
            olen = if n > 0 && target[0] == b'/' { 1 } else { prev };
        } else if mode & S_IFMT != S_IFDIR && rpos < rlen {
            return Err(Errno::ENOTDIR);
        }
    }
    out[olen] = 0;
    Ok(olen)
}

/// `realpath(3)`: with a NULL `resolved`, the result is malloc'ed.
///
/// # Safety
/// `path` NUL-terminated; `resolved` null or writable for `PATH_MAX` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realpath(path: *const c_char, resolved: *mut c_char) -> *mut c_char {
    if path.is_null() {
        set_errno(Errno::EINVAL);
        return core::ptr::null_mut();
    }
    let mut out = [0u8; PATH_MAX];
    // SAFETY: per the caller.
    let len = match unsafe { resolve(path, &mut out) } {
        Ok(len) => len,
        Err(e) => {
            set_errno(e);
            return core::ptr::null_mut();
        }
    };
    let dst = if resolved.is_null() {
        crate::malloc::malloc(len + 1).cast::<c_char>()
    } else {
        resolved
    };
    if !dst.is_null() {
        // SAFETY: `dst` has at least `len + 1` bytes (malloc'ed, or PATH_MAX).
        unsafe { core::ptr::copy_nonoverlapping(out.as_ptr().cast(), dst, len + 1) };
    }
    dst
}
