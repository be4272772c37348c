//! Booting an image under QEMU: accelerator choice, the kernel command line, the
//! console, the exit code.
//!
//! microvm boots a PVH ELF directly in tens of milliseconds (`-M pc` spends seconds in
//! firmware). The kernel ends the VM through QEMU's isa-debug-exit device: writing `v`
//! to port 0xf4 makes QEMU exit with `(v << 1) | 1`, truncated to 8 bits as a process
//! status, so codes ≥ 128 (128 + signal, as Linux reports a process a signal killed)
//! would arrive cut. Just before, the kernel prints `unikernel-exit-status N` on the
//! isa-debugcon port 0xe9 (sysroot hal `exit.rs`); QEMU writes it to a file that
//! [`Boot::run`] reads back for the full 8-bit code.

use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use anyhow::{Context, anyhow, bail};

use crate::error::Failure;

/// Which accelerator runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// KVM only where the CPU offers hardware virtualization and /dev/kvm opens: some
    /// hosts (kvm-pvm) expose /dev/kvm but run a guest that is not PVM-aware in an
    /// instruction emulator far slower than TCG (DESIGN.md, "Facts").
    pub fn detect() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let hardware = cpuinfo
            .lines()
            .filter(|l| l.starts_with("flags"))
            .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"));
        let opens = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        if hardware && opens {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }
}

/// One boot.
#[derive(Debug, Clone)]
pub struct Boot<'a> {
    pub image: &'a Path,
    pub accel: Accel,
    pub memory_mib: u32,
    pub argv0: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    pub verbose: bool,
    pub timeout: Duration,
    /// `-icount shift=0`: guest time counts guest instructions (TCG only).
    pub icount: bool,
}

/// How the guest ended.
#[derive(Debug, Clone, Copy)]
pub struct Outcome {
    pub exit_code: i32,
    pub wall: Duration,
}

impl Boot<'_> {
    /// The kernel command line (sysroot/README.md): options, `KEY=VALUE` environment,
    /// then `--` and the arguments. Double quotes group words; there are no escapes.
    pub fn command_line(&self) -> anyhow::Result<String> {
        let mut words = vec![format!("unikernel.argv0={}", quote(&self.argv0)?)];
        if self.verbose {
            words.push("unikernel.verbose".into());
        }
        for (key, value) in &self.env {
            if key.is_empty() || key.contains(['=', ' ', '"']) {
                bail!(
                    "environment variable name `{key}` cannot be passed on the kernel command line"
                );
            }
            words.push(format!("{key}={}", quote(value)?));
        }
        words.push("--".into());
        for arg in &self.args {
            words.push(quote(arg)?);
        }
        Ok(words.join(" "))
    }

    /// Boot, forward the console to stdout, and return the guest's exit code.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        self.run_with_console(std::io::stdout())
    }

    /// [`Boot::run`], copying the console to `console` instead of stdout.
    pub fn run_with_console(
        &self,
        console: impl Write + Send + 'static,
    ) -> anyhow::Result<Outcome> {
        let mut command = Command::new("qemu-system-x86_64");
        command.args([
            "-M",
            "microvm",
            "-nodefaults",
            "-no-user-config",
            "-nographic",
        ]);
        command.args([
            "-serial",
            "stdio",
            "-device",
            "isa-debug-exit,iobase=0xf4,iosize=0x04",
        ]);
        let status_file = StatusFile::new();
        command
            .arg("-chardev")
            // QEMU option syntax: a comma in a value is written twice.
            .arg(format!(
                "file,id=exit-status,path={}",
                status_file.path.display().to_string().replace(',', ",,")
            ))
            .args(["-device", "isa-debugcon,iobase=0xe9,chardev=exit-status"]);
        command.arg("-m").arg(format!("{}M", self.memory_mib));
        match self.accel {
            Accel::Kvm => command.args(["-enable-kvm", "-cpu", "host,-arch-capabilities"]),
            Accel::Tcg if self.icount => {
                command.args(["-accel", "tcg", "-cpu", "max", "-icount", "shift=0"])
            }
            Accel::Tcg => command.args(["-accel", "tcg", "-cpu", "max"]),
        };
        // The image file again as the first PVH boot module: the kernel symbolizes crash
        // reports with its symbol table and serves it as /proc/self/exe (std's
        // backtraces). It costs guest RAM of the file's size, not image size.
        command
            .arg("-kernel")
            .arg(self.image)
            .arg("-initrd")
            .arg(self.image)
            .arg("-append")
            .arg(self.command_line()?);
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            anyhow!("cannot start qemu-system-x86_64 ({e}); install it, e.g. `apt-get install qemu-system-x86`")
                .context(Failure::Run)
        })?;
        let stdout = child.stdout.take().context("QEMU's stdout")?;
        let console = std::thread::spawn(move || forward_console(stdout, console));
        let status = loop {
            if let Some(status) = child.try_wait()? {
                break status;
            }
            if started.elapsed() > self.timeout {
                let _ = child.kill();
                let _ = child.wait();
                let _ = console.join();
                return Err(anyhow!(
                    "the guest did not finish within {:?}; stopped it",
                    self.timeout
                )
                .context(Failure::Run));
            }
            std::thread::sleep(Duration::from_millis(2));
        };
        let wall = started.elapsed();
        let _ = console.join();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        match status.code() {
            // isa-debug-exit: (v << 1) | 1, of which 8 bits survive: v's low 7 bits.
            Some(code) if code % 2 == 1 => Ok(Outcome {
                exit_code: status_file.exit_code((code - 1) / 2),
                wall,
            }),
            code => Err(anyhow!(
                "QEMU failed ({}) without the guest's exit code: {}",
                code.map_or("killed by a signal".into(), |c| format!("exit status {c}")),
                stderr.lines().next().unwrap_or("no message")
            )
            .context(Failure::Run)),
        }
    }
}

/// The file QEMU's isa-debugcon writes to: the guest's full exit status.
struct StatusFile {
    path: PathBuf,
}

impl StatusFile {
    fn new() -> StatusFile {
        static BOOTS: AtomicU64 = AtomicU64::new(0);
        let name = format!(
            "cargo-unikernel-{}-{}.status",
            std::process::id(),
            BOOTS.fetch_add(1, Ordering::Relaxed)
        );
        StatusFile {
            path: std::env::temp_dir().join(name),
        }
    }

    /// The 8-bit status the guest printed, if it agrees with the 7 bits isa-debug-exit
    /// carried (`low7`); otherwise (an older image, no line) `low7` itself.
    fn exit_code(&self, low7: i32) -> i32 {
        let text = std::fs::read_to_string(&self.path).unwrap_or_default();
        text.lines()
            .rev()
            .find_map(|line| line.strip_prefix("unikernel-exit-status "))
            .and_then(|code| code.trim().parse::<u8>().ok())
            .map(i32::from)
            .filter(|&code| code & 0x7f == low7)
            .unwrap_or(low7)
    }
}

impl Drop for StatusFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

/// Copy the serial console to `out`, turning the UART's CRLF back into LF.
fn forward_console(mut from: impl Read, mut out: impl Write) {
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

fn quote(word: &str) -> anyhow::Result<String> {
    if word.contains('"') {
        bail!("`{word}` contains a double quote, which the kernel command line cannot carry");
    }
    Ok(if word.is_empty() || word.contains(char::is_whitespace) {
        format!("\"{word}\"")
    } else {
        word.to_owned()
    })
}
