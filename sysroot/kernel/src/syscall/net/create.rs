//! `socket(2)` and `socketpair(2)`: the checks Linux makes before the family
//! (`__sys_socket`, `__sock_create`), then the family's own (`inet_create`,
//! `unix_create`), then the object. AF_INET `SOCK_STREAM` is a TCP socket,
//! `SOCK_DGRAM` a UDP socket; AF_UNIX
//! exists as `socketpair`'s connected pair only: a lone `socket(AF_UNIX)` would need
//! names (`bind`/`connect` to a path) this kernel does not have, so it is
//! `EAFNOSUPPORT` (sysroot/README.md).

use alloc::sync::Arc;

use unikernel_hal::uaccess;

use crate::errno::Errno;
use crate::net::tcp::TcpSocket;
use crate::net::udp::UdpSocket;
use crate::syscall::{SysResult, SyscallArgs, UserAddr};
use crate::vfs::FileLike;
use crate::vfs::socket_family::*;
use crate::vfs::socket_kind::*;
use crate::vfs::{self, OpenFile, flags};

/// `IPPROTO_TCP` and `IPPROTO_UDP`.
const IPPROTO_TCP: i32 = 6;
const IPPROTO_UDP: i32 = 17;

/// What `socket`/`socketpair` were asked for, past the family-independent checks.
struct Request {
    domain: i32,
    /// `SOCK_STREAM`, `SOCK_DGRAM`, ... without the flags.
    kind: i32,
    protocol: i32,
    /// `O_NONBLOCK` if `SOCK_NONBLOCK`.
    status: u32,
    cloexec: bool,
}

