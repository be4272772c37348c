//! Static TLS and the per-thread control block (x86_64 TLS variant II).
//!
//! Per the ELF TLS ABI for x86_64 (Drepper, "ELF Handling For Thread-Local
//! Storage", variant II) the thread pointer (`fs` base) points at the thread
//! control block, whose first word points to itself (`%fs:0`), and the static TLS
//! block, an image of `PT_TLS`, ends at the thread pointer: a variable at offset
//! `o` of the segment lives at `tp - align_up(p_memsz, p_align) + o`. The static
//! image is all there is: no `dlopen`, so no DTV.
//!
//! The control block keeps glibc's `tcbhead_t` offsets for the words compiled code
//! may read directly (`%fs:0x28` stack-protector canary, `%fs:0x30` pointer guard)
//! and then holds the shim's own per-thread data: `errno` and the pthread state.

use core::ffi::c_int;
use core::mem::{align_of, size_of};
use core::ptr;
use core::sync::atomic::{AtomicUsize, Ordering};

use crate::dl::{PT_TLS, Phdr};
use crate::errno::Errno;
use crate::pthread::Thread;
use crate::syscall::{nr, result, syscall2};

/// The thread control block; the thread pointer points at it.
#[repr(C)]
#[derive(Debug)]
pub struct Tcb {
    /// `%fs:0`: points to this block (TLS ABI requirement).
    self_ptr: *mut Tcb,
    /// glibc's `dtv`, `self`, `multiple_threads`, `gscope_flag`: unused, kept so the
    /// next two fields sit at glibc's offsets.
    _glibc_reserved: [usize; 4],
    /// `%fs:0x28`: canary read by `-fstack-protector` code.
    pub stack_guard: usize,
    /// `%fs:0x30`: glibc's pointer guard; kept for layout, unused by the shim.
    pub pointer_guard: usize,
    /// This thread's C `errno`.
    pub errno: c_int,
    /// pthread state of this thread.
    pub thread: Thread,
}

const _: () = assert!(core::mem::offset_of!(Tcb, stack_guard) == 0x28);

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
fn tp_align() -> usize {
    TLS_ALIGN.load(Ordering::Relaxed).max(align_of::<Tcb>())
}

/// Distance from the start of the static TLS block to the thread pointer.
fn tls_offset() -> usize {
    TLS_OFFSET.load(Ordering::Relaxed)
}

/// Bytes a thread's TLS block plus control block need, alignment slack included.
pub fn block_size() -> usize {
    tls_offset() + size_of::<Tcb>() + tp_align()
}

/// Lays out static TLS and a fresh control block at the top of `[mem, mem+len)`.
///
/// Returns the thread pointer. The control block is initialised with `thread`.
///
/// # Safety
/// `[mem, mem+len)` must be writable memory owned by the caller, `len >=
/// block_size()`, and `record_image` must have run.
pub unsafe fn init_block(mem: *mut u8, len: usize, thread: Thread, stack_guard: usize) -> *mut Tcb {
    let top = mem as usize + len - size_of::<Tcb>();
    let tp = top & !(tp_align() - 1);
    let tls_start = tp - tls_offset();
    debug_assert!(tls_start >= mem as usize);
    let init = TLS_INIT.load(Ordering::Relaxed) as *const u8;
    let filesz = TLS_FILESZ.load(Ordering::Relaxed);
    let tcb = tp as *mut Tcb;
    // SAFETY: `tls_start..tp + size_of::<Tcb>()` lies inside the caller's block (the
    // slack in `block_size` covers the alignment); the TLS image is `filesz`
    // readable bytes of the loaded image; the rest of the block (.tbss) is zeroed.
    unsafe {
        if filesz > 0 {
            ptr::copy_nonoverlapping(init, tls_start as *mut u8, filesz);
        }
        ptr::write_bytes((tls_start + filesz) as *mut u8, 0, tp - tls_start - filesz);
        tcb.write(Tcb {
            self_ptr: tcb,
            _glibc_reserved: [0; 4],
            stack_guard,
            pointer_guard: 0,
            errno: 0,
            thread,
        });
    }
    tcb
}

/// Makes `tcb` the calling thread's thread pointer (`arch_prctl(ARCH_SET_FS)`).
///
/// # Safety
/// `tcb` must come from `init_block` and stay valid for the thread's lifetime.
pub unsafe fn set_thread_pointer(tcb: *mut Tcb) -> Result<(), Errno> {
    const ARCH_SET_FS: usize = 0x1002;
    // SAFETY: ARCH_SET_FS only changes this thread's fs base; the caller guarantees
    // the block it points to is a valid control block.
    result(unsafe { syscall2(nr::ARCH_PRCTL, ARCH_SET_FS, tcb as usize) }).map(|_| ())
}

/// The calling thread's control block.
#[inline(always)]
pub fn current() -> *mut Tcb {
    let tp: *mut Tcb;
    // SAFETY: start-up (and thread creation) set `fs` to a control block whose first
    // word points to itself before any code that calls this runs; reading it has
    // no side effects.
    unsafe {
        core::arch::asm!("mov {}, qword ptr fs:[0]", out(reg) tp,
            options(nostack, preserves_flags, readonly, pure));
    }
    tp
}

/// Address of the calling thread's `errno`.
#[inline(always)]
pub fn current_errno_ptr() -> *mut c_int {
    // SAFETY: `current()` is the live control block of this thread; taking a field
    // address creates no reference.
    unsafe { &raw mut (*current()).errno }
}

/// Start of the calling thread's static TLS block (`dlpi_tls_data`).
pub fn current_tls_block() -> *mut u8 {
    (current() as usize - tls_offset()) as *mut u8
}
