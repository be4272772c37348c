//! `cargo unikernel ir`: the whole-program module's textual IR at a stage, whole or
//! only the functions whose demangled name matches a pattern.
//!
//! Ordinary builds write no IR (a merged module prints to hundreds of megabytes). The
//! `ir` command asks the pass's pipeline for one stage
//! ([`unikernel_pass::Pipeline::capture_ir`]);
//! the file is kept in the work directory with the fingerprint of the link that wrote
//! it, so asking again for the same stage of an unchanged build reads it back.

use clap::builder::{PossibleValue, PossibleValuesParser, TypedValueParser};
use unikernel_pass::Stage;

/// `--stage`: the pass's [`Stage`]s by name, each with its one-line description in
/// `--help`.
pub fn stage_parser() -> impl TypedValueParser<Value = Stage> {
    PossibleValuesParser::new(
        Stage::ALL.map(|stage| PossibleValue::new(stage.name()).help(stage.about())),
    )
    .try_map(|name| name.parse::<Stage>())
}

/// The definitions in `ir` whose demangled (or raw) name matches `pattern`, each
/// preceded by a comment with the demangled name; `None` if none matches.
///
/// A pattern with `*` or `?` is a glob over the whole name; otherwise it matches any
/// name containing it.
pub fn functions_matching(ir: &str, pattern: &str) -> Option<String> {
    let mut out = String::new();
    let mut current: Option<bool> = None;
    for line in ir.lines() {
        if current.is_none() && line.starts_with("define ") {
            let matched = defined_name(line).is_some_and(|name| {
                let demangled = unikernel_pass::reach::demangle(&name);
                matches(pattern, &demangled) || matches(pattern, &name)
            });
            if matched && let Some(name) = defined_name(line) {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&format!("; {}\n", unikernel_pass::reach::demangle(&name)));
            }
            current = Some(matched);
        }
        if current == Some(true) {
            out.push_str(line);
            out.push('\n');
        }
        if current.is_some() && line == "}" {
            current = None;
        }
    }
    (!out.is_empty()).then_some(out)
}

/// The symbol a `define` line defines: `@name(` or `@"quoted name"(`.
fn defined_name(line: &str) -> Option<String> {
    let at = line.find(" @")? + 2;
    let rest = &line[at..];
    if let Some(quoted) = rest.strip_prefix('"') {
        let end = quoted.find('"')?;
        Some(quoted[..end].to_owned())
    } else {
        let end = rest.find('(')?;
        Some(rest[..end].to_owned())
    }
}

fn matches(pattern: &str, name: &str) -> bool {
    if pattern.contains(['*', '?']) {
        glob(pattern.as_bytes(), name.as_bytes())
    } else {
        name.contains(pattern)
    }
}

/// `*` matches any run of characters, `?` any one.
fn glob(pattern: &[u8], text: &[u8]) -> bool {
    let (mut p, mut t) = (0, 0);
    let mut star: Option<(usize, usize)> = None;
    while t < text.len() {
        match pattern.get(p) {
            Some(b'*') => {
                star = Some((p, t));
                p += 1;
            }
            Some(&c) if c == b'?' || c == text[t] => {
                p += 1;
                t += 1;
            }
            _ => match star {
                Some((sp, st)) => {
                    p = sp + 1;
                    t = st + 1;
                    star = Some((sp, st + 1));
                }
                None => return false,
            },
        }
    }
    pattern[p..].iter().all(|&c| c == b'*')
}

#[cfg(test)]
mod tests {
    use super::*;

    const IR: &str = r#"; ModuleID = 'whole-program'
define internal void @_ZN5hello4main17h0011223344556677E() unnamed_addr #0 {
start:
  ret void
}

define i32 @main(i32 %0, ptr %1) #1 {
  ret i32 0
}

define internal void @"weird name"() {
  ret void
}
"#;

    #[test]
    fn substring_of_the_demangled_name() {
        let out = functions_matching(IR, "main").unwrap();
        assert!(out.contains("; hello::main\ndefine internal void @_ZN5hello4main"));
        assert!(out.contains("; main\ndefine i32 @main"));
        assert!(!out.contains("weird"));
    }

    #[test]
    fn globs_match_the_whole_name() {
        let out = functions_matching(IR, "hello::*").unwrap();
        assert!(out.contains("@_ZN5hello4main") && !out.contains("@main("));
        assert!(functions_matching(IR, "wei?d name").is_some());
        assert!(functions_matching(IR, "nothing*").is_none());
    }
}
