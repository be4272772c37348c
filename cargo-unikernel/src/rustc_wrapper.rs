//! The `unikernel-rustc` role: cargo's `RUSTC_WRAPPER` during unikernel builds.
//!
//! Flags go in here rather than through `RUSTFLAGS` or `--config`, because either of
//! those would replace or shadow the user's own rustflags (`build.rustflags` and
//! `target.<triple>.rustflags` do not merge). Only compilations for the target get
//! them; build scripts and proc macros are built for the host without `--target`.

use std::ffi::{OsStr, OsString};
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitCode};

use crate::roles::{INNER_WRAPPER_ENV, LINKER_ENV};
use crate::toolchain::TARGET;

/// The flags every target crate is compiled with.
pub fn target_flags(linker: &OsStr) -> Vec<OsString> {
    let mut linker_flag = OsString::from("linker=");
    linker_flag.push(linker);
    [
        // Objects and rlibs hold LLVM bitcode, for the whole-program module.
        OsString::from("-Clinker-plugin-lto"),
        OsString::from("-C"),
        linker_flag,
        // cc-style arguments whatever the linker's name (`*-ld` would imply ld's).
        OsString::from("-Clinker-flavor=gcc"),
        OsString::from("--cfg=unikernel"),
        OsString::from("--check-cfg=cfg(unikernel)"),
    ]
    .into()
}

/// `args` is `rustc ARGS...` as cargo passes it to a wrapper.
pub fn main(args: &[OsString]) -> ExitCode {
    let Some((rustc, rest)) = args.split_first() else {
        eprintln!("error: unikernel-rustc: expected the rustc command to wrap");
        return ExitCode::from(2);
    };
    let for_target = rest
        .windows(2)
        .any(|w| w[0] == "--target" && w[1] == TARGET)
        || rest.iter().any(|a| a == &*format!("--target={TARGET}"));
    let mut command = match std::env::var_os(INNER_WRAPPER_ENV).filter(|w| !w.is_empty()) {
        Some(inner) => {
            let mut c = Command::new(inner);
            c.arg(rustc);
            c
        }
        None => Command::new(rustc),
    };
    command.args(rest);
    if for_target && let Some(linker) = std::env::var_os(LINKER_ENV) {
        command.args(target_flags(&linker));
    }
    // `exec` returns only on failure.
    let error = command.exec();
    eprintln!(
        "error: unikernel-rustc: cannot run {}: {error}",
        rustc.to_string_lossy()
    );
    ExitCode::from(1)
}
