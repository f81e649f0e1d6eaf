//! One request's context as the phases fill it in (route, client, clock, delivery id, event type),
//! how a request can end (`Outcome`, `Finished`), and the record its log line and metrics are
//! written from, even when the client leaves midway.

use std::fmt;
use std::net::IpAddr;
use std::time::{Instant, SystemTime};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode, Uri};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use super::{ConnectionInfo, Live, ProxyBody};
use crate::admin::Journal;
use crate::clientip;
use crate::config::Route;
use crate::proxy::refusal::Refusal;
use crate::telemetry::metrics::{
    FailureLabels, Label, Metrics, RefusalLabels, RequestLabels, SecretLabels,
};
use crate::upstream::PooledBody;

/// How a request ended: the `outcome` of its log line and metrics.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Verified and relayed to the app; the status is the app's.
    Forwarded,
    /// `unmatched: forward`: relayed with no verification.
    ForwardedUnverified,
    /// Shadow mode: relayed whatever the verdict, marked with it.
    Shadow,
    /// A setup challenge hookguard answered itself.
    Handshake,
    /// Verified, but its event type is not in the route's `events`.
    IgnoredEvent,
    /// A delivery the app already took.
    Duplicate,
    /// Verified and written to the spool; the dispatcher delivers it.
    Queued,
    /// Answered with a refusal; the reason says which.
    Refused,
    /// 502: the app could not be reached or its answer was unusable.
    UpstreamError,
    /// 504: the app did not answer within `limits.upstream_timeout`.
    UpstreamTimeout,
    /// 409: the same delivery is with the app right now.
    InFlight,
    /// 503: something hookguard needs (dedup store, spool, a certificate) is not available.
    Unavailable,
    /// The client left before hookguard answered.
    ClientClosed,
}

impl Outcome {
    /// hookguard answered with an error of its own rather than the app's answer or a 200.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Outcome::Refused
                | Outcome::UpstreamError
                | Outcome::UpstreamTimeout
                | Outcome::InFlight
                | Outcome::Unavailable
        )
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Outcome::Forwarded => "forwarded",
            Outcome::ForwardedUnverified => "forwarded_unverified",
            Outcome::Shadow => "shadow",
            Outcome::Handshake => "handshake",
            Outcome::IgnoredEvent => "ignored_event",
            Outcome::Duplicate => "duplicate",
            Outcome::Queued => "queued",
            Outcome::Refused => "refused",
            Outcome::UpstreamError => "upstream_error",
            Outcome::UpstreamTimeout => "upstream_timeout",
            Outcome::InFlight => "in_flight",
            Outcome::Unavailable => "unavailable",
            Outcome::ClientClosed => "client_closed",
        }
    }
}

/// A final answer. A phase that returns one ends the pipeline.
pub struct Finished {
    pub result: Result<Response<ProxyBody>, Refusal>,
    pub outcome: Outcome,
    /// Why it was refused, or in shadow mode why it would have been.
    pub reason: Option<&'static str>,
    /// Why verification failed, in shadow mode too, for the failures metric. Apart from `reason`,
    /// which in shadow mode names the app's failure when both failed.
    pub verification_failure: Option<&'static str>,
}

/// Why a phase ended the pipeline early: kept small, since every phase returns it.
pub enum Stop {
    Refused(Refusal),
    /// An answer hookguard gives itself with a 200: a handshake, a filtered event, a duplicate.
    Answered {
        outcome: Outcome,
        content_type: &'static str,
        body: Vec<u8>,
    },
}

impl Stop {
    pub fn answered(outcome: Outcome, content_type: &'static str, body: Vec<u8>) -> Self {
        Stop::Answered {
            outcome,
            content_type,
            body,
        }
    }
}

impl From<Stop> for Finished {
    fn from(stop: Stop) -> Self {
        match stop {
            Stop::Refused(refusal) => Finished::refused(refusal),
            Stop::Answered {
                outcome,
                content_type,
                body,
            } => Finished::answered(outcome, content_type, body),
        }
    }
}

/// Go on with a `T`, or stop here.
pub type Step<T = ()> = Result<T, Stop>;

