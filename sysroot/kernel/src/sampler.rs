//! The sampling CPU profiler (`unikernel.profile_hz=N`, `cargo unikernel run
//! --profile-cpu`): on a timer at N Hz it records the interrupted pc and the call stack
//! of the running thread, and at exit sends the samples to the host as the exported
//! file [`FILE_NAME`] (the [`crate::export`] channel), where the tool symbolizes them.
//!
//! Samples are taken at the timer interrupt's preemption point ([`sample`], from
//! `entry.rs`), so they see what runs with interrupts enabled: application, std and
//! libc-shim code. Kernel code runs with interrupts disabled; a sample due meanwhile
//! is taken when it returns, in the function that entered the kernel. The idle thread
//! is never sampled (an idle CPU is not CPU time of the program). The scheduler arms
//! the one-shot timer for the earlier of its own deadline and [`next_deadline`]
//! (`sched::set_sampler`); [`export`] runs at `process::exit` (`process::at_exit`).
//!
//! The call stack comes from the image's `.eh_frame` (release images keep no frame
//! pointers), walked by the crash reporter's unwinder, at most [`MAX_DEPTH`] frames;
//! every stack read is checked. The buffer is allocated once when profiling starts
//! and never grows in the interrupt: samples past its end are counted as dropped.
//!
//! The file: `b"UKP1"`, then u64 LE words: the rate in Hz, the number of dropped
//! samples, then per sample its frame count n and n pcs, innermost first (the first the
//! interrupted instruction, the others return addresses).

use alloc::vec::Vec;
use core::sync::atomic::{AtomicU64, Ordering};

use unikernel_hal::SyscallFrame;
use unikernel_hal::irq::IrqMutex;

use crate::crash::unwind::{Frame, Rule, Unwinder};
use crate::{export, time};

/// The name of the exported file.
pub const FILE_NAME: &str = "cpu-samples";
/// The deepest stack a sample keeps.
pub const MAX_DEPTH: usize = 48;
/// The buffer's size in u64 words (16 MiB): a minute at 997 Hz for typical depths.
const BUFFER_WORDS: usize = 2 << 20;

/// Nanoseconds between samples; 0 while off.
static PERIOD_NS: AtomicU64 = AtomicU64::new(0);
/// When the next sample is due (monotonic ns).
static NEXT_NS: AtomicU64 = AtomicU64::new(u64::MAX);

struct Samples {
    hz: u64,
    words: Vec<u64>,
    dropped: u64,
    /// Unwind rules by pc, direct-mapped ([`CACHE_SLOTS`]): a CPU-bound program is
    /// sampled at the same few pcs again and again, and parsing `.eh_frame` for each
    /// frame of each sample is most of a sample's cost.
    rules: Vec<Option<(usize, Rule)>>,
}

const CACHE_SLOTS: usize = 1024;

static SAMPLES: IrqMutex<Samples> = IrqMutex::new(Samples {
    hz: 0,
    words: Vec::new(),
    dropped: 0,
    rules: Vec::new(),
});

/// Starts sampling at `hz` (from boot, before the application runs). Without memory
/// for the buffer the profiler stays off and says so.
pub fn enable(hz: u32) {
    let hz = u64::from(hz.max(1));
    let (mut words, mut rules) = (Vec::new(), Vec::new());
    if words.try_reserve_exact(BUFFER_WORDS).is_err()
        || rules.try_reserve_exact(CACHE_SLOTS).is_err()
    {
        crate::log::kinfo!("profiler: no memory for the sample buffer; not sampling");
        return;
    }
    rules.resize(CACHE_SLOTS, None);
    *SAMPLES.lock() = Samples {
        hz,
        words,
        dropped: 0,
        rules,
    };
    crate::sched::set_sampler(next_deadline);
    crate::process::at_exit(export);
    let period = 1_000_000_000 / hz;
    PERIOD_NS.store(period, Ordering::Relaxed);
    NEXT_NS.store(time::monotonic_ns() + period, Ordering::Relaxed);
}

/// When the next sample is due, if the profiler is on (for the scheduler's timer).
pub fn next_deadline() -> Option<u64> {
    (PERIOD_NS.load(Ordering::Relaxed) != 0).then(|| NEXT_NS.load(Ordering::Relaxed))
}

/// The timer interrupted a thread (not the idle one) at `frame`: records a sample if
/// one is due. Off, this is one load and an untaken branch.
pub fn sample(frame: &SyscallFrame) {
    let period = PERIOD_NS.load(Ordering::Relaxed);
    if period == 0 {
        return;
    }
    let now = time::monotonic_ns();
    let next = NEXT_NS.load(Ordering::Relaxed);
    if now < next {
        return;
    }
    // Due samples missed while interrupts were off are not made up: one sample, and
    // the next one a period from now.
    NEXT_NS.store(now + period, Ordering::Relaxed);
    let mut stack = [0u64; MAX_DEPTH];
    let mut samples = SAMPLES.lock();
    let depth = walk(frame, &mut stack, &mut samples.rules);
    if samples.words.len() + 1 + depth > samples.words.capacity() {
        samples.dropped += 1;
        return;
    }
    samples.words.push(depth as u64);
    samples.words.extend_from_slice(&stack[..depth]);
}

/// Fills `stack` with the pcs of `frame`'s call stack, innermost first; their number.
fn walk(
    frame: &SyscallFrame,
    stack: &mut [u64; MAX_DEPTH],
    rules: &mut [Option<(usize, Rule)>],
) -> usize {
    let mut frame = Frame {
        regs: frame.registers(),
        is_return_address: false,
    };
    stack[0] = frame.regs.rip;
    let Some(unwinder) = Unwinder::new() else {
        return 1;
    };
    let mut depth = 1;
    while depth < MAX_DEPTH
        && let Some(caller) = caller(&unwinder, &frame, rules)
    {
        stack[depth] = caller.regs.rip;
        depth += 1;
        frame = caller;
    }
    depth
}

/// `frame`'s caller, by its pc's cached rule, or the tables (then cached if they
/// give a rule of the common form).
fn caller(
    unwinder: &Unwinder,
    frame: &Frame,
    rules: &mut [Option<(usize, Rule)>],
) -> Option<Frame> {
    let pc = frame.lookup_pc();
    let slot = (pc ^ (pc >> 10)) % rules.len().max(1);
    match rules.get(slot) {
        Some(Some((cached, rule))) if *cached == pc => return rule.caller(frame),
        Some(_) => {}
        None => return unwinder.caller(frame),
    }
    match unwinder.rule(pc) {
        Some(rule) => {
            rules[slot] = Some((pc, rule));
            rule.caller(frame)
        }
        None => unwinder.caller(frame),
    }
}

/// Sends the samples to the host (at exit; nothing when the profiler is off).
fn export() {
    if PERIOD_NS.swap(0, Ordering::Relaxed) == 0 {
        return;
    }
    let samples = SAMPLES.lock();
    let header = [samples.hz, samples.dropped];
    let len = 4 + 8 * (header.len() + samples.words.len()) as u64;
    let sent = export::file_streamed(FILE_NAME, len, |out| {
        out(b"UKP1");
        for word in header.iter().chain(&samples.words) {
            out(&word.to_le_bytes());
        }
    });
    if sent.is_err() {
        crate::log::kinfo!("profiler: the samples could not be exported");
    }
}
