//! Signal handlers under QEMU, against the native build: `examples/signal-hook`
//! installs handlers with the `signal-hook` crate and sends itself signals; every
//! scenario prints the same lines and exits with the same status (3) natively and in
//! the unikernel. Each one reaches the kernel's delivery by a different way out of the
//! kernel: direct system-call returns (`flags`, `low-level`), the register-frame path
//! (`low-level`'s hand-written `tgkill`), interrupted waits with and without
//! `SA_RESTART` (`eintr`), the timer interrupt's return into a computing thread
//! (`running`), and the masks of `ppoll`/`epoll_pwait` (`masks`).
//!
//! Not covered: `signal_hook::iterator` (it needs an AF_UNIX `socketpair`, which the
//! kernel does not have yet).

mod common;

use common::{boot, example_dir, native, run_merged};

const EXAMPLE: &str = "signal-hook";

/// The scenario prints the same lines and exits with 3 natively and in the unikernel.
fn matches_native(scenario: &str) {
    ends_like_native_killed(scenario, 3, None);
}

/// The scenario prints the same lines and ends with `code` natively and in the
/// unikernel. Ended by signal `killed_by`, the unikernel's console adds the line a
/// shell would print (`unikernel: killed by SIGNAME`).
fn ends_like_native_killed(scenario: &str, code: i32, killed_by: Option<&str>) {
    let expected = run_merged(&native(EXAMPLE), &[scenario], &[]);
    assert_eq!(expected.code, Some(code), "native {scenario}: {expected:?}");
    let actual = boot(EXAMPLE, &[scenario], &[]);
    assert_eq!(actual.stderr, "", "{scenario}: the tool reported an error");
    let mut expected_stdout = expected.stdout.clone();
    if let Some(signal) = killed_by {
        expected_stdout.push_str(&format!("unikernel: killed by {signal}\n"));
    }
    assert_eq!(
        (expected.code, &expected_stdout),
        (actual.code, &actual.stdout),
        "{scenario}: native (left) and unikernel (right) differ"
    );
}

/// `flag::register` handlers for SIGUSR1 (`raise`) and SIGTERM (`kill`): the flags are
/// set and SIGTERM does not end the program; a blocked signal runs its handler when
/// unblocked.
#[test]
fn flag_handlers_run_for_raise_and_kill() {
    matches_native("flags");
}

/// `low_level::register` handlers run code for `raise`, `kill`, `tgkill` and a
/// `tgkill` in hand-written assembly, which the image sends through the register-frame
/// entry (the build report counts that call).
#[test]
fn low_level_handlers_run_on_every_path() {
    matches_native("low-level");
    let path = example_dir(EXAMPLE).join(format!("target/unikernel/release/{EXAMPLE}.report.json"));
    let report: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    assert_eq!(
        report["syscalls"]["stub_calls"], 1,
        "the asm tgkill should go through the register-frame stub: {:#}",
        report["syscalls"]
    );
}

/// A pipe read blocked in another thread: `EINTR` without `SA_RESTART`, restarted (and
/// then returning the data) with it; `nanosleep` ends with `EINTR` either way.
#[test]
fn blocked_waits_end_with_eintr_or_restart() {
    matches_native("eintr");
}

/// A thread that makes no system call runs its handler when the timer interrupt
/// returns to it.
#[test]
fn handler_interrupts_a_computing_thread() {
    matches_native("running");
}

/// `ppoll` and `epoll_pwait` apply their signal masks for the duration of the wait.
#[test]
fn ppoll_and_epoll_pwait_masks_apply() {
    matches_native("masks");
}

/// `signal_hook::iterator::Signals` receives signals raised by the reading thread
/// (`pending`) and, in a thread blocked in `forever()`, signals sent with `raise` and
/// `kill` from another thread; its handlers wake the reader through an AF_UNIX
/// socketpair.
#[test]
fn iterator_receives_its_signals() {
    matches_native("iterator");
}

/// The AF_UNIX stream pair itself: data both ways, `send`/`recv` flags, `sendmsg`/
/// `recvmsg`, non-blocking reads, `poll` bits, `shutdown`, socket options, `EPIPE`
/// after the peer closed, and the errors of other families and protocols.
#[test]
fn socketpair_behaves_as_on_linux() {
    matches_native("socketpair");
}

/// A write to a pipe without readers and to a socket whose peer closed fails with
/// `EPIPE` and raises SIGPIPE (caught by a handler), except with `MSG_NOSIGNAL`.
#[test]
fn broken_pipes_raise_sigpipe() {
    matches_native("sigpipe");
}

/// With SIGPIPE's default action, the write to a broken pipe ends the program (141).
#[test]
fn sigpipe_default_ends_the_program() {
    ends_like_native_killed("sigpipe-default", 141, Some("SIGPIPE"));
}

/// `alarm` and `setitimer(ITIMER_REAL)` deliver SIGALRM, one shot and periodic;
/// `getitimer` reports what is left; disarming returns the old timer.
#[test]
fn alarm_and_itimer_deliver_sigalrm() {
    matches_native("alarm");
}

/// An alarm with SIGALRM's default action ends the program (142).
#[test]
fn alarm_default_ends_the_program() {
    ends_like_native_killed("alarm-default", 142, Some("SIGALRM"));
}
