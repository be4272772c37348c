//! Classes of expected failure, each with its own exit code.
//!
//! Errors travel as `anyhow::Error`; the class is attached as context at the point the
//! failure is recognised, and `main` finds it in the chain to pick the exit code.

/// Exit codes (documented in the README):
///
/// | code | class |
/// |------|-------|
/// | 1 | anything unexpected |
/// | 2 | command-line usage: clap's errors, flag values `run` checks (`--memory`, `--env`) |
/// | 3 | the project: not a cargo project, unknown package, bin or example, a missing `--profile-use` file |
/// | 4 | the toolchain: wrong LLVM, missing rust-lld |
/// | 5 | cargo failed to compile the app |
/// | 6 | the whole-program build: bad bitcode, LLVM failure, a `--profile-use` file that is not a profile |
/// | 7 | the final link: undefined symbols, unsupported libraries |
/// | 8 | running the image: QEMU missing or failing, `--accel kvm` on a host without KVM, a guest that times out |
/// | 9 | a checked property: a reachable unimplemented syscall, a `#[unikernel::...]` annotation that does not hold (no_syscalls, no_alloc, no_panic, syscalls, max_stack), a syscall outside `[package.metadata.unikernel] syscalls` |
///
/// A class displays as the empty string: it is a marker in the error chain, not part of
/// the message.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum Failure {
    #[error("")]
    Usage,
    #[error("")]
    Project,
    #[error("")]
    Toolchain,
    #[error("")]
    Compile,
    #[error("")]
    WholeProgram,
    #[error("")]
    Link,
    #[error("")]
    Run,
    #[error("")]
    Check,
}

impl Failure {
    pub fn exit_code(self) -> u8 {
        match self {
            Failure::Usage => 2,
            Failure::Project => 3,
            Failure::Toolchain => 4,
            Failure::Compile => 5,
            Failure::WholeProgram => 6,
            Failure::Link => 7,
            Failure::Run => 8,
            Failure::Check => 9,
        }
    }

    /// The class attached to `error`, if any.
    pub fn of(error: &anyhow::Error) -> Option<Self> {
        error.downcast_ref::<Failure>().copied()
    }
}

/// The user-facing message: the chain without the class markers, on one line.
pub fn message(error: &anyhow::Error) -> String {
    error
        .chain()
        .map(|e| e.to_string())
        .filter(|m| !m.is_empty())
        .collect::<Vec<_>>()
        .join(": ")
}
