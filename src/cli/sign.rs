//! `hookguard sign`: the headers a provider would send for a body, refused with the missing input
//! named whenever those headers could never verify.

use std::io::Read;
use std::path::PathBuf;

use anyhow::{bail, Context};
use http::Uri;
use sha2::{Digest, Sha256};

use hookguard::config::without_line_ending;
use hookguard::verify::presets::{self, Outgoing, Spec};
use hookguard::verify::scheme::{Part, Scheme, TimestampRule, TimestampSource};
use hookguard::verify::{Secret, TimeUnit};

/// What the command line gave `sign`.
pub struct SignArgs<'a> {
    pub provider: &'a str,
    pub secret_env: &'a str,
    pub url: Option<&'a str>,
    pub method: &'a str,
    pub content_type: Option<&'a str>,
    /// Print the whole request, not the headers alone.
    pub request: bool,
    pub file: Option<PathBuf>,
}

pub fn sign(args: SignArgs<'_>) -> anyhow::Result<()> {
    let Some(preset) = presets::find(args.provider) else {
        bail!("{}", hookguard::suggest::unknown_provider(args.provider));
    };
    if args.request && args.url.is_none() {
        bail!("--request needs --url, the URL the request is sent to (its path and Host)");
    }
    let secret = read_secret(args.secret_env)?;
    let body = read_body(args.file.clone())?;
    let outgoing = Outgoing {
        method: args
            .method
            .parse()
            .context("--method is not an HTTP method")?,
        body: &body,
        url: args.url,
        content_type: args.content_type,
        now: std::time::SystemTime::now(),
    };
    if let Spec::Signature(spec) = &preset.spec {
        let scheme = spec.scheme().map_err(anyhow::Error::msg)?;
        if let Some(why) = unverifiable(preset.name, &scheme, &outgoing) {
            bail!("cannot sign: {why}");
        }
    }
    let headers = preset
        .sign(&secret, &outgoing)
        .map_err(anyhow::Error::msg)?;
    if args.request {
        return write_request(&args, &headers, &body);
    }
    // One `Name: value` line per header, in the provider's own spelling, ready for `curl -H @file`.
    for (name, value) in headers {
        println!("{name}: {value}");
    }
    Ok(())
}

/// The whole request as a sender would put it on the wire, CRLF line endings and the body's exact
/// bytes, so `hookguard explain` reads back what was signed.
fn write_request(
    args: &SignArgs<'_>,
    headers: &[(String, String)],
    body: &[u8],
) -> anyhow::Result<()> {
    use std::io::Write;
    let url: Uri = args
        .url
        .unwrap_or_default()
        .parse()
        .context("--url is not a URL")?;
    let (Some(authority), Some(target)) = (url.authority(), url.path_and_query()) else {
        bail!("--url must be absolute, such as https://hooks.example.com/path");
    };
    if let Some((name, _)) = headers.iter().find(|(name, _)| name.starts_with('/')) {
        bail!(
            "{} signs inside the body ({name}); fill it in and send the headers alone",
            args.provider
        );
    }
    let mut head = format!("{} {target} HTTP/1.1\r\nHost: {authority}\r\n", args.method);
    if let Some(content_type) = args.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str(&format!("Content-Length: {}\r\n\r\n", body.len()));
    let mut out = std::io::stdout().lock();
    out.write_all(head.as_bytes())
        .and_then(|()| out.write_all(body))
        .and_then(|()| out.flush())
        .context("cannot write standard output")
}

/// The secret as a route's `env: VAR` would load it, trailing line ending and all, so the two agree.
fn read_secret(var: &str) -> anyhow::Result<Secret> {
    let text =
        std::env::var(var).with_context(|| format!("environment variable {var} is not set"))?;
    let bytes = without_line_ending(text.into_bytes());
    if bytes.is_empty() {
        bail!("environment variable {var} is empty");
    }
    Ok(Secret::new(bytes))
}

fn read_body(file: Option<PathBuf>) -> anyhow::Result<Vec<u8>> {
    match file {
        Some(path) if path.as_os_str() != "-" => {
            std::fs::read(&path).with_context(|| format!("cannot read {}", path.display()))
        }
        _ => {
            let mut body = Vec::new();
            std::io::stdin()
                .read_to_end(&mut body)
                .context("cannot read standard input")?;
            Ok(body)
        }
    }
}

/// Why headers signed from these inputs could never pass hookguard's own check, naming what to add;
/// `None` when they can.
fn unverifiable(provider: &str, scheme: &Scheme, outgoing: &Outgoing<'_>) -> Option<String> {
    missing_url(provider, scheme, outgoing.url)
        .or_else(|| unsigned_body(provider, scheme, outgoing))
        .or_else(|| missing_json_fields(provider, scheme, outgoing))
}

/// A URL-signing scheme signs the URL the provider was given, which only `--url` can say.
fn missing_url(provider: &str, scheme: &Scheme, url: Option<&str>) -> Option<String> {
    if !scheme.template.needs_url() {
        return None;
    }
    let Some(url) = url else {
        return Some(format!(
            "{provider} signs the URL: give --url with the exact URL given to the provider (the route's public_url, plus any query)"
        ));
    };
    let absolute = url
        .parse::<Uri>()
        .is_ok_and(|uri| uri.scheme().is_some() && uri.authority().is_some());
    (!absolute).then(|| {
        format!("--url {url:?} is not an absolute URL such as https://hooks.example.com/{provider}")
    })
}

