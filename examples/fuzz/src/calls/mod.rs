//! The table of fuzzed system calls: for each, its x86-64 number, how to make its
//! arguments, and the errnos Linux documents for it (its man page's ERRORS section;
//! where Linux is known to return one its page omits, the entry says so). The
//! unikernel's implemented calls are `sysroot/kernel/src/syscall/list.rs`; every one of
//! them is here or in [`EXCLUDED`] with the reason (a test checks both lists agree).
//!
//! One module per family, like the kernel's: `io` (descriptors), `fs` (paths), `mm`
//! (memory), `task` (process, signals, time, futex), `timer` (alarm, interval
//! timers), `event` (poll, epoll, eventfd), `net` (the calls every socket takes),
//! `inet` (making and connecting TCP sockets; a new family of sockets is one more
//! descriptor source, `crate::sources`, and its own calls here).

mod event;
mod fs;
mod inet;
mod io;
mod mm;
mod net;
mod task;
mod timer;

use crate::args::{Gen, Prepared};
use crate::errno::*;

/// One fuzzed system call.
#[derive(Debug)]
pub struct Call {
    pub name: &'static str,
    pub number: i64,
    /// The errnos its man page lists, as groups (shared lists such as [`PATH`] and
    /// the call's own).
    pub errnos: &'static [&'static [i32]],
    /// Makes one set of arguments.
    pub make: fn(&mut Gen) -> Prepared,
}

impl Call {
    pub fn allows(&self, errno: i32) -> bool {
        self.errnos.iter().any(|group| group.contains(&errno))
    }

    /// The lock to hold from making the call's arguments to its clean-up, if any.
    pub fn serial(&self) -> Option<&'static std::sync::Mutex<()>> {
        mm::CALLS
            .iter()
            .any(|call| call.number == self.number)
            .then_some(&mm::SERIAL)
    }
}

/// Every fuzzed call, by family.
pub fn all() -> Vec<&'static Call> {
    [
        io::CALLS,
        fs::CALLS,
        mm::CALLS,
        task::CALLS,
        timer::CALLS,
        event::CALLS,
        net::CALLS,
        inet::CALLS,
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// Implemented calls the fuzzer never makes, and why: each would end the program,
/// wedge it, or change state the program itself needs, by design rather than by a
/// kernel bug.
pub const EXCLUDED: &[(&str, &str)] = &[
    (
        "exit",
        "ends the calling thread: its share of calls would not run",
    ),
    ("exit_group", "ends the program"),
    (
        "pause",
        "waits for a signal handler to run: only a timer the run happened to arm would end it",
    ),
    (
        "set_tid_address",
        "replaces the word the thread library clears and wakes at thread exit, which its join waits on: the join would never return",
    ),
];

/// Errnos of the read(2) family on the pool's descriptor kinds.
pub const READ: &[i32] = &[EAGAIN, EBADF, EFAULT, EINTR, EINVAL, EIO, EISDIR];
/// write(2)'s ERRORS.
pub const WRITE: &[i32] = &[
    EAGAIN,
    EBADF,
    EDESTADDRREQ,
    EDQUOT,
    EFAULT,
    EFBIG,
    EINTR,
    EINVAL,
    EIO,
    ENOSPC,
    EPERM,
    EPIPE,
];
/// What a TCP socket's descriptor adds to the read(2) and write(2) families (and
/// sendfile): recv(2)'s ENOTCONN for a socket not connected, and the pending error
/// of a connection the network ended, which the next call on it returns (socket(7)
/// `SO_ERROR`, tcp(7)).
pub const CONNECTION: &[i32] = &[
    ENOTCONN,
    ECONNREFUSED,
    ECONNRESET,
    ECONNABORTED,
    ETIMEDOUT,
    EHOSTUNREACH,
    ENETUNREACH,
    EPIPE,
];
/// Errnos of path resolution (path_resolution(7)) that every path-taking call lists.
pub const PATH: &[i32] = &[EACCES, EFAULT, ELOOP, ENAMETOOLONG, ENOENT, ENOMEM, ENOTDIR];
