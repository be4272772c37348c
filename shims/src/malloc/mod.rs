//! The malloc family on `dlmalloc`, fed with anonymous `mmap` memory and
//! serialised by one futex mutex; blocks of 256 KiB and more are mappings of their
//! own (`mapped`), grown with `mremap` and returned with `munmap`.
//!
//! No `#[global_allocator]` here: std's `System` allocator calls these functions,
//! so Rust and C allocations share one heap. Alignment rules follow glibc: plain
//! `malloc` returns 16-byte-aligned memory (`2 * size_of::<usize>()`).

use core::ffi::{c_int, c_void};
use core::ptr;

use dlmalloc::{Allocator, Dlmalloc};

use crate::errno::{Errno, set_errno};
use crate::lock::Mutex;
use crate::mman;

mod mapped;

/// dlmalloc's system-memory source: private anonymous mappings.
#[derive(Debug)]
struct MmapSource;

// SAFETY: every region handed out is a fresh private mapping owned by dlmalloc
// until it gives it back through `free`/`free_part`.
unsafe impl Allocator for MmapSource {
    fn alloc(&self, size: usize) -> (*mut u8, usize, u32) {
        match mman::map_anonymous(size) {
            Ok(p) => (p, size, 0),
            Err(_) => (ptr::null_mut(), 0, 0),
        }
    }

    fn remap(&self, ptr: *mut u8, oldsize: usize, newsize: usize, can_move: bool) -> *mut u8 {
        mman::remap(ptr, oldsize, newsize, can_move).unwrap_or(ptr::null_mut())
    }

    fn free_part(&self, ptr: *mut u8, oldsize: usize, newsize: usize) -> bool {
        // Shrink in place by trimming the tail pages (or by mremap, which may fail).
        mman::remap(ptr, oldsize, newsize, false).is_ok()
            || mman::unmap(ptr.wrapping_add(newsize), oldsize - newsize).is_ok()
    }

    fn free(&self, ptr: *mut u8, size: usize) -> bool {
        mman::unmap(ptr, size).is_ok()
    }

    fn can_release_part(&self, _flags: u32) -> bool {
        true
    }

    fn allocates_zeros(&self) -> bool {
        true
    }

    fn page_size(&self) -> usize {
        crate::auxv::page_size()
    }
}

static HEAP: Mutex<Dlmalloc<MmapSource>> = Mutex::new(Dlmalloc::new_with_allocator(MmapSource));

/// The natural malloc alignment.
const MALLOC_ALIGN: usize = 2 * size_of::<usize>();

/// Allocates `size` bytes (16-byte aligned); null on failure. Does not set errno.
pub fn alloc_raw(size: usize) -> *mut u8 {
    if size >= mapped::THRESHOLD {
        return mapped::alloc(size);
    }
    // SAFETY: c_malloc has no preconditions.
    unsafe { HEAP.lock().c_malloc(size) }
}

/// Frees memory from `alloc_raw`/`malloc`.
///
/// # Safety
/// `p` must be null or a live allocation of this heap.
pub unsafe fn free_raw(p: *mut u8) {
    if !p.is_null() && mapped::owns(p) {
        // SAFETY: a live block of the mapped allocator, per the caller.
        return unsafe { mapped::free(p) };
    }
    // SAFETY: per the caller.
    unsafe { HEAP.lock().c_free(p) }
}

/// `malloc(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn malloc(size: usize) -> *mut c_void {
    let p = alloc_raw(size);
    if p.is_null() {
        set_errno(Errno::ENOMEM);
    }
    p.cast()
}

/// `free(3)`.
///
/// # Safety
/// `p` must be null or a live allocation of this heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn free(p: *mut c_void) {
    // SAFETY: per the caller.
    unsafe { free_raw(p.cast()) }
}

/// `calloc(3)`: zeroed `n * size` bytes, ENOMEM on overflow.
#[unsafe(no_mangle)]
pub extern "C" fn calloc(n: usize, size: usize) -> *mut c_void {
    let Some(total) = n.checked_mul(size) else {
        set_errno(Errno::ENOMEM);
        return ptr::null_mut();
    };
    let p = if total >= mapped::THRESHOLD {
        mapped::alloc(total) // fresh anonymous memory: zeroed
    } else {
        // SAFETY: `calloc` zeroes unless the chunk is fresh zeroed mmap memory.
        unsafe { HEAP.lock().calloc(total, MALLOC_ALIGN) }
    };
    if p.is_null() {
        set_errno(Errno::ENOMEM);
    }
    p.cast()
}