/// A form-signing scheme (Twilio, Plivo) signs the fields of a form body only; any other body is
/// covered solely by a `bodySHA256` query parameter in the URL (Twilio), and without it the
/// verifier refuses it.
fn unsigned_body(provider: &str, scheme: &Scheme, outgoing: &Outgoing<'_>) -> Option<String> {
    if !scheme.template.needs(&Part::SortedFormParams) && !scheme.template.needs(&Part::UrlPlivo) {
        return None;
    }
    let digest = hex::encode(Sha256::digest(outgoing.body));
    let param = scheme.body_sha256_param.as_deref();
    let declared = param.and_then(|param| query_value(outgoing.url?, param));
    if let (Some(param), Some(declared)) = (param, declared) {
        return (!declared.eq_ignore_ascii_case(&digest))
            .then(|| format!("the URL's {param} is not the SHA-256 of this body ({digest})"));
    }
    if outgoing.body.is_empty() || outgoing.content_type.is_some_and(is_form) {
        return None;
    }
    let cover = match param {
        Some(param) => format!(", or for any other body a --url ending in ?{param}={digest}"),
        None => String::new(),
    };
    Some(match outgoing.content_type {
        None => format!(
            "{provider} signs form fields only of a body sent as a form: give --content-type application/x-www-form-urlencoded{cover}"
        ),
        Some(other) => format!(
            "{provider} does not sign the fields of a {other:?} body: send it as --content-type application/x-www-form-urlencoded{cover}"
        ),
    })
}

/// The value of `name` in the URL's query, as Twilio's verifier reads it.
fn query_value<'u>(url: &'u str, name: &str) -> Option<&'u str> {
    let (_, query) = url.split_once('?')?;
    query
        .split('&')
        .find_map(|pair| pair.strip_prefix(name)?.strip_prefix('='))
}

/// The verifier's own test for a form body.
fn is_form(content_type: &str) -> bool {
    content_type
        .trim_start()
        .to_ascii_lowercase()
        .starts_with("application/x-www-form-urlencoded")
}

/// A scheme that signs fields of a JSON body (Mailgun's token and timestamp) needs them in the body,
/// and a timestamp read from the body must be within the tolerance.
fn missing_json_fields(provider: &str, scheme: &Scheme, outgoing: &Outgoing<'_>) -> Option<String> {
    let mut pointers: Vec<&str> = scheme
        .template
        .0
        .iter()
        .filter_map(|part| match part {
            Part::Json(pointer) => Some(pointer.as_str()),
            _ => None,
        })
        .collect();
    let rule = scheme.timestamp.as_ref();
    let stamp = rule.and_then(|rule| match &rule.source {
        TimestampSource::Json(pointer) => Some(pointer.as_str()),
        _ => None,
    });
    pointers.extend(stamp.filter(|p| !pointers.contains(p)));
    if pointers.is_empty() {
        return None;
    }
    let Ok(json) = serde_json::from_slice::<serde_json::Value>(outgoing.body) else {
        return Some(format!(
            "the body is not JSON; {provider} signs its fields {}",
            pointers.join(", ")
        ));
    };
    let missing: Vec<&str> = pointers
        .iter()
        .copied()
        .filter(|pointer| json_text(&json, pointer).is_none())
        .collect();
    if !missing.is_empty() {
        return Some(format!(
            "the body lacks the JSON field(s) {} (a string or number each) that {provider} signs",
            missing.join(", ")
        ));
    }
    let (rule, pointer) = (rule?, stamp?);
    stale_timestamp(
        provider,
        rule,
        pointer,
        &json_text(&json, pointer)?,
        outgoing,
    )
}

/// A string's content or a number as written, as the verifier reads a signed JSON field.
fn json_text(json: &serde_json::Value, pointer: &str) -> Option<String> {
    match json.pointer(pointer)? {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// A timestamp in the body that the verifier would find unreadable, too old, or (where the scheme
/// refuses those) too far ahead.
fn stale_timestamp(
    provider: &str,
    rule: &TimestampRule,
    pointer: &str,
    text: &str,
    outgoing: &Outgoing<'_>,
) -> Option<String> {
    let seconds = match rule.unit {
        TimeUnit::Seconds => text.trim().parse::<i64>().ok(),
        TimeUnit::Millis => text
            .trim()
            .parse::<i64>()
            .ok()
            .map(|ms| ms.div_euclid(1000)),
        // No JSON-stamped preset writes RFC 3339; the verifier is left to judge it.
        TimeUnit::Rfc3339 => return None,
    };
    let Some(seconds) = seconds else {
        return Some(format!(
            "the body's {pointer} is not a Unix timestamp, which {provider} signs"
        ));
    };
    let tolerance = i64::try_from(rule.tolerance?.as_secs()).ok()?;
    let now = outgoing.now.duration_since(std::time::UNIX_EPOCH).ok()?;
    let age = i64::try_from(now.as_secs()).ok()?.saturating_sub(seconds);
    let too_old = age > tolerance;
    let too_new = rule.reject_future && age < tolerance.saturating_neg();
    (too_old || too_new).then(|| {
        format!(
            "the body's {pointer} is {age} s old, outside {provider}'s {tolerance} s: put the current time there"
        )
    })
}
