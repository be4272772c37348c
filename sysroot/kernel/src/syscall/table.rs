//! The system-call table and the ABI edge.
//!
//! Each line `NR => NAME: HANDLER` exports
//! `extern "C" fn __unikernel_sys_NAME(a0, a1, a2, a3, a4, a5: usize) -> isize` and adds
//! the number to the dispatcher `__unikernel_syscall`. This module is the only place
//! where `Result<_, Errno>` becomes the raw `-errno` convention.
// Exporting unmangled C symbols needs `#[unsafe(no_mangle)]`/`export_name`, which the
// crate-wide `deny(unsafe_code)` flags; these attributes are the whole of it here.
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use unikernel_hal::SyscallFrame;

use super::{clone, fs, futex, io, mm, names, process, random, sched, signal, time};
use super::{SysResult, SyscallArgs};
use crate::errno::Errno;
use crate::log::kinfo;

/// Turns a handler's result into the value the caller sees in `rax`.
fn abi_return(result: SysResult) -> isize {
    match result {
        Ok(value) => isize::try_from(value).unwrap_or(Errno::EOVERFLOW.to_return_value()),
        Err(errno) => errno.to_return_value(),
    }
}

macro_rules! syscall_table {
    ($($nr:literal => $name:ident: $handler:path,)*) => {
        /// The C-ABI entries, one per implemented system call.
        pub mod entries {
            use super::*;
            $(
                #[unsafe(export_name = concat!("__unikernel_sys_", stringify!($name)))]
                pub extern "C" fn $name(a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
                    abi_return($handler(SyscallArgs([a0, a1, a2, a3, a4, a5])))
                }
            )*
        }

        fn dispatch(nr: usize, args: SyscallArgs) -> isize {
            match nr {
                $($nr => abi_return($handler(args)),)*
                _ => unimplemented(nr),
            }
        }

        /// Number and name of every implemented system call (for tools and reports).
        pub const IMPLEMENTED: &[(usize, &str)] = &[$(($nr, stringify!($name)),)*];
    };
}

syscall_table! {
    0 => read: io::read,
    1 => write: io::write,
    2 => open: fs::open,
    3 => close: io::close,
    4 => stat: fs::stat,
    5 => fstat: fs::fstat,
    6 => lstat: fs::lstat,
    7 => poll: io::poll,
    8 => lseek: io::lseek,
    9 => mmap: mm::mmap,
    10 => mprotect: mm::mprotect,
    11 => munmap: mm::munmap,
    12 => brk: mm::brk,
    13 => rt_sigaction: signal::rt_sigaction,
    14 => rt_sigprocmask: signal::rt_sigprocmask,
    16 => ioctl: io::ioctl,
    17 => pread64: io::pread64,
    18 => pwrite64: io::pwrite64,
    19 => readv: io::readv,
    20 => writev: io::writev,
    21 => access: fs::access,
    22 => pipe: io::pipe,
    24 => sched_yield: sched::sched_yield,
    25 => mremap: mm::mremap,
    28 => madvise: mm::madvise,
    32 => dup: io::dup,
    33 => dup2: io::dup2,
    35 => nanosleep: time::nanosleep,
    39 => getpid: process::getpid,
    40 => sendfile: io::sendfile,
    60 => exit: process::exit,
    63 => uname: process::uname,
    72 => fcntl: io::fcntl,
    74 => fsync: io::fsync,
    75 => fdatasync: io::fsync,
    76 => truncate: fs::truncate,
    77 => ftruncate: io::ftruncate,
    79 => getcwd: fs::getcwd,
    80 => chdir: fs::chdir,
    81 => fchdir: fs::fchdir,
    82 => rename: fs::rename,
    83 => mkdir: fs::mkdir,
    84 => rmdir: fs::rmdir,
    85 => creat: fs::creat,
    86 => link: fs::link,
    87 => unlink: fs::unlink,
    88 => symlink: fs::symlink,
    89 => readlink: fs::readlink,
    90 => chmod: fs::chmod,
    91 => fchmod: fs::fchmod,
    95 => umask: fs::umask,
    96 => gettimeofday: time::gettimeofday,
    97 => getrlimit: process::getrlimit,
    102 => getuid: process::getuid,
    104 => getgid: process::getgid,
    107 => geteuid: process::geteuid,
    108 => getegid: process::getegid,
    110 => getppid: process::getppid,
    131 => sigaltstack: signal::sigaltstack,
    158 => arch_prctl: process::arch_prctl,
    186 => gettid: process::gettid,
    201 => time: time::time,
    202 => futex: futex::futex,
    204 => sched_getaffinity: sched::sched_getaffinity,
    217 => getdents64: fs::getdents64,
    218 => set_tid_address: process::set_tid_address,
    228 => clock_gettime: time::clock_gettime,
    229 => clock_getres: time::clock_getres,
    230 => clock_nanosleep: time::clock_nanosleep,
    231 => exit_group: process::exit_group,
    257 => openat: fs::openat,
    258 => mkdirat: fs::mkdirat,
    262 => newfstatat: fs::newfstatat,
    263 => unlinkat: fs::unlinkat,
    264 => renameat: fs::renameat,
    265 => linkat: fs::linkat,
    266 => symlinkat: fs::symlinkat,
    267 => readlinkat: fs::readlinkat,
    268 => fchmodat: fs::fchmodat,
    269 => faccessat: fs::faccessat,
    273 => set_robust_list: process::set_robust_list,
    280 => utimensat: fs::utimensat,
    292 => dup3: io::dup3,
    293 => pipe2: io::pipe2,
    295 => preadv: io::preadv,
    296 => pwritev: io::pwritev,
    302 => prlimit64: process::prlimit64,
    316 => renameat2: fs::renameat2,
    318 => getrandom: random::getrandom,
    326 => copy_file_range: io::copy_file_range,
    332 => statx: fs::statx,
    439 => faccessat2: fs::faccessat2,
}

