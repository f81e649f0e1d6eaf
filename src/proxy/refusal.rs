//! Every answer hookguard gives itself: the refusal, its status, its log reason and its small JSON body.

use bytes::Bytes;
use http::header::{HeaderValue, ALLOW, CONTENT_TYPE, RETRY_AFTER, WWW_AUTHENTICATE};
use http::{Response, StatusCode};
use http_body_util::Full;

use crate::routing::NonCanonical;
use crate::verify::Rejection;

#[derive(Debug)]
pub enum Refusal {
    NonCanonicalPath(NonCanonical),
    /// Content-Length together with Transfer-Encoding: the classic request-smuggling shape.
    AmbiguousLength,
    /// An HTTP/1.1 request without a Host, or any request with more than one (RFC 9112 §3.2).
    BadHost {
        repeated: bool,
    },
    /// More header fields than can reach the app once hookguard's own are added.
    TooManyHeaderFields,
    NoRoute,
    MethodNotAllowed {
        allow: HeaderValue,
    },
    /// The client address is not in the route's `allow_ips`.
    AddressNotAllowed,
    /// Over the route's `rate_limit`; a token is there again after `retry_after` seconds.
    RateLimited {
        retry_after: u64,
    },
    BodyTooLarge,
    BodyUnreadable,
    /// The body did not arrive within `limits.body_timeout`.
    BodyTimeout,
    InvalidSignature(Rejection),
    /// As `InvalidSignature`, on a basic-auth route: the 401 carries `WWW-Authenticate: Basic`.
    BasicAuthRequired(Rejection),
    /// A hub challenge (Meta) whose `hub.verify_token` is missing or not the route's.
    VerifyTokenMismatch,
    /// A route with `events` got a verified delivery whose event type cannot be read. Answering 200
    /// `ignored` would lose it in silence; a non-2xx shows in the sender's delivery log.
    EventTypeMissing,
    UpstreamUnreachable,
    UpstreamFailed,
    /// The app did not answer within `limits.upstream_timeout`.
    UpstreamTimeout,
    /// The same delivery is with the app right now; the sender should retry later.
    DuplicateInFlight,
    /// The dedup store cannot be reached: fail closed rather than risk forwarding a replay.
    DedupUnavailable,
    /// A queue route's spool is at `max_bytes`; nothing was written.
    SpoolFull,
    /// A queue route's spool write failed or timed out; nothing was acknowledged.
    SpoolUnavailable,
    /// SNS's signing certificate could not be fetched or read: SNS retries a non-2xx answer.
    CertificateUnavailable,
    /// `confirm_subscription`: the SubscribeURL visit failed; SNS may send the confirmation again.
    SubscriptionUnconfirmed,
}

/// Seconds a sender is asked to wait when the spool cannot take its delivery: long enough for a
/// full spool to drain some, short against the senders' own retry windows.
const SPOOL_RETRY_AFTER: u64 = 30;
/// Seconds a sender is asked to wait when an outbound fetch failed: a moment, as the next attempt
/// may well succeed.
const OUTBOUND_RETRY_AFTER: u64 = 10;

impl Refusal {
    /// The one place statuses are decided; no `_` arm, so a new refusal must be placed here.
    pub fn status(&self) -> StatusCode {
        match self {
            Refusal::NonCanonicalPath(_)
            | Refusal::AmbiguousLength
            | Refusal::BadHost { .. }
            | Refusal::BodyUnreadable => StatusCode::BAD_REQUEST,
            Refusal::TooManyHeaderFields => StatusCode::REQUEST_HEADER_FIELDS_TOO_LARGE,
            Refusal::NoRoute => StatusCode::NOT_FOUND,
            Refusal::MethodNotAllowed { .. } => StatusCode::METHOD_NOT_ALLOWED,
            Refusal::AddressNotAllowed => StatusCode::FORBIDDEN,
            Refusal::RateLimited { .. } => StatusCode::TOO_MANY_REQUESTS,
            Refusal::BodyTooLarge => StatusCode::PAYLOAD_TOO_LARGE,
            Refusal::BodyTimeout => StatusCode::REQUEST_TIMEOUT,
            Refusal::InvalidSignature(_) | Refusal::BasicAuthRequired(_) => {
                StatusCode::UNAUTHORIZED
            }
            Refusal::VerifyTokenMismatch => StatusCode::FORBIDDEN,
            Refusal::EventTypeMissing => StatusCode::UNPROCESSABLE_ENTITY,
            Refusal::UpstreamUnreachable | Refusal::UpstreamFailed => StatusCode::BAD_GATEWAY,
            Refusal::UpstreamTimeout => StatusCode::GATEWAY_TIMEOUT,
            Refusal::DuplicateInFlight => StatusCode::CONFLICT,
            Refusal::DedupUnavailable
            | Refusal::SpoolFull
            | Refusal::SpoolUnavailable
            | Refusal::CertificateUnavailable
            | Refusal::SubscriptionUnconfirmed => StatusCode::SERVICE_UNAVAILABLE,
        }
    }

