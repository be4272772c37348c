//! Linux error numbers: the ABI crate's [`Errno`] (`unikernel_abi::errno`), which holds
//! every number with its name; `{:?}` prints the name (`EINVAL`).
//!
//! Handlers return `Result<_, Errno>`; only the ABI edge (`syscall/table.rs`) turns an
//! `Errno` into the `-errno` return value. A bad user pointer (`unikernel_hal::uaccess::
//! Fault`) converts to `EFAULT` (the conversion lives in the hal, beside `Fault`).

pub use unikernel_abi::Errno;
