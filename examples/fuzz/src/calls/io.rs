//! Calls on descriptors: read/write and their vector and positioned forms, close, dup,
//! fcntl, ioctl, lseek, fsync, ftruncate, pipes, sendfile, copy_file_range.
//!
//! Rules that keep the run bounded: the pool's descriptors stay non-blocking (F_SETFL
//! always keeps O_NONBLOCK; FIONBIO and FIOASYNC are not requested: clearing
//! O_NONBLOCK would let a read of the empty pipe wait forever, O_ASYNC would send
//! SIGIO, whose default action ends the program); new descriptors are closed at once;
//! `close`, `dup2` and `dup3` never name a pool descriptor as the one to close (a
//! reused number could come back blocking); lengths past the arena fault at its guard;
//! truncation sizes stay below 1 MiB or are invalid, so files stay small.

use super::{CONNECTION, Call, READ, WRITE};
use crate::args::{After, Gen, Prepared};
use crate::errno::*;
use crate::world::{CLOSED_FD, O_NONBLOCK};

const SPIPE: &[i32] = &[ESPIPE, EINVAL, EOVERFLOW, ENXIO];
/// fcntl(2)'s ERRORS, and EOVERFLOW: Linux returns it for a lock range whose end
/// passes the largest offset (fs/locks.c), which the page does not list.
const FCNTL: &[i32] = &[
    EACCES, EAGAIN, EBADF, EBUSY, EDEADLK, EFAULT, EINTR, EINVAL, EMFILE, ENOLCK, ENOTDIR, EPERM,
    EOVERFLOW,
];
const DUP: &[i32] = &[EBADF, EBUSY, EINTR, EINVAL, EMFILE];
const PIPE: &[i32] = &[EFAULT, EINVAL, EMFILE, ENFILE, ENOPKG];
const SYNC: &[i32] = &[EBADF, EINTR, EIO, ENOSPC, EROFS, EINVAL, EDQUOT];
const TRUNCATE: &[i32] = &[
    EBADF, EFBIG, EINTR, EINVAL, EIO, EISDIR, EPERM, EROFS, ETXTBSY,
];
const IOCTL: &[i32] = &[EBADF, EFAULT, EINVAL, ENOTTY];
/// sendfile(2)'s ERRORS, and EPIPE: Linux's for an output socket that has shut down
/// writing (the pool's shut pair), as write(2) documents it; the page omits it; and
/// a TCP socket's [`CONNECTION`] errors.
const SENDFILE: &[i32] = &[
    EAGAIN, EBADF, EFAULT, EINVAL, EIO, ENOMEM, EOVERFLOW, ESPIPE, EPIPE,
];
const COPY_FILE_RANGE: &[i32] = &[
    EBADF, EFBIG, EINVAL, EIO, EISDIR, ENOMEM, ENOSPC, EOPNOTSUPP, EOVERFLOW, EPERM, ETXTBSY,
    EXDEV, EFAULT, EAGAIN,
];
const IOV: usize = 4;

fn rw(g: &mut Gen, out: bool) -> Prepared {
    let fd = g.fd();
    let buf = if out { g.out_pointer() } else { g.in_pointer() };
    let len = g.length();
    Prepared::new(&[fd, buf, len])
}

fn rw_at(g: &mut Gen, out: bool) -> Prepared {
    let mut p = rw(g, out);
    p.args[3] = g.offset();
    p
}

fn rwv(g: &mut Gen) -> Prepared {
    let fd = g.fd();
    let count = match g.below(8) {
        0 => g.pick(&[usize::MAX, 1025, 0x8000_0000]),
        _ => g.below(IOV as u64 + 1) as usize,
    };
    let iov = if g.one_in(8) {
        g.bad_pointer()
    } else {
        g.iovecs(IOV)
    };
    Prepared::new(&[fd, iov, count, g.offset()])
}

/// A descriptor `close`/`dup2`/`dup3` may close: never one of the pool.
fn closable(g: &mut Gen) -> usize {
    if g.one_in(3) {
        CLOSED_FD as usize
    } else {
        g.bad_fd()
    }
}

/// fcntl commands: F_DUPFD(_CLOEXEC), F_GETFD/F_SETFD, F_GETFL/F_SETFL, F_GETLK,
/// F_SETLK (never waits), F_GETPIPE_SZ/F_SETPIPE_SZ, F_GETOWN, F_GETSIG, and unknown
/// numbers. Not F_SETLKW/F_OFD_SETLKW (wait for a lock that open file descriptions of
/// this program may hold forever), F_SETOWN/F_SETSIG/F_NOTIFY/F_SETLEASE (arrange
/// signals whose default action ends the program).
const FCNTL_COMMANDS: [usize; 14] = [0, 1030, 1, 2, 3, 4, 5, 6, 1032, 1031, 9, 11, 99, 0xdead];

fn fcntl(g: &mut Gen) -> Prepared {
    let fd = g.fd();
    let cmd = g.pick(&FCNTL_COMMANDS);
    let arg = match cmd {
        // F_SETFL: keep the description non-blocking, never O_ASYNC.
        4 => (g.flags(0o7777777) | O_NONBLOCK as usize) & !0o20000,
        // F_GETLK/F_SETLK: a struct flock, or a bad pointer.
        5 | 6 => {
            if g.one_in(4) {
                g.bad_pointer()
            } else {
                let kind_whence = g.below(4) | (g.below(3) << 16);
                let start = g.offset() as u64;
                let len = g.below(100);
                g.place(&[kind_whence, start, len, 0])
            }
        }
        _ => g.flags(u64::MAX),
    };
    let after = if cmd == 0 || cmd == 1030 {
        After::CloseResult
    } else {
        After::Nothing
    };
    Prepared::new(&[fd, cmd, arg]).then(after)
}