/// `realloc(3)`.
///
/// # Safety
/// `p` must be null or a live allocation of this heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn realloc(p: *mut c_void, size: usize) -> *mut c_void {
    let p: *mut u8 = p.cast();
    let mapped = !p.is_null() && mapped::owns(p);
    let q = match (mapped, size >= mapped::THRESHOLD) {
        // SAFETY: per the caller, `p` is a live block of the mapped allocator.
        (true, true) => unsafe { mapped::realloc(p, size) },
        // SAFETY: per the caller; `move_block` copies what both sizes hold.
        (true, false) | (false, true) if size != 0 => unsafe { move_block(p, size) },
        (true, false) => {
            // SAFETY: per the caller; `realloc(p, 0)` frees, as glibc's does.
            unsafe { mapped::free(p) };
            ptr::null_mut()
        }
        // SAFETY: per the caller.
        _ => unsafe { HEAP.lock().c_realloc(p, size) },
    };
    if q.is_null() && size != 0 {
        set_errno(Errno::ENOMEM);
    }
    q.cast()
}

/// `realloc` across the mapped allocator's threshold: a new block from the side that
/// fits `size`, the bytes both hold copied, the old block freed; null (and `p`
/// untouched) on failure.
///
/// # Safety
/// `p` must be null or a live allocation of this heap.
unsafe fn move_block(p: *mut u8, size: usize) -> *mut u8 {
    let q = alloc_raw(size);
    if q.is_null() || p.is_null() {
        return q;
    }
    // SAFETY: `p` is live (caller); `q` is a fresh block of at least `size` bytes.
    unsafe {
        let old = malloc_usable_size(p.cast());
        ptr::copy_nonoverlapping(p, q, old.min(size));
        free_raw(p);
    }
    q
}

/// Allocates `size` bytes aligned to `align` (a power of two), null on failure.
fn alloc_aligned(align: usize, size: usize) -> *mut u8 {
    // SAFETY: callers check that `align` is a power of two.
    unsafe { HEAP.lock().c_memalign(align, size) }
}

/// `posix_memalign(3)`: returns the error number instead of setting errno.
///
/// # Safety
/// `out` must be valid for a pointer write.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn posix_memalign(out: *mut *mut c_void, align: usize, size: usize) -> c_int {
    if !align.is_power_of_two() || !align.is_multiple_of(size_of::<usize>()) {
        return Errno::EINVAL.0;
    }
    let p = alloc_aligned(align, size);
    if p.is_null() {
        return Errno::ENOMEM.0;
    }
    // SAFETY: per the caller.
    unsafe { *out = p.cast() };
    0
}

/// `aligned_alloc(3)` (C11): EINVAL unless `align` is a power of two.
#[unsafe(no_mangle)]
pub extern "C" fn aligned_alloc(align: usize, size: usize) -> *mut c_void {
    memalign(align, size)
}

/// `memalign(3)`.
#[unsafe(no_mangle)]
pub extern "C" fn memalign(align: usize, size: usize) -> *mut c_void {
    if !align.is_power_of_two() {
        set_errno(Errno::EINVAL);
        return ptr::null_mut();
    }
    let p = alloc_aligned(align, size);
    if p.is_null() {
        set_errno(Errno::ENOMEM);
    }
    p.cast()
}

/// `malloc_usable_size(3)`: bytes usable in the allocation at `p`.
///
/// Reads dlmalloc's boundary tag (the word before the user pointer: chunk size
/// with three flag bits; `PINUSE`/`CINUSE` both clear marks a directly mmapped
/// chunk), the layout of dlmalloc 2.8.x that the `dlmalloc` crate keeps.
///
/// # Safety
/// `p` must be null or a live allocation of this heap.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn malloc_usable_size(p: *mut c_void) -> usize {
    if p.is_null() {
        return 0;
    }
    if mapped::owns(p.cast()) {
        // SAFETY: a live block of the mapped allocator, per the caller.
        return unsafe { mapped::usable_size(p.cast()) };
    }
    // SAFETY: a live chunk's head word directly precedes its user memory.
    let head = unsafe { *p.cast::<usize>().sub(1) };
    let size = head & !7;
    let mmapped = head & 3 == 0;
    // In-use chunk overhead: one word; mmapped chunks carry a second (footer).
    size - if mmapped {
        2 * size_of::<usize>()
    } else {
        size_of::<usize>()
    }
}
