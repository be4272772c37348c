//! The order of the stages: which ones a hosted executable and a bootable image go
//! through, and why in that order.
//!
//! A [`Pipeline`] is a list of [`Step`]s, data rather than code, so a build can be
//! asked for without knowing its stages (the driver says "the image pipeline at
//! `lto<O3>`") and new stages slot in at their place in the list. [`Pipeline::run`]
//! merges the bitcode inputs into one [`WholeProgram`], runs the steps in order and
//! returns the object file with the counters, the reachability of the final module and
//! the origin of each symbol. `cargo unikernel ir` asks for the module's IR at one
//! [`Stage`] ([`Pipeline::capture_ir`]). Profile-guided optimization is two more
//! steps ([`Step::InstrumentProfile`], [`Step::UseProfile`]) right before the first
//! optimization, chosen by [`Pipeline::profile`], not ordered by the driver.

use std::collections::HashMap;
use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use inkwell::context::Context;

use crate::internalize::KeepSet;
use crate::reach::Reachability;
use crate::{BitcodeInput, OptLevel, PassError, Stats, WholeProgram, syscalls};

/// A point in the pipeline where the module's IR can be captured; [`Stage::about`]
/// says where each is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stage {
    Merged,
    Rewritten,
    Optimized,
}

impl Stage {
    pub const ALL: [Stage; 3] = [Stage::Merged, Stage::Rewritten, Stage::Optimized];

    /// The name on the command line and in file names.
    pub fn name(self) -> &'static str {
        match self {
            Stage::Merged => "merged",
            Stage::Rewritten => "rewritten",
            Stage::Optimized => "optimized",
        }
    }

    /// One line saying where the stage is.
    pub fn about(self) -> &'static str {
        match self {
            Stage::Merged => "Right after merging every input (before the variadic fix-up)",
            Stage::Rewritten => {
                "After the first syscall rewrite, before any optimization (images only)"
            }
            Stage::Optimized => "The final module, as code generation receives it",
        }
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// A name that is not a [`Stage`].
#[derive(Debug, thiserror::Error)]
#[error("`{0}` is not a stage (one of {names})", names = stage_names())]
pub struct UnknownStage(String);

fn stage_names() -> String {
    Stage::ALL.map(Stage::name).join(", ")
}

impl FromStr for Stage {
    type Err = UnknownStage;

    fn from_str(name: &str) -> Result<Self, Self::Err> {
        Stage::ALL
            .into_iter()
            .find(|stage| stage.name() == name)
            .ok_or_else(|| UnknownStage(name.to_owned()))
    }
}

/// One step of a pipeline, after the merge that every pipeline starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Write the module's IR if [`Pipeline::capture_ir`] asked for this stage.
    Capture(Stage),
    /// See [`crate::varargs`].
    FixVarargsCalls,
    /// See [`crate::syscalls`].
    RewriteSyscalls,
    /// See [`crate::clock`].
    WireClock,
    /// See [`crate::reach::markers`].
    MarkKernelEntries,
    /// See [`crate::reach::side::mark_kernel_calls`].
    MarkKernelCalls,
    /// See [`crate::reach::effects::mark_effects`] (only with `no_alloc` or
    /// `no_panic` annotations).
    MarkEffects,
    /// See [`crate::internalize`]: everything but the entry points and what native
    /// code needs becomes internal, and with `kernel_entries` the kernel's syscall
    /// entries stay external too.
    Internalize { kernel_entries: bool },
    /// See [`crate::noredzone`].
    DisableRedZone,
    /// See [`crate::pgo::instrument`] (with [`Profile::Generate`]); does nothing
    /// otherwise.
    InstrumentProfile,
    /// See [`crate::pgo::use_profile`] (with [`Profile::Use`]); does nothing otherwise.
    UseProfile,
    /// The optimization pipeline at this level (see [`crate::codegen`]).
    Optimize(OptLevel),
    /// The analysis of the module as it stands: see [`crate::reach`]; also notes the
    /// `max_stack` annotations for [`Step::EmitObject`].
    Reachability,
    /// See [`crate::reach::annotations`].
    StripAnnotationMarks,
    /// See [`crate::kernel_data`].
    PlaceKernelData,
    /// See [`crate::trap_numbers`]: after the last rewrite and dead-code removal.
    DefineTrapNumbers,
    /// Native code generation, at the pipeline's level; with `max_stack` annotations
    /// it measures every frame and checks them ([`crate::reach::stack`]).
    EmitObject,
}

