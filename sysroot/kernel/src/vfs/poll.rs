//! `poll` bits and the readiness of a descriptor, as `poll` and `ppoll` report it;
//! each object computes its own ([`super::FileLike::poll`]).

use super::Vfs;

/// `poll` event bits (`include/uapi/asm-generic/poll.h`).
pub mod bits {
    pub const POLLIN: u16 = 0x001;
    pub const POLLOUT: u16 = 0x004;
    pub const POLLERR: u16 = 0x008;
    pub const POLLHUP: u16 = 0x010;
    pub const POLLNVAL: u16 = 0x020;
    pub const POLLRDNORM: u16 = 0x040;
    pub const POLLWRNORM: u16 = 0x100;

    /// Data to read (or end of file).
    pub const READABLE: u16 = POLLIN | POLLRDNORM;
    /// Room to write.
    pub const WRITABLE: u16 = POLLOUT | POLLWRNORM;
}
use bits::*;

impl Vfs {
    /// `poll` readiness of `fd` for `events` (`POLLERR` and `POLLHUP` are always
    /// reported; `POLLNVAL` for a descriptor that is not open).
    pub fn poll(&self, fd: u32, events: u16) -> u16 {
        let Ok(file) = self.file(fd) else {
            return POLLNVAL;
        };
        file.object.poll() & (events | POLLERR | POLLHUP)
    }
}
