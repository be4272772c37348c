//! Reading inline assembly: which instructions a template holds, and which registers
//! an asm call's operands are bound to (from its LLVM constraint string).
//!
//! rustc lowers `asm!("syscall", in("rax") n, in("rdi") a0, lateout("rax") ret,
//! out("rcx") _, out("r11") _, ...)` to a call of
//! `asm "syscall", "={ax},=&{cx},=&{r11},{ax},{di},~{memory}"`: outputs first (here
//! rax and the two scratch registers, returned as a struct), then one input per call
//! argument, then clobbers. The operand order is rustc's business, so the constraint
//! string is parsed rather than assumed (LLVM LangRef, "Inline Asm Constraint String").

use super::Obstacle;

/// A register of the x86_64 Linux syscall ABI: `rax` holds the number and the result,
/// `rdi, rsi, rdx, r10, r8, r9` the arguments; the instruction itself overwrites `rcx`
/// (return address) and `r11` (saved RFLAGS) (Intel SDM Vol. 2B, SYSCALL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Reg {
    Rax,
    Rdi,
    Rsi,
    Rdx,
    R10,
    R8,
    R9,
    Rcx,
    R11,
}

impl Reg {
    /// Parse an LLVM register name as rustc and clang write it (`ax`, `di`, `r10`), or
    /// its 64/32-bit spelling.
    fn parse(name: &str) -> Option<Self> {
        Some(match name.to_ascii_lowercase().as_str() {
            "ax" | "rax" | "eax" => Reg::Rax,
            "di" | "rdi" | "edi" => Reg::Rdi,
            "si" | "rsi" | "esi" => Reg::Rsi,
            "dx" | "rdx" | "edx" => Reg::Rdx,
            "r10" | "r10d" => Reg::R10,
            "r8" | "r8d" => Reg::R8,
            "r9" | "r9d" => Reg::R9,
            "cx" | "rcx" | "ecx" => Reg::Rcx,
            "r11" | "r11d" => Reg::R11,
            _ => return None,
        })
    }

    /// The argument position of this register in the syscall ABI.
    fn arg_slot(self) -> Option<usize> {
        match self {
            Reg::Rdi => Some(0),
            Reg::Rsi => Some(1),
            Reg::Rdx => Some(2),
            Reg::R10 => Some(3),
            Reg::R8 => Some(4),
            Reg::R9 => Some(5),
            Reg::Rax | Reg::Rcx | Reg::R11 => None,
        }
    }
}

/// How an asm call's operands map onto the syscall ABI.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AsmLayout {
    /// The call argument bound to `rax` (the number).
    pub number: u32,
    /// The call argument bound to each argument register, in ABI order.
    pub args: [Option<u32>; 6],
    /// The register of each output, in the order of the asm's results.
    pub outputs: Vec<Reg>,
}

impl AsmLayout {
    /// Position of the `rax` output among the results, if the asm returns it.
    pub fn result(&self) -> Option<usize> {
        self.outputs.iter().position(|&r| r == Reg::Rax)
    }
}

/// Parse a constraint string into an [`AsmLayout`], or say why the site cannot be
/// rewritten. Clobbers (`~{...}`) are ignored: a call clobbers at least as much.
pub(crate) fn parse_constraints(constraints: &str) -> Result<AsmLayout, Obstacle> {
    let mut number = None;
    let mut args = [None; 6];
    let mut outputs = Vec::new();
    let mut next_arg = 0u32;
    for entry in constraints.split(',').map(str::trim) {
        if entry.starts_with('~') {
            continue;
        }
        if let Some(output) = entry.strip_prefix('=') {
            outputs.push(braced_register(output.trim_start_matches('&'), entry)?);
            continue;
        }
        if entry.starts_with('!') {
            // `asm goto` labels: control flow the replacement call could not express.
            return Err(Obstacle::Constraint(entry.to_owned()));
        }
        let arg = next_arg;
        next_arg += 1;
        let reg = match entry.parse::<usize>() {
            // A tied input: the register of output N (`inout`).
            Ok(tied) => *outputs
                .get(tied)
                .ok_or_else(|| Obstacle::Constraint(entry.to_owned()))?,
            Err(_) => braced_register(entry, entry)?,
        };
        let slot = match (reg, reg.arg_slot()) {
            (Reg::Rax, _) => &mut number,
            (_, Some(slot)) => &mut args[slot],
            (_, None) => return Err(Obstacle::Register(entry.to_owned())),
        };
        if slot.replace(arg).is_some() {
            return Err(Obstacle::Constraint(constraints.to_owned()));
        }
    }
    if outputs
        .iter()
        .any(|r| !matches!(r, Reg::Rax | Reg::Rcx | Reg::R11))
    {
        return Err(Obstacle::Output(constraints.to_owned()));
    }
    let number = number.ok_or(Obstacle::NoNumber)?;
    Ok(AsmLayout {
        number,
        args,
        outputs,
    })
}

