//! `__unikernel_libc_start` and the test scenarios.

use core::arch::asm;
use core::ffi::CStr;

use crate::runtime::exit;
use crate::{println, sys};

const AT_PHDR: usize = 3;
const AT_PHNUM: usize = 5;
const AT_PAGESZ: usize = 6;
const AT_RANDOM: usize = 25;

// A thread-local word, read through FS with the local-exec TLS model, to check that
// PT_TLS survives the link and describes the template.
core::arch::global_asm!(
    ".pushsection .tdata.boot_test, \"awT\", @progbits",
    ".p2align 3",
    "boot_test_tls_word: .quad 0x1122334455667788",
    ".popsection",
    ".pushsection .text.boot_test_tls_read, \"ax\", @progbits",
    "boot_test_tls_read:",
    "mov rax, qword ptr fs:[boot_test_tls_word@tpoff]",
    "ret",
    ".popsection",
);

unsafe extern "C" {
    fn boot_test_tls_read() -> u64;
}

/// Builds a TLS block from the PT_TLS template (x86-64 variant II: the block ends at
/// the thread pointer, which points at itself) and reads the word through FS.
fn check_tls(phdr: usize, phnum: usize) {
    let tls = (0..phnum).map(|i| phdr + i * 56).find(|&p| {
        // SAFETY: AT_PHDR points at AT_PHNUM loaded Elf64_Phdr entries.
        unsafe { (p as *const u32).read() == 7 }
    });
    let tls = tls.expect("no PT_TLS program header");
    // SAFETY: as above; p_vaddr at 16, p_filesz at 32, p_memsz at 40, p_align at 48.
    let (vaddr, filesz, memsz, align) = unsafe {
        let f = |off: usize| ((tls + off) as *const usize).read();
        (f(16), f(32), f(40), f(48))
    };
    assert!(
        filesz >= 8 && memsz >= filesz && align <= 64,
        "PT_TLS {vaddr:#x} {filesz} {memsz} {align}"
    );
    let mut area = [0u64; 64];
    let block = memsz.next_multiple_of(align.max(8));
    let tp = (area.as_mut_ptr() as usize + block).next_multiple_of(64);
    assert!(tp + 8 <= area.as_ptr() as usize + size_of_val(&area));
    // SAFETY: the template is filesz loaded bytes; the block [tp - block, tp) and the
    // self pointer at tp lie inside `area`.
    unsafe {
        core::ptr::copy_nonoverlapping(vaddr as *const u8, (tp - block) as *mut u8, filesz);
        (tp as *mut usize).write(tp);
    }
    assert_eq!(sys!(__unikernel_sys_arch_prctl, 0x1002, tp), 0);
    // SAFETY: FS now points at a valid TLS block for this module's only TLS word.
    let value = unsafe { boot_test_tls_read() };
    assert_eq!(value, 0x1122_3344_5566_7788, "TLS word through FS");
    println!("TLS ok: PT_TLS at {vaddr:#x}, {filesz}/{memsz} bytes");
}

unsafe fn cstr<'a>(ptr: usize) -> &'a str {
    // SAFETY: the kernel puts NUL-terminated strings on the initial stack.
    unsafe { CStr::from_ptr(ptr as *const core::ffi::c_char) }
        .to_str()
        .unwrap_or("<non-utf8>")
}

