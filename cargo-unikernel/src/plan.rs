//! Build planning: from what the user asked for to what one build makes and where,
//! before anything is built.
//!
//! A [`Plan`] names the pass's pipeline (hosted executable, image, or image with the
//! syscall rewrite off), the output and its work directory, and the IR file
//! `cargo unikernel ir` asked for. Everything cargo-unikernel writes for a project goes
//! under `<target-dir>/unikernel/`:
//!
//! - `<profile-dir>/<name>` the image (`<name>.trap` without the rewrite), and
//!   `hosted/<profile-dir>/<name>` the hosted executable;
//! - `work/<pipeline>/<profile-dir>/<name>/` the link's intermediate files, with
//!   `ir/<stage>.ll` for `cargo unikernel ir`.

use std::path::{Path, PathBuf};

use unikernel_pass::{OptLevel, PassError, Pipeline, Stage};

use crate::cargo_build::Features;
use crate::pgo::Pgo;
use crate::project::Selection;

/// The image's entry point: the kernel's PVH entry (sysroot/hal, `pvh.rs`).
pub const KERNEL_ENTRY: &str = "__unikernel_pvh_start";

/// A hosted executable's entry point: the shim's `_start`.
pub const HOSTED_ENTRY: &str = "_start";

/// A build as the user asked for it (the build flags of every command that builds).
#[derive(Debug, Clone)]
pub struct Request {
    pub selection: Selection,
    /// A static Linux executable over the libc shim instead of an image.
    pub hosted: bool,
    pub profile: Profile,
    pub features: Features,
    pub target_dir: Option<PathBuf>,
    /// Rewrite system calls into direct calls (images); off, every site stays on the
    /// trap path.
    pub syscall_rewrite: bool,
    /// Print the report summary and where files went.
    pub verbose: bool,
    /// `HOST:GUEST` files to pack besides the package metadata's.
    pub files: Vec<String>,
    /// Reachable unimplemented system calls are warnings, not errors.
    pub allow_unsupported_syscalls: bool,
    /// Instrument for PGO training or use a profile (`crate::pgo`).
    pub pgo: Pgo,
}

/// A cargo profile.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    /// The name cargo knows it by (`dev`, `release`, or a custom one).
    pub name: String,
    /// The directory cargo gives its outputs (`debug` for `dev`).
    pub dir: String,
}

impl Profile {
    pub fn named(name: &str) -> Self {
        let dir = if name == "dev" { "debug" } else { name };
        Self {
            name: name.to_owned(),
            dir: dir.to_owned(),
        }
    }

    /// Dev builds link quickly; every other profile gets full LTO at O3.
    pub fn opt_level(&self) -> OptLevel {
        if self.name == "dev" {
            OptLevel::Quick
        } else {
            OptLevel::Full
        }
    }
}

/// What one build makes and where.
#[derive(Debug)]
pub struct Plan {
    pub pipeline: Pipeline,
    /// The final ELF.
    pub output: PathBuf,
    /// The link's intermediate files.
    pub work_dir: PathBuf,
    /// The IR file asked for ([`Plan::new`]'s `ir`).
    pub ir: Option<IrFile>,
}

/// A module's IR kept for `cargo unikernel ir`, and the stamp that says which link
/// wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IrFile {
    pub file: PathBuf,
    pub stamp: PathBuf,
}

impl Plan {
    /// The plan for `request` of the target `name`, under `unikernel_dir`; `ir` asks
    /// for the module's IR at a stage, an error if the pipeline has no such stage.
    pub fn new(
        request: &Request,
        unikernel_dir: &Path,
        name: &str,
        ir: Option<Stage>,
    ) -> Result<Self, PassError> {
        let level = request.profile.opt_level();
        // An instrumented build is a different program: it never replaces the image.
        let profile_dir = &match request.pgo {
            Pgo::Generate { .. } => format!("{}-pgo-generate", request.profile.dir),
            _ => request.profile.dir.clone(),
        };
        let (pipeline, output) = if request.hosted {
            (
                Pipeline::hosted(level, vec![HOSTED_ENTRY.into()]),
                unikernel_dir.join("hosted").join(profile_dir).join(name),
            )
        } else {
            let file = if request.syscall_rewrite {
                name.to_owned()
            } else {
                format!("{name}.trap")
            };
            (
                Pipeline::image(level, vec![KERNEL_ENTRY.into()], request.syscall_rewrite),
                unikernel_dir.join(profile_dir).join(file),
            )
        };
        let pipeline = pipeline.profile(request.pgo.pass_profile());
        let work_dir = unikernel_dir
            .join("work")
            .join(pipeline.name())
            .join(profile_dir)
            .join(name);
        let (pipeline, ir) = match ir {
            None => (pipeline, None),
            Some(stage) => {
                let file = work_dir.join("ir").join(format!("{stage}.ll"));
                let stamp = file.with_extension("ll.fingerprint");
                (
                    pipeline.capture_ir(stage, file.clone())?,
                    Some(IrFile { file, stamp }),
                )
            }
        };
        Ok(Self {
            pipeline,
            output,
            work_dir,
            ir,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn request(hosted: bool, syscall_rewrite: bool, profile: &str) -> Request {
        Request {
            selection: Selection::default(),
            hosted,
            profile: Profile::named(profile),
            features: Features::default(),
            target_dir: None,
            syscall_rewrite,
            verbose: false,
            files: Vec::new(),
            allow_unsupported_syscalls: false,
            pgo: Pgo::Off,
        }
    }

    fn plan(request: &Request, ir: Option<Stage>) -> Result<Plan, PassError> {
        Plan::new(request, Path::new("/t/unikernel"), "hello", ir)
    }

    #[test]
    fn outputs_and_work_directories() {
        let image = plan(&request(false, true, "release"), None).unwrap();
        assert_eq!(image.pipeline.name(), "image");
        assert_eq!(image.pipeline.level(), OptLevel::Full);
        assert_eq!(image.output, Path::new("/t/unikernel/release/hello"));
        assert_eq!(
            image.work_dir,
            Path::new("/t/unikernel/work/image/release/hello")
        );
        assert_eq!(image.pipeline.entry_points(), [KERNEL_ENTRY]);

        let trap = plan(&request(false, false, "dev"), None).unwrap();
        assert_eq!(trap.pipeline.name(), "trap");
        assert_eq!(trap.pipeline.level(), OptLevel::Quick);
        assert_eq!(trap.output, Path::new("/t/unikernel/debug/hello.trap"));

        let hosted = plan(&request(true, true, "bench"), None).unwrap();
        assert_eq!(hosted.output, Path::new("/t/unikernel/hosted/bench/hello"));
        assert_eq!(
            hosted.work_dir,
            Path::new("/t/unikernel/work/hosted/bench/hello")
        );
        assert_eq!(hosted.pipeline.entry_points(), [HOSTED_ENTRY]);
    }

    #[test]
    fn ir_files_live_in_the_work_directory() {
        let image = plan(&request(false, true, "dev"), Some(Stage::Rewritten)).unwrap();
        assert_eq!(
            image.ir,
            Some(IrFile {
                file: "/t/unikernel/work/image/debug/hello/ir/rewritten.ll".into(),
                stamp: "/t/unikernel/work/image/debug/hello/ir/rewritten.ll.fingerprint".into(),
            })
        );
        let hosted = plan(&request(true, true, "dev"), Some(Stage::Rewritten));
        assert!(matches!(hosted, Err(PassError::NoStage { .. })));
    }
}
