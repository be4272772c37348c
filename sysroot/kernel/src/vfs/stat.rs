//! File status: what `fstat`, `newfstatat` (`struct stat`) and `statx`
//! (`struct statx`) report, and the `d_type` of directory entries.

use super::inode::{Ino, Inode, Inodes, Node, Times, mode};
use crate::errno::Errno;

/// Device number of the RAM file system (an anonymous block device, like tmpfs).
const RAMFS_DEV: (u32, u32) = (0, 1);
/// Device number of the pipe file system.
const PIPEFS_DEV: (u32, u32) = (0, 2);
/// Device number of the anonymous inodes behind event counters and `epoll` instances.
const ANON_INODE_DEV: (u32, u32) = (0, 3);
/// The socket file system's (`sockfs`).
const SOCKFS_DEV: (u32, u32) = (0, 4);
/// `/dev/console`.
const CONSOLE_RDEV: (u32, u32) = (5, 1);
/// The preferred I/O size (`st_blksize`).
const BLOCK_SIZE: u64 = 4096;
/// tmpfs's bogus directory sizes: 20 bytes per entry plus two for `.` and `..`.
const BOGO_DIRENT_SIZE: u64 = 20;

/// `statx` mask bits (`include/uapi/linux/stat.h`).
pub const STATX_BASIC_STATS: u32 = 0x7ff;
pub const STATX_BTIME: u32 = 0x800;

#[derive(Clone, Copy, Debug)]
pub struct Stat {
    pub dev: (u32, u32),
    pub ino: u64,
    /// File type and permission bits.
    pub mode: u32,
    pub nlink: u32,
    pub size: u64,
    pub rdev: (u32, u32),
    pub blocks: u64,
    pub times: Times,
}

/// `d_type` values (`DT_*`).
pub fn dirent_type(inode: &Inode) -> u8 {
    match inode.node {
        Node::Dir(_) => 4,
        Node::File(_) => 8,
        Node::Symlink(_) => 10,
        Node::Device(_) => 2,
    }
}

/// Linux's `new_encode_dev`: the 32-bit `dev_t` of `struct stat`.
fn encode_dev((major, minor): (u32, u32)) -> u64 {
    u64::from(minor & 0xff) | (u64::from(major) << 8) | (u64::from(minor & !0xff) << 12)
}

fn put(bytes: &mut [u8], at: usize, value: &[u8]) {
    bytes[at..at + value.len()].copy_from_slice(value);
}

impl Stat {
    /// The status of inode `ino` of the table.
    pub fn of_ino(fs: &Inodes, ino: Ino) -> Result<Self, Errno> {
        Ok(Self::of_inode(ino.0, fs.get(ino)?))
    }

    fn of_inode(ino: usize, inode: &Inode) -> Self {
        let size = match &inode.node {
            Node::Dir(dir) => (dir.entries.len() as u64 + 2) * BOGO_DIRENT_SIZE,
            _ => inode.size() as u64,
        };
        let blocks = match inode.node {
            Node::File(_) => size.div_ceil(BLOCK_SIZE) * (BLOCK_SIZE / 512),
            _ => 0,
        };
        Self {
            dev: RAMFS_DEV,
            ino: ino as u64 + 1,
            mode: inode.file_type() | inode.perm,
            nlink: inode.nlink,
            size,
            rdev: match inode.node {
                Node::Device(device) => device.rdev(),
                _ => (0, 0),
            },
            blocks,
            times: inode.times,
        }
    }

    /// `struct stat` of x86-64 (144 bytes, `arch/x86/include/uapi/asm/stat.h`).
    pub fn to_stat(&self) -> [u8; 144] {
        let mut b = [0u8; 144];
        put(&mut b, 0, &encode_dev(self.dev).to_ne_bytes());
        put(&mut b, 8, &self.ino.to_ne_bytes());
        put(&mut b, 16, &u64::from(self.nlink).to_ne_bytes());
        put(&mut b, 24, &self.mode.to_ne_bytes());
        // st_uid, st_gid: root (0); padding.
        put(&mut b, 40, &encode_dev(self.rdev).to_ne_bytes());
        put(&mut b, 48, &self.size.to_ne_bytes());
        put(&mut b, 56, &BLOCK_SIZE.to_ne_bytes());
        put(&mut b, 64, &self.blocks.to_ne_bytes());
        for (at, ns) in [
            (72, self.times.atime),
            (88, self.times.mtime),
            (104, self.times.ctime),
        ] {
            put(&mut b, at, &(ns / 1_000_000_000).to_ne_bytes());
            put(&mut b, at + 8, &(ns % 1_000_000_000).to_ne_bytes());
        }
        b
    }

    /// `struct statx` (256 bytes); every basic field and the birth time are filled.
    pub fn to_statx(&self) -> [u8; 256] {
        let mut b = [0u8; 256];
        put(&mut b, 0, &(STATX_BASIC_STATS | STATX_BTIME).to_ne_bytes());
        put(&mut b, 4, &(BLOCK_SIZE as u32).to_ne_bytes());
        put(&mut b, 16, &self.nlink.to_ne_bytes());
        // stx_uid, stx_gid: root (0).
        put(&mut b, 28, &(self.mode as u16).to_ne_bytes());
        put(&mut b, 32, &self.ino.to_ne_bytes());
        put(&mut b, 40, &self.size.to_ne_bytes());
        put(&mut b, 48, &self.blocks.to_ne_bytes());
        let times = [
            (64, self.times.atime),
            (80, self.times.btime),
            (96, self.times.ctime),
            (112, self.times.mtime),
        ];
        for (at, ns) in times {
            put(&mut b, at, &((ns / 1_000_000_000) as i64).to_ne_bytes());
            put(&mut b, at + 8, &((ns % 1_000_000_000) as u32).to_ne_bytes());
        }
        put(&mut b, 128, &self.rdev.0.to_ne_bytes());
        put(&mut b, 132, &self.rdev.1.to_ne_bytes());
        put(&mut b, 136, &self.dev.0.to_ne_bytes());
        put(&mut b, 140, &self.dev.1.to_ne_bytes());
        b
    }

    /// An object outside the RAM file system, created at boot or run time with the
    /// given device, inode number and mode (`st_nlink` 1, no size, boot-time stamps).
    fn detached(dev: (u32, u32), ino: u64, mode: u32, rdev: (u32, u32)) -> Self {
        Self {
            dev,
            ino,
            mode,
            nlink: 1,
            size: 0,
            rdev,
            blocks: 0,
            times: Times::default(),
        }
    }

    /// The console: a character device, a made-up inode per direction.
    pub fn console(output: bool) -> Self {
        Self::detached(
            RAMFS_DEV,
            u64::from(output) + 1_000_000,
            mode::S_IFCHR | 0o620,
            CONSOLE_RDEV,
        )
    }

    /// A pipe (both ends share `ino`).
    pub fn pipe(ino: u64) -> Self {
        Self::detached(PIPEFS_DEV, ino, mode::S_IFIFO | 0o600, (0, 0))
    }

    /// A socket (each end its own inode, as on Linux).
    pub fn socket(ino: u64) -> Self {
        Self::detached(SOCKFS_DEV, ino, mode::S_IFSOCK | 0o777, (0, 0))
    }

    /// Linux's anonymous inode behind event counters and `epoll` instances: one for
    /// all of them, no file type bits.
    pub fn anonymous() -> Self {
        Self::detached(ANON_INODE_DEV, 1, 0o600, (0, 0))
    }
}
