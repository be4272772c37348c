//! `run` and `pgo`: what their flags and the host allow (checked before a build), the
//! boot made of a build, and the run itself.

use std::process::ExitCode;

use anyhow::anyhow;

use super::{PgoArgs, RunArgs};
use crate::build::{self, BuildOptions};
use crate::error::Failure;
use crate::gdb;
use crate::host;
use crate::profile;
use crate::publish;
use crate::qemu::{self, Accel, Boot, Console};
use crate::status::{relative, status};
use crate::strace;

/// `cargo unikernel run`.
pub(super) fn run(args: &RunArgs) -> anyhow::Result<ExitCode> {
    if args.build.hosted {
        return Err(
            anyhow!("`run` boots an image; run a --hosted build directly").context(Failure::Usage),
        );
    }
    let checked = check_run(args)?;
    let built = build::build(&args.build.request(), BuildOptions::default())?;
    qemu::check_image_fits(args.memory, &built.size).map_err(|e| e.context(Failure::Usage))?;
    let boot = boot(args, &checked, &built, Console::Forward);
    for forward in &boot.publish {
        status("Publishing", &forward.to_string());
    }
    if let Some(route) = publish::host_route(boot.network) {
        status("Network", route);
    }
    let verbose = args.build.verbose;
    if verbose {
        let size = &built.size;
        status(
            "Booting",
            &format!(
                "{} ({:?}, {} KiB image, {} KiB loaded)",
                relative(&built.output),
                checked.accel,
                size.file_bytes / 1024,
                size.loaded_bytes / 1024
            ),
        );
    }
    if let Some(port) = args.gdb {
        status(
            "Waiting",
            &format!(
                "for gdb, halted: {}",
                gdb::attach_command(&built.output, port)
            ),
        );
    }
    let outcome = boot.run()?;
    if let Some(dir) = &built.profile_dir {
        for profile in crate::pgo::collect(&outcome.exports, dir)? {
            status("Profile", &relative(&profile));
        }
    }
    if verbose {
        for line in outcome.qemu_stderr.lines() {
            status("QEMU", line);
        }
        status(
            "Exited",
            &format!(
                "code {} after {:.0} ms (whole QEMU process)",
                outcome.exit_code,
                outcome.wall.as_secs_f64() * 1e3
            ),
        );
    }
    if let Some(cpu_profile) = &checked.cpu_profile {
        profile::report(cpu_profile, &outcome.exports, &built.output);
    }
    Ok(ExitCode::from(outcome.exit_code.clamp(0, 255) as u8))
}

/// `cargo unikernel pgo` (`crate::train`).
pub(super) fn pgo(args: &PgoArgs) -> anyhow::Result<ExitCode> {
    let hosted = args.run.build.hosted;
    let checked = check_run(&args.run)?;
    let boot = boots(&args.run, &checked);
    crate::train::pgo(&crate::train::Training {
        request: args.run.build.request(),
        flags: &args.training,
        boot: if hosted { None } else { Some(&boot) },
        args: &args.run.args,
        env: &checked.env,
        timeout: std::time::Duration::from_secs(args.run.timeout),
    })
}

/// The boots `run` would make of builds, for the training runs of `pgo`.
fn boots<'a>(
    args: &'a RunArgs,
    checked: &'a CheckedRun,
) -> impl for<'b> Fn(&'b build::Built) -> Boot<'b> + 'a {
    move |built| boot(args, checked, built, Console::Forward)
}

/// What `run`'s flags and the host allow, checked before a build.
pub(crate) struct CheckedRun {
    pub env: Vec<(String, String)>,
    pub accel: Accel,
    /// Kernel command-line words the flags ask for (`--strace`).
    pub kernel_options: Vec<String>,
    /// Where `--profile-cpu` puts its samples.
    pub cpu_profile: Option<profile::Profile>,
}

/// Check `run`'s flags against the host: what the command line or the host rules out
/// fails here, before a build.
pub(crate) fn check_run(args: &RunArgs) -> anyhow::Result<CheckedRun> {
    let usage = |e: anyhow::Error| e.context(Failure::Usage);
    let env = args
        .env
        .iter()
        .map(|kv| {
            kv.split_once('=')
                .map(|(k, v)| (k.to_owned(), v.to_owned()))
                .ok_or_else(|| usage(anyhow!("--env `{kv}`: expected KEY=VALUE")))
        })
        .collect::<anyhow::Result<Vec<_>>>()?;
    qemu::check_app_words(&env, &args.args).map_err(usage)?;
    let mut kernel_options = Vec::new();
    if let Some(filter) = &args.strace {
        kernel_options.push(strace::kernel_option(filter).map_err(usage)?);
    }
    let cpu_profile = (args.profile_cpu.is_some() || args.flamegraph.is_some())
        .then(|| {
            profile::Profile::new(
                args.profile_cpu,
                args.flamegraph.as_deref(),
                std::path::Path::new("cpu-profile.folded"),
            )
        })
        .transpose()
        .map_err(usage)?;
    kernel_options.extend(cpu_profile.iter().map(profile::Profile::kernel_option));
    qemu::check_memory(args.memory, host::memory_mib()).map_err(usage)?;
    publish::check_network(args.net, &args.publish).map_err(usage)?;
    publish::check_host_ports(&args.publish).map_err(usage)?;
    if let Some(port) = args.gdb {
        gdb::find_gdb().map_err(usage)?;
        gdb::check_port(port).map_err(usage)?;
    }
    let accel = match args.accel {
        Some(accel) => {
            accel.check_host()?;
            accel
        }
        None => Accel::detect(),
    };
    if args.icount && accel != Accel::Tcg {
        return Err(usage(anyhow!(
            "--icount needs software emulation (--accel tcg)"
        )));
    }
    Ok(CheckedRun {
        env,
        accel,
        kernel_options,
        cpu_profile,
    })
}

/// The boot `run` makes of `built`.
pub(crate) fn boot<'a>(
    args: &RunArgs,
    checked: &CheckedRun,
    built: &'a build::Built,
    console: Console,
) -> Boot<'a> {
    Boot {
        image: &built.output,
        accel: checked.accel,
        memory_mib: args.memory,
        argv0: built
            .output
            .file_name()
            .unwrap_or_default()
            .to_string_lossy()
            .into_owned(),
        args: args.args.clone(),
        env: checked.env.clone(),
        verbose: args.build.verbose,
        kernel_options: checked.kernel_options.clone(),
        gdb_port: args.gdb,
        timeout: std::time::Duration::from_secs(args.timeout),
        icount: args.icount,
        console,
        publish: args.publish.clone(),
        network: args.net,
    }
}