/// `{name}` → the register; anything else (a register class, memory, an indirect
/// operand) is a constraint the rewrite cannot honour.
fn braced_register(code: &str, entry: &str) -> Result<Reg, Obstacle> {
    let name = code
        .strip_prefix('{')
        .and_then(|rest| rest.strip_suffix('}'))
        .ok_or_else(|| Obstacle::Constraint(entry.to_owned()))?;
    Reg::parse(name).ok_or_else(|| Obstacle::Register(name.to_owned()))
}

/// The instruction that enters the kernel at a site: the `syscall` instruction itself,
/// or the call of the kernel's stub with the same register convention that the
/// rewrite puts in its place (see [`super::SYSCALL_STUB`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum EntryInstruction {
    Syscall,
    StubCall,
}

mod numbers;

pub(crate) use numbers::entry_numbers;

/// The replacement text of a `syscall` instruction.
pub(crate) fn stub_call() -> String {
    format!("call {}", super::SYSCALL_STUB)
}

/// Whether `template` is exactly one instruction that enters the kernel (`syscall`,
/// or the stub call an earlier run put in its place): the shape the pass can turn
/// into a call.
pub(crate) fn is_bare_syscall(template: &str) -> bool {
    let mut code = statements(template)
        .map(|s| s.code)
        .filter(|code| !code.trim().is_empty());
    match (code.next(), code.next()) {
        (Some(only), None) => split_labels(only).0.is_empty() && entry_instruction(only).is_some(),
        _ => false,
    }
}

/// How many `syscall` instructions `text` (an asm template or module-level asm) holds.
pub(crate) fn count_syscall_instructions(text: &str) -> usize {
    count(text, EntryInstruction::Syscall)
}

/// How many calls of the stub `text` holds.
pub(crate) fn count_stub_calls(text: &str) -> usize {
    count(text, EntryInstruction::StubCall)
}

fn count(text: &str, what: EntryInstruction) -> usize {
    statements(text)
        .filter(|s| entry_instruction(s.code) == Some(what))
        .count()
}

/// `text` with every `syscall` instruction replaced by a call of the stub, and how many
/// were replaced. Labels, comments, separators and everything else stay byte for byte.
pub(crate) fn replace_syscall_instructions(text: &str) -> (String, usize) {
    let mut out = String::with_capacity(text.len());
    let mut replaced = 0;
    for statement in statements(text) {
        if entry_instruction(statement.code) == Some(EntryInstruction::Syscall) {
            let (start, end) = mnemonic_span(statement.code);
            out.push_str(&statement.code[..start]);
            out.push_str(&stub_call());
            out.push_str(&statement.code[end..]);
            replaced += 1;
        } else {
            out.push_str(statement.code);
        }
        out.push_str(statement.tail);
    }
    (out, replaced)
}

/// Whether `text` (module-level asm) defines the label `name`.
pub(crate) fn defines_label(text: &str, name: &str) -> bool {
    statements(text).any(|s| labels(s.code).any(|label| label == name))
}

/// One statement of GNU as x86 source: `code`, then what follows it up to the next
/// statement (a comment started by `#`, the `;` or newline separator).
struct Statement<'a> {
    code: &'a str,
    tail: &'a str,
}

/// The statements of `text`, as GNU as reads x86 source: lines, `#` comments to the
/// end of the line, `;` separators within a line. Concatenating every statement's
/// `code` and `tail` gives back `text`.
fn statements(text: &str) -> impl Iterator<Item = Statement<'_>> {
    text.split_inclusive('\n').flat_map(|line| {
        let body = line.strip_suffix('\n').unwrap_or(line);
        let (code, _) = body.split_at(body.find('#').unwrap_or(body.len()));
        // The comment and the newline end the line's last statement.
        let end_of_line = &line[code.len()..];
        let count = code.split(';').count();
        code.split(';').enumerate().map(move |(i, code)| Statement {
            code,
            tail: if i + 1 == count { end_of_line } else { ";" },
        })
    })
}

/// The labels at the start of a statement (`1:`, `name:`), and the rest of it.
fn split_labels(statement: &str) -> (Vec<&str>, &str) {
    let mut labels = Vec::new();
    let mut rest = statement.trim_start();
    while let Some((label, after)) = rest.split_once(':') {
        let is_label = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'));
        if !is_label {
            break;
        }
        labels.push(label);
        rest = after.trim_start();
    }
    (labels, rest)
}

fn labels(statement: &str) -> impl Iterator<Item = &str> {
    split_labels(statement).0.into_iter()
}

/// Byte range of the mnemonic in `statement`, after leading whitespace and labels
/// (empty, at the end, if there is none).
fn mnemonic_span(statement: &str) -> (usize, usize) {
    let rest = split_labels(statement).1;
    let start = statement.len() - rest.len();
    let len = rest.find(char::is_whitespace).unwrap_or(rest.len());
    (start, start + len)
}

