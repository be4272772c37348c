//! `cargo-unikernel`: the cargo subcommand, and two helper roles it plays for cargo.
//!
//! The binary dispatches on the name it was started under: `unikernel-rustc` is the
//! `RUSTC_WRAPPER` that adds the flags for whole-program builds, `unikernel-ld` the
//! linker that captures rustc's link inputs; any other name is the subcommand.

use std::process::ExitCode;

fn main() -> ExitCode {
    let args: Vec<std::ffi::OsString> = std::env::args_os().collect();
    let role = args
        .first()
        .and_then(|a| std::path::Path::new(a).file_name())
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    match role.as_str() {
        cargo_unikernel::roles::WRAPPER_NAME => cargo_unikernel::rustc_wrapper::main(&args[1..]),
        cargo_unikernel::roles::LINKER_NAME => cargo_unikernel::link_capture::main(&args[1..]),
        _ => cargo_unikernel::cli::main(),
    }
}
