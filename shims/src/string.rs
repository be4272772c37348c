//! `<string.h>`: the mem* functions codegen calls and the str* functions programs
//! reference.
//!
//! `memcpy`, `memmove` and `memset` use the string instructions rather than Rust
//! loops, which LLVM would turn back into calls of these very functions: eight bytes
//! per iteration (`rep movsq`/`rep stosq`), then the tail a byte at a time. On
//! hardware both forms are fast (Intel SDM vol. 1, 7.3.9.3); under emulation, which
//! runs every iteration of a `rep` on its own (TCG, and `-icount` counts each), the
//! quadword form does an eighth of the work. The comparisons are plain loops;
//! LLVM's idiom recognition does not produce `memcmp`/`bcmp`/`strlen` calls from
//! them.

use core::arch::asm;
use core::ffi::{c_char, c_int, c_void};

/// `memcpy(3)`.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes; no overlap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    // SAFETY: per the caller; DF is clear per the psABI.
    unsafe {
        asm!(
            "mov rcx, {n}",
            "shr rcx, 3",
            "rep movsq",
            "mov ecx, {n:e}",
            "and ecx, 7",
            "rep movsb",
            n = in(reg) n,
            out("rcx") _,
            inout("rdi") dst => _,
            inout("rsi") src => _,
            options(nostack),
        );
    }
    dst
}

/// `memmove(3)`: copies forward, or backward (DF set) when `dst` overlaps the
/// tail of `src`.
///
/// # Safety
/// `src` readable and `dst` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut c_void, src: *const c_void, n: usize) -> *mut c_void {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: no harmful overlap for a forward copy.
        return unsafe { memcpy(dst, src, n) };
    }
    // SAFETY: per the caller; copying from the last byte down handles the overlap;
    // DF is restored before returning, as the psABI requires.
    unsafe {
        asm!("std", "rep movsb", "cld",
            inout("rcx") n => _,
            inout("rdi") dst.cast::<u8>().wrapping_add(n).wrapping_sub(1) => _,
            inout("rsi") src.cast::<u8>().wrapping_add(n).wrapping_sub(1) => _,
            options(nostack));
    }
    dst
}

/// `memset(3)`.
///
/// # Safety
/// `dst` writable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut c_void, c: c_int, n: usize) -> *mut c_void {
    // `(unsigned char)c` in every byte of a quadword; `rep stosb` stores its low byte.
    let pattern = u64::from(c as u8) * 0x0101_0101_0101_0101;
    // SAFETY: per the caller; DF is clear per the psABI.
    unsafe {
        asm!(
            "mov rcx, {n}",
            "shr rcx, 3",
            "rep stosq",
            "mov ecx, {n:e}",
            "and ecx, 7",
            "rep stosb",
            n = in(reg) n,
            out("rcx") _,
            inout("rdi") dst => _,
            in("rax") pattern,
            options(nostack),
        );
    }
    dst
}

/// `memcmp(3)`: eight bytes at a time, then the tail.
///
/// # Safety
/// `a` and `b` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    let (a, b) = (a.cast::<u8>(), b.cast::<u8>());
    let mut i = 0;
    while i + 8 <= n {
        // SAFETY: `i + 8 <= n`, per the caller; unaligned reads are allowed.
        let (x, y) = unsafe {
            (
                a.add(i).cast::<u64>().read_unaligned(),
                b.add(i).cast::<u64>().read_unaligned(),
            )
        };
        if x != y {
            // Little endian: the lowest differing byte decides.
            i += ((x ^ y).trailing_zeros() / 8) as usize;
            break;
        }
        i += 8;
    }
    while i < n {
        // SAFETY: `i < n`, per the caller.
        let (x, y) = unsafe { (*a.add(i), *b.add(i)) };
        if x != y {
            return c_int::from(x) - c_int::from(y);
        }
        i += 1;
    }
    0
}

/// `bcmp(3)`: zero iff equal.
///
/// # Safety
/// As for [`memcmp`].
#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const c_void, b: *const c_void, n: usize) -> c_int {
    // SAFETY: per the caller.
    unsafe { memcmp(a, b, n) }
}

/// `memchr(3)`.
///
/// # Safety
/// `s` readable for `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn memchr(s: *const c_void, c: c_int, n: usize) -> *mut c_void {
    let s = s.cast::<u8>();
    for i in 0..n {
        // SAFETY: `i < n`, per the caller.
        if unsafe { *s.add(i) } == c as u8 {
            return s.wrapping_add(i).cast_mut().cast();
        }
    }
    core::ptr::null_mut()
}

/// `strlen(3)`.
///
/// # Safety
/// `s` must be NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const c_char) -> usize {
    let mut n = 0;
    // SAFETY: per the caller, every byte up to the NUL is readable.
    while unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

/// `strnlen(3)`.
///
/// # Safety
/// `s` readable up to its NUL or `max` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strnlen(s: *const c_char, max: usize) -> usize {
    let mut n = 0;
    // SAFETY: per the caller.
    while n < max && unsafe { *s.add(n) } != 0 {
        n += 1;
    }
    n
}

/// `strcmp(3)`.
///
/// # Safety
/// Both strings NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcmp(a: *const c_char, b: *const c_char) -> c_int {
    // SAFETY: per the caller.
    unsafe { strncmp(a, b, usize::MAX) }
}

/// `strncmp(3)`.
///
/// # Safety
/// Both strings readable up to their NUL or `n` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strncmp(a: *const c_char, b: *const c_char, n: usize) -> c_int {
    let mut i = 0;
    while i < n {
        // SAFETY: per the caller, readable until the first NUL.
        let (x, y) = unsafe { (*a.add(i) as u8, *b.add(i) as u8) };
        if x != y || x == 0 {
            return c_int::from(x) - c_int::from(y);
        }
        i += 1;
    }
    0
}

/// `strchr(3)`.
///
/// # Safety
/// `s` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strchr(s: *const c_char, c: c_int) -> *mut c_char {
    let mut p = s;
    loop {
        // SAFETY: per the caller.
        let ch = unsafe { *p } as u8;
        if ch == c as u8 {
            return p.cast_mut();
        }
        if ch == 0 {
            return core::ptr::null_mut();
        }
        p = p.wrapping_add(1);
    }
}

/// `strrchr(3)`.
///
/// # Safety
/// `s` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strrchr(s: *const c_char, c: c_int) -> *mut c_char {
    let mut last = core::ptr::null_mut();
    let mut p = s;
    loop {
        // SAFETY: per the caller.
        let ch = unsafe { *p } as u8;
        if ch == c as u8 {
            last = p.cast_mut();
        }
        if ch == 0 {
            return last;
        }
        p = p.wrapping_add(1);
    }
}

/// `strcpy(3)`.
///
/// # Safety
/// `src` NUL-terminated; `dst` writable for `strlen(src) + 1` bytes.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strcpy(dst: *mut c_char, src: *const c_char) -> *mut c_char {
    // SAFETY: per the caller.
    unsafe { memcpy(dst.cast(), src.cast(), strlen(src) + 1).cast() }
}

/// `strdup(3)`.
///
/// # Safety
/// `s` NUL-terminated.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn strdup(s: *const c_char) -> *mut c_char {
    // SAFETY: per the caller.
    let n = unsafe { strlen(s) } + 1;
    let p = crate::malloc::malloc(n);
    if !p.is_null() {
        // SAFETY: `p` has `n` bytes; `s` has `n` readable bytes.
        unsafe { memcpy(p, s.cast(), n) };
    }
    p.cast()
}
