//! Random bytes for `getrandom` and `AT_RANDOM`.
//!
//! Sources in order of preference: `RDSEED`, `RDRAND` (Intel SDM Vol. 1, 7.3.17), or,
//! on CPUs with neither (QEMU's default TCG model), a SplitMix64 stream re-keyed from
//! the TSC on every draw. The last is *not* cryptographically secure; the boot report
//! says so once.

use core::sync::atomic::{AtomicU64, Ordering};

use spin::Once;
use unikernel_hal::{cpu, tsc};

use crate::log::kinfo;

/// The entropy source in use.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Source {
    Rdseed,
    Rdrand,
    TscMixed,
}

static SOURCE: Once<Source> = Once::new();
static STATE: AtomicU64 = AtomicU64::new(0);

/// Picks the source; prints a warning if only the TSC fallback is left.
pub fn init() -> Source {
    *SOURCE.call_once(|| {
        if cpu::rdseed64().is_some() {
            Source::Rdseed
        } else if cpu::rdrand64().is_some() {
            Source::Rdrand
        } else {
            kinfo!("warning: CPU has no RDRAND/RDSEED; getrandom() and AT_RANDOM use a TSC-mixed generator that is NOT cryptographically secure");
            let seed = tsc::read() ^ unikernel_hal::rtc::read().map_or(0, |r| u64::from(r.seconds) << 32);
            STATE.store(seed, Ordering::Relaxed);
            Source::TscMixed
        }
    })
}

fn splitmix64(state: u64) -> u64 {
    let mut z = state;
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

fn next_u64() -> u64 {
    let from_cpu = match init() {
        Source::Rdseed => cpu::rdseed64().or_else(cpu::rdrand64),
        Source::Rdrand => cpu::rdrand64(),
        Source::TscMixed => None,
    };
    from_cpu.unwrap_or_else(|| {
        let step = 0x9e37_79b9_7f4a_7c15u64.wrapping_add(tsc::read().rotate_left(17));
        splitmix64(STATE.fetch_add(step, Ordering::Relaxed).wrapping_add(step))
    })
}

/// Fills `buf` with random bytes.
pub fn fill(buf: &mut [u8]) {
    for chunk in buf.chunks_mut(8) {
        let bytes = next_u64().to_ne_bytes();
        chunk.copy_from_slice(&bytes[..chunk.len()]);
    }
}
