//! The admin listener's answers: plain text for the probes, JSON for the API, and the API's
//! error bodies, each built in one place so every error has the same shape.

use bytes::Bytes;
use http::{header, HeaderValue, Response, StatusCode};
use http_body_util::{Either, Full};

use super::feed::Feed;

/// A whole body, or the live feed's endless one.
pub type Answer = Response<Either<Full<Bytes>, Feed>>;

pub fn text(status: StatusCode, content_type: &'static str, body: impl Into<Bytes>) -> Answer {
    let mut response = Response::new(Either::Left(Full::new(body.into())));
    *response.status_mut() = status;
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}

/// A JSON answer; `no-store` because dead letters and counts change and may be sensitive.
pub fn json(status: StatusCode, value: &serde_json::Value) -> Answer {
    let mut response = text(status, "application/json", value.to_string());
    response
        .headers_mut()
        .insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

/// `{"error": message}` with `status`.
pub fn error(status: StatusCode, message: &str) -> Answer {
    json(status, &serde_json::json!({ "error": message }))
}

pub fn not_found() -> Answer {
    error(StatusCode::NOT_FOUND, "not found")
}

/// 405 naming the methods the path takes.
pub fn not_allowed(allow: &'static str) -> Answer {
    let mut response = error(StatusCode::METHOD_NOT_ALLOWED, "method not allowed");
    response
        .headers_mut()
        .insert(header::ALLOW, HeaderValue::from_static(allow));
    response
}

/// 401, with the scheme a client should use.
pub fn unauthorized() -> Answer {
    let mut response = error(StatusCode::UNAUTHORIZED, "unauthorized");
    response
        .headers_mut()
        .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
    response
}

/// 204, no body.
pub fn no_content() -> Answer {
    let mut response = Response::new(Either::Left(Full::new(Bytes::new())));
    *response.status_mut() = StatusCode::NO_CONTENT;
    response
}
