//! `struct sockaddr_in` (`ip(7)`) in the caller's memory: reading the address a call
//! is given, writing the one it returns with its `socklen_t` length.

use smoltcp::wire::Ipv4Address;
use unikernel_hal::uaccess;

use crate::errno::Errno;
use crate::net::tcp::Endpoint;
use crate::syscall::UserAddr;

/// `AF_INET`.
pub const AF_INET: u16 = 2;
/// `sizeof(struct sockaddr_in)`: family, port (big-endian), address, 8 bytes of zero.
const SOCKADDR_IN: usize = 16;

/// Reads the `sockaddr_in` of `len` bytes at `addr`: `EINVAL` if too short,
/// `EAFNOSUPPORT` for another family.
pub fn read(addr: UserAddr, len: usize) -> Result<Endpoint, Errno> {
    if len < 2 {
        return Err(Errno::EINVAL);
    }
    let mut bytes = [0u8; SOCKADDR_IN];
    uaccess::copy_from(addr.0, &mut bytes[..2])?;
    if u16::from_ne_bytes([bytes[0], bytes[1]]) != AF_INET {
        return Err(Errno::EAFNOSUPPORT);
    }
    if len < SOCKADDR_IN {
        return Err(Errno::EINVAL);
    }
    uaccess::copy_from(addr.0, &mut bytes)?;
    let port = u16::from_be_bytes([bytes[2], bytes[3]]);
    let address = Ipv4Address::new(bytes[4], bytes[5], bytes[6], bytes[7]);
    Ok((address, port))
}

/// Writes `endpoint` to `addr` as `accept`, `getsockname` and `recvfrom` do: at most
/// `*addrlen` bytes, and the full length back to `*addrlen`. A NULL `addr` writes
/// nothing.
pub fn write(addr: UserAddr, addrlen: UserAddr, (address, port): Endpoint) -> Result<(), Errno> {
    if addr.is_null() {
        return Ok(());
    }
    let room = uaccess::read_u32(addrlen.0)?;
    let room = usize::try_from(i32::try_from(room).map_err(|_| Errno::EINVAL)?)
        .map_err(|_| Errno::EINVAL)?;
    let mut bytes = [0u8; SOCKADDR_IN];
    bytes[..2].copy_from_slice(&AF_INET.to_ne_bytes());
    bytes[2..4].copy_from_slice(&port.to_be_bytes());
    bytes[4..8].copy_from_slice(&address.octets());
    uaccess::copy_to(addr.0, &bytes[..room.min(SOCKADDR_IN)])?;
    uaccess::copy_to(addrlen.0, &(SOCKADDR_IN as u32).to_ne_bytes())?;
    Ok(())
}
