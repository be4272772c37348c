//! The syscall rewrite (unikernel builds only): every Linux system call the program
//! makes becomes an ordinary call into the kernel linked into the same module.
//!
//! The shim issues raw `syscall` instructions through helpers whose asm template is
//! exactly `syscall`, and std calls libc's `syscall(nr, ...)` (DESIGN.md, "System
//! calls"; docs/interfaces.md). [`find_syscall_sites`] finds both, plus calls of the
//! kernel's dispatcher made by an earlier run; [`rewrite_syscalls`] turns each
//! rewritable site into
//!
//! - a call of `__unikernel_sys_NAME(a0..a5) -> i64` when its number is a constant
//!   with Linux name `NAME` and the module defines that entry;
//! - else a call of `__unikernel_enosys_NAME(a0..a5) -> i64` when the module defines
//!   that (the kernel knows `NAME` and answers `-ENOSYS`);
//! - otherwise a call of the dispatcher `__unikernel_syscall(nr, a0..a5) -> i64`
//!   (declared if missing; the kernel defines it and answers `-ENOSYS` to what it does
//!   not implement).
//!
//! System calls that act on the caller's register frame ([`REGISTER_FRAME_SYSCALLS`]:
//! clone, fork, vfork, execve, rt_sigreturn, clone3) never become calls of C-ABI
//! functions: a C call does not give the kernel the registers and return address
//! the new thread, process or signal return starts from.
//!
//! A rewritten libc `syscall` call also passes the kernel's `-errno` result through
//! [`LIBC_ERRNO_ADAPTER`], so callers still see libc's -1 and `errno`.
//!
//! What cannot become a call (a template with more than the one instruction, an
//! operand outside the syscall registers, a register-frame syscall) keeps its asm.
//! When the module defines the kernel's stub [`SYSCALL_STUB`] (in module-level asm),
//! every `syscall` instruction left, in inline asm and in module-level asm (naked
//! functions such as the shim's clone trampoline and signal restorer), is replaced by
//! `call __unikernel_syscall_stub`: the stub takes exactly the instruction's registers
//! (number in `rax`, arguments in `rdi, rsi, rdx, r10, r8, r9`, result in `rax`,
//! clobbers `rcx`, `r11` and flags), so the asm around it stays correct, and no
//! `syscall` instruction is left in the image. The `call` pushes its return address
//! below `rsp`, which is free because unikernel code has no red zone
//! ([`crate::noredzone`]). Without the stub, these instructions stay on the trap path
//! (the kernel takes them through LSTAR) and are counted.
//!
//! Numbers often become constant only once the optimizer has inlined the shim's
//! helpers into their callers, so the driver runs the rewrite twice: after the
//! variadic fix-up and again after a first optimization pipeline. The second run
//! upgrades dispatcher calls whose number is now constant to direct calls. The rewrite
//! is idempotent: a site it rewrote is no longer an asm or libc site, a dispatcher call
//! is touched only when a direct entry exists, and a run over an unchanged module
//! reports `changed == 0` and leaves the module as it was. It is one walk over the
//! instructions, cheap enough to run any number of times.

mod asm;
mod names;
mod rewrite;
mod sites;
mod stub;

use serde::{Deserialize, Serialize};

pub use names::SyscallName;
pub use rewrite::{LIBC_ERRNO_ADAPTER, rewrite_syscalls};
pub use sites::{SyscallSite, defines_syscall_stub, find_syscall_sites, kernel_entry_points};
pub(crate) use sites::{inline_asm, module_asm};
pub use unikernel_abi::syscall::REGISTER_FRAME as REGISTER_FRAME_SYSCALLS;

/// Prefix of the kernel's per-syscall entries: `__unikernel_sys_NAME`.
pub const ENTRY_PREFIX: &str = "__unikernel_sys_";
/// The kernel's dispatcher: `__unikernel_syscall(nr, a0..a5) -> i64`.
pub const DISPATCHER: &str = "__unikernel_syscall";
/// The libc function std calls for system calls it has no wrapper for.
pub const LIBC_SYSCALL: &str = "syscall";
/// Prefix of the kernel's entries for syscalls it knows but does not implement:
/// `__unikernel_enosys_NAME(a0..a5) -> i64`, answering `-ENOSYS`.
pub const ENOSYS_PREFIX: &str = "__unikernel_enosys_";
/// The kernel's replacement for the `syscall` instruction, defined in module-level asm
/// and reached by `call`, with the instruction's register convention.
pub const SYSCALL_STUB: &str = "__unikernel_syscall_stub";

/// For each system call in `module`'s module-level asm (a `syscall` instruction or a
/// stub call), its number when an immediate set it just before (see
/// [`crate::trap_numbers`]).
pub fn module_asm_entry_numbers(module: &inkwell::module::Module<'_>) -> Vec<Option<u64>> {
    asm::entry_numbers(&sites::module_asm(module))
}

