//! The `unikernel-ld` role: rustc's linker during unikernel builds.
//!
//! It does not link. It records what rustc asked to link — objects, archives, `-l`
//! libraries — in a [`LinkManifest`] written where the executable would go, copying
//! the objects that rustc deletes afterwards (codegen units, `symbols.o`). The
//! whole-program build then runs in the `cargo unikernel` process itself, so that one
//! cargo build serves hosted and unikernel images, `ir` and `report`, and errors reach
//! the user directly rather than as a failed linker command line.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{Context, bail};
use serde::{Deserialize, Serialize};

/// Marks a file as a link manifest, and its format version.
pub const MANIFEST_MAGIC: &str = "cargo-unikernel link manifest v1";

/// What rustc asked the linker to link, in order.
#[derive(Debug, Serialize, Deserialize)]
pub struct LinkManifest {
    pub magic: String,
    /// Objects (copied next to the manifest) and archives, in command-line order.
    pub inputs: Vec<LinkInput>,
    /// `-l` libraries, with whether they were requested static (`-Bstatic`).
    pub libraries: Vec<Library>,
    /// The linker command line as rustc gave it, for `--verbose` and bug reports.
    pub command_line: Vec<String>,
}

#[derive(Debug, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum LinkInput {
    Object { path: PathBuf, original: PathBuf },
    Archive { path: PathBuf },
}

#[derive(Debug, Serialize, Deserialize)]
pub struct Library {
    pub name: String,
    pub path: Option<PathBuf>,
    pub is_static: bool,
}

impl LinkManifest {
    /// Read a manifest, with a clear error if `path` is something else.
    pub fn read(path: &Path) -> anyhow::Result<Self> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let manifest: Self = serde_json::from_slice(&bytes).with_context(|| {
            format!(
                "{} is not a link manifest of cargo-unikernel",
                path.display()
            )
        })?;
        if manifest.magic != MANIFEST_MAGIC {
            bail!(
                "{} is a link manifest of another cargo-unikernel version",
                path.display()
            );
        }
        Ok(manifest)
    }
}

/// `args` are the cc-style arguments rustc passes to its linker.
pub fn main(args: &[OsString]) -> ExitCode {
    match capture(args) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: unikernel-ld: {e:#}");
            ExitCode::from(1)
        }
    }
}

fn capture(args: &[OsString]) -> anyhow::Result<()> {
    let args = expand_response_files(args)?;
    let mut output: Option<PathBuf> = None;
    let mut objects_and_archives: Vec<PathBuf> = Vec::new();
    let mut libraries = Vec::new();
    let mut search_paths: Vec<PathBuf> = Vec::new();
    let mut is_static = false;
    let mut iter = args.iter();
    while let Some(arg) = iter.next() {
        match arg.as_str() {
            "-o" => output = iter.next().map(PathBuf::from),
            "-L" => search_paths.extend(iter.next().map(PathBuf::from)),
            "-Wl,-Bstatic" => is_static = true,
            "-Wl,-Bdynamic" => is_static = false,
            a if a.starts_with("-L") => search_paths.push(PathBuf::from(&a[2..])),
            a if a.starts_with("-l") => {
                libraries.push((a[2..].trim_start_matches(':').to_owned(), is_static))
            }
            a if a.starts_with('-') => {}
            a => objects_and_archives.push(PathBuf::from(a)),
        }
    }
    let output = output.context("rustc passed no `-o` output")?;
    let saved = PathBuf::from(format!("{}.unikernel-inputs", output.display()));
    let _ = std::fs::remove_dir_all(&saved);
    std::fs::create_dir_all(&saved)
        .with_context(|| format!("cannot create {}", saved.display()))?;

    let mut inputs = Vec::new();
    for (index, path) in objects_and_archives.into_iter().enumerate() {
        if is_archive(&path)? {
            inputs.push(LinkInput::Archive { path });
        } else {
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let copy = saved.join(format!("{index:03}-{name}"));
            std::fs::copy(&path, &copy)
                .with_context(|| format!("cannot save {} to {}", path.display(), copy.display()))?;
            inputs.push(LinkInput::Object {
                path: copy,
                original: path,
            });
        }
    }
    let libraries = libraries
        .into_iter()
        .map(|(name, is_static)| Library {
            path: find_static_library(&name, &search_paths),
            name,
            is_static,
        })
        .collect();
    let manifest = LinkManifest {
        magic: MANIFEST_MAGIC.into(),
        inputs,
        libraries,
        command_line: args.clone(),
    };
    let json = serde_json::to_vec_pretty(&manifest)?;
    crate::replace::write(&output, json)?;
    Ok(())
}

/// rustc passes `@file` when the command line is too long; one argument per line.
fn expand_response_files(args: &[OsString]) -> anyhow::Result<Vec<String>> {
    let mut out = Vec::new();
    for arg in args {
        let arg = arg.to_str().context("a linker argument is not UTF-8")?;
        match arg.strip_prefix('@') {
            Some(file) => {
                let text = std::fs::read_to_string(file)
                    .with_context(|| format!("cannot read response file {file}"))?;
                out.extend(text.lines().map(unescape_response_line));
            }
            None => out.push(arg.to_owned()),
        }
    }
    Ok(out)
}

/// rustc escapes `\` and spaces-free GNU-style response files with backslashes.
fn unescape_response_line(line: &str) -> String {
    let mut out = String::with_capacity(line.len());
    let mut chars = line.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            out.extend(chars.next());
        } else {
            out.push(c);
        }
    }
    out
}

fn is_archive(path: &Path) -> anyhow::Result<bool> {
    use std::io::Read;
    let mut magic = [0u8; 8];
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let n = file.read(&mut magic)?;
    Ok(n == 8 && &magic == b"!<arch>\n")
}

fn find_static_library(name: &str, search_paths: &[PathBuf]) -> Option<PathBuf> {
    let file = if name.ends_with(".a") {
        name.to_owned()
    } else {
        format!("lib{name}.a")
    };
    search_paths
        .iter()
        .map(|dir| dir.join(&file))
        .find(|p| p.is_file())
}
