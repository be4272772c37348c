//! Stage 4: the optimization pipeline and native code generation.
//!
//! Code is generated for the x86-64 baseline CPU (no `target-cpu=native`): images must
//! run on any VMM, and some instruction emulators reject newer encodings (DESIGN.md,
//! "Facts"). Relocations are static and the code model small: the output is a non-PIE
//! executable or an image loaded at a fixed address.

use std::path::Path;
use std::sync::Once;

use inkwell::OptimizationLevel;
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
    let machine = target_machine(level)?;
    module.set_triple(&machine.get_triple());
    module.set_data_layout(&machine.get_target_data().get_data_layout());
    module
        .run_passes(level.pipeline(), &machine, PassBuilderOptions::create())
        .map_err(|e| PassError::Pipeline {
            pipeline: level.pipeline().into(),
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
