//! Sorting link inputs into bitcode (for the whole-program module) and native code
//! (linked as it is).
//!
//! - objects that are bitcode (`-C linker-plugin-lto`) are taken as they are;
//! - ELF objects with a `.llvmbc` section (the prebuilt std rlibs ship their bitcode
//!   so) contribute that section;
//! - `compiler_builtins` stays native, as rustc's own LTO keeps it: LLVM code
//!   generation emits calls to it (`__udivti3`, ...) that no IR refers to, so it must
//!   not be internalized away;
//! - anything else without bitcode stays native and is named in the build report.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use anyhow::Context;
use object::read::archive::ArchiveFile;
use object::{Object, ObjectSection, ObjectSymbol};
use serde::{Deserialize, Serialize};
use unikernel_pass::BitcodeInput;

use crate::link_capture::{LinkInput, LinkManifest};

const BITCODE_MAGIC: &[u8] = b"BC\xC0\xDE";

/// Everything a whole-program link consumes.
#[derive(Debug, Default)]
pub struct Inputs {
    pub bitcode: Vec<BitcodeInput>,
    /// Native objects (linked whole) and archives (linked with archive semantics).
    pub native: Vec<NativeInput>,
    /// Symbols the native inputs refer to but do not define: they must stay external.
    pub native_undefined: BTreeSet<String>,
    /// For the report: every input file and what became of it.
    pub summary: Vec<InputSummary>,
    scratch: PathBuf,
}

#[derive(Debug, Clone)]
pub enum NativeInput {
    /// Linked whole.
    Object(PathBuf),
    /// An archive of native objects only, linked with archive semantics.
    Archive(PathBuf),
    /// The native members of an archive that also holds bitcode, extracted and linked
    /// with archive semantics (lld's `--start-lib`); the bitcode members are merged.
    Members(Vec<PathBuf>),
}

#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct InputSummary {
    pub name: String,
    pub bitcode_modules: usize,
    pub bitcode_bytes: usize,
    /// Why (part of) the input stays native, if it does.
    pub native: Option<String>,
}

impl Inputs {
    /// Inputs of a captured link plus the runtime rlibs.
    /// Native members of mixed archives are extracted under `scratch`.
    pub fn gather(
        manifest: &LinkManifest,
        runtime: &[PathBuf],
        scratch: &Path,
    ) -> anyhow::Result<Self> {
        let mut inputs = Self {
            scratch: scratch.to_path_buf(),
            ..Self::default()
        };
        for input in &manifest.inputs {
            match input {
                LinkInput::Object { path, original } => inputs.add_object(path, original)?,
                LinkInput::Archive { path } => inputs.add_archive(path)?,
            }
        }
        for library in manifest.libraries.iter().filter(|l| l.is_static) {
            if let Some(path) = &library.path {
                inputs.add_archive(path)?;
            }
        }
        for rlib in runtime {
            inputs.add_archive(rlib)?;
        }
        Ok(inputs)
    }

    fn add_object(&mut self, path: &Path, original: &Path) -> anyhow::Result<()> {
        let bytes =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let name = original.display().to_string();
        if is_rustc_symbols_object(original) {
            // rustc's `symbols.o` only holds undefined references that keep exported
            // symbols alive through --gc-sections; the whole-program module decides
            // liveness itself.
            self.summary.push(InputSummary {
                name,
                bitcode_modules: 0,
                bitcode_bytes: 0,
                native: Some("rustc's symbols.o, not needed".into()),
            });
            return Ok(());
        }
        match bitcode_of(&bytes).with_context(|| format!("cannot read the object {name}"))? {
            Some(bitcode) => {
                self.summary.push(InputSummary {
                    name: name.clone(),
                    bitcode_modules: 1,
                    bitcode_bytes: bitcode.len(),
                    native: None,
                });
                self.bitcode.push(BitcodeInput {
                    name,
                    bytes: bitcode,
                });
            }
            None => {
                self.note_undefined(&bytes);
                self.summary.push(InputSummary {
                    name,
                    bitcode_modules: 0,
                    bitcode_bytes: 0,
                    native: Some("object without bitcode".into()),
                });
                self.native.push(NativeInput::Object(path.to_path_buf()));
            }
        }
        Ok(())
    }

    /// Whether native code that could issue system calls is linked in: anything but
    /// `compiler_builtins` (arithmetic and memory routines, no system calls). The pass
    /// then keeps every kernel handler the dispatchers could reach.
    pub fn native_may_issue_syscalls(&self) -> bool {
        self.native.iter().any(|input| match input {
            NativeInput::Archive(path) => !path
                .file_name()
                .is_some_and(|name| name.to_string_lossy().starts_with("libcompiler_builtins-")),
            _ => true,
        })
    }

