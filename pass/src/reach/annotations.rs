//! The statics the `#[unikernel::...]` attributes leave in the module, one per
//! annotated function and property: a `#[used]` static holding the function's
//! address, in a section that names the property (the `unikernel` crate writes them;
//! keep the two in sync):
//!
//! | section | property |
//! |---------|----------|
//! | `.unikernel.no_syscalls` | [`Property::NoSyscalls`] |
//! | `.unikernel.no_alloc` | [`Property::NoAlloc`] |
//! | `.unikernel.no_panic` | [`Property::NoPanic`] |
//! | `.unikernel.syscalls=read,write` | [`Property::Syscalls`] |
//! | `.unikernel.max_stack=4096` | [`Property::MaxStack`] |
//!
//! [`annotated_functions`] finds them after optimization (the static keeps the
//! function alive and out of line), and [`strip_annotation_marks`] deletes them before
//! code generation (the image's linker script has no place for these sections).

use inkwell::module::Module;
use inkwell::values::{AsValueRef, FunctionValue, GlobalValue};
use llvm_sys::prelude::LLVMValueRef;
use serde::{Deserialize, Serialize};

/// The section of the `#[unikernel::no_syscalls]` statics.
pub const NO_SYSCALLS_SECTION: &str = ".unikernel.no_syscalls";

/// What every annotation section starts with.
const SECTION_PREFIX: &str = ".unikernel.";

/// A property an attribute states about a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "property")]
pub enum Property {
    /// No system call is reachable.
    NoSyscalls,
    /// No allocator function (and no `mmap`, `mremap`, `brk`) is reachable.
    NoAlloc,
    /// No panic or abort function is reachable.
    NoPanic,
    /// Every reachable system call is one of these (Linux names).
    Syscalls { allowed: Vec<String> },
    /// The worst-case stack use is at most this many bytes.
    MaxStack { bytes: u64 },
}

impl Property {
    /// The property as the attribute is written: `#[unikernel::syscalls(read, write)]`.
    pub fn attribute(&self) -> String {
        match self {
            Property::NoSyscalls => "#[unikernel::no_syscalls]".into(),
            Property::NoAlloc => "#[unikernel::no_alloc]".into(),
            Property::NoPanic => "#[unikernel::no_panic]".into(),
            Property::Syscalls { allowed } => {
                format!("#[unikernel::syscalls({})]", allowed.join(", "))
            }
            Property::MaxStack { bytes } => format!("#[unikernel::max_stack({bytes})]"),
        }
    }

    /// The property a section names; `None` for any other section.
    pub fn of_section(section: &str) -> Option<Self> {
        let rest = section.strip_prefix(SECTION_PREFIX)?;
        Some(match rest.split_once('=') {
            None if rest == "no_syscalls" => Property::NoSyscalls,
            None if rest == "no_alloc" => Property::NoAlloc,
            None if rest == "no_panic" => Property::NoPanic,
            Some(("syscalls", list)) => Property::Syscalls {
                allowed: list
                    .split(',')
                    .filter(|n| !n.is_empty())
                    .map(str::to_owned)
                    .collect(),
            },
            Some(("max_stack", bytes)) => Property::MaxStack {
                bytes: bytes.parse().ok()?,
            },
            _ => return None,
        })
    }
}

/// The property of an annotation static, if `global` is one.
pub fn property_of(global: GlobalValue<'_>) -> Option<Property> {
    Property::of_section(global.get_section()?.to_str().ok()?)
}

/// The annotated functions, in the module's order of their statics:
/// `(static, function, property)`.
pub fn annotated_functions<'ctx>(
    module: &Module<'ctx>,
) -> Vec<(GlobalValue<'ctx>, FunctionValue<'ctx>, Property)> {
    let mut found = Vec::new();
    for global in module.get_globals() {
        let Some(property) = property_of(global) else {
            continue;
        };
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
            property,
        ));
    }
    found
}

/// Delete the annotation statics (and their entries in `llvm.used` and
/// `llvm.compiler.used`); returns how many.
pub fn strip_annotation_marks(module: &Module<'_>) -> usize {
    let marks: Vec<LLVMValueRef> = module
        .get_globals()
        .filter(|g| property_of(*g).is_some())
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

#[cfg(test)]
mod tests {
    use super::Property;

    #[test]
    fn sections_name_their_properties() {
        assert_eq!(
            Property::of_section(".unikernel.no_alloc"),
            Some(Property::NoAlloc)
        );
        assert_eq!(
            Property::of_section(".unikernel.syscalls=read,write"),
            Some(Property::Syscalls {
                allowed: vec!["read".into(), "write".into()]
            })
        );
        assert_eq!(
            Property::of_section(".unikernel.syscalls="),
            Some(Property::Syscalls { allowed: vec![] })
        );
        assert_eq!(
            Property::of_section(".unikernel.max_stack=512"),
            Some(Property::MaxStack { bytes: 512 })
        );
        for other in [
            ".unikernel.max_stack=x",
            ".unikernel.kdata",
            ".data",
            "no_alloc",
        ] {
            assert_eq!(Property::of_section(other), None, "{other}");
        }
    }
}
