//! One route, built from its YAML in small steps (name and path, secrets, verification, filters,
//! limits), each reporting its own problems so a route with two mistakes shows both.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use super::error::{invalid, Problem, Problems};
use super::raw::{RawRateLimit, RawRoute, RawSecret};
use super::values::{load_secret, parse_methods, parse_size, parse_upstream};
use super::verifier::{self, Built, Choice, SnsOptions};
use super::{Route, Upstream};
use crate::clientip::Cidr;
use crate::ratelimit::RateLimiter;
use crate::routing::PathPattern;
use crate::verify::handshake::VerifyToken;
use crate::verify::Secret;

/// How long before a route's last secret stops matching `check` and `run` start to say so.
const EXPIRY_NOTICE: Duration = Duration::from_secs(7 * 24 * 3600);

/// What a route falls back to for the keys it leaves out, and what it is checked against.
/// `upstream` and `max_body` are `None` only where the top level's own value was invalid.
#[derive(Clone, Copy)]
pub(super) struct Defaults<'d> {
    pub upstream: Option<&'d Upstream>,
    pub max_body: Option<u64>,
    /// Whether a top-level `spool` exists for `delivery: {mode: queue}`.
    pub spool: bool,
    pub upstream_timeout: Duration,
}

/// The route at `routes[index]`, or `None` with every problem found in it kept.
pub(super) fn build(
    index: usize,
    raw: RawRoute,
    defaults: &Defaults<'_>,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
) -> Option<Route> {
    let name = raw.name.clone().unwrap_or_else(|| raw.path.clone());
    let place = format!("route {name:?} (routes[{index}])");
    let before = problems.count();
    let pattern =
        problems.keep(PathPattern::parse(&raw.path).map_err(|m| invalid(&place, "path", m)));
    let header_value = problems.keep(header_value(&place, &name));
    let secrets = if verifier::takes_no_secrets(raw.provider.as_deref()) {
        no_secrets(&place, &raw.secrets, problems)
    } else {
        secrets(&place, &raw.secrets, env, warnings, problems)
    };
    let sns = SnsOptions {
        cert_url_pattern: raw.cert_url_pattern.map(|p| p.into_vec()),
        topic_arns: raw.topic_arns,
        confirm_subscription: raw.confirm_subscription,
    };
    let built = secrets.as_ref().and_then(|secrets| {
        problems.keep(verifier::choose(Choice {
            place: &place,
            provider: raw.provider.as_deref(),
            verify: raw.verify,
            tolerance: raw.tolerance,
            public_url: raw.public_url.as_deref(),
            secrets,
            sns,
        }))
    });
    let verify_token = built.as_ref().and_then(|built| {
        problems.keep(verify_token(
            &place,
            raw.verify_token.as_ref(),
            built,
            env,
            warnings,
        ))
    });
    let events = built
        .as_ref()
        .and_then(|built| problems.keep(events(&place, raw.events, built)));
    let methods = raw
        .methods
        .map(|names| parse_methods(&names).map_err(|m| invalid(&place, "methods", m)))
        .transpose();
    let methods = problems.keep(methods);
    let upstream = match &raw.upstream {
        Some(text) => {
            problems.keep(parse_upstream(text).map_err(|m| invalid(&place, "upstream", m)))
        }
        None => defaults.upstream.cloned(),
    };
    let max_body = match &raw.max_body {
        Some(size) => problems.keep(parse_size(size).map_err(|m| invalid(&place, "max_body", m))),
        None => defaults.max_body,
    };
    let allow_ips = problems.keep(allow_ips(&place, raw.allow_ips));
    let rate_limit = problems.keep(rate_limit(&place, raw.rate_limit));
    let dedup_ttl = problems.keep(dedup_ttl(&place, raw.dedup.map(|d| d.ttl)));
    let enforce = raw.enforce.unwrap_or(true);
    let delivery = problems.keep(super::queue::delivery(
        &place,
        raw.delivery,
        defaults.spool,
        enforce,
        defaults.upstream_timeout,
    ));
    if problems.count() > before {
        return None;
    }
    let (pattern, header_value, secrets, built, events, methods, upstream, max_body) = (
        pattern?,
        header_value?,
        secrets?,
        built?,
        events?,
        methods?,
        upstream?,
        max_body?,
    );
    Some(Route {
        header_value,
        dedup_ttl: dedup_ttl?,
        allow_ips: allow_ips?,
        rate_limit: rate_limit?,
        label: Arc::new(name.clone()),
        name,
        pattern,
        methods: methods.unwrap_or(built.methods),
        verifier: built.verifier,
        scheme_label: built.label,
        secret_count: secrets.len(),
        upstream,
        max_body,
        enforce,
        delivery: delivery?,
        events,
        event_field: built.event_field,
        delivery_id_field: built.delivery_id_field,
        handshake: built.handshake,
        verify_token: verify_token?,
        public_url: raw.public_url,
    })
}

