//! The journal's read API: `/api/deliveries` (recent requests, newest first), `/api/routes` (each
//! route with its counts since start) and `/api/deliveries/stream` (the live feed). Reads only,
//! under the same token rule as the spool API.

use http::request::Parts;
use http::{header, HeaderValue, Method, Response, StatusCode};
use http_body_util::Either;
use serde_json::{json, Value};

use super::api::param;
use super::journal::Counts;
use super::reply::{self, error, json, Answer};
use super::{feed, Admin};
use crate::config::DeliveryMode;

const DEFAULT_LIMIT: usize = 100;
/// The most `admin_recent` allows; the journal never holds more.
const MAX_LIMIT: usize = 100_000;

enum Endpoint {
    Deliveries,
    Stream,
    Routes,
}

/// The answer for a journal path, or `None` for a path that is not one of these.
pub(super) fn answer(admin: &Admin, parts: &Parts) -> Option<Answer> {
    let endpoint = match parts.uri.path() {
        "/api/deliveries" => Endpoint::Deliveries,
        "/api/deliveries/stream" => Endpoint::Stream,
        "/api/routes" => Endpoint::Routes,
        _ => return None,
    };
    let read = parts.method == Method::GET
        || (parts.method == Method::HEAD && !matches!(endpoint, Endpoint::Stream));
    if !read {
        return Some(reply::not_allowed(match endpoint {
            Endpoint::Stream => "GET",
            _ => "GET, HEAD",
        }));
    }
    if let Some(denied) = super::gate(admin, false, &parts.headers) {
        return Some(denied);
    }
    let query = parts.uri.query().unwrap_or("");
    Some(match endpoint {
        Endpoint::Deliveries => deliveries(admin, query),
        Endpoint::Stream => stream(admin),
        Endpoint::Routes => routes(admin),
    })
}

/// `?route=&outcome=&limit=`: an empty or absent filter keeps everything.
fn deliveries(admin: &Admin, query: &str) -> Answer {
    let Some(limit) = limit(query) else {
        return error(
            StatusCode::BAD_REQUEST,
            "limit must be a whole number from 1 to 100000",
        );
    };
    let route = param(query, "route").filter(|r| !r.is_empty());
    let outcome = param(query, "outcome").filter(|o| !o.is_empty());
    let entries = admin.journal.recent(limit, |entry| {
        route.as_deref().is_none_or(|r| r == entry.route.as_str())
            && outcome.as_deref().is_none_or(|o| o == entry.outcome)
    });
    let deliveries: Vec<Value> = entries.iter().map(|entry| entry.to_json()).collect();
    json(StatusCode::OK, &json!({ "deliveries": deliveries }))
}

fn limit(query: &str) -> Option<usize> {
    match param(query, "limit") {
        None => Some(DEFAULT_LIMIT),
        Some(text) => text
            .parse::<usize>()
            .ok()
            .filter(|n| (1..=MAX_LIMIT).contains(n)),
    }
}

/// The routes in force with their counts, then any label counted that is no route now: requests
/// that matched none (`-`) and routes a reload removed.
fn routes(admin: &Admin) -> Answer {
    let mut counts = admin.journal.counts();
    let live = admin.live.load();
    let mut routes: Vec<Value> = live
        .config
        .routes
        .iter()
        .map(|route| {
            let mode = match route.delivery {
                DeliveryMode::Direct => "direct",
                DeliveryMode::Queue(_) => "queue",
            };
            let counted = counts.remove(&route.name).unwrap_or_default();
            json!({
                "name": route.name,
                "path": route.pattern.to_string(),
                "scheme": route.scheme_label,
                "mode": mode,
                "outcomes": counted.outcomes,
                "reasons": counted.reasons,
            })
        })
        .collect();
    routes.extend(
        counts
            .into_iter()
            .map(|(name, counted)| other(&name, &counted)),
    );
    json(StatusCode::OK, &json!({ "routes": routes }))
}

fn other(name: &str, counted: &Counts) -> Value {
    json!({
        "name": name,
        "path": null,
        "scheme": null,
        "mode": null,
        "outcomes": counted.outcomes,
        "reasons": counted.reasons,
    })
}

/// `text/event-stream`, never cached, and not buffered by a proxy in front.
fn stream(admin: &Admin) -> Answer {
    let mut response = Response::new(Either::Right(feed::open(&admin.journal)));
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("text/event-stream"),
    );
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    headers.insert("x-accel-buffering", HeaderValue::from_static("no"));
    response
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits() {
        assert_eq!(limit(""), Some(100));
        assert_eq!(limit("limit=100000"), Some(100_000));
        for bad in ["limit=0", "limit=100001", "limit=x", "limit="] {
            assert_eq!(limit(bad), None, "{bad}");
        }
    }
}
