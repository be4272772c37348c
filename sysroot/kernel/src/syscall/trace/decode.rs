//! How a traced system call's arguments and result are written: strace's notation
//! (strace(1) with its defaults, `-s 32`), so a trace of the image reads, and diffs,
//! like `strace -f` of the same program on Linux.
//!
//! Each call the table knows has a signature, one [`Arg`] per argument strace prints;
//! any other call prints its six raw registers in hex. Buffers the call fills (`read`)
//! are printed after the call, with the length it returned; buffers it reads (`write`)
//! and paths as they are. Memory that cannot be read prints as its address, as strace
//! does for a bad pointer.

use core::fmt::Write;

use unikernel_abi::Sysno;
use unikernel_hal::uaccess;

use super::Line;

/// strace's default string limit (`-s 32`): longer buffers print 32 bytes, then `...`.
const STRING_LIMIT: usize = 32;
/// Paths print whole, as strace prints them, up to `PATH_MAX`.
const PATH_LIMIT: usize = 4096;
const AT_FDCWD: i32 = -100;

/// How one argument prints.
#[derive(Clone, Copy)]
enum Arg {
    /// A signed int (`int` arguments: fds are ints too).
    Int,
    /// A signed long (offsets).
    Long,
    /// An unsigned long (sizes).
    Ulong,
    /// An address: `NULL` or hex.
    Ptr,
    /// A flag word strace prints in hex.
    Hex,
    /// A directory fd of the `*at` calls: `AT_FDCWD` or the number.
    DirFd,
    /// A NUL-terminated path.
    Path,
    /// A buffer the call reads, its length in argument `n`.
    InBuf(usize),
    /// A buffer the call fills, as many bytes as it returned.
    OutBuf,
    /// An `iovec` array the call reads, its length in argument `n`.
    InIov(usize),
    /// `open` flags (`O_*`); the mode that follows prints only with `O_CREAT`/`O_TMPFILE`.
    OpenFlags,
    /// A file mode in octal.
    Mode,
    /// An `lseek` whence.
    Whence,
    /// `AT_*` flags.
    AtFlags,
    /// `mmap`/`mprotect` protection (`PROT_*`).
    Prot,
    /// `mmap` flags (`MAP_*`).
    MapFlags,
}

use Arg::*;

/// What strace prints for call `nr`, or `None` for the raw registers.
fn signature(nr: usize) -> Option<&'static [Arg]> {
    let sysno = Sysno::from_number(nr)?;
    Some(match sysno {
        Sysno::read => &[Int, OutBuf, Ulong],
        Sysno::write => &[Int, InBuf(2), Ulong],
        Sysno::pread64 => &[Int, OutBuf, Ulong, Long],
        Sysno::pwrite64 => &[Int, InBuf(2), Ulong, Long],
        Sysno::writev => &[Int, InIov(2), Int],
        Sysno::open => &[Path, OpenFlags, Mode],
        Sysno::openat => &[DirFd, Path, OpenFlags, Mode],
        Sysno::close | Sysno::fsync | Sysno::fdatasync | Sysno::dup | Sysno::fchdir => &[Int],
        Sysno::dup2 => &[Int, Int],
        Sysno::lseek => &[Int, Long, Whence],
        Sysno::stat | Sysno::lstat => &[Path, Ptr],
        Sysno::fstat => &[Int, Ptr],
        Sysno::newfstatat => &[DirFd, Path, Ptr, AtFlags],
        Sysno::statx => &[DirFd, Path, AtFlags, Hex, Ptr],
        Sysno::access => &[Path, Mode],
        Sysno::faccessat | Sysno::faccessat2 => &[DirFd, Path, Mode, AtFlags],
        Sysno::mkdir => &[Path, Mode],
        Sysno::mkdirat => &[DirFd, Path, Mode],
        Sysno::unlink | Sysno::rmdir | Sysno::chdir => &[Path],
        Sysno::unlinkat => &[DirFd, Path, AtFlags],
        Sysno::rename => &[Path, Path],
        Sysno::renameat => &[DirFd, Path, DirFd, Path],
        Sysno::renameat2 => &[DirFd, Path, DirFd, Path, Hex],
        Sysno::truncate => &[Path, Long],
        Sysno::ftruncate => &[Int, Long],
        Sysno::getdents64 => &[Int, Ptr, Ulong],
        Sysno::getcwd => &[Ptr, Ulong],
        Sysno::ioctl => &[Int, Hex, Ptr],
        Sysno::fcntl => &[Int, Int, Hex],
        Sysno::mmap => &[Ptr, Ulong, Prot, MapFlags, Int, Long],
        Sysno::mprotect => &[Ptr, Ulong, Prot],
        Sysno::munmap => &[Ptr, Ulong],
        Sysno::poll => &[Ptr, Ulong, Int],
        Sysno::brk => &[Ptr],
        Sysno::exit | Sysno::exit_group => &[Int],
        Sysno::getpid | Sysno::gettid | Sysno::getppid | Sysno::sched_yield => &[],
        Sysno::getrandom => &[Ptr, Ulong, Hex],
        Sysno::futex => &[Ptr, Int, Int, Ptr, Ptr, Int],
        Sysno::clock_gettime => &[Int, Ptr],
        Sysno::nanosleep => &[Ptr, Ptr],
        _ => return None,
    })
}