impl Finished {
    pub fn refused(refusal: Refusal) -> Self {
        // The statuses an on-call engineer acts on differently from a refused request each have
        // their own outcome: they are hookguard's or the app's trouble, not the sender's.
        let outcome = match refusal.status() {
            StatusCode::BAD_GATEWAY => Outcome::UpstreamError,
            StatusCode::GATEWAY_TIMEOUT => Outcome::UpstreamTimeout,
            StatusCode::CONFLICT => Outcome::InFlight,
            StatusCode::SERVICE_UNAVAILABLE => Outcome::Unavailable,
            _ => Outcome::Refused,
        };
        Finished {
            reason: Some(refusal.reason()),
            verification_failure: match refusal {
                Refusal::InvalidSignature(why) | Refusal::BasicAuthRequired(why) => {
                    Some(why.as_str())
                }
                _ => None,
            },
            result: Err(refusal),
            outcome,
        }
    }

    /// The app's answer, or why there was none.
    pub fn relayed(result: Result<Response<PooledBody>, Refusal>, outcome: Outcome) -> Self {
        match result {
            Ok(response) => Finished {
                result: Ok(response.map(Either::Right)),
                verification_failure: None,
                outcome,
                reason: None,
            },
            Err(refusal) => Finished::refused(refusal),
        }
    }

    /// An answer hookguard gives itself with a 200: a handshake, a filtered event, a duplicate.
    pub fn answered(outcome: Outcome, content_type: &'static str, body: Vec<u8>) -> Self {
        let mut response = Response::new(Either::Left(Full::new(Bytes::from(body))));
        response
            .headers_mut()
            .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
        Finished {
            result: Ok(response),
            verification_failure: None,
            outcome,
            reason: None,
        }
    }
}

/// The client behind this request, resolved once per request.
#[derive(Clone, Copy)]
pub struct Hop {
    pub client: IpAddr,
    /// The peer is a trusted proxy, so its forwarding chain is extended rather than replaced.
    pub behind_proxy: bool,
}

impl Hop {
    pub fn of(conn: &ConnectionInfo, headers: &HeaderMap, trusted: &[clientip::Cidr]) -> Hop {
        let peer = conn.peer.ip();
        Hop {
            client: clientip::client_ip(peer, headers, trusted),
            behind_proxy: clientip::any_contains(trusted, peer),
        }
    }
}

/// What a request's log line says beyond its outcome, for an on-call engineer to act on. Names
/// from the config, numbers and OS errors: never a secret, a signature, a token or a body.
#[derive(Debug, Default, Clone)]
pub struct Notes {
    /// Where a `missing_signature` request should have carried its signature.
    pub expected_signature: Option<String>,
    /// A stale or future timestamp's age (negative: ahead) and the route's tolerance, in seconds.
    pub timestamp_age_s: Option<i64>,
    pub tolerance_s: Option<u64>,
    /// The position in the route's `secrets` of the first that verified the delivery.
    pub secret: Option<usize>,
    /// The app's address (host and port), when it could not be reached or failed.
    pub upstream_address: Option<String>,
    /// Why, as the OS or the HTTP client said it.
    pub upstream_error: Option<String>,
    /// The delivery id is covered by a signature that verified.
    pub delivery_signed: bool,
}

/// Delivery ids are the sender's, not secrets, but they are client input: bounded before logging.
const MAX_LOGGED_DELIVERY_ID: usize = 128;

/// The id cut to `MAX_LOGGED_DELIVERY_ID` bytes, on a character boundary.
fn bounded_for_log(id: &str) -> &str {
    let mut end = id.len().min(MAX_LOGGED_DELIVERY_ID);
    while !id.is_char_boundary(end) {
        end -= 1;
    }
    &id[..end]
}

/// nginx's status for a request whose client closed the connection before the answer.
const CLIENT_CLOSED: u16 = 499;

