//! `<math.h>` on the `libm` crate: the functions LLVM lowers float intrinsics and
//! operations to (`fmod` for `%`, `sin`, `pow`, `sincos`, ...) and the ones std's
//! `f64`/`f32` methods call by name (`cbrt`, `hypot`, `tgamma`, ...).
//!
//! Codegen can introduce calls to these after the whole-program module is
//! internalized, so the pipeline keeps them external (`libcalls.txt`).

use core::ffi::c_int;

/// Defines `extern "C" fn $name(args) -> ret` as a call of `libm::$name`.
macro_rules! libm_fns {
    ($($name:ident($($arg:ident: $ty:ty),*) -> $ret:ty;)*) => {$(
        #[doc = concat!("`", stringify!($name), "(3)` (libm crate).")]
        #[unsafe(no_mangle)]
        pub extern "C" fn $name($($arg: $ty),*) -> $ret {
            libm::$name($($arg),*)
        }
    )*};
}

libm_fns! {
    acos(x: f64) -> f64; acosf(x: f32) -> f32; acosh(x: f64) -> f64; acoshf(x: f32) -> f32;
    asin(x: f64) -> f64; asinf(x: f32) -> f32; asinh(x: f64) -> f64; asinhf(x: f32) -> f32;
    atan(x: f64) -> f64; atanf(x: f32) -> f32; atanh(x: f64) -> f64; atanhf(x: f32) -> f32;
    atan2(y: f64, x: f64) -> f64; atan2f(y: f32, x: f32) -> f32;
    cbrt(x: f64) -> f64; cbrtf(x: f32) -> f32;
    ceil(x: f64) -> f64; ceilf(x: f32) -> f32;
    copysign(x: f64, y: f64) -> f64; copysignf(x: f32, y: f32) -> f32;
    cos(x: f64) -> f64; cosf(x: f32) -> f32; cosh(x: f64) -> f64; coshf(x: f32) -> f32;
    erf(x: f64) -> f64; erff(x: f32) -> f32; erfc(x: f64) -> f64; erfcf(x: f32) -> f32;
    exp(x: f64) -> f64; expf(x: f32) -> f32; exp2(x: f64) -> f64; exp2f(x: f32) -> f32;
    exp10(x: f64) -> f64; exp10f(x: f32) -> f32; expm1(x: f64) -> f64; expm1f(x: f32) -> f32;
    fabs(x: f64) -> f64; fabsf(x: f32) -> f32;
    fdim(x: f64, y: f64) -> f64; fdimf(x: f32, y: f32) -> f32;
    floor(x: f64) -> f64; floorf(x: f32) -> f32;
    fma(x: f64, y: f64, z: f64) -> f64; fmaf(x: f32, y: f32, z: f32) -> f32;
    fmax(x: f64, y: f64) -> f64; fmaxf(x: f32, y: f32) -> f32;
    fmin(x: f64, y: f64) -> f64; fminf(x: f32, y: f32) -> f32;
    fmaximum(x: f64, y: f64) -> f64; fmaximumf(x: f32, y: f32) -> f32;
    fminimum(x: f64, y: f64) -> f64; fminimumf(x: f32, y: f32) -> f32;
    fmaximum_num(x: f64, y: f64) -> f64; fmaximum_numf(x: f32, y: f32) -> f32;
    fminimum_num(x: f64, y: f64) -> f64; fminimum_numf(x: f32, y: f32) -> f32;
    fmod(x: f64, y: f64) -> f64; fmodf(x: f32, y: f32) -> f32;
    hypot(x: f64, y: f64) -> f64; hypotf(x: f32, y: f32) -> f32;
    ilogb(x: f64) -> i32; ilogbf(x: f32) -> i32;
    ldexp(x: f64, n: i32) -> f64; ldexpf(x: f32, n: i32) -> f32;
    lgamma(x: f64) -> f64; lgammaf(x: f32) -> f32;
    log(x: f64) -> f64; logf(x: f32) -> f32; log1p(x: f64) -> f64; log1pf(x: f32) -> f32;
    log2(x: f64) -> f64; log2f(x: f32) -> f32; log10(x: f64) -> f64; log10f(x: f32) -> f32;
    nextafter(x: f64, y: f64) -> f64; nextafterf(x: f32, y: f32) -> f32;
    pow(x: f64, y: f64) -> f64; powf(x: f32, y: f32) -> f32;
    remainder(x: f64, y: f64) -> f64; remainderf(x: f32, y: f32) -> f32;
    rint(x: f64) -> f64; rintf(x: f32) -> f32;
    round(x: f64) -> f64; roundf(x: f32) -> f32;
    roundeven(x: f64) -> f64; roundevenf(x: f32) -> f32;
    scalbn(x: f64, n: i32) -> f64; scalbnf(x: f32, n: i32) -> f32;
    sin(x: f64) -> f64; sinf(x: f32) -> f32; sinh(x: f64) -> f64; sinhf(x: f32) -> f32;
    sqrt(x: f64) -> f64; sqrtf(x: f32) -> f32;
    tan(x: f64) -> f64; tanf(x: f32) -> f32; tanh(x: f64) -> f64; tanhf(x: f32) -> f32;
    tgamma(x: f64) -> f64; tgammaf(x: f32) -> f32;
    trunc(x: f64) -> f64; truncf(x: f32) -> f32;
}