/// Which kernel entry instruction `statement` is, if any: the mnemonic `syscall` alone,
/// or `call` of exactly the stub.
fn entry_instruction(statement: &str) -> Option<EntryInstruction> {
    let (start, end) = mnemonic_span(statement);
    let operands = statement[end..].trim();
    match &statement[start..end] {
        m if m.eq_ignore_ascii_case("syscall") && operands.is_empty() => {
            Some(EntryInstruction::Syscall)
        }
        m if m.eq_ignore_ascii_case("call") && operands == super::SYSCALL_STUB => {
            Some(EntryInstruction::StubCall)
        }
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rustc_layout_with_scratch_outputs() {
        let layout =
            parse_constraints("={ax},=&{cx},=&{r11},{ax},{di},{si},{dx},~{memory}").unwrap();
        assert_eq!(layout.number, 0);
        assert_eq!(layout.args, [Some(1), Some(2), Some(3), None, None, None]);
        assert_eq!(layout.result(), Some(0));
        assert_eq!(layout.outputs, [Reg::Rax, Reg::Rcx, Reg::R11]);
    }

    #[test]
    fn operand_order_comes_from_the_string() {
        let layout = parse_constraints("={ax},{r9},{r10},{rax},{rdi},~{rcx},~{r11}").unwrap();
        assert_eq!(layout.number, 2);
        assert_eq!(layout.args, [Some(3), None, None, Some(1), None, Some(0)]);
        assert_eq!(layout.outputs, [Reg::Rax]);
    }

    #[test]
    fn tied_input_is_the_outputs_register() {
        let layout = parse_constraints("=&{cx},={ax},1,{di}").unwrap();
        assert_eq!((layout.number, layout.result()), (0, Some(1)));
    }

    #[test]
    fn what_cannot_be_rewritten() {
        assert_eq!(
            parse_constraints("={ax},={dx},{ax}"),
            Err(Obstacle::Output("={ax},={dx},{ax}".into()))
        );
        assert_eq!(
            parse_constraints("={ax},{ax},r"),
            Err(Obstacle::Constraint("r".into()))
        );
        assert_eq!(
            parse_constraints("={ax},{ax},*m"),
            Err(Obstacle::Constraint("*m".into()))
        );
        assert_eq!(
            parse_constraints("={ax},{ax},{bx}"),
            Err(Obstacle::Register("bx".into()))
        );
        assert_eq!(parse_constraints("={ax},{di}"), Err(Obstacle::NoNumber));
        assert!(parse_constraints("={ax},{ax},{di},{di}").is_err());
    }

    #[test]
    fn syscall_instructions_in_templates() {
        assert!(is_bare_syscall(" syscall\n"));
        assert!(is_bare_syscall("call __unikernel_syscall_stub"));
        assert!(!is_bare_syscall("syscall; ret"));
        assert!(!is_bare_syscall("1: syscall"));
        assert!(!is_bare_syscall("call __unikernel_syscall"));
        assert_eq!(count_syscall_instructions("syscall"), 1);
        assert_eq!(
            count_syscall_instructions("mov eax, 56\n\tsyscall\n\ttest rax, rax\n2:\n"),
            1
        );
        assert_eq!(
            count_syscall_instructions("1: SYSCALL # again\nsyscall_count: nop"),
            1
        );
        assert_eq!(count_syscall_instructions("pause"), 0);
        assert_eq!(count_syscall_instructions("call my_syscall # syscall"), 0);
        assert_eq!(count_syscall_instructions("nop # ; syscall"), 0);
        assert_eq!(count_syscall_instructions("nop;syscall ;  syscall"), 2);
        assert_eq!(
            count_syscall_instructions("sysenter\nsysretq\nsyscall rax"),
            0
        );
    }

    #[test]
    fn replacement_touches_only_the_instruction() {
        let text = ".globl t\nt:\n  mov eax, 15\n  syscall\n2: syscall # in\nnop; syscall;ud2\n\
                    call __unikernel_syscall\ncall syscall_helper\nsysretq\nsyscall";
        let (out, replaced) = replace_syscall_instructions(text);
        assert_eq!(replaced, 4);
        assert_eq!(
            out,
            ".globl t\nt:\n  mov eax, 15\n  call __unikernel_syscall_stub\n\
             2: call __unikernel_syscall_stub # in\nnop; call __unikernel_syscall_stub;ud2\n\
             call __unikernel_syscall\ncall syscall_helper\nsysretq\ncall __unikernel_syscall_stub"
        );
        assert_eq!(count_syscall_instructions(&out), 0);
        assert_eq!(count_stub_calls(&out), 4);
        assert_eq!(replace_syscall_instructions(&out), (out.clone(), 0));
        let untouched = "a:\n\tnop # syscall\n;\n\n";
        assert_eq!(
            replace_syscall_instructions(untouched),
            (untouched.into(), 0)
        );
    }

    #[test]
    fn stub_definition_is_a_label() {
        let hal = ".globl __unikernel_syscall_stub\n__unikernel_syscall_stub:\n  push rcx\n";
        assert!(defines_label(hal, "__unikernel_syscall_stub"));
        assert!(defines_label(
            "x: __unikernel_syscall_stub: ret",
            "__unikernel_syscall_stub"
        ));
        assert!(!defines_label(
            ".globl __unikernel_syscall_stub\ncall __unikernel_syscall_stub",
            "__unikernel_syscall_stub"
        ));
        assert!(!defines_label(
            "__unikernel_syscall_stub_2:",
            "__unikernel_syscall_stub"
        ));
    }
}