/// One request from its head to its record. It counts the request in flight for exactly as long as
/// its handler lives. If the handler is dropped unfinished (the client left before the answer), it
/// still writes the record, as status 499: the delivery may well have reached the app by then, and
/// that must leave a trace.
pub struct Exchange<'a> {
    pub metrics: &'a Metrics,
    /// The admin journal of recent requests, written from the same record as the log line.
    journal: &'a Journal,
    pub live: &'a Live,
    pub conn: &'a ConnectionInfo,
    started: Instant,
    /// The wall clock that timestamps are judged against, read once.
    pub now: SystemTime,
    method: http::Method,
    /// A clone of the URI shares its bytes; the path is read from it for the record.
    uri: Uri,
    /// Set as soon as the route is known, so an abandoned request is recorded under it.
    pub route: Option<&'a Route>,
    /// The client behind any trusted proxies, once admission resolved it.
    pub client: Option<IpAddr>,
    /// The sender's delivery id, where it is read from a header.
    pub delivery: Option<String>,
    /// The event type, where the route's `events` filter read it.
    pub event: Option<String>,
    /// hookguard's own id for a delivery spooled on a queue route.
    pub queued: Option<crate::delivery::DeliveryId>,
    pub notes: Notes,
    finished: bool,
}

impl<'a> Exchange<'a> {
    pub fn begin(
        metrics: &'a Metrics,
        journal: &'a Journal,
        live: &'a Live,
        conn: &'a ConnectionInfo,
        request: &Request<Incoming>,
    ) -> Self {
        metrics.in_flight.inc();
        Exchange {
            metrics,
            journal,
            live,
            conn,
            started: Instant::now(),
            now: SystemTime::now(),
            method: request.method().clone(),
            uri: request.uri().clone(),
            route: None,
            client: None,
            delivery: None,
            event: None,
            queued: None,
            notes: Notes::default(),
            finished: false,
        }
    }

    /// Turns the pipeline's answer into the response, and writes the record.
    pub fn finish(&mut self, finished: Finished) -> Response<ProxyBody> {
        let response = match finished.result {
            Ok(response) => response,
            Err(refusal) => refusal.into_response().map(Either::Left),
        };
        self.record(
            finished.outcome,
            finished.reason,
            finished.verification_failure,
            response.status().as_u16(),
        );
        response
    }

    fn record(
        &mut self,
        outcome: Outcome,
        reason: Option<&'static str>,
        verification_failure: Option<&'static str>,
        status: u16,
    ) {
        self.finished = true;
        let route = self
            .route
            .map_or(&self.metrics.unmatched_label, |r| &r.label);
        let delivery = self.delivery.as_deref().map(bounded_for_log);
        let event = self.event.as_deref().map(bounded_for_log);
        let record = Record {
            at: self.now,
            route,
            method: &self.method,
            path: self.uri.path(),
            peer: self.conn.peer.ip(),
            client: self.client,
            outcome,
            reason,
            verification_failure,
            delivery,
            queued: self.queued.as_ref().map(|id| id.as_str()),
            event,
            notes: &self.notes,
            status,
            latency_us: u64::try_from(self.started.elapsed().as_micros()).unwrap_or(u64::MAX),
        };
        record.count(self.metrics);
        record.log();
        self.journal.write(&record);
    }
}

impl Drop for Exchange<'_> {
    fn drop(&mut self) {
        self.metrics.in_flight.dec();
        if !self.finished {
            self.record(
                Outcome::ClientClosed,
                Some("client_closed_request"),
                None,
                CLIENT_CLOSED,
            );
        }
    }
}

/// An address written as `IpAddr` displays it, an IPv4 one digit by digit: the standard formatter's
/// four integer formats cost about 1,200 instructions per address, twice on every log line
/// (callgrind, bench/callgrind.sh).
struct LoggedAddress(IpAddr);

impl fmt::Display for LoggedAddress {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let IpAddr::V4(v4) = self.0 else {
            return self.0.fmt(f);
        };
        // "255.255.255.255" is the longest.
        let mut text = [0u8; 15];
        let mut len = 0;
        let mut push = |byte: u8| {
            if let Some(slot) = text.get_mut(len) {
                *slot = byte;
                len += 1;
            }
        };
        for (at, octet) in v4.octets().into_iter().enumerate() {
            if at > 0 {
                push(b'.');
            }
            if octet >= 100 {
                push(b'0' + octet / 100);
            }
            if octet >= 10 {
                push(b'0' + octet / 10 % 10);
            }
            push(b'0' + octet % 10);
        }
        let text = text.get(..len).unwrap_or_default();
        f.write_str(std::str::from_utf8(text).map_err(|_| fmt::Error)?)
    }
}