/// Whether syscall `number` must keep its register frame (see
/// [`REGISTER_FRAME_SYSCALLS`]: clone, fork, vfork, execve, rt_sigreturn, clone3).
pub fn needs_register_frame(number: u64) -> bool {
    usize::try_from(number).is_ok_and(unikernel_abi::syscall::is_register_frame)
}

/// The Linux name of system call `number`, if Linux has one. The numbers and names
/// are the ABI crate's (`unikernel_abi::syscall`), the same list the kernel's entries
/// are generated from, so a name found here is the `NAME` of `__unikernel_sys_NAME`.
pub fn syscall_name(number: u64) -> Option<&'static str> {
    usize::try_from(number)
        .ok()
        .and_then(unikernel_abi::syscall::name)
}

/// The number of system call `name`, if Linux has one.
pub fn syscall_number(name: &str) -> Option<u32> {
    unikernel_abi::Sysno::from_name(name).map(|sysno| u32::from(sysno as u16))
}

/// The kernel entry function of system call `name`: `__unikernel_sys_NAME`.
pub fn entry_symbol(name: &str) -> String {
    format!("{ENTRY_PREFIX}{name}")
}

/// How a site enters the kernel before the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum SiteKind {
    /// An inline-asm call whose template contains a `syscall` instruction.
    InlineAsm,
    /// A call of libc `syscall(nr, a0..a5)`, with the shim's fixed-arity type.
    LibcCall,
    /// A call of the dispatcher (made by an earlier run of the rewrite).
    Dispatcher,
}

/// Why a site stays on the trap path.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Obstacle {
    /// The template holds more than the `syscall` instruction.
    Template,
    /// A constraint other than a plain register (memory, register class, indirect,
    /// `asm goto` label), or a register bound twice.
    Constraint(String),
    /// An operand in a register that is not part of the syscall ABI.
    Register(String),
    /// An output other than `rax`, or a read of the `rcx`/`r11` the instruction
    /// overwrites.
    Output(String),
    /// Nothing is bound to `rax`, so there is no number.
    NoNumber,
    /// An operand or result that is not an integer of at most 64 bits or a pointer.
    OperandType(String),
    /// An `invoke` or `callbr` of the asm rather than a plain call.
    NotACall,
    /// The module's dispatcher does not have the documented type.
    DispatcherSignature,
    /// The syscall needs the caller's register frame ([`REGISTER_FRAME_SYSCALLS`]).
    RegisterFrame,
}

impl std::fmt::Display for Obstacle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Obstacle::Template => write!(f, "asm template holds more than `syscall`"),
            Obstacle::Constraint(c) => write!(f, "unsupported asm constraint `{c}`"),
            Obstacle::Register(r) => write!(f, "operand in register `{r}`"),
            Obstacle::Output(c) => write!(f, "asm outputs besides rax (`{c}`)"),
            Obstacle::NoNumber => write!(f, "no operand in rax"),
            Obstacle::OperandType(t) => write!(f, "operand of type `{t}`"),
            Obstacle::NotACall => write!(f, "asm reached through invoke/callbr"),
            Obstacle::DispatcherSignature => {
                write!(
                    f,
                    "`{DISPATCHER}` is not `i64 (i64, i64, i64, i64, i64, i64, i64)`"
                )
            }
            Obstacle::RegisterFrame => write!(f, "needs the caller's register frame"),
        }
    }
}

/// Where a site's call goes after a run of the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A direct call of the kernel entry `__unikernel_sys_NAME`.
    Direct,
    /// A direct call of `__unikernel_enosys_NAME`: the kernel does not implement it.
    DirectUnimplemented,
    /// The dispatcher, with a constant number the kernel has no entry for.
    DispatcherConstant,
    /// The dispatcher, with a number known only at run time.
    DispatcherDynamic,
    /// The asm stays, with `call __unikernel_syscall_stub` in place of every `syscall`
    /// instruction.
    StubCall,
    /// A `syscall` instruction stays and traps into the kernel through LSTAR.
    TrapPath,
}

/// One site, for the build report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SiteReport {
    pub function: String,
    pub kind: SiteKind,
    pub number: Option<u64>,
    /// The Linux name of `number`.
    #[serde(deserialize_with = "names::name")]
    pub name: Option<SyscallName>,
    pub outcome: Outcome,
    /// Whether this run rewrote the site (false for trap-path sites and for dispatcher
    /// calls left as they were).
    pub changed: bool,
    /// Why the site stays on the trap path.
    pub obstacle: Option<Obstacle>,
}

