//! Memory calls: mmap, mprotect, munmap, mremap, madvise, brk.
//!
//! Each call that changes mappings works on a fresh anonymous region of its own (made
//! just before, unmapped just after) or on addresses the program does not own (NULL,
//! low, unmapped, non-canonical, the kernel's); never on the program's code, stack,
//! heap or the arena, which would end it. A range that starts in the region either
//! stays inside it or has a length that wraps the address space (which Linux refuses
//! before changing anything); a range that ran past the region could change the
//! neighbouring mapping before failing. `mmap` with MAP_FIXED places only inside the
//! region; any mapping a call creates is unmapped. `brk` is only asked for the current
//! break or given addresses that cannot be one (the allocator owns the heap). These
//! calls run one at a time ([`SERIAL`]).

use super::Call;
use crate::args::{After, Gen, Prepared};
use crate::errno::*;
use crate::world::{KERNEL_HALF, PAGE};

const REGION: usize = 8 * PAGE;

/// Held from the making of a call's region to its unmapping: a call that unmaps or
/// moves part of its region leaves a hole, and the clean-up unmaps the whole region;
/// had another thread's mapping landed in the hole meanwhile, it would go too.
pub static SERIAL: std::sync::Mutex<()> = std::sync::Mutex::new(());
const MAP_FIXED: usize = 0x10;
const MAP_FIXED_NOREPLACE: usize = 0x10_0000;
/// Every mmap flag up to MAP_FIXED_NOREPLACE, and MAP_UNINITIALIZED.
const MAP_FLAGS: u64 = 0x1f_ff33 | 0x400_0000;

/// mmap(2)'s ERRORS, and EOPNOTSUPP, which Linux returns for MAP_SHARED_VALIDATE with
/// a flag it does not know (mm/mmap.c, since 4.15).
const MMAP: &[i32] = &[
    EACCES, EAGAIN, EBADF, EEXIST, EINVAL, ENFILE, ENODEV, ENOMEM, EOVERFLOW, EPERM, ETXTBSY,
    EOPNOTSUPP,
];
const MPROTECT: &[i32] = &[EACCES, EINVAL, ENOMEM];
const MREMAP: &[i32] = &[EAGAIN, EFAULT, EINVAL, ENOMEM];
const MADVISE: &[i32] = &[EACCES, EAGAIN, EBADF, EINVAL, EIO, ENOMEM, EPERM];

unsafe extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
}

/// A fresh read-write anonymous region of REGION bytes.
fn region() -> usize {
    // SAFETY: a new anonymous mapping at an address the kernel chooses: it replaces
    // nothing.
    let base = unsafe { mmap(std::ptr::null_mut(), REGION, 3, 0x22, -1, 0) };
    assert!(
        base as isize != -1,
        "mmap of a fuzzing region failed: {}",
        std::io::Error::last_os_error()
    );
    base as usize
}

/// An address the program does not own, for calls that change mappings: NULL and
/// low pages (only for calls that cannot map: Linux lets root map them, and NULL and
/// low pages are the bad pointers of every other call), Linux's kernel half, the
/// unikernel's kernel, non-canonical. Never [`UNMAPPED`](crate::world::UNMAPPED)
/// either, for the same reason.
fn foreign(g: &mut Gen, maps: bool) -> usize {
    match g.below(if maps { 3 } else { 5 }) {
        0 => g.pick(&KERNEL_HALF),
        1 => {
            let kernel = &g.world.kernel;
            kernel[g.rng.below(kernel.len() as u64) as usize] & !(PAGE - 1)
        }
        2 => 0x8000_0000_0000_0000,
        3 => 0,
        _ => PAGE * g.below(16) as usize,
    }
}

/// An address in `region` (sometimes misaligned) with a length that stays inside it
/// or wraps; or a foreign address with any length (`maps`: the call may create a
/// mapping there).
fn range(g: &mut Gen, region: usize, maps: bool) -> (usize, usize) {
    if g.one_in(4) {
        let len = PAGE * g.below(4) as usize + if g.one_in(4) { 1 } else { 0 };
        return (foreign(g, maps), len);
    }
    let offset = PAGE * g.below(8) as usize + if g.one_in(8) { 1 } else { 0 };
    let len = match g.below(8) {
        0 => g.pick(&[usize::MAX, usize::MAX & !(PAGE - 1)]),
        _ => g.below((REGION - offset) as u64 + 1) as usize,
    };
    (region + offset, len)
}

