//! Descriptions of the character devices: the `/dev` ones of the RAM file system
//! (`null`, `zero`, `full`, `random`, `urandom`) and the serial console behind
//! descriptors 0, 1 and 2.

use unikernel_hal::{console, uaccess};

use super::file::{At, FileLike, ioctl, reply_fionread};
use super::inode::{Device, Ino, Inodes};
use super::poll::bits::{READABLE, WRITABLE};
use super::stat::Stat;
use crate::errno::Errno;
use crate::random;

/// Fills `len` bytes at `buf` from `fill`, in chunks (zeros, random bytes).
fn fill_user(buf: usize, len: usize, fill: impl Fn(&mut [u8])) -> Result<usize, Errno> {
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        fill(&mut chunk[..n]);
        uaccess::copy_to(buf + done, &chunk[..n])?;
        done += n;
    }
    Ok(len)
}

/// An open `/dev` device. The position moves with reads but means nothing.
#[derive(Debug)]
pub struct DeviceFile {
    pub ino: Ino,
    pub device: Device,
}

impl FileLike for DeviceFile {
    /// The position moves on as if the bytes were there.
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        let n = match self.device {
            Device::Null => 0,
            Device::Zero | Device::Full => fill_user(buf, len, |b| b.fill(0))?,
            Device::Random | Device::Urandom => fill_user(buf, len, random::fill)?,
        };
        let end = at.position() + n as u64;
        at.end_at(end);
        Ok(n)
    }

    /// Writes vanish, except on `/dev/full` (`ENOSPC`); the position stays.
    fn write(
        &self,
        _fs: &mut Inodes,
        _at: At<'_>,
        _flags: u32,
        _buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        match self.device {
            Device::Full => Err(Errno::ENOSPC),
            _ => Ok(len),
        }
    }

    /// Character devices ignore the position (Linux `noop_llseek` for null/zero).
    fn seek(&self, _fs: &Inodes, _offset: &mut u64, _to: i64, _whence: u32) -> Result<u64, Errno> {
        Ok(0)
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        reply_fionread(arg, 0)
    }

    fn stat(&self, fs: &Inodes) -> Result<Stat, Errno> {
        Stat::of_ino(fs, self.ino)
    }

    /// `/dev/zero` maps as zeros, like anonymous memory; the others have no `mmap`.
    fn map_contents<'fs>(&self, _fs: &'fs Inodes, _shared_write: bool) -> Result<&'fs [u8], Errno> {
        match self.device {
            Device::Zero => Ok(&[]),
            _ => Err(Errno::ENODEV),
        }
    }

    fn inode(&self) -> Option<Ino> {
        Some(self.ino)
    }
}

/// The serial console's two directions.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Console {
    /// Always at end of file.
    Input,
    /// Writes go to the serial port.
    Output,
}

impl FileLike for Console {
    /// Standard input is always at end of file.
    fn read(&self, _fs: &Inodes, at: At<'_>, _buf: usize, _len: usize) -> Result<usize, Errno> {
        at.stream()?;
        Ok(0)
    }

    fn write(
        &self,
        _fs: &mut Inodes,
        at: At<'_>,
        _flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        at.stream()?;
        uaccess::with_bytes(buf, len, console::write_bytes)?;
        Ok(len)
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::console(*self == Console::Output))
    }

    /// Standard input is always at end of file; the serial port always takes output
    /// (writes wait for it inside the call).
    fn poll(&self) -> u16 {
        match self {
            Console::Input => READABLE,
            Console::Output => WRITABLE,
        }
    }
}
