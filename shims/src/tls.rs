//! Static TLS: the layout of a thread's TLS block around its thread pointer
//! (x86_64 TLS variant II), and installing the thread pointer.
//!
//! Per the ELF TLS ABI for x86_64 (Drepper, "ELF Handling For Thread-Local
//! Storage", variant II) the thread pointer (`fs` base) points at the thread
//! control block (`tcb::Tcb`, first in the pthread layer's thread descriptor), and
//! the static TLS block, an image of `PT_TLS`, ends at the thread pointer: a
//! variable at offset `o` of the segment lives at `tp - align_up(p_memsz, p_align)
//! + o`. The static image is all there is: no `dlopen`, so no DTV.
//!
//! The layout is generic over the control block type `T` the caller puts at the
//! thread pointer, so this module needs nothing from the thread layer above it.

use core::mem::{align_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::elf::{PT_TLS, Phdr};
use crate::errno::Errno;
use crate::syscall::{nr, result, syscall2};
use crate::tcb::{self, Tcb};

/// `PT_TLS` of the running image, recorded once at start-up.
static TLS_INIT: AtomicUsize = AtomicUsize::new(0);
/// Distance from the start of the TLS block to the thread pointer.
static TLS_OFFSET: AtomicUsize = AtomicUsize::new(0);
static TLS_FILESZ: AtomicUsize = AtomicUsize::new(0);
static TLS_ALIGN: AtomicUsize = AtomicUsize::new(1);

/// Records the image's `PT_TLS` segment (if any) from its program headers.
///
/// # Safety
/// `phdrs` must be the running image's program headers and `base` its load bias.
pub unsafe fn record_image(phdrs: &[Phdr], base: usize) {
    if let Some(tls) = phdrs.iter().find(|p| p.p_type == PT_TLS) {
        let align = usize::try_from(tls.p_align)
            .unwrap_or(1)
            .max(1)
            .next_power_of_two();
        TLS_INIT.store(base.wrapping_add(tls.p_vaddr as usize), Ordering::Relaxed);
        TLS_FILESZ.store(tls.p_filesz as usize, Ordering::Relaxed);
        TLS_ALIGN.store(align, Ordering::Relaxed);
        // The block ends at the thread pointer, and its start must be congruent to
        // p_vaddr modulo p_align: memsz plus the padding that achieves that (the
        // formula lld uses to compute the offsets baked into the code, and glibc's
        // static TLS layout).
        let memsz = tls.p_memsz as usize;
        let pad = (0usize
            .wrapping_sub(tls.p_vaddr as usize)
            .wrapping_sub(memsz))
            & (align - 1);
        TLS_OFFSET.store(memsz + pad, Ordering::Relaxed);
    }
}

/// Alignment of the thread pointer: the TLS segment's and the control block's.
fn tp_align<T>() -> usize {
    TLS_ALIGN.load(Ordering::Relaxed).max(align_of::<T>())
}

/// Distance from the start of the static TLS block to the thread pointer.
fn tls_offset() -> usize {
    TLS_OFFSET.load(Ordering::Relaxed)
}

/// Bytes a thread's TLS block plus a control block `T` need, alignment slack
/// included.
pub fn block_size<T>() -> usize {
    tls_offset() + size_of::<T>() + tp_align::<T>()
}

/// Lays out static TLS at the top of `[mem, mem+len)`, leaving room for a control
/// block `T` at the thread pointer.
///
/// Returns the thread pointer, where the caller must then write its `T` (which
/// must start with a [`Tcb`]) before installing it.
///
/// # Safety
/// `[mem, mem+len)` must be writable memory owned by the caller, `len >=
/// block_size::<T>()`, and `record_image` must have run.
pub unsafe fn init_block<T>(mem: *mut u8, len: usize) -> *mut T {
    let top = mem as usize + len - size_of::<T>();
    let tp = top & !(tp_align::<T>() - 1);
    let tls_start = tp - tls_offset();
    debug_assert!(tls_start >= mem as usize);
    let init = TLS_INIT.load(Ordering::Relaxed) as *const u8;
    let filesz = TLS_FILESZ.load(Ordering::Relaxed);
    // SAFETY: `tls_start..tp` lies inside the caller's block (the slack in
    // `block_size` covers the alignment); the TLS image is `filesz` readable bytes
    // of the loaded image; the rest of the block (.tbss) is zeroed.
    unsafe {
        if filesz > 0 {
            ptr::copy_nonoverlapping(init, tls_start as *mut u8, filesz);
        }
        ptr::write_bytes((tls_start + filesz) as *mut u8, 0, tp - tls_start - filesz);
    }
    tp as *mut T
}

/// Makes `tcb` the calling thread's thread pointer (`arch_prctl(ARCH_SET_FS)`).
///
/// # Safety
/// `tcb` must be the thread pointer `init_block` returned, with its control block
/// written, and stay valid for the thread's lifetime.
pub unsafe fn set_thread_pointer(tcb: *mut Tcb) -> Result<(), Errno> {
    const ARCH_SET_FS: usize = 0x1002;
    // SAFETY: ARCH_SET_FS only changes this thread's fs base; the caller guarantees
    // the block it points to is a valid control block.
    result(unsafe { syscall2(nr::ARCH_PRCTL, ARCH_SET_FS, tcb as usize) }).map(|_| ())
}

/// Start of the calling thread's static TLS block (`dlpi_tls_data`).
pub fn current_tls_block() -> *mut u8 {
    (tcb::current() as usize - tls_offset()) as *mut u8
}
