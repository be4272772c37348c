//! `_Unwind_*` for `panic = "unwind"`: the `unwinding` crate's unwinder.
//!
//! Only the unwinder is linked (no personality, no panic handler: std brings
//! `rust_eh_personality` and its panic runtime). It finds FDEs by walking the
//! image's program headers through our `dl_iterate_phdr` to `PT_GNU_EH_FRAME`,
//! so the image must be linked with `--eh-frame-hdr`.

// Referencing the crate makes sure its `#[no_mangle]` entry points are linked.
pub use unwinding::abi::_Unwind_Resume;
