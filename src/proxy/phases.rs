//! The request pipeline as named phases: admit, handshake, precheck, read body, verify, filter
//! event, claim, deliver, settle. Each phase returns a `Step`: go on, or a final answer. A verified
//! route runs them all; `unmatched: forward` runs the same pipeline with no verification.

use std::sync::Arc;
use std::time::Duration;

use http::header::{self, HeaderValue};
use http::request::Parts;
use http::uri::PathAndQuery;
use http::{Request, Response, Uri, Version};
use hyper::body::Incoming;
use sha2::{Digest, Sha256};

use super::body::{read_bounded, refuse_declared_oversize};
use super::exchange::{Exchange, Finished, Hop, Outcome, Step, Stop};
use super::headers::{remove_hop_by_hop, rewrite_headers, Mark};
use super::{ConnectionInfo, Proxy};
use crate::body::{RawBody, UpstreamBody};
use crate::config::{DeliveryMode, Route, Unmatched, Upstream};
use crate::dedup::Claim;
use crate::delivery::{NewDelivery, Queue, SpoolError};
use crate::outbound;
use crate::proxy::refusal::Refusal;
use crate::routing;
use crate::telemetry::metrics::{DedupLabels, Label, RouteLabels};
use crate::upstream::{self, PooledBody, UpstreamError};
use crate::verify::handshake::{HandshakeRequest, Unsigned};
use crate::verify::sns::SigningCertificate;
use crate::verify::{Field, Rejection, RequestView, SnsVerifier, Verifier};

/// What verification made of a request on its route.
#[derive(Clone, Copy)]
enum Verdict {
    Verified,
    /// Shadow mode: forwarded whatever the verdict; `Some` names why it would have been refused.
    Shadow(Option<&'static str>),
}

/// Where a request goes and how it is marked: the parts of the upstream request that differ
/// between a verified route, shadow mode and `unmatched: forward`.
struct Destination<'r> {
    upstream: &'r Upstream,
    label: &'r Label,
    /// `Some` only when the query changes (a query token removed).
    query: Option<Option<String>>,
    /// A credential header removed before the app sees the request (basic auth's Authorization).
    credential_header: Option<http::HeaderName>,
    mark: Mark<'r>,
}

/// A dedup claim held while the app has the delivery, settled by its answer.
struct Held {
    key: String,
    token: String,
    ttl: Duration,
}

impl Proxy {
    /// The whole pipeline for one request: the head checks, then the route's phases, or the
    /// unverified ones for `unmatched: forward`.
    pub(super) async fn pipeline(
        &self,
        exchange: &mut Exchange<'_>,
        parts: Parts,
        body: Incoming,
    ) -> Finished {
        let outcome = match admit_head(exchange, &parts) {
            Err(finished) => Err(finished),
            Ok(Some(route)) => self.route_phases(exchange, route, parts, body).await,
            Ok(None) => self.unmatched_phases(exchange, parts, body).await,
        };
        outcome.unwrap_or_else(Finished::from)
    }