/// The name travels to the app in X-Hookguard-Route and stands unquoted in log lines, so it is
/// printable ASCII without spaces; made into the header's value once, here.
fn header_value(place: &str, name: &str) -> Result<http::HeaderValue, Problem> {
    let refused = || {
        invalid(
            place,
            "name",
            "must be non-empty printable ASCII without spaces",
        )
    };
    if name.is_empty() || !name.bytes().all(|b| b.is_ascii_graphic()) {
        return Err(refused());
    }
    http::HeaderValue::from_str(name).map_err(|_| refused())
}

type Secrets = Vec<(Secret, Option<SystemTime>)>;

/// Every secret loaded with its `not_after`; each one that fails is its own problem.
fn secrets(
    place: &str,
    raw: &[RawSecret],
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
    problems: &mut Problems,
) -> Option<Secrets> {
    if raw.is_empty() {
        problems.push(invalid(place, "secrets", "at least one secret is required"));
        return None;
    }
    let loaded: Vec<Option<(Secret, Option<SystemTime>)>> = raw
        .iter()
        .enumerate()
        .map(|(i, raw_secret)| problems.keep(secret(place, i, raw_secret, env, warnings)))
        .collect();
    let secrets: Secrets = loaded.into_iter().collect::<Option<_>>()?;
    let not_afters: Vec<Option<SystemTime>> = secrets.iter().map(|(_, end)| *end).collect();
    warnings.extend(secret_window_warnings(
        place,
        &not_afters,
        SystemTime::now(),
    ));
    Some(secrets)
}

/// A provider that fetches its key (SNS) has no secrets; one given is a misunderstanding.
fn no_secrets(place: &str, raw: &[RawSecret], problems: &mut Problems) -> Option<Secrets> {
    if raw.is_empty() {
        return Some(Vec::new());
    }
    problems.push(invalid(
        place,
        "secrets",
        "aws-sns verifies with the certificate each message names (SigningCertURL); give no secrets",
    ));
    None
}

