//! Calls on paths: open/creat, the stat family, access, the directory operations,
//! links, chmod, utimensat, getcwd/chdir, getdents64, umask.
//!
//! Paths that calls may change all lie inside the scratch directory (absolute, or
//! relative to it through `dir_fd` or the working directory, which stays inside it:
//! `chdir` is never given `/`); symbolic links only ever point at names inside it,
//! without `..`. Calls that only look may also be given `/`, `/dev/null` and a missing
//! path; `open` of those never creates (no O_CREAT or O_TMPFILE). `fchmod` keeps the
//! owner's `rwx`, since its descriptor may be the scratch directory itself.

use super::{Call, PATH};
use crate::args::{After, Gen, Prepared};
use crate::errno::*;

/// open(2)'s ERRORS (openat shares the page).
const OPEN: &[i32] = &[
    EACCES,
    EBADF,
    EBUSY,
    EDQUOT,
    EEXIST,
    EFAULT,
    EFBIG,
    EINTR,
    EINVAL,
    EISDIR,
    ELOOP,
    EMFILE,
    ENAMETOOLONG,
    ENFILE,
    ENODEV,
    ENOENT,
    ENOMEM,
    ENOSPC,
    ENOTDIR,
    ENXIO,
    EOPNOTSUPP,
    EOVERFLOW,
    EPERM,
    EROFS,
    ETXTBSY,
    EAGAIN,
];
/// The `*at` forms' own: a bad `dirfd`, invalid flags.
const AT: &[i32] = &[EBADF, EINVAL];
const STAT: &[i32] = &[EOVERFLOW];
const ACCESS: &[i32] = &[EIO, EPERM, EROFS, ETXTBSY];
const CHANGE: &[i32] = &[EDQUOT, EEXIST, EIO, EMLINK, ENOSPC, EPERM, EROFS, EBUSY];
const RENAME: &[i32] = &[EISDIR, ENOTEMPTY, EXDEV];
const REMOVE: &[i32] = &[EINVAL, EBUSY, EIO, EISDIR, ENOTEMPTY, EEXIST, EPERM, EROFS];
const READLINK: &[i32] = &[EIO];
const CHMOD: &[i32] = &[EIO, EPERM, EROFS, EOPNOTSUPP];
const TRUNCATE: &[i32] = &[EINVAL, EFBIG, EINTR, EIO, EISDIR, EPERM, EROFS, ETXTBSY];
const CHDIR: &[i32] = &[EIO];
/// utimensat(2)'s own, and EOPNOTSUPP: Linux returns it for a descriptor of an
/// anonymous inode (eventfd, epoll), whose file system cannot set times; the page
/// does not list it.
const UTIMENS: &[i32] = &[EPERM, EROFS, ESRCH, EOPNOTSUPP];
const GETCWD: &[i32] = &[EACCES, EFAULT, EINVAL, ENAMETOOLONG, ENOENT, ERANGE, ENOMEM];
const GETDENTS: &[i32] = &[EBADF, EFAULT, EINVAL, ENOENT, ENOTDIR];

/// Every flag open(2) defines (O_ACCMODE up to O_TMPFILE).
const OPEN_FLAGS: u64 = 0o37777703;
const O_CREAT: usize = 0o100;
const O_TMPFILE_BIT: usize = 0o20000000;

/// `open`'s path and flags: a path inside the scratch with any flags, or one outside
/// it with the creating flags removed.
fn open_args(g: &mut Gen) -> (usize, usize) {
    let flags = g.flags(OPEN_FLAGS);
    if g.one_in(5) {
        (g.lookup_path(), flags & !(O_CREAT | O_TMPFILE_BIT))
    } else {
        (g.path(), flags)
    }
}

fn mode(g: &mut Gen) -> usize {
    if g.one_in(10) {
        g.rng.next() as usize
    } else {
        g.below(0o10000) as usize
    }
}

fn chdir_path(g: &mut Gen) -> usize {
    match g.below(4) {
        0 => g.world.root.as_ptr() as usize,
        // `/dev/null` (ENOTDIR), the missing path, "" (ENOENT): never `/`.
        1 => g.world.outside[1 + g.below(3) as usize].as_ptr() as usize,
        _ => g.path(),
    }
}

