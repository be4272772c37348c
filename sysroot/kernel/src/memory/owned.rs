//! What the application owns outside the image: the memory system calls may read and
//! write on its behalf (the hal's `uaccess` asks through the predicate
//! [`application_owns`], registered at boot).
//!
//! That is its anonymous and file mappings (heap, thread stacks, `mmap` buffers) and
//! the main thread's stack, which the boot flow hands to the hardware layer rather
//! than to the mapping table, so it is recorded here. Guard pages are mappings too but
//! are never the application's to read or write; free RAM, and anything the kernel
//! takes from it for itself, is not in the table at all.

use spin::Once;
use unikernel_hal::memory::Region;

use super::MEMORY;
use super::mappings::Use;

/// `start..end` of the main thread's stack.
static MAIN_STACK: Once<(usize, usize)> = Once::new();

/// Records `stack` (the main thread's, from [`super::alloc_stack`]) as the
/// application's; the first call wins.
pub fn register_main_stack(stack: &Region) {
    MAIN_STACK.call_once(|| (stack.start(), stack.end()));
}

/// Whether the application owns all of `start..start + len`: the main thread's stack
/// or its mappings, which may be several adjacent ones. Called by `uaccess` on every
/// checked copy: a scan of the mapping table.
pub fn application_owns(start: usize, len: usize) -> bool {
    let Some(end) = start.checked_add(len) else {
        return false;
    };
    if len == 0 {
        return true;
    }
    if MAIN_STACK
        .get()
        .is_some_and(|&(lo, hi)| lo <= start && end <= hi)
    {
        return true;
    }
    // Kernel code runs with interrupts disabled on one CPU and never holds the memory
    // lock across a copy, so the lock is free here unless a fault hit the memory
    // code itself; then refusing is right (a crash report must not wait on it).
    let Some(memory) = MEMORY.try_lock() else {
        return false;
    };
    // Mappings never overlap, so the bytes they cover add up.
    memory.mapped.covered(start, end, Some(Use::Anonymous)) == len
}
