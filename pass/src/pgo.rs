//! Profile-guided optimization of the whole program: instrumentation for training and
//! use of a merged profile, both on the merged module (app, std, shim and kernel).
//!
//! [`instrument`] runs LLVM's IR instrumentation (`pgo-instr-gen`, then the `instrprof`
//! lowering) before the first optimization, so every function of every component gets
//! counters (`__profc_*` in `__llvm_prf_cnts`) and a record (`__profd_*`); LLVM's
//! profile runtime (compiler-rt, linked by the driver) turns them into a `.profraw`.
//! Value profiling (indirect-call targets, memop sizes) is off: it calls into the
//! runtime from every indirect call, and in the image that would run native code with
//! a red zone inside interrupt-time kernel code. Without it nothing reads the function
//! address a record (`__profd_*`) keeps for indirect-call promotion, so it is cleared
//! ([`drop_function_addresses`]): the address would keep every address-taken function
//! alive, and with it code (and libc symbols) the optimizer would otherwise drop.
//!
//! [`use_profile`] runs `pgo-instr-use` at the same place in the pipeline, so the
//! control-flow hashes of the instrumented build match, and before `lto<O3>`, whose
//! inliner, block placement and hot/cold splitting then read the counts. The pass
//! reports through the context's diagnostics: a profile it cannot read is an error
//! (caught here, never LLVM's default handler, which exits the process), and each
//! function whose CFG changed since training a "hash mismatch" warning (counted: a
//! stale profile is a warning, as with rustc).
//!
//! A profile names an internal function `<module source file>;<name>`; the merged
//! module's source file name is that of whichever input came first, a codegen-unit
//! hash that changes with the app's code. Both stages set it to [`MODULE_NAME`] so a
//! profile keeps matching the functions that did not change.
//!
//! `pgo-instr-use` takes its file only from LLVM's `-pgo-test-profile-file` option,
//! which can be parsed once per process; it is set once to a path private to this
//! process, and each use puts its profile there under a lock.

use std::ffi::{CStr, CString, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

use inkwell::context::AsContextRef;
use inkwell::module::Module;
use serde::{Deserialize, Serialize};

use crate::PassError;
use crate::codegen;

/// What the profile use found, for the build report.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProfileUse {
    /// The `.profdata` file.
    pub file: PathBuf,
    /// Every function definition, and whether the profile gave it data (an entry
    /// count), before optimization.
    pub functions: Vec<(String, bool)>,
    /// Functions whose profile did not match their code (stale profile).
    pub mismatched: usize,
}

impl ProfileUse {
    pub fn with_data(&self) -> usize {
        self.functions.iter().filter(|(_, has)| *has).count()
    }
}

/// The process-wide LLVM options the PGO passes read (see the module docs).
fn llvm_options() -> &'static Path {
    static OPTIONS: OnceLock<PathBuf> = OnceLock::new();
    OPTIONS.get_or_init(|| {
        let path = std::env::temp_dir().join(format!(
            "unikernel-pass-{}-profile-use.profdata",
            std::process::id()
        ));
        let args = [
            "unikernel-pass".to_owned(),
            "-disable-vp".to_owned(),
            format!("-pgo-test-profile-file={}", path.display()),
        ]
        .map(|a| CString::new(a).expect("no NUL in the options"));
        let argv: Vec<*const std::ffi::c_char> = args.iter().map(|a| a.as_ptr()).collect();
        // SAFETY: `argv` points at NUL-terminated strings that live across the call;
        // the options are known to this LLVM (a typo would make LLVM print an error
        // and exit, which the PGO tests would show at once).
        unsafe {
            llvm_sys::support::LLVMParseCommandLineOptions(
                argv.len() as i32,
                argv.as_ptr(),
                c"".as_ptr(),
            )
        };
        path
    })
}

/// The merged module's source file name during the PGO stages (see the module docs).
pub const MODULE_NAME: &str = "unikernel-whole-program";

/// Instrument the module for training (see the module docs).
pub fn instrument(module: &Module<'_>) -> Result<(), PassError> {
    llvm_options();
    module.set_source_file_name(MODULE_NAME);
    let diagnostics = with_diagnostics(module, || {
        codegen::run_pipeline(module, "pgo-instr-gen,instrprof")
    })?;
    drop_function_addresses(module);
    match diagnostics.errors.is_empty() {
        true => Ok(()),
        false => Err(PassError::Pipeline {
            pipeline: "pgo-instr-gen,instrprof".into(),
            message: diagnostics.errors.join("; "),
        }),
    }
}

/// The field of a profile record (`__profd_*`, `INSTR_PROF_DATA` in LLVM's
/// `InstrProfData.inc`) that holds the function's address.
const RECORD_FUNCTION_POINTER: u32 = 4;

