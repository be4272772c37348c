//! `cargo unikernel run --profile-cpu[=HZ] [--flamegraph FILE.svg]`: the kernel's
//! sampling profiler (`unikernel.profile_hz`, sysroot kernel `profile.rs`) turned on,
//! and its samples, exported at exit as `cpu-samples` over the export channel
//! ([`crate::export`]), symbolized with the image's ELF symbol table into folded stacks
//! (`FILE.folded`, the format inferno and flamegraph.pl read) and, with `--flamegraph`,
//! an SVG rendered by the `inferno` crate.
//!
//! The output paths are opened before the build, so an unwritable one is a usage error
//! before anything boots.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use anyhow::{Context, anyhow, bail};
use object::{Object, ObjectSymbol, SymbolKind};

use crate::export::Exports;
use crate::status::{relative, status};

/// The rate when `--profile-cpu` names none: prime, so it does not beat with periodic
/// work in the program.
pub const DEFAULT_HZ: u32 = 997;
/// The file name the kernel exports its samples under.
pub const SAMPLES_FILE: &str = "cpu-samples";
const MAGIC: &[u8; 4] = b"UKP1";

/// Where the profile goes, its files already created (so known writable).
#[derive(Debug)]
pub struct Profile {
    pub hz: u32,
    pub folded: PathBuf,
    pub svg: Option<PathBuf>,
}

impl Profile {
    /// The profile `--profile-cpu[=HZ]` and `--flamegraph SVG` ask for (`--flamegraph`
    /// alone profiles at the default rate): the folded stacks go next to the SVG as
    /// `NAME.folded`, or without one to `default_folded`. Both files are created here.
    pub fn new(
        hz: Option<u32>,
        svg: Option<&Path>,
        default_folded: &Path,
    ) -> anyhow::Result<Profile> {
        let hz = hz.unwrap_or(DEFAULT_HZ);
        if !(1..=100_000).contains(&hz) {
            bail!("--profile-cpu={hz}: the rate must be 1 to 100000 Hz");
        }
        let folded = svg.map_or_else(
            || default_folded.to_owned(),
            |svg| svg.with_extension("folded"),
        );
        for path in std::iter::once(folded.as_path()).chain(svg) {
            File::create(path)
                .with_context(|| format!("cannot write the profile to {}", path.display()))?;
        }
        Ok(Profile {
            hz,
            folded,
            svg: svg.map(Path::to_owned),
        })
    }

    /// The kernel command-line word that turns sampling on.
    pub fn kernel_option(&self) -> String {
        format!("unikernel.profile_hz={}", self.hz)
    }

    /// Writes the folded stacks (and the SVG) from what the guest exported; returns
    /// the number of samples and of samples the guest had no room for.
    pub fn write(&self, exports: &Exports, image: &Path) -> anyhow::Result<(u64, u64)> {
        let file = exports
            .files
            .iter()
            .find(|file| file.name == SAMPLES_FILE)
            .ok_or_else(|| {
                anyhow!(
                    "the guest sent no samples (it did not reach a normal exit{})",
                    exports
                        .dropped
                        .as_ref()
                        .map(|why| format!("; {why}"))
                        .unwrap_or_default()
                )
            })?;
        let samples = Samples::parse(&file.bytes)?;
        let image_bytes =
            std::fs::read(image).with_context(|| format!("cannot read {}", image.display()))?;
        let symbols = Symbols::of(&image_bytes)?;
        let lines = fold(&samples.stacks, &symbols);
        let mut out = BufWriter::new(File::create(&self.folded)?);
        for line in &lines {
            writeln!(out, "{line}")?;
        }
        out.flush()
            .with_context(|| format!("cannot write {}", self.folded.display()))?;
        if let Some(svg) = &self.svg {
            let out = BufWriter::new(File::create(svg)?);
            let mut options = inferno::flamegraph::Options::default();
            options.title = format!("{} ({} Hz)", image.display(), samples.hz);
            inferno::flamegraph::from_lines(&mut options, lines.iter().map(String::as_str), out)
                .with_context(|| format!("cannot render {}", svg.display()))?;
        }
        Ok((samples.stacks.len() as u64, samples.dropped))
    }
}

/// Writes `profile` after the run and says where it went, or why it could not be
/// written (the run's own outcome stands either way).
pub fn report(profile: &Profile, exports: &Exports, image: &Path) {
    match profile.write(exports, image) {
        Ok((samples, dropped)) => {
            let mut written = relative(&profile.folded);
            if let Some(svg) = &profile.svg {
                written = format!("{written} and {}", relative(svg));
            }
            let dropped = match dropped {
                0 => String::new(),
                n => format!(", {n} more dropped: the guest's buffer was full"),
            };
            status(
                "Profiled",
                &format!("{samples} samples at {} Hz{dropped}: {written}", profile.hz),
            );
        }
        Err(e) => eprintln!("warning: no CPU profile: {e:#}"),
    }
}

/// The samples as the kernel sent them.
#[derive(Debug, PartialEq, Eq)]
struct Samples {
    hz: u64,
    dropped: u64,
    /// Each sample's pcs, innermost first (the first the interrupted instruction, the
    /// others return addresses).
    stacks: Vec<Vec<u64>>,
}

