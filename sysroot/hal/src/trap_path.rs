//! Which system call numbers can reach the kernel's dispatchers (the `syscall`
//! trap path, `__unikernel_syscall_stub` and `__unikernel_syscall`), as the build
//! proved it.
//!
//! The image's build pass rewrites every system call with a constant number into a
//! direct call of its kernel entry, so the dispatchers see only what is left: calls
//! whose number is not a constant, and the register-frame calls (`clone`,
//! `rt_sigreturn`). The pass defines `__unikernel_trap_numbers` (a bitset of 512
//! numbers) with exactly the numbers its sites can carry, or all of them when one
//! site's number is unknown, as a constant; the dispatchers test each arm's number
//! against it, so once it is constant the optimizer drops every handler no site can
//! reach through a dispatcher (in `examples/hello`, the whole network stack). The
//! kernel crates never define it: it is not known, so not folded, before the pass.

unsafe extern "C" {
    /// Bit `nr % 64` of word `nr / 64`: number `nr` may reach a dispatcher.
    static __unikernel_trap_numbers: [u64; 8];
}

/// Whether system call `nr` may reach a dispatcher. Inlined into each arm of the
/// dispatch table with a constant `nr`, where the load folds once the pass made the
/// set a constant.
#[inline(always)]
pub fn may_reach(nr: usize) -> bool {
    let Some(index) = (nr < 512).then_some(nr / 64) else {
        return false;
    };
    // SAFETY: the image's build pass defines the symbol as a constant `[u64; 8]` in
    // every image (pass `trap_numbers`); it is never written.
    let word = unsafe {
        (&raw const __unikernel_trap_numbers)
            .cast::<u64>()
            .add(index)
            .read()
    };
    word & (1 << (nr % 64)) != 0
}
