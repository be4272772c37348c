//! Helpers shared by the pass's fixture tests.

use std::path::Path;

use unikernel_pass::{BitcodeInput, WholeProgram};

/// A `.ll` file of `tests/fixtures`, as a pass input.
pub fn fixture(name: &str) -> BitcodeInput {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fixtures")
        .join(name);
    BitcodeInput {
        name: name.to_owned(),
        bytes: std::fs::read(&path).unwrap(),
    }
}

/// The module's textual IR, for snapshots.
pub fn ir(program: &WholeProgram<'_>) -> String {
    program.module().print_to_string().to_string()
}
