//! The transform: each rewritable site becomes a call of its kernel entry or of the
//! dispatcher.
//!
//! Arguments are passed as the registers would carry them: narrower integers are
//! zero-extended, pointers converted with `ptrtoint`, registers the site leaves unset
//! are 0. The call's `i64` result takes the place of `rax`.
//!
//! libc's `syscall` returns -1 and sets `errno` on failure, where the kernel returns
//! `-errno` (syscall(2)). A rewritten libc call therefore passes the kernel's result
//! through [`LIBC_ERRNO_ADAPTER`], an internal always-inline function this stage adds
//! that does what the shim's own `syscall` does.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::{Builder, BuilderError};
use inkwell::module::{Linkage, Module};
use inkwell::types::{AnyTypeEnum, IntType};
use inkwell::values::{
    BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue,
    InstructionOpcode, InstructionValue, IntValue,
};
use inkwell::{AddressSpace, IntPredicate};

use super::sites::{
    ResultSlot, SyscallSite, call_argument, dispatcher_type, find_syscall_sites, kernel_entry,
    module_asm_syscalls,
};
use super::{DISPATCHER, Outcome, ReachedSyscall, SiteKind, SiteReport, SyscallRewriteStats};

/// The function that turns a kernel result (`-errno`) into libc's (`-1`, `errno`).
pub const LIBC_ERRNO_ADAPTER: &str = "__unikernel_libc_syscall_result";

/// Rewrite every rewritable syscall site of `module` (see the [module docs](super)).
/// Idempotent; the module verifies afterwards if it did before.
pub fn rewrite_syscalls(module: &Module<'_>) -> SyscallRewriteStats {
    let sites = find_syscall_sites(module);
    let mut stats = SyscallRewriteStats {
        sites: sites.len(),
        module_asm_syscalls: module_asm_syscalls(module),
        ..SyscallRewriteStats::default()
    };
    let builder = module.get_context().create_builder();
    for site in &sites {
        let outcome = match (&site.obstacle, site.entry, site.number) {
            (Some(_), _, _) => Outcome::TrapPath,
            (None, Some(_), _) => Outcome::Direct,
            (None, None, Some(_)) => Outcome::DispatcherConstant,
            (None, None, None) => Outcome::DispatcherDynamic,
        };
        // A dispatcher call changes only when it can become a direct call.
        let changed = match outcome {
            Outcome::TrapPath => false,
            Outcome::Direct => true,
            _ => site.kind != SiteKind::Dispatcher,
        };
        if changed {
            rewrite_site(module, &builder, site).expect("the builder is positioned at the site");
        }
        *match outcome {
            Outcome::Direct => &mut stats.direct,
            Outcome::DispatcherConstant => &mut stats.dispatched_constant,
            Outcome::DispatcherDynamic => &mut stats.dispatched_dynamic,
            Outcome::TrapPath => &mut stats.trap_path,
        } += 1;
        stats.changed += usize::from(changed);
        stats.details.push(SiteReport {
            function: site.function.clone(),
            kind: site.kind,
            number: site.number,
            name: site.name(),
            outcome,
            changed,
            obstacle: site.obstacle.clone(),
        });
    }
    let mut numbers: Vec<u64> = sites.iter().filter_map(|s| s.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    stats.reached = numbers
        .into_iter()
        .map(|number| ReachedSyscall {
            number,
            name: super::syscall_name(number),
            implemented: kernel_entry(module, number).is_some(),
        })
        .collect();
    stats
}

/// Replace `site.call` with a call of its entry (or the dispatcher), then erase it.
fn rewrite_site<'ctx>(
    module: &Module<'ctx>,
    builder: &Builder<'ctx>,
    site: &SyscallSite<'ctx>,
) -> Result<(), BuilderError> {
    let i64_type = module.get_context().i64_type();
    let call = site.call;
    builder.position_before(&call);
    let register = |index: Option<u32>| match index.and_then(|i| call_argument(call, i)) {
        Some(value) => to_register(builder, i64_type, value),
        None => Ok(i64_type.const_zero()),
    };
    let mut args = Vec::with_capacity(7);
    let callee = match site.entry {
        Some(entry) => entry,
        None => {
            args.push(register(Some(site.operands.number))?.into());
            dispatcher(module)
        }
    };
    for index in site.operands.args {
        args.push(register(index)?.into());
    }
    let new_call = builder.build_call(callee, &args, "")?;
    copy_debug_location(call, new_call);
    let mut result = returned_int(new_call);
    if site.kind == SiteKind::LibcCall {
        let adapted = builder.build_call(libc_errno_adapter(module)?, &[result.into()], "")?;
        copy_debug_location(call, adapted);
        result = returned_int(adapted);
    }
    match site.operands.result {
        ResultSlot::Unused => {}
        ResultSlot::Whole => replace_uses(builder, call, result)?,
        ResultSlot::Field(field) => {
            // The analysis made sure every user is an extractvalue of this field.
            for user in users(call) {
                if user.get_opcode() == InstructionOpcode::ExtractValue
                    && user.get_indices().first() == Some(&field)
                {
                    builder.position_before(&user);
                    replace_uses(builder, user, result)?;
                    user.erase_from_basic_block();
                }
            }
        }
    }
    call.erase_from_basic_block();
    Ok(())
}

