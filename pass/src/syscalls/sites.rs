//! The analysis: every system call site of a module, and what the rewrite needs to
//! know about it. Nothing is modified here.

use inkwell::module::Module;
use inkwell::types::{AnyTypeEnum, BasicTypeEnum, FunctionType};
use inkwell::values::{
    AsValueRef, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, InstructionOpcode,
    InstructionValue,
};

use super::asm::{self, AsmLayout};
use super::{
    DISPATCHER, ENOSYS_PREFIX, ENTRY_PREFIX, KernelEntry, LIBC_SYSCALL, Obstacle, SYSCALL_STUB,
    SiteKind, entry_symbol, needs_register_frame, syscall_name,
};

/// One call that enters the kernel.
#[derive(Debug, Clone)]
pub struct SyscallSite<'ctx> {
    /// The function that contains the call.
    pub function: String,
    pub kind: SiteKind,
    /// The syscall number, if the operand is a constant.
    pub number: Option<u64>,
    /// Why the site cannot be rewritten; `None` if it can.
    pub obstacle: Option<Obstacle>,
    /// The kernel entry for `number` (`__unikernel_sys_NAME`, else
    /// `__unikernel_enosys_NAME`), when the module defines it with the documented type
    /// and the site can call it.
    pub(super) entry: Option<(FunctionValue<'ctx>, KernelEntry)>,
    pub(super) call: InstructionValue<'ctx>,
    pub(super) operands: Operands,
    /// `syscall` instructions in the asm template (0 for other kinds, and for asm whose
    /// instructions an earlier run already replaced by stub calls).
    pub(super) syscall_instructions: usize,
}

impl SyscallSite<'_> {
    pub fn rewritable(&self) -> bool {
        self.obstacle.is_none()
    }

    /// The Linux name of the number.
    pub fn name(&self) -> Option<&'static str> {
        self.number.and_then(syscall_name)
    }
}

/// Which call arguments hold the number and the six arguments, and where the result
/// (`rax`) is among the call's results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Operands {
    pub number: u32,
    pub args: [Option<u32>; 6],
    pub result: ResultSlot,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ResultSlot {
    /// The call returns nothing the program reads as `rax`.
    Unused,
    /// The call's value is `rax`.
    Whole,
    /// The call returns a struct whose field N is `rax`.
    Field(u32),
}

impl Operands {
    /// `f(nr, a0, .., a5) -> i64`: libc `syscall` and the dispatcher.
    const FIXED_ARITY: Self = Operands {
        number: 0,
        args: [Some(1), Some(2), Some(3), Some(4), Some(5), Some(6)],
        result: ResultSlot::Whole,
    };

    const UNUSED: Self = Operands {
        number: 0,
        args: [None; 6],
        result: ResultSlot::Unused,
    };
}

/// The documented types: entries `i64 (i64 x 6)`, dispatcher and libc `syscall`
/// `i64 (i64 x 7)`.
pub(super) fn entry_type<'ctx>(module: &Module<'ctx>) -> FunctionType<'ctx> {
    let i64_type = module.get_context().i64_type();
    i64_type.fn_type(&[i64_type.into(); 6], false)
}

pub(super) fn dispatcher_type<'ctx>(module: &Module<'ctx>) -> FunctionType<'ctx> {
    let i64_type = module.get_context().i64_type();
    i64_type.fn_type(&[i64_type.into(); 7], false)
}

/// The kernel entry a site with constant `number` may call: `__unikernel_sys_NAME` if
/// the module defines it with the documented type, else `__unikernel_enosys_NAME`.
/// Register-frame syscalls have none.
pub(super) fn kernel_entry<'ctx>(
    module: &Module<'ctx>,
    number: u64,
) -> Option<(FunctionValue<'ctx>, KernelEntry)> {
    if needs_register_frame(number) {
        return None;
    }
    let name = syscall_name(number)?;
    let defined = |symbol: String| {
        let function = module.get_function(&symbol)?;
        (function.count_basic_blocks() > 0 && function.get_type() == entry_type(module))
            .then_some(function)
    };
    defined(entry_symbol(name))
        .map(|f| (f, KernelEntry::Sys))
        .or_else(|| defined(format!("{ENOSYS_PREFIX}{name}")).map(|f| (f, KernelEntry::Enosys)))
}

