//! What the `no_alloc` and `no_panic` properties forbid, and where the final module can
//! still do it.
//!
//! An *effect function* is one of the global allocator's (`__rust_alloc` and co., the
//! default or user allocator behind them, libc `malloc`, `calloc`, `realloc`, `free`,
//! `posix_memalign`, `aligned_alloc`, `memalign`) or of the panic machinery
//! (`core::panicking::*`, `std::panicking::*`, `rust_begin_unwind`, `rust_panic`,
//! `__rust_start_panic`, libc `abort`, `std::process::abort`). Names are matched
//! demangled, so the `__rustc::` prefix of the allocator shims and the kernel's own
//! `#[panic_handler]` (also `rust_begin_unwind`) count too.
//!
//! A *use* of an effect is
//!
//! - an effect function itself (defined here or only declared: a call of it reaches
//!   the node);
//! - an effect function's code inlined into another, found by the mark
//!   [`mark_effects`] put first in its body before optimization (a call of
//!   `llvm.sideeffect` with [`EFFECT_ATTRIBUTE`]` = "alloc:NAME"` or `"panic:NAME"`,
//!   like the kernel entry marks of [`super::markers`]). Only modules with `no_alloc`
//!   or `no_panic` annotations get these marks, so a program without them is optimized
//!   exactly as before;
//! - for panics, a call of `llvm.trap` (`core::intrinsics::abort`: it stops the
//!   program like `abort`);
//! - for allocation, the system calls `mmap`, `mremap` and `brk` (added by
//!   [`super::properties`] from the syscall uses).

use inkwell::module::Module;
use inkwell::values::{AsValueRef, CallSiteValue, FunctionValue, InstructionOpcode};
use serde::{Deserialize, Serialize};

use super::demangle;
use super::graph::ReferenceGraph;
use super::markers::{mark_functions, string_attribute};

/// The call-site attribute of an effect mark: `alloc:NAME` or `panic:NAME`.
pub const EFFECT_ATTRIBUTE: &str = "unikernel-effect";

/// What a property forbids.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effect {
    /// The global allocator.
    Alloc,
    /// The panic machinery, or an abort.
    Panic,
}

impl Effect {
    /// The name in marks.
    pub fn name(self) -> &'static str {
        match self {
            Effect::Alloc => "alloc",
            Effect::Panic => "panic",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        match name {
            "alloc" => Some(Effect::Alloc),
            "panic" => Some(Effect::Panic),
            _ => None,
        }
    }
}

/// The Rust allocator shims and the allocators behind them, by the last segment of
/// their demangled path.
const RUST_ALLOCATOR: &[&str] = &[
    "__rust_alloc",
    "__rust_alloc_zeroed",
    "__rust_realloc",
    "__rust_dealloc",
    "__rg_alloc",
    "__rg_alloc_zeroed",
    "__rg_realloc",
    "__rg_dealloc",
    "__rdl_alloc",
    "__rdl_alloc_zeroed",
    "__rdl_realloc",
    "__rdl_dealloc",
];

/// The C allocator (the libc shim's, or a native libc's in hosted builds).
const C_ALLOCATOR: &[&str] = &[
    "malloc",
    "calloc",
    "realloc",
    "reallocarray",
    "free",
    "posix_memalign",
    "aligned_alloc",
    "memalign",
];

/// The panic entry points by the last segment of their demangled path.
const PANIC_ENTRIES: &[&str] = &["rust_begin_unwind", "rust_panic", "__rust_start_panic"];

/// Whole demangled paths that panic or abort.
const PANIC_PATHS: &[&str] = &["abort", "std::process::abort"];

/// The module prefixes of the panic machinery.
const PANIC_MODULES: &[&str] = &["core::panicking::", "std::panicking::"];