/// Profile-guided optimization of a build.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub enum Profile {
    #[default]
    None,
    /// Instrument for training (`--profile-generate`).
    Generate,
    /// Optimize with this merged `.profdata` (`--profile-use`).
    Use(PathBuf),
}

/// The stages a whole-program build runs, in order.
#[derive(Debug, Clone)]
pub struct Pipeline {
    profile: Profile,
    /// `hosted`, `image` or `trap` (an image without the syscall rewrite).
    name: &'static str,
    level: OptLevel,
    entry_points: Vec<String>,
    steps: Vec<Step>,
    capture: Option<(Stage, PathBuf)>,
    /// Native code outside the module is linked in and may issue system calls.
    native_may_trap: bool,
}

/// What a run produces.
#[derive(Debug)]
pub struct Output {
    /// The native ELF object.
    pub object: PathBuf,
    pub stats: Stats,
    /// The analysis of the module at the [`Step::Reachability`] step, searched from
    /// the entry points; `None` for a pipeline without that step.
    pub reachability: Option<Reachability>,
    /// See [`WholeProgram::origins`].
    pub origins: HashMap<String, usize>,
    /// What the profile use found ([`Profile::Use`] only).
    pub profile_use: Option<crate::pgo::ProfileUse>,
}

impl Pipeline {
    /// A static Linux executable: real system calls, nothing to rewrite.
    pub fn hosted(level: OptLevel, entry_points: Vec<String>) -> Self {
        use Step::*;
        let steps = vec![
            Capture(Stage::Merged),
            FixVarargsCalls,
            MarkEffects,
            Internalize {
                kernel_entries: false,
            },
            InstrumentProfile,
            UseProfile,
            Optimize(level),
            Reachability,
            StripAnnotationMarks,
            Capture(Stage::Optimized),
            EmitObject,
        ];
        Self::new("hosted", level, entry_points, steps)
    }

    /// A bootable image with the kernel. `rewrite` turns system calls into direct calls;
    /// without it every site stays on the trap path, for comparison.
    pub fn image(level: OptLevel, entry_points: Vec<String>, rewrite: bool) -> Self {
        use Step::*;
        let mut steps = vec![Capture(Stage::Merged), FixVarargsCalls];
        if rewrite {
            steps.extend([RewriteSyscalls, WireClock]);
        }
        steps.extend([
            Capture(Stage::Rewritten),
            // So the reachability analysis finds each entry's code after inlining,
            // and tells the kernel's calls inlined into the shim from the shim's own.
            MarkKernelEntries,
            MarkKernelCalls,
            MarkEffects,
            // The kernel's entries stay external until the second rewrite, which finds
            // the numbers that only inlining made constant.
            Internalize {
                kernel_entries: true,
            },
            // Kernel code runs on the same stack as the app's interrupted code.
            DisableRedZone,
            // Before the first optimization, so every function is counted as written
            // and the use finds the same control flow the instrumentation hashed.
            InstrumentProfile,
            UseProfile,
            Optimize(level),
        ]);
        if rewrite {
            steps.extend([
                RewriteSyscalls,
                // Now the unused entries can go.
                Internalize {
                    kernel_entries: false,
                },
                Optimize(OptLevel::Quick),
            ]);
        }
        // After the dead code is gone, so that only live sites count.
        steps.push(DefineTrapNumbers);
        steps.extend([
            Reachability,
            StripAnnotationMarks,
            // After the last optimization, so it sees the final globals; the image's
            // linker script keeps these sections apart (system calls refuse them).
            PlaceKernelData,
            Capture(Stage::Optimized),
            EmitObject,
        ]);
        Self::new(
            if rewrite { "image" } else { "trap" },
            level,
            entry_points,
            steps,
        )
    }

    fn new(
        name: &'static str,
        level: OptLevel,
        entry_points: Vec<String>,
        steps: Vec<Step>,
    ) -> Self {
        Self {
            profile: Profile::None,
            name,
            level,
            entry_points,
            steps,
            capture: None,
            native_may_trap: true,
        }
    }

    /// Whether native code outside the module (objects left out of LTO) is linked in
    /// and could issue any system call; until the driver says otherwise, it could.
    pub fn native_code_may_trap(mut self, may_trap: bool) -> Self {
        self.native_may_trap = may_trap;
        self
    }

