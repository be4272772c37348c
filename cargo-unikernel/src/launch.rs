//! Running QEMU for a [`Boot`]: the process, its console and stderr, the private
//! status file, and telling a guest's exit from QEMU's own failure.
//!
//! Both end the process with an odd status at times: the guest's exit through
//! isa-debug-exit is `(v << 1) | 1`, and QEMU exits with 1 when it cannot start
//! (a bad option, too little host memory). What tells them apart is the status file:
//! the kernel writes `unikernel-exit-status N` to it (isa-debugcon) just before it
//! exits, so a status with that line, whose low 7 bits agree, is the guest's; any other
//! ending is QEMU's failure, reported with QEMU's own message.

use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow};

use crate::error::Failure;
use crate::qemu::{Boot, Console, Outcome, QEMU};

/// Replaces the emulator [`QEMU`] (found on PATH), e.g. with another build of QEMU or
/// a wrapper script.
pub const QEMU_ENV: &str = "CARGO_UNIKERNEL_QEMU";

/// The emulator to start ([`QEMU_ENV`] if set, else [`QEMU`]) and what to do if it
/// does not start.
fn emulator() -> (OsString, String) {
    match std::env::var_os(QEMU_ENV).filter(|e| !e.is_empty()) {
        Some(path) => (path, format!("check {QEMU_ENV}")),
        None => (
            QEMU.into(),
            "install QEMU, e.g. `apt-get install qemu-system-x86`".into(),
        ),
    }
}

impl Boot<'_> {
    /// Boot, send the console where [`Boot::console`] says, and return the guest's
    /// exit code; QEMU failing (to start, or on its own) is an error of class
    /// [`Failure::Run`] that carries QEMU's message.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        let status_file = StatusFile::new()?;
        let (emulator, remedy) = emulator();
        let name = emulator.to_string_lossy().into_owned();
        let mut command = Command::new(&emulator);
        command
            .args(self.qemu_args(&status_file.path)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command
            .spawn()
            .map_err(|e| anyhow!("cannot start {name} ({e}); {remedy}").context(Failure::Run))?;
        let stdout = child.stdout.take().context("QEMU's stdout")?;
        let console = self.console;
        let console = std::thread::spawn(move || match console {
            Console::Forward => {
                copy_console(stdout, &mut std::io::stdout().lock());
                Vec::new()
            }
            Console::Capture => {
                let mut captured = Vec::new();
                copy_console(stdout, &mut captured);
                captured
            }
        });
        // Read as it comes: a QEMU that fills the pipe would otherwise block.
        let mut stderr_pipe = child.stderr.take().context("QEMU's stderr")?;
        let stderr = std::thread::spawn(move || {
            let mut text = Vec::new();
            let _ = stderr_pipe.read_to_end(&mut text);
            String::from_utf8_lossy(&text).into_owned()
        });
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                let _ = console.join();
                let stderr = stderr.join().unwrap_or_default();
                return Err(anyhow!(
                    "the guest did not finish within {:?}; stopped it{}",
                    self.timeout,
                    qemu_said(&name, &stderr)
                )
                .context(Failure::Run));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let wall = started.elapsed();
        let console = console.join().unwrap_or_default();
        let stderr = stderr.join().unwrap_or_default();
        match guest_exit(status.code(), status_file.reported()) {
            Some(exit_code) => Ok(Outcome {
                exit_code,
                wall,
                console,
                exports: status_file.exports()?,
                qemu_stderr: stderr,
            }),
            None => Err(anyhow!(
                "{name} failed ({}) before the guest reported an exit status{}",
                status
                    .code()
                    .map_or("killed by a signal".into(), |c| format!("exit status {c}")),
                qemu_said(&name, &stderr)
            )
            .context(Failure::Run)),
        }
    }
}

/// The guest's exit status, if the process status `code` is the guest's exit through
/// isa-debug-exit (odd: `(v << 1) | 1`, of which 8 bits survive, v's low 7) and the
/// status file `reported` the full status with the same low 7 bits; `None` if QEMU
/// ended on its own (it exits with 1, odd too, when it cannot start).
fn guest_exit(code: Option<i32>, reported: Option<u8>) -> Option<i32> {
    let code = code?;
    let reported = reported?;
    (code % 2 == 1 && i32::from(reported & 0x7f) == (code - 1) / 2).then_some(i32::from(reported))
}