/// How the kernel is entered for constant `number` (for the list of reached syscalls).
pub(super) fn kernel_support(module: &Module<'_>, number: u64) -> KernelEntry {
    if needs_register_frame(number) {
        return KernelEntry::RegisterFrame;
    }
    kernel_entry(module, number).map_or(KernelEntry::Dispatcher, |(_, kind)| kind)
}

/// The kernel's syscall functions the module defines: every `__unikernel_sys_*` and
/// `__unikernel_enosys_*` entry and the dispatcher. A later run of the rewrite can only target an entry that still
/// exists, and once internal, an entry whose one caller is the dispatcher's `match` is
/// inlined into it and deleted by the optimizer; so the driver keeps these external
/// (see [`crate::internalize::KeepSet::extend`]) until the last run.
pub fn kernel_entry_points(module: &Module<'_>) -> Vec<String> {
    module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .filter(|name| {
            name.starts_with(ENTRY_PREFIX) || name.starts_with(ENOSYS_PREFIX) || name == DISPATCHER
        })
        .collect()
}

/// Every syscall site of `module`, in module order: inline asm containing a `syscall`
/// instruction (or the stub call an earlier run put in its place), calls of libc
/// `syscall` with the shim's fixed-arity type, and calls of the dispatcher. Asm without
/// either instruction is not a site.
pub fn find_syscall_sites<'ctx>(module: &Module<'ctx>) -> Vec<SyscallSite<'ctx>> {
    // A dispatcher of another type cannot be called; sites that would need it stay.
    let dispatcher_usable = module
        .get_function(DISPATCHER)
        .is_none_or(|f| f.get_type() == dispatcher_type(module));
    let mut sites = Vec::new();
    for function in module.get_functions() {
        for block in function.get_basic_block_iter() {
            for inst in block.get_instructions() {
                let Some(mut site) = classify(module, inst) else {
                    continue;
                };
                site.function = function.get_name().to_string_lossy().into_owned();
                let needs_dispatcher = site.entry.is_none() && site.kind != SiteKind::Dispatcher;
                if site.obstacle.is_none() && needs_dispatcher && !dispatcher_usable {
                    site.obstacle = Some(Obstacle::DispatcherSignature);
                }
                sites.push(site);
            }
        }
    }
    sites
}

fn classify<'ctx>(
    module: &Module<'ctx>,
    inst: InstructionValue<'ctx>,
) -> Option<SyscallSite<'ctx>> {
    let opcode = inst.get_opcode();
    if !matches!(
        opcode,
        InstructionOpcode::Call | InstructionOpcode::Invoke | InstructionOpcode::CallBr
    ) {
        return None;
    }
    // The number's operand is known whenever the constraints parse, so trap-path
    // sites still report the syscall they make.
    let mut syscall_instructions = 0;
    let (kind, number_arg, operands) = match inline_asm(inst) {
        Some((template, constraints)) => {
            syscall_instructions = asm::count_syscall_instructions(&template);
            if syscall_instructions + asm::count_stub_calls(&template) == 0 {
                return None;
            }
            let (number_arg, operands) = asm_operands(inst, &template, &constraints);
            (SiteKind::InlineAsm, number_arg, operands)
        }
        None => {
            let callee = CallSiteValue::try_from(inst).ok()?.get_called_fn_value()?;
            let kind = match callee.get_name().to_bytes() {
                b if b == LIBC_SYSCALL.as_bytes() => SiteKind::LibcCall,
                b if b == DISPATCHER.as_bytes() => SiteKind::Dispatcher,
                _ => return None,
            };
            if opcode != InstructionOpcode::Call || callee.get_type() != dispatcher_type(module) {
                return None;
            }
            (
                kind,
                Some(Operands::FIXED_ARITY.number),
                Ok(Operands::FIXED_ARITY),
            )
        }
    };
    let number = number_arg.and_then(|index| constant_operand(inst, index));
    let (operands, obstacle) = match operands {
        // The operands are still needed: a libc or dispatcher call of a register-frame
        // syscall becomes asm that passes them in registers.
        Ok(operands) if number.is_some_and(needs_register_frame) => {
            (operands, Some(Obstacle::RegisterFrame))
        }
        Ok(operands) => (operands, None),
        // Never rewritten, so the operands are never read.
        Err(obstacle) => (Operands::UNUSED, Some(obstacle)),
    };
    let entry = if obstacle.is_none() {
        number.and_then(|n| kernel_entry(module, n))
    } else {
        None
    };
    Some(SyscallSite {
        function: String::new(),
        kind,
        number,
        obstacle,
        entry,
        call: inst,
        operands,
        syscall_instructions,
    })
}

