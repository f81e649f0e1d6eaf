//! A request body as hyper read it: kept as its chunks, hashed chunk by chunk, joined into one
//! slice only for the rare reader that needs one (a JSON field, form fields, a public-key check).

use std::collections::VecDeque;
use std::convert::Infallible;
use std::pin::Pin;
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::{Bytes, BytesMut};
use http_body::{Body, Frame, SizeHint};

/// The whole body of one request. Joining it costs a copy of every byte, so it is done at most
/// once and only when asked for.
#[derive(Debug, Default)]
pub struct RawBody {
    chunks: Vec<Bytes>,
    len: usize,
    joined: OnceLock<Bytes>,
}

impl RawBody {
    pub fn from_chunks(chunks: Vec<Bytes>) -> Self {
        let len = chunks.iter().map(Bytes::len).sum();
        RawBody {
            chunks,
            len,
            joined: OnceLock::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The bytes in order, as they arrived.
    pub fn chunks(&self) -> impl Iterator<Item = &[u8]> {
        self.chunks.iter().map(|chunk| chunk.as_ref())
    }

    /// The body as one slice: borrowed when it arrived in one chunk, otherwise joined once.
    pub fn contiguous(&self) -> &[u8] {
        match self.chunks.as_slice() {
            [] => &[],
            [only] => only,
            many => self.joined.get_or_init(|| {
                let mut joined = BytesMut::with_capacity(self.len);
                for chunk in many {
                    joined.extend_from_slice(chunk);
                }
                joined.freeze()
            }),
        }
    }

    /// The body as one `Bytes`, for keeping: no copy when it arrived in one chunk or was joined.
    pub fn into_bytes(self) -> Bytes {
        if let Some(joined) = self.joined.into_inner() {
            return joined;
        }
        match <[Bytes; 1]>::try_from(self.chunks) {
            Ok([only]) => only,
            Err(many) => {
                let mut joined = BytesMut::with_capacity(self.len);
                for chunk in many {
                    joined.extend_from_slice(&chunk);
                }
                joined.freeze()
            }
        }
    }

    /// The body to send upstream: the joined copy when one exists (fewer, larger writes),
    /// otherwise the chunks themselves.
    pub fn into_upstream(mut self) -> UpstreamBody {
        let chunks = match self.joined.take() {
            Some(joined) => VecDeque::from([joined]),
            None => VecDeque::from(self.chunks),
        };
        UpstreamBody {
            chunks,
            remaining: self.len as u64,
        }
    }
}

impl From<Bytes> for RawBody {
    fn from(bytes: Bytes) -> Self {
        RawBody::from_chunks(vec![bytes])
    }
}

impl From<&[u8]> for RawBody {
    fn from(bytes: &[u8]) -> Self {
        RawBody::from(Bytes::copy_from_slice(bytes))
    }
}

/// A verified body on its way to the app. Its exact length is known, so hyper sends it with a
/// Content-Length rather than chunked.
#[derive(Debug, Default)]
pub struct UpstreamBody {
    chunks: VecDeque<Bytes>,
    remaining: u64,
}

impl Body for UpstreamBody {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let next = self.chunks.pop_front();
        if let Some(chunk) = &next {
            self.remaining = self.remaining.saturating_sub(chunk.len() as u64);
        }
        Poll::Ready(next.map(|chunk| Ok(Frame::data(chunk))))
    }

    fn is_end_stream(&self) -> bool {
        self.remaining == 0
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.remaining)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::BodyExt;

    fn split(parts: &[&'static [u8]]) -> RawBody {
        RawBody::from_chunks(parts.iter().map(|p| Bytes::from_static(p)).collect())
    }

    #[test]
    fn one_chunk_is_borrowed_and_many_are_joined_once() {
        let one = split(&[b"abc"]);
        assert_eq!(one.contiguous(), b"abc");
        assert!(one.joined.get().is_none());

        let many = split(&[b"ab", b"", b"cd"]);
        assert_eq!(many.len(), 4);
        assert_eq!(many.chunks().collect::<Vec<_>>(), [&b"ab"[..], b"", b"cd"]);
        let first = many.contiguous().as_ptr();
        assert_eq!(many.contiguous(), b"abcd");
        assert_eq!(many.contiguous().as_ptr(), first);
        assert!(split(&[]).contiguous().is_empty());
    }

    #[tokio::test]
    async fn upstream_body_yields_every_byte_with_an_exact_length() {
        for body in [split(&[b"ab", b"cd", b"e"]), {
            let joined = split(&[b"ab", b"cd", b"e"]);
            joined.contiguous();
            joined
        }] {
            let upstream = body.into_upstream();
            assert_eq!(upstream.size_hint().exact(), Some(5));
            let collected = upstream.collect().await.expect("infallible").to_bytes();
            assert_eq!(&collected[..], b"abcde");
        }
        assert!(RawBody::default().into_upstream().is_end_stream());
    }
}
