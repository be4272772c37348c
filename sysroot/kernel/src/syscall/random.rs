//! `getrandom(buf, buflen, flags)`.

use unikernel_hal::uaccess;

use super::{SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::random;

const GRND_NONBLOCK: u32 = 1;
const GRND_RANDOM: u32 = 2;
const GRND_INSECURE: u32 = 4;

/// Fills the buffer (the entropy pool is always "initialized": never blocks).
pub fn getrandom(args: SyscallArgs) -> SysResult {
    let buf: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    let flags: u32 = args.get(2)?;
    if flags & !(GRND_NONBLOCK | GRND_RANDOM | GRND_INSECURE) != 0
        || flags & (GRND_RANDOM | GRND_INSECURE) == (GRND_RANDOM | GRND_INSECURE)
    {
        return Err(Errno::EINVAL);
    }
    // Linux caps one call at 32 MiB - 1; callers loop.
    let len = len.min((1 << 25) - 1);
    let mut chunk = [0u8; 256];
    let mut done = 0;
    while done < len {
        let n = (len - done).min(chunk.len());
        random::fill(&mut chunk[..n]);
        uaccess::copy_to(buf.offset(done)?.0, &chunk[..n])?;
        done += n;
    }
    Ok(len)
}
