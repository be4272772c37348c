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

    /// Positions of outputs that are scratch registers of the instruction (`rcx`, `r11`).
    pub fn scratch_outputs(&self) -> impl Iterator<Item = usize> + '_ {
        self.outputs
            .iter()
            .enumerate()
            .filter(|(_, r)| matches!(r, Reg::Rcx | Reg::R11))
            .map(|(i, _)| i)
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

/// Whether `template` is exactly the one instruction the pass replaces.
pub(crate) fn is_bare_syscall(template: &str) -> bool {
    template.trim() == "syscall"
}

/// How many `syscall` instructions `text` (an asm template or module-level asm) holds.
/// Statements are split at newlines and `;`, `#` starts a comment, and leading labels
/// (`2:`) are skipped, as GNU as reads x86 source.
pub(crate) fn count_syscall_instructions(text: &str) -> usize {
    text.split(['\n', ';'])
        .map(|statement| statement.split('#').next().unwrap_or(""))
        .filter(|statement| mnemonic(statement).eq_ignore_ascii_case("syscall"))
        .count()
}

fn mnemonic(statement: &str) -> &str {
    let mut rest = statement.trim();
    while let Some((label, after)) = rest.split_once(':') {
        let is_label = !label.is_empty()
            && label
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '$'));
        if !is_label {
            break;
        }
        rest = after.trim_start();
    }
    rest.split_whitespace().next().unwrap_or("")
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
        assert_eq!(layout.scratch_outputs().collect::<Vec<_>>(), [1, 2]);
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
        assert!(!is_bare_syscall("syscall; ret"));
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
    }
}
