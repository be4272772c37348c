//! Pipes (`pipe(7)`): a bounded byte queue with counts of open read and write ends,
//! and the two ends as objects of descriptions ([`PipeReader`], [`PipeWriter`]).
//!
//! The queue itself never blocks: reading an empty pipe whose write end is still open
//! and writing a full one are `EAGAIN` here. Descriptors without `O_NONBLOCK` turn
//! that into a wait ([`super::wait`]): every change of the queue or of the ends wakes
//! the waiters to try again, so a blocking reader sleeps until a writer writes or the
//! last write end closes, and a blocking writer until a reader makes room or the last
//! read end closes.
//!
//! Edge-triggered `epoll` sees the changes each end's waiters see on Linux, which has
//! one wait queue per direction: a write (and a close) concerns the read ends, a read
//! (and a close) the write ends ([`Pipe::changes`]).

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use unikernel_hal::uaccess;

use super::file::{At, FileLike, ioctl, reply_fionread};
use super::inode::Inodes;
use super::poll::bits::{POLLERR, POLLHUP, READABLE, WRITABLE};
use super::stat::Stat;
use super::wake;
use crate::errno::Errno;

/// Linux's default pipe capacity (16 pages).
pub const CAPACITY: usize = 64 * 1024;
/// Writes of up to `PIPE_BUF` bytes are atomic (`pipe(7)`).
pub const PIPE_BUF: usize = 4096;

/// The next pipe's inode number in the pipe file system (`st_ino`).
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

#[derive(Debug, Default)]
pub struct Pipe {
    buffer: VecDeque<u8>,
    readers: u32,
    writers: u32,
    /// Changes that concern the read ends and the write ends (module docs).
    changes: Changes,
}

/// Counts of changes per direction, for edge-triggered `epoll`.
#[derive(Clone, Copy, Debug, Default)]
struct Changes {
    for_readers: u64,
    for_writers: u64,
}

impl Pipe {
    /// Takes up to `max` bytes; `Ok(empty)` at end of file.
    fn read(&mut self, max: usize) -> Result<(&[u8], &[u8]), Errno> {
        if self.buffer.is_empty() {
            return if self.writers == 0 {
                Ok((&[], &[]))
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let (a, b) = self.buffer.as_slices();
        let first = a.len().min(max);
        let second = b.len().min(max - first);
        Ok((&a[..first], &b[..second]))
    }

    /// Drops `n` bytes read with [`Pipe::read`].
    fn consume(&mut self, n: usize) {
        self.buffer.drain(..n.min(self.buffer.len()));
        if n > 0 {
            self.changes.for_writers = self.changes.for_writers.wrapping_add(1);
            wake::notify();
        }
    }

    /// Room for a write of `len` bytes: `EPIPE` without readers, `EAGAIN` when full.
    /// Writes of up to [`PIPE_BUF`] bytes are atomic: all or nothing.
    fn room(&self, len: usize) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let free = self.free();
        if free == 0 || (len <= PIPE_BUF && free < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(free.min(len))
    }

    fn free(&self) -> usize {
        CAPACITY - self.buffer.len()
    }

    /// Appends `bytes` (which [`Pipe::room`] allowed).
    fn append(&mut self, bytes: &[u8]) {
        self.buffer.extend(bytes);
        if !bytes.is_empty() {
            self.changes.for_readers = self.changes.for_readers.wrapping_add(1);
            wake::notify();
        }
    }

    /// An end closed: both directions' waiters look again (end of file, `EPIPE`).
    fn end_closed(&mut self) {
        self.changes.for_readers = self.changes.for_readers.wrapping_add(1);
        self.changes.for_writers = self.changes.for_writers.wrapping_add(1);
        wake::notify();
    }
}

/// What both ends share.
#[derive(Debug)]
struct Shared {
    pipe: Mutex<Pipe>,
    ino: u64,
}

/// A pipe's read end.
#[derive(Debug)]
pub struct PipeReader(Arc<Shared>);

/// A pipe's write end.
#[derive(Debug)]
pub struct PipeWriter(Arc<Shared>);

/// A new empty pipe's two ends (no description refers to either yet).
pub fn new() -> (PipeReader, PipeWriter) {
    let shared = Arc::new(Shared {
        pipe: Mutex::new(Pipe::default()),
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
    });
    (PipeReader(shared.clone()), PipeWriter(shared))
}

impl FileLike for PipeReader {
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        at.stream()?;
        let mut pipe = self.0.pipe.lock();
        let (first, second) = pipe.read(len)?;
        uaccess::copy_to(buf, first)?;
        uaccess::copy_to(buf + first.len(), second)?;
        let n = first.len() + second.len();
        pipe.consume(n);
        Ok(n)
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let ready = self.0.pipe.lock().buffer.len();
        reply_fionread(arg, ready)
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::pipe(self.0.ino))
    }

    /// Data, or end of file once the last writer is gone.
    fn poll(&self) -> u16 {
        let p = self.0.pipe.lock();
        (if p.buffer.is_empty() { 0 } else { READABLE }) | if p.writers == 0 { POLLHUP } else { 0 }
    }

    fn changes(&self) -> u64 {
        self.0.pipe.lock().changes.for_readers
    }

    fn opened(&self, _fs: &mut Inodes) -> Result<(), Errno> {
        self.0.pipe.lock().readers += 1;
        Ok(())
    }

    /// The write ends' waiters see `EPIPE` once the last reader is gone.
    fn released(&self, _fs: &mut Inodes) {
        let mut pipe = self.0.pipe.lock();
        pipe.readers = pipe.readers.saturating_sub(1);
        pipe.end_closed();
    }
}

impl FileLike for PipeWriter {
    fn write(
        &self,
        _fs: &mut Inodes,
        at: At<'_>,
        _flags: u32,
        buf: usize,
        len: usize,
    ) -> Result<usize, Errno> {
        at.stream()?;
        let mut pipe = self.0.pipe.lock();
        let n = pipe.room(len)?;
        pipe.buffer.try_reserve(n).map_err(|_| Errno::ENOMEM)?;
        uaccess::with_bytes(buf, n, |bytes| pipe.append(bytes))?;
        Ok(n)
    }

    fn writes_whole(&self) -> bool {
        true
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::pipe(self.0.ino))
    }

    /// Room for an atomic write; an error once no reader is left (with `POLLOUT`
    /// still, as on Linux: the write fails at once).
    fn poll(&self) -> u16 {
        let p = self.0.pipe.lock();
        (if p.free() >= PIPE_BUF { WRITABLE } else { 0 }) | if p.readers == 0 { POLLERR } else { 0 }
    }

    fn changes(&self) -> u64 {
        self.0.pipe.lock().changes.for_writers
    }

    fn opened(&self, _fs: &mut Inodes) -> Result<(), Errno> {
        self.0.pipe.lock().writers += 1;
        Ok(())
    }

    /// The read ends' waiters see end of file once the last writer is gone.
    fn released(&self, _fs: &mut Inodes) {
        let mut pipe = self.0.pipe.lock();
        pipe.writers = pipe.writers.saturating_sub(1);
        pipe.end_closed();
    }
}