/// The effect of a function by its symbol name, with the demangled name to show.
pub fn effect_of_name(symbol: &str) -> Option<(Effect, String)> {
    let name = demangle(symbol);
    let last = name.rsplit("::").next().unwrap_or(&name);
    let effect = if RUST_ALLOCATOR.contains(&last) || C_ALLOCATOR.contains(&name.as_str()) {
        Effect::Alloc
    } else if PANIC_ENTRIES.contains(&last)
        || PANIC_PATHS.contains(&name.as_str())
        || PANIC_MODULES.iter().any(|m| name.starts_with(m))
    {
        Effect::Panic
    } else {
        return None;
    };
    Some((effect, name))
}

/// The effect of a function of the module.
pub fn effect_of_function(function: FunctionValue<'_>) -> Option<(Effect, String)> {
    effect_of_name(&function.get_name().to_string_lossy())
}

/// Put an effect mark first in every allocator and panic function the module defines;
/// returns how many were marked. Idempotent.
pub fn mark_effects(module: &Module<'_>) -> usize {
    mark_functions(module, EFFECT_ATTRIBUTE, |function| {
        let (effect, name) = effect_of_function(function)?;
        Some(format!("{}:{name}", effect.name()))
    })
}

/// An effect mark's effect and the name of the function it was put in.
pub fn effect_mark_of(call: CallSiteValue<'_>) -> Option<(Effect, String)> {
    let value = string_attribute(call, EFFECT_ATTRIBUTE)?;
    let (effect, name) = value.split_once(':')?;
    Some((Effect::from_name(effect)?, name.to_owned()))
}

/// One use of an effect: the node holding it and the effect function's name.
#[derive(Debug, Clone)]
pub struct EffectUse {
    pub node: usize,
    pub effect: Effect,
    pub name: String,
}

/// Every use of an effect in the module, reachable or not.
pub fn effect_uses(module: &Module<'_>, graph: &ReferenceGraph) -> Vec<EffectUse> {
    let mut uses = Vec::new();
    for (node, n) in graph.nodes.iter().enumerate() {
        if n.is_function
            && let Some((effect, name)) = effect_of_name(&n.name)
        {
            uses.push(EffectUse { node, effect, name });
        }
    }
    for function in module.get_functions() {
        let Some(node) = graph.node(function.as_value_ref()) else {
            continue;
        };
        for inst in function
            .get_basic_block_iter()
            .flat_map(|b| b.get_instructions())
        {
            if !matches!(
                inst.get_opcode(),
                InstructionOpcode::Call | InstructionOpcode::Invoke
            ) {
                continue;
            }
            let Ok(call) = CallSiteValue::try_from(inst) else {
                continue;
            };
            if let Some((effect, name)) = effect_mark_of(call) {
                if demangle(&graph.nodes[node].name) != name {
                    uses.push(EffectUse { node, effect, name });
                }
            } else if call
                .get_called_fn_value()
                .is_some_and(|f| f.get_name().to_bytes() == b"llvm.trap")
            {
                uses.push(EffectUse {
                    node,
                    effect: Effect::Panic,
                    name: "llvm.trap (abort)".into(),
                });
            }
        }
    }
    uses
}

#[cfg(test)]
mod tests {
    use super::{Effect, effect_of_name};

    #[test]
    fn allocator_and_panic_functions_by_name() {
        let effect = |symbol: &str| effect_of_name(symbol).map(|(e, _)| e);
        assert_eq!(effect("malloc"), Some(Effect::Alloc));
        assert_eq!(effect("__rust_alloc"), Some(Effect::Alloc));
        // `__rustc::__rust_dealloc`, as rustc mangles the shims today.
        assert_eq!(
            effect("_RNvCs1QLEhZ2QfLZ_7___rustc14___rust_dealloc"),
            Some(Effect::Alloc)
        );
        assert_eq!(
            effect("_ZN4core9panicking9panic_fmt17h0123456789abcdefE"),
            Some(Effect::Panic)
        );
        assert_eq!(effect("rust_begin_unwind"), Some(Effect::Panic));
        assert_eq!(effect("abort"), Some(Effect::Panic));
        for other in [
            "memcpy",
            "mallocx",
            "_ZN4core3fmt5write17h0123456789abcdefE",
        ] {
            assert_eq!(effect(other), None, "{other}");
        }
    }
}
