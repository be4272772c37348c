//! Thread contexts and the context switch: the mechanism under the kernel's scheduler.
//!
//! A thread is a slot number, an index into the context table; the kernel keeps its
//! own per-thread state (ids, futex waits, signals) under the same number. The table
//! has no fixed size: it lives in RAM the kernel hands over ([`grow`]) when a thread
//! needs a slot beyond its capacity, so the thread count is limited by memory only. Slot [`IDLE`] is the idle thread,
//! which runs a kernel function on a stack of its own (`stacks.rs`). The others run on
//! stacks the application gave them: the main thread on the stack the kernel built at
//! boot, `clone` children on the stack named in the call. Kernel code of a thread
//! (system calls, blocking in them) runs on that thread's stack.
//!
//! A switch saves what the C ABI says a call preserves (SysV AMD64 ABI, 3.2.1:
//! `rbx, rbp, r12-r15`, the MXCSR control bits and the x87 control word) on the old
//! stack, records the stack pointer and the FS base (the thread pointer), and loads
//! the new thread's. Everything else a call may clobber, so the compiler has already
//! saved what it needs; the registers of the application live in a system-call frame
//! further up the stack (`syscall_entry.rs`).
//!
//! A slot is `Empty`, `Ready` (holds a saved context) or `Running` (the current
//! thread). The hal checks these states itself, so the kernel's safe calls can never
//! load a context that does not exist. One CPU: every operation runs with interrupts
//! disabled; the table's lock ([`Level::Contexts`]) is held only inside them, never
//! across the switch itself (the switch writes the old thread's saved stack pointer
//! through a pointer taken under the lock: with interrupts off on the only CPU,
//! nothing can move the table in between).

use core::arch::{asm, global_asm};
use core::convert::Infallible;
use core::mem::size_of;
use core::sync::atomic::{AtomicUsize, Ordering};

use spin::Once;

use crate::cpu;
use crate::irq;
use crate::lock_order::{Level, OrderedGuard, OrderedMutex};
use crate::memory::Region;
use crate::page_vec::PageVec;
use crate::paging;
use crate::syscall_entry::{__unikernel_frame_return, SyscallFrame};

/// The idle thread's slot.
pub const IDLE: usize = 0;

const EMPTY: u8 = 0;
const READY: u8 = 1;
const RUNNING: u8 = 2;

/// One slot of the context table.
#[derive(Debug)]
struct Context {
    state: u8,
    saved_rsp: usize,
    fs_base: u64,
}

impl Context {
    const EMPTY: Context = Context {
        state: EMPTY,
        saved_rsp: 0,
        fs_base: 0,
    };
}

/// The context table, every slot of its storage in use (empty slots included).
static CONTEXTS: OrderedMutex<PageVec<Context>> =
    OrderedMutex::new(Level::Contexts, PageVec::new());
pub(crate) static CURRENT: AtomicUsize = AtomicUsize::new(IDLE);

/// Why a thread operation was refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThreadError {
    /// The slot number is beyond the table's capacity (see [`grow`]).
    BadSlot,
    /// The slot is in use (creating) or holds no saved context (switching).
    WrongState,
    /// The new thread's stack is not mapped writable (`EFAULT`).
    BadStack,
}

// The saved context on a stack, lowest address first: MXCSR (4 bytes) and the x87
// control word (2 bytes) in one 8-byte slot, r15, r14, r13, r12, rbx, rbp, then the
// return address of the switch.
global_asm!(
    ".pushsection .text.unikernel_context_switch, \"ax\", @progbits",
    // __unikernel_context_switch(save: *mut usize [rdi], load: usize [rsi])
    ".globl __unikernel_context_switch",
    ".globl __unikernel_context_load",
    ".globl __unikernel_thread_start",
    ".p2align 4",
    "__unikernel_context_switch:",
    "push rbp",
    "push rbx",
    "push r12",
    "push r13",
    "push r14",
    "push r15",
    "sub rsp, 8",
    "stmxcsr [rsp]",
    "fnstcw [rsp + 4]",
    "mov [rdi], rsp",
    // __unikernel_context_load (rsi = a saved context): also the exit path.
    "__unikernel_context_load:",
    "mov rsp, rsi",
    "ldmxcsr [rsp]",
    "fldcw [rsp + 4]",
    "add rsp, 8",
    "pop r15",
    "pop r14",
    "pop r13",
    "pop r12",
    "pop rbx",
    "pop rbp",
    "ret",
    // First code of a kernel thread (idle): r12 = its `extern "C" fn() -> !`.
    "__unikernel_thread_start:",
    "call r12",
    "ud2",
    ".popsection",
);