/// The template and constraint string of an inline-asm call, or `None` for any other
/// callee.
pub(crate) fn inline_asm(inst: InstructionValue<'_>) -> Option<(String, String)> {
    // SAFETY: `inst` is a live call/invoke/callbr (checked by the caller), so it has a
    // called operand; the asm accessors are used only on a value `LLVMIsAInlineAsm`
    // accepted, and copy the returned (pointer, length) strings before anything else
    // touches the module. inkwell has no accessors for inline asm.
    unsafe {
        let callee = llvm_sys::core::LLVMGetCalledValue(inst.as_value_ref());
        if llvm_sys::core::LLVMIsAInlineAsm(callee).is_null() {
            return None;
        }
        let read = |get: unsafe extern "C" fn(_, *mut usize) -> *const std::ffi::c_char| {
            let mut len = 0usize;
            let ptr = get(callee, &mut len);
            if ptr.is_null() {
                return String::new();
            }
            let bytes = std::slice::from_raw_parts(ptr.cast::<u8>(), len);
            String::from_utf8_lossy(bytes).into_owned()
        };
        Some((
            read(llvm_sys::core::LLVMGetInlineAsmAsmString),
            read(llvm_sys::core::LLVMGetInlineAsmConstraintString),
        ))
    }
}

/// The call argument holding the number, if the constraints say, and the asm call's
/// operands mapped onto the syscall ABI, or why it cannot be rewritten.
fn asm_operands(
    inst: InstructionValue<'_>,
    template: &str,
    constraints: &str,
) -> (Option<u32>, Result<Operands, Obstacle>) {
    let layout = match asm::parse_constraints(constraints) {
        Ok(layout) => layout,
        Err(obstacle) if asm::is_bare_syscall(template) => return (None, Err(obstacle)),
        // A longer template may load rax itself: its constraints say nothing.
        Err(_) => return (None, Err(Obstacle::Template)),
    };
    let number_arg = asm::is_bare_syscall(template).then_some(layout.number);
    (
        number_arg,
        bare_asm_operands(inst, template, constraints, layout),
    )
}

fn bare_asm_operands(
    inst: InstructionValue<'_>,
    template: &str,
    constraints: &str,
    layout: AsmLayout,
) -> Result<Operands, Obstacle> {
    if !asm::is_bare_syscall(template) {
        return Err(Obstacle::Template);
    }
    if inst.get_opcode() != InstructionOpcode::Call {
        return Err(Obstacle::NotACall);
    }
    for index in std::iter::once(layout.number).chain(layout.args.iter().flatten().copied()) {
        let operand = call_argument(inst, index)
            .ok_or_else(|| Obstacle::Constraint(constraints.to_owned()))?;
        check_register_type(operand.get_type())?;
    }
    Ok(Operands {
        number: layout.number,
        args: layout.args,
        result: result_slot(inst, &layout, constraints)?,
    })
}

