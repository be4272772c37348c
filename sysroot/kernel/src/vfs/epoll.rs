//! `epoll(7)` instances: an interest list of (descriptor, open file description)
//! pairs, each with the events it waits for and the caller's 64-bit data.
//!
//! Readiness is computed when `epoll_wait` looks ([`Vfs::readiness`]) rather than
//! pushed onto a ready list as Linux does; the difference shows only in the
//! edge-triggered mode, which Linux defines by its ready list: an entry is queued
//! whenever its file wakes its waiters (for a pipe: any read, write or close, also
//! while it stays readable), and `epoll_wait` reports a queued entry once if the file
//! is then ready, dequeuing it either way. Here each pollable object counts such
//! changes ([`Vfs::changes`]) and an `EPOLLET` entry remembers the count it last looked
//! at, which gives the same reports. `EPOLL_CTL_ADD` and `EPOLL_CTL_MOD` queue the
//! entry, as on Linux. `EPOLLONESHOT` disables an entry after one report until the next
//! `EPOLL_CTL_MOD`.
//!
//! An entry lives as long as its open file description: closing one of several
//! descriptors that share it leaves the entry in place (`epoll(7)`, Q6); releasing the
//! description removes it from every instance ([`Vfs::forget_file`]).

use alloc::vec::Vec;

use super::file::{Object, OpenFile, flags::*};
use super::inode::Node;
use super::{Vfs, wait};
use crate::errno::Errno;

/// `epoll_event.events` bits (`include/uapi/linux/eventpoll.h`); the low ones are the
/// `poll` bits.
pub mod events {
    pub const EPOLLIN: u32 = 0x001;
    pub const EPOLLPRI: u32 = 0x002;
    pub const EPOLLOUT: u32 = 0x004;
    pub const EPOLLERR: u32 = 0x008;
    pub const EPOLLHUP: u32 = 0x010;
    pub const EPOLLRDHUP: u32 = 0x2000;
    pub const EPOLLEXCLUSIVE: u32 = 1 << 28;
    pub const EPOLLWAKEUP: u32 = 1 << 29;
    pub const EPOLLONESHOT: u32 = 1 << 30;
    pub const EPOLLET: u32 = 1 << 31;
}
use events::*;

/// `epoll_ctl` operations.
pub const EPOLL_CTL_ADD: u32 = 1;
pub const EPOLL_CTL_DEL: u32 = 2;
pub const EPOLL_CTL_MOD: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct EpollId(pub usize);

/// One watched descriptor.
#[derive(Clone, Copy, Debug)]
struct Entry {
    fd: u32,
    /// The open file description (`Vfs::files` slot) the descriptor named at `ADD`.
    file: usize,
    events: u32,
    data: u64,
    /// The object's change count this entry last looked at; `None` while queued.
    seen: Option<u64>,
    /// `EPOLLONESHOT` fired.
    disabled: bool,
}

#[derive(Debug, Default)]
pub struct Epoll {
    entries: Vec<Entry>,
    /// Where the next scan starts, so that a small `maxevents` does not report the
    /// same entries every time while others stay ready (Linux requeues reported
    /// level-triggered entries at the tail of its ready list).
    cursor: usize,
}

/// One report of `epoll_wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub events: u32,
    pub data: u64,
}

impl Vfs {
    /// `epoll_create1(flags)`.
    pub fn epoll_create(&mut self, flags: u32) -> Result<u32, Errno> {
        if flags & !O_CLOEXEC != 0 {
            return Err(Errno::EINVAL);
        }
        let id = EpollId(self.epolls.insert(Epoll::default())?);
        self.install(
            OpenFile::new(Object::Epoll(id), O_RDWR),
            0,
            flags & O_CLOEXEC != 0,
        )
        .inspect_err(|_| {
            self.epolls.remove(id.0);
        })
    }

    fn epoll_of(&self, epfd: u32) -> Result<EpollId, Errno> {
        match self.file(epfd)?.object {
            Object::Epoll(id) => Ok(id),
            _ => Err(Errno::EINVAL),
        }
    }

