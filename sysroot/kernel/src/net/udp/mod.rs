//! UDP sockets (`udp(7)`, IPv4) as file objects over smoltcp's UDP sockets.
//!
//! A socket is bound (by `bind`, or on its first send or `connect` to an ephemeral
//! port) to one smoltcp socket on each interface its address reaches (0.0.0.0: lo
//! and eth0); a send leaves by the interface the destination routes to, a receive
//! takes the first datagram any of them holds. `connect` sets the default
//! destination and, as Linux, drops datagrams from anyone else. UDP ports are their
//! own space (`Stack::udp_ports`), apart from TCP's.
//!
//! Every operation returns at once (`EAGAIN` when it would wait); the socket calls
//! wait as for TCP.

use alloc::vec::Vec;

use smoltcp::socket::udp::{PacketBuffer, PacketMetadata, Socket};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};
use spin::Mutex;
use unikernel_hal::uaccess;

use super::tcp::Endpoint;
use super::{Handle, Net, Stack, with_stack};
use crate::errno::Errno;
use crate::vfs::{Segment, SocketTimeouts as Timeouts};

mod file;
mod socket;

/// The payload bytes each direction of a socket buffers, per interface.
const BUFFER: usize = 64 * 1024;
/// The datagrams each direction buffers, per interface.
const PACKETS: usize = 64;
/// The largest UDP payload over IPv4 (65535 less the IPv4 and UDP headers).
const MAX_DATAGRAM: usize = 65507;

#[derive(Debug, Default)]
struct Inner {
    /// The local address and port once bound.
    bound: Option<Endpoint>,
    /// One smoltcp socket per interface the bound address reaches.
    handles: Vec<Handle>,
    /// `connect`'s default destination.
    peer: Option<Endpoint>,
    reuse_addr: bool,
}

/// One UDP socket; `dup`s of its descriptor share it.
#[derive(Debug)]
pub struct UdpSocket {
    inner: Mutex<Inner>,
    timeouts: Timeouts,
}

fn new_socket() -> Socket<'static> {
    let buffer = || {
        PacketBuffer::new(
            alloc::vec![PacketMetadata::EMPTY; PACKETS],
            alloc::vec![0; BUFFER],
        )
    };
    Socket::new(buffer(), buffer())
}

fn ipv4(address: IpAddress) -> Ipv4Address {
    match address {
        IpAddress::Ipv4(address) => address,
    }
}

impl Inner {
    /// Binds to `(address, port)` (port 0: an ephemeral one) on every interface the
    /// address reaches.
    fn bind(&mut self, stack: &mut Stack, (address, port): Endpoint) -> Result<(), Errno> {
        if self.bound.is_some() {
            return Err(Errno::EINVAL);
        }
        let nets = stack.nets_for(address)?;
        let port = match port {
            0 => stack.ephemeral_udp_port()?,
            port if stack.udp_ports.contains(&port) => return Err(Errno::EADDRINUSE),
            port => port,
        };
        let endpoint = IpListenEndpoint {
            addr: (!address.is_unspecified()).then_some(IpAddress::Ipv4(address)),
            port,
        };
        for &net in nets {
            let mut socket = new_socket();
            socket.bind(endpoint).map_err(|_| Errno::EINVAL)?;
            self.handles.push(stack.add(net, socket));
        }
        stack.udp_ports.insert(port);
        self.bound = Some((address, port));
        Ok(())
    }

    fn autobind(&mut self, stack: &mut Stack) -> Result<(), Errno> {
        if self.bound.is_none() {
            self.bind(stack, (Ipv4Address::UNSPECIFIED, 0))?;
        }
        Ok(())
    }

    /// This socket's smoltcp socket on `net` (`ENETUNREACH` if bound elsewhere).
    fn on(&self, net: Net) -> Result<Handle, Errno> {
        self.handles
            .iter()
            .copied()
            .find(|handle| handle.net == net)
            .ok_or(Errno::ENETUNREACH)
    }
}

impl UdpSocket {
    /// A fresh, unbound socket.
    pub fn new() -> Result<UdpSocket, Errno> {
        with_stack(|_| Ok(()))?;
        Ok(UdpSocket {
            inner: Mutex::new(Inner::default()),
            timeouts: Timeouts::default(),
        })
    }

    /// `bind(2)`: `EINVAL` if bound, `EADDRINUSE`, `EADDRNOTAVAIL` as Linux.
    pub fn bind_to(&self, endpoint: Endpoint) -> Result<(), Errno> {
        with_stack(|stack| self.inner.lock().bind(stack, endpoint))
    }

