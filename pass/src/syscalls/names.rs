//! Syscall names read back from a build report.
//!
//! The counters name syscalls by the table's `&'static str`s; a report read back (the
//! driver's fresh builds and `cargo unikernel report`) maps each name to the same
//! static string, and refuses a name the table does not have: a report is only ever
//! read by the build of the same table that wrote it.

use serde::de::Error;
use serde::{Deserialize, Deserializer};

use super::{syscall_name, syscall_number};

/// A Linux system call name, one of the table's. A name of its own so that serde does
/// not take an `Option<&'static str>` field for a string borrowed from its input, which
/// would allow reading a report back only from `'static` bytes.
pub type SyscallName = &'static str;

fn static_name<E: Error>(name: &str) -> Result<SyscallName, E> {
    syscall_number(name)
        .and_then(|number| syscall_name(number.into()))
        .ok_or_else(|| E::custom(format!("`{name}` is not a Linux system call name")))
}

/// For `Option<SyscallName>` fields.
pub(super) fn name<'de, D: Deserializer<'de>>(d: D) -> Result<Option<SyscallName>, D::Error> {
    Option::<String>::deserialize(d)?
        .map(|name| static_name(&name))
        .transpose()
}

/// For `Vec<SyscallName>` fields.
pub(super) fn names<'de, D: Deserializer<'de>>(d: D) -> Result<Vec<&'static str>, D::Error> {
    Vec::<String>::deserialize(d)?
        .iter()
        .map(|name| static_name(name))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::super::{KernelEntry, ReachedSyscall, SyscallSummary};

    #[test]
    fn a_summary_reads_back_as_written() {
        let summary = SyscallSummary {
            direct: 2,
            direct_unimplemented: 1,
            direct_unimplemented_names: vec!["pause"],
            reached: vec![ReachedSyscall {
                number: 1,
                name: Some("write"),
                implemented: true,
                entry: KernelEntry::Sys,
            }],
            ..SyscallSummary::default()
        };
        let json = serde_json::to_string(&summary).unwrap();
        assert_eq!(
            serde_json::from_str::<SyscallSummary>(&json).unwrap(),
            summary
        );
    }

    #[test]
    fn names_not_in_the_table_are_refused() {
        let json = r#"{"number":1,"name":"scribble","implemented":true,"entry":"sys"}"#;
        let error = serde_json::from_str::<ReachedSyscall>(json).unwrap_err();
        assert!(
            error
                .to_string()
                .contains("`scribble` is not a Linux system call name"),
            "{error}"
        );
        let json = r#"{"number":1000,"name":null,"implemented":false,"entry":"dispatcher"}"#;
        assert_eq!(
            serde_json::from_str::<ReachedSyscall>(json).unwrap().name,
            None
        );
    }
}
