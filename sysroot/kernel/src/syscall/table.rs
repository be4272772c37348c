//! The ABI edge of the system calls: the C-ABI entries, the dispatchers, and the
//! `Result<_, Errno>` to `-errno` conversion (this module is the only place where that
//! happens).
//!
//! [`syscall_table!`] is invoked once, in `list.rs`, on the implemented system calls;
//! it hands the ABI crate's list of every system call (`unikernel_abi::
//! for_each_syscall!`) to [`syscall_entries!`], which generates for each, by kind (see
//! `list.rs`):
//!
//! - implemented: `extern "C" fn __unikernel_sys_NAME(a0..a5: usize) -> isize`;
//! - not implemented: `extern "C" fn __unikernel_enosys_NAME(a0..a5: usize) -> isize`,
//!   which logs "unimplemented system call NAME (NR): returning ENOSYS" once (shared
//!   with the dispatcher) and returns `-ENOSYS`;
//! - register-frame only: no entry.
//!
//! and the `dispatch` match used by both dispatchers (`dispatch.rs`), and `IMPLEMENTED`.
//! `macro_rules!` cannot look a name up in a list, so [`syscall_table!`] turns
//! `list.rs` into a local macro, `kernel_handler!`, with one rule per implemented name
//! and a fallback rule for the others; [`syscall_entries!`] asks it about each call.
//!
//! Every entry, and both dispatchers, run the call through the tracer when it is on
//! (`trace.rs`: one branch when it is off).
//!
//! Every entry disables interrupts for its duration (the application runs with them
//! enabled so the timer can preempt it; kernel code is never preempted, see the
//! README's locking discipline). The register-frame entries arrive with IF clear.
//! Before an implemented call returns, the handlers of the signals now pending for the
//! calling thread run (`signal::deliver`): this is the direct call's "return to user
//! mode". Unimplemented calls neither wait nor send, so they have nothing to deliver.
// Exporting unmangled C symbols needs `#[unsafe(no_mangle)]`/`export_name`, which the
// crate-wide `deny(unsafe_code)` flags; these attributes are the whole of it here.
#![allow(unsafe_code)]

use core::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use unikernel_abi::syscall::name as syscall_name;

use super::SysResult;
use crate::errno::Errno;
use crate::log::kinfo;

/// Turns a handler's result into the value the caller sees in `rax`.
pub(super) fn abi_return(result: SysResult) -> isize {
    match result {
        Ok(value) => isize::try_from(value).unwrap_or(Errno::EOVERFLOW.to_return_value()),
        Err(errno) => errno.to_return_value(),
    }
}

/// How a dispatcher was entered: with the caller's register frame or without.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum Entry {
    Frame,
    Direct,
}

macro_rules! syscall_table {
    ($($name:ident: $module:ident :: $handler:ident,)*) => {
        // `$` cannot appear in the output of a macro by itself; the inner macro below
        // gets it as the token `$d`.
        $crate::syscall::table::syscall_table!(@with_dollar ($) $($name: $module::$handler,)*);
    };
    (@with_dollar ($d:tt) $($name:ident: $module:ident :: $handler:ident,)*) => {
        // Every name must be a system call of the ABI (else: no such variant) and
        // appear once (else: an unreachable pattern).
        #[deny(unreachable_patterns)]
        const _: () = match unikernel_abi::Sysno::read {
            $(unikernel_abi::Sysno::$name => (),)*
            _ => (),
        };

        /// How the kernel serves system call `NAME`: one rule per implemented call,
        /// then the rules for every other one.
        macro_rules! kernel_handler {
            $(
                (@entry $name $d nr:literal) => {
                    #[unsafe(export_name = concat!("__unikernel_sys_", stringify!($name)))]
                    pub extern "C" fn $name(a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
                        let _irq = unikernel_hal::irq::disable();
                        let args = $crate::syscall::SyscallArgs([a0, a1, a2, a3, a4, a5]);
                        // The closure only on the traced path: off, nothing is spilled
                        // for it and the check is one load and one branch.
                        let result = if $crate::syscall::trace::active() {
                            $crate::syscall::trace::traced($d nr, args, || {
                                $crate::syscall::table::abi_return(super::super::$module::$handler(args))
                            })
                        } else {
                            $crate::syscall::table::abi_return(super::super::$module::$handler(args))
                        };
                        $crate::signal::deliver(None);
                        result
                    }
                };
                (@dispatch $name $d nr:ident $d args:ident) => {
                    $crate::syscall::table::abi_return(super::$module::$handler($d args))
                };
                (@implemented $name) => { true };
                (@frame $name) => {
                    compile_error!(concat!(
                        "`", stringify!($name), "` needs the caller's register frame: it has no handler in list.rs (see table.rs)"
                    ));
                };
            )*
            (@entry $d name:ident $d nr:literal) => {
                #[unsafe(export_name = concat!("__unikernel_enosys_", stringify!($d name)))]
                pub extern "C" fn $d name(a0: usize, a1: usize, a2: usize, a3: usize, a4: usize, a5: usize) -> isize {
                    let _irq = unikernel_hal::irq::disable();
                    if $crate::syscall::trace::active() {
                        let args = $crate::syscall::SyscallArgs([a0, a1, a2, a3, a4, a5]);
                        $crate::syscall::trace::traced($d nr, args, || $crate::syscall::table::unimplemented($d nr))
                    } else {
                        $crate::syscall::table::unimplemented($d nr)
                    }
                }
            };
            (@dispatch $d name:ident $d nr:ident $d args:ident) => {
                $crate::syscall::table::unimplemented($d nr)
            };
            (@implemented $d name:ident) => { false };
            (@frame $d name:ident) => {};
        }

        unikernel_abi::for_each_syscall!($crate::syscall::table::syscall_entries);
    };
}