fn secret(
    place: &str,
    index: usize,
    raw: &RawSecret,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<(Secret, Option<SystemTime>), Problem> {
    let key = format!("secrets[{index}]");
    let secret = load_secret(raw, env).map_err(|m| invalid(place, &key, m))?;
    let not_after = match &raw.not_after {
        None => None,
        Some(text) => Some(humantime::parse_rfc3339(text).map_err(|e| {
            invalid(
                place,
                format!("{key}.not_after"),
                format!(
                    "{text:?} is not an RFC 3339 UTC instant such as 2026-12-31T00:00:00Z ({e})"
                ),
            )
        })?),
    };
    if raw.value.is_some() {
        warnings.push(format!(
            "{place}: {key} is a literal `value`; outside local testing use `env` or `file`"
        ));
    }
    Ok((secret, not_after))
}

/// The `verify_token` a hub challenge (Meta) is checked against: required exactly where the
/// provider sends one, loaded like a secret, and never given a `not_after` (Meta holds one token).
fn verify_token(
    place: &str,
    raw: Option<&RawSecret>,
    built: &Built,
    env: &impl Fn(&str) -> Option<String>,
    warnings: &mut Vec<String>,
) -> Result<Option<VerifyToken>, Problem> {
    match (built.handshake.needs_verify_token(), raw) {
        (false, None) => Ok(None),
        (false, Some(_)) => Err(invalid(
            place,
            "verify_token",
            "this route's provider sends no hub.verify_token",
        )),
        (true, None) => Err(invalid(
            place,
            "verify_token",
            "required: the Verify Token given to the provider (env, file or value)",
        )),
        (true, Some(raw)) => {
            if raw.not_after.is_some() {
                return Err(invalid(
                    place,
                    "verify_token.not_after",
                    "a verify token has no not_after",
                ));
            }
            let token = load_secret(raw, env).map_err(|m| invalid(place, "verify_token", m))?;
            if raw.value.is_some() {
                warnings.push(format!(
                    "{place}: verify_token is a literal `value`; outside local testing use `env` or `file`"
                ));
            }
            Ok(Some(VerifyToken::new(&token)))
        }
    }
}

fn events(
    place: &str,
    events: Option<Vec<String>>,
    built: &Built,
) -> Result<Option<Vec<String>>, Problem> {
    match events {
        None => Ok(None),
        Some(_) if built.event_field.is_none() => Err(invalid(
            place,
            "events",
            "this route's scheme does not say where the event type is; use a preset that does",
        )),
        Some(list) if list.is_empty() => {
            Err(invalid(place, "events", "list at least one event type"))
        }
        Some(list) => Ok(Some(list)),
    }
}

fn allow_ips(place: &str, list: Option<Vec<String>>) -> Result<Option<Vec<Cidr>>, Problem> {
    match list {
        None => Ok(None),
        Some(list) if list.is_empty() => Err(invalid(
            place,
            "allow_ips",
            "an empty list would refuse everyone; leave the key out to allow all",
        )),
        Some(list) => list
            .iter()
            .map(|text| Cidr::parse(text))
            .collect::<Result<Vec<_>, _>>()
            .map(Some)
            .map_err(|m| invalid(place, "allow_ips", m)),
    }
}

fn rate_limit(place: &str, raw: Option<RawRateLimit>) -> Result<Option<RateLimiter>, Problem> {
    let Some(limit) = raw else {
        return Ok(None);
    };
    if !(limit.per_second.is_finite() && limit.per_second > 0.0) {
        return Err(invalid(
            place,
            "rate_limit.per_second",
            "must be a number above zero",
        ));
    }
    let burst = limit
        .burst
        .unwrap_or_else(|| limit.per_second.ceil().max(1.0) as u32);
    if burst == 0 {
        return Err(invalid(place, "rate_limit.burst", "must be at least 1"));
    }
    Ok(Some(RateLimiter::new(limit.per_second, burst)))
}

/// `dedup: {}` remembers for a day; `ttl` changes that.
fn dedup_ttl(place: &str, ttl: Option<Option<String>>) -> Result<Option<Duration>, Problem> {
    match ttl {
        None => Ok(None),
        Some(None) => Ok(Some(Duration::from_secs(24 * 3600))),
        Some(Some(text)) => humantime::parse_duration(&text)
            .ok()
            .filter(|ttl| !ttl.is_zero())
            .map(Some)
            .ok_or_else(|| {
                invalid(
                    place,
                    "dedup.ttl",
                    format!("{text:?} is not a duration such as 24h"),
                )
            }),
    }
}

/// Warnings about secrets past their `not_after`: loudest while the route has no secret that still
/// matches, since such a route refuses every delivery and nothing else at start would show it; also
/// when its last secret stops matching within [`EXPIRY_NOTICE`], and for each retired secret left.
pub(super) fn secret_window_warnings(
    place: &str,
    not_afters: &[Option<SystemTime>],
    now: SystemTime,
) -> Vec<String> {
    let expired: Vec<usize> = (0..not_afters.len())
        .filter(|&i| not_afters[i].is_some_and(|end| end < now))
        .collect();
    // A secret without `not_after` never stops matching.
    let last = not_afters
        .iter()
        .copied()
        .collect::<Option<Vec<SystemTime>>>()
        .and_then(|ends| ends.into_iter().max());
    let Some(last) = last else {
        return expired.iter().map(|i| retired(place, *i)).collect();
    };
    let instant = humantime::format_rfc3339_seconds(last);
    if last < now {
        vec![format!(
            "{place}: no active secret: every secret is past its `not_after` (the last at {instant}), so every delivery is refused; add a current secret"
        )]
    } else {
        let mut warnings: Vec<String> = expired.iter().map(|i| retired(place, *i)).collect();
        if last.duration_since(now).unwrap_or_default() < EXPIRY_NOTICE {
            warnings.push(format!(
                "{place}: every secret stops matching by {instant}; add the next one before then"
            ));
        }
        warnings
    }
}

fn retired(place: &str, index: usize) -> String {
    format!("{place}: secrets[{index}] is past its `not_after` and no longer matches; remove it")
}

/// Paths are compared first: a route without `name` is named by its path, so two such routes on one
/// path would otherwise be reported as a clash of names nobody wrote.
pub(super) fn refuse_duplicate(
    earlier: &[Route],
    route: &Route,
    index: usize,
    named: bool,
) -> Result<(), Problem> {
    let place = format!("route {:?} (routes[{index}])", route.name);
    if earlier.iter().any(|r| r.pattern == route.pattern) {
        return Err(invalid(
            &place,
            "path",
            "another route already has this path",
        ));
    }
    if earlier.iter().any(|r| r.name == route.name) {
        let message = if named {
            "another route already has this name"
        } else {
            "this route is named by its path, and another route already has that name; give `name`"
        };
        return Err(invalid(&place, "name", message));
    }
    Ok(())
}
