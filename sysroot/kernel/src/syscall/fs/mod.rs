//! Path-based file calls, one submodule per family: opening and the name space
//! ([`names`]: `open`, `openat`, `creat`, `unlink*`, `rmdir`, `rename*`, `link*`,
//! `symlink*`, `readlink*`), status ([`stat`]: the `stat` family, `statx`,
//! `access`/`faccessat*`), directories ([`dirs`]: `mkdir*`, `getcwd`, `chdir`,
//! `fchdir`, `getdents64`) and attributes ([`attrs`]: the `chmod` family, `utimensat`,
//! `truncate`, `umask`), over what they share ([`path`]: reading a path argument and
//! finding where a relative one starts). The file system itself is `crate::vfs`.
//!
//! The system-call table names every handler as `fs::NAME`: the families' handlers
//! are re-exported here.

mod attrs;
mod dirs;
mod names;
mod path;
mod stat;

pub use attrs::{chmod, fchmod, fchmodat, truncate, umask, utimensat};
pub use dirs::{chdir, fchdir, getcwd, getdents64, mkdir, mkdirat};
pub use names::{
    creat, link, linkat, open, openat, readlink, readlinkat, rename, renameat, renameat2, rmdir,
    symlink, symlinkat, unlink, unlinkat,
};
pub use stat::{access, faccessat, faccessat2, fstat, lstat, newfstatat, stat, statx};