#[unsafe(no_mangle)]
pub unsafe extern "C" fn __unikernel_libc_start(sp: *const usize) -> ! {
    // SAFETY: sp points at the System V initial stack the kernel built.
    let (argc, argv, envp) = unsafe { (*sp, sp.add(1), sp.add(2 + *sp)) };
    let mut scenario = "hello";
    for i in 0..argc {
        // SAFETY: argv has argc entries.
        let arg = unsafe { cstr(*argv.add(i)) };
        println!("argv[{i}] = {arg:?}");
        if i == 1 {
            scenario = arg;
        }
    }
    let mut envc = 0;
    // SAFETY: envp is NULL-terminated, followed by the auxv pairs.
    unsafe {
        while *envp.add(envc) != 0 {
            println!("env: {}", cstr(*envp.add(envc)));
            envc += 1;
        }
    }
    let auxv = envp.wrapping_add(envc + 1);
    let (mut phdr, mut phnum, mut pagesz, mut random) = (0, 0, 0, 0);
    let mut i = 0;
    loop {
        // SAFETY: auxv pairs end with AT_NULL.
        let (key, value) = unsafe { (*auxv.add(i), *auxv.add(i + 1)) };
        match key {
            0 => break,
            AT_PHDR => phdr = value,
            AT_PHNUM => phnum = value,
            AT_PAGESZ => pagesz = value,
            AT_RANDOM => random = value,
            _ => {}
        }
        i += 2;
    }
    assert!(
        (sp as usize).is_multiple_of(16),
        "initial stack pointer not 16-byte aligned"
    );
    assert!(
        phdr != 0 && phnum >= 4 && pagesz == 4096 && random != 0,
        "bad auxv"
    );
    // PT_TLS must be among the program headers (type 7).
    let has_tls = (0..phnum).any(|i| {
        // SAFETY: AT_PHDR points at AT_PHNUM loaded Elf64_Phdr entries (56 bytes each).
        unsafe { ((phdr + i * 56) as *const u32).read() == 7 }
    });
    println!("auxv ok: {phnum} program headers at {phdr:#x}, PT_TLS {has_tls}");
    check_tls(phdr, phnum);

    match scenario {
        "hello" => hello(),
        "trap" => trap(),
        "null" => null(),
        "write-text" => write_text(),
        "exec-data" => exec_data(),
        "stack-overflow" => stack_overflow(0),
        "deadlock" => deadlock(),
        "threads" => crate::threads::threads(),
        "preempt" => crate::threads::preempt(),
        other => {
            println!("unknown scenario {other:?}");
            exit(100)
        }
    }
}

fn now(clock: usize) -> u64 {
    let mut ts = [0i64; 2];
    assert_eq!(
        sys!(__unikernel_sys_clock_gettime, clock, ts.as_mut_ptr()),
        0
    );
    ts[0] as u64 * 1_000_000_000 + ts[1] as u64
}

