//! Clocks: `CLOCK_MONOTONIC` counts TSC ticks since the first kernel instruction;
//! `CLOCK_REALTIME` adds the CMOS RTC reading taken at boot.
//!
//! Nanoseconds are `ticks * mult >> 32` with `mult = 2^32 * 10^9 / tsc_hz`: one
//! 64x64->128 multiply per read, no division (precision: 2^-32 ns per tick, so well
//! under a part per million for any TSC above 1 MHz).

use spin::Once;
use unikernel_hal::rtc::RtcRegisters;
use unikernel_hal::tsc::{self, FrequencySource};

use crate::log::kinfo;

const NANOS_PER_SEC: u64 = 1_000_000_000;

/// Where the TSC frequency came from, for the boot report.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Calibration {
    CommandLine,
    Hardware(FrequencySource),
    /// Nothing worked; a guess of 1 GHz.
    Assumed,
}

#[derive(Debug)]
struct Clock {
    boot_tsc: u64,
    tsc_hz: u64,
    mult: u64,
    /// `CLOCK_REALTIME` at `boot_tsc`, in nanoseconds since the epoch.
    realtime_at_boot: u64,
    calibration: Calibration,
}

static CLOCK: Once<Clock> = Once::new();

/// Calibrates the TSC and reads the RTC. `tsc_khz` comes from `unikernel.tsc_khz`.
pub fn init(boot_tsc: u64, tsc_khz: Option<u64>) {
    CLOCK.call_once(|| {
        let (tsc_hz, calibration) = match tsc_khz {
            Some(khz) => (khz * 1000, Calibration::CommandLine),
            None => match tsc::frequency_from_cpuid() {
                Some((hz, source)) => (hz, Calibration::Hardware(source)),
                // 2 ms of PIT: a 0.05% error bound from the 838 ns PIT tick. It is
                // most of the boot time; VMMs that state the frequency in CPUID, or
                // `unikernel.tsc_khz`, avoid it.
                None => match tsc::frequency_from_pit(2_000) {
                    Some(hz) => (hz, Calibration::Hardware(FrequencySource::Pit)),
                    None => (NANOS_PER_SEC, Calibration::Assumed),
                },
            },
        };
        let tsc_hz = tsc_hz.max(1_000_000);
        let mult = ((u128::from(NANOS_PER_SEC) << 32) / u128::from(tsc_hz)) as u64;
        let mut clock = Clock {
            boot_tsc,
            tsc_hz,
            mult,
            realtime_at_boot: 0,
            calibration,
        };
        match unikernel_hal::rtc::read().and_then(rtc_to_unix_seconds) {
            Some(seconds) => {
                let now = clock.ns_since_boot(tsc::read());
                clock.realtime_at_boot = (seconds * NANOS_PER_SEC).saturating_sub(now);
            }
            None => kinfo!("no usable CMOS RTC: CLOCK_REALTIME starts at the epoch"),
        }
        if calibration == Calibration::Assumed {
            kinfo!("TSC frequency unknown (no CPUID leaf, no PIT): assuming 1 GHz");
        }
        clock
    });
}

impl Clock {
    fn ns_since_boot(&self, now: u64) -> u64 {
        let ticks = now.saturating_sub(self.boot_tsc);
        ((u128::from(ticks) * u128::from(self.mult)) >> 32) as u64
    }
}

fn clock() -> &'static Clock {
    // Before `init` (never in practice): a 1 GHz clock from TSC 0.
    CLOCK.call_once(|| Clock {
        boot_tsc: 0,
        tsc_hz: NANOS_PER_SEC,
        mult: 1 << 32,
        realtime_at_boot: 0,
        calibration: Calibration::Assumed,
    })
}

/// TSC frequency and where it came from.
pub fn tsc_frequency() -> (u64, Calibration) {
    let clock = clock();
    (clock.tsc_hz, clock.calibration)
}

/// Nanoseconds since the first kernel instruction (`CLOCK_MONOTONIC`).
pub fn monotonic_ns() -> u64 {
    clock().ns_since_boot(tsc::read())
}