impl Samples {
    fn parse(bytes: &[u8]) -> anyhow::Result<Samples> {
        let rest = bytes
            .strip_prefix(MAGIC)
            .ok_or_else(|| anyhow!("the samples file does not start with {MAGIC:?}"))?;
        if rest.len() % 8 != 0 {
            bail!("the samples file is not whole words");
        }
        let mut words = rest
            .chunks_exact(8)
            .map(|w| u64::from_le_bytes(w.try_into().expect("8 bytes")));
        let (Some(hz), Some(dropped)) = (words.next(), words.next()) else {
            bail!("the samples file has no header");
        };
        let mut stacks = Vec::new();
        while let Some(depth) = words.next() {
            let stack: Vec<u64> = words.by_ref().take(depth as usize).collect();
            if stack.len() as u64 != depth {
                bail!("the samples file ends inside a sample");
            }
            stacks.push(stack);
        }
        Ok(Samples {
            hz,
            dropped,
            stacks,
        })
    }
}

/// The image's function symbols, by address.
struct Symbols {
    /// (start, size, demangled name), sorted by start.
    functions: Vec<(u64, u64, String)>,
}

impl Symbols {
    fn of(image: &[u8]) -> anyhow::Result<Symbols> {
        let elf = object::File::parse(image).context("the image is not an ELF file")?;
        let mut functions: Vec<_> = elf
            .symbols()
            .filter(|s| s.kind() == SymbolKind::Text && s.address() != 0)
            .filter_map(|s| {
                let name = s.name().ok()?;
                Some((
                    s.address(),
                    s.size(),
                    format!("{:#}", rustc_demangle::demangle(name)),
                ))
            })
            .collect();
        if functions.is_empty() {
            bail!("the image has no symbol table (built with `strip = \"symbols\"`?)");
        }
        functions.sort_by_key(|f| f.0);
        Ok(Symbols { functions })
    }

    /// The name of the function holding `pc`, or the address itself.
    fn name(&self, pc: u64) -> String {
        let at = self.functions.partition_point(|f| f.0 <= pc);
        match at.checked_sub(1).map(|i| &self.functions[i]) {
            Some((start, size, name)) if pc < start + (*size).max(1) => name.clone(),
            _ => format!("{pc:#x}"),
        }
    }
}

/// Folded stacks: one line per distinct stack, outermost frame first, frames joined
/// by ';', then a space and the number of samples; sorted by stack.
fn fold(stacks: &[Vec<u64>], symbols: &Symbols) -> Vec<String> {
    let mut counts = BTreeMap::<String, u64>::new();
    for stack in stacks {
        let names: Vec<String> = stack
            .iter()
            .enumerate()
            .rev()
            // A return address is one past its call, which may be the next function.
            .map(|(i, &pc)| symbols.name(if i == 0 { pc } else { pc.saturating_sub(1) }))
            .map(|name| name.replace(';', ":"))
            .collect();
        *counts.entry(names.join(";")).or_default() += 1;
    }
    counts
        .into_iter()
        .map(|(stack, count)| format!("{stack} {count}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn words(words: &[u64]) -> Vec<u8> {
        let mut out = MAGIC.to_vec();
        for w in words {
            out.extend(w.to_le_bytes());
        }
        out
    }

    #[test]
    fn samples_parse_and_a_cut_one_is_an_error() {
        let samples = Samples::parse(&words(&[997, 2, 2, 0x10, 0x20, 1, 0x30])).unwrap();
        assert_eq!(samples.hz, 997);
        assert_eq!(samples.dropped, 2);
        assert_eq!(samples.stacks, vec![vec![0x10, 0x20], vec![0x30]]);
        assert!(Samples::parse(&words(&[997, 0, 3, 0x10])).is_err());
        assert!(Samples::parse(b"XXXX").is_err());
    }

    #[test]
    fn stacks_fold_outermost_first_with_counts() {
        let symbols = Symbols {
            functions: vec![
                (0x100, 0x10, "main".into()),
                (0x110, 0x10, "hot".into()),
                (0x120, 0x10, "a;b".into()),
            ],
        };
        // 0x111 returns into main's end: the call is at 0x110 - 1, in main.
        let stacks = vec![
            vec![0x115, 0x105],
            vec![0x112, 0x110],
            vec![0x125, 0x105],
            vec![0x500],
        ];
        assert_eq!(
            fold(&stacks, &symbols),
            vec!["0x500 1", "main;a:b 1", "main;hot 2"]
        );
    }

    #[test]
    fn an_unwritable_path_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let svg = dir.path().join("missing/dir/f.svg");
        let err = Profile::new(None, Some(&svg), &dir.path().join("x")).unwrap_err();
        assert!(
            format!("{err:#}").contains("cannot write the profile"),
            "{err:#}"
        );
        let ok = Profile::new(Some(99), Some(&dir.path().join("f.svg")), Path::new("x")).unwrap();
        assert_eq!(ok.folded, dir.path().join("f.folded"));
        assert_eq!(ok.kernel_option(), "unikernel.profile_hz=99");
        assert!(Profile::new(Some(0), None, &dir.path().join("y")).is_err());
    }
}
