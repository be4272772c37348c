//! `examples/kv`, a Redis-protocol server on tokio, driven from the host with a RESP
//! client: every reply checked, natively, `--hosted` and in the image (reached through
//! `run --publish`), and the server's own output the same in all three.
//!
//! Every wait is bounded: the guest runs with `--timeout`, the server's first line and
//! its exit are awaited with deadlines, and the sockets have read timeouts.

mod common;

use std::io::{BufReader, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::process::Command;
use std::thread;
use std::time::Duration;

use common::resp::{Value, bulk, error, read, request, simple};
use common::server::{START, Server, free_port, image_server};

/// A connection that has answered a PING (see [`load`] for why connections are
/// opened one at a time).
fn connect_pinged(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let (mut stream, mut reader) = connect(port);
    stream.write_all(&request(&["PING"])).unwrap();
    assert_eq!(read(&mut reader).expect("PING reply"), simple("PONG"));
    (stream, reader)
}

fn connect(port: u16) -> (TcpStream, BufReader<TcpStream>) {
    let stream = TcpStream::connect((Ipv4Addr::LOCALHOST, port)).expect("connect to kv");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .unwrap();
    let reader = BufReader::new(stream.try_clone().unwrap());
    (stream, reader)
}

/// Requests one at a time, each with the reply it must get.
fn one_by_one() -> Vec<(Vec<&'static str>, Value)> {
    use Value::{Array, Bulk, Integer};
    vec![
        (vec!["PING"], simple("PONG")),
        (vec!["ping", "hi there"], bulk("hi there")),
        (vec!["GET", "missing"], Bulk(None)),
        (vec!["SET", "name", "unikernel"], simple("OK")),
        (vec!["GET", "name"], bulk("unikernel")),
        (vec!["SET", "name", ""], simple("OK")),
        (vec!["GET", "name"], bulk("")),
        (vec!["INCR", "counter"], Integer(1)),
        (vec!["INCR", "counter"], Integer(2)),
        (vec!["SET", "counter", "41"], simple("OK")),
        (vec!["INCR", "counter"], Integer(42)),
        (vec!["GET", "counter"], bulk("42")),
        (
            vec!["INCR", "name"],
            error("ERR value is not an integer or out of range"),
        ),
        (vec!["SET", "big", "9223372036854775807"], simple("OK")),
        (
            vec!["INCR", "big"],
            error("ERR increment or decrement would overflow"),
        ),
        (
            vec!["MGET", "counter", "missing", "name"],
            Array(vec![bulk("42"), Bulk(None), bulk("")]),
        ),
        (vec!["DEL", "counter", "missing", "name"], Integer(2)),
        (vec!["DEL", "counter"], Integer(0)),
        (vec!["EXISTS", "counter", "big"], Integer(1)),
        (vec!["SET", "long", "lived", "EX", "100"], simple("OK")),
        (vec!["GET", "long"], bulk("lived")),
        (
            vec!["SET", "k", "v", "EX", "0"],
            error("ERR invalid expire time in 'set' command"),
        ),
        (
            vec!["SET", "k", "v", "EX", "soon"],
            error("ERR value is not an integer or out of range"),
        ),
        (vec!["SET", "k", "v", "NX"], error("ERR syntax error")),
        (
            vec!["GET"],
            error("ERR wrong number of arguments for 'get' command"),
        ),
        (vec!["FLY", "away"], error("ERR unknown command 'FLY'")),
        (vec!["DBSIZE"], Integer(2)),
    ]
}

/// Requests sent in one write (pipelining), then their replies in order.
fn pipelined() -> Vec<(Vec<String>, Value)> {
    let mut script = Vec::new();
    for i in 0..50 {
        let (key, value) = (format!("p{i}"), format!("value {i}"));
        script.push((vec!["SET".into(), key.clone(), value.clone()], simple("OK")));
        script.push((vec!["GET".into(), key], bulk(&value)));
    }
    for i in 1..=50 {
        script.push((vec!["INCR".into(), "hits".into()], Value::Integer(i)));
    }
    let keys = ["p0", "nothing", "p49"];
    script.push((
        std::iter::once("MGET")
            .chain(keys)
            .map(str::to_owned)
            .collect(),
        Value::Array(vec![bulk("value 0"), Value::Bulk(None), bulk("value 49")]),
    ));
    script
}

/// The whole session against a server on `port`, checking every reply; ends with
/// SHUTDOWN.
fn session(port: u16) {
    let (mut stream, mut reader) = connect(port);
    for (words, expected) in one_by_one() {
        stream.write_all(&request(&words)).unwrap();
        assert_eq!(read(&mut reader).expect("a reply"), expected, "{words:?}");
    }

    let script = pipelined();
    let all: Vec<u8> = script
        .iter()
        .flat_map(|(words, _)| request(&words.iter().map(String::as_str).collect::<Vec<_>>()))
        .collect();
    stream.write_all(&all).unwrap();
    for (words, expected) in &script {
        assert_eq!(&read(&mut reader).expect("a reply"), expected, "{words:?}");
    }

    // Expiry: a key set to live 300 ms is gone a second later; inline commands too.
    stream
        .write_all(&request(&["SET", "brief", "x", "PX", "300"]))
        .unwrap();
    assert_eq!(read(&mut reader).unwrap(), simple("OK"));
    thread::sleep(Duration::from_secs(1));
    stream
        .write_all(b"GET brief\r\nEXISTS long brief\r\n")
        .unwrap();
    assert_eq!(read(&mut reader).unwrap(), Value::Bulk(None));
    assert_eq!(read(&mut reader).unwrap(), Value::Integer(1));

    // A second connection sees the same key space; QUIT closes only it.
    let (mut other, mut other_reader) = connect(port);
    other.write_all(&request(&["GET", "p7"])).unwrap();
    assert_eq!(read(&mut other_reader).unwrap(), bulk("value 7"));
    other.write_all(&request(&["QUIT"])).unwrap();
    assert_eq!(read(&mut other_reader).unwrap(), simple("OK"));
    assert!(
        read(&mut other_reader).is_err(),
        "QUIT left the connection open"
    );

    stream.write_all(&request(&["SHUTDOWN"])).unwrap();
    assert_eq!(read(&mut reader).unwrap(), simple("OK"));
}

/// What a full session makes the server print (connections, commands).
fn expected_output(port: u16) -> (Option<i32>, String) {
    let commands = one_by_one().len() + pipelined().len() + 3 + 2 + 1;
    (
        Some(0),
        format!("listening on port {port}\nserved 2 connections, {commands} commands\n"),
    )
}

fn local_server(binary: std::path::PathBuf, port: u16) -> Server {
    let mut command = Command::new(binary);
    command.args([&port.to_string(), "127.0.0.1"]);
    Server::start(command)
}

#[test]
fn kv_answers_resp_like_native_hosted_and_in_the_image() {
    let port = free_port();
    let mut native = local_server(common::native("kv"), port);
    native.wait_for("listening", Duration::from_secs(30));
    session(port);
    assert_eq!(
        native.finish(Duration::from_secs(30)),
        expected_output(port)
    );

    let mut hosted = local_server(common::hosted("kv"), port);
    hosted.wait_for("listening", Duration::from_secs(30));
    session(port);
    assert_eq!(
        hosted.finish(Duration::from_secs(30)),
        expected_output(port)
    );

    let mut image = image_server("kv", port, &[&port.to_string()]);
    image.wait_for("listening", START);
    session(port);
    assert_eq!(image.finish(Duration::from_secs(60)), expected_output(port));
}

/// Concurrent connections and round trips per connection of the load test, or
/// `UNIKERNEL_KV_LOAD=CONNECTIONSxROUNDS` (to measure larger loads by hand).
fn load_size() -> (usize, usize) {
    std::env::var("UNIKERNEL_KV_LOAD")
        .ok()
        .and_then(|text| {
            let (connections, rounds) = text.split_once('x')?;
            Some((connections.parse().ok()?, rounds.parse().ok()?))
        })
        .unwrap_or(LOAD)
}

/// The default load (see `load_size`): measured under TCG on the 2-core CI machine to
/// keep the image's part of the test under about two minutes.
const LOAD: (usize, usize) = (200, 100);

/// `connections` clients at once, each doing `rounds` round trips: a pipelined `SET`
/// of a value naming the client and round, and the `GET` that must read it back (a
/// lost, duplicated or crossed reply shows). The number of commands sent.
///
/// The connections open one after the other, each answering a PING before the next
/// opens, and all stay open while every client runs its rounds at once: QEMU's user
/// network listens on a published port with a backlog of 1 (libslirp's
/// `listen(s, 1)`), so a burst of connects overflows the host's accept queue, and the
/// host kernel then leaves some clients connected on their side only (their requests
/// wait for a retransmission that may never be accepted), before the guest is
/// involved at all.
fn load(port: u16, (connections, rounds): (usize, usize)) -> usize {
    let streams: Vec<_> = (0..connections).map(|_| connect_pinged(port)).collect();
    let start = std::sync::Arc::new(std::sync::Barrier::new(connections));
    let clients: Vec<_> = streams
        .into_iter()
        .enumerate()
        .map(|(client, (mut stream, mut reader))| {
            let start = start.clone();
            thread::Builder::new()
                .stack_size(64 * 1024)
                .spawn(move || {
                    start.wait();
                    let key = format!("load:{client}");
                    for round in 0..rounds {
                        let value = format!("client {client} round {round}");
                        let mut both = request(&["SET", &key, &value]);
                        both.extend(request(&["GET", &key]));
                        stream.write_all(&both).expect("send a round");
                        assert_eq!(read(&mut reader).expect("SET reply"), simple("OK"));
                        assert_eq!(read(&mut reader).expect("GET reply"), bulk(&value));
                    }
                })
                .expect("spawn a client")
        })
        .collect();
    for client in clients {
        client.join().expect("a client failed");
    }
    connections * (rounds * 2 + 1)
}

/// A SplitMix64 stream of bytes: garbage, the same on every run.
fn garbage(seed: u64, length: usize) -> Vec<u8> {
    let mut state = seed;
    (0..length)
        .map(|_| {
            state = state.wrapping_add(0x9e37_79b9_7f4a_7c15);
            let mut z = state;
            z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
            z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
            (z ^ (z >> 31)) as u8
        })
        .collect()
}

/// Clients that go away mid-request or before reading their reply, clients that send
/// garbage (random bytes, bad lengths, an endless header), and a flood of connection
/// attempts to `closed` (a port nobody listens on). What the garbage clients read
/// back, in order.
fn faults(port: u16, closed: u16) -> Vec<Vec<u8>> {
    for i in 0..50 {
        let (mut stream, _) = connect_pinged(port);
        let whole = request(&["SET", &format!("gone:{i}"), "never read"]);
        let sent = if i % 2 == 0 {
            &whole[..whole.len() / 2]
        } else {
            &whole[..]
        };
        stream.write_all(sent).unwrap();
    }
    let mut inputs: Vec<Vec<u8>> = (0..8).map(|seed| garbage(seed, 4096)).collect();
    inputs.push(b"*3\r\n$3\r\nSET\r\n$999999999999\r\n".to_vec());
    inputs.push(b"*2\r\n$3\r\nGET\r\n$1\r\nab\r\n".to_vec());
    inputs.push(b"*x\r\n".to_vec());
    inputs.push(b"*1\r\n:5\r\n".to_vec());
    inputs.push([b"$".as_slice(), &[b'9'; 100]].concat());
    let mut answers = Vec::new();
    for input in inputs {
        let (mut stream, mut reader) = connect_pinged(port);
        stream.write_all(&input).unwrap();
        stream.shutdown(std::net::Shutdown::Write).unwrap();
        let mut answer = Vec::new();
        std::io::Read::read_to_end(&mut reader, &mut answer).expect("read to end");
        answers.push(answer);
    }
    // Bounded in count and time: through QEMU's user network the host's connects wait
    // on its listen backlog of 1 (see `load`), so the image takes far fewer per second.
    let flood = std::time::Instant::now();
    for _ in 0..300 {
        if flood.elapsed() > Duration::from_secs(15) {
            break;
        }
        let _ = TcpStream::connect_timeout(
            &(Ipv4Addr::LOCALHOST, closed).into(),
            Duration::from_secs(2),
        );
    }
    answers
}

/// Load, then faults, against a server on `port`; it must answer afterwards. The
/// garbage replies.
fn survive(port: u16, closed: u16) -> Vec<Vec<u8>> {
    load(port, load_size());
    let answers = faults(port, closed);
    let (mut stream, mut reader) = connect(port);
    stream.write_all(&request(&["GET", "load:0"])).unwrap();
    let last = format!("client 0 round {}", load_size().1 - 1);
    assert_eq!(read(&mut reader).unwrap(), bulk(&last));
    stream.write_all(&request(&["SHUTDOWN"])).unwrap();
    assert_eq!(read(&mut reader).unwrap(), simple("OK"));
    answers
}

/// The load and the faults, natively and in the image: nothing lost or mixed, the
/// same replies to the garbage, the server still answering after them, the same
/// counts at its exit.
#[test]
fn kv_survives_load_and_faults_like_native() {
    let port = free_port();
    let closed = free_port();
    let mut native = local_server(common::native("kv"), port);
    native.wait_for("listening", Duration::from_secs(30));
    let native_answers = survive(port, closed);
    let native_run = native.finish(Duration::from_secs(30));
    assert_eq!(native_run.0, Some(0));
    assert!(
        native_answers
            .iter()
            .any(|a| a.starts_with(b"-ERR Protocol error")),
        "{native_answers:?}"
    );

    // The closed port is published too: QEMU takes the host's connections and the
    // guest, with nothing listening, resets them.
    let (port_arg, closed_arg) = (port.to_string(), format!("{closed}:7"));
    let flags = ["--publish", &port_arg, "--publish", &closed_arg];
    let mut image = common::server::image_server_with("kv", &flags, 600, &[&port_arg]);
    image.wait_for("listening", START);
    let image_answers = survive(port, closed);
    let image_run = image.finish(Duration::from_secs(60));
    assert_eq!(native_answers, image_answers);
    assert_eq!(native_run, image_run);
}
