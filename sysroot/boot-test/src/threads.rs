//! The `threads` scenario: the register-frame entries and `clone`.
//!
//! 1. `__unikernel_syscall_stub` keeps its convention: every register but `rax`, `rcx`,
//!    `r11` survives (checked on `rbx, rbp, rdx, rsi, rdi, r8-r10, r12-r15`, `xmm1`,
//!    `xmm15`), entered with a misaligned stack.
//! 2. `clone` through the `syscall` instruction (the `LSTAR` path) and through the stub,
//!    with the flags the shim's `pthread_create` uses: the child runs on its own stack
//!    with its own tid and FS base, the parent gets the tid (also in `parent_tid`), and
//!    the child's exit clears and wakes `child_tid`, which the parent waits on.
//! 3. Blocking: the children sleep, the parent waits on futexes meanwhile.
//!
//! The `preempt` scenario: a thread that spins without system calls does not starve
//! the others; a sleeper wakes on time while it spins.

use core::arch::{asm, naked_asm};
use core::sync::atomic::{AtomicBool, AtomicU32, AtomicUsize, Ordering};

use crate::runtime::exit;
use crate::{println, sys};

const STUB_EXPECTED: [u64; 15] = [
    0x0b0b,
    0x0d0d,
    0x0202,
    0x0606,
    0x0707,
    0x0808,
    0x0909,
    0x1010,
    0x1212,
    0x1313,
    0x1414,
    0x1515,
    0x1111_2222,
    0x3333_4444,
    39,
];
static mut STUB_SEEN: [u64; 15] = [0; 15];

unsafe extern "C" {
    fn __unikernel_syscall_stub();
}

fn check_stub_convention() {
    // SAFETY: calls the stub with the syscall convention (rax = getpid); every register
    // it may not change is loaded with a marker and stored to STUB_SEEN afterwards;
    // rbx and rbp (not available as operands) are saved and restored around it; the
    // declared clobbers cover everything else the block writes.
    unsafe {
        asm!(
            "push rbx",
            "push rbp",
            "mov rbx, 0x0b0b",
            "mov rbp, 0x0d0d",
            "mov rdx, 0x0202",
            "mov rsi, 0x0606",
            "mov rdi, 0x0707",
            "mov r8, 0x0808",
            "mov r9, 0x0909",
            "mov r10, 0x1010",
            "mov r12, 0x1212",
            "mov r13, 0x1313",
            "mov r14, 0x1414",
            "mov r15, 0x1515",
            "mov eax, 0x11112222",
            "movq xmm1, rax",
            "mov eax, 0x33334444",
            "movq xmm15, rax",
            "mov eax, 39",
            "sub rsp, 8",
            "call {stub}",
            "add rsp, 8",
            "mov qword ptr [rip + {seen}], rbx",
            "mov qword ptr [rip + {seen} + 8], rbp",
            "mov qword ptr [rip + {seen} + 16], rdx",
            "mov qword ptr [rip + {seen} + 24], rsi",
            "mov qword ptr [rip + {seen} + 32], rdi",
            "mov qword ptr [rip + {seen} + 40], r8",
            "mov qword ptr [rip + {seen} + 48], r9",
            "mov qword ptr [rip + {seen} + 56], r10",
            "mov qword ptr [rip + {seen} + 64], r12",
            "mov qword ptr [rip + {seen} + 72], r13",
            "mov qword ptr [rip + {seen} + 80], r14",
            "mov qword ptr [rip + {seen} + 88], r15",
            "movq qword ptr [rip + {seen} + 96], xmm1",
            "movq qword ptr [rip + {seen} + 104], xmm15",
            "mov qword ptr [rip + {seen} + 112], rax",
            "pop rbp",
            "pop rbx",
            stub = sym __unikernel_syscall_stub,
            seen = sym STUB_SEEN,
            out("rax") _, out("rcx") _, out("rdx") _, out("rsi") _, out("rdi") _,
            out("r8") _, out("r9") _, out("r10") _, out("r11") _, out("r12") _,
            out("r13") _, out("r14") _, out("r15") _, out("xmm1") _, out("xmm15") _,
        );
    }
    // SAFETY: written by the block above only; single thread at this point.
    let seen = unsafe { (&raw const STUB_SEEN).read() };
    let mut expected = STUB_EXPECTED;
    expected[14] = 1; // getpid's result in rax
    assert_eq!(seen, expected, "registers after __unikernel_syscall_stub");
    println!("stub convention ok");
}

