//! Kernel messages on the serial console.
//!
//! Every message starts with `unikernel: ` so it can be told apart from the
//! application's own output on the same console.

use core::sync::atomic::{AtomicBool, Ordering};

static VERBOSE: AtomicBool = AtomicBool::new(false);

/// Turns on the messages of [`kdebug!`] (command-line flag `unikernel.verbose`).
pub fn set_verbose(on: bool) {
    VERBOSE.store(on, Ordering::Relaxed);
}

/// Whether `unikernel.verbose` is on.
pub fn verbose() -> bool {
    VERBOSE.load(Ordering::Relaxed)
}

/// Prints a kernel message (always).
macro_rules! kinfo {
    ($($arg:tt)*) => {
        unikernel_hal::console::print(format_args!("unikernel: {}\n", format_args!($($arg)*)))
    };
}

/// Prints a kernel message when `unikernel.verbose` is on.
macro_rules! kdebug {
    ($($arg:tt)*) => {
        if $crate::log::verbose() {
            unikernel_hal::console::print(format_args!("unikernel: {}\n", format_args!($($arg)*)))
        }
    };
}

pub(crate) use {kdebug, kinfo};
