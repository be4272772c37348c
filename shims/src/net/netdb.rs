//! `getaddrinfo`, `freeaddrinfo`, `gai_strerror`, `__res_init`.
//!
//! Names resolve from local sources only (see `hosts`). There is no DNS client:
//! a name no local source knows fails with `EAI_SYSTEM` and errno `ENOSYS`, so a
//! program reports "Function not implemented" rather than a misleading "name not
//! known". Service names likewise: only numeric ports.

use core::ffi::{CStr, c_char, c_int, c_void};
use core::net::IpAddr;
use core::ptr;

use super::hosts::{Addrs, parse_numeric, resolve_local};
use super::socket::SockLen;
use crate::errno::{Errno, set_errno};
use crate::malloc;

const AF_UNSPEC: c_int = 0;
const AF_INET: c_int = 2;
const AF_INET6: c_int = 10;
const AI_PASSIVE: c_int = 1;
const AI_CANONNAME: c_int = 2;
const AI_NUMERICHOST: c_int = 4;
const EAI_NONAME: c_int = -2;
const EAI_FAMILY: c_int = -6;
const EAI_MEMORY: c_int = -10;
const EAI_SYSTEM: c_int = -11;

/// `struct addrinfo`.
#[repr(C)]
#[derive(Debug)]
pub struct AddrInfo {
    ai_flags: c_int,
    ai_family: c_int,
    ai_socktype: c_int,
    ai_protocol: c_int,
    ai_addrlen: SockLen,
    ai_addr: *mut c_void,
    ai_canonname: *mut c_char,
    ai_next: *mut AddrInfo,
}

/// One result node with room for its socket address (`sockaddr_in6`, 28 bytes).
#[repr(C)]
struct Node {
    info: AddrInfo,
    addr: [u8; 28],
}

/// Encodes `ip:port` as a `sockaddr_in`/`sockaddr_in6`; returns (family, length).
fn encode(ip: IpAddr, port: u16, out: &mut [u8; 28]) -> (c_int, SockLen) {
    *out = [0; 28];
    out[2..4].copy_from_slice(&port.to_be_bytes());
    match ip {
        IpAddr::V4(a) => {
            out[..2].copy_from_slice(&(AF_INET as u16).to_ne_bytes());
            out[4..8].copy_from_slice(&a.octets());
            (AF_INET, 16)
        }
        IpAddr::V6(a) => {
            out[..2].copy_from_slice(&(AF_INET6 as u16).to_ne_bytes());
            out[8..24].copy_from_slice(&a.octets());
            (AF_INET6, 28)
        }
    }
}

/// Socket type/protocol pairs to report: the hinted one, or glibc's three.
fn socktypes(socktype: c_int, protocol: c_int) -> [(c_int, c_int); 3] {
    let default_proto = |t| match t {
        1 => 6,
        2 => 17,
        _ => 0,
    };
    if socktype == 0 {
        [(1, 6), (2, 17), (3, 0)]
    } else {
        let p = if protocol != 0 {
            protocol
        } else {
            default_proto(socktype)
        };
        [(socktype, p), (-1, 0), (-1, 0)]
    }
}

/// Reads a C string argument as bytes.
///
/// # Safety
/// `p` null or NUL-terminated.
unsafe fn bytes<'a>(p: *const c_char) -> Option<&'a [u8]> {
    // SAFETY: per the caller.
    (!p.is_null()).then(|| unsafe { CStr::from_ptr(p) }.to_bytes())
}

