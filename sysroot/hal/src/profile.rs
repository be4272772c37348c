//! LLVM's profile runtime (compiler-rt, `--profile-generate` builds only): the raw
//! profile of the counters the instrumented program has run up.
//!
//! The pass instruments the whole module (app, std, shim, kernel); the driver links
//! the toolchain's `profiler_builtins` objects. Only the runtime's writer core is used
//! (`InstrProfilingWriter.c`, `InstrProfilingBuffer.c`: `lprofWriteData` with a
//! writer callback, which is what `__llvm_profile_write_buffer` does with a memory
//! buffer), so the raw format is exactly LLVM's own and the runtime needs nothing from
//! a libc but `memcpy`/`memset`/`memcmp`; its file path (stdio, `fork`, `atexit`) is
//! never linked. The runtime's native code keeps the red zone: callers run it with
//! interrupts masked.

use core::ffi::{c_int, c_void};

/// `ProfDataIOVec` (compiler-rt `InstrProfilingInternal.h`).
#[repr(C)]
struct IoVec {
    data: *const c_void,
    elm_size: usize,
    num_elm: usize,
    use_zero_padding: c_int,
}

/// `ProfDataWriter`: the callback and its context.
#[repr(C)]
struct Writer {
    write: unsafe extern "C" fn(*mut Writer, *mut IoVec, u32) -> u32,
    context: *mut c_void,
}

unsafe extern "C" {
    fn __llvm_profile_begin_data() -> *const u8;
    fn __llvm_profile_end_data() -> *const u8;
    fn __llvm_profile_get_size_for_buffer() -> u64;
    fn lprofWriteData(writer: *mut Writer, value_data: *mut c_void, skip_names: c_int) -> c_int;
}

/// Whether the program was instrumented: a `--profile-use` build links the runtime
/// too (so the runtime crates are the same crates, with the same symbol names, in
/// the training and the optimized build), but has no counters to write.
pub fn instrumented() -> bool {
    // SAFETY: both read the bounds of the records section the linker defined (equal,
    // or null, when there is none).
    unsafe { __llvm_profile_begin_data() != __llvm_profile_end_data() }
}

/// The size in bytes of the raw profile [`write_raw_profile`] writes now.
pub fn raw_profile_size() -> u64 {
    // SAFETY: reads the bounds of the profile sections the linker defined.
    unsafe { __llvm_profile_get_size_for_buffer() }
}

type Sink<'a> = &'a mut dyn FnMut(&[u8]);

/// Writes the raw profile (`.profraw`, [`raw_profile_size`] bytes) through `out`, in
/// pieces. Returns false if the runtime reported a failure.
pub fn write_raw_profile(out: Sink<'_>) -> bool {
    let _masked = crate::irq::disable();
    let mut sink: Sink<'_> = out;
    let mut writer = Writer {
        write: write_pieces,
        context: (&raw mut sink).cast(),
    };
    // SAFETY: `writer` and the sink it points to live across the call; no value
    // profile data (the pass turns value profiling off); names are written.
    unsafe { lprofWriteData(&mut writer, core::ptr::null_mut(), 0) == 0 }
}

unsafe extern "C" fn write_pieces(writer: *mut Writer, iovecs: *mut IoVec, count: u32) -> u32 {
    // SAFETY: the runtime passes back the writer `write_raw_profile` gave it, whose
    // context is the live `Sink`, and `count` valid vectors.
    let (sink, iovecs) = unsafe {
        (
            &mut *(*writer).context.cast::<Sink<'_>>(),
            core::slice::from_raw_parts(iovecs, count as usize),
        )
    };
    const ZEROS: [u8; 64] = [0; 64];
    for iovec in iovecs {
        let mut len = iovec.elm_size * iovec.num_elm;
        if iovec.use_zero_padding != 0 || iovec.data.is_null() {
            while len > 0 {
                let piece = len.min(ZEROS.len());
                sink(&ZEROS[..piece]);
                len -= piece;
            }
        } else {
            // SAFETY: the runtime's vector names `len` readable bytes.
            sink(unsafe { core::slice::from_raw_parts(iovec.data.cast::<u8>(), len) });
        }
    }
    0
}
