//! A server under test: a native, hosted or image run of an example that listens,
//! its stdout lines as they come, and bounded waits for a line and for the exit.

use std::io::{BufRead, BufReader, Read};
use std::net::{Ipv4Addr, TcpListener};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use super::{example_dir, tool};

/// How long a server may take to boot and say it listens (TCG, a busy machine).
pub const START: Duration = Duration::from_secs(120);

/// A port free on 127.0.0.1 now (the kernel hands out a fresh one; the tiny window
/// before the server takes it is the usual price of this idiom).
pub fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running server: its stdout lines arrive on `lines`.
pub struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

/// A server a failed test leaves behind is stopped, not left to its timeout: its
/// whole process group (the tool and its QEMU), which [`Server::start`] made.
impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

impl Server {
    /// Kills the server's process group (QEMU too, not only the tool) unless it
    /// exited.
    fn stop(&mut self) {
        if self.child.try_wait().ok().flatten().is_none() {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.wait();
    }

    pub fn start(mut command: Command) -> Server {
        use std::os::unix::process::CommandExt;
        let mut child = command
            .process_group(0)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start the server");
        let stdout = child.stdout.take().expect("stdout");
        let (send, lines) = mpsc::channel();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if send.send(line).is_err() {
                    break;
                }
            }
        });
        Server {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// Waits (at most `limit`) for a line starting with `prefix`.
    pub fn wait_for(&mut self, prefix: &str, limit: Duration) {
        let deadline = Instant::now() + limit;
        while let Some(left) = deadline.checked_duration_since(Instant::now()) {
            match self.lines.recv_timeout(left) {
                Ok(line) => {
                    let found = line.starts_with(prefix);
                    self.seen.push(line);
                    if found {
                        return;
                    }
                }
                Err(_) => break,
            }
        }
        self.stop();
        let mut stderr = String::new();
        if let Some(mut err) = self.child.stderr.take() {
            let _ = err.read_to_string(&mut stderr);
        }
        panic!(
            "no line starting with {prefix:?} within {limit:?}; stdout so far: {:?}\nstderr:\n{stderr}",
            self.seen
        );
    }

    /// Waits for the exit (at most `limit`): the exit code and the whole stdout.
    pub fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                // The reader thread may not have read the last lines yet: take them
                // until it sees the pipe's end (bounded, should a grandchild keep the
                // pipe open).
                let drained_by = Instant::now() + Duration::from_secs(10);
                while let Some(left) = drained_by.checked_duration_since(Instant::now()) {
                    match self.lines.recv_timeout(left) {
                        Ok(line) => self.seen.push(line),
                        Err(_) => break,
                    }
                }
                return (status.code(), self.seen.join("\n") + "\n");
            }
            if Instant::now() > deadline {
                self.stop();
                panic!("the server did not exit within {limit:?}: {:?}", self.seen);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `example` as a unikernel image with `args`, `port` published on 127.0.0.1, run
/// with a 240 s timeout.
pub fn image_server(example: &str, port: u16, args: &[&str]) -> Server {
    image_server_with(example, &["--publish", &port.to_string()], 240, args)
}

/// `example` as a unikernel image with `args`, `run`'s flags `flags` (`--publish`,
/// `--net`) and `--timeout timeout`. The image is built first (a whole-program link
/// can take minutes on a loaded machine; the boot deadline is for the boot).
pub fn image_server_with(example: &str, flags: &[&str], timeout: u64, args: &[&str]) -> Server {
    let manifest = example_dir(example).join("Cargo.toml");
    let built = tool()
        .args(["build", "--release", "--manifest-path"])
        .arg(&manifest)
        .output()
        .expect("run cargo-unikernel");
    assert!(
        built.status.success(),
        "image build of {example} failed:\n{}",
        String::from_utf8_lossy(&built.stderr)
    );
    let mut command = tool();
    command
        .args(["run", "--release", "--timeout"])
        .arg(timeout.to_string());
    command.args(flags);
    command
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--")
        .args(args);
    Server::start(command)
}
