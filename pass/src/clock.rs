//! Images: the libc shim's clock read wired to the kernel's, so `clock_gettime` costs
//! a TSC read and a scale, inlined into the caller.
//!
//! On Linux, `clock_gettime` skips the system call through the vDSO, a function the
//! kernel maps into the process. In the image the shim and the kernel are one module,
//! so the function is simply the kernel's `__unikernel_clock_now`; but the shim is
//! the same bitcode for hosted builds, where the kernel is absent and a reference to it
//! would not link. So the shim reads a word, `__unikernel_shim_clock` (0: no kernel
//! clock), and this step replaces that word with a constant holding the kernel
//! function's address. The optimizer then folds the load, turns the indirect call into
//! a direct one and inlines it. In hosted builds nothing replaces the word, no one
//! stores to it, and the optimizer folds it to 0 instead, dropping the branch.
//!
//! Runs before the first internalization and optimization (`pipeline.rs`).

use inkwell::module::{Linkage, Module};

/// The shim's word (`shims/src/vdso.rs`).
pub const SHIM_CLOCK: &str = "__unikernel_shim_clock";
/// The kernel's clock read (`sysroot/kernel/src/time.rs`).
pub const KERNEL_CLOCK: &str = "__unikernel_clock_now";

/// Point the shim's clock word at the kernel's clock read. Returns whether it did
/// (false when either side is missing, e.g. a module without the shim or the kernel).
pub fn wire_clock(module: &Module<'_>) -> bool {
    let (Some(word), Some(clock)) = (
        module.get_global(SHIM_CLOCK),
        module.get_function(KERNEL_CLOCK),
    ) else {
        return false;
    };
    if word.is_declaration() || clock.as_global_value().is_declaration() {
        return false;
    }
    let int = module.get_context().i64_type();
    let address = clock.as_global_value().as_pointer_value().const_to_int(int);
    let wired = module.add_global(int, None, &format!("{SHIM_CLOCK}.wired"));
    wired.set_initializer(&address);
    wired.set_constant(true);
    wired.set_linkage(Linkage::Private);
    wired.set_alignment(8);
    word.as_pointer_value()
        .replace_all_uses_with(wired.as_pointer_value());
    true
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;

    use super::*;
    use crate::codegen::{OptLevel, optimize};

    const SHIM_AND_KERNEL: &str = r#"
@__unikernel_shim_clock = global [8 x i8] zeroinitializer, align 8

define i64 @__unikernel_clock_now(i32 %clock) {
  %t = call i64 @llvm.readcyclecounter()
  %ns = mul i64 %t, 3
  ret i64 %ns
}

define i64 @now() {
  %address = load i64, ptr @__unikernel_shim_clock, align 8
  %none = icmp eq i64 %address, 0
  br i1 %none, label %slow, label %fast
fast:
  %f = inttoptr i64 %address to ptr
  %ns = call i64 %f(i32 1)
  ret i64 %ns
slow:
  ret i64 -1
}

declare i64 @llvm.readcyclecounter()
"#;

    fn optimized() -> String {
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(SHIM_AND_KERNEL.as_bytes(), "t");
        let module = context.create_module_from_ir(buffer).unwrap();
        assert!(wire_clock(&module));
        module.verify().unwrap();
        optimize(&module, OptLevel::Full).unwrap();
        let text = module.print_to_string().to_string();
        let start = text.find("@now(").expect("now is defined");
        let end = text[start..].find("\n}").map_or(text.len(), |e| start + e);
        text[start..end].to_owned()
    }

    #[test]
    fn the_wired_clock_is_inlined_into_the_caller() {
        let now = optimized();
        assert!(now.contains("llvm.readcyclecounter"), "{now}");
        assert!(
            !now.contains("inttoptr") && !now.contains("ret i64 -1"),
            "{now}"
        );
    }

    #[test]
    fn without_the_kernel_nothing_is_wired() {
        let context = Context::create();
        let module = context.create_module("shim only");
        assert!(!wire_clock(&module));
    }
}
