//! Booting an image under QEMU, as data: accelerator choice, what the host must offer
//! (memory, KVM), the kernel command line and QEMU's argument vector (a pure function,
//! [`Boot::qemu_args`]). Starting QEMU and reading how the guest ended is
//! [`crate::launch`].
//!
//! microvm boots a PVH ELF directly in tens of milliseconds (`-M pc` spends seconds in
//! firmware). The kernel ends the VM through QEMU's isa-debug-exit device: writing `v`
//! to port 0xf4 makes QEMU exit with `(v << 1) | 1`, truncated to 8 bits as a process
//! status, so codes ≥ 128 (128 + signal, as Linux reports a process a signal killed)
//! would arrive cut. Just before, the kernel prints `unikernel-exit-status N` on the
//! isa-debugcon port 0xe9 (sysroot hal `exit.rs`); QEMU writes it to a file that the
//! launcher reads back for the full 8-bit code. A second isa-debugcon on port 0xea is
//! the export channel ([`crate::export`]): files the guest sends out (profiles, sample
//! buffers) go to [`export_file_for`] the status file.

use std::ffi::OsString;
use std::path::Path;
use std::time::Duration;

use anyhow::{anyhow, bail};

use crate::error::Failure;
use crate::host;
use crate::publish::{self, Network, Publish};

/// Which accelerator runs the guest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Accel {
    Kvm,
    Tcg,
}

impl Accel {
    /// KVM where the host can run it ([`host::kvm`]), else TCG.
    pub fn detect() -> Self {
        if host::kvm().is_ok() {
            Accel::Kvm
        } else {
            Accel::Tcg
        }
    }

    /// Fail (class [`Failure::Run`]) at once if this host cannot run the accelerator:
    /// QEMU would otherwise start, fail or crawl, and the boot time out.
    pub fn check_host(self) -> anyhow::Result<()> {
        match self {
            Accel::Tcg => Ok(()),
            Accel::Kvm => host::kvm().map_err(|reason| {
                anyhow!("--accel kvm: {reason}; use --accel tcg (software emulation)")
                    .context(Failure::Run)
            }),
        }
    }
}

/// The least guest memory, in MiB, QEMU can boot an image in: it loads the image at
/// 1 MiB and the image file again as the boot module, which it refuses below 2 MiB.
/// Whether the program then fits is the kernel's to say: `examples/hello` boots in 4
/// MiB (the main thread's stack shrinks to a quarter of free RAM); with less, the
/// kernel stops with status 123 and a console line saying memory was short.
pub const MIN_MEMORY_MIB: u32 = 2;

/// Whether `memory_mib` of guest memory can boot on a host with `host_mib` of RAM
/// (`None`: unknown, not checked); the usage error if not.
pub fn check_memory(memory_mib: u32, host_mib: Option<u64>) -> anyhow::Result<()> {
    if memory_mib < MIN_MEMORY_MIB {
        bail!(
            "--memory {memory_mib}: an image needs at least {MIN_MEMORY_MIB} MiB (QEMU loads \
             it at 1 MiB and the image file again as its boot module)"
        );
    }
    if let Some(host_mib) = host_mib
        && u64::from(memory_mib) > host_mib
    {
        bail!(
            "--memory {memory_mib}: the host has only {host_mib} MiB of memory (MemTotal in \
             /proc/meminfo)"
        );
    }
    Ok(())
}

/// What the kernel needs besides the image and its file to reach `main`: the page
/// tables, the heap's first chunk, the main thread's stack (at least 64 KiB) and the
/// thread tables. hello boots with 1,041 KiB free above them and stops "too little
/// memory" with 17 KiB; 512 KiB is a round bound between.
const KERNEL_WORKING_RAM: u64 = 512 << 10;

/// Whether `image` fits in `memory_mib` as QEMU lays it out: loaded at 1 MiB, then the
/// image file again as the boot module, which QEMU puts at the top of RAM even when
/// that is over the image (the kernel's PVH entry then stops with 123, but a module
/// that also covers the entry code cannot be caught by the guest). The usage error
/// names the least memory that fits, with [`KERNEL_WORKING_RAM`] above both.
pub fn check_image_fits(memory_mib: u32, image: &crate::report::ImageSize) -> anyhow::Result<()> {
    let needed = (1 << 20) + image.loaded_bytes + image.file_bytes + KERNEL_WORKING_RAM;
    let needed_mib = needed.div_ceil(1 << 20);
    if u64::from(memory_mib) < needed_mib {
        bail!(
            "--memory {memory_mib}: this image needs at least {needed_mib} MiB (QEMU loads it \
             at 1 MiB, {} KiB, and its file, {} KiB, above it as the boot module; the \
             kernel needs {} KiB more to start)",
            image.loaded_bytes / 1024,
            image.file_bytes / 1024,
            KERNEL_WORKING_RAM / 1024
        );
    }
    Ok(())
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
    /// More kernel options (`unikernel.strace=...`), from the debugging flags.
    pub kernel_options: Vec<String>,
    /// Start halted with QEMU's gdb stub on this port of 127.0.0.1 (`run --gdb`).
    pub gdb_port: Option<u16>,
    /// Stop the guest after this long.
    pub timeout: Duration,
    /// `-icount shift=0`: guest time counts guest instructions (TCG only: with KVM
    /// the arguments are an error).
    pub icount: bool,
    pub console: Console,
    /// Guest TCP ports forwarded from the host's loopback; with any, the guest gets
    /// a virtio-net device on QEMU's user network ([`crate::publish`]).
    pub publish: Vec<Publish>,
    /// `run --net`.
    pub network: Network,
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
    /// The files the guest sent over the export channel ([`crate::export`]).
    pub exports: crate::export::Exports,
    /// What QEMU printed on its stderr (warnings: the guest ran).
    pub qemu_stderr: String,
}

