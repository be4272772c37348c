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
//! - **`#[unikernel::no_syscalls]` marks.** The `unikernel` attribute crate puts a
//!   `#[used]` static holding the function's address into the section
//!   [`NO_SYSCALLS_SECTION`]; [`no_syscalls_functions`] finds them after
//!   optimization, and [`strip_no_syscalls_marks`] deletes them before code
//!   generation (the image's linker script has no place for that section).

use inkwell::attributes::AttributeLoc;
use inkwell::intrinsics::Intrinsic;
use inkwell::module::Module;
use inkwell::values::{AsValueRef, CallSiteValue, FunctionValue, GlobalValue};
use llvm_sys::prelude::LLVMValueRef;

use crate::syscalls::{ENOSYS_PREFIX, ENTRY_PREFIX};

/// The call-site attribute of a kernel entry mark: `sys:NAME` or `enosys:NAME`.
pub const MARK_ATTRIBUTE: &str = "unikernel-syscall";

/// The section of the `#[unikernel::no_syscalls]` statics (the `unikernel` crate
/// emits it; keep the two in sync).
pub const NO_SYSCALLS_SECTION: &str = ".unikernel.no_syscalls";

/// Put a mark first in every kernel entry's body; returns how many entries were
/// marked. Entries already marked are left alone, so running it again changes
/// nothing.
pub fn mark_kernel_entries(module: &Module<'_>) -> usize {
    let Some(sideeffect) = Intrinsic::find("llvm.sideeffect") else {
        return 0;
    };
    let context = module.get_context();
    let builder = context.create_builder();
    let mut marked = 0;
    for function in module.get_functions() {
        let name = function.get_name().to_string_lossy().into_owned();
        let value = if let Some(sys) = name.strip_prefix(ENTRY_PREFIX) {
            format!("sys:{sys}")
        } else if let Some(sys) = name.strip_prefix(ENOSYS_PREFIX) {
            format!("enosys:{sys}")
        } else {
            continue;
        };
        let Some(entry) = function.get_first_basic_block() else {
            continue;
        };
        if entry
            .get_first_instruction()
            .and_then(|i| CallSiteValue::try_from(i).ok())
            .is_some_and(|call| mark_of(call).is_some())
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
            context.create_string_attribute(MARK_ATTRIBUTE, &value),
        );
        marked += 1;
    }
    marked
}

/// A kernel entry mark's `(kind, name)`: `("sys", "write")`.
pub fn mark_of(call: CallSiteValue<'_>) -> Option<(String, String)> {
    let attribute = call.get_string_attribute(AttributeLoc::Function, MARK_ATTRIBUTE)?;
    let value = attribute.get_string_value().to_string_lossy().into_owned();
    let (kind, name) = value.split_once(':')?;
    Some((kind.to_owned(), name.to_owned()))
}

/// The functions marked `#[unikernel::no_syscalls]`: `(static, function)`.
pub fn no_syscalls_functions<'ctx>(
    module: &Module<'ctx>,
) -> Vec<(GlobalValue<'ctx>, FunctionValue<'ctx>)> {
    let mut found = Vec::new();
    for global in module.get_globals() {
        if !in_no_syscalls_section(global) {
            continue;
        }
        let Some(init) = global.get_initializer() else {
            continue;
        };
        // SAFETY: `init` is the live initializer of a global of the module: a
        // function pointer, possibly through a cast.
        let function = unsafe { strip_casts(init.as_value_ref()) };
        // SAFETY: as above.
        if unsafe { llvm_sys::core::LLVMIsAFunction(function).is_null() } {
            continue;
        }
        // SAFETY: `function` is a live `Function` of the module (checked above).
        found.push((
            global,
            unsafe { FunctionValue::new(function) }.expect("non-null"),
        ));
    }
    found
}

pub(super) fn in_no_syscalls_section(global: GlobalValue<'_>) -> bool {
    global
        .get_section()
        .is_some_and(|s| s.to_bytes() == NO_SYSCALLS_SECTION.as_bytes())
}

/// Delete the `#[unikernel::no_syscalls]` statics (and their entries in `llvm.used`
/// and `llvm.compiler.used`); returns how many.
pub fn strip_no_syscalls_marks(module: &Module<'_>) -> usize {
    let marks: Vec<LLVMValueRef> = module
        .get_globals()
        .filter(|g| in_no_syscalls_section(*g))
        .map(|g| g.as_value_ref())
        .collect();
    if marks.is_empty() {
        return 0;
    }
    for list in ["llvm.used", "llvm.compiler.used"] {
        if let Some(used) = module.get_global(list) {
            remove_from_used(module, used, &marks);
        }
    }
    for &mark in &marks {
        // SAFETY: `mark` is a live global of the module whose only users were the
        // `llvm.used` lists just rebuilt without it; anything else that still uses it
        // gets a null pointer of the same type, so no use dangles after the delete.
        unsafe {
            let null = llvm_sys::core::LLVMConstNull(llvm_sys::core::LLVMTypeOf(mark));
            llvm_sys::core::LLVMReplaceAllUsesWith(mark, null);
            llvm_sys::core::LLVMDeleteGlobal(mark);
        }
    }
    marks.len()
}

/// Rebuild the appending array `used` without `remove`.
fn remove_from_used(module: &Module<'_>, used: GlobalValue<'_>, remove: &[LLVMValueRef]) {
    let raw = used.as_value_ref();
    // SAFETY: `used` is the module's live `llvm.used`-style global: an appending array
    // of pointers in section `llvm.metadata`. Its elements are read before the global
    // is replaced; the replacement has the same name, linkage and section, and the old
    // global has no users (these lists are only referenced by name).
    unsafe {
        let init = llvm_sys::core::LLVMGetInitializer(raw);
        if init.is_null() {
            return;
        }
        let count = llvm_sys::core::LLVMGetNumOperands(init);
        let mut kept: Vec<LLVMValueRef> = (0..count)
            .map(|i| llvm_sys::core::LLVMGetOperand(init, i as u32))
            .filter(|element| {
                let base = strip_casts(*element);
                !remove.contains(&base)
            })
            .collect();
        if kept.len() == count as usize {
            return;
        }
        let name = used.get_name().to_owned();
        llvm_sys::core::LLVMDeleteGlobal(raw);
        if kept.is_empty() {
            return;
        }
        let element_type = llvm_sys::core::LLVMTypeOf(kept[0]);
        let array =
            llvm_sys::core::LLVMConstArray2(element_type, kept.as_mut_ptr(), kept.len() as u64);
        let global = llvm_sys::core::LLVMAddGlobal(
            module.as_mut_ptr(),
            llvm_sys::core::LLVMTypeOf(array),
            name.as_ptr(),
        );
        llvm_sys::core::LLVMSetInitializer(global, array);
        llvm_sys::core::LLVMSetLinkage(global, llvm_sys::LLVMLinkage::LLVMAppendingLinkage);
        llvm_sys::core::LLVMSetSection(global, c"llvm.metadata".as_ptr());
    }
}

/// `value` without pointer casts (`llvm.used` elements may be wrapped in one).
///
/// # Safety
/// `value` must be a live constant.
unsafe fn strip_casts(mut value: LLVMValueRef) -> LLVMValueRef {
    // SAFETY: per the function's contract; `LLVMIsAConstantExpr` gates the operand
    // access.
    unsafe {
        while !llvm_sys::core::LLVMIsAConstantExpr(value).is_null() {
            value = llvm_sys::core::LLVMGetOperand(value, 0);
        }
    }
    value
}
