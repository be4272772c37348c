//! The kernel's own boot scenarios (`sysroot/boot-test/run.sh`): the kernel and a tiny
//! no_std test program, without std or the libc shim, booted under QEMU once per
//! scenario: CPU exceptions (null read, write to text, execute data, stack overflow),
//! the `syscall`-instruction trap path and the register-frame stub, threads, preemption,
//! and the deadlock report. Each scenario checks its console output and exit status.

use std::process::Command;

#[test]
fn boot_scenarios_pass() {
    let script =
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../sysroot/boot-test/run.sh");
    let output = Command::new("bash")
        .arg(&script)
        .output()
        .expect("run sysroot/boot-test/run.sh");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "boot scenarios failed ({}):\n{stdout}\n{}",
        output.status,
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.lines().any(|l| l.ends_with(" passed, 0 failed")),
        "no summary line:\n{stdout}"
    );
}
