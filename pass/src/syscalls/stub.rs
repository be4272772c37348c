//! Entering the kernel without a `syscall` instruction: asm that keeps the syscall's
//! register convention, with the instruction replaced by `call __unikernel_syscall_stub`
//! (see [`super::SYSCALL_STUB`]).
//!
//! The stub clobbers exactly what the instruction does (`rcx`, `r11`) plus the flags,
//! which Linux restores on `sysret` and the stub need not; so every asm that gets the
//! call also gets a `~{flags}` clobber.

use inkwell::module::Module;
use inkwell::values::{AsValueRef, InstructionValue, PointerValue};

use super::asm;
use super::sites::dispatcher_type;

/// The constraints of [`kernel_entry_asm`]: `nr, a0..a5` in `rax, rdi, rsi, rdx, r10,
/// r8, r9`, the result in `rax`, and what the instruction (and the stub) clobbers.
const KERNEL_ENTRY_CONSTRAINTS: &str =
    "={ax},{ax},{di},{si},{dx},{r10},{r8},{r9},~{rcx},~{r11},~{memory},~{dirflag},~{fpsr},~{flags}";

/// Replace the `syscall` instructions of the inline asm that `call` calls with stub
/// calls. The call keeps its operands, attributes and metadata; only its callee changes.
pub(super) fn call_stub_in_asm(call: InstructionValue<'_>) {
    // SAFETY: `call` is a live call/invoke/callbr whose callee the analysis found to be
    // inline asm (`LLVMIsAInlineAsm`); its properties are read with the inline-asm
    // accessors and copied before the new asm is created. The new asm has the same
    // function type, so it can take the place of the old one as the called operand
    // (the last operand of every call-like instruction).
    unsafe {
        use llvm_sys::core as llvm;
        let raw = call.as_value_ref();
        let old = llvm::LLVMGetCalledValue(raw);
        let read = |get: unsafe extern "C" fn(_, *mut usize) -> *const std::ffi::c_char| {
            let mut len = 0usize;
            let ptr = get(old, &mut len);
            if ptr.is_null() {
                return String::new();
            }
            String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
        };
        let (template, _) =
            asm::replace_syscall_instructions(&read(llvm::LLVMGetInlineAsmAsmString));
        let constraints = with_flags_clobber(&read(llvm::LLVMGetInlineAsmConstraintString));
        let new = llvm::LLVMGetInlineAsm(
            llvm::LLVMGetInlineAsmFunctionType(old),
            template.as_ptr().cast(),
            template.len(),
            constraints.as_ptr().cast(),
            constraints.len(),
            llvm::LLVMGetInlineAsmHasSideEffects(old),
            llvm::LLVMGetInlineAsmNeedsAlignedStack(old),
            llvm::LLVMGetInlineAsmDialect(old),
            llvm::LLVMGetInlineAsmCanUnwind(old),
        );
        let callee = llvm::LLVMGetNumOperands(raw) - 1;
        llvm::LLVMSetOperand(raw, callee as u32, new);
    }
}

/// `constraints` with a `~{flags}` clobber, unless it has one.
fn with_flags_clobber(constraints: &str) -> String {
    let has = constraints.split(',').any(|c| {
        matches!(
            c.trim().to_ascii_lowercase().as_str(),
            "~{flags}" | "~{eflags}"
        )
    });
    match (has, constraints.trim().is_empty()) {
        (true, _) => constraints.to_owned(),
        (false, true) => "~{flags}".to_owned(),
        (false, false) => format!("{constraints},~{{flags}}"),
    }
}

/// `i64 asm sideeffect "<call of the stub | syscall>"` taking `nr, a0..a5` in the
/// syscall registers: what a libc or dispatcher call of a register-frame syscall
/// becomes. With `stub` false the instruction is `syscall` itself (the trap path).
pub(super) fn kernel_entry_asm<'ctx>(module: &Module<'ctx>, stub: bool) -> PointerValue<'ctx> {
    let template = if stub {
        asm::stub_call()
    } else {
        "syscall".to_owned()
    };
    module.get_context().create_inline_asm(
        dispatcher_type(module),
        template,
        KERNEL_ENTRY_CONSTRAINTS.to_owned(),
        true,
        false,
        None,
        false,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn flags_clobber_added_once() {
        assert_eq!(with_flags_clobber("={ax},{ax}"), "={ax},{ax},~{flags}");
        assert_eq!(with_flags_clobber(""), "~{flags}");
        let rustc = "={ax},{ax},~{memory},~{dirflag},~{fpsr},~{flags}";
        assert_eq!(with_flags_clobber(rustc), rustc);
    }
}
