//! Signal names (x86-64 numbering, `arch/x86/include/uapi/asm/signal.h`).

const NAMES: [&str; 31] = [
    "SIGHUP",
    "SIGINT",
    "SIGQUIT",
    "SIGILL",
    "SIGTRAP",
    "SIGABRT",
    "SIGBUS",
    "SIGFPE",
    "SIGKILL",
    "SIGUSR1",
    "SIGSEGV",
    "SIGUSR2",
    "SIGPIPE",
    "SIGALRM",
    "SIGTERM",
    "SIGSTKFLT",
    "SIGCHLD",
    "SIGCONT",
    "SIGSTOP",
    "SIGTSTP",
    "SIGTTIN",
    "SIGTTOU",
    "SIGURG",
    "SIGXCPU",
    "SIGXFSZ",
    "SIGVTALRM",
    "SIGPROF",
    "SIGWINCH",
    "SIGIO",
    "SIGPWR",
    "SIGSYS",
];

/// `SIGABRT`, ...; real-time signals print as `SIGRT<n>` (bash's `SIGRTMIN+n` counts
/// from glibc's SIGRTMIN, which depends on the libc).
pub fn name(sig: usize) -> Name {
    Name(sig)
}

/// Displays a signal's name.
#[derive(Clone, Copy, Debug)]
pub struct Name(usize);

impl core::fmt::Display for Name {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        match self.0.checked_sub(1).and_then(|i| NAMES.get(i)) {
            Some(name) => f.write_str(name),
            None => write!(f, "SIGRT{}", self.0),
        }
    }
}
