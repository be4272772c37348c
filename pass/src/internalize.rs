//! Stage 3: close the world.
//!
//! After merging, the module holds the whole program; only the entry point and the
//! symbols that code outside the module needs must stay external. Every other
//! definition becomes `internal`, which lets the LTO pipeline drop what is unreachable
//! and inline across what used to be crate, libc and kernel boundaries. (LLVM's own
//! `internalize` pass takes its list through a global command-line option; doing it
//! here keeps the list explicit and the count in the report.)

use std::collections::BTreeSet;

use inkwell::module::{Linkage, Module};
use inkwell::values::{AsValueRef, GlobalValue};

/// Functions LLVM code generation may call without any reference in the IR: the
/// `llvm.mem*` intrinsics lower to the C functions, `frem` to `fmod`, the math
/// intrinsics to libm, and a landing pad's `resume` to `_Unwind_Resume`; the optimizer
/// itself folds `malloc` + `memset(0)` into a new `calloc` call (DSE). Their definitions
/// (in the shim) must survive internalization.
pub const LIBCALLS: &[&str] = &[
    "calloc",
    "memcpy",
    "memmove",
    "memset",
    "memcmp",
    "bcmp",
    "strlen",
    "_Unwind_Resume",
    "fmod",
    "fmodf",
    "sin",
    "sinf",
    "cos",
    "cosf",
    "tan",
    "tanf",
    "asin",
    "asinf",
    "acos",
    "acosf",
    "atan",
    "atanf",
    "atan2",
    "atan2f",
    "sinh",
    "sinhf",
    "cosh",
    "coshf",
    "tanh",
    "tanhf",
    "pow",
    "powf",
    "exp",
    "expf",
    "exp2",
    "exp2f",
    "exp10",
    "exp10f",
    "log",
    "logf",
    "log2",
    "log2f",
    "log10",
    "log10f",
    "fma",
    "fmaf",
    "sqrt",
    "sqrtf",
    "floor",
    "floorf",
    "ceil",
    "ceilf",
    "trunc",
    "truncf",
    "round",
    "roundf",
    "roundeven",
    "roundevenf",
    "rint",
    "rintf",
    "nearbyint",
    "nearbyintf",
    "fmin",
    "fminf",
    "fmax",
    "fmaxf",
    "fminimum",
    "fminimumf",
    "fmaximum",
    "fmaximumf",
    "fminimum_num",
    "fminimum_numf",
    "fmaximum_num",
    "fmaximum_numf",
    "copysign",
    "copysignf",
    "fabs",
    "fabsf",
    "ldexp",
    "ldexpf",
    "frexp",
    "frexpf",
    "modf",
    "modff",
    "sincos",
    "sincosf",
    "__powidf2",
    "__powisf2",
];

/// The symbols that stay external.
#[derive(Debug, Clone, Default)]
pub struct KeepSet {
    names: BTreeSet<String>,
}

impl KeepSet {
    /// The entry points plus [`LIBCALLS`].
    pub fn new<I, S>(entry_points: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let mut names: BTreeSet<String> = entry_points.into_iter().map(Into::into).collect();
        names.extend(LIBCALLS.iter().map(|s| (*s).to_owned()));
        Self { names }
    }

    /// Also keep `names` (e.g. symbols undefined in native objects).
    pub fn extend<I, S>(&mut self, names: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.names.extend(names.into_iter().map(Into::into));
    }

    pub fn contains(&self, name: &str) -> bool {
        self.names.contains(name)
    }
}

/// Make every definition not in `keep` internal. Returns how many changed.
pub fn internalize(module: &Module<'_>, keep: &KeepSet) -> usize {
    let mut changed = 0;
    let functions = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .map(|f| f.as_global_value());
    let globals = module.get_globals().filter(|g| !g.is_declaration());
    for value in functions.chain(globals).chain(aliases(module)) {
        if should_internalize(value, keep) {
            make_internal(value);
            changed += 1;
        }
    }
    changed
}

fn should_internalize(value: GlobalValue<'_>, keep: &KeepSet) -> bool {
    let name = value.get_name().to_string_lossy();
    if name.starts_with("llvm.") || keep.contains(&name) {
        return false;
    }
    matches!(
        value.get_linkage(),
        Linkage::External
            | Linkage::LinkOnceAny
            | Linkage::LinkOnceODR
            | Linkage::WeakAny
            | Linkage::WeakODR
            | Linkage::Common
            // After linking, an `available_externally` body means no other definition
            // exists: in the closed world this copy is the definition.
            | Linkage::AvailableExternally
    )
}

fn make_internal(value: GlobalValue<'_>) {
    // An internal symbol cannot be the member of a COMDAT group that other objects
    // might select; with the whole program in one module there is nothing left to
    // select against, so the group is dropped (what LLVM's internalize does too).
    // SAFETY: `value` is a live global object or alias of the module; a null comdat is
    // the documented way to remove it (GlobalObject::setComdat(nullptr)). Aliases have
    // no comdat and are skipped.
    unsafe {
        let raw = value.as_value_ref();
        if llvm_sys::core::LLVMIsAGlobalAlias(raw).is_null() {
            llvm_sys::comdat::LLVMSetComdat(raw, std::ptr::null_mut());
        }
    }
    value.set_linkage(Linkage::Internal);
    value.set_visibility(inkwell::GlobalVisibility::Default);
}

/// The module's global aliases.
fn aliases<'ctx>(module: &Module<'ctx>) -> Vec<GlobalValue<'ctx>> {
    let mut out = Vec::new();
    // SAFETY: iterating the alias list of a live module with the C API; each returned
    // pointer is a GlobalAlias owned by the module, valid while the module lives.
    unsafe {
        let mut alias = llvm_sys::core::LLVMGetFirstGlobalAlias(module.as_mut_ptr());
        while !alias.is_null() {
            out.push(GlobalValue::new(alias));
            alias = llvm_sys::core::LLVMGetNextGlobalAlias(alias);
        }
    }
    out
}
