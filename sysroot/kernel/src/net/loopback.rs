//! lo as smoltcp sees it: a device whose sent packets come back as received ones
//! (`Medium::Ip`, so no link layer and no ARP), for 127.0.0.1 inside the guest with
//! or without a NIC.
//!
//! The packets wait in a ring of buffers allocated when the stack is built: the idle
//! loop polls through this device and must not allocate. A full ring refuses to
//! transmit, and smoltcp sends again at a later poll.

use alloc::boxed::Box;
use alloc::vec::Vec;

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;

/// The largest packet (Linux's lo has 65536; smaller keeps the ring small).
pub const MTU: usize = 16 * 1024;
/// Packets in flight at once.
const SLOTS: usize = 16;

/// The ring of packets sent and not yet received, and the packet last taken from it
/// (copied out, so that the receive token and the send token smoltcp asks for
/// together borrow disjoint fields).
#[derive(Debug)]
pub struct Loopback {
    ring: Ring,
    packet: Box<[u8; MTU]>,
}

/// `len[i]` bytes of `slots[i]`, `count` of them from `head`.
#[derive(Debug)]
struct Ring {
    slots: Vec<Box<[u8; MTU]>>,
    len: [usize; SLOTS],
    head: usize,
    count: usize,
}

impl Default for Loopback {
    fn default() -> Loopback {
        Loopback {
            ring: Ring {
                slots: (0..SLOTS).map(|_| Box::new([0; MTU])).collect(),
                len: [0; SLOTS],
                head: 0,
                count: 0,
            },
            packet: Box::new([0; MTU]),
        }
    }
}

impl Loopback {
    /// Whether a packet waits to be received.
    pub fn has_packet(&self) -> bool {
        self.ring.count > 0
    }
}

/// A received packet, in [`Loopback`]'s own buffer.
#[derive(Debug)]
pub struct Received<'a>(&'a [u8]);

/// The ring's next free slot.
#[derive(Debug)]
pub struct Sending<'a>(&'a mut Ring);

impl RxToken for Received<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Sending<'_> {
    /// A full ring gives no token (see [`Device::transmit`]), so a slot is free.
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        let ring = self.0;
        let slot = (ring.head + ring.count) % SLOTS;
        let len = len.min(MTU);
        ring.len[slot] = len;
        ring.count += 1;
        f(&mut ring.slots[slot][..len])
    }
}

impl Device for Loopback {
    type RxToken<'a> = Received<'a>;
    type TxToken<'a> = Sending<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Received<'_>, Sending<'_>)> {
        let ring = &mut self.ring;
        if ring.count == 0 {
            return None;
        }
        let slot = ring.head;
        let len = ring.len[slot];
        self.packet[..len].copy_from_slice(&ring.slots[slot][..len]);
        ring.head = (ring.head + 1) % SLOTS;
        ring.count -= 1;
        Some((Received(&self.packet[..len]), Sending(ring)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Sending<'_>> {
        (self.ring.count < SLOTS).then_some(Sending(&mut self.ring))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ip;
        caps.max_transmission_unit = MTU;
        caps
    }
}
