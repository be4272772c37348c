//! Argument generators: for each kind of argument a call takes (descriptor, buffer,
//! length, path, flags, struct), a random choice among valid values and the edge cases
//! the issue names: NULL, unmapped, kernel, non-canonical and misaligned pointers,
//! pointers whose range crosses the arena's guard page, huge lengths, closed, negative
//! and huge descriptors, unknown flag bits.
//!
//! What a call is given never lets it write outside the arena or the thread's
//! [`Private`] buffer, nor block for good (see `calls` for the rules per call).

use crate::rng::Rng;
use crate::world::{ARENA, AT_FDCWD, CLOSED_FD, UNMAPPED, World};

/// Per-thread memory for the structures the fuzzer builds (timespecs, iovecs,
/// sigactions): never handed to a call as a buffer it writes.
pub const PRIVATE_WORDS: usize = 512;

/// What the fuzzer must undo after a call so the run stays bounded.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum After {
    Nothing,
    /// The result is a new descriptor: close it.
    CloseResult,
    /// On success, two descriptors were written here (private memory): close both.
    ClosePair(usize),
    /// The generator made two descriptors for the call and wrote them here (private
    /// memory): close both, whatever the call did.
    CloseMade(usize),
    /// The result is a new mapping of this many bytes: unmap it.
    UnmapResult(usize),
    /// The call worked on a fresh mapping at `.0` of `.1` bytes: unmap it, and, if the
    /// call returned an address (mremap), that one with `.2` bytes too.
    UnmapRegion(usize, usize, usize),
}

/// A call ready to make: its six arguments and its clean-up.
#[derive(Debug, Clone, Copy)]
pub struct Prepared {
    pub args: [usize; 6],
    pub after: After,
}

impl Prepared {
    pub fn new(args: &[usize]) -> Prepared {
        let mut all = [0; 6];
        all[..args.len()].copy_from_slice(args);
        Prepared {
            args: all,
            after: After::Nothing,
        }
    }

    pub fn then(mut self, after: After) -> Prepared {
        self.after = after;
        self
    }
}

/// The generator one call uses.
#[derive(Debug)]
pub struct Gen<'a> {
    pub rng: &'a mut Rng,
    pub world: &'a World,
    private: &'a mut [u64; PRIVATE_WORDS],
    used: usize,
}

/// Lengths past any buffer: sizes that overflow `ssize_t`, wrap the address space, or
/// exceed Linux's `MAX_RW_COUNT`.
pub const HUGE: [usize; 5] = [
    usize::MAX,
    usize::MAX - 4095,
    isize::MAX as usize,
    1 << 40,
    0x7fff_f000,
];

impl<'a> Gen<'a> {
    pub fn new(rng: &'a mut Rng, world: &'a World, private: &'a mut [u64; PRIVATE_WORDS]) -> Self {
        Gen {
            rng,
            world,
            private,
            used: 0,
        }
    }

    /// Places `words` in the private buffer and returns their address.
    pub fn place(&mut self, words: &[u64]) -> usize {
        assert!(
            self.used + words.len() <= PRIVATE_WORDS,
            "private buffer full"
        );
        let start = self.used;
        self.private[start..start + words.len()].copy_from_slice(words);
        self.used += words.len();
        &self.private[start] as *const u64 as usize
    }

    pub fn below(&mut self, n: u64) -> u64 {
        self.rng.below(n)
    }

    pub fn one_in(&mut self, n: u64) -> bool {
        self.rng.one_in(n)
    }

    pub fn pick<T: Copy>(&mut self, items: &[T]) -> T {
        self.rng.pick(items)
    }

    /// A pointer the program can neither read nor write through: NULL, low memory,
    /// unmapped, the kernel's memory, non-canonical, the last bytes of the address
    /// space. (Never the read-only page: a structure read from it would be a valid one
    /// full of `a`s, such as a signal handler at 0x6161616161616161 or a timeout of
    /// ages.)
    pub fn bad_pointer(&mut self) -> usize {
        match self.below(6) {
            0 => 0,
            1 => UNMAPPED + self.below(4096) as usize,
            2 => {
                let kernel = &self.world.kernel;
                kernel[self.rng.below(kernel.len() as u64) as usize]
            }
            3 => 0x8000_0000_0000_0000,
            4 => usize::MAX - self.below(16) as usize,
            _ => 0x10 + self.below(0x1000) as usize,
        }
    }

    /// A buffer of the arena, often misaligned or ending at the guard page.
    pub fn arena_pointer(&mut self) -> usize {
        let arena = self.world.arena;
        match self.below(4) {
            0 => arena,
            1 => arena + ARENA - self.below(64) as usize,
            _ => arena + self.below(ARENA as u64) as usize,
        }
    }

    /// A pointer a call may write through (the arena), a bad one, or the read-only
    /// page.
    pub fn out_pointer(&mut self) -> usize {
        match self.below(8) {
            0 | 1 => self.bad_pointer(),
            2 => self.world.unterminated + self.below(4096) as usize,
            _ => self.arena_pointer(),
        }
    }

    /// A length: mostly small, some up to the arena, some huge.
    pub fn length(&mut self) -> usize {
        match self.below(10) {
            0 => 0,
            1 => self.pick(&HUGE),
            2 => self.below(ARENA as u64 + 8192) as usize,
            _ => self.below(300) as usize,
        }
    }

