//! `mprotect` and `mmap` never grant more access than asked, even when memory runs out.
//!
//! Fills the machine's free memory with anonymous mappings, then asks for protections
//! that need a new page table (a read-only page inside a 2 MiB read-write block makes
//! the kernel split the block): the calls must either work, which `read(2)` into the
//! page then shows (`EFAULT`: not writable), or fail with `ENOMEM` and leave the page
//! exactly as it was (still writable). Prints what happened; exits 0 when every call
//! kept the rule and at least one ran out of memory, 1 otherwise.
//!
//! Meant for the unikernel, whose memory is physical (`cargo unikernel run --memory
//! 64`); on Linux, overcommit lets the filling loop take far more than RAM, so do not
//! run it natively.

use std::fs::File;
use std::os::fd::AsRawFd;

const PAGE: usize = 4096;
const BLOCK: usize = 2 << 20;

fn errno() -> i32 {
    std::io::Error::last_os_error().raw_os_error().unwrap_or(0)
}

fn map(len: usize, prot: i32) -> Result<*mut u8, i32> {
    // SAFETY: an anonymous private mapping at an address the kernel chooses.
    let p = unsafe {
        libc::mmap(
            std::ptr::null_mut(),
            len,
            prot,
            libc::MAP_PRIVATE | libc::MAP_ANONYMOUS,
            -1,
            0,
        )
    };
    if p == libc::MAP_FAILED { Err(errno()) } else { Ok(p.cast()) }
}

/// Whether the kernel may write to `page` on our behalf (a `read` into it).
fn writable(zero: &File, page: *mut u8) -> bool {
    // SAFETY: `page` is one of our mappings; a read-only one makes `read` fail with
    // EFAULT instead of writing.
    unsafe { libc::read(zero.as_raw_fd(), page.cast(), 1) == 1 }
}

fn main() {
    let zero = File::open("/dev/zero").expect("open /dev/zero");
    // Everything printed or stored later is allocated before memory runs out.
    println!("filling memory");
    let mut big = Vec::with_capacity(1 << 16);
    let mut len = 64 << 20;
    while len >= PAGE {
        match map(len, libc::PROT_READ | libc::PROT_WRITE) {
            Ok(p) if big.len() < big.capacity() => big.push((p, len)),
            Ok(_) => break,
            Err(_) => len /= 2,
        }
    }
    let filled = big.len();

    let (mut granted, mut refused, mut broken) = (0, 0, 0);
    // One page per 2 MiB block of every large mapping, read-only: each needs a split.
    for &(start, len) in big.iter().filter(|(_, len)| *len >= 2 * BLOCK) {
        let first = (start as usize).next_multiple_of(BLOCK);
        for block in (first..start as usize + len - BLOCK).step_by(BLOCK) {
            let page = (block + PAGE) as *mut u8;
            // SAFETY: `page` lies inside one of our mappings.
            let result = unsafe { libc::mprotect(page.cast(), PAGE, libc::PROT_READ) };
            match (result, writable(&zero, page)) {
                (0, false) => granted += 1,
                (_, true) if result != 0 && errno() == libc::ENOMEM => refused += 1,
                other => {
                    broken += 1;
                    println!("mprotect({page:p}, PROT_READ) -> {other:?}, errno {}", errno());
                }
            }
        }
    }
    println!(
        "{filled} mappings; mprotect: read-only granted {granted}, refused with ENOMEM \
         {refused}, more access than asked {broken}"
    );

    // A fresh PROT_NONE or PROT_READ page also needs a split. Give back the two
    // smallest mappings (whole, so no record is needed) and ask for those pages again.
    for &(p, len) in big.iter().rev().take(2) {
        // SAFETY: our own mappings, no longer used.
        unsafe { libc::munmap(p.cast(), len) };
    }
    let mut mmap_broken = 0;
    for prot in [libc::PROT_NONE, libc::PROT_READ] {
        match map(PAGE, prot) {
            Err(libc::ENOMEM) => {}
            Err(e) => mmap_broken += usize::from(e != libc::ENOMEM),
            Ok(p) => mmap_broken += usize::from(writable(&zero, p)),
        }
    }
    println!("mmap: more access than asked {mmap_broken}");
    let ok = broken == 0 && mmap_broken == 0 && refused > 0;
    std::process::exit(if ok { 0 } else { 1 });
}
