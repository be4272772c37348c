//! The boot flow, from the hardware layer's hand-over to the application's
//! `__unikernel_libc_start`:
//!
//! command line -> clocks -> free memory -> randomness -> main-thread stack with guard
//! page -> System V initial stack -> main and idle threads -> boot report
//! (`unikernel.verbose`) -> libc start.

use unikernel_hal::boot::MemoryMap;
use unikernel_hal::{BootInfo, exit, paging, tsc};

use crate::cmdline::Cmdline;
use crate::log::{self, kdebug, kinfo};
use crate::{memory, process, random, time};

/// Main-thread stack size unless `unikernel.stack_kib` says otherwise (Linux's default
/// `RLIMIT_STACK`), when RAM allows it. The memory is taken up front but not touched.
const DEFAULT_STACK_KIB: usize = 8 * 1024;
/// The least main-thread stack the default gives on a small machine.
const MIN_DEFAULT_STACK_KIB: usize = 64;

/// The main stack's default size given `free` bytes of RAM after the kernel's own
/// needs: Linux's 8 MiB, but at most a quarter of free RAM (the stack is taken up front,
/// unlike Linux's on-demand stack, so on a 4 MiB machine 8 MiB could never fit), and no
/// less than 64 KiB.
fn default_stack_size(free: usize) -> usize {
    (free / 4).clamp(MIN_DEFAULT_STACK_KIB * 1024, DEFAULT_STACK_KIB * 1024)
}

fn fail(what: &str) -> ! {
    kinfo!("boot failed: {what}");
    exit::exit(exit::EXIT_BOOT_FAILURE)
}

pub(crate) fn run(boot: BootInfo) -> ! {
    let BootInfo {
        cmdline: line,
        cmdline_truncated,
        memory_map,
        free_ram,
        boot_tsc,
        handover_tsc,
    } = boot;
    crate::crash::init();
    let cmdline = Cmdline::parse(line);
    log::set_verbose(cmdline.options.verbose);
    crate::net::configure(&cmdline);
    process::set_boot_tsc(boot_tsc);

    let calibration_start = tsc::read();
    time::init(boot_tsc, cmdline.options.stated_tsc_khz());
    let calibration_ticks = tsc::read() - calibration_start;

    let free = memory::init(free_ram);
    // From here on, system calls accept only memory the application owns.
    unikernel_hal::uaccess::set_application_memory(memory::application_owns);
    if let Some(set) = cmdline.options.strace {
        crate::syscall::trace::enable(set);
    }
    if let Some(hz) = cmdline.options.profile_hz {
        crate::sampler::enable(hz);
    }
    let rng = random::init();

    let stack_size = cmdline
        .options
        .stack_kib
        .map_or(default_stack_size(free), |kib| kib.saturating_mul(1024));
    let mut stack = match memory::alloc_stack(stack_size, "main thread's stack") {
        Ok(stack) => stack,
        Err(_) => {
            kinfo!(
                "boot failed: no memory for the main thread's stack ({} KiB; {} KiB of RAM free)",
                stack_size / 1024,
                free / 1024
            );
            exit::exit(exit::EXIT_OUT_OF_MEMORY)
        }
    };
    memory::register_main_stack(&stack);
    let sp = match process::build_initial_stack(&mut stack, &cmdline) {
        Ok(sp) => sp,
        Err(_) => fail("arguments and environment do not fit in the main thread's stack"),
    };

    // The scheduler keeps the alarm's deadline; sending SIGALRM is the signal module's.
    crate::sched::on_alarm(crate::signal::alarm_expired);
    let main = match crate::sched::init_main_thread() {
        Ok(slot) => slot,
        Err(err) => {
            kinfo!("boot failed: cannot make the main thread ({err:?})");
            exit::exit(exit::EXIT_BOOT_FAILURE);
        }
    };
    if let Err(err) = crate::signal::main_thread_started(main) {
        kinfo!("boot failed: no memory for the main thread's signal state ({err:?})");
        exit::exit(exit::EXIT_BOOT_FAILURE);
    }

    let ready = tsc::read();
    if log::verbose() {
        let facts = BootFacts {
            line,
            cmdline_truncated,
            memory_map,
            boot_tsc,
            handover_tsc,
            ready_tsc: ready,
            calibration_ticks,
        };
        report(&facts, &cmdline, free, rng, stack.start(), stack.len());
    }
    match unikernel_hal::process::enter_libc_start(sp, stack) {
        Ok(never) => match never {},
        Err(_) => fail("main-thread stack pointer out of its stack"),
    }
}

