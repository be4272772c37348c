//! What the loaded image is made of: bytes by component (the app's crates, std, the
//! libc shim, the kernel) and by crate, and the largest symbols.
//!
//! Each symbol of the final ELF is attributed through the bitcode input that defined
//! it, recorded when the module was merged (`WholeProgram::origins`); symbols that
//! optimization or code generation derived (`name.llvm.N`, `name.cold`) are looked up
//! without the suffix, and what no input defined (asm labels, native objects such as
//! compiler_builtins) by its demangled path. Bytes no symbol covers are lines of their
//! own, so the lines add up to the loaded size exactly: data without symbols (string
//! literals, `.eh_frame`, ...) per section, and the padding between sections and the
//! ELF headers (the difference between the sections and the `PT_LOAD` segments).

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use anyhow::Context;
use object::{Object, ObjectSection, ObjectSegment, ObjectSymbol, SectionFlags, SectionKind};
use serde::{Deserialize, Serialize};
use unikernel_pass::BitcodeInput;
use unikernel_pass::reach::demangle;

use crate::link_capture::{LinkInput, LinkManifest};

/// Where code and data come from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Component {
    /// The app's own crates and its dependencies.
    App,
    /// The Rust standard library (std, core, alloc and their dependencies,
    /// compiler_builtins).
    Std,
    /// The libc shim.
    Shim,
    /// The kernel (`sysroot/`).
    Kernel,
    /// Symbols nothing could attribute.
    Other,
    /// Bytes of sections that no symbol covers.
    DataWithoutSymbols,
    /// Alignment padding between sections, and the ELF and program headers.
    Padding,
}

impl Component {
    pub fn label(self) -> &'static str {
        match self {
            Component::App => "app crates",
            Component::Std => "std, core, alloc",
            Component::Shim => "libc shim",
            Component::Kernel => "kernel",
            Component::Other => "other symbols",
            Component::DataWithoutSymbols => "data without symbols",
            Component::Padding => "padding and headers",
        }
    }
}