fn hello() -> ! {
    let message = "hello from the unikernel\n";
    assert_eq!(
        sys!(__unikernel_sys_write, 1, message.as_ptr(), message.len()),
        message.len() as isize
    );

    let start = now(1);
    let ts = [0i64, 10_000_000];
    assert_eq!(sys!(__unikernel_sys_nanosleep, ts.as_ptr(), 0), 0);
    let slept = now(1) - start;
    assert!(slept >= 10_000_000, "nanosleep(10 ms) took {slept} ns");
    let realtime = now(0) / 1_000_000_000;
    assert!(
        realtime > 1_700_000_000,
        "CLOCK_REALTIME {realtime} is before 2023"
    );
    println!("clock ok: monotonic advanced {slept} ns over a 10 ms sleep, realtime {realtime} s");

    // mmap, dirty, munmap, mmap again: the memory must come back zeroed.
    let len = 64 * 1024;
    let (prot_rw, flags) = (3usize, 0x22usize); // PROT_READ|PROT_WRITE, MAP_PRIVATE|MAP_ANONYMOUS
    let first = sys!(__unikernel_sys_mmap, 0, len, prot_rw, flags, -1isize, 0);
    assert!(first > 0 && first % 4096 == 0, "mmap returned {first}");
    // SAFETY: the kernel just mapped len bytes read-write at `first`.
    let bytes = unsafe { core::slice::from_raw_parts_mut(first as *mut u8, len) };
    assert!(bytes.iter().all(|&b| b == 0));
    bytes.fill(0xa5);
    assert_eq!(sys!(__unikernel_sys_mprotect, first, 4096, 1), 0); // read-only
    assert_eq!(sys!(__unikernel_sys_mprotect, first, 4096, 7), -13); // W+X: EACCES
    assert_eq!(sys!(__unikernel_sys_munmap, first, len), 0);
    let second = sys!(__unikernel_sys_mmap, 0, len, prot_rw, flags, -1isize, 0);
    // SAFETY: as above.
    let bytes = unsafe { core::slice::from_raw_parts(second as *const u8, len) };
    assert!(
        bytes.iter().all(|&b| b == 0),
        "reused mmap memory is not zeroed"
    );
    assert_eq!(
        sys!(__unikernel_sys_mmap, 0, 0, prot_rw, flags, -1isize, 0),
        -22
    ); // EINVAL
    println!("mmap ok: {first:#x} then {second:#x}");

    // mremap: grow a dirty 8 KiB mapping to 1 MiB; contents kept, the rest zero.
    let small = sys!(__unikernel_sys_mmap, 0, 8192, prot_rw, flags, -1isize, 0);
    let blocker = sys!(__unikernel_sys_mmap, 0, 4096, prot_rw, flags, -1isize, 0); // forces a move
    // SAFETY: 8 KiB mapped read-write at `small`.
    unsafe { core::slice::from_raw_parts_mut(small as *mut u8, 8192).fill(0x5a) };
    let grown = sys!(__unikernel_sys_mremap, small, 8192, 1 << 20, 1);
    assert!(grown > 0, "mremap returned {grown}");
    // SAFETY: 1 MiB mapped read-write at `grown`.
    let bytes = unsafe { core::slice::from_raw_parts(grown as *const u8, 1 << 20) };
    assert!(bytes[..8192].iter().all(|&b| b == 0x5a) && bytes[8192..].iter().all(|&b| b == 0));
    assert_eq!(sys!(__unikernel_sys_munmap, grown, 1 << 20), 0);
    assert_eq!(sys!(__unikernel_sys_munmap, blocker, 4096), 0);
    println!("mremap ok: {small:#x} -> {grown:#x}");

    let mut random = [0u8; 16];
    assert_eq!(
        sys!(__unikernel_sys_getrandom, random.as_mut_ptr(), 16, 0),
        16
    );
    println!("getrandom ok: {random:02x?}");

    let mut uts = [0u8; 390];
    assert_eq!(sys!(__unikernel_sys_uname, uts.as_mut_ptr()), 0);
    // SAFETY: uname wrote NUL-terminated fields of 65 bytes: sysname at 0, release at 130.
    let (sysname, release) = unsafe {
        (
            cstr(uts.as_ptr() as usize),
            cstr(uts[130..].as_ptr() as usize),
        )
    };
    println!("uname: {sysname} {release}");

    // TLS: set FS to a block whose first word points at itself (the x86-64 TLS ABI).
    let mut tcb = [0usize; 4];
    tcb[0] = tcb.as_ptr() as usize;
    tcb[1] = 0x1234_5678;
    assert_eq!(sys!(__unikernel_sys_arch_prctl, 0x1002, tcb.as_ptr()), 0);
    let value: usize;
    // SAFETY: FS points at `tcb`, which lives until the end of this function.
    unsafe { asm!("mov {}, fs:[8]", out(reg) value, options(nostack, readonly)) };
    assert_eq!(value, 0x1234_5678);
    println!("arch_prctl ok");

    // Errors and the dispatcher.
    assert_eq!(sys!(__unikernel_sys_write, 1, 0, 5), -14); // NULL buffer: EFAULT
    assert_eq!(sys!(__unikernel_sys_write, 7, message.as_ptr(), 1), -9); // EBADF
    assert_eq!(
        sys!(__unikernel_sys_write, 1, 0x7fff_ffff_0000usize, 8),
        -14
    ); // unmapped
    assert_eq!(
        sys!(__unikernel_sys_futex, &0u32 as *const u32, 128, 1, 0),
        -11
    ); // EAGAIN
    assert_eq!(crate::runtime::syscall(39), 1); // getpid through the dispatcher
    assert_eq!(crate::runtime::syscall(56), -38); // clone: ENOSYS, logged once
    assert_eq!(crate::runtime::syscall(56), -38); // ... not logged again
    assert_eq!(crate::runtime::syscall(1000), -38);
    assert_eq!(sys!(__unikernel_sys_getppid), 0);

    let calls = 100_000;
    let t0 = now(1);
    for _ in 0..calls {
        core::hint::black_box(sys!(__unikernel_sys_getppid));
    }
    println!(
        "getppid (direct call): {} ns per call",
        (now(1) - t0) / calls
    );
    println!("hello scenario ok");
    exit(3)
}

