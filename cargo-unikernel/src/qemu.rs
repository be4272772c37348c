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

use std::ffi::OsString;
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

/// One boot: everything the QEMU command line is made from.
#[derive(Debug, Clone)]
pub struct Boot<'a> {
    pub image: &'a Path,
    pub accel: Accel,
    pub memory_mib: u32,
    pub argv0: String,
    pub args: Vec<String>,
    pub env: Vec<(String, String)>,
    /// `unikernel.verbose`: the kernel reports its boot.
    pub verbose: bool,
    /// Stop the guest after this long.
    pub timeout: Duration,
    /// `-icount shift=0`: guest time counts guest instructions (TCG only: with KVM
    /// the arguments are an error).
    pub icount: bool,
    pub console: Console,
}

/// Where the guest's serial console goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Console {
    /// To our stdout as it arrives (`cargo unikernel run`).
    Forward,
    /// Kept, and returned in [`Outcome::console`] (tests that check the output).
    Capture,
}

/// How the guest ended.
#[derive(Debug, Clone)]
pub struct Outcome {
    pub exit_code: i32,
    pub wall: Duration,
    /// The console output with [`Console::Capture`]; empty otherwise.
    pub console: Vec<u8>,
}

/// The emulator the arguments are for.
pub const QEMU: &str = "qemu-system-x86_64";

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

    /// [`QEMU`]'s arguments for this boot; the debug console writes the guest's exit
    /// status to `status_file`.
    pub fn qemu_args(&self, status_file: &Path) -> anyhow::Result<Vec<OsString>> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
        push(&[
            "-M",
            "microvm",
            "-nodefaults",
            "-no-user-config",
            "-nographic",
        ]);
        push(&["-serial", "stdio"]);
        push(&["-device", "isa-debug-exit,iobase=0xf4,iosize=0x04"]);
        // QEMU option syntax: a comma in a value is written twice.
        let status_path = status_file.display().to_string().replace(',', ",,");
        push(&[
            "-chardev",
            &format!("file,id=exit-status,path={status_path}"),
        ]);
        push(&["-device", "isa-debugcon,iobase=0xe9,chardev=exit-status"]);
        push(&["-m", &format!("{}M", self.memory_mib)]);
        match self.accel {
            Accel::Kvm => push(&["-enable-kvm", "-cpu", "host,-arch-capabilities"]),
            Accel::Tcg => push(&["-accel", "tcg", "-cpu", "max"]),
        }
        if self.icount {
            if self.accel != Accel::Tcg {
                bail!("-icount needs software emulation (TCG)");
            }
            push(&["-icount", "shift=0"]);
        }
        // The image file again as the first PVH boot module: the kernel symbolizes crash
        // reports with its symbol table and serves it as /proc/self/exe (std's
        // backtraces). It costs guest RAM of the file's size, not image size.
        for flag in ["-kernel", "-initrd"] {
            args.push(flag.into());
            args.push(self.image.into());
        }
        args.push("-append".into());
        args.push(self.command_line()?.into());
        Ok(args)
    }

    /// Boot, send the console where [`Boot::console`] says, and return the guest's
    /// exit code.
    pub fn run(&self) -> anyhow::Result<Outcome> {
        let status_file = StatusFile::new();
        let mut command = Command::new(QEMU);
        command
            .args(self.qemu_args(&status_file.path)?)
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let started = Instant::now();
        let mut child = command.spawn().map_err(|e| {
            anyhow!("cannot start {QEMU} ({e}); install it, e.g. `apt-get install qemu-system-x86`")
                .context(Failure::Run)
        })?;
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
        let console = console.join().unwrap_or_default();
        let mut stderr = String::new();
        if let Some(mut e) = child.stderr.take() {
            let _ = e.read_to_string(&mut stderr);
        }
        match status.code() {
            // isa-debug-exit: (v << 1) | 1, of which 8 bits survive: v's low 7 bits.
            Some(code) if code % 2 == 1 => Ok(Outcome {
                exit_code: status_file.exit_code((code - 1) / 2),
                wall,
                console,
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

#[cfg(test)]
mod tests {
    use super::*;

    fn boot(image: &Path) -> Boot<'_> {
        Boot {
            image,
            accel: Accel::Tcg,
            memory_mib: 256,
            argv0: "hello".into(),
            args: Vec::new(),
            env: Vec::new(),
            verbose: false,
            timeout: Duration::from_secs(120),
            icount: false,
            console: Console::Forward,
        }
    }

    /// One argument a line; the image and status file are placeholders.
    fn args(boot: &Boot<'_>) -> String {
        let args = boot.qemu_args(Path::new("[STATUS]")).unwrap();
        args.iter()
            .map(|a| a.to_string_lossy())
            .collect::<Vec<_>>()
            .join("\n")
    }

    #[test]
    fn qemu_command_lines() {
        let image = Path::new("[IMAGE]");
        insta::assert_snapshot!("qemu_tcg", args(&boot(image)));
        insta::assert_snapshot!(
            "qemu_kvm_verbose_env_args",
            args(&Boot {
                accel: Accel::Kvm,
                memory_mib: 1024,
                verbose: true,
                env: vec![
                    ("GREETING".into(), "hi there".into()),
                    ("EMPTY".into(), "".into())
                ],
                args: vec!["one".into(), "two words".into()],
                ..boot(image)
            })
        );
        insta::assert_snapshot!(
            "qemu_icount",
            args(&Boot {
                icount: true,
                ..boot(image)
            })
        );
    }

    #[test]
    fn what_qemu_or_the_kernel_cannot_take_is_refused() {
        let image = Path::new("[IMAGE]");
        let status = Path::new("/tmp/a,b.status");
        let args = boot(image).qemu_args(status).unwrap();
        assert!(args.contains(&"file,id=exit-status,path=/tmp/a,,b.status".into()));
        let kvm_icount = Boot {
            accel: Accel::Kvm,
            icount: true,
            ..boot(image)
        };
        assert!(kvm_icount.qemu_args(status).is_err());
        let quoted = Boot {
            args: vec!["say \"hi\"".into()],
            ..boot(image)
        };
        assert!(quoted.qemu_args(status).is_err());
        let bad_key = Boot {
            env: vec![("A=B".into(), "c".into())],
            ..boot(image)
        };
        assert!(bad_key.qemu_args(status).is_err());
    }
}
