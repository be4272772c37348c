//! Linux error numbers: the [`Errno`] that the kernel's handlers return and the shim
//! stores in `errno`, with each number's name (for logs and crash reports) and glibc's
//! message (for `strerror`), all from the one list in
//! [`for_each_errno!`](crate::for_each_errno).

use core::ffi::CStr;
use core::fmt;

mod list;
#[cfg(test)]
mod tests;

/// A Linux error number, positive (`Errno::EINVAL == Errno(22)`).
///
/// A newtype over C's `int` rather than an enum: the shim passes on whatever number the
/// kernel below it returns (Linux itself in hosted builds, so possibly one newer than
/// this list) and C's `errno` is an `int`. The named numbers are associated constants,
/// usable in `const` contexts and as `match` patterns.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct Errno(pub i32);

/// Expands [`for_each_errno!`](crate::for_each_errno) into the constants and lookups
/// of [`Errno`].
macro_rules! define_errno {
    ($($number:literal => $NAME:ident $message:literal,)*) => {
        #[allow(missing_docs, reason = "the names are Linux's; the messages are in the list")]
        impl Errno {
            $(pub const $NAME: Errno = Errno($number);)*

            /// Every error number, sorted.
            pub const ALL: &'static [Errno] = &[$(Errno::$NAME,)*];

            /// Linux's name (`"ENOENT"`), if the number has one.
            pub const fn name(self) -> Option<&'static str> {
                match self.0 {
                    $($number => Some(stringify!($NAME)),)*
                    _ => None,
                }
            }

            /// glibc's message (`"No such file or directory"`), if the number has a
            /// name.
            pub const fn message(self) -> Option<&'static CStr> {
                match self.0 {
                    $($number => Some($message),)*
                    _ => None,
                }
            }
        }
    };
}

crate::for_each_errno!(define_errno);

impl Errno {
    /// `EWOULDBLOCK` is `EAGAIN` on Linux.
    pub const EWOULDBLOCK: Errno = Errno::EAGAIN;
    /// `EDEADLOCK` is `EDEADLK` on x86-64 Linux.
    pub const EDEADLOCK: Errno = Errno::EDEADLK;
    /// glibc's `ENOTSUP` is `EOPNOTSUPP`.
    pub const ENOTSUP: Errno = Errno::EOPNOTSUPP;

    /// The value a system call returns for this error: `-errno`.
    pub const fn to_return_value(self) -> isize {
        -(self.0 as isize)
    }
}

/// The name (`EINVAL`), as a kernel log or a crash report shows it; `Errno(N)` for a
/// number without one.
impl fmt::Debug for Errno {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.name() {
            Some(name) => f.write_str(name),
            None => write!(f, "Errno({})", self.0),
        }
    }
}
