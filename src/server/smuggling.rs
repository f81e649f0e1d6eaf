//! Spots HTTP/1.1 request heads that carry both Content-Length and Transfer-Encoding.
//!
//! hyper resolves that conflict itself (chunked wins, Content-Length is dropped, the connection closes
//! afterwards), so the service never sees both headers. design.md promises a 400 for it, because a
//! proxy that accepts the shape is one half of every request-smuggling attack. [`SniffedIo`] wraps a
//! connection, follows the same framing hyper does (head, then a sized or chunked body, then the next
//! head) and records one verdict per head, which the service takes in order. When the byte stream is
//! anything it does not follow exactly (HTTP/2, a malformed head), it stops and reports nothing,
//! leaving hyper's own safe handling in place.

use std::collections::VecDeque;
use std::future::Future;
use std::io;
use std::mem::MaybeUninit;
use std::pin::Pin;
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

/// Heads larger than this are not followed; hyper bounds them too.
const MAX_HEAD: usize = 64 * 1024;
/// Chunk-size and trailer lines longer than this are not followed.
const MAX_LINE: usize = 4 * 1024;
/// httparse's header slots; hyper's default limit is 100.
const MAX_HEADERS: usize = 128;
/// How far back into the bytes already held a head's end may begin: its last empty line is
/// `\n\n` or `\n\r\n`, so a read can complete one that began up to 2 bytes earlier (3 is spare).
const HEAD_END_OVERLAP: usize = 3;

/// One verdict per request head, in arrival order: `true` when it had both length headers.
#[derive(Clone, Default)]
pub struct HeadVerdicts(Arc<Mutex<VecDeque<bool>>>);

impl HeadVerdicts {
    /// The verdict for the next HTTP/1 request; `false` when the head was not followed.
    pub fn next_has_ambiguous_length(&self) -> bool {
        self.0
            .lock()
            .map(|mut verdicts| verdicts.pop_front().unwrap_or(false))
            .unwrap_or(false)
    }

    fn push(&self, ambiguous: bool) {
        if let Ok(mut verdicts) = self.0.lock() {
            verdicts.push_back(ambiguous);
        }
    }
}

enum State {
    Head(Vec<u8>),
    Body(u64),
    ChunkSize(Vec<u8>),
    ChunkData(u64),
    ChunkDataEnd(Vec<u8>),
    Trailers(Vec<u8>),
    Off,
}

#[cfg_attr(test, derive(Debug, PartialEq))]
enum Framing {
    Sized(u64),
    Chunked,
}

#[cfg_attr(test, derive(Debug, PartialEq))]
enum Head {
    Complete {
        len: usize,
        framing: Framing,
        ambiguous: bool,
    },
    Partial,
    /// Something hyper would refuse, or a protocol this tracker does not follow (HTTP/2).
    Unfollowable,
}

fn parse_head(bytes: &[u8]) -> Head {
    // The same parse as `Request::parse` with its default config, without first writing 4 KiB of
    // empty header slots for every head.
    let mut headers = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut []);
    match request.parse_with_uninit_headers(bytes, &mut headers) {
        Ok(httparse::Status::Complete(len)) => match framing_of(&request) {
            Some((framing, ambiguous)) => Head::Complete {
                len,
                framing,
                ambiguous,
            },
            None => Head::Unfollowable,
        },
        Ok(httparse::Status::Partial) => Head::Partial,
        Err(_) => Head::Unfollowable,
    }
}

struct Tracker {
    state: State,
    verdicts: HeadVerdicts,
}

/// Reads `[^\n]*\n` into `line`; returns the bytes used and whether the line ended.
fn take_line(line: &mut Vec<u8>, input: &[u8]) -> (usize, bool) {
    match input.iter().position(|&b| b == b'\n') {
        Some(end) => {
            line.extend_from_slice(&input[..end]);
            (end + 1, true)
        }
        None => {
            line.extend_from_slice(input);
            (input.len(), false)
        }
    }
}

/// Whether `bytes` hold an empty line after a line's end (`\n\n` or `\n\r\n`): nothing without
/// one can be a whole head, so a head split across reads is parsed again only once one arrives.
fn may_end_head(bytes: &[u8]) -> bool {
    bytes.iter().enumerate().any(|(at, &byte)| {
        byte == b'\n'
            && match bytes.get(at + 1) {
                Some(b'\n') => true,
                Some(b'\r') => bytes.get(at + 2) == Some(&b'\n'),
                _ => false,
            }
    })
}

