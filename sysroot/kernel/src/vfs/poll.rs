//! `poll` bits, as `poll`, `ppoll` and `epoll_wait` report readiness; each object
//! computes its own ([`super::FileLike::poll`]).

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