    async fn route_phases(
        &self,
        exchange: &mut Exchange<'_>,
        route: &Route,
        parts: Parts,
        body: Incoming,
    ) -> Step<Finished> {
        let hop = admit_on_route(exchange, route, &parts)?;
        answer_unsigned_handshake(exchange, route, &parts)?;
        precheck(exchange, route, &parts)?;
        let body = read_body(exchange, body, route.max_body).await?;
        // Only SNS routes wait on I/O here (their signing certificate); every other route verifies
        // in place, as before.
        let (verdict, confirm) = match &route.verifier {
            Verifier::Sns(sns) => verify_sns(exchange, route, sns, &body).await?,
            _ => (verify(exchange, route, &parts, &body)?, None),
        };
        let query = route.verifier.rewritten_query(parts.uri.query());
        let held = match verdict {
            // Shadow mode answers nothing itself and records nothing: the app sees it all.
            Verdict::Shadow(_) => None,
            Verdict::Verified => {
                if let Some(url) = confirm {
                    confirm_subscription(exchange, &url).await?;
                }
                answer_signed_handshake(exchange, route, &parts, &body)?;
                filter_event(exchange, route, &parts, &body)?;
                self.claim(exchange, route, &parts, query.as_ref(), &body)
                    .await?
            }
        };
        let mark = match verdict {
            Verdict::Verified => Mark::Verified(&route.header_value),
            Verdict::Shadow(reason) => Mark::Shadow(reason.unwrap_or("ok")),
        };
        let destination = Destination {
            upstream: &route.upstream,
            label: &route.label,
            query,
            credential_header: route.verifier.credential_header(),
            mark,
        };
        if let (DeliveryMode::Queue(_), Some(queue)) = (&route.delivery, &self.queue) {
            let spooled = self
                .spool(exchange, queue, route, destination, parts, body, hop)
                .await;
            if let Some(held) = held {
                self.settle(held, spooled.is_ok()).await;
            }
            return spooled;
        }
        let result = self.deliver(exchange, destination, parts, body, hop).await;
        if let Some(held) = held {
            let taken = matches!(&result, Ok(response) if response.status().is_success());
            self.settle(held, taken).await;
        }
        Ok(match verdict {
            Verdict::Verified => Finished::relayed(result, Outcome::Forwarded),
            Verdict::Shadow(reason) => {
                let mut finished = Finished::relayed(result, Outcome::Shadow);
                finished.verification_failure = reason;
                finished.reason = finished.reason.or(reason);
                finished
            }
        })
    }

    /// `unmatched: forward`: no verification, but the same body bound and header rules.
    async fn unmatched_phases(
        &self,
        exchange: &mut Exchange<'_>,
        parts: Parts,
        body: Incoming,
    ) -> Step<Finished> {
        let live = exchange.live;
        let max_body = live.config.max_body;
        refuse_declared_oversize(&parts.headers, max_body).map_err(Stop::Refused)?;
        let body = read_body(exchange, body, max_body).await?;
        let hop = Hop::of(exchange.conn, &parts.headers, &live.config.trusted_proxies);
        exchange.client = Some(hop.client);
        let destination = Destination {
            upstream: &live.config.upstream,
            label: &self.metrics.unmatched_label,
            query: None,
            credential_header: None,
            mark: Mark::Unverified,
        };
        let result = self.deliver(exchange, destination, parts, body, hop).await;
        Ok(Finished::relayed(result, Outcome::ForwardedUnverified))
    }

    /// claim: a route with `dedup` takes the delivery's key before the app sees it.
    async fn claim(
        &self,
        exchange: &Exchange<'_>,
        route: &Route,
        parts: &Parts,
        query: Option<&Option<String>>,
        body: &RawBody,
    ) -> Step<Option<Held>> {
        let Some(ttl) = route.dedup_ttl else {
            return Ok(None);
        };
        let key = match (&route.verifier, &exchange.delivery) {
            // SNS signs some of its body's fields, not its bytes: a replay with an unsigned field
            // changed would get a new digest, so the signed MessageId is the key.
            (Verifier::Sns(_), Some(message_id)) => {
                format!("hookguard:{}:id:{message_id}", route.name)
            }
            _ => dedup_key(route, parts, query, body),
        };
        // Long enough for the app to answer; short enough that a crashed replica's claim does not
        // block the sender's retries for long.
        let in_flight = exchange.live.config.limits.upstream_timeout + Duration::from_secs(10);
        let claim = self.dedup.claim(&key, in_flight).await;
        let result = match &claim {
            Ok(Claim::Claimed(_)) => "claimed",
            Ok(Claim::Duplicate) => "duplicate",
            Ok(Claim::InFlight) => "in_flight",
            Err(_) => "unavailable",
        };
        self.metrics
            .dedup
            .get_or_create(&DedupLabels {
                route: Label::clone(&route.label),
                result,
            })
            .inc();
        match claim {
            Ok(Claim::Claimed(token)) => Ok(Some(Held { key, token, ttl })),
            Ok(Claim::Duplicate) => Err(Stop::answered(
                Outcome::Duplicate,
                "application/json",
                br#"{"duplicate":true}"#.to_vec(),
            )),
            Ok(Claim::InFlight) => Err(Stop::Refused(Refusal::DuplicateInFlight)),
            Err(error) => {
                tracing::warn!(%error, "dedup store unreachable; refusing");
                Err(Stop::Refused(Refusal::DedupUnavailable))
            }
        }
    }

