//! The transform: each rewritable site becomes a call of its kernel entry or of the
//! dispatcher; what cannot become a call keeps its asm, with the `syscall` instruction
//! replaced by a call of the kernel's stub when the module defines one.
//!
//! Arguments are passed as the registers would carry them: narrower integers are
//! zero-extended, pointers converted with `ptrtoint`, registers the site leaves unset
//! are 0. The call's `i64` result takes the place of `rax`; where the asm returned a
//! struct that flows on whole (through phis, selects, freezes), the struct is rebuilt
//! around it with the unread scratch fields `poison`.
//!
//! libc's `syscall` returns -1 and sets `errno` on failure, where the kernel returns
//! `-errno` (syscall(2)). A rewritten libc call therefore passes the kernel's result
//! through [`LIBC_ERRNO_ADAPTER`], an internal always-inline function this stage adds
//! that does what the shim's own `syscall` does.

use inkwell::attributes::{Attribute, AttributeLoc};
use inkwell::builder::{Builder, BuilderError};
use inkwell::module::{Linkage, Module};
use inkwell::types::{AnyTypeEnum, BasicTypeEnum, IntType};
use inkwell::values::{
    AsValueRef, BasicMetadataValueEnum, BasicValue, BasicValueEnum, CallSiteValue, FunctionValue,
    InstructionOpcode, InstructionValue, IntValue, PointerValue,
};
use inkwell::{AddressSpace, IntPredicate};

use super::asm;
use super::sites::{
    ResultSlot, SyscallSite, call_argument, defines_syscall_stub, dispatcher_type,
    find_syscall_sites, kernel_support, module_asm, users,
};
use super::stub::{call_stub_in_asm, kernel_entry_asm};
use super::{
    DISPATCHER, KernelEntry, Obstacle, Outcome, ReachedSyscall, SiteKind, SiteReport,
    SyscallRewriteStats,
};

/// The function that turns a kernel result (`-errno`) into libc's (`-1`, `errno`).
pub const LIBC_ERRNO_ADAPTER: &str = "__unikernel_libc_syscall_result";

/// Rewrite every rewritable syscall site of `module` (see the [module docs](super)).
/// Idempotent; the module verifies afterwards if it did before.
pub fn rewrite_syscalls(module: &Module<'_>) -> SyscallRewriteStats {
    let sites = find_syscall_sites(module);
    let stub = defines_syscall_stub(module);
    let mut stats = SyscallRewriteStats {
        sites: sites.len(),
        syscall_stub_defined: stub,
        ..SyscallRewriteStats::default()
    };
    let builder = module.get_context().create_builder();
    for site in &sites {
        let (outcome, changed) = decide(site, stub);
        if changed {
            rewrite_site(module, &builder, site, outcome)
                .expect("the builder is positioned at the site");
        }
        *match outcome {
            Outcome::Direct => &mut stats.direct,
            Outcome::DirectUnimplemented => &mut stats.direct_unimplemented,
            Outcome::DispatcherConstant => &mut stats.dispatched_constant,
            Outcome::DispatcherDynamic => &mut stats.dispatched_dynamic,
            Outcome::StubCall => &mut stats.stub_calls,
            Outcome::TrapPath => &mut stats.trap_path,
        } += 1;
        if outcome == Outcome::DirectUnimplemented {
            stats.direct_unimplemented_names.extend(site.name());
        }
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
    stats.direct_unimplemented_names.sort_unstable();
    stats.direct_unimplemented_names.dedup();

    let mut text = module_asm(module);
    if stub {
        let (replaced, count) = asm::replace_syscall_instructions(&text);
        if count > 0 {
            module.set_inline_assembly(&replaced);
            text = replaced;
        }
    }
    stats.module_asm_syscalls = asm::count_syscall_instructions(&text);
    stats.module_asm_stub_calls = asm::count_stub_calls(&text);

    let mut numbers: Vec<u64> = sites.iter().filter_map(|s| s.number).collect();
    numbers.sort_unstable();
    numbers.dedup();
    stats.reached = numbers
        .into_iter()
        .map(|number| {
            let entry = kernel_support(module, number);
            ReachedSyscall {
                number,
                name: super::syscall_name(number),
                implemented: entry == KernelEntry::Sys,
                entry,
            }
        })
        .collect();
    stats
}

/// Where `site` goes, and whether this run changes it.
fn decide(site: &SyscallSite<'_>, stub: bool) -> (Outcome, bool) {
    let kernel_asm = if stub {
        Outcome::StubCall
    } else {
        Outcome::TrapPath
    };
    match (&site.obstacle, site.entry, site.number) {
        (None, Some((_, KernelEntry::Sys)), _) => (Outcome::Direct, true),
        (None, Some(_), _) => (Outcome::DirectUnimplemented, true),
        // A dispatcher call changes only when it can become a direct call.
        (None, None, Some(_)) => (
            Outcome::DispatcherConstant,
            site.kind != SiteKind::Dispatcher,
        ),
        (None, None, None) => (
            Outcome::DispatcherDynamic,
            site.kind != SiteKind::Dispatcher,
        ),
        // The asm stays; its `syscall` instructions become stub calls if there is a
        // stub and are left otherwise.
        (Some(_), _, _) if site.kind == SiteKind::InlineAsm => {
            if site.syscall_instructions == 0 {
                // An earlier run replaced them all.
                (Outcome::StubCall, false)
            } else {
                (kernel_asm, stub)
            }
        }
        // A libc or dispatcher call of a register-frame syscall becomes asm that
        // enters the kernel with the registers of the `syscall` instruction.
        (Some(Obstacle::RegisterFrame), _, _) => (kernel_asm, true),
        // The dispatcher has another type: the call stays as it is.
        (Some(_), _, _) => (Outcome::TrapPath, false),
    }
}

/// Apply `outcome` to `site`.
fn rewrite_site<'ctx>(
    module: &Module<'ctx>,
    builder: &Builder<'ctx>,
    site: &SyscallSite<'ctx>,
    outcome: Outcome,
) -> Result<(), BuilderError> {
    match (site.kind, outcome) {
        (SiteKind::InlineAsm, Outcome::StubCall) => {
            call_stub_in_asm(site.call);
            Ok(())
        }
        (_, Outcome::StubCall | Outcome::TrapPath) => {
            let asm = kernel_entry_asm(module, outcome == Outcome::StubCall);
            replace_call(module, builder, site, Callee::Asm(asm))
        }
        (_, _) => {
            let callee = match site.entry {
                Some((entry, _)) => Callee::Entry(entry),
                None => Callee::Dispatcher(dispatcher(module)),
            };
            replace_call(module, builder, site, callee)
        }
    }
}