unsafe extern "C" {
    fn __unikernel_context_switch(save: *mut usize, load: usize);
    static __unikernel_context_load: u8;
    static __unikernel_thread_start: u8;
}

/// The context a new thread starts from (see the layout above the assembly).
#[repr(C, align(16))]
struct InitialContext {
    mxcsr: u32,
    fcw: u16,
    pad: u16,
    r15: u64,
    r14: u64,
    r13: u64,
    r12: u64,
    rbx: u64,
    rbp: u64,
    ret: u64,
}

const _: () = assert!(size_of::<InitialContext>() == 64);

impl InitialContext {
    /// Power-on defaults (SDM Vol. 1, 10.2.3 and 8.1.5): all exceptions masked,
    /// round to nearest, 64-bit x87 precision.
    const fn new(ret: u64, r12: u64) -> InitialContext {
        InitialContext {
            mxcsr: 0x1f80,
            fcw: 0x037f,
            pad: 0,
            r15: 0,
            r14: 0,
            r13: 0,
            r12,
            rbx: 0,
            rbp: 0,
            ret,
        }
    }
}

/// How many slots the context table holds.
pub fn capacity() -> usize {
    CONTEXTS.lock().len()
}

/// Bytes of storage (whole pages) for a table of `slots` contexts.
pub fn bytes_for(slots: usize) -> usize {
    PageVec::<Context>::bytes_for(slots)
}

/// Moves the context table into `storage` (read-write RAM, at least as large as the
/// table) and makes every slot of it usable; returns the old storage for the kernel
/// to free, or `storage` itself if it is unusable.
pub fn grow(storage: Region) -> Result<Option<Region>, Region> {
    let _irq = irq::disable();
    let mut contexts = CONTEXTS.lock();
    if storage.len() / size_of::<Context>() <= contexts.len() {
        return Err(storage);
    }
    let old = contexts.move_to(storage)?;
    while contexts.push(Context::EMPTY).is_ok() {}
    Ok(old)
}

/// The context of `slot` in the locked table.
fn slot_of<'a>(
    contexts: &'a mut OrderedGuard<'_, PageVec<Context>>,
    slot: usize,
) -> Result<&'a mut Context, ThreadError> {
    contexts
        .as_mut_slice()
        .get_mut(slot)
        .ok_or(ThreadError::BadSlot)
}

/// The running thread's slot.
pub fn current() -> usize {
    CURRENT.load(Ordering::Relaxed)
}

/// Makes `slot` the running thread: the code that calls this (the boot flow, about to
/// enter the application's main thread) becomes that thread.
pub fn start_main(slot: usize) -> Result<(), ThreadError> {
    let _irq = irq::disable();
    let mut contexts = CONTEXTS.lock();
    let context = slot_of(&mut contexts, slot)?;
    if slot == IDLE || context.state != EMPTY {
        return Err(ThreadError::WrongState);
    }
    context.state = RUNNING;
    CURRENT.store(slot, Ordering::Relaxed);
    Ok(())
}

static IDLE_ENTRY: Once<fn() -> !> = Once::new();

extern "C" fn idle_entry() -> ! {
    match IDLE_ENTRY.get() {
        Some(entry) => entry(),
        None => cpu::halt_forever(),
    }
}

/// Prepares the idle thread to run `entry` on its own stack the first time something
/// switches to [`IDLE`]. Only the first call has an effect; it needs a table with a
/// slot for [`IDLE`] ([`grow`]).
pub fn init_idle(entry: fn() -> !) -> Result<(), ThreadError> {
    let _irq = irq::disable();
    let mut contexts = CONTEXTS.lock();
    let idle = slot_of(&mut contexts, IDLE)?;
    if IDLE_ENTRY.get().is_some() {
        return Ok(());
    }
    IDLE_ENTRY.call_once(|| entry);
    let context = crate::stacks::idle_top() - size_of::<InitialContext>();
    let start = (&raw const __unikernel_thread_start) as u64;
    // SAFETY: the idle stack is the hal's own, used by nothing else (it is only ever
    // run on as thread IDLE, which has not started); `context` is 16-byte aligned
    // (the top is page-aligned) and lies inside it.
    unsafe {
        (context as *mut InitialContext)
            .write(InitialContext::new(start, idle_entry as *const () as u64))
    };
    idle.saved_rsp = context;
    idle.state = READY;
    Ok(())
}

