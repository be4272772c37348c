//! TCP sockets (`tcp(7)`, IPv4) as file objects over smoltcp's TCP sockets.
//!
//! A descriptor's socket goes fresh (maybe bound) -> listening or connected. A
//! listening socket's smoltcp sockets are its backlog, which the stack owns and tops
//! up ([`backlog`]); `accept` takes the oldest connection whose handshake finished. A
//! closed connection finishes its TCP close in the background (the
//! stack's closing list) as Linux's orphaned sockets do.
//!
//! Every operation returns at once (`EAGAIN` when it would wait); blocking
//! descriptors wait in `vfs::wait` for the stack's next change, as pipes do.
//!
//! The socket calls reach it as `vfs::Socket` ([`socket`]), with `sockaddr_in` as
//! [`addr`] reads and writes it.
//!
//! Not yet: telling a reset from an orderly close (a reset reads as end of file, a
//! write after it is `EPIPE`), urgent data, IPv6.

use smoltcp::socket::tcp::{Socket, SocketBuffer, State as TcpState};
use smoltcp::wire::{IpAddress, IpEndpoint, IpListenEndpoint, Ipv4Address};
use spin::Mutex;
use unikernel_hal::uaccess;

use super::{Handle, Stack, with_stack};
use crate::errno::Errno;
use crate::vfs::{Segment, SocketTimeouts as Timeouts, socket_shut as shut};

pub mod addr;
mod backlog;
pub mod copy;
mod file;
mod socket;

pub use backlog::Backlogs;

/// Receive and send buffer of each connection (Linux's defaults are larger; these
/// bound the memory of the backlogs).
const BUFFER: usize = 32 * 1024;
/// How long a connection attempt nobody answers lasts: Linux's, with its default
/// `tcp_syn_retries` of 6 (SYNs 1, 2, 4, ... 64 s apart, then the last wait). smoltcp
/// alone retries a SYN for good (and never even sends one while the neighbour does
/// not answer ARP), so [`Inner::settle`] ends the attempt itself, and a blocking
/// `connect` waits at most this long.
const CONNECT_TIMEOUT_SECS: u64 = 127;
pub const CONNECT_TIMEOUT_NS: u64 = CONNECT_TIMEOUT_SECS * 1_000_000_000;

/// An IPv4 address and port.
pub type Endpoint = (Ipv4Address, u16);

#[derive(Debug)]
enum State {
    /// Neither listening nor connected (possibly bound).
    Fresh,
    Listening {
        /// Its backlog's key in the stack ([`backlog`]).
        backlog: u64,
    },
    /// Connecting or connected.
    Connected(Handle),
}

/// Options `setsockopt` sets.
#[derive(Clone, Copy, Debug, Default)]
pub struct Options {
    pub reuse_addr: bool,
    pub keep_alive: bool,
    pub no_delay: bool,
}

#[derive(Debug)]
struct Inner {
    state: State,
    /// `bind`'s address (the port is in [`Stack::ports`] until released).
    bound: Option<Endpoint>,
    options: Options,
    /// A `connect` whose outcome no one has collected yet (`SO_ERROR`, `poll`).
    connecting: bool,
    /// When the last `connect` started (monotonic ns).
    connect_started: u64,
    /// The pending error `SO_ERROR` reports and clears.
    error: Option<Errno>,
    shut_read: bool,
    shut_write: bool,
}

/// One TCP socket; `dup`s of its descriptor share it.
#[derive(Debug)]
pub struct TcpSocket {
    inner: Mutex<Inner>,
    timeouts: Timeouts,
}

fn new_socket() -> Socket<'static> {
    Socket::new(
        SocketBuffer::new(alloc::vec![0; BUFFER]),
        SocketBuffer::new(alloc::vec![0; BUFFER]),
    )
}

fn listen_endpoint((address, port): Endpoint) -> IpListenEndpoint {
    IpListenEndpoint {
        addr: (!address.is_unspecified()).then_some(IpAddress::Ipv4(address)),
        port,
    }
}