    /// `epoll_ctl(epfd, op, fd, event)`; `event` is `(events, data)` (ignored for
    /// `EPOLL_CTL_DEL`).
    pub fn epoll_ctl(
        &mut self,
        epfd: u32,
        op: u32,
        fd: u32,
        event: (u32, u64),
    ) -> Result<(), Errno> {
        let id = self.epoll_of(epfd)?;
        let target = self.fds.file_id(fd)?;
        match self.files.get(target).map(|f| f.object) {
            None => return Err(Errno::EBADF),
            Some(_) if fd == epfd => return Err(Errno::EINVAL),
            // Regular files and directories are always ready: Linux refuses them.
            Some(Object::Inode(ino))
                if matches!(self.inodes.get(ino)?.node, Node::File(_) | Node::Dir(_)) =>
            {
                return Err(Errno::EPERM);
            }
            // Nested instances are not supported (a gap: Linux allows them).
            Some(Object::Epoll(_)) => return Err(Errno::EPERM),
            Some(_) => {}
        }
        let (events, data) = event;
        let epoll = self.epolls.get_mut(id.0).ok_or(Errno::EBADF)?;
        let existing = epoll
            .entries
            .iter()
            .position(|e| e.fd == fd && e.file == target);
        match (op, existing) {
            (EPOLL_CTL_ADD, Some(_)) => return Err(Errno::EEXIST),
            (EPOLL_CTL_ADD, None) => {
                epoll.entries.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                epoll.entries.push(Entry {
                    fd,
                    file: target,
                    events,
                    data,
                    seen: None,
                    disabled: false,
                });
            }
            (EPOLL_CTL_MOD, Some(index)) => {
                let entry = &mut epoll.entries[index];
                if events & EPOLLEXCLUSIVE != 0 || entry.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                *entry = Entry {
                    events,
                    data,
                    seen: None,
                    disabled: false,
                    ..*entry
                };
            }
            (EPOLL_CTL_DEL, Some(index)) => {
                epoll.entries.remove(index);
            }
            (EPOLL_CTL_MOD | EPOLL_CTL_DEL, None) => return Err(Errno::ENOENT),
            _ => return Err(Errno::EINVAL),
        }
        // A thread already in `epoll_wait` on this instance must look at the new entry.
        wait::notify();
        Ok(())
    }

    /// Collects up to `max` reports of instance `epfd`, consuming edge-triggered and
    /// one-shot events; `report` receives each (it copies to the caller's buffer and
    /// may fail, which ends the collection with that error).
    pub fn epoll_collect(
        &mut self,
        epfd: u32,
        max: usize,
        mut report: impl FnMut(usize, Ready) -> Result<(), Errno>,
    ) -> Result<usize, Errno> {
        let id = self.epoll_of(epfd)?;
        let epoll = self.epolls.get_mut(id.0).ok_or(Errno::EBADF)?;
        let mut entries = core::mem::take(&mut epoll.entries);
        let start = epoll.cursor.min(entries.len());
        let mut found = 0;
        let mut result = Ok(());
        let mut last = None;
        for index in (start..entries.len()).chain(0..start) {
            if found == max {
                break;
            }
            let entry = &mut entries[index];
            let Some((ready, changes)) = self.look(entry) else {
                continue;
            };
            entry.seen = Some(changes);
            if ready == 0 {
                continue;
            }
            if let Err(error) = report(
                found,
                Ready {
                    events: ready,
                    data: entry.data,
                },
            ) {
                result = Err(error);
                break;
            }
            if entry.events & EPOLLONESHOT != 0 {
                entry.disabled = true;
            }
            found += 1;
            last = Some(index);
        }
        let epoll = self.epolls.get_mut(id.0).ok_or(Errno::EBADF)?;
        epoll.entries = entries;
        if let Some(last) = last {
            epoll.cursor = last + 1;
        }
        result.map(|()| found)
    }

    /// Whether instance `id` has something to report (its own readiness, for `poll`),
    /// without consuming anything.
    pub(super) fn epoll_has_events(&self, id: EpollId) -> bool {
        let Some(epoll) = self.epolls.get(id.0) else {
            return false;
        };
        epoll
            .entries
            .iter()
            .any(|entry| self.look(entry).is_some_and(|(ready, _)| ready != 0))
    }

    /// What `entry` would report now (0: nothing, but the look counts for `EPOLLET`)
    /// with the change count it looked at; `None` if it is not to look at all
    /// (disabled, gone, or edge-triggered with no change since its last look).
    fn look(&self, entry: &Entry) -> Option<(u32, u64)> {
        if entry.disabled {
            return None;
        }
        let object = self.files.get(entry.file)?.object;
        let changes = self.changes(object);
        if entry.events & EPOLLET != 0 && entry.seen == Some(changes) {
            return None;
        }
        Some((
            u32::from(self.readiness(object)) & (entry.events | EPOLLERR | EPOLLHUP),
            changes,
        ))
    }

    /// Open file description `file` was released: no instance watches it any more.
    pub(super) fn forget_file(&mut self, file: usize) {
        for epoll in self.epolls.values_mut() {
            epoll.entries.retain(|entry| entry.file != file);
        }
    }
}
