//! What the host offers a guest: its memory (`/proc/meminfo`) and hardware
//! virtualization (`/proc/cpuinfo`, `/dev/kvm`). `run` checks a boot against these
//! before starting QEMU, so a request the host cannot meet fails at once with the
//! reason instead of as a QEMU failure or a timeout.

/// The host's RAM in MiB (`MemTotal`), if `/proc/meminfo` says.
pub fn memory_mib() -> Option<u64> {
    mem_total_mib(&std::fs::read_to_string("/proc/meminfo").ok()?)
}

/// `MemTotal` of a `/proc/meminfo` text, in MiB (the file gives kB).
fn mem_total_mib(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib / 1024)
}

/// Whether KVM can run a guest here, or why not.
///
/// Both conditions matter: some hosts (kvm-pvm) expose /dev/kvm without vmx/svm and
/// run a guest that is not PVM-aware in an instruction emulator far slower than TCG
/// (DESIGN.md, "Facts").
pub fn kvm() -> Result<(), String> {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    if !has_virtualization(&cpuinfo) {
        return Err(
            "the CPU offers no hardware virtualization (neither the vmx nor the svm \
                    flag in /proc/cpuinfo)"
                .into(),
        );
    }
    std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .map(drop)
        .map_err(|e| format!("/dev/kvm does not open for reading and writing ({e})"))
}

/// Whether a `/proc/cpuinfo` text has the vmx (Intel) or svm (AMD) flag.
fn has_virtualization(cpuinfo: &str) -> bool {
    cpuinfo
        .lines()
        .filter(|l| l.starts_with("flags"))
        .any(|l| l.split_whitespace().any(|f| f == "vmx" || f == "svm"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mem_total_is_read_in_mib() {
        let meminfo = "MemTotal:       24731708 kB\nMemFree:         1000 kB\n";
        assert_eq!(mem_total_mib(meminfo), Some(24152));
        assert_eq!(mem_total_mib("MemFree: 1000 kB\n"), None);
    }

    #[test]
    fn virtualization_flags() {
        assert!(has_virtualization("flags\t\t: fpu vme vmx sse\n"));
        assert!(has_virtualization("flags\t\t: fpu svm\n"));
        assert!(!has_virtualization("flags\t\t: fpu vme sse hypervisor\n"));
        assert!(!has_virtualization("model name : vmx\n"));
    }
}
