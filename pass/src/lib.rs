//! The whole-program LLVM work of cargo-unikernel.
//!
//! One [`WholeProgram`] owns one LLVM context and module. The driver asks for a
//! [`Pipeline`] (hosted executable or bootable image) and feeds it every bitcode input
//! of a link (the app's objects, the rlib members, the `.llvmbc` of the prebuilt std,
//! the libc shim and, for images, the kernel); [`pipeline`] orders the stages:
//!
//! 1. [`merge`]: parse and link all inputs into one module;
//! 2. [`varargs`]: make call sites of C variadic declarations match the shim's
//!    fixed-arity definitions (the C ABI is the same on x86_64 SysV, LLVM IR is not);
//! 3. [`syscalls`] (images): rewrite system calls into direct calls of the kernel;
//! 4. [`reach::markers`]: mark each kernel entry (images), and, when the program has
//!    `no_alloc` or `no_panic` annotations, each allocator and panic function, so the
//!    analysis finds their code after inlining;
//! 5. [`internalize`]: every definition but the entry points and the symbols native
//!    code needs becomes internal, so the optimizer sees a closed world; images keep
//!    the kernel's syscall entries external for the second rewrite;
//! 6. [`noredzone`] (images): no red zone, for kernel code on an interrupted stack;
//! 7. [`pgo`] (on request): instrumentation for training, or the use of a profile;
//!    then [`codegen`]: the optimization pipeline at the build's level;
//! 8. images with the rewrite, again: [`syscalls`] for the numbers that only inlining
//!    made constant, [`internalize`] without the kernel entries, and a quick
//!    [`codegen`] optimization that drops the entries no longer called;
//!    Then [`trap_numbers`]: the numbers still able to reach the kernel's dispatchers
//!    become a constant, and the handlers no site can reach go;
//! 9. [`reach`]: analyze the final module: the system calls still reachable, the call
//!    paths to them, and the properties of the `#[unikernel::...]` annotations;
//! 10. [`reach::annotations`]: strip the annotations' statics;
//! 11. [`kernel_data`] (images): the kernel's writable globals into sections of their
//!     own, which the image's linker script keeps apart from the application's;
//! 12. [`codegen`]: native code generation into an ELF object (measuring every frame
//!     when a `#[unikernel::max_stack]` needs them, for [`reach::stack`]).
//!
//! `cargo unikernel ir` captures the module's IR ([`Stage`]) after step 1, after step 3
//! (images; where it would be when the rewrite is off) and before step 12. Each stage reports counters that end up in the driver's build
//! report.

pub mod clock;
pub mod codegen;
pub mod internalize;
pub mod kernel_data;
pub mod merge;
pub mod noredzone;
pub mod pgo;
pub mod pipeline;
pub mod reach;
pub mod syscalls;
pub mod trap_numbers;
pub mod varargs;

use std::collections::HashMap;
use std::path::Path;

use inkwell::context::Context;
use inkwell::module::Module;
use serde::{Deserialize, Serialize};

pub use codegen::OptLevel;
pub use pipeline::{Pipeline, Profile, Stage};

/// The LLVM major version this pass was built against. Bitcode from a newer LLVM cannot
/// be read, and older bitcode may be read subtly differently, so the driver refuses a
/// rustc whose LLVM differs.
pub const LLVM_MAJOR: &str = env!("UNIKERNEL_LLVM_MAJOR");

/// Expected failures of the pass, each naming the input or stage at fault.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("`{input}` is not valid LLVM bitcode: {message}")]
    BadBitcode { input: String, message: String },
    #[error("linking `{input}` into the whole-program module failed: {message}")]
    Link { input: String, message: String },
    #[error("the whole-program module does not verify after {stage}: {message}")]
    Verify {
        stage: &'static str,
        message: String,
    },
    #[error("the LLVM pipeline `{pipeline}` failed: {message}")]
    Pipeline { pipeline: String, message: String },
    #[error("native code generation failed: {0}")]
    Codegen(String),
    #[error("the {pipeline} pipeline has no `{stage}` stage (it has {offered})")]
    NoStage {
        pipeline: &'static str,
        stage: &'static str,
        offered: String,
    },
    #[error("the profile `{file}` cannot be used: {message}")]
    Profile { file: String, message: String },
    #[error("cannot write {path}: {message}")]
    Write { path: String, message: String },
}

