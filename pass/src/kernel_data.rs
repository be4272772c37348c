//! The kernel's mutable globals go to sections of their own, so the image linker
//! script (`sysroot/image.ld`) can gather them into one kernel-only range that system
//! calls refuse as a buffer (`EFAULT`, `sysroot/hal/src/uaccess.rs`).
//!
//! App, std, the libc shim and the kernel are one module, so without this their
//! statics would be interleaved in `.data` and `.bss`, and `read(fd, &KERNEL_STATE,
//! n)` could not be told from `read(fd, &APP_STATE, n)`. The kernel crates cannot mark
//! their own statics (`#[link_section]` is an `unsafe_code` lint, and the kernel is
//! `#![deny(unsafe_code)]`), and a mark on each static would be forgotten on the next
//! one; here every global the kernel crates define is placed, whatever its name.
//!
//! A global is the kernel's when its demangled path starts with one of
//! [`KERNEL_CRATES`]. Only writable data moves: constants stay in `.rodata` (the
//! application may pass read-only memory to `write`; the page tables refuse writes
//! there anyway), thread-locals stay in the TLS template, and globals that already
//! have a section (the hal's stacks and page tables, the PVH note) keep it. The step
//! runs last, after every optimization, so it sees the final globals, including
//! those the optimizer derived from a kernel static (`NAME.0`).

use inkwell::module::Module;
use inkwell::values::{BasicValueEnum, GlobalValue};

use crate::reach::demangle;

pub use crate::reach::side::KERNEL_CRATES;

/// Section of the kernel's zero-initialized globals (a `.bss.` name, so LLVM emits it
/// as `SHT_NOBITS` and it takes no room in the file).
pub const KERNEL_BSS: &str = ".bss.unikernel_kernel";
/// Section of the kernel's other writable globals (not a `.data.` name, which the
/// linker script's `.data` rule would take before its kernel rule sees it).
pub const KERNEL_DATA: &str = ".unikernel_kernel_data";

/// Places every writable global of the kernel crates in [`KERNEL_BSS`] or
/// [`KERNEL_DATA`]. Returns how many globals moved.
pub fn place_kernel_data(module: &Module<'_>) -> usize {
    let mut placed = 0;
    for global in module.get_globals() {
        if !is_movable(global) || !is_kernel_symbol(&global.get_name().to_string_lossy()) {
            continue;
        }
        let zero = global.get_initializer().is_some_and(is_zero);
        global.set_section(Some(if zero { KERNEL_BSS } else { KERNEL_DATA }));
        placed += 1;
    }
    placed
}

/// A writable definition with no section of its own, outside the TLS template.
fn is_movable(global: GlobalValue<'_>) -> bool {
    !global.is_declaration()
        && !global.is_constant()
        && !global.is_thread_local()
        && global.get_section().is_none()
}

/// Whether `symbol` (a mangled name, possibly with an LLVM suffix such as `.0` or
/// `.llvm.123`) belongs to one of the [`KERNEL_CRATES`].
pub fn is_kernel_symbol(symbol: &str) -> bool {
    let path = demangle(symbol);
    KERNEL_CRATES.iter().any(|krate| {
        path.strip_prefix(krate)
            .is_some_and(|rest| rest.starts_with("::"))
    })
}

fn is_zero(value: BasicValueEnum<'_>) -> bool {
    match value {
        BasicValueEnum::ArrayValue(v) => v.is_null(),
        BasicValueEnum::IntValue(v) => v.is_null(),
        BasicValueEnum::FloatValue(v) => v.is_null(),
        BasicValueEnum::PointerValue(v) => v.is_null(),
        BasicValueEnum::StructValue(v) => v.is_null(),
        BasicValueEnum::VectorValue(v) => v.is_null(),
        BasicValueEnum::ScalableVectorValue(v) => v.is_null(),
    }
}

#[cfg(test)]
mod tests {
    use inkwell::context::Context;
    use inkwell::memory_buffer::MemoryBuffer;

    use super::{KERNEL_BSS, KERNEL_DATA, is_kernel_symbol, place_kernel_data};

    #[test]
    fn only_the_kernel_s_writable_globals_move() {
        let ir = r#"
@_ZN16unikernel_kernel6memory6MEMORY17h138b85a5c4c72ce8E = internal global [2 x i64] [i64 1, i64 2]
@_ZN13unikernel_hal4apic4BASE17h4014992acc5b7bc0E.0 = internal global i64 0
@_ZN13unikernel_hal4apic5TABLE17h4014992acc5b7bc0E = internal constant i64 7
@_ZN13unikernel_hal6paging4POOL17h9ee3a46b85cedc4bE = internal global [8 x i8] zeroinitializer, section ".bss.unikernel_page_tables"
@_ZN16unikernel_kernel3TLS17h0123456789abcdefE = internal thread_local global i64 0
@_ZN3app5STATE17h0123456789abcdefE = global i64 3
@_ZN16unikernel_kernel6EXTERN17h0123456789abcdefE = external global i64
"#;
        let context = Context::create();
        let buffer = MemoryBuffer::create_from_memory_range_copy(ir.as_bytes(), "kernel.ll");
        let module = context.create_module_from_ir(buffer).unwrap();
        assert_eq!(place_kernel_data(&module), 2);
        let section = |name: &str| {
            let global = module.get_global(name).unwrap();
            global
                .get_section()
                .map(|s| s.to_string_lossy().into_owned())
        };
        let data = Some(KERNEL_DATA.to_owned());
        let bss = Some(KERNEL_BSS.to_owned());
        assert_eq!(
            section("_ZN16unikernel_kernel6memory6MEMORY17h138b85a5c4c72ce8E"),
            data
        );
        assert_eq!(
            section("_ZN13unikernel_hal4apic4BASE17h4014992acc5b7bc0E.0"),
            bss
        );
        assert_eq!(
            section("_ZN13unikernel_hal4apic5TABLE17h4014992acc5b7bc0E"),
            None
        );
        assert_eq!(
            section("_ZN13unikernel_hal6paging4POOL17h9ee3a46b85cedc4bE"),
            Some(".bss.unikernel_page_tables".to_owned())
        );
        assert_eq!(
            section("_ZN16unikernel_kernel3TLS17h0123456789abcdefE"),
            None
        );
        assert_eq!(section("_ZN3app5STATE17h0123456789abcdefE"), None);
        assert_eq!(
            section("_ZN16unikernel_kernel6EXTERN17h0123456789abcdefE"),
            None
        );
    }

    #[test]
    fn kernel_symbols_by_crate() {
        assert!(is_kernel_symbol(
            "_ZN16unikernel_kernel6memory6MEMORY17h138b85a5c4c72ce8E"
        ));
        assert!(is_kernel_symbol(
            "_ZN13unikernel_hal4apic4BASE17h4014992acc5b7bc0E.0"
        ));
        // Another crate whose name starts like a kernel crate's.
        assert!(!is_kernel_symbol(
            "_ZN20unikernel_kernel_app5STATE17h0123456789abcdefE"
        ));
        assert!(!is_kernel_symbol(
            "_ZN3std2io5stdio6STDOUT17h0123456789abcdefE"
        ));
        assert!(!is_kernel_symbol("environ.0"));
    }
}
