//! AF_UNIX stream socket pairs (`socketpair(AF_UNIX, SOCK_STREAM)`, unix(7)): two
//! connected ends ([`UnixStream`]), each sending bytes to the other through a queue
//! of its own, as `UnixStream::pair` and `signal_hook::iterator` use them.
//!
//! The state is Linux's per-socket `sk_shutdown` ([`shut`]): `shutdown(SHUT_WR)` on
//! one end makes its writes fail with `EPIPE` and gives the other end end of stream
//! once the queue is read; `SHUT_RD` does the converse; closing an end shuts both
//! directions of the other (`unix_release_sock`). An end's queue is bounded by its
//! send buffer (`SO_SNDBUF`, Linux's default `wmem_default`); writes are partial up
//! to that bound, and `EAGAIN` when it is full. `poll` is Linux's `unix_poll`:
//! readable with data or after `RCV_SHUTDOWN` (with `POLLRDHUP`), `POLLHUP` once both
//! directions are shut, writable while at most a quarter of the send buffer is used.
//! An end closed with unread data leaves `ECONNRESET` for the peer, as Linux does.
//!
//! Only unnamed pairs: nothing here binds or connects by path.

use alloc::collections::VecDeque;
use alloc::sync::Arc;
use core::sync::atomic::{AtomicU64, Ordering};

use spin::Mutex;
use unikernel_hal::uaccess;

use super::file::flags::{O_NONBLOCK, O_RDWR};
use super::file::{At, FileLike, OpenFile, Socket, ioctl, reply_fionread};
use super::inode::Inodes;
use super::poll::bits::{POLLERR, POLLHUP, READABLE, WRITABLE};
use super::socket::kind::SOCK_STREAM;
use super::socket::{Segment, Timeouts, family, msg, opt, shut};
use super::stat::Stat;
use super::state::Vfs;
use super::wake;
use crate::errno::Errno;

/// `sa_family` of an AF_UNIX address (a `u16`).
const SA_FAMILY: [u8; 2] = (family::AF_UNIX as u16).to_ne_bytes();
/// `POLLRDHUP` (`include/uapi/asm-generic/poll.h`): the peer shut down writing.
pub const POLLRDHUP: u16 = 0x2000;

/// Linux's `net.core.wmem_default` and `wmem_max`: an end's default send buffer,
/// and the most `SO_SNDBUF` may ask for (which Linux doubles).
const SNDBUF_DEFAULT: usize = 212_992;
const SNDBUF_MAX: usize = 212_992;
/// Linux's `SOCK_MIN_SNDBUF` and `SOCK_MIN_RCVBUF` (about twice a small `sk_buff`).
const SNDBUF_MIN: usize = 4608;
const RCVBUF_MIN: usize = 2304;

/// The next pair's inode number in the socket file system (`st_ino`).
static NEXT_INO: AtomicU64 = AtomicU64::new(1);

/// One end's state.
#[derive(Debug)]
struct End {
    /// Bytes this end sent that the other has not read.
    sent: VecDeque<u8>,
    /// [`shut`] bits.
    shutdown: u8,
    /// Descriptions referring to this end.
    open: u32,
    /// Changes that concern this end's waiters (edge-triggered `epoll`).
    changes: u64,
    /// `ECONNRESET` pending (`sk_err`): the peer closed without reading everything
    /// this end sent. Reported once, by a read that finds no data or `SO_ERROR`.
    reset: bool,
    sndbuf: usize,
    rcvbuf: usize,
}

impl End {
    const NEW: End = End {
        sent: VecDeque::new(),
        shutdown: 0,
        open: 0,
        changes: 0,
        reset: false,
        sndbuf: SNDBUF_DEFAULT,
        rcvbuf: SNDBUF_DEFAULT,
    };
}

#[derive(Debug)]
struct Pair {
    ends: [End; 2],
}

impl Pair {
    /// Something end `side`'s waiters may be waiting for happened.
    fn touch(&mut self, side: usize) {
        self.ends[side].changes = self.ends[side].changes.wrapping_add(1);
        wake::notify();
    }

    /// Linux's `unix_writable`: at most a quarter of the send buffer in use.
    fn writable(&self, side: usize) -> bool {
        self.ends[side].sent.len() * 4 <= self.ends[side].sndbuf
    }
}

#[derive(Debug)]
struct Shared {
    pair: Mutex<Pair>,
    ino: u64,
}

/// One end of a connected pair.
#[derive(Debug)]
pub struct UnixStream {
    shared: Arc<Shared>,
    /// 0 or 1: which of the two ends.
    side: usize,
    timeouts: Timeouts,
}

/// A new connected pair (no description refers to either end yet).
pub fn pair() -> (UnixStream, UnixStream) {
    let shared = Arc::new(Shared {
        pair: Mutex::new(Pair {
            ends: [End::NEW, End::NEW],
        }),
        ino: NEXT_INO.fetch_add(1, Ordering::Relaxed),
    });
    (
        UnixStream {
            shared: shared.clone(),
            side: 0,
            timeouts: Timeouts::default(),
        },
        UnixStream {
            shared,
            side: 1,
            timeouts: Timeouts::default(),
        },
    )
}