/// Whether the call's result is an address (printed in hex, as strace does).
fn returns_address(nr: usize) -> bool {
    matches!(
        Sysno::from_number(nr),
        Some(Sysno::mmap | Sysno::brk | Sysno::mremap)
    )
}

/// `NAME(ARGS)`: the call as strace prints it, with `result` (the raw return value)
/// for the buffers the call filled (`None` before the call returns).
pub fn call(line: &mut Line, nr: usize, args: &[usize; 6], result: Option<isize>) {
    match unikernel_abi::syscall::name(nr) {
        Some(name) => line.push_str(name),
        None => {
            let _ = write!(line, "syscall_{nr:#x}");
        }
    }
    line.push('(');
    match signature(nr) {
        Some(signature) => {
            let mut first = true;
            for (index, arg) in signature.iter().enumerate() {
                // The mode of open/openat only with O_CREAT or O_TMPFILE, as strace.
                if matches!(arg, Mode)
                    && index > 0
                    && matches!(signature[index - 1], OpenFlags)
                    && args[index - 1] & O_CREAT == 0
                    && args[index - 1] & O_TMPFILE != O_TMPFILE
                {
                    continue;
                }
                if !first {
                    line.push_str(", ");
                }
                first = false;
                argument(line, *arg, args, index, result);
            }
        }
        None => {
            for (index, value) in args.iter().enumerate() {
                if index > 0 {
                    line.push_str(", ");
                }
                let _ = write!(line, "{value:#x}");
            }
        }
    }
    line.push(')');
}

/// ` = VALUE` or ` = -1 ENAME (message)`.
pub fn result(line: &mut Line, nr: usize, value: isize) {
    if (-4095..0).contains(&value) {
        let errno = unikernel_abi::Errno((-value) as i32);
        let name = errno.name().unwrap_or("E?");
        let message = errno
            .message()
            .and_then(|m| m.to_str().ok())
            .unwrap_or("Unknown error");
        let _ = write!(line, " = -1 {name} ({message})");
    } else if returns_address(nr) {
        let _ = write!(line, " = {:#x}", value as usize);
    } else {
        let _ = write!(line, " = {value}");
    }
}

fn argument(line: &mut Line, arg: Arg, args: &[usize; 6], index: usize, result: Option<isize>) {
    let raw = args[index];
    match arg {
        Int => {
            let _ = write!(line, "{}", raw as u32 as i32);
        }
        Long => {
            let _ = write!(line, "{}", raw as isize);
        }
        Ulong => {
            let _ = write!(line, "{raw}");
        }
        Ptr => pointer(line, raw),
        Hex => {
            let _ = write!(line, "{raw:#x}");
        }
        DirFd => match raw as u32 as i32 {
            AT_FDCWD => line.push_str("AT_FDCWD"),
            fd => {
                let _ = write!(line, "{fd}");
            }
        },
        Path => path(line, raw),
        InBuf(len) => buffer(line, raw, args[len]),
        OutBuf => match result {
            Some(n) if n >= 0 => buffer(line, raw, n as usize),
            _ => pointer(line, raw),
        },
        InIov(count) => iovec(line, raw, args[count]),
        OpenFlags => open_flags(line, raw),
        Mode => {
            let _ = write!(line, "0{:03o}", raw as u32);
        }
        Prot => flags(line, raw, PROT_FLAGS, false, "PROT_NONE"),
        MapFlags => {
            line.push_str(match raw & 0xf {
                0x1 => "MAP_SHARED",
                0x2 => "MAP_PRIVATE",
                0x3 => "MAP_SHARED_VALIDATE",
                _ => "0",
            });
            flags(line, raw & !0xf, MAP_FLAGS, true, "");
        }
        Whence => match raw {
            0 => line.push_str("SEEK_SET"),
            1 => line.push_str("SEEK_CUR"),
            2 => line.push_str("SEEK_END"),
            3 => line.push_str("SEEK_DATA"),
            4 => line.push_str("SEEK_HOLE"),
            _ => {
                let _ = write!(line, "{raw:#x} /* SEEK_??? */");
            }
        },
        AtFlags => flags(line, raw as u32 as usize, AT_FLAGS, false, "0"),
    }
}

