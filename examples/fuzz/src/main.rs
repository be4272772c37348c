//! A system-call fuzzer: `fuzz [--calls N] [--seed S] [--threads T] [--skip CALL,..]
//! [--only CALL,..] [--hang-after SECONDS] [--listen PORT] [kernel=START-END]..`
//! makes N random system calls (split over T threads running at once), drawn from the
//! calls the unikernel implements (`calls`), with random and edge-case arguments
//! (`args`), through libc's `syscall` with a number that is not a compile-time constant,
//! so in the image every call goes through the kernel's dispatcher.
//!
//! It checks that every error is one the call's man page lists, prints per-call counts
//! and any violation (call, arguments, errno), and exits 1 if there was one; a call
//! that does not return within `--hang-after` seconds (20) is printed and ends the run
//! with exit code 3 (`watchdog`). A kernel fault (the unikernel's exit 126) and a hang
//! of the whole machine (the run's timeout) are the runner's to see. `--list` prints the fuzzed and the excluded calls.
//! The same program runs on Linux, the reference for the errno table.
//!
//! `kernel=START-END` (hexadecimal) adds kernel addresses to the bad pointers: the test
//! reads them from the image's symbol table. `--listen PORT` puts the pool's listening
//! TCP socket on that port, for a test that connects to it while the run goes on.

mod args;
mod calls;
mod errno;
mod rng;
mod sources;
mod sys;
mod timers;
mod watchdog;
mod world;

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use args::{After, Gen, PRIVATE_WORDS, Prepared};
use calls::Call;
use rng::Rng;
use watchdog::Progress;
use world::{World, syscall};

/// Violations printed in full per kind (call and errno); the rest are counted.
const SHOWN: usize = 3;
/// Calls between two resets of the pool's files (truncated to empty), which keeps
/// them small whatever the writes and seeks in between did.
const RESET_EVERY: u64 = 64;

#[derive(Debug)]
struct Options {
    calls: u64,
    seed: u64,
    threads: usize,
    kernel: Vec<usize>,
    list: bool,
    /// Calls left out (`--skip a,b`), to narrow down a failure.
    skip: Vec<String>,
    /// Only these calls (`--only a,b`), for a focused run.
    only: Vec<String>,
    /// Seconds one call may take before the run counts as hung (`--hang-after`).
    hang_after: u64,
    /// The port of the pool's listening TCP socket (`--listen`; 0: any), so that a
    /// test can connect to it from outside while the run goes on.
    listen: u16,
}

fn parse() -> Result<Options, String> {
    let mut options = Options {
        calls: 10_000,
        seed: 1,
        threads: 4,
        kernel: Vec::new(),
        list: false,
        skip: Vec::new(),
        only: Vec::new(),
        hang_after: 20,
        listen: 0,
    };
    let mut args = std::env::args().skip(1);
    while let Some(arg) = args.next() {
        let mut value = |name: &str| -> Result<u64, String> {
            let text = args.next().ok_or(format!("{name} needs a value"))?;
            text.parse()
                .map_err(|_| format!("{name}: not a number: {text}"))
        };
        match arg.as_str() {
            "--calls" => options.calls = value("--calls")?,
            "--seed" => options.seed = value("--seed")?,
            "--threads" => options.threads = value("--threads")?.clamp(1, 64) as usize,
            "--list" => options.list = true,
            "--hang-after" => options.hang_after = value("--hang-after")?,
            "--listen" => {
                options.listen = u16::try_from(value("--listen")?)
                    .map_err(|_| "--listen: not a port".to_owned())?
            }
            "--skip" | "--only" => {
                let names = args.next().ok_or(format!("{arg} needs a value"))?;
                let names = names.split(',').map(str::to_owned).collect();
                if arg == "--skip" {
                    options.skip = names;
                } else {
                    options.only = names;
                }
            }
            other => {
                let range = other
                    .strip_prefix("kernel=")
                    .and_then(|range| range.split_once('-'))
                    .and_then(|(start, end)| Some((hex(start)?, hex(end)?)))
                    .ok_or(format!("unknown argument {other}"))?;
                let (start, end) = range;
                options
                    .kernel
                    .extend([start, start + (end - start) / 2, end - 16]);
            }
        }
    }
    Ok(options)
}

fn hex(text: &str) -> Option<usize> {
    usize::from_str_radix(text.trim_start_matches("0x"), 16).ok()
}

