//! Memory named by system-call arguments.
//!
//! The application runs in the kernel's address space, so a buffer argument is just an
//! address. Before touching one, the kernel checks what Linux's `access_ok` and page
//! fault fix-ups together guarantee, and what a separate user address space gives
//! Linux for free: the range does not wrap, lies in the lower canonical half, lies in
//! memory the application owns, and every page of it is mapped (writable, for
//! writes); otherwise the call fails with `EFAULT` instead of corrupting or crashing
//! the kernel.
//!
//! The application owns
//!
//! - the loaded image except the kernel's data ([`image::kernel_data`]: the kernel's
//!   statics, its stacks and page tables, which the image's linker script keeps in one
//!   range): the headers, code and read-only data (including the initial files), and
//!   the application's own `.data` and `.bss`;
//! - whatever the kernel gave it outside the image: its `mmap` mappings (heap, thread
//!   stacks) and the main thread's stack. The kernel keeps that table, so it tells
//!   this layer through the predicate it registers with [`set_application_memory`].
//!
//! Everything else is the kernel's: free RAM (where page-table frames and the kernel's
//! own allocations may come from), the boot module, low memory. A read-only part of
//! the image passes the ownership test but not a write's page check.
//!
//! What it cannot check is the application's own aliasing discipline; as on Linux,
//! passing a buffer is the caller's promise that the kernel may read or write it for
//! the duration of the call. Nor can it tell the kernel's heap objects from the
//! application's while both come from the same global allocator (std's, the shim's
//! `malloc`): those lie in the application's mappings.

use core::ops::Range;

use spin::Once;

use crate::{image, paging};

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

/// Whether the application owns `start..start + len` outside the image.
pub type OwnedByApplication = fn(start: usize, len: usize) -> bool;

static APPLICATION_MEMORY: Once<OwnedByApplication> = Once::new();

/// Registers the kernel's answer to "does the application own this range outside the
/// image" (its mapping table). Until then, only the image counts. The predicate is
/// called with neither the page tables' lock nor any of this module's held.
pub fn set_application_memory(owns: OwnedByApplication) {
    APPLICATION_MEMORY.call_once(|| owns);
}

fn overlaps(range: &Range<usize>, start: usize, end: usize) -> bool {
    start < range.end && range.start < end
}

/// Whether the application owns all of `start..end` (`start < end`).
fn owned(start: usize, end: usize) -> bool {
    if overlaps(&image::kernel_data(), start, end) {
        return false;
    }
    let image = image::image();
    // The parts below and above the image must be the application's mappings.
    let outside = [(start, end.min(image.start)), (start.max(image.end), end)];
    outside.into_iter().all(|(lo, hi)| {
        lo >= hi
            || APPLICATION_MEMORY
                .get()
                .is_some_and(|owns| owns(lo, hi - lo))
    })
}

fn check(address: usize, len: usize, write: bool) -> Result<(), Fault> {
    let end = address.checked_add(len).ok_or(Fault)?;
    if address == 0
        || end > ADDRESS_LIMIT
        || !owned(address, end)
        || !paging::is_accessible(address, len, write)
    {
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
    // SAFETY: the range is the application's, so no kernel static or stack that Rust
    // code may be borrowing, and mapped readable (checked above); the caller of the
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
    // SAFETY: the range is the application's (never the kernel's data, which Rust
    // code may be borrowing) and mapped writable (checked above), handed over for
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

/// Reads `N` bytes that the kernel itself looks at, wherever they are: crash and
/// deadlock reports read stacks and futex words, which may be the kernel's own. Only
/// checks that the memory is mapped; never for an address a system call was given.
fn peek<const N: usize>(address: usize) -> Result<[u8; N], Fault> {
    let end = address.checked_add(N).ok_or(Fault)?;
    if address == 0 || end > ADDRESS_LIMIT || !paging::is_accessible(address, N, false) {
        return Err(Fault);
    }
    // SAFETY: the N bytes are mapped and readable (checked above); `read_unaligned`
    // assumes no alignment and copies the bytes out without creating a reference.
    Ok(unsafe { (address as *const [u8; N]).read_unaligned() })
}

/// A native-endian `u64` the kernel itself looks at (see [`peek`]): crash reports
/// walking a stack.
pub fn peek_u64(address: usize) -> Result<u64, Fault> {
    peek(address).map(u64::from_ne_bytes)
}

/// A native-endian `u32` the kernel itself looks at (see [`peek`]): the futex word in
/// a deadlock report.
pub fn peek_u32(address: usize) -> Result<u32, Fault> {
    peek(address).map(u32::from_ne_bytes)
}
