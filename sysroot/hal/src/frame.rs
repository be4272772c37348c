//! The pieces of a saved CPU context that the entry paths share.
//!
//! The exception stubs (`exceptions`), the system-call entries (`syscall_entry`) and
//! the timer interrupt (`apic`) all save the general registers with one instruction
//! sequence (`push rax` then [`push_registers_after_rax`]) next to the CPU's
//! interrupt-return frame, so their frames share these two blocks; [`Registers`] is
//! the register-number view the kernel's unwinder and signal code work with.

/// The general registers as the entry sequences push them: `r15` at the lowest
/// address, `rax` at the highest.
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct SavedRegisters {
    pub r15: u64,
    pub r14: u64,
    pub r13: u64,
    pub r12: u64,
    pub r11: u64,
    pub r10: u64,
    pub r9: u64,
    pub r8: u64,
    pub rbp: u64,
    pub rdi: u64,
    pub rsi: u64,
    pub rdx: u64,
    pub rcx: u64,
    pub rbx: u64,
    pub rax: u64,
}

/// What `iretq` pops (SDM Vol. 3A, 6.14.1, 64-bit mode stack frame).
#[repr(C)]
#[derive(Clone, Copy, Debug)]
pub(crate) struct InterruptFrame {
    pub rip: u64,
    pub cs: u64,
    pub rflags: u64,
    pub rsp: u64,
    pub ss: u64,
}

/// The flags a signal frame may change: CF, PF, AF, ZF, SF, DF, OF (SDM Vol. 1, 3.4.3).
pub(crate) const USER_FLAGS: u64 = 0x0cd5;

/// The general registers, in DWARF register-number order (SysV x86-64 psABI, Figure
/// 3.36: rax, rdx, rcx, rbx, rsi, rdi, rbp, rsp, r8..r15), and the instruction pointer
/// and flags.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Registers {
    pub gpr: [u64; 16],
    pub rip: u64,
    pub rflags: u64,
}

impl Registers {
    /// DWARF number of `rsp`.
    pub const RSP: usize = 7;
    /// DWARF number of `rbp`.
    pub const RBP: usize = 6;

    /// The context saved in `saved` and `iret`.
    pub(crate) fn of(saved: &SavedRegisters, iret: &InterruptFrame) -> Registers {
        let s = saved;
        Registers {
            gpr: [
                s.rax, s.rdx, s.rcx, s.rbx, s.rsi, s.rdi, s.rbp, iret.rsp, s.r8, s.r9, s.r10,
                s.r11, s.r12, s.r13, s.r14, s.r15,
            ],
            rip: iret.rip,
            rflags: iret.rflags,
        }
    }

    /// Writes these registers into a saved context. Segment selectors stay; of the
    /// flags only the arithmetic ones and DF change (IF, IOPL and the rest keep their
    /// values).
    pub(crate) fn store(&self, saved: &mut SavedRegisters, iret: &mut InterruptFrame) {
        let s = saved;
        [
            s.rax, s.rdx, s.rcx, s.rbx, s.rsi, s.rdi, s.rbp, iret.rsp, s.r8, s.r9, s.r10, s.r11,
            s.r12, s.r13, s.r14, s.r15,
        ] = self.gpr;
        iret.rip = self.rip;
        iret.rflags = (iret.rflags & !USER_FLAGS) | (self.rflags & USER_FLAGS);
    }
}
