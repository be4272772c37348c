//! The program's allocator: the kernel's `alloc` use needs one (the VFS allocates). In
//! the real program std's allocator and rustc's allocator shim serve `__rust_alloc` &
//! co.; here `#[global_allocator]` defines those, and the two symbols only the shim
//! defines are below (their mangled names come from `build.rs`). A bump allocator over
//! a static arena: freeing is a no-op, which is plenty for one boot.

use core::alloc::{GlobalAlloc, Layout};
use core::sync::atomic::{AtomicUsize, Ordering};

const ARENA_SIZE: usize = 4 << 20;

#[repr(C, align(4096))]
struct Arena([u8; ARENA_SIZE]);

static mut ARENA: Arena = Arena([0; ARENA_SIZE]);

/// Bytes of the arena handed out so far.
struct Bump {
    next: AtomicUsize,
}

#[global_allocator]
static HEAP: Bump = Bump {
    next: AtomicUsize::new(0),
};

// SAFETY: blocks are disjoint ranges of the static arena, aligned as asked; a block is
// never handed out twice (nothing is reused).
unsafe impl GlobalAlloc for Bump {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = (&raw mut ARENA) as usize;
        let mut result = core::ptr::null_mut();
        let _ = self
            .next
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |next| {
                let start = (base + next).next_multiple_of(layout.align()) - base;
                let end = start
                    .checked_add(layout.size())
                    .filter(|&e| e <= ARENA_SIZE)?;
                result = (base + start) as *mut u8;
                Some(end)
            });
        result
    }

    unsafe fn dealloc(&self, _ptr: *mut u8, _layout: Layout) {}

    /// Arena memory starts zeroed and is never reused.
    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        // SAFETY: the caller's contract is that of `alloc`.
        unsafe { self.alloc(layout) }
    }
}

/// `handle_alloc_error`'s target (the shim's default: panic).
#[unsafe(export_name = concat!(env!("BOOT_TEST_RUSTC_SYMBOL_PREFIX"), "26___rust_alloc_error_handler"))]
fn alloc_error_handler(size: usize, _align: usize) -> ! {
    panic!("boot-test heap exhausted ({size} bytes wanted)")
}

/// Called by `alloc` so that a program without the shim fails to link; this is the shim.
#[unsafe(export_name = concat!(env!("BOOT_TEST_RUSTC_SYMBOL_PREFIX"), "35___rust_no_alloc_shim_is_unstable_v2"))]
fn no_alloc_shim_is_unstable() {}