fn trim_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// The framing hyper would choose for a parsed head, and whether the head had both length headers;
/// `None` where hyper would refuse the head itself.
fn framing_of(request: &httparse::Request<'_, '_>) -> Option<(Framing, bool)> {
    let mut content_length: Option<u64> = None;
    let mut has_content_length = false;
    let mut last_transfer_encoding: Option<&[u8]> = None;
    for header in request.headers.iter() {
        if header.name.eq_ignore_ascii_case("transfer-encoding") {
            last_transfer_encoding = Some(header.value);
        } else if header.name.eq_ignore_ascii_case("content-length") {
            has_content_length = true;
            let value = std::str::from_utf8(header.value)
                .ok()?
                .trim()
                .parse::<u64>()
                .ok()?;
            if content_length.is_some_and(|previous| previous != value) {
                return None;
            }
            content_length = Some(value);
        }
    }
    match last_transfer_encoding {
        Some(value) => {
            if request.version != Some(1) {
                return None;
            }
            let last = value.rsplit(|&b| b == b',').next()?;
            let last = std::str::from_utf8(last).ok()?.trim();
            last.eq_ignore_ascii_case("chunked")
                .then_some((Framing::Chunked, has_content_length))
        }
        None => Some((Framing::Sized(content_length.unwrap_or(0)), false)),
    }
}

impl Tracker {
    /// Whether some but not all of a request head has arrived.
    fn in_partial_head(&self) -> bool {
        matches!(&self.state, State::Head(buffer) if !buffer.is_empty())
    }

    fn feed(&mut self, mut input: &[u8]) {
        while !input.is_empty() {
            let used = match self.state {
                State::Off => None,
                State::Head(_) => self.feed_head(input),
                State::Body(_) | State::ChunkData(_) => self.feed_counted(input),
                State::ChunkSize(_) => self.feed_chunk_size(input),
                State::ChunkDataEnd(_) => self.feed_chunk_end(input),
                State::Trailers(_) => self.feed_trailers(input),
            };
            match used {
                Some(used) => input = &input[used..],
                // Stopped following this connection: nothing more to read from it.
                None => return,
            }
        }
    }

    /// Bytes of a request head; `None` once the connection can no longer be followed.
    fn feed_head(&mut self, input: &[u8]) -> Option<usize> {
        let State::Head(buffer) = &mut self.state else {
            return None;
        };
        // Most heads arrive whole in one read: they are parsed where they lie, and only a head split
        // across reads is copied. That one is parsed again only when the new bytes (with the few
        // before them) can end it, so a head sent byte by byte costs linear time, not quadratic.
        let before = buffer.len();
        let parsed = if before == 0 {
            parse_head(input)
        } else {
            buffer.extend_from_slice(input);
            if may_end_head(&buffer[before.saturating_sub(HEAD_END_OVERLAP)..]) {
                parse_head(buffer)
            } else {
                Head::Partial
            }
        };
        match parsed {
            Head::Complete {
                len,
                framing,
                ambiguous,
            } => {
                self.verdicts.push(ambiguous);
                self.state = match framing {
                    Framing::Sized(0) => State::Head(Vec::new()),
                    Framing::Sized(len) => State::Body(len),
                    Framing::Chunked => State::ChunkSize(Vec::new()),
                };
                Some(len - before)
            }
            Head::Partial => {
                if before == 0 {
                    buffer.extend_from_slice(input);
                }
                if buffer.len() > MAX_HEAD {
                    self.state = State::Off;
                    return None;
                }
                Some(input.len())
            }
            Head::Unfollowable => {
                self.state = State::Off;
                None
            }
        }
    }

    /// Bytes of a sized body or of one chunk's data.
    fn feed_counted(&mut self, input: &[u8]) -> Option<usize> {
        let (State::Body(remaining) | State::ChunkData(remaining)) = &mut self.state else {
            return None;
        };
        let used = (*remaining).min(input.len() as u64);
        *remaining -= used;
        if *remaining == 0 {
            self.state = match self.state {
                State::Body(_) => State::Head(Vec::new()),
                _ => State::ChunkDataEnd(Vec::new()),
            };
        }
        Some(used as usize)
    }

