//! The kernel's own boot scenarios: the kernel and a tiny no_std test program
//! (`sysroot/boot-test`, a stand-in for std and the libc shim) booted under QEMU once
//! per scenario: CPU exceptions (null read, write to text, execute data, stack
//! overflow), the `syscall`-instruction trap path and the register-frame stub, threads,
//! preemption, and the deadlock report. Each scenario checks its console output and
//! exit status.
//!
//! The image is built once, by the tool's own pieces, as `cargo unikernel build
//! --release` builds an app's: the runtime builder compiles boot-test and the kernel
//! to bitcode rlibs; `core`, `alloc` and `compiler_builtins` come from the toolchain as
//! rustc would pass them to the linker of a no_std program (their `.llvmbc` is
//! merged, compiler_builtins stays native); the pass's image pipeline rewrites system
//! calls, internalizes, optimizes and generates code; rust-lld links with the image
//! linker script; the QEMU launcher of `cargo unikernel run` boots it. The `trap`
//! scenario boots a second image built as `--no-syscall-rewrite` builds one.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;
use std::time::Duration;

use cargo_unikernel::link_capture::{LinkInput, LinkManifest, MANIFEST_MAGIC};
use cargo_unikernel::lld::LinkKind;
use cargo_unikernel::plan::KERNEL_ENTRY;
use cargo_unikernel::qemu::{Accel, Boot, Console};
use cargo_unikernel::runtime;
use cargo_unikernel::toolchain::{TARGET, Toolchain};
use cargo_unikernel::whole_program::Job;
use unikernel_pass::{OptLevel, Pipeline};

/// Under TCG the slowest scenario takes a few seconds; a hung guest is stopped.
const TIMEOUT: Duration = Duration::from_secs(60);

/// Which image a scenario boots.
#[derive(Debug, Clone, Copy)]
enum Image {
    /// System calls rewritten into direct calls (`cargo unikernel build`).
    Rewritten,
    /// Every `syscall` instruction left on the trap path (`--no-syscall-rewrite`).
    Trap,
}

macro_rules! scenarios {
    ($($test:ident: $image:ident $scenario:literal => exit $code:literal, $console:literal;)*) => {$(
        #[test]
        fn $test() {
            boot_and_check(Image::$image, $scenario, $code, $console);
        }
    )*};
}

// The console must have a line containing the pattern; `{hex}` stands for any run of
// lowercase hex digits (an address that varies with the image's layout). The trap
// scenario's subject is the `syscall` instruction itself (the LSTAR entry keeps the
// red zone, which the register-frame stub a rewrite calls instead may not).
scenarios! {
    hello: Rewritten "hello" => exit 3, "hello scenario ok";
    trap: Trap "trap" => exit 4, "trap scenario ok";
    null: Rewritten "null" => exit 139, "null pointer dereference";
    write_text: Rewritten "write-text" => exit 139, "write of 0x{hex}: protection violation";
    exec_data: Rewritten "exec-data" => exit 139, "instruction fetch";
    stack_overflow: Rewritten "stack-overflow" => exit 139, "guard page of the main thread's stack";
    deadlock: Rewritten "deadlock" => exit 125, "deadlock: every thread is blocked";
    threads: Rewritten "threads" => exit 5, "threads scenario ok";
    preempt: Rewritten "preempt" => exit 6, "preempt scenario ok";
}

/// Boot `scenario` (boot-test's `argv[1]`) and check its exit status and console.
fn boot_and_check(image: Image, scenario: &str, want_exit: i32, want_line: &str) {
    let image = match built(image) {
        Ok(image) => image,
        Err(e) => panic!("cannot build the boot-test image: {e}"),
    };
    let outcome = Boot {
        image,
        accel: Accel::detect(),
        memory_mib: 128,
        argv0: "boot-test".into(),
        args: vec![scenario.into()],
        env: vec![("GREETING".into(), "hi".into())],
        verbose: true,
        kernel_options: Vec::new(),
        gdb_port: None,
        timeout: TIMEOUT,
        icount: false,
        console: Console::Capture,
        publish: Vec::new(),
        network: cargo_unikernel::publish::Network::User,
    }
    .run();
    let outcome = match outcome {
        Ok(outcome) => outcome,
        Err(e) => panic!("scenario {scenario}: {e:#}"),
    };
    let exit = outcome.exit_code;
    let log = String::from_utf8_lossy(&outcome.console);
    let found = log.lines().any(|line| matches(line, want_line));
    assert!(
        exit == want_exit && found,
        "scenario {scenario}: exit status {exit} (want {want_exit}), console {} a line \
         matching {want_line:?}; console:\n{log}",
        if found { "has" } else { "lacks" },
    );
}

