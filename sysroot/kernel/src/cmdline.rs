//! The kernel command line: kernel options, the application's environment and its
//! arguments.
//!
//! Convention (documented in `sysroot/README.md`):
//!
//! ```text
//! [unikernel.OPTION[=VALUE] | KEY=VALUE | other.param=VALUE ...] [-- ARG ...]
//! ```
//!
//! - `unikernel.*` tokens are kernel options ([`Options`]);
//! - `KEY=VALUE` before `--` with no `.` in `KEY` becomes an environment variable;
//! - other `name.param=value` tokens are parameters of kernel subsystems (e.g.
//!   `virtio_mmio.device=...`, which QEMU's microvm appends to the command line, even
//!   after `--`; such tokens are never taken as arguments);
//! - every token after `--` is an application argument (`argv[1..]`); `argv[0]` is
//!   `unikernel.argv0=NAME`, default `app`.
//!
//! A token is delimited by spaces; double quotes group spaces into a token, around the
//! whole token (`"two words"`) or around a value (`KEY="two words"`). There are no
//! escapes. Like Linux's, the parser never fails: what it cannot use it reports.

/// Most arguments (including `argv[0]`) and environment variables kept.
pub const MAX_ARGS: usize = 64;
pub const MAX_ENV: usize = 64;

/// Kernel options from `unikernel.*` tokens.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Options {
    /// `unikernel.verbose`: boot report and exit messages.
    pub verbose: bool,
    /// `unikernel.tsc_khz=N`: TSC frequency, skipping calibration.
    pub tsc_khz: Option<u64>,
    /// `unikernel.stack_kib=N`: main-thread stack size.
    pub stack_kib: Option<usize>,
}

/// A bounded list.
#[derive(Debug)]
pub struct List<T, const N: usize> {
    items: [T; N],
    len: usize,
    /// Items that did not fit.
    pub dropped: usize,
}

impl<T: Copy, const N: usize> List<T, N> {
    const fn new(fill: T) -> Self {
        List {
            items: [fill; N],
            len: 0,
            dropped: 0,
        }
    }

    fn push(&mut self, item: T) {
        if self.len < N {
            self.items[self.len] = item;
            self.len += 1;
        } else {
            self.dropped += 1;
        }
    }

    /// The items.
    pub fn as_slice(&self) -> &[T] {
        &self.items[..self.len]
    }
}

/// The parsed command line. `args` holds `argv[0..]`; `env` holds `(KEY, VALUE)`.
#[derive(Debug)]
pub struct Cmdline<'a> {
    pub options: Options,
    pub args: List<&'a str, MAX_ARGS>,
    pub env: List<(&'a str, &'a str), MAX_ENV>,
    /// Tokens ignored (unknown `unikernel.*` options, bad values, stray words), for
    /// the boot report; the first few are kept.
    pub ignored: List<&'a str, 8>,
}

/// Splits at spaces, keeping double-quoted runs together.
fn tokens(line: &str) -> impl Iterator<Item = &str> {
    let mut rest = line;
    core::iter::from_fn(move || {
        rest = rest.trim_start_matches([' ', '\t', '\n']);
        if rest.is_empty() {
            return None;
        }
        let mut in_quotes = false;
        let end = rest
            .char_indices()
            .find(|&(_, c)| {
                if c == '"' {
                    in_quotes = !in_quotes;
                }
                !in_quotes && matches!(c, ' ' | '\t' | '\n')
            })
            .map_or(rest.len(), |(i, _)| i);
        let (token, tail) = rest.split_at(end);
        rest = tail;
        Some(token)
    })
}

/// Removes one pair of surrounding double quotes.
fn unquote(s: &str) -> &str {
    s.strip_prefix('"')
        .and_then(|s| s.strip_suffix('"'))
        .unwrap_or(s)
}

