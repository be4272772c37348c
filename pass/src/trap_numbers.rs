//! The system call numbers that can still reach the kernel's dispatchers once the
//! rewrite is done, given to the kernel as a constant so that the optimizer drops
//! every handler only a dispatcher could call.
//!
//! After the rewrite, a constant-number site calls its kernel entry directly; what
//! reaches a dispatcher (`__unikernel_syscall`, `__unikernel_syscall_stub`, the
//! `syscall` trap path) is only what is left: sites whose number is not a constant and
//! the register-frame calls. The kernel's dispatch table checks each arm's number
//! against `__unikernel_trap_numbers` (hal `trap_path.rs`), which the kernel crates
//! declare but never define; [`define_trap_numbers`] defines it, as a constant, with
//! the numbers [`trap_numbers`] found, and folds the table, so the arms no site can
//! reach become the kernel's refusal and their handlers are dropped. In
//! `examples/hello` that is most of the kernel (the network stack, sockets, most of
//! the file system calls), which only the dispatch table kept alive.
//!
//! Sound by construction: one site whose number is unknown, in IR or in module-level
//! asm, or native code the pass cannot read (objects left out of LTO), and every number
//! stays ([`TrapNumbers::All`]).

use std::collections::BTreeSet;

use inkwell::module::{Linkage, Module};
use inkwell::values::{AsValueRef, GlobalValue};
use llvm_sys::core as c;
use llvm_sys::prelude::LLVMValueRef;
use serde::{Deserialize, Serialize};

use crate::syscalls::{self, DISPATCHER as DISPATCHER_NAME, find_syscall_sites};
use crate::{PassError, codegen};

/// The kernel's bitset of the numbers that may reach a dispatcher.
pub const TRAP_NUMBERS: &str = "__unikernel_trap_numbers";
/// Its size in 64-bit words (numbers 0..512; Linux x86-64 ends at 469).
const WORDS: u32 = 8;

/// What may reach the kernel's dispatchers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum TrapNumbers {
    /// Any number: the reason.
    All(String),
    /// Exactly these numbers.
    Only(BTreeSet<u64>),
}

/// The numbers the sites left in `module` can carry to a dispatcher. `native_may_trap`:
/// native code outside the module is linked in, which may issue any system call.
///
/// A site is a call of the dispatcher; but the optimizer may have inlined the
/// dispatcher (or a specialized copy of it) into a caller, whose number is then
/// nowhere to be read. So the table's uses must all lie in the dispatchers or in
/// functions only they call; otherwise every number stays.
pub fn trap_numbers(module: &Module<'_>, native_may_trap: bool) -> TrapNumbers {
    if native_may_trap {
        return TrapNumbers::All("native objects outside LTO are linked in".into());
    }
    if let Some(function) = table_outside_the_dispatchers(module) {
        return TrapNumbers::All(format!(
            "the dispatch table was inlined or copied into {function}"
        ));
    }
    let mut numbers = BTreeSet::new();
    for site in find_syscall_sites(module) {
        match site.number {
            Some(number) => {
                numbers.insert(number);
            }
            None => {
                return TrapNumbers::All(format!(
                    "a system call in {} has a number that is not a constant",
                    site.function
                ));
            }
        }
    }
    for number in syscalls::module_asm_entry_numbers(module) {
        match number {
            Some(number) => {
                numbers.insert(number);
            }
            None => {
                return TrapNumbers::All(
                    "a system call in module-level asm has a number the pass cannot read".into(),
                );
            }
        }
    }
    TrapNumbers::Only(numbers)
}

/// The frame dispatcher (`LSTAR` and the stub), called from module-level asm only.
const FRAME_DISPATCHER: &str = "__unikernel_syscall_frame";

/// A function that reads the table but is neither a dispatcher nor reached only
/// through direct calls from one; `None` when there is none.
fn table_outside_the_dispatchers(module: &Module<'_>) -> Option<String> {
    let table = module.get_global(TRAP_NUMBERS)?;
    // The dispatchers, and the functions module-level asm calls by name: the hal's
    // trap handler, which the `LSTAR` entry and the stub call with the register frame
    // and into which the optimizer inlines the frame dispatcher (the numbers reaching
    // it are the stub and `syscall` sites counted), and the kernel's other asm-entered
    // code (boot, exceptions), which never dispatches a system call.
    let asm = syscalls::module_asm(module);
    let asm_called = asm
        .split(|c: char| !(c.is_ascii_alphanumeric() || matches!(c, '_' | '$' | '.')))
        .filter(|word| !word.is_empty());
    let mut inside: BTreeSet<LLVMValueRef> = [DISPATCHER_NAME, FRAME_DISPATCHER]
        .into_iter()
        .chain(asm_called)
        .filter_map(|name| module.get_function(name))
        .map(|function| function.as_value_ref())
        .collect();
    loop {
        let before = inside.len();
        for function in module.get_functions() {
            let raw = function.as_value_ref();
            // SAFETY: a live function of `module`, which nothing changes meanwhile.
            let only_from_inside = unsafe { called_only_from(raw, &inside) };
            if !inside.contains(&raw) && only_from_inside {
                inside.insert(raw);
            }
        }
        if inside.len() == before {
            break;
        }
    }
    // SAFETY: a live global of `module`, which nothing changes meanwhile.
    let readers = unsafe { functions_using(table.as_value_ref()) };
    let outsider = readers
        .into_iter()
        .find(|reader| !inside.contains(reader))?;
    // SAFETY: a function of `module` found just above.
    Some(unsafe { value_name(outsider) })
}