/// ioctl requests: FIOCLEX, FIONCLEX, FIONREAD, TCGETS, TIOCGWINSZ, FIGETBSZ and
/// unknown ones; not FIONBIO or FIOASYNC (see the module's rules).
const IOCTL_REQUESTS: [usize; 8] = [0x5451, 0x5450, 0x541b, 0x5401, 0x5413, 2, 0, 0xdead_beef];

pub const CALLS: &[Call] = &[
    Call {
        name: "read",
        number: 0,
        errnos: &[READ, CONNECTION],
        make: |g| rw(g, true),
    },
    Call {
        name: "write",
        number: 1,
        errnos: &[WRITE, CONNECTION],
        make: |g| rw(g, false),
    },
    Call {
        name: "close",
        number: 3,
        errnos: &[&[EBADF, EINTR, EIO, ENOSPC, EDQUOT]],
        make: |g| Prepared::new(&[closable(g)]),
    },
    Call {
        name: "fstat",
        number: 5,
        errnos: &[&[EBADF, EFAULT, ENOMEM, EOVERFLOW]],
        make: |g| Prepared::new(&[g.fd(), g.out_pointer()]),
    },
    Call {
        name: "lseek",
        number: 8,
        errnos: &[&[EBADF, EINVAL, ENXIO, EOVERFLOW, ESPIPE]],
        make: |g| Prepared::new(&[g.fd(), g.offset(), g.pick(&[0, 1, 2, 3, 4, 5, 99])]),
    },
    Call {
        name: "ioctl",
        number: 16,
        errnos: &[IOCTL],
        make: |g| Prepared::new(&[g.fd(), g.pick(&IOCTL_REQUESTS), g.out_pointer()]),
    },
    Call {
        name: "pread64",
        number: 17,
        errnos: &[READ, SPIPE],
        make: |g| rw_at(g, true),
    },
    Call {
        name: "pwrite64",
        number: 18,
        errnos: &[WRITE, SPIPE],
        make: |g| rw_at(g, false),
    },
    Call {
        name: "readv",
        number: 19,
        errnos: &[READ, CONNECTION],
        make: rwv,
    },
    Call {
        name: "writev",
        number: 20,
        errnos: &[WRITE, CONNECTION],
        make: rwv,
    },
    Call {
        name: "pipe",
        number: 22,
        errnos: &[PIPE],
        make: |g| {
            if g.one_in(3) {
                Prepared::new(&[g.bad_pointer()])
            } else {
                let fds = g.place(&[0]);
                Prepared::new(&[fds]).then(After::ClosePair(fds))
            }
        },
    },
    Call {
        name: "dup",
        number: 32,
        errnos: &[DUP],
        make: |g| Prepared::new(&[g.fd()]).then(After::CloseResult),
    },
    Call {
        name: "dup2",
        number: 33,
        errnos: &[DUP],
        make: |g| {
            let old = g.fd();
            let new = if g.one_in(4) { old } else { closable(g) };
            let after = if new == old {
                After::Nothing
            } else {
                After::CloseResult
            };
            Prepared::new(&[old, new]).then(after)
        },
    },
    Call {
        name: "sendfile",
        number: 40,
        errnos: &[SENDFILE, CONNECTION],
        make: |g| {
            let offset = match g.below(3) {
                0 => 0,
                1 => g.bad_pointer(),
                _ => {
                    let at = g.offset() as u64;
                    g.place(&[at])
                }
            };
            Prepared::new(&[g.fd(), g.fd(), offset, g.length()])
        },
    },
    Call {
        name: "fcntl",
        number: 72,
        errnos: &[FCNTL],
        make: fcntl,
    },
    Call {
        name: "fsync",
        number: 74,
        errnos: &[SYNC],
        make: |g| Prepared::new(&[g.fd()]),
    },
    Call {
        name: "fdatasync",
        number: 75,
        errnos: &[SYNC],
        make: |g| Prepared::new(&[g.fd()]),
    },
    Call {
        name: "ftruncate",
        number: 77,
        errnos: &[TRUNCATE],
        make: |g| Prepared::new(&[g.fd(), g.size()]),
    },
    Call {
        name: "dup3",
        number: 292,
        errnos: &[DUP],
        make: |g| {
            let old = g.fd();
            let new = if g.one_in(4) { old } else { closable(g) };
            let flags = g.flags(0o2000000);
            Prepared::new(&[old, new, flags]).then(After::CloseResult)
        },
    },
    Call {
        name: "pipe2",
        number: 293,
        errnos: &[PIPE],
        make: |g| {
            let flags = g.flags(0o2004000 | 0o40000) & !0o20000;
            if g.one_in(3) {
                Prepared::new(&[g.bad_pointer(), flags])
            } else {
                let fds = g.place(&[0]);
                Prepared::new(&[fds, flags]).then(After::ClosePair(fds))
            }
        },
    },
    Call {
        name: "preadv",
        number: 295,
        errnos: &[READ, SPIPE],
        make: rwv,
    },
    Call {
        name: "pwritev",
        number: 296,
        errnos: &[WRITE, SPIPE],
        make: rwv,
    },
    Call {
        name: "copy_file_range",
        number: 326,
        errnos: &[COPY_FILE_RANGE],
        make: |g| {
            let mut offset = || match g.below(3) {
                0 => 0,
                1 => g.bad_pointer(),
                _ => {
                    let at = g.offset() as u64;
                    g.place(&[at])
                }
            };
            let (a, b) = (offset(), offset());
            Prepared::new(&[g.fd(), a, g.fd(), b, g.length(), g.flags(1)])
        },
    },
];