/// A private `struct timespec[2]` for utimensat: times, UTIME_NOW, UTIME_OMIT and
/// invalid nanoseconds; or NULL or a bad pointer.
fn times(g: &mut Gen) -> usize {
    match g.below(5) {
        0 => 0,
        1 => g.bad_pointer(),
        _ => {
            let mut words = [0u64; 4];
            for pair in words.chunks_mut(2) {
                pair[0] = g.rng.next() % 2_000_000_000;
                pair[1] = g.pick(&[
                    0x3fff_ffff,
                    0x3fff_fffe,
                    999_999_999,
                    1_000_000_000,
                    u64::MAX,
                ]);
            }
            g.place(&words)
        }
    }
}

pub const CALLS: &[Call] = &[
    Call {
        name: "open",
        number: 2,
        errnos: &[OPEN],
        make: |g| {
            let (path, flags) = open_args(g);
            Prepared::new(&[path, flags, mode(g)]).then(After::CloseResult)
        },
    },
    Call {
        name: "stat",
        number: 4,
        errnos: &[PATH, AT, STAT],
        make: |g| Prepared::new(&[g.lookup_path(), g.out_pointer()]),
    },
    Call {
        name: "lstat",
        number: 6,
        errnos: &[PATH, AT, STAT],
        make: |g| Prepared::new(&[g.lookup_path(), g.out_pointer()]),
    },
    Call {
        name: "access",
        number: 21,
        errnos: &[PATH, AT, ACCESS],
        make: |g| Prepared::new(&[g.lookup_path(), g.flags(7)]),
    },
    Call {
        name: "truncate",
        number: 76,
        errnos: &[PATH, TRUNCATE],
        make: |g| Prepared::new(&[g.path(), g.size()]),
    },
    Call {
        name: "getcwd",
        number: 79,
        errnos: &[GETCWD],
        make: |g| Prepared::new(&[g.out_pointer(), g.length()]),
    },
    Call {
        name: "chdir",
        number: 80,
        errnos: &[PATH, CHDIR],
        make: |g| Prepared::new(&[chdir_path(g)]),
    },
    Call {
        name: "fchdir",
        number: 81,
        errnos: &[&[EACCES, EBADF, ENOTDIR, EIO]],
        make: |g| Prepared::new(&[g.fd()]),
    },
    Call {
        name: "rename",
        number: 82,
        errnos: &[PATH, AT, CHANGE, RENAME],
        make: |g| Prepared::new(&[g.path(), g.path()]),
    },
    Call {
        name: "mkdir",
        number: 83,
        errnos: &[PATH, AT, CHANGE],
        make: |g| Prepared::new(&[g.path(), mode(g)]),
    },
    Call {
        name: "rmdir",
        number: 84,
        errnos: &[PATH, REMOVE],
        make: |g| Prepared::new(&[g.path()]),
    },
    Call {
        name: "creat",
        number: 85,
        errnos: &[OPEN],
        make: |g| Prepared::new(&[g.path(), mode(g)]).then(After::CloseResult),
    },
    Call {
        name: "link",
        number: 86,
        errnos: &[PATH, AT, CHANGE, &[EXDEV]],
        make: |g| Prepared::new(&[g.path(), g.path()]),
    },
    Call {
        name: "unlink",
        number: 87,
        errnos: &[PATH, AT, REMOVE],
        make: |g| Prepared::new(&[g.path()]),
    },
    Call {
        name: "symlink",
        number: 88,
        errnos: &[PATH, AT, CHANGE],
        make: |g| Prepared::new(&[g.path(), g.path()]),
    },
    Call {
        name: "readlink",
        number: 89,
        errnos: &[PATH, AT, READLINK],
        make: |g| Prepared::new(&[g.lookup_path(), g.out_pointer(), g.length()]),
    },
    Call {
        name: "chmod",
        number: 90,
        errnos: &[PATH, AT, CHMOD],
        make: |g| Prepared::new(&[g.path(), mode(g)]),
    },
    Call {
        name: "fchmod",
        number: 91,
        errnos: &[&[EBADF], CHMOD],
        make: |g| Prepared::new(&[g.fd(), mode(g) | 0o700]),
    },
    Call {
        name: "umask",
        number: 95,
        errnos: &[],
        make: |g| Prepared::new(&[g.rng.next() as usize]),
    },
    Call {
        name: "getdents64",
        number: 217,
        errnos: &[GETDENTS],
        make: |g| Prepared::new(&[g.fd(), g.out_pointer(), g.length()]),
    },
    Call {
        name: "openat",
        number: 257,
        errnos: &[OPEN],
        make: |g| {
            let (path, flags) = open_args(g);
            Prepared::new(&[g.dirfd(), path, flags, mode(g)]).then(After::CloseResult)
        },
    },
    Call {
        name: "mkdirat",
        number: 258,
        errnos: &[PATH, AT, CHANGE],
        make: |g| Prepared::new(&[g.dirfd(), g.path(), mode(g)]),
    },
    Call {
        name: "newfstatat",
        number: 262,
        errnos: &[PATH, AT, STAT],
        make: |g| {
            let flags = g.flags(0x1900);
            Prepared::new(&[g.dirfd(), g.lookup_path(), g.out_pointer(), flags])
        },
    },
    Call {
        name: "unlinkat",
        number: 263,
        errnos: &[PATH, AT, REMOVE],
        make: |g| Prepared::new(&[g.dirfd(), g.path(), g.flags(0x200)]),
    },
    Call {
        name: "renameat",
        number: 264,
        errnos: &[PATH, AT, CHANGE, RENAME],
        make: |g| Prepared::new(&[g.dirfd(), g.path(), g.dirfd(), g.path()]),
    },
    Call {
        name: "linkat",
        number: 265,
        errnos: &[PATH, AT, CHANGE, &[EXDEV]],
        make: |g| {
            let flags = g.flags(0x1400);
            Prepared::new(&[g.dirfd(), g.path(), g.dirfd(), g.path(), flags])
        },
    },
    Call {
        name: "symlinkat",
        number: 266,
        errnos: &[PATH, AT, CHANGE],
        make: |g| Prepared::new(&[g.path(), g.dirfd(), g.path()]),
    },
    Call {
        name: "readlinkat",
        number: 267,
        errnos: &[PATH, AT, READLINK],
        make: |g| Prepared::new(&[g.dirfd(), g.lookup_path(), g.out_pointer(), g.length()]),
    },
    Call {
        name: "fchmodat",
        number: 268,
        errnos: &[PATH, AT, CHMOD],
        make: |g| Prepared::new(&[g.dirfd(), g.path(), mode(g)]),
    },
    Call {
        name: "faccessat",
        number: 269,
        errnos: &[PATH, AT, ACCESS],
        make: |g| Prepared::new(&[g.dirfd(), g.lookup_path(), g.flags(7)]),
    },
    Call {
        name: "utimensat",
        number: 280,
        errnos: &[PATH, AT, UTIMENS],
        make: |g| {
            let path = if g.one_in(6) { 0 } else { g.path() };
            let flags = g.flags(0x1100);
            Prepared::new(&[g.dirfd(), path, times(g), flags])
        },
    },
    Call {
        name: "renameat2",
        number: 316,
        errnos: &[PATH, AT, CHANGE, RENAME],
        make: |g| {
            let flags = g.flags(7);
            Prepared::new(&[g.dirfd(), g.path(), g.dirfd(), g.path(), flags])
        },
    },
    Call {
        name: "statx",
        number: 332,
        errnos: &[PATH, AT],
        make: |g| {
            let flags = g.flags(0x7900);
            let mask = g.flags(0xfff | 0x8000_0000);
            Prepared::new(&[g.dirfd(), g.lookup_path(), flags, mask, g.out_pointer()])
        },
    },
    Call {
        name: "faccessat2",
        number: 439,
        errnos: &[PATH, AT, ACCESS],
        make: |g| {
            let mode = g.flags(7);
            Prepared::new(&[g.dirfd(), g.lookup_path(), mode, g.flags(0x1300)])
        },
    },
];
