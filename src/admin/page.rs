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