/// One bitcode input: a name for messages and reports, and the bytes.
#[derive(Debug)]
pub struct BitcodeInput {
    pub name: String,
    pub bytes: Vec<u8>,
}

/// Counters of one whole-program build, for the build report.
#[derive(Debug, Default, Clone, Serialize, Deserialize)]
pub struct Stats {
    /// Modules linked into the whole-program module.
    pub modules: usize,
    /// Function definitions right after merging.
    pub functions_merged: usize,
    /// Function definitions left after the LTO pipeline.
    pub functions_optimized: usize,
    /// Variadic call sites turned into calls of fixed-arity definitions.
    pub varargs_calls_fixed: usize,
    /// Definitions made internal.
    pub internalized: usize,
    /// Writable globals of the kernel crates placed in the kernel's own sections
    /// (images; see [`kernel_data`]).
    #[serde(default)]
    pub kernel_globals_placed: usize,
    /// One entry per run of the syscall rewrite, in order (the first before any
    /// optimization, later ones after it); empty for hosted builds.
    pub syscall_rewrites: Vec<syscalls::SyscallRewriteStats>,
    /// Images: the system call numbers that may still reach the kernel's dispatchers
    /// (see [`trap_numbers`]); `None` for hosted builds.
    #[serde(default)]
    pub trap_numbers: Option<trap_numbers::TrapNumbers>,
    /// Wall-clock time of each stage, in milliseconds.
    pub merge_ms: u128,
    /// All runs of the syscall rewrite together.
    pub rewrite_syscalls_ms: u128,
    pub optimize_ms: u128,
    pub codegen_ms: u128,
}

/// The whole-program module under construction.
pub struct WholeProgram<'ctx> {
    module: Module<'ctx>,
    stats: Stats,
    /// The input each symbol was defined in, by name as it was before linking.
    origins: HashMap<String, usize>,
}

impl std::fmt::Debug for WholeProgram<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WholeProgram")
            .field("stats", &self.stats)
            .finish_non_exhaustive()
    }
}

impl<'ctx> WholeProgram<'ctx> {
    /// Parse and link `inputs` into one module (stage 1).
    pub fn merge(context: &'ctx Context, inputs: &[BitcodeInput]) -> Result<Self, PassError> {
        let started = std::time::Instant::now();
        let mut origins = HashMap::new();
        let module = merge::merge_modules_with(context, inputs, |index, module| {
            record_definitions(module, index, &mut origins);
        })?;
        let stats = Stats {
            modules: inputs.len(),
            functions_merged: count_definitions(&module),
            merge_ms: started.elapsed().as_millis(),
            ..Stats::default()
        };
        Ok(Self {
            module,
            stats,
            origins,
        })
    }

    /// The index (in the inputs given to [`WholeProgram::merge`]) of the input that
    /// defined each function and global, by its name in that input. Linking renames a
    /// clashing internal symbol (`name.1`), and optimization derives new ones
    /// (`name.llvm.123`, `name.cold`): look those up without the suffix.
    pub fn origins(&self) -> &HashMap<String, usize> {
        &self.origins
    }

    /// Mark every kernel entry so the analysis finds its code after inlining (see
    /// [`reach::markers`]); before the optimization, in unikernel builds. Returns how
    /// many entries were marked.
    pub fn mark_kernel_entries(&mut self) -> usize {
        reach::markers::mark_kernel_entries(&self.module)
    }

