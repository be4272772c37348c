//! Networking: two interfaces under smoltcp's TCP/IP stack, lo (127.0.0.1/8,
//! [`loopback`]) always and eth0 (virtio-net, [`nic`]) when the command line names a
//! device, and TCP and UDP sockets as file objects ([`tcp`], [`udp`]).
//!
//! Each interface is a smoltcp `Interface` with its own socket set (smoltcp sends
//! every socket of a set out of the interface that polls it); a socket lives on the
//! interface its addresses route to ([`Net`]), a listener on 0.0.0.0 on both. Local
//! ports are one space across both, as Linux's.
//!
//! The boot flow records the configuration ([`configure`]: the virtio-mmio devices of
//! the command line, the address and gateway); the stack itself is built by the first
//! `socket` call ([`with_stack`]), so a program that opens no socket runs no network
//! code. Defaults are QEMU user networking's: 10.0.2.15/24, gateway 10.0.2.2.
//!
//! Progress: smoltcp does its work in [`Stack::poll`] (frames in and out, timers).
//! Socket system calls poll before and after they act; the scheduler's idle loop polls
//! through the hook the first socket installs (`sched::set_idle_poll`) and then sleeps
//! until smoltcp's next timer or the device's interrupt (its line routed through the
//! I/O APIC, `hal::ioapic`), so an idle server leaves the CPU idle. Without a routed
//! line it sleeps at most [`POLL_INTERVAL_NS`]. An interrupt that arrives while a
//! thread computes waits for the idle loop or the next socket call.
//!
//! Locking: the stack is behind its own lock, taken after the VFS lock when a system
//! call holds that. The idle loop only ever tries it (the holder may be a thread that
//! blocked inside the allocator), and the poll allocates nothing. Socket changes wake
//! waiters through the VFS wait word (`vfs::wake`).

pub mod loopback;
pub mod nic;
mod poll;
pub mod tcp;
pub mod udp;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use smoltcp::iface::{Config as IfaceConfig, Interface, SocketHandle, SocketSet};
use smoltcp::socket::AnySocket;
use smoltcp::socket::tcp::Socket as TcpSocket;
use smoltcp::socket::udp::Socket as UdpSocket;
use smoltcp::time::Instant;
use smoltcp::wire::{EthernetAddress, HardwareAddress, IpCidr, Ipv4Address};
use spin::{Mutex, Once};
use unikernel_hal::ioapic::{self, DeviceLine};
use unikernel_hal::virtio_net::NetDevice;

use crate::cmdline::{Cmdline, MAX_DEVICES, MmioDevice};
use crate::errno::Errno;
use crate::log::kinfo;
use crate::sched::PollAgain;
use crate::{random, sched, time};

use self::loopback::Loopback;
use self::nic::Nic;

/// The longest the idle loop sleeps while the network is up if the device's interrupt
/// line could not be routed (frames then wait for a poll).
pub const POLL_INTERVAL_NS: u64 = 1_000_000;
/// QEMU user networking's guest address, prefix and gateway.
const DEFAULT_IP: ([u8; 4], u8) = ([10, 0, 2, 15], 24);
const DEFAULT_GATEWAY: [u8; 4] = [10, 0, 2, 2];

/// What the command line says about the network.
#[derive(Clone, Copy, Debug)]
pub struct Config {
    devices: [MmioDevice; MAX_DEVICES],
    device_count: usize,
    ip: ([u8; 4], u8),
    gateway: [u8; 4],
}

static CONFIG: Once<Config> = Once::new();

/// Records the network configuration of the command line (boot flow). Cheap: nothing
/// is probed before the first socket.
pub fn configure(cmdline: &Cmdline<'_>) {
    let mut devices = [MmioDevice::default(); MAX_DEVICES];
    let listed = cmdline.devices.as_slice();
    devices[..listed.len()].copy_from_slice(listed);
    CONFIG.call_once(|| Config {
        devices,
        device_count: listed.len(),
        ip: cmdline.options.ip.unwrap_or(DEFAULT_IP),
        gateway: cmdline.options.gateway.unwrap_or(DEFAULT_GATEWAY),
    });
}

