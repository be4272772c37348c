//! An axum (tokio + hyper) HTTP/1.1 server: `GET /` answers a line of text, `GET
//! /json` a JSON document, `POST /echo` the request's body, `GET /fetch/ADDRESS:PORT`
//! what a plain HTTP/1.0 `GET /` to ADDRESS:PORT answered (an outbound connection from
//! the server), and `GET /quit` shuts the server down gracefully, after which it
//! prints how many requests it served and exits 0.
//!
//! `http PORT [ADDRESS]`: listens on ADDRESS:PORT (default 0.0.0.0).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::extract::{Path, State};
use axum::Router;
use axum::http::{HeaderName, StatusCode, header};
use axum::routing::{get, post};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::Notify;

#[derive(Clone, Default)]
struct Shared {
    served: Arc<AtomicUsize>,
    quit: Arc<Notify>,
}

impl Shared {
    fn count(&self) -> usize {
        self.served.fetch_add(1, Ordering::SeqCst) + 1
    }
}

async fn hello(State(shared): State<Shared>) -> &'static str {
    shared.count();
    "hello from axum\n"
}

/// A JSON document (serialized with serde_json; axum's `Json` would need one more
/// crate for what serde_json does here).
async fn json(State(shared): State<Shared>) -> ([(HeaderName, &'static str); 1], String) {
    let request = shared.count();
    let document = serde_json::json!({
        "server": "axum",
        "request": request,
        "primes": [2, 3, 5, 7, 11],
        "nested": {"ok": true, "none": null, "text": "a \"quoted\" line\n"},
    });
    ([(header::CONTENT_TYPE, "application/json")], document.to_string())
}

async fn echo(State(shared): State<Shared>, body: String) -> String {
    shared.count();
    body
}

/// A `GET /` over HTTP/1.0 to `address`: the body of the answer, or 502 and why not.
async fn fetch(
    State(shared): State<Shared>,
    Path(address): Path<String>,
) -> Result<String, (StatusCode, String)> {
    shared.count();
    let failed = |e: std::io::Error| (StatusCode::BAD_GATEWAY, format!("{address}: {e}\n"));
    let mut stream = tokio::net::TcpStream::connect(address.as_str())
        .await
        .map_err(failed)?;
    stream
        .write_all(b"GET / HTTP/1.0\r\nHost: upstream\r\n\r\n")
        .await
        .map_err(failed)?;
    let mut response = Vec::new();
    stream.read_to_end(&mut response).await.map_err(failed)?;
    let response = String::from_utf8_lossy(&response);
    let body = response.split_once("\r\n\r\n").map_or("", |(_, body)| body);
    Ok(body.to_owned())
}

async fn quit(State(shared): State<Shared>) -> &'static str {
    shared.count();
    shared.quit.notify_one();
    "bye\n"
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let args: Vec<String> = std::env::args().collect();
    let port: u16 = args.get(1).and_then(|p| p.parse().ok()).unwrap_or(8080);
    let address = args.get(2).map_or("0.0.0.0", String::as_str);
    let shared = Shared::default();
    let app = Router::new()
        .route("/", get(hello))
        .route("/json", get(json))
        .route("/echo", post(echo))
        .route("/fetch/{address}", get(fetch))
        .route("/quit", get(quit))
        .with_state(shared.clone());
    let listener = tokio::net::TcpListener::bind((address, port)).await?;
    println!("listening on port {}", listener.local_addr()?.port());
    let quit = shared.quit.clone();
    axum::serve(listener, app)
        .with_graceful_shutdown(async move { quit.notified().await })
        .await?;
    println!("served {} requests", shared.served.load(Ordering::SeqCst));
    Ok(())
}
