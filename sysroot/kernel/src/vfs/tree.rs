//! The name space: creating, opening, linking, renaming and removing, with Linux's
//! checks and error numbers (`open(2)`, `mkdir(2)`, `unlink(2)`, `rmdir(2)`,
//! `rename(2)`, `link(2)`, `symlink(2)`, `readlink(2)`).

use alloc::sync::Arc;
use alloc::vec::Vec;

use super::device::DeviceFile;
use super::file::{FileLike, OpenFile, flags::*};
use super::inode::{Dir, FileData, Ino, Inode, Node, ROOT};
use super::path::{Follow, Parent};
use super::ramfile::RamFile;
use super::regular;
use super::state::Vfs;
use crate::errno::Errno;
use crate::time::realtime_ns as now;

/// `AT_FDCWD`: "relative to the working directory" in the `*at` calls.
pub const AT_FDCWD: i32 = -100;

/// `renameat2` flags.
pub const RENAME_NOREPLACE: u32 = 1;
pub const RENAME_EXCHANGE: u32 = 2;

impl Vfs {
    /// The directory a relative `path` of an `*at` call starts from: the working
    /// directory for `AT_FDCWD`, else `dirfd`'s directory (`EBADF`, `ENOTDIR`).
    /// Absolute paths ignore `dirfd`, as on Linux.
    pub fn start_dir(&self, dirfd: i32, path: &[u8]) -> Result<Ino, Errno> {
        if path.starts_with(b"/") || dirfd == AT_FDCWD {
            return Ok(self.cwd);
        }
        let fd = u32::try_from(dirfd).map_err(|_| Errno::EBADF)?;
        match self.file(fd)?.object.inode() {
            Some(ino) if self.inodes.get(ino)?.is_dir() => Ok(ino),
            _ if path.is_empty() => Err(Errno::ENOENT),
            _ => Err(Errno::ENOTDIR),
        }
    }

    /// Adds a new inode holding `node` as `name` in `dir` (`EEXIST` if taken).
    pub(super) fn link_new(
        &mut self,
        dir: Ino,
        name: &[u8],
        node: Node,
        perm: u32,
    ) -> Result<Ino, Errno> {
        let now = now();
        let parent = self.inodes.get(dir)?;
        if parent.nlink == 0 {
            return Err(Errno::ENOENT); // a removed directory takes no new entries
        }
        if parent.dir()?.entries.contains_key(name) {
            return Err(Errno::EEXIST);
        }
        let is_dir = matches!(node, Node::Dir(_));
        let ino = self.inodes.insert(Inode::new(node, perm, now))?;
        let parent = self.inodes.get_mut(dir)?;
        parent.dir_mut()?.entries.insert(name.to_vec(), ino);
        if is_dir {
            parent.nlink += 1;
        }
        parent.times.mtime = now;
        parent.times.ctime = now;
        Ok(ino)
    }

    /// A new empty directory `name` in `dir` (mode taken as given: no umask).
    pub(super) fn mkdir_in(&mut self, dir: Ino, name: &[u8], perm: u32) -> Result<Ino, Errno> {
        self.link_new(
            dir,
            name,
            Node::Dir(Dir {
                entries: Default::default(),
                parent: dir,
            }),
            perm,
        )
    }

    /// The inode `name` names in the directory `parent`.
    fn entry(&self, parent: &Parent<'_>) -> Result<Option<Ino>, Errno> {
        Ok(self
            .inodes
            .get(parent.dir)?
            .dir()?
            .entries
            .get(parent.name)
            .copied())
    }

