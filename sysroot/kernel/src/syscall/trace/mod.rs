//! The system-call tracer (`unikernel.strace[=NAME,...]` on the command line,
//! `cargo unikernel run --strace`): one line per call on the console, strace-style.
//!
//! ```text
//! [pid 1] openat(AT_FDCWD, "/tmp/a.txt", O_RDONLY|O_CLOEXEC) = 3 <0.000012>
//! [pid 1] read(3, "hello, file\n", 13) = 12 <0.000004>
//! [pid 1] unlink("/tmp/b") = -1 ENOENT (No such file or directory) <0.000003>
//! ```
//!
//! The tracer sits where every system call enters the kernel: the direct-call entries
//! `__unikernel_sys_NAME`/`__unikernel_enosys_NAME` and both dispatchers (`table.rs`,
//! `dispatch.rs`). Off, each of them pays one load and one never-taken branch on
//! [`active`]; the image is the same with and without tracing. On, the call runs
//! through [`traced`], which checks the name filter and prints the line after the call
//! returns (so buffers the call filled can be shown, and lines of different threads
//! never interleave; strace `-f` would print `<unfinished ...>` instead). Calls that do
//! not return (`exit`, `exit_group`) print `= ?` before they run, as strace does.
//! `[pid N]` is the calling thread's id (Linux's tid, as in `strace -f`); `<S.UUUUUU>`
//! is the call's duration in seconds, strace's `-T`.

mod decode;

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use unikernel_abi::Sysno;

use super::SyscallArgs;
pub use crate::cmdline::SyscallSet;

/// Whether any call is traced: the one flag every entry reads.
static ACTIVE: AtomicBool = AtomicBool::new(false);
/// The traced calls, one bit per number.
static FILTER: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Starts tracing the calls in `set` (at boot, from the command line).
pub fn enable(set: SyscallSet) {
    for (word, bits) in FILTER.iter().zip(set.words()) {
        word.store(bits, Ordering::Relaxed);
    }
    ACTIVE.store(true, Ordering::Relaxed);
}

/// Whether tracing is on: checked on every system call, so it must stay one load and
/// one branch, inlined.
#[inline(always)]
pub fn active() -> bool {
    ACTIVE.load(Ordering::Relaxed)
}

/// Runs `call` (system call `nr` with `args`, returning the raw result) and prints
/// its trace line if `nr` passes the filter.
///
/// Generic and inlined, so `call` stays a direct call: a closure passed as `&dyn`
/// would sit in a vtable, and the pass could no longer see that the dispatch table is
/// read only by the dispatchers (`pass/src/trap_numbers.rs`), keeping every handler.
/// The work is in the two outlined halves, [`begin`] and [`finish`].
#[inline(always)]
pub fn traced(nr: usize, args: SyscallArgs, mut call: impl FnMut() -> isize) -> isize {
    match begin(nr, &args) {
        Begin::Untraced => call(),
        Begin::Timed { tid, start } => {
            let result = call();
            finish(nr, &args, tid, start, result);
            result
        }
    }
}

/// What [`begin`] decided for one call.
#[derive(Debug)]
pub enum Begin {
    /// Filtered out, or a call that never returns whose line is already printed.
    Untraced,
    /// Traced: the line is printed by [`finish`] when the call returns.
    Timed { tid: u32, start: u64 },
}

/// The first half of [`traced`]: the filter, and the line of a call that never
/// returns (`exit`, `exit_group`), printed before it runs.
#[cold]
#[inline(never)]
pub fn begin(nr: usize, args: &SyscallArgs) -> Begin {
    let word = FILTER
        .get(nr / 64)
        .map_or(0, |word| word.load(Ordering::Relaxed));
    if word & (1 << (nr % 64)) == 0 {
        return Begin::Untraced;
    }
    let tid = crate::sched::try_current_tid().unwrap_or(0);
    if matches!(
        Sysno::from_number(nr),
        Some(Sysno::exit | Sysno::exit_group)
    ) {
        let mut line = prefix(tid);
        decode::call(&mut line, nr, &args.0, None);
        line.push_str(" = ?");
        unikernel_hal::console::write_bytes(line.finish());
        return Begin::Untraced;
    }
    Begin::Timed {
        tid,
        start: crate::time::monotonic_ns(),
    }
}

/// The second half of [`traced`]: the line of a call that returned `result`.
#[cold]
#[inline(never)]
pub fn finish(nr: usize, args: &SyscallArgs, tid: u32, start: u64, result: isize) {
    let elapsed = crate::time::monotonic_ns().saturating_sub(start);
    let mut line = prefix(tid);
    decode::call(&mut line, nr, &args.0, Some(result));
    decode::result(&mut line, nr, result);
    let micros = elapsed / 1000;
    let _ = core::fmt::Write::write_fmt(
        &mut line,
        format_args!(" <{}.{:06}>", micros / 1_000_000, micros % 1_000_000),
    );
    unikernel_hal::console::write_bytes(line.finish());
}

fn prefix(tid: u32) -> Line {
    let mut line = Line::new();
    let _ = core::fmt::Write::write_fmt(&mut line, format_args!("[pid {tid}] "));
    line
}

/// One trace line, built on the stack: the tracer must not allocate (the allocator
/// may itself call `mmap`, which would be traced inside the line being built).
/// What does not fit is cut, and the line ends with `...` and the newline.
pub(super) struct Line {
    bytes: [u8; Line::CAPACITY],
    len: usize,
}

impl Line {
    const CAPACITY: usize = 1024;

    pub(super) fn new() -> Line {
        Line {
            bytes: [0; Line::CAPACITY],
            len: 0,
        }
    }

    pub(super) fn push_str(&mut self, s: &str) {
        // Four bytes stay free for the `...` and newline of a cut line.
        let room = (Line::CAPACITY - 4).saturating_sub(self.len);
        let n = s.len().min(room);
        self.bytes[self.len..self.len + n].copy_from_slice(&s.as_bytes()[..n]);
        self.len += n;
    }

    pub(super) fn push(&mut self, c: char) {
        self.push_str(c.encode_utf8(&mut [0; 4]));
    }

    /// Removes the last byte (only ever an ASCII one the decoder pushed).
    pub(super) fn pop(&mut self) {
        self.len = self.len.saturating_sub(1);
    }

    /// The line with its newline; `...` first if it was cut.
    pub(super) fn finish(&mut self) -> &[u8] {
        if self.len == Line::CAPACITY - 4 {
            self.bytes[self.len..self.len + 3].copy_from_slice(b"...");
            self.len += 3;
        }
        self.bytes[self.len] = b'\n';
        &self.bytes[..=self.len]
    }
}

impl core::fmt::Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.push_str(s);
        Ok(())
    }
}
