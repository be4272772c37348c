//! A UDP socket's socket operations (`vfs::Socket`), as Linux's `inet_dgram_ops`
//! and `udp_prot` answer.

use super::UdpSocket;
use crate::errno::Errno;
use crate::net::tcp::addr;
use crate::vfs::socket_family::AF_INET;
use crate::vfs::socket_kind::SOCK_DGRAM;
use crate::vfs::socket_msg::{MSG_PEEK, MSG_TRUNC};
use crate::vfs::socket_opt::*;
use crate::vfs::{Segment, Socket, SocketTimeouts as Timeouts};

/// `IPPROTO_UDP`.
const IPPROTO_UDP: i32 = 17;
/// What `SO_SNDBUF`/`SO_RCVBUF` report: one interface's buffer (fixed).
const BUFFER_SIZE: i32 = super::BUFFER as i32;

impl Socket for UdpSocket {
    fn timeouts(&self) -> &Timeouts {
        &self.timeouts
    }

    /// A datagram to the connected peer.
    fn send(&self, segments: &[Segment], _flags: u32) -> Result<usize, Errno> {
        self.send_datagram(segments, None)
    }

    fn send_to(
        &self,
        segments: &[Segment],
        _flags: u32,
        to: Option<&[u8]>,
    ) -> Result<usize, Errno> {
        let to = to.map(addr::parse).transpose()?;
        self.send_datagram(segments, to)
    }

    fn recv(&self, segments: &[Segment], flags: u32) -> Result<usize, Errno> {
        self.recv_from(segments, flags).map(|(n, _)| n)
    }

    fn recv_from(
        &self,
        segments: &[Segment],
        flags: u32,
    ) -> Result<(usize, ([u8; 16], usize)), Errno> {
        let (n, from) =
            self.recv_datagram(segments, flags & MSG_PEEK != 0, flags & MSG_TRUNC != 0)?;
        Ok((n, addr::format(from)))
    }

    /// Datagrams are whole: a stream's "all of it" does not apply.
    fn is_datagram(&self) -> bool {
        true
    }

    /// Linux's `udp_disconnect`/`inet_shutdown` are not here.
    fn shutdown(&self, _directions: u8) -> Result<(), Errno> {
        Err(Errno::EOPNOTSUPP)
    }

    fn option(&self, level: i32, name: i32) -> Result<i32, Errno> {
        Ok(match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => self.inner.lock().reuse_addr.into(),
            (SOL_SOCKET, SO_TYPE) => SOCK_DGRAM,
            (SOL_SOCKET, SO_DOMAIN) => AF_INET,
            (SOL_SOCKET, SO_PROTOCOL) => IPPROTO_UDP,
            (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => BUFFER_SIZE,
            (SOL_SOCKET, SO_ACCEPTCONN) => 0,
            (SOL_SOCKET, SO_ERROR) => 0,
            _ => return Err(Errno::ENOPROTOOPT),
        })
    }

    fn set_option(&self, level: i32, name: i32, value: Option<i32>) -> Result<(), Errno> {
        let value = value.ok_or(Errno::EINVAL)?;
        match (level, name) {
            (SOL_SOCKET, SO_REUSEADDR) => {
                self.inner.lock().reuse_addr = value != 0;
                Ok(())
            }
            (SOL_SOCKET, SO_SNDBUF | SO_RCVBUF) => Ok(()),
            _ => Err(Errno::ENOPROTOOPT),
        }
    }

    fn address(&self, peer: bool) -> Result<([u8; 16], usize), Errno> {
        Ok(addr::format(self.name(peer)?))
    }

    fn bind(&self, address: &[u8]) -> Result<(), Errno> {
        self.bind_to(addr::parse(address)?)
    }

    fn connect(&self, address: &[u8]) -> Result<(), Errno> {
        self.connect_to(addr::parse(address)?)
    }
}
