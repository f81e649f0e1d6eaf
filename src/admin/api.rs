//! The admin API over the spool: `/api/spool` (counts), `/api/dead-letters` (list), replaying and
//! dropping dead letters. Answers are JSON built with serde_json; a dead letter is shown without
//! its body, headers or query string, which may hold secrets or personal data.

use std::net::SocketAddr;
use std::time::SystemTime;

use http::request::Parts;
use http::{Method, StatusCode};
use serde_json::{json, Value};

use super::reply::{self, error, json, Answer};
use super::Admin;
use crate::config::DeliveryMode;
use crate::delivery::{DeadLetter, DeliveryId, Queue, Spool, SpoolError};

const DEFAULT_LIMIT: usize = 100;
const MAX_LIMIT: usize = 1000;

/// What a request asks for, once its method and path are known to fit.
enum Endpoint {
    Spool,
    List,
    ReplayOne(String),
    ReplayRoute,
    Drop(String),
}

/// Why a request is answered before the token and the spool are looked at: small, so `Result`s
/// carrying it stay cheap; [`Refusal::answer`] builds the response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    NotFound,
    /// The methods the path takes.
    NotAllowed(&'static str),
    BadRequest(&'static str),
}

impl Refusal {
    fn answer(self) -> Answer {
        match self {
            Refusal::NotFound => reply::not_found(),
            Refusal::NotAllowed(allow) => reply::not_allowed(allow),
            Refusal::BadRequest(message) => error(StatusCode::BAD_REQUEST, message),
        }
    }
}

impl Endpoint {
    /// POST and DELETE change the spool, so they always need the token.
    fn changes(&self) -> bool {
        matches!(
            self,
            Endpoint::ReplayOne(_) | Endpoint::ReplayRoute | Endpoint::Drop(_)
        )
    }
}

/// Routing, then the token, then the spool: an unknown path is 404 and a wrong method 405 before
/// anything else, so neither needs the token to be told.
pub(super) async fn answer(admin: &Admin, parts: &Parts, peer: SocketAddr) -> Answer {
    let endpoint = match endpoint(&parts.method, parts.uri.path()) {
        Ok(endpoint) => endpoint,
        Err(refusal) => return refusal.answer(),
    };
    if let Some(denied) = super::gate(admin, endpoint.changes(), &parts.headers) {
        return denied;
    }
    let Some(queue) = admin.queue.as_deref() else {
        return error(StatusCode::NOT_FOUND, "no spool configured");
    };
    let query = parts.uri.query().unwrap_or("");
    match endpoint {
        Endpoint::Spool => spool(admin, queue).await,
        Endpoint::List => list(queue, query).await,
        Endpoint::ReplayOne(id) => replay_one(queue, &id, peer).await,
        Endpoint::ReplayRoute => replay_route(admin, queue, query, peer).await,
        Endpoint::Drop(id) => drop_one(queue, &id, peer).await,
    }
}

fn endpoint(method: &Method, path: &str) -> Result<Endpoint, Refusal> {
    let read = method == Method::GET || method == Method::HEAD;
    let post = method == Method::POST;
    match path {
        "/api/spool" if read => Ok(Endpoint::Spool),
        "/api/spool" => Err(Refusal::NotAllowed("GET, HEAD")),
        "/api/dead-letters" if read => Ok(Endpoint::List),
        "/api/dead-letters" => Err(Refusal::NotAllowed("GET, HEAD")),
        // Ids are hex, so "replay" is never one.
        "/api/dead-letters/replay" if post => Ok(Endpoint::ReplayRoute),
        "/api/dead-letters/replay" => Err(Refusal::NotAllowed("POST")),
        _ => one_dead_letter(method, path),
    }
}

/// `/api/dead-letters/{id}/replay` (POST) and `/api/dead-letters/{id}` (DELETE).
fn one_dead_letter(method: &Method, path: &str) -> Result<Endpoint, Refusal> {
    let rest = path
        .strip_prefix("/api/dead-letters/")
        .ok_or(Refusal::NotFound)?;
    if let Some(id) = rest.strip_suffix("/replay").filter(|id| !id.contains('/')) {
        return match *method {
            Method::POST => Ok(Endpoint::ReplayOne(id.to_owned())),
            _ => Err(Refusal::NotAllowed("POST")),
        };
    }
    if rest.is_empty() || rest.contains('/') {
        return Err(Refusal::NotFound);
    }
    match *method {
        Method::DELETE => Ok(Endpoint::Drop(rest.to_owned())),
        _ => Err(Refusal::NotAllowed("DELETE")),
    }
}

/// Counts for every queue route in the config (zeros included) and any route the spool still
/// holds deliveries for.
async fn spool(admin: &Admin, queue: &Queue) -> Answer {
    let counts = match queue.spool.counts(SystemTime::now()).await {
        Ok(counts) => counts,
        Err(error) => return unavailable(&error),
    };
    let live = admin.live.load();
    let mut routes = counts.routes;
    for route in &live.config.routes {
        if matches!(route.delivery, DeliveryMode::Queue(_)) {
            routes.entry(route.name.clone()).or_default();
        }
    }
    let routes: Vec<Value> = routes
        .iter()
        .map(|(name, c)| {
            json!({
                "route": name,
                "pending": c.pending,
                "in_flight": c.in_flight,
                "dead": c.dead,
                "oldest_pending_seconds": c.oldest_pending_age.as_secs(),
            })
        })
        .collect();
    let max_bytes = live.config.spool.as_ref().map_or(0, |s| s.max_bytes);
    let body = json!({ "routes": routes, "bytes": counts.bytes, "max_bytes": max_bytes });
    json(StatusCode::OK, &body)
}

async fn list(queue: &Queue, query: &str) -> Answer {
    let limit = match limit(query) {
        Ok(limit) => limit,
        Err(refusal) => return refusal.answer(),
    };
    let route = param(query, "route");
    match queue.spool.dead_letters(route.as_deref(), limit).await {
        Ok(letters) => {
            let letters: Vec<Value> = letters.iter().map(dead_letter).collect();
            json(StatusCode::OK, &json!({ "dead_letters": letters }))
        }
        Err(error) => unavailable(&error),
    }
}

/// A dead letter as operators see it: never the body, a header, the query string or a secret.
fn dead_letter(letter: &DeadLetter) -> Value {
    json!({
        "id": letter.id.as_str(),
        "route": letter.route,
        "received_at": humantime::format_rfc3339_seconds(letter.received_at).to_string(),
        "attempts": letter.attempts,
        "last_status": letter.last.as_ref().and_then(|last| last.status),
        "last_error": letter.last.as_ref().map(|last| last.error.as_str()),
        "reason": letter.reason.as_str(),
        "event": letter.event,
        "delivery": letter.provider_delivery,
        "size": letter.size,
    })
}

/// `limit`, 1 to 1000, 100 when absent; anything else is the client's mistake.
fn limit(query: &str) -> Result<usize, Refusal> {
    let Some(text) = param(query, "limit") else {
        return Ok(DEFAULT_LIMIT);
    };
    text.parse::<usize>()
        .ok()
        .filter(|n| (1..=MAX_LIMIT).contains(n))
        .ok_or(Refusal::BadRequest(
            "limit must be a whole number from 1 to 1000",
        ))
}

/// The first value of `name` in a query string, percent-decoded.
pub(super) fn param(query: &str, name: &str) -> Option<String> {
    query.split('&').find_map(|pair| {
        let (key, value) = pair.split_once('=').unwrap_or((pair, ""));
        (key == name).then(|| {
            percent_encoding::percent_decode_str(&value.replace('+', " "))
                .decode_utf8_lossy()
                .into_owned()
        })
    })
}

async fn replay_one(queue: &Queue, id: &str, peer: SocketAddr) -> Answer {
    let Some(id) = DeliveryId::parse(id) else {
        return reply::not_found();
    };
    match queue.spool.replay(&id).await {
        Ok(()) => {
            // The dispatcher may be asleep until its next retry is due; this one is due now.
            queue.wake.notify_one();
            tracing::info!(%id, %peer, result = "replayed", "admin: dead letter replay");
            json(StatusCode::ACCEPTED, &json!({ "replayed": 1 }))
        }
        Err(SpoolError::NotFound { .. }) => {
            tracing::info!(%id, %peer, result = "not_found", "admin: dead letter replay");
            reply::not_found()
        }
        Err(error) => unavailable(&error),
    }
}

/// Replays a queue route's dead letters. A route that is not a queue route in the config in
/// force is refused: nothing would claim what it made pending.
async fn replay_route(admin: &Admin, queue: &Queue, query: &str, peer: SocketAddr) -> Answer {
    let Some(route) = param(query, "route").filter(|r| !r.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "give the route: ?route=NAME");
    };
    let live = admin.live.load();
    let queued = live
        .config
        .routes
        .iter()
        .any(|r| r.name == route && matches!(r.delivery, DeliveryMode::Queue(_)));
    if !queued {
        return error(StatusCode::NOT_FOUND, "no queue route by that name");
    }
    match queue.spool.replay_route(&route).await {
        Ok(replayed) => {
            queue.wake.notify_one();
            tracing::info!(%route, replayed, %peer, result = "replayed", "admin: route replay");
            json(StatusCode::ACCEPTED, &json!({ "replayed": replayed }))
        }
        Err(error) => unavailable(&error),
    }
}

