//! A UDP socket as a file object: `read`/`write` (one datagram each), `poll`
//! readiness as Linux's `udp_poll`, `fstat`, `FIONREAD` (the next datagram's
//! length), and the release of the last descriptor.

use super::UdpSocket;
use crate::errno::Errno;
use crate::net::with_stack;
use crate::vfs::poll_bits::{POLLERR, READABLE, WRITABLE};
use crate::vfs::{self, At, FileLike, Inodes, Segment, Stat, ioctl, reply_fionread};

/// `S_IFSOCK`: the file type `fstat` reports.
const S_IFSOCK: u32 = 0o140_000;

impl FileLike for UdpSocket {
    fn read(&self, _fs: &Inodes, at: At<'_>, buf: usize, len: usize) -> Result<usize, Errno> {
        at.stream()?;
        self.recv_datagram(&[Segment { base: buf, len }], false, false)
            .map(|(n, _)| n)
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
        self.send_datagram(&[Segment { base: buf, len }], None)
    }

    fn ioctl(&self, _fs: &Inodes, _offset: u64, request: u32, arg: usize) -> Result<usize, Errno> {
        if request != ioctl::FIONREAD {
            return Err(Errno::ENOTTY);
        }
        reply_fionread(arg, self.next_length()?)
    }

    fn stat(&self, _fs: &Inodes) -> Result<Stat, Errno> {
        let mut stat = Stat::anonymous();
        stat.mode = S_IFSOCK | 0o777;
        Ok(stat)
    }

    /// Readable with a datagram waiting; writable while every interface's send
    /// buffer has room (an unbound socket is writable).
    fn poll(&self) -> u16 {
        with_stack(|stack| {
            let inner = self.inner.lock();
            let readable = inner.handles.iter().any(|&h| stack.udp_mut(h).can_recv());
            let writable = inner.handles.iter().all(|&h| stack.udp_mut(h).can_send());
            Ok((if readable { READABLE } else { 0 }) | (if writable { WRITABLE } else { 0 }))
        })
        .unwrap_or(POLLERR)
    }

    fn socket(&self) -> Option<&dyn vfs::Socket> {
        Some(self)
    }

    fn changes(&self) -> u64 {
        crate::net::changes()
    }

    /// The last descriptor closed: the smoltcp sockets go, the port is free again.
    fn released(&self, _fs: &mut Inodes) {
        let _ = with_stack(|stack| {
            let mut inner = self.inner.lock();
            if let Some((_, port)) = inner.bound.take() {
                stack.udp_ports.remove(&port);
            }
            for handle in core::mem::take(&mut inner.handles) {
                stack.remove(handle);
            }
            stack.changed();
            Ok(())
        });
    }
}