    /// deliver: the one place the upstream request is built and sent.
    async fn deliver(
        &self,
        exchange: &mut Exchange<'_>,
        destination: Destination<'_>,
        parts: Parts,
        body: RawBody,
        hop: Hop,
    ) -> Result<Response<PooledBody>, Refusal> {
        let request = upstream_request(parts, body, &destination, exchange.conn, hop)?;
        let live = exchange.live;
        let started = std::time::Instant::now();
        let response = tokio::time::timeout(
            live.config.limits.upstream_timeout,
            upstream::send(
                live.generation,
                &live.config.upstream_tls,
                destination.upstream,
                request,
            ),
        )
        .await;
        self.metrics.observe_upstream(
            &RouteLabels {
                route: Label::clone(destination.label),
            },
            started.elapsed().as_secs_f64(),
        );
        // Dropping the timed-out request closes its connection, so the app's late answer is discarded.
        let upstream_address = || {
            let authority = &destination.upstream.authority;
            match authority.port() {
                Some(port) => format!("{}:{port}", authority.host()),
                None => authority.host().to_owned(),
            }
        };
        let response = match response {
            Ok(Ok(response)) => response,
            Ok(Err(error)) => {
                // On the request's own line, where the on-call engineer looks first.
                exchange.notes.upstream_address = Some(upstream_address());
                exchange.notes.upstream_error = Some(match &error {
                    UpstreamError::Unreachable(cause) => {
                        format!("cannot connect: {}", error_chain(cause.as_ref()))
                    }
                    UpstreamError::Failed(cause) => error_chain(cause),
                });
                return Err(match error {
                    UpstreamError::Unreachable(_) => Refusal::UpstreamUnreachable,
                    UpstreamError::Failed(_) => Refusal::UpstreamFailed,
                });
            }
            Err(_) => {
                exchange.notes.upstream_address = Some(upstream_address());
                return Err(Refusal::UpstreamTimeout);
            }
        };
        let (mut parts, body) = response.into_parts();
        remove_hop_by_hop(&mut parts.headers);
        Ok(Response::from_parts(parts, body))
    }

    /// spool (queue mode, in place of deliver): the request for the app, written durably before
    /// the sender hears 200; the dispatcher delivers it from there.
    #[allow(clippy::too_many_arguments)]
    async fn spool(
        &self,
        exchange: &mut Exchange<'_>,
        queue: &Queue,
        route: &Route,
        destination: Destination<'_>,
        parts: Parts,
        body: RawBody,
        hop: Hop,
    ) -> Step<Finished> {
        if exchange.event.is_none() {
            exchange.event = route
                .event_field
                .and_then(|field| field.read(&parts.headers, &body));
        }
        let parts = forwarded_parts(parts, body.len(), &destination, exchange.conn, hop)
            .map_err(Stop::Refused)?;
        let delivery = NewDelivery {
            method: parts.method.as_str().to_owned(),
            path_and_query: parts
                .uri
                .path_and_query()
                .map_or("/", |pq| pq.as_str())
                .to_owned(),
            headers: parts
                .headers
                .iter()
                .map(|(name, value)| (name.as_str().as_bytes().to_vec(), value.as_bytes().to_vec()))
                .collect(),
            body: body.into_bytes(),
            received_at: exchange.now,
            event: exchange.event.clone(),
            provider_delivery: exchange.delivery.clone(),
        };
        match queue.enqueue(&route.name, delivery).await {
            Ok(id) => {
                let answer = format!("{{\"queued\":\"{id}\"}}").into_bytes();
                exchange.queued = Some(id);
                Ok(Finished::answered(
                    Outcome::Queued,
                    "application/json",
                    answer,
                ))
            }
            Err(SpoolError::Full) => Err(Stop::Refused(Refusal::SpoolFull)),
            Err(error) => {
                tracing::warn!(%error, route = %route.name, "spool write failed; refusing");
                Err(Stop::Refused(Refusal::SpoolUnavailable))
            }
        }
    }