    /// `openat(start, path, flags, mode)`: returns the new descriptor.
    pub fn open(&mut self, start: Ino, path: &[u8], oflags: u32, mode: u32) -> Result<u32, Errno> {
        if oflags & O_TMPFILE == O_TMPFILE {
            return Err(Errno::EOPNOTSUPP);
        }
        let follow = if oflags & O_NOFOLLOW != 0 {
            Follow::No
        } else {
            Follow::Yes
        };
        let path_only = oflags & O_PATH != 0;
        let ino = if oflags & O_CREAT != 0 && !path_only {
            let parent = self.resolve_parent(start, path)?;
            if parent.is_dot() || parent.trailing_slash {
                return Err(Errno::EISDIR);
            }
            match self.entry(&parent)? {
                Some(_) if oflags & O_EXCL != 0 => return Err(Errno::EEXIST),
                Some(existing) => match &self.inodes.get(existing)?.node {
                    Node::Symlink(_) if follow == Follow::No => return Err(Errno::ELOOP),
                    Node::Symlink(_) => self.resolve(parent.dir, parent.name, Follow::Yes)?,
                    Node::Dir(_) => return Err(Errno::EISDIR),
                    _ => existing,
                },
                None => {
                    let perm = mode & !self.umask & 0o7777;
                    self.link_new(
                        parent.dir,
                        parent.name,
                        Node::File(FileData::Heap(Vec::new())),
                        perm,
                    )?
                }
            }
        } else {
            self.resolve(start, path, follow)?
        };
        let inode = self.inodes.get(ino)?;
        if oflags & O_DIRECTORY != 0 && !inode.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        if !path_only {
            if matches!(inode.node, Node::Symlink(_)) {
                return Err(Errno::ELOOP); // O_NOFOLLOW on a link
            }
            if oflags & O_ACCMODE == O_ACCMODE {
                return Err(Errno::EINVAL);
            }
            let writes = oflags & O_ACCMODE != O_RDONLY;
            if inode.is_dir() && writes {
                return Err(Errno::EISDIR);
            }
            if writes && matches!(inode.node, Node::File(FileData::Executable(_))) {
                return Err(Errno::ETXTBSY);
            }
            if writes && oflags & O_TRUNC != 0 && matches!(inode.node, Node::File(_)) {
                self.truncate(ino, 0)?;
            }
        }
        let object: Arc<dyn FileLike> = match &self.inodes.get(ino)?.node {
            &Node::Device(device) => Arc::new(DeviceFile { ino, device }),
            _ => Arc::new(RamFile::new(ino)),
        };
        let cloexec = oflags & O_CLOEXEC != 0;
        self.install(OpenFile::new(object, oflags | O_LARGEFILE), 0, cloexec)
    }

    /// `mkdirat`.
    pub fn mkdir(&mut self, start: Ino, path: &[u8], mode: u32) -> Result<(), Errno> {
        let parent = self.resolve_parent(start, path)?;
        if parent.is_dot() || self.entry(&parent)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let perm = mode & !self.umask & 0o7777;
        self.mkdir_in(parent.dir, parent.name, perm).map(drop)
    }

    /// Removes the entry `parent` names (checked by the caller), dropping one link.
    fn remove_entry(&mut self, parent: &Parent<'_>, ino: Ino) -> Result<(), Errno> {
        let now = now();
        let is_dir = self.inodes.get(ino)?.is_dir();
        let dir = self.inodes.get_mut(parent.dir)?;
        dir.dir_mut()?.entries.remove(parent.name);
        dir.times.mtime = now;
        dir.times.ctime = now;
        if is_dir {
            dir.nlink -= 1;
        }
        let inode = self.inodes.get_mut(ino)?;
        inode.nlink = if is_dir {
            0
        } else {
            inode.nlink.saturating_sub(1)
        };
        inode.times.ctime = now;
        self.inodes.release_if_unused(ino);
        Ok(())
    }

    /// `unlinkat(start, path, 0)`.
    pub fn unlink(&mut self, start: Ino, path: &[u8]) -> Result<(), Errno> {
        let parent = self.resolve_parent(start, path)?;
        if parent.is_dot() {
            return Err(Errno::EISDIR);
        }
        let ino = self.entry(&parent)?.ok_or(Errno::ENOENT)?;
        if self.inodes.get(ino)?.is_dir() {
            return Err(Errno::EISDIR);
        }
        if parent.trailing_slash {
            return Err(Errno::ENOTDIR);
        }
        self.remove_entry(&parent, ino)
    }

    /// `unlinkat(start, path, AT_REMOVEDIR)`.
    pub fn rmdir(&mut self, start: Ino, path: &[u8]) -> Result<(), Errno> {
        if !path.is_empty() && path.iter().all(|&b| b == b'/') {
            return Err(Errno::EBUSY);
        }
        let parent = self.resolve_parent(start, path)?;
        match parent.name {
            b"." => return Err(Errno::EINVAL),
            b".." => return Err(Errno::ENOTEMPTY),
            _ => {}
        }
        let ino = self.entry(&parent)?.ok_or(Errno::ENOENT)?;
        if ino == ROOT {
            return Err(Errno::EBUSY);
        }
        if !self.inodes.get(ino)?.dir()?.entries.is_empty() {
            return Err(Errno::ENOTEMPTY);
        }
        self.remove_entry(&parent, ino)
    }