/// Clear the function address of every profile record (see the module docs).
/// Returns how many records changed.
pub fn drop_function_addresses(module: &Module<'_>) -> usize {
    use inkwell::values::BasicValueEnum;
    let mut cleared = 0;
    for global in module.get_globals() {
        let in_data = global
            .get_section()
            .is_some_and(|s| s.to_bytes() == b"__llvm_prf_data");
        let Some(BasicValueEnum::StructValue(record)) = global.get_initializer() else {
            continue;
        };
        let Some(BasicValueEnum::PointerValue(pointer)) =
            record.get_field_at_index(RECORD_FUNCTION_POINTER)
        else {
            continue;
        };
        if !in_data || pointer.is_null() {
            continue;
        }
        let mut fields: Vec<BasicValueEnum<'_>> = (0..record.count_fields())
            .filter_map(|i| record.get_field_at_index(i))
            .collect();
        fields[RECORD_FUNCTION_POINTER as usize] = pointer.get_type().const_null().into();
        global.set_initializer(&record.get_type().const_named_struct(&fields));
        cleared += 1;
    }
    cleared
}

/// Annotate the module with the profile in `profdata` (see the module docs).
pub fn use_profile(module: &Module<'_>, profdata: &Path) -> Result<ProfileUse, PassError> {
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let bad = |message: String| PassError::Profile {
        file: profdata.display().to_string(),
        message,
    };
    let fixed = llvm_options();
    module.set_source_file_name(MODULE_NAME);
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    std::fs::copy(profdata, fixed).map_err(|e| bad(e.to_string()))?;
    let diagnostics = with_diagnostics(module, || codegen::run_pipeline(module, "pgo-instr-use"));
    let _ = std::fs::remove_file(fixed);
    let diagnostics = diagnostics?;
    if !diagnostics.errors.is_empty() {
        let message = diagnostics.errors.join("; ");
        return Err(bad(
            message.replace(&fixed.display().to_string(), "the file")
        ));
    }
    let functions = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .map(|f| {
            (
                f.get_name().to_string_lossy().into_owned(),
                has_entry_count(f),
            )
        })
        .collect();
    Ok(ProfileUse {
        file: profdata.to_path_buf(),
        functions,
        mismatched: diagnostics.mismatched,
    })
}

/// Whether `function` carries a `!prof !{"function_entry_count", N}` the profile set.
fn has_entry_count(function: inkwell::values::FunctionValue<'_>) -> bool {
    use inkwell::values::AsValueRef;
    let context = function.get_type().get_context();
    let kind = context.get_kind_id("prof");
    let mut count = 0usize;
    // SAFETY: `function` is a live global of the module; the entries array LLVM
    // allocates is read within its length and disposed once.
    unsafe {
        let entries =
            llvm_sys::core::LLVMGlobalCopyAllMetadata(function.as_value_ref(), &mut count);
        let found = (0..count as u32)
            .any(|i| llvm_sys::core::LLVMValueMetadataEntriesGetKind(entries, i) == kind);
        if !entries.is_null() {
            llvm_sys::core::LLVMDisposeValueMetadataEntries(entries);
        }
        found
    }
}

#[derive(Default)]
struct Diagnostics {
    errors: Vec<String>,
    mismatched: usize,
}

/// Run `work` with a diagnostic handler that collects PGO errors and mismatches.
fn with_diagnostics(
    module: &Module<'_>,
    work: impl FnOnce() -> Result<(), PassError>,
) -> Result<Diagnostics, PassError> {
    let context = module.get_context().as_ctx_ref();
    let mut diagnostics = Diagnostics::default();
    // SAFETY: `context` is the module's live context; the handler and its data are
    // installed only for `work` and the previous ones restored right after, so
    // `diagnostics` outlives every call of the handler.
    let (old_handler, old_data) = unsafe {
        let old = (
            llvm_sys::core::LLVMContextGetDiagnosticHandler(context),
            llvm_sys::core::LLVMContextGetDiagnosticContext(context),
        );
        llvm_sys::core::LLVMContextSetDiagnosticHandler(
            context,
            Some(collect),
            (&raw mut diagnostics).cast::<c_void>(),
        );
        old
    };
    let result = work();
    // SAFETY: as above; restores what was installed before.
    unsafe { llvm_sys::core::LLVMContextSetDiagnosticHandler(context, old_handler, old_data) };
    result.map(|()| diagnostics)
}

extern "C" fn collect(info: llvm_sys::prelude::LLVMDiagnosticInfoRef, data: *mut c_void) {
    // SAFETY: `data` is the `Diagnostics` that `with_diagnostics` installed with this
    // handler and keeps alive while it is installed; `info` is the live diagnostic,
    // whose description is an owned message disposed here.
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
    match severity {
        llvm_sys::LLVMDiagnosticSeverity::LLVMDSError => diagnostics.errors.push(text),
        _ if text.contains("hash mismatch") => diagnostics.mismatched += 1,
        _ => {}
    }
}
