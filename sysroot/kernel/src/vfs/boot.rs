//! The VFS as it is built on first use: the boot layout (see the module docs of
//! `vfs`), the console descriptors, `/proc/self/exe` and the image's initial files.

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::device::Console;
use super::fdtable::FdTable;
use super::file::{OpenFile, flags};
use super::initfs;
use super::inode::{Device, Dir, Inode, Inodes, Node, ROOT};
use super::slab::Slab;
use super::state::Vfs;
use crate::errno::Errno;
use crate::log::kinfo;

impl Vfs {
    /// The boot layout (module docs) plus the image's files.
    pub(super) fn boot() -> Result<Self, Errno> {
        let now = crate::time::realtime_ns();
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
        // The working directory counts as a reference to its inode (`set_cwd`).
        vfs.inodes.open(ROOT)?;
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
}
