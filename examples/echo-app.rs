//! A stand-in app for the quick start: prints each request it receives and answers 200.
//!
//! `cargo run --example echo-app [ADDR]` listens on 127.0.0.1:3000 unless told otherwise.

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

async fn answer(request: Request<Incoming>) -> Result<Response<Full<Bytes>>, Infallible> {
    let (parts, body) = request.into_parts();
    let body = body
        .collect()
        .await
        .map(|b| b.to_bytes())
        .unwrap_or_default();
    let route = parts
        .headers
        .get("x-hookguard-route")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("(none: not verified by hookguard)");
    // Queued deliveries carry hookguard's id and the attempt number.
    let queued = match (
        parts.headers.get("x-hookguard-delivery"),
        parts.headers.get("x-hookguard-attempt"),
    ) {
        (Some(id), Some(attempt)) => format!(
            "  delivery={} attempt={}",
            String::from_utf8_lossy(id.as_bytes()),
            String::from_utf8_lossy(attempt.as_bytes())
        ),
        _ => String::new(),
    };
    println!(
        "app received {} {}  route={}{}  {} body bytes: {}",
        parts.method,
        parts.uri,
        route,
        queued,
        body.len(),
        String::from_utf8_lossy(&body)
    );
    Ok(Response::new(Full::new(Bytes::from_static(
        b"{\"ok\":true}\n",
    ))))
}

#[tokio::main]
async fn main() -> std::io::Result<()> {
    let addr = std::env::args()
        .nth(1)
        .unwrap_or_else(|| "127.0.0.1:3000".to_string());
    let listener = TcpListener::bind(&addr).await?;
    println!("echo app listening on http://{addr}");
    loop {
        let (stream, _) = listener.accept().await?;
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(error) = builder
                .serve_connection(TokioIo::new(stream), service_fn(answer))
                .await
            {
                eprintln!("echo app: connection error: {error}");
            }
        });
    }
}