/// `clone(flags, stack, ptid, ctid, tls)` through `syscall`; the child pops its entry
/// and argument from the new stack and calls `entry(arg)` (like the shim's trampoline).
#[unsafe(naked)]
unsafe extern "C" fn clone_syscall(
    flags: usize,
    sp: usize,
    ptid: usize,
    ctid: usize,
    tls: usize,
) -> isize {
    naked_asm!(
        "mov r10, rcx",
        "mov eax, 56",
        "syscall",
        "test rax, rax",
        "jnz 2f",
        "xor ebp, ebp",
        "pop rax",
        "pop rdi",
        "call rax",
        "ud2",
        "2:",
        "ret",
    )
}

/// The same through `call __unikernel_syscall_stub`.
#[unsafe(naked)]
unsafe extern "C" fn clone_stub(
    flags: usize,
    sp: usize,
    ptid: usize,
    ctid: usize,
    tls: usize,
) -> isize {
    naked_asm!(
        "mov r10, rcx", "mov eax, 56", "call {stub}",
        "test rax, rax", "jnz 2f", "xor ebp, ebp", "pop rax", "pop rdi", "call rax", "ud2",
        "2:", "ret",
        stub = sym __unikernel_syscall_stub,
    )
}

const CHILDREN: usize = 4;
const STACK: usize = 32 * 1024;

#[repr(C, align(16))]
struct Stacks([[u8; STACK]; CHILDREN]);
static mut STACKS: Stacks = Stacks([[0; STACK]; CHILDREN]);
/// Per child: the tid word (`CLONE_PARENT_SETTID` | `CLONE_CHILD_CLEARTID`).
static TIDS: [AtomicU32; CHILDREN] = [const { AtomicU32::new(0) }; CHILDREN];
/// Per child: a fake thread pointer, to check the FS base.
static TLS: [AtomicUsize; CHILDREN] = [const { AtomicUsize::new(0) }; CHILDREN];
static RAN: AtomicUsize = AtomicUsize::new(0);
static BAD: AtomicUsize = AtomicUsize::new(0);

extern "C" fn child(index: usize) -> ! {
    let mut fs = 0usize;
    sys!(__unikernel_sys_arch_prctl, 0x1003, &raw mut fs);
    let tid = sys!(__unikernel_sys_gettid) as u32;
    if fs != (&raw const TLS[index]) as usize || tid == 1 {
        BAD.fetch_add(1, Ordering::SeqCst);
    }
    let nap = [0i64, 2_000_000]; // 2 ms: the parent waits on the futex meanwhile
    sys!(__unikernel_sys_nanosleep, nap.as_ptr(), 0);
    RAN.fetch_add(1, Ordering::SeqCst);
    sys!(__unikernel_sys_exit, 0);
    unreachable!("exit returned")
}

const FLAGS: usize =
    0x100 | 0x200 | 0x400 | 0x800 | 0x10000 | 0x40000 | 0x80000 | 0x100000 | 0x200000;

fn spawn(index: usize, via_stub: bool) -> isize {
    spawn_with(index, via_stub, child)
}

fn spawn_with(index: usize, via_stub: bool, entry: extern "C" fn(usize) -> !) -> isize {
    // SAFETY: each child gets its own stack (index), used by nothing else; the two words
    // below the top are its entry and argument, popped by the trampoline.
    let sp = unsafe {
        let top = (&raw mut STACKS.0[index])
            .cast::<u8>()
            .add(STACK)
            .cast::<usize>();
        top.sub(2).write(entry as *const () as usize);
        top.sub(1).write(index);
        top.sub(2) as usize
    };
    let tid = TIDS[index].as_ptr() as usize;
    let tls = (&raw const TLS[index]) as usize;
    // SAFETY: the arguments follow the clone contract: a stack the child owns, tid
    // words that outlive the child, a canonical thread pointer.
    unsafe {
        if via_stub {
            clone_stub(FLAGS, sp, tid, tid, tls)
        } else {
            clone_syscall(FLAGS, sp, tid, tid, tls)
        }
    }
}

