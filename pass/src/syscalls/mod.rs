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
//! - otherwise a call of the dispatcher `__unikernel_syscall(nr, a0..a5) -> i64`
//!   (declared if missing; the kernel defines it and answers `-ENOSYS` to what it does
//!   not implement).
//!
//! A rewritten libc `syscall` call also passes the kernel's `-errno` result through
//! [`LIBC_ERRNO_ADAPTER`], so callers still see libc's -1 and `errno`.
//!
//! Sites it cannot rewrite (a template with more than the one instruction, an operand
//! outside the syscall registers) stay on the trap path and are counted, as are
//! `syscall` instructions in module-level asm (naked functions such as the shim's
//! clone trampoline).
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
mod rewrite;
mod sites;
pub mod table;

use serde::Serialize;

pub use rewrite::{LIBC_ERRNO_ADAPTER, rewrite_syscalls};
pub use sites::{SyscallSite, find_syscall_sites, kernel_entry_points};
pub use table::{SYSCALLS, syscall_name, syscall_number};

/// Prefix of the kernel's per-syscall entries: `__unikernel_sys_NAME`.
pub const ENTRY_PREFIX: &str = "__unikernel_sys_";
/// The kernel's dispatcher: `__unikernel_syscall(nr, a0..a5) -> i64`.
pub const DISPATCHER: &str = "__unikernel_syscall";
/// The libc function std calls for system calls it has no wrapper for.
pub const LIBC_SYSCALL: &str = "syscall";

/// How a site enters the kernel before the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
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
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
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
        }
    }
}

/// Where a site's call goes after a run of the rewrite.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Outcome {
    /// A direct call of the kernel entry `__unikernel_sys_NAME`.
    Direct,
    /// The dispatcher, with a constant number the kernel has no entry for.
    DispatcherConstant,
    /// The dispatcher, with a number known only at run time.
    DispatcherDynamic,
    /// The `syscall` instruction stays and traps into the kernel through LSTAR.
    TrapPath,
}

/// One site, for the build report.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SiteReport {
    pub function: String,
    pub kind: SiteKind,
    pub number: Option<u64>,
    /// The Linux name of `number`.
    pub name: Option<&'static str>,
    pub outcome: Outcome,
    /// Whether this run rewrote the site (false for trap-path sites and for dispatcher
    /// calls left as they were).
    pub changed: bool,
    /// Why the site stays on the trap path.
    pub obstacle: Option<Obstacle>,
}

/// A syscall number some site passes as a constant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ReachedSyscall {
    pub number: u64,
    /// `None` for a number Linux does not have.
    pub name: Option<&'static str>,
    /// Whether the module defines `__unikernel_sys_NAME` with the documented type.
    pub implemented: bool,
}

/// Counters of one run of [`rewrite_syscalls`]. Every site the run found has exactly
/// one outcome, so `sites == direct + dispatched_constant + dispatched_dynamic +
/// trap_path`; `changed` of them were rewritten by this run.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize)]
pub struct SyscallRewriteStats {
    /// Sites found: asm with a `syscall` instruction, libc `syscall` calls and
    /// dispatcher calls.
    pub sites: usize,
    /// Sites this run rewrote.
    pub changed: usize,
    /// Sites that now call a kernel entry directly.
    pub direct: usize,
    /// Sites that call the dispatcher with a constant number (no kernel entry).
    pub dispatched_constant: usize,
    /// Sites that call the dispatcher with a non-constant number.
    pub dispatched_dynamic: usize,
    /// Sites left on the trap path.
    pub trap_path: usize,
    /// `syscall` instructions in module-level asm (naked functions): trap path too.
    pub module_asm_syscalls: usize,
    /// Every site found, in module order.
    pub details: Vec<SiteReport>,
    /// The constant numbers found, sorted, each once.
    pub reached: Vec<ReachedSyscall>,
}

impl SyscallRewriteStats {
    /// Reached syscalls the kernel does not implement (they answer `-ENOSYS`).
    pub fn unimplemented(&self) -> impl Iterator<Item = &ReachedSyscall> {
        self.reached.iter().filter(|r| !r.implemented)
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
        kept.implemented |= same && later.implemented;
        same
    });
    all
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reached_in_any_run_and_implemented_if_any_run_saw_the_entry() {
        let reached = |number, implemented| ReachedSyscall {
            number,
            name: syscall_name(number),
            implemented,
        };
        let first = SyscallRewriteStats {
            reached: vec![reached(1, true), reached(39, true)],
            ..SyscallRewriteStats::default()
        };
        let second = SyscallRewriteStats {
            reached: vec![reached(0, false), reached(39, false)],
            ..SyscallRewriteStats::default()
        };
        assert_eq!(
            reached_syscalls(&[first, second]),
            [reached(0, false), reached(1, true), reached(39, true)]
        );
    }
}
