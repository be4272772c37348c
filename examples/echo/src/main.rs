//! A line echo server over std::net, and its client.
//!
//! `echo serve PORT [CONNECTIONS [ADDRESS]]`: listens on ADDRESS:PORT (default
//! 0.0.0.0), answers each connection on a thread of its own by sending every line
//! back, and exits after CONNECTIONS connections have ended (default 1), printing what
//! it served.
//!
//! `echo client HOST:PORT LINES`: connects, sends LINES numbered lines, checks each
//! echo and prints a summary.
//!
//! `echo pipe PORT [ADDRESS]`: SIGPIPE and `MSG_NOSIGNAL` on a TCP socket ([`pipe`]).
//!
//! `echo loopback LINES`: server and client threads over 127.0.0.1 ([`loopback`]).
//!
//! `echo timeouts`: `SO_RCVTIMEO`/`SO_SNDTIMEO` ([`timeouts`]).
//!
//! `echo udp DATAGRAMS`: a UDP echo server and client threads over 127.0.0.1
//! ([`udp`]).
//!
//! `echo udp-serve PORT [DATAGRAMS [ADDRESS]]`: a UDP echo server on ADDRESS:PORT
//! (0.0.0.0) that exits after DATAGRAMS (1) datagrams ([`udp::serve`]).

mod loopback;
mod pipe;
mod timeouts;
mod udp;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::process::ExitCode;
use std::thread;
use std::time::Duration;

fn serve(address: &str, port: u16, connections: usize) -> std::io::Result<()> {
    let listener = TcpListener::bind((address, port))?;
    println!("listening on port {}", listener.local_addr()?.port());
    let mut handles = Vec::new();
    for _ in 0..connections {
        let (stream, _peer) = listener.accept()?;
        handles.push(thread::spawn(move || echo_lines(stream)));
    }
    let mut lines = 0;
    for handle in handles {
        lines += handle.join().expect("connection thread panicked")?;
    }
    println!("served {connections} connections, {lines} lines");
    Ok(())
}

/// Sends every line back until the peer closes; the number of lines.
fn echo_lines(stream: TcpStream) -> std::io::Result<usize> {
    stream.set_nodelay(true)?;
    let mut writer = stream.try_clone()?;
    let mut lines = 0;
    for line in BufReader::new(stream).lines() {
        let line = line?;
        writeln!(writer, "{line}")?;
        lines += 1;
    }
    Ok(lines)
}

fn client(address: &str, lines: usize) -> std::io::Result<()> {
    let stream = TcpStream::connect(address)?;
    stream.set_read_timeout(Some(Duration::from_secs(30)))?;
    let mut writer = stream.try_clone()?;
    let mut reader = BufReader::new(stream);
    let mut echoed = String::new();
    for i in 0..lines {
        let line = format!("line {i} {}", "x".repeat(i % 100));
        writeln!(writer, "{line}")?;
        echoed.clear();
        reader.read_line(&mut echoed)?;
        if echoed.strip_suffix('\n') != Some(line.as_str()) {
            return Err(std::io::Error::other(format!(
                "sent {line:?}, got {echoed:?}"
            )));
        }
    }
    println!("{lines} lines echoed");
    Ok(())
}

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().collect();
    let result = match args.get(1).map(String::as_str) {
        Some("serve") => {
            let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(7000);
            let connections = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
            let address = args.get(4).map_or("0.0.0.0", String::as_str);
            serve(address, port, connections)
        }
        Some("pipe") => {
            let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(7000);
            let address = args.get(3).map_or("0.0.0.0", String::as_str);
            pipe::run(address, port)
        }
        Some("loopback") => match args.get(2).map_or(Ok(100), |n| n.parse()) {
            Ok(lines) => loopback::run(lines),
            Err(_) => Err(std::io::Error::other("LINES: a number")),
        },
        Some("timeouts") => timeouts::run(),
        Some("udp") => match args.get(2).map_or(Ok(100), |n| n.parse()) {
            Ok(datagrams) => udp::run(datagrams),
            Err(_) => Err(std::io::Error::other("DATAGRAMS: a number")),
        },
        Some("udp-serve") => {
            let port = args.get(2).and_then(|p| p.parse().ok()).unwrap_or(7000);
            let datagrams = args.get(3).and_then(|n| n.parse().ok()).unwrap_or(1);
            let address = args.get(4).map_or("0.0.0.0", String::as_str);
            udp::serve(address, port, datagrams)
        }
        Some("client") if args.len() == 4 => match args[3].parse() {
            Ok(lines) => client(&args[2], lines),
            Err(_) => Err(std::io::Error::other("LINES: a number")),
        },
        _ => {
            eprintln!(
                "usage: echo serve [PORT [CONNECTIONS [ADDRESS]]] | echo client HOST:PORT LINES | echo pipe [PORT [ADDRESS]] | echo loopback [LINES] | echo timeouts | echo udp [DATAGRAMS] | echo udp-serve [PORT [DATAGRAMS [ADDRESS]]]"
            );
            return ExitCode::from(2);
        }
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("echo: {error}");
            ExitCode::FAILURE
        }
    }
}
