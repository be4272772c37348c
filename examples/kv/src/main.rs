//! A Redis-protocol (RESP2) key-value server on tokio: `kv PORT [ADDRESS]` listens on
//! ADDRESS:PORT (default 0.0.0.0) and answers PING, ECHO, GET, SET (EX/PX), DEL,
//! EXISTS, INCR, MGET, DBSIZE and QUIT from any number of connections, pipelined
//! requests included. `SHUTDOWN` stops accepting, closes every connection once its
//! current requests are answered and exits 0 after printing how many connections and commands it served.
//!
//! A request that is not RESP gets `-ERR Protocol error: ...` and its connection is
//! closed, as Redis does; the server goes on serving the others.

mod resp;
mod store;

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::watch;

use resp::{Parsed, Reply};
use store::Store;

#[derive(Default)]
struct Shared {
    store: Mutex<Store>,
    connections: AtomicU64,
    commands: AtomicU64,
}

/// What a connection's requests ask of the server beyond their replies.
enum After {
    More,
    Close,
    Shutdown,
}

/// Answers every whole request at the start of `buffer` (pipelining: all their
/// replies go out in one write), removing them from it.
fn answer(shared: &Shared, buffer: &mut Vec<u8>, out: &mut Vec<u8>) -> After {
    let mut used = 0;
    let mut after = After::More;
    loop {
        match resp::parse(&buffer[used..]) {
            Parsed::Incomplete => break,
            Parsed::Invalid(why) => {
                Reply::Error(format!("ERR {why}")).encode(out);
                after = After::Close;
                break;
            }
            Parsed::Request(args, length) => {
                used += length;
                if args.is_empty() {
                    continue;
                }
                shared.commands.fetch_add(1, Ordering::Relaxed);
                let name = args[0].to_ascii_uppercase();
                if name == b"QUIT" || name == b"SHUTDOWN" {
                    Reply::Simple("OK").encode(out);
                    after = if name == b"QUIT" { After::Close } else { After::Shutdown };
                    break;
                }
                shared.store.lock().unwrap().execute(&args).encode(out);
            }
        }
    }
    buffer.drain(..used);
    after
}

/// Serves one connection until the peer closes it, QUIT, garbage, an I/O error or
/// the server's shutdown (between requests: a request being read is dropped).
async fn serve(mut stream: TcpStream, shared: Arc<Shared>, stop: watch::Sender<bool>) {
    let _ = stream.set_nodelay(true);
    let mut stopped = stop.subscribe();
    let mut buffer = Vec::new();
    let mut out = Vec::new();
    let mut chunk = vec![0u8; 16 * 1024];
    loop {
        let read = tokio::select! {
            read = stream.read(&mut chunk) => match read {
                Ok(0) | Err(_) => return,
                Ok(n) => n,
            },
            _ = stopped.wait_for(|&stop| stop) => return,
        };
        buffer.extend_from_slice(&chunk[..read]);
        let after = answer(&shared, &mut buffer, &mut out);
        if !out.is_empty() && stream.write_all(&out).await.is_err() {
            return;
        }
        out.clear();
        match after {
            After::More => {}
            After::Close => return,
            After::Shutdown => {
                let _ = stop.send(true);
                return;
            }
        }
    }
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(6379);
    let address = args.get(2).map_or("0.0.0.0", String::as_str);
    let listener = TcpListener::bind((address, port)).await?;
    println!("listening on port {}", listener.local_addr()?.port());
    let shared = Arc::new(Shared::default());
    let (stop, mut stopped) = watch::channel(false);
    let mut tasks = tokio::task::JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                // A failed accept (the peer reset before it was taken) ends nothing.
                if let Ok((stream, _peer)) = accepted {
                    shared.connections.fetch_add(1, Ordering::Relaxed);
                    tasks.spawn(serve(stream, shared.clone(), stop.clone()));
                }
            }
            _ = stopped.changed() => break,
        }
        // Reap finished connections so the set stays as large as the open ones.
        while tasks.try_join_next().is_some() {}
    }
    drop(listener);
    while tasks.join_next().await.is_some() {}
    println!(
        "served {} connections, {} commands",
        shared.connections.load(Ordering::Relaxed),
        shared.commands.load(Ordering::Relaxed)
    );
    Ok(())
}