    /// Whether `ino` is `ancestor` or lies below it.
    fn is_within(&self, mut ino: Ino, ancestor: Ino) -> Result<bool, Errno> {
        loop {
            if ino == ancestor {
                return Ok(true);
            }
            if ino == ROOT {
                return Ok(false);
            }
            ino = self.inodes.get(ino)?.dir()?.parent;
        }
    }

    /// `renameat2(old_start, old, new_start, new, flags)`.
    pub fn rename(
        &mut self,
        old_start: Ino,
        old: &[u8],
        new_start: Ino,
        new: &[u8],
        flags: u32,
    ) -> Result<(), Errno> {
        if flags & !(RENAME_NOREPLACE | RENAME_EXCHANGE) != 0
            || flags == RENAME_NOREPLACE | RENAME_EXCHANGE
        {
            return Err(Errno::EINVAL);
        }
        let from = self.resolve_parent(old_start, old)?;
        let to = self.resolve_parent(new_start, new)?;
        if from.is_dot() {
            return Err(Errno::EBUSY);
        }
        if to.is_dot() {
            return Err(if flags & RENAME_NOREPLACE != 0 {
                Errno::EEXIST
            } else {
                Errno::EBUSY
            });
        }
        let src = self.entry(&from)?.ok_or(Errno::ENOENT)?;
        let dst = self.entry(&to)?;
        let src_is_dir = self.inodes.get(src)?.is_dir();
        if (from.trailing_slash || to.trailing_slash) && !src_is_dir {
            return Err(Errno::ENOTDIR);
        }
        if flags & RENAME_EXCHANGE != 0 {
            let dst = dst.ok_or(Errno::ENOENT)?;
            return self.exchange(&from, src, &to, dst);
        }
        if let Some(dst) = dst {
            if flags & RENAME_NOREPLACE != 0 {
                return Err(Errno::EEXIST);
            }
            if dst == src {
                return Ok(()); // two names of one inode: nothing to do (rename(2))
            }
        }
        if src_is_dir && self.is_within(to.dir, src)? {
            return Err(Errno::EINVAL);
        }
        if let Some(dst) = dst {
            let target = self.inodes.get(dst)?;
            match (src_is_dir, &target.node) {
                (true, Node::Dir(d)) if !d.entries.is_empty() => return Err(Errno::ENOTEMPTY),
                (true, Node::Dir(_)) => {}
                (true, _) => return Err(Errno::ENOTDIR),
                (false, Node::Dir(_)) => return Err(Errno::EISDIR),
                (false, _) => {}
            }
            self.remove_entry(&to, dst)?;
        }
        let now = now();
        let dir = self.inodes.get_mut(from.dir)?;
        dir.dir_mut()?.entries.remove(from.name);
        dir.times.mtime = now;
        dir.times.ctime = now;
        if src_is_dir {
            dir.nlink -= 1;
        }
        let dir = self.inodes.get_mut(to.dir)?;
        dir.dir_mut()?.entries.insert(to.name.to_vec(), src);
        dir.times.mtime = now;
        dir.times.ctime = now;
        if src_is_dir {
            dir.nlink += 1;
        }
        let inode = self.inodes.get_mut(src)?;
        inode.times.ctime = now;
        if let Node::Dir(d) = &mut inode.node {
            d.parent = to.dir;
        }
        Ok(())
    }

