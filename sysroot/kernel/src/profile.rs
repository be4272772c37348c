//! The training profile of a `--profile-generate` image (feature `profile`): at the
//! program's end, however it ends (exit, panic, a signal's default action: all reach
//! [`crate::process::exit`]), LLVM's raw profile of the whole image goes to the host
//! as the file [`FILE_NAME`] over the export channel ([`crate::export`]).
//!
//! `--profile-use` builds have the feature too, so that kernel and hal are the same
//! crates (cargo features change every symbol's hash, and a profile finds functions
//! by name) in training and in use; there, with no counters, nothing is sent.

use core::sync::atomic::{AtomicBool, Ordering};

use unikernel_hal as hal;

use crate::export;
use crate::log::kinfo;

/// The name the host receives the profile under (the tool numbers them).
pub const FILE_NAME: &str = "default.profraw";

static WRITTEN: AtomicBool = AtomicBool::new(false);

/// Sends the profile, once: an exit that faults while writing does not try again.
pub fn export_at_exit() {
    if WRITTEN.swap(true, Ordering::Relaxed) || !hal::profile::instrumented() {
        return;
    }
    let size = hal::profile::raw_profile_size();
    let mut written = 0u64;
    let mut ok = true;
    let sent = export::file_streamed(FILE_NAME, size, |out| {
        ok = hal::profile::write_raw_profile(&mut |piece: &[u8]| {
            // Never more than announced: the host would read the excess as the next
            // record. A short file is caught there.
            let room = usize::try_from(size - written).unwrap_or(usize::MAX);
            let piece = &piece[..piece.len().min(room)];
            written += piece.len() as u64;
            out(piece);
        });
    });
    if sent.is_err() || !ok || written != size {
        kinfo!("the profile was not exported whole ({written} of {size} bytes)");
    }
}
