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
//! - `virtio_mmio.device=SIZE@BASE:IRQ` tokens, which QEMU's microvm appends to the
//!   command line (even after `--`), list the virtio-mmio devices ([`MmioDevice`],
//!   Linux's `virtio_mmio.device` parameter); they are never taken as arguments;
//! - other `name.param=value` tokens are parameters of kernel subsystems, ignored;
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
    /// `unikernel.icount`: the VMM counts guest instructions as time (QEMU `-icount
    /// shift=0`: one nanosecond, and one TSC tick, per instruction), so the TSC runs at
    /// 1 GHz and the boot report can state instructions.
    pub icount: bool,
    /// `unikernel.stack_kib=N`: main-thread stack size.
    pub stack_kib: Option<usize>,
    /// `unikernel.ip=A.B.C.D/PREFIX`: eth0's IPv4 address (default: QEMU user
    /// networking's 10.0.2.15/24).
    pub ip: Option<([u8; 4], u8)>,
    /// `unikernel.gateway=A.B.C.D`: the default route (default: 10.0.2.2).
    pub gateway: Option<[u8; 4]>,
    /// `unikernel.strace[=NAME,...]`: trace these system calls (all without names).
    pub strace: Option<SyscallSet>,
    /// `unikernel.profile_hz=N`: sample the running thread's stack N times a second
    /// (`profile`).
    pub profile_hz: Option<u32>,
}

/// A set of system call numbers (0..512; x86-64 has none above 511): the
/// `unikernel.strace` filter (`syscall::trace`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct SyscallSet([u64; 8]);

impl SyscallSet {
    /// Every system call.
    pub const ALL: SyscallSet = SyscallSet([u64::MAX; 8]);

    /// `NAME,NAME,...` (names as strace and the ABI list spell them); `None` if a name
    /// is not a system call or the list is empty.
    pub fn parse(names: &str) -> Option<SyscallSet> {
        let mut set = SyscallSet([0; 8]);
        for name in names.split(',') {
            let nr = unikernel_abi::Sysno::from_name(name)?.number();
            set.0[nr / 64] |= 1 << (nr % 64);
        }
        Some(set)
    }

    /// The set as 64-bit words, number `nr` at bit `nr % 64` of word `nr / 64`.
    pub fn words(&self) -> [u64; 8] {
        self.0
    }

    /// Whether `nr` is in the set.
    pub fn contains(&self, nr: usize) -> bool {
        self.0
            .get(nr / 64)
            .is_some_and(|word| word & (1 << (nr % 64)) != 0)
    }
}

/// The TSC frequency under `unikernel.icount`: one tick per nanosecond.
const ICOUNT_TSC_KHZ: u64 = 1_000_000;

impl Options {
    /// The TSC frequency the command line states: `unikernel.tsc_khz`, else 1 GHz under
    /// `unikernel.icount` (QEMU's TSC then reads its instruction-counted virtual clock).
    pub fn stated_tsc_khz(&self) -> Option<u64> {
        self.tsc_khz.or(self.icount.then_some(ICOUNT_TSC_KHZ))
    }
}

/// Most virtio-mmio devices kept.
pub const MAX_DEVICES: usize = 8;

/// A virtio-mmio device as `virtio_mmio.device=SIZE@BASE:IRQ` gives it (SIZE with an
/// optional K/M/G suffix, BASE in hex or decimal, IRQ the GSI).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct MmioDevice {
    pub base: usize,
    pub size: usize,
    pub irq: u32,
}

impl MmioDevice {
    fn parse(value: &str) -> Option<MmioDevice> {
        let (size, rest) = value.split_once('@')?;
        let (base, irq) = rest.split_once(':')?;
        // Linux also allows `:ID` after the IRQ (a platform device id).
        let irq = irq.split(':').next()?;
        Some(MmioDevice {
            base: parse_number(base)?,
            size: parse_size(size)?,
            irq: irq.parse().ok()?,
        })
    }
}

/// A number in decimal or, with `0x`, in hex.
fn parse_number(s: &str) -> Option<usize> {
    match s.strip_prefix("0x").or_else(|| s.strip_prefix("0X")) {
        Some(hex) => usize::from_str_radix(hex, 16).ok(),
        None => s.parse().ok(),
    }
}

/// A size as Linux's `memparse`: a number with an optional K, M or G suffix.
fn parse_size(s: &str) -> Option<usize> {
    let (digits, shift) = match s.as_bytes().last()? {
        b'k' | b'K' => (&s[..s.len() - 1], 10),
        b'm' | b'M' => (&s[..s.len() - 1], 20),
        b'g' | b'G' => (&s[..s.len() - 1], 30),
        _ => (s, 0),
    };
    parse_number(digits)?.checked_mul(1 << shift)
}

/// `A.B.C.D`.
fn parse_ipv4(s: &str) -> Option<[u8; 4]> {
    let mut address = [0u8; 4];
    let mut parts = s.split('.');
    for byte in &mut address {
        *byte = parts.next()?.parse().ok()?;
    }
    parts.next().is_none().then_some(address)
}

