//! The heap the kernel's `alloc` use needs (the VFS allocates). In the real program
//! std's allocator shim defines `__rust_alloc` & co.; this test has no std, so
//! `run.sh` points those (mangled) symbols at the functions below with `--defsym`.
//! A bump allocator over a static arena: freeing is a no-op, which is plenty for
//! one boot.

use core::sync::atomic::{AtomicUsize, Ordering};

const ARENA_SIZE: usize = 4 << 20;

#[repr(C, align(4096))]
struct Arena([u8; ARENA_SIZE]);

static mut ARENA: Arena = Arena([0; ARENA_SIZE]);
static NEXT: AtomicUsize = AtomicUsize::new(0);

#[unsafe(no_mangle)]
pub extern "C" fn boot_test_rust_alloc(size: usize, align: usize) -> *mut u8 {
    let base = (&raw mut ARENA) as usize;
    let mut result = core::ptr::null_mut();
    let _ = NEXT.fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
        let start = (base + next).next_multiple_of(align.max(1)) - base;
        let end = start.checked_add(size).filter(|&e| e <= ARENA_SIZE)?;
        result = (base + start) as *mut u8;
        Some(end)
    });
    result
}

/// Arena memory starts zeroed and is never reused.
#[unsafe(no_mangle)]
pub extern "C" fn boot_test_rust_alloc_zeroed(size: usize, align: usize) -> *mut u8 {
    boot_test_rust_alloc(size, align)
}

#[unsafe(no_mangle)]
pub extern "C" fn boot_test_rust_dealloc(_ptr: *mut u8, _size: usize, _align: usize) {}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn boot_test_rust_realloc(
    ptr: *mut u8,
    old: usize,
    align: usize,
    new: usize,
) -> *mut u8 {
    let fresh = boot_test_rust_alloc(new, align);
    if !fresh.is_null() {
        // SAFETY: `ptr` holds `old` bytes (the allocator contract) and `fresh` is a new
        // block of `new` bytes that overlaps nothing.
        unsafe { core::ptr::copy_nonoverlapping(ptr, fresh, old.min(new)) };
    }
    fresh
}

#[unsafe(no_mangle)]
pub extern "C" fn boot_test_rust_alloc_error_handler(size: usize, _align: usize) -> ! {
    panic!("boot-test heap exhausted ({size} bytes wanted)")
}

/// Called by `alloc` to make sure an allocator shim is linked (it is: this one).
#[unsafe(no_mangle)]
pub extern "C" fn boot_test_rust_no_alloc_shim_is_unstable_v2() {}
