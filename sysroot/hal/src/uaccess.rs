//! Memory named by system-call arguments.
//!
//! The application runs in the kernel's address space, so a buffer argument is just an
//! address. Before touching one, the kernel checks what Linux's `access_ok` and page
//! fault fix-ups together guarantee: the range does not wrap, lies in the lower
//! canonical half, and every page of it is mapped (writable, for writes); otherwise the
//! call fails with `EFAULT` instead of crashing. What it cannot check is the
//! application's own aliasing discipline; as on Linux, passing a buffer is the caller's
//! promise that the kernel may read or write it for the duration of the call.

use crate::paging;

/// A bad address (the `EFAULT` of the system call).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Fault;

/// A handler's `?` on a [`Fault`] fails the system call with `EFAULT` (the impl lives
/// here because the error type is the ABI crate's and `Fault` is this crate's).
impl From<Fault> for unikernel_abi::Errno {
    fn from(_: Fault) -> Self {
        unikernel_abi::Errno::EFAULT
    }
}

/// End of the lower canonical half with 4-level paging.
const ADDRESS_LIMIT: usize = 0x0000_8000_0000_0000;

fn check(address: usize, len: usize, write: bool) -> Result<(), Fault> {
    let end = address.checked_add(len).ok_or(Fault)?;
    if address == 0 || end > ADDRESS_LIMIT || !paging::is_accessible(address, len, write) {
        return Err(Fault);
    }
    Ok(())
}

/// Runs `f` on the `len` bytes at `address`.
pub fn with_bytes<R>(address: usize, len: usize, f: impl FnOnce(&[u8]) -> R) -> Result<R, Fault> {
    if len == 0 {
        return Ok(f(&[]));
    }
    check(address, len, false)?;
    // SAFETY: the range is mapped and readable (checked above); the caller of the
    // system call handed it over for this call (module docs); the single CPU runs
    // only this code while the slice lives.
    let bytes = unsafe { core::slice::from_raw_parts(address as *const u8, len) };
    Ok(f(bytes))
}

/// Copies `dst.len()` bytes from `address`.
pub fn copy_from(address: usize, dst: &mut [u8]) -> Result<(), Fault> {
    with_bytes(address, dst.len(), |src| dst.copy_from_slice(src))
}

/// Copies `src` to `address`.
pub fn copy_to(address: usize, src: &[u8]) -> Result<(), Fault> {
    if src.is_empty() {
        return Ok(());
    }
    check(address, src.len(), true)?;
    // SAFETY: the range is mapped writable (checked above) and was handed over for
    // this call (module docs); `src` is kernel memory, so the two cannot overlap
    // unless the caller passed its own buffer, which copy semantics allow anyway as
    // `copy` (memmove) is used.
    unsafe { core::ptr::copy(src.as_ptr(), address as *mut u8, src.len()) };
    Ok(())
}

/// Reads a native-endian `u32` (e.g. a futex word).
pub fn read_u32(address: usize) -> Result<u32, Fault> {
    let mut bytes = [0; 4];
    copy_from(address, &mut bytes)?;
    Ok(u32::from_ne_bytes(bytes))
}

/// Reads a native-endian `u64`.
pub fn read_u64(address: usize) -> Result<u64, Fault> {
    let mut bytes = [0; 8];
    copy_from(address, &mut bytes)?;
    Ok(u64::from_ne_bytes(bytes))
}
