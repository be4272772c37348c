//! `epoll(7)` instances: an interest list of (descriptor, open file description)
//! pairs, each with the events it waits for and the caller's 64-bit data. An instance
//! watches any [`FileLike`] through its readiness ([`FileLike::poll`]) and wake-up
//! count ([`FileLike::changes`]); it knows nothing of what the objects are.
//!
//! Readiness is computed when `epoll_wait` looks rather than pushed onto a ready list
//! as Linux does; the difference shows only in the edge-triggered mode, which Linux
//! defines by its ready list: an entry is queued whenever its file wakes its waiters
//! (for a pipe: any read, write or close, also while it stays readable), and
//! `epoll_wait` reports a queued entry once if the file is then ready, dequeuing it
//! either way. Here each object counts its wake-ups and an `EPOLLET` entry remembers
//! the count it last looked at, which gives the same reports. `EPOLL_CTL_ADD` and
//! `EPOLL_CTL_MOD` queue the entry, as on Linux. `EPOLLONESHOT` disables an entry
//! after one report until the next `EPOLL_CTL_MOD`.
//!
//! An entry lives as long as its open file description: closing one of several
//! descriptors that share it leaves the entry in place (`epoll(7)`, Q6); releasing the
//! description removes it from every instance ([`Epoll::forget`]).

use alloc::sync::Arc;
use alloc::vec::Vec;

use spin::Mutex;

use super::file::FileLike;
use super::inode::Inodes;
use super::poll::bits::READABLE;
use super::stat::Stat;
use super::wake;
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

/// One watched descriptor.
#[derive(Clone, Debug)]
struct Entry {
    fd: u32,
    /// The open file description (`Vfs::files` slot) the descriptor named at `ADD`.
    file: usize,
    /// What that description refers to.
    object: Arc<dyn FileLike>,
    events: u32,
    data: u64,
    /// The object's change count this entry last looked at; `None` while queued.
    seen: Option<u64>,
    /// `EPOLLONESHOT` fired.
    disabled: bool,
}

impl Entry {
    /// What the entry would report now (0: nothing, but the look counts for
    /// `EPOLLET`) with the change count it looked at; `None` if it is not to look at
    /// all (disabled, or edge-triggered with no change since its last look).
    fn look(&self) -> Option<(u32, u64)> {
        if self.disabled {
            return None;
        }
        let changes = self.object.changes();
        if self.events & EPOLLET != 0 && self.seen == Some(changes) {
            return None;
        }
        Some((
            u32::from(self.object.poll()) & (self.events | EPOLLERR | EPOLLHUP),
            changes,
        ))
    }
}

#[derive(Debug, Default)]
struct Interest {
    entries: Vec<Entry>,
    /// Where the next scan starts, so that a small `maxevents` does not report the
    /// same entries every time while others stay ready (Linux requeues reported
    /// level-triggered entries at the tail of its ready list).
    cursor: usize,
}

/// One instance.
#[derive(Debug, Default)]
pub struct Epoll(Mutex<Interest>);

/// One report of `epoll_wait`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ready {
    pub events: u32,
    pub data: u64,
}

/// The descriptor an `epoll_ctl` names.
#[derive(Debug)]
pub struct Target {
    pub fd: u32,
    /// Its open file description (`Vfs::files` slot).
    pub file: usize,
    pub object: Arc<dyn FileLike>,
}

impl Epoll {
    /// `epoll_ctl(op, target, event)` once the descriptors are checked; `event` is
    /// `(events, data)` (ignored for `EPOLL_CTL_DEL`).
    pub fn ctl(&self, op: u32, target: Target, event: (u32, u64)) -> Result<(), Errno> {
        let (events, data) = event;
        let mut interest = self.0.lock();
        let existing = interest
            .entries
            .iter()
            .position(|e| e.fd == target.fd && e.file == target.file);
        match (op, existing) {
            (EPOLL_CTL_ADD, Some(_)) => return Err(Errno::EEXIST),
            (EPOLL_CTL_ADD, None) => {
                interest.entries.try_reserve(1).map_err(|_| Errno::ENOMEM)?;
                interest.entries.push(Entry {
                    fd: target.fd,
                    file: target.file,
                    object: target.object,
                    events,
                    data,
                    seen: None,
                    disabled: false,
                });
            }
            (EPOLL_CTL_MOD, Some(index)) => {
                let entry = &mut interest.entries[index];
                if events & EPOLLEXCLUSIVE != 0 || entry.events & EPOLLEXCLUSIVE != 0 {
                    return Err(Errno::EINVAL);
                }
                entry.events = events;
                entry.data = data;
                entry.seen = None;
                entry.disabled = false;
            }
            (EPOLL_CTL_DEL, Some(index)) => {
                interest.entries.remove(index);
            }
            (EPOLL_CTL_MOD | EPOLL_CTL_DEL, None) => return Err(Errno::ENOENT),
            _ => return Err(Errno::EINVAL),
        }
        // A thread already in `epoll_wait` on this instance must look at the new entry.
        wake::notify();
        Ok(())
    }

    /// Collects up to `max` reports, consuming edge-triggered and one-shot events;
    /// `report` receives each (it copies to the caller's buffer and may fail, which
    /// ends the collection with that error).
    pub fn collect(
        &self,
        max: usize,
        mut report: impl FnMut(usize, Ready) -> Result<(), Errno>,
    ) -> Result<usize, Errno> {
        let mut interest = self.0.lock();
        let Interest { entries, cursor } = &mut *interest;
        let start = (*cursor).min(entries.len());
        let mut found = 0;
        let mut result = Ok(());
        let mut last = None;
        for index in (start..entries.len()).chain(0..start) {
            if found == max {
                break;
            }
            let entry = &mut entries[index];
            let Some((ready, changes)) = entry.look() else {
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
        if let Some(last) = last {
            *cursor = last + 1;
        }
        result.map(|()| found)
    }

    /// Open file description `file` was released: the instance watches it no more.
    pub fn forget(&self, file: usize) {
        self.0.lock().entries.retain(|entry| entry.file != file);
    }
}

impl FileLike for Epoll {
    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::anonymous())
    }

    /// Readable while something is to report (without consuming it).
    fn poll(&self) -> u16 {
        let interest = self.0.lock();
        let ready = interest
            .entries
            .iter()
            .any(|entry| entry.look().is_some_and(|(ready, _)| ready != 0));
        if ready { READABLE } else { 0 }
    }

    /// Nested instances are not supported (a gap: Linux allows them).
    fn check_epoll_target(&self, _fs: &Inodes) -> Result<(), Errno> {
        Err(Errno::EPERM)
    }
}