    /// Also write the module's textual IR at `stage` to `path`; an error if this
    /// pipeline has no such stage (a hosted build has no `rewritten` module).
    pub fn capture_ir(mut self, stage: Stage, path: PathBuf) -> Result<Self, PassError> {
        if !self.steps.contains(&Step::Capture(stage)) {
            return Err(PassError::NoStage {
                pipeline: self.name,
                stage: stage.name(),
                offered: self
                    .stages()
                    .map(Stage::name)
                    .collect::<Vec<_>>()
                    .join(", "),
            });
        }
        self.capture = Some((stage, path));
        Ok(self)
    }

    /// Instrument, or use a profile (see [`Profile`]).
    pub fn profile(mut self, profile: Profile) -> Self {
        self.profile = profile;
        self
    }

    pub fn profile_mode(&self) -> &Profile {
        &self.profile
    }

    pub fn name(&self) -> &'static str {
        self.name
    }

    pub fn level(&self) -> OptLevel {
        self.level
    }

    pub fn entry_points(&self) -> &[String] {
        &self.entry_points
    }

    /// The stages whose IR [`Pipeline::capture_ir`] can capture, in order.
    pub fn stages(&self) -> impl Iterator<Item = Stage> + '_ {
        self.steps.iter().filter_map(|step| match step {
            Step::Capture(stage) => Some(*stage),
            _ => None,
        })
    }

    /// The steps after the merge, in order.
    pub fn steps(&self) -> &[Step] {
        &self.steps
    }

    /// Merge `bitcode`, run the steps and write the object file to `object`.
    /// `native_needs` are the symbols code outside the module (native objects and
    /// archives) refers to: they stay external like the entry points.
    pub fn run<S: Into<String>>(
        &self,
        bitcode: &[BitcodeInput],
        native_needs: impl IntoIterator<Item = S>,
        object: &Path,
    ) -> Result<Output, PassError> {
        let context = Context::create();
        let mut program = WholeProgram::merge(&context, bitcode)?;
        let mut keep = KeepSet::new(self.entry_points.iter().cloned());
        keep.extend(native_needs);
        let mut reachability = None;
        let mut stack_requests = Vec::new();
        let mut profile_use = None;
        for step in &self.steps {
            match *step {
                Step::Capture(stage) => match &self.capture {
                    Some((wanted, path)) if *wanted == stage => program.write_ir(path)?,
                    _ => {}
                },
                Step::FixVarargsCalls => program.fix_varargs_calls()?,
                Step::RewriteSyscalls => {
                    program.rewrite_syscalls()?;
                }
                Step::WireClock => {
                    program.wire_clock();
                }
                Step::MarkKernelEntries => {
                    program.mark_kernel_entries();
                }
                Step::MarkKernelCalls => {
                    program.mark_kernel_calls();
                }
                Step::MarkEffects => {
                    program.mark_effects();
                }
                Step::Internalize {
                    kernel_entries: false,
                } => program.internalize(&keep)?,
                Step::Internalize {
                    kernel_entries: true,
                } => {
                    let mut keep_entries = keep.clone();
                    keep_entries.extend(syscalls::kernel_entry_points(program.module()));
                    program.internalize(&keep_entries)?;
                }
                Step::DisableRedZone => {
                    program.disable_red_zone();
                }
                Step::InstrumentProfile => {
                    if self.profile == Profile::Generate {
                        program.instrument_profile()?;
                    }
                }
                Step::UseProfile => {
                    if let Profile::Use(file) = &self.profile {
                        profile_use = Some(program.use_profile(file)?);
                    }
                }
                Step::Optimize(level) => program.optimize(level)?,
                Step::Reachability => {
                    reachability = Some(program.reachability(&self.entry_points));
                    stack_requests = program.stack_requests();
                }
                Step::StripAnnotationMarks => {
                    program.strip_annotation_marks()?;
                }
                Step::DefineTrapNumbers => program.define_trap_numbers(self.native_may_trap)?,
                Step::PlaceKernelData => {
                    program.place_kernel_data();
                }
                Step::EmitObject if stack_requests.is_empty() => {
                    program.emit_object(self.level, object)?;
                }
                Step::EmitObject => {
                    let checks =
                        program.emit_object_checking_stack(self.level, object, &stack_requests)?;
                    if let Some(reachability) = &mut reachability {
                        reachability.add_annotations(checks);
                    }
                }
            }
        }
        Ok(Output {
            object: object.to_path_buf(),
            stats: program.stats().clone(),
            reachability,
            origins: program.origins().clone(),
            profile_use,
        })
    }
}
