//! Which system calls the optimized program can still make, and from where: a pure
//! analysis of the final module, for the build report and the build's checks.
//!
//! A *use* of a system call is one of
//!
//! - a call of a kernel entry `__unikernel_sys_NAME` / `__unikernel_enosys_NAME` that
//!   survived optimization;
//! - an entry's code inlined into a caller, found by the mark [`markers`] put in the
//!   entry before optimization;
//! - a call of the dispatcher `__unikernel_syscall` (with a constant number or not);
//! - inline asm holding a `syscall` instruction or the stub call that replaced it;
//! - a call of libc `syscall(nr, ...)` (builds without the rewrite).
//!
//! A use counts if the application's side makes it ([`side`]: not kernel code, nor a
//! call inlined from kernel code) and its function is reachable on the application's
//! side of the [`graph::ReferenceGraph`] from the roots: the entry points, `main` and
//! the shim's process start, what `llvm.used` keeps, then every symbol still visible
//! outside the module. What only the kernel's own code reaches (a panic in its signal
//! delivery, and the system calls std's panic handler makes) is not a system call of
//! the program. After the final internalize and `globaldce` little else is left, but
//! the search also gives the call path to report. Paths are shown from `main` when
//! they pass through it (the kernel's boot code before it is the same for every
//! program). The count of reachable functions searches everything, kernel included.
//!
//! For every function marked `#[unikernel::no_syscalls]` the same search starts at
//! that function: any use it reaches is a violation. The other properties of the
//! `#[unikernel::...]` attributes ([`annotations`]) search the same way for what they
//! forbid ([`properties`], [`effects`]), except `max_stack`, which needs the code
//! generator's frame sizes ([`stack`]); `no_alloc` and `no_panic` follow paths into
//! the kernel too.

pub mod annotations;
pub mod effects;
pub mod graph;
mod indirect;
pub mod markers;
pub mod properties;
pub mod side;
pub mod stack;

use std::collections::{BTreeMap, HashMap};

use inkwell::module::Module;
use inkwell::values::{AsValueRef, CallSiteValue, InstructionOpcode};
use serde::{Deserialize, Serialize};

use crate::syscalls::{
    DISPATCHER, ENOSYS_PREFIX, ENTRY_PREFIX, SiteKind, find_syscall_sites, needs_register_frame,
    syscall_name, syscall_number,
};
use annotations::Property;
use graph::{EdgeKind, ReferenceGraph, Scope};
use properties::AnnotationCheck;

/// How a use enters the kernel.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Via {
    /// A call of the kernel entry that survived optimization.
    EntryCall,
    /// The kernel entry's code, inlined into the function.
    Inlined,
    /// A call of the dispatcher.
    Dispatcher,
    /// Inline asm: a `syscall` instruction, or the kernel stub call in its place.
    Asm,
    /// A call of libc `syscall(nr, ...)`.
    LibcSyscall,
}

/// Whether the kernel serves a used system call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Support {
    /// `__unikernel_sys_NAME`.
    Implemented,
    /// `__unikernel_enosys_NAME`, or the dispatcher with a constant number the kernel
    /// has no entry for: the call returns `-ENOSYS`.
    Unimplemented,
    /// Not known at build time: a number computed at run time, or asm (the stub or the
    /// trap path, register-frame calls), or a build without a kernel.
    Unknown,
}

/// One step of a path: a function (or a global holding function pointers) and how the
/// step before led to it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathStep {
    /// The demangled name.
    pub symbol: String,
    pub via: EdgeKind,
}

/// One system call (or the class of run-time-numbered ones) the program can make.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReachableSyscall {
    pub number: Option<u64>,
    /// The Linux name; `None` for a run-time number.
    pub name: Option<String>,
    pub support: Support,
    /// Every way it is entered, each once.
    pub via: Vec<Via>,
    /// Reachable uses.
    pub uses: usize,
    /// A shortest path: a root (or `main`) first, the function holding the use last.
    pub path: Vec<PathStep>,
}

impl ReachableSyscall {
    /// `write (1)`, or `a system call numbered at run time`.
    pub fn label(&self) -> String {
        match (&self.name, self.number) {
            (Some(name), Some(number)) => format!("{name} ({number})"),
            (None, Some(number)) => format!("system call {number}"),
            _ => "a system call numbered at run time".into(),
        }
    }
}

/// A `#[unikernel::no_syscalls]` function and the system calls it can still reach.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NoSyscallsCheck {
    /// The demangled name.
    pub function: String,
    /// Empty when the property holds; paths start at `function`.
    pub reaches: Vec<ReachableSyscall>,
}

/// The result of [`analyze`].
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reachability {
    /// Function definitions in the module, and how many of them are reachable.
    pub functions: usize,
    pub functions_reachable: usize,
    /// Sorted by number (run-time numbers last).
    pub syscalls: Vec<ReachableSyscall>,
    pub no_syscalls: Vec<NoSyscallsCheck>,
    /// Every annotated function with each of its properties and the result, sorted
    /// by function (`no_syscalls` ones too, also listed in `no_syscalls`).
    #[serde(default)]
    pub annotations: Vec<AnnotationCheck>,
}