    /// settle: a 2xx makes the claim the delivery's record for `ttl`; anything else lets it go, so
    /// the sender's retry goes through.
    async fn settle(&self, held: Held, taken: bool) {
        let settled = if taken {
            self.dedup.complete(&held.key, &held.token, held.ttl).await
        } else {
            self.dedup.release(&held.key, &held.token).await
        };
        if let Err(error) = settled {
            tracing::warn!(%error, taken, "could not record the delivery's outcome; its claim expires on its own");
        }
    }
}

/// An error and its causes, `outer: inner: os error`, so the OS's reason reaches the log line.
fn error_chain(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = error.to_string();
    let mut cause = error.source();
    while let Some(inner) = cause {
        let said = inner.to_string();
        // Some errors repeat their cause in their own message.
        if !text.contains(&said) {
            text.push_str(": ");
            text.push_str(&said);
        }
        cause = inner.source();
    }
    text
}

/// admit, for every request: the head checks, then the route. `None`: no route, and the config
/// forwards unmatched requests.
fn admit_head<'a>(exchange: &mut Exchange<'a>, parts: &Parts) -> Step<Option<&'a Route>> {
    check_framing(parts, exchange.conn).map_err(Stop::Refused)?;
    let live = exchange.live;
    match live.config.route_for(parts.uri.path()) {
        Err(why) => Err(Stop::Refused(Refusal::NonCanonicalPath(why))),
        Ok(Some(route)) => {
            exchange.route = Some(route);
            Ok(Some(route))
        }
        Ok(None) if live.config.unmatched == Unmatched::Reject => {
            Err(Stop::Refused(Refusal::NoRoute))
        }
        Ok(None) => Ok(None),
    }
}

/// admit, on a route: method, client address, rate limit and declared size, all before the body.
fn admit_on_route(exchange: &mut Exchange<'_>, route: &Route, parts: &Parts) -> Step<Hop> {
    if !route.methods.contains(&parts.method) {
        let allow = HeaderValue::from_str(&route.allow_header())
            .unwrap_or_else(|_| HeaderValue::from_static(""));
        return Err(Stop::Refused(Refusal::MethodNotAllowed { allow }));
    }
    let hop = Hop::of(
        exchange.conn,
        &parts.headers,
        &exchange.live.config.trusted_proxies,
    );
    exchange.client = Some(hop.client);
    if let Some(allowed) = &route.allow_ips {
        if !crate::clientip::any_contains(allowed, hop.client) {
            return Err(Stop::Refused(Refusal::AddressNotAllowed));
        }
    }
    if let Some(limiter) = &route.rate_limit {
        if let Err(retry_after) = limiter.check(hop.client, std::time::Instant::now()) {
            exchange
                .metrics
                .rate_limited
                .get_or_create(&RouteLabels {
                    route: Label::clone(&route.label),
                })
                .inc();
            return Err(Stop::Refused(Refusal::RateLimited { retry_after }));
        }
    }
    refuse_declared_oversize(&parts.headers, route.max_body).map_err(Stop::Refused)?;
    Ok(hop)
}

