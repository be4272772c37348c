//! Reads through a null pointer: on Linux the process dies of SIGSEGV (status 139); in
//! the unikernel too, after the kernel's report of the page fault naming `read_field`
//! (std's SIGSEGV handler runs first, sees no stack overflow and restores `SIG_DFL`).

use std::hint::black_box;
use std::ptr;

/// What a list node looks like; `value` is 8 bytes in, so a read of it through a null
/// node faults at address 8, on the (unmapped) page 0.
#[repr(C)]
struct Node {
    next: *const Node,
    value: u64,
}

/// Reads `node.value`; never inlined, so the crash report names it.
#[inline(never)]
fn read_field(node: *const Node) -> u64 {
    let value = node.cast::<u8>().wrapping_add(std::mem::offset_of!(Node, value)).cast::<u64>();
    // SAFETY: none; the whole point is that `node` may be null.
    unsafe { ptr::read_volatile(value) }
}

fn main() {
    let node = Node { next: ptr::null(), value: 7 };
    println!("first node: {}", read_field(&node));
    // `black_box` hides the null from the optimiser, so the read really happens.
    let next = black_box(node.next);
    println!("reading the next node through a null pointer");
    let value = read_field(next);
    println!("unreachable: {value}");
}
