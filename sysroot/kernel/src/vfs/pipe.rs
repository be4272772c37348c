//! Pipes (`pipe(7)`): a bounded byte queue with counts of open read and write ends.
//!
//! Reading an empty pipe whose write end is still open returns `EAGAIN`, also without
//! `O_NONBLOCK`, and writing a full pipe writes what fits or returns `EAGAIN`: the
//! kernel has no way to block a thread yet (one thread, no scheduler), and with one
//! thread nothing could ever fill or drain the pipe while the caller waited. Once the
//! scheduler can park a thread, blocking descriptors wait there instead.

use alloc::collections::VecDeque;

use crate::errno::Errno;

/// Linux's default pipe capacity (16 pages).
pub const CAPACITY: usize = 64 * 1024;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct PipeId(pub usize);

#[derive(Debug, Default)]
pub struct Pipe {
    pub buffer: VecDeque<u8>,
    pub readers: u32,
    pub writers: u32,
}

impl Pipe {
    /// Takes up to `max` bytes; `Ok(empty)` at end of file.
    pub fn read(&mut self, max: usize) -> Result<(&[u8], &[u8]), Errno> {
        if self.buffer.is_empty() {
            return if self.writers == 0 { Ok((&[], &[])) } else { Err(Errno::EAGAIN) };
        }
        let (a, b) = self.buffer.as_slices();
        let first = a.len().min(max);
        let second = b.len().min(max - first);
        Ok((&a[..first], &b[..second]))
    }

    /// Drops `n` bytes read with [`Pipe::read`].
    pub fn consume(&mut self, n: usize) {
        self.buffer.drain(..n.min(self.buffer.len()));
    }

    /// Room for a write of `len` bytes: `EPIPE` without readers, `EAGAIN` when full.
    /// Writes of up to `PIPE_BUF` (4096) bytes are atomic: all or nothing.
    pub fn room(&self, len: usize) -> Result<usize, Errno> {
        if self.readers == 0 {
            return Err(Errno::EPIPE);
        }
        let free = CAPACITY - self.buffer.len();
        if free == 0 || (len <= 4096 && free < len) {
            return Err(Errno::EAGAIN);
        }
        Ok(free.min(len))
    }
}
