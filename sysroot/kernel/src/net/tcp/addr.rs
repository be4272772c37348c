//! `struct sockaddr_in` (`ip(7)`): the bytes `bind` and `connect` are given, and the
//! bytes `accept`, `getsockname` and `getpeername` return, for a TCP endpoint.

use smoltcp::wire::Ipv4Address;

use super::Endpoint;
use crate::errno::Errno;
use crate::vfs::socket_family::AF_INET;

/// `sizeof(struct sockaddr_in)`: family, port (big-endian), address, 8 bytes of zero.
pub const SOCKADDR_IN: usize = 16;

/// The endpoint in `bytes`, as Linux's `inet_bind`/`tcp_v4_connect` check it:
/// `EINVAL` if shorter than a `sockaddr_in`, then `EAFNOSUPPORT` for another family.
pub fn parse(bytes: &[u8]) -> Result<Endpoint, Errno> {
    let Some(bytes) = bytes.get(..SOCKADDR_IN) else {
        return Err(Errno::EINVAL);
    };
    if i32::from(u16::from_ne_bytes([bytes[0], bytes[1]])) != AF_INET {
        return Err(Errno::EAFNOSUPPORT);
    }
    let port = u16::from_be_bytes([bytes[2], bytes[3]]);
    let address = Ipv4Address::new(bytes[4], bytes[5], bytes[6], bytes[7]);
    Ok((address, port))
}

/// `endpoint` as a `sockaddr_in`: `(bytes, length)`.
pub fn format((address, port): Endpoint) -> ([u8; 16], usize) {
    let mut bytes = [0u8; SOCKADDR_IN];
    // AF_INET (2) fits sa_family_t.
    bytes[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
    bytes[2..4].copy_from_slice(&port.to_be_bytes());
    bytes[4..8].copy_from_slice(&address.octets());
    (bytes, SOCKADDR_IN)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_address_survives_formatting_and_parsing() {
        let endpoint = (Ipv4Address::new(10, 0, 2, 15), 8080);
        let (bytes, len) = format(endpoint);
        assert_eq!(len, 16);
        assert_eq!(&bytes[2..4], &[0x1f, 0x90]);
        assert_eq!(parse(&bytes), Ok(endpoint));
    }

    #[test]
    fn short_or_foreign_addresses_are_refused_in_linux_order() {
        let (mut bytes, _) = format((Ipv4Address::UNSPECIFIED, 1));
        assert_eq!(parse(&bytes[..15]), Err(Errno::EINVAL));
        bytes[0] = 10;
        assert_eq!(parse(&bytes[..15]), Err(Errno::EINVAL));
        assert_eq!(parse(&bytes), Err(Errno::EAFNOSUPPORT));
    }
}