/// An interface: which socket set a socket lives in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Net {
    Lo,
    Eth,
}

/// A smoltcp socket: its interface and its handle in that interface's set.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Handle {
    pub net: Net,
    handle: SocketHandle,
}

/// One interface, its device and its sockets.
struct Link<D> {
    iface: Interface,
    device: D,
    sockets: SocketSet<'static>,
}

/// eth0 and the device's interrupt line, if routed (else the idle loop polls on a
/// timer).
struct Eth {
    link: Link<Nic>,
    line: Option<DeviceLine>,
}

/// The interfaces and every socket.
pub struct Stack {
    lo: Link<Loopback>,
    eth: Option<Eth>,
    /// Local TCP ports taken by bound sockets (listening or not yet connected).
    ports: BTreeSet<u16>,
    /// Local UDP ports taken (UDP's own space, as Linux's).
    udp_ports: BTreeSet<u16>,
    /// Closed sockets still finishing their TCP close; removed once closed.
    closing: Vec<Handle>,
    /// Listening sockets' smoltcp sockets.
    backlogs: tcp::Backlogs,
    next_ephemeral: u16,
}

impl core::fmt::Debug for Stack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack")
            .field("eth", &self.eth.as_ref().map(|eth| &eth.link.device))
            .finish_non_exhaustive()
    }
}

/// The stack once built; `None` inside until the first socket, and for good if no
/// network device answered.
static STACK: Mutex<Option<Stack>> = Mutex::new(None);
static BUILT: Once<()> = Once::new();
/// Moves on whenever a poll changed socket state (edge-triggered `epoll`).
static CHANGES: AtomicU64 = AtomicU64::new(0);

/// The changes counter sockets report to `epoll` (see [`crate::vfs::FileLike::changes`]).
pub fn changes() -> u64 {
    CHANGES.load(Ordering::SeqCst)
}

fn now() -> Instant {
    Instant::from_micros(i64::try_from(time::monotonic_ns() / 1000).unwrap_or(i64::MAX))
}

/// The first virtio-net device of the command line, and its interrupt line.
fn probe(config: &Config) -> Option<(NetDevice, u32)> {
    for device in &config.devices[..config.device_count] {
        match NetDevice::probe(device.base, device.size) {
            Ok(nic) => return Some((nic, device.irq)),
            Err(error) => {
                kinfo!("net: virtio-mmio device at {:#x}: {error:?}", device.base)
            }
        }
    }
    None
}

fn build(config: &Config) -> Stack {
    let mut seed = [0u8; 8];
    random::fill(&mut seed);
    let mut lo_device = Loopback::default();
    let mut lo_config = IfaceConfig::new(HardwareAddress::Ip);
    lo_config.random_seed = u64::from_ne_bytes(seed);
    let mut lo = Interface::new(lo_config, &mut lo_device, now());
    lo.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(Ipv4Address::LOCALHOST.into(), 8));
    });
    Stack {
        lo: Link {
            iface: lo,
            device: lo_device,
            sockets: SocketSet::new(Vec::new()),
        },
        eth: build_eth(config, u64::from_ne_bytes(seed).rotate_left(32)),
        ports: BTreeSet::new(),
        udp_ports: BTreeSet::new(),
        closing: Vec::new(),
        backlogs: tcp::Backlogs::default(),
        next_ephemeral: 49152 + u16::from(seed[0]) * 32,
    }
}

/// eth0 over the first virtio-net device, if the command line names one.
fn build_eth(config: &Config, seed: u64) -> Option<Eth> {
    let (device, irq) = probe(config)?;
    let mut nic = Nic::new(device);
    let line = match ioapic::route_device(irq) {
        Ok(line) => Some(line),
        Err(error) => {
            kinfo!("net: interrupt line {irq}: {error:?}; polling every millisecond");
            None
        }
    };
    let mut iface_config = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(nic.mac())));
    iface_config.random_seed = seed;
    let mut iface = Interface::new(iface_config, &mut nic, now());
    let ([a, b, c, d], prefix) = config.ip;
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(Ipv4Address::new(a, b, c, d).into(), prefix));
    });
    let [a, b, c, d] = config.gateway;
    let _ = iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(a, b, c, d));
    Some(Eth {
        link: Link {
            iface,
            device: nic,
            sockets: SocketSet::new(Vec::new()),
        },
        line,
    })
}

