//! The per-request pipeline (route, bound the body, verify, forward, relay) and the header rules for
//! what reaches the app and what comes back.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime};

use bytes::{Bytes, BytesMut};
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response, Uri, Version};
use http_body_util::{BodyExt, Either, Full};
use hyper::body::Incoming;

use arc_swap::ArcSwap;

use sha2::{Digest, Sha256};

use crate::body::{RawBody, UpstreamBody};
use crate::clientip;
use crate::config::DedupStore;
use crate::config::{Config, Route, Unmatched, Upstream};
use crate::dedup::{Claim, MemoryStore, RedisStore, Store};
use crate::metrics::{FailureLabels, Label, Metrics, RequestLabels, RouteLabels};
use crate::response::Refusal;
use crate::routing;
use crate::smuggling::HeadVerdicts;
use crate::upstream::{self, PooledBody, UpstreamError};
use crate::verify::{Field, RequestView, Verifier};

/// Our own small answers, or the app's streamed body.
pub type ProxyBody = Either<Full<Bytes>, PooledBody>;

/// Marks a verified delivery for the app; never accepted from outside.
pub const ROUTE_HEADER: &str = "x-hookguard-route";
/// Marks a shadow-mode delivery with the verdict; never accepted from outside.
pub const SHADOW_HEADER: &str = "x-hookguard-shadow";
/// Every header whose name starts with this (in either `-` or `_` spelling) is hookguard's alone.
const RESERVED_PREFIX: &str = "x-hookguard-";

const X_FORWARDED_FOR: HeaderName = HeaderName::from_static("x-forwarded-for");
const X_FORWARDED_PROTO: HeaderName = HeaderName::from_static("x-forwarded-proto");
const X_FORWARDED_HOST: HeaderName = HeaderName::from_static("x-forwarded-host");
const X_REAL_IP: HeaderName = HeaderName::from_static("x-real-ip");

/// Headers that describe the client's hop. They are replaced with what hookguard itself saw.
const FORWARDING_HEADERS: [&str; 5] = [
    "x-forwarded-for",
    "x-forwarded-proto",
    "x-forwarded-host",
    "forwarded",
    "x-real-ip",
];

/// RFC 9110 §7.6.1 hop-by-hop fields, plus Trailer (design.md) and the legacy Proxy-Connection.
const HOP_BY_HOP: [&str; 7] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

/// Facts about the connection a request came in on.
#[derive(Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    pub head_verdicts: HeadVerdicts,
    /// The forwarding headers' values for this peer, made once per connection.
    pub peer_headers: Arc<PeerHeaders>,
}

/// What hookguard tells the app about the client hop, computed when the connection is accepted.
pub struct PeerHeaders {
    ip: HeaderValue,
    proto: &'static str,
    /// `for=<ip>;proto=<proto>`, to which a request's host is appended.
    forwarded: String,
}

impl PeerHeaders {
    pub fn new(peer: SocketAddr, tls: bool) -> Self {
        let proto = if tls { "https" } else { "http" };
        let ip = peer.ip();
        let text = ip.to_string();
        let node = match ip {
            IpAddr::V4(_) => text.clone(),
            IpAddr::V6(_) => format!("\"[{text}]\""),
        };
        PeerHeaders {
            ip: HeaderValue::from_str(&text)
                .unwrap_or_else(|_| HeaderValue::from_static("unknown")),
            proto,
            forwarded: format!("for={node};proto={proto}"),
        }
    }
}

/// A config as it stands; replaced whole on reload, so a request sees one config from start to end.
pub struct Live {
    pub config: Config,
    /// Tells this config's per-worker upstream connections apart from an earlier config's.
    generation: u64,
}

impl Live {
    fn new(config: Config) -> Self {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Live { config, generation }
    }
}

pub struct Proxy {
    live: ArcSwap<Live>,
    metrics: Arc<Metrics>,
    /// Outlives reloads, so a reload never forgets which deliveries the app already took.
    dedup: Store,
}

/// A request from its first byte to its log line. It counts the request in flight for exactly as
/// long as its handler lives, and if the handler is dropped before it finished (the client left
/// before the answer), it still writes the log line and counts the request, as status 499: the
/// delivery may well have reached the app, and that must leave a trace.
struct Pending<'a> {
    metrics: &'a Metrics,
    started: Instant,
    method: http::Method,
    /// A clone of the URI shares its bytes; the path is read from it for the log line.
    uri: Uri,
    peer: IpAddr,
    /// Set as soon as the route is known, so an abandoned request is logged under it.
    route: Option<&'a Route>,
    finished: bool,
}