/// What a rewritten site calls.
enum Callee<'ctx> {
    /// `entry(a0..a5)`.
    Entry(FunctionValue<'ctx>),
    /// `dispatcher(nr, a0..a5)`.
    Dispatcher(FunctionValue<'ctx>),
    /// Inline asm of type `i64 (i64 x 7)` taking `nr, a0..a5` in the syscall registers.
    Asm(PointerValue<'ctx>),
}

/// Replace `site.call` with a call of `callee`, then erase it.
fn replace_call<'ctx>(
    module: &Module<'ctx>,
    builder: &Builder<'ctx>,
    site: &SyscallSite<'ctx>,
    callee: Callee<'ctx>,
) -> Result<(), BuilderError> {
    let i64_type = module.get_context().i64_type();
    let call = site.call;
    builder.position_before(&call);
    let register = |index: Option<u32>| match index.and_then(|i| call_argument(call, i)) {
        Some(value) => to_register(builder, i64_type, value),
        None => Ok(i64_type.const_zero()),
    };
    let mut args: Vec<BasicMetadataValueEnum<'ctx>> = Vec::with_capacity(7);
    if !matches!(callee, Callee::Entry(_)) {
        args.push(register(Some(site.operands.number))?.into());
    }
    for index in site.operands.args {
        args.push(register(index)?.into());
    }
    let new_call = match callee {
        Callee::Entry(function) | Callee::Dispatcher(function) => {
            builder.build_call(function, &args, "")?
        }
        Callee::Asm(asm) => builder.build_indirect_call(dispatcher_type(module), asm, &args, "")?,
    };
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
            // The analysis made sure every read is of this field: extractvalues right
            // at the call take `rax`, anything else (phi, select, freeze) gets the
            // struct rebuilt.
            for user in users(call) {
                if user.get_opcode() == InstructionOpcode::ExtractValue
                    && user.get_indices().first() == Some(&field)
                    && user.get_indices().len() == 1
                {
                    builder.position_before(&user);
                    replace_uses(builder, user, result)?;
                    user.erase_from_basic_block();
                }
            }
        }
    }
    if call.get_first_use().is_some() {
        builder.position_before(&call);
        rebuild_struct(builder, call, site.operands.result, result)?;
    }
    call.erase_from_basic_block();
    Ok(())
}

/// Replace the remaining uses of the asm's struct result with `{.., rax, ..}`: `rax`
/// (converted to its field's type) in its field, `poison` in the scratch fields nothing
/// reads.
fn rebuild_struct<'ctx>(
    builder: &Builder<'ctx>,
    call: InstructionValue<'ctx>,
    slot: ResultSlot,
    rax: IntValue<'ctx>,
) -> Result<(), BuilderError> {
    let AnyTypeEnum::StructType(struct_type) = call.get_type() else {
        return Err(BuilderError::NotPointerOrInteger);
    };
    let mut value: BasicValueEnum<'ctx> = struct_type.get_poison().into();
    if let ResultSlot::Field(field) = slot {
        let field_type = struct_type
            .get_field_type_at_index(field)
            .ok_or(BuilderError::NotPointerOrInteger)?;
        let rax: BasicValueEnum<'ctx> = match field_type {
            BasicTypeEnum::IntType(int) if int.get_bit_width() < 64 => {
                builder.build_int_truncate(rax, int, "")?.into()
            }
            BasicTypeEnum::PointerType(ptr) => builder.build_int_to_ptr(rax, ptr, "")?.into(),
            _ => rax.into(),
        };
        value = builder
            .build_insert_value(struct_type.get_poison(), rax, field, "")?
            .as_basic_value_enum();
    }
    // SAFETY: `call` and `value` are live values of the same module with the same
    // (struct) type; replacing all uses is what RAUW is for. inkwell's
    // `replace_all_uses_with` wants an instruction, and `value` may be a constant.
    unsafe {
        llvm_sys::core::LLVMReplaceAllUsesWith(call.as_value_ref(), value.as_value_ref());
    }
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
