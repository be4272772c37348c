//! The properties every build checks on the final module, and the failure when one
//! does not hold:
//!
//! - no reachable system call that the kernel answers with `-ENOSYS` (unless
//!   `--allow-unsupported-syscalls`): the app would fail at run time, on a path the
//!   tests may never take;
//! - no system call reachable from a `#[unikernel::no_syscalls]` function;
//! - the property of every other `#[unikernel::...]` annotation (`no_alloc`,
//!   `no_panic`, `syscalls(...)`, `max_stack(...)`);
//! - every reachable system call is in `[package.metadata.unikernel] syscalls`, if the
//!   package has that list (a compile-time seccomp for the whole program).
//!
//! All read the reachability analysis in the build report, so a build that skips the
//! link (nothing changed) checks the same as the one that linked.

use anyhow::bail;
use unikernel_pass::reach::graph::EdgeKind;
use unikernel_pass::reach::properties::AnnotationCheck;
use unikernel_pass::reach::{PathStep, Reachability, ReachableSyscall, annotations::Property};
use unikernel_pass::syscalls::syscall_number;

use crate::error::Failure;

/// What a hosted build leaves out of its checks: the system calls go to Linux, whose
/// code is not in the module.
pub const HOSTED_SCOPE: &str = "hosted build: the annotations are checked up to the \
    program's system calls (no_syscalls and syscalls(...) at the shim's call sites); what \
    Linux does inside a system call (its allocations, panics, stack) is not checked";

/// What the checks allow, besides the annotations in the code.
#[derive(Debug, Clone, Default)]
pub struct Policy {
    /// `--allow-unsupported-syscalls`.
    pub allow_unsupported: bool,
    /// `[package.metadata.unikernel] syscalls`: every system call the program may
    /// reach.
    pub program_syscalls: Option<Vec<String>>,
}

/// `[package.metadata.unikernel] syscalls = ["read", "write"]` of a package's
/// `[package.metadata]` table, each name checked against the ABI table.
pub fn program_syscalls(metadata: &serde_json::Value) -> anyhow::Result<Option<Vec<String>>> {
    const KEY: &str = "package.metadata.unikernel.syscalls";
    let Some(list) = metadata.get("unikernel").and_then(|u| u.get("syscalls")) else {
        return Ok(None);
    };
    let Some(list) = list.as_array() else {
        bail!("`{KEY}` must be a list of system call names, like [\"read\", \"write\"]");
    };
    let mut names = Vec::new();
    for name in list {
        match name.as_str() {
            Some(name) if syscall_number(name).is_some() => names.push(name.to_owned()),
            Some(name) => bail!("`{KEY}`: `{name}` is not an x86-64 Linux system call name"),
            None => bail!("`{KEY}` must be a list of system call names, not {name}"),
        }
    }
    Ok(Some(names))
}

