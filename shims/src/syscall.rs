//! The only door to the kernel: raw Linux `syscall` instructions.
//!
//! Every system call the shim makes goes through `syscall0`..`syscall6`. Their asm
//! template is exactly the single instruction `syscall`, which is the contract with
//! the pass (docs/interfaces.md): in a unikernel build it recognises this template
//! and replaces it with a direct call of the kernel's entry for that number. The
//! one exception is the clone-for-threads trampoline in `pthread/clone.rs`, whose
//! child half must run on the new stack without returning through Rust code.
//!
//! Register use follows the x86_64 Linux syscall ABI: number in `rax`, arguments in
//! `rdi, rsi, rdx, r10, r8, r9`; the kernel clobbers `rcx` and `r11` and returns
//! `-errno` (in `-4095..0`) or the result in `rax`.

use core::arch::asm;

use crate::errno::Errno;

/// x86_64 Linux system call numbers (arch/x86/entry/syscalls/syscall_64.tbl).
#[allow(missing_docs)]
pub mod nr {
    pub const READ: usize = 0;
    pub const WRITE: usize = 1;
    pub const CLOSE: usize = 3;
    pub const POLL: usize = 7;
    pub const LSEEK: usize = 8;
    pub const MMAP: usize = 9;
    pub const MPROTECT: usize = 10;
    pub const MUNMAP: usize = 11;
    pub const RT_SIGACTION: usize = 13;
    pub const RT_SIGPROCMASK: usize = 14;
    pub const RT_SIGRETURN: usize = 15;
    pub const IOCTL: usize = 16;
    pub const PREAD64: usize = 17;
    pub const PWRITE64: usize = 18;
    pub const READV: usize = 19;
    pub const WRITEV: usize = 20;
    pub const SCHED_YIELD: usize = 24;
    pub const MREMAP: usize = 25;
    pub const MADVISE: usize = 28;
    pub const DUP: usize = 32;
    pub const DUP2: usize = 33;
    pub const PAUSE: usize = 34;
    pub const NANOSLEEP: usize = 35;
    pub const GETPID: usize = 39;
    pub const SENDFILE: usize = 40;
    pub const SOCKET: usize = 41;
    pub const CONNECT: usize = 42;
    pub const ACCEPT: usize = 43;
    pub const SENDTO: usize = 44;
    pub const RECVFROM: usize = 45;
    pub const SENDMSG: usize = 46;
    pub const RECVMSG: usize = 47;
    pub const SHUTDOWN: usize = 48;
    pub const BIND: usize = 49;
    pub const LISTEN: usize = 50;
    pub const GETSOCKNAME: usize = 51;
    pub const GETPEERNAME: usize = 52;
    pub const SOCKETPAIR: usize = 53;
    pub const SETSOCKOPT: usize = 54;
    pub const GETSOCKOPT: usize = 55;
    pub const EPOLL_CREATE: usize = 213;
    pub const EPOLL_WAIT: usize = 232;
    pub const EPOLL_CTL: usize = 233;
    pub const PPOLL: usize = 271;
    pub const EPOLL_PWAIT: usize = 281;
    pub const ACCEPT4: usize = 288;
    pub const EVENTFD2: usize = 290;
    pub const EPOLL_CREATE1: usize = 291;
    pub const EPOLL_PWAIT2: usize = 441;
    pub const CLONE: usize = 56;
    pub const EXIT: usize = 60;
    pub const KILL: usize = 62;
    pub const UNAME: usize = 63;
    pub const FCNTL: usize = 72;
    pub const FSYNC: usize = 74;
    pub const FDATASYNC: usize = 75;
    pub const FTRUNCATE: usize = 77;
    pub const GETCWD: usize = 79;
    pub const CHDIR: usize = 80;
    pub const FCHDIR: usize = 81;
    pub const GETTIMEOFDAY: usize = 96;
    pub const GETRLIMIT: usize = 97;
    pub const GETUID: usize = 102;
    pub const GETGID: usize = 104;
    pub const GETEUID: usize = 107;
    pub const GETEGID: usize = 108;
    pub const GETPPID: usize = 110;
    pub const SIGALTSTACK: usize = 131;
    pub const ARCH_PRCTL: usize = 158;
    pub const GETTID: usize = 186;
    pub const TIME: usize = 201;
    pub const FUTEX: usize = 202;
    pub const SCHED_GETAFFINITY: usize = 204;
    pub const GETDENTS64: usize = 217;
    pub const CLOCK_GETTIME: usize = 228;
    pub const CLOCK_GETRES: usize = 229;
    pub const CLOCK_NANOSLEEP: usize = 230;
    pub const EXIT_GROUP: usize = 231;
    pub const TGKILL: usize = 234;
    pub const OPENAT: usize = 257;
    pub const MKDIRAT: usize = 258;
    pub const NEWFSTATAT: usize = 262;
    pub const UNLINKAT: usize = 263;
    pub const RENAMEAT: usize = 264;
    pub const LINKAT: usize = 265;
    pub const SYMLINKAT: usize = 266;
    pub const READLINKAT: usize = 267;
    pub const FCHMODAT: usize = 268;
    pub const FACCESSAT: usize = 269;
    pub const DUP3: usize = 292;
    pub const PIPE2: usize = 293;
    pub const PRLIMIT64: usize = 302;
    pub const RENAMEAT2: usize = 316;
    pub const GETRANDOM: usize = 318;
    pub const STATX: usize = 332;
    pub const FCHMOD: usize = 91;
    pub const FCHOWN: usize = 93;
    pub const UTIMENSAT: usize = 280;
    pub const SPLICE: usize = 275;
    pub const COPY_FILE_RANGE: usize = 326;
    pub const PRCTL: usize = 157;
}