fn pointer(line: &mut Line, raw: usize) {
    if raw == 0 {
        line.push_str("NULL");
    } else {
        let _ = write!(line, "{raw:#x}");
    }
}

/// A NUL-terminated string, whole up to `PATH_LIMIT`.
fn path(line: &mut Line, address: usize) {
    if address == 0 {
        return line.push_str("NULL");
    }
    let mut bytes = [0u8; 256];
    let mut at = address;
    let mut total = 0;
    line.push('"');
    while total < PATH_LIMIT {
        // Up to the end of the page only: the next page may be unmapped.
        let chunk = (4096 - at % 4096).min(bytes.len());
        if uaccess::copy_from(at, &mut bytes[..chunk]).is_err() {
            break;
        }
        let end = bytes[..chunk].iter().position(|&b| b == 0);
        let part = &bytes[..end.unwrap_or(chunk)];
        quote_into(line, part, part.len() == chunk, None);
        total += part.len();
        if end.is_some() {
            line.push('"');
            return;
        }
        at += chunk;
    }
    if total == 0 {
        // Nothing readable: the address, as strace prints a bad pointer.
        line.pop();
        let _ = write!(line, "{address:#x}");
    } else {
        line.push_str("\"...");
    }
}

/// `len` bytes at `address`, the first [`STRING_LIMIT`] quoted, then `...` if cut.
fn buffer(line: &mut Line, address: usize, len: usize) {
    let shown = len.min(STRING_LIMIT);
    let mut bytes = [0u8; STRING_LIMIT + 1];
    // One byte past what is shown decides how a trailing octal escape is written.
    let peek = (len > shown) as usize;
    if uaccess::copy_from(address, &mut bytes[..shown + peek]).is_err() {
        return pointer(line, address);
    }
    line.push('"');
    quote_into(
        line,
        &bytes[..shown],
        false,
        bytes.get(shown).copied().filter(|_| peek == 1),
    );
    line.push('"');
    if len > shown {
        line.push_str("...");
    }
}

/// `[{iov_base="...", iov_len=N}, ...]`: the first `count` entries, strace's way.
fn iovec(line: &mut Line, address: usize, count: usize) {
    line.push('[');
    for i in 0..count.min(STRING_LIMIT) {
        let entry = address.wrapping_add(i * 16);
        let (Ok(base), Ok(len)) = (uaccess::read_u64(entry), uaccess::read_u64(entry + 8)) else {
            line.push_str("...");
            break;
        };
        if i > 0 {
            line.push_str(", ");
        }
        line.push_str("{iov_base=");
        buffer(line, base as usize, len as usize);
        let _ = write!(line, ", iov_len={len}}}");
    }
    line.push(']');
}

/// Appends `bytes` with strace's escapes: C escapes for `\t\n\v\f\r"\\`, printable
/// ASCII as is, anything else in octal, three digits when a digit follows (`next`:
/// the byte after the last, if printed after it).
fn quote_into(line: &mut Line, bytes: &[u8], continues: bool, next: Option<u8>) {
    for (i, &b) in bytes.iter().enumerate() {
        match b {
            b'"' => line.push_str("\\\""),
            b'\\' => line.push_str("\\\\"),
            b'\t' => line.push_str("\\t"),
            b'\n' => line.push_str("\\n"),
            0x0b => line.push_str("\\v"),
            0x0c => line.push_str("\\f"),
            b'\r' => line.push_str("\\r"),
            0x20..=0x7e => line.push(b as char),
            _ => {
                let following = bytes.get(i + 1).copied().or(next);
                let digit_follows = following.is_some_and(|c| c.is_ascii_digit())
                    || (continues && i + 1 == bytes.len());
                if digit_follows {
                    let _ = write!(line, "\\{b:03o}");
                } else {
                    let _ = write!(line, "\\{b:o}");
                }
            }
        }
    }
}

const O_ACCMODE: usize = 0o3;
const O_CREAT: usize = 0o100;
const O_TMPFILE: usize = 0o20200000;

