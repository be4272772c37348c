//! A TCP socket as a file object: `read`, `write`, `poll` readiness as Linux's
//! `tcp_poll` reports it, `fstat`, `FIONREAD`, and the release of the last
//! descriptor.

use smoltcp::socket::tcp::State as TcpState;

use super::{State, TcpSocket};
use crate::errno::Errno;
use crate::net::{Stack, with_stack};
use crate::vfs::poll_bits::{POLLERR, POLLHUP, READABLE, WRITABLE};
use crate::vfs::{self, At, FileLike, Inodes, Segment, Stat, ioctl, reply_fionread};

/// `S_IFSOCK`: the file type `fstat` reports.
const S_IFSOCK: u32 = 0o140_000;

impl TcpSocket {
    pub(super) fn readiness(&self, stack: &mut Stack) -> u16 {
        let mut inner = self.inner.lock();
        inner.settle(stack);
        let error = if inner.error.is_some() { POLLERR } else { 0 };
        match &inner.state {
            // Linux: an unconnected stream socket is writable and hung up.
            State::Fresh => WRITABLE | POLLHUP | error,
            &State::Listening { backlog } => {
                if stack.backlog_ready(backlog) {
                    READABLE
                } else {
                    0
                }
            }
            &State::Connected(handle) => {
                let socket = stack.tcp(handle);
                match socket.state() {
                    TcpState::SynSent | TcpState::SynReceived => error,
                    TcpState::Closed if inner.error.is_some() => WRITABLE | POLLHUP | POLLERR,
                    _ => {
                        let readable = socket.can_recv() || !socket.may_recv() || inner.shut_read;
                        let writable = socket.can_send() || !socket.may_send();
                        let hangup = !socket.is_open() || (inner.shut_write && !socket.may_recv());
                        (if readable { READABLE } else { 0 })
                            | (if writable { WRITABLE } else { 0 })
                            | (if hangup { POLLHUP } else { 0 })
                            | error
                    }
                }
            }
        }
    }
}

impl FileLike for TcpSocket {
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        at.stream()?;
        self.recv_bytes(&[Segment { base: buf, len }], false)
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
        self.send_bytes(buf, len)
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        let ready = with_stack(|stack| match self.inner.lock().state {
            State::Connected(handle) => Ok(stack.tcp(handle).recv_queue()),
            _ => Err(Errno::EINVAL),
        })?;
        reply_fionread(arg, ready)
    }

    /// A blocking write returns once every byte is queued, as Linux's `tcp_sendmsg`.
    fn writes_whole(&self) -> bool {
        true
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        let mut stat = Stat::anonymous();
        stat.mode = S_IFSOCK | 0o777;
        Ok(stat)
    }

    fn poll(&self) -> u16 {
        with_stack(|stack| Ok(self.readiness(stack))).unwrap_or(POLLERR)
    }

    fn socket(&self) -> Option<&dyn vfs::Socket> {
        Some(self)
    }

    fn changes(&self) -> u64 {
        crate::net::changes()
    }

    /// The last descriptor closed: a connection closes in the background (or goes at
    /// once if already closed), a listening socket's backlog is reset, the port is free again.
    fn released(&self, _fs: &mut Inodes) {
        let _ = with_stack(|stack| {
            let mut inner = self.inner.lock();
            if let Some((_, port)) = inner.bound.take() {
                stack.ports.remove(&port);
            }
            match core::mem::replace(&mut inner.state, State::Fresh) {
                State::Fresh => {}
                State::Listening { backlog } => stack.close_backlog(backlog),
                State::Connected(handle) => {
                    stack.tcp_mut(handle).close();
                    stack.closing.push(handle);
                }
            }
            stack.changed();
            Ok(())
        });
    }
}
