//! What the user sees while a command works: cargo-style status lines on stderr.

use std::path::Path;

/// A cargo-style status line on stderr: the verb right-aligned in 12 columns.
pub fn status(verb: &str, message: &str) {
    eprintln!("{verb:>12} {message}");
}

/// `path` relative to the current directory where it is under it, else as it is.
pub fn relative(path: &Path) -> String {
    std::env::current_dir()
        .ok()
        .and_then(|cwd| path.strip_prefix(cwd).ok().map(|p| p.display().to_string()))
        .unwrap_or_else(|| path.display().to_string())
}
