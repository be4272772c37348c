//! The pass links the toolchain's libLLVM dynamically; give this binary the rpath so it
//! runs without LD_LIBRARY_PATH (the pass's build script exports the directory).

fn main() {
    if let Ok(dir) = std::env::var("DEP_UNIKERNEL_LLVM_LIBDIR") {
        println!("cargo:rustc-link-arg=-Wl,-rpath,{dir}");
    }
}