/// How the kernel is entered for a reached syscall.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum KernelEntry {
    /// Neither entry exists: the dispatcher answers (`-ENOSYS` unless it knows more).
    Dispatcher,
    /// A register-frame syscall: through the stub or the trap path, never a C call.
    RegisterFrame,
    /// `__unikernel_enosys_NAME`: the kernel knows the name and does not implement it.
    Enosys,
    /// `__unikernel_sys_NAME`: implemented.
    Sys,
}

/// A syscall number some site passes as a constant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachedSyscall {
    pub number: u64,
    /// `None` for a number Linux does not have.
    #[serde(deserialize_with = "names::name")]
    pub name: Option<SyscallName>,
    /// Whether the module defines `__unikernel_sys_NAME` with the documented type.
    pub implemented: bool,
    /// Which kernel entry serves it.
    pub entry: KernelEntry,
}

/// Counters of one run of [`rewrite_syscalls`]. Every site the run found has exactly
/// one outcome, so `sites == direct + direct_unimplemented + dispatched_constant +
/// dispatched_dynamic + stub_calls + trap_path`; `changed` of them were rewritten by
/// this run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallRewriteStats {
    /// Sites found: asm with a `syscall` instruction (or the stub call an earlier run
    /// put there), libc `syscall` calls and dispatcher calls.
    pub sites: usize,
    /// Sites this run rewrote.
    pub changed: usize,
    /// Sites that now call `__unikernel_sys_NAME` directly.
    pub direct: usize,
    /// Sites that now call `__unikernel_enosys_NAME` directly.
    pub direct_unimplemented: usize,
    /// The names of the syscalls behind `direct_unimplemented`, sorted, each once.
    #[serde(deserialize_with = "names::names")]
    pub direct_unimplemented_names: Vec<&'static str>,
    /// Sites that call the dispatcher with a constant number (no kernel entry).
    pub dispatched_constant: usize,
    /// Sites that call the dispatcher with a non-constant number.
    pub dispatched_dynamic: usize,
    /// Inline-asm sites that enter the kernel through `call __unikernel_syscall_stub`.
    pub stub_calls: usize,
    /// Sites where a `syscall` instruction is still there (no stub in the module).
    pub trap_path: usize,
    /// Whether the module defines [`SYSCALL_STUB`].
    pub syscall_stub_defined: bool,
    /// `syscall` instructions left in module-level asm (naked functions): trap path.
    pub module_asm_syscalls: usize,
    /// `call __unikernel_syscall_stub` statements in module-level asm after the run.
    pub module_asm_stub_calls: usize,
    /// Every site found, in module order.
    pub details: Vec<SiteReport>,
    /// The constant numbers found, sorted, each once.
    pub reached: Vec<ReachedSyscall>,
}

impl SyscallRewriteStats {
    /// Reached syscalls the kernel does not implement (they answer `-ENOSYS`, through
    /// an enosys entry or the dispatcher). Register-frame syscalls are the stub's
    /// business and not listed.
    pub fn unimplemented(&self) -> impl Iterator<Item = &ReachedSyscall> {
        self.reached
            .iter()
            .filter(|r| matches!(r.entry, KernelEntry::Dispatcher | KernelEntry::Enosys))
    }
}

/// The union of the syscalls reached in several runs (e.g. before and after the first
/// optimization), sorted by number. A syscall counts as implemented if any run found
/// its entry (the optimizer may have inlined an entry away by a later run).
pub fn reached_syscalls(runs: &[SyscallRewriteStats]) -> Vec<ReachedSyscall> {
    let mut all: Vec<ReachedSyscall> = runs.iter().flat_map(|run| run.reached.clone()).collect();
    all.sort_by_key(|r| r.number);
    all.dedup_by(|later, kept| {
        let same = later.number == kept.number;
        if same {
            kept.implemented |= later.implemented;
            kept.entry = kept.entry.max(later.entry);
        }
        same
    });
    all
}

/// What the runs of the rewrite left in the module, for the build report: sites made
/// direct are counted in the run that made them (later runs no longer see them as
/// sites); what stays a site (dispatcher calls, stub calls, trap-path asm) is counted
/// as the last run found it.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SyscallSummary {
    /// Calls of `__unikernel_sys_NAME` the rewrite made.
    pub direct: usize,
    /// Calls of `__unikernel_enosys_NAME` the rewrite made.
    pub direct_unimplemented: usize,
    /// Their syscalls' names, sorted, each once.
    #[serde(deserialize_with = "names::names")]
    pub direct_unimplemented_names: Vec<&'static str>,
    pub dispatched_constant: usize,
    pub dispatched_dynamic: usize,
    /// Inline-asm sites entering the kernel through `call __unikernel_syscall_stub`.
    pub stub_calls: usize,
    /// Sites with a `syscall` instruction left.
    pub trap_path: usize,
    pub syscall_stub_defined: bool,
    /// `syscall` instructions left in module-level asm.
    pub module_asm_syscalls: usize,
    pub module_asm_stub_calls: usize,
    /// Every syscall reached with a constant number, and how the kernel serves it.
    pub reached: Vec<ReachedSyscall>,
}