/// What one thread saw of one call.
#[derive(Debug, Default, Clone)]
struct Tally {
    made: u64,
    ok: u64,
    errors: BTreeMap<i32, u64>,
}

/// What one thread saw.
#[derive(Debug)]
struct Report {
    tallies: Vec<Tally>,
    /// The call's index in the table, the errno, and the call with its arguments.
    violations: Vec<(usize, i32, String)>,
    count: u64,
}

fn main() {
    let options = match parse() {
        Ok(options) => options,
        Err(message) => {
            eprintln!("fuzz: {message}");
            std::process::exit(2);
        }
    };
    let table: Vec<&Call> = calls::all()
        .into_iter()
        .filter(|call| !options.skip.iter().any(|name| name == call.name))
        .filter(|call| options.only.is_empty() || options.only.iter().any(|n| n == call.name))
        .collect();
    if table.is_empty() {
        eprintln!("fuzz: no call left to make");
        std::process::exit(2);
    }
    if options.list {
        for call in &table {
            println!("fuzzed {} {}", call.name, call.number);
        }
        for (name, why) in calls::EXCLUDED {
            println!("excluded {name}: {why}");
        }
        return;
    }
    timers::catch();
    let root = std::env::temp_dir().join(format!("fuzz-scratch-{}", std::process::id()));
    sources::listen_on(options.listen);
    let world = World::new(&root, options.kernel.clone(), options.threads);
    println!(
        "fuzz: seed {}, {} calls on {} threads, {} kinds of call",
        options.seed,
        options.calls,
        options.threads,
        table.len()
    );
    let start = Instant::now();
    let reports = Mutex::new(Vec::new());
    let progress = Progress::new(options.threads);
    std::thread::scope(|scope| {
        for thread in 0..options.threads {
            let share = options.calls / options.threads as u64
                + u64::from((thread as u64) < options.calls % options.threads as u64);
            let (world, table, reports, progress) = (&world, &table, &reports, &progress);
            std::thread::Builder::new()
                .name(format!("fuzz-{thread}"))
                .spawn_scoped(scope, move || {
                    let report = fuzz(world, table, progress, options.seed, thread, share);
                    progress.finished(thread);
                    reports.lock().unwrap().push(report);
                })
                .expect("spawn a fuzzing thread");
        }
        progress.watch(&table, Duration::from_secs(options.hang_after));
    });
    let elapsed = start.elapsed();
    let reports = reports.into_inner().unwrap();
    let violations = summarize(&table, &reports);
    println!(
        "fuzz: {} calls in {} ms, {} violations",
        reports.iter().map(|r| r.count).sum::<u64>(),
        elapsed.as_millis(),
        violations
    );
    println!("fuzz: {} timer signals caught", timers::caught());
    restore(&root);
    if violations > 0 {
        std::process::exit(1);
    }
}

/// One thread's share: `count` calls from its own stream of the seed.
fn fuzz(
    world: &World,
    table: &[&Call],
    progress: &Progress,
    seed: u64,
    thread: usize,
    count: u64,
) -> Report {
    // SAFETY: gettid takes no arguments.
    let tid = unsafe { syscall(186) } as i32;
    world.tids[thread].store(tid, std::sync::atomic::Ordering::Relaxed);
    let mut rng = Rng::new(seed, thread as u64);
    let mut private = Box::new([0u64; PRIVATE_WORDS]);
    let mut report = Report {
        tallies: vec![Tally::default(); table.len()],
        violations: Vec::new(),
        count: 0,
    };
    for n in 0..count {
        if n % RESET_EVERY == 0 {
            reset_files(world);
        }
        let index = rng.below(table.len() as u64) as usize;
        let call = table[index];
        let _serial = call
            .serial()
            .map(|lock| lock.lock().unwrap_or_else(|poison| poison.into_inner()));
        let prepared = (call.make)(&mut Gen::new(&mut rng, world, &mut private));
        // The calls get the private words' address as an integer, which LLVM does not
        // count as handing over the right to access them: it could then drop the
        // stores of a timeout as dead, or keep a stale value of the descriptors a
        // pipe wrote there. Letting the address escape through `black_box` first
        // makes every later opaque call a possible reader and writer.
        std::hint::black_box(private.as_mut_ptr());
        progress.before(thread, index, &prepared.args);
        let result = make(call, &prepared);
        clean_up(&prepared, result);
        let tally = &mut report.tallies[index];
        tally.made += 1;
        report.count += 1;
        match result {
            Ok(_) => tally.ok += 1,
            Err(errno) => {
                *tally.errors.entry(errno).or_default() += 1;
                if !call.allows(errno) {
                    report.violations.push((
                        index,
                        errno,
                        format!(
                            "thread {thread} call {n}: {}({}) = {}",
                            call.name,
                            prepared
                                .args
                                .iter()
                                .map(|a| format!("{a:#x}"))
                                .collect::<Vec<_>>()
                                .join(", "),
                            errno::name(errno)
                        ),
                    ));
                }
            }
        }
    }
    report
}