    /// Mark every call kernel code makes, so the syscall analysis tells them from the
    /// application's after inlining (see [`reach::side`]); before the optimization, in
    /// unikernel builds, after [`WholeProgram::mark_kernel_entries`]. Returns how many
    /// calls were marked.
    pub fn mark_kernel_calls(&mut self) -> usize {
        reach::side::mark_kernel_calls(&self.module)
    }

    /// The analysis of the module as it stands (normally the final one): see
    /// [`reach`]. `entry_points` are searched first.
    pub fn reachability(&self, entry_points: &[String]) -> reach::Reachability {
        reach::analyze(&self.module, entry_points)
    }

    /// Mark every allocator and panic function, if an annotation needs it (see
    /// [`reach::effects::mark_effects`]); before the optimization. Returns how many
    /// were marked.
    pub fn mark_effects(&mut self) -> usize {
        let needed = reach::annotations::annotated_functions(&self.module)
            .iter()
            .any(|(_, _, p)| {
                matches!(
                    p,
                    reach::annotations::Property::NoAlloc | reach::annotations::Property::NoPanic
                )
            });
        if needed {
            reach::effects::mark_effects(&self.module)
        } else {
            0
        }
    }

    /// The `#[unikernel::max_stack]` annotations, for code generation to measure (see
    /// [`reach::stack`]); before the statics are stripped.
    pub fn stack_requests(&self) -> Vec<reach::stack::StackRequest> {
        reach::annotations::annotated_functions(&self.module)
            .into_iter()
            .filter_map(|(_, function, property)| match property {
                reach::annotations::Property::MaxStack { bytes } => {
                    Some(reach::stack::StackRequest {
                        symbol: function.get_name().to_string_lossy().into_owned(),
                        bytes,
                    })
                }
                _ => None,
            })
            .collect()
    }

    /// Delete the annotations' statics before code generation: see
    /// [`reach::annotations`].
    pub fn strip_annotation_marks(&mut self) -> Result<usize, PassError> {
        let stripped = reach::annotations::strip_annotation_marks(&self.module);
        self.verify("removing the annotation statics")?;
        Ok(stripped)
    }

    /// The module as it stands, for `cargo unikernel ir` and tests.
    pub fn module(&self) -> &Module<'ctx> {
        &self.module
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Stage 2: see [`varargs`].
    pub fn fix_varargs_calls(&mut self) -> Result<(), PassError> {
        self.stats.varargs_calls_fixed = varargs::fix_varargs_calls(&self.module);
        self.verify("the variadic call fix-up")
    }

    /// The syscall rewrite (unikernel builds): see [`syscalls`]. Run it after the
    /// variadic fix-up and again after a first optimization; each run's counters are
    /// appended to [`Stats::syscall_rewrites`] and returned.
    pub fn rewrite_syscalls(&mut self) -> Result<&syscalls::SyscallRewriteStats, PassError> {
        let started = std::time::Instant::now();
        let run = syscalls::rewrite_syscalls(&self.module);
        self.stats.rewrite_syscalls_ms += started.elapsed().as_millis();
        self.stats.syscall_rewrites.push(run);
        self.verify("the syscall rewrite")?;
        Ok(self.stats.syscall_rewrites.last().expect("just pushed"))
    }

    /// Stage 3: see [`internalize`]. `keep` are the symbols that must stay external.
    pub fn internalize(&mut self, keep: &internalize::KeepSet) -> Result<(), PassError> {
        self.stats.internalized += internalize::internalize(&self.module, keep);
        self.verify("internalization")
    }

    /// For kernel-mode code: see [`noredzone`].
    pub fn disable_red_zone(&mut self) -> usize {
        noredzone::disable_red_zone(&self.module)
    }

    /// Images: see [`trap_numbers`]; after the last rewrite.
    pub fn define_trap_numbers(&mut self, native_may_trap: bool) -> Result<(), PassError> {
        let started = std::time::Instant::now();
        let numbers = trap_numbers::trap_numbers(&self.module, native_may_trap);
        if trap_numbers::define_trap_numbers(&self.module, &numbers)? {
            self.stats.trap_numbers = Some(numbers);
        }
        self.stats.optimize_ms += started.elapsed().as_millis();
        self.stats.functions_optimized = count_definitions(&self.module);
        self.verify("the trap-number table")
    }

