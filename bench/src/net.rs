//! The `net` suite: `examples/kv` (RESP) and `examples/http` (axum) served by the
//! image (through `run --publish`), the glibc build and the `--hosted` build, each
//! driven by a closed-loop load generator: N connections opened one after another
//! (QEMU's user network listens with a backlog of 1), then each sending a request and
//! waiting for its reply, for a fixed time. Reports requests per second and the
//! median and 99th-percentile latency.
//!
//! Guest instructions per request are not reported: with `-icount` the guest clock
//! also advances while the guest idles waiting for the host (QEMU's `sleep=on`), so a
//! server's guest time is not its instruction count.
//!
//! Traffic stays on 127.0.0.1; every loop is bounded by the duration and each read by
//! a timeout.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::{Ipv4Addr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use anyhow::{Context, bail};

use crate::{check, repo, tool};

/// One server program and how to talk to it.
#[derive(Clone, Copy)]
enum Server {
    Kv,
    Http,
}

impl Server {
    fn example(self) -> &'static str {
        match self {
            Server::Kv => "kv",
            Server::Http => "http",
        }
    }

    fn request(self) -> &'static [u8] {
        match self {
            Server::Kv => b"*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n",
            Server::Http => b"GET / HTTP/1.1\r\nHost: bench\r\n\r\n",
        }
    }

    /// Reads one reply (kv: one `$-1` or bulk line pair; http: headers and a
    /// `Content-Length` body).
    fn read_reply(self, reader: &mut BufReader<TcpStream>) -> anyhow::Result<()> {
        let mut line = String::new();
        match self {
            Server::Kv => {
                reader.read_line(&mut line)?;
                if line.starts_with('$') && line.trim_end() != "$-1" {
                    line.clear();
                    reader.read_line(&mut line)?;
                }
            }
            Server::Http => {
                let mut length = 0;
                loop {
                    line.clear();
                    if reader.read_line(&mut line)? == 0 {
                        bail!("connection closed");
                    }
                    let lower = line.to_ascii_lowercase();
                    if let Some(value) = lower.strip_prefix("content-length:") {
                        length = value.trim().parse()?;
                    }
                    if line == "\r\n" {
                        break;
                    }
                }
                let mut body = vec![0; length];
                reader.read_exact(&mut body)?;
            }
        }
        Ok(())
    }

    /// Asks the server to exit.
    fn stop(self, port: u16) -> anyhow::Result<()> {
        let mut stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        match self {
            Server::Kv => stream.write_all(b"SHUTDOWN\r\n")?,
            Server::Http => stream
                .write_all(b"GET /quit HTTP/1.1\r\nHost: bench\r\nConnection: close\r\n\r\n")?,
        }
        let mut reply = Vec::new();
        let _ = stream.read_to_end(&mut reply);
        Ok(())
    }
}

/// What one load run measured.
struct Measured {
    requests: usize,
    elapsed: Duration,
    latencies: Vec<Duration>,
}

fn free_port() -> anyhow::Result<u16> {
    Ok(TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?
        .local_addr()?
        .port())
}

/// Starts `command` and waits (at most `limit`) for its `listening` line.
fn start(mut command: Command, limit: Duration) -> anyhow::Result<Child> {
    let mut child = command
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .context("start the server")?;
    let stdout = child.stdout.take().context("stdout")?;
    let (send, lines) = std::sync::mpsc::channel();
    thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = send.send(line);
        }
    });
    let deadline = Instant::now() + limit;
    while let Some(left) = deadline.checked_duration_since(Instant::now()) {
        match lines.recv_timeout(left) {
            Ok(line) if line.starts_with("listening") => return Ok(child),
            Ok(_) => {}
            Err(_) => break,
        }
    }
    let _ = child.kill();
    bail!("the server did not say it listens within {limit:?}")
}

