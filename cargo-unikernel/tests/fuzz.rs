//! The system-call fuzzer (`examples/fuzz`, issue 10): 100,000 random calls with a
//! fixed seed from four threads in the image, given the kernel's own memory as bad
//! pointers (its data range, read from the image's symbol table). The kernel must not
//! fault (exit 126), hang (the run's timeout) or return an errno the call's man page
//! does not list (the program exits 1 and names the call). Linux is the reference:
//! the same run natively must be clean too, or the errno table is wrong. A third test
//! keeps the fuzzer's table and the kernel's `syscall/list.rs` in step. The image runs
//! without a network device (its TCP `socket` is ENETDOWN) except in the test that
//! publishes a port, where a host client connects to the fuzzer's listener.
//!
//! Seed 1 found, before their fixes: `umask` of a value with high bits set (EINVAL),
//! a removed working directory freed while in use (`getcwd`/`stat`/`creat` EIO),
//! `fchmod` of a pipe and `sendfile` from a directory or past the largest offset with
//! undocumented errnos, and a `sendfile` of a pipe into itself that wedged the guest;
//! the socket calls, a `MSG_WAITALL` receive that waited for good at end of stream.

mod common;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

use common::{boot, example_dir, native, repo, run, tool};
use object::{Object, ObjectSymbol};

const CALLS: &str = "100000";
const SEED: &str = "1";
const THREADS: &str = "4";

/// The kernel's data range in the image, as `kernel=START-END` for the fuzzer.
fn kernel_range() -> String {
    let image = common::image("fuzz");
    let bytes = std::fs::read(image).expect("read the image");
    let elf = object::File::parse(&*bytes).expect("an ELF image");
    let address = |name: &str| {
        elf.symbols()
            .find(|symbol| symbol.name() == Ok(name))
            .unwrap_or_else(|| panic!("no {name} in the image"))
            .address()
    };
    let (start, end) = (
        address("__unikernel_kernel_data_start"),
        address("__unikernel_kernel_data_end"),
    );
    assert!(start < end, "{start:#x}..{end:#x}");
    format!("kernel={start:#x}-{end:#x}")
}

#[test]
fn fuzzing_the_image_finds_no_fault_hang_or_undocumented_errno() {
    let kernel = kernel_range();
    let args = [
        "--calls",
        CALLS,
        "--seed",
        SEED,
        "--threads",
        THREADS,
        &kernel,
    ];
    let started = std::time::Instant::now();
    let actual = boot("fuzz", &args, &[]);
    assert_eq!(actual.stderr, "", "the tool reported an error");
    assert_eq!(
        actual.code,
        Some(0),
        "fuzzing the image failed (126: kernel fault; 124: timeout; 1: violations) after {:?}:\n{}",
        started.elapsed(),
        actual.stdout
    );
    assert!(
        actual.stdout.contains(&format!("fuzz: {CALLS} calls in ")),
        "{}",
        actual.stdout
    );
}

/// One thread, so the sequence is exactly the same on every run: seed 1's call 16189
/// was `sendfile` to a file positioned at the largest offset, which failed with
/// write(2)'s EFBIG instead of EINVAL.
#[test]
fn a_single_thread_sequence_is_clean_in_the_image() {
    let kernel = kernel_range();
    let args = [
        "--calls",
        "20000",
        "--seed",
        SEED,
        "--threads",
        "1",
        &kernel,
    ];
    let actual = boot("fuzz", &args, &[]);
    assert_eq!(actual.stderr, "", "the tool reported an error");
    assert_eq!(actual.code, Some(0), "{}", actual.stdout);
}

/// Only `write` and `sendfile`, one thread: before the fix, a `sendfile` from the
/// pool pipe's read end into its own write end never ran dry and wedged the guest
/// with the VFS lock held (seed 1, four threads, 500,000 calls first showed it).
#[test]
fn sendfile_of_a_pipe_into_itself_ends() {
    let args = [
        "--only",
        "sendfile,write",
        "--calls",
        "20000",
        "--seed",
        SEED,
        "--threads",
        "1",
    ];
    let actual = boot("fuzz", &args, &[]);
    assert_eq!(actual.stderr, "", "the tool reported an error");
    assert_eq!(actual.code, Some(0), "{}", actual.stdout);
}

/// Only the receives, one thread: before the fix, a blocking `MSG_WAITALL` receive
/// on a fresh pair whose peer had shut down (or closed) with fewer bytes queued than
/// asked took them and then waited for good, instead of returning them at the end
/// of the stream as Linux does (seed 1, one thread, first showed it at call 23,038
/// of a socket-focused run; with only the receives, seed 3 at call 312).
#[test]
fn a_waitall_receive_ends_at_the_end_of_the_stream() {
    let args = [
        "--only",
        "recvfrom,recvmsg",
        "--calls",
        "5000",
        "--seed",
        "3",
        "--threads",
        "1",
        "--hang-after",
        "10",
    ];
    let actual = boot("fuzz", &args, &[]);
    assert_eq!(actual.stderr, "", "the tool reported an error");
    assert_eq!(actual.code, Some(0), "(3: a call hung) {}", actual.stdout);
}

