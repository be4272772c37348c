//! The local APIC timer: one-shot wake-ups for the scheduler's idle loop.
//!
//! The kernel sleeps (`hlt`) until the earliest deadline of a sleeping or timed-out
//! thread; this module arms one interrupt for that deadline, given as a TSC value.
//! Where the CPU has TSC-deadline mode (CPUID.01H:ECX[24]) the deadline goes straight
//! into `IA32_TSC_DEADLINE`; otherwise the timer runs in one-shot mode and the count is
//! converted with the APIC-to-TSC tick ratio, measured once on first use (SDM Vol. 3A,
//! 11.5.4). The xAPIC registers are memory-mapped at the base `IA32_APIC_BASE` names,
//! mapped uncached by [`init`].
//!
//! The legacy 8259 PICs are masked (a VMM may still have one wired to LINT0 in
//! ExtINT mode), LINT0/LINT1 and the error LVT are masked, and the spurious vector is
//! [`SPURIOUS_VECTOR`]. In the idle thread the timer interrupt only acknowledges
//! itself (the idle loop then looks at the clock); in any other thread it is a
//! preemption point (see the handler below).

use core::arch::global_asm;
use core::sync::atomic::{AtomicU64, AtomicUsize, Ordering};

use x86_64::instructions::port::Port;
use x86_64::registers::model_specific::Msr;

use crate::SyscallFrame;
use crate::cpu::cpuid;
use crate::{paging, tsc};

/// The timer's interrupt vector.
pub(crate) const TIMER_VECTOR: usize = 0x30;
/// The spurious-interrupt vector (its low four bits must be set on old CPUs).
pub(crate) const SPURIOUS_VECTOR: usize = 0xff;

const IA32_APIC_BASE: u32 = 0x1b;
const IA32_TSC_DEADLINE: u32 = 0x6e0;
const APIC_ENABLE: u64 = 1 << 11;

// xAPIC register offsets (SDM Vol. 3A, Table 11-1).
const REG_TPR: usize = 0x80;
const REG_EOI: usize = 0xb0;
const REG_SVR: usize = 0xf0;
const REG_LVT_TIMER: usize = 0x320;
const REG_LVT_LINT0: usize = 0x350;
const REG_LVT_LINT1: usize = 0x360;
const REG_LVT_ERROR: usize = 0x370;
const REG_INITIAL_COUNT: usize = 0x380;
const REG_CURRENT_COUNT: usize = 0x390;
const REG_DIVIDE: usize = 0x3e0;

const LVT_MASKED: u32 = 1 << 16;
const LVT_TSC_DEADLINE: u32 = 0b10 << 17;
const DIVIDE_BY_1: u32 = 0b1011;

/// Base of the xAPIC registers; 0 until [`init`] succeeded.
static BASE: AtomicUsize = AtomicUsize::new(0);
/// The address the timer interrupt writes to acknowledge itself (`BASE + EOI`).
pub(crate) static EOI_ADDRESS: AtomicUsize = AtomicUsize::new(0);
/// APIC timer ticks per TSC tick, 32.32 fixed point; 0 until measured.
static TICKS_PER_TSC: AtomicU64 = AtomicU64::new(0);