/// A raw `syscall` instruction, checking what the Linux ABI promises is preserved.
fn raw_syscall(nr: usize, a0: usize, a1: usize, a2: usize) -> isize {
    let ret: isize;
    let (rdi, rsi, rdx, r10, r8, r9): (usize, usize, usize, usize, usize, usize);
    let red_zone: usize;
    let xmm_in = 0x1122_3344_5566_7788u64;
    let xmm_out: u64;
    // SAFETY: a system call through the kernel's LSTAR entry; the asm also writes
    // below rsp, which is allowed because the block does not claim `nostack`... it
    // does the opposite: the compiler keeps that area free for it.
    unsafe {
        asm!(
            "movq xmm5, {x}",
            "mov qword ptr [rsp - 8], {sentinel}",
            "syscall",
            "mov {red}, qword ptr [rsp - 8]",
            "movq {x}, xmm5",
            sentinel = in(reg) 0x5eed_5eedusize,
            red = out(reg) red_zone,
            x = inout(reg) xmm_in => xmm_out,
            inlateout("rax") nr as isize => ret,
            inlateout("rdi") a0 => rdi,
            inlateout("rsi") a1 => rsi,
            inlateout("rdx") a2 => rdx,
            inlateout("r10") 0xa10usize => r10,
            inlateout("r8") 0xa8usize => r8,
            inlateout("r9") 0xa9usize => r9,
            out("xmm5") _,
            lateout("rcx") _,
            lateout("r11") _,
        );
    }
    assert_eq!(
        (rdi, rsi, rdx, r10, r8, r9),
        (a0, a1, a2, 0xa10, 0xa8, 0xa9),
        "argument registers clobbered"
    );
    assert_eq!(red_zone, 0x5eed_5eed, "red zone clobbered");
    assert_eq!(xmm_out, xmm_in, "xmm5 clobbered");
    ret
}

fn trap() -> ! {
    let message = "hello through the syscall instruction\n";
    assert_eq!(
        raw_syscall(1, 1, message.as_ptr() as usize, message.len()),
        message.len() as isize
    );
    assert_eq!(raw_syscall(110, 0, 0, 0), 0); // getppid
    assert_eq!(raw_syscall(39, 0, 0, 0), 1); // getpid
    assert_eq!(raw_syscall(57, 0, 0, 0), -38); // fork: ENOSYS
    let calls = 20_000;
    let t0 = now(1);
    for _ in 0..calls {
        core::hint::black_box(raw_syscall(110, 0, 0, 0));
    }
    println!(
        "getppid (syscall instruction): {} ns per call",
        (now(1) - t0) / calls
    );
    println!("trap scenario ok");
    raw_syscall(231, 4, 0, 0);
    unreachable!("exit_group returned")
}

fn null() -> ! {
    // SAFETY: deliberately faults (page 0 is unmapped); never returns.
    let value = unsafe { core::ptr::read_volatile(core::ptr::without_provenance::<u64>(8)) };
    println!("read {value} from address 8?!");
    exit(1)
}

fn write_text() -> ! {
    let code = write_text as *const () as *mut u8;
    // SAFETY: deliberately faults (text is mapped read + execute).
    unsafe { code.write_volatile(0xcc) };
    println!("wrote into the code?!");
    exit(1)
}

fn exec_data() -> ! {
    let ret = [0xc3u8; 16]; // `ret`
    // SAFETY: deliberately faults (the stack is mapped no-execute).
    let f: extern "C" fn() = unsafe { core::mem::transmute(ret.as_ptr()) };
    f();
    println!("executed the stack?!");
    exit(1)
}

fn stack_overflow(depth: usize) -> ! {
    let frame = core::hint::black_box([depth as u8; 4096]);
    if depth == usize::MAX {
        exit(frame[0].into());
    }
    stack_overflow(core::hint::black_box(depth + 1))
}

fn deadlock() -> ! {
    let word = 0u32;
    sys!(__unikernel_sys_futex, &word as *const u32, 128, 0, 0);
    println!("futex wait returned?!");
    exit(1)
}