fn ipv4(endpoint: IpEndpoint) -> Endpoint {
    match endpoint.addr {
        IpAddress::Ipv4(address) => (address, endpoint.port),
    }
}

impl Inner {
    /// Collects the outcome of a `connect` in progress: refused once the handshake
    /// failed (the error goes to `SO_ERROR`).
    fn settle(&mut self, stack: &mut Stack) {
        let State::Connected(handle) = self.state else {
            return;
        };
        if !self.connecting {
            return;
        }
        let waited = crate::time::monotonic_ns().saturating_sub(self.connect_started);
        let socket = stack.tcp_mut(handle);
        match socket.state() {
            TcpState::SynSent | TcpState::SynReceived if waited >= CONNECT_TIMEOUT_NS => {
                socket.abort();
                self.connecting = false;
                self.error = Some(Errno::ETIMEDOUT);
            }
            TcpState::SynSent | TcpState::SynReceived => {}
            TcpState::Closed => {
                self.connecting = false;
                self.error = Some(failed_connect(waited));
            }
            _ => {
                self.connecting = false;
                // Established: from now on only keep-alive ends a quiet connection.
                socket.set_timeout(None);
            }
        }
    }

    fn apply_options(&self, socket: &mut Socket<'_>) {
        apply_options(&self.options, socket);
    }
}

/// What of `options` smoltcp's socket has: Nagle's algorithm and keep-alive.
fn apply_options(options: &Options, socket: &mut Socket<'_>) {
    socket.set_nagle_enabled(!options.no_delay);
    socket.set_keep_alive(
        options
            .keep_alive
            .then(|| smoltcp::time::Duration::from_secs(75)),
    );
}

/// Why a connection attempt that ended closed failed, after `waited_ns`: it timed out
/// (`ETIMEDOUT`, smoltcp gave up at [`CONNECT_TIMEOUT_SECS`]) or was refused
/// (`ECONNREFUSED`, a reset came back).
fn failed_connect(waited_ns: u64) -> Errno {
    if waited_ns >= CONNECT_TIMEOUT_NS {
        Errno::ETIMEDOUT
    } else {
        Errno::ECONNREFUSED
    }
}

impl TcpSocket {
    /// A fresh socket.
    pub fn new() -> Result<TcpSocket, Errno> {
        with_stack(|_| Ok(()))?;
        Ok(TcpSocket {
            inner: Mutex::new(Inner {
                state: State::Fresh,
                bound: None,
                options: Options::default(),
                connecting: false,
                connect_started: 0,
                error: None,
                shut_read: false,
                shut_write: false,
            }),
            timeouts: Timeouts::default(),
        })
    }

