//! Link settings for the kernel's unit tests, which `cargo test` runs on the host as
//! ordinary Linux programs. They do not apply to the image: the kernel is built as an
//! rlib there, which is never linked by rustc.

fn main() {
    let manifest_dir = std::env::var("CARGO_MANIFEST_DIR").expect("cargo sets CARGO_MANIFEST_DIR");
    // The hal's 32-bit PVH entry uses absolute 32-bit addresses, which a PIE cannot hold.
    println!("cargo:rustc-link-arg=-no-pie");
    // Zero for the symbols only the image's link defines (see the script).
    println!("cargo:rustc-link-arg={manifest_dir}/../host-test.ld");
    println!("cargo:rerun-if-changed=../host-test.ld");
    println!("cargo:rerun-if-changed=build.rs");
}
