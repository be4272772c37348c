//! Directory listings (`getdents64`): the `struct linux_dirent64` records of `.`,
//! `..` and the entries, from where the description's cursor stands.

use alloc::vec::Vec;
use core::ops::Bound;

use unikernel_hal::uaccess;

use super::inode::{Ino, Inodes};
use super::stat::dirent_type;
use crate::errno::Errno;

/// Where a directory listing (`getdents64`) goes on from.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub enum DirCursor {
    /// Next: `.`.
    #[default]
    Start,
    /// Next: `..`.
    Dot,
    /// Next: the first entry after this name (`None`: the first entry). A name, not
    /// an index, so removing entries while listing (as `remove_dir_all` does) skips
    /// nothing.
    After(Option<Vec<u8>>),
}

/// Lists directory `dir_ino` into `buf` (at most `len` bytes) from `cursor`, as
/// `getdents(2)`: the bytes written. `offset` counts the entries listed (each
/// record's `d_off`); both move on.
pub fn list(
    fs: &Inodes,
    dir_ino: Ino,
    cursor: &mut DirCursor,
    offset: &mut u64,
    buf: usize,
    len: usize,
) -> Result<usize, Errno> {
    let mut next_cursor = cursor.clone();
    let mut position = *offset;
    let dir = fs.get(dir_ino)?.dir()?;
    let mut out: Vec<u8> = Vec::new();
    loop {
        let (name, ino, next): (&[u8], Ino, DirCursor) = match &next_cursor {
            DirCursor::Start => (b".", dir_ino, DirCursor::Dot),
            DirCursor::Dot => (b"..", dir.parent, DirCursor::After(None)),
            DirCursor::After(last) => {
                let lower = match last {
                    Some(name) => Bound::Excluded(&name[..]),
                    None => Bound::Unbounded,
                };
                match dir
                    .entries
                    .range::<[u8], _>((lower, Bound::Unbounded))
                    .next()
                {
                    Some((name, &ino)) => (name, ino, DirCursor::After(Some(name.clone()))),
                    None => break,
                }
            }
        };
        // d_ino u64, d_off i64, d_reclen u16, d_type u8, name, NUL; 8-aligned.
        let reclen = (19 + name.len() + 1).next_multiple_of(8);
        if out.len() + reclen > len {
            if out.is_empty() {
                return Err(Errno::EINVAL);
            }
            break;
        }
        let d_type = dirent_type(fs.get(ino)?);
        position += 1;
        out.try_reserve(reclen).map_err(|_| Errno::ENOMEM)?;
        out.extend_from_slice(&(ino.0 as u64 + 1).to_ne_bytes());
        out.extend_from_slice(&position.to_ne_bytes());
        out.extend_from_slice(&(reclen as u16).to_ne_bytes());
        out.push(d_type);
        out.extend_from_slice(name);
        out.resize(out.len() + reclen - 19 - name.len(), 0);
        next_cursor = next;
    }
    uaccess::copy_to(buf, &out)?;
    *cursor = next_cursor;
    *offset = position;
    Ok(out.len())
}
