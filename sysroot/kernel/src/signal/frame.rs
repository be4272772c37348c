//! Running a signal handler: the Linux x86-64 `rt_sigframe` the handler receives, and
//! `rt_sigreturn`, which resumes from it.
//!
//! The frame is Linux's (`arch/x86/include/asm/sigframe.h`, `uapi/asm/sigcontext.h`,
//! `uapi/asm-generic/siginfo.h`), from the stack pointer up:
//!
//! ```text
//! sp ->   pretcode   the action's restorer (SA_RESTORER): the handler returns into it
//! sp+8    ucontext   uc_flags, uc_link, uc_stack, uc_mcontext (struct sigcontext,
//!                    256 bytes), uc_sigmask (8 bytes)
//! sp+312  siginfo    128 bytes
//! ```
//!
//! on the thread's alternate stack if the action has `SA_ONSTACK` and the thread has
//! one it is not already on, else below the interrupted stack's 128-byte red zone;
//! `sp + 8` is 16-byte aligned, as at a function's entry. The handler gets `rdi` =
//! signal, `rsi` = &siginfo, `rdx` = &ucontext. While it runs the thread's mask adds
//! the action's mask and the signal itself (unless `SA_NODEFER`); `SA_RESETHAND`
//! restores `SIG_DFL` first. The restorer calls `rt_sigreturn` through the register
//! frame path, with `rsp` = `sp + 8`: the kernel reloads every general register, the
//! flags and the mask from the ucontext, so the handler may change them.
//!
//! That is the path of a CPU exception ([`setup`]). A signal sent with `kill` & co. gets
//! the same frame ([`prepare`], [`commit`]), placed below the kernel's own stack
//! pointer instead of the red zone, but its handler is called by `deliver` and returns
//! to it, not to the restorer (see `deliver` for why).
//!
//! `fpstate` is NULL: the exception entry does not save the FPU/SSE state (see the
//! README's gaps), so it is neither offered to the handler nor restored.

use unikernel_hal::exceptions::Registers;
use unikernel_hal::{SyscallFrame, uaccess};

use super::{
    Action, AltStack, SIG_DFL, SS_AUTODISARM, SS_DISABLE, SS_ONSTACK, STATE, ThreadSignals, bit,
    unblockable,
};
use crate::errno::Errno;

const SA_ONSTACK: u64 = 0x0800_0000;
const SA_RESTORER: u64 = 0x0400_0000;
const SA_NODEFER: u64 = 0x4000_0000;
const SA_RESETHAND: u64 = 0x8000_0000;

const UCONTEXT_SIZE: usize = 304;
const SIGINFO_SIZE: usize = 128;
pub(super) const FRAME_SIZE: usize = 8 + UCONTEXT_SIZE + SIGINFO_SIZE;
/// Offsets in the ucontext.
const UC_STACK: usize = 16;
const UC_MCONTEXT: usize = 40;
const UC_SIGMASK: usize = 296;
/// `uc_flags`: the sigcontext's `ss` slot holds SS (`UC_SIGCONTEXT_SS`).
const UC_SIGCONTEXT_SS: u64 = 2;
const RED_ZONE: u64 = 128;
/// Kernel selectors, as the interrupted context had them (hal `gdt`).
const CS: u64 = 0x08;
const SS: u64 = 0x10;
/// RFLAGS bits cleared for the handler: TF, DF, RF (Linux's `setup_rt_frame`).
const HANDLER_CLEARS: u64 = (1 << 8) | (1 << 10) | (1 << 16);

/// `si_code` and the union's first field of a `siginfo_t`.
#[derive(Clone, Copy, Debug)]
pub enum Info {
    /// A CPU exception: `si_code` (e.g. `SEGV_MAPERR`), `si_addr`; the sigcontext's
    /// `err`, `trapno` and `cr2`.
    Fault {
        code: i32,
        address: u64,
        error_code: u64,
        trapno: u64,
    },
    /// `kill` (`SI_USER`) or `tkill`/`tgkill` (`SI_TKILL`) from pid 1, uid 0.
    Sent { code: i32 },
}

pub const SI_USER: i32 = 0;
pub const SI_TKILL: i32 = -6;
pub const SEGV_MAPERR: i32 = 1;
pub const SEGV_ACCERR: i32 = 2;

