//! The minimal runtime: system-call wrappers over the kernel's entries, console
//! printing, the panic handler and the C/unwinding symbols `core` needs.

use core::arch::asm;
use core::fmt;

/// Declares kernel entries `NAME(a0..a5: usize) -> isize` (the kernel's C ABI).
macro_rules! kernel_entries {
    ($($name:ident),* $(,)?) => {
        #[allow(improper_ctypes, reason = "plain usize arguments")]
        unsafe extern "C" {
            $(pub fn $name(a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize;)*
            /// The dispatcher: `nr`, then the six arguments.
            pub fn __unikernel_syscall(nr: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize;
        }
    };
}

kernel_entries!(
    __unikernel_sys_write,
    __unikernel_sys_clock_gettime,
    __unikernel_sys_nanosleep,
    __unikernel_sys_mmap,
    __unikernel_sys_munmap,
    __unikernel_sys_mprotect,
    __unikernel_sys_getrandom,
    __unikernel_sys_uname,
    __unikernel_sys_arch_prctl,
    __unikernel_sys_mremap,
    __unikernel_sys_futex,
    __unikernel_sys_getppid,
    __unikernel_sys_gettid,
    __unikernel_sys_exit,
    __unikernel_sys_exit_group,
);

/// Calls a kernel entry with up to six arguments.
#[macro_export]
macro_rules! sys {
    ($name:ident $(, $arg:expr)* $(,)?) => {{
        let args: [usize; 6] = {
            let given = [$($arg as usize),*];
            let mut all = [0usize; 6];
            let mut i = 0;
            while i < given.len() {
                all[i] = given[i];
                i += 1;
            }
            all
        };
        // SAFETY: the kernel's syscall entries are safe to call with any arguments
        // (pointers are checked); this is test code calling them like the shim would.
        unsafe { $crate::runtime::$name(args[0], args[1], args[2], args[3], args[4], args[5]) }
    }};
}

/// The kernel's dispatcher (non-constant system-call numbers).
pub fn syscall(nr: usize) -> isize {
    // SAFETY: as for `sys!`: the dispatcher accepts any number and arguments.
    unsafe { __unikernel_syscall(nr, 0, 0, 0, 0, 0, 0) }
}

pub struct Stdout;

impl fmt::Write for Stdout {
    fn write_str(&mut self, s: &str) -> fmt::Result {
        sys!(__unikernel_sys_write, 1, s.as_ptr(), s.len());
        Ok(())
    }
}

#[macro_export]
macro_rules! println {
    ($($arg:tt)*) => {{
        let _ = core::fmt::Write::write_fmt(&mut $crate::runtime::Stdout, format_args!("{}\n", format_args!($($arg)*)));
    }};
}

pub fn exit(code: i32) -> ! {
    sys!(__unikernel_sys_exit_group, code);
    unreachable!("exit_group returned")
}

// A test build (`cargo clippy --all-targets` checks one; it is never run) has std's.
#[cfg(not(test))]
#[panic_handler]
fn panic(info: &core::panic::PanicInfo<'_>) -> ! {
    println!("boot-test panicked: {info}");
    exit(101)
}

/// `core` is prebuilt with `panic=unwind`, so it names these; nothing unwinds here.
#[unsafe(no_mangle)]
pub extern "C" fn rust_eh_personality() {}

#[unsafe(no_mangle)]
pub extern "C" fn _Unwind_Resume() -> ! {
    println!("boot-test: _Unwind_Resume called");
    exit(102)
}

// The C memory functions codegen emits calls to (the libc shim has the real ones).

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcpy(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    // SAFETY: the caller passes valid, non-overlapping buffers of n bytes.
    unsafe {
        asm!("rep movsb", inout("rdi") dst => _, inout("rsi") src => _, inout("rcx") n => _,
            options(nostack, preserves_flags));
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memmove(dst: *mut u8, src: *const u8, n: usize) -> *mut u8 {
    if (dst as usize).wrapping_sub(src as usize) >= n {
        // SAFETY: forward copy is safe when dst does not start inside src..src+n.
        unsafe { memcpy(dst, src, n) }
    } else {
        // SAFETY: copy backwards (DF set, restored) for overlapping dst above src.
        unsafe {
            asm!("std", "rep movsb", "cld",
                inout("rdi") dst.add(n - 1) => _, inout("rsi") src.add(n - 1) => _,
                inout("rcx") n => _, options(nostack));
        }
        dst
    }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memset(dst: *mut u8, value: i32, n: usize) -> *mut u8 {
    // SAFETY: the caller passes a valid buffer of n bytes.
    unsafe {
        asm!("rep stosb", inout("rdi") dst => _, inout("rcx") n => _, in("al") value as u8,
            options(nostack, preserves_flags));
    }
    dst
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn memcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    for i in 0..n {
        // SAFETY: the caller passes valid buffers of n bytes; volatile keeps LLVM from
        // turning this loop back into a memcmp call.
        let (x, y) = unsafe { (a.add(i).read_volatile(), b.add(i).read_volatile()) };
        if x != y {
            return i32::from(x) - i32::from(y);
        }
    }
    0
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn bcmp(a: *const u8, b: *const u8, n: usize) -> i32 {
    // SAFETY: same contract as memcmp.
    unsafe { memcmp(a, b, n) }
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn strlen(s: *const u8) -> usize {
    let mut n = 0;
    // SAFETY: the caller passes a NUL-terminated string.
    while unsafe { s.add(n).read_volatile() } != 0 {
        n += 1;
    }
    n
}
