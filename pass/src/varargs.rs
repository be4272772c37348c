//! Stage 2: call sites of C variadic functions that the shim defines with fixed arity.
//!
//! std declares `syscall`, `open64`, `fcntl`, `ioctl`, ... as variadic, as C does. The
//! shim, written in stable Rust, defines them with a fixed list of parameters. On
//! x86_64 System V both conventions pass the same integer registers, but in LLVM IR a
//! call whose function type differs from the callee's is undefined behaviour the
//! optimizer may exploit, so every such call is rebuilt with the definition's type:
//! arguments are converted as C's default promotions would (narrower integers are
//! sign-extended, pointers and integers converted), missing trailing arguments are
//! zero. A site that cannot be converted (float or aggregate mismatch, `invoke`) is
//! left as it is and counted, never silently changed.

use inkwell::module::Module;
use llvm_sys::LLVMTypeKind;
use llvm_sys::core as c;
use llvm_sys::prelude::{LLVMTypeRef, LLVMValueRef};

/// Rewrite mismatched calls of fixed-arity definitions. Returns the number rewritten.
pub fn fix_varargs_calls(module: &Module<'_>) -> usize {
    let mut fixed = 0;
    for function in module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
    {
        let callee = function.as_value_ref_raw();
        for call in mismatched_calls(callee) {
            // SAFETY: `call` is a live call instruction of this module whose callee is
            // `callee`, collected before any rewrite (see `mismatched_calls`).
            if unsafe { rebuild_call(call, callee) } {
                fixed += 1;
            }
        }
    }
    fixed
}

trait RawValue {
    fn as_value_ref_raw(&self) -> LLVMValueRef;
}

impl RawValue for inkwell::values::FunctionValue<'_> {
    fn as_value_ref_raw(&self) -> LLVMValueRef {
        inkwell::values::AsValueRef::as_value_ref(self)
    }
}

/// Direct `call` instructions of `callee` whose call type differs from its type.
fn mismatched_calls(callee: LLVMValueRef) -> Vec<LLVMValueRef> {
    let mut calls = Vec::new();
    // SAFETY: walking the use list of a live function with the C API; every user is a
    // live value of the same module. Nothing is modified during the walk.
    unsafe {
        let callee_type = c::LLVMGlobalGetValueType(callee);
        let mut use_ = c::LLVMGetFirstUse(callee);
        while !use_.is_null() {
            let user = c::LLVMGetUser(use_);
            if !c::LLVMIsACallInst(user).is_null()
                && c::LLVMGetCalledValue(user) == callee
                && c::LLVMGetCalledFunctionType(user) != callee_type
            {
                calls.push(user);
            }
            use_ = c::LLVMGetNextUse(use_);
        }
    }
    calls
}

/// Replace `call` with a call of `callee` using the callee's own type.
///
/// # Safety
/// `call` must be a live `call` instruction whose called value is `callee`, a live
/// function definition of the same module.
unsafe fn rebuild_call(call: LLVMValueRef, callee: LLVMValueRef) -> bool {
    // SAFETY: per the contract, both values are live; all C API calls below operate on
    // them, their types and a builder positioned right before `call`.
    unsafe {
        let callee_type = c::LLVMGlobalGetValueType(callee);
        let call_type = c::LLVMGetCalledFunctionType(call);
        if c::LLVMGetReturnType(callee_type) != c::LLVMGetReturnType(call_type) {
            return false;
        }
        let param_count = c::LLVMCountParamTypes(callee_type) as usize;
        let mut params: Vec<LLVMTypeRef> = vec![std::ptr::null_mut(); param_count];
        c::LLVMGetParamTypes(callee_type, params.as_mut_ptr());
        let arg_count = (c::LLVMGetNumArgOperands(call) as usize).min(param_count);

        let context = c::LLVMGetTypeContext(callee_type);
        let builder = c::LLVMCreateBuilderInContext(context);
        c::LLVMPositionBuilderBefore(builder, call);
        let mut args = Vec::with_capacity(param_count);
        for (index, &param) in params.iter().enumerate() {
            let arg = if index < arg_count {
                convert(builder, c::LLVMGetOperand(call, index as u32), param)
            } else {
                zero(param)
            };
            match arg {
                Some(arg) => args.push(arg),
                None => {
                    c::LLVMDisposeBuilder(builder);
                    return false;
                }
            }
        }
        let new_call = c::LLVMBuildCall2(
            builder,
            callee_type,
            callee,
            args.as_mut_ptr(),
            args.len() as u32,
            c"".as_ptr(),
        );
        c::LLVMSetInstructionCallConv(new_call, c::LLVMGetInstructionCallConv(call));
        c::LLVMSetTailCall(new_call, c::LLVMIsTailCall(call));
        c::LLVMDisposeBuilder(builder);
        c::LLVMReplaceAllUsesWith(call, new_call);
        c::LLVMInstructionEraseFromParent(call);
        true
    }
}

/// Convert an argument as C's default argument promotions would.
///
/// # Safety
/// `builder` is positioned in a live block; `value` and `to` belong to its context.
unsafe fn convert(
    builder: llvm_sys::prelude::LLVMBuilderRef,
    value: LLVMValueRef,
    to: LLVMTypeRef,
) -> Option<LLVMValueRef> {
    // SAFETY: per the contract.
    unsafe {
        let from = c::LLVMTypeOf(value);
        if from == to {
            return Some(value);
        }
        let name = c"".as_ptr();
        let kinds = (c::LLVMGetTypeKind(from), c::LLVMGetTypeKind(to));
        use LLVMTypeKind::{LLVMIntegerTypeKind as Int, LLVMPointerTypeKind as Ptr};
        Some(match kinds {
            (Int, Int) => {
                let (wf, wt) = (c::LLVMGetIntTypeWidth(from), c::LLVMGetIntTypeWidth(to));
                if wf < wt {
                    c::LLVMBuildSExt(builder, value, to, name)
                } else {
                    c::LLVMBuildTrunc(builder, value, to, name)
                }
            }
            (Ptr, Int) => c::LLVMBuildPtrToInt(builder, value, to, name),
            (Int, Ptr) => c::LLVMBuildIntToPtr(builder, value, to, name),
            _ => return None,
        })
    }
}

/// The zero of an integer or pointer type.
///
/// # Safety
/// `ty` is a live type.
unsafe fn zero(ty: LLVMTypeRef) -> Option<LLVMValueRef> {
    // SAFETY: per the contract.
    unsafe {
        match c::LLVMGetTypeKind(ty) {
            LLVMTypeKind::LLVMIntegerTypeKind | LLVMTypeKind::LLVMPointerTypeKind => {
                Some(c::LLVMConstNull(ty))
            }
            _ => None,
        }
    }
}
