//! Linux error numbers (`include/uapi/asm-generic/errno-base.h`, `errno.h`).
//!
//! Handlers return `Result<_, Errno>`; only the ABI edge (`syscall/table.rs`) turns an
//! `Errno` into the `-errno` return value.

/// A Linux error number.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(i32)]
#[allow(clippy::upper_case_acronyms, reason = "the names are Linux's")]
pub enum Errno {
    EPERM = 1,
    ENOENT = 2,
    ESRCH = 3,
    EINTR = 4,
    EIO = 5,
    ENXIO = 6,
    E2BIG = 7,
    EBADF = 9,
    EAGAIN = 11,
    ENOMEM = 12,
    EACCES = 13,
    EFAULT = 14,
    EBUSY = 16,
    EEXIST = 17,
    EXDEV = 18,
    ENODEV = 19,
    ENOTDIR = 20,
    EISDIR = 21,
    EINVAL = 22,
    ENFILE = 23,
    EMFILE = 24,
    ENOTTY = 25,
    ETXTBSY = 26,
    EFBIG = 27,
    ENOSPC = 28,
    ESPIPE = 29,
    EROFS = 30,
    EMLINK = 31,
    EPIPE = 32,
    ERANGE = 34,
    ENAMETOOLONG = 36,
    ENOSYS = 38,
    ENOTEMPTY = 39,
    ELOOP = 40,
    EOVERFLOW = 75,
    EOPNOTSUPP = 95,
    ETIMEDOUT = 110,
}

impl Errno {
    /// The value a system call returns for this error.
    pub fn to_return_value(self) -> isize {
        -(self as i32 as isize)
    }
}

impl From<unikernel_hal::uaccess::Fault> for Errno {
    fn from(_: unikernel_hal::uaccess::Fault) -> Self {
        Errno::EFAULT
    }
}