/// handshake: a setup challenge that carries no signature (Dropbox, X, Meta, Okta, LinkedIn, pings)
/// is answered here, or refused when what vouches for it fails; it never reaches the app.
fn answer_unsigned_handshake(exchange: &Exchange<'_>, route: &Route, parts: &Parts) -> Step {
    let request = HandshakeRequest {
        method: &parts.method,
        headers: &parts.headers,
        query: parts.uri.query(),
        verifier: &route.verifier,
        verify_token: route.verify_token.as_ref(),
        now: exchange.now,
    };
    match route.handshake.answer_unsigned(&request) {
        Unsigned::NotOne => Ok(()),
        Unsigned::Answer(answer) => Err(Stop::answered(
            Outcome::Handshake,
            answer.content_type,
            answer.body,
        )),
        Unsigned::WrongVerifyToken => Err(Stop::Refused(Refusal::VerifyTokenMismatch)),
        Unsigned::Unauthenticated(why) => Err(Stop::Refused(unauthenticated(route, why))),
    }
}

/// The 401 for a request that failed verification; a basic-auth route also says how to log in.
fn unauthenticated(route: &Route, why: Rejection) -> Refusal {
    if route.verifier.is_basic_auth() {
        Refusal::BasicAuthRequired(why)
    } else {
        Refusal::InvalidSignature(why)
    }
}

/// precheck: what needs no body, so a request without a signature is refused before it is read.
fn precheck(exchange: &mut Exchange<'_>, route: &Route, parts: &Parts) -> Step {
    match route.verifier.precheck(&parts.headers, parts.uri.query()) {
        Ok(()) => Ok(()),
        Err(why) => {
            if why == Rejection::MissingSignature {
                exchange.notes.expected_signature = route.verifier.expected_signature();
            }
            judge(route, Err(why)).map(|_| ())
        }
    }
}

/// What the log line of a verified or rejected request says beyond its reason: the secret that
/// matched, the header a missing signature belongs in, a stale timestamp's age. Worked out after
/// the verdict, so the answer and its timing never depend on it.
fn note_verdict(
    exchange: &mut Exchange<'_>,
    route: &Route,
    view: &RequestView<'_>,
    verdict: Result<Option<usize>, Rejection>,
) {
    let notes = &mut exchange.notes;
    match verdict {
        Ok(secret) => {
            notes.secret = secret;
        }
        Err(Rejection::MissingSignature) => {
            notes.expected_signature = route.verifier.expected_signature();
        }
        Err(Rejection::StaleTimestamp | Rejection::FutureTimestamp) => {
            if let Some((age, tolerance)) = route.verifier.timestamp_skew(view) {
                notes.timestamp_age_s = Some(age);
                notes.tolerance_s = Some(tolerance);
            }
        }
        Err(_) => {}
    }
}

/// The one place shadow mode is decided: a failure refuses on an enforcing route, and is carried
/// as the shadow verdict otherwise, so shadow mode sees every request through to the app.
fn judge(route: &Route, verdict: Result<(), Rejection>) -> Step<Verdict> {
    match (route.enforce, verdict) {
        (true, Ok(())) => Ok(Verdict::Verified),
        (true, Err(why)) => Err(Stop::Refused(unauthenticated(route, why))),
        (false, verdict) => Ok(Verdict::Shadow(verdict.err().map(Rejection::as_str))),
    }
}

/// read body: whole, within `max_body` and `body_timeout`.
async fn read_body(exchange: &Exchange<'_>, body: Incoming, max_body: u64) -> Step<RawBody> {
    read_bounded(body, max_body, exchange.live.config.limits.body_timeout)
        .await
        .map_err(Stop::Refused)
}