/// `getaddrinfo(3)`.
///
/// # Safety
/// `node`/`service` null or NUL-terminated; `hints` null or valid; `res` writable.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn getaddrinfo(
    node: *const c_char,
    service: *const c_char,
    hints: *const AddrInfo,
    res: *mut *mut AddrInfo,
) -> c_int {
    // SAFETY: per the caller.
    let (name, serv, hints) = unsafe { (bytes(node), bytes(service), hints.as_ref()) };
    let (flags, family, socktype, protocol) = hints.map_or((0, AF_UNSPEC, 0, 0), |h| {
        (h.ai_flags, h.ai_family, h.ai_socktype, h.ai_protocol)
    });
    if ![AF_UNSPEC, AF_INET, AF_INET6].contains(&family) {
        return EAI_FAMILY;
    }
    let port = match serv {
        None => 0,
        Some(s) => match core::str::from_utf8(s)
            .ok()
            .and_then(|s| s.parse::<u16>().ok())
        {
            Some(p) => p,
            None => {
                set_errno(Errno::ENOSYS);
                return EAI_SYSTEM;
            }
        },
    };
    let mut addrs = Addrs::new();
    match name {
        None if serv.is_none() => return EAI_NONAME,
        None if flags & AI_PASSIVE != 0 => {
            addrs.push(IpAddr::V4(core::net::Ipv4Addr::UNSPECIFIED));
            addrs.push(IpAddr::V6(core::net::Ipv6Addr::UNSPECIFIED));
        }
        None => {
            addrs.push(IpAddr::V4(core::net::Ipv4Addr::LOCALHOST));
            addrs.push(IpAddr::V6(core::net::Ipv6Addr::LOCALHOST));
        }
        Some(n) if flags & AI_NUMERICHOST != 0 => match parse_numeric(n) {
            Some(a) => addrs.push(a),
            None => return EAI_NONAME,
        },
        Some(n) => {
            if !resolve_local(n, &mut addrs) {
                set_errno(Errno::ENOSYS);
                return EAI_SYSTEM;
            }
        }
    }
    let wanted = |a: &IpAddr| match family {
        AF_INET => a.is_ipv4(),
        AF_INET6 => a.is_ipv6(),
        _ => true,
    };
    let mut head: *mut AddrInfo = ptr::null_mut();
    let mut tail: *mut *mut AddrInfo = &mut head;
    for ip in addrs.as_slice().iter().copied().filter(wanted) {
        for (ty, proto) in socktypes(socktype, protocol)
            .into_iter()
            .filter(|t| t.0 >= 0)
        {
            let node = malloc::alloc_raw(size_of::<Node>()).cast::<Node>();
            if node.is_null() {
                // SAFETY: `head` is a chain built here.
                unsafe { freeaddrinfo(head) };
                return EAI_MEMORY;
            }
            // SAFETY: `node` is a fresh allocation of a Node; `tail` points at the
            // last link of the chain.
            unsafe {
                let addr_ptr = (&raw mut (*node).addr).cast::<c_void>();
                let mut raw = [0u8; 28];
                let (fam, len) = encode(ip, port, &mut raw);
                (&raw mut (*node).addr).write(raw);
                (&raw mut (*node).info).write(AddrInfo {
                    ai_flags: flags,
                    ai_family: fam,
                    ai_socktype: ty,
                    ai_protocol: proto,
                    ai_addrlen: len,
                    ai_addr: addr_ptr,
                    ai_canonname: ptr::null_mut(),
                    ai_next: ptr::null_mut(),
                });
                *tail = node.cast();
                tail = &raw mut (*node).info.ai_next;
            }
        }
    }
    if head.is_null() {
        return EAI_NONAME;
    }
    if flags & AI_CANONNAME != 0 && !node.is_null() {
        // SAFETY: `node` is NUL-terminated; `head` is our first result.
        unsafe { (*head).ai_canonname = crate::string::strdup(node) };
    }
    // SAFETY: per the caller.
    unsafe { *res = head };
    0
}

/// `freeaddrinfo(3)`.
///
/// # Safety
/// `ai` null or a chain from `getaddrinfo`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn freeaddrinfo(mut ai: *mut AddrInfo) {
    while !ai.is_null() {
        // SAFETY: every node and canonical name was malloc'ed by getaddrinfo.
        unsafe {
            let next = (*ai).ai_next;
            malloc::free_raw((*ai).ai_canonname.cast());
            malloc::free_raw(ai.cast());
            ai = next;
        }
    }
}

/// `gai_strerror(3)`: glibc's messages.
#[unsafe(no_mangle)]
pub extern "C" fn gai_strerror(code: c_int) -> *const c_char {
    let msg: &CStr = match code {
        -1 => c"Bad value for ai_flags",
        -2 => c"Name or service not known",
        -3 => c"Temporary failure in name resolution",
        -4 => c"Non-recoverable failure in name resolution",
        -5 => c"No address associated with hostname",
        -6 => c"ai_family not supported",
        -7 => c"ai_socktype not supported",
        -8 => c"Servname not supported for ai_socktype",
        -9 => c"Address family for hostname not supported",
        -10 => c"Memory allocation failure",
        -11 => c"System error",
        -12 => c"Argument buffer overflow",
        _ => c"Unknown error",
    };
    msg.as_ptr()
}

/// `__res_init`: reload resolver configuration. There is no resolver state to
/// reload (no DNS client), so there is nothing to do and it succeeds.
#[unsafe(no_mangle)]
pub extern "C" fn __res_init() -> c_int {
    0
}
