//! Networking: `examples/echo` serves TCP connections from the host through
//! `run --publish` (QEMU user network, forwards on 127.0.0.1 only, `restrict=on`), and
//! serves them the same as the native build: same server output, same echoes.
//!
//! Every wait is bounded: the guest runs with `--timeout`, the server's first line and
//! its exit are awaited with deadlines, and the sockets have read timeouts.

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant};

use common::{example_dir, native, run, tool};

/// Connections the server takes before it exits, and lines each client sends.
const CONNECTIONS: &str = "2";
const LINES: &str = "200";
/// How long the server may take to boot and say it listens (TCG, a busy machine).
const START: Duration = Duration::from_secs(120);

/// A port free on 127.0.0.1 now (the kernel hands out a fresh one; the tiny window
/// before the server takes it is the usual price of this idiom).
fn free_port() -> u16 {
    let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0)).expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local address").port()
}

/// A running server: its stdout lines arrive on `lines`.
struct Server {
    child: Child,
    lines: mpsc::Receiver<String>,
    seen: Vec<String>,
}

impl Server {
    fn start(mut command: Command) -> Server {
        let mut child = command
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
    fn wait_for(&mut self, prefix: &str, limit: Duration) {
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
        let _ = self.child.kill();
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
    fn finish(mut self, limit: Duration) -> (Option<i32>, String) {
        let deadline = Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("wait") {
                self.seen.extend(self.lines.try_iter());
                return (status.code(), self.seen.join("\n") + "\n");
            }
            if Instant::now() > deadline {
                let _ = self.child.kill();
                panic!("the server did not exit within {limit:?}: {:?}", self.seen);
            }
            thread::sleep(Duration::from_millis(50));
        }
    }
}

/// `example` as a unikernel image with `args`, `port` published on 127.0.0.1. The
/// image is built first (a whole-program link can take minutes on a loaded machine;
/// the boot deadline is for the boot).
fn image_server(example: &str, port: u16, args: &[&str]) -> Server {
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
        .args(["run", "--release", "--timeout", "240", "--publish"])
        .arg(port.to_string())
        .arg("--manifest-path")
        .arg(&manifest)
        .arg("--")
        .args(args);
    Server::start(command)
}

/// The echo server, native build, on 127.0.0.1 only.
fn native_server(port: u16) -> Server {
    let mut command = Command::new(native("echo"));
    command.args(["serve", &port.to_string(), CONNECTIONS, "127.0.0.1"]);
    Server::start(command)
}

/// Two clients at once (the server's threads), each the example's native client;
/// a raw exchange from this test as well, checked byte for byte.
fn drive(port: u16) -> Vec<String> {
    let address = format!("127.0.0.1:{port}");
    let client = native("echo");
    let one = {
        let (client, address) = (client.clone(), address.clone());
        thread::spawn(move || run(&client, &["client", &address, LINES], &[]))
    };
    let mut stream = TcpStream::connect(&address).expect("connect to the server");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let payload: String = (0..50).map(|i| format!("raw {i}\n")).collect();
    stream.write_all(payload.as_bytes()).unwrap();
    let mut echoed = vec![0u8; payload.len()];
    stream.read_exact(&mut echoed).expect("read the echo");
    assert_eq!(String::from_utf8_lossy(&echoed), payload);
    drop(stream);
    let one = one.join().expect("client thread");
    assert_eq!(one.code, Some(0), "client failed: {}", one.stderr);
    vec![one.stdout]
}

#[test]
fn echo_server_answers_the_host_like_native() {
    let port = free_port();
    let mut server = native_server(port);
    server.wait_for("listening", Duration::from_secs(30));
    let native_clients = drive(port);
    let native_run = server.finish(Duration::from_secs(30));

    // The same port (the server prints it), now published from the guest.
    let mut server = image_server("echo", port, &["serve", &port.to_string(), CONNECTIONS]);
    server.wait_for("listening", START);
    let image_clients = drive(port);
    let image_run = server.finish(Duration::from_secs(60));

    assert_eq!(native_clients, image_clients);
    assert_eq!(native_run.0, Some(0), "native server: {native_run:?}");
    // The tool's own lines (none on stdout) aside, the output is the program's.
    assert_eq!(native_run, image_run);
    assert!(
        native_run.1.contains("served 2 connections, 250 lines"),
        "{native_run:?}"
    );
}

/// One HTTP/1.1 `GET` on a fresh connection (`Connection: close`): status line and
/// body.
fn http_get(port: u16, path: &str) -> (String, String) {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .unwrap();
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .expect("read the response");
    let (head, body) = response.split_once("\r\n\r\n").unwrap_or((&response, ""));
    let status = head.lines().next().unwrap_or_default().to_owned();
    (status, body.to_owned())
}

/// The requests of both runs: `/` three times, `/missing`, then `/quit`.
fn fetch_all(port: u16) -> Vec<(String, String)> {
    let mut answers: Vec<_> = (0..3).map(|_| http_get(port, "/")).collect();
    answers.push(http_get(port, "/missing"));
    answers.push(http_get(port, "/quit"));
    answers
}

#[test]
fn axum_server_answers_http_from_the_host_like_native() {
    let port = free_port();
    let port_arg = port.to_string();
    let mut server = Server::start({
        let mut command = Command::new(native("axum"));
        command.args([port_arg.as_str(), "127.0.0.1"]);
        command
    });
    server.wait_for("listening", Duration::from_secs(30));
    let native_answers = fetch_all(port);
    let native_run = server.finish(Duration::from_secs(30));

    let mut server = image_server("axum", port, &[&port_arg]);
    server.wait_for("listening", START);
    let image_answers = fetch_all(port);
    let image_run = server.finish(Duration::from_secs(60));

    assert_eq!(
        native_answers[0],
        ("HTTP/1.1 200 OK".into(), "hello from axum\n".into())
    );
    assert_eq!(native_answers[3].0, "HTTP/1.1 404 Not Found");
    assert_eq!(native_answers, image_answers);
    assert_eq!(
        native_run,
        (
            Some(0),
            format!("listening on port {port}\nserved 4 requests\n")
        )
    );
    assert_eq!(native_run, image_run);
}

/// What the `pipe` scenario's client reads: everything until the server's end of
/// stream.
fn read_until_closed(port: u16) -> String {
    let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .unwrap();
    let mut received = String::new();
    stream.read_to_string(&mut received).expect("read to end");
    received
}

/// A send after the socket's own `shutdown(SHUT_WR)`: `EPIPE` with `MSG_NOSIGNAL`,
/// `EPIPE` and a SIGPIPE through `write` and a plain `send`, as on Linux.
#[test]
fn tcp_sends_after_shutdown_raise_sigpipe_like_native() {
    let port = free_port();
    let port_arg = port.to_string();
    let mut server = Server::start({
        let mut command = Command::new(native("echo"));
        command.args(["pipe", port_arg.as_str(), "127.0.0.1"]);
        command
    });
    server.wait_for("listening", Duration::from_secs(30));
    let native_received = read_until_closed(port);
    let native_run = server.finish(Duration::from_secs(30));

    let mut server = image_server("echo", port, &["pipe", &port_arg]);
    server.wait_for("listening", START);
    let image_received = read_until_closed(port);
    let image_run = server.finish(Duration::from_secs(60));

    assert_eq!(native_received, "hello\n");
    assert_eq!(native_received, image_received);
    let broken = "Broken pipe (os error 32)";
    assert_eq!(
        native_run,
        (
            Some(0),
            format!(
                "listening on port {port}\n\
                 send with MSG_NOSIGNAL: {broken}; SIGPIPE caught 0 time(s)\n\
                 write: {broken}; SIGPIPE caught 1 time(s)\n\
                 send: {broken}; SIGPIPE caught 2 time(s)\n"
            )
        )
    );
    assert_eq!(native_run, image_run);
}

/// 127.0.0.1 inside the guest with no network device (`run` without `--publish`): a
/// server thread and a client thread of one program, a refused connect and a bind to
/// an address no interface has, as natively.
#[test]
fn loopback_works_without_a_device_like_native() {
    let native_run = run(&native("echo"), &["loopback", "300"], &[]);
    assert_eq!(native_run.code, Some(0), "native: {}", native_run.stderr);
    assert!(
        native_run.stdout.contains("client 300 lines echoed"),
        "{}",
        native_run.stdout
    );
    let image = common::boot("echo", &["loopback", "300"], &[]);
    common::assert_same("echo loopback", &native_run, &image);
}

/// `SO_RCVTIMEO`/`SO_SNDTIMEO` (std's `set_read_timeout`/`set_write_timeout`): an
/// `accept`, a read and a write into a full peer over 127.0.0.1 and a read of an
/// AF_UNIX pair end with `WouldBlock` after about the timeout; `getsockopt` reads
/// them back; a bad `timeval` is `EDOM`. As natively.
#[test]
fn socket_timeouts_end_waits_like_native() {
    let native_run = run(&native("echo"), &["timeouts"], &[]);
    assert_eq!(native_run.code, Some(0), "native: {}", native_run.stderr);
    assert!(
        native_run
            .stdout
            .contains("read with nothing sent: WouldBlock, waited about the timeout: true"),
        "{}",
        native_run.stdout
    );
    let image = common::boot("echo", &["timeouts"], &[]);
    common::assert_same("echo timeouts", &native_run, &image);
}

/// std::net UDP over 127.0.0.1 with no device: an echo server thread, datagrams up
/// to 8000 bytes with their sources, a connected socket's names and filter, short
/// buffers, `peek_from`, a receive timeout, as natively.
#[test]
fn udp_over_loopback_like_native() {
    let native_run = run(&native("echo"), &["udp", "100"], &[]);
    assert_eq!(native_run.code, Some(0), "native: {}", native_run.stderr);
    assert!(
        native_run.stdout.contains("client 100 datagrams echoed"),
        "{}",
        native_run.stdout
    );
    let image = common::boot("echo", &["udp", "100"], &[]);
    common::assert_same("echo udp", &native_run, &image);
}
