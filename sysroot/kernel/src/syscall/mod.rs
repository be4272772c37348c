//! Linux system calls (x86-64 numbering and semantics).
//!
//! Numbers, names and the register-frame calls of every x86-64 system call are the ABI
//! crate's (`unikernel_abi::syscall`, shared with the shim and the build pass);
//! `list.rs` is the one declarative table of what this kernel implements, by which
//! handler. `table.rs` generates from the two the C-ABI entry `__unikernel_sys_NAME`
//! of every implemented call and `__unikernel_enosys_NAME` of every other one (the
//! build pass turns constant-number sites into direct calls of these), the dispatcher
//! `__unikernel_syscall` (non-constant numbers) and the frame dispatcher (the `LSTAR`
//! trap path and `__unikernel_syscall_stub`; `clone`).
//!
//! Handlers take the raw [`SyscallArgs`], convert each argument to its type with
//! [`SyscallArgs::get`] (a checked conversion: never a silent truncation) and return
//! `Result<usize, Errno>`; the table turns errors into `-errno`. One file per family.

mod clone;
mod dispatch;
mod event;
mod fs;
mod futex;
mod io;
mod list;
mod mm;
mod net;
mod process;
mod random;
mod sched;
mod signal;
mod table;
mod time;
pub mod trace;

pub use list::IMPLEMENTED;

use crate::errno::Errno;

/// What every handler returns.
pub type SysResult = Result<usize, Errno>;

/// The six raw argument registers of a system call (`rdi, rsi, rdx, r10, r8, r9`).
#[derive(Clone, Copy, Debug)]
pub struct SyscallArgs(pub [usize; 6]);

impl SyscallArgs {
    /// Argument `index` converted to `T` (fails with `T`'s errno, usually `EINVAL`).
    pub fn get<T: FromArg>(&self, index: usize) -> Result<T, Errno> {
        T::from_arg(self.0[index])
    }
}

/// Conversion of a raw argument register to a typed argument.
pub trait FromArg: Sized {
    fn from_arg(raw: usize) -> Result<Self, Errno>;
}

impl FromArg for usize {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        Ok(raw)
    }
}

impl FromArg for u64 {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        Ok(raw as u64) // usize is u64 on x86-64
    }
}

impl FromArg for isize {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        Ok(raw.cast_signed())
    }
}

/// The low 32 bits of a register holding a C `int`/`unsigned`. Linux converts every
/// argument to the type its handler declares (`SYSCALL_DEFINE`), so an `int` argument
/// is the register's low half whatever the high half holds: `umask` of any value
/// works, and a descriptor with high bits set names the descriptor of its low half.
fn low32(raw: usize) -> Result<u32, Errno> {
    Ok(raw as u32)
}

impl FromArg for u32 {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        low32(raw)
    }
}

impl FromArg for i32 {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        low32(raw).map(u32::cast_signed)
    }
}

/// An address in the application's memory (may be NULL; checked on use by
/// `unikernel_hal::uaccess`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct UserAddr(pub usize);

impl UserAddr {
    pub fn is_null(self) -> bool {
        self.0 == 0
    }

    /// `self + offset`, or `EFAULT` on overflow.
    pub fn offset(self, offset: usize) -> Result<UserAddr, Errno> {
        self.0
            .checked_add(offset)
            .map(UserAddr)
            .ok_or(Errno::EFAULT)
    }
}

impl FromArg for UserAddr {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        Ok(UserAddr(raw))
    }
}

/// A file descriptor (a non-negative `int`; negative ones fail with `EBADF`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fd(pub u32);

impl FromArg for Fd {
    fn from_arg(raw: usize) -> Result<Self, Errno> {
        let fd = i32::from_arg(raw).map_err(|_| Errno::EBADF)?;
        u32::try_from(fd).map(Fd).map_err(|_| Errno::EBADF)
    }
}

/// Reads a `struct timespec` (`{ i64 tv_sec; i64 tv_nsec; }`), validated as Linux's
/// `timespec64_valid`: non-negative seconds, nanoseconds below 10^9.
pub fn read_timespec(addr: UserAddr) -> Result<(u64, u64), Errno> {
    let mut bytes = [0u8; 16];
    unikernel_hal::uaccess::copy_from(addr.0, &mut bytes)?;
    let (sec, nsec) = bytes.split_at(8);
    let sec = i64::from_ne_bytes(sec.try_into().map_err(|_| Errno::EFAULT)?);
    let nsec = i64::from_ne_bytes(nsec.try_into().map_err(|_| Errno::EFAULT)?);
    let sec = u64::try_from(sec).map_err(|_| Errno::EINVAL)?;
    let nsec = u64::try_from(nsec)
        .ok()
        .filter(|&n| n < 1_000_000_000)
        .ok_or(Errno::EINVAL)?;
    Ok((sec, nsec))
}

/// Writes a `struct timespec` for `ns` nanoseconds.
pub fn write_timespec(addr: UserAddr, ns: u64) -> Result<(), Errno> {
    let mut bytes = [0u8; 16];
    bytes[..8].copy_from_slice(&((ns / 1_000_000_000) as i64).to_ne_bytes());
    bytes[8..].copy_from_slice(&((ns % 1_000_000_000) as i64).to_ne_bytes());
    unikernel_hal::uaccess::copy_to(addr.0, &bytes)?;
    Ok(())
}

/// Nanoseconds in a validated timespec, saturating.
pub fn timespec_ns((sec, nsec): (u64, u64)) -> u64 {
    sec.saturating_mul(1_000_000_000).saturating_add(nsec)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Found by the fuzzer (`examples/fuzz`, seed 1): `umask` of a value with high
    /// bits set failed with EINVAL, which Linux never returns for it.
    #[test]
    fn int_arguments_are_the_low_half_of_the_register() {
        assert_eq!(u32::from_arg(0xff2e_8715_0190_8cce), Ok(0x0190_8cce));
        assert_eq!(i32::from_arg(usize::MAX), Ok(-1));
        assert_eq!(i32::from_arg(0x1_0000_0005), Ok(5));
        assert_eq!(Fd::from_arg((1 << 40) | 1000), Ok(Fd(1000)));
        assert_eq!(Fd::from_arg(usize::MAX), Err(Errno::EBADF));
        assert_eq!(Fd::from_arg(0x8000_0000), Err(Errno::EBADF));
    }
}