/// Whether `function` has uses and each is a direct call (or invoke) from a function
/// in `callers`.
///
/// # Safety
/// `function` must be a live function of a module whose other values stay unchanged.
unsafe fn called_only_from(function: LLVMValueRef, callers: &BTreeSet<LLVMValueRef>) -> bool {
    let mut any = false;
    // SAFETY: per the contract; every user is a live value of the same module.
    unsafe {
        let mut use_ = c::LLVMGetFirstUse(function);
        while !use_.is_null() {
            let user = c::LLVMGetUser(use_);
            let is_call =
                !c::LLVMIsACallInst(user).is_null() || !c::LLVMIsAInvokeInst(user).is_null();
            let is_call_from_caller = is_call
                && c::LLVMGetCalledValue(user) == function
                && callers.contains(&c::LLVMGetBasicBlockParent(c::LLVMGetInstructionParent(
                    user,
                )));
            if !is_call_from_caller {
                return false;
            }
            any = true;
            use_ = c::LLVMGetNextUse(use_);
        }
    }
    any
}

/// The functions whose instructions use `value`, directly or through constant
/// expressions (a global's user that is neither is ignored: a global's initializer).
///
/// # Safety
/// `value` must be a live value of a module that stays unchanged during the call.
unsafe fn functions_using(value: LLVMValueRef) -> BTreeSet<LLVMValueRef> {
    let mut functions = BTreeSet::new();
    let mut pending = vec![value];
    // SAFETY: per the contract; users are live values of the same module.
    unsafe {
        while let Some(value) = pending.pop() {
            let mut use_ = c::LLVMGetFirstUse(value);
            while !use_.is_null() {
                let user = c::LLVMGetUser(use_);
                if !c::LLVMIsAInstruction(user).is_null() {
                    functions.insert(c::LLVMGetBasicBlockParent(c::LLVMGetInstructionParent(
                        user,
                    )));
                } else if !c::LLVMIsAConstantExpr(user).is_null() {
                    pending.push(user);
                }
                use_ = c::LLVMGetNextUse(use_);
            }
        }
    }
    functions
}

/// # Safety
/// `value` must be a live value.
unsafe fn value_name(value: LLVMValueRef) -> String {
    let mut len = 0usize;
    // SAFETY: per the contract; LLVM returns a pointer to the name and its length,
    // copied at once.
    unsafe {
        let ptr = c::LLVMGetValueName2(value, &mut len);
        String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
    }
}

/// The bitset's words for `numbers` (all ones for [`TrapNumbers::All`]).
fn words(numbers: &TrapNumbers) -> [u64; WORDS as usize] {
    match numbers {
        TrapNumbers::All(_) => [u64::MAX; WORDS as usize],
        TrapNumbers::Only(set) => {
            let mut words = [0u64; WORDS as usize];
            for &number in set {
                if let Some(word) = words.get_mut((number / 64) as usize) {
                    *word |= 1 << (number % 64);
                }
            }
            words
        }
    }
}

/// Defines [`TRAP_NUMBERS`] in `module` as an internal constant holding `numbers`
/// (replacing the kernel's declaration), then, when that leaves numbers out, folds the
/// dispatch table and drops what it no longer calls. Returns whether the module
/// declared the table (a module without the kernel does not).
pub fn define_trap_numbers(module: &Module<'_>, numbers: &TrapNumbers) -> Result<bool, PassError> {
    let Some(declared) = module.get_global(TRAP_NUMBERS) else {
        return Ok(false);
    };
    let i64_type = module.get_context().i64_type();
    let values: Vec<_> = words(numbers)
        .iter()
        .map(|&word| i64_type.const_int(word, false))
        .collect();
    let table = module.add_global(i64_type.array_type(WORDS), None, "");
    table.set_initializer(&i64_type.const_array(&values));
    table.set_constant(true);
    table.set_linkage(Linkage::Internal);
    replace(declared, table);
    table.set_name(TRAP_NUMBERS);
    if matches!(numbers, TrapNumbers::Only(_)) {
        codegen::run_pipeline(module, "function(instsimplify,simplifycfg),globaldce")?;
    }
    Ok(true)
}

/// Points every use of `old` at `new` and deletes `old` (its type may differ from
/// `new`'s: with opaque pointers a use is just the address).
fn replace<'ctx>(old: GlobalValue<'ctx>, new: GlobalValue<'ctx>) {
    old.as_pointer_value()
        .replace_all_uses_with(new.as_pointer_value());
    // SAFETY: `old` has no uses left and is not referenced by anything else of ours.
    unsafe { old.delete() };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn words_set_one_bit_per_number() {
        let only = TrapNumbers::Only([0, 15, 56, 64, 469].into_iter().collect());
        let set = words(&only);
        assert_eq!(set[0], 1 | 1 << 15 | 1 << 56);
        assert_eq!(set[1], 1);
        assert_eq!(set[7], 1 << (469 - 448));
        assert_eq!(words(&TrapNumbers::All(String::new())), [u64::MAX; 8]);
    }
}
