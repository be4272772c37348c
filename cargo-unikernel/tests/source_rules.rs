//! House rules for the whole source tree (../shared/STYLE.md, issue 9), checked so they
//! stay true: no Rust source file longer than [`MAX_LINES`], and no import cycle between
//! modules.
//!
//! A cycle is counted between sibling modules: inside one parent module (or the crate
//! root), child `a` depends on child `b` when any file of `a`'s subtree names a path into
//! `b`'s subtree (`crate::…`, `super::…`, `self::…`, in `use` trees as well as in
//! expressions). A child naming its parent's own items, or a parent naming its children,
//! is the module tree itself, not an import edge. Every crate under the repository is
//! checked: the tool, the pass, the shim, the kernel workspace, the examples.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

/// Longest a source file may be: a file longer than this has a seam to split along.
const MAX_LINES: usize = 500;

fn repository() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("the tool lives in the repository")
        .to_path_buf()
}

/// Directories never searched: build output, VCS data, and test fixtures (fixtures are
/// inputs other tests build, sometimes deliberately broken).
fn skipped(dir: &Path) -> bool {
    let name = dir.file_name().and_then(|n| n.to_str()).unwrap_or("");
    name == "target" || name.starts_with('.') || name == "fixtures"
}

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let mut entries: Vec<_> = entries.flatten().map(|e| e.path()).collect();
    entries.sort();
    for path in entries {
        if path.is_dir() {
            if !skipped(&path) {
                rust_files(&path, out);
            }
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

#[test]
fn no_source_file_is_longer_than_the_limit() {
    let root = repository();
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 100, "found only {} Rust files", files.len());
    let long: Vec<String> = files
        .iter()
        .filter_map(|path| {
            let lines = std::fs::read_to_string(path).ok()?.lines().count();
            (lines > MAX_LINES).then(|| {
                let shown = path.strip_prefix(&root).unwrap_or(path);
                format!("{} ({lines} lines)", shown.display())
            })
        })
        .collect();
    assert!(
        long.is_empty(),
        "files over {MAX_LINES} lines; split them along a real seam:\n  {}",
        long.join("\n  ")
    );
}

/// A module path from the crate root, e.g. `["vfs", "epoll"]`; the root is `[]`.
type ModPath = Vec<String>;

/// One crate's module tree: every module with the files that make it up.
struct Crate {
    src: PathBuf,
    modules: BTreeMap<ModPath, PathBuf>,
}

impl Crate {
    /// The modules under `src/`, by file layout (`a.rs`, `a/mod.rs`, `a/b.rs`).
    fn read(src: &Path) -> Self {
        let mut files = Vec::new();
        rust_files(src, &mut files);
        let modules = files
            .into_iter()
            .map(|file| {
                let relative = file.strip_prefix(src).expect("under src");
                let mut path: ModPath = relative
                    .with_extension("")
                    .iter()
                    .map(|part| part.to_string_lossy().into_owned())
                    .collect();
                if matches!(path.last().map(String::as_str), Some("mod")) {
                    path.pop();
                }
                if path.len() == 1 && matches!(path[0].as_str(), "lib" | "main") {
                    path.clear();
                }
                (path, file)
            })
            .collect();
        Self {
            src: src.to_path_buf(),
            modules,
        }
    }

    fn is_module(&self, path: &[String]) -> bool {
        self.modules.contains_key(path)
    }

    /// Sibling-level edges: `(parent, from child, to child)` for every path a module
    /// names that leads into a sibling's subtree at some level.
    fn edges(&self) -> BTreeSet<(ModPath, String, String)> {
        let mut edges = BTreeSet::new();
        for (module, file) in &self.modules {
            let text = strip_comments(&std::fs::read_to_string(file).unwrap_or_default());
            for target in referenced_paths(&text, module) {
                // Longest prefix that is a module: items of a module are that module.
                let resolved = (0..=target.len())
                    .rev()
                    .map(|n| &target[..n])
                    .find(|prefix| self.is_module(prefix))
                    .unwrap_or(&[]);
                let common = module
                    .iter()
                    .zip(resolved)
                    .take_while(|(a, b)| a == b)
                    .count();
                if common < module.len() && common < resolved.len() {
                    edges.insert((
                        module[..common].to_vec(),
                        module[common].clone(),
                        resolved[common].clone(),
                    ));
                }
            }
        }
        edges
    }

    /// Every cycle between siblings, as `parent: a -> b -> … -> a` lines.
    fn cycles(&self) -> Vec<String> {
        let mut graphs: BTreeMap<ModPath, BTreeMap<String, BTreeSet<String>>> = BTreeMap::new();
        for (parent, from, to) in self.edges() {
            graphs
                .entry(parent)
                .or_default()
                .entry(from)
                .or_default()
                .insert(to);
        }
        let mut found = Vec::new();
        for (parent, graph) in graphs {
            for component in strongly_connected(&graph) {
                let at = if parent.is_empty() {
                    "crate root".to_owned()
                } else {
                    parent.join("::")
                };
                let root = repository();
                found.push(format!(
                    "{} ({at}): {}",
                    self.src.strip_prefix(&root).unwrap_or(&self.src).display(),
                    component.join(", ")
                ));
            }
        }
        found
    }
}

/// The text without `//` comments (line, doc and inner doc) and `/* */` comments, so
/// paths in documentation do not count as imports.
fn strip_comments(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix("//") {
            rest = after.find('\n').map_or("", |end| &after[end..]);
        } else if let Some(after) = rest.strip_prefix("/*") {
            rest = after.find("*/").map_or("", |end| &after[end + 2..]);
        } else if let Some(after) = rest.strip_prefix('"') {
            // Skip string literals (escapes included) so "//" inside one is kept whole.
            let mut chars = after.char_indices();
            let mut end = after.len();
            while let Some((i, c)) = chars.next() {
                match c {
                    '\\' => {
                        chars.next();
                    }
                    '"' => {
                        end = i + 1;
                        break;
                    }
                    _ => {}
                }
            }
            out.push_str("\"\"");
            rest = &after[end..];
        } else {
            let c = rest.chars().next().expect("not empty");
            out.push(c);
            rest = &rest[c.len_utf8()..];
        }
    }
    out
}

