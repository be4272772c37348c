//! virtio-net over virtio-mmio (virtio 1.2, 4.2 and 5.1), driven by the
//! `virtio-drivers` crate: its DMA interface ([`Dma`]), the device registers mapped
//! uncached, and a network device with safe send and receive ([`NetDevice`]).
//!
//! Memory is identity-mapped (`paging`), so a buffer's physical address is its
//! address, and DMA memory is ordinary heap memory, page-aligned. The receive buffers
//! are owned here, posted to the device once and re-posted as soon as a frame was
//! handed out; that is what keeps the driver's `unsafe` buffer contract
//! (`receive_begin`/`receive_complete`) inside this module. Transmission is
//! synchronous (`VirtIONetRaw::send` waits for the device to use the buffer; QEMU's
//! user network consumes it during the notifying register write).
//!
//! Nothing here allocates after [`NetDevice::probe`]: the kernel polls the device from
//! its idle loop, which must never block on the application's allocator.

use alloc::alloc::{Layout, alloc_zeroed, dealloc};
use alloc::boxed::Box;
use alloc::vec;
use alloc::vec::Vec;
use core::ptr::NonNull;

use virtio_drivers::device::net::VirtIONetRaw;
use virtio_drivers::transport::mmio::{MmioTransport, VirtIOHeader};
use virtio_drivers::transport::{DeviceType, Transport};
use virtio_drivers::{BufferDirection, Hal, PhysAddr};

use crate::{PAGE_SIZE, paging};

/// Descriptors per queue, and receive buffers posted.
const QUEUE_SIZE: usize = 16;
/// One receive buffer: the virtio-net header (12 bytes) and an Ethernet frame of up to
/// 1514 bytes, rounded up.
const RX_BUFFER: usize = 2048;
/// The largest frame [`NetDevice::send`] takes (Ethernet header + MTU 1500).
pub const MAX_FRAME: usize = 1514;

/// The DMA interface `virtio-drivers` asks for.
#[derive(Debug)]
pub struct Dma;

fn dma_layout(pages: usize) -> Option<Layout> {
    Layout::from_size_align(pages.checked_mul(PAGE_SIZE)?, PAGE_SIZE).ok()
}

// SAFETY: `dma_alloc` returns zeroed, page-aligned memory of its own allocation
// (unaliased until `dma_dealloc`); addresses are physical addresses (identity map).
unsafe impl Hal for Dma {
    fn dma_alloc(pages: usize, _direction: BufferDirection) -> (PhysAddr, NonNull<u8>) {
        let layout = dma_layout(pages).expect("virtio queue size");
        // SAFETY: the layout has a non-zero size (virtio-drivers asks for >= 1 page).
        let memory = unsafe { alloc_zeroed(layout) };
        let memory = NonNull::new(memory).expect("out of memory for a virtio queue");
        (memory.as_ptr() as PhysAddr, memory)
    }

    unsafe fn dma_dealloc(_paddr: PhysAddr, vaddr: NonNull<u8>, pages: usize) -> i32 {
        let layout = dma_layout(pages).expect("virtio queue size");
        // SAFETY: the caller passes what `dma_alloc` returned for this many pages.
        unsafe { dealloc(vaddr.as_ptr(), layout) };
        0
    }

    unsafe fn mmio_phys_to_virt(paddr: PhysAddr, _size: usize) -> NonNull<u8> {
        NonNull::new(paddr as *mut u8).expect("MMIO at address 0")
    }

    unsafe fn share(buffer: NonNull<[u8]>, _direction: BufferDirection) -> PhysAddr {
        buffer.as_ptr().cast::<u8>() as PhysAddr
    }

    unsafe fn unshare(_paddr: PhysAddr, _buffer: NonNull<[u8]>, _direction: BufferDirection) {}
}

/// Why a virtio-mmio slot gave no network device.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ProbeError {
    /// The range overlaps RAM or the image, or cannot be mapped.
    BadRange,
    /// No virtio device answers there (bad magic or version, or an empty slot).
    NoDevice,
    /// A virtio device of another kind.
    NotNetwork,
    /// The driver refused it (feature negotiation, queue set-up).
    Driver,
}

/// A virtio-net device with its receive buffers.
pub struct NetDevice {
    raw: VirtIONetRaw<Dma, MmioTransport<'static>, QUEUE_SIZE>,
    /// The receive buffers; `posted[token]` is the buffer the device holds under
    /// descriptor `token`.
    buffers: Box<[[u8; RX_BUFFER]]>,
    posted: [Option<usize>; QUEUE_SIZE],
    /// Where frames are assembled with the virtio-net header in front (`send` adds it).
    tx: Vec<u8>,
    dropped: u64,
}

