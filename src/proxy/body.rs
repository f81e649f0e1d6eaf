//! Reading a request body within `max_body` and `body_timeout`, kept as the chunks hyper read.

use std::time::Duration;

use bytes::BytesMut;
use http::header::{self, HeaderMap};
use http_body_util::BodyExt;
use hyper::body::Incoming;

use crate::body::RawBody;
use crate::proxy::refusal::Refusal;

/// A declared length over the limit is refused before a byte of the body is read.
pub fn refuse_declared_oversize(headers: &HeaderMap, max_body: u64) -> Result<(), Refusal> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok())
        .and_then(|text| text.parse::<u64>().ok());
    match declared {
        Some(length) if length > max_body => Err(Refusal::BodyTooLarge),
        _ => Ok(()),
    }
}

/// Reads the whole body, refusing it as soon as it grows past `max_body` (chunked bodies included)
/// or when it is not all in within `timeout`, so a slow client cannot hold a request open. The
/// chunks are kept as hyper read them: joining them would copy every byte once more.
pub async fn read_bounded(
    body: Incoming,
    max_body: u64,
    timeout: Duration,
) -> Result<RawBody, Refusal> {
    tokio::time::timeout(timeout, read_chunks(body, max_body))
        .await
        .unwrap_or(Err(Refusal::BodyTimeout))
}

/// Chunks kept as they came before small ones start being copied together.
const UNCOPIED_CHUNKS: usize = 16;
/// Pieces below this are copied into a shared buffer once `UNCOPIED_CHUNKS` are held.
const SMALL_CHUNK: usize = 16 * 1024;

async fn read_chunks(mut body: Incoming, max_body: u64) -> Result<RawBody, Refusal> {
    let mut chunks = Vec::new();
    // A body dribbled in tiny chunked pieces would otherwise cost a list entry, and pin part of a
    // read buffer, per piece: 1-byte pieces made a 1 MiB body hold about 40 MiB. Copying small
    // pieces together keeps a body's memory near its length.
    let mut small = BytesMut::new();
    let mut len: u64 = 0;
    while let Some(frame) = body.frame().await {
        let frame = frame.map_err(|_| Refusal::BodyUnreadable)?;
        // Trailers are dropped: no scheme signs them, so none may reach the app.
        let Ok(data) = frame.into_data() else {
            continue;
        };
        len = len.saturating_add(data.len() as u64);
        if len > max_body {
            return Err(Refusal::BodyTooLarge);
        }
        if chunks.len() < UNCOPIED_CHUNKS && small.is_empty() {
            chunks.push(data);
        } else if data.len() < SMALL_CHUNK {
            small.extend_from_slice(&data);
            if small.len() >= SMALL_CHUNK {
                chunks.push(small.split().freeze());
            }
        } else {
            if !small.is_empty() {
                chunks.push(small.split().freeze());
            }
            chunks.push(data);
        }
    }
    if !small.is_empty() {
        chunks.push(small.freeze());
    }
    Ok(RawBody::from_chunks(chunks))
}
