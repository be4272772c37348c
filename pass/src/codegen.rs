//! Stage 4: the optimization pipeline and native code generation.
//!
//! Code is generated for the x86-64 baseline CPU (no `target-cpu=native`): images must
//! run on any VMM, and some instruction emulators reject newer encodings (DESIGN.md,
//! "Facts"). Relocations are static and the code model small: the output is a non-PIE
//! executable or an image loaded at a fixed address.
//!
//! Code generation can also report each function's frame size, for the `max_stack`
//! property ([`emit_object_measuring_frames`]). LLVM's `.stack_sizes` section would
//! hold the same numbers, but only `TargetOptions::EmitStackSizeSection` turns it on:
//! the C API has no setter, and `LLVMParseCommandLineOptions("-stack-size-section")`
//! reaches only the tools that copy their flags into `TargetOptions` (tried: no
//! section). The function attribute `"warn-stack-size"` does reach the code generator:
//! prologue/epilogue insertion reports every frame larger than the threshold as a
//! diagnostic (`DiagnosticInfoStackSize`: "stack frame size (N) exceeds limit (0) in
//! function 'f'") with the same `MachineFrameInfo::getStackSize()` the section would
//! record, and a diagnostic handler on the context collects them.

use std::collections::HashMap;
use std::ffi::{CStr, c_void};
use std::path::Path;
use std::sync::Once;

use inkwell::OptimizationLevel;
use inkwell::attributes::AttributeLoc;
use inkwell::context::AsContextRef;
use inkwell::module::Module;
use inkwell::passes::PassBuilderOptions;
use inkwell::targets::{
    CodeModel, FileType, InitializationConfig, RelocMode, Target, TargetMachine, TargetTriple,
};

use crate::PassError;

pub const TRIPLE: &str = "x86_64-unknown-linux-gnu";
const CPU: &str = "x86-64";

/// How hard to optimize.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum OptLevel {
    /// Dev builds: drop what is unreachable, then quick code generation.
    Quick,
    /// Release builds: LLVM's full-LTO pipeline at O3.
    Full,
}

impl OptLevel {
    /// The new-pass-manager pipeline text.
    pub fn pipeline(self) -> &'static str {
        match self {
            OptLevel::Quick => "globaldce",
            OptLevel::Full => "lto<O3>",
        }
    }

    fn codegen(self) -> OptimizationLevel {
        match self {
            OptLevel::Quick => OptimizationLevel::Less,
            OptLevel::Full => OptimizationLevel::Aggressive,
        }
    }
}

fn target_machine(level: OptLevel) -> Result<TargetMachine, PassError> {
    static INIT: Once = Once::new();
    INIT.call_once(|| Target::initialize_x86(&InitializationConfig::default()));
    let triple = TargetTriple::create(TRIPLE);
    let target = Target::from_triple(&triple).map_err(|e| PassError::Codegen(e.to_string()))?;
    target
        .create_target_machine(
            &triple,
            CPU,
            "",
            level.codegen(),
            RelocMode::Static,
            CodeModel::Small,
        )
        .ok_or_else(|| PassError::Codegen(format!("LLVM has no target machine for {TRIPLE}")))
}

/// Run the pipeline for `level` over the module.
pub fn optimize(module: &Module<'_>, level: OptLevel) -> Result<(), PassError> {
    run_passes(module, level, level.pipeline())
}

/// Run the new-pass-manager pipeline `text` (e.g. `function(instsimplify),globaldce`)
/// over the module, for a step that needs a few passes of its own rather than a level
/// (the PGO stages, the trap-number table's clean-up).
pub fn run_pipeline(module: &Module<'_>, text: &str) -> Result<(), PassError> {
    run_passes(module, OptLevel::Full, text)
}

fn run_passes(module: &Module<'_>, level: OptLevel, text: &str) -> Result<(), PassError> {
    let machine = target_machine(level)?;
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    module
        .run_passes(text, &machine, PassBuilderOptions::create())
        .map_err(|e| PassError::Pipeline {
            pipeline: text.into(),
            message: e.to_string(),
        })
}

/// Generate a native ELF object at `path`.
pub fn emit_object(module: &Module<'_>, level: OptLevel, path: &Path) -> Result<(), PassError> {
    let machine = target_machine(level)?;
    machine
        .write_to_file(module, FileType::Object, path)
        .map_err(|e| PassError::Codegen(format!("{}: {e}", path.display())))
}

