//! Host names the shim can answer without DNS: numeric addresses, the hosts file
//! (`/etc/hosts`, the glibc "files" NSS source) and, when there is no hosts file
//! (a unikernel image without one), `localhost` per RFC 6761 section 6.3.

use core::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::fs::fd::{AT_FDCWD, close, openat, read};
use crate::malloc;

/// At most this many addresses per name.
pub const MAX_ADDRS: usize = 16;
const HOSTS_MAX: usize = 64 * 1024;
const O_RDONLY_CLOEXEC: core::ffi::c_int = 0o2000000;

/// A small list of addresses in lookup order.
#[derive(Debug)]
pub struct Addrs {
    /// Filled prefix `[..len]`.
    pub list: [IpAddr; MAX_ADDRS],
    /// Number of addresses.
    pub len: usize,
}

impl Default for Addrs {
    fn default() -> Self {
        Self::new()
    }
}

impl Addrs {
    /// No addresses.
    pub fn new() -> Self {
        Addrs {
            list: [IpAddr::V4(Ipv4Addr::UNSPECIFIED); MAX_ADDRS],
            len: 0,
        }
    }

    /// Appends `a` unless present or full.
    pub fn push(&mut self, a: IpAddr) {
        if self.len < MAX_ADDRS && !self.list[..self.len].contains(&a) {
            self.list[self.len] = a;
            self.len += 1;
        }
    }

    /// The addresses found.
    pub fn as_slice(&self) -> &[IpAddr] {
        &self.list[..self.len]
    }
}

/// Parses a numeric IPv4 (dotted quad) or IPv6 address.
pub fn parse_numeric(name: &[u8]) -> Option<IpAddr> {
    core::str::from_utf8(name).ok()?.parse().ok()
}

/// Looks `name` up in the hosts file. `None` if the file cannot be read.
pub fn lookup_hosts_file(name: &[u8], out: &mut Addrs) -> Option<()> {
    // SAFETY: the path is a static NUL-terminated string.
    let fd = unsafe { openat(AT_FDCWD, c"/etc/hosts".as_ptr(), O_RDONLY_CLOEXEC, 0) };
    if fd < 0 {
        return None;
    }
    let buf = malloc::alloc_raw(HOSTS_MAX);
    if buf.is_null() {
        close(fd);
        return None;
    }
    let mut len = 0;
    while len < HOSTS_MAX {
        // SAFETY: `buf` has HOSTS_MAX bytes, `len` of them filled.
        let n = unsafe { read(fd, buf.add(len).cast(), HOSTS_MAX - len) };
        match usize::try_from(n) {
            Ok(0) | Err(_) => break,
            Ok(n) => len += n,
        }
    }
    close(fd);
    // SAFETY: `len` bytes were read into `buf`.
    let text = unsafe { core::slice::from_raw_parts(buf, len) };
    for line in text.split(|&b| b == b'\n') {
        let line = line.split(|&b| b == b'#').next().unwrap_or(&[]);
        let mut fields = line
            .split(|&b| b == b' ' || b == b'\t' || b == b'\r')
            .filter(|f| !f.is_empty());
        let Some(addr) = fields.next().and_then(parse_numeric) else {
            continue;
        };
        if fields.any(|alias| alias.eq_ignore_ascii_case(name)) {
            out.push(addr);
        }
    }
    // SAFETY: allocated above, no longer used.
    unsafe { malloc::free_raw(buf) };
    Some(())
}

/// Resolves `name` without DNS: numeric, hosts file, built-in localhost.
/// Returns false when the name is unknown to every local source.
pub fn resolve_local(name: &[u8], out: &mut Addrs) -> bool {
    if let Some(a) = parse_numeric(name) {
        out.push(a);
        return true;
    }
    let have_file = lookup_hosts_file(name, out).is_some();
    if !have_file && name.eq_ignore_ascii_case(b"localhost") {
        out.push(IpAddr::V4(Ipv4Addr::LOCALHOST));
        out.push(IpAddr::V6(Ipv6Addr::LOCALHOST));
    }
    out.len > 0
}
