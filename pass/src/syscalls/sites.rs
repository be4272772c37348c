//! The analysis: every system call site of a module, and what the rewrite needs to
//! know about it. Nothing is modified here.

use inkwell::module::Module;
use inkwell::types::{AnyTypeEnum, BasicTypeEnum, FunctionType};
use inkwell::values::{
    AsValueRef, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue, InstructionOpcode,
    InstructionValue,
};

use super::asm::{self, AsmLayout};
use super::table::{entry_symbol, syscall_name};
use super::{DISPATCHER, ENTRY_PREFIX, LIBC_SYSCALL, Obstacle, SiteKind};

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
    /// The kernel entry for `number`, when the module defines it with the documented
    /// type.
    pub(super) entry: Option<FunctionValue<'ctx>>,
    pub(super) call: InstructionValue<'ctx>,
    pub(super) operands: Operands,
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

/// The kernel entry for syscall `number`, if the module defines it with the documented
/// type.
pub(super) fn kernel_entry<'ctx>(
    module: &Module<'ctx>,
    number: u64,
) -> Option<FunctionValue<'ctx>> {
    let function = module.get_function(&entry_symbol(syscall_name(number)?))?;
    (function.count_basic_blocks() > 0 && function.get_type() == entry_type(module))
        .then_some(function)
}

/// The kernel's syscall functions the module defines: every `__unikernel_sys_*` entry
/// and the dispatcher. A later run of the rewrite can only target an entry that still
/// exists, and once internal, an entry whose one caller is the dispatcher's `match` is
/// inlined into it and deleted by the optimizer; so the driver keeps these external
/// (see [`crate::internalize::KeepSet::extend`]) until the last run.
pub fn kernel_entry_points(module: &Module<'_>) -> Vec<String> {
    module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .map(|f| f.get_name().to_string_lossy().into_owned())
        .filter(|name| name.starts_with(ENTRY_PREFIX) || name == DISPATCHER)
        .collect()
}

/// Every syscall site of `module`, in module order: inline asm containing a `syscall`
/// instruction, calls of libc `syscall` with the shim's fixed-arity type, and calls of
/// the dispatcher. Asm without a `syscall` instruction is not a site.
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
    let (kind, number_arg, operands) = match inline_asm(inst) {
        Some((template, constraints)) => {
            if asm::count_syscall_instructions(&template) == 0 {
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
    })
}

/// The template and constraint string of an inline-asm call, or `None` for any other
/// callee.
fn inline_asm(inst: InstructionValue<'_>) -> Option<(String, String)> {
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

/// Where `rax` is among the asm's results; the scratch outputs (`rcx`, `r11`, which
/// rustc lowers `out("rcx") _` to) must be unread, since a call does not produce them.
fn result_slot(
    inst: InstructionValue<'_>,
    layout: &AsmLayout,
    constraints: &str,
) -> Result<ResultSlot, Obstacle> {
    let scratch: Vec<u32> = layout.scratch_outputs().map(|i| i as u32).collect();
    let unread = || Obstacle::Output(constraints.to_owned());
    match inst.get_type() {
        AnyTypeEnum::VoidType(_) => Ok(ResultSlot::Unused),
        AnyTypeEnum::StructType(fields) => {
            let mut use_ = inst.get_first_use();
            while let Some(u) = use_ {
                let user = BasicValueEnum::try_from(u.get_user())
                    .ok()
                    .and_then(|v| v.as_instruction_value());
                let field = user
                    .filter(|user| user.get_opcode() == InstructionOpcode::ExtractValue)
                    .and_then(|user| user.get_indices().first().copied());
                // Anything but an extractvalue of a non-scratch field needs the whole
                // struct, scratch fields included.
                if field.is_none_or(|f| scratch.contains(&f)) {
                    return Err(unread());
                }
                use_ = u.get_next_use();
            }
            match layout.result() {
                Some(index) => {
                    let index = index as u32;
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

/// `syscall` instructions in the module-level asm (naked functions live there).
pub(super) fn module_asm_syscalls(module: &Module<'_>) -> usize {
    let mut len = 0usize;
    // SAFETY: `module` is live; LLVM returns a pointer to its module asm string and the
    // length, which is copied before the module is touched again. inkwell exposes only
    // a setter.
    let text = unsafe {
        let ptr = llvm_sys::core::LLVMGetModuleInlineAsm(module.as_mut_ptr(), &mut len);
        if ptr.is_null() {
            return 0;
        }
        String::from_utf8_lossy(std::slice::from_raw_parts(ptr.cast::<u8>(), len)).into_owned()
    };
    asm::count_syscall_instructions(&text)
}
