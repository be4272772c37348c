//! The `max_stack` property: the worst-case stack use of a function and everything it
//! calls, from the code generator's frame sizes ([`crate::codegen::FrameSizes`]).
//!
//! A call costs the callee's frame plus the 8-byte return address the `call` pushes;
//! a function's use is its own cost plus the largest use among its callees. A bound
//! exists only for a finite call tree with known frames, so the check fails, naming
//! the place, on
//!
//! - recursion (a cycle in the call graph), naming the cycle;
//! - an indirect call (through a function pointer or a vtable the optimizer did not
//!   resolve), or inline asm that calls out;
//! - a dynamically sized stack allocation (`alloca` with a run-time size, or outside
//!   the entry block, as a loop may repeat it);
//! - a call of a function whose code is not in the module (native code, module asm).
//!
//! `llvm.memcpy`, `llvm.memmove` and `llvm.memset` count as calls of `memcpy`,
//! `memmove` and `memset`, which code generation may emit for them; other intrinsics
//! are expanded inline. Tail calls are counted like calls (an upper bound).

use std::collections::{HashMap, VecDeque};

use inkwell::module::Module;
use inkwell::values::{AsValueRef, FunctionValue, InstructionOpcode};

use super::PathStep;
use super::annotations::Property;
use super::demangle;
use super::graph::EdgeKind;
use super::properties::{AnnotationCheck, Violation};
use crate::codegen::FrameSizes;

/// Bytes a `call` pushes: the return address.
const RETURN_ADDRESS: u64 = 8;

/// A `max_stack` annotation waiting for the code generator's frame sizes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StackRequest {
    /// The mangled name.
    pub symbol: String,
    pub bytes: u64,
}

/// The direct call graph of the defined functions, with what makes a bound impossible.
struct CallGraph {
    names: Vec<String>,
    index: HashMap<String, usize>,
    callees: Vec<Vec<usize>>,
    /// Per function: the first reason no bound exists, if any.
    obstacle: Vec<Option<String>>,
}

impl CallGraph {
    fn of(module: &Module<'_>) -> Self {
        let defined: Vec<FunctionValue<'_>> = module
            .get_functions()
            .filter(|f| f.count_basic_blocks() > 0)
            .collect();
        let names: Vec<String> = defined
            .iter()
            .map(|f| f.get_name().to_string_lossy().into_owned())
            .collect();
        let index: HashMap<String, usize> = names
            .iter()
            .enumerate()
            .map(|(i, n)| (n.clone(), i))
            .collect();
        let mut callees = vec![Vec::new(); names.len()];
        let mut obstacle = vec![None; names.len()];
        for (i, function) in defined.iter().enumerate() {
            let entry = function.get_first_basic_block();
            for block in function.get_basic_block_iter() {
                for inst in block.get_instructions() {
                    let problem = match inst.get_opcode() {
                        InstructionOpcode::Alloca => {
                            let constant =
                                inst.get_operand(0)
                                    .and_then(|o| o.value())
                                    .is_some_and(|size| {
                                        size.is_int_value() && size.into_int_value().is_const()
                                    });
                            (!constant || Some(block) != entry)
                                .then(|| "a dynamically sized stack allocation".to_owned())
                        }
                        InstructionOpcode::Call | InstructionOpcode::Invoke => {
                            call_target(inst, &index).and_then(|target| match target {
                                Target::Function(callee) => {
                                    if !callees[i].contains(&callee) {
                                        callees[i].push(callee);
                                    }
                                    None
                                }
                                Target::Problem(problem) => Some(problem),
                            })
                        }
                        _ => None,
                    };
                    if obstacle[i].is_none() {
                        obstacle[i] = problem;
                    }
                }
            }
        }
        Self {
            names,
            index,
            callees,
            obstacle,
        }
    }

    fn step(&self, node: usize) -> PathStep {
        PathStep {
            symbol: demangle(&self.names[node]),
            via: EdgeKind::Call,
        }
    }
}

enum Target {
    Function(usize),
    Problem(String),
}

/// What a call instruction calls; `None` for calls that generate no call (most
/// intrinsics, asm without a call).
fn call_target(
    inst: inkwell::values::InstructionValue<'_>,
    index: &HashMap<String, usize>,
) -> Option<Target> {
    if let Some((template, _)) = crate::syscalls::inline_asm(inst) {
        return template
            .contains("call")
            .then(|| Target::Problem("inline asm that calls out".into()));
    }
    // SAFETY: `inst` is a live call or invoke, so it has a called operand;
    // `LLVMIsAFunction` gates treating it as a function.
    let callee = unsafe { llvm_sys::core::LLVMGetCalledValue(inst.as_value_ref()) };
    // SAFETY: as above.
    let is_function = unsafe { !llvm_sys::core::LLVMIsAFunction(callee).is_null() };
    if !is_function {
        return Some(Target::Problem("an indirect call".into()));
    }
    let callee = inkwell::values::CallSiteValue::try_from(inst)
        .ok()?
        .get_called_fn_value()?;
    let name = callee.get_name().to_string_lossy().into_owned();
    let name = match name.strip_prefix("llvm.") {
        Some(intrinsic) => {
            let libcall = ["memcpy", "memmove", "memset"]
                .into_iter()
                .find(|f| intrinsic.starts_with(&format!("{f}.")))?;
            libcall.to_owned()
        }
        None => name,
    };
    Some(match index.get(&name) {
        Some(&callee) => Target::Function(callee),
        None => Target::Problem(format!(
            "a call of `{}`, whose code is not in the whole-program module",
            demangle(&name)
        )),
    })
}