// The timer interrupt (interrupt gate, IST 6, so IF is clear and the interrupted
// stack untouched). Interrupted in the idle thread (its `sti; hlt`): acknowledge and
// return. Interrupted in a thread (application code, the only other code that runs
// with IF set): save every general register next to the CPU's `iretq` frame, move
// those 20 words onto the interrupted stack below its red zone (native code may use
// the 128 bytes below rsp), add the FPU/SSE state there, and call the kernel's
// preemption hook on the thread's own stack: the IST stack is free again for the
// next interrupt, and the hook may switch threads. It returns when this thread runs
// again, through `__unikernel_frame_return` (the same `SyscallFrame` layout).
global_asm!(
    ".pushsection .text.unikernel_apic, \"ax\", @progbits",
    ".globl __unikernel_timer_interrupt",
    ".p2align 4",
    "__unikernel_timer_interrupt:",
    "push rax",
    "mov rax, qword ptr [rip + {eoi}]",
    "mov dword ptr [rax], 0",
    "mov rax, qword ptr [rip + {current}]",
    "cmp rax, {idle}",
    "jne 2f",
    "pop rax",
    "iretq",
    "2:",
    push_registers_after_rax!(),
    "mov rsi, rsp",                 // the 20 words: r15 .. rax, rip, cs, rflags, rsp, ss
    "mov rdi, qword ptr [rsp + 18 * 8]",
    "sub rdi, 128",
    "and rdi, -16",
    "sub rdi, 20 * 8",
    "mov rdx, rdi",
    "mov ecx, 20",
    "cld",                          // the saved RFLAGS keeps the thread's DF
    "rep movsq",
    "mov rsp, rdx",
    "sub rsp, 512",
    "fxsave64 [rsp]",
    "mov rdi, rsp",                 // the SyscallFrame
    "xor ebp, ebp",
    "call {hook}",
    "jmp __unikernel_frame_return",
    ".globl __unikernel_spurious_interrupt",
    ".p2align 4",
    "__unikernel_spurious_interrupt:",
    "iretq",                           // no EOI for spurious interrupts (SDM 11.9)
    ".popsection",
    eoi = sym EOI_ADDRESS,
    current = sym crate::thread::CURRENT,
    idle = const crate::thread::IDLE,
    hook = sym preempt_hook,
);

unsafe extern "Rust" {
    /// The kernel's preemption point (`unikernel-kernel`): called on the interrupted
    /// thread's stack with interrupts disabled and the interrupted context in `frame`
    /// (restored from there when it returns); may switch to another thread and may
    /// run the thread's signal handlers.
    safe fn __unikernel_preempt(frame: &mut SyscallFrame);
}

/// Called by the timer interrupt with the frame it built.
///
/// # Safety
///
/// `frame` points at a complete, 16-byte aligned [`SyscallFrame`] on the current stack
/// that nothing else references.
unsafe extern "C" fn preempt_hook(frame: *mut SyscallFrame) {
    // SAFETY: per the contract, built by the interrupt entry just now and ours alone.
    __unikernel_preempt(unsafe { &mut *frame });
}

/// Keeps the hook alive through whole-program optimisation (only module-level
/// assembly calls it).
#[used]
static KEEP_PREEMPT_HOOK: unsafe extern "C" fn(*mut SyscallFrame) = preempt_hook;

unsafe extern "C" {
    static __unikernel_timer_interrupt: u8;
    static __unikernel_spurious_interrupt: u8;
}

/// Entry points for the IDT: (timer, spurious).
pub(crate) fn handlers() -> (u64, u64) {
    (
        (&raw const __unikernel_timer_interrupt) as u64,
        (&raw const __unikernel_spurious_interrupt) as u64,
    )
}

const REG_ID: usize = 0x20;

/// This CPU's local APIC id (`None` without an APIC).
pub(crate) fn local_id() -> Option<u32> {
    if BASE.load(Ordering::Relaxed) == 0 {
        return None;
    }
    Some(read(REG_ID) >> 24)
}