pub(super) use syscall_table;

/// Expands the ABI's list of every system call with `kernel_handler!` (defined by
/// [`syscall_table!`] where it is invoked).
macro_rules! syscall_entries {
    ($($nr:literal => $name:ident $NAME:ident $(($frame:ident))?,)*) => {
        /// The C-ABI entries: `__unikernel_sys_NAME` for implemented system calls,
        /// `__unikernel_enosys_NAME` for the others (none for register-frame calls).
        pub mod entries {
            $($crate::syscall::table::syscall_entries!(@entry $nr $name $($frame)?);)*
        }

        pub(super) fn dispatch(nr: usize, args: $crate::syscall::SyscallArgs, entry: $crate::syscall::table::Entry) -> isize {
            let _ = (&args, entry);
            match nr {
                // An arm whose number no site can carry through a dispatcher (hal
                // `trap_path`) folds to the refusal, and its handler goes.
                $($nr if !unikernel_hal::trap_path::may_reach($nr) => $crate::syscall::table::unproven(nr),
                $nr => $crate::syscall::table::syscall_entries!(@dispatch nr args entry $name $($frame)?),)*
                _ => $crate::syscall::table::unimplemented(nr),
            }
        }

        const ALL: &[(usize, &str, bool)] = &[$(($nr, stringify!($name), kernel_handler!(@implemented $name)),)*];
        const IMPLEMENTED_COUNT: usize = $crate::syscall::table::count_implemented(ALL);
        const IMPLEMENTED_ARRAY: [(usize, &str); IMPLEMENTED_COUNT] = $crate::syscall::table::implemented(ALL);
        /// Number and name of every system call with a `__unikernel_sys_NAME` entry
        /// (for tools and reports).
        pub const IMPLEMENTED: &[(usize, &str)] = &IMPLEMENTED_ARRAY;
    };

    (@entry $nr:literal $name:ident frame) => { kernel_handler!(@frame $name); };
    (@entry $nr:literal $name:ident) => { kernel_handler!(@entry $name $nr); };

    (@dispatch $nr:ident $args:ident $entry:ident $name:ident frame) => {
        $crate::syscall::table::frame_only($nr, $entry)
    };
    (@dispatch $nr:ident $args:ident $entry:ident $name:ident) => {
        kernel_handler!(@dispatch $name $nr $args)
    };
}

pub(super) use syscall_entries;

pub(super) const fn count_implemented(all: &[(usize, &str, bool)]) -> usize {
    let mut count = 0;
    let mut i = 0;
    while i < all.len() {
        if all[i].2 {
            count += 1;
        }
        i += 1;
    }
    count
}

pub(super) const fn implemented<const N: usize>(
    all: &[(usize, &'static str, bool)],
) -> [(usize, &'static str); N] {
    let mut out = [(0, ""); N];
    let (mut i, mut j) = (0, 0);
    while i < all.len() {
        if all[i].2 {
            out[j] = (all[i].0, all[i].1);
            j += 1;
        }
        i += 1;
    }
    out
}

/// Numbers already reported as unimplemented (one bit each, 0..512).
static REPORTED: [AtomicU64; 8] = [const { AtomicU64::new(0) }; 8];

/// Logs "unimplemented system call NAME (NR)" the first time NR comes by; `-ENOSYS`.
pub(super) fn unimplemented(nr: usize) -> isize {
    let first_time = match REPORTED.get(nr / 64) {
        Some(word) => word.fetch_or(1 << (nr % 64), Ordering::Relaxed) & (1 << (nr % 64)) == 0,
        None => true,
    };
    if first_time {
        match syscall_name(nr) {
            Some(name) => kinfo!("unimplemented system call {name} ({nr}): returning ENOSYS"),
            None => kinfo!("unknown system call {nr}: returning ENOSYS"),
        }
    }
    Errno::ENOSYS.to_return_value()
}

/// A number that reached a dispatcher though the build found no site that could make
/// it reach one (hal `trap_path`): the analysis missed a site. Its handler is not in
/// the image; say so once per number, and answer `-ENOSYS`.
#[cold]
pub(super) fn unproven(nr: usize) -> isize {
    let first_time = match REPORTED.get(nr / 64) {
        Some(word) => word.fetch_or(1 << (nr % 64), Ordering::Relaxed) & (1 << (nr % 64)) == 0,
        None => true,
    };
    if first_time {
        let name = syscall_name(nr).unwrap_or("?");
        kinfo!(
            "system call {name} ({nr}) reached the dispatcher, but the build found no site \
             that could make it do so and left its handler out: returning ENOSYS"
        );
    }
    Errno::ENOSYS.to_return_value()
}

static FRAME_REPORTED: AtomicBool = AtomicBool::new(false);

/// A register-frame system call (`unikernel_abi::syscall::REGISTER_FRAME`): with the
/// frame (other than `clone`, which the frame dispatcher handles) it is simply not
/// implemented; without it, it cannot be, and the one-time log says why.
pub(super) fn frame_only(nr: usize, entry: Entry) -> isize {
    if entry == Entry::Frame {
        return unimplemented(nr);
    }
    if !FRAME_REPORTED.swap(true, Ordering::Relaxed) {
        let name = syscall_name(nr).unwrap_or("?");
        kinfo!(
            "system call {name} ({nr}) through the dispatcher: it needs the caller's register frame (the syscall instruction or __unikernel_syscall_stub); returning ENOSYS"
        );
    }
    Errno::ENOSYS.to_return_value()
}