impl<'a> Cmdline<'a> {
    /// Parses `line`; never fails (see the module docs).
    pub fn parse(line: &'a str) -> Cmdline<'a> {
        let mut cmdline = Cmdline {
            options: Options::default(),
            args: List::new(""),
            env: List::new(("", "")),
            ignored: List::new(""),
        };
        let mut argv0 = "app";
        let mut after_dashes = false;
        let mut args: List<&'a str, MAX_ARGS> = List::new("");
        for token in tokens(line) {
            if token.starts_with("virtio_mmio.device=") {
                continue; // microvm's device list: for the drivers, never an argument
            }
            if after_dashes {
                args.push(unquote(token));
                continue;
            }
            if token == "--" {
                after_dashes = true;
                continue;
            }
            // A token quoted as a whole (`"KEY=a b"`) is read without its quotes, as
            // Linux's `next_arg` does.
            let token = unquote(token);
            let (key, value) = match token.split_once('=') {
                Some((key, value)) => (key, Some(unquote(value))),
                None => (token, None),
            };
            if let Some(option) = key.strip_prefix("unikernel.") {
                if !cmdline.apply_option(option, value, &mut argv0) {
                    cmdline.ignored.push(token);
                }
            } else if key.contains('.') {
                // A subsystem parameter (name.param=value): not ours to interpret yet.
            } else if let (false, Some(value)) = (key.is_empty(), value) {
                cmdline.env.push((key, value));
            } else {
                cmdline.ignored.push(token);
            }
        }
        cmdline.args.push(argv0);
        for arg in args.as_slice() {
            cmdline.args.push(arg);
        }
        cmdline.args.dropped += args.dropped;
        cmdline
    }

    fn apply_option(&mut self, option: &str, value: Option<&'a str>, argv0: &mut &'a str) -> bool {
        match (option, value) {
            ("verbose", None | Some("1" | "on" | "yes")) => self.options.verbose = true,
            ("verbose", Some("0" | "off" | "no")) => self.options.verbose = false,
            ("tsc_khz", Some(v)) => match v.parse() {
                Ok(khz) if khz > 0 => self.options.tsc_khz = Some(khz),
                _ => return false,
            },
            ("stack_kib", Some(v)) => match v.parse() {
                Ok(kib) if kib >= 16 => self.options.stack_kib = Some(kib),
                _ => return false,
            },
            ("argv0", Some(v)) if !v.is_empty() => *argv0 = v,
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn options_environment_and_arguments() {
        let line = "unikernel.verbose unikernel.tsc_khz=2000000 unikernel.argv0=server \
                    HOME=/root virtio_mmio.device=512@0xfeb00e00:12 -- one \"two words\"";
        let cmdline = Cmdline::parse(line);
        assert_eq!(
            cmdline.options,
            Options {
                verbose: true,
                tsc_khz: Some(2_000_000),
                stack_kib: None
            }
        );
        assert_eq!(cmdline.env.as_slice(), [("HOME", "/root")]);
        assert_eq!(cmdline.args.as_slice(), ["server", "one", "two words"]);
        assert!(cmdline.ignored.as_slice().is_empty());
    }

    #[test]
    fn device_tokens_after_the_dashes_are_not_arguments() {
        // microvm appends its virtio-mmio devices at the very end, after `--`.
        let cmdline = Cmdline::parse("-- a virtio_mmio.device=512@0xfeb00e00:12 b");
        assert_eq!(cmdline.args.as_slice(), ["app", "a", "b"]);
    }

    #[test]
    fn quoted_values_keep_their_spaces() {
        let cmdline = Cmdline::parse("GREETING=\"hello  world\" \"KEY=a b\" --");
        assert_eq!(
            cmdline.env.as_slice(),
            [("GREETING", "hello  world"), ("KEY", "a b")]
        );
        assert_eq!(cmdline.args.as_slice(), ["app"]);
    }

    #[test]
    fn bad_options_are_reported_not_applied() {
        let cmdline =
            Cmdline::parse("unikernel.tsc_khz=0 unikernel.stack_kib=8 unikernel.nosuch stray =x");
        assert_eq!(cmdline.options, Options::default());
        assert_eq!(
            cmdline.ignored.as_slice(),
            [
                "unikernel.tsc_khz=0",
                "unikernel.stack_kib=8",
                "unikernel.nosuch",
                "stray",
                "=x"
            ]
        );
    }

    #[test]
    fn arguments_beyond_the_limit_are_counted_as_dropped() {
        let mut line = alloc::string::String::from("--");
        for _ in 0..MAX_ARGS + 5 {
            line.push_str(" x");
        }
        let cmdline = Cmdline::parse(&line);
        assert_eq!(cmdline.args.as_slice().len(), MAX_ARGS);
        // argv[0] takes one slot, so six of the 69 words do not fit.
        assert_eq!(cmdline.args.dropped, 6);
    }
}