/// Runs `f` on the stack, building it first if this is the first use. Polls before
/// and after `f`, so `f` sees what arrived and what it queued goes out.
pub fn with_stack<R>(f: impl FnOnce(&mut Stack) -> Result<R, Errno>) -> Result<R, Errno> {
    let mut guard = STACK.lock();
    BUILT.call_once(|| {
        let config = CONFIG.get().copied().unwrap_or(Config {
            devices: [MmioDevice::default(); MAX_DEVICES],
            device_count: 0,
            ip: DEFAULT_IP,
            gateway: DEFAULT_GATEWAY,
        });
        *guard = Some(build(&config));
        sched::set_idle_poll(idle_poll);
    });
    let Some(stack) = guard.as_mut() else {
        return Err(Errno::ENETDOWN);
    };
    stack.poll();
    let result = f(stack);
    stack.poll();
    result
}

/// The idle loop's poll (`sched::set_idle_poll`): when it must poll again, the
/// device's interrupt aside. Skips the poll if a thread holds the stack (that thread
/// polls when it is done).
fn idle_poll(now_ns: u64) -> PollAgain {
    let soon = PollAgain::At(now_ns.saturating_add(POLL_INTERVAL_NS));
    let Some(mut guard) = STACK.try_lock() else {
        return soon;
    };
    let Some(stack) = guard.as_mut() else {
        return soon;
    };
    stack.poll();
    let at = |delay: smoltcp::time::Duration| {
        now_ns.saturating_add(delay.total_micros().saturating_mul(1000))
    };
    let lo = stack.lo.iface.poll_delay(now(), &stack.lo.sockets).map(at);
    let eth = stack
        .eth
        .as_mut()
        .and_then(|eth| eth.link.iface.poll_delay(now(), &eth.link.sockets).map(at));
    let timers = match (lo, eth) {
        (Some(lo), Some(eth)) => Some(lo.min(eth)),
        (lo, eth) => lo.or(eth),
    };
    if stack.lo.device.has_packet() {
        // The poll's bound left packets on lo.
        return PollAgain::At(now_ns);
    }
    // Without eth0 nothing arrives but what socket calls send (and they poll): only
    // the timers wake the loop. eth0 without a routed line is polled on a timer.
    let polled = stack.eth.as_ref().is_some_and(|eth| eth.line.is_none());
    match (timers, polled) {
        (Some(at), false) => PollAgain::At(at),
        (None, false) => PollAgain::OnInterrupt,
        (Some(at), true) => PollAgain::At(at.min(now_ns.saturating_add(POLL_INTERVAL_NS))),
        (None, true) => soon,
    }
}

impl Stack {
    /// Something a waiter may wait for happened.
    pub fn changed(&mut self) {
        CHANGES.fetch_add(1, Ordering::SeqCst);
        crate::vfs::notify();
    }

    /// Removes closing sockets that have finished closing.
    fn reap(&mut self) {
        let mut closing = core::mem::take(&mut self.closing);
        closing.retain(|&handle| {
            if self.tcp(handle).state() == smoltcp::socket::tcp::State::Closed {
                self.remove(handle);
                false
            } else {
                true
            }
        });
        self.closing = closing;
    }