/// strace's order of the open flags after the access mode (its `open_mode_flags`).
const OPEN_FLAGS: &[(usize, &str)] = &[
    (0o100, "O_CREAT"),
    (0o200, "O_EXCL"),
    (0o400, "O_NOCTTY"),
    (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"),
    (0o4000, "O_NONBLOCK"),
    // O_SYNC is __O_SYNC|O_DSYNC: matched whole before O_DSYNC alone.
    (0o4010000, "O_SYNC"),
    (0o10000, "O_DSYNC"),
    (0o20000, "O_ASYNC"),
    (0o40000, "O_DIRECT"),
    (0o100000, "O_LARGEFILE"),
    (0o400000, "O_NOFOLLOW"),
    (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"),
    (0o10000000, "O_PATH"),
    (O_TMPFILE, "O_TMPFILE"),
    (0o200000, "O_DIRECTORY"),
];

const PROT_FLAGS: &[(usize, &str)] = &[(0x1, "PROT_READ"), (0x2, "PROT_WRITE"), (0x4, "PROT_EXEC")];

/// strace's order of the `mmap` flags after the mapping type.
const MAP_FLAGS: &[(usize, &str)] = &[
    (0x10, "MAP_FIXED"),
    (0x20, "MAP_ANONYMOUS"),
    (0x40, "MAP_32BIT"),
    (0x100, "MAP_GROWSDOWN"),
    (0x800, "MAP_DENYWRITE"),
    (0x1000, "MAP_EXECUTABLE"),
    (0x2000, "MAP_LOCKED"),
    (0x4000, "MAP_NORESERVE"),
    (0x8000, "MAP_POPULATE"),
    (0x10000, "MAP_NONBLOCK"),
    (0x20000, "MAP_STACK"),
    (0x40000, "MAP_HUGETLB"),
    (0x80000, "MAP_SYNC"),
    (0x100000, "MAP_FIXED_NOREPLACE"),
];

const AT_FLAGS: &[(usize, &str)] = &[
    (0x100, "AT_SYMLINK_NOFOLLOW"),
    (0x200, "AT_REMOVEDIR"),
    (0x400, "AT_SYMLINK_FOLLOW"),
    (0x800, "AT_NO_AUTOMOUNT"),
    (0x1000, "AT_EMPTY_PATH"),
    (0x2000, "AT_STATX_FORCE_SYNC"),
    (0x4000, "AT_STATX_DONT_SYNC"),
];

fn open_flags(line: &mut Line, raw: usize) {
    let raw = raw as u32 as usize;
    line.push_str(match raw & O_ACCMODE {
        0 => "O_RDONLY",
        1 => "O_WRONLY",
        2 => "O_RDWR",
        _ => "O_ACCMODE",
    });
    flags(line, raw & !O_ACCMODE, OPEN_FLAGS, true, "");
}

/// The names of `raw`'s bits in `table` order, `|`-joined (after something already
/// printed if `after`), then what is left in hex; `none` for no bits at all.
fn flags(line: &mut Line, raw: usize, table: &[(usize, &str)], after: bool, none: &str) {
    let mut rest = raw;
    let mut any = after;
    for &(bits, name) in table {
        if rest & bits == bits {
            if any {
                line.push('|');
            }
            line.push_str(name);
            rest &= !bits;
            any = true;
        }
    }
    if rest != 0 {
        if any {
            line.push('|');
        }
        let _ = write!(line, "{rest:#x}");
    } else if !any {
        line.push_str(none);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(f: impl FnOnce(&mut Line)) -> alloc::string::String {
        let mut line = Line::new();
        f(&mut line);
        alloc::string::String::from_utf8(line.finish().to_vec()).unwrap()
    }

    #[test]
    fn strings_are_escaped_as_strace_does() {
        let quoted = text(|l| quote_into(l, b"a\"\\\t\n\x7f\x001\x01x", false, None));
        assert_eq!(quoted, "a\\\"\\\\\\t\\n\\177\\0001\\1x\n");
        // A cut escape whose next byte is a digit takes three digits.
        assert_eq!(
            text(|l| quote_into(l, b"\x02", false, Some(b'7'))),
            "\\002\n"
        );
    }

    #[test]
    fn flags_in_straces_order() {
        assert_eq!(
            text(|l| open_flags(l, 0o2001101)),
            "O_WRONLY|O_CREAT|O_TRUNC|O_CLOEXEC\n"
        );
        assert_eq!(
            text(|l| open_flags(l, 0o2200000)),
            "O_RDONLY|O_CLOEXEC|O_DIRECTORY\n"
        );
        assert_eq!(
            text(|l| flags(l, 0x3 | 0x80, PROT_FLAGS, false, "PROT_NONE")),
            "PROT_READ|PROT_WRITE|0x80\n"
        );
        assert_eq!(
            text(|l| flags(l, 0, PROT_FLAGS, false, "PROT_NONE")),
            "PROT_NONE\n"
        );
    }
}
