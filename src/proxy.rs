//! The per-request pipeline (route, bound the body, verify, forward, relay) and the header rules for
//! what reaches the app and what comes back.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};
use http::request::Parts;
use http::{Request, Response, Uri, Version};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::config::{Config, Route, Unmatched, Upstream};
use crate::response::Refusal;
use crate::routing;
use crate::smuggling::HeadVerdicts;

/// Our own small answers, or the app's streamed body.
pub type ProxyBody = Either<Full<Bytes>, Incoming>;

/// Marks a verified delivery for the app; never accepted from outside.
pub const ROUTE_HEADER: &str = "x-hookguard-route";
/// Every header whose name starts with this (in either `-` or `_` spelling) is hookguard's alone.
const RESERVED_PREFIX: &str = "x-hookguard-";

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
}

pub struct Proxy {
    config: Arc<Config>,
    client: Client<HttpConnector, Full<Bytes>>,
}

/// How a request ended, for the log line.
struct Outcome<'c> {
    route: Option<&'c str>,
    result: Result<Response<Incoming>, Refusal>,
    verified: bool,
}

impl Proxy {
    pub fn new(config: Arc<Config>) -> Self {
        let mut connector = HttpConnector::new();
        connector.set_nodelay(true);
        connector.set_connect_timeout(Some(Duration::from_secs(5)));
        let client = Client::builder(TokioExecutor::new())
            .pool_idle_timeout(Duration::from_secs(60))
            .build(connector);
        Proxy { config, client }
    }

    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Serves one request and writes its one log line.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<ProxyBody> {
        let started = Instant::now();
        let method = request.method().clone();
        let path = request.uri().path().to_string();
        let outcome = self.process(request, conn).await;
        let latency_ms = format!("{:.3}", started.elapsed().as_secs_f64() * 1000.0);
        let route = outcome.route.unwrap_or("-");
        match outcome.result {
            Ok(response) => {
                let kind = if outcome.verified {
                    "forwarded"
                } else {
                    "forwarded_unverified"
                };
                tracing::info!(
                    route = %route, %method, path = %path, peer = %conn.peer.ip(), outcome = %kind,
                    status = response.status().as_u16(), latency_ms = %latency_ms, "request"
                );
                response.map(Either::Right)
            }
            Err(refusal) => {
                let status = refusal.status().as_u16();
                tracing::info!(
                    route = %route, %method, path = %path, peer = %conn.peer.ip(), outcome = %"refused",
                    reason = %refusal.reason(), status, latency_ms = %latency_ms, "request"
                );
                refusal.into_response().map(Either::Left)
            }
        }
    }