impl UnixStream {
    fn peer(&self) -> usize {
        1 - self.side
    }
}

/// Copies `n` bytes of `queue` from position `from` to the caller's `to`.
fn copy_out(queue: &VecDeque<u8>, from: usize, n: usize, to: usize) -> Result<(), uaccess::Fault> {
    let (a, b) = queue.as_slices();
    let first = a.get(from..).unwrap_or(&[]);
    let first = &first[..first.len().min(n)];
    let skip_b = from.saturating_sub(a.len());
    let second = &b[skip_b..skip_b + (n - first.len())];
    uaccess::copy_to(to, first)?;
    uaccess::copy_to(to + first.len(), second)
}

impl Socket for UnixStream {
    fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    fn send(&self, segments: &[Segment], _flags: u32) -> Result<usize, Errno> {
        let mut pair = self.shared.pair.lock();
        let end = &mut pair.ends[self.side];
        if end.shutdown & shut::SEND != 0 {
            return Err(Errno::EPIPE);
        }
        let total: usize = segments.iter().map(|s| s.len).sum();
        if total == 0 {
            return Ok(0);
        }
        let room = end.sndbuf.saturating_sub(end.sent.len()).min(total);
        if room == 0 {
            return Err(Errno::EAGAIN);
        }
        end.sent.try_reserve(room).map_err(|_| Errno::ENOMEM)?;
        let mut done = 0;
        for segment in segments {
            let n = segment.len.min(room - done);
            let copied = uaccess::with_bytes(segment.base, n, |bytes| end.sent.extend(bytes));
            if let Err(error) = copied {
                if done == 0 {
                    return Err(error.into());
                }
                break;
            }
            done += n;
            if done == room {
                break;
            }
        }
        if done > 0 {
            let peer = self.peer();
            pair.touch(peer);
        }
        Ok(done)
    }