/// The shim's clock read, the unikernel's stand-in for the vDSO's `clock_gettime`:
/// stores the time of `CLOCK_REALTIME`, `CLOCK_MONOTONIC` or their variants in
/// nanoseconds in `ns`; false for any other clock (the CPU-time clocks: the shim then
/// makes the system call). No sentinel value: inlined with a constant clock id, the
/// caller's check folds away.
/// The build pass points the shim's `__unikernel_shim_clock` at it (`pass/src/
/// clock.rs`), so the optimizer inlines it into `clock_gettime`: a TSC read and a
/// scale, called with interrupts enabled, no system call entry, no lock (the clock's
/// constants are set once at boot).
// Exporting an unmangled symbol needs `#[unsafe(export_name)]`, which the crate-wide
// `deny(unsafe_code)` flags; the attribute is the whole of it.
#[allow(unsafe_code)]
#[unsafe(export_name = "__unikernel_clock_now")]
pub extern "C" fn clock_now(clock: i32, ns: &mut u64) -> bool {
    // Clock ids: `include/uapi/linux/time.h`, as `syscall::time::ClockId`.
    *ns = match clock {
        0 | 5 => realtime_ns(),
        1 | 4 | 6 | 7 => monotonic_ns(),
        _ => return false,
    };
    true
}

/// Nanoseconds between two TSC readings.
pub fn ticks_to_ns(ticks: u64) -> u64 {
    ((u128::from(ticks) * u128::from(clock().mult)) >> 32) as u64
}

/// Nanoseconds since the Unix epoch (`CLOCK_REALTIME`).
pub fn realtime_ns() -> u64 {
    clock().realtime_at_boot + monotonic_ns()
}

/// The TSC value at which `CLOCK_MONOTONIC` reads `ns` (for timer deadlines).
pub fn monotonic_to_tsc(ns: u64) -> u64 {
    let clock = clock();
    let ticks = u128::from(ns) * u128::from(clock.tsc_hz) / u128::from(NANOS_PER_SEC);
    clock
        .boot_tsc
        .saturating_add(u64::try_from(ticks).unwrap_or(u64::MAX))
}

/// The `CLOCK_MONOTONIC` time at which `CLOCK_REALTIME` reads `realtime_ns`.
pub fn realtime_to_monotonic(realtime_ns: u64) -> u64 {
    realtime_ns.saturating_sub(clock().realtime_at_boot)
}

fn bcd(value: u8) -> u8 {
    (value & 0x0f) + (value >> 4) * 10
}

/// Decodes the RTC registers (BCD or binary, 12- or 24-hour) to seconds since the
/// epoch; `None` for values that are not a date.
pub fn rtc_to_unix_seconds(rtc: RtcRegisters) -> Option<u64> {
    let binary = rtc.status_b & 0x04 != 0;
    let hour24 = rtc.status_b & 0x02 != 0;
    let decode = |v: u8| if binary { v } else { bcd(v) };
    let pm = !hour24 && rtc.hours & 0x80 != 0;
    let mut hours = decode(rtc.hours & 0x7f);
    if !hour24 {
        hours %= 12;
        if pm {
            hours += 12;
        }
    }
    let century = match decode(rtc.century) {
        c @ 19..=21 => u64::from(c),
        _ => 20,
    };
    let year = century * 100 + u64::from(decode(rtc.year));
    let (month, day) = (decode(rtc.month), decode(rtc.day));
    let (minutes, seconds) = (decode(rtc.minutes), decode(rtc.seconds));
    if !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hours > 23
        || minutes > 59
        || seconds > 60
    {
        return None;
    }
    let days = days_from_civil(year, u64::from(month), u64::from(day))?;
    Some(days * 86_400 + u64::from(hours) * 3600 + u64::from(minutes) * 60 + u64::from(seconds))
}

/// Days from 1970-01-01 to the given proleptic Gregorian date (Howard Hinnant's
/// `days_from_civil`, restricted to dates from 1970 on).
fn days_from_civil(year: u64, month: u64, day: u64) -> Option<u64> {
    let y = if month <= 2 {
        year.checked_sub(1)?
    } else {
        year
    };
    let era = y / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12; // March = 0
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    (era * 146_097 + doe).checked_sub(719_468)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn epoch_dates() {
        assert_eq!(days_from_civil(1970, 1, 1), Some(0));
        assert_eq!(days_from_civil(2000, 3, 1), Some(11_017));
        assert_eq!(days_from_civil(2024, 2, 29), Some(19_782));
    }

    #[test]
    fn bcd_rtc() {
        // 2025-11-28 10:31:07, BCD, 24-hour.
        let rtc = RtcRegisters {
            seconds: 0x07,
            minutes: 0x31,
            hours: 0x10,
            day: 0x28,
            month: 0x11,
            year: 0x25,
            century: 0x20,
            status_b: 0x02,
        };
        assert_eq!(rtc_to_unix_seconds(rtc), Some(1_764_325_867));
    }
}
