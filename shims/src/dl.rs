//! The loaded image as seen through `<link.h>` / `<dlfcn.h>`.
//!
//! The program is one static, non-PIE image: `dl_iterate_phdr` reports exactly that
//! image (program headers from `AT_PHDR`/`AT_PHNUM`, load bias from `PT_PHDR` or 0),
//! which is how the unwinder and std's backtrace find `.eh_frame_hdr`. There is no
//! dynamic symbol table, so `dlsym` finds nothing, as in a static glibc binary; std
//! probes optional functions that way and falls back to raw syscalls.

use core::ffi::{c_char, c_int, c_void};
use core::sync::atomic::{AtomicBool, Ordering};

use crate::auxv::{AT_PHDR, AT_PHNUM, auxv_lookup};
use crate::elf::{PT_PHDR, PT_TLS, Phdr};

/// `struct dl_phdr_info` (glibc layout, including the TLS fields).
#[repr(C)]
#[derive(Debug)]
#[allow(missing_docs)]
pub struct DlPhdrInfo {
    pub dlpi_addr: u64,
    pub dlpi_name: *const c_char,
    pub dlpi_phdr: *const Phdr,
    pub dlpi_phnum: u16,
    pub dlpi_adds: u64,
    pub dlpi_subs: u64,
    pub dlpi_tls_modid: usize,
    pub dlpi_tls_data: *mut c_void,
}

/// The running image's program headers and load bias.
pub fn image_phdrs() -> (&'static [Phdr], usize) {
    let phdr = auxv_lookup(AT_PHDR).unwrap_or(0) as *const Phdr;
    let phnum = auxv_lookup(AT_PHNUM).unwrap_or(0);
    if phdr.is_null() || phnum == 0 {
        return (&[], 0);
    }
    // SAFETY: the kernel's auxv describes the loaded program header table, which is
    // mapped read-only for the life of the process.
    let phdrs = unsafe { core::slice::from_raw_parts(phdr, phnum) };
    let base = phdrs
        .iter()
        .find(|p| p.p_type == PT_PHDR)
        .map_or(0, |p| (phdr as usize).wrapping_sub(p.p_vaddr as usize));
    (phdrs, base)
}

/// Calls `callback` once, for the one loaded image.
///
/// # Safety
/// `callback` must be a valid function that accepts the glibc `dl_phdr_info`.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dl_iterate_phdr(
    callback: Option<unsafe extern "C" fn(*mut DlPhdrInfo, usize, *mut c_void) -> c_int>,
    data: *mut c_void,
) -> c_int {
    let Some(callback) = callback else { return 0 };
    let (phdrs, base) = image_phdrs();
    let has_tls = phdrs.iter().any(|p| p.p_type == PT_TLS);
    let mut info = DlPhdrInfo {
        dlpi_addr: base as u64,
        dlpi_name: c"".as_ptr(),
        dlpi_phdr: phdrs.as_ptr(),
        dlpi_phnum: u16::try_from(phdrs.len()).unwrap_or(u16::MAX),
        dlpi_adds: 1,
        dlpi_subs: 0,
        dlpi_tls_modid: usize::from(has_tls),
        dlpi_tls_data: if has_tls {
            crate::tls::current_tls_block().cast()
        } else {
            core::ptr::null_mut()
        },
    };
    // SAFETY: the caller vouches for `callback`; `info` is valid for the call.
    unsafe { callback(&mut info, size_of::<DlPhdrInfo>(), data) }
}

/// Set when the last `dlsym` failed, cleared by `dlerror`.
static DL_FAILED: AtomicBool = AtomicBool::new(false);

/// Looks up a dynamic symbol: a static image exports none, so this always fails.
///
/// # Safety
/// Always safe to call; pointers are not dereferenced.
#[unsafe(no_mangle)]
pub unsafe extern "C" fn dlsym(_handle: *mut c_void, _name: *const c_char) -> *mut c_void {
    DL_FAILED.store(true, Ordering::Relaxed);
    core::ptr::null_mut()
}

/// Describes the last `dl*` failure.
#[unsafe(no_mangle)]
pub extern "C" fn dlerror() -> *const c_char {
    if DL_FAILED.swap(false, Ordering::Relaxed) {
        c"dlsym: static image has no dynamic symbols".as_ptr()
    } else {
        core::ptr::null()
    }
}