    fn add_archive(&mut self, path: &Path) -> anyhow::Result<()> {
        let name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        if name.starts_with("libcompiler_builtins-") {
            self.note_archive_undefined(&data, path)?;
            self.summary.push(InputSummary {
                name,
                bitcode_modules: 0,
                bitcode_bytes: 0,
                native: Some("compiler_builtins: code generation calls it implicitly".into()),
            });
            self.native.push(NativeInput::Archive(path.to_path_buf()));
            return Ok(());
        }
        let archive = ArchiveFile::parse(&*data)
            .with_context(|| format!("{} is not a valid archive", path.display()))?;
        let mut summary = InputSummary {
            name: name.clone(),
            bitcode_modules: 0,
            bitcode_bytes: 0,
            native: None,
        };
        let mut native_members = Vec::new();
        for member in archive.members() {
            let member =
                member.with_context(|| format!("{} is a corrupted archive", path.display()))?;
            let member_name = String::from_utf8_lossy(member.name()).into_owned();
            if member_name == "lib.rmeta"
                || member_name.starts_with("lib.rmeta")
                || member_name == "/"
            {
                continue;
            }
            // Archive members are only 2-byte aligned; the ELF reader needs the natural
            // alignment of its headers, which a fresh allocation gives.
            let bytes = member.data(&*data)?.to_vec();
            let bytes = bytes.as_slice();
            let input_name = format!("{name}({member_name})");
            match bitcode_of(bytes).with_context(|| format!("cannot read {input_name}"))? {
                Some(bitcode) => {
                    summary.bitcode_modules += 1;
                    summary.bitcode_bytes += bitcode.len();
                    self.bitcode.push(BitcodeInput {
                        name: input_name,
                        bytes: bitcode,
                    });
                }
                None if object::File::parse(bytes).is_ok() => {
                    self.note_undefined(bytes);
                    native_members.push((member_name, bytes.to_vec()));
                }
                None => {} // not an object (e.g. a symbol table or a text member)
            }
        }
        if !native_members.is_empty() {
            let names: Vec<&str> = native_members.iter().map(|(n, _)| n.as_str()).collect();
            summary.native = Some(format!("members without bitcode: {}", names.join(", ")));
            if summary.bitcode_modules == 0 {
                self.native.push(NativeInput::Archive(path.to_path_buf()));
            } else {
                let dir = self.scratch.join(&name);
                std::fs::create_dir_all(&dir)
                    .with_context(|| format!("cannot create {}", dir.display()))?;
                let mut paths = Vec::new();
                for (index, (member_name, bytes)) in native_members.iter().enumerate() {
                    let file = dir.join(format!("{index:03}-{member_name}"));
                    std::fs::write(&file, bytes)
                        .with_context(|| format!("cannot write {}", file.display()))?;
                    paths.push(file);
                }
                self.native.push(NativeInput::Members(paths));
            }
        }
        self.summary.push(summary);
        Ok(())
    }

    fn note_undefined(&mut self, bytes: &[u8]) {
        if let Ok(file) = object::File::parse(bytes) {
            self.native_undefined.extend(
                file.symbols()
                    .filter(|s| s.is_undefined())
                    .filter_map(|s| s.name().ok())
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned),
            );
        }
    }

    fn note_archive_undefined(&mut self, data: &[u8], path: &Path) -> anyhow::Result<()> {
        let archive = ArchiveFile::parse(data)
            .with_context(|| format!("{} is not a valid archive", path.display()))?;
        for member in archive.members() {
            let member = member?;
            self.note_undefined(member.data(data)?);
        }
        Ok(())
    }
}

/// The bitcode an object carries: itself if it is bitcode, its `.llvmbc` section if it
/// is an ELF object with one, `None` for plain native objects.
pub fn bitcode_of(bytes: &[u8]) -> anyhow::Result<Option<Vec<u8>>> {
    if bytes.starts_with(BITCODE_MAGIC) {
        return Ok(Some(bytes.to_vec()));
    }
    let file = object::File::parse(bytes).context("neither LLVM bitcode nor an ELF object")?;
    match file.section_by_name(".llvmbc") {
        Some(section) => {
            let data = section.data().context("unreadable .llvmbc section")?;
            Ok((!data.is_empty()).then(|| data.to_vec()))
        }
        None => Ok(None),
    }
}

fn is_rustc_symbols_object(original: &Path) -> bool {
    original.file_name().is_some_and(|n| n == "symbols.o")
        && original
            .parent()
            .and_then(Path::file_name)
            .is_some_and(|d| d.to_string_lossy().starts_with("rustc"))
}