/// verify: the route's scheme over the raw bytes.
fn verify(
    exchange: &mut Exchange<'_>,
    route: &Route,
    parts: &Parts,
    body: &RawBody,
) -> Step<Verdict> {
    let view = RequestView {
        method: &parts.method,
        headers: &parts.headers,
        query: parts.uri.query(),
        body,
        public_url: route.public_url.as_deref(),
        now: exchange.now,
    };
    let verdict = route.verifier.verify_matched(&view);
    note_verdict(exchange, route, &view, verdict);
    let verdict = verdict.map(|_| ());
    // Only a header-borne delivery id is recorded: reading one from the body would mean parsing a
    // possibly large JSON document per request for a log field. It is marked signed only where a
    // signature that verified covers it; otherwise the log says it is the sender's unsigned claim.
    exchange.delivery = route.delivery_id_field.and_then(|field| match field {
        Field::Header(_) => field.read(&parts.headers, body),
        Field::Json(_) => None,
    });
    exchange.notes.delivery_signed = verdict.is_ok()
        && exchange.delivery.is_some()
        && route.verifier.signed_delivery_id(&parts.headers) == exchange.delivery;
    judge(route, verdict)
}

/// verify, on an SNS route: the message is read and its certificate URL and topic checked before
/// anything is fetched; the certificate comes from the route's cache or is fetched once (a failed
/// fetch is 503, so SNS retries, and never forwarded on an enforcing route). Also returns the
/// SubscribeURL to visit when the route confirms subscriptions and this one verified.
async fn verify_sns(
    exchange: &mut Exchange<'_>,
    route: &Route,
    sns: &SnsVerifier,
    body: &RawBody,
) -> Step<(Verdict, Option<Uri>)> {
    let message = match sns.check(body.contiguous()) {
        Ok(message) => message,
        Err(why) => return Ok((judge(route, Err(why))?, None)),
    };
    let certificate = match sns.certificates.get(&message.signing_cert_url) {
        Some(certificate) => certificate,
        None => match fetch_certificate(exchange, &message.signing_cert_url).await {
            Ok(certificate) => {
                sns.certificates
                    .insert(&message.signing_cert_url, Arc::clone(&certificate));
                certificate
            }
            Err(refusal) if route.enforce => return Err(Stop::Refused(refusal)),
            Err(refusal) => return Ok((Verdict::Shadow(Some(refusal.reason())), None)),
        },
    };
    let verdict = judge(route, message.verify(&certificate))?;
    if matches!(verdict, Verdict::Verified) {
        exchange.delivery = Some(message.message_id.clone());
        // The MessageId is one of the fields SNS signs.
        exchange.notes.delivery_signed = true;
    }
    let confirm = match verdict {
        Verdict::Verified => sns
            .confirmation_url(&message)
            .map_err(|why| Stop::Refused(Refusal::InvalidSignature(why)))?,
        Verdict::Shadow(_) => None,
    };
    Ok((verdict, confirm))
}

/// The certificate at a URL already on the route's pattern, fetched and read.
async fn fetch_certificate(
    exchange: &Exchange<'_>,
    url: &str,
) -> Result<Arc<SigningCertificate>, Refusal> {
    let uri: Uri = url.parse().map_err(|_| Refusal::CertificateUnavailable)?;
    let tls = &exchange.live.config.upstream_tls;
    let pem = outbound::get(tls, &uri, outbound::MAX_CERTIFICATE_BYTES)
        .await
        .map_err(|error| {
            tracing::warn!(%error, url, "SNS signing certificate fetch failed");
            Refusal::CertificateUnavailable
        })?;
    SigningCertificate::from_pem(&pem)
        .map(Arc::new)
        .map_err(|error| {
            tracing::warn!(%error, url, "SNS signing certificate unreadable");
            Refusal::CertificateUnavailable
        })
}

