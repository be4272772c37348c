//! The two register-frame entries of system calls: the `LSTAR` target for `syscall`
//! instructions executed in ring 0, and `__unikernel_syscall_stub`, reached by a plain
//! `call` from sites the build pass rewrote textually.
//!
//! The build pass turns most system-call sites into direct calls of the kernel's C-ABI
//! entries; those have no register frame. What it cannot turn into a direct call either
//! still executes `syscall` (native objects; images built before the pass learned the
//! stub) or calls the stub. Both build the same [`SyscallFrame`] on the caller's stack
//! and pass it to the kernel's frame dispatcher, which is what `clone` needs: the child
//! resumes from a copy of the parent's frame.
//!
//! **`syscall`** (SDM Vol. 2B, SYSCALL): with `EFER.SCE` set (boot.rs) the CPU jumps to
//! `LSTAR` with `rcx` = return RIP, `r11` = RFLAGS, RFLAGS masked by `FMASK` (IF and DF
//! clear), CS/SS from `STAR`, and *the stack unchanged*. We are already in ring 0, so
//! the entry runs on the caller's stack. The caller may keep data in the 128-byte red
//! zone below its `rsp` (native code), so the entry steps over it first.
//!
//! **`__unikernel_syscall_stub`**: the `syscall` instruction's convention, entered by
//! `call`: `rax` = number, arguments in `rdi, rsi, rdx, r10, r8, r9`, result in `rax`;
//! clobbers only `rcx`, `r11` and the flags; preserves every other general register and
//! all vector/x87 state; any stack alignment on entry; the return address at `[rsp]`;
//! no red zone in use (the whole module is compiled without one).
//!
//! Both return through `__unikernel_frame_return`, which restores the FPU/SSE state
//! (`fxrstor64`) and every general register from the frame and ends with `iretq`: the
//! frame's last five words are an interrupt-return frame (rip, cs, rflags, rsp, ss), so
//! the same path also resumes a new thread and, later, a preempted one. For the
//! `syscall` path the frame's `rcx`/`r11` hold the return RIP and RFLAGS, as Linux
//! leaves them.

use core::arch::global_asm;
use core::mem::{offset_of, size_of};

use x86_64::registers::model_specific::Msr;

use crate::frame::{InterruptFrame, Registers, SavedRegisters};
use crate::gdt::{KERNEL_CODE, KERNEL_DATA};

/// The saved state of a system call (or interrupted) context, lowest address first:
/// the `fxsave64` area, the general registers, then an `iretq` frame.
#[repr(C, align(16))]
#[derive(Clone, Copy, Debug)]
pub struct SyscallFrame {
    fx: FxArea,
    regs: SavedRegisters,
    iret: InterruptFrame,
}

/// The 512-byte `fxsave64` image (x87, MXCSR, XMM0-15).
#[repr(C, align(16))]
#[derive(Clone, Copy)]
struct FxArea([u8; 512]);

impl core::fmt::Debug for FxArea {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.write_str("FxArea { .. }")
    }
}

const _: () = assert!(size_of::<SyscallFrame>() == 512 + 20 * 8);
const _: () =
    assert!(offset_of!(SyscallFrame, regs) + offset_of!(SavedRegisters, rax) == 512 + 14 * 8);
const _: () = assert!(offset_of!(SyscallFrame, iret) == 512 + 15 * 8);

impl SyscallFrame {
    /// The system-call number (`rax` on entry).
    pub fn number(&self) -> usize {
        self.regs.rax as usize
    }

    /// The six argument registers `rdi, rsi, rdx, r10, r8, r9`.
    pub fn args(&self) -> [usize; 6] {
        let r = &self.regs;
        [r.rdi, r.rsi, r.rdx, r.r10, r.r8, r.r9].map(|v| v as usize)
    }

    /// Sets the value the caller finds in `rax`.
    pub fn set_return(&mut self, value: isize) {
        self.regs.rax = value as u64;
    }

    /// The caller's stack pointer after the system call returns.
    pub fn stack_pointer(&self) -> usize {
        self.iret.rsp as usize
    }

    /// The caller's registers (`rt_sigreturn` reads the stack through `rsp`).
    pub fn registers(&self) -> Registers {
        Registers::of(&self.regs, &self.iret)
    }

    /// Replaces the registers the caller resumes with (`rt_sigreturn`); see
    /// [`Registers::store`] for the flags. `rax` is then the system call's return
    /// value ([`Self::set_return`]).
    pub fn set_registers(&mut self, regs: &Registers) {
        regs.store(&mut self.regs, &mut self.iret);
    }

    /// A copy for a new thread (`clone`): `rax` = 0, `rsp` = `stack_pointer`, every
    /// other register as in `self`.
    pub(crate) fn for_child(&self, stack_pointer: usize) -> SyscallFrame {
        let mut child = *self;
        child.regs.rax = 0;
        child.iret.rsp = stack_pointer as u64;
        child
    }
}

