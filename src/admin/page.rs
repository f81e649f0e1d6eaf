//! The inspector: one page and its script and style, compiled into the binary, served on the admin
//! port under a Content-Security-Policy that lets them load nothing from anywhere else.

use http::{header, HeaderValue, Method, StatusCode};

use super::reply::{self, text, Answer};

const PAGE: &str = include_str!("inspector/index.html");
const SCRIPT: &str = include_str!("inspector/inspector.js");
const STYLE: &str = include_str!("inspector/inspector.css");

/// Only this origin, only for script, style and the API; no inline code, frames, forms or plugins.
const POLICY: &str = "default-src 'none'; script-src 'self'; style-src 'self'; \
     connect-src 'self'; img-src 'self'; base-uri 'none'; form-action 'none'; \
     frame-ancestors 'none'";

/// The page or one of its assets, or `None` for any other path.
pub(super) fn answer(method: &Method, path: &str) -> Option<Answer> {
    let (content_type, body) = match path {
        "/" => ("text/html; charset=utf-8", PAGE),
        "/inspector.js" => ("text/javascript; charset=utf-8", SCRIPT),
        "/inspector.css" => ("text/css; charset=utf-8", STYLE),
        _ => return None,
    };
    if method != Method::GET && method != Method::HEAD {
        return Some(reply::not_allowed("GET, HEAD"));
    }
    let mut response = text(StatusCode::OK, content_type, body);
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_SECURITY_POLICY,
        HeaderValue::from_static(POLICY),
    );
    headers.insert(
        header::X_CONTENT_TYPE_OPTIONS,
        HeaderValue::from_static("nosniff"),
    );
    headers.insert(
        header::REFERRER_POLICY,
        HeaderValue::from_static("no-referrer"),
    );
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-cache"));
    Some(response)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The snake_case strings a `match` arm maps to in `source`.
    fn reasons(source: &str) -> Vec<&str> {
        source
            .lines()
            .filter_map(|line| line.split_once("=> \"").map(|(_, rest)| rest))
            .filter_map(|rest| rest.split_once('"').map(|(reason, _)| reason))
            .filter(|reason| reason.bytes().all(|b| b.is_ascii_lowercase() || b == b'_'))
            .collect()
    }

    /// Every reason the proxy records, read from the code that names them, is spelled out by the
    /// page: a reason added later without words fails here.
    #[test]
    fn the_page_spells_out_every_reason() {
        let refusal = include_str!("../proxy/refusal.rs");
        let start = refusal.find("pub fn reason").expect("Refusal::reason");
        let body = start + "pub fn reason".len();
        let end = refusal[body..]
            .find("fn ")
            .map_or(refusal.len(), |n| body + n);
        let rejection = include_str!("../verify/mod.rs");
        let rejection = &rejection[rejection.find("impl Rejection").expect("Rejection")..];
        let mut all = reasons(&refusal[start..end]);
        all.extend(reasons(&rejection[..rejection.find("\n}\n").expect("end")]));
        all.extend(reasons(include_str!("../routing.rs")));
        all.push("client_closed_request");
        assert!(all.len() > 35, "{all:?}");
        for reason in all {
            assert!(SCRIPT.contains(&format!("  {reason}: \"")), "{reason}");
        }
    }

    #[test]
    fn every_response_carries_the_policy() {
        for path in ["/", "/inspector.js", "/inspector.css"] {
            let answer = answer(&Method::GET, path).expect(path);
            assert_eq!(answer.status(), StatusCode::OK);
            assert!(answer
                .headers()
                .contains_key(header::CONTENT_SECURITY_POLICY));
        }
        assert!(answer(&Method::GET, "/other").is_none());
    }
}
