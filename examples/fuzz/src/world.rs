//! What the fuzzed calls act on, set up once before the threads start and never a
//! target of their writes: the scratch arena (the only memory a call may write),
//! the descriptor pool, the scratch directory's paths, and the bad addresses.
//!
//! Everything the fuzzer builds for a call (timeouts, iovecs, `sigaction`s, paths) lives
//! outside the arena, in the thread's [`Private`] buffer or here: a call writing random
//! bytes into the arena can then never turn another thread's short timeout into an
//! endless one, or its iovec into a pointer at the heap.

use std::ffi::CString;
use std::sync::atomic::{AtomicI32, Ordering};

use crate::sources::{SOURCES, Source};
pub use crate::sys::{O_NONBLOCK, syscall};

/// Bytes of the arena a call may read or write; a PROT_NONE page on each side, so a
/// huge length at an arena pointer faults there and never reaches other memory.
pub const ARENA: usize = 64 * 1024;
pub const PAGE: usize = 4096;
/// A descriptor number nothing ever opens (below `RLIMIT_NOFILE`, 1024, on both
/// systems, and far above what the fuzzer holds open at once), so it is always closed.
pub const CLOSED_FD: i32 = 1000;
pub const AT_FDCWD: i32 = -100;
/// An address neither Linux nor the unikernel maps for this program: 16 TiB, far
/// below Linux's top-down mmap base and far above the unikernel's RAM.
pub const UNMAPPED: usize = 0x1000_0000_0000;
/// Linux's kernel half and the first non-canonical address.
pub const KERNEL_HALF: [usize; 3] = [
    0xffff_8880_0000_0000,
    0xffff_ffff_8100_0000,
    0x0000_8000_0000_0000,
];

const PROT_NONE: i32 = 0;
const PROT_READ: i32 = 1;
const PROT_READ_WRITE: i32 = 3;
const MAP_PRIVATE_ANONYMOUS: i32 = 0x22;

unsafe extern "C" {
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn mprotect(addr: *mut u8, len: usize, prot: i32) -> i32;
}

/// Anonymous memory with an inaccessible page on each side; returns the usable start.
pub fn guarded(len: usize, prot: i32) -> usize {
    // SAFETY: a fresh anonymous mapping, touched by nobody else; the guard pages are
    // made inaccessible before anyone learns the address.
    unsafe {
        let base = mmap(
            std::ptr::null_mut(),
            len + 2 * PAGE,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            -1,
            0,
        );
        assert!(base as isize != -1, "mmap of {len} bytes failed");
        assert_eq!(mprotect(base, PAGE, PROT_NONE), 0);
        assert_eq!(mprotect(base.add(PAGE + len), PAGE, PROT_NONE), 0);
        if prot != PROT_READ_WRITE {
            assert_eq!(mprotect(base.add(PAGE), len, prot), 0);
        }
        base as usize + PAGE
    }
}

/// The shared setting of a run.
#[derive(Debug)]
pub struct World {
    /// The arena's first usable byte (`ARENA` bytes, guarded).
    pub arena: usize,
    /// A read-only page of `a`s with no NUL before its guard: an unterminated path.
    pub unterminated: usize,
    /// Non-blocking descriptors of every kind the kernel has, from [`SOURCES`]: regular
    /// files, a directory, both ends of a pipe, an eventfd, an epoll instance,
    /// `/dev/null`, AF_UNIX stream pairs.
    pub pool: Vec<i32>,
    /// The pool's sockets.
    pub sockets: Vec<i32>,
    /// The pool's TCP sockets (fresh, bound, listening, connecting; none without a
    /// network).
    pub inet: Vec<i32>,
    /// The IPv4 addresses the socket calls may bind and connect to
    /// (`sources::inet_addresses`: whether this runs as the image decides them).
    pub addresses: Vec<[u8; 4]>,
    /// The regular files of the pool (kept small by the threads, see `main`).
    pub files: Vec<i32>,
    pub dir_fd: i32,
    pub epoll_fd: i32,
    /// Kernel addresses: Linux's kernel half, and `kernel=START-END` ranges the caller
    /// found in the image's symbol table.
    pub kernel: Vec<usize>,
    /// Absolute paths inside the scratch directory, which calls may create, change and
    /// remove (a few exist at the start).
    pub scratch: Vec<CString>,
    /// Names relative to the scratch directory, for `*at` calls given `dir_fd`.
    pub names: Vec<CString>,
    /// Paths outside the scratch directory, given only to calls that do not change
    /// anything: `/`, `/dev/null`, a missing one.
    pub outside: Vec<CString>,
    /// A path longer than PATH_MAX (4096).
    pub long_path: CString,
    /// The scratch directory itself.
    pub root: CString,
    pub pid: i32,
    /// The kernel thread ids of the fuzzing threads, as each records its own.
    pub tids: Vec<AtomicI32>,
}

