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
//! Objects, as on Linux: a descriptor ([`fd::FdTable`]) refers to an open file
//! description ([`file::OpenFile`]: offset, status flags), which refers to an object:
//! any implementation of [`FileLike`] (a RAM file, directory or device, the console, a
//! pipe end, an event counter, an `epoll` instance). `dup` shares the description;
//! `open` makes a new one.
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
//! shim's allocator works only once `__unikernel_libc_start` has run.

mod anon;
mod device;
mod dir;
mod epoll;
mod eventfd;
mod fd;
mod file;
mod initfs;
mod inode;
mod io;
mod map;
mod path;
mod pipe;
mod poll;
mod proc;
mod regular;
mod slab;
mod stat;
mod tree;
pub mod wait;
mod wake;

pub use device::Console;
pub use epoll::{EPOLL_CTL_ADD, EPOLL_CTL_DEL, EPOLL_CTL_MOD, Ready, events as epoll_events};
pub use file::{FileLike, OpenFile, flags, ioctl};
pub use inode::{Device, FileData, Ino, Node, mode};
pub use path::{Follow, MAX_PATH};
pub use poll::bits as poll_bits;
pub use stat::{Stat, dirent_type};

use alloc::sync::{Arc, Weak};
use alloc::vec::Vec;

use spin::Mutex;

use crate::errno::Errno;
use crate::log::kinfo;
use epoll::Epoll;
use fd::FdTable;
use inode::{Dir, Inode, Inodes};
use slab::Slab;

/// The root directory's inode.
pub const ROOT: Ino = Ino(0);

/// The whole VFS state.
#[derive(Debug)]
pub struct Vfs {
    inodes: Inodes,
    files: Slab<OpenFile>,
    fds: FdTable,
    /// Every `epoll` instance, to take released descriptions out of their interest
    /// lists (dead ones are dropped as they are found).
    epolls: Vec<Weak<Epoll>>,
    cwd: Ino,
    umask: u32,
    /// `/proc/self/exe`, when the image file is there to serve.
    executable: Option<Ino>,
}

static VFS: Mutex<Option<Vfs>> = Mutex::new(None);

/// Runs `f` on the VFS with its lock held (building the VFS on first use).
pub fn with<R>(f: impl FnOnce(&mut Vfs) -> Result<R, Errno>) -> Result<R, Errno> {
    let mut guard = VFS.lock();
    let vfs = match &mut *guard {
        Some(vfs) => vfs,
        None => guard.insert(Vfs::boot()?),
    };
    f(vfs)
}

/// The current time for timestamps.
fn now() -> u64 {
    crate::time::realtime_ns()
}

impl Vfs {
    /// The boot layout (module docs) plus the image's files.
    fn boot() -> Result<Self, Errno> {
        let now = now();
        let mut inodes = Inodes::new();
        let root = inodes.insert(Inode::new(
            Node::Dir(Dir {
                entries: Default::default(),
                parent: ROOT,
            }),
            0o755,
            now,
        ))?;
        debug_assert_eq!(root, ROOT);
        let mut vfs = Self {
            inodes,
            files: Slab::new(),
            fds: FdTable::new(),
            epolls: Vec::new(),
            cwd: ROOT,
            umask: 0,
            executable: None,
        };
        vfs.mkdir_in(ROOT, b"tmp", 0o1777)?;
        let dev = vfs.mkdir_in(ROOT, b"dev", 0o755)?;
        for (name, device) in [
            (&b"null"[..], Device::Null),
            (b"zero", Device::Zero),
            (b"full", Device::Full),
            (b"random", Device::Random),
            (b"urandom", Device::Urandom),
        ] {
            vfs.link_new(dev, name, Node::Device(device), 0o666)?;
        }
        for (fd, console) in [
            (0, Console::Input),
            (1, Console::Output),
            (2, Console::Output),
        ] {
            let flags = if console == Console::Input {
                flags::O_RDONLY
            } else {
                flags::O_WRONLY
            };
            let got = vfs.install(OpenFile::new(Arc::new(console), flags), fd, false)?;
            debug_assert_eq!(got, fd);
        }
        if let Some(image) = unikernel_hal::image::executable() {
            match vfs.add_executable(image) {
                Ok(ino) => vfs.executable = Some(ino),
                Err(error) => kinfo!("/proc/self/exe: cannot add the image file: {error:?}"),
            }
        }
        match initfs::unpack(&mut vfs, unikernel_hal::image::initfs()) {
            Ok(stats) if stats.entries > 0 => {
                crate::log::kdebug!(
                    "initfs: {} entries, {} bytes of file data",
                    stats.entries,
                    stats.bytes
                );
            }
            Ok(_) => {}
            Err(error) => kinfo!("initfs: cannot unpack the image's files: {error}"),
        }
        vfs.umask = 0o022;
        Ok(vfs)
    }

    /// `umask(2)`: sets the mask, returns the old one.
    pub fn set_umask(&mut self, mask: u32) -> u32 {
        core::mem::replace(&mut self.umask, mask & 0o777)
    }

    pub fn umask(&self) -> u32 {
        self.umask
    }

    pub fn cwd(&self) -> Ino {
        self.cwd
    }

    /// `chdir`/`fchdir`: `ino` must be a directory.
    pub fn set_cwd(&mut self, ino: Ino) -> Result<(), Errno> {
        self.inodes.get(ino)?.dir()?;
        self.cwd = ino;
        Ok(())
    }

    pub fn inode(&self, ino: Ino) -> Result<&Inode, Errno> {
        self.inodes.get(ino)
    }

    /// The absolute path of directory `ino` (for `getcwd`), walking up the parents.
    pub fn dir_path(&self, mut ino: Ino) -> Result<Vec<u8>, Errno> {
        let mut parts: Vec<&[u8]> = Vec::new();
        while ino != ROOT {
            let dir = self.inodes.get(ino)?.dir()?;
            let parent = self.inodes.get(dir.parent)?.dir()?;
            // A removed working directory has no name any more (Linux: ENOENT).
            let name = parent
                .entries
                .iter()
                .find(|&(_, &i)| i == ino)
                .map(|(n, _)| n)
                .ok_or(Errno::ENOENT)?;
            parts.push(name);
            ino = dir.parent;
        }
        let mut path = Vec::new();
        for part in parts.iter().rev() {
            path.push(b'/');
            path.extend_from_slice(part);
        }
        if path.is_empty() {
            path.push(b'/');
        }
        Ok(path)
    }
}
