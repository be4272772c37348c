//! Copies from a connection's receive queue to the caller's buffers (`iovec`s in
//! order): taking the bytes, or scattering the ones a peek copied out.

use smoltcp::socket::tcp::Socket;
use unikernel_hal::uaccess;

use crate::errno::Errno;
use crate::vfs::Segment;

/// Copies `bytes` across `segments` in order: the bytes copied (a fault after some
/// ends the copy short).
pub fn scatter(bytes: &[u8], segments: &[Segment]) -> Result<usize, Errno> {
    let mut done = 0;
    for segment in segments {
        let n = segment.len.min(bytes.len() - done);
        if let Err(fault) = uaccess::copy_to(segment.base, &bytes[done..done + n]) {
            return if done == 0 {
                Err(fault.into())
            } else {
                Ok(done)
            };
        }
        done += n;
        if done == bytes.len() {
            break;
        }
    }
    Ok(done)
}

/// Takes queued bytes into `segments` in order until they or the queue run out.
pub fn receive(socket: &mut Socket<'_>, segments: &[Segment]) -> Result<usize, Errno> {
    let mut done = 0;
    for segment in segments {
        let mut filled = 0;
        while filled < segment.len && socket.can_recv() {
            let at = segment.base + filled;
            let want = segment.len - filled;
            let copied = socket
                .recv(|data| {
                    let n = data.len().min(want);
                    match uaccess::copy_to(at, &data[..n]) {
                        Ok(()) => (n, Ok(n)),
                        Err(fault) => (0, Err(fault)),
                    }
                })
                .map_err(|_| Errno::ENOTCONN)?;
            match copied {
                Ok(n) => filled += n,
                Err(_) if done + filled > 0 => return Ok(done + filled),
                Err(fault) => return Err(fault.into()),
            }
        }
        done += filled;
        if filled < segment.len {
            break;
        }
    }
    Ok(done)
}
