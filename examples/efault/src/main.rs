//! System calls given buffers the program does not own must fail with `EFAULT` and
//! change nothing.
//!
//! Every call goes through libc's `syscall` (not glibc's wrappers, which may touch the
//! buffer themselves, as the vDSO's `clock_gettime` does). The targets:
//!
//! - memory the program owns (a stack array, a heap buffer, a static): the calls work;
//! - null, an unmapped address, a range that wraps around the address space, a page
//!   the program unmapped again, read-only data (for the calls that write): `EFAULT`,
//!   natively and in the unikernel alike;
//! - `NAME=ADDRESS` arguments (hexadecimal): addresses of the kernel's own memory in
//!   the unikernel image (its statics, stacks and page tables), which the test finds in
//!   the image's symbol table: `EFAULT`.
//!
//! Then it does ordinary file I/O and exits 0, to show the kernel survived.

use std::ffi::{CString, c_long};
use std::io::{Read, Write};

const SYS_READ: c_long = 0;
const SYS_WRITE: c_long = 1;
const SYS_STAT: c_long = 4;
const SYS_PIPE: c_long = 22;
const SYS_PIPE2: c_long = 293;
const O_NONBLOCK: c_long = 0o4000;
const SYS_UNAME: c_long = 63;
const SYS_GETCWD: c_long = 79;
const SYS_CLOCK_GETTIME: c_long = 228;
const SYS_GETRANDOM: c_long = 318;
const CLOCK_MONOTONIC: c_long = 1;
const PROT_READ_WRITE: i32 = 0x3;
const MAP_PRIVATE_ANONYMOUS: i32 = 0x22;
/// Larger than any of the structures the calls write (`struct stat` is 144 bytes,
/// `struct utsname` 390).
const BUFFER: usize = 512;

unsafe extern "C" {
    fn syscall(number: c_long, ...) -> c_long;
    fn mmap(addr: *mut u8, len: usize, prot: i32, flags: i32, fd: i32, off: i64) -> *mut u8;
    fn munmap(addr: *mut u8, len: usize) -> i32;
}

/// A system call's result, or its errno, taken before anything else can change it.
fn checked(result: c_long) -> Result<c_long, i32> {
    if result >= 0 {
        Ok(result)
    } else {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    }
}

/// How the program prints a result: `ok`, `ok N` with `exact`, or the errno's name.
fn outcome(result: Result<c_long, i32>, exact: bool) -> String {
    match result {
        Ok(n) if exact => format!("ok {n}"),
        Ok(_) => "ok".to_owned(),
        Err(14) => "EFAULT".to_owned(),
        Err(code) => format!("errno {code}"),
    }
}

/// Descriptors the calls read from and write to: a file with data to read, and a pipe
/// whose read end is drained after each write.
struct Fds {
    file: std::fs::File,
    pipe: (i32, i32),
    path: CString,
}

impl Fds {
    fn new(dir: &std::path::Path) -> Fds {
        let path = dir.join("efault-input");
        std::fs::write(&path, [7u8; BUFFER]).expect("write the input file");
        let file = std::fs::File::open(&path).expect("open the input file");
        let mut fds = [0i32; 2];
        // SAFETY: `fds` is two writable ints, as pipe(2) wants. Non-blocking, so that
        // draining it after a write that failed does not wait.
        let result = unsafe { syscall(SYS_PIPE2, fds.as_mut_ptr(), O_NONBLOCK) };
        assert_eq!(result, 0, "pipe");
        let path = CString::new(path.into_os_string().into_encoded_bytes()).unwrap();
        Fds {
            file,
            pipe: (fds[0], fds[1]),
            path,
        }
    }

    fn rewind(&mut self) {
        use std::io::Seek;
        self.file.rewind().expect("rewind the input file");
    }

    fn drain(&self) {
        let mut sink = [0u8; BUFFER];
        // SAFETY: `sink` is writable for BUFFER bytes.
        unsafe { syscall(SYS_READ, self.pipe.0 as c_long, sink.as_mut_ptr(), BUFFER) };
    }
}

