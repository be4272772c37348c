//! `cargo unikernel report`: the build report (`<output>.report.json`) as text.
//!
//! It renders the JSON file read back ([`BuildReport::read`]) rather than the in-memory
//! report, so a build that skipped the link prints the same.

use std::collections::BTreeMap;
use std::fmt::Write;

use unikernel_pass::reach::properties::AnnotationCheck;
use unikernel_pass::reach::{Reachability, Support, Via, demangle};
use unikernel_pass::syscalls::{Outcome, SyscallRewriteStats, syscall_name};
use unikernel_pass::trap_numbers::TrapNumbers;

use crate::checks::path_text;
use crate::composition::Composition;
use crate::link_inputs::InputSummary;
use crate::report::BuildReport;

/// The report as text.
pub fn render(report: &BuildReport) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "Build report for {}", report.output.display());
    let _ = writeln!(
        out,
        "  pipeline {}; {} bitcode modules; {} functions merged -> {} after LTO \
         ({} internalized); {} ms (merge {}, syscall rewrite {}, optimize {}, codegen {})",
        report.pipeline,
        report.stats.modules,
        report.stats.functions_merged,
        report.stats.functions_optimized,
        report.stats.internalized,
        report.total_ms,
        report.stats.merge_ms,
        report.stats.rewrite_syscalls_ms,
        report.stats.optimize_ms,
        report.stats.codegen_ms,
    );
    sites(&mut out, &report.stats.syscall_rewrites);
    if let Some(numbers) = &report.stats.trap_numbers {
        trap_numbers(&mut out, numbers);
    }
    if let Some(reachability) = &report.reachability {
        reachable(&mut out, reachability);
    }
    if let Some(composition) = &report.composition {
        sizes(&mut out, composition);
    }
    if let Some(pgo) = &report.pgo {
        out.push_str(&crate::pgo::render(pgo));
    }
    let native: Vec<&InputSummary> = report
        .inputs
        .iter()
        .filter(|i| i.native.is_some())
        .collect();
    let _ = writeln!(out, "\nInputs left out of LTO ({}):", native.len());
    for input in native {
        let _ = writeln!(
            out,
            "  {}: {}{}",
            input.name,
            input.native.as_deref().unwrap_or(""),
            if input.bitcode_modules > 0 {
                format!(" ({} bitcode modules merged)", input.bitcode_modules)
            } else {
                String::new()
            }
        );
    }
    out
}

/// Sites by outcome: those the runs made direct, and what the last run left.
fn sites(out: &mut String, runs: &[SyscallRewriteStats]) {
    if runs.is_empty() {
        return;
    }
    let last = runs.len() - 1;
    let _ = writeln!(out, "\nSystem call sites, by outcome of the rewrite:");
    for outcome in [
        Outcome::Direct,
        Outcome::DirectUnimplemented,
        Outcome::DispatcherConstant,
        Outcome::DispatcherDynamic,
        Outcome::StubCall,
        Outcome::TrapPath,
    ] {
        let direct = matches!(outcome, Outcome::Direct | Outcome::DirectUnimplemented);
        let mut names: BTreeMap<String, (usize, Vec<String>)> = BTreeMap::new();
        for (index, run) in runs.iter().enumerate() {
            for site in run.details.iter().filter(|site| site.outcome == outcome) {
                if !(direct && site.changed || !direct && index == last) {
                    continue;
                }
                let name = match (site.name, site.number) {
                    (Some(name), _) => name.to_owned(),
                    (None, Some(n)) => format!("#{n}"),
                    (None, None) => "(run-time number)".into(),
                };
                let entry = names.entry(name).or_default();
                entry.0 += 1;
                let function = demangle(&site.function);
                if !entry.1.contains(&function) {
                    entry.1.push(function);
                }
            }
        }
        if names.is_empty() {
            continue;
        }
        let total: usize = names.values().map(|(n, _)| n).sum();
        let _ = writeln!(out, "  {} ({total} sites):", outcome_name(outcome));
        for (name, (count, functions)) in names {
            let mut shown: Vec<&str> = functions.iter().take(3).map(String::as_str).collect();
            let more = functions.len().saturating_sub(shown.len());
            let more = if more > 0 {
                format!(" and {more} more")
            } else {
                String::new()
            };
            shown.sort_unstable();
            let _ = writeln!(
                out,
                "    {name:<20} {count:>4}  in {}{more}",
                shown.join(", ")
            );
        }
    }
}

/// The outcome as the JSON report spells it.
fn outcome_name(outcome: Outcome) -> &'static str {
    match outcome {
        Outcome::Direct => "direct",
        Outcome::DirectUnimplemented => "direct_unimplemented",
        Outcome::DispatcherConstant => "dispatcher_constant",
        Outcome::DispatcherDynamic => "dispatcher_dynamic",
        Outcome::StubCall => "stub_call",
        Outcome::TrapPath => "trap_path",
    }
}