/// Absolute module paths named in `text`, a file of module `module`: `crate::a::b`,
/// `super::a`, `self::a`, including each branch of a `use` tree
/// (`use crate::{a::x, b}` names `a::x` and `b`).
fn referenced_paths(text: &str, module: &[String]) -> Vec<ModPath> {
    let mut found = Vec::new();
    let bytes = text.as_bytes();
    for start in ["crate::", "super::", "self::"] {
        let mut from = 0;
        while let Some(at) = text[from..].find(start).map(|i| i + from) {
            from = at + start.len();
            let preceded_by_ident = at > 0
                && (bytes[at - 1].is_ascii_alphanumeric()
                    || bytes[at - 1] == b'_'
                    || bytes[at - 1] == b':');
            if preceded_by_ident {
                continue;
            }
            let base: ModPath = match start {
                "crate::" => Vec::new(),
                "self::" => module.to_vec(),
                _ => {
                    // `super::super::…` climbs once per `super`.
                    let mut base = module.to_vec();
                    base.pop();
                    let mut tail = &text[from..];
                    while let Some(after) = tail.strip_prefix("super::") {
                        base.pop();
                        from += "super::".len();
                        tail = after;
                    }
                    base
                }
            };
            expand_use_tree(&text[from..], base, &mut found);
        }
    }
    found
}

/// Read a path (and, for `{…}`, each branch) starting at `text`, relative to `base`.
fn expand_use_tree(text: &str, base: ModPath, out: &mut Vec<ModPath>) {
    let mut path = base;
    let mut rest = text;
    loop {
        if let Some(inner) = rest.strip_prefix('{') {
            for branch in split_branches(inner) {
                expand_use_tree(branch.trim_start(), path.clone(), out);
            }
            out.push(path);
            return;
        }
        let ident_len = rest
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(rest.len());
        if ident_len > 0 {
            path.push(rest[..ident_len].to_owned());
            rest = &rest[ident_len..];
        }
        if let Some(after) = rest.strip_prefix("::") {
            rest = after;
            continue;
        }
        out.push(path);
        return;
    }
}

