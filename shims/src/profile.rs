//! The training profile of a hosted `--profile-generate` build (feature `profile`):
//! LLVM's raw profile written to a file when the process ends by `exit`, `_exit` or
//! `abort` (a Rust panic that aborts), as compiler-rt's own runtime would at `atexit`.
//!
//! The file is `$LLVM_PROFILE_FILE` (with `%p` replaced by the process id) or
//! `default.profraw` in the working directory, as with rustc's `-Cprofile-generate`.
//! Only the runtime's writer core is used (`lprofWriteData` with a callback): its
//! file path needs stdio, which the shim does not have. A process killed by a signal
//! writes nothing (the same as compiler-rt); images write at every end (the kernel's
//! `profile` module).

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::syscall::{nr, syscall0, syscall1, syscall3, syscall4};

#[repr(C)]
struct IoVec {
    data: *const c_void,
    elm_size: usize,
    num_elm: usize,
    use_zero_padding: c_int,
}

#[repr(C)]
struct Writer {
    write: unsafe extern "C" fn(*mut Writer, *mut IoVec, u32) -> u32,
    context: *mut c_void,
}

unsafe extern "C" {
    fn __llvm_profile_begin_data() -> *const u8;
    fn __llvm_profile_end_data() -> *const u8;
    fn lprofWriteData(writer: *mut Writer, value_data: *mut c_void, skip_names: c_int) -> c_int;
}

/// Bytes gathered before one `write(2)`.
struct FileSink {
    fd: usize,
    buffer: [u8; 4096],
    used: usize,
    failed: bool,
}

impl FileSink {
    fn push(&mut self, mut bytes: &[u8]) {
        while !bytes.is_empty() {
            let n = bytes.len().min(self.buffer.len() - self.used);
            self.buffer[self.used..self.used + n].copy_from_slice(&bytes[..n]);
            self.used += n;
            bytes = &bytes[n..];
            if self.used == self.buffer.len() {
                self.flush();
            }
        }
    }

    fn flush(&mut self) {
        let mut done = 0;
        while done < self.used {
            // SAFETY: writes initialized bytes of our own buffer.
            let n = unsafe {
                syscall3(
                    nr::WRITE,
                    self.fd,
                    self.buffer[done..].as_ptr() as usize,
                    self.used - done,
                )
            } as isize;
            if n <= 0 {
                self.failed = true;
                break;
            }
            done += n as usize;
        }
        self.used = 0;
    }
}

static WRITTEN: AtomicBool = AtomicBool::new(false);

/// Writes the profile file, once per process.
pub fn write_at_exit() {
    // `--profile-use` builds have this feature too (the same crate, so the same
    // symbol names as in training) but no counters: they write nothing.
    // SAFETY: both read the bounds of the records section the linker defined.
    let instrumented = unsafe { __llvm_profile_begin_data() != __llvm_profile_end_data() };
    if WRITTEN.swap(true, Ordering::Relaxed) || !instrumented {
        return;
    }
    let mut path = [0u8; 4096];
    let Some(len) = profile_path(&mut path) else {
        return;
    };
    path[len] = 0;
    // O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, mode 0644; AT_FDCWD = -100.
    let flags = 0o1 | 0o100 | 0o1000 | 0o2000000;
    // SAFETY: `path` is NUL-terminated.
    let fd = unsafe {
        syscall4(
            nr::OPENAT,
            -100isize as usize,
            path.as_ptr() as usize,
            flags,
            0o644,
        )
    } as isize;
    if fd < 0 {
        return;
    }
    let mut sink = FileSink {
        fd: fd as usize,
        buffer: [0; 4096],
        used: 0,
        failed: false,
    };
    let mut writer = Writer {
        write: write_pieces,
        context: (&raw mut sink).cast(),
    };
    // SAFETY: `writer` and `sink` live across the call; no value profile data.
    let status = unsafe { lprofWriteData(&mut writer, core::ptr::null_mut(), 0) };
    sink.flush();
    // SAFETY: closes the descriptor opened above.
    unsafe { syscall1(nr::CLOSE, sink.fd) };
    if status != 0 || sink.failed {
        let message = b"unikernel-shim: the profile was not written whole\n";
        // SAFETY: writes a static message to stderr.
        unsafe { syscall3(nr::WRITE, 2, message.as_ptr() as usize, message.len()) };
    }
}

/// `$LLVM_PROFILE_FILE` with `%p` expanded, or `default.profraw`, into `out`; its
/// length (leaving room for the NUL).
fn profile_path(out: &mut [u8]) -> Option<usize> {
    // SAFETY: a NUL-terminated name; getenv returns NULL or a NUL-terminated string.
    let value = unsafe { crate::env::getenv(c"LLVM_PROFILE_FILE".as_ptr()) };
    let template: &[u8] = if value.is_null() {
        b"default.profraw"
    } else {
        // SAFETY: non-NULL result of getenv.
        unsafe { core::ffi::CStr::from_ptr(value as *const c_char) }.to_bytes()
    };
    let mut len = 0;
    let mut push = |bytes: &[u8]| -> Option<()> {
        let end = len + bytes.len();
        (end < out.len()).then_some(())?;
        out[len..end].copy_from_slice(bytes);
        len = end;
        Some(())
    };
    let mut rest = template;
    while let Some(at) = rest.windows(2).position(|w| w == b"%p") {
        push(&rest[..at])?;
        // SAFETY: getpid takes no arguments and cannot fail.
        let pid = unsafe { syscall0(nr::GETPID) };
        let mut digits = [0u8; 20];
        let mut n = pid;
        let mut i = digits.len();
        loop {
            i -= 1;
            digits[i] = b'0' + (n % 10) as u8;
            n /= 10;
            if n == 0 {
                break;
            }
        }
        push(&digits[i..])?;
        rest = &rest[at + 2..];
    }
    push(rest)?;
    Some(len)
}

unsafe extern "C" fn write_pieces(writer: *mut Writer, iovecs: *mut IoVec, count: u32) -> u32 {
    // SAFETY: the runtime passes back the writer `write_at_exit` gave it, whose context
    // is the live `FileSink`, and `count` valid vectors.
    let (sink, iovecs) = unsafe {
        (
            &mut *(*writer).context.cast::<FileSink>(),
            core::slice::from_raw_parts(iovecs, count as usize),
        )
    };
    for iovec in iovecs {
        let len = iovec.elm_size * iovec.num_elm;
        if iovec.use_zero_padding != 0 || iovec.data.is_null() {
            for _ in 0..len {
                sink.push(&[0]);
            }
        } else {
            // SAFETY: the runtime's vector names `len` readable bytes.
            sink.push(unsafe { core::slice::from_raw_parts(iovec.data.cast::<u8>(), len) });
        }
    }
    0
}