    /// `RENAME_EXCHANGE`: the two names swap inodes.
    fn exchange(
        &mut self,
        from: &Parent<'_>,
        src: Ino,
        to: &Parent<'_>,
        dst: Ino,
    ) -> Result<(), Errno> {
        if src == dst {
            return Ok(());
        }
        let src_is_dir = self.inodes.get(src)?.is_dir();
        let dst_is_dir = self.inodes.get(dst)?.is_dir();
        if (src_is_dir && self.is_within(to.dir, src)?)
            || (dst_is_dir && self.is_within(from.dir, dst)?)
        {
            return Err(Errno::EINVAL);
        }
        self.inodes
            .get_mut(from.dir)?
            .dir_mut()?
            .entries
            .insert(from.name.to_vec(), dst);
        self.inodes
            .get_mut(to.dir)?
            .dir_mut()?
            .entries
            .insert(to.name.to_vec(), src);
        if from.dir != to.dir && src_is_dir != dst_is_dir {
            let (gains, loses) = if src_is_dir {
                (to.dir, from.dir)
            } else {
                (from.dir, to.dir)
            };
            self.inodes.get_mut(gains)?.nlink += 1;
            self.inodes.get_mut(loses)?.nlink -= 1;
        }
        if let Node::Dir(d) = &mut self.inodes.get_mut(src)?.node {
            d.parent = to.dir;
        }
        if let Node::Dir(d) = &mut self.inodes.get_mut(dst)?.node {
            d.parent = from.dir;
        }
        Ok(())
    }

    /// `symlinkat(target, start, path)`.
    pub fn symlink(&mut self, target: &[u8], start: Ino, path: &[u8]) -> Result<(), Errno> {
        if target.is_empty() {
            return Err(Errno::ENOENT);
        }
        let parent = self.resolve_parent(start, path)?;
        if parent.is_dot() || parent.trailing_slash || self.entry(&parent)?.is_some() {
            return Err(Errno::EEXIST);
        }
        self.link_new(
            parent.dir,
            parent.name,
            Node::Symlink(target.to_vec()),
            0o777,
        )
        .map(drop)
    }

    /// `linkat(old_start, old, new_start, new, flags)`: a second name for a
    /// non-directory.
    pub fn link(
        &mut self,
        old_start: Ino,
        old: &[u8],
        new_start: Ino,
        new: &[u8],
        follow: Follow,
    ) -> Result<(), Errno> {
        let src = self.resolve(old_start, old, follow)?;
        if self.inodes.get(src)?.is_dir() {
            return Err(Errno::EPERM);
        }
        let parent = self.resolve_parent(new_start, new)?;
        if parent.is_dot() || parent.trailing_slash || self.entry(&parent)?.is_some() {
            return Err(Errno::EEXIST);
        }
        let now = now();
        let dir = self.inodes.get_mut(parent.dir)?;
        if dir.nlink == 0 {
            return Err(Errno::ENOENT);
        }
        dir.dir_mut()?.entries.insert(parent.name.to_vec(), src);
        dir.times.mtime = now;
        dir.times.ctime = now;
        let inode = self.inodes.get_mut(src)?;
        inode.nlink += 1;
        inode.times.ctime = now;
        Ok(())
    }

    /// `readlinkat`: the link's target (`EINVAL` for anything but a link, except the
    /// executable, which names itself like Linux's `/proc/self/exe`).
    pub fn readlink(&self, start: Ino, path: &[u8]) -> Result<&[u8], Errno> {
        let ino = self.resolve(start, path, Follow::No)?;
        if self.executable == Some(ino) {
            return Ok(super::proc::EXE_PATH);
        }
        match &self.inodes.get(ino)?.node {
            Node::Symlink(target) => Ok(target),
            _ => Err(Errno::EINVAL),
        }
    }

    /// Sets a regular file's length (`truncate`, `O_TRUNC`); new bytes read as zeros.
    pub fn truncate(&mut self, ino: Ino, len: u64) -> Result<(), Errno> {
        regular::truncate(self.inodes.get_mut(ino)?, len)
    }

    /// `fchmod`/`fchmodat`: new permission bits.
    pub fn chmod(&mut self, ino: Ino, perm: u32) -> Result<(), Errno> {
        let inode = self.inodes.get_mut(ino)?;
        inode.perm = perm & 0o7777;
        inode.times.ctime = now();
        Ok(())
    }

    /// `utimensat`: `None` leaves a time as it is.
    pub fn set_times(
        &mut self,
        ino: Ino,
        atime: Option<u64>,
        mtime: Option<u64>,
    ) -> Result<(), Errno> {
        let inode = self.inodes.get_mut(ino)?;
        if let Some(t) = atime {
            inode.times.atime = t;
        }
        if let Some(t) = mtime {
            inode.times.mtime = t;
        }
        inode.times.ctime = now();
        Ok(())
    }
}