/// The `max_stack` checks of `requests` on the module as code generation saw it.
pub fn check_max_stack(
    module: &Module<'_>,
    frames: &FrameSizes,
    requests: &[StackRequest],
) -> Vec<AnnotationCheck> {
    let graph = CallGraph::of(module);
    requests
        .iter()
        .map(|request| {
            let property = Property::MaxStack {
                bytes: request.bytes,
            };
            let mut check = AnnotationCheck {
                function: demangle(&request.symbol),
                property,
                holds: false,
                violations: Vec::new(),
                stack_bytes: None,
            };
            let Some(&root) = graph.index.get(&request.symbol) else {
                check.violations.push(Violation {
                    what: "the function is not in the module code generation received".into(),
                    path: Vec::new(),
                });
                return check;
            };
            match bound(&graph, frames, root, request.bytes) {
                Ok(bytes) => {
                    check.holds = true;
                    check.stack_bytes = Some(bytes);
                }
                Err(violations) => {
                    check.stack_bytes = violations.0;
                    check.violations = violations.1;
                }
            }
            check
        })
        .collect()
}

/// The worst-case use from `root`, or why there is none (with the use when the bound
/// exists but exceeds `limit`).
fn bound(
    graph: &CallGraph,
    frames: &FrameSizes,
    root: usize,
    limit: u64,
) -> Result<u64, (Option<u64>, Vec<Violation>)> {
    // Shortest paths, for naming where an obstacle is.
    let mut parent = vec![None; graph.names.len()];
    let mut reached = vec![false; graph.names.len()];
    let mut order = Vec::new();
    let mut queue = VecDeque::from([root]);
    reached[root] = true;
    while let Some(node) = queue.pop_front() {
        order.push(node);
        for &next in &graph.callees[node] {
            if !reached[next] {
                reached[next] = true;
                parent[next] = Some(node);
                queue.push_back(next);
            }
        }
    }
    let path_to = |node: usize| {
        let mut path = vec![graph.step(node)];
        let mut at = node;
        while let Some(p) = parent[at] {
            path.push(graph.step(p));
            at = p;
        }
        path.reverse();
        path
    };
    let mut violations: Vec<Violation> = order
        .iter()
        .filter_map(|&node| {
            let obstacle = graph.obstacle[node].as_ref()?;
            Some(Violation {
                what: format!("{obstacle} in `{}`", demangle(&graph.names[node])),
                path: path_to(node),
            })
        })
        .collect();
    let post_order = post_order(graph, root);
    if let Err(cycle) = &post_order {
        let names: Vec<String> = cycle.iter().map(|&n| demangle(&graph.names[n])).collect();
        violations.push(Violation {
            what: format!("recursion: {}", names.join(" -> ")),
            path: path_to(cycle[0]),
        });
    }
    let post_order = match post_order {
        Ok(order) if violations.is_empty() => order,
        _ => return Err((None, violations)),
    };
    // A finite call tree: the deepest path, callees before callers. A function
    // without a reported frame size has none (the code generator reports every
    // frame larger than 0 bytes).
    let frame = |node: usize| frames.get(&graph.names[node]).copied().unwrap_or(0);
    let mut deepest: HashMap<usize, (u64, Option<usize>)> = HashMap::new();
    for node in post_order {
        let (below, next) = graph.callees[node]
            .iter()
            .map(|c| (deepest[c].0, Some(*c)))
            .max_by_key(|(bytes, _)| *bytes)
            .unwrap_or((0, None));
        deepest.insert(node, (RETURN_ADDRESS + frame(node) + below, next));
    }
    let total = deepest[&root].0;
    if total <= limit {
        return Ok(total);
    }
    let mut path = Vec::new();
    let mut frames_text = Vec::new();
    let mut at = Some(root);
    while let Some(node) = at {
        path.push(graph.step(node));
        frames_text.push(format!("{} {}", demangle(&graph.names[node]), frame(node)));
        at = deepest[&node].1;
    }
    Err((
        Some(total),
        vec![Violation {
            what: format!(
                "{total} bytes of stack, more than {limit} (frames: {}; plus {RETURN_ADDRESS} \
                 per call)",
                frames_text.join(", ")
            ),
            path,
        }],
    ))
}

/// The functions reachable from `root`, each after all its callees; or a cycle
/// reachable from `root`: its nodes, the first repeated at the end.
fn post_order(graph: &CallGraph, root: usize) -> Result<Vec<usize>, Vec<usize>> {
    #[derive(Clone, Copy, PartialEq)]
    enum Mark {
        New,
        OnStack,
        Done,
    }
    let mut mark = vec![Mark::New; graph.names.len()];
    let mut order = Vec::new();
    let mut stack: Vec<(usize, usize)> = vec![(root, 0)];
    mark[root] = Mark::OnStack;
    while let Some(&mut (node, ref mut next)) = stack.last_mut() {
        if let Some(&callee) = graph.callees[node].get(*next) {
            *next += 1;
            match mark[callee] {
                Mark::New => {
                    mark[callee] = Mark::OnStack;
                    stack.push((callee, 0));
                }
                Mark::OnStack => {
                    let start = stack.iter().position(|&(n, _)| n == callee).unwrap_or(0);
                    let mut cycle: Vec<usize> = stack[start..].iter().map(|&(n, _)| n).collect();
                    cycle.push(callee);
                    return Err(cycle);
                }
                Mark::Done => {}
            }
        } else {
            mark[node] = Mark::Done;
            order.push(node);
            stack.pop();
        }
    }
    Ok(order)
}
