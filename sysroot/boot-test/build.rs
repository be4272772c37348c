//! Finds how this compiler mangles the allocator shim's symbols.
//!
//! `alloc` calls `__rust_alloc_error_handler` and `__rust_no_alloc_shim_is_unstable_v2`
//! under the compiler's internal mangling (`_RNvCs<hash>_7___rustc<len><name>`, the
//! hash depending on the compiler). rustc defines them in the allocator shim it
//! generates when it links a program: in the real pipeline, the app's link. The boot
//! test is a library, never linked by rustc, so it defines them itself (`heap.rs`),
//! under the names this build script reads from a probe compiled by the same rustc.

use std::path::PathBuf;
use std::process::Command;

/// A symbol of the shim that the probe's inlined `alloc::alloc::alloc` calls.
const MARKER: &str = "35___rust_no_alloc_shim_is_unstable_v2";

fn main() {
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR"));
    let rustc = std::env::var_os("RUSTC").expect("cargo sets RUSTC");
    let target = std::env::var("TARGET").expect("cargo sets TARGET");
    let source = out.join("probe.rs");
    std::fs::write(
        &source,
        "#![no_std]\nextern crate alloc;\n\
         pub unsafe fn probe(layout: core::alloc::Layout) -> *mut u8 {\n\
         unsafe { alloc::alloc::alloc(layout) }\n}\n",
    )
    .expect("write the probe");
    let ir = out.join("probe.ll");
    let status = Command::new(&rustc)
        .args(["--edition=2024", "--crate-type=lib", "--crate-name=probe"])
        .args(["--emit=llvm-ir", "--target", &target, "-o"])
        .arg(&ir)
        .arg(&source)
        .status()
        .expect("run rustc on the probe");
    assert!(status.success(), "rustc could not compile the probe");
    let text = std::fs::read_to_string(&ir).expect("read the probe's IR");
    let prefix = text
        .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
        .find_map(|word| word.strip_suffix(MARKER))
        .unwrap_or_else(|| panic!("no symbol ending in {MARKER} in {}", ir.display()));
    println!("cargo:rustc-env=BOOT_TEST_RUSTC_SYMBOL_PREFIX={prefix}");
    println!("cargo:rerun-if-changed=build.rs");
}
