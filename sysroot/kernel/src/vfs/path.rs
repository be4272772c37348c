//! Path resolution (Linux `path_resolution(7)`): absolute paths start at the root,
//! relative ones at a directory (the working directory or an `*at` call's `dirfd`);
//! `.` and `..` as on Linux (`..` of the root is the root); symbolic links are
//! followed in the middle of a path always and at its end on request, at most
//! [`MAX_SYMLINKS`] in one resolution (`ELOOP`).

use alloc::vec::Vec;

use super::inode::{Ino, Node, ROOT};
use super::state::Vfs;
use crate::errno::Errno;

/// `PATH_MAX`, counting the terminating NUL.
pub const MAX_PATH: usize = 4096;
/// `NAME_MAX`.
const MAX_NAME: usize = 255;
/// Linux's `MAXSYMLINKS`.
const MAX_SYMLINKS: u32 = 40;

/// Whether a symbolic link in the last component is followed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Follow {
    Yes,
    No,
}

/// A path split into its parent directory and last component.
#[derive(Debug)]
pub struct Parent<'p> {
    pub dir: Ino,
    /// The last component; `.` for a path that names the start directory or the root
    /// (`"/"`, `"."`, `"a/.."` leave `..` as the name: callers check both).
    pub name: &'p [u8],
    /// The path ended in `/`: the last component must be a directory.
    pub trailing_slash: bool,
}

impl Parent<'_> {
    /// `.` or `..`: not a name that can be created, removed or renamed.
    pub fn is_dot(&self) -> bool {
        self.name == b"." || self.name == b".."
    }
}

fn components(path: &[u8]) -> impl Iterator<Item = &[u8]> {
    path.split(|&b| b == b'/').filter(|c| !c.is_empty())
}

impl Vfs {
    /// Resolves `path` relative to `start`.
    pub fn resolve(&self, start: Ino, path: &[u8], follow: Follow) -> Result<Ino, Errno> {
        let mut links = 0;
        self.resolve_counted(start, path, follow, &mut links)
    }

    fn resolve_counted(
        &self,
        start: Ino,
        path: &[u8],
        follow: Follow,
        links: &mut u32,
    ) -> Result<Ino, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trailing_slash = path.ends_with(b"/");
        let mut at = if path.starts_with(b"/") { ROOT } else { start };
        let mut rest = components(path).peekable();
        while let Some(name) = rest.next() {
            let last = rest.peek().is_none();
            let dir = at;
            at = self.step(dir, name)?;
            if let Node::Symlink(target) = &self.inodes.get(at)?.node
                && (!last || follow == Follow::Yes || trailing_slash)
            {
                *links += 1;
                if *links > MAX_SYMLINKS {
                    return Err(Errno::ELOOP);
                }
                let target: Vec<u8> = target.clone();
                at = self.resolve_counted(dir, &target, Follow::Yes, links)?;
            }
        }
        if trailing_slash && !self.inodes.get(at)?.is_dir() {
            return Err(Errno::ENOTDIR);
        }
        Ok(at)
    }

    /// One component from directory `dir`.
    fn step(&self, dir: Ino, name: &[u8]) -> Result<Ino, Errno> {
        if name.len() > MAX_NAME {
            return Err(Errno::ENAMETOOLONG);
        }
        let entries = self.inodes.get(dir)?.dir()?;
        match name {
            b"." => Ok(dir),
            b".." => Ok(entries.parent),
            _ => entries.entries.get(name).copied().ok_or(Errno::ENOENT),
        }
    }

    /// Splits `path` into the directory that holds its last component (resolved,
    /// following links) and that component.
    pub fn resolve_parent<'p>(&self, start: Ino, path: &'p [u8]) -> Result<Parent<'p>, Errno> {
        if path.is_empty() {
            return Err(Errno::ENOENT);
        }
        let trimmed_len = path.iter().rposition(|&b| b != b'/').map_or(0, |i| i + 1);
        let trailing_slash = trimmed_len < path.len();
        let trimmed = &path[..trimmed_len];
        if trimmed.is_empty() {
            // "/", "//": the root itself.
            return Ok(Parent {
                dir: ROOT,
                name: b".",
                trailing_slash,
            });
        }
        let (dir_part, name) = match trimmed.iter().rposition(|&b| b == b'/') {
            Some(slash) => (&trimmed[..=slash], &trimmed[slash + 1..]),
            None => (&b""[..], trimmed),
        };
        if name.len() > MAX_NAME {
            return Err(Errno::ENAMETOOLONG);
        }
        let dir = if dir_part.is_empty() {
            start
        } else {
            self.resolve(start, dir_part, Follow::Yes)?
        };
        self.inodes.get(dir)?.dir()?;
        Ok(Parent {
            dir,
            name,
            trailing_slash,
        })
    }
}
