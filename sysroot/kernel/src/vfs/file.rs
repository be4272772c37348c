//! Open file descriptions: what `open`, `pipe2` and the console descriptors create and
//! `dup` shares. Each holds an offset, the status flags and the object it reads and
//! writes.

use alloc::vec::Vec;

use super::epoll::EpollId;
use super::eventfd::EventFdId;
use super::inode::Ino;
use super::pipe::PipeId;

/// `open(2)` flags (x86-64 values, `include/uapi/asm-generic/fcntl.h`).
pub mod flags {
    pub const O_ACCMODE: u32 = 0o3;
    pub const O_RDONLY: u32 = 0o0;
    pub const O_WRONLY: u32 = 0o1;
    pub const O_RDWR: u32 = 0o2;
    pub const O_CREAT: u32 = 0o100;
    pub const O_EXCL: u32 = 0o200;
    pub const O_NOCTTY: u32 = 0o400;
    pub const O_TRUNC: u32 = 0o1000;
    pub const O_APPEND: u32 = 0o2000;
    pub const O_NONBLOCK: u32 = 0o4000;
    pub const O_DSYNC: u32 = 0o10000;
    pub const O_ASYNC: u32 = 0o20000;
    pub const O_DIRECT: u32 = 0o40000;
    pub const O_LARGEFILE: u32 = 0o100000;
    pub const O_DIRECTORY: u32 = 0o200000;
    pub const O_NOFOLLOW: u32 = 0o400000;
    pub const O_NOATIME: u32 = 0o1000000;
    pub const O_CLOEXEC: u32 = 0o2000000;
    pub const O_SYNC: u32 = 0o4010000;
    pub const O_PATH: u32 = 0o10000000;
    pub const O_TMPFILE: u32 = 0o20000000 | O_DIRECTORY;
    /// The flags `F_SETFL` may change (Linux `SETFL_MASK`).
    pub const SETFL_MASK: u32 = O_APPEND | O_NONBLOCK | O_ASYNC | O_DIRECT | O_NOATIME;
    /// The flags kept in the description after `open` (creation flags are not).
    pub const KEPT: u32 = O_ACCMODE
        | O_APPEND
        | O_NONBLOCK
        | O_DSYNC
        | O_ASYNC
        | O_DIRECT
        | O_LARGEFILE
        | O_DIRECTORY
        | O_NOFOLLOW
        | O_NOATIME
        | O_SYNC
        | O_PATH;
}

/// The serial console's two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Always at end of file.
    Input,
    /// Writes go to the serial port.
    Output,
}

/// What a description reads and writes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Object {
    Console(Console),
    Inode(Ino),
    PipeRead(PipeId),
    PipeWrite(PipeId),
    EventFd(EventFdId),
    Epoll(EpollId),
}

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
    End,
}

#[derive(Debug)]
pub struct OpenFile {
    pub object: Object,
    /// Access mode and status flags ([`flags::KEPT`]).
    pub flags: u32,
    pub offset: u64,
    pub cursor: DirCursor,
    /// Descriptors sharing this description.
    pub(super) refs: u32,
}

impl OpenFile {
    pub fn new(object: Object, flags: u32) -> Self {
        Self {
            object,
            flags: flags & flags::KEPT,
            offset: 0,
            cursor: DirCursor::Start,
            refs: 0,
        }
    }

    pub fn readable(&self) -> bool {
        self.flags & flags::O_PATH == 0 && self.flags & flags::O_ACCMODE != flags::O_WRONLY
    }

    /// `O_NONBLOCK`: `EAGAIN` instead of waiting.
    pub fn nonblocking(&self) -> bool {
        self.flags & flags::O_NONBLOCK != 0
    }

    pub fn writable(&self) -> bool {
        self.flags & flags::O_PATH == 0
            && matches!(
                self.flags & flags::O_ACCMODE,
                flags::O_WRONLY | flags::O_RDWR
            )
    }
}
