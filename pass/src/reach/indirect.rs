//! Which functions an indirect call can call.
//!
//! - A trait object's method call loads the function from its vtable: rustc marks
//!   that load `!invariant.load` and addresses the slot as a byte offset from the
//!   vtable pointer (`getelementptr inbounds i8, ptr %vtable, i64 24`, or the pointer
//!   itself for slot 0). Such a call can call the functions of the call's LLVM type
//!   stored at that offset in the module's constant globals (every vtable is one),
//!   and nothing else.
//! - Any other indirect call (a function pointer) can call every function whose
//!   address is taken somewhere in the module and whose LLVM function type is the
//!   call's (the ABI-level signature).
//!
//! Both over-approximate: a check that holds holds for every possible target.

use std::collections::HashMap;
use std::ffi::CStr;

use inkwell::context::AsContextRef;
use inkwell::module::Module;
use inkwell::values::AsValueRef;
use llvm_sys::prelude::{LLVMTypeRef, LLVMValueRef};

/// The candidates of indirect calls in one module.
pub(super) struct IndirectTargets {
    /// Functions by byte offset in a constant global's initializer.
    by_slot: HashMap<u64, Vec<LLVMValueRef>>,
    /// Address-taken functions by function type.
    by_type: HashMap<LLVMTypeRef, Vec<LLVMValueRef>>,
    invariant_load: u32,
}

impl IndirectTargets {
    /// `address_taken` says whether a function's address is taken somewhere.
    pub(super) fn of(module: &Module<'_>, address_taken: impl Fn(LLVMValueRef) -> bool) -> Self {
        let mut by_slot: HashMap<u64, Vec<LLVMValueRef>> = HashMap::new();
        // SAFETY: the module is live; its data layout is owned by the module and used
        // only while it is.
        let layout = unsafe { llvm_sys::target::LLVMGetModuleDataLayout(module.as_mut_ptr()) };
        for global in module.get_globals() {
            let raw = global.as_value_ref();
            // SAFETY: `raw` is a live global variable; a declaration has a null
            // initializer.
            let init = unsafe {
                if llvm_sys::core::LLVMIsGlobalConstant(raw) == 0 {
                    continue;
                }
                llvm_sys::core::LLVMGetInitializer(raw)
            };
            if !init.is_null() {
                // SAFETY: `init` is the live initializer; `layout` the module's.
                unsafe { functions_at_offsets(layout, init, 0, &mut by_slot) };
            }
        }
        let mut by_type: HashMap<LLVMTypeRef, Vec<LLVMValueRef>> = HashMap::new();
        for function in module.get_functions() {
            let raw = function.as_value_ref();
            if address_taken(raw) {
                // SAFETY: a live function; its value type is its function type (types
                // are unique per context: the pointer is the type's identity).
                let ty = unsafe { llvm_sys::core::LLVMGlobalGetValueType(raw) };
                by_type.entry(ty).or_default().push(raw);
            }
        }
        let kind = c"invariant.load";
        // SAFETY: the module's live context, and a constant C string with its length.
        let invariant_load = unsafe {
            llvm_sys::core::LLVMGetMDKindIDInContext(
                module.get_context().as_ctx_ref(),
                kind.as_ptr(),
                CStr::count_bytes(kind) as u32,
            )
        };
        Self {
            by_slot,
            by_type,
            invariant_load,
        }
    }

    /// The functions the indirect call `call` may call.
    ///
    /// # Safety
    /// `call` must be a live call or invoke instruction whose callee is not a function
    /// or inline asm.
    pub(super) unsafe fn of_call(&self, call: LLVMValueRef) -> Vec<LLVMValueRef> {
        // SAFETY: per the contract; the `LLVMIsA*` checks gate each accessor.
        unsafe {
            let callee = llvm_sys::core::LLVMGetCalledValue(call);
            let ty = llvm_sys::core::LLVMGetCalledFunctionType(call);
            if !llvm_sys::core::LLVMIsALoadInst(callee).is_null()
                && !llvm_sys::core::LLVMGetMetadata(callee, self.invariant_load).is_null()
                && let Some(offset) = byte_offset(llvm_sys::core::LLVMGetOperand(callee, 0))
            {
                return self
                    .by_slot
                    .get(&offset)
                    .into_iter()
                    .flatten()
                    .copied()
                    .filter(|&f| llvm_sys::core::LLVMGlobalGetValueType(f) == ty)
                    .collect();
            }
            self.by_type.get(&ty).cloned().unwrap_or_default()
        }
    }
}

/// The constant byte offset `pointer` adds to its base: 0 for a pointer that is not a
/// `getelementptr`, the index of a one-index `getelementptr i8`.
///
/// # Safety
/// `pointer` must be a live value.
unsafe fn byte_offset(pointer: LLVMValueRef) -> Option<u64> {
    // SAFETY: per the contract; the `LLVMIsA*` checks gate each accessor.
    unsafe {
        if llvm_sys::core::LLVMIsAGetElementPtrInst(pointer).is_null() {
            return Some(0);
        }
        let element = llvm_sys::core::LLVMGetGEPSourceElementType(pointer);
        let is_byte = llvm_sys::core::LLVMGetTypeKind(element)
            == llvm_sys::LLVMTypeKind::LLVMIntegerTypeKind
            && llvm_sys::core::LLVMGetIntTypeWidth(element) == 8;
        if !is_byte || llvm_sys::core::LLVMGetNumOperands(pointer) != 2 {
            return None;
        }
        let index = llvm_sys::core::LLVMGetOperand(pointer, 1);
        if llvm_sys::core::LLVMIsAConstantInt(index).is_null() {
            return None;
        }
        u64::try_from(llvm_sys::core::LLVMConstIntGetSExtValue(index)).ok()
    }
}

/// Record every function in the constant `value` at its byte offset (from `base`).
///
/// # Safety
/// `value` must be a live constant and `layout` the data layout of its module.
unsafe fn functions_at_offsets(
    layout: llvm_sys::target::LLVMTargetDataRef,
    value: LLVMValueRef,
    base: u64,
    found: &mut HashMap<u64, Vec<LLVMValueRef>>,
) {
    // SAFETY: per the contract; the `LLVMIsA*` checks gate each accessor, and element
    // indices are below the aggregate's operand count.
    unsafe {
        if !llvm_sys::core::LLVMIsAFunction(value).is_null() {
            found.entry(base).or_default().push(value);
        } else if !llvm_sys::core::LLVMIsAGlobalAlias(value).is_null() {
            let aliasee = llvm_sys::core::LLVMAliasGetAliasee(value);
            functions_at_offsets(layout, aliasee, base, found);
        } else if !llvm_sys::core::LLVMIsAConstantStruct(value).is_null() {
            let ty = llvm_sys::core::LLVMTypeOf(value);
            for i in 0..llvm_sys::core::LLVMGetNumOperands(value) as u32 {
                let offset = llvm_sys::target::LLVMOffsetOfElement(layout, ty, i);
                let element = llvm_sys::core::LLVMGetOperand(value, i);
                functions_at_offsets(layout, element, base + offset, found);
            }
        } else if !llvm_sys::core::LLVMIsAConstantArray(value).is_null() {
            let element_type =
                llvm_sys::core::LLVMGetElementType(llvm_sys::core::LLVMTypeOf(value));
            let size = llvm_sys::target::LLVMABISizeOfType(layout, element_type);
            for i in 0..llvm_sys::core::LLVMGetNumOperands(value) as u32 {
                let element = llvm_sys::core::LLVMGetOperand(value, i);
                functions_at_offsets(layout, element, base + u64::from(i) * size, found);
            }
        }
    }
}