/// Numbers already reported as unimplemented (one bit each, 0..512).
static REPORTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

fn unimplemented(nr: usize) -> isize {
    let first_time = match REPORTED.get(nr / 64) {
        Some(word) => word.fetch_or(1 << (nr % 64), Ordering::Relaxed) & (1 << (nr % 64)) == 0,
        None => true,
    };
    if first_time {
        match names::name(nr) {
            Some(name) => kinfo!("unimplemented system call {name} ({nr}): returning ENOSYS"),
            None => kinfo!("unknown system call {nr}: returning ENOSYS"),
        }
    }
    Errno::ENOSYS.to_return_value()
}

/// System calls that act on the caller's register frame: the child of `clone` resumes
/// from a copy of it; `fork`, `vfork`, `clone3`, `execve` and `rt_sigreturn` would
/// need it too and are not implemented.
const FRAME_ONLY: [usize; 6] = [15, 56, 57, 58, 59, 435];
const SYS_CLONE: usize = 56;

/// The frame dispatcher: the `syscall`-instruction trap path and
/// `__unikernel_syscall_stub` (hal `syscall_entry`) land here with the caller's
/// registers.
#[unsafe(no_mangle)]
pub fn __unikernel_syscall_frame(frame: &mut SyscallFrame) {
    let nr = frame.number();
    let result = if nr == SYS_CLONE {
        abi_return(clone::clone(frame))
    } else {
        dispatch(nr, SyscallArgs(frame.args()))
    };
    frame.set_return(result);
}

static FRAME_REPORTED: AtomicBool = AtomicBool::new(false);

/// The dispatcher: system calls whose number is not a compile-time constant, called
/// directly (no register frame).
#[unsafe(no_mangle)]
pub extern "C" fn __unikernel_syscall(
    nr: usize,
    a0: usize,
    a1: usize,
    a2: usize,
    a3: usize,
    a4: usize,
    a5: usize,
) -> isize {
    if FRAME_ONLY.contains(&nr) {
        if !FRAME_REPORTED.swap(true, Ordering::Relaxed) {
            let name = names::name(nr).unwrap_or("?");
            kinfo!("system call {name} ({nr}) through the dispatcher: it needs the caller's register frame (the syscall instruction or __unikernel_syscall_stub); returning ENOSYS");
        }
        return Errno::ENOSYS.to_return_value();
    }
    dispatch(nr, SyscallArgs([a0, a1, a2, a3, a4, a5]))
}
