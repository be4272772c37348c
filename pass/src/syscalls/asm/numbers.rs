//! The numbers module-level asm puts in `eax` before its kernel entries (for the
//! trap-number table, `crate::trap_numbers`): a straight-line reading, `None` wherever
//! it cannot be sure.

use super::{entry_instruction, split_labels, statements};

/// For each kernel entry in `text` (module-level asm: a `syscall` instruction or a stub
/// call), the number in `eax` there when straight-line code before it in the same
/// block set it from an immediate (`mov eax, 15`, `movl $15, %eax`); `None` when a
/// label (a jump may arrive with another value) or any other mention of the register
/// comes between.
pub(crate) fn entry_numbers(text: &str) -> Vec<Option<u64>> {
    let mut numbers = Vec::new();
    let mut eax = None;
    for statement in statements(text) {
        let (labels, code) = split_labels(statement.code);
        if !labels.is_empty() {
            eax = None;
        }
        if entry_instruction(statement.code).is_some() {
            numbers.push(eax);
            // The result comes back in rax.
            eax = None;
        } else if mentions_rax(code) {
            eax = immediate_into_eax(code);
        } else if !writes_only_its_operands(code) {
            // A call, `cpuid`, `mul`, ... may change rax without naming it.
            eax = None;
        }
    }
    numbers
}

/// Whether `code` is empty, a directive, or an instruction that writes nothing but its
/// explicit operands (so one that does not name rax leaves it alone).
fn writes_only_its_operands(code: &str) -> bool {
    let mnemonic = code.split_whitespace().next().unwrap_or("");
    mnemonic.is_empty()
        || mnemonic.starts_with('.')
        || matches!(
            mnemonic.to_ascii_lowercase().as_str(),
            "mov"
                | "movl"
                | "movq"
                | "lea"
                | "leaq"
                | "push"
                | "pushq"
                | "pop"
                | "popq"
                | "test"
                | "testq"
                | "cmp"
                | "cmpq"
                | "and"
                | "andq"
                | "or"
                | "orq"
                | "xor"
                | "xorl"
                | "xorq"
                | "add"
                | "addq"
                | "sub"
                | "subq"
                | "nop"
        )
}

fn mentions_rax(code: &str) -> bool {
    code.split(|c: char| !c.is_ascii_alphanumeric())
        .any(|word| {
            matches!(
                word.to_ascii_lowercase().as_str(),
                "rax" | "eax" | "ax" | "al" | "ah"
            )
        })
}

/// The immediate of `mov eax, N` (Intel) or `mov $N, %eax` (AT&T; `rax` and the
/// `l`/`q` suffixes too), decimal or `0x` hex.
fn immediate_into_eax(code: &str) -> Option<u64> {
    let (mnemonic, operands) = code.trim().split_once(char::is_whitespace)?;
    if !matches!(
        mnemonic.to_ascii_lowercase().as_str(),
        "mov" | "movl" | "movq"
    ) {
        return None;
    }
    let (first, second) = operands.split_once(',')?;
    let (first, second) = (first.trim(), second.trim());
    let (register, value) = match first.strip_prefix('$') {
        Some(value) => (second.strip_prefix('%')?, value),
        None => (first, second),
    };
    if !matches!(register.to_ascii_lowercase().as_str(), "eax" | "rax") {
        return None;
    }
    match value.strip_prefix("0x") {
        Some(hex) => u64::from_str_radix(hex, 16).ok(),
        None => value.parse().ok(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_numbers_from_the_mov_before_each_entry() {
        let text = "clone_raw:\n mov r10, rcx\n mov eax, 56\n call __unikernel_syscall_stub\n\
                    test rax, rax\nrestorer:\n movl $0xf, %eax\n syscall\n\
                    other:\n mov eax, edi\n syscall\n mov eax, 1\n2:\n syscall\n\
                    mov eax, 60\n call exit_hook\n syscall\n";
        assert_eq!(entry_numbers(text), [Some(56), Some(15), None, None, None]);
    }
}
