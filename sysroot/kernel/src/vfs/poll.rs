//! Readiness of every kind of object, as `poll`, `ppoll` and `epoll_wait` report it
//! (Linux's `f_op->poll`), and the change counts behind edge-triggered `epoll`.

use super::Vfs;
use super::file::{Console, Object};
use super::pipe::PIPE_BUF;

/// `poll` event bits (`include/uapi/asm-generic/poll.h`).
pub mod bits {
    pub const POLLIN: u16 = 0x001;
    pub const POLLOUT: u16 = 0x004;
    pub const POLLERR: u16 = 0x008;
    pub const POLLHUP: u16 = 0x010;
    pub const POLLNVAL: u16 = 0x020;
    pub const POLLRDNORM: u16 = 0x040;
    pub const POLLWRNORM: u16 = 0x100;
}
use bits::*;

const READABLE: u16 = POLLIN | POLLRDNORM;
const WRITABLE: u16 = POLLOUT | POLLWRNORM;

impl Vfs {
    /// Every readiness bit that holds for `object` now.
    pub fn readiness(&self, object: Object) -> u16 {
        match object {
            // Standard input is always at end of file; the serial port always takes
            // output (writes wait for it inside the call).
            Object::Console(Console::Input) => READABLE,
            Object::Console(Console::Output) => WRITABLE,
            // Regular files, directories and devices never wait (Linux's default).
            Object::Inode(_) => READABLE | WRITABLE,
            // A read end: data, or end of file once the last writer is gone.
            Object::PipeRead(id) => match self.pipes.get(id.0) {
                Some(p) => {
                    (if p.buffer.is_empty() { 0 } else { READABLE })
                        | if p.writers == 0 { POLLHUP } else { 0 }
                }
                None => POLLHUP,
            },
            // A write end: room for an atomic write; an error once no reader is left
            // (with `POLLOUT` still, as on Linux: the write fails at once).
            Object::PipeWrite(id) => match self.pipes.get(id.0) {
                Some(p) => {
                    (if p.free() >= PIPE_BUF { WRITABLE } else { 0 })
                        | if p.readers == 0 { POLLERR } else { 0 }
                }
                None => POLLERR,
            },
            Object::EventFd(id) => match self.eventfds.get(id.0) {
                Some(counter) => {
                    (if counter.readable() { READABLE } else { 0 })
                        | if counter.writable() { WRITABLE } else { 0 }
                }
                None => 0,
            },
            Object::Epoll(id) => {
                if self.epoll_has_events(id) {
                    READABLE
                } else {
                    0
                }
            }
        }
    }

    /// How often `object` has changed in a way that may have made it ready; objects
    /// that are always ready never change.
    pub(super) fn changes(&self, object: Object) -> u64 {
        match object {
            Object::PipeRead(id) => self.pipes.get(id.0).map_or(0, |p| p.changes.for_readers),
            Object::PipeWrite(id) => self.pipes.get(id.0).map_or(0, |p| p.changes.for_writers),
            Object::EventFd(id) => self.eventfds.get(id.0).map_or(0, |c| c.changes),
            Object::Console(_) | Object::Inode(_) | Object::Epoll(_) => 0,
        }
    }

    /// `poll` readiness of `fd` for `events` (`POLLERR` and `POLLHUP` are always
    /// reported; `POLLNVAL` for a descriptor that is not open).
    pub fn poll(&self, fd: u32, events: u16) -> u16 {
        let Ok(file) = self.file(fd) else {
            return POLLNVAL;
        };
        self.readiness(file.object) & (events | POLLERR | POLLHUP)
    }
}