/// nginx's status for a request whose client closed the connection before the answer.
const CLIENT_CLOSED: u16 = 499;

/// What a request's log line and counters say about how it ended.
struct Ending<'h> {
    outcome: &'static str,
    reason: Option<&'static str>,
    verification_failed: bool,
    delivery: Option<&'h str>,
    status: u16,
}

impl<'a> Pending<'a> {
    fn begin(metrics: &'a Metrics, request: &Request<Incoming>, peer: IpAddr) -> Self {
        metrics.in_flight.inc();
        Pending {
            metrics,
            started: Instant::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            peer,
            route: None,
            finished: false,
        }
    }

    /// Writes the request's one log line and counts it.
    fn finish(&mut self, ending: &Ending<'_>) {
        self.finished = true;
        let latency_us = u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX);
        let metrics = self.metrics;
        let route_label = self.route.map_or(&metrics.unmatched_label, |r| &r.label);
        metrics
            .requests
            .get_or_create(&RequestLabels {
                route: Label::clone(route_label),
                outcome: ending.outcome,
                status: ending.status,
            })
            .inc();
        if let (true, Some(reason)) = (ending.verification_failed, ending.reason) {
            metrics
                .verification_failures
                .get_or_create(&FailureLabels {
                    route: Label::clone(route_label),
                    reason,
                })
                .inc();
        }
        tracing::info!(
            route = %route_label,
            method = %self.method,
            path = %self.uri.path(),
            peer = %self.peer,
            outcome = %ending.outcome,
            reason = %ending.reason.unwrap_or("-"),
            delivery = ending.delivery.unwrap_or("-"),
            status = ending.status,
            latency_us,
            "request"
        );
    }
}

impl Drop for Pending<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if !self.finished {
            self.finish(&Ending {
                outcome: "client_closed",
                reason: Some("client_closed_request"),
                verification_failed: false,
                delivery: None,
                status: CLIENT_CLOSED,
            });
        }
    }
}

/// How a request ended, for the log line.
struct Handled {
    result: Result<Response<ProxyBody>, Refusal>,
    /// Set when verification failed, in shadow mode too, for the failures metric.
    verification_failed: bool,
    /// `forwarded`, `forwarded_unverified`, `shadow`, `handshake`, `ignored_event` or `refused`.
    outcome: &'static str,
    /// Why it was refused, or in shadow mode why it would have been.
    reason: Option<&'static str>,
    delivery: Option<String>,
}

impl Handled {
    fn refused(refusal: Refusal) -> Self {
        Handled {
            reason: Some(refusal.reason()),
            verification_failed: matches!(refusal, Refusal::InvalidSignature(_)),
            result: Err(refusal),
            outcome: "refused",
            delivery: None,
        }
    }

    fn relayed(result: Result<Response<PooledBody>, Refusal>, outcome: &'static str) -> Self {
        match result {
            Ok(response) => Handled {
                result: Ok(response.map(Either::Right)),
                verification_failed: false,
                outcome,
                reason: None,
                delivery: None,
            },
            Err(refusal) => Handled::refused(refusal),
        }
    }

    /// An answer hookguard gives itself with a 200: a handshake, or a filtered event.
    fn answered(outcome: &'static str, content_type: &'static str, body: Vec<u8>) -> Self {
        let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Handled {
            result: Ok(response),
            verification_failed: false,
            outcome,
            reason: None,
            delivery: None,
        }
    }

    fn with_delivery(mut self, delivery: Option<String>) -> Self {
        self.delivery = delivery;
        self
    }
}

