//! Kernel-mode code must not use the red zone.
//!
//! The System V ABI lets a leaf function keep 128 bytes below `rsp` without moving
//! it. In ring 0 an interrupt or exception taken on the current stack pushes its frame
//! right there and would overwrite them (Intel SDM Vol. 3, 6.12.1: no stack switch
//! without a privilege change unless an IST is used). The app and std were compiled for
//! Linux user space, where the red zone is safe, so every function of a unikernel
//! module gets `noredzone` before code generation.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::module::Module;

/// Add `noredzone` to every function definition. Returns how many functions changed.
pub fn disable_red_zone(module: &Module<'_>) -> usize {
    let context = module.get_context();
    let kind = Attribute::get_named_enum_kind_id("noredzone");
    let mut changed = 0;
    for function in module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
    {
        if function
            .get_enum_attribute(AttributeLoc::Function, kind)
            .is_none()
        {
            function.add_attribute(
                AttributeLoc::Function,
                context.create_enum_attribute(kind, 0),
            );
            changed += 1;
        }
    }
    changed
}