/// `: QEMU said:` and its stderr on indented lines, or that it said nothing.
fn qemu_said(name: &str, stderr: &str) -> String {
    let lines: Vec<&str> = stderr.lines().filter(|l| !l.trim().is_empty()).collect();
    if lines.is_empty() {
        format!("; {name} printed nothing on stderr")
    } else {
        format!("; it printed:\n    {}", lines.join("\n    "))
    }
}

/// The file QEMU's isa-debugcon writes to, in a private temporary directory (0700, a
/// random name; the file 0600): nobody else can read the status or plant one.
struct StatusFile {
    path: PathBuf,
    // Removed (with the file) on drop.
    _dir: tempfile::TempDir,
}

impl StatusFile {
    fn new() -> anyhow::Result<StatusFile> {
        // Explicit modes: tempfile's directories otherwise follow the umask (0755).
        let dir = tempfile::Builder::new()
            .prefix("cargo-unikernel-")
            .permissions(std::fs::Permissions::from_mode(0o700))
            .tempdir()
            .context("cannot create a private temporary directory for the exit status")?;
        let (_, path) = tempfile::Builder::new()
            .prefix("exit-status-")
            .permissions(std::fs::Permissions::from_mode(0o600))
            .tempfile_in(dir.path())
            .context("cannot create the exit status file")?
            .keep()
            .context("cannot keep the exit status file")?;
        Ok(StatusFile { path, _dir: dir })
    }

    /// What the guest sent over the export channel (nothing if it sent nothing).
    fn exports(&self) -> anyhow::Result<crate::export::Exports> {
        let path = crate::qemu::export_file_for(&self.path);
        match std::fs::read(&path) {
            Ok(bytes) => Ok(crate::export::parse(&bytes)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Default::default()),
            Err(e) => Err(e).with_context(|| format!("cannot read {}", path.display())),
        }
    }

    /// The last 8-bit status the guest printed, if any.
    fn reported(&self) -> Option<u8> {
        let text = std::fs::read_to_string(&self.path).ok()?;
        text.lines()
            .rev()
            .find_map(|line| line.strip_prefix("unikernel-exit-status "))
            .and_then(|code| code.trim().parse::<u8>().ok())
    }
}

/// Copy the serial console to `out` as it arrives, turning the UART's CRLF back into
/// LF.
fn copy_console(mut from: impl Read, out: &mut impl Write) {
    let mut buf = [0u8; 4096];
    let mut pending_cr = false;
    while let Ok(n) = from.read(&mut buf) {
        if n == 0 {
            break;
        }
        let mut text = Vec::with_capacity(n + 1);
        for &b in &buf[..n] {
            if pending_cr && b != b'\n' {
                text.push(b'\r');
            }
            pending_cr = b == b'\r';
            if !pending_cr {
                text.push(b);
            }
        }
        let _ = out.write_all(&text);
        let _ = out.flush();
    }
    if pending_cr {
        let _ = out.write_all(b"\r");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn guest_exit_needs_the_reported_status() {
        // Guest exits: 0, 3, 101, and 134 (SIGABRT) whose bit 7 only the file carries.
        assert_eq!(guest_exit(Some(1), Some(0)), Some(0));
        assert_eq!(guest_exit(Some(7), Some(3)), Some(3));
        assert_eq!(guest_exit(Some(203), Some(101)), Some(101));
        assert_eq!(guest_exit(Some(13), Some(134)), Some(134));
        // QEMU's own failures: exit 1 with nothing reported, an even status, a signal,
        // a status that does not agree with the reported one.
        assert_eq!(guest_exit(Some(1), None), None);
        assert_eq!(guest_exit(Some(0), Some(0)), None);
        assert_eq!(guest_exit(None, Some(0)), None);
        assert_eq!(guest_exit(Some(1), Some(3)), None);
    }

    #[test]
    fn status_file_is_private_and_unpredictable() {
        let a = StatusFile::new().unwrap();
        let b = StatusFile::new().unwrap();
        assert_ne!(a.path.parent(), b.path.parent());
        let mode = |p: &std::path::Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&a.path), 0o600);
        assert_eq!(mode(a.path.parent().unwrap()), 0o700);
        assert_eq!(a.reported(), None);
        std::fs::write(&a.path, "unikernel-exit-status 134\n").unwrap();
        assert_eq!(a.reported(), Some(134));
        let dir = a.path.parent().unwrap().to_path_buf();
        drop(a);
        assert!(!dir.exists(), "the directory goes with the status file");
    }
}
