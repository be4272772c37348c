//! The virtual file system: one RAM file system (directories, regular files,
//! symbolic links, writable at run time), the character devices under `/dev`, pipes,
//! the console, event counters, `epoll` instances, and the process's file-descriptor
//! table.
//!
//! Layout at boot: `/` (0755), `/tmp` (1777), `/dev/{null,zero,full,random,urandom}`,
//! `/proc/self/exe` when the image file is available ([`proc`]), then whatever the
//! image's initial file archive holds ([`initfs`]). Descriptors
//! 0, 1 and 2 are the console (0 reads end of file, 1 and 2 write to the serial port).
//!
//! Objects, as on Linux: a descriptor ([`fdtable::FdTable`]) refers to an open file
//! description ([`file::OpenFile`]: offset, status flags), which refers to an object:
//! any implementation of [`FileLike`] (a RAM file, directory or symbolic link
//! ([`ramfile`]), a device or the console ([`device`]), a pipe end
//! ([`pipe`]), an event counter ([`eventfd`]), an `epoll` instance ([`epoll`]), an
//! AF_UNIX stream socket of a pair ([`unix`], with the socket interface [`socket`])).
//! `dup` shares the description; `open` makes a new one.
//!
//! Modules, leaves first: the object kinds above over [`file`] (the trait), [`inode`],
//! [`regular`] (file data), [`dir`] (listings), [`stat`], [`poll`] and [`wake`] (the
//! wait word); the state ([`state`]) and the
//! operations on it as `impl` blocks ([`fd`], [`io`], [`tree`], [`path`], [`anon`],
//! [`map`], [`initfs`], [`proc`], [`boot`]); [`lock`] and [`wait`] on top. This file
//! only declares them and re-exports what the rest of the kernel uses.
//!
//! # Locking
//!
//! All of it is one [`Vfs`] value behind one lock, taken by [`with`] for the whole of
//! a system call's file-system work (one CPU: a finer split would buy nothing yet).
//! The lock may be held while the kernel allocates (the `alloc` heap is the libc
//! shim's malloc, which takes its own lock and may call `mmap`; nothing there calls
//! back into the VFS, so the order is always VFS, then heap, then memory) and while it
//! copies to or from the caller's buffers (checked copies that do not fault). It is
//! never held across a wait: a call that has to wait (a blocking pipe or eventfd end,
//! `poll`, `epoll_wait`) drops it and waits in [`wait`], then takes it again.
//!
//! The state is built on first use, not at boot: building it allocates, and the
//! shim's allocator works only once `__unikernel_libc_start` has run ([`boot`]).

mod anon;
mod boot;
mod device;
mod dir;
mod epoll;
mod eventfd;
mod fd;
mod fdtable;
mod file;
mod initfs;
mod inode;
mod io;
mod lock;
mod map;
mod path;
mod pipe;
mod poll;
mod proc;
mod ramfile;
mod regular;
mod slab;
mod socket;
mod stat;
mod state;
mod tree;
mod unix;
pub mod wait;
mod wake;

pub use device::Console;
pub use epoll::{EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, Ready, events as epoll_events};
pub use file::{At, FileLike, OpenFile, Socket, flags, ioctl, reply_fionread};
pub use inode::Inodes;
pub use inode::{Device, FileData, Ino, Node, ROOT, mode};
pub use lock::with;
pub use path::{Follow, MAX_PATH};
pub use poll::bits as poll_bits;
pub use socket::{
    Segment, Timeouts as SocketTimeouts, family as socket_family, kind as socket_kind,
    msg as socket_msg, opt as socket_opt, shut as socket_shut,
};
pub use stat::{Stat, dirent_type};
pub use state::Vfs;
pub use wake::notify;
