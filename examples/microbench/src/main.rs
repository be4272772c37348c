//! Per-operation cost of system-call-bound work, for `cargo run -p unikernel-bench --
//! unikernel`.
//!
//! `microbench [--iterations N] [OP...]` runs each named operation (all of them when none
//! is named) N times in a loop whose results feed a checksum, after a warm-up of N/10,
//! and prints one line per operation:
//!
//! ```text
//! op getppid iterations 100000 ns 5123456 checksum 100000
//! ```
//!
//! `ns` is the loop's duration on `Instant` (CLOCK_MONOTONIC). Under QEMU with
//! `-icount shift=0` guest time advances one nanosecond per guest instruction, so the
//! same figure is then the loop's instruction count.
//!
//! `--boot` first prints `boot tsc T`: the time-stamp counter as `main` starts. Under
//! QEMU with `-icount` the counter is the guest's virtual clock from the machine's reset,
//! so `T` is the guest instructions (plus any idle time) from reset to `main`, whatever
//! the guest: the unikernel, or Linux with this program as `/init`
//! (`unikernel-bench linux`).

use std::fs::{self, File};
use std::hint::black_box;
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::process::parent_id;
use std::process::ExitCode;
use std::sync::{Arc, Condvar, Mutex};
use std::thread;
use std::time::Instant;

/// One benchmarked operation: runs `iterations` times, returns a value derived from
/// every iteration's result so the optimizer cannot drop the work.
struct Op {
    name: &'static str,
    what: &'static str,
    run: fn(u64) -> u64,
}

const OPS: &[Op] = &[
    Op {
        name: "getppid",
        what: "a null system call: std::os::unix::process::parent_id()",
        run: getppid,
    },
    Op {
        name: "clock_gettime",
        what: "Instant::now() (CLOCK_MONOTONIC)",
        run: clock_gettime,
    },
    Op {
        name: "write_null",
        what: "a 64-byte write to /dev/null",
        run: write_null,
    },
    Op {
        name: "spawn_join",
        what: "thread::spawn of an empty closure, then join",
        run: spawn_join,
    },
    Op {
        name: "condvar_pingpong",
        what: "one round trip between two threads over a Mutex and two Condvars",
        run: condvar_pingpong,
    },
    Op {
        name: "file_4k",
        what: "write 4 KiB to a file, seek back, read it (a file in $TMPDIR or /tmp)",
        run: file_4k,
    },
];

fn main() -> ExitCode {
    // SAFETY: `rdtsc` only reads the time-stamp counter; every x86-64 CPU has it and
    // neither Linux nor the unikernel disables it for this program (CR4.TSD clear).
    let boot_tsc = unsafe { std::arch::x86_64::_rdtsc() };
    let mut iterations = 100_000u64;
    let mut selected = Vec::new();
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        match arg.as_str() {
            "--iterations" => match args.next().and_then(|n| n.parse().ok()) {
                Some(n) if n > 0 => iterations = n,
                _ => return usage("--iterations needs a positive number"),
            },
            "--boot" => println!("boot tsc {boot_tsc}"),
            "--list" => {
                for op in OPS {
                    println!("{:<18} {}", op.name, op.what);
                }
                return ExitCode::SUCCESS;
            }
            name => match OPS.iter().find(|op| op.name == name) {
                Some(op) => selected.push(op),
                None => return usage(&format!("unknown operation `{name}`")),
            },
        }
    }
    if selected.is_empty() {
        selected = OPS.iter().collect();
    }
    for op in selected {
        black_box((op.run)(iterations.div_ceil(10)));
        let start = Instant::now();
        let checksum = (op.run)(iterations);
        let ns = start.elapsed().as_nanos();
        println!(
            "op {} iterations {iterations} ns {ns} checksum {checksum}",
            op.name
        );
    }
    ExitCode::SUCCESS
}

fn usage(problem: &str) -> ExitCode {
    eprintln!("microbench: {problem}");
    eprintln!("usage: microbench [--iterations N] [--boot] [--list] [OP...]");
    ExitCode::from(2)
}

fn getppid(iterations: u64) -> u64 {
    (0..iterations).fold(0, |sum, _| sum.wrapping_add(u64::from(black_box(parent_id())) | 1))
}

fn clock_gettime(iterations: u64) -> u64 {
    let first = Instant::now();
    (0..iterations).fold(0, |sum, _| {
        let now = black_box(Instant::now());
        sum.wrapping_add(u64::from(now >= first))
    })
}

fn write_null(iterations: u64) -> u64 {
    let mut null = File::create("/dev/null").expect("open /dev/null");
    let buf = [0x5au8; 64];
    (0..iterations).fold(0, |sum, _| {
        let written = null.write(black_box(&buf)).expect("write /dev/null");
        sum.wrapping_add(written as u64)
    })
}

fn spawn_join(iterations: u64) -> u64 {
    (0..iterations).fold(0, |sum, i| {
        let value = thread::spawn(move || black_box(i)).join().expect("join");
        sum.wrapping_add(value)
    })
}

fn condvar_pingpong(iterations: u64) -> u64 {
    /// `turn` counts handoffs: odd means the peer's move, even means ours.
    struct Court {
        turn: Mutex<u64>,
        peer: Condvar,
        main: Condvar,
    }
    let court = Arc::new(Court {
        turn: Mutex::new(0),
        peer: Condvar::new(),
        main: Condvar::new(),
    });
    let peer = {
        let court = Arc::clone(&court);
        thread::spawn(move || {
            let mut turn = court.turn.lock().unwrap();
            for _ in 0..iterations {
                while *turn % 2 == 0 {
                    turn = court.peer.wait(turn).unwrap();
                }
                *turn += 1;
                court.main.notify_one();
            }
        })
    };
    let mut turn = court.turn.lock().unwrap();
    for _ in 0..iterations {
        *turn += 1;
        court.peer.notify_one();
        while *turn % 2 == 1 {
            turn = court.main.wait(turn).unwrap();
        }
    }
    let handoffs = *turn;
    drop(turn);
    peer.join().expect("join the peer");
    handoffs
}

fn file_4k(iterations: u64) -> u64 {
    let dir = std::env::var_os("TMPDIR").unwrap_or_else(|| "/tmp".into());
    let path = std::path::Path::new(&dir).join(format!("microbench-{}", std::process::id()));
    let mut file = File::options()
        .read(true)
        .write(true)
        .create(true)
        .truncate(true)
        .open(&path)
        .expect("create the scratch file");
    let out = [0xa5u8; 4096];
    let mut back = [0u8; 4096];
    let sum = (0..iterations).fold(0u64, |sum, _| {
        file.seek(SeekFrom::Start(0)).expect("seek");
        file.write_all(black_box(&out)).expect("write");
        file.seek(SeekFrom::Start(0)).expect("seek");
        file.read_exact(&mut back).expect("read");
        sum.wrapping_add(u64::from(black_box(&back)[4095]))
    });
    drop(file);
    fs::remove_file(&path).expect("remove the scratch file");
    sum
}