/// Whether `line` contains `pattern`, where one `{hex}` matches `[0-9a-f]*`.
fn matches(line: &str, pattern: &str) -> bool {
    let Some((before, after)) = pattern.split_once("{hex}") else {
        return line.contains(pattern);
    };
    line.match_indices(before).any(|(at, _)| {
        line[at + before.len()..]
            .trim_start_matches(|c: char| matches!(c, '0'..='9' | 'a'..='f'))
            .starts_with(after)
    })
}

/// The boot-test image, built once for all the scenarios that boot it.
fn built(image: Image) -> Result<&'static Path, &'static str> {
    static REWRITTEN: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    static TRAP: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let cell = match image {
        Image::Rewritten => &REWRITTEN,
        Image::Trap => &TRAP,
    };
    cell.get_or_init(|| build_image(image).map_err(|e| format!("{e:#}")))
        .as_ref()
        .map(PathBuf::as_path)
        .map_err(String::as_str)
}

fn build_image(image: Image) -> anyhow::Result<PathBuf> {
    let repo = Path::new(env!("CARGO_MANIFEST_DIR")).join("..");
    let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("boot-test");
    let toolchain = Toolchain::for_project(&repo)?;
    // Under `runtime/kernel/`, as the driver builds the kernel, so the build report
    // counts these crates as the kernel's.
    let rlibs = runtime::boot_test(&toolchain, &out.join("runtime/kernel"))?.rlibs;
    let name = match image {
        Image::Rewritten => "image",
        Image::Trap => "image.trap",
    };
    let manifest = out.join(format!("{name}.link-manifest.json"));
    std::fs::write(&manifest, serde_json::to_vec(&std_link(&toolchain)?)?)?;
    let output = out.join(name);
    let work_dir = out.join("work").join(name);
    let rewrite = matches!(image, Image::Rewritten);
    whole_program(&toolchain, &manifest, &rlibs, rewrite, &work_dir, &output)?;
    Ok(output)
}

/// What rustc would give the linker of a no_std program that uses `alloc`: the
/// toolchain's prebuilt `core`, `alloc` and `compiler_builtins`.
fn std_link(toolchain: &Toolchain) -> anyhow::Result<LinkManifest> {
    let lib = toolchain
        .sysroot
        .join("lib/rustlib")
        .join(TARGET)
        .join("lib");
    let mut inputs = Vec::new();
    for name in ["core", "alloc", "compiler_builtins"] {
        let prefix = format!("lib{name}-");
        let rlib = std::fs::read_dir(&lib)?
            .filter_map(|entry| entry.ok().map(|e| e.path()))
            .find(|path| {
                let file = path.file_name().unwrap_or_default().to_string_lossy();
                file.starts_with(&prefix) && file.ends_with(".rlib")
            })
            .ok_or_else(|| anyhow::anyhow!("no lib{name}-*.rlib in {}", lib.display()))?;
        inputs.push(LinkInput::Archive { path: rlib });
    }
    Ok(LinkManifest {
        magic: MANIFEST_MAGIC.into(),
        inputs,
        libraries: Vec::new(),
        command_line: Vec::new(),
    })
}

/// The whole-program build of a release image: the pass's image pipeline (`rewrite`:
/// system calls into direct calls), then rust-lld with the image linker script.
fn whole_program(
    toolchain: &Toolchain,
    manifest: &Path,
    rlibs: &[PathBuf],
    rewrite: bool,
    work_dir: &Path,
    image: &Path,
) -> anyhow::Result<()> {
    Job {
        pipeline: Pipeline::image(OptLevel::Full, vec![KERNEL_ENTRY.into()], rewrite),
        toolchain,
        manifest,
        runtime_rlibs: rlibs,
        kind: LinkKind::Image {
            script: runtime::image_linker_script(),
            entry: KERNEL_ENTRY.into(),
            initfs: None,
        },
        work_dir: work_dir.to_path_buf(),
        output: image.to_path_buf(),
    }
    .run()?;
    Ok(())
}

#[test]
fn hex_patterns_match_addresses_only() {
    let pattern = "write of 0x{hex}: protection violation";
    assert!(matches(
        "#PF: write of 0x1a2f0: protection violation",
        pattern
    ));
    assert!(matches("write of 0x: protection violation", pattern));
    assert!(!matches("write of 0xZZ: protection violation", pattern));
    assert!(!matches("write of 0x10: page not present", pattern));
    assert!(matches(
        "deadlock: every thread is blocked (2)",
        "every thread"
    ));
}
