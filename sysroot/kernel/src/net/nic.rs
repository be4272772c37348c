//! eth0 as smoltcp sees it: the hal's virtio-net device behind smoltcp's `phy::Device`.
//!
//! A received frame is copied out of the device's buffer into [`Nic`]'s own (which
//! lets the device have its buffer back at once, and lets the receive token and the
//! transmit token that smoltcp asks for together borrow disjoint fields). Nothing here
//! allocates: the idle loop polls through it.

use alloc::boxed::Box;

use smoltcp::phy::{Device, DeviceCapabilities, Medium, RxToken, TxToken};
use smoltcp::time::Instant;
use unikernel_hal::virtio_net::{MAX_FRAME, NetDevice};

/// The virtio-net device and the frame last taken from it.
#[derive(Debug)]
pub struct Nic {
    device: NetDevice,
    frame: Box<[u8; MAX_FRAME]>,
}

impl Nic {
    pub fn new(device: NetDevice) -> Nic {
        Nic {
            device,
            frame: Box::new([0; MAX_FRAME]),
        }
    }

    pub fn mac(&self) -> [u8; 6] {
        self.device.mac()
    }

    pub fn ack_interrupt(&mut self) {
        self.device.ack_interrupt();
    }

    /// Whether a frame is waiting in the device.
    pub fn has_frame(&self) -> bool {
        self.device.has_frame()
    }
}

/// A received frame, in [`Nic`]'s buffer.
#[derive(Debug)]
pub struct Received<'a>(&'a [u8]);

/// Room for one frame to send.
#[derive(Debug)]
pub struct Sending<'a>(&'a mut NetDevice);

impl RxToken for Received<'_> {
    fn consume<R, F: FnOnce(&[u8]) -> R>(self, f: F) -> R {
        f(self.0)
    }
}

impl TxToken for Sending<'_> {
    fn consume<R, F: FnOnce(&mut [u8]) -> R>(self, len: usize, f: F) -> R {
        self.0.send(len, f)
    }
}

impl Device for Nic {
    type RxToken<'a> = Received<'a>;
    type TxToken<'a> = Sending<'a>;

    fn receive(&mut self, _now: Instant) -> Option<(Received<'_>, Sending<'_>)> {
        let frame = &mut self.frame;
        let len = self.device.receive(|bytes| {
            let len = bytes.len().min(MAX_FRAME);
            frame[..len].copy_from_slice(&bytes[..len]);
            len
        })?;
        Some((Received(&self.frame[..len]), Sending(&mut self.device)))
    }

    fn transmit(&mut self, _now: Instant) -> Option<Sending<'_>> {
        Some(Sending(&mut self.device))
    }

    fn capabilities(&self) -> DeviceCapabilities {
        let mut caps = DeviceCapabilities::default();
        caps.medium = Medium::Ethernet;
        caps.max_transmission_unit = MAX_FRAME;
        caps.max_burst_size = Some(1);
        caps
    }
}
