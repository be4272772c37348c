//! Networking: eth0 (virtio-net, [`nic`]) under smoltcp's TCP/IP stack, and TCP
//! sockets as file objects ([`tcp`]).
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

pub mod nic;
pub mod tcp;

use alloc::collections::BTreeSet;
use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use smoltcp::iface::{Config as IfaceConfig, Interface, PollResult, SocketHandle, SocketSet};
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

/// The interface, its device and every socket.
pub struct Stack {
    iface: Interface,
    nic: Nic,
    /// The device's interrupt line, if routed (else the idle loop polls on a timer).
    line: Option<DeviceLine>,
    sockets: SocketSet<'static>,
    /// Local ports taken by bound sockets (listening or not yet connected).
    ports: BTreeSet<u16>,
    /// Closed sockets still finishing their TCP close; removed once closed.
    closing: Vec<SocketHandle>,
    next_ephemeral: u16,
}

impl core::fmt::Debug for Stack {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Stack")
            .field("nic", &self.nic)
            .finish_non_exhaustive()
    }
}

/// The stack once built; `None` inside until the first socket, and for good if no
/// network device answered.
static STACK: Mutex<Option<Stack>> = Mutex::new(None);
static BUILT: Once<bool> = Once::new();
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

fn build(config: &Config) -> Option<Stack> {
    let (device, irq) = probe(config)?;
    let mut nic = Nic::new(device);
    let line = match ioapic::route_device(irq) {
        Ok(line) => Some(line),
        Err(error) => {
            kinfo!("net: interrupt line {irq}: {error:?}; polling every millisecond");
            None
        }
    };
    let mut seed = [0u8; 8];
    random::fill(&mut seed);
    let mut iface_config = IfaceConfig::new(HardwareAddress::Ethernet(EthernetAddress(nic.mac())));
    iface_config.random_seed = u64::from_ne_bytes(seed);
    let mut iface = Interface::new(iface_config, &mut nic, now());
    let ([a, b, c, d], prefix) = config.ip;
    iface.update_ip_addrs(|addrs| {
        let _ = addrs.push(IpCidr::new(Ipv4Address::new(a, b, c, d).into(), prefix));
    });
    let [a, b, c, d] = config.gateway;
    let _ = iface
        .routes_mut()
        .add_default_ipv4_route(Ipv4Address::new(a, b, c, d));
    Some(Stack {
        iface,
        nic,
        line,
        sockets: SocketSet::new(Vec::new()),
        ports: BTreeSet::new(),
        closing: Vec::new(),
        next_ephemeral: 49152 + u16::from(seed[0]) * 32,
    })
}

/// Runs `f` on the stack, building it first if this is the first use; `ENETDOWN`
/// if there is no network device. Polls before and after `f`, so `f` sees what
/// arrived and what it queued goes out.
pub fn with_stack<R>(f: impl FnOnce(&mut Stack) -> Result<R, Errno>) -> Result<R, Errno> {
    let mut guard = STACK.lock();
    let built = *BUILT.call_once(|| {
        let config = CONFIG.get().copied().unwrap_or(Config {
            devices: [MmioDevice::default(); MAX_DEVICES],
            device_count: 0,
            ip: DEFAULT_IP,
            gateway: DEFAULT_GATEWAY,
        });
        *guard = build(&config);
        if guard.is_some() {
            sched::set_idle_poll(idle_poll);
        } else {
            kinfo!("net: no virtio-net device: sockets are ENETDOWN");
        }
        guard.is_some()
    });
    let stack = match (built, guard.as_mut()) {
        (true, Some(stack)) => stack,
        _ => return Err(Errno::ENETDOWN),
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
    let timers = stack
        .iface
        .poll_delay(now(), &stack.sockets)
        .map(|delay| now_ns.saturating_add(delay.total_micros().saturating_mul(1000)));
    match (timers, &stack.line) {
        (Some(at), Some(_)) => PollAgain::At(at),
        (None, Some(_)) => PollAgain::OnInterrupt,
        (Some(at), None) => PollAgain::At(at.min(now_ns.saturating_add(POLL_INTERVAL_NS))),
        (None, None) => soon,
    }
}

impl Stack {
    /// Frames in and out, timers; wakes waiters if a socket changed. With an
    /// interrupt line: acknowledges the device first and unmasks the line after, then
    /// looks again for a frame that came in between (an edge while masked is lost).
    pub fn poll(&mut self) {
        let mut changed = false;
        if let Some(line) = &self.line {
            line.take();
            self.nic.ack_interrupt();
        }
        // Bounded: a flood of frames cannot keep the caller here for ever.
        for round in 0..64 {
            let result = self.iface.poll(now(), &mut self.nic, &mut self.sockets);
            changed |= result == PollResult::SocketStateChanged;
            if round == 0
                && let Some(line) = &self.line
            {
                line.unmask();
            }
            if !self.nic.has_frame() {
                break;
            }
        }
        self.reap();
        if changed {
            self.changed();
        }
    }

    /// Something a waiter may wait for happened.
    pub fn changed(&mut self) {
        CHANGES.fetch_add(1, Ordering::SeqCst);
        crate::vfs::notify();
    }

    /// Removes closing sockets that have finished closing.
    fn reap(&mut self) {
        let sockets = &mut self.sockets;
        self.closing.retain(|&handle| {
            let socket = sockets.get::<smoltcp::socket::tcp::Socket>(handle);
            if socket.state() == smoltcp::socket::tcp::State::Closed {
                sockets.remove(handle);
                false
            } else {
                true
            }
        });
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

    /// Whether any socket of the set has `port` as its local port.
    fn port_in_use(&self, port: u16) -> bool {
        self.sockets.iter().any(|(_, socket)| match socket {
            smoltcp::socket::Socket::Tcp(tcp) => {
                tcp.local_endpoint().is_some_and(|end| end.port == port)
                    || tcp.listen_endpoint().port == port
            }
            #[allow(unreachable_patterns)]
            _ => false,
        })
    }

    /// The interface's IPv4 address.
    pub fn address(&self) -> Option<Ipv4Address> {
        self.iface.ipv4_addr()
    }
}