/// How the app is told what hookguard made of a request.
#[derive(Clone, Copy)]
enum Mark<'a> {
    /// Verified on this route: `X-Hookguard-Route`, its value made at config load.
    Verified(&'a HeaderValue),
    /// Shadow mode: `X-Hookguard-Shadow` with `ok` or the reason it would have been refused.
    Shadow(&'static str),
    /// `unmatched: forward`: nothing.
    Unverified,
}

/// Delivery ids are the sender's, not secrets, but they are client input: bounded before logging.
const MAX_LOGGED_DELIVERY_ID: usize = 128;

impl Proxy {
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        let dedup = match &config.dedup_store {
            DedupStore::Memory { max_entries } => Store::Memory(MemoryStore::new(*max_entries)),
            // The URL was validated with the config; should it still fail, dedup routes fail closed.
            DedupStore::Redis { url } => {
                RedisStore::new(url).map_or_else(Store::Unusable, Store::Redis)
            }
        };
        Proxy {
            live: ArcSwap::from_pointee(Live::new(config)),
            metrics,
            dedup,
        }
    }

    /// The config and client in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Puts a freshly validated config in force; requests already running finish on the old one.
    /// Listener addresses cannot move under a running process, so changing them is refused.
    pub fn replace(&self, config: Config) -> Result<(), String> {
        let current = self.live.load();
        if config.listen != current.config.listen || config.admin != current.config.admin {
            return Err("`listen` and `admin` take effect only on restart".into());
        }
        if config.dedup_store != current.config.dedup_store {
            return Err("`dedup` (the store) takes effect only on restart".into());
        }
        self.live.store(Arc::new(Live::new(config)));
        Ok(())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Serves one request and writes its one log line, even if the client leaves before the answer.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<ProxyBody> {
        let live = self.live.load_full();
        let mut pending = Pending::begin(&self.metrics, &request, conn.peer.ip());
        let handled = self.process(&live, request, conn, &mut pending.route).await;
        let response = match handled.result {
            Ok(response) => response,
            Err(refusal) => refusal.into_response().map(Either::Left),
        };
        let delivery = handled.delivery.map(|mut id| {
            id.truncate(MAX_LOGGED_DELIVERY_ID);
            id
        });
        pending.finish(&Ending {
            outcome: handled.outcome,
            reason: handled.reason,
            verification_failed: handled.verification_failed,
            delivery: delivery.as_deref(),
            status: response.status().as_u16(),
        });
        response
    }

    /// Runs the pipeline; `route_found` is set as soon as the route is known, before anything is
    /// awaited, so that a request abandoned midway is still logged under its route.
    async fn process<'l>(
        &self,
        live: &'l Live,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
        route_found: &mut Option<&'l Route>,
    ) -> Handled {
        let (parts, body) = request.into_parts();
        if let Err(refusal) = check_framing(&parts, conn) {
            return Handled::refused(refusal);
        }
        match routing::lookup(&live.config.routes, |r| &r.pattern, parts.uri.path()) {
            Err(why) => Handled::refused(Refusal::NonCanonicalPath(why)),
            Ok(Some(route)) => {
                *route_found = Some(route);
                self.verify_and_forward(live, route, parts, body, conn)
                    .await
            }
            Ok(None) if live.config.unmatched == Unmatched::Reject => {
                Handled::refused(Refusal::NoRoute)
            }
            Ok(None) => self.forward_unmatched(live, parts, body, conn).await,
        }
    }

    async fn verify_and_forward(
        &self,
        live: &Live,
        route: &Route,
        parts: Parts,
        body: Incoming,
        conn: &ConnectionInfo,
    ) -> Handled {
        if !route.methods.contains(&parts.method) {
            let allow = HeaderValue::from_str(&route.allow_header())
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            return Handled::refused(Refusal::MethodNotAllowed { allow });
        }
        let hop = Hop::of(conn, &parts.headers, &live.config.trusted_proxies);
        let client = hop.client;
        if let Some(allowed) = &route.allow_ips {
            if !clientip::any_contains(allowed, client) {
                return Handled::refused(Refusal::AddressNotAllowed);
            }
        }
        if let Some(limiter) = &route.rate_limit {
            if let Err(retry_after) = limiter.check(client, Instant::now()) {
                return Handled::refused(Refusal::RateLimited { retry_after });
            }
        }
        if let Err(refusal) = refuse_declared_oversize(&parts.headers, route.max_body) {
            return Handled::refused(refusal);
        }
        let now = SystemTime::now();
        if let Verifier::Signature(verifier) = &route.verifier {
            if let Some(answer) =
                route
                    .handshake
                    .answer_unsigned(&parts.method, parts.uri.query(), verifier, now)
            {
                return Handled::answered("handshake", answer.content_type, answer.body);
            }
        }
        // Shadow mode must see every request through, so nothing is refused before the body.
        if route.enforce {
            if let Err(why) = route.verifier.precheck(&parts.headers, parts.uri.query()) {
                return Handled::refused(Refusal::InvalidSignature(why));
            }
        }
        let body = match read_bounded(body, route.max_body, live.config.limits.body_timeout).await {
            Ok(body) => body,
            Err(refusal) => return Handled::refused(refusal),
        };
        let view = RequestView {
            method: &parts.method,
            headers: &parts.headers,
            query: parts.uri.query(),
            body: &body,
            public_url: route.public_url.as_deref(),
            now,
        };
        let verdict = route.verifier.verify(&view);
        // Only a header-borne delivery id is logged: reading one from the body would mean parsing a
        // possibly large JSON document per request for a log field.
        let delivery = route.delivery_id_field.and_then(|field| match field {
            Field::Header(_) => field.read(&parts.headers, &body),
            Field::Json(_) => None,
        });
        let query = route.verifier.rewritten_query(parts.uri.query());

        if !route.enforce {
            let reason = verdict.err().map(|why| why.as_str());
            let mark = Mark::Shadow(reason.unwrap_or("ok"));
            let result =
                match upstream_request(parts, body, &route.upstream, query, conn, hop, mark) {
                    Ok(request) => {
                        self.send(live, &route.label, &route.upstream, request)
                            .await
                    }
                    Err(refusal) => Err(refusal),
                };
            let mut handled = Handled::relayed(result, "shadow").with_delivery(delivery);
            handled.verification_failed = reason.is_some();
            handled.reason = handled.reason.or(reason);
            return handled;
        }
        if let Err(why) = verdict {
            return Handled::refused(Refusal::InvalidSignature(why)).with_delivery(delivery);
        }
        if let Verifier::Signature(verifier) = &route.verifier {
            if let Some(answer) = route.handshake.answer_signed(&body, verifier, now) {
                return Handled::answered("handshake", answer.content_type, answer.body)
                    .with_delivery(delivery);
            }
        }
        if let Some(events) = &route.events {
            let Some(event) = route
                .event_field
                .and_then(|field| field.read(&parts.headers, &body))
            else {
                return Handled::refused(Refusal::EventTypeMissing).with_delivery(delivery);
            };
            if !events.contains(&event) {
                return Handled::answered(
                    "ignored_event",
                    "application/json",
                    br#"{"ignored":"event type not forwarded"}"#.to_vec(),
                )
                .with_delivery(delivery);
            }
        }
        let claim = match route.dedup_ttl {
            None => None,
            Some(ttl) => {
                let key = dedup_key(route, &parts, query.as_ref(), &body);
                // Long enough for the app to answer; short enough that a crashed replica's claim
                // does not block the sender's retries for long.
                let in_flight = live.config.limits.upstream_timeout + Duration::from_secs(10);
                match self.dedup.claim(&key, in_flight).await {
                    Ok(Claim::Claimed(token)) => Some((key, token, ttl)),
                    Ok(Claim::Duplicate) => {
                        return Handled::answered(
                            "duplicate",
                            "application/json",
                            br#"{"duplicate":true}"#.to_vec(),
                        )
                        .with_delivery(delivery);
                    }
                    Ok(Claim::InFlight) => {
                        return Handled::refused(Refusal::DuplicateInFlight)
                            .with_delivery(delivery);
                    }
                    Err(error) => {
                        tracing::warn!(%error, "dedup store unreachable; refusing");
                        return Handled::refused(Refusal::DedupUnavailable).with_delivery(delivery);
                    }
                }
            }
        };
        let result = match upstream_request(
            parts,
            body,
            &route.upstream,
            query,
            conn,
            hop,
            Mark::Verified(&route.header_value),
        ) {
            Ok(request) => {
                self.send(live, &route.label, &route.upstream, request)
                    .await
            }
            Err(refusal) => Err(refusal),
        };
        if let Some((key, token, ttl)) = claim {
            let taken = matches!(&result, Ok(response) if response.status().is_success());
            let settled = if taken {
                self.dedup.complete(&key, &token, ttl).await
            } else {
                self.dedup.release(&key, &token).await
            };
            if let Err(error) = settled {
                tracing::warn!(%error, taken, "could not record the delivery's outcome; its claim expires on its own");
            }
        }
        Handled::relayed(result, "forwarded").with_delivery(delivery)
    }

    /// `unmatched: forward`: no verification, but the same body bound and header rules.
    async fn forward_unmatched(
        &self,
        live: &Live,
        parts: Parts,
        body: Incoming,
        conn: &ConnectionInfo,
    ) -> Handled {
        let max_body = live.config.max_body;
        if let Err(refusal) = refuse_declared_oversize(&parts.headers, max_body) {
            return Handled::refused(refusal);
        }
        let body = match read_bounded(body, max_body, live.config.limits.body_timeout).await {
            Ok(body) => body,
            Err(refusal) => return Handled::refused(refusal),
        };
        let hop = Hop::of(conn, &parts.headers, &live.config.trusted_proxies);
        let result = match upstream_request(
            parts,
            body,
            &live.config.upstream,
            None,
            conn,
            hop,
            Mark::Unverified,
        ) {
            Ok(request) => {
                self.send(
                    live,
                    &self.metrics.unmatched_label,
                    &live.config.upstream,
                    request,
                )
                .await
            }
            Err(refusal) => Err(refusal),
        };
        Handled::relayed(result, "forwarded_unverified")
    }

    async fn send(
        &self,
        live: &Live,
        route: &Label,
        upstream: &Upstream,
        request: Request<UpstreamBody>,
    ) -> Result<Response<PooledBody>, Refusal> {
        let started = Instant::now();
        let response = tokio::time::timeout(
            live.config.limits.upstream_timeout,
            upstream::send(
                live.generation,
                &live.config.upstream_tls,
                upstream,
                request,
            ),
        )
        .await;
        self.metrics
            .upstream_duration
            .get_or_create(&RouteLabels {
                route: Label::clone(route),
            })
            .observe(started.elapsed().as_secs_f64());
        // Dropping the timed-out request closes its connection, so the app's late answer is discarded.
        let response = response
            .map_err(|_| Refusal::UpstreamTimeout)?
            .map_err(|error| {
                tracing::warn!(error = %error, "upstream request failed");
                match error {
                    UpstreamError::Unreachable(_) => Refusal::UpstreamUnreachable,
                    UpstreamError::Failed(_) => Refusal::UpstreamFailed,
                }
            })?;
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }
}

