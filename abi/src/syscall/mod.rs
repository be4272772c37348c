//! x86-64 Linux system calls: number, name and whether the call needs the caller's
//! register frame, for every call in [`for_each_syscall!`](crate::for_each_syscall).
//!
//! Two kinds of typed constants come out of the one list, because their users need
//! two different things:
//!
//! - [`Sysno`], an enum whose variants carry Linux's lowercase names and whose
//!   discriminants are the numbers: a value that can only be a real system call, with
//!   [`Sysno::name`], [`Sysno::needs_register_frame`] and the lookups. The kernel's
//!   list of handlers (`read: io::read`) must name a variant, so a handler for a call
//!   Linux does not have does not compile.
//! - [`nr`], `usize` constants in upper case (`nr::READ == 0`): what goes into `rax`.
//!   A number read from a register is a `usize`, not a `Sysno`, and a `match` on it
//!   needs constants as patterns (`Sysno::read as usize` is an expression, not a
//!   pattern); the shim passes them straight to its `syscall` helpers.
//!
//! The module functions ([`name`], [`number`], [`is_register_frame`]) take and give raw
//! numbers, as the kernel's dispatcher and the pass see them.

mod list;
#[cfg(test)]
mod tests;

/// Expands [`for_each_syscall!`](crate::for_each_syscall) into [`Sysno`], [`nr`] and
/// [`name`].
macro_rules! define_syscalls {
    ($($nr:literal => $name:ident $NAME:ident $(($frame:ident))?,)*) => {
        /// An x86-64 Linux system call; its discriminant is its number.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[repr(u16)]
        #[allow(non_camel_case_types, reason = "the names are Linux's")]
        pub enum Sysno {
            $($name = $nr,)*
        }

        /// The number of every system call, named in upper case (`nr::READ`).
        pub mod nr {
            $(pub const $NAME: usize = $nr;)*

            /// `("NAME", nr::NAME)` for every constant, to test the upper-case column.
            #[cfg(test)]
            pub(crate) const ALL: &[(&str, usize)] = &[$((stringify!($NAME), $NAME),)*];
        }

        impl Sysno {
            /// Every system call, sorted by number.
            pub const ALL: &'static [Sysno] = &[$(Sysno::$name,)*];

            /// The system call numbered `nr`, if Linux has one.
            pub const fn from_number(nr: usize) -> Option<Sysno> {
                match nr {
                    $($nr => Some(Sysno::$name),)*
                    _ => None,
                }
            }

            /// The system call Linux calls `name` (`"read"`, `"exit_group"`).
            pub fn from_name(name: &str) -> Option<Sysno> {
                match name {
                    $(stringify!($name) => Some(Sysno::$name),)*
                    _ => None,
                }
            }

            /// Linux's name: `"read"`.
            pub const fn name(self) -> &'static str {
                match self {
                    $(Sysno::$name => stringify!($name),)*
                }
            }

            /// Whether the call needs the caller's register frame (see
            /// [`REGISTER_FRAME`]).
            pub const fn needs_register_frame(self) -> bool {
                match self {
                    $(Sysno::$name => define_syscalls!(@frame $($frame)?),)*
                }
            }
        }

        /// The name of system call `nr`, if Linux has one. One `match` on the number,
        /// which the compiler turns into one table.
        pub const fn name(nr: usize) -> Option<&'static str> {
            match nr {
                $($nr => Some(stringify!($name)),)*
                _ => None,
            }
        }
    };
    (@frame frame) => { true };
    (@frame) => { false };
}

crate::for_each_syscall!(define_syscalls);

impl Sysno {
    /// The number, as it goes into `rax`.
    pub const fn number(self) -> usize {
        self as usize
    }
}

/// The number of system call `name`, if Linux has one.
pub fn number(name: &str) -> Option<usize> {
    Sysno::from_name(name).map(Sysno::number)
}

/// Whether system call `nr` needs the caller's register frame (see
/// [`REGISTER_FRAME`]); false for numbers Linux does not have.
pub const fn is_register_frame(nr: usize) -> bool {
    match Sysno::from_number(nr) {
        Some(sysno) => sysno.needs_register_frame(),
        None => false,
    }
}

/// The system calls that need the caller's register frame, sorted by number: the child
/// of `clone`, `fork`, `vfork` and `clone3` resumes from the parent's registers and
/// return address, `execve` and `rt_sigreturn` replace them. A C call gives the kernel
/// neither, so these never become direct calls of kernel entries; they go through the
/// `syscall` instruction or the kernel's stub that saves the frame.
pub const REGISTER_FRAME: [Sysno; REGISTER_FRAME_COUNT] = register_frame();

const REGISTER_FRAME_COUNT: usize = {
    let (mut count, mut i) = (0, 0);
    while i < Sysno::ALL.len() {
        if Sysno::ALL[i].needs_register_frame() {
            count += 1;
        }
        i += 1;
    }
    count
};

const fn register_frame() -> [Sysno; REGISTER_FRAME_COUNT] {
    let mut out = [Sysno::read; REGISTER_FRAME_COUNT];
    let (mut i, mut j) = (0, 0);
    while i < Sysno::ALL.len() {
        if Sysno::ALL[i].needs_register_frame() {
            out[j] = Sysno::ALL[i];
            j += 1;
        }
        i += 1;
    }
    out
}
