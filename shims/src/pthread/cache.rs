//! Mappings of finished threads, kept for the next `pthread_create`.
//!
//! Mapping a thread costs a fresh, zeroed stack (2 MiB for std's default), and the
//! kernel zeroes what it maps, so a program that spawns short-lived threads in a loop
//! would spend most of its time clearing memory it then barely touches. Like glibc's
//! stack cache, finished mappings (guard page still in place) are kept, up to
//! [`CACHE_BYTES`] in total, and handed to a later thread with the same layout. A
//! reused stack holds the previous thread's garbage, as with glibc; the TLS block is
//! rebuilt from the image's template on every creation.

use crate::lock::Mutex;
use crate::mman;

/// Most bytes of finished mappings kept (glibc's default stack cache is 40 MiB).
const CACHE_BYTES: usize = 40 << 20;
/// Most mappings kept.
const CACHE_SLOTS: usize = 16;

/// A thread's mapping: `[guard | stack | TLS]` at `base`, `len` bytes long.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Mapping {
    pub base: usize,
    pub len: usize,
    pub guard: usize,
}

struct Cache {
    slots: [Option<Mapping>; CACHE_SLOTS],
    bytes: usize,
}

static CACHE: Mutex<Cache> = Mutex::new(Cache {
    slots: [None; CACHE_SLOTS],
    bytes: 0,
});

/// A cached mapping with exactly this layout, if one is kept.
pub fn take(len: usize, guard: usize) -> Option<Mapping> {
    let mut cache = CACHE.lock();
    let slot = cache
        .slots
        .iter_mut()
        .find(|s| s.is_some_and(|m| m.len == len && m.guard == guard))?;
    let mapping = slot.take()?;
    cache.bytes -= mapping.len;
    Some(mapping)
}

/// Keeps a finished thread's mapping for reuse, or unmaps it if the cache is full.
///
/// The thread must be gone (the kernel has cleared its tid): nothing runs on the
/// stack any more.
pub fn give_back(mapping: Mapping) {
    {
        let mut cache = CACHE.lock();
        if cache.bytes + mapping.len <= CACHE_BYTES
            && let Some(slot) = cache.slots.iter_mut().find(|s| s.is_none())
        {
            *slot = Some(mapping);
            cache.bytes += mapping.len;
            return;
        }
    }
    let _ = mman::unmap(mapping.base as *mut u8, mapping.len);
}
