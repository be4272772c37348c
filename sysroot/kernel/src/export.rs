//! The export channel: whole files from the guest to a directory on the host.
//!
//! Every file is one record on the hal's export device ([`hal::export`]), so several
//! files (a profile, a sample buffer, ...) share the one channel:
//!
//! ```text
//! magic  b"UKX1"         4 bytes
//! name   u16 LE length, then that many UTF-8 bytes (no '/', not empty, no leading '.')
//! data   u64 LE length, then that many bytes
//! ```
//!
//! The tool (`cargo-unikernel`'s `export` module) splits the host file into files of
//! those names after the VM ends; a record cut short (the VM died mid-file) is
//! reported there and dropped. docs/interfaces.md describes the contract.

use unikernel_hal as hal;

/// The bytes that start every record.
pub const MAGIC: [u8; 4] = *b"UKX1";

/// Why a file was not exported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ExportError {
    /// The name is empty, longer than 255 bytes, has a '/' or starts with '.'.
    BadName,
}

/// Exports `bytes` as the file `name`.
pub fn file(name: &str, bytes: &[u8]) -> Result<(), ExportError> {
    file_streamed(name, bytes.len() as u64, |out| out(bytes))
}

/// Exports a file of `len` bytes that `fill` writes in pieces through the function it
/// is given (so a large file need not be in memory at once). `fill` must write exactly
/// `len` bytes: the host treats a record whose bytes do not add up as cut short.
pub fn file_streamed(
    name: &str,
    len: u64,
    fill: impl FnOnce(&mut dyn FnMut(&[u8])),
) -> Result<(), ExportError> {
    if !valid_name(name) {
        return Err(ExportError::BadName);
    }
    let name_len = u16::try_from(name.len()).map_err(|_| ExportError::BadName)?;
    hal::export::write(&MAGIC);
    hal::export::write(&name_len.to_le_bytes());
    hal::export::write(name.as_bytes());
    hal::export::write(&len.to_le_bytes());
    fill(&mut |piece| hal::export::write(piece));
    Ok(())
}

fn valid_name(name: &str) -> bool {
    !name.is_empty() && name.len() <= 255 && !name.contains('/') && !name.starts_with('.')
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_that_would_leave_the_directory_are_refused() {
        assert!(valid_name("default.profraw"));
        assert!(!valid_name(""));
        assert!(!valid_name("../x"));
        assert!(!valid_name(".hidden"));
        assert!(!valid_name("a/b"));
        assert!(!valid_name(&"x".repeat(256)));
    }
}
