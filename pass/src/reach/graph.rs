//! The reference graph of a module: functions and global variables as nodes; an edge
//! from a function to every function it calls, and from a function or global to every
//! function or global its instructions or initializer refer to (an address taken: a
//! vtable, a function pointer passed on). What is not reachable over these edges from
//! the roots can never run, except through module-level asm, which names its targets
//! only in text (those are kept alive by `llvm.used` or external linkage, so they are
//! roots).
//!
//! An indirect call (a function pointer, a trait object's vtable) calls what some code
//! took the address of. When that code is reachable, the reference edges already lead
//! to the targets. For a search starting at an annotated function the pointer may
//! also come from its callers (a `&dyn Trait` argument): the graph keeps, per
//! function, the functions its indirect calls may call ([`super::indirect`]), and
//! [`ReferenceGraph::search_from`] follows those of the start function that its
//! callers took the address of.
//!
//! Every node and edge also knows whether it is kernel code ([`super::side`]): an edge
//! is the kernel's when it leaves a kernel function or comes from a call that kernel
//! code inlined into another function made. A search in [`Scope::Application`] does
//! not go on from kernel functions nor along the kernel's edges.

use std::collections::{HashMap, HashSet, VecDeque};

use inkwell::module::{Linkage, Module};
use inkwell::values::{AsValueRef, InstructionOpcode};
use llvm_sys::prelude::LLVMValueRef;

use inkwell::values::CallSiteValue;
use serde::{Deserialize, Serialize};

use super::indirect::IndirectTargets;
use super::side::{is_kernel_call, is_kernel_function};

/// How one node leads to the next.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EdgeKind {
    /// A direct call (or invoke).
    Call,
    /// The address is taken: stored, passed, or held in a global's initializer
    /// (vtables, function-pointer tables); it may be called from there.
    Reference,
    /// An indirect call may call it: its address is taken somewhere and its type is
    /// the call's.
    IndirectCall,
}

/// A node: a function or a global variable of the module.
#[derive(Debug, Clone)]
pub struct Node {
    /// The symbol name (mangled).
    pub name: String,
    pub is_function: bool,
    /// A function or variable with a body or initializer here.
    pub defined: bool,
    /// Linkage other than internal/private: code outside the module may reach it.
    pub external: bool,
    /// Kernel code ([`super::side::is_kernel_function`]).
    pub kernel: bool,
}

/// What a search follows.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// Every edge: what can run, kernel code included.
    Everything,
    /// The application's side: no edge from a kernel function or from a call kernel
    /// code made (see [`super::side`]).
    Application,
}

/// The graph. Node indices are stable for the module it was built from.
#[derive(Debug, Default)]
pub struct ReferenceGraph {
    pub nodes: Vec<Node>,
    index: HashMap<LLVMValueRef, usize>,
    edges: Vec<Vec<(usize, EdgeKind)>>,
    /// Per node, beside `edges`: whether each edge is the kernel's only.
    kernel_edges: Vec<Vec<bool>>,
    /// Per function: what its indirect calls may call.
    indirect: Vec<Vec<usize>>,
}

impl ReferenceGraph {
    pub fn of(module: &Module<'_>) -> Self {
        let mut graph = Self::default();
        for function in module.get_functions() {
            let defined = function.count_basic_blocks() > 0;
            graph.add_node(
                function.as_value_ref(),
                function.get_name().to_string_lossy().into_owned(),
                true,
                defined,
                is_external(function.as_global_value().get_linkage()),
            );
        }
        for global in module.get_globals() {
            graph.add_node(
                global.as_value_ref(),
                global.get_name().to_string_lossy().into_owned(),
                false,
                !global.is_declaration(),
                is_external(global.get_linkage()),
            );
        }
        let mut indirect_calls: Vec<Vec<LLVMValueRef>> = vec![Vec::new(); graph.nodes.len()];
        for function in module.get_functions() {
            let from = graph.index[&function.as_value_ref()];
            let kernel_function = graph.nodes[from].kernel;
            let mut calls = Vec::new();
            let mut operands = Vec::new();
            for block in function.get_basic_block_iter() {
                for inst in block.get_instructions() {
                    let raw = inst.as_value_ref();
                    let is_call = matches!(
                        inst.get_opcode(),
                        InstructionOpcode::Call | InstructionOpcode::Invoke
                    );
                    let kernel = kernel_function
                        || (is_call && CallSiteValue::try_from(inst).is_ok_and(is_kernel_call));
                    // SAFETY: `raw` is a live instruction of the module; operand indices
                    // are below its operand count; the called value exists for calls.
                    unsafe {
                        let callee = if is_call {
                            llvm_sys::core::LLVMGetCalledValue(raw)
                        } else {
                            std::ptr::null_mut()
                        };
                        let direct =
                            !callee.is_null() && !llvm_sys::core::LLVMIsAFunction(callee).is_null();
                        if direct {
                            calls.push((callee, kernel));
                        } else if !callee.is_null()
                            && llvm_sys::core::LLVMIsAInlineAsm(callee).is_null()
                        {
                            indirect_calls[from].push(raw);
                        }
                        for i in 0..llvm_sys::core::LLVMGetNumOperands(raw) {
                            let operand = llvm_sys::core::LLVMGetOperand(raw, i as u32);
                            if !(direct && operand == callee) {
                                operands.push((operand, kernel));
                            }
                        }
                    }
                }
            }
            // Calls first: a call edge reads better in a path than a reference to the
            // same function.
            let mut edges = Edges::default();
            for (callee, kernel) in calls {
                edges.add(&graph, callee, EdgeKind::Call, kernel);
            }
            for (operand, kernel) in operands {
                graph.constant_references(operand, kernel, &mut edges);
            }
            graph.edges[from] = edges.list;
            graph.kernel_edges[from] = edges.kernel;
        }
        for global in module.get_globals() {
            let from = graph.index[&global.as_value_ref()];
            let mut edges = Edges::default();
            // SAFETY: `global` is a live global variable; a declaration has a null
            // initializer.
            let init = unsafe { llvm_sys::core::LLVMGetInitializer(global.as_value_ref()) };
            if !init.is_null() {
                let kernel = graph.nodes[from].kernel;
                graph.constant_references(init, kernel, &mut edges);
            }
            graph.edges[from] = edges.list;
            graph.kernel_edges[from] = edges.kernel;
        }
        graph.add_indirect_calls(module, &indirect_calls);
        graph
    }

