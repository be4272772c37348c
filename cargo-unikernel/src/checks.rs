//! The properties every build checks on the final module, and the failure when one
//! does not hold:
//!
//! - no reachable system call that the kernel answers with `-ENOSYS` (unless
//!   `--allow-unsupported-syscalls`): the app would fail at run time, on a path the
//!   tests may never take;
//! - no system call reachable from a `#[unikernel::no_syscalls]` function.
//!
//! Both read the reachability analysis in the build report, so a build that skips the
//! link (nothing changed) checks the same as the one that linked.

use unikernel_pass::reach::graph::EdgeKind;
use unikernel_pass::reach::{PathStep, Reachability, ReachableSyscall};

use crate::error::Failure;

/// Fail (class [`Failure::Check`]) if a checked property does not hold; returns the
/// warnings for unimplemented system calls that `allow_unsupported` lets through.
pub fn enforce(
    reachability: &Reachability,
    allow_unsupported: bool,
) -> anyhow::Result<Vec<String>> {
    let mut problems = Vec::new();
    let unimplemented: Vec<&ReachableSyscall> = reachability.unimplemented().collect();
    let lines = |list: &[&ReachableSyscall]| -> String {
        list.iter()
            .map(|s| format!("\n    {}", describe(s)))
            .collect()
    };
    if !unimplemented.is_empty() && !allow_unsupported {
        problems.push(format!(
            "the kernel does not implement {} reachable system call{} (they would return \
             ENOSYS; build anyway with --allow-unsupported-syscalls):{}",
            unimplemented.len(),
            if unimplemented.len() == 1 { "" } else { "s" },
            lines(&unimplemented)
        ));
    }
    for check in reachability.no_syscalls_violations() {
        let reaches: Vec<&ReachableSyscall> = check.reaches.iter().collect();
        problems.push(format!(
            "`{}` is marked #[unikernel::no_syscalls] but reaches {} system call{}:{}",
            check.function,
            reaches.len(),
            if reaches.len() == 1 { "" } else { "s" },
            lines(&reaches)
        ));
    }
    if !problems.is_empty() {
        return Err(anyhow::anyhow!(problems.join("\n")).context(Failure::Check));
    }
    Ok(if allow_unsupported {
        unimplemented
            .iter()
            .map(|s| format!("unimplemented system call reachable: {}", describe(s)))
            .collect()
    } else {
        Vec::new()
    })
}

/// `write (1) in std::io::stdio::_print, via main -> hello::main -> std::io::stdio::_print`
/// (a long path shows its first and last steps; the report has it whole).
pub fn describe(syscall: &ReachableSyscall) -> String {
    let holder = syscall.path.last().map_or("?", |s| s.symbol.as_str());
    let path = &syscall.path;
    let via = if path.len() > 8 {
        format!(
            "{} -> ... -> {}",
            path_text(&path[..3]),
            path_text(&path[path.len() - 4..])
        )
    } else {
        path_text(path)
    };
    format!("{} in {holder}, via {via}", syscall.label())
}

/// `a -> b -> &c` (`&`: the address was taken rather than called).
pub fn path_text(path: &[PathStep]) -> String {
    path.iter()
        .map(|step| match step.via {
            EdgeKind::Call => step.symbol.clone(),
            EdgeKind::Reference => format!("&{}", step.symbol),
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}
