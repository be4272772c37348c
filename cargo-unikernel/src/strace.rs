//! `cargo unikernel run --strace[=NAME,...]`: the kernel option that turns on the
//! kernel's system-call tracer (`unikernel.strace`, sysroot/README.md), with the names
//! checked here, before a build, against the ABI's list of system calls.

use anyhow::bail;
use unikernel_abi::Sysno;

/// The kernel command-line word for `--strace` (`filter` empty: every call) or
/// `--strace=NAME,...`; a name that is no x86-64 system call is an error.
pub fn kernel_option(filter: &str) -> anyhow::Result<String> {
    if filter.is_empty() {
        return Ok("unikernel.strace".into());
    }
    for name in filter.split(',') {
        if name.is_empty() {
            bail!("--strace={filter}: an empty name (names are separated by single commas)");
        }
        if Sysno::from_name(name).is_none() {
            bail!("--strace={filter}: `{name}` is not an x86-64 Linux system call");
        }
    }
    Ok(format!("unikernel.strace={filter}"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_checked() {
        assert_eq!(kernel_option("").unwrap(), "unikernel.strace");
        assert_eq!(
            kernel_option("openat,read,write").unwrap(),
            "unikernel.strace=openat,read,write"
        );
        let bad = kernel_option("read,opne").unwrap_err().to_string();
        assert!(bad.contains("`opne` is not"), "{bad}");
        assert!(kernel_option("read,,write").is_err());
    }
}