/// confirm, on an SNS route with `confirm_subscription`: the verified SubscribeURL is visited
/// before the confirmation is forwarded; if that fails, SNS is answered 503 and the app sees nothing.
async fn confirm_subscription(exchange: &Exchange<'_>, url: &Uri) -> Step {
    let tls = &exchange.live.config.upstream_tls;
    match outbound::get(tls, url, outbound::MAX_CONFIRMATION_BYTES).await {
        Ok(_) => {
            tracing::info!(
                host = url.host().unwrap_or(""),
                "SNS subscription confirmed"
            );
            Ok(())
        }
        Err(error) => {
            tracing::warn!(%error, host = url.host().unwrap_or(""), "SNS subscription confirmation failed");
            Err(Stop::Refused(Refusal::SubscriptionUnconfirmed))
        }
    }
}

/// handshake, signed: Zoom's `endpoint.url_validation` and Twitch's `webhook_callback_verification`
/// are answered once they verified.
fn answer_signed_handshake(
    exchange: &Exchange<'_>,
    route: &Route,
    parts: &Parts,
    body: &RawBody,
) -> Step {
    match route
        .handshake
        .answer_signed(&parts.headers, body, &route.verifier, exchange.now)
    {
        Some(answer) => Err(Stop::answered(
            Outcome::Handshake,
            answer.content_type,
            answer.body,
        )),
        None => Ok(()),
    }
}

/// filter event: a route with `events` forwards only those types. A type that cannot be read is
/// refused, not ignored: a 2xx would tell the sender the delivery was taken.
fn filter_event(exchange: &mut Exchange<'_>, route: &Route, parts: &Parts, body: &RawBody) -> Step {
    let Some(events) = &route.events else {
        return Ok(());
    };
    let Some(event) = route
        .event_field
        .and_then(|field| field.read(&parts.headers, body))
    else {
        return Err(Stop::Refused(Refusal::EventTypeMissing));
    };
    let listed = events.contains(&event);
    exchange.event = Some(event);
    if listed {
        Ok(())
    } else {
        Err(Stop::answered(
            Outcome::IgnoredEvent,
            "application/json",
            br#"{"ignored":"event type not forwarded"}"#.to_vec(),
        ))
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

/// The request for the app. `rewritten_query` is `Some` only when the query changes (a query token
/// removed); otherwise the request's own path and query are reused as they are.
fn upstream_request(
    parts: Parts,
    body: RawBody,
    destination: &Destination<'_>,
    conn: &ConnectionInfo,
    hop: Hop,
) -> Result<Request<UpstreamBody>, Refusal> {
    let parts = forwarded_parts(parts, body.len(), destination, conn, hop)?;
    Ok(Request::from_parts(parts, body.into_upstream()))
}

/// The head of the request for the app, as sent now or spooled to be sent later.
fn forwarded_parts(
    mut parts: Parts,
    body_len: usize,
    destination: &Destination<'_>,
    conn: &ConnectionInfo,
    hop: Hop,
) -> Result<Parts, Refusal> {
    // The path passed the canonical check and a rewritten query is a subset of the request's own,
    // so building cannot fail in practice; if it did, the request is refused, not forwarded.
    let unbuildable = || Refusal::NonCanonicalPath(routing::NonCanonical::NotAbsolute);
    let path_and_query = match &destination.query {
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
    if let Some(name) = &destination.credential_header {
        parts.headers.remove(name);
    }
    let behind = hop.behind_proxy.then_some(hop.client);
    rewrite_headers(
        &mut parts.headers,
        parts.uri.authority(),
        &conn.peer_headers,
        behind,
        body_len,
        destination.mark,
    );
    // An HTTP/1.0 request may come without a Host; an HTTP/1.1 app requires one.
    if !parts.headers.contains_key(header::HOST) {
        if let Ok(host) = HeaderValue::from_str(destination.upstream.authority.as_str()) {
            parts.headers.insert(header::HOST, host);
        }
    }
    // Nothing the server side attached to the request is meant for the client side.
    parts.extensions.clear();
    // HTTP/1.1 to an origin server names only the path and query.
    parts.uri = Uri::from(path_and_query);
    parts.version = Version::HTTP_11;
    Ok(parts)
}