/// Both length headers on one request. hyper drops Content-Length from HTTP/1 heads before we see
/// them, so those are caught by the connection's head tracker; the header check covers HTTP/2.
fn has_ambiguous_length(parts: &Parts, conn: &ConnectionInfo) -> bool {
    let both_present = parts.headers.contains_key(header::CONTENT_LENGTH)
        && parts.headers.contains_key(header::TRANSFER_ENCODING);
    let tracked = parts.version < Version::HTTP_2 && conn.head_verdicts.next_has_ambiguous_length();
    both_present || tracked
}

/// The most header fields the app is sent, the same as hookguard accepts from a client.
pub const MAX_HEADER_FIELDS: usize = 100;
/// The most fields hookguard may add to a request: Host (from HTTP/2's `:authority`),
/// Content-Length (for a chunked body), the five forwarding headers and its mark.
const ADDED_HEADER_FIELDS: usize = 8;

/// The head checks that come before routing: one unambiguous length, exactly one Host where
/// HTTP/1.1 requires it, and room for hookguard's own fields within the app's field limit.
fn check_framing(parts: &Parts, conn: &ConnectionInfo) -> Result<(), Refusal> {
    if has_ambiguous_length(parts, conn) {
        return Err(Refusal::AmbiguousLength);
    }
    let hosts = parts.headers.get_all(header::HOST).iter().count();
    if hosts > 1 || (hosts == 0 && parts.version == Version::HTTP_11) {
        return Err(Refusal::BadHost {
            repeated: hosts > 1,
        });
    }
    if parts.headers.len() > MAX_HEADER_FIELDS - ADDED_HEADER_FIELDS {
        return Err(Refusal::TooManyHeaderFields);
    }
    Ok(())
}