/// The image by component, crate and symbol.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Composition {
    /// The sum of the `PT_LOAD` segments' sizes in memory.
    pub loaded_bytes: u64,
    /// The sum of `components`: equal to `loaded_bytes` unless sections lie outside
    /// the segments.
    pub total_bytes: u64,
    /// Whether the image has a symbol table (a profile with `strip = "symbols"` has
    /// none, and everything is then data without symbols).
    pub symbols: bool,
    pub components: Vec<ComponentSize>,
    /// Largest first.
    pub crates: Vec<CrateSize>,
    /// Uncovered bytes by section, largest first.
    pub sections_without_symbols: Vec<SectionSize>,
    /// The largest symbols, largest first.
    pub largest: Vec<SymbolSize>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ComponentSize {
    pub component: Component,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CrateSize {
    pub name: String,
    pub component: Component,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SectionSize {
    pub section: String,
    pub bytes: u64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SymbolSize {
    /// Demangled.
    pub name: String,
    pub section: String,
    pub component: Component,
    pub crate_name: String,
    pub bytes: u64,
}

/// How many symbols [`Composition::largest`] lists.
const LARGEST: usize = 20;

/// The origin of every symbol the merged module defined.
#[derive(Debug, Default)]
pub struct Origins {
    /// Symbol -> input index.
    symbols: HashMap<String, usize>,
    /// Input index -> (component, crate).
    inputs: Vec<(Component, String)>,
}

impl Origins {
    /// `symbols` from `WholeProgram::origins`; the inputs classified by where their
    /// file lives: a runtime rlib is the kernel's if built under the kernel's target
    /// directory (`runtime/kernel/`, see `runtime.rs`), else the shim's; an archive
    /// under the toolchain's sysroot is std; anything else is the app's.
    pub fn new(
        symbols: &HashMap<String, usize>,
        bitcode: &[BitcodeInput],
        manifest: &LinkManifest,
        runtime_rlibs: &[PathBuf],
        sysroot: &Path,
    ) -> Self {
        let file_name = |p: &Path| {
            p.file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default()
        };
        let mut by_file: HashMap<String, Component> = HashMap::new();
        for input in &manifest.inputs {
            let path = match input {
                LinkInput::Object { original, .. } => original,
                LinkInput::Archive { path } => path,
            };
            let component = if path.starts_with(sysroot) {
                Component::Std
            } else {
                Component::App
            };
            by_file.insert(file_name(path), component);
        }
        for library in &manifest.libraries {
            if let Some(path) = &library.path
                && path.starts_with(sysroot)
            {
                by_file.insert(file_name(path), Component::Std);
            }
        }
        for rlib in runtime_rlibs {
            let kernel = rlib
                .components()
                .collect::<Vec<_>>()
                .windows(2)
                .any(|w| w[0].as_os_str() == "runtime" && w[1].as_os_str() == "kernel");
            let component = if kernel {
                Component::Kernel
            } else {
                Component::Shim
            };
            by_file.insert(file_name(rlib), component);
        }
        let inputs = bitcode
            .iter()
            .map(|input| {
                // `libfoo-HASH.rlib(member.o)` or the path of an object.
                let file = match input.name.split_once('(') {
                    Some((archive, _)) => archive.to_owned(),
                    None => file_name(Path::new(&input.name)),
                };
                let component = by_file.get(&file).copied().unwrap_or(Component::App);
                (component, crate_of_file(&file))
            })
            .collect();
        Self {
            symbols: symbols.clone(),
            inputs,
        }
    }

    /// The component of `symbol` (a name in the module or the final ELF).
    pub fn component_of(&self, symbol: &str) -> Component {
        self.of(symbol).0
    }

    /// The component and crate of `symbol` (a name in the final ELF).
    fn of(&self, symbol: &str) -> (Component, String) {
        let base = symbol.split_once('.').map_or(symbol, |(base, _)| base);
        if let Some(&index) = self.symbols.get(symbol).or_else(|| self.symbols.get(base))
            && let Some(origin) = self.inputs.get(index)
        {
            return origin.clone();
        }
        by_path(symbol)
    }
}

/// `libstd-1a2b.rlib` -> `std`; `hello-1a2b.hello.3c4d-cgu.0.rcgu.o` -> `hello`.
fn crate_of_file(file: &str) -> String {
    let name = file
        .strip_suffix(".rlib")
        .map_or(file, |stem| stem.strip_prefix("lib").unwrap_or(stem));
    name.split(['-', '.']).next().unwrap_or(name).to_owned()
}

/// What no input defined: the kernel's asm labels, native code (compiler_builtins),
/// by the first path segment of the demangled name.
fn by_path(symbol: &str) -> (Component, String) {
    if symbol.starts_with("__unikernel_") {
        return (Component::Kernel, "asm".into());
    }
    let demangled = demangle(symbol);
    let first = demangled
        .trim_start_matches(['<', '&', '*'])
        .trim_start_matches("mut ")
        .trim_start_matches("dyn ")
        .split("::")
        .next()
        .unwrap_or("")
        .to_owned();
    match first.as_str() {
        "std" | "core" | "alloc" | "compiler_builtins" | "panic_unwind" | "panic_abort" => {
            (Component::Std, first)
        }
        // compiler_builtins' C-named routines (`__udivti3`, `__muloti4`, ...).
        _ if demangled == symbol && symbol.starts_with("__") => {
            (Component::Std, "compiler_builtins".into())
        }
        _ => (Component::Other, String::new()),
    }
}

impl Composition {
    /// The composition of the ELF at `path`.
    pub fn of(path: &Path, origins: &Origins) -> anyhow::Result<Self> {
        let data =
            std::fs::read(path).with_context(|| format!("cannot read {}", path.display()))?;
        let file = object::File::parse(&*data)
            .with_context(|| format!("{} is not an ELF file", path.display()))?;
        Ok(Self::of_file(&file, origins))
    }

    fn of_file(file: &object::File<'_>, origins: &Origins) -> Self {
        let loaded_bytes: u64 = file.segments().map(|s| s.size()).sum();
        // Sections that take memory in a loaded segment: allocated, and not `.tbss`
        // (thread-local zeroes exist only in each thread's copy).
        let mut sections = BTreeMap::new();
        for section in file.sections() {
            let SectionFlags::Elf { sh_flags } = section.flags() else {
                continue;
            };
            if sh_flags & u64::from(object::elf::SHF_ALLOC) == 0
                || section.kind() == SectionKind::UninitializedTls
                || section.size() == 0
            {
                continue;
            }
            let name = section.name().unwrap_or("?").to_owned();
            sections.insert(section.index().0, (name, section.size(), 0u64));
        }

        // Symbols by address; overlapping ones (aliases) count once.
        let mut symbols: Vec<_> = file
            .symbols()
            .filter(|s| s.is_definition() && s.size() > 0)
            .filter_map(|s| {
                let index = s.section_index()?;
                sections.contains_key(&index.0).then_some(s)
            })
            .collect();
        symbols.sort_by_key(|s| (s.address(), std::cmp::Reverse(s.size())));
        let mut by_component: BTreeMap<Component, u64> = BTreeMap::new();
        let mut by_crate: BTreeMap<(String, Component), u64> = BTreeMap::new();
        let mut largest = Vec::new();
        let mut covered_to = 0u64;
        for symbol in &symbols {
            let start = symbol.address().max(covered_to);
            let end = symbol.address() + symbol.size();
            if end <= start {
                continue;
            }
            covered_to = end;
            let bytes = end - start;
            let name = symbol.name().unwrap_or("");
            let (component, crate_name) = origins.of(name);
            *by_component.entry(component).or_default() += bytes;
            *by_crate.entry((crate_name.clone(), component)).or_default() += bytes;
            let section = symbol
                .section_index()
                .and_then(|i| sections.get_mut(&i.0))
                .expect("filtered above");
            section.2 += bytes;
            largest.push(SymbolSize {
                name: demangle(name),
                section: section.0.clone(),
                component,
                crate_name,
                bytes,
            });
        }

        let mut uncovered: Vec<SectionSize> = sections
            .values()
            .map(|(name, size, covered)| SectionSize {
                section: name.clone(),
                bytes: size.saturating_sub(*covered),
            })
            .filter(|s| s.bytes > 0)
            .collect();
        uncovered.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.section.cmp(&b.section)));
        let without_symbols: u64 = uncovered.iter().map(|s| s.bytes).sum();
        let in_sections: u64 = sections.values().map(|(_, size, _)| size).sum();
        by_component.insert(Component::DataWithoutSymbols, without_symbols);
        by_component.insert(Component::Padding, loaded_bytes.saturating_sub(in_sections));

        let components: Vec<ComponentSize> = by_component
            .into_iter()
            .map(|(component, bytes)| ComponentSize { component, bytes })
            .collect();
        let mut crates: Vec<CrateSize> = by_crate
            .into_iter()
            .map(|((name, component), bytes)| CrateSize {
                name,
                component,
                bytes,
            })
            .collect();
        crates.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
        largest.sort_by(|a, b| b.bytes.cmp(&a.bytes).then(a.name.cmp(&b.name)));
        largest.truncate(LARGEST);
        Self {
            loaded_bytes,
            total_bytes: components.iter().map(|c| c.bytes).sum(),
            symbols: !symbols.is_empty(),
            components,
            crates,
            sections_without_symbols: uncovered,
            largest,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn crate_names_from_input_files() {
        assert_eq!(crate_of_file("libstd-1a2b3c.rlib"), "std");
        assert_eq!(crate_of_file("libunikernel_shim-99.rlib"), "unikernel_shim");
        assert_eq!(crate_of_file("hello-1a2b.hello.3c4d-cgu.0.rcgu.o"), "hello");
    }

    #[test]
    fn unknown_symbols_by_demangled_path() {
        assert_eq!(
            by_path("_ZN4core3fmt5write17h0123456789abcdefE"),
            (Component::Std, "core".into())
        );
        assert_eq!(
            by_path("__udivti3"),
            (Component::Std, "compiler_builtins".into())
        );
        assert_eq!(
            by_path("__unikernel_pvh_start"),
            (Component::Kernel, "asm".into())
        );
        assert_eq!(by_path("mystery"), (Component::Other, String::new()));
    }

    #[test]
    fn suffixes_of_derived_symbols_are_ignored() {
        let origins = Origins {
            symbols: [("_ZN5hello4work17h0011223344556677E".to_owned(), 0)].into(),
            inputs: vec![(Component::App, "hello".into())],
        };
        assert_eq!(
            origins.of("_ZN5hello4work17h0011223344556677E.llvm.1234"),
            (Component::App, "hello".into())
        );
    }
}
