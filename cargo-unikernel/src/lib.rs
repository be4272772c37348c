//! cargo-unikernel as a library: the CLI, the cargo driving, the link capture and the
//! whole-program build. `main.rs` only picks the role.

pub mod cargo_build;
pub mod checks;
pub mod cli;
pub mod composition;
pub mod error;
pub mod fresh;
pub mod initfs;
pub mod ir;
pub mod link_capture;
pub mod link_inputs;
pub mod lld;
pub mod project;
pub mod qemu;
pub mod report;
pub mod report_text;
pub mod roles;
pub mod runtime;
pub mod rustc_wrapper;
pub mod toolchain;
pub mod whole_program;