/// `connections` clients for `duration`, closed loop.
fn drive(
    server: Server,
    port: u16,
    connections: usize,
    duration: Duration,
) -> anyhow::Result<Measured> {
    let mut streams = Vec::new();
    for _ in 0..connections {
        let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port))?;
        stream.set_read_timeout(Some(Duration::from_secs(30)))?;
        stream.set_nodelay(true)?;
        let mut reader = BufReader::new(stream.try_clone()?);
        let mut writer = stream;
        // One round trip before the next connect (the backlog of 1).
        writer.write_all(server.request())?;
        server.read_reply(&mut reader)?;
        streams.push((writer, reader));
    }
    let start = Arc::new(Barrier::new(connections + 1));
    let clients: Vec<_> = streams
        .into_iter()
        .map(|(mut writer, mut reader)| {
            let start = start.clone();
            thread::spawn(move || -> anyhow::Result<Vec<Duration>> {
                start.wait();
                let until = Instant::now() + duration;
                let mut latencies = Vec::new();
                while Instant::now() < until {
                    let sent = Instant::now();
                    writer.write_all(server.request())?;
                    server.read_reply(&mut reader)?;
                    latencies.push(sent.elapsed());
                }
                Ok(latencies)
            })
        })
        .collect();
    start.wait();
    let began = Instant::now();
    let mut latencies = Vec::new();
    for client in clients {
        latencies.extend(client.join().expect("a client thread panicked")?);
    }
    let elapsed = began.elapsed();
    latencies.sort();
    Ok(Measured {
        requests: latencies.len(),
        elapsed,
        latencies,
    })
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    sorted[((sorted.len() - 1) as f64 * p).round() as usize]
}

/// The three builds of `example`: (label, how to start it on a port).
fn builds(tool: &Path, example: &str) -> anyhow::Result<Vec<(&'static str, PathBuf)>> {
    let manifest = repo().join("examples").join(example).join("Cargo.toml");
    let mut native = Command::new(env!("CARGO"));
    native
        .args(["build", "--release", "--quiet", "--manifest-path"])
        .arg(&manifest)
        .env_remove("RUSTFLAGS");
    check(native, &format!("cargo build of examples/{example}"))?;
    for hosted in [true, false] {
        let mut build = Command::new(tool);
        build.args(["unikernel", "build", "--release"]);
        if hosted {
            build.arg("--hosted");
        }
        build.arg("--manifest-path").arg(&manifest);
        check(
            build,
            &format!("cargo unikernel build of examples/{example}"),
        )?;
    }
    let target = repo().join("examples").join(example).join("target");
    Ok(vec![
        ("Linux, glibc", target.join("release").join(example)),
        (
            "Linux, --hosted",
            target.join("unikernel/hosted/release").join(example),
        ),
        ("unikernel (TCG)", manifest),
    ])
}

pub fn run(connections: usize, seconds: u64) -> anyhow::Result<()> {
    let tool = tool()?;
    let duration = Duration::from_secs(seconds);
    println!(
        "net: {connections} connections, closed loop, {seconds} s per run \
         (kv: GET of a missing key; http: GET /)\n"
    );
    println!(
        "{:<6} {:<18} {:>12} {:>12} {:>12}",
        "server", "build", "requests/s", "p50", "p99"
    );
    for server in [Server::Kv, Server::Http] {
        let example = server.example();
        for (label, path) in builds(&tool, example)? {
            let port = free_port()?;
            let command = if path.extension().is_some_and(|e| e == "toml") {
                let mut command = Command::new(&tool);
                command
                    .args(["unikernel", "run", "--release", "--timeout"])
                    .arg((seconds + 300).to_string())
                    .args(["--publish", &port.to_string(), "--manifest-path"])
                    .arg(&path)
                    .args(["--", &port.to_string()]);
                command
            } else {
                let mut command = Command::new(&path);
                command.args([&port.to_string(), "127.0.0.1"]);
                command
            };
            let mut child = start(command, Duration::from_secs(180))?;
            let measured = drive(server, port, connections, duration);
            server.stop(port)?;
            let _ = child.wait();
            let measured = measured?;
            println!(
                "{:<6} {:<18} {:>12.0} {:>10.0}us {:>10.0}us",
                example,
                label,
                measured.requests as f64 / measured.elapsed.as_secs_f64(),
                percentile(&measured.latencies, 0.5).as_secs_f64() * 1e6,
                percentile(&measured.latencies, 0.99).as_secs_f64() * 1e6,
            );
        }
    }
    Ok(())
}
