//! The usual mistakes, each a guess at what happened to the request between signing and capture:
//! the captured body, URL or clock is changed back the way the mistake would have changed it and
//! verified again by the route's own verifier. The first guess that verifies is the one that fits.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::Uri;

use hookguard::body::RawBody;
use hookguard::config::Route;
use hookguard::verify::{RequestView, TimeUnit, Verifier};

use super::capture::Captured;
use super::stamp;

/// One guess: what to verify instead, and what it means when that verifies.
struct Guess {
    body: Option<Vec<u8>>,
    public_url: Option<String>,
    now: Option<SystemTime>,
    finding: String,
}

impl Guess {
    fn body(body: Vec<u8>, finding: impl Into<String>) -> Self {
        Guess {
            body: Some(body),
            public_url: None,
            now: None,
            finding: finding.into(),
        }
    }
}

/// What fits, when some guess makes the request verify.
pub fn diagnose(route: &Route, captured: &Captured, now: SystemTime) -> Option<String> {
    let mut guesses = newline_guesses(&captured.body);
    guesses.extend(json_guesses(&captured.body));
    guesses.extend(url_guesses(route, captured));
    guesses.extend(clock_guess(route, captured, now));
    guesses
        .into_iter()
        .find(|guess| verifies(route, captured, guess, now))
        .map(|guess| guess.finding)
}

fn verifies(route: &Route, captured: &Captured, guess: &Guess, now: SystemTime) -> bool {
    let body = RawBody::from(guess.body.as_deref().unwrap_or(&captured.body));
    let view = RequestView {
        method: &captured.method,
        headers: &captured.headers,
        query: captured.query(),
        body: &body,
        public_url: guess.public_url.as_deref().or(route.public_url.as_deref()),
        now: guess.now.unwrap_or(now),
    };
    route.verifier.verify(&view).is_ok()
}

/// A trailing newline lost or gained, and line endings converted.
fn newline_guesses(body: &[u8]) -> Vec<Guess> {
    let lost = "the body lost its trailing newline after signing: curl -d strips newlines \
                (send the file with --data-binary @FILE)";
    let gained = "the body gained a trailing newline after signing (echo or an editor adds one): \
                  send exactly the bytes that were signed, e.g. with printf or --data-binary";
    let mut guesses = Vec::new();
    if let Some(shorter) = body
        .strip_suffix(b"\r\n")
        .or_else(|| body.strip_suffix(b"\n"))
    {
        guesses.push(Guess::body(shorter.to_vec(), gained));
    } else {
        guesses.push(Guess::body([body, b"\n"].concat(), lost));
        guesses.push(Guess::body([body, b"\r\n"].concat(), lost));
    }
    if contains(body, b"\r\n") {
        let lf = replace(body, b"\r\n", b"\n");
        guesses.push(Guess::body(lf, "the body was signed with LF line endings and sent with CRLF (a text-mode transfer or a Windows tool converted them)"));
    } else if body.contains(&b'\n') {
        let crlf = replace(body, b"\n", b"\r\n");
        guesses.push(Guess::body(
            crlf,
            "the body was signed with CRLF line endings and sent with LF (a tool converted them)",
        ));
    }
    guesses
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack.windows(needle.len()).any(|w| w == needle)
}

fn replace(body: &[u8], from: &[u8], to: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len() + body.len() / 8);
    let mut rest = body;
    while !rest.is_empty() {
        if let Some(after) = rest.strip_prefix(from) {
            out.extend_from_slice(to);
            rest = after;
        } else {
            out.push(rest[0]);
            rest = &rest[1..];
        }
    }
    out
}

/// The JSON body as other serialisers write it: a sender that signs one serialisation and sends
/// another (or a proxy that re-serialises) breaks every byte-exact signature.
fn json_guesses(body: &[u8]) -> Vec<Guess> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(body) else {
        return Vec::new();
    };
    let compact = reshape(body, b"", b"");
    let spaced = reshape(body, b", ", b": ");
    // serde_json's Value keeps keys sorted, so these two are the sorted forms.
    let sorted = serde_json::to_vec(&value).unwrap_or_default();
    let sorted_pretty = serde_json::to_vec_pretty(&value).unwrap_or_default();
    let why = "sign and send the raw bytes, never a parsed and re-serialised copy";
    [
        (compact, "compact (no spaces)"),
        (
            spaced,
            "with \", \" and \": \" separators (Python's json.dumps)",
        ),
        (sorted, "compact with its keys sorted"),
        (sorted_pretty, "indented with its keys sorted"),
    ]
    .into_iter()
    .filter(|(candidate, _)| !candidate.is_empty() && candidate != body)
    .map(|(candidate, form)| {
        let finding =
            format!("the JSON body was re-serialised after signing: it was signed {form}; {why}");
        Guess::body(candidate, finding)
    })
    .collect()
}

/// The JSON text with whitespace outside strings removed, keys in their order, and `comma` and
/// `colon` written after each separator.
fn reshape(body: &[u8], comma: &[u8], colon: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(body.len());
    let (mut in_string, mut escaped) = (false, false);
    for &byte in body {
        if in_string {
            out.push(byte);
            in_string = escaped || byte != b'"';
            escaped = !escaped && byte == b'\\';
            continue;
        }
        match byte {
            b' ' | b'\t' | b'\r' | b'\n' => {}
            b',' if !comma.is_empty() => out.extend_from_slice(comma),
            b':' if !colon.is_empty() => out.extend_from_slice(colon),
            b'"' => {
                in_string = true;
                out.push(byte);
            }
            _ => out.push(byte),
        }
    }
    out
}