    /// Images: see [`clock`]; before the first optimization.
    pub fn wire_clock(&mut self) -> bool {
        clock::wire_clock(&self.module)
    }

    /// Images: see [`kernel_data`]; after the last optimization.
    pub fn place_kernel_data(&mut self) -> usize {
        let placed = kernel_data::place_kernel_data(&self.module);
        self.stats.kernel_globals_placed = placed;
        placed
    }

    /// Instrument for training: see [`pgo::instrument`]; before the optimization.
    pub fn instrument_profile(&mut self) -> Result<(), PassError> {
        pgo::instrument(&self.module)?;
        self.verify("the profile instrumentation")
    }

    /// Annotate with a merged profile: see [`pgo::use_profile`]; right before the
    /// optimization.
    pub fn use_profile(&mut self, profdata: &Path) -> Result<pgo::ProfileUse, PassError> {
        let used = pgo::use_profile(&self.module, profdata)?;
        self.verify("the profile use")?;
        Ok(used)
    }

    /// Stage 4a: the optimization pipeline.
    pub fn optimize(&mut self, level: OptLevel) -> Result<(), PassError> {
        let started = std::time::Instant::now();
        codegen::optimize(&self.module, level)?;
        self.stats.optimize_ms += started.elapsed().as_millis();
        self.stats.functions_optimized = count_definitions(&self.module);
        Ok(())
    }

    /// Stage 4b: write a native ELF object.
    pub fn emit_object(&mut self, level: OptLevel, path: &Path) -> Result<(), PassError> {
        let started = std::time::Instant::now();
        codegen::emit_object(&self.module, level, path)?;
        self.stats.codegen_ms = started.elapsed().as_millis();
        Ok(())
    }

    /// Stage 4b, checking `requests` on the frame sizes code generation reports (see
    /// [`reach::stack`]).
    pub fn emit_object_checking_stack(
        &mut self,
        level: OptLevel,
        path: &Path,
        requests: &[reach::stack::StackRequest],
    ) -> Result<Vec<reach::properties::AnnotationCheck>, PassError> {
        let started = std::time::Instant::now();
        let frames = codegen::emit_object_measuring_frames(&self.module, level, path)?;
        self.stats.codegen_ms = started.elapsed().as_millis();
        Ok(reach::stack::check_max_stack(
            &self.module,
            &frames,
            requests,
        ))
    }

    /// Write the module as textual IR.
    pub fn write_ir(&self, path: &Path) -> Result<(), PassError> {
        self.module
            .print_to_file(path)
            .map_err(|e| PassError::Write {
                path: path.display().to_string(),
                message: e.to_string(),
            })
    }

    fn verify(&self, stage: &'static str) -> Result<(), PassError> {
        self.module.verify().map_err(|e| PassError::Verify {
            stage,
            message: first_lines(&e.to_string(), 8),
        })
    }
}

fn record_definitions(module: &Module<'_>, index: usize, origins: &mut HashMap<String, usize>) {
    let functions = module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .map(|f| f.get_name().to_string_lossy().into_owned());
    let globals = module
        .get_globals()
        .filter(|g| !g.is_declaration())
        .map(|g| g.get_name().to_string_lossy().into_owned());
    for name in functions.chain(globals) {
        origins.entry(name).or_insert(index);
    }
}

/// Function definitions (not declarations) in `module`.
pub fn count_definitions(module: &Module<'_>) -> usize {
    module
        .get_functions()
        .filter(|f| f.count_basic_blocks() > 0)
        .count()
}

fn first_lines(text: &str, n: usize) -> String {
    text.lines().take(n).collect::<Vec<_>>().join("\n")
}