    fn feed_chunk_size(&mut self, input: &[u8]) -> Option<usize> {
        let State::ChunkSize(line) = &mut self.state else {
            return None;
        };
        let (used, ended) = take_line(line, input);
        if ended {
            let size_text = trim_cr(line).split(|&b| b == b';').next().unwrap_or(b"");
            let size = std::str::from_utf8(size_text)
                .ok()
                .and_then(|text| u64::from_str_radix(text.trim(), 16).ok());
            self.state = match size {
                Some(0) => State::Trailers(Vec::new()),
                Some(size) => State::ChunkData(size),
                None => State::Off,
            };
        } else if line.len() > MAX_LINE {
            self.state = State::Off;
        }
        Some(used)
    }

    /// The CRLF after a chunk's data.
    fn feed_chunk_end(&mut self, input: &[u8]) -> Option<usize> {
        let State::ChunkDataEnd(line) = &mut self.state else {
            return None;
        };
        let (used, ended) = take_line(line, input);
        if ended {
            self.state = if trim_cr(line).is_empty() {
                State::ChunkSize(Vec::new())
            } else {
                State::Off
            };
        } else if line.len() > 2 {
            self.state = State::Off;
        }
        Some(used)
    }

    fn feed_trailers(&mut self, input: &[u8]) -> Option<usize> {
        let State::Trailers(line) = &mut self.state else {
            return None;
        };
        let (used, ended) = take_line(line, input);
        if ended {
            if trim_cr(line).is_empty() {
                self.state = State::Head(Vec::new());
            } else {
                line.clear();
            }
        } else if line.len() > MAX_LINE {
            self.state = State::Off;
        }
        Some(used)
    }
}

/// The verdicts a fresh tracker records for a connection that delivers `reads` in turn (for the
/// tests and the fuzz target).
pub(crate) fn verdicts_for_reads<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> Vec<bool> {
    let verdicts = HeadVerdicts::default();
    let mut tracker = Tracker {
        state: State::Head(Vec::new()),
        verdicts: verdicts.clone(),
    };
    for read in reads {
        tracker.feed(read);
    }
    let recorded = verdicts.0.lock().map(|v| v.iter().copied().collect());
    recorded.unwrap_or_default()
}

/// A connection whose reads are followed by a [`Tracker`]; writes pass straight through.
pub struct SniffedIo<T> {
    inner: T,
    tracker: Tracker,
    /// A head that has begun must be complete within this (slowloris); `None`: no bound.
    header_timeout: Option<Duration>,
    head_deadline: Option<Pin<Box<tokio::time::Sleep>>>,
}