/// A declared length over the limit is refused before a byte of the body is read.
fn refuse_declared_oversize(headers: &HeaderMap, max_body: u64) -> Result<(), Refusal> {
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
async fn read_bounded(
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

/// The header's name with `_` read as `-`, as CGI-style frameworks fold them.
fn folded_name(name: &HeaderName) -> Cow<'_, str> {
    let name = name.as_str();
    if name.contains('_') {
        Cow::Owned(name.replace('_', "-"))
    } else {
        Cow::Borrowed(name)
    }
}

/// Names listed in any Connection header, which are hop-by-hop for this message only.
fn connection_listed(headers: &HeaderMap) -> Vec<String> {
    headers
        .get_all(header::CONNECTION)
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(|token| token.trim().to_ascii_lowercase())
        .filter(|token| !token.is_empty())
        .collect()
}

/// The app's answer loses its hop-by-hop headers. One pass over the names finds them, where removing
/// each candidate by name would hash every one of them on every answer.
fn remove_hop_by_hop(headers: &mut HeaderMap) {
    let listed = connection_listed(headers);
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| {
            HOP_BY_HOP.contains(&name.as_str()) || listed.iter().any(|l| l == name.as_str())
        })
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(&name);
    }
}

/// The dedup key, namespaced per route: the delivery id where the signature covers it, otherwise a
/// digest of what the signature covers and is forwarded: the body, and the query only where the
/// scheme signs the URL (or, on a token route, where nothing is signed and the query is the content).
/// A query outside the signature must not count, or `?r=1` would make a replay look new.
fn dedup_key(
    route: &Route,
    parts: &Parts,
    rewritten_query: Option<&Option<String>>,
    body: &RawBody,
) -> String {
    if let Some(id) = route.verifier.signed_delivery_id(&parts.headers) {
        return format!("hookguard:{}:id:{id}", route.name);
    }
    let mut digest = Sha256::new();
    if route.verifier.covers_query() {
        let query = match rewritten_query {
            Some(rewritten) => rewritten.as_deref(),
            None => parts.uri.query(),
        };
        digest.update(query.unwrap_or("").as_bytes());
    }
    digest.update([0]);
    for chunk in body.chunks() {
        digest.update(chunk);
    }
    format!(
        "hookguard:{}:sha256:{}",
        route.name,
        hex::encode(digest.finalize())
    )
}

