//! The only requests hookguard makes on its own, for SNS: its signing certificate (`SigningCertURL`)
//! and, where a route asks, a subscription confirmation (`SubscribeURL`). Both are plain GETs over
//! TLS only, trusting what https upstreams are trusted with (the webpki roots plus `upstream_ca`),
//! within a deadline and a size cap, following no redirect. The URL has passed the route's
//! `cert_url_pattern` before it gets here.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Empty, Limited};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

/// The whole exchange, connect to last byte. SNS waits 15 s for an answer by default, so a fetch
/// must leave room for the rest of the request.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(5);
/// A signing certificate is about 2 KiB of PEM; anything far larger is not one.
pub const MAX_CERTIFICATE_BYTES: usize = 64 * 1024;
/// The confirmation's answer is a small XML document, read only to let the connection finish.
pub const MAX_CONFIRMATION_BYTES: usize = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum OutboundError {
    #[error("no answer within {0:?}")]
    Timeout(Duration),
    #[error("request failed: {0}")]
    Failed(String),
    #[error("answered {0}")]
    Status(StatusCode),
    #[error("answer larger than {0} bytes")]
    TooLarge(usize),
}

/// GETs `uri` and returns the body of a 200 answer, at most `max_bytes` of it.
pub async fn get(
    tls: &Arc<rustls::ClientConfig>,
    uri: &Uri,
    max_bytes: usize,
) -> Result<Bytes, OutboundError> {
    tokio::time::timeout(FETCH_TIMEOUT, fetch(tls, uri, max_bytes))
        .await
        .map_err(|_| OutboundError::Timeout(FETCH_TIMEOUT))?
}

async fn fetch(
    tls: &Arc<rustls::ClientConfig>,
    uri: &Uri,
    max_bytes: usize,
) -> Result<Bytes, OutboundError> {
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config((**tls).clone())
        .https_only()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new())
        .pool_max_idle_per_host(0)
        .build(connector);
    let request = Request::builder()
        .method(Method::GET)
        .uri(uri.clone())
        .header(http::header::USER_AGENT, "hookguard")
        .body(Empty::new())
        .map_err(|e| OutboundError::Failed(e.to_string()))?;
    let response = client
        .request(request)
        .await
        .map_err(|e| OutboundError::Failed(e.to_string()))?;
    if response.status() != StatusCode::OK {
        return Err(OutboundError::Status(response.status()));
    }
    let body = Limited::new(response.into_body(), max_bytes)
        .collect()
        .await
        .map_err(|_| OutboundError::TooLarge(max_bytes))?;
    Ok(body.to_bytes())
}
