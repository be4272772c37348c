//! cargo-unikernel as a library: the CLI, the cargo driving, the link capture and the
//! whole-program build. `main.rs` only picks the role. [`lld`] (the final link) and
//! [`qemu`] with [`launch`] (booting an image) are also used on their own, by tests that boot images
//! built without cargo-unikernel's front end.

pub mod build;
pub mod cargo_build;
pub mod checks;
pub mod cli;
pub mod composition;
pub mod error;
pub mod export;
pub mod fresh;
pub mod gdb;
pub mod harness;
pub mod host;
pub mod initfs;
pub mod ir;
pub mod launch;
pub mod link_capture;
pub mod link_inputs;
pub mod lld;
pub mod pgo;
pub mod plan;
pub mod profile;
pub mod project;
pub mod publish;
pub mod qemu;
pub mod replace;
pub mod report;
pub mod report_text;
pub mod roles;
pub mod runtime;
pub mod runtime_cache;
pub mod rustc_wrapper;
pub mod status;
pub mod strace;
pub mod toolchain;
pub mod train;
pub mod whole_program;
