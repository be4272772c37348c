//! Stage 1: parse every bitcode input and link it into one module.

use inkwell::context::Context;
use inkwell::memory_buffer::MemoryBuffer;
use inkwell::module::Module;

use crate::{BitcodeInput, PassError};

/// Link all `inputs` into the first one. The order does not change the result, but
/// errors name the input that failed.
pub fn merge_modules<'ctx>(
    context: &'ctx Context,
    inputs: &[BitcodeInput],
) -> Result<Module<'ctx>, PassError> {
    merge_modules_with(context, inputs, |_, _| {})
}

/// [`merge_modules`], showing `parsed` each input's module (with the input's index)
/// before it is linked in: e.g. to record where each definition came from.
pub fn merge_modules_with<'ctx>(
    context: &'ctx Context,
    inputs: &[BitcodeInput],
    mut parsed: impl FnMut(usize, &Module<'ctx>),
) -> Result<Module<'ctx>, PassError> {
    let mut merged: Option<Module<'ctx>> = None;
    for (index, input) in inputs.iter().enumerate() {
        let module = parse(context, input)?;
        parsed(index, &module);
        match &merged {
            None => merged = Some(module),
            Some(into) => into.link_in_module(module).map_err(|e| PassError::Link {
                input: input.name.clone(),
                message: e.to_string().trim().to_owned(),
            })?,
        }
    }
    let module = merged.unwrap_or_else(|| context.create_module("empty"));
    module.set_name("whole-program");
    Ok(module)
}

/// Parse one input, textual IR (`.ll`, used by the fixtures) or bitcode.
pub fn parse<'ctx>(
    context: &'ctx Context,
    input: &BitcodeInput,
) -> Result<Module<'ctx>, PassError> {
    let bad = |message: String| PassError::BadBitcode {
        input: input.name.clone(),
        message: message.trim().to_owned(),
    };
    if input.bytes.starts_with(b"BC\xC0\xDE") {
        let buffer = MemoryBuffer::create_from_memory_range_copy(&input.bytes, &input.name);
        Module::parse_bitcode_from_buffer(&buffer, context).map_err(|e| bad(e.to_string()))
    } else if input.name.ends_with(".ll") {
        let buffer = MemoryBuffer::create_from_memory_range_copy(&input.bytes, &input.name);
        context
            .create_module_from_ir(buffer)
            .map_err(|e| bad(e.to_string()))
    } else {
        Err(bad("missing the bitcode magic `BC 0xC0DE`".into()))
    }
}