impl SyscallSummary {
    /// The summary of `runs` (in order), or `None` if the rewrite never ran.
    pub fn of(runs: &[SyscallRewriteStats]) -> Option<Self> {
        let last = runs.last()?;
        let mut names: Vec<&'static str> = runs
            .iter()
            .flat_map(|run| run.direct_unimplemented_names.iter().copied())
            .collect();
        names.sort_unstable();
        names.dedup();
        Some(Self {
            direct: runs.iter().map(|run| run.direct).sum(),
            direct_unimplemented: runs.iter().map(|run| run.direct_unimplemented).sum(),
            direct_unimplemented_names: names,
            dispatched_constant: last.dispatched_constant,
            dispatched_dynamic: last.dispatched_dynamic,
            stub_calls: last.stub_calls,
            trap_path: last.trap_path,
            syscall_stub_defined: last.syscall_stub_defined,
            module_asm_syscalls: last.module_asm_syscalls,
            module_asm_stub_calls: last.module_asm_stub_calls,
            reached: reached_syscalls(runs),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_numbers_and_entry_symbols() {
        assert_eq!(syscall_name(39), Some("getpid"));
        assert_eq!(syscall_number("getpid"), Some(39));
        for number in [337, 512, 1 << 32, u64::MAX] {
            assert_eq!(syscall_name(number), None, "number {number}");
        }
        assert_eq!(syscall_number("sys_getpid"), None);
        assert_eq!(entry_symbol("getpid"), "__unikernel_sys_getpid");
    }

    #[test]
    fn register_frame_syscalls() {
        let numbers: Vec<u64> = [15, 56, 57, 58, 59, 435].into();
        for number in 0..600 {
            assert_eq!(
                needs_register_frame(number),
                numbers.contains(&number),
                "number {number}"
            );
        }
        assert!(!needs_register_frame(u64::MAX));
        assert_eq!(REGISTER_FRAME_SYSCALLS.len(), numbers.len());
    }

    #[test]
    fn summary_adds_up_direct_calls_and_keeps_the_last_runs_rest() {
        assert_eq!(SyscallSummary::of(&[]), None);
        let first = SyscallRewriteStats {
            direct: 200,
            direct_unimplemented: 3,
            direct_unimplemented_names: vec!["kill", "madvise"],
            dispatched_constant: 20,
            stub_calls: 2,
            module_asm_stub_calls: 2,
            syscall_stub_defined: true,
            ..SyscallRewriteStats::default()
        };
        let second = SyscallRewriteStats {
            direct: 4,
            direct_unimplemented: 1,
            direct_unimplemented_names: vec!["dup"],
            dispatched_constant: 15,
            stub_calls: 2,
            module_asm_stub_calls: 2,
            syscall_stub_defined: true,
            ..SyscallRewriteStats::default()
        };
        let summary = SyscallSummary::of(&[first, second]).unwrap();
        assert_eq!(
            (
                summary.direct,
                summary.direct_unimplemented,
                summary.dispatched_constant,
                summary.stub_calls,
                summary.module_asm_stub_calls
            ),
            (204, 4, 15, 2, 2)
        );
        assert_eq!(
            summary.direct_unimplemented_names,
            ["dup", "kill", "madvise"]
        );
    }

    #[test]
    fn reached_in_any_run_and_implemented_if_any_run_saw_the_entry() {
        let reached = |number, entry| ReachedSyscall {
            number,
            name: syscall_name(number),
            implemented: entry == KernelEntry::Sys,
            entry,
        };
        let first = SyscallRewriteStats {
            reached: vec![
                reached(1, KernelEntry::Sys),
                reached(39, KernelEntry::Sys),
                reached(62, KernelEntry::Enosys),
            ],
            ..SyscallRewriteStats::default()
        };
        let second = SyscallRewriteStats {
            reached: vec![
                reached(0, KernelEntry::Dispatcher),
                reached(39, KernelEntry::Dispatcher),
                reached(62, KernelEntry::Dispatcher),
            ],
            ..SyscallRewriteStats::default()
        };
        assert_eq!(
            reached_syscalls(&[first, second]),
            [
                reached(0, KernelEntry::Dispatcher),
                reached(1, KernelEntry::Sys),
                reached(39, KernelEntry::Sys),
                reached(62, KernelEntry::Enosys),
            ]
        );
    }
}
