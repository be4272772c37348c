//! A TCP socket's socket operations (`vfs::Socket`): what `bind`, `listen`,
//! `accept`, `connect`, the transfers, `shutdown`, the options and the names do on
//! it, as Linux's `inet_stream_ops` and `tcp_prot` answer.

use alloc::sync::Arc;

use super::{TcpSocket, addr};
use crate::errno::Errno;
use crate::vfs::socket_family::AF_INET;
use crate::vfs::socket_kind::SOCK_STREAM;
use crate::vfs::socket_msg::MSG_PEEK;
use crate::vfs::socket_opt::*;
use crate::vfs::{FileLike, Segment, Socket, SocketTimeouts as Timeouts};

/// What `SO_SNDBUF`/`SO_RCVBUF` report: the connection buffers' size (fixed).
const BUFFER_SIZE: i32 = super::BUFFER as i32;

impl Socket for TcpSocket {
    fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// The segments in order, as much as the send buffer takes.
    fn send(&self, segments: &[Segment], _flags: u32) -> Result<usize, Errno> {
        let mut done = 0;
        for segment in segments.iter().filter(|s| s.len > 0) {
            match self.send_bytes(segment.base, segment.len) {
                Ok(n) => {
                    done += n;
                    if n < segment.len {
                        break;
                    }
                }
                Err(_) if done > 0 => break,
                Err(error) => return Err(error),
            }
        }
        Ok(done)
    }

    fn recv(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno> {
        self.recv_bytes(segments, flags & MSG_PEEK != 0)
    }

    fn shutdown(&self, directions: u8) -> Result<(), Errno> {
        self.shut(directions)
    }

    /// The options std, mio and tokio read; others are `ENOPROTOOPT`, as Linux
    /// answers an option it does not know.
    fn option(&self, level: i32, name: i32) -> Result<i32, Errno> {
        Ok(match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => self.with_options(|o| o.reuse_addr)?.into(),
            (SOL_SOCKET, SO_KEEPALIVE) => self.with_options(|o| o.keep_alive)?.into(),
            (IPPROTO_TCP, TCP_NODELAY) => self.with_options(|o| o.no_delay)?.into(),
            (SOL_SOCKET, SO_TYPE) => SOCK_STREAM,
            (SOL_SOCKET, SO_DOMAIN) => AF_INET,
            (SOL_SOCKET, SO_PROTOCOL) => IPPROTO_TCP,
            (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => BUFFER_SIZE,
            (SOL_SOCKET, SO_ACCEPTCONN) => self.is_listening()?.into(),
            (SOL_SOCKET, SO_ERROR) => self.take_error()?.map_or(0, |errno| errno.0),
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    /// Boolean options take any non-zero `int` as on.
    fn set_option(&self, level: i32, name: i32, value: Option<i32>) -> Result<(), Errno> {
        // Both `sock_setsockopt` and `do_tcp_setsockopt` want a whole `int`.
        let on = value.ok_or(Errno::EINVAL)? != 0;
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => self.with_options(|o| o.reuse_addr = on),
            (SOL_SOCKET, SO_KEEPALIVE) => self.with_options(|o| o.keep_alive = on),
            (IPPROTO_TCP, TCP_NODELAY) => self.with_options(|o| o.no_delay = on),
            // Accepted and without effect, as on a Linux where the size is clamped: the
            // buffers are fixed (`net::tcp`).
            (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => Ok(()),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn address(&self, peer: bool) -> Result<([u8; 16], usize), Errno> {
        let endpoint = if peer { self.peer()? } else { self.local()? };
        Ok(addr::format(endpoint))
    }

    fn bind(&self, address: &[u8]) -> Result<(), Errno> {
        self.bind_to(addr::parse(address)?)
    }

    fn listen(&self, backlog: usize) -> Result<(), Errno> {
        self.start_listening(backlog)
    }

    fn accept(&self) -> Result<Arc<dyn FileLike>, Errno> {
        Ok(Arc::new(self.take_connection()?))
    }

    fn connect(&self, address: &[u8]) -> Result<(), Errno> {
        self.connect_to(addr::parse(address)?)
    }

    fn connected(&self) -> Result<(), Errno> {
        self.connect_outcome()
    }
}