    /// `bind(2)`: `EINVAL` if already bound, `EADDRINUSE` if another socket has the
    /// port, `EADDRNOTAVAIL` for an address that is no interface's.
    pub fn bind_to(&self, (address, port): Endpoint) -> Result<(), Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            if inner.bound.is_some() || !matches!(inner.state, State::Fresh) {
                return Err(Errno::EINVAL);
            }
            stack.nets_for(address)?;
            let port = match port {
                0 => stack.ephemeral_port()?,
                port if stack.ports.contains(&port) => return Err(Errno::EADDRINUSE),
                // A connection still closing on the port does not block a bind with
                // SO_REUSEADDR (std sets it on every listener).
                port if !inner.options.reuse_addr && stack.port_in_use(port) => {
                    return Err(Errno::EADDRINUSE);
                }
                port => port,
            };
            stack.ports.insert(port);
            inner.bound = Some((address, port));
            Ok(())
        })
    }

    /// `listen(2)`: binds an ephemeral port first if unbound; a second `listen`
    /// changes the backlog.
    pub fn start_listening(&self, backlog: usize) -> Result<(), Errno> {
        if self.inner.lock().bound.is_none() {
            self.bind_to((Ipv4Address::UNSPECIFIED, 0))?;
        }
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            let endpoint = inner.bound.ok_or(Errno::EINVAL)?;
            match inner.state {
                State::Fresh => {
                    let nets = stack.nets_for(endpoint.0)?;
                    let key = stack.open_backlog(
                        listen_endpoint(endpoint),
                        nets,
                        backlog,
                        inner.options,
                    )?;
                    inner.state = State::Listening { backlog: key };
                    Ok(())
                }
                State::Listening { backlog: key } => {
                    stack.resize_backlog(key, backlog, inner.options);
                    Ok(())
                }
                State::Connected(_) => Err(Errno::EINVAL),
            }
        })
    }

    /// `accept4(2)` without waiting: a connection whose handshake finished, or
    /// `EAGAIN`.
    pub fn take_connection(&self) -> Result<TcpSocket, Errno> {
        with_stack(|stack| {
            let inner = self.inner.lock();
            let State::Listening { backlog } = inner.state else {
                return Err(Errno::EINVAL);
            };
            let handle = stack.accept_from(backlog).ok_or(Errno::EAGAIN)?;
            let options = inner.options;
            apply_options(&options, stack.tcp_mut(handle));
            Ok(TcpSocket {
                inner: Mutex::new(Inner {
                    state: State::Connected(handle),
                    bound: None,
                    options,
                    connecting: false,
                    connect_started: 0,
                    error: None,
                    shut_read: false,
                    shut_write: false,
                }),
                timeouts: self.timeouts.copy(),
            })
        })
    }

    /// Starts `connect(2)` to `remote`: `Ok(())` once started (the caller waits with
    /// [`TcpSocket::connect_outcome`]); `EISCONN`, `EALREADY`, `ENETUNREACH` as Linux.
    pub fn connect_to(&self, (address, port): Endpoint) -> Result<(), Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            match inner.state {
                State::Connected(_) if inner.connecting => return Err(Errno::EALREADY),
                State::Connected(_) => return Err(Errno::EISCONN),
                State::Listening { .. } => return Err(Errno::EINVAL),
                State::Fresh => {}
            }
            if address.is_unspecified() || port == 0 {
                return Err(Errno::ECONNREFUSED);
            }
            let local_port = match inner.bound {
                Some((_, port)) => port,
                None => stack.ephemeral_port()?,
            };
            let mut socket = new_socket();
            inner.apply_options(&mut socket);
            socket.set_timeout(Some(smoltcp::time::Duration::from_secs(
                CONNECT_TIMEOUT_SECS,
            )));
            let remote = IpEndpoint::new(IpAddress::Ipv4(address), port);
            let (net, context) = stack.route(address)?;
            socket
                .connect(context, remote, local_port)
                .map_err(|_| Errno::ENETUNREACH)?;
            if let Some((_, port)) = inner.bound.take() {
                stack.ports.remove(&port);
            }
            inner.state = State::Connected(stack.add(net, socket));
            inner.connecting = true;
            inner.connect_started = crate::time::monotonic_ns();
            Ok(())
        })
    }

    /// The outcome of a `connect` started earlier: `EAGAIN` while the handshake runs,
    /// then `Ok` or the error (taken from `SO_ERROR`).
    pub fn connect_outcome(&self) -> Result<(), Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            if let Some(error) = inner.error.take() {
                return Err(error);
            }
            if inner.connecting {
                Err(Errno::EAGAIN)
            } else {
                Ok(())
            }
        })
    }

    /// Reads (or with `peek`, copies) into `segments` in order: 0 at end of stream.
    /// A peek copies at most 4 KiB (what one stack buffer holds).
    pub fn recv_bytes(&self, segments: &[Segment], peek: bool) -> Result<usize, Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            let State::Connected(handle) = inner.state else {
                return Err(Errno::ENOTCONN);
            };
            let socket = stack.tcp_mut(handle);
            let total: usize = segments.iter().map(|s| s.len).sum();
            if total == 0 {
                return Ok(0);
            }
            if socket.can_recv() {
                return if peek {
                    let mut chunk = [0u8; 4096];
                    let n = socket
                        .peek_slice(&mut chunk[..total.min(4096)])
                        .unwrap_or(0);
                    copy::scatter(&chunk[..n], segments)
                } else {
                    copy::receive(socket, segments)
                };
            }
            if inner.shut_read || !socket.may_recv() {
                return match socket.state() {
                    TcpState::SynSent | TcpState::SynReceived => Err(Errno::EAGAIN),
                    _ => Ok(0),
                };
            }
            Err(Errno::EAGAIN)
        })
    }

    /// Queues up to `len` bytes from `buf`: `EAGAIN` when the send buffer is full,
    /// `EPIPE` once writing is shut down or the connection is gone.
    pub fn send_bytes(&self, buf: usize, len: usize) -> Result<usize, Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            if let Some(error) = inner.error.take() {
                return Err(error);
            }
            let State::Connected(handle) = inner.state else {
                return Err(Errno::ENOTCONN);
            };
            if inner.shut_write {
                return Err(Errno::EPIPE);
            }
            let socket = stack.tcp_mut(handle);
            match socket.state() {
                TcpState::SynSent | TcpState::SynReceived => return Err(Errno::EAGAIN),
                _ if !socket.may_send() => return Err(Errno::EPIPE),
                _ => {}
            }
            let room = socket.send_capacity() - socket.send_queue();
            if room == 0 {
                return Err(Errno::EAGAIN);
            }
            let n = len.min(room);
            let sent = uaccess::with_bytes(buf, n, |bytes| socket.send_slice(bytes))?;
            sent.map_err(|_| Errno::EPIPE)
        })
    }

    /// `shutdown(2)` of the `vfs::socket_shut` directions: shutting the sending side
    /// sends FIN.
    pub fn shut(&self, directions: u8) -> Result<(), Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            let State::Connected(handle) = inner.state else {
                return Err(Errno::ENOTCONN);
            };
            inner.shut_read |= directions & shut::RECEIVE != 0;
            if directions & shut::SEND != 0 {
                inner.shut_write = true;
                stack.tcp_mut(handle).close();
            }
            stack.changed();
            Ok(())
        })
    }

    /// `getsockname(2)`: the bound or connected local endpoint (0.0.0.0:0 if none).
    pub fn local(&self) -> Result<Endpoint, Errno> {
        with_stack(|stack| {
            let inner = self.inner.lock();
            if let State::Connected(handle) = inner.state
                && let Some(local) = stack.tcp(handle).local_endpoint()
            {
                return Ok(ipv4(local));
            }
            Ok(inner.bound.unwrap_or((Ipv4Address::UNSPECIFIED, 0)))
        })
    }

    /// `getpeername(2)`: `ENOTCONN` unless connected.
    pub fn peer(&self) -> Result<Endpoint, Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            match inner.state {
                State::Connected(handle) if !inner.connecting => stack
                    .tcp(handle)
                    .remote_endpoint()
                    .map(ipv4)
                    .ok_or(Errno::ENOTCONN),
                _ => Err(Errno::ENOTCONN),
            }
        })
    }

    /// The options, to read or change; a change reaches the smoltcp socket at once.
    pub fn with_options<R>(&self, f: impl FnOnce(&mut Options) -> R) -> Result<R, Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            let result = f(&mut inner.options);
            if let State::Connected(handle) = inner.state {
                inner.apply_options(stack.tcp_mut(handle));
            }
            Ok(result)
        })
    }

    /// `SO_ACCEPTCONN`.
    pub fn is_listening(&self) -> Result<bool, Errno> {
        Ok(matches!(self.inner.lock().state, State::Listening { .. }))
    }

    /// `SO_ERROR`: the pending error, cleared.
    pub fn take_error(&self) -> Result<Option<Errno>, Errno> {
        with_stack(|stack| {
            let mut inner = self.inner.lock();
            inner.settle(stack);
            Ok(inner.error.take())
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_connect_nobody_answers_times_out_and_a_reset_refuses() {
        assert_eq!(failed_connect(0), Errno::ECONNREFUSED);
        assert_eq!(failed_connect(3_000_000_000), Errno::ECONNREFUSED);
        assert_eq!(failed_connect(CONNECT_TIMEOUT_NS), Errno::ETIMEDOUT);
    }
}