/// A register's 64 bits from an operand: zero-extended integer or pointer address.
fn to_register<'ctx>(
    builder: &Builder<'ctx>,
    i64_type: IntType<'ctx>,
    value: BasicValueEnum<'ctx>,
) -> Result<IntValue<'ctx>, BuilderError> {
    match value {
        BasicValueEnum::IntValue(int) if int.get_type().get_bit_width() < 64 => {
            builder.build_int_z_extend(int, i64_type, "")
        }
        BasicValueEnum::IntValue(int) => Ok(int),
        BasicValueEnum::PointerValue(ptr) => builder.build_ptr_to_int(ptr, i64_type, ""),
        // The analysis admits only integers of at most 64 bits and pointers.
        _ => Err(BuilderError::NotPointerOrInteger),
    }
}

/// Replace every use of `old` (an integer or pointer value standing for `rax`) with
/// `rax`, converted back to `old`'s type.
fn replace_uses<'ctx>(
    builder: &Builder<'ctx>,
    old: InstructionValue<'ctx>,
    rax: IntValue<'ctx>,
) -> Result<(), BuilderError> {
    let new: BasicValueEnum<'ctx> = match old.get_type() {
        AnyTypeEnum::IntType(int) if int.get_bit_width() < 64 => {
            builder.build_int_truncate(rax, int, "")?.into()
        }
        AnyTypeEnum::PointerType(ptr) => builder.build_int_to_ptr(rax, ptr, "")?.into(),
        _ => rax.into(),
    };
    let new = new
        .as_instruction_value()
        .ok_or(BuilderError::NotPointerOrInteger)?;
    old.replace_all_uses_with(&new);
    Ok(())
}

fn users<'ctx>(inst: InstructionValue<'ctx>) -> Vec<InstructionValue<'ctx>> {
    let mut users = Vec::new();
    let mut use_ = inst.get_first_use();
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

fn returned_int(call: CallSiteValue<'_>) -> IntValue<'_> {
    // Entries, the dispatcher and the adapter all return i64 (checked or built so).
    call.try_as_basic_value()
        .basic()
        .expect("syscall entries return i64")
        .into_int_value()
}

fn copy_debug_location<'ctx>(from: InstructionValue<'ctx>, to: CallSiteValue<'ctx>) {
    let to = to
        .try_as_basic_value()
        .basic()
        .and_then(|v| v.as_instruction_value());
    if let Some(to) = to {
        to.set_debug_location(from.get_debug_location());
    }
}

/// The dispatcher, declared if the module has none (the analysis rejected one of
/// another type).
fn dispatcher<'ctx>(module: &Module<'ctx>) -> FunctionValue<'ctx> {
    module.get_function(DISPATCHER).unwrap_or_else(|| {
        module.add_function(DISPATCHER, dispatcher_type(module), Some(Linkage::External))
    })
}

/// `i64 adapter(i64 ret)`: `ret` unless it is `-errno` (-4095..=-1, include/linux/err.h
/// MAX_ERRNO), in which case store `errno` through `__errno_location()` and return -1.
fn libc_errno_adapter<'ctx>(module: &Module<'ctx>) -> Result<FunctionValue<'ctx>, BuilderError> {
    if let Some(adapter) = module.get_function(LIBC_ERRNO_ADAPTER) {
        return Ok(adapter);
    }
    let context = module.get_context();
    let (i32_type, i64_type) = (context.i32_type(), context.i64_type());
    let ptr_type = context.ptr_type(AddressSpace::default());
    let adapter = module.add_function(
        LIBC_ERRNO_ADAPTER,
        i64_type.fn_type(&[i64_type.into()], false),
        Some(Linkage::Internal),
    );
    for name in ["alwaysinline", "nounwind"] {
        let kind = Attribute::get_named_enum_kind_id(name);
        adapter.add_attribute(
            AttributeLoc::Function,
            context.create_enum_attribute(kind, 0),
        );
    }
    let errno_location_type = ptr_type.fn_type(&[], false);
    let errno_location = module
        .get_function("__errno_location")
        .unwrap_or_else(|| module.add_function("__errno_location", errno_location_type, None));

    let builder = context.create_builder();
    let (entry, error, done) = (
        context.append_basic_block(adapter, "entry"),
        context.append_basic_block(adapter, "error"),
        context.append_basic_block(adapter, "done"),
    );
    let ret = adapter
        .get_first_param()
        .expect("the adapter takes one parameter")
        .into_int_value();
    ret.set_name("ret");
    builder.position_at_end(entry);
    let max_errno = i64_type.const_int(-4096i64 as u64, true);
    let is_error = builder.build_int_compare(IntPredicate::UGT, ret, max_errno, "is_error")?;
    builder.build_conditional_branch(is_error, error, done)?;

    builder.position_at_end(error);
    let code = builder.build_int_truncate(builder.build_int_neg(ret, "")?, i32_type, "errno")?;
    let location = builder.build_indirect_call(
        errno_location_type,
        errno_location.as_global_value().as_pointer_value(),
        &[] as &[BasicMetadataValueEnum],
        "location",
    )?;
    let location = location
        .try_as_basic_value()
        .basic()
        .expect("ptr result")
        .into_pointer_value();
    builder.build_store(location, code)?;
    builder.build_return(Some(&i64_type.const_all_ones()))?;

    builder.position_at_end(done);
    builder.build_return(Some(&ret))?;
    Ok(adapter)
}