/// Frame sizes in bytes by function symbol, as the code generator laid them out
/// (without the return address; functions with no frame are absent).
pub type FrameSizes = HashMap<String, u64>;

/// What the diagnostic handler collects during code generation.
#[derive(Default)]
struct Diagnostics {
    frames: FrameSizes,
    errors: Vec<String>,
}

/// [`emit_object`], and the frame size of every function.
pub fn emit_object_measuring_frames(
    module: &Module<'_>,
    level: OptLevel,
    path: &Path,
) -> Result<FrameSizes, PassError> {
    let threshold = module
        .get_context()
        .create_string_attribute("warn-stack-size", "0");
    for function in module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
    {
        function.add_attribute(AttributeLoc::Function, threshold);
    }
    let context = module.get_context().as_ctx_ref();
    let mut diagnostics = Diagnostics::default();
    // SAFETY: `context` is the module's live context. The handler and its data are
    // installed only for the code generation below, and the previous ones restored
    // right after: `diagnostics` outlives every call of the handler.
    let (old_handler, old_data) = unsafe {
        let old = (
            llvm_sys::core::LLVMContextGetDiagnosticHandler(context),
            llvm_sys::core::LLVMContextGetDiagnosticContext(context),
        );
        llvm_sys::core::LLVMContextSetDiagnosticHandler(
            context,
            Some(collect_diagnostic),
            (&raw mut diagnostics).cast::<c_void>(),
        );
        old
    };
    let emitted = emit_object(module, level, path);
    // SAFETY: as above; restores what was installed before.
    unsafe { llvm_sys::core::LLVMContextSetDiagnosticHandler(context, old_handler, old_data) };
    for function in module.get_functions() {
        function.remove_string_attribute(AttributeLoc::Function, "warn-stack-size");
    }
    emitted?;
    if !diagnostics.errors.is_empty() {
        return Err(PassError::Codegen(diagnostics.errors.join("; ")));
    }
    Ok(diagnostics.frames)
}

extern "C" fn collect_diagnostic(
    info: llvm_sys::prelude::LLVMDiagnosticInfoRef,
    data: *mut c_void,
) {
    // SAFETY: `data` is the `Diagnostics` that `emit_object_measuring_frames` installed
    // with this handler and keeps alive while it is installed; `info` is the live
    // diagnostic LLVM passes in, whose description is an owned message disposed here.
    let (diagnostics, text, severity) = unsafe {
        let description = llvm_sys::core::LLVMGetDiagInfoDescription(info);
        let text = CStr::from_ptr(description).to_string_lossy().into_owned();
        llvm_sys::core::LLVMDisposeMessage(description);
        (
            &mut *data.cast::<Diagnostics>(),
            text,
            llvm_sys::core::LLVMGetDiagInfoSeverity(info),
        )
    };
    if let Some((function, bytes)) = frame_size(&text) {
        diagnostics.frames.insert(function, bytes);
        return;
    }
    match severity {
        llvm_sys::LLVMDiagnosticSeverity::LLVMDSError => diagnostics.errors.push(text),
        llvm_sys::LLVMDiagnosticSeverity::LLVMDSWarning => eprintln!("warning: {text}"),
        _ => {}
    }
}

/// `("f", 808)` from `<unknown>:0:0: stack frame size (808) exceeds limit (0) in
/// function 'f'`.
fn frame_size(text: &str) -> Option<(String, u64)> {
    let (_, rest) = text.split_once("stack frame size (")?;
    let (bytes, rest) = rest.split_once(')')?;
    let (_, function) = rest.split_once(" in function '")?;
    Some((function.strip_suffix('\'')?.to_owned(), bytes.parse().ok()?))
}

#[cfg(test)]
mod tests {
    use super::frame_size;

    #[test]
    fn frame_sizes_are_read_from_the_diagnostic() {
        assert_eq!(
            frame_size("<unknown>:0:0: stack frame size (808) exceeds limit (0) in function 'f'"),
            Some(("f".into(), 808))
        );
        assert_eq!(
            frame_size("stack frame size (16) exceeds limit (0) in function '_ZN1a1b17h0E'"),
            Some(("_ZN1a1b17h0E".into(), 16))
        );
        assert_eq!(frame_size("inline asm error"), None);
    }
}