/// The emulator the arguments are for.
pub const QEMU: &str = "qemu-system-x86_64";

impl Boot<'_> {
    /// The kernel command line (sysroot/README.md): options, `KEY=VALUE` environment,
    /// then `--` and the arguments. Double quotes group words; there are no escapes.
    pub fn command_line(&self) -> anyhow::Result<String> {
        let mut words = vec![format!("unikernel.argv0={}", quote(&self.argv0)?)];
        if self.icount {
            // The TSC then counts instructions at 1 GHz: no calibration, and the boot
            // report in instructions.
            words.push("unikernel.icount".into());
        }
        if self.verbose {
            words.push("unikernel.verbose".into());
        }
        words.extend(self.kernel_options.iter().cloned());
        words.extend(app_words(&self.env, &self.args)?);
        Ok(words.join(" "))
    }

    /// [`QEMU`]'s arguments for this boot; the debug console writes the guest's exit
    /// status to `status_file`.
    pub fn qemu_args(&self, status_file: &Path) -> anyhow::Result<Vec<OsString>> {
        let mut args: Vec<OsString> = Vec::new();
        let mut push = |words: &[&str]| args.extend(words.iter().map(OsString::from));
        // microvm lists its virtio-mmio devices on the kernel command line only with
        // ACPI off (with ACPI they are in the DSDT, which the kernel does not read).
        let network = publish::qemu_network(self.network, &self.publish);
        let machine = if network.is_empty() {
            "microvm"
        } else {
            "microvm,acpi=off"
        };
        push(&[
            "-M",
            machine,
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
        let export_path = export_file_for(status_file)
            .display()
            .to_string()
            .replace(',', ",,");
        push(&["-chardev", &format!("file,id=export,path={export_path}")]);
        push(&["-device", "isa-debugcon,iobase=0xea,chardev=export"]);
        push(&["-m", &format!("{}M", self.memory_mib)]);
        push(&network.iter().map(String::as_str).collect::<Vec<_>>());
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
        if let Some(port) = self.gdb_port {
            args.extend(crate::gdb::qemu_args(port).map(OsString::from));
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
}

/// The file the export channel (port 0xea) writes to: beside `status_file`, in the
/// launcher's private directory.
pub fn export_file_for(status_file: &Path) -> std::path::PathBuf {
    status_file.with_file_name("export")
}

/// Whether the kernel command line can carry this environment and these arguments
/// (checked by `run` before it builds).
pub fn check_app_words(env: &[(String, String)], args: &[String]) -> anyhow::Result<()> {
    app_words(env, args).map(drop)
}

/// The environment as `KEY=VALUE` words, `--`, then the arguments.
fn app_words(env: &[(String, String)], args: &[String]) -> anyhow::Result<Vec<String>> {
    let mut words = Vec::new();
    for (key, value) in env {
        if key.is_empty() || key.contains(['=', ' ', '"']) {
            bail!("environment variable name `{key}` cannot be passed on the kernel command line");
        }
        words.push(format!("{key}={}", quote(value)?));
    }
    words.push("--".into());
    for arg in args {
        words.push(quote(arg)?);
    }
    Ok(words)
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
            kernel_options: Vec::new(),
            gdb_port: None,
            timeout: Duration::from_secs(120),
            icount: false,
            console: Console::Forward,
            publish: Vec::new(),
            network: Network::User,
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
            "qemu_publish",
            args(&Boot {
                publish: vec![
                    Publish {
                        host: 8080,
                        guest: 80,
                        udp: false,
                    },
                    Publish {
                        host: 7000,
                        guest: 7000,
                        udp: false,
                    }
                ],
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

    #[test]
    fn memory_between_the_kernels_minimum_and_the_hosts_memory() {
        assert!(check_memory(MIN_MEMORY_MIB, Some(1024)).is_ok());
        assert!(check_memory(1024, Some(1024)).is_ok());
        assert!(check_memory(1_000_000, None).is_ok());
        let small = check_memory(MIN_MEMORY_MIB - 1, Some(1024)).unwrap_err();
        assert!(small.to_string().contains("at least 2 MiB"), "{small}");
        let large = check_memory(1025, Some(1024)).unwrap_err();
        let hello = crate::report::ImageSize {
            file_bytes: 1222 << 10,
            loaded_bytes: 1272 << 10,
        };
        assert!(check_image_fits(4, &hello).is_ok());
        let short = check_image_fits(3, &hello).unwrap_err().to_string();
        assert!(short.contains("needs at least 4 MiB"), "{short}");
        assert!(large.to_string().contains("only 1024 MiB"), "{large}");
    }

    #[test]
    fn app_words_are_checked_before_a_boot() {
        assert!(check_app_words(&[("A".into(), "b c".into())], &["d e".into()]).is_ok());
        assert!(check_app_words(&[], &["say \"hi\"".into()]).is_err());
        assert!(check_app_words(&[("A=B".into(), "c".into())], &[]).is_err());
    }
}