/// Names of entries in the scratch directory: files, a directory with an entry, a
/// symbolic link, and names that never exist.
pub const NAMES: [&str; 9] = ["a", "b", "d", "d/a", "d/e", "l", "f0", "f1", "missing/x"];

/// Whether the kernel is the unikernel's: its `uname` release ends in `-unikernel`.
fn is_image() -> bool {
    let mut uts = [0u8; 6 * 65];
    // SAFETY: `uts` is a writable `struct utsname` (six 65-byte fields).
    let ok = unsafe { syscall(63, uts.as_mut_ptr()) };
    assert_eq!(ok, 0, "uname");
    let release = &uts[2 * 65..3 * 65];
    let end = release.iter().position(|&b| b == 0).unwrap_or(65);
    release[..end].ends_with(b"-unikernel")
}

impl World {
    pub fn new(root: &std::path::Path, kernel: Vec<usize>, threads: usize) -> World {
        let _ = std::fs::remove_dir_all(root);
        std::fs::create_dir_all(root.join("d")).expect("create the scratch directory");
        std::fs::write(root.join("a"), b"scratch file a").expect("create a");
        std::fs::write(root.join("d/a"), b"scratch file d/a").expect("create d/a");
        std::os::unix::fs::symlink("a", root.join("l")).expect("create l");
        let cstring = |path: std::path::PathBuf| {
            CString::new(path.into_os_string().into_encoded_bytes()).expect("no NUL in paths")
        };
        let root_c = cstring(root.to_owned());
        // Relative names resolve against the working directory: keep it in the scratch.
        std::env::set_current_dir(root).expect("enter the scratch directory");

        let kinds: Vec<(&Source, Vec<i32>)> = SOURCES
            .iter()
            .map(|source| (source, (source.open)(root)))
            .collect();
        let of = |name: &str| {
            kinds
                .iter()
                .find(|(source, _)| source.name == name)
                .map(|(_, fds)| fds.clone())
                .expect("a source of that name")
        };
        let files = of("file");
        let dir_fd = of("directory")[0];
        let epoll_fd = of("epoll")[0];
        let pool = kinds.iter().flat_map(|(_, fds)| fds.clone()).collect();
        let sockets = kinds
            .iter()
            .filter(|(source, _)| source.socket)
            .flat_map(|(_, fds)| fds.clone())
            .collect();

        let inet = of("inet stream");
        let image = is_image();

        let unterminated = guarded(PAGE, PROT_READ_WRITE);
        // SAFETY: `unterminated` is a fresh private page of PAGE writable bytes.
        unsafe {
            std::ptr::write_bytes(unterminated as *mut u8, b'a', PAGE);
            assert_eq!(mprotect(unterminated as *mut u8, PAGE, PROT_READ), 0);
        }
        let mut kernel = kernel;
        kernel.extend(KERNEL_HALF);
        World {
            arena: guarded(ARENA, PROT_READ_WRITE),
            unterminated,
            pool,
            sockets,
            inet,
            addresses: crate::sources::inet_addresses(image),
            files,
            dir_fd,
            epoll_fd,
            kernel,
            scratch: NAMES.iter().map(|name| cstring(root.join(name))).collect(),
            names: NAMES
                .iter()
                .map(|name| CString::new(*name).unwrap())
                .collect(),
            outside: ["/", "/dev/null", "/nonexistent-fuzz-path", ""]
                .iter()
                .map(|path| CString::new(*path).unwrap())
                .collect(),
            long_path: CString::new(format!("/{}", "x/".repeat(2100))).unwrap(),
            root: root_c,
            // SAFETY: getpid takes no arguments.
            pid: unsafe { syscall(39) } as i32,
            tids: (0..threads).map(|_| AtomicI32::new(0)).collect(),
        }
    }

    /// A thread id of one of the fuzzing threads (0 until that thread has started).
    pub fn tid(&self, index: usize) -> i32 {
        self.tids[index % self.tids.len()].load(Ordering::Relaxed)
    }
}