/// Turns a raw kernel return value into `Ok(value)` or `Err(errno)`.
#[inline(always)]
pub fn result(ret: usize) -> Result<usize, Errno> {
    // Linux returns -1..-4095 as errors (include/linux/err.h, MAX_ERRNO).
    if ret > usize::MAX - 4095 {
        Err(Errno(ret.wrapping_neg() as i32))
    } else {
        Ok(ret)
    }
}

/// # Safety
/// The caller must uphold the contract of system call `n` (pointer arguments valid for
/// the kernel's reads/writes, resources owned as the call requires).
#[inline(always)]
pub unsafe fn syscall0(n: usize) -> usize {
    let ret;
    // SAFETY: the caller upholds the syscall's contract; `syscall` clobbers only
    // rcx/r11 (declared) and rax (the result).
    unsafe {
        asm!("syscall", in("rax") n, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall1(n: usize, a0: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, lateout("rax") ret, out("rcx") _,
            out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall2(n: usize, a0: usize, a1: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, lateout("rax") ret,
            out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall3(n: usize, a0: usize, a1: usize, a2: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2,
            lateout("rax") ret, out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall4(n: usize, a0: usize, a1: usize, a2: usize, a3: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            lateout("rax") ret, out("rcx") _, out("r11") _, options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall5(n: usize, a0: usize, a1: usize, a2: usize, a3: usize, a4: usize) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            in("r8") a4, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// # Safety
/// As for [`syscall0`].
#[inline(always)]
pub unsafe fn syscall6(
    n: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> usize {
    let ret;
    // SAFETY: as in `syscall0`.
    unsafe {
        asm!("syscall", in("rax") n, in("rdi") a0, in("rsi") a1, in("rdx") a2, in("r10") a3,
            in("r8") a4, in("r9") a5, lateout("rax") ret, out("rcx") _, out("r11") _,
            options(nostack, preserves_flags));
    }
    ret
}

/// `syscall(2)`, defined non-variadic with all six argument slots: on x86_64 SysV
/// a variadic call passes its integer arguments in the same registers, and the
/// pass rewrites variadic call sites to this type. Unused slots carry garbage the
/// kernel ignores. Errors: -1 and errno.
///
/// # Safety
/// The caller must uphold the contract of system call `n`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn syscall(
    n: core::ffi::c_long,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> core::ffi::c_long {
    let Ok(n) = usize::try_from(n) else {
        crate::errno::set_errno(Errno::ENOSYS);
        return -1;
    };
    // SAFETY: per the caller.
    let r = result(unsafe { syscall6(n, a0, a1, a2, a3, a4, a5) });
    crate::errno::ret_isize(r) as core::ffi::c_long
}