    /// The socket set of `net` (lo's if there is no eth0: no socket is there then).
    fn sockets(&self, net: Net) -> &SocketSet<'static> {
        match (net, &self.eth) {
            (Net::Eth, Some(eth)) => &eth.link.sockets,
            _ => &self.lo.sockets,
        }
    }

    fn sockets_mut(&mut self, net: Net) -> &mut SocketSet<'static> {
        match (net, &mut self.eth) {
            (Net::Eth, Some(eth)) => &mut eth.link.sockets,
            _ => &mut self.lo.sockets,
        }
    }

    /// The TCP socket behind `handle`.
    pub fn tcp(&self, handle: Handle) -> &TcpSocket<'static> {
        self.sockets(handle.net).get::<TcpSocket>(handle.handle)
    }

    pub fn tcp_mut(&mut self, handle: Handle) -> &mut TcpSocket<'static> {
        self.sockets_mut(handle.net)
            .get_mut::<TcpSocket>(handle.handle)
    }

    /// The UDP socket behind `handle`.
    pub fn udp_mut(&mut self, handle: Handle) -> &mut UdpSocket<'static> {
        self.sockets_mut(handle.net)
            .get_mut::<UdpSocket>(handle.handle)
    }

    /// Puts `socket` (TCP or UDP) on `net`.
    pub fn add<T: AnySocket<'static>>(&mut self, net: Net, socket: T) -> Handle {
        Handle {
            net,
            handle: self.sockets_mut(net).add(socket),
        }
    }

    /// Drops the socket behind `handle`.
    pub fn remove(&mut self, handle: Handle) {
        self.sockets_mut(handle.net).remove(handle.handle);
    }

    /// The interfaces that receive for a local `address` (0.0.0.0: all of them);
    /// `EADDRNOTAVAIL` for an address no interface has.
    pub fn nets_for(&self, address: Ipv4Address) -> Result<&'static [Net], Errno> {
        let eth = self.address();
        if address.is_unspecified() {
            Ok(if eth.is_some() {
                &[Net::Lo, Net::Eth]
            } else {
                &[Net::Lo]
            })
        } else if address == Ipv4Address::LOCALHOST {
            Ok(&[Net::Lo])
        } else if Some(address) == eth {
            Ok(&[Net::Eth])
        } else {
            Err(Errno::EADDRNOTAVAIL)
        }
    }

    /// The interface a connection to `remote` leaves by, and its context (smoltcp
    /// picks the source address there); `ENETUNREACH` without eth0.
    pub fn route(
        &mut self,
        remote: Ipv4Address,
    ) -> Result<(Net, &mut smoltcp::iface::Context), Errno> {
        if remote.is_loopback() {
            return Ok((Net::Lo, self.lo.iface.context()));
        }
        match &mut self.eth {
            Some(eth) => Ok((Net::Eth, eth.link.iface.context())),
            None => Err(Errno::ENETUNREACH),
        }
    }

    /// A free local port for an outgoing connection or a bind to port 0 (the range
    /// of Linux's `ip_local_port_range`).
    pub fn ephemeral_port(&mut self) -> Result<u16, Errno> {
        for _ in 0..16384 {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port >= 60999 { 32768 } else { port + 1 };
            if !self.ports.contains(&port) && !self.port_in_use(port) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// A free local UDP port (the same range as TCP's).
    pub fn ephemeral_udp_port(&mut self) -> Result<u16, Errno> {
        for _ in 0..16384 {
            let port = self.next_ephemeral;
            self.next_ephemeral = if port >= 60999 { 32768 } else { port + 1 };
            if !self.udp_ports.contains(&port) {
                return Ok(port);
            }
        }
        Err(Errno::EADDRNOTAVAIL)
    }

    /// Whether any TCP socket of the sets has `port` as its local port.
    fn port_in_use(&self, port: u16) -> bool {
        let eth = self.eth.as_ref().map(|eth| &eth.link.sockets);
        let mut sockets = self
            .lo
            .sockets
            .iter()
            .chain(eth.into_iter().flat_map(|set| set.iter()));
        sockets.any(|(_, socket)| match socket {
            smoltcp::socket::Socket::Tcp(tcp) => {
                tcp.local_endpoint().is_some_and(|end| end.port == port)
                    || tcp.listen_endpoint().port == port
            }
            #[allow(unreachable_patterns)]
            _ => false,
        })
    }

    /// eth0's IPv4 address.
    pub fn address(&self) -> Option<Ipv4Address> {
        self.eth.as_ref().and_then(|eth| eth.link.iface.ipv4_addr())
    }
}
