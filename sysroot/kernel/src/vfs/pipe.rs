//! Pipes (`pipe(7)`): a bounded byte queue with counts of open read and write ends.
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

use crate::errno::Errno;

/// Linux's default pipe capacity (16 pages).
pub const CAPACITY: usize = 64 * 1024;
/// Writes of up to `PIPE_BUF` bytes are atomic (`pipe(7)`).
pub const PIPE_BUF: usize = 4096;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeId(pub usize);

#[derive(Debug, Default)]
pub struct Pipe {
    pub buffer: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
    /// Changes that concern the read ends and the write ends (module docs).
    pub changes: Changes,
}

/// Counts of changes per direction, for edge-triggered `epoll`.
#[derive(Clone, Copy, Debug, Default)]
pub struct Changes {
    pub for_readers: u64,
    pub for_writers: u64,
}

impl Pipe {
    /// Takes up to `max` bytes; `Ok(empty)` at end of file.
    pub fn read(&mut self, max: usize) -> Result<(&[u8], &[u8]), Errno> {
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
    pub fn consume(&mut self, n: usize) {
        self.buffer.drain(..n.min(self.buffer.len()));
        if n > 0 {
            self.changes.for_writers = self.changes.for_writers.wrapping_add(1);
            super::wait::notify();
        }
    }

    /// Room for a write of `len` bytes: `EPIPE` without readers, `EAGAIN` when full.
    /// Writes of up to [`PIPE_BUF`] bytes are atomic: all or nothing.
    pub fn room(&self, len: usize) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let free = self.free();
        if free == 0 || (len <= PIPE_BUF && free < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(free.min(len))
    }

    pub fn free(&self) -> usize {
        CAPACITY - self.buffer.len()
    }

    /// Appends `bytes` (which [`Pipe::room`] allowed).
    pub fn append(&mut self, bytes: &[u8]) {
        self.buffer.extend(bytes);
        if !bytes.is_empty() {
            self.changes.for_readers = self.changes.for_readers.wrapping_add(1);
            super::wait::notify();
        }
    }

    /// An end closed: both directions' waiters look again (end of file, `EPIPE`).
    pub fn end_closed(&mut self) {
        self.changes.for_readers = self.changes.for_readers.wrapping_add(1);
        self.changes.for_writers = self.changes.for_writers.wrapping_add(1);
        super::wait::notify();
    }
}