/// What the boot report needs from the hand-over.
struct BootFacts {
    line: &'static str,
    cmdline_truncated: bool,
    memory_map: &'static MemoryMap,
    boot_tsc: u64,
    handover_tsc: u64,
    ready_tsc: u64,
    calibration_ticks: u64,
}

fn report(
    boot: &BootFacts,
    cmdline: &Cmdline<'_>,
    free: usize,
    rng: random::Source,
    stack_start: usize,
    stack_len: usize,
) {
    kdebug!(
        "command line: {:?}{}",
        boot.line,
        if boot.cmdline_truncated {
            " (truncated)"
        } else {
            ""
        }
    );
    kdebug!("argv: {:?}", cmdline.args.as_slice());
    kdebug!("env: {:?}", cmdline.env.as_slice());
    if !cmdline.ignored.as_slice().is_empty() {
        kdebug!(
            "ignored command-line tokens: {:?}",
            cmdline.ignored.as_slice()
        );
    }
    if cmdline.args.dropped + cmdline.env.dropped > 0 {
        kdebug!(
            "dropped {} arguments, {} variables (too many)",
            cmdline.args.dropped,
            cmdline.env.dropped
        );
    }
    for region in boot.memory_map.regions() {
        kdebug!(
            "memory {:#012x}..{:#012x} {:?}",
            region.start,
            region.end(),
            region.kind
        );
    }
    let image = unikernel_hal::image::image();
    kdebug!(
        "image {:#x}..{:#x} ({} KiB)",
        image.start,
        image.end,
        (image.end - image.start) / 1024
    );
    kdebug!("free RAM at boot: {} KiB", free / 1024);
    let (used, spare) = paging::table_frames_used();
    kdebug!("page-table frames: {used} in use, {spare} spare");
    let (hz, calibration) = time::tsc_frequency();
    kdebug!("TSC {} kHz ({calibration:?})", hz / 1000);
    kdebug!("random source: {rng:?}");
    kdebug!("timer interrupts: {:?}", unikernel_hal::apic::timer_mode());
    kdebug!(
        "main stack {:#x}..{:#x}, guard page below",
        stack_start,
        stack_start + stack_len
    );
    let total = time::ticks_to_ns(boot.ready_tsc - boot.boot_tsc);
    let calibration_ns = time::ticks_to_ns(boot.calibration_ticks);
    kdebug!(
        "boot: {} us from the first kernel instruction to __unikernel_libc_start ({} us without TSC calibration; hardware bring-up {} us)",
        total / 1000,
        total.saturating_sub(calibration_ns) / 1000,
        time::ticks_to_ns(boot.handover_tsc - boot.boot_tsc) / 1000
    );
    if cmdline.options.icount {
        // Under `-icount shift=0` a TSC tick is a guest instruction (cmdline.rs).
        kdebug!(
            "boot: {} guest instructions from the first kernel instruction to __unikernel_libc_start ({} in TSC calibration; hardware bring-up {})",
            boot.ready_tsc - boot.boot_tsc,
            boot.calibration_ticks,
            boot.handover_tsc - boot.boot_tsc
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn default_stack_is_linuxs_8_mib_when_ram_allows_a_quarter_of_free_ram_otherwise() {
        assert_eq!(default_stack_size(1 << 30), 8 << 20);
        assert_eq!(default_stack_size(32 << 20), 8 << 20);
        assert_eq!(default_stack_size(2 << 20), 512 << 10);
        assert_eq!(default_stack_size(100 << 10), 64 << 10);
    }
}
