//! System calls refuse buffers the application does not own (issue 10, "user
//! pointers"): the `efault` example passes null, unmapped, wrapping, read-only and
//! unmapped-again addresses (compared with the native build, where Linux gives the
//! same `EFAULT`s) and, in the image, the addresses of the kernel's own statics, stacks
//! and page tables, read from the image's symbol table; then it does file I/O and
//! exits 0, so the kernel was not corrupted.

mod common;

use std::collections::BTreeMap;
use std::path::PathBuf;

use common::{boot, native, run_merged};
use object::{Object, ObjectSection, ObjectSymbol, SectionFlags, SymbolKind};
use unikernel_pass::reach::demangle;

/// Targets the kernel must refuse: a name, the demangled symbol, and an offset into it
/// (the kernel's stacks start with their guard page, which is not mapped at all).
const KERNEL_TARGETS: [(&str, &str, u64); 7] = [
    ("kernel-memory-table", "unikernel_kernel::memory::MEMORY", 0),
    ("kernel-scheduler", "unikernel_kernel::sched::SCHED", 0),
    ("kernel-vfs", "unikernel_kernel::vfs::lock::VFS", 0),
    ("kernel-address-space", "unikernel_hal::paging::SPACE", 0),
    (
        "kernel-boot-page-tables",
        "unikernel_hal::boot::BOOT_TABLES",
        0,
    ),
    ("kernel-boot-stack", "unikernel_hal::stacks::STACKS", 8192),
    ("kernel-data-start", "__unikernel_kernel_data_start", 0),
];

fn image() -> PathBuf {
    common::image("efault")
}

/// The image's symbols by demangled name, without the hash (`h0123...`), with their
/// address, size and whether they are writable data.
fn symbols(image: &[u8]) -> BTreeMap<String, (u64, u64, bool)> {
    let elf = object::File::parse(image).expect("an ELF image");
    let writable = |index| {
        elf.section_by_index(index).is_ok_and(|section| {
            matches!(section.flags(), SectionFlags::Elf { sh_flags }
                if sh_flags & u64::from(object::elf::SHF_WRITE) != 0)
        })
    };
    elf.symbols()
        .filter_map(|symbol| {
            let name = demangle(symbol.name().ok()?);
            let writable =
                symbol.kind() == SymbolKind::Data && symbol.section_index().is_some_and(writable);
            Some((name, (symbol.address(), symbol.size(), writable)))
        })
        .collect()
}

#[test]
fn kernel_statics_lie_in_the_kernel_only_range() {
    let bytes = std::fs::read(image()).expect("read the image");
    let symbols = symbols(&bytes);
    let start = symbols["__unikernel_kernel_data_start"].0;
    let end = symbols["__unikernel_kernel_data_end"].0;
    assert!(
        start < end && start.is_multiple_of(4096) && end.is_multiple_of(4096),
        "{start:#x}..{end:#x}"
    );
    let mut kernel = 0;
    for (name, &(address, size, writable)) in &symbols {
        let is_kernel = ["unikernel_kernel::", "unikernel_hal::"]
            .iter()
            .any(|krate| name.starts_with(krate));
        if is_kernel && writable {
            kernel += 1;
            assert!(
                start <= address && address + size <= end,
                "{name} at {address:#x} (+{size}) is outside the kernel's data {start:#x}..{end:#x}"
            );
        } else if writable && size > 0 {
            assert!(
                address + size <= start || end <= address,
                "{name} at {address:#x} (+{size}) is the application's but in the kernel's data"
            );
        }
    }
    assert!(
        kernel >= 20,
        "only {kernel} kernel statics found: symbols missing?"
    );
}

#[test]
fn bad_buffers_fail_with_efault_and_the_kernel_survives() {
    let bytes = std::fs::read(image()).expect("read the image");
    let symbols = symbols(&bytes);
    let args: Vec<String> = KERNEL_TARGETS
        .iter()
        .map(|(label, symbol, offset)| {
            let (address, _, _) = symbols
                .get(*symbol)
                .unwrap_or_else(|| panic!("no symbol {symbol} in the image"));
            format!("{label}={:#x}", address + offset)
        })
        .collect();
    let args: Vec<&str> = args.iter().map(String::as_str).collect();

    let expected = run_merged(&native("efault"), &[], &[]);
    assert_eq!(expected.code, Some(0), "native run:\n{}", expected.stdout);
    let actual = boot("efault", &args, &[]);
    assert_eq!(actual.stderr, "", "the tool reported an error");
    assert_eq!(actual.code, Some(0), "unikernel run:\n{}", actual.stdout);

    // Everything native Linux can be asked as well: the same lines.
    let kernel_lines: Vec<&str> = actual
        .stdout
        .lines()
        .filter(|line| line.contains(" kernel-"))
        .collect();
    let common_lines: Vec<&str> = actual
        .stdout
        .lines()
        .filter(|line| !line.contains(" kernel-"))
        .collect();
    assert_eq!(
        expected.stdout.lines().collect::<Vec<_>>(),
        common_lines,
        "native (left) and unikernel (right) differ"
    );
    assert!(expected.stdout.contains("read null: EFAULT"));
    assert!(expected.stdout.contains("read munmapped: EFAULT"));
    assert!(expected.stdout.contains("file I/O after the faults: ok"));

    // The kernel's memory: every call, on every target, fails with EFAULT.
    assert_eq!(
        kernel_lines.len(),
        9 * KERNEL_TARGETS.len(),
        "{}",
        actual.stdout
    );
    for line in kernel_lines {
        assert!(
            line.ends_with(": EFAULT"),
            "accepted a kernel buffer: {line}"
        );
    }
}
