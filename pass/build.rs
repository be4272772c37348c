//! Link against the toolchain's own libLLVM (`libLLVM-<major>-rust-<ver>.so` in
//! `$(rustc --print sysroot)/lib`), so the pass reads exactly the bitcode dialect the
//! pinned rustc writes and needs no system LLVM.

use std::path::PathBuf;
use std::process::Command;

fn main() {
    let rustc = std::env::var("RUSTC").unwrap_or_else(|_| "rustc".into());
    let out = Command::new(&rustc)
        .args(["--print", "sysroot"])
        .output()
        .expect("run rustc --print sysroot");
    let sysroot = PathBuf::from(String::from_utf8(out.stdout).expect("utf-8 sysroot").trim());
    let libdir = sysroot.join("lib");
    let lib = std::fs::read_dir(&libdir)
        .expect("read the toolchain's lib directory")
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|name| name.starts_with("libLLVM-") && name.ends_with(".so"))
        .unwrap_or_else(|| panic!("no libLLVM-*.so in {}", libdir.display()));
    let name = lib.trim_start_matches("lib").trim_end_matches(".so");
    // The major version the pass is built against; the driver refuses a rustc whose
    // LLVM differs (`LLVM_MAJOR` in lib.rs).
    let major = name
        .trim_start_matches("LLVM-")
        .split('-')
        .next()
        .unwrap_or("");
    println!("cargo:rustc-env=UNIKERNEL_LLVM_MAJOR={major}");
    println!(
        "cargo:rustc-env=UNIKERNEL_LLVM_LIB={}",
        libdir.join(&lib).display()
    );
    println!("cargo:rustc-link-search=native={}", libdir.display());
    println!("cargo:rustc-link-lib=dylib={name}");
    // Every binary that links the pass finds libLLVM without LD_LIBRARY_PATH.
    println!("cargo:rustc-link-arg=-Wl,-rpath,{}", libdir.display());
    // Dependents (the cargo-unikernel binary) read this as DEP_UNIKERNEL_LLVM_LIBDIR
    // and add the same rpath to themselves.
    println!("cargo:libdir={}", libdir.display());
    println!("cargo:rerun-if-env-changed=RUSTC");
}
