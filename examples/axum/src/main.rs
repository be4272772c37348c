//! An axum (tokio + hyper) HTTP/1.1 server: `GET /` answers a line of text, `GET
//! /quit` answers and shuts the server down gracefully, after which it prints how
//! many requests it served and exits 0.
//!
//! `axum PORT [ADDRESS]`: listens on ADDRESS:PORT (default 0.0.0.0).

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use tokio::sync::Notify;

#[derive(Clone, Default)]
struct Shared {
    served: Arc<AtomicUsize>,
    quit: Arc<Notify>,
}

async fn hello(State(shared): State<Shared>) -> &'static str {
    shared.served.fetch_add(1, Ordering::SeqCst);
    "hello from axum\n"
}

async fn quit(State(shared): State<Shared>) -> &'static str {
    shared.served.fetch_add(1, Ordering::SeqCst);
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