/// For schemes that sign the URL: the `public_url` with its scheme, host, port, or trailing slash
/// changed, and the URL the captured request was sent to.
fn url_guesses(route: &Route, captured: &Captured) -> Vec<Guess> {
    let Some(configured) = route.public_url.as_deref() else {
        return Vec::new();
    };
    let Ok(uri) = configured.parse::<Uri>() else {
        return Vec::new();
    };
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return Vec::new();
    };
    let schemes = [scheme, if scheme == "https" { "http" } else { "https" }];
    let mut hosts = vec![authority.as_str().to_string(), authority.host().to_string()];
    if let Some(host) = captured
        .headers
        .get(http::header::HOST)
        .and_then(|h| h.to_str().ok())
    {
        hosts.push(host.to_string());
    }
    let path = uri.path();
    let paths = [
        path.to_string(),
        toggle_slash(path),
        captured.path().to_string(),
    ];
    let mut urls: Vec<String> = Vec::new();
    for scheme in schemes {
        for host in &hosts {
            for path in &paths {
                let url = format!("{scheme}://{host}{path}");
                if url != configured && !urls.contains(&url) {
                    urls.push(url);
                }
            }
        }
    }
    urls.into_iter()
        .map(|url| url_guess(configured, url))
        .collect()
}

fn toggle_slash(path: &str) -> String {
    match path.strip_suffix('/') {
        Some(shorter) if !shorter.is_empty() => shorter.to_string(),
        Some(_) => path.to_string(),
        None => format!("{path}/"),
    }
}

fn url_guess(configured: &str, url: String) -> Guess {
    let finding = format!(
        "the sender signed the URL {url}, not public_url {configured} (they differ in {}): set public_url to the exact URL given to the provider",
        url_difference(configured, &url)
    );
    Guess {
        body: None,
        public_url: Some(url),
        now: None,
        finding,
    }
}

/// Which parts of two URLs differ: scheme, host, port, path, trailing slash.
fn url_difference(a: &str, b: &str) -> String {
    let (Ok(a), Ok(b)) = (a.parse::<Uri>(), b.parse::<Uri>()) else {
        return "form".into();
    };
    let mut parts = Vec::new();
    if a.scheme_str() != b.scheme_str() {
        parts.push("scheme");
    }
    let host = |u: &Uri| u.host().map(str::to_ascii_lowercase);
    if host(&a) != host(&b) {
        parts.push("host");
    }
    if a.port_u16() != b.port_u16() {
        parts.push("port");
    }
    if a.path() != b.path() {
        let slash = a.path().trim_end_matches('/') == b.path().trim_end_matches('/');
        parts.push(if slash { "trailing slash" } else { "path" });
    }
    parts.join(", ")
}

/// A timestamp outside the window: verified with the clock set to the timestamp, a signature that
/// then matches shows the body and secret are right and the time is what is wrong.
fn clock_guess(route: &Route, captured: &Captured, now: SystemTime) -> Option<Guess> {
    let Verifier::Signature(verifier) = &route.verifier else {
        return None;
    };
    let scheme = verifier.scheme();
    let rule = scheme.timestamp.as_ref()?;
    let stamp = stamp::read(scheme, &captured.headers, &captured.body)?;
    let at = u64::try_from(stamp.seconds?).ok()?;
    let then = UNIX_EPOCH.checked_add(Duration::from_secs(at))?;
    let now_s = now.duration_since(UNIX_EPOCH).ok()?.as_secs();
    let tolerance = rule.tolerance.map_or(300, |t| t.as_secs());
    let near = |seconds: Option<i64>| {
        seconds
            .and_then(|s| u64::try_from(s).ok())
            .is_some_and(|s| s.abs_diff(now_s) <= tolerance)
    };
    let finding = match rule.unit {
        TimeUnit::Seconds if near(stamp::seconds(&stamp.text, TimeUnit::Millis)) => {
            "the timestamp is in milliseconds where this scheme expects seconds: the sender must write Unix seconds".to_string()
        }
        TimeUnit::Millis if near(stamp::seconds(&stamp.text, TimeUnit::Seconds)) => {
            "the timestamp is in seconds where this scheme expects milliseconds: the sender must write Unix milliseconds".to_string()
        }
        _ => format!(
            "the signature matches but the timestamp is {} s from now, outside the window: a replayed or long-delayed delivery, or a clock that is off",
            i64::try_from(now_s).unwrap_or(i64::MAX).saturating_sub(stamp.seconds?)
        ),
    };
    Some(Guess {
        body: None,
        public_url: None,
        now: Some(then),
        finding,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reshape_keeps_key_order_and_string_contents() {
        let body = br#"{ "b" : "x, y: \"z\"" ,
  "a": [1, 2] }"#;
        assert_eq!(reshape(body, b"", b""), br#"{"b":"x, y: \"z\"","a":[1,2]}"#);
        assert_eq!(
            reshape(body, b", ", b": "),
            br#"{"b": "x, y: \"z\"", "a": [1, 2]}"#
        );
    }

    #[test]
    fn url_differences_are_named() {
        let d = url_difference("https://h.example/x", "http://h.example:8080/x/");
        assert_eq!(d, "scheme, port, trailing slash");
    }
}