/// What is known of a request once it ended: the one source of its log line and its metrics, and
/// of the admin journal.
pub struct Record<'e> {
    /// When the request came in.
    pub at: SystemTime,
    pub route: &'e Label,
    pub method: &'e http::Method,
    pub path: &'e str,
    pub peer: IpAddr,
    /// The client behind trusted proxies; `None` when the request ended before admission.
    pub client: Option<IpAddr>,
    pub outcome: Outcome,
    pub reason: Option<&'static str>,
    pub verification_failure: Option<&'static str>,
    pub delivery: Option<&'e str>,
    /// The spool id of a queued delivery.
    pub queued: Option<&'e str>,
    pub event: Option<&'e str>,
    pub notes: &'e Notes,
    pub status: u16,
    pub latency_us: u64,
}

impl Record<'_> {
    fn count(&self, metrics: &Metrics) {
        metrics.count_request(&RequestLabels {
            route: Label::clone(self.route),
            outcome: self.outcome.as_str(),
            status: self.status,
        });
        if self.outcome.is_refusal() {
            if let Some(reason) = self.reason {
                metrics
                    .refusals
                    .get_or_create(&RefusalLabels {
                        route: Label::clone(self.route),
                        status: self.status,
                        reason,
                    })
                    .inc();
            }
        }
        if let Some(secret) = self.notes.secret {
            metrics.count_secret_match(&SecretLabels {
                route: Label::clone(self.route),
                secret,
            });
        }
        if let Some(reason) = self.verification_failure {
            metrics
                .verification_failures
                .get_or_create(&FailureLabels {
                    route: Label::clone(self.route),
                    reason,
                })
                .inc();
        }
    }

    /// One line under OpenTelemetry's semantic-convention names, hookguard's own under
    /// `hookguard.`; an absent value is left out. The text layout shortens the names.
    fn log(&self) {
        let notes = self.notes;
        tracing::info!(
            hookguard.route = %self.route,
            http.request.method = %self.method,
            url.path = %self.path,
            network.peer.address = %LoggedAddress(self.peer),
            client.address = self.client.map(|client| tracing::field::display(LoggedAddress(client))),
            hookguard.outcome = %self.outcome.as_str(),
            hookguard.reason = self.reason.map(tracing::field::display),
            hookguard.signature.expected = notes.expected_signature.as_deref(),
            hookguard.timestamp.age_s = notes.timestamp_age_s,
            hookguard.timestamp.tolerance_s = notes.tolerance_s,
            hookguard.secret = notes.secret.map(|at| at as u64),
            hookguard.event.type = self.event,
            hookguard.delivery.id = self.delivery,
            hookguard.delivery.signed = self.delivery.map(|_| notes.delivery_signed),
            hookguard.queued = self.queued,
            hookguard.upstream.address = notes.upstream_address.as_deref(),
            hookguard.upstream.error = notes.upstream_error.as_deref(),
            http.response.status_code = self.status,
            hookguard.latency_us = self.latency_us,
            "request"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The log line's addresses read exactly as `IpAddr` displays them.
        #[test]
        fn logged_addresses_read_as_ipaddr_displays_them(v4 in any::<u32>(), v6 in any::<u128>()) {
            for ip in [IpAddr::from(v4.to_be_bytes()), IpAddr::from(v6.to_be_bytes())] {
                prop_assert_eq!(LoggedAddress(ip).to_string(), ip.to_string());
            }
        }
    }

    #[test]
    fn edge_addresses_are_written_whole() {
        for text in [
            "0.0.0.0",
            "255.255.255.255",
            "10.0.100.9",
            "::1",
            "::ffff:1.2.3.4",
        ] {
            let ip: IpAddr = text.parse().expect("address");
            assert_eq!(LoggedAddress(ip).to_string(), text);
        }
    }
}