/// Which numbers the kernel's dispatchers keep handlers for (pass `trap_numbers`).
fn trap_numbers(out: &mut String, numbers: &TrapNumbers) {
    let _ = match numbers {
        TrapNumbers::All(why) => writeln!(out, "\nKernel dispatchers: every handler kept ({why})"),
        TrapNumbers::Only(set) => {
            let names: Vec<String> = set
                .iter()
                .map(|&nr| match syscall_name(nr) {
                    Some(name) => format!("{name} ({nr})"),
                    None => nr.to_string(),
                })
                .collect();
            writeln!(
                out,
                "\nKernel dispatchers: {} system call numbers can reach them, the other handlers are left out: {}",
                set.len(),
                if names.is_empty() {
                    "none".to_owned()
                } else {
                    names.join(", ")
                }
            )
        }
    };
}

fn reachable(out: &mut String, reachability: &Reachability) {
    let _ = writeln!(
        out,
        "\nSystem calls reachable in the final module ({} of {} functions reachable):",
        reachability.functions_reachable, reachability.functions
    );
    for syscall in &reachability.syscalls {
        let support = match syscall.support {
            Support::Implemented => "implemented",
            Support::Unimplemented => "UNIMPLEMENTED",
            Support::Unknown => "decided at run time",
        };
        let via: Vec<&str> = syscall
            .via
            .iter()
            .map(|v| match v {
                Via::EntryCall => "entry call",
                Via::Inlined => "inlined",
                Via::Dispatcher => "dispatcher",
                Via::Asm => "asm",
                Via::LibcSyscall => "libc syscall()",
            })
            .collect();
        let _ = writeln!(
            out,
            "  {:<24} {:<20} {} uses ({})",
            syscall.label(),
            support,
            syscall.uses,
            via.join(", ")
        );
        if syscall.support == Support::Unimplemented {
            let _ = writeln!(out, "      path: {}", path_text(&syscall.path));
        }
    }
    let names: Vec<String> = reachability
        .syscalls
        .iter()
        .filter_map(|s| s.name.as_ref().map(|n| format!("{n:?}")))
        .collect();
    let _ = writeln!(
        out,
        "  as an allow-list ([package.metadata.unikernel]): syscalls = [{}]",
        names.join(", ")
    );
    if !reachability.annotations.is_empty() {
        annotations(out, &reachability.annotations);
        return;
    }
    // A report written before the other annotations existed.
    for check in &reachability.no_syscalls {
        if check.reaches.is_empty() {
            let _ = writeln!(out, "  #[no_syscalls] {}: holds", check.function);
        } else {
            for syscall in &check.reaches {
                let _ = writeln!(
                    out,
                    "  #[no_syscalls] {}: VIOLATED, reaches {} via {}",
                    check.function,
                    syscall.label(),
                    path_text(&syscall.path)
                );
            }
        }
    }
}

/// Every annotated function, its property and the result.
fn annotations(out: &mut String, checks: &[AnnotationCheck]) {
    let _ = writeln!(out, "\nAnnotations ({}):", checks.len());
    for check in checks {
        let attribute = check.property.attribute();
        let bytes = check
            .stack_bytes
            .map(|b| format!(" ({b} bytes of stack)"))
            .unwrap_or_default();
        if check.holds {
            let _ = writeln!(out, "  {attribute} {}: holds{bytes}", check.function);
            continue;
        }
        let _ = writeln!(out, "  {attribute} {}: VIOLATED{bytes}", check.function);
        for violation in &check.violations {
            let _ = writeln!(out, "      {}", violation.what);
            if !violation.path.is_empty() {
                let _ = writeln!(out, "        via {}", path_text(&violation.path));
            }
        }
    }
}

fn sizes(out: &mut String, composition: &Composition) {
    let _ = writeln!(
        out,
        "\nImage size by component ({} bytes loaded{}):",
        composition.loaded_bytes,
        if composition.symbols {
            ""
        } else {
            "; the image has no symbols"
        }
    );
    for line in &composition.components {
        let _ = writeln!(
            out,
            "  {:<24} {:>10} bytes  {:>5.1}%",
            line.component.label(),
            line.bytes,
            percent(line.bytes, composition.loaded_bytes)
        );
    }
    let _ = writeln!(
        out,
        "  {:<24} {:>10} bytes",
        "total", composition.total_bytes
    );
    let _ = writeln!(out, "\nLargest crates:");
    for krate in composition.crates.iter().take(12) {
        let name = if krate.name.is_empty() {
            "?"
        } else {
            &krate.name
        };
        let _ = writeln!(
            out,
            "  {:<32} {:>10} bytes  ({})",
            name,
            krate.bytes,
            krate.component.label()
        );
    }
    let _ = writeln!(out, "\nData without symbols, by section:");
    for section in composition.sections_without_symbols.iter().take(8) {
        let _ = writeln!(out, "  {:<32} {:>10} bytes", section.section, section.bytes);
    }
    let _ = writeln!(out, "\nLargest symbols:");
    for symbol in &composition.largest {
        let _ = writeln!(
            out,
            "  {:>8} bytes  {:<10} {}",
            symbol.bytes,
            symbol.section,
            truncate(&symbol.name, 100)
        );
    }
}

fn percent(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        0.0
    } else {
        part as f64 * 100.0 / whole as f64
    }
}

fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((at, _)) => format!("{}...", &text[..at]),
        None => text.to_owned(),
    }
}