global_asm!(
    ".pushsection .text.unikernel_syscall_entry, \"ax\", @progbits",
    // `syscall` in ring 0: rcx = return RIP, r11 = RFLAGS, IF/DF already clear.
    ".globl __unikernel_syscall_entry",
    ".type __unikernel_syscall_entry, @function",
    ".p2align 4",
    "__unikernel_syscall_entry:",
    "lea rsp, [rsp - 128]",         // the caller's red zone (lea keeps the flags)
    "push r11",                     // [r11 + 8] = RFLAGS
    "push rcx",                     // [r11]     = return RIP
    "mov r11, rsp",
    "lea rcx, [rsp + 144]",         // the caller's rsp
    "jmp 2f",
    ".size __unikernel_syscall_entry, . - __unikernel_syscall_entry",

    // `call __unikernel_syscall_stub`: [rsp] = return RIP; rcx, r11, flags are ours.
    ".globl __unikernel_syscall_stub",
    ".type __unikernel_syscall_stub, @function",
    ".p2align 4",
    "__unikernel_syscall_stub:",
    "pushfq",                       // before anything changes the flags
    "cli",
    "cld",
    "push qword ptr [rsp + 8]",     // [r11] = return RIP, [r11 + 8] = RFLAGS
    "mov r11, rsp",
    "lea rcx, [rsp + 24]",          // the caller's rsp once the call has returned
    // Common: r11 -> (RIP, RFLAGS), rcx = the caller's rsp, every other register as
    // the caller left it. Build the frame top-down on a 16-byte boundary.
    "2:",
    "and rsp, -16",
    "push {ss}",
    "push rcx",                     // rsp
    "push qword ptr [r11 + 8]",     // rflags
    "push {cs}",
    "push qword ptr [r11]",         // rip
    "push rax",
    "push rbx",
    "push qword ptr [r11]",         // rcx: the return RIP, as `syscall` leaves it
    "push rdx",
    "push rsi",
    "push rdi",
    "push rbp",
    "push r8",
    "push r9",
    "push r10",
    "push qword ptr [r11 + 8]",     // r11: RFLAGS, as `syscall` leaves it
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 512",
    "fxsave64 [rsp]",
    "mov rdi, rsp",
    "xor ebp, ebp",                 // frame walks stop here
    "call {trap}",
    // Falls through into the return path with rsp = the frame.

    // rsp = a SyscallFrame: restore everything and return through its iretq frame.
    ".globl __unikernel_frame_return",
    ".type __unikernel_frame_return, @function",
    "__unikernel_frame_return:",
    "fxrstor64 [rsp]",
    "add rsp, 512",
    pop_registers!(),
    "iretq",
    ".size __unikernel_syscall_stub, . - __unikernel_syscall_stub",
    ".popsection",
    ss = const KERNEL_DATA.0 as u64,
    cs = const KERNEL_CODE.0 as u64,
    trap = sym syscall_trap,
);

unsafe extern "C" {
    static __unikernel_syscall_entry: u8;
    static __unikernel_syscall_stub: u8;
    pub(crate) static __unikernel_frame_return: u8;
}

unsafe extern "Rust" {
    /// The kernel's frame dispatcher (`unikernel-kernel`): handles the system call in
    /// `frame` and stores its result with [`SyscallFrame::set_return`].
    safe fn __unikernel_syscall_frame(frame: &mut SyscallFrame);
}

/// Called by the entries above with the frame they built.
///
/// # Safety
///
/// `frame` points at a complete, 16-byte aligned [`SyscallFrame`] on the current stack
/// that nothing else references.
unsafe extern "C" fn syscall_trap(frame: *mut SyscallFrame) {
    // SAFETY: per the contract, built by the entry just now and exclusively ours.
    __unikernel_syscall_frame(unsafe { &mut *frame })
}

/// Keeps the trap handler and the stub alive through whole-program optimisation: they
/// are referenced only from module-level assembly (the stub, once the pass rewrites
/// `syscall` instructions into calls of it, from other module-level assembly).
#[used]
static KEEP_TRAP: unsafe extern "C" fn(*mut SyscallFrame) = syscall_trap;

const IA32_STAR: u32 = 0xc000_0081;
const IA32_LSTAR: u32 = 0xc000_0082;
const IA32_FMASK: u32 = 0xc000_0084;
/// Cleared on entry: TF, IF, DF (the C ABI wants it clear), NT, AC.
const FMASK: u64 = (1 << 8) | (1 << 9) | (1 << 10) | (1 << 14) | (1 << 18);

/// Points `LSTAR` at the entry. `EFER.SCE` was set by the PVH entry.
pub(crate) fn init() {
    let entry = (&raw const __unikernel_syscall_entry) as u64;
    // The stub is only ever called; referencing it here keeps the linker from
    // dropping its section with --gc-sections before anything calls it.
    core::hint::black_box(&raw const __unikernel_syscall_stub);
    // SAFETY: STAR[47:32] is the ring-0 code selector (SYSCALL loads SS from +8, our
    // data selector); LSTAR is the entry above, which preserves the ABI; FMASK only
    // clears flags on entry. SYSRET, which would use STAR[63:48], is never executed.
    unsafe {
        Msr::new(IA32_STAR).write(u64::from(KERNEL_CODE.0) << 32);
        Msr::new(IA32_LSTAR).write(entry);
        Msr::new(IA32_FMASK).write(FMASK);
    }
}