/// `nearbyint(3)`: `rint` without raising FE_INEXACT; the shim never reads the
/// FP exception flags, so the two agree.
#[unsafe(no_mangle)]
pub extern "C" fn nearbyint(x: f64) -> f64 {
    libm::rint(x)
}

/// `nearbyintf(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn nearbyintf(x: f32) -> f32 {
    libm::rintf(x)
}

/// `frexp(3)`.
///
/// # Safety
/// `exp` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn frexp(x: f64, exp: *mut c_int) -> f64 {
    let (m, e) = libm::frexp(x);
    // SAFETY: per the caller.
    unsafe { *exp = e };
    m
}

/// `frexpf(3)`.
///
/// # Safety
/// `exp` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn frexpf(x: f32, exp: *mut c_int) -> f32 {
    let (m, e) = libm::frexpf(x);
    // SAFETY: per the caller.
    unsafe { *exp = e };
    m
}

/// `modf(3)`: fractional part returned, integral part stored.
///
/// # Safety
/// `ip` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn modf(x: f64, ip: *mut f64) -> f64 {
    let (frac, int) = libm::modf(x);
    // SAFETY: per the caller.
    unsafe { *ip = int };
    frac
}

/// `modff(3)`.
///
/// # Safety
/// `ip` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn modff(x: f32, ip: *mut f32) -> f32 {
    let (frac, int) = libm::modff(x);
    // SAFETY: per the caller.
    unsafe { *ip = int };
    frac
}

/// `lgamma_r(3)`.
///
/// # Safety
/// `sign` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lgamma_r(x: f64, sign: *mut c_int) -> f64 {
    let (y, s) = libm::lgamma_r(x);
    // SAFETY: per the caller.
    unsafe { *sign = s };
    y
}

/// `lgammaf_r(3)`.
///
/// # Safety
/// `sign` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn lgammaf_r(x: f32, sign: *mut c_int) -> f32 {
    let (y, s) = libm::lgammaf_r(x);
    // SAFETY: per the caller.
    unsafe { *sign = s };
    y
}

/// `sincos(3)` (GNU): LLVM merges `sin(x)` and `cos(x)` into it.
///
/// # Safety
/// `s` and `c` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sincos(x: f64, s: *mut f64, c: *mut f64) {
    let (sv, cv) = libm::sincos(x);
    // SAFETY: per the caller.
    unsafe {
        *s = sv;
        *c = cv;
    }
}

/// `sincosf(3)` (GNU).
///
/// # Safety
/// `s` and `c` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn sincosf(x: f32, s: *mut f32, c: *mut f32) {
    let (sv, cv) = libm::sincosf(x);
    // SAFETY: per the caller.
    unsafe {
        *s = sv;
        *c = cv;
    }
}