impl core::fmt::Debug for NetDevice {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("NetDevice")
            .field("mac", &self.mac())
            .finish_non_exhaustive()
    }
}

impl NetDevice {
    /// The virtio-net device in the virtio-mmio slot of `size` bytes at `base` (as
    /// QEMU's microvm announces it: `virtio_mmio.device=SIZE@BASE:IRQ`).
    pub fn probe(base: usize, size: usize) -> Result<NetDevice, ProbeError> {
        if base == 0 || size < core::mem::size_of::<VirtIOHeader>() {
            return Err(ProbeError::BadRange);
        }
        // Device registers must not alias memory the kernel or application owns.
        let last = base.checked_add(size - 1).ok_or(ProbeError::BadRange)?;
        if paging::is_accessible(base, 1, false) || paging::is_accessible(last, 1, false) {
            return Err(ProbeError::BadRange);
        }
        paging::map_device(base, size).map_err(|_| ProbeError::BadRange)?;
        let header = NonNull::new(base as *mut VirtIOHeader).ok_or(ProbeError::BadRange)?;
        // SAFETY: `base..base + size` is device memory (not RAM, checked above), now
        // mapped uncached, and nothing else in the kernel refers to it: the kernel
        // probes each slot of the command line once.
        let transport =
            unsafe { MmioTransport::new(header, size) }.map_err(|_| ProbeError::NoDevice)?;
        if transport.device_type() != DeviceType::Network {
            return Err(ProbeError::NotNetwork);
        }
        let raw = VirtIONetRaw::new(transport).map_err(|_| ProbeError::Driver)?;
        let mut device = NetDevice {
            raw,
            buffers: vec![[0u8; RX_BUFFER]; QUEUE_SIZE].into_boxed_slice(),
            posted: [None; QUEUE_SIZE],
            tx: vec![0u8; MAX_FRAME],
            dropped: 0,
        };
        for index in 0..QUEUE_SIZE {
            device.post(index)?;
        }
        Ok(device)
    }

    /// Hands receive buffer `index` to the device.
    fn post(&mut self, index: usize) -> Result<(), ProbeError> {
        let buffer = &mut self.buffers[index];
        // SAFETY: the buffer lives as long as the device (both are `self`'s) and is
        // not touched again until the device returned it (`receive`, which looks it up
        // by the token recorded here).
        let token = unsafe { self.raw.receive_begin(buffer) }.map_err(|_| ProbeError::Driver)?;
        let slot = self
            .posted
            .get_mut(usize::from(token))
            .ok_or(ProbeError::Driver)?;
        *slot = Some(index);
        Ok(())
    }

    /// The device's MAC address.
    pub fn mac(&self) -> [u8; 6] {
        self.raw.mac_address()
    }

    /// Acknowledges the device's interrupt (virtio-mmio `InterruptACK`), so its line
    /// can signal the next one.
    pub fn ack_interrupt(&mut self) {
        self.raw.ack_interrupt();
    }

    /// Whether a received frame is waiting.
    pub fn has_frame(&self) -> bool {
        self.raw.poll_receive().is_some()
    }

    /// The next received Ethernet frame, handed to `with`; `None` if none is waiting.
    pub fn receive<R>(&mut self, with: impl FnOnce(&[u8]) -> R) -> Option<R> {
        let token = self.raw.poll_receive()?;
        let index = self.posted.get_mut(usize::from(token))?.take()?;
        let buffer = &mut self.buffers[index];
        // SAFETY: `buffer` is the one posted under `token` (`post`).
        let result = match unsafe { self.raw.receive_complete(token, buffer) } {
            Ok((header, len)) => buffer.get(header..header + len).map(with),
            Err(_) => None,
        };
        // Back to the device at once; a failure leaves one buffer fewer, not a fault.
        let _ = self.post(index);
        result
    }

    /// Sends the frame of `len` bytes (at most [`MAX_FRAME`]: longer is cut) that
    /// `fill` writes; waits until the device took it. A frame the device refuses is
    /// dropped (and counted, [`NetDevice::dropped`]), as a full queue drops it.
    pub fn send<R>(&mut self, len: usize, fill: impl FnOnce(&mut [u8]) -> R) -> R {
        let len = len.min(MAX_FRAME);
        let result = fill(&mut self.tx[..len]);
        if self.raw.send(&self.tx[..len]).is_err() {
            self.dropped += 1;
        }
        result
    }

    /// Frames the device refused to send.
    pub fn dropped(&self) -> u64 {
        self.dropped
    }
}