    /// The reason for the log line and, later, a metric label. Never sent to the client.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NonCanonicalPath(why) => why.as_str(),
            Refusal::AmbiguousLength => "content_length_with_transfer_encoding",
            Refusal::BadHost { repeated: false } => "missing_host",
            Refusal::BadHost { repeated: true } => "repeated_host",
            Refusal::TooManyHeaderFields => "too_many_header_fields",
            Refusal::NoRoute => "no_route",
            Refusal::MethodNotAllowed { .. } => "method_not_allowed",
            Refusal::AddressNotAllowed => "address_not_allowed",
            Refusal::RateLimited { .. } => "rate_limited",
            Refusal::BodyTooLarge => "body_too_large",
            Refusal::BodyUnreadable => "body_unreadable",
            Refusal::BodyTimeout => "body_timeout",
            Refusal::InvalidSignature(why) | Refusal::BasicAuthRequired(why) => why.as_str(),
            Refusal::VerifyTokenMismatch => "verify_token_mismatch",
            Refusal::EventTypeMissing => "event_type_missing",
            Refusal::UpstreamUnreachable => "upstream_unreachable",
            Refusal::UpstreamFailed => "upstream_failed",
            Refusal::UpstreamTimeout => "upstream_timeout",
            Refusal::DuplicateInFlight => "duplicate_in_flight",
            Refusal::DedupUnavailable => "dedup_unavailable",
            Refusal::SpoolFull => "spool_full",
            Refusal::SpoolUnavailable => "spool_unavailable",
            Refusal::CertificateUnavailable => "certificate_unavailable",
            Refusal::SubscriptionUnconfirmed => "subscription_unconfirmed",
        }
    }

    /// What the client is told: deliberately the same for every signature failure, so a forger
    /// learns nothing about which check failed.
    fn client_message(&self) -> &'static str {
        match self {
            Refusal::NonCanonicalPath(_) => "non-canonical path",
            Refusal::AmbiguousLength => "content-length with transfer-encoding",
            Refusal::BadHost { .. } => "missing or repeated host",
            Refusal::TooManyHeaderFields => "too many header fields",
            Refusal::NoRoute => "no route",
            Refusal::MethodNotAllowed { .. } => "method not allowed",
            Refusal::AddressNotAllowed => "forbidden",
            Refusal::RateLimited { .. } => "too many requests",
            Refusal::BodyTooLarge => "body too large",
            Refusal::BodyUnreadable => "unreadable body",
            Refusal::BodyTimeout => "request body timeout",
            Refusal::InvalidSignature(_) | Refusal::BasicAuthRequired(_) => "invalid signature",
            Refusal::VerifyTokenMismatch => "forbidden",
            Refusal::EventTypeMissing => "event type missing",
            Refusal::UpstreamUnreachable | Refusal::UpstreamFailed => "bad gateway",
            Refusal::UpstreamTimeout => "gateway timeout",
            Refusal::DuplicateInFlight => "delivery in progress",
            Refusal::DedupUnavailable
            | Refusal::SpoolFull
            | Refusal::SpoolUnavailable
            | Refusal::CertificateUnavailable
            | Refusal::SubscriptionUnconfirmed => "service unavailable",
        }
    }

    pub fn into_response(self) -> Response<Full<Bytes>> {
        let body = format!("{{\"error\":\"{}\"}}", self.client_message());
        let mut response = Response::new(Full::new(Bytes::from(body)));
        *response.status_mut() = self.status();
        let headers = response.headers_mut();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        match self {
            Refusal::MethodNotAllowed { allow } => {
                headers.insert(ALLOW, allow);
            }
            Refusal::BasicAuthRequired(_) => {
                headers.insert(
                    WWW_AUTHENTICATE,
                    HeaderValue::from_static("Basic realm=\"hookguard\", charset=\"UTF-8\""),
                );
            }
            Refusal::RateLimited { retry_after } => {
                headers.insert(RETRY_AFTER, HeaderValue::from(retry_after));
            }
            Refusal::SpoolFull | Refusal::SpoolUnavailable => {
                headers.insert(RETRY_AFTER, HeaderValue::from(SPOOL_RETRY_AFTER));
            }
            Refusal::CertificateUnavailable | Refusal::SubscriptionUnconfirmed => {
                headers.insert(RETRY_AFTER, HeaderValue::from(OUTBOUND_RETRY_AFTER));
            }
            _ => {}
        }
        response
    }
}