/// Reads `(domain, type, protocol)` and checks them as `__sys_socket` and
/// `__sock_create` do: unknown flags `EINVAL`, a family out of range
/// `EAFNOSUPPORT`, a type out of range `EINVAL`.
fn request(args: &SyscallArgs) -> Result<Request, Errno> {
    let domain: i32 = args.get(0)?;
    let kind: i32 = args.get(1)?;
    let protocol: i32 = args.get(2)?;
    if kind & !(SOCK_TYPE_MASK | SOCK_NONBLOCK | SOCK_CLOEXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    if !(0..NPROTO).contains(&domain) {
        return Err(Errno::EAFNOSUPPORT);
    }
    if kind & SOCK_TYPE_MASK >= SOCK_MAX {
        return Err(Errno::EINVAL);
    }
    Ok(Request {
        domain,
        kind: kind & SOCK_TYPE_MASK,
        protocol,
        status: if kind & SOCK_NONBLOCK != 0 {
            flags::O_NONBLOCK
        } else {
            0
        },
        cloexec: kind & SOCK_CLOEXEC != 0,
    })
}

/// `unix_create`'s checks: the protocol (`EPROTONOSUPPORT`), then the type; stream
/// sockets are the only kind here (datagram and seqpacket: `ESOCKTNOSUPPORT`).
fn unix_stream(request: &Request) -> Result<(), Errno> {
    if request.protocol != 0 && request.protocol != AF_UNIX {
        return Err(Errno::EPROTONOSUPPORT);
    }
    match request.kind {
        SOCK_STREAM => Ok(()),
        // Linux has them; this kernel does not (sysroot/README.md).
        SOCK_DGRAM | SOCK_RAW | SOCK_SEQPACKET => Err(Errno::ESOCKTNOSUPPORT),
        _ => Err(Errno::ESOCKTNOSUPPORT),
    }
}

/// `inet_create`'s checks and the socket: a stream socket's protocol is
/// `IPPROTO_TCP` (or 0), a datagram socket's `IPPROTO_UDP` (or 0); raw sockets are
/// not here (`ESOCKTNOSUPPORT`).
fn inet(request: &Request) -> Result<Arc<dyn FileLike>, Errno> {
    let protocol = match request.kind {
        SOCK_STREAM => IPPROTO_TCP,
        SOCK_DGRAM => IPPROTO_UDP,
        _ => return Err(Errno::ESOCKTNOSUPPORT),
    };
    if request.protocol != 0 && request.protocol != protocol {
        return Err(Errno::EPROTONOSUPPORT);
    }
    Ok(match request.kind {
        SOCK_STREAM => Arc::new(TcpSocket::new()?),
        _ => Arc::new(UdpSocket::new()?),
    })
}

/// `socket(domain, type, protocol)`.
pub fn socket(args: SyscallArgs) -> SysResult {
    let request = request(&args)?;
    let object = match request.domain {
        AF_INET => inet(&request)?,
        AF_UNIX => {
            unix_stream(&request)?;
            // A lone AF_UNIX socket: see the module docs.
            return Err(Errno::EAFNOSUPPORT);
        }
        _ => return Err(Errno::EAFNOSUPPORT),
    };
    let file = OpenFile::new(object, flags::O_RDWR | request.status);
    vfs::with(|vfs| vfs.install(file, 0, request.cloexec)).map(|fd| fd as usize)
}

/// `socketpair(domain, type, protocol, sv)`: AF_UNIX stream pairs.
pub fn socketpair(args: SyscallArgs) -> SysResult {
    let request = request(&args)?;
    let sv: UserAddr = args.get(3)?;
    match request.domain {
        AF_UNIX => unix_stream(&request)?,
        // Internet sockets exist on Linux but have no pairs (`sock_no_socketpair`).
        AF_INET | AF_INET6 => return Err(Errno::EOPNOTSUPP),
        _ => return Err(Errno::EAFNOSUPPORT),
    }
    vfs::with(|vfs| {
        let (a, b) = vfs.unix_stream_pair(request.status, request.cloexec)?;
        let mut bytes = [0u8; 8];
        bytes[..4].copy_from_slice(&a.to_ne_bytes());
        bytes[4..].copy_from_slice(&b.to_ne_bytes());
        if let Err(fault) = uaccess::copy_to(sv.0, &bytes) {
            let _ = vfs.close(a);
            let _ = vfs.close(b);
            return Err(fault.into());
        }
        Ok(0)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(domain: i32, kind: i32, protocol: i32) -> SyscallArgs {
        // The registers as the ABI passes an `int`: sign-extended.
        let reg = |v: i32| v as isize as usize;
        SyscallArgs([reg(domain), reg(kind), reg(protocol), 0, 0, 0])
    }

    #[test]
    fn socket_checks_flags_family_and_type_in_linux_order() {
        assert_eq!(
            socket(args(AF_INET, SOCK_STREAM | 0x10, 0)),
            Err(Errno::EINVAL)
        );
        assert_eq!(
            socket(args(NPROTO, SOCK_STREAM, 0)),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(socket(args(-1, SOCK_STREAM, 0)), Err(Errno::EAFNOSUPPORT));
        assert_eq!(socket(args(AF_INET, SOCK_MAX, 0)), Err(Errno::EINVAL));
        assert_eq!(
            socket(args(AF_INET, SOCK_STREAM, 17)),
            Err(Errno::EPROTONOSUPPORT)
        );
        assert_eq!(
            socket(args(AF_INET, SOCK_DGRAM, IPPROTO_TCP)),
            Err(Errno::EPROTONOSUPPORT)
        );
        assert_eq!(
            socket(args(AF_INET, SOCK_RAW, 0)),
            Err(Errno::ESOCKTNOSUPPORT)
        );
        assert_eq!(
            socket(args(AF_INET6, SOCK_STREAM, 0)),
            Err(Errno::EAFNOSUPPORT)
        );
    }

    #[test]
    fn a_lone_unix_socket_is_a_documented_gap_after_linuxs_own_checks() {
        assert_eq!(
            socket(args(AF_UNIX, SOCK_STREAM, 2)),
            Err(Errno::EPROTONOSUPPORT)
        );
        assert_eq!(socket(args(AF_UNIX, 4, 0)), Err(Errno::ESOCKTNOSUPPORT));
        assert_eq!(
            socket(args(AF_UNIX, SOCK_STREAM, 0)),
            Err(Errno::EAFNOSUPPORT)
        );
    }

    #[test]
    fn pairs_are_unix_streams_only() {
        assert_eq!(
            socketpair(args(AF_INET, SOCK_STREAM, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            socketpair(args(AF_INET6, SOCK_STREAM, 0)),
            Err(Errno::EOPNOTSUPP)
        );
        assert_eq!(
            socketpair(args(17, SOCK_STREAM, 0)),
            Err(Errno::EAFNOSUPPORT)
        );
        assert_eq!(
            socketpair(args(AF_UNIX, SOCK_DGRAM, 0)),
            Err(Errno::ESOCKTNOSUPPORT)
        );
        assert_eq!(
            socketpair(args(AF_UNIX, SOCK_STREAM, 6)),
            Err(Errno::EPROTONOSUPPORT)
        );
    }
}
