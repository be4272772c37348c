//! Memory mappings: `mmap`, `munmap`, `mprotect`, `madvise`, `brk`.
//!
//! Policy (see `crate::memory`): mappings are backed at once (no demand paging), so
//! huge `PROT_NONE` reservations cost real memory; and W^X holds for the application
//! too: a mapping is never writable and executable at once (`EACCES`).
//!
//! A mapping of a file is fresh memory holding a copy of the file's bytes from the
//! offset on, zeros past the end of file (`crate::vfs` says which descriptors can be
//! mapped and how shared mappings behave). Linux raises `SIGBUS` for pages wholly
//! past the end of file; here they read as zeros.

use unikernel_hal::memory::Access;

use super::{Fd, SysResult, SyscallArgs, UserAddr};
use crate::errno::Errno;
use crate::{memory, vfs};

const PROT_READ: u32 = 0x1;
const PROT_WRITE: u32 = 0x2;
const PROT_EXEC: u32 = 0x4;

const MAP_SHARED: u32 = 0x01;
const MAP_PRIVATE: u32 = 0x02;
const MAP_FIXED: u32 = 0x10;
const MAP_ANONYMOUS: u32 = 0x20;
const MAP_FIXED_NOREPLACE: u32 = 0x10_0000;
/// Flags that change nothing here (no swap, no demand paging, one process).
const MAP_IGNORED: u32 = 0x0100 /* GROWSDOWN */ | 0x0800 /* DENYWRITE */ | 0x1000 /* EXECUTABLE */
    | 0x2000 /* LOCKED */ | 0x4000 /* NORESERVE */ | 0x8000 /* POPULATE */ | 0x1_0000 /* NONBLOCK */
    | 0x2_0000 /* STACK */ | 0x4_0000 /* HUGETLB */;

fn access(prot: u32) -> Result<Access, Errno> {
    if prot & !(PROT_READ | PROT_WRITE | PROT_EXEC) != 0 {
        return Err(Errno::EINVAL);
    }
    match (
        prot & PROT_WRITE != 0,
        prot & PROT_EXEC != 0,
        prot & PROT_READ != 0,
    ) {
        (true, true, _) => Err(Errno::EACCES),
        (true, false, _) => Ok(Access::ReadWrite),
        (false, true, _) => Ok(Access::ReadExecute),
        (false, false, true) => Ok(Access::Read),
        (false, false, false) => Ok(Access::None),
    }
}

/// `mmap(addr, length, prot, flags, fd, offset)`.
pub fn mmap(args: SyscallArgs) -> SysResult {
    let addr: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    let prot: u32 = args.get(2)?;
    let flags: u32 = args.get(3)?;
    let offset: usize = args.get(5)?;
    let access = access(prot)?;
    let kind = flags & (MAP_SHARED | MAP_PRIVATE);
    if kind == 0 || kind == (MAP_SHARED | MAP_PRIVATE) || len == 0 {
        return Err(Errno::EINVAL);
    }
    if flags
        & !(MAP_SHARED
            | MAP_PRIVATE
            | MAP_FIXED
            | MAP_ANONYMOUS
            | MAP_FIXED_NOREPLACE
            | MAP_IGNORED)
        != 0
    {
        return Err(Errno::EOPNOTSUPP);
    }
    if !offset.is_multiple_of(unikernel_hal::PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    if flags & MAP_ANONYMOUS != 0 {
        // MAP_SHARED|MAP_ANONYMOUS is private memory too, with one process and no fork.
        return place(addr, len, access, flags, &[]);
    }
    let fd: Fd = args.get(4)?;
    // The file offset is an off_t: the last byte mapped must fit one (EOVERFLOW).
    offset
        .checked_add(len)
        .filter(|&end| end <= i64::MAX as usize)
        .ok_or(Errno::EOVERFLOW)?;
    let shared_write = kind == MAP_SHARED && prot & PROT_WRITE != 0;
    // The VFS lock is held while the memory is taken and filled (VFS, then memory:
    // the documented lock order).
    vfs::with(|vfs| {
        let file = vfs.map_contents(fd.0, shared_write)?;
        let from_offset = file.get(offset..).unwrap_or_default();
        place(
            addr,
            len,
            access,
            flags,
            &from_offset[..from_offset.len().min(len)],
        )
    })
}

/// Maps `len` bytes starting with `contents` where `flags` ask for.
fn place(addr: UserAddr, len: usize, access: Access, flags: u32, contents: &[u8]) -> SysResult {
    if flags & MAP_FIXED_NOREPLACE != 0 {
        memory::map_fixed(addr.0, len, access, false, contents)
    } else if flags & MAP_FIXED != 0 {
        memory::map_fixed(addr.0, len, access, true, contents)
    } else {
        memory::map_anywhere(len, access, contents)
    }
}

/// `munmap(addr, length)`.
pub fn munmap(args: SyscallArgs) -> SysResult {
    let addr: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    memory::unmap(addr.0, len).map(|()| 0)
}

/// `mprotect(addr, length, prot)`.
pub fn mprotect(args: SyscallArgs) -> SysResult {
    let addr: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    let access = access(args.get(2)?)?;
    memory::protect(addr.0, len, access).map(|()| 0)
}

const MADV_DONTNEED: i32 = 4;

/// `madvise(addr, length, advice)`: `MADV_DONTNEED` zeroes (the next read must see
/// zeroes, allocators rely on that); `MADV_FREE` and every other advice are hints.
pub fn madvise(args: SyscallArgs) -> SysResult {
    let addr: UserAddr = args.get(0)?;
    let len: usize = args.get(1)?;
    let advice: i32 = args.get(2)?;
    if !addr.0.is_multiple_of(unikernel_hal::PAGE_SIZE) {
        return Err(Errno::EINVAL);
    }
    if advice == MADV_DONTNEED {
        memory::discard(addr.0, len)?;
    }
    Ok(0)
}

/// `brk(addr)`: there is no program break; libcs fall back to `mmap`.
pub fn brk(args: SyscallArgs) -> SysResult {
    let _addr: UserAddr = args.get(0)?;
    Err(Errno::ENOMEM)
}

const MREMAP_MAYMOVE: u32 = 1;

/// `mremap(old_address, old_size, new_size, flags, new_address)`: grows in place when
/// possible, else moves with `MREMAP_MAYMOVE`. `MREMAP_FIXED`/`MREMAP_DONTUNMAP` are
/// not supported (`EINVAL`).
pub fn mremap(args: SyscallArgs) -> SysResult {
    let addr: UserAddr = args.get(0)?;
    let old_len: usize = args.get(1)?;
    let new_len: usize = args.get(2)?;
    let flags: u32 = args.get(3)?;
    if flags & !MREMAP_MAYMOVE != 0 {
        return Err(Errno::EINVAL);
    }
    memory::remap(addr.0, old_len, new_len, flags & MREMAP_MAYMOVE != 0)
}