impl Reachability {
    /// Reachable system calls the kernel answers with `-ENOSYS`.
    pub fn unimplemented(&self) -> impl Iterator<Item = &ReachableSyscall> {
        self.syscalls
            .iter()
            .filter(|s| s.support == Support::Unimplemented)
    }

    /// `#[unikernel::no_syscalls]` functions that reach a system call.
    pub fn no_syscalls_violations(&self) -> impl Iterator<Item = &NoSyscallsCheck> {
        self.no_syscalls.iter().filter(|c| !c.reaches.is_empty())
    }

    /// Annotations whose property does not hold.
    pub fn annotation_violations(&self) -> impl Iterator<Item = &AnnotationCheck> {
        self.annotations.iter().filter(|c| !c.holds)
    }

    /// Add checks (the `max_stack` ones, after code generation), keeping the order.
    pub fn add_annotations(&mut self, checks: impl IntoIterator<Item = AnnotationCheck>) {
        self.annotations.extend(checks);
        self.annotations
            .sort_by_cached_key(|c| (c.function.clone(), c.property.attribute()));
    }
}

/// Analyze `module` (normally the final one) with `entry_points` as the first roots.
pub fn analyze(module: &Module<'_>, entry_points: &[String]) -> Reachability {
    let graph = ReferenceGraph::of(module);
    let uses = syscall_uses(module, &graph);
    let annotated: Vec<(usize, Property)> = annotations::annotated_functions(module)
        .into_iter()
        .filter_map(|(_, f, property)| Some((graph.node(f.as_value_ref())?, property)))
        .collect();
    let marks: Vec<usize> = annotated
        .iter()
        .filter(|(_, property)| *property == Property::NoSyscalls)
        .map(|(node, _)| *node)
        .collect();

    let roots = roots(module, &graph, entry_points);
    let search = graph.search(&roots, Scope::Everything);
    let functions = graph
        .nodes
        .iter()
        .filter(|n| n.is_function && n.defined)
        .count();
    let functions_reachable = graph
        .nodes
        .iter()
        .zip(&search.reached)
        .filter(|(n, reached)| n.is_function && n.defined && **reached)
        .count();
    let application = graph.search(&roots, Scope::Application);
    let syscalls = summarize(&graph, &application, &uses, true);

    let no_syscalls = marks
        .iter()
        .map(|&function| {
            let search = graph.search_from(function, Scope::Application);
            NoSyscallsCheck {
                function: demangle(&graph.nodes[function].name),
                reaches: summarize(&graph, &search, &uses, false),
            }
        })
        .collect();
    let effects = effects::effect_uses(module, &graph);
    let mut reachability = Reachability {
        functions,
        functions_reachable,
        syscalls,
        no_syscalls,
        annotations: Vec::new(),
    };
    reachability.add_annotations(annotated.iter().filter_map(|(node, property)| {
        properties::check(&graph, *node, property, &uses, &effects)
    }));
    reachability
}

/// A node's name for a path: unnamed constants (vtables, tables of function
/// pointers) have only a hash for a name.
fn display_name(node: &graph::Node) -> String {
    if !node.is_function && (node.name.starts_with("anon.") || node.name.starts_with(".L")) {
        "[constant table]".into()
    } else {
        demangle(&node.name)
    }
}

/// The name a person reads: Rust symbols demangled without their hash.
pub fn demangle(symbol: &str) -> String {
    format!("{:#}", rustc_demangle::demangle(symbol))
}

pub(crate) struct Use {
    pub(crate) node: usize,
    pub(crate) number: Option<u64>,
    pub(crate) name: Option<String>,
    via: Via,
    support: Support,
    /// Made by kernel code ([`side`]): not a system call of the application's side.
    pub(crate) kernel: bool,
}