    /// `connect(2)`: the default destination (binding first if unbound).
    pub fn connect_to(&self, peer: Endpoint) -> Result<(), Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            stack.route(peer.0)?;
            inner.autobind(stack)?;
            inner.peer = Some(peer);
            Ok(())
        })
    }

    /// Sends `segments` as one datagram to `to` or the connected peer
    /// (`EDESTADDRREQ` with neither); `EMSGSIZE` beyond a datagram, `EAGAIN` while
    /// the send buffer has no room.
    pub fn send_datagram(
        &self,
        segments: &[Segment],
        to: Option<Endpoint>,
    ) -> Result<usize, Errno> {
        let total: usize = segments.iter().map(|s| s.len).sum();
        if total > MAX_DATAGRAM {
            return Err(Errno::EMSGSIZE);
        }
        let mut payload = Vec::new();
        payload
            .try_reserve_exact(total)
            .map_err(|_| Errno::ENOMEM)?;
        for segment in segments.iter().filter(|s| s.len > 0) {
            uaccess::with_bytes(segment.base, segment.len, |bytes| {
                payload.extend_from_slice(bytes)
            })?;
        }
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            let (address, port) = to.or(inner.peer).ok_or(Errno::EDESTADDRREQ)?;
            if port == 0 {
                return Err(Errno::EINVAL);
            }
            // Linux sends to 0.0.0.0 as to this host.
            let address = if address.is_unspecified() {
                Ipv4Address::LOCALHOST
            } else {
                address
            };
            let (net, _) = stack.route(address)?;
            inner.autobind(stack)?;
            let socket = stack.udp_mut(inner.on(net)?);
            if total > socket.payload_send_capacity() {
                return Err(Errno::EMSGSIZE);
            }
            socket
                .send_slice(&payload, IpEndpoint::new(IpAddress::Ipv4(address), port))
                .map_err(|_| Errno::EAGAIN)?;
            Ok(total)
        })
    }

    /// Receives (or with `peek`, copies) the next datagram into `segments`: the
    /// bytes copied or, with `whole_length`, the datagram's length (`MSG_TRUNC`),
    /// and its sender. `EAGAIN` while none is there.
    pub fn recv_datagram(
        &self,
        segments: &[Segment],
        peek: bool,
        whole_length: bool,
    ) -> Result<(usize, Endpoint), Errno> {
        with_stack(|stack| {
            let inner = self.inner.lock();
            for &handle in &inner.handles {
                let socket = stack.udp_mut(handle);
                while let Ok((payload, meta)) = socket.peek() {
                    let from = meta.endpoint;
                    let from = (ipv4(from.addr), from.port);
                    if inner.peer.is_some_and(|peer| peer != from) {
                        // Connected: not from the peer, dropped (`udp_lib_lookup`).
                        let _ = socket.recv();
                        continue;
                    }
                    let copied = super::tcp::copy::scatter(payload, segments)?;
                    let length = if whole_length { payload.len() } else { copied };
                    if !peek {
                        let _ = socket.recv();
                    }
                    return Ok((length, from));
                }
            }
            Err(Errno::EAGAIN)
        })
    }

    /// `getsockname(2)` (0.0.0.0:0 unbound; a connected socket bound to 0.0.0.0
    /// names the address its datagrams leave from) and `getpeername(2)`
    /// (`ENOTCONN` unless connected).
    pub fn name(&self, peer: bool) -> Result<Endpoint, Errno> {
        with_stack(|stack| {
            let inner = self.inner.lock();
            if peer {
                return inner.peer.ok_or(Errno::ENOTCONN);
            }
            let Some((address, port)) = inner.bound else {
                return Ok((Ipv4Address::UNSPECIFIED, 0));
            };
            let address = match inner.peer {
                Some((to, _)) if address.is_unspecified() => match stack.route(to)?.0 {
                    Net::Lo => Ipv4Address::LOCALHOST,
                    Net::Eth => stack.address().unwrap_or(address),
                },
                _ => address,
            };
            Ok((address, port))
        })
    }

    /// The next datagram's length (`FIONREAD`), 0 if none.
    pub fn next_length(&self) -> Result<usize, Errno> {
        with_stack(|stack| {
            let inner = self.inner.lock();
            for &handle in &inner.handles {
                if let Ok((payload, _)) = stack.udp_mut(handle).peek() {
                    return Ok(payload.len());
                }
            }
            Ok(0)
        })
    }
}
