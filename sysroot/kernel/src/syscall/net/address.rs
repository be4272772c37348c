//! Socket addresses in the caller's memory: the `(addr, addrlen)` a call is given
//! (Linux's `move_addr_to_kernel`) and the `(addr, *addrlen)` a call fills
//! (`move_addr_to_user`). What the bytes mean is the socket family's.

use alloc::vec;
use alloc::vec::Vec;

use unikernel_hal::uaccess;

use crate::errno::Errno;
use crate::syscall::UserAddr;

/// `sizeof(struct sockaddr_storage)`: the longest address a call takes.
const SOCKADDR_STORAGE: usize = 128;

/// The `len` bytes of the address at `addr`: `EINVAL` for a negative length or one
/// beyond a `sockaddr_storage`.
pub fn read(addr: UserAddr, len: i32) -> Result<Vec<u8>, Errno> {
    let len = usize::try_from(len).map_err(|_| Errno::EINVAL)?;
    if len > SOCKADDR_STORAGE {
        return Err(Errno::EINVAL);
    }
    let mut bytes = vec![0u8; len];
    if len > 0 {
        uaccess::copy_from(addr.0, &mut bytes)?;
    }
    Ok(bytes)
}

/// Writes `bytes` to `addr` as `accept`, `getsockname` and `recvfrom` do: at most
/// `*addrlen` bytes (`EINVAL` if negative), and the full length back to `*addrlen`.
pub fn write(addr: UserAddr, addrlen: UserAddr, bytes: &[u8]) -> Result<(), Errno> {
    let room = i32::from_ne_bytes(uaccess::read_u32(addrlen.0)?.to_ne_bytes());
    let room = usize::try_from(room).map_err(|_| Errno::EINVAL)?;
    let n = room.min(bytes.len());
    if n > 0 {
        uaccess::copy_to(addr.0, &bytes[..n])?;
    }
    let len = u32::try_from(bytes.len()).map_err(|_| Errno::EINVAL)?;
    uaccess::copy_to(addrlen.0, &len.to_ne_bytes())?;
    Ok(())
}