/// `A.B.C.D/PREFIX`.
fn parse_cidr(s: &str) -> Option<([u8; 4], u8)> {
    let (address, prefix) = s.split_once('/')?;
    let prefix: u8 = prefix.parse().ok()?;
    (prefix <= 32).then_some((parse_ipv4(address)?, prefix))
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
    /// The virtio-mmio devices, in command-line order.
    pub devices: List<MmioDevice, MAX_DEVICES>,
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
            devices: List::new(MmioDevice::default()),
            ignored: List::new(""),
        };
        let mut argv0 = "app";
        let mut after_dashes = false;
        let mut args: List<&'a str, MAX_ARGS> = List::new("");
        for token in tokens(line) {
            if let Some(device) = token.strip_prefix("virtio_mmio.device=") {
                // microvm's device list: for the drivers, never an argument.
                match MmioDevice::parse(device) {
                    Some(device) => cmdline.devices.push(device),
                    None => cmdline.ignored.push(token),
                }
                continue;
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
            ("icount", None) => self.options.icount = true,
            ("tsc_khz", Some(v)) => match v.parse() {
                Ok(khz) if khz > 0 => self.options.tsc_khz = Some(khz),
                _ => return false,
            },
            ("stack_kib", Some(v)) => match v.parse() {
                Ok(kib) if kib >= 16 => self.options.stack_kib = Some(kib),
                _ => return false,
            },
            ("argv0", Some(v)) if !v.is_empty() => *argv0 = v,
            ("ip", Some(v)) => match parse_cidr(v) {
                Some(cidr) => self.options.ip = Some(cidr),
                None => return false,
            },
            ("strace", None) => self.options.strace = Some(SyscallSet::ALL),
            ("strace", Some(v)) => match SyscallSet::parse(v) {
                Some(set) => self.options.strace = Some(set),
                None => return false,
            },
            ("profile_hz", Some(v)) => match v.parse() {
                Ok(hz) if (1..=100_000).contains(&hz) => self.options.profile_hz = Some(hz),
                _ => return false,
            },
            ("gateway", Some(v)) => match parse_ipv4(v) {
                Some(gateway) => self.options.gateway = Some(gateway),
                None => return false,
            },
            _ => return false,
        }
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn icount_states_a_1_ghz_tsc_unless_tsc_khz_says_otherwise() {
        assert_eq!(Cmdline::parse("").options.stated_tsc_khz(), None);
        let icount = Cmdline::parse("unikernel.icount").options;
        assert!(icount.icount);
        assert_eq!(icount.stated_tsc_khz(), Some(1_000_000));
        let both = Cmdline::parse("unikernel.icount unikernel.tsc_khz=5").options;
        assert_eq!(both.stated_tsc_khz(), Some(5));
    }

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
                icount: false,
                stack_kib: None,
                ip: None,
                gateway: None,
                strace: None,
                profile_hz: None,
            }
        );
        assert_eq!(
            cmdline.devices.as_slice(),
            [MmioDevice {
                base: 0xfeb0_0e00,
                size: 512,
                irq: 12
            }]
        );
        assert_eq!(cmdline.env.as_slice(), [("HOME", "/root")]);
        assert_eq!(cmdline.args.as_slice(), ["server", "one", "two words"]);
        assert!(cmdline.ignored.as_slice().is_empty());
    }

    #[test]
    fn strace_option_with_and_without_names() {
        assert_eq!(
            Cmdline::parse("unikernel.strace").options.strace,
            Some(SyscallSet::ALL)
        );
        let set = Cmdline::parse("unikernel.strace=read,openat")
            .options
            .strace
            .unwrap();
        assert!(set.contains(0) && set.contains(257) && !set.contains(1));
        let bad = Cmdline::parse("unikernel.strace=read,nosuchcall");
        assert_eq!(bad.options.strace, None);
        assert_eq!(bad.ignored.as_slice(), ["unikernel.strace=read,nosuchcall"]);
    }

    #[test]
    fn profile_rate_in_range_or_ignored() {
        let options = |line| Cmdline::parse(line).options.profile_hz;
        assert_eq!(options("unikernel.profile_hz=997"), Some(997));
        assert_eq!(options("unikernel.profile_hz=0"), None);
        assert_eq!(options("unikernel.profile_hz=100001"), None);
        assert_eq!(options("unikernel.profile_hz"), None);
    }

    #[test]
    fn device_tokens_after_the_dashes_are_not_arguments() {
        // microvm appends its virtio-mmio devices at the very end, after `--`.
        let cmdline = Cmdline::parse("-- a virtio_mmio.device=512@0xfeb00e00:12 b");
        assert_eq!(cmdline.args.as_slice(), ["app", "a", "b"]);
    }

    #[test]
    fn network_options_and_device_sizes() {
        let cmdline = Cmdline::parse(
            "unikernel.ip=192.168.7.9/16 unikernel.gateway=192.168.0.1 \
             virtio_mmio.device=4K@0x1000:5:3 virtio_mmio.device=1@2 unikernel.ip=1.2.3/8 \
             unikernel.ip=1.2.3.4/33 unikernel.gateway=1.2.3.256",
        );
        assert_eq!(cmdline.options.ip, Some(([192, 168, 7, 9], 16)));
        assert_eq!(cmdline.options.gateway, Some([192, 168, 0, 1]));
        assert_eq!(
            cmdline.devices.as_slice(),
            [MmioDevice {
                base: 0x1000,
                size: 4096,
                irq: 5
            }]
        );
        assert_eq!(
            cmdline.ignored.as_slice(),
            [
                "virtio_mmio.device=1@2",
                "unikernel.ip=1.2.3/8",
                "unikernel.ip=1.2.3.4/33",
                "unikernel.gateway=1.2.3.256"
            ]
        );
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
