//! `hookguard explain`: what hookguard would do with a captured request and why, verified by the
//! route's own `Verifier` (the proxy's code), and, when refused, which usual mistake fits.
//!
//! - `capture`: the request file, parsed with httparse.
//! - `secrets`: where each secret comes from, by position, never its value.
//! - `stamp`: the timestamp as the scheme reads it.
//! - `mistakes`: the guesses tried when nothing matched.

mod capture;
mod mistakes;
mod secrets;
mod stamp;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::{anyhow, Context};
use sha2::{Digest, Sha256};

use hookguard::body::RawBody;
use hookguard::config::{Config, Route};
use hookguard::verify::{Rejection, RequestView, SignatureFormat, TokenSource, Verifier};

use self::capture::Captured;

/// What the command line gave `explain`.
pub struct ExplainArgs {
    pub config: PathBuf,
    pub route: String,
    pub request: PathBuf,
}

/// Prints the explanation. `Ok` carries the exit code (0 forwarded, 1 refused); an `Err` is a usage
/// error, a config that does not load, or a request file that does not parse (exit 2).
pub fn explain(args: ExplainArgs) -> anyhow::Result<ExitCode> {
    let config = Config::load(&args.config)?;
    let route = find_route(&config, &args.route)?;
    let text = std::fs::read_to_string(&args.config)
        .with_context(|| format!("cannot read {}", args.config.display()))?;
    let sources = secrets::sources(&text, &args.route);
    let bytes = read_request(&args.request)?;
    let captured =
        capture::parse(&bytes).map_err(|why| anyhow!("{}: {why}", args.request.display()))?;
    let note = path_note(&config, route, &captured);
    let forwarded = report(route, &sources, &captured, note, SystemTime::now());
    Ok(if forwarded {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn find_route<'c>(config: &'c Config, name: &str) -> anyhow::Result<&'c Route> {
    config
        .routes
        .iter()
        .find(|r| r.name == name)
        .ok_or_else(|| {
            let names: Vec<&str> = config.routes.iter().map(|r| r.name.as_str()).collect();
            anyhow!(
                "no route named {name:?}; the config has {}",
                names.join(", ")
            )
        })
}

/// Where the proxy itself would route the captured path, when that is not the route explained:
/// the explanation still follows the route asked for, as the capture may come from elsewhere.
fn path_note(config: &Config, route: &Route, captured: &Captured) -> Option<String> {
    let path = captured.path();
    match config.route_for(path) {
        Ok(Some(found)) if found.name == route.name => None,
        Ok(Some(found)) => Some(format!(
            "hookguard would route {path} to route {}, not {}",
            found.name, route.name
        )),
        Ok(None) => Some(format!("{path} matches no route's path")),
        Err(why) => Some(format!(
            "{path} would be refused before any route: {}",
            why.as_str()
        )),
    }
}

fn read_request(path: &Path) -> anyhow::Result<Vec<u8>> {
    if path.as_os_str() != "-" {
        return std::fs::read(path).with_context(|| format!("cannot read {}", path.display()));
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .context("cannot read standard input")?;
    Ok(bytes)
}

/// Prints one line per finding; returns whether hookguard would forward the request.
fn report(
    route: &Route,
    sources: &[String],
    captured: &Captured,
    note: Option<String>,
    now: SystemTime,
) -> bool {
    let body = RawBody::from(captured.body.as_slice());
    let view = RequestView {
        method: &captured.method,
        headers: &captured.headers,
        query: captured.query(),
        body: &body,
        public_url: route.public_url.as_deref(),
        now,
    };
    println!("route: {} ({})", route.name, route.scheme_label);
    print_request(captured);
    if let Some(note) = note {
        println!("note: {note}");
    }
    let method_ok = route.methods.contains(&captured.method);
    if !method_ok {
        println!("method: {} is not one the route takes", captured.method);
    }
    let verdict = route.verifier.verify(&view);
    println!("{}", signature_line(&route.verifier, captured, verdict));
    print_timestamp(&route.verifier, captured, now);
    match verdict {
        Ok(()) => print_secrets(route, &view, sources),
        Err(why) => print_refusal(route, captured, why, now),
    }
    let forwarded = method_ok && (verdict.is_ok() || !route.enforce);
    println!("{}", verdict_line(route, method_ok, verdict, forwarded));
    forwarded
}

fn print_request(captured: &Captured) {
    let digest = hex::encode(Sha256::digest(&captured.body));
    println!(
        "request: {} {}, body {} bytes, sha256 {digest}",
        captured.method,
        captured.path(),
        captured.body.len()
    );
    if captured.ignored > 0 {
        println!(
            "note: {} bytes after the Content-Length body are not part of it",
            captured.ignored
        );
    }
}

/// Which header (or body field, or token) was read and whether its format parsed; never its value.
fn signature_line(
    verifier: &Verifier,
    captured: &Captured,
    verdict: Result<(), Rejection>,
) -> String {
    let state = match verdict {
        Err(Rejection::MissingSignature) => "missing or empty",
        Err(Rejection::DuplicatedSignature) => "sent more than once",
        Err(Rejection::MalformedSignature) => "present, format did not parse",
        _ => "present, format parsed",
    };
    let verifier = match verifier {
        Verifier::Signature(v) => v,
        Verifier::Token(v) => {
            return match v.source() {
                TokenSource::Query(param) => format!("token: query parameter {param}, {state}"),
                TokenSource::Header(name) => format!("token: header {name}, {state}"),
                TokenSource::Basic => format!("basic auth: Authorization header, {state}"),
            };
        }
        Verifier::Jwt(v) => return format!("jwt: header {}, {state}", v.header()),
        Verifier::Sns(_) => return format!("signature: body field Signature (SNS), {state}"),
    };
    let scheme = verifier.scheme();
    if let Some(pointer) = &scheme.signature_in_body {
        return format!("signature: body field {pointer}, {state}");
    }
    let Some(set) = scheme.header_set(&captured.headers) else {
        let names: Vec<String> = scheme
            .header_sets
            .iter()
            .flat_map(|set| set.signatures.iter().map(|n| n.to_string()))
            .collect();
        return format!("signature header: none of {} present", names.join(", "));
    };
    let present: Vec<&str> = set
        .signatures
        .iter()
        .filter(|name| captured.headers.contains_key(*name))
        .map(|name| name.as_str())
        .collect();
    format!(
        "signature header: {} ({}), {state}",
        present.join(", "),
        format_name(&scheme.format, scheme.encoding.as_str())
    )
}

fn format_name(format: &SignatureFormat, encoding: &str) -> String {
    match format {
        SignatureFormat::Whole { prefixes } => match prefixes.iter().find(|p| !p.is_empty()) {
            Some(prefix) => format!("{prefix}<{encoding}>"),
            None => format!("<{encoding}>"),
        },
        SignatureFormat::List { separator, .. } => {
            format!("a {separator:?}-separated list of {encoding} signatures")
        }
        SignatureFormat::Fields {
            separator,
            set_separator: Some(between),
            ..
        } => format!(
            "{between:?}-separated sets of {separator:?}-separated key=value fields, {encoding} signatures"
        ),
        SignatureFormat::Fields { separator, .. } => {
            format!("{separator:?}-separated key=value fields, {encoding} signatures")
        }
        SignatureFormat::TimestampFirst { separator } => {
            format!("a {separator:?}-separated timestamp, then {encoding} signatures")
        }
    }
}

fn print_timestamp(verifier: &Verifier, captured: &Captured, now: SystemTime) {
    let Verifier::Signature(v) = verifier else {
        return;
    };
    let Some(rule) = v.scheme().timestamp.as_ref() else {
        return;
    };
    let now = now
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX));
    match stamp::read(v.scheme(), &captured.headers, &captured.body) {
        Some(found) => println!("{}", stamp::describe(&found, rule, now)),
        None => println!("timestamp: not found where the scheme reads it"),
    }
}