/// Where `rax` is among the asm's results. The scratch outputs (`rcx`, `r11`, which
/// rustc lowers `out("rcx") _` to) must be unread, since a call does not produce them;
/// the struct may flow through phis, selects and freezes (the optimizer merges the
/// results of several sites, and freezes them) as long as no field but `rax` is
/// extracted from it anywhere.
fn result_slot(
    inst: InstructionValue<'_>,
    layout: &AsmLayout,
    constraints: &str,
) -> Result<ResultSlot, Obstacle> {
    let unread = || Obstacle::Output(constraints.to_owned());
    match inst.get_type() {
        AnyTypeEnum::VoidType(_) => Ok(ResultSlot::Unused),
        AnyTypeEnum::StructType(fields) => {
            let rax = layout.result().map(|index| index as u32);
            if !only_field_read(inst, rax) {
                return Err(unread());
            }
            match rax {
                Some(index) => {
                    let ty = fields.get_field_type_at_index(index).ok_or_else(unread)?;
                    check_register_type(ty)?;
                    Ok(ResultSlot::Field(index))
                }
                None => Ok(ResultSlot::Unused),
            }
        }
        other => match (layout.result(), BasicTypeEnum::try_from(other)) {
            (Some(_), Ok(ty)) => check_register_type(ty).map(|()| ResultSlot::Whole),
            (None, _) if inst.get_first_use().is_none() => Ok(ResultSlot::Unused),
            _ => Err(unread()),
        },
    }
}

/// Whether every read of the struct `value` (through phis, selects and freezes that
/// pass it on whole) extracts field `field` and nothing else.
fn only_field_read(value: InstructionValue<'_>, field: Option<u32>) -> bool {
    let mut seen = vec![value];
    let mut work = vec![value];
    while let Some(value) = work.pop() {
        for user in users(value) {
            match user.get_opcode() {
                InstructionOpcode::ExtractValue => {
                    if user.get_indices().first().copied() != field || field.is_none() {
                        return false;
                    }
                }
                // A select's condition is an i1, never the struct: the struct is one of
                // the values it passes on.
                InstructionOpcode::Phi | InstructionOpcode::Select | InstructionOpcode::Freeze => {
                    if !seen.contains(&user) {
                        seen.push(user);
                        work.push(user);
                    }
                }
                // Stores, calls, returns, insertvalue: the whole struct escapes.
                _ => return false,
            }
        }
    }
    true
}

/// The instructions that use `value`, once per use.
pub(super) fn users<'ctx>(value: InstructionValue<'ctx>) -> Vec<InstructionValue<'ctx>> {
    let mut users = Vec::new();
    let mut use_ = value.get_first_use();
    while let Some(u) = use_ {
        if let Some(user) = BasicValueEnum::try_from(u.get_user())
            .ok()
            .and_then(|v| v.as_instruction_value())
        {
            users.push(user);
        }
        use_ = u.get_next_use();
    }
    users
}

/// The syscall registers hold 64-bit integers; narrower integers and pointers convert.
fn check_register_type(ty: BasicTypeEnum<'_>) -> Result<(), Obstacle> {
    match ty {
        BasicTypeEnum::IntType(int) if int.get_bit_width() <= 64 => Ok(()),
        BasicTypeEnum::PointerType(_) => Ok(()),
        other => Err(Obstacle::OperandType(other.to_string())),
    }
}

pub(super) fn call_argument<'ctx>(
    inst: InstructionValue<'ctx>,
    index: u32,
) -> Option<BasicValueEnum<'ctx>> {
    let count = CallSiteValue::try_from(inst).ok()?.count_arguments();
    if index >= count {
        return None;
    }
    inst.get_operand(index)?.value()
}

fn constant_operand(inst: InstructionValue<'_>, index: u32) -> Option<u64> {
    match call_argument(inst, index)? {
        BasicValueEnum::IntValue(value) => value.get_zero_extended_constant(),
        _ => None,
    }
}

/// The module-level asm (naked functions and `global_asm!` live there).
pub(crate) fn module_asm(module: &Module<'_>) -> String {
    let mut len = 0usize;
    // SAFETY: `module` is live; LLVM returns a pointer to its module asm string and the
    // length, which is copied before the module is touched again. inkwell exposes only
    // a setter.
    unsafe {
        let ptr = llvm_sys::core::LLVMGetModuleInlineAsm(module.as_mut_ptr(), &mut len);
        if ptr.is_null() {
            return String::new();
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
    }
}

/// Whether the module defines the kernel's [`SYSCALL_STUB`]: a label of that name in
/// its module-level asm (the stub is asm, there is no IR function to look for).
pub fn defines_syscall_stub(module: &Module<'_>) -> bool {
    asm::defines_label(&module_asm(module), SYSCALL_STUB)
}