/// Creates the thread `slot` as a `clone` child of the system call in `parent`: it will
/// resume where the parent's system call returns, with `rax` = 0, `rsp` =
/// `stack_pointer`, the FS base `fs_base`, every other register as in `parent`.
///
/// Its initial frame is written just below `stack_pointer`, in the stack the caller of
/// `clone` hands over to the child (Linux writes nothing there; the memory is the
/// child's by the same contract). Fails with [`ThreadError::BadStack`] if that memory
/// is not mapped writable.
pub fn spawn(
    slot: usize,
    parent: &SyscallFrame,
    stack_pointer: usize,
    fs_base: u64,
) -> Result<(), ThreadError> {
    let frame_at = stack_pointer
        .checked_sub(size_of::<SyscallFrame>())
        .ok_or(ThreadError::BadStack)?
        & !15;
    let context_at = frame_at
        .checked_sub(size_of::<InitialContext>())
        .ok_or(ThreadError::BadStack)?;
    let len = stack_pointer - context_at;
    if context_at == 0 || !paging::is_accessible(context_at, len, true) {
        return Err(ThreadError::BadStack);
    }
    let _irq = irq::disable();
    let mut contexts = CONTEXTS.lock();
    let context = slot_of(&mut contexts, slot)?;
    if slot == IDLE || context.state != EMPTY {
        return Err(ThreadError::WrongState);
    }
    let ret = (&raw const __unikernel_frame_return) as u64;
    // SAFETY: `context_at..stack_pointer` is mapped writable (checked above) and is the
    // top of the stack the caller hands to the new thread (this function's contract,
    // the `clone` contract); both addresses are 16-byte aligned.
    unsafe {
        (frame_at as *mut SyscallFrame).write(parent.for_child(stack_pointer));
        (context_at as *mut InitialContext).write(InitialContext::new(ret, 0));
    }
    context.saved_rsp = context_at;
    context.fs_base = fs_base;
    context.state = READY;
    Ok(())
}

/// Checks that `to` can be switched to and marks it running; returns where to save
/// the old thread's stack pointer and the saved stack pointer to load. The pointer
/// is into the table: it stays valid until the table moves, which needs the lock and
/// an operation of its own, so not before the switch that uses it (interrupts off).
fn hand_over(to: usize, from_state: u8) -> Result<(*mut usize, usize), ThreadError> {
    let mut contexts = CONTEXTS.lock();
    let from = current();
    slot_of(&mut contexts, from)?;
    let target = slot_of(&mut contexts, to)?;
    if target.state != READY {
        return Err(ThreadError::WrongState);
    }
    target.state = RUNNING;
    let load = target.saved_rsp;
    let fs_base = target.fs_base;
    let old = slot_of(&mut contexts, from)?;
    old.state = from_state;
    old.fs_base = cpu::fs_base();
    let save = &raw mut old.saved_rsp;
    CURRENT.store(to, Ordering::Relaxed);
    // The kernel between here and the switch uses no thread-local storage.
    cpu::set_fs_base(fs_base);
    Ok((save, load))
}

/// Suspends the running thread and runs `to`; returns when some thread switches back.
/// Switching to the running thread itself returns at once.
pub fn switch_to(to: usize) -> Result<(), ThreadError> {
    let _irq = irq::disable();
    if to == current() {
        return Ok(());
    }
    crate::lock_order::assert_none_held("thread switch");
    let (save, load) = hand_over(to, READY)?;
    // SAFETY: interrupts are off, so nothing runs between the state change above and
    // the switch, and nothing moves the context table `save` points into (see
    // `hand_over`). `load` is the saved context of a READY slot: written by a switch
    // away from that thread, or built by `spawn`/`init_idle`, and its stack still
    // holds it (a thread's stack belongs to it until it exits; its memory is the
    // application's to keep mapped, as for any system-call buffer). The switch
    // writes `save` before it loads the other context, and returns when a later
    // switch loads what it saved.
    unsafe { __unikernel_context_switch(save, load) };
    Ok(())
}

/// Ends the running thread for good and runs `to`. Nothing runs on the old thread's
/// stack afterwards, so its owner may free it as soon as `to` (or any later thread)
/// runs; the slot is empty again at once.
pub fn exit_to(to: usize) -> Result<Infallible, ThreadError> {
    let _irq = irq::disable();
    if to == current() {
        return Err(ThreadError::WrongState);
    }
    crate::lock_order::assert_none_held("thread exit");
    let (_, load) = hand_over(to, EMPTY)?;
    // SAFETY: as in `switch_to`, `load` is a valid saved context; the old thread is
    // abandoned (its slot was marked empty above), so not saving it is correct. The
    // interrupt guard is never dropped here: the loaded context restores its own
    // interrupt state.
    unsafe {
        asm!(
            "jmp {load}",
            load = sym __unikernel_context_load,
            in("rsi") load,
            options(noreturn),
        )
    }
}