/// Every use of a system call in the module, reachable or not.
fn syscall_uses(module: &Module<'_>, graph: &ReferenceGraph) -> Vec<Use> {
    let by_name: HashMap<&str, usize> = graph
        .nodes
        .iter()
        .enumerate()
        .map(|(i, n)| (n.name.as_str(), i))
        .collect();
    let mut uses = Vec::new();
    for site in find_syscall_sites(module) {
        let Some(&node) = by_name.get(site.function.as_str()) else {
            continue;
        };
        let (via, support) = match (site.kind, site.number) {
            (SiteKind::InlineAsm, _) => (Via::Asm, Support::Unknown),
            (SiteKind::LibcCall, _) => (Via::LibcSyscall, Support::Unknown),
            (SiteKind::Dispatcher, Some(n)) if !needs_register_frame(n) => {
                (Via::Dispatcher, Support::Unimplemented)
            }
            (SiteKind::Dispatcher, _) => (Via::Dispatcher, Support::Unknown),
        };
        uses.push(Use {
            node,
            number: site.number,
            name: site.name().map(str::to_owned),
            via,
            support,
            kernel: graph.nodes[node].kernel,
        });
    }
    for function in module.get_functions() {
        let Some(node) = graph.node(function.as_value_ref()) else {
            continue;
        };
        let in_entry = is_entry(&graph.nodes[node].name);
        for inst in function
            .get_basic_block_iter()
            .flat_map(|b| b.get_instructions())
        {
            if inst.get_opcode() != InstructionOpcode::Call
                && inst.get_opcode() != InstructionOpcode::Invoke
            {
                continue;
            }
            let Ok(call) = CallSiteValue::try_from(inst) else {
                continue;
            };
            let kernel = graph.nodes[node].kernel || side::is_kernel_call(call);
            let (kind, name, via) = if let Some((kind, name)) = markers::mark_of(call) {
                if in_entry {
                    continue; // the entry's own mark: its callers count the use
                }
                (kind, name, Via::Inlined)
            } else {
                let Some(callee) = call.get_called_fn_value() else {
                    continue;
                };
                let callee = callee.get_name().to_string_lossy();
                if let Some(name) = callee.strip_prefix(ENTRY_PREFIX) {
                    ("sys".into(), name.to_owned(), Via::EntryCall)
                } else if let Some(name) = callee.strip_prefix(ENOSYS_PREFIX) {
                    ("enosys".into(), name.to_owned(), Via::EntryCall)
                } else {
                    continue;
                }
            };
            uses.push(Use {
                node,
                number: syscall_number(&name).map(u64::from),
                name: Some(name),
                via,
                support: if kind == "sys" {
                    Support::Implemented
                } else {
                    Support::Unimplemented
                },
                kernel,
            });
        }
    }
    uses
}

fn is_entry(name: &str) -> bool {
    name.starts_with(ENTRY_PREFIX) || name.starts_with(ENOSYS_PREFIX) || name == DISPATCHER
}

/// The search's roots, in tiers: the entry points, `main` and the shim's process start
/// (the kernel's boot code calls it); what `llvm.used` and
/// `llvm.compiler.used` keep (but not the annotation statics); every other symbol
/// visible outside the module.
fn roots(module: &Module<'_>, graph: &ReferenceGraph, entry_points: &[String]) -> Vec<Vec<usize>> {
    let mut first: Vec<usize> = entry_points
        .iter()
        .map(String::as_str)
        .chain(["main", side::PROCESS_START])
        .filter_map(|name| graph.find(name))
        .filter(|&n| graph.nodes[n].defined)
        .collect();
    let marks: Vec<usize> = module
        .get_globals()
        .filter(|g| annotations::property_of(*g).is_some())
        .filter_map(|g| graph.node(g.as_value_ref()))
        .collect();
    for list in ["llvm.used", "llvm.compiler.used"] {
        if let Some(used) = graph.find(list) {
            first.extend(
                graph
                    .edges(used)
                    .iter()
                    .map(|&(n, _)| n)
                    .filter(|n| !marks.contains(n)),
            );
        }
    }
    let rest = (0..graph.nodes.len())
        .filter(|&n| {
            let node = &graph.nodes[n];
            node.defined && node.external && !node.name.starts_with("llvm.") && !marks.contains(&n)
        })
        .collect();
    vec![first, rest]
}

/// The reachable uses grouped by system call, each with a shortest path.
fn summarize(
    graph: &ReferenceGraph,
    search: &graph::Search,
    uses: &[Use],
    from_main: bool,
) -> Vec<ReachableSyscall> {
    let mut groups: BTreeMap<(bool, Option<u64>, Option<String>, Support), ReachableSyscall> =
        BTreeMap::new();
    for use_ in uses.iter().filter(|u| !u.kernel && search.reached[u.node]) {
        let key = (
            use_.number.is_none(),
            use_.number,
            use_.name.clone(),
            use_.support,
        );
        let path = search.path(use_.node);
        let group = groups.entry(key).or_insert_with(|| ReachableSyscall {
            number: use_.number,
            name: use_
                .name
                .clone()
                .or_else(|| use_.number.and_then(syscall_name).map(str::to_owned)),
            support: use_.support,
            via: Vec::new(),
            uses: 0,
            path: Vec::new(),
        });
        group.uses += 1;
        if !group.via.contains(&use_.via) {
            group.via.push(use_.via);
            group.via.sort();
        }
        let path = steps(graph, &path, from_main);
        if group.path.is_empty() || path.len() < group.path.len() {
            group.path = path;
        }
    }
    groups.into_values().collect()
}

pub(crate) fn steps(
    graph: &ReferenceGraph,
    path: &[(usize, EdgeKind)],
    from_main: bool,
) -> Vec<PathStep> {
    let start = if from_main {
        path.iter()
            .position(|&(n, _)| graph.nodes[n].name == "main")
            .unwrap_or(0)
    } else {
        0
    };
    path[start..]
        .iter()
        .enumerate()
        .map(|(i, &(n, via))| PathStep {
            symbol: display_name(&graph.nodes[n]),
            via: if i == 0 { EdgeKind::Call } else { via },
        })
        .collect()
}