/// The client behind this request, resolved once per request.
#[derive(Clone, Copy)]
struct Hop {
    client: IpAddr,
    /// The peer is a trusted proxy, so its forwarding chain is extended rather than replaced.
    behind_proxy: bool,
}

impl Hop {
    fn of(conn: &ConnectionInfo, headers: &HeaderMap, trusted: &[clientip::Cidr]) -> Hop {
        let peer = conn.peer.ip();
        Hop {
            client: clientip::client_ip(peer, headers, trusted),
            behind_proxy: clientip::any_contains(trusted, peer),
        }
    }
}

/// What a trusted proxy already said about the hop before it.
struct TrustedChain {
    client: IpAddr,
    forwarded_for: String,
    forwarded: String,
    proto: Option<HeaderValue>,
    host: Option<HeaderValue>,
}

/// Every value of a header, in order, as one comma-separated list.
fn joined(headers: &HeaderMap, name: &HeaderName) -> String {
    let values: Vec<&str> = headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .collect();
    values.join(", ")
}

/// Framing fields hookguard sets itself. Only their `_` spellings reach `is_dropped`: the real names
/// are removed first.
const FRAMING_HEADERS: [&str; 2] = ["content-length", "expect"];

/// Whether a request header must not reach the app: hop-by-hop, framing, listed in Connection, a
/// forwarding header hookguard replaces, or hookguard's own namespace, in either `-` or `_` spelling.
fn is_dropped(name: &HeaderName, listed: &[String]) -> bool {
    let folded = folded_name(name);
    HOP_BY_HOP.contains(&folded.as_ref())
        || FRAMING_HEADERS.contains(&folded.as_ref())
        || FORWARDING_HEADERS.contains(&folded.as_ref())
        || folded.starts_with(RESERVED_PREFIX)
        || listed.iter().any(|l| l == name.as_str())
}

