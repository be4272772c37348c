//! The image's initial files: a cpio archive in the "new ASCII" format (`070701`,
//! `cpio -H newc`, the format of Linux's initramfs, `Documentation/driver-api/
//! early-userspace/buffer-format.rst`), linked into the image by `cargo unikernel`
//! (section `.unikernel_initfs`, see `sysroot/image.ld`) and copied into the RAM file
//! system when the VFS is built.
//!
//! Entry names are paths relative to `/` (a leading `/` or `./` is accepted);
//! directories, regular files and symbolic links are supported, with their permission
//! bits and modification times. Missing parent directories are created (0755); an
//! entry for an existing directory keeps it; a file replaces an existing file. The
//! archive ends at the `TRAILER!!!` entry or at the first malformed header (the parser,
//! the `cpio_reader` crate, stops there). File data is copied, so the files are
//! writable; the archive itself stays in the image's read-only data.

use alloc::vec::Vec;
use core::fmt;

use super::inode::{Dir, FileData, Ino, Node, ROOT, mode};
use super::path::Follow;
use super::state::Vfs;
use crate::errno::Errno;

/// What was unpacked.
#[derive(Clone, Copy, Debug, Default)]
pub struct Unpacked {
    pub entries: usize,
    pub bytes: usize,
}

/// Why an entry could not be unpacked.
#[derive(Debug)]
pub struct UnpackError<'a> {
    pub name: &'a str,
    pub errno: Errno,
}

impl fmt::Display for UnpackError<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {:?}", self.name, self.errno)
    }
}

/// Copies every entry of `archive` into the file system.
pub fn unpack<'a>(vfs: &mut Vfs, archive: &'a [u8]) -> Result<Unpacked, UnpackError<'a>> {
    let mut done = Unpacked::default();
    for entry in cpio_reader::iter_files(archive) {
        let name = entry.name();
        let fail = |errno| UnpackError { name, errno };
        let path = name.trim_start_matches("./").trim_start_matches('/');
        if path.is_empty() || path == "." {
            continue;
        }
        let bits = entry.mode().bits();
        let mtime = entry.mtime().saturating_mul(1_000_000_000);
        let node = match bits & mode::S_IFMT {
            mode::S_IFDIR => Node::Dir(Dir {
                entries: Default::default(),
                parent: ROOT,
            }),
            mode::S_IFREG => {
                let mut data = Vec::new();
                data.try_reserve_exact(entry.file().len())
                    .map_err(|_| fail(Errno::ENOMEM))?;
                data.extend_from_slice(entry.file());
                Node::File(FileData::Heap(data))
            }
            mode::S_IFLNK => Node::Symlink(entry.file().to_vec()),
            _ => return Err(fail(Errno::EINVAL)),
        };
        let bytes = entry.file().len();
        let ino = vfs
            .place(path.as_bytes(), node, bits & 0o7777)
            .map_err(fail)?;
        let inode = vfs.inodes.get_mut(ino).map_err(fail)?;
        inode.times.mtime = mtime;
        inode.times.atime = mtime;
        done.entries += 1;
        done.bytes += bytes;
    }
    Ok(done)
}

impl Vfs {
    /// Puts `node` at the absolute `path`, creating missing parents (`mkdir -p`).
    fn place(&mut self, path: &[u8], node: Node, perm: u32) -> Result<Ino, Errno> {
        let (dir_part, name) = match path.iter().rposition(|&b| b == b'/') {
            Some(slash) => (&path[..slash], &path[slash + 1..]),
            None => (&b""[..], path),
        };
        let mut dir = ROOT;
        for component in dir_part.split(|&b| b == b'/').filter(|c| !c.is_empty()) {
            dir = match self.resolve(dir, component, Follow::Yes) {
                Ok(existing) => existing,
                Err(Errno::ENOENT) => self.mkdir_in(dir, component, 0o755)?,
                Err(e) => return Err(e),
            };
        }
        if matches!(name, b"" | b"." | b"..") {
            return Err(Errno::EINVAL);
        }
        let existing = self.inodes.get(dir)?.dir()?.entries.get(name).copied();
        match (existing, &node) {
            (Some(ino), Node::Dir(_)) if self.inodes.get(ino)?.is_dir() => {
                self.inodes.get_mut(ino)?.perm = perm;
                Ok(ino)
            }
            (Some(ino), Node::File(_)) if matches!(self.inodes.get(ino)?.node, Node::File(_)) => {
                let inode = self.inodes.get_mut(ino)?;
                inode.node = node;
                inode.perm = perm;
                Ok(ino)
            }
            (Some(_), _) => Err(Errno::EEXIST),
            (None, Node::Dir(_)) => self.mkdir_in(dir, name, perm),
            (None, _) => self.link_new(dir, name, node, perm),
        }
    }
}