    fn recv(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno> {
        let mut pair = self.shared.pair.lock();
        let peer = self.peer();
        if pair.ends[peer].sent.is_empty() {
            let total: usize = segments.iter().map(|s| s.len).sum();
            if total > 0 && core::mem::take(&mut pair.ends[self.side].reset) {
                return Err(Errno::ECONNRESET);
            }
            return if pair.ends[self.side].shutdown & shut::RECEIVE != 0 || total == 0 {
                Ok(0)
            } else {
                Err(Errno::EAGAIN)
            };
        }
        let queue = &pair.ends[peer].sent;
        let mut done = 0;
        for segment in segments {
            let n = segment.len.min(queue.len() - done);
            let copied = copy_out(queue, done, n, segment.base);
            if let Err(error) = copied {
                if done == 0 {
                    return Err(error.into());
                }
                break;
            }
            done += n;
            if done == queue.len() {
                break;
            }
        }
        if flags & msg::MSG_PEEK == 0 && done > 0 {
            pair.ends[peer].sent.drain(..done);
            pair.touch(peer);
        }
        Ok(done)
    }

    /// `unix_stream_sendmsg`: a connected stream takes no destination.
    fn check_destination(&self) -> Result<(), Errno> {
        Err(Errno::EISCONN)
    }

    /// `unix_listen`: no listening on an unbound socket.
    fn listen(&self, _backlog: usize) -> Result<(), Errno> {
        Err(Errno::EINVAL)
    }

    /// `unix_accept`: the socket is not listening.
    fn accept(&self) -> Result<Arc<dyn FileLike>, Errno> {
        Err(Errno::EINVAL)
    }

    fn shutdown(&self, directions: u8) -> Result<(), Errno> {
        let mut pair = self.shared.pair.lock();
        let peer = self.peer();
        pair.ends[self.side].shutdown |= directions;
        // The peer's view is the mirror image (`unix_shutdown`'s `peer_mode`).
        let mut mirror = 0;
        if directions & shut::RECEIVE != 0 {
            mirror |= shut::SEND;
        }
        if directions & shut::SEND != 0 {
            mirror |= shut::RECEIVE;
        }
        pair.ends[peer].shutdown |= mirror;
        pair.touch(self.side);
        pair.touch(peer);
        Ok(())
    }

    /// `SOL_SOCKET` options only: other levels have none on an AF_UNIX socket
    /// (`EOPNOTSUPP`, as Linux's `unix_stream_ops`).
    fn option(&self, level: i32, name: i32) -> Result<i32, Errno> {
        if level != opt::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let mut pair = self.shared.pair.lock();
        let end = &mut pair.ends[self.side];
        let int = |n: usize| i32::try_from(n).unwrap_or(i32::MAX);
        Ok(match name {
            opt::SO_TYPE => SOCK_STREAM,
            // Reading the error clears it (`sock_error`).
            opt::SO_ERROR if core::mem::take(&mut end.reset) => Errno::ECONNRESET.0,
            opt::SO_ERROR | opt::SO_ACCEPTCONN | opt::SO_PROTOCOL => 0,
            opt::SO_DOMAIN => family::AF_UNIX,
            opt::SO_SNDBUF => int(end.sndbuf),
            opt::SO_RCVBUF => int(end.rcvbuf),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// `SO_SNDBUF` bounds this end's queue (Linux: doubled, at least the minimum);
    /// `SO_RCVBUF` is kept and reported, and bounds nothing, as on Linux for stream
    /// pairs (the sender's buffer does).
    fn set_option(&self, level: i32, name: i32, value: Option<i32>) -> Result<(), Errno> {
        if level != opt::SOL_SOCKET {
            return Err(Errno::EOPNOTSUPP);
        }
        let value = value.ok_or(Errno::EINVAL)?;
        let mut pair = self.shared.pair.lock();
        let value = usize::try_from(value).unwrap_or(0).min(SNDBUF_MAX);
        let end = &mut pair.ends[self.side];
        match name {
            opt::SO_SNDBUF => end.sndbuf = (value * 2).max(SNDBUF_MIN),
            opt::SO_RCVBUF => end.rcvbuf = (value * 2).max(RCVBUF_MIN),
            _ => return Err(Errno::ENOPROTOOPT),
        }
        let side = self.side;
        pair.touch(side);
        Ok(())
    }

    /// Both ends are unnamed: a `sockaddr_un` with only the family (length 2).
    fn address(&self, _peer: bool) -> Result<([u8; 16], usize), Errno> {
        let mut bytes = [0u8; 16];
        bytes[..2].copy_from_slice(&SA_FAMILY);
        Ok((bytes, 2))
    }
}

impl FileLike for UnixStream {
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        at.stream()?;
        self.recv(&[Segment { base: buf, len }], 0)
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
        self.send(&[Segment { base: buf, len }], 0)
    }

    /// A blocking stream write sends everything (`unix_stream_sendmsg` loops).
    fn writes_whole(&self) -> bool {
        true
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let ready = self.shared.pair.lock().ends[self.peer()].sent.len();
        reply_fionread(arg, ready)
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        Ok(Stat::socket(self.shared.ino * 2 + self.side as u64))
    }

    fn poll(&self) -> u16 {
        let pair = self.shared.pair.lock();
        let shutdown = pair.ends[self.side].shutdown;
        let mut bits = 0;
        if !pair.ends[self.peer()].sent.is_empty() {
            bits |= READABLE;
        }
        if shutdown & shut::RECEIVE != 0 {
            bits |= READABLE | POLLRDHUP;
        }
        if shutdown == shut::BOTH {
            bits |= POLLHUP;
        }
        if pair.writable(self.side) {
            bits |= WRITABLE;
        }
        if pair.ends[self.side].reset {
            bits |= POLLERR;
        }
        bits
    }

    fn changes(&self) -> u64 {
        self.shared.pair.lock().ends[self.side].changes
    }

    fn socket(&self) -> Option<&dyn Socket> {
        Some(self)
    }

    fn opened(&self, _fs: &mut Inodes) -> Result<(), Errno> {
        self.shared.pair.lock().ends[self.side].open += 1;
        Ok(())
    }

    /// The last description of an end closed: the peer can neither send nor receive
    /// any more (`unix_release_sock` sets its `sk_shutdown` to both), and what this
    /// end had not read is gone.
    fn released(&self, _fs: &mut Inodes) {
        let mut pair = self.shared.pair.lock();
        let (side, peer) = (self.side, self.peer());
        pair.ends[side].open = pair.ends[side].open.saturating_sub(1);
        if pair.ends[side].open == 0 {
            pair.ends[side].shutdown = shut::BOTH;
            pair.ends[peer].shutdown = shut::BOTH;
            if !pair.ends[peer].sent.is_empty() {
                pair.ends[peer].sent.clear();
                pair.ends[peer].reset = true;
            }
            pair.touch(side);
            pair.touch(peer);
        }
    }
}

impl Vfs {
    /// `socketpair(AF_UNIX, SOCK_STREAM, 0)`: the two descriptors, with `O_NONBLOCK`
    /// (`status`) and close-on-exec as asked.
    pub fn unix_stream_pair(&mut self, status: u32, cloexec: bool) -> Result<(u32, u32), Errno> {
        let (a, b) = pair();
        let status = status & O_NONBLOCK;
        let first = self.install(OpenFile::new(Arc::new(a), O_RDWR | status), 0, cloexec)?;
        match self.install(OpenFile::new(Arc::new(b), O_RDWR | status), 0, cloexec) {
            Ok(second) => Ok((first, second)),
            Err(e) => {
                let _ = self.close(first);
                Err(e)
            }
        }
    }
}