/// Makes the call; its result or errno.
fn make(call: &Call, prepared: &Prepared) -> Result<usize, i32> {
    let [a, b, c, d, e, f] = prepared.args;
    // SAFETY: the generators give every call only buffers it may write (the arena,
    // the thread's private words) or addresses the program does not own, and only
    // mapping changes of its own fresh regions (see `calls` and `args`).
    let result = unsafe { syscall(call.number as _, a, b, c, d, e, f) };
    if result == -1 {
        Err(std::io::Error::last_os_error().raw_os_error().unwrap_or(0))
    } else {
        Ok(result as usize)
    }
}

/// Undoes what the call created: descriptors, mappings, regions.
fn clean_up(prepared: &Prepared, result: Result<usize, i32>) {
    // SAFETY (all blocks): closing descriptors and unmapping mappings this call just
    // created, which nothing else uses.
    match (prepared.after, result) {
        (After::CloseResult, Ok(fd)) => unsafe {
            syscall(3, fd);
        },
        (After::ClosePair(words), Ok(_)) | (After::CloseMade(words), _) => unsafe {
            let pair = std::ptr::read_volatile(words as *const u64);
            syscall(3, pair as u32 as usize);
            syscall(3, (pair >> 32) as usize);
        },
        (After::UnmapResult(len), Ok(addr)) => unsafe {
            syscall(11, addr, len);
        },
        (After::UnmapRegion(region, len, moved), result) => unsafe {
            syscall(11, region, len);
            if let Ok(addr) = result
                && addr != 0
                && moved != 0
            {
                syscall(11, addr, moved);
            }
        },
        _ => {}
    }
}

/// Truncates the pool's files and rewinds them (shared by all threads).
fn reset_files(world: &World) {
    for &fd in &world.files {
        // SAFETY: ftruncate and lseek on the program's own descriptors.
        unsafe {
            syscall(77, fd as usize, 0usize);
            syscall(8, fd as usize, 0usize, 0usize);
        }
    }
}

/// Prints the per-call counts and the violations; returns their number.
fn summarize(table: &[&Call], reports: &[Report]) -> usize {
    let mut violations = 0;
    for (index, call) in table.iter().enumerate() {
        let mut total = Tally::default();
        for report in reports {
            let tally = &report.tallies[index];
            total.made += tally.made;
            total.ok += tally.ok;
            for (errno, n) in &tally.errors {
                *total.errors.entry(*errno).or_default() += n;
            }
        }
        let errors: Vec<String> = total
            .errors
            .iter()
            .map(|(errno, n)| format!("{} {n}", errno::name(*errno)))
            .collect();
        println!(
            "call {:<18} made {:>6} ok {:>6} {}",
            call.name,
            total.made,
            total.ok,
            errors.join(", ")
        );
    }
    // The first few of each kind (call and errno), and how many there were.
    let mut kinds: BTreeMap<(&str, i32), (usize, Vec<&str>)> = BTreeMap::new();
    for report in reports {
        for (index, errno, line) in &report.violations {
            let kind = kinds.entry((table[*index].name, *errno)).or_default();
            kind.0 += 1;
            if kind.1.len() < SHOWN {
                kind.1.push(line);
            }
            violations += 1;
        }
    }
    for ((name, errno), (count, lines)) in &kinds {
        println!("violations: {name} {} x{count}", errno::name(*errno));
        for line in lines {
            println!("violation: {line}");
        }
    }
    violations
}

/// Gives the scratch tree back its permissions (calls may have cleared them) and
/// removes it.
fn restore(root: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    fn walk(path: &std::path::Path) {
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o700));
        if let Ok(entries) = std::fs::read_dir(path) {
            for entry in entries.flatten() {
                if entry.file_type().is_ok_and(|t| t.is_dir()) {
                    walk(&entry.path());
                }
            }
        }
    }
    walk(root);
    let _ = std::env::set_current_dir("/");
    let _ = std::fs::remove_dir_all(root);
}