pub fn threads() -> ! {
    check_stub_convention();
    let mut tids = [0isize; CHILDREN];
    for (index, tid) in tids.iter_mut().enumerate() {
        *tid = spawn(index, index % 2 == 1);
        assert!(*tid > 1, "clone returned {}", *tid);
        assert_eq!(
            TIDS[index].load(Ordering::SeqCst) as isize,
            *tid,
            "CLONE_PARENT_SETTID"
        );
    }
    for word in &TIDS {
        loop {
            let value = word.load(Ordering::SeqCst);
            if value == 0 {
                break;
            }
            let r = sys!(__unikernel_sys_futex, word.as_ptr(), 0, value, 0, 0, 0);
            assert!(r == 0 || r == -11, "futex wait returned {r}");
        }
    }
    assert_eq!(RAN.load(Ordering::SeqCst), CHILDREN);
    assert_eq!(
        BAD.load(Ordering::SeqCst),
        0,
        "a child saw the wrong tid or FS base"
    );
    println!(
        "clone ok: {CHILDREN} threads {tids:?} (syscall instruction and stub), joined through CLONE_CHILD_CLEARTID"
    );
    // A fork-like clone is refused.
    // SAFETY: flags without CLONE_VM make the kernel refuse before anything else.
    let r = unsafe { clone_stub(17, 0, 0, 0, 0) };
    assert_eq!(r, -38, "fork-like clone");
    println!("threads scenario ok");
    exit(5)
}

static STOP: AtomicBool = AtomicBool::new(false);
static SPINS: AtomicUsize = AtomicUsize::new(0);

extern "C" fn spinner(_: usize) -> ! {
    while !STOP.load(Ordering::SeqCst) {
        SPINS.fetch_add(1, Ordering::SeqCst);
    }
    sys!(__unikernel_sys_exit, 0);
    unreachable!("exit returned")
}

fn monotonic_ms() -> u64 {
    let mut ts = [0i64; 2];
    sys!(__unikernel_sys_clock_gettime, 1, ts.as_mut_ptr());
    ts[0] as u64 * 1000 + ts[1] as u64 / 1_000_000
}

pub fn preempt() -> ! {
    let tid = spawn_with(0, true, spinner);
    assert!(tid > 1, "clone returned {tid}");
    // Only preemption lets the spinner run while this thread spins too.
    let t0 = monotonic_ms();
    while SPINS.load(Ordering::SeqCst) == 0 {
        core::hint::spin_loop();
    }
    println!(
        "spinning main thread preempted after {} ms",
        monotonic_ms() - t0
    );
    // Only the timer wakes this thread while the spinner spins.
    let before = SPINS.load(Ordering::SeqCst);
    let t1 = monotonic_ms();
    let nap = [0i64, 30_000_000];
    assert_eq!(sys!(__unikernel_sys_nanosleep, nap.as_ptr(), 0), 0);
    let slept = monotonic_ms() - t1;
    let spun = SPINS.load(Ordering::SeqCst) - before;
    assert!((30..1000).contains(&slept), "slept {slept} ms for 30");
    assert!(spun > 0, "the spinner did not run while main slept");
    STOP.store(true, Ordering::SeqCst);
    loop {
        let value = TIDS[0].load(Ordering::SeqCst);
        if value == 0 {
            break;
        }
        sys!(__unikernel_sys_futex, TIDS[0].as_ptr(), 0, value, 0, 0, 0);
    }
    println!("sleeper woke after {slept} ms (asked 30) while the spinner ran; spinner joined");
    println!("preempt scenario ok");
    exit(6)
}