/// Which secrets matched, each verified on its own: by position and source, never the value.
fn print_secrets(route: &Route, view: &RequestView<'_>, sources: &[String]) {
    let matched = route.verifier.matching_secrets(view).unwrap_or_default();
    for index in matched {
        let source = sources.get(index).map_or("", String::as_str);
        println!("secret: secrets[{index}] {source} matched");
    }
}

fn print_refusal(route: &Route, captured: &Captured, why: Rejection, now: SystemTime) {
    println!("reason: {}", reason(why));
    if matches!(
        why,
        Rejection::MissingSignature
            | Rejection::DuplicatedSignature
            | Rejection::MissingId
            | Rejection::MissingNonce
    ) {
        return;
    }
    match mistakes::diagnose(route, captured, now) {
        Some(finding) => println!("fits: {finding}"),
        None => println!(
            "fits: none of the usual mistakes (a trailing newline, CRLF/LF, re-serialised JSON, \
             ms/s timestamps, the public_url); check the secret is the one the sender uses"
        ),
    }
}

fn reason(why: Rejection) -> String {
    let text = match why {
        Rejection::MissingSignature => "no signature where the scheme reads it",
        Rejection::DuplicatedSignature => "a signature or timestamp header is sent twice",
        Rejection::MalformedSignature => "the signature is not in the scheme's format or encoding",
        Rejection::SignatureMismatch => "no configured secret gives this signature for these bytes",
        Rejection::MissingTimestamp => "the signed timestamp is missing",
        Rejection::MalformedTimestamp => "the timestamp does not parse in the scheme's unit",
        Rejection::StaleTimestamp => "the timestamp is older than the tolerance",
        Rejection::FutureTimestamp => "the timestamp is further ahead than the tolerance",
        Rejection::MissingId => "the signed delivery id header is missing",
        Rejection::MissingNonce => "the signed nonce header is missing",
        Rejection::NoActiveSecret => "every secret is past its not_after",
        Rejection::UnsignedBody => "the signature does not cover this body (no bodySHA256)",
        Rejection::MalformedMessage => "not an SNS message: not JSON, a field missing or twice, or an unknown Type",
        Rejection::UnknownSignatureVersion => "SignatureVersion is neither 1 nor 2",
        Rejection::CertUrlNotAllowed => "SigningCertURL is not on the route's cert_url_pattern",
        Rejection::TopicNotAllowed => "TopicArn is not in the route's topic_arns",
        Rejection::SubscribeUrlNotAllowed => "SubscribeURL is not https on a certificate host",
        Rejection::CertificateNotCached => {
            "explain fetches no certificate; the running proxy would fetch SigningCertURL and check the signature"
        }
    };
    format!("{why}: {text}")
}

fn verdict_line(
    route: &Route,
    method_ok: bool,
    verdict: Result<(), Rejection>,
    forwarded: bool,
) -> String {
    match (forwarded, verdict) {
        (true, Ok(())) => "verdict: forward".to_string(),
        (true, Err(why)) => format!("verdict: forward (enforce: false, so {why} is only logged)"),
        (false, _) if !method_ok => {
            format!("verdict: refuse (405, the route takes {})", methods(route))
        }
        (false, Err(why)) => format!("verdict: refuse ({why})"),
        (false, Ok(())) => "verdict: refuse".to_string(),
    }
}

fn methods(route: &Route) -> String {
    let names: Vec<&str> = route.methods.iter().map(|m| m.as_str()).collect();
    names.join(", ")
}
