//! The process: its identity, its main-thread stack and how it ends.
//!
//! There is one process with one thread: pid = tid = 1, parent 0, root credentials.
//! [`build_initial_stack`] lays out the System V initial process stack (System V ABI,
//! AMD64 supplement, 3.4.1; Linux `fs/binfmt_elf.c:create_elf_tables`) that
//! `__unikernel_libc_start` receives, top down:
//!
//! ```text
//! [AT_RANDOM bytes][platform "x86_64"][argv strings][env strings] (padding)
//! sp -> argc, argv[0..argc], NULL, envp[..], NULL, auxv pairs..., AT_NULL, 0
//! ```

use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use unikernel_hal::memory::Region;
use unikernel_hal::{cpu, exit, image, tsc};

use crate::cmdline::Cmdline;
use crate::log::kdebug;
use crate::{random, time};

pub const PID: usize = 1;

/// Auxiliary vector keys (`include/uapi/linux/auxvec.h`).
mod at {
    pub const NULL: usize = 0;
    pub const PHDR: usize = 3;
    pub const PHENT: usize = 4;
    pub const PHNUM: usize = 5;
    pub const PAGESZ: usize = 6;
    pub const ENTRY: usize = 9;
    pub const UID: usize = 11;
    pub const EUID: usize = 12;
    pub const GID: usize = 13;
    pub const EGID: usize = 14;
    pub const PLATFORM: usize = 15;
    pub const HWCAP: usize = 16;
    pub const CLKTCK: usize = 17;
    pub const SECURE: usize = 23;
    pub const RANDOM: usize = 25;
    pub const HWCAP2: usize = 26;
    pub const EXECFN: usize = 31;
}

static MAIN_STACK_SIZE: AtomicUsize = AtomicUsize::new(0);

/// Size of the main thread's stack (reported as `RLIMIT_STACK`).
pub fn main_stack_size() -> usize {
    MAIN_STACK_SIZE.load(Ordering::Relaxed)
}

/// Why the initial stack could not be built.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StackError {
    /// Arguments and environment do not fit in the stack.
    TooLarge,
}

/// Writes into the stack region from the top down.
struct StackWriter<'a> {
    bytes: &'a mut [u8],
    base: usize,
    pos: usize, // offset into `bytes`
}

impl StackWriter<'_> {
    fn push_bytes(&mut self, data: &[u8]) -> Result<usize, StackError> {
        self.pos = self
            .pos
            .checked_sub(data.len())
            .ok_or(StackError::TooLarge)?;
        self.bytes[self.pos..self.pos + data.len()].copy_from_slice(data);
        Ok(self.base + self.pos)
    }

    /// Pushes `s` followed by a NUL; returns its address.
    fn push_cstr(&mut self, parts: &[&str]) -> Result<usize, StackError> {
        self.push_bytes(&[0])?;
        for part in parts.iter().rev() {
            self.push_bytes(part.as_bytes())?;
        }
        Ok(self.base + self.pos)
    }

    fn write_word(&mut self, offset: usize, value: usize) {
        self.bytes[offset..offset + 8].copy_from_slice(&value.to_ne_bytes());
    }
}

/// Builds the initial process stack in `stack`; returns the initial stack pointer
/// (16-byte aligned, pointing at `argc`).
pub fn build_initial_stack(stack: &mut Region, cmdline: &Cmdline<'_>) -> Result<usize, StackError> {
    let base = stack.start();
    MAIN_STACK_SIZE.store(stack.len(), Ordering::Relaxed);
    let bytes = stack.as_mut_slice().ok_or(StackError::TooLarge)?;
    let top = bytes.len();
    let mut w = StackWriter {
        bytes,
        base,
        pos: top,
    };

    let mut random_bytes = [0u8; 16];
    random::fill(&mut random_bytes);
    let at_random = w.push_bytes(&random_bytes)?;
    let platform = w.push_cstr(&["x86_64"])?;

    let args = cmdline.args.as_slice();
    let env = cmdline.env.as_slice();
    let mut arg_addrs = [0usize; crate::cmdline::MAX_ARGS];
    let mut env_addrs = [0usize; crate::cmdline::MAX_ENV];
    for (i, (key, value)) in env.iter().enumerate().rev() {
        env_addrs[i] = w.push_cstr(&[key, "=", value])?;
    }
    for (i, arg) in args.iter().enumerate().rev() {
        arg_addrs[i] = w.push_cstr(&[arg])?;
    }

    let phdrs = image::program_headers();
    let hwcap = cpu::cpuid(1, 0).edx as usize;
    let auxv: [(usize, usize); 16] = [
        (at::PHDR, phdrs.address),
        (at::PHENT, phdrs.entry_size),
        (at::PHNUM, phdrs.count),
        (at::PAGESZ, unikernel_hal::PAGE_SIZE),
        (at::ENTRY, phdrs.entry),
        (at::UID, 0),
        (at::EUID, 0),
        (at::GID, 0),
        (at::EGID, 0),
        (at::PLATFORM, platform),
        (at::HWCAP, hwcap),
        (at::CLKTCK, 100),
        (at::SECURE, 0),
        (at::RANDOM, at_random),
        (at::HWCAP2, 0),
        (at::EXECFN, arg_addrs[0]),
    ];
    let words = 1 + args.len() + 1 + env.len() + 1 + 2 * (auxv.len() + 1);
    let sp_offset = (w.pos.checked_sub(words * 8).ok_or(StackError::TooLarge)?) & !15;
    let mut at_word = sp_offset;
    let mut put = |w: &mut StackWriter<'_>, value: usize| {
        w.write_word(at_word, value);
        at_word += 8;
    };
    put(&mut w, args.len());
    for &addr in &arg_addrs[..args.len()] {
        put(&mut w, addr);
    }
    put(&mut w, 0);
    for &addr in &env_addrs[..env.len()] {
        put(&mut w, addr);
    }
    put(&mut w, 0);
    for (key, value) in auxv {
        put(&mut w, key);
        put(&mut w, value);
    }
    put(&mut w, at::NULL);
    put(&mut w, 0);
    Ok(base + sp_offset)
}

/// Ends the program with `status` (the low 8 bits, as Linux's `exit_group`).
pub fn exit(status: i32) -> ! {
    let code = (status & 0xff) as u8;
    kdebug!(
        "exit with status {code} after {} us",
        time::ticks_to_ns(tsc::read().saturating_sub(boot_tsc())) / 1000
    );
    #[cfg(feature = "profile")]
    crate::profile::export_at_exit();
    if let Some(hook) = AT_EXIT.get() {
        hook();
    }
    exit::exit(code)
}

/// What runs when the program ends (the profiler's export; this module cannot name
/// it: the profiler uses the crash reporter, which uses this module).
static AT_EXIT: spin::Once<fn()> = spin::Once::new();

/// Sets what [`exit`] runs before the machine stops.
pub fn at_exit(hook: fn()) {
    AT_EXIT.call_once(|| hook);
}

static BOOT_TSC: AtomicU64 = AtomicU64::new(0);

/// Records the TSC at the first kernel instruction, for the exit report.
pub fn set_boot_tsc(tsc: u64) {
    BOOT_TSC.store(tsc, Ordering::Relaxed);
}

fn boot_tsc() -> u64 {
    BOOT_TSC.load(Ordering::Relaxed)
}