    async fn process(&self, request: Request<Incoming>, conn: &ConnectionInfo) -> Outcome<'_> {
        // Refusals before a route is found carry no route name.
        let refused = |refusal| Outcome {
            route: None,
            result: Err(refusal),
            verified: false,
        };
        let (parts, body) = request.into_parts();
        if has_ambiguous_length(&parts, conn) {
            return refused(Refusal::AmbiguousLength);
        }
        let route = match routing::lookup(&self.config.routes, |r| &r.pattern, parts.uri.path()) {
            Err(why) => return refused(Refusal::NonCanonicalPath(why)),
            Ok(Some(route)) => route,
            Ok(None) => {
                if self.config.unmatched == Unmatched::Reject {
                    return refused(Refusal::NoRoute);
                }
                let result = self.forward_unmatched(parts, body, conn).await;
                return Outcome {
                    route: None,
                    result,
                    verified: false,
                };
            }
        };
        let result = self.verify_and_forward(route, parts, body, conn).await;
        let verified = result.is_ok();
        Outcome {
            route: Some(&route.name),
            result,
            verified,
        }
    }

    async fn verify_and_forward(
        &self,
        route: &Route,
        parts: Parts,
        body: Incoming,
        conn: &ConnectionInfo,
    ) -> Result<Response<Incoming>, Refusal> {
        if !route.methods.contains(&parts.method) {
            let allow = HeaderValue::from_str(&route.allow_header())
                .unwrap_or_else(|_| HeaderValue::from_static(""));
            return Err(Refusal::MethodNotAllowed { allow });
        }
        refuse_declared_oversize(&parts.headers, route.max_body)?;
        route
            .verifier
            .precheck(&parts)
            .map_err(Refusal::InvalidSignature)?;
        let body = read_bounded(body, route.max_body).await?;
        route
            .verifier
            .verify(&parts, &body)
            .map_err(Refusal::InvalidSignature)?;
        let query = route.verifier.forwarded_query(parts.uri.query());
        let request = upstream_request(
            &parts,
            body,
            &route.upstream,
            query,
            conn.peer,
            Some(&route.name),
        )?;
        self.send(request).await
    }

    /// `unmatched: forward`: no verification, but the same body bound and header rules.
    async fn forward_unmatched(
        &self,
        parts: Parts,
        body: Incoming,
        conn: &ConnectionInfo,
    ) -> Result<Response<Incoming>, Refusal> {
        let max_body = self.config.max_body;
        refuse_declared_oversize(&parts.headers, max_body)?;
        let body = read_bounded(body, max_body).await?;
        let query = parts.uri.query().map(Cow::Borrowed);
        let request =
            upstream_request(&parts, body, &self.config.upstream, query, conn.peer, None)?;
        self.send(request).await
    }

    async fn send(&self, request: Request<Full<Bytes>>) -> Result<Response<Incoming>, Refusal> {
        let response = self.client.request(request).await.map_err(|error| {
            tracing::warn!(error = %error, "upstream request failed");
            if error.is_connect() {
                Refusal::UpstreamUnreachable
            } else {
                Refusal::UpstreamFailed
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

/// Reads the whole body, refusing it as soon as it grows past `max_body` (chunked bodies included).
async fn read_bounded(body: Incoming, max_body: u64) -> Result<Bytes, Refusal> {
    let limit = usize::try_from(max_body).unwrap_or(usize::MAX);
    match Limited::new(body, limit).collect().await {
        Ok(collected) => Ok(collected.to_bytes()),
        Err(error) if error.is::<http_body_util::LengthLimitError>() => Err(Refusal::BodyTooLarge),
        Err(_) => Err(Refusal::BodyUnreadable),
    }
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

fn remove_hop_by_hop(headers: &mut HeaderMap) {
    for name in connection_listed(headers) {
        headers.remove(name.as_str());
    }
    for name in HOP_BY_HOP {
        headers.remove(name);
    }
}

/// The headers the app receives: the client's, less hop-by-hop, framing and spoofable ones, plus
/// hookguard's own forwarding facts.
fn forwarded_headers(
    incoming: &HeaderMap,
    authority: Option<&http::uri::Authority>,
    peer: SocketAddr,
    body_len: usize,
    route: Option<&str>,
) -> HeaderMap {
    let listed = connection_listed(incoming);
    let mut headers = HeaderMap::with_capacity(incoming.len() + FORWARDING_HEADERS.len() + 2);
    for (name, value) in incoming {
        let folded = folded_name(name);
        let dropped = HOP_BY_HOP.contains(&folded.as_ref())
            || listed.iter().any(|l| l == name.as_str())
            || name == header::CONTENT_LENGTH
            || name == header::EXPECT
            || FORWARDING_HEADERS.contains(&folded.as_ref())
            || folded.starts_with(RESERVED_PREFIX);
        if !dropped {
            headers.append(name.clone(), value.clone());
        }
    }
    // HTTP/2 carries the host as :authority; an HTTP/1.1 app needs it as Host.
    if !headers.contains_key(header::HOST) {
        if let Some(value) = authority.and_then(|a| HeaderValue::from_str(a.as_str()).ok()) {
            headers.insert(header::HOST, value);
        }
    }
    let ip = peer.ip();
    let ip_text = ip.to_string();
    if let Ok(value) = HeaderValue::from_str(&ip_text) {
        headers.insert("x-forwarded-for", value.clone());
        headers.insert("x-real-ip", value);
    }
    headers.insert("x-forwarded-proto", HeaderValue::from_static("http"));
    let node = match ip {
        IpAddr::V4(_) => ip_text,
        IpAddr::V6(_) => format!("\"[{ip_text}]\""),
    };
    let mut forwarded = format!("for={node};proto=http");
    if let Some(host) = headers.get(header::HOST).cloned() {
        headers.insert("x-forwarded-host", host.clone());
        if let Ok(host) = host.to_str() {
            forwarded.push_str(&format!(";host=\"{host}\""));
        }
    }
    if let Ok(value) = HeaderValue::from_str(&forwarded) {
        headers.insert("forwarded", value);
    }
    headers.insert(header::CONTENT_LENGTH, HeaderValue::from(body_len));
    if let Some(value) = route.and_then(|r| HeaderValue::from_str(r).ok()) {
        headers.insert(ROUTE_HEADER, value);
    }
    headers
}

fn upstream_request(
    parts: &Parts,
    body: Bytes,
    upstream: &Upstream,
    query: Option<Cow<'_, str>>,
    peer: SocketAddr,
    route: Option<&str>,
) -> Result<Request<Full<Bytes>>, Refusal> {
    let path_and_query = match query {
        Some(query) => format!("{}?{query}", parts.uri.path()),
        None => parts.uri.path().to_string(),
    };
    let uri = Uri::builder()
        .scheme(upstream.scheme.clone())
        .authority(upstream.authority.clone())
        .path_and_query(path_and_query)
        .build()
        .map_err(|_| Refusal::NonCanonicalPath(routing::NonCanonical::NotAbsolute))?;
    let headers = forwarded_headers(
        &parts.headers,
        parts.uri.authority(),
        peer,
        body.len(),
        route,
    );
    let mut request = Request::new(Full::new(body));
    *request.method_mut() = parts.method.clone();
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
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
        let out = forwarded_headers(&incoming, None, peer(), 12, Some("drivewidget"));
        for gone in [
            "connection",
            "x-drop-me",
            "keep-alive",
            "te",
            "trailer",
            "upgrade",
            "proxy-connection",
            "expect",
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
        let out = forwarded_headers(&HeaderMap::new(), Some(&authority), v6, 0, None);
        assert_eq!(out["host"], "hooks.example.com:8443");
        assert_eq!(
            out["forwarded"],
            "for=\"[2001:db8::1]\";proto=http;host=\"hooks.example.com:8443\""
        );
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