    /// A descriptor: mostly the pool's, some closed, negative or huge.
    pub fn fd(&mut self) -> usize {
        if self.below(10) < 7 {
            let pool = &self.world.pool;
            pool[self.rng.below(pool.len() as u64) as usize] as usize
        } else {
            self.bad_fd()
        }
    }

    /// A descriptor that is not open: closed, negative, past RLIMIT_NOFILE, or one
    /// with high bits set above a closed one (Linux takes descriptors as 32-bit `int`
    /// or `unsigned int` and drops the high bits, so they must not hide an open one
    /// such as stdin, whose read would wait for good).
    pub fn bad_fd(&mut self) -> usize {
        self.pick(&[
            CLOSED_FD as isize,
            -1,
            AT_FDCWD as isize,
            i32::MAX as isize,
            1024,
            (1 << 40) | CLOSED_FD as isize,
            isize::MIN | CLOSED_FD as isize,
        ]) as usize
    }

    /// A directory descriptor for `*at` calls: the scratch directory, the working
    /// directory, another pool descriptor (ENOTDIR) or a bad one.
    pub fn dirfd(&mut self) -> usize {
        match self.below(6) {
            0..=1 => self.world.dir_fd as usize,
            2..=3 => AT_FDCWD as usize,
            4 => self.fd(),
            _ => self.bad_fd(),
        }
    }

    /// A path any call may change: one inside the scratch directory (absolute or
    /// relative to it), too long, unterminated, or a bad pointer.
    pub fn path(&mut self) -> usize {
        match self.below(12) {
            0..=5 => self.pick_ptr(Pick::Scratch),
            6..=8 => self.pick_ptr(Pick::Names),
            9 => self.world.long_path.as_ptr() as usize,
            10 => self.world.unterminated + self.below(4096) as usize,
            _ => self.bad_pointer(),
        }
    }

    /// A path for calls that only look: also `/`, `/dev/null` and a missing path.
    pub fn lookup_path(&mut self) -> usize {
        if self.one_in(5) {
            self.pick_ptr(Pick::Outside)
        } else {
            self.path()
        }
    }

    fn pick_ptr(&mut self, which: Pick) -> usize {
        let list = match which {
            Pick::Scratch => &self.world.scratch,
            Pick::Names => &self.world.names,
            Pick::Outside => &self.world.outside,
        };
        list[self.rng.below(list.len() as u64) as usize].as_ptr() as usize
    }

    /// Flags: a random subset of `known` (the bits the call defines), sometimes with
    /// unknown bits or all bits set.
    pub fn flags(&mut self, known: u64) -> usize {
        match self.below(10) {
            0 => self.rng.next() as usize,
            1 => (known as usize) | (1 << self.below(32)),
            _ => (self.rng.next() & known) as usize,
        }
    }

    /// An offset into a file: small, up to 1 MiB, negative, or the largest `loff_t`
    /// (where any write fails with EFBIG: files stay small, see `main`).
    pub fn offset(&mut self) -> usize {
        match self.below(8) {
            0 => usize::MAX,
            1 => i64::MAX as usize,
            2 => self.below(1 << 20) as usize,
            _ => self.below(4096) as usize,
        }
    }

    /// A file size for truncate: below 1 MiB, or negative.
    pub fn size(&mut self) -> usize {
        match self.below(6) {
            0 => usize::MAX - self.below(4096) as usize,
            1 => i64::MIN as usize,
            2 => self.below(1 << 20) as usize,
            _ => self.below(8192) as usize,
        }
    }

    /// A buffer a call reads: the arena, a read-only page, or a bad pointer.
    pub fn in_pointer(&mut self) -> usize {
        match self.below(8) {
            0 => self.bad_pointer(),
            1 => self.world.unterminated + self.below(4096) as usize,
            _ => self.arena_pointer(),
        }
    }

    /// A private `struct timespec` of at most about a millisecond, an invalid one
    /// (negative, nanoseconds out of range), or a bad pointer other than NULL.
    pub fn short_timespec(&mut self) -> usize {
        match self.below(10) {
            // Never NULL, which means "no timeout".
            0 => self.bad_pointer().max(0x10),
            1 => self.place(&[0, 1_000_000_000]),
            2 => self.place(&[u64::MAX, 0]),
            3 => self.place(&[0, u64::MAX]),
            _ => {
                let nanoseconds = self.below(1_000_000);
                self.place(&[0, nanoseconds])
            }
        }
    }

    /// An iovec array (private) of `count` entries pointing into the arena or at bad
    /// addresses; returns its address.
    pub fn iovecs(&mut self, count: usize) -> usize {
        let mut words = Vec::with_capacity(2 * count);
        for _ in 0..count {
            let base = if self.one_in(6) {
                self.bad_pointer()
            } else {
                self.arena_pointer()
            };
            let len = if self.one_in(8) {
                self.pick(&HUGE)
            } else {
                self.below(512) as usize
            };
            words.extend([base as u64, len as u64]);
        }
        self.place(&words)
    }

    /// Bits of a signal set: random, empty, or full.
    pub fn sigset(&mut self) -> u64 {
        match self.below(3) {
            0 => 0,
            1 => u64::MAX,
            _ => self.rng.next(),
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Pick {
    Scratch,
    Names,
    Outside,
}
