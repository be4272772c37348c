//! `cargo unikernel run --gdb`: a scripted gdb session against the halted guest, and
//! the errors that must come before a boot (a taken port, no gdb).

mod common;

use std::io::{BufRead, BufReader};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{example_dir, tool};

fn gdb_installed() -> bool {
    Command::new("gdb").arg("--version").output().is_ok()
}

fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn gdb_breaks_in_main_and_the_guest_exits_with_its_status() {
    if !gdb_installed() {
        eprintln!("skipped: gdb is not installed (apt-get install gdb)");
        return;
    }
    let port = free_port();
    // The dev profile: its image keeps the debug info gdb needs for `src/main.rs:N`.
    let mut run = tool()
        .args(["run", "--timeout", "300"])
        .arg(format!("--gdb={port}"))
        .arg("--manifest-path")
        .arg(example_dir("hello").join("Cargo.toml"))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    // The build, then the line with the attach command.
    let mut stderr = BufReader::new(run.stderr.take().unwrap());
    let mut attach = None;
    let mut seen = String::new();
    let mut line = String::new();
    while stderr.read_line(&mut line).unwrap() > 0 {
        seen.push_str(&line);
        if let Some(at) = line.find("gdb /") {
            attach = Some(line[at..].trim().to_owned());
            break;
        }
        line.clear();
    }
    let attach = attach.unwrap_or_else(|| panic!("no attach command:\n{seen}"));
    assert!(
        attach.ends_with(&format!("-ex 'target remote :{port}'")),
        "{attach}"
    );
    let image = attach
        .strip_prefix("gdb ")
        .and_then(|rest| rest.split(" -ex").next())
        .unwrap();
    let session = Command::new("gdb")
        .args(["-batch", "-nx"])
        .args(["-ex", &format!("target remote :{port}")])
        .args(["-ex", "break hello::main", "-ex", "continue", "-ex", "bt"])
        .args(["-ex", "delete", "-ex", "continue"])
        .arg(image)
        .stdin(Stdio::null())
        .output()
        .unwrap();
    let gdb_out = String::from_utf8_lossy(&session.stdout);
    assert!(
        gdb_out.contains("Breakpoint 1, hello::main () at src/main.rs:"),
        "{gdb_out}\n{}",
        String::from_utf8_lossy(&session.stderr)
    );
    assert!(
        gdb_out.contains("#0  hello::main () at src/main.rs:"),
        "{gdb_out}"
    );

    let deadline = Instant::now() + Duration::from_secs(120);
    let status = loop {
        if let Some(status) = run.try_wait().unwrap() {
            break status;
        }
        if Instant::now() > deadline {
            let _ = run.kill();
            panic!("the guest did not exit after gdb continued it");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let mut console = String::new();
    std::io::Read::read_to_string(&mut run.stdout.take().unwrap(), &mut console).unwrap();
    assert_eq!(status.code(), Some(3), "{console}");
    assert!(console.contains("hello from stdout"), "{console}");
}

#[test]
fn a_taken_port_or_no_gdb_fails_before_the_build() {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).unwrap();
    let port = listener.local_addr().unwrap().port();
    let run = |path: &str| {
        tool()
            .args(["run", &format!("--gdb={port}"), "--manifest-path"])
            .arg(example_dir("hello").join("Cargo.toml"))
            .env("PATH", path)
            .output()
            .unwrap()
    };
    if gdb_installed() {
        let output = run(&std::env::var("PATH").unwrap());
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains(&format!("127.0.0.1:{port} is taken")),
            "{stderr}"
        );
        assert!(!stderr.contains("Compiling"), "{stderr}");
    }
    let empty = tempfile::tempdir().unwrap();
    let output = run(empty.path().to_str().unwrap());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert_eq!(output.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("no `gdb` on PATH"), "{stderr}");
}
