//! Marks that let the analysis find things after optimization.
//!
//! - **Kernel entry marks.** The optimizer inlines most `__unikernel_sys_NAME` entries
//!   into their callers (the point of the whole exercise), after which no call names
//!   the syscall any more. [`mark_kernel_entries`] therefore puts, first in every
//!   entry's body, a call of `llvm.sideeffect` carrying the call-site attribute
//!   [`MARK_ATTRIBUTE`]` = "sys:NAME"` (or `"enosys:NAME"`). Inlining copies the call
//!   with its attributes, so wherever the entry's code ends up, the mark says which
//!   system call it is. `llvm.sideeffect` only touches inaccessible memory (no load or
//!   store around it is constrained), costs nothing in the inliner's model, is never
//!   deleted (it exists to keep otherwise empty loops alive), and code generation
//!   drops it (LangRef, "llvm.sideeffect"). Distinct attributes keep two marks from
//!   being merged as identical instructions (`Instruction::isSameOperationAs`
//!   compares call attributes), which would lose one of them.
//! - **Effect marks.** The same for the functions the `no_alloc` and `no_panic`
//!   properties forbid: [`super::effects::mark_effects`] uses [`mark_functions`].
//!
//! The statics of the `#[unikernel::...]` attributes themselves are found and removed
//! by [`super::annotations`].

use inkwell::attributes::AttributeLoc;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::values::{CallSiteValue, FunctionValue};

use crate::syscalls::{ENOSYS_PREFIX, ENTRY_PREFIX};

/// The call-site attribute of a kernel entry mark: `sys:NAME` or `enosys:NAME`.
pub const MARK_ATTRIBUTE: &str = "unikernel-syscall";

/// Put a mark first in every kernel entry's body; returns how many entries were
/// marked. Entries already marked are left alone, so running it again changes
/// nothing.
pub fn mark_kernel_entries(module: &Module<'_>) -> usize {
    mark_functions(module, MARK_ATTRIBUTE, |function| {
        let name = function.get_name().to_string_lossy();
        if let Some(sys) = name.strip_prefix(ENTRY_PREFIX) {
            Some(format!("sys:{sys}"))
        } else {
            name.strip_prefix(ENOSYS_PREFIX)
                .map(|sys| format!("enosys:{sys}"))
        }
    })
}

/// Put a mark (a call of `llvm.sideeffect` with the call-site attribute
/// `attribute = value(function)`) first in each function `value` chooses; returns how
/// many were marked. Functions already marked with `attribute` are left alone.
pub(super) fn mark_functions(
    module: &Module<'_>,
    attribute: &str,
    value: impl Fn(FunctionValue<'_>) -> Option<String>,
) -> usize {
    let Some(sideeffect) = Intrinsic::find("llvm.sideeffect") else {
        return 0;
    };
    let context = module.get_context();
    let builder = context.create_builder();
    let mut marked = 0;
    for function in module.get_functions() {
        let Some(value) = value(function) else {
            continue;
        };
        let Some(entry) = function.get_first_basic_block() else {
            continue;
        };
        if entry
            .get_first_instruction()
            .and_then(|i| CallSiteValue::try_from(i).ok())
            .is_some_and(|call| string_attribute(call, attribute).is_some())
        {
            continue;
        }
        let Some(declaration) = sideeffect.get_declaration(module, &[]) else {
            return marked;
        };
        match entry.get_first_instruction() {
            Some(first) => builder.position_before(&first),
            None => builder.position_at_end(entry),
        }
        let Ok(call) = builder.build_call(declaration, &[], "") else {
            continue;
        };
        call.add_attribute(
            AttributeLoc::Function,
            context.create_string_attribute(attribute, &value),
        );
        marked += 1;
    }
    marked
}

/// A kernel entry mark's `(kind, name)`: `("sys", "write")`.
pub fn mark_of(call: CallSiteValue<'_>) -> Option<(String, String)> {
    let value = string_attribute(call, MARK_ATTRIBUTE)?;
    let (kind, name) = value.split_once(':')?;
    Some((kind.to_owned(), name.to_owned()))
}

/// The value of a call's string attribute.
pub(super) fn string_attribute(call: CallSiteValue<'_>, attribute: &str) -> Option<String> {
    let attribute = call.get_string_attribute(AttributeLoc::Function, attribute)?;
    Some(attribute.get_string_value().to_string_lossy().into_owned())
}