/// The sigcontext's general registers in its order (`r8..r15, rdi, rsi, rbp, rbx,
/// rdx, rax, rcx, rsp`) as indices into [`Registers::gpr`] (DWARF order).
const SIGCONTEXT_GPRS: [usize; 16] = [8, 9, 10, 11, 12, 13, 14, 15, 5, 4, 6, 3, 1, 0, 2, 7];

fn put(buf: &mut [u8], offset: usize, value: u64) {
    buf[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
}

fn get(buf: &[u8], offset: usize) -> u64 {
    let mut word = [0u8; 8];
    word.copy_from_slice(&buf[offset..offset + 8]);
    u64::from_ne_bytes(word)
}

fn on_stack(alt: &AltStack, sp: u64) -> bool {
    alt.flags & SS_DISABLE == 0 && alt.size > 0 && sp > alt.sp && sp - alt.sp <= alt.size
}

/// A handler's frame, laid out and placed but not written yet.
pub(super) struct Prepared {
    pub bytes: [u8; FRAME_SIZE],
    /// Where the frame goes (`address + 8` is 16-byte aligned).
    pub address: u64,
    pub action: super::Action,
    /// Whether it goes on the thread's alternate stack.
    on_altstack: bool,
}

/// Offsets of the handler's arguments in the frame.
pub(super) const INFO_OFFSET: usize = 8 + UCONTEXT_SIZE;
pub(super) const CONTEXT_OFFSET: usize = 8;

/// Lays out the frame of `sig`, whose action is `action`, for `thread`, interrupted
/// with `regs` while on the stack at `sp`: on its alternate stack if the action has
/// `SA_ONSTACK` and the thread has one it is not already on, else `gap` bytes below
/// `sp`.
pub(super) fn prepare(
    action: Action,
    thread: &ThreadSignals,
    sig: usize,
    info: Info,
    regs: &Registers,
    sp: u64,
    gap: u64,
) -> Prepared {
    let alt = thread.altstack;
    let on_altstack = action.flags & SA_ONSTACK != 0
        && alt.flags & SS_DISABLE == 0
        && alt.size > 0
        && !on_stack(&alt, sp);
    let top = if on_altstack {
        alt.sp + alt.size
    } else {
        sp.wrapping_sub(gap)
    };
    let address = ((top.wrapping_sub(FRAME_SIZE as u64)) & !15).wrapping_sub(8);

    let mut buf = [0u8; FRAME_SIZE];
    put(&mut buf, 0, action.restorer);
    let uc = CONTEXT_OFFSET;
    put(&mut buf, uc, UC_SIGCONTEXT_SS);
    let uc_stack_flags = if alt.flags & SS_DISABLE != 0 || alt.size == 0 {
        SS_DISABLE
    } else if on_stack(&alt, sp) {
        SS_ONSTACK
    } else {
        alt.flags & SS_AUTODISARM
    };
    put(&mut buf, uc + UC_STACK, alt.sp);
    buf[uc + UC_STACK + 8..uc + UC_STACK + 12].copy_from_slice(&uc_stack_flags.to_ne_bytes());
    put(&mut buf, uc + UC_STACK + 16, alt.size);
    let mc = uc + UC_MCONTEXT;
    for (i, &dwarf) in SIGCONTEXT_GPRS.iter().enumerate() {
        put(&mut buf, mc + 8 * i, regs.gpr[dwarf]);
    }
    put(&mut buf, mc + 128, regs.rip);
    put(&mut buf, mc + 136, regs.rflags);
    // cs, gs, fs, ss: four u16.
    put(&mut buf, mc + 144, CS | (SS << 48));
    let (error_code, trapno, cr2) = match info {
        Info::Fault {
            address,
            error_code,
            trapno,
            ..
        } => (error_code, trapno, address),
        Info::Sent { .. } => (0, 0, 0),
    };
    put(&mut buf, mc + 152, error_code);
    put(&mut buf, mc + 160, trapno);
    put(&mut buf, mc + 168, thread.mask); // oldmask
    put(&mut buf, mc + 176, cr2);
    // mc + 184: fpstate (NULL, see the module docs); 8 reserved words stay 0.
    put(&mut buf, uc + UC_SIGMASK, thread.mask);
    let si = INFO_OFFSET;
    buf[si..si + 4].copy_from_slice(&(sig as i32).to_ne_bytes());
    match info {
        Info::Fault { code, address, .. } => {
            buf[si + 8..si + 12].copy_from_slice(&code.to_ne_bytes());
            put(&mut buf, si + 16, address);
        }
        Info::Sent { code } => {
            // si_pid = 1, si_uid = 0.
            buf[si + 8..si + 12].copy_from_slice(&code.to_ne_bytes());
            buf[si + 16..si + 20].copy_from_slice(&(crate::process::PID as i32).to_ne_bytes());
        }
    }
    Prepared {
        bytes: buf,
        address,
        action,
        on_altstack,
    }
}

/// What running the handler of `sig` does to thread `t` and to the signal's action
/// `installed` (Linux's `signal_delivered`): the mask adds the action's mask and,
/// unless `SA_NODEFER`, the signal; `SS_AUTODISARM` disarms the alternate stack the
/// frame went on; `SA_RESETHAND` restores `SIG_DFL`.
pub(super) fn commit(installed: &mut Action, t: &mut ThreadSignals, sig: usize, frame: &Prepared) {
    let action = frame.action;
    let deferred = if action.flags & SA_NODEFER != 0 {
        0
    } else {
        bit(sig)
    };
    t.mask = (t.mask | action.mask | deferred) & !unblockable();
    if frame.on_altstack && t.altstack.flags & SS_AUTODISARM != 0 {
        t.altstack = AltStack::DISABLED;
    }
    if action.flags & SA_RESETHAND != 0 {
        *installed = Action {
            handler: SIG_DFL,
            flags: action.flags & !SA_RESETHAND,
            ..action
        };
    }
}

/// Sets up the calling thread to run the handler of `sig` from `regs` (a CPU
/// exception): writes the frame and returns the registers to resume with. `EFAULT` if
/// the stack cannot take the frame, `EINVAL` if the action has no handler or no
/// restorer (then, as on Linux, the caller applies the default action).
pub fn setup(sig: usize, info: Info, regs: &Registers) -> Result<Registers, Errno> {
    let mut state = STATE.lock();
    let slot = unikernel_hal::thread::current();
    let action = state.actions[sig - 1];
    if action.handler <= 1 || action.flags & SA_RESTORER == 0 {
        return Err(Errno::EINVAL);
    }
    let sp = regs.gpr[Registers::RSP];
    let frame = prepare(action, state.thread(slot), sig, info, regs, sp, RED_ZONE);
    uaccess::copy_to(frame.address as usize, &frame.bytes)?;
    let (installed, thread) = state.action_and_thread(sig, slot);
    commit(installed, thread, sig, &frame);

    let mut next = *regs;
    next.rip = action.handler;
    next.gpr[Registers::RSP] = frame.address;
    next.gpr[5] = sig as u64; // rdi
    next.gpr[4] = frame.address + INFO_OFFSET as u64; // rsi: &siginfo
    next.gpr[1] = frame.address + CONTEXT_OFFSET as u64; // rdx: &ucontext
    next.gpr[0] = 0; // rax: no vector registers in use (varargs convention)
    next.rflags &= !HANDLER_CLEARS;
    Ok(next)
}

/// The registers a handler left in the frame's ucontext (what `rt_sigreturn` would
/// resume with).
pub(super) fn saved_registers(bytes: &[u8], mut regs: Registers) -> Registers {
    let mc = CONTEXT_OFFSET + UC_MCONTEXT;
    for (i, &dwarf) in SIGCONTEXT_GPRS.iter().enumerate() {
        regs.gpr[dwarf] = get(bytes, mc + 8 * i);
    }
    regs.rip = get(bytes, mc + 128);
    regs.rflags = get(bytes, mc + 136);
    regs
}

/// The signal mask a handler left in the frame's ucontext.
pub(super) fn saved_mask(bytes: &[u8]) -> u64 {
    get(bytes, CONTEXT_OFFSET + UC_SIGMASK)
}

/// The alternate stack recorded in the frame's ucontext.
pub(super) fn saved_altstack(bytes: &[u8]) -> AltStack {
    altstack_at(&bytes[CONTEXT_OFFSET..])
}

fn altstack_at(uc: &[u8]) -> AltStack {
    AltStack {
        sp: get(uc, UC_STACK),
        flags: i32::from_ne_bytes([
            uc[UC_STACK + 8],
            uc[UC_STACK + 9],
            uc[UC_STACK + 10],
            uc[UC_STACK + 11],
        ]),
        size: get(uc, UC_STACK + 16),
    }
}

/// `rt_sigreturn`: resumes the context saved in the frame whose ucontext is at the
/// caller's `rsp` (the restorer's). Returns the restored `rax` (the frame dispatcher
/// stores it as the "result"). A frame that cannot be read ends the program with
/// `SIGSEGV`, as Linux's `force_sig(SIGSEGV)`.
pub fn sigreturn(frame: &mut SyscallFrame) -> isize {
    let uc = frame.stack_pointer();
    let mut buf = [0u8; UCONTEXT_SIZE];
    if uaccess::copy_from(uc, &mut buf).is_err() {
        crate::log::kinfo!("rt_sigreturn: unreadable signal frame at {uc:#x}");
        super::terminate(super::SIGSEGV);
    }
    let mut regs = frame.registers();
    for (i, &dwarf) in SIGCONTEXT_GPRS.iter().enumerate() {
        regs.gpr[dwarf] = get(&buf, UC_MCONTEXT + 8 * i);
    }
    regs.rip = get(&buf, UC_MCONTEXT + 128);
    regs.rflags = get(&buf, UC_MCONTEXT + 136);
    frame.set_registers(&regs);
    let mask = get(&buf, UC_SIGMASK);
    // uc_stack: SS_AUTODISARM stacks are re-armed here (Linux's restore_altstack).
    let alt = altstack_at(&buf);
    if alt.flags & SS_AUTODISARM != 0 {
        super::altstack(Some(AltStack {
            flags: SS_AUTODISARM,
            ..alt
        }));
    }
    super::update_mask(|_| mask);
    regs.gpr[0] as isize
}

#[cfg(test)]
mod tests {
    use super::*;

    const SIGUSR1: usize = 10;

    /// The action of SIGUSR1 and a thread with SIGINT blocked.
    fn state(flags: u64, altstack: AltStack) -> (Action, ThreadSignals) {
        let action = Action {
            handler: 0x1234,
            flags,
            restorer: 0x5678,
            mask: bit(12),
        };
        let thread = ThreadSignals {
            mask: bit(2),
            altstack,
            ..ThreadSignals::NEW
        };
        (action, thread)
    }

    #[test]
    fn frame_is_placed_aligned_and_reads_back() {
        let (action, thread) = state(0, AltStack::DISABLED);
        let mut regs = Registers::default();
        regs.gpr[Registers::RSP] = 0x10_0000;
        regs.gpr[0] = 42;
        regs.rip = 0x4000;
        let sent = Info::Sent { code: SI_TKILL };
        let frame = prepare(action, &thread, SIGUSR1, sent, &regs, 0x10_0000, 2048);
        assert_eq!(frame.address % 16, 8);
        assert!(frame.address + FRAME_SIZE as u64 <= 0x10_0000 - 2048);
        assert_eq!(saved_mask(&frame.bytes), bit(2));
        assert_eq!(saved_registers(&frame.bytes, Registers::default()), regs);
        let si = INFO_OFFSET;
        assert_eq!(frame.bytes[si..si + 4], (SIGUSR1 as i32).to_ne_bytes());
        assert_eq!(frame.bytes[si + 8..si + 12], SI_TKILL.to_ne_bytes());
    }

    #[test]
    fn onstack_handler_goes_to_the_alternate_stack_and_commit_masks() {
        let alt = AltStack {
            sp: 0x20_0000,
            flags: SS_AUTODISARM,
            size: 0x4000,
        };
        let (mut action, mut thread) = state(SA_ONSTACK | SA_RESETHAND, alt);
        let regs = Registers::default();
        let sent = Info::Sent { code: SI_USER };
        let frame = prepare(action, &thread, SIGUSR1, sent, &regs, 0x10_0000, 2048);
        assert!(
            frame.address >= alt.sp && frame.address + (FRAME_SIZE as u64) <= alt.sp + alt.size
        );
        assert_eq!(saved_altstack(&frame.bytes).flags, SS_AUTODISARM);
        commit(&mut action, &mut thread, SIGUSR1, &frame);
        assert_eq!(thread.mask, bit(2) | bit(12) | bit(SIGUSR1));
        assert_eq!(thread.altstack, AltStack::DISABLED);
        assert_eq!(action.handler, SIG_DFL);
    }
}