fn mmap_call(g: &mut Gen) -> Prepared {
    let len = match g.below(8) {
        0 => 0,
        1 => g.pick(&[usize::MAX, 1 << 47, 1 << 62]),
        _ => g.below(1 << 20) as usize,
    };
    let prot = g.flags(7);
    let mut flags = g.flags(MAP_FLAGS);
    let fd = match g.below(3) {
        0 => usize::MAX,
        1 => {
            let files = &g.world.files;
            files[g.rng.below(files.len() as u64) as usize] as usize
        }
        _ => g.fd(),
    };
    let offset = match g.below(4) {
        0 => g.below(4) as usize * PAGE,
        1 => g.offset(),
        _ => 0,
    };
    let addr = if flags & MAP_FIXED != 0 {
        // Only inside a region of ours, for at most its length.
        let region = region();
        let (addr, len) = range(g, region, true);
        if addr < region || addr >= region + REGION {
            flags &= !MAP_FIXED;
        }
        let len = len.min(region + REGION - addr.clamp(region, region + REGION));
        return Prepared::new(&[addr, len, prot, flags, fd, offset])
            .then(After::UnmapRegion(region, REGION, len));
    } else if g.one_in(2) && flags & MAP_FIXED_NOREPLACE == 0 {
        0
    } else {
        foreign(g, true)
    };
    Prepared::new(&[addr, len, prot, flags, fd, offset]).then(After::UnmapResult(len))
}

fn mremap_call(g: &mut Gen) -> Prepared {
    let region = region();
    let (old, old_len) = range(g, region, false);
    let flags = g.flags(7);
    let (new_addr, new_len) = if flags & 2 != 0 && g.below(4) != 0 {
        // MREMAP_FIXED unmaps whatever is at the target: keep it inside the region.
        let (addr, len) = range(g, region, true);
        let room = (region + REGION).saturating_sub(addr.max(region));
        (addr, if addr >= region { len.min(room) } else { len })
    } else {
        let new_len = match g.below(6) {
            0 => g.pick(&[usize::MAX, 1 << 47]),
            1 => 0,
            _ => g.below(1 << 20) as usize,
        };
        (foreign(g, true), new_len)
    };
    Prepared::new(&[old, old_len, new_len, flags, new_addr])
        .then(After::UnmapRegion(region, REGION, new_len))
}

/// madvise advice: NORMAL, RANDOM, SEQUENTIAL, WILLNEED, DONTNEED, FREE, DONTFORK,
/// DOFORK, MERGEABLE, HUGEPAGE, COLD, PAGEOUT and unknown values; not HWPOISON or
/// SOFT_OFFLINE, which (as root) take pages away from the program.
const ADVICE: [usize; 14] = [0, 1, 2, 3, 4, 8, 10, 11, 12, 14, 20, 21, 999, usize::MAX];

pub const CALLS: &[Call] = &[
    Call {
        name: "mmap",
        number: 9,
        errnos: &[MMAP],
        make: mmap_call,
    },
    Call {
        name: "mprotect",
        number: 10,
        errnos: &[MPROTECT],
        make: |g| {
            let region = region();
            let (addr, len) = range(g, region, false);
            Prepared::new(&[addr, len, g.flags(7 | 0x0300_0000)])
                .then(After::UnmapRegion(region, REGION, 0))
        },
    },
    Call {
        name: "munmap",
        number: 11,
        errnos: &[MPROTECT],
        make: |g| {
            let region = region();
            let (addr, len) = range(g, region, false);
            Prepared::new(&[addr, len]).then(After::UnmapRegion(region, REGION, 0))
        },
    },
    Call {
        name: "brk",
        number: 12,
        errnos: &[&[ENOMEM]],
        make: |g| {
            let addr = match g.below(3) {
                0 => 0,
                1 => g.pick(&KERNEL_HALF),
                _ => 1 + g.below(PAGE as u64) as usize,
            };
            Prepared::new(&[addr])
        },
    },
    Call {
        name: "mremap",
        number: 25,
        errnos: &[MREMAP],
        make: mremap_call,
    },
    Call {
        name: "madvise",
        number: 28,
        errnos: &[MADVISE],
        make: |g| {
            let region = region();
            let (addr, len) = range(g, region, false);
            Prepared::new(&[addr, len, g.pick(&ADVICE)]).then(After::UnmapRegion(region, REGION, 0))
        },
    },
];