async fn drop_one(queue: &Queue, id: &str, peer: SocketAddr) -> Answer {
    let Some(id) = DeliveryId::parse(id) else {
        return reply::not_found();
    };
    match queue.spool.drop_dead(&id).await {
        Ok(()) => {
            tracing::info!(%id, %peer, result = "dropped", "admin: dead letter drop");
            reply::no_content()
        }
        Err(SpoolError::NotFound { .. }) => {
            tracing::info!(%id, %peer, result = "not_found", "admin: dead letter drop");
            reply::not_found()
        }
        Err(error) => unavailable(&error),
    }
}

/// The store failed: 503, the cause in the log only.
fn unavailable(cause: &SpoolError) -> Answer {
    tracing::warn!(error = %cause, "admin: the spool did not answer");
    error(StatusCode::SERVICE_UNAVAILABLE, "spool unavailable")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_methods() {
        let get = Method::GET;
        assert!(matches!(endpoint(&get, "/api/spool"), Ok(Endpoint::Spool)));
        assert!(matches!(
            endpoint(&get, "/api/dead-letters"),
            Ok(Endpoint::List)
        ));
        assert!(matches!(
            endpoint(&Method::POST, "/api/dead-letters/replay"),
            Ok(Endpoint::ReplayRoute)
        ));
        assert!(matches!(
            endpoint(&Method::POST, "/api/dead-letters/abc/replay"),
            Ok(Endpoint::ReplayOne(id)) if id == "abc"
        ));
        assert!(matches!(
            endpoint(&Method::DELETE, "/api/dead-letters/abc"),
            Ok(Endpoint::Drop(id)) if id == "abc"
        ));
        for (method, path, status) in [
            (Method::PUT, "/api/spool", 405),
            (Method::DELETE, "/api/dead-letters", 405),
            (Method::GET, "/api/dead-letters/replay", 405),
            (Method::GET, "/api/dead-letters/abc", 405),
            (Method::GET, "/api/dead-letters/abc/replay", 405),
            (Method::GET, "/api/nothing", 404),
            (Method::DELETE, "/api/dead-letters/a/b", 404),
            (Method::DELETE, "/api/dead-letters/", 404),
        ] {
            let refusal = endpoint(&method, path).err().expect(path);
            assert_eq!(
                refusal.answer().status().as_u16(),
                status,
                "{method} {path}"
            );
        }
    }

    #[test]
    fn query_values_are_decoded_and_limits_checked() {
        assert_eq!(
            param("a=1&route=my%20route", "route").as_deref(),
            Some("my route")
        );
        assert_eq!(param("route", "route").as_deref(), Some(""));
        assert_eq!(param("routes=x", "route"), None);
        assert_eq!(limit("").ok(), Some(100));
        assert_eq!(limit("limit=1000").ok(), Some(1000));
        for bad in ["limit=0", "limit=1001", "limit=-1", "limit=ten", "limit="] {
            assert!(limit(bad).is_err(), "{bad}");
        }
    }
}