/// Turns the client's headers into the app's, in place: hop-by-hop, framing and spoofable headers go,
/// hookguard's own forwarding facts and mark come in. One pass over the names finds what to drop,
/// so a typical request costs a few comparisons and no second header map.
fn rewrite_headers(
    headers: &mut HeaderMap,
    authority: Option<&http::uri::Authority>,
    peer: &PeerHeaders,
    behind: Option<IpAddr>,
    body_len: usize,
    mark: Mark<'_>,
) {
    // From a trusted proxy the forwarding chain so far is kept and extended; from anyone else it is
    // replaced, since a client can write anything there.
    let chain = behind.map(|client| TrustedChain {
        client,
        forwarded_for: joined(headers, &X_FORWARDED_FOR),
        forwarded: joined(headers, &header::FORWARDED),
        proto: headers.get(&X_FORWARDED_PROTO).cloned(),
        host: headers.get(&X_FORWARDED_HOST).cloned(),
    });
    let listed = connection_listed(headers);
    headers.remove(header::CONTENT_LENGTH);
    headers.remove(header::EXPECT);
    let dropped: Vec<HeaderName> = headers
        .keys()
        .filter(|name| is_dropped(name, &listed))
        .cloned()
        .collect();
    for name in dropped {
        headers.remove(&name);
    }
    // HTTP/2 carries the host as :authority; an HTTP/1.1 app needs it as Host.
    if !headers.contains_key(header::HOST) {
        if let Some(value) = authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            headers.insert(header::HOST, value);
        }
    }
    let host = headers.get(header::HOST).cloned();
    let mut ours = peer.forwarded.clone();
    if let Some(text) = host.as_ref().and_then(|h| h.to_str().ok()) {
        ours.push_str(";host=\"");
        ours.push_str(text);
        ours.push('"');
    }
    let peer_text = peer.ip.to_str().unwrap_or("unknown");
    let extend = |earlier: &str, last: &str| {
        if earlier.is_empty() {
            last.to_string()
        } else {
            format!("{earlier}, {last}")
        }
    };
    let (forwarded_for, real_ip, proto, forwarded_host, forwarded) = match chain {
        None => (
            Some(peer.ip.clone()),
            Some(peer.ip.clone()),
            HeaderValue::from_static(peer.proto),
            host,
            HeaderValue::from_str(&ours).ok(),
        ),
        Some(chain) => (
            HeaderValue::from_str(&extend(&chain.forwarded_for, peer_text)).ok(),
            HeaderValue::from_str(&chain.client.to_string()).ok(),
            chain
                .proto
                .unwrap_or_else(|| HeaderValue::from_static(peer.proto)),
            chain.host.or(host),
            HeaderValue::from_str(&extend(&chain.forwarded, &ours)).ok(),
        ),
    };
    if let Some(value) = forwarded_for {
        headers.insert(X_FORWARDED_FOR, value);
    }
    if let Some(value) = real_ip {
        headers.insert(X_REAL_IP, value);
    }
    headers.insert(X_FORWARDED_PROTO, proto);
    if let Some(value) = forwarded_host {
        headers.insert(X_FORWARDED_HOST, value);
    }
    if let Some(value) = forwarded {
        headers.insert(header::FORWARDED, value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    let (name, value) = match mark {
        Mark::Verified(route) => (ROUTE_HEADER, route.clone()),
        Mark::Shadow(verdict) => (SHADOW_HEADER, HeaderValue::from_static(verdict)),
        Mark::Unverified => return,
    };
    headers.insert(name, value);
}

/// The request for the app. `rewritten_query` is `Some` only when the query changes (a query token
/// removed); otherwise the request's own path and query are reused as they are.
fn upstream_request(
    mut parts: Parts,
    body: RawBody,
    upstream: &Upstream,
    rewritten_query: Option<Option<String>>,
    conn: &ConnectionInfo,
    hop: Hop,
    mark: Mark<'_>,
) -> Result<Request<UpstreamBody>, Refusal> {
    // The path passed the canonical check and a rewritten query is a subset of the request's own,
    // so building cannot fail in practice; if it did, the request is refused, not forwarded.
    let unbuildable = || Refusal::NonCanonicalPath(routing::NonCanonical::NotAbsolute);
    let path_and_query = match rewritten_query {
        None => parts
            .uri
            .path_and_query()
            .cloned()
            .unwrap_or_else(|| PathAndQuery::from_static("/")),
        Some(query) => {
            let path = parts.uri.path();
            let text = match query {
                Some(query) => format!("{path}?{query}"),
                None => path.to_string(),
            };
            PathAndQuery::try_from(text).map_err(|_| unbuildable())?
        }
    };
    let behind = hop.behind_proxy.then_some(hop.client);
    rewrite_headers(
        &mut parts.headers,
        parts.uri.authority(),
        &conn.peer_headers,
        behind,
        body.len(),
        mark,
    );
    // An HTTP/1.0 request may come without a Host; an HTTP/1.1 app requires one.
    if !parts.headers.contains_key(header::HOST) {
        if let Ok(host) = HeaderValue::from_str(upstream.authority.as_str()) {
            parts.headers.insert(header::HOST, host);
        }
    }
    // Nothing the server side attached to the request is meant for the client side.
    parts.extensions.clear();
    // HTTP/1.1 to an origin server names only the path and query.
    parts.uri = Uri::from(path_and_query);
    parts.version = Version::HTTP_11;
    Ok(Request::from_parts(parts, body.into_upstream()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn peer() -> SocketAddr {
        "192.0.2.7:5555".parse().expect("addr")
    }

    #[test]
    fn request_headers_are_scrubbed_and_replaced() {
        let mut incoming = HeaderMap::new();
        for (name, value) in [
            ("host", "hooks.example.com"),
            ("connection", "keep-alive, X-Drop-Me"),
            ("x-drop-me", "1"),
            ("keep-alive", "timeout=5"),
            ("te", "trailers"),
            ("trailer", "x-t"),
            ("upgrade", "websocket"),
            ("proxy-connection", "keep-alive"),
            ("expect", "100-continue"),
            ("content-length", "999"),
            ("content_length", "999"),
            ("transfer_encoding", "chunked"),
            ("x-forwarded-for", "1.2.3.4"),
            ("x_forwarded_for", "1.2.3.4"),
            ("forwarded", "for=1.2.3.4"),
            ("x-real-ip", "1.2.3.4"),
            ("x-hookguard-route", "spoofed"),
            ("x_hookguard_route", "spoofed"),
            ("x-hookguard-shadow", "spoofed"),
            ("x-custom", "kept"),
        ] {
            incoming.append(name, HeaderValue::from_static(value));
        }
        let mut out = incoming.clone();
        rewrite_headers(
            &mut out,
            None,
            &PeerHeaders::new(peer(), false),
            None,
            12,
            Mark::Verified(&HeaderValue::from_static("drivewidget")),
        );
        for gone in [
            "connection",
            "x-drop-me",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "proxy-connection",
            "expect",
            "content_length",
            "transfer_encoding",
            "x_forwarded_for",
            "x_hookguard_route",
            "x-hookguard-shadow",
        ] {
            assert!(!out.contains_key(gone), "{gone} should be dropped");
        }
        assert_eq!(out["host"], "hooks.example.com");
        assert_eq!(out["x-custom"], "kept");
        assert_eq!(out["content-length"], "12");
        assert_eq!(out["x-forwarded-for"], "192.0.2.7");
        assert_eq!(out["x-real-ip"], "192.0.2.7");
        assert_eq!(out["x-forwarded-proto"], "http");
        assert_eq!(out["x-forwarded-host"], "hooks.example.com");
        assert_eq!(
            out["forwarded"],
            "for=192.0.2.7;proto=http;host=\"hooks.example.com\""
        );
        assert_eq!(
            out.get_all(ROUTE_HEADER).iter().collect::<Vec<_>>(),
            vec!["drivewidget"]
        );
    }

    #[test]
    fn ipv6_peers_are_quoted_in_forwarded_and_h2_authority_becomes_host() {
        let authority: http::uri::Authority = "hooks.example.com:8443".parse().expect("authority");
        let v6: SocketAddr = "[2001:db8::1]:80".parse().expect("addr");
        let mut out = HeaderMap::new();
        rewrite_headers(
            &mut out,
            Some(&authority),
            &PeerHeaders::new(v6, true),
            None,
            0,
            Mark::Unverified,
        );
        assert_eq!(out["host"], "hooks.example.com:8443");
        assert_eq!(
            out["forwarded"],
            "for=\"[2001:db8::1]\";proto=https;host=\"hooks.example.com:8443\""
        );
        assert_eq!(out["x-forwarded-proto"], "https");
        assert!(!out.contains_key(ROUTE_HEADER));
    }

    #[test]
    fn response_hop_by_hop_headers_are_removed() {
        let mut headers = HeaderMap::new();
        for (name, value) in [
            ("connection", "close, x-secret-hop"),
            ("x-secret-hop", "1"),
            ("keep-alive", "timeout=5"),
            ("transfer-encoding", "chunked"),
            ("x-app", "kept"),
        ] {
            headers.append(name, HeaderValue::from_static(value));
        }
        remove_hop_by_hop(&mut headers);
        assert_eq!(headers.len(), 1);
        assert_eq!(headers["x-app"], "kept");
    }
}