impl<T> SniffedIo<T> {
    pub fn new(inner: T, header_timeout: Option<Duration>) -> (Self, HeadVerdicts) {
        let verdicts = HeadVerdicts::default();
        let tracker = Tracker {
            state: State::Head(Vec::new()),
            verdicts: verdicts.clone(),
        };
        let io = SniffedIo {
            inner,
            tracker,
            header_timeout,
            head_deadline: None,
        };
        (io, verdicts)
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for SniffedIo<T> {
    fn poll_read(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.inner).poll_read(cx, buf);
        match &polled {
            Poll::Ready(Ok(())) => {
                this.tracker.feed(&buf.filled()[before..]);
                // The clock runs from a head's first byte to its last: an idle keep-alive wait is
                // `idle_timeout`'s business, a head that has begun is this one's.
                match (this.tracker.in_partial_head(), this.header_timeout) {
                    (true, Some(limit)) if this.head_deadline.is_none() => {
                        this.head_deadline = Some(Box::pin(tokio::time::sleep(limit)));
                    }
                    (false, _) => this.head_deadline = None,
                    _ => {}
                }
            }
            Poll::Pending => {
                if let Some(deadline) = this.head_deadline.as_mut() {
                    if deadline.as_mut().poll(cx).is_ready() {
                        return Poll::Ready(Err(io::Error::new(
                            io::ErrorKind::TimedOut,
                            "request head too slow",
                        )));
                    }
                }
            }
            Poll::Ready(Err(_)) => {}
        }
        polled
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for SniffedIo<T> {
    fn poll_write(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        data: &[u8],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write(cx, data)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        Pin::new(&mut self.get_mut().inner).poll_write_vectored(cx, bufs)
    }

    fn is_write_vectored(&self) -> bool {
        self.inner.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().inner).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Feeds `stream` in pieces of `step` bytes and returns the verdicts recorded.
    fn verdicts(stream: &[u8], step: usize) -> Vec<bool> {
        verdicts_for_reads(stream.chunks(step))
    }

    const PIPELINE: &[u8] = b"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello\
POST /b HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3;ext=1\r\nabc\r\n0\r\nX-Trailer: 1\r\n\r\n\
\r\nGET /c HTTP/1.1\r\nHost: x\r\n\r\n\
POST /d HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n";

    #[test]
    fn follows_sized_chunked_and_empty_bodies_in_any_split() {
        for step in [1, 2, 7, 64, PIPELINE.len()] {
            assert_eq!(
                verdicts(PIPELINE, step),
                vec![false, false, false, true],
                "step {step}"
            );
        }
    }

    #[test]
    fn flags_both_orders_of_the_two_headers() {
        let te_first =
            b"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n";
        assert_eq!(verdicts(te_first, 5), vec![true]);
    }

    #[test]
    fn a_body_that_looks_like_a_head_is_not_read_as_one() {
        let body = b"GET / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n";
        let mut stream =
            format!("POST / HTTP/1.1\r\nContent-Length: {}\r\n\r\n", body.len()).into_bytes();
        stream.extend_from_slice(body);
        assert_eq!(verdicts(&stream, 3), vec![false]);
    }

    #[test]
    fn stops_following_what_hyper_would_refuse() {
        assert!(verdicts(b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 4).is_empty());
        assert!(verdicts(b"POST / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 4).is_empty());
        assert!(verdicts(b"POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n", 4).is_empty());
        let garbage = vec![b'a'; MAX_HEAD + 10];
        assert!(verdicts(&garbage, 1000).is_empty());
    }

    #[test]
    fn a_head_sent_byte_by_byte_is_parsed_only_where_it_can_end() {
        // 60 KiB in 60 fields, within hyper's limits on both.
        let mut head = b"POST / HTTP/1.1\r\nHost: x\r\n".to_vec();
        for _ in 0..60 {
            head.extend_from_slice(b"X-Pad: ");
            head.extend(std::iter::repeat_n(b'p', 1000));
            head.extend_from_slice(b"\r\n");
        }
        head.extend_from_slice(b"Content-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n");
        assert_eq!(verdicts(&head, 1), vec![true]);
    }

    #[test]
    fn only_an_empty_line_after_a_line_can_end_a_head() {
        for ends in [&b"a\n\nb"[..], b"a\n\r\n", b"\n\n", b"\r\n\r\n"] {
            assert!(may_end_head(ends), "{ends:?}");
        }
        for not in [&b"a\r\nb\r\n"[..], b"\n\r", b"\r\r\n", b"\n", b""] {
            assert!(!may_end_head(not), "{not:?}");
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    fn verdicts_in_pieces(stream: &[u8], cuts: &[usize]) -> Vec<bool> {
        let mut points: Vec<usize> = cuts.iter().map(|c| c % (stream.len() + 1)).collect();
        points.sort_unstable();
        let mut pieces = Vec::new();
        let mut start = 0;
        for point in points.into_iter().chain([stream.len()]) {
            if point > start {
                pieces.push(&stream[start..point]);
                start = point;
            }
        }
        verdicts_for_reads(pieces)
    }

    /// Requests built from parts that exercise every framing, so the property meets real heads.
    fn request() -> impl Strategy<Value = Vec<u8>> {
        let framing = prop_oneof![
            Just(String::new()),
            (0usize..40).prop_map(|n| format!("Content-Length: {n}\r\n")),
            Just("Transfer-Encoding: chunked\r\n".to_string()),
            Just("Content-Length: 3\r\nTransfer-Encoding: chunked\r\n".to_string()),
        ];
        (framing, proptest::collection::vec(any::<u8>(), 0..40)).prop_map(|(framing, body)| {
            let mut bytes = format!("POST /x HTTP/1.1\r\nHost: h\r\n{framing}\r\n").into_bytes();
            if framing.contains("chunked") {
                bytes.extend_from_slice(format!("{:x}\r\n", body.len()).as_bytes());
                bytes.extend_from_slice(&body);
                bytes.extend_from_slice(b"\r\n0\r\n\r\n");
            } else {
                let length = framing
                    .trim_start_matches("Content-Length: ")
                    .trim()
                    .parse::<usize>()
                    .unwrap_or(0);
                bytes.extend(std::iter::repeat_n(b'x', length));
            }
            bytes
        })
    }

    /// The head parse as it was before `parse_head` skipped initialising its header slots: the
    /// oracle the faster one must agree with.
    fn parse_head_reference(bytes: &[u8]) -> Head {
        let mut headers = [httparse::EMPTY_HEADER; MAX_HEADERS];
        let mut request = httparse::Request::new(&mut headers);
        match request.parse(bytes) {
            Ok(httparse::Status::Complete(len)) => match framing_of(&request) {
                Some((framing, ambiguous)) => Head::Complete {
                    len,
                    framing,
                    ambiguous,
                },
                None => Head::Unfollowable,
            },
            Ok(httparse::Status::Partial) => Head::Partial,
            Err(_) => Head::Unfollowable,
        }
    }

    /// Header lines that decide framing, in the spellings and shapes hyper sees, with the odd
    /// malformed one among them.
    fn header_line() -> impl Strategy<Value = Vec<u8>> {
        let name = prop_oneof![
            Just("Content-Length"),
            Just("content-length"),
            Just("Transfer-Encoding"),
            Just("TRANSFER-ENCODING"),
            Just("Host"),
            Just("X-Pad"),
            Just("Content Length"),
            Just(""),
        ];
        let value = prop_oneof![
            Just("0"),
            Just(" 12 "),
            Just("3"),
            Just("x"),
            Just("chunked"),
            Just("gzip, chunked"),
            Just("chunked, gzip"),
            Just(" Chunked"),
            Just("a\tb"),
            Just(""),
        ];
        let end = prop_oneof![Just("\r\n"), Just("\n"), Just("\r"), Just("\r\n ")];
        (name, value, end)
            .prop_map(|(name, value, end)| format!("{name}:{value}{end}").into_bytes())
    }

    /// Heads, valid and not: a request line, header lines, and the empty line that ends them,
    /// sometimes after stray empty lines, sometimes with a byte of noise.
    fn head() -> impl Strategy<Value = Vec<u8>> {
        let start = prop_oneof![
            Just("POST /x HTTP/1.1\r\n"),
            Just("GET / HTTP/1.0\n"),
            Just("\r\nPOST /y HTTP/1.1\r\n"),
            Just("PRI * HTTP/2.0\r\n"),
            Just("POST  /x HTTP/1.1\r\n"),
        ];
        let end = prop_oneof![Just("\r\n"), Just("\n")];
        let noise = proptest::option::of((any::<usize>(), any::<u8>()));
        (
            start,
            proptest::collection::vec(header_line(), 0..6),
            end,
            noise,
        )
            .prop_map(|(start, lines, end, noise)| {
                let mut bytes = start.as_bytes().to_vec();
                bytes.extend(lines.concat());
                bytes.extend_from_slice(end.as_bytes());
                if let Some((at, byte)) = noise {
                    bytes.insert(at % (bytes.len() + 1), byte);
                }
                bytes
            })
    }

    proptest! {
        /// The head parse agrees with the reference parse on every head, and on every prefix of one
        /// (where the answer is Partial or an early refusal).
        #[test]
        fn head_parse_agrees_with_the_reference(head in head(), tail in proptest::collection::vec(any::<u8>(), 0..8)) {
            let mut bytes = head;
            bytes.extend(tail);
            for end in 0..=bytes.len() {
                prop_assert_eq!(parse_head(&bytes[..end]), parse_head_reference(&bytes[..end]));
            }
        }

        /// Heads split anywhere, down to a byte per read, reach the verdicts they reach whole: a
        /// split head is parsed again only when its end can have arrived, and never misses it.
        #[test]
        fn split_heads_reach_the_verdicts_of_whole_ones(heads in proptest::collection::vec(head(), 1..4),
                                                        cuts in proptest::collection::vec(any::<usize>(), 0..24)) {
            let stream: Vec<u8> = heads.concat();
            let whole = verdicts_in_pieces(&stream, &[]);
            prop_assert_eq!(verdicts_in_pieces(&stream, &cuts), whole.clone());
            prop_assert_eq!(verdicts_for_reads(stream.chunks(1)), whole);
        }

        /// However the bytes are split across reads, the tracker reaches the same verdicts.
        #[test]
        fn verdicts_do_not_depend_on_how_reads_split(requests in proptest::collection::vec(request(), 1..4),
                                                     cuts in proptest::collection::vec(any::<usize>(), 0..12)) {
            let stream: Vec<u8> = requests.concat();
            prop_assert_eq!(verdicts_in_pieces(&stream, &cuts), verdicts_in_pieces(&stream, &[]));
        }

        /// Arbitrary bytes never panic the tracker.
        #[test]
        fn arbitrary_bytes_are_harmless(bytes in proptest::collection::vec(any::<u8>(), 0..512),
                                        cuts in proptest::collection::vec(any::<usize>(), 0..8)) {
            verdicts_in_pieces(&bytes, &cuts);
        }
    }
}