#[test]
fn the_same_run_on_linux_is_clean() {
    let expected = run(
        &native("fuzz"),
        &["--calls", CALLS, "--seed", SEED, "--threads", THREADS],
        &[],
    );
    assert_eq!(
        expected.code,
        Some(0),
        "Linux returned an errno the table does not allow, or the run failed:\n{}{}",
        expected.stdout,
        expected.stderr
    );
}

/// How many calls of `name` returned success, from the run's per-call counts.
fn successes(stdout: &str, name: &str) -> u64 {
    stdout
        .lines()
        .find_map(|line| {
            let mut words = line.split_whitespace();
            (words.next() == Some("call") && words.next() == Some(name)).then(|| {
                let words: Vec<&str> = words.collect();
                let ok = words.iter().position(|w| *w == "ok").expect("an ok count");
                words[ok + 1].parse().expect("a number")
            })
        })
        .unwrap_or(0)
}

/// With a network device (`--publish`), so TCP sockets exist (without one `socket`
/// is ENETDOWN and the other INET calls see no TCP socket): the whole table, and a
/// client on the host connecting to the pool's listener (`--listen`, the published
/// port) over and over while the run goes on, so `accept` takes real connections.
/// The kernel must neither fault nor hang, nor return an undocumented errno, and some
/// accept must have succeeded.
#[test]
fn fuzzing_with_a_network_device_and_a_client_is_clean() {
    let kernel = kernel_range();
    let port = {
        let free = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("a free port");
        free.local_addr().unwrap().port()
    };
    let done = Arc::new(AtomicBool::new(false));
    let client = {
        let done = done.clone();
        std::thread::spawn(move || {
            let address = SocketAddr::from((Ipv4Addr::LOCALHOST, port));
            while !done.load(Ordering::Relaxed) {
                if let Ok(mut stream) = TcpStream::connect_timeout(&address, Duration::from_secs(1))
                {
                    let _ = stream.write_all(b"fuzz");
                }
                std::thread::sleep(Duration::from_millis(10));
            }
        })
    };
    let output = tool()
        .args(["run", "--release", "--timeout", "300", "--publish"])
        .arg(port.to_string())
        .arg("--manifest-path")
        .arg(example_dir("fuzz").join("Cargo.toml"))
        .arg("--")
        .args(["--calls", CALLS, "--seed", "2", "--threads", THREADS])
        .args(["--listen", &port.to_string(), &kernel])
        .output()
        .expect("run cargo-unikernel");
    done.store(true, Ordering::Relaxed);
    client.join().expect("the client thread");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_eq!(
        output.status.code(),
        Some(0),
        "(126: kernel fault; 124: timeout; 1: violations):\n{stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let accepted = successes(&stdout, "accept") + successes(&stdout, "accept4");
    assert!(accepted > 0, "no connection accepted:\n{stdout}");
    assert!(successes(&stdout, "socket") > 0, "{stdout}");
}

/// Every call of the kernel's table is fuzzed or excluded with a reason, and the
/// fuzzer's numbers are the ABI's.
#[test]
fn the_fuzzer_covers_the_kernel_table() {
    let list = std::fs::read_to_string(repo().join("sysroot/kernel/src/syscall/list.rs"))
        .expect("read the kernel's syscall list");
    let implemented: BTreeSet<&str> = list
        .lines()
        .filter_map(|line| {
            let (name, handler) = line.trim().split_once(": ")?;
            (handler.ends_with(',') && handler.contains("::")).then_some(name)
        })
        .collect();
    assert!(implemented.len() > 90, "{implemented:?}");

    let listed = run(&native("fuzz"), &["--list"], &[]);
    assert_eq!(listed.code, Some(0), "{}", listed.stderr);
    let mut covered = BTreeSet::new();
    for line in listed.stdout.lines() {
        if let Some(rest) = line.strip_prefix("fuzzed ") {
            let (name, number) = rest.split_once(' ').expect("fuzzed NAME NUMBER");
            assert_eq!(
                unikernel_abi::syscall::number(name),
                number.parse().ok(),
                "the fuzzer's number for {name}"
            );
            assert!(covered.insert(name.to_owned()), "{name} listed twice");
        } else if let Some(rest) = line.strip_prefix("excluded ") {
            let (name, why) = rest.split_once(": ").expect("excluded NAME: WHY");
            assert!(!why.is_empty());
            assert!(covered.insert(name.to_owned()), "{name} listed twice");
        }
    }
    let covered: BTreeSet<&str> = covered.iter().map(String::as_str).collect();
    assert_eq!(
        implemented, covered,
        "the kernel's calls (left) and the fuzzer's fuzzed and excluded calls (right) differ"
    );
}
