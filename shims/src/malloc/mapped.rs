//! Large allocations as mappings of their own, as glibc does above its mmap threshold.
//!
//! `dlmalloc` (the `dlmalloc` crate) takes all its memory as heap segments and grows
//! a block that cannot extend in place by allocating a new one and copying, so a
//! `Vec` doubling from 512 MiB to 1 GiB needs 1.5 GiB at once, and freed segments
//! stay with the heap. Blocks of at least [`THRESHOLD`] bytes here are one anonymous
//! mapping each: `realloc` is `mremap` (the kernel grows in place or moves the
//! pages) and `free` is `munmap`, so the memory goes back at once.
//!
//! Each block starts with a [`HEADER`]-byte header (mapping length, usable size)
//! and its user pointer is `mapping + HEADER`, so it sits `HEADER` bytes into a page.
//! A dlmalloc pointer can sit there too, so `free` and `realloc` tell the two apart
//! with a registry of the blocks' addresses (sorted, in a mapping of its own, so it
//! never allocates through the heap it serves); only pointers `HEADER` bytes into a
//! page pay for the lookup.

use core::ptr;

use crate::auxv::page_size;
use crate::lock::Mutex;
use crate::mman;

/// Requests of this many bytes or more get a mapping of their own.
pub const THRESHOLD: usize = 256 * 1024;
/// Bytes before the user pointer: mapping length and usable size (16: the natural
/// malloc alignment is kept).
const HEADER: usize = 16;

/// Sorted addresses of the live blocks (user pointers).
#[derive(Debug)]
struct Registry {
    slots: *mut usize,
    len: usize,
    capacity: usize,
}

// SAFETY: the registry's storage is a private mapping only reached under `BLOCKS`.
unsafe impl Send for Registry {}

static BLOCKS: Mutex<Registry> = Mutex::new(Registry {
    slots: ptr::null_mut(),
    len: 0,
    capacity: 0,
});

impl Registry {
    fn as_slice(&self) -> &[usize] {
        if self.slots.is_null() {
            return &[];
        }
        // SAFETY: `slots` is a mapping of `capacity` words whose first `len` are set.
        unsafe { core::slice::from_raw_parts(self.slots, self.len) }
    }

    fn contains(&self, p: usize) -> bool {
        self.as_slice().binary_search(&p).is_ok()
    }

    /// Makes room for one more address; false if the registry cannot grow.
    fn reserve_one(&mut self) -> bool {
        if self.len == self.capacity {
            let old_bytes = self.capacity * size_of::<usize>();
            let new_bytes = (old_bytes * 2).max(page_size());
            let grown = if self.slots.is_null() {
                mman::map_anonymous(new_bytes)
            } else {
                mman::remap(self.slots.cast(), old_bytes, new_bytes, true)
            };
            match grown {
                Ok(q) => {
                    self.slots = q.cast();
                    self.capacity = new_bytes / size_of::<usize>();
                }
                Err(_) => return false,
            }
        }
        true
    }

    /// Adds `p`; false if the registry cannot grow.
    fn insert(&mut self, p: usize) -> bool {
        if !self.reserve_one() {
            return false;
        }
        let index = self.as_slice().partition_point(|&q| q < p);
        // SAFETY: `len < capacity`: shifting `index..len` up by one stays inside the
        // mapping, then slot `index` is written.
        unsafe {
            ptr::copy(
                self.slots.add(index),
                self.slots.add(index + 1),
                self.len - index,
            );
            self.slots.add(index).write(p);
        }
        self.len += 1;
        true
    }

    fn remove(&mut self, p: usize) {
        if let Ok(index) = self.as_slice().binary_search(&p) {
            // SAFETY: `index < len`: the tail moves down over it, inside the mapping.
            unsafe {
                ptr::copy(
                    self.slots.add(index + 1),
                    self.slots.add(index),
                    self.len - index - 1,
                );
            }
            self.len -= 1;
        }
    }
}

/// Whether `p` is a block of this allocator (rather than dlmalloc's).
pub fn owns(p: *mut u8) -> bool {
    let p = p as usize;
    p % page_size() == HEADER && BLOCKS.lock().contains(p)
}

fn mapping_len(size: usize) -> Option<usize> {
    Some(size.checked_add(HEADER)?.next_multiple_of(page_size()))
}

/// # Safety
/// `p` must be a live block of this allocator.
unsafe fn header(p: *mut u8) -> *mut [usize; 2] {
    // SAFETY: the header precedes the user pointer in the block's mapping.
    unsafe { p.sub(HEADER).cast() }
}

/// A new block of `size` bytes (zeroed: fresh anonymous memory); null on failure.
pub fn alloc(size: usize) -> *mut u8 {
    let Some(len) = mapping_len(size) else {
        return ptr::null_mut();
    };
    let Ok(base) = mman::map_anonymous(len) else {
        return ptr::null_mut();
    };
    // SAFETY: `base` is a fresh mapping of `len > HEADER` bytes.
    let p = unsafe { base.add(HEADER) };
    // SAFETY: the header is inside the mapping, which is ours.
    unsafe { header(p).write([len, len - HEADER]) };
    if !BLOCKS.lock().insert(p as usize) {
        let _ = mman::unmap(base, len);
        return ptr::null_mut();
    }
    p
}

/// Bytes usable in block `p`.
///
/// # Safety
/// `p` must be a live block of this allocator.
pub unsafe fn usable_size(p: *mut u8) -> usize {
    // SAFETY: per the caller, the header is there.
    unsafe { header(p).read()[1] }
}

/// Frees block `p`.
///
/// # Safety
/// `p` must be a live block of this allocator.
pub unsafe fn free(p: *mut u8) {
    BLOCKS.lock().remove(p as usize);
    // SAFETY: per the caller.
    let [len, _] = unsafe { header(p).read() };
    // SAFETY: the block's mapping starts `HEADER` bytes before it.
    let _ = mman::unmap(unsafe { p.sub(HEADER) }, len);
}

/// Resizes block `p` to `size` (at least [`THRESHOLD`]) with `mremap`; null (and `p`
/// untouched) on failure.
///
/// # Safety
/// `p` must be a live block of this allocator.
pub unsafe fn realloc(p: *mut u8, size: usize) -> *mut u8 {
    let Some(new_len) = mapping_len(size) else {
        return ptr::null_mut();
    };
    // SAFETY: per the caller.
    let [len, _] = unsafe { header(p).read() };
    // SAFETY: the mapping starts `HEADER` bytes before the block.
    let base = unsafe { p.sub(HEADER) };
    let mut blocks = BLOCKS.lock();
    // Room for the moved block's address first: once moved, it must be recorded.
    if !blocks.reserve_one() {
        return ptr::null_mut();
    }
    let Ok(moved) = mman::remap(base, len, new_len, true) else {
        return ptr::null_mut();
    };
    // SAFETY: `moved` is the block's mapping, now `new_len` bytes.
    let q = unsafe { moved.add(HEADER) };
    // SAFETY: the header moved with the mapping.
    unsafe { header(q).write([new_len, new_len - HEADER]) };
    if q != p {
        blocks.remove(p as usize);
        // Cannot fail: room was reserved above.
        blocks.insert(q as usize);
    }
    q
}