    /// For each function with indirect calls, every function they may call.
    fn add_indirect_calls(&mut self, module: &Module<'_>, indirect_calls: &[Vec<LLVMValueRef>]) {
        let mut taken = vec![false; self.nodes.len()];
        for edges in &self.edges {
            for &(to, kind) in edges {
                if kind == EdgeKind::Reference {
                    taken[to] = true;
                }
            }
        }
        let targets = IndirectTargets::of(module, |f| self.node(f).is_some_and(|n| taken[n]));
        for (from, calls) in indirect_calls.iter().enumerate() {
            if calls.is_empty() {
                continue;
            }
            let mut seen = HashSet::new();
            for &call in calls {
                // SAFETY: `call` is a live call whose callee is neither a function nor
                // inline asm (collected above).
                for target in unsafe { targets.of_call(call) } {
                    if let Some(to) = self.node(target)
                        && seen.insert(to)
                    {
                        self.indirect[from].push(to);
                    }
                }
            }
        }
    }

    fn add_node(
        &mut self,
        value: LLVMValueRef,
        name: String,
        is_function: bool,
        defined: bool,
        external: bool,
    ) {
        self.index.insert(value, self.nodes.len());
        self.nodes.push(Node {
            kernel: is_kernel_function(&name),
            name,
            is_function,
            defined,
            external,
        });
        self.edges.push(Vec::new());
        self.kernel_edges.push(Vec::new());
        self.indirect.push(Vec::new());
    }

    /// The node of a function or global variable.
    pub fn node(&self, value: LLVMValueRef) -> Option<usize> {
        self.index.get(&value).copied()
    }

    pub fn find(&self, name: &str) -> Option<usize> {
        self.nodes.iter().position(|n| n.name == name)
    }

    pub fn edges(&self, node: usize) -> &[(usize, EdgeKind)] {
        &self.edges[node]
    }

    /// Every function or global a constant refers to, looking through constant
    /// expressions and aggregates and stopping at global values (aliases resolve to
    /// what they alias).
    fn constant_references(&self, value: LLVMValueRef, kernel: bool, edges: &mut Edges) {
        let mut work = vec![value];
        let mut seen = HashSet::new();
        while let Some(value) = work.pop() {
            if value.is_null() || !seen.insert(value) {
                continue;
            }
            // SAFETY: `value` is a live value of the module (an operand or initializer
            // reached from one); the `LLVMIsA*` checks gate the accessors used on it.
            unsafe {
                if !llvm_sys::core::LLVMIsAGlobalValue(value).is_null() {
                    if !llvm_sys::core::LLVMIsAGlobalAlias(value).is_null() {
                        work.push(llvm_sys::core::LLVMAliasGetAliasee(value));
                    } else {
                        edges.add(self, value, EdgeKind::Reference, kernel);
                    }
                } else if !llvm_sys::core::LLVMIsAConstant(value).is_null() {
                    for i in 0..llvm_sys::core::LLVMGetNumOperands(value) {
                        work.push(llvm_sys::core::LLVMGetOperand(value, i as u32));
                    }
                }
            }
        }
    }