/// The top-level comma-separated branches of a `{…}` use tree (text after the `{`).
fn split_branches(text: &str) -> Vec<&str> {
    let mut depth = 0usize;
    let mut branches = Vec::new();
    let mut start = 0;
    for (i, c) in text.char_indices() {
        match c {
            '{' => depth += 1,
            '}' if depth == 0 => {
                branches.push(&text[start..i]);
                return branches;
            }
            '}' => depth -= 1,
            ',' if depth == 0 => {
                branches.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    branches
}

/// Tarjan's strongly connected components with more than one node, each sorted.
fn strongly_connected(graph: &BTreeMap<String, BTreeSet<String>>) -> Vec<Vec<String>> {
    struct State<'a> {
        graph: &'a BTreeMap<String, BTreeSet<String>>,
        index: BTreeMap<&'a str, usize>,
        low: BTreeMap<&'a str, usize>,
        stack: Vec<&'a str>,
        on_stack: BTreeSet<&'a str>,
        components: Vec<Vec<String>>,
    }
    fn visit<'a>(state: &mut State<'a>, node: &'a str) {
        let index = state.index.len();
        state.index.insert(node, index);
        state.low.insert(node, index);
        state.stack.push(node);
        state.on_stack.insert(node);
        let graph = state.graph;
        for next in graph.get(node).into_iter().flatten() {
            if !state.index.contains_key(next.as_str()) {
                visit(state, next);
                let low = state.low[node].min(state.low[next.as_str()]);
                state.low.insert(node, low);
            } else if state.on_stack.contains(next.as_str()) {
                let low = state.low[node].min(state.index[next.as_str()]);
                state.low.insert(node, low);
            }
        }
        if state.low[node] == state.index[node] {
            let mut component = Vec::new();
            while let Some(top) = state.stack.pop() {
                state.on_stack.remove(top);
                component.push(top.to_owned());
                if top == node {
                    break;
                }
            }
            if component.len() > 1 {
                component.sort();
                state.components.push(component);
            }
        }
    }
    let mut state = State {
        graph,
        index: BTreeMap::new(),
        low: BTreeMap::new(),
        stack: Vec::new(),
        on_stack: BTreeSet::new(),
        components: Vec::new(),
    };
    for node in graph.keys() {
        if !state.index.contains_key(node.as_str()) {
            visit(&mut state, node);
        }
    }
    state.components
}

/// Every `src/` directory of a package in the repository.
fn crate_sources() -> Vec<PathBuf> {
    let mut files = Vec::new();
    rust_files(&repository(), &mut files);
    let mut sources: BTreeSet<PathBuf> = BTreeSet::new();
    for file in files {
        let name = file.file_name().and_then(|n| n.to_str());
        if matches!(name, Some("lib.rs" | "main.rs"))
            && let Some(src) = file.parent()
            && src.file_name().is_some_and(|n| n == "src")
        {
            sources.insert(src.to_path_buf());
        }
    }
    sources.into_iter().collect()
}

#[test]
fn no_import_cycles_between_modules() {
    let sources = crate_sources();
    assert!(sources.len() > 10, "found only {} crates", sources.len());
    let cycles: Vec<String> = sources
        .iter()
        .flat_map(|src| Crate::read(src).cycles())
        .collect();
    assert!(
        cycles.is_empty(),
        "modules that depend on each other (each line: crate, parent module, the \
         siblings in one cycle); move what they share to a leaf module:\n  {}",
        cycles.join("\n  ")
    );
}

#[test]
fn the_cycle_check_finds_a_cycle() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let src = dir.path().join("src");
    std::fs::create_dir_all(src.join("vfs")).expect("create src/vfs");
    let write = |path: &str, text: &str| std::fs::write(src.join(path), text).expect("write");
    write("lib.rs", "mod vfs;\nmod errno;\n");
    write(
        "errno.rs",
        "// uses crate::vfs only in a comment\npub struct Errno;\n",
    );
    write(
        "vfs/mod.rs",
        "mod file;\nmod epoll;\npub use self::file::File;\n",
    );
    write("vfs/file.rs", "use super::{epoll::Epoll, Shared};\n");
    write(
        "vfs/epoll.rs",
        "use crate::errno::Errno;\nfn f() { super::file::open(); }\n",
    );
    let krate = Crate::read(&src);
    assert_eq!(krate.cycles().len(), 1, "{:?}", krate.edges());
    assert!(krate.cycles()[0].ends_with("vfs): epoll, file"));
    write("vfs/epoll.rs", "use crate::errno::Errno;\n");
    assert!(Crate::read(&src).cycles().is_empty());
}
