//! Header policy: what of the client's head reaches the app, what hookguard adds (forwarding facts
//! and its mark), and which of the app's headers go back.

use std::borrow::Cow;
use std::net::{IpAddr, SocketAddr};

use bytes::Bytes;
use http::header::{self, HeaderMap, HeaderName, HeaderValue};

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
/// The marks as names made once: inserting by `&str` parses and hashes the name on every request.
const ROUTE_HEADER_NAME: HeaderName = HeaderName::from_static(ROUTE_HEADER);
const SHADOW_HEADER_NAME: HeaderName = HeaderName::from_static(SHADOW_HEADER);

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

/// How the app is told what hookguard made of a request.
#[derive(Clone, Copy)]
pub enum Mark<'a> {
    /// Verified on this route: `X-Hookguard-Route`, its value made at config load.
    Verified(&'a HeaderValue),
    /// Shadow mode: `X-Hookguard-Shadow` with `ok` or the reason it would have been refused.
    Shadow(&'static str),
    /// `unmatched: forward`: nothing.
    Unverified,
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
pub fn remove_hop_by_hop(headers: &mut HeaderMap) {
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
pub fn rewrite_headers(
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
    let client_length = headers.remove(header::CONTENT_LENGTH);
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
    add_forwarding(headers, peer, chain);
    headers.insert(
        header::CONTENT_LENGTH,
        content_length(client_length, body_len),
    );
    let (name, value) = match mark {
        Mark::Verified(route) => (ROUTE_HEADER_NAME, route.clone()),
        Mark::Shadow(verdict) => (SHADOW_HEADER_NAME, HeaderValue::from_static(verdict)),
        Mark::Unverified => return,
    };
    headers.insert(name, value);
}

/// The Content-Length for the app: the client's own value where it already reads exactly as
/// `body_len` would be written (plain digits, no leading zero), which shares its bytes instead of
/// allocating new ones; otherwise `body_len` written out.
fn content_length(client: Option<HeaderValue>, body_len: usize) -> HeaderValue {
    let canonical = |value: &HeaderValue| {
        let digits = value.as_bytes();
        !digits.is_empty()
            && digits.iter().all(u8::is_ascii_digit)
            && (digits.len() == 1 || digits[0] != b'0')
            && value
                .to_str()
                .ok()
                .and_then(|text| text.parse::<usize>().ok())
                == Some(body_len)
    };
    match client {
        Some(value) if canonical(&value) => value,
        _ => HeaderValue::from(body_len),
    }
}

/// `for=<ip>;proto=<proto>;host="<host>"`, written into one allocation of exactly its length (so
/// that it becomes a header value without another copy).
fn forwarded_element(peer: &PeerHeaders, host: Option<&str>) -> String {
    const HOST_PARAM: &str = ";host=\"";
    let length = peer.forwarded.len() + host.map_or(0, |host| HOST_PARAM.len() + host.len() + 1);
    let mut ours = String::with_capacity(length);
    ours.push_str(&peer.forwarded);
    if let Some(host) = host {
        ours.push_str(HOST_PARAM);
        ours.push_str(host);
        ours.push('"');
    }
    ours
}

/// Sets the five forwarding headers: from what hookguard saw of the peer, extending a trusted
/// proxy's chain where there is one.
fn add_forwarding(headers: &mut HeaderMap, peer: &PeerHeaders, chain: Option<TrustedChain>) {
    let host = headers.get(header::HOST).cloned();
    let ours = forwarded_element(peer, host.as_ref().and_then(|h| h.to_str().ok()));
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
            HeaderValue::from_maybe_shared(Bytes::from(ours.into_bytes())).ok(),
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
    fn the_apps_content_length_is_the_body_length_written_plainly() {
        for (client, body_len, sent) in [
            (Some("12"), 12, "12"),
            (Some("012"), 12, "12"),
            (Some("+12"), 12, "12"),
            (Some("13"), 12, "12"),
            (Some("0"), 0, "0"),
            (None, 7, "7"),
        ] {
            let value = client.map(HeaderValue::from_static);
            assert_eq!(content_length(value, body_len), sent, "{client:?}");
        }
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