    /// The search from one function, with its indirect calls resolved to what its
    /// callers (every function that reaches it by direct calls) take the address of,
    /// directly or through a constant (a vtable).
    pub fn search_from(&self, start: usize, scope: Scope) -> Search {
        let mut callers = vec![false; self.nodes.len()];
        let mut reverse: HashMap<usize, Vec<usize>> = HashMap::new();
        for (from, edges) in self.edges.iter().enumerate() {
            for &(to, kind) in edges {
                if kind == EdgeKind::Call {
                    reverse.entry(to).or_default().push(from);
                }
            }
        }
        let mut queue = VecDeque::from([start]);
        while let Some(node) = queue.pop_front() {
            for &caller in reverse.get(&node).into_iter().flatten() {
                if !callers[caller] {
                    callers[caller] = true;
                    queue.push_back(caller);
                }
            }
        }
        let mut passed_in = HashSet::new();
        for caller in (0..self.nodes.len()).filter(|&n| callers[n]) {
            for &(to, kind) in &self.edges[caller] {
                if kind != EdgeKind::Reference {
                    continue;
                }
                passed_in.insert(to);
                if !self.nodes[to].is_function {
                    passed_in.extend(self.edges[to].iter().map(|&(f, _)| f));
                }
            }
        }
        let extra: Vec<usize> = self.indirect[start]
            .iter()
            .copied()
            .filter(|f| passed_in.contains(f))
            .collect();
        self.search_with(&[vec![start]], scope, start, &extra)
    }

    /// Breadth-first search from `tiers` of roots, one tier after the other (so a
    /// node reachable from the first tier gets a path from there). Returns each
    /// node's predecessor on a shortest path (`None` for roots and unreached nodes)
    /// and whether it was reached.
    pub fn search(&self, tiers: &[Vec<usize>], scope: Scope) -> Search {
        self.search_with(tiers, scope, usize::MAX, &[])
    }

    /// [`ReferenceGraph::search`] with `extra` indirect-call edges from `from`.
    fn search_with(
        &self,
        tiers: &[Vec<usize>],
        scope: Scope,
        from: usize,
        extra: &[usize],
    ) -> Search {
        let application = scope == Scope::Application;
        let mut parent = vec![None; self.nodes.len()];
        let mut reached = vec![false; self.nodes.len()];
        for tier in tiers {
            let mut queue = VecDeque::new();
            for &root in tier {
                if !reached[root] {
                    reached[root] = true;
                    queue.push_back(root);
                }
            }
            while let Some(node) = queue.pop_front() {
                if application && self.nodes[node].kernel {
                    continue;
                }
                let extra = if node == from { extra } else { &[] };
                let extra = extra.iter().map(|&n| (n, EdgeKind::IndirectCall, false));
                let edges = self.edges[node]
                    .iter()
                    .zip(&self.kernel_edges[node])
                    .map(|(&(next, kind), &kernel)| (next, kind, kernel));
                for (next, kind, kernel) in edges.chain(extra) {
                    if application && kernel {
                        continue;
                    }
                    if !reached[next] {
                        reached[next] = true;
                        parent[next] = Some((node, kind));
                        queue.push_back(next);
                    }
                }
            }
        }
        Search { parent, reached }
    }
}

/// The result of [`ReferenceGraph::search`].
#[derive(Debug)]
pub struct Search {
    parent: Vec<Option<(usize, EdgeKind)>>,
    pub reached: Vec<bool>,
}

impl Search {
    /// The nodes from a root to `node`, each with how it was reached from the one
    /// before (the root's kind is `Call`).
    pub fn path(&self, node: usize) -> Vec<(usize, EdgeKind)> {
        let mut path = vec![];
        let mut at = (node, EdgeKind::Call);
        loop {
            let parent = self.parent[at.0];
            path.push((at.0, parent.map_or(EdgeKind::Call, |(_, kind)| kind)));
            match parent {
                Some((from, _)) => at = (from, EdgeKind::Call),
                None => break,
            }
        }
        path.reverse();
        path
    }
}

#[derive(Default)]
struct Edges {
    list: Vec<(usize, EdgeKind)>,
    /// Beside `list`: whether only kernel code makes the edge.
    kernel: Vec<bool>,
    /// Index in `list` by target.
    seen: HashMap<usize, usize>,
}

impl Edges {
    /// The first edge to a node is kept, unless it is the kernel's and the
    /// application's side makes one too: then the application's.
    fn add(&mut self, graph: &ReferenceGraph, value: LLVMValueRef, kind: EdgeKind, kernel: bool) {
        let Some(to) = graph.node(value) else {
            return;
        };
        match self.seen.get(&to) {
            Some(&at) => {
                if self.kernel[at] && !kernel {
                    self.list[at].1 = kind;
                    self.kernel[at] = false;
                }
            }
            None => {
                self.seen.insert(to, self.list.len());
                self.list.push((to, kind));
                self.kernel.push(kernel);
            }
        }
    }
}

fn is_external(linkage: Linkage) -> bool {
    !matches!(linkage, Linkage::Internal | Linkage::Private)
}
