//! The results of the `#[unikernel::...]` properties, and the checks of those the call
//! graph decides on its own: `no_syscalls`, `no_alloc`, `no_panic` and `syscalls(...)`
//! (`max_stack` needs the code generator's frame sizes: [`super::stack`]).
//!
//! Each check searches the [`ReferenceGraph`] from the annotated function, as the
//! program-wide analysis does from the entry points (plus what its own indirect calls
//! may call that its callers pass in: [`ReferenceGraph::search_from`]), and collects
//! every forbidden use it reaches, with a shortest path to each. The syscall
//! properties search the application's side only (the system calls the function
//! makes, not those the kernel's code behind an entry might: [`super::side`]);
//! `no_alloc` and `no_panic` search everything, kernel included: an allocation or a
//! panic in the kernel's code happens while the function runs, and stops it as well.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::annotations::Property;
use super::effects::{Effect, EffectUse};
use super::graph::{ReferenceGraph, Scope, Search};
use super::{PathStep, Use, steps};

/// The system calls that allocate memory for a `no_alloc` function's purposes.
const ALLOCATING_SYSCALLS: &[&str] = &["mmap", "mremap", "brk"];

/// One annotated function, its property and the result.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AnnotationCheck {
    /// The demangled name.
    pub function: String,
    #[serde(flatten)]
    pub property: Property,
    pub holds: bool,
    /// What breaks the property, each once, with a shortest path from `function`
    /// (for `max_stack`, the deepest path), shortest paths first; empty when it holds.
    pub violations: Vec<Violation>,
    /// `max_stack`: the worst-case stack use in bytes, when it could be bounded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stack_bytes: Option<u64>,
}

/// One reason a property does not hold.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Violation {
    /// `write (1)`, `alloc::alloc::__rust_alloc`, `recursion`, ...
    pub what: String,
    /// From the annotated function to the function holding the offending use.
    pub path: Vec<PathStep>,
}

impl AnnotationCheck {
    fn new(function: String, property: Property, violations: Vec<Violation>) -> Self {
        Self {
            function,
            property,
            holds: violations.is_empty(),
            violations,
            stack_bytes: None,
        }
    }
}

/// The check of `property` on the function at `node`; `None` for `max_stack`.
pub(super) fn check(
    graph: &ReferenceGraph,
    node: usize,
    property: &Property,
    syscalls: &[Use],
    effects: &[EffectUse],
) -> Option<AnnotationCheck> {
    let scope = match property {
        Property::NoSyscalls | Property::Syscalls { .. } => Scope::Application,
        Property::NoAlloc | Property::NoPanic | Property::MaxStack { .. } => Scope::Everything,
    };
    let search = graph.search_from(node, scope);
    // On the application's side, only the uses it makes.
    let syscalls = || {
        syscalls
            .iter()
            .filter(move |u| scope == Scope::Everything || !u.kernel)
    };
    let forbidden_effect = |effect: Effect| {
        effects
            .iter()
            .filter(move |u| u.effect == effect)
            .map(|u| (u.node, u.name.clone()))
    };
    let label = |u: &Use| -> String {
        match (&u.name, u.number) {
            (Some(name), Some(number)) => format!("{name} ({number})"),
            (Some(name), None) => name.clone(),
            (None, Some(number)) => format!("system call {number}"),
            (None, None) => "a system call numbered at run time".into(),
        }
    };
    let offending: Vec<(usize, String)> = match property {
        Property::NoSyscalls => syscalls().map(|u| (u.node, label(u))).collect(),
        Property::NoAlloc => forbidden_effect(Effect::Alloc)
            .chain(
                syscalls()
                    .filter(|u| {
                        u.name
                            .as_deref()
                            .is_some_and(|n| ALLOCATING_SYSCALLS.contains(&n))
                    })
                    .map(|u| (u.node, format!("the system call {}", label(u)))),
            )
            .collect(),
        Property::NoPanic => forbidden_effect(Effect::Panic).collect(),
        Property::Syscalls { allowed } => syscalls()
            .filter(|u| u.name.as_ref().is_none_or(|n| !allowed.contains(n)))
            .map(|u| (u.node, label(u)))
            .collect(),
        Property::MaxStack { .. } => return None,
    };
    let function = super::demangle(&graph.nodes[node].name);
    Some(AnnotationCheck::new(
        function,
        property.clone(),
        violations(graph, &search, offending),
    ))
}

/// The reached offending uses, one per name, each with a shortest path.
fn violations(
    graph: &ReferenceGraph,
    search: &Search,
    offending: Vec<(usize, String)>,
) -> Vec<Violation> {
    let mut by_name: BTreeMap<String, Vec<PathStep>> = BTreeMap::new();
    for (node, what) in offending {
        if !search.reached[node] {
            continue;
        }
        let path = steps(graph, &search.path(node), false);
        match by_name.get(&what) {
            Some(known) if known.len() <= path.len() => {}
            _ => {
                by_name.insert(what, path);
            }
        }
    }
    let mut violations: Vec<Violation> = by_name
        .into_iter()
        .map(|(what, path)| Violation { what, path })
        .collect();
    // The nearest first: what the function itself does before what a long chain of
    // callees might.
    violations.sort_by_key(|v| v.path.len());
    violations
}