/// Fail (class [`Failure::Check`]) if a checked property does not hold; returns the
/// warnings for unimplemented system calls that `policy.allow_unsupported` lets
/// through.
pub fn enforce(reachability: &Reachability, policy: &Policy) -> anyhow::Result<Vec<String>> {
    let allow_unsupported = policy.allow_unsupported;
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
    for check in reachability.annotation_violations() {
        // no_syscalls has its own message above.
        if check.property != Property::NoSyscalls {
            problems.push(annotation_failure(check));
        }
    }
    if let Some(allowed) = &policy.program_syscalls {
        let outside: Vec<&ReachableSyscall> = reachability
            .syscalls
            .iter()
            .filter(|s| s.name.as_ref().is_none_or(|n| !allowed.contains(n)))
            .collect();
        if !outside.is_empty() {
            problems.push(format!(
                "the program reaches {} system call{} not in [package.metadata.unikernel] \
                 syscalls:{}",
                outside.len(),
                if outside.len() == 1 { "" } else { "s" },
                lines(&outside)
            ));
        }
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

/// How many reasons a failed annotation shows; the build report has them all.
const REASONS_SHOWN: usize = 3;

/// ``f` is marked #[unikernel::no_alloc] but reaches:` and one line per reason (the
/// nearest few), with its path.
pub fn annotation_failure(check: &AnnotationCheck) -> String {
    let verb = match check.property {
        Property::MaxStack { .. } => "but cannot be held to it",
        _ => "but reaches",
    };
    let mut text = format!(
        "`{}` is marked {} {verb}:",
        check.function,
        check.property.attribute()
    );
    for violation in check.violations.iter().take(REASONS_SHOWN) {
        text.push_str(&format!("\n    {}", violation.what));
        if !violation.path.is_empty() {
            text.push_str(&format!(", via {}", shortened(&violation.path)));
        }
    }
    let more = check.violations.len().saturating_sub(REASONS_SHOWN);
    if more > 0 {
        text.push_str(&format!(
            "\n    and {more} more (`cargo unikernel report` lists them)"
        ));
    }
    text
}

/// `write (1) in std::io::stdio::_print, via main -> hello::main -> std::io::stdio::_print`
/// (a long path shows its first and last steps; the report has it whole).
pub fn describe(syscall: &ReachableSyscall) -> String {
    let holder = syscall.path.last().map_or("?", |s| s.symbol.as_str());
    format!(
        "{} in {holder}, via {}",
        syscall.label(),
        shortened(&syscall.path)
    )
}

/// A long path's first and last steps (the report has it whole).
fn shortened(path: &[PathStep]) -> String {
    if path.len() > 8 {
        format!(
            "{} -> ... -> {}",
            path_text(&path[..3]),
            path_text(&path[path.len() - 4..])
        )
    } else {
        path_text(path)
    }
}

/// `a -> b -> &c -> *d` (`&`: the address was taken rather than called; `*`: an
/// indirect call may call it).
pub fn path_text(path: &[PathStep]) -> String {
    path.iter()
        .map(|step| match step.via {
            EdgeKind::Call => step.symbol.clone(),
            EdgeKind::Reference => format!("&{}", step.symbol),
            EdgeKind::IndirectCall => format!("*{}", step.symbol),
        })
        .collect::<Vec<_>>()
        .join(" -> ")
}

#[cfg(test)]
mod tests {
    use unikernel_pass::reach::properties::{AnnotationCheck, Violation};
    use unikernel_pass::reach::{PathStep, Reachability, ReachableSyscall, Support, Via};

    use super::*;

    fn step(symbol: &str) -> PathStep {
        PathStep {
            symbol: symbol.into(),
            via: EdgeKind::Call,
        }
    }

    fn syscall(name: &str, number: u64) -> ReachableSyscall {
        ReachableSyscall {
            number: Some(number),
            name: Some(name.into()),
            support: Support::Implemented,
            via: vec![Via::Inlined],
            uses: 1,
            path: vec![step("main"), step("app::run")],
        }
    }

    #[test]
    fn the_program_allow_list_is_read_and_checked_against_the_abi_table() {
        let metadata = serde_json::json!({ "unikernel": { "syscalls": ["read", "write"] } });
        assert_eq!(
            program_syscalls(&metadata).unwrap(),
            Some(vec!["read".to_owned(), "write".to_owned()])
        );
        assert_eq!(program_syscalls(&serde_json::json!(null)).unwrap(), None);
        let unknown = serde_json::json!({ "unikernel": { "syscalls": ["read", "scribble"] } });
        let error = program_syscalls(&unknown).unwrap_err().to_string();
        assert!(
            error.contains("`scribble` is not an x86-64 Linux"),
            "{error}"
        );
        let not_a_list = serde_json::json!({ "unikernel": { "syscalls": "read" } });
        assert!(program_syscalls(&not_a_list).is_err());
    }

    #[test]
    fn a_reachable_syscall_outside_the_program_allow_list_fails() {
        let reachability = Reachability {
            syscalls: vec![syscall("read", 0), syscall("write", 1)],
            ..Reachability::default()
        };
        let mut policy = Policy {
            allow_unsupported: false,
            program_syscalls: Some(vec!["read".into(), "write".into()]),
        };
        assert!(enforce(&reachability, &policy).is_ok());
        policy.program_syscalls = Some(vec!["read".into()]);
        let error = enforce(&reachability, &policy).unwrap_err();
        assert_eq!(Failure::of(&error), Some(Failure::Check));
        let message = crate::error::message(&error);
        assert!(
            message.contains(
                "the program reaches 1 system call not in [package.metadata.unikernel] syscalls:\n    write (1) in app::run, via main -> app::run"
            ),
            "{message}"
        );
    }

    #[test]
    fn a_failed_annotation_shows_its_nearest_reasons() {
        let check = AnnotationCheck {
            function: "app::f".into(),
            property: Property::NoAlloc,
            holds: false,
            violations: ["malloc", "free", "calloc", "realloc"]
                .iter()
                .map(|what| Violation {
                    what: (*what).into(),
                    path: vec![step("app::f"), step(what)],
                })
                .collect(),
            stack_bytes: None,
        };
        assert_eq!(
            annotation_failure(&check),
            "`app::f` is marked #[unikernel::no_alloc] but reaches:\n    malloc, via app::f -> \
             malloc\n    free, via app::f -> free\n    calloc, via app::f -> calloc\n    and 1 \
             more (`cargo unikernel report` lists them)"
        );
        let reachability = Reachability {
            annotations: vec![check],
            ..Reachability::default()
        };
        let error = enforce(&reachability, &Policy::default()).unwrap_err();
        assert_eq!(Failure::of(&error), Some(Failure::Check));
    }
}