fn read(reg: usize) -> u32 {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: `base` is the xAPIC page mapped uncached by `init` (callers check it is
    // non-zero); `reg` is one of the register offsets above, 16-byte aligned.
    unsafe { core::ptr::read_volatile((base + reg) as *const u32) }
}

fn write(reg: usize, value: u32) {
    let base = BASE.load(Ordering::Relaxed);
    // SAFETY: as in `read`; APIC register writes have no effect on memory.
    unsafe { core::ptr::write_volatile((base + reg) as *mut u32, value) }
}

fn mask_legacy_pics() {
    // SAFETY: OCW1 on the master and slave 8259 data ports masks every IRQ line;
    // without PICs (microvm with pic=off) the writes go nowhere.
    unsafe {
        Port::<u8>::new(0x21).write(0xff);
        Port::<u8>::new(0xa1).write(0xff);
    }
}

/// Maps and enables the local APIC with every interrupt source masked. Returns `false`
/// (and timers stay unavailable) if the CPU has no APIC or mapping failed.
pub(crate) fn init() -> bool {
    mask_legacy_pics();
    if cpuid(1, 0).edx & (1 << 9) == 0 {
        return false;
    }
    let mut msr = Msr::new(IA32_APIC_BASE);
    // SAFETY: IA32_APIC_BASE exists on every CPU with an APIC (checked above).
    let value = unsafe { msr.read() };
    let base = (value & 0x000f_ffff_ffff_f000) as usize;
    if paging::map_device(base, crate::PAGE_SIZE).is_err() {
        return false;
    }
    if value & APIC_ENABLE == 0 {
        // SAFETY: setting the global enable bit keeps the base; x2APIC stays off.
        unsafe { msr.write(value | APIC_ENABLE) };
    }
    BASE.store(base, Ordering::Relaxed);
    EOI_ADDRESS.store(base + REG_EOI, Ordering::Relaxed);
    write(REG_TPR, 0);
    write(REG_LVT_LINT0, LVT_MASKED);
    write(REG_LVT_LINT1, LVT_MASKED);
    write(REG_LVT_ERROR, LVT_MASKED);
    write(REG_LVT_TIMER, LVT_MASKED);
    write(REG_SVR, 0x100 | SPURIOUS_VECTOR as u32);
    true
}

fn has_tsc_deadline() -> bool {
    cpuid(1, 0).ecx & (1 << 24) != 0
}

/// Measures the APIC timer against the TSC over about 2^20 TSC ticks (a few hundred
/// microseconds at GHz rates).
fn measure() -> u64 {
    const WINDOW: u64 = 1 << 20;
    write(REG_LVT_TIMER, LVT_MASKED | TIMER_VECTOR as u32);
    write(REG_DIVIDE, DIVIDE_BY_1);
    write(REG_INITIAL_COUNT, u32::MAX);
    let start = tsc::read();
    let mut now = start;
    while now - start < WINDOW {
        core::hint::spin_loop();
        now = tsc::read();
    }
    let elapsed = u64::from(u32::MAX - read(REG_CURRENT_COUNT));
    write(REG_INITIAL_COUNT, 0);
    ((u128::from(elapsed) << 32) / u128::from(now - start)).max(1) as u64
}

/// Which mechanism timer interrupts use, for the boot report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TimerMode {
    /// No local APIC: the idle loop cannot sleep and polls the clock.
    None,
    TscDeadline,
    OneShot,
}

/// The mechanism [`arm_at`] uses.
pub fn timer_mode() -> TimerMode {
    if BASE.load(Ordering::Relaxed) == 0 {
        TimerMode::None
    } else if has_tsc_deadline() {
        TimerMode::TscDeadline
    } else {
        TimerMode::OneShot
    }
}

/// Arms the timer to interrupt at TSC value `deadline` (or a little before: a one-shot
/// count saturates at about four seconds; callers loop). `false` if there is no timer.
pub fn arm_at(deadline: u64) -> bool {
    match timer_mode() {
        TimerMode::None => false,
        TimerMode::TscDeadline => {
            write(REG_LVT_TIMER, LVT_TSC_DEADLINE | TIMER_VECTOR as u32);
            // SAFETY: TSC-deadline mode exists (checked) and the LVT selects it; the
            // write only schedules the timer interrupt, handled by the IDT.
            unsafe { Msr::new(IA32_TSC_DEADLINE).write(deadline.max(1)) };
            true
        }
        TimerMode::OneShot => {
            let mut ratio = TICKS_PER_TSC.load(Ordering::Relaxed);
            if ratio == 0 {
                ratio = measure();
                TICKS_PER_TSC.store(ratio, Ordering::Relaxed);
            }
            let ticks = deadline.saturating_sub(tsc::read());
            let count =
                ((u128::from(ticks) * u128::from(ratio)) >> 32).clamp(1, u128::from(u32::MAX));
            write(REG_LVT_TIMER, TIMER_VECTOR as u32);
            write(REG_DIVIDE, DIVIDE_BY_1);
            write(REG_INITIAL_COUNT, count as u32);
            true
        }
    }
}

/// Cancels an armed timer.
pub fn disarm() {
    match timer_mode() {
        TimerMode::None => {}
        TimerMode::TscDeadline => {
            // SAFETY: writing 0 disarms the TSC-deadline timer.
            unsafe { Msr::new(IA32_TSC_DEADLINE).write(0) };
        }
        TimerMode::OneShot => write(REG_INITIAL_COUNT, 0),
    }
}