/// Each call with `addr` as the buffer it writes (`to`) or reads (`from`), printed as
/// `CALL TARGET: RESULT`.
fn probe(fds: &mut Fds, target: &str, addr: usize, writable_only: bool) {
    use std::os::fd::AsRawFd;
    let len: usize = 16;
    let file = fds.file.as_raw_fd() as c_long;
    let mut stat = [0u8; BUFFER];
    // SAFETY (all calls below): system calls given a bad buffer fail with EFAULT
    // instead of touching it; given a good one, they write at most BUFFER bytes to
    // memory the program set aside for exactly that.
    fds.rewind();
    let calls: [(&str, bool, Result<c_long, i32>); 9] = unsafe {
        [
            ("read", true, checked(syscall(SYS_READ, file, addr, len))),
            (
                "stat",
                true,
                checked(syscall(SYS_STAT, fds.path.as_ptr(), addr)),
            ),
            (
                "clock_gettime",
                true,
                checked(syscall(SYS_CLOCK_GETTIME, CLOCK_MONOTONIC, addr)),
            ),
            ("pipe", true, checked(syscall(SYS_PIPE, addr))),
            ("uname", true, checked(syscall(SYS_UNAME, addr))),
            ("getcwd", true, checked(syscall(SYS_GETCWD, addr, BUFFER))),
            (
                "getrandom",
                true,
                checked(syscall(SYS_GETRANDOM, addr, len, 0)),
            ),
            (
                "write",
                false,
                checked(syscall(SYS_WRITE, fds.pipe.1 as c_long, addr, len)),
            ),
            (
                "stat-path",
                false,
                checked(syscall(SYS_STAT, addr, stat.as_mut_ptr())),
            ),
        ]
    };
    fds.drain();
    for (call, writes, result) in calls {
        if writable_only && !writes {
            continue;
        }
        // A pipe made by a call that should have failed would leak two descriptors.
        if call == "pipe" && result.is_ok() {
            // SAFETY: the call succeeded, so `addr` holds the two new descriptors.
            let new = unsafe { std::ptr::read_unaligned(addr as *const [i32; 2]) };
            drop(owned_fd(new[0]));
            drop(owned_fd(new[1]));
        }
        // Lengths, names and times vary; only their success is compared. The path
        // `stat` reads from a good buffer is whatever the calls before left there.
        let exact = matches!(call, "stat" | "clock_gettime" | "pipe" | "uname");
        let result = match result {
            Err(code) if call == "stat-path" && code != 14 => "not a fault".to_owned(),
            result => outcome(result, exact),
        };
        println!("{call} {target}: {result}");
    }
}

fn owned_fd(fd: i32) -> std::os::fd::OwnedFd {
    use std::os::fd::FromRawFd;
    // SAFETY: `fd` was just returned by pipe(2) and is owned by nobody else.
    unsafe { std::os::fd::OwnedFd::from_raw_fd(fd) }
}

static mut APP_STATIC: [u8; BUFFER] = [0; BUFFER];
static READ_ONLY: [u8; BUFFER] = [1; BUFFER];

fn main() {
    let dir = std::env::temp_dir();
    let mut fds = Fds::new(&dir);

    // Memory the program owns: every call works.
    let mut stack = [0u8; BUFFER];
    let mut heap = vec![0u8; BUFFER];
    probe(&mut fds, "stack", stack.as_mut_ptr() as usize, false);
    probe(&mut fds, "heap", heap.as_mut_ptr() as usize, false);
    probe(&mut fds, "static", (&raw mut APP_STATIC) as usize, false);

    // Memory it does not own, or not for writing.
    probe(&mut fds, "null", 0, false);
    probe(&mut fds, "unmapped", 0x7000_0000_0000, false);
    probe(&mut fds, "wrapping", usize::MAX - 7, false);
    probe(&mut fds, "read-only", READ_ONLY.as_ptr() as usize, true);
    // SAFETY: a fresh anonymous page, unmapped again at once; only its address is used.
    let unmapped = unsafe {
        let page = mmap(
            std::ptr::null_mut(),
            4096,
            PROT_READ_WRITE,
            MAP_PRIVATE_ANONYMOUS,
            -1,
            0,
        );
        assert!(!page.is_null() && page as isize != -1, "mmap");
        assert_eq!(munmap(page, 4096), 0, "munmap");
        page as usize
    };
    probe(&mut fds, "munmapped", unmapped, false);

    // The kernel's memory, named on the command line (the unikernel test only).
    for arg in std::env::args().skip(1) {
        let (name, address) = arg.split_once('=').expect("NAME=ADDRESS");
        let address = usize::from_str_radix(address.trim_start_matches("0x"), 16)
            .expect("a hexadecimal address");
        probe(&mut fds, name, address, false);
    }

    // The kernel still works: a file written, read back and removed.
    let path = dir.join("efault-after");
    let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
    std::fs::File::create(&path)
        .and_then(|mut f| f.write_all(&data))
        .expect("write after the faults");
    let mut back = Vec::new();
    std::fs::File::open(&path)
        .and_then(|mut f| f.read_to_end(&mut back))
        .expect("read after the faults");
    std::fs::remove_file(&path).expect("remove after the faults");
    std::fs::remove_file(dir.join("efault-input")).expect("remove the input file");
    println!(
        "file I/O after the faults: {}",
        if back == data { "ok" } else { "CORRUPT" }
    );
    // SAFETY: read-only access to the static, after every call that wrote it.
    let touched = unsafe { (*(&raw const APP_STATIC)).iter().any(|&b| b != 0) };
    println!("the static was written: {touched}");
}
