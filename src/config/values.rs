//! Parsers for single values as YAML writes them: sizes, durations, methods, upstream URLs and
//! secrets. Each says what it expected, for the problem it reports.

use std::time::Duration;

use http::uri::Scheme as UriScheme;
use http::{Method, Uri};

use super::raw::{RawSecret, RawSize};
use super::Upstream;
use crate::verify::Secret;

pub(super) fn load_secret(
    raw: &RawSecret,
    env: &impl Fn(&str) -> Option<String>,
) -> Result<Secret, String> {
    let bytes = match (&raw.env, &raw.file, &raw.value) {
        (Some(var), None, None) => without_line_ending(
            env(var)
                .ok_or_else(|| format!("environment variable {var} is not set"))?
                .into_bytes(),
        ),
        (None, Some(path), None) => without_line_ending(
            std::fs::read(path)
                .map_err(|e| format!("cannot read secret file {}: {e}", path.display()))?,
        ),
        (None, None, Some(value)) => value.clone().into_bytes(),
        _ => return Err("give exactly one of `env`, `file` or `value`".into()),
    };
    if bytes.is_empty() {
        return Err("the secret is empty".into());
    }
    Ok(Secret::new(bytes))
}

/// A secret as stored in an `env` variable or a `file`, less one trailing `\n` or `\r\n`:
/// `echo` and most editors end what they write with one, and it is not part of the secret. Only one
/// is removed, so a secret that really ends in a line break can still be written (with two).
pub fn without_line_ending(mut bytes: Vec<u8>) -> Vec<u8> {
    if bytes.last() == Some(&b'\n') {
        bytes.pop();
        if bytes.last() == Some(&b'\r') {
            bytes.pop();
        }
    }
    bytes
}

pub(super) fn parse_methods(names: &[String]) -> Result<Vec<Method>, String> {
    if names.is_empty() {
        return Err("list at least one method".into());
    }
    names
        .iter()
        .map(|name| {
            if name.is_empty() || name.bytes().any(|b| !b.is_ascii_uppercase()) {
                return Err(format!(
                    "{name:?} is not an upper-case HTTP method such as POST"
                ));
            }
            Method::from_bytes(name.as_bytes()).map_err(|e| format!("{name:?}: {e}"))
        })
        .collect()
}

pub(super) fn parse_upstream(text: &str) -> Result<Upstream, String> {
    // Checked before anything echoes the text: a password must not reach `check` output or a log.
    if has_credentials(text) {
        return Err(
            "must not carry credentials (user:password@): hookguard would print them and \
                    send them on as the Host of HTTP/1.0 requests"
                .to_string(),
        );
    }
    let uri: Uri = text
        .parse()
        .map_err(|e| format!("{text:?} is not a URL: {e}"))?;
    let scheme = uri
        .scheme()
        .cloned()
        .ok_or_else(|| format!("{text:?} needs http://"))?;
    if scheme != UriScheme::HTTP && scheme != UriScheme::HTTPS {
        return Err(format!("{text:?}: use http:// or https://"));
    }
    let authority = uri
        .authority()
        .cloned()
        .ok_or_else(|| format!("{text:?} has no host"))?;
    let path_is_root = matches!(uri.path(), "" | "/");
    if !path_is_root || uri.query().is_some() {
        return Err(format!(
            "{text:?}: give only scheme, host and port; the request's own path is forwarded"
        ));
    }
    Ok(Upstream { scheme, authority })
}

/// Whether a URL's authority has a `user:password@` part.
pub(super) fn has_credentials(url: &str) -> bool {
    let rest = url.split_once("://").map_or(url, |(_, rest)| rest);
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    authority.contains('@')
}

pub(super) fn parse_size(raw: &RawSize) -> Result<u64, String> {
    let text = match raw {
        RawSize::Bytes(n) => return Ok(*n),
        RawSize::Text(text) => text.trim(),
    };
    let digits_end = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(digits_end);
    let multiplier: u64 = match unit.trim() {
        "" | "B" => 1,
        "KiB" => 1 << 10,
        "MiB" => 1 << 20,
        "GiB" => 1 << 30,
        _ => {
            return Err(format!(
                "{text:?}: use a byte count or a KiB, MiB or GiB suffix"
            ))
        }
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("{text:?} is not a size"))
}

/// A duration above zero such as `10s`, or `default` when the key is absent.
pub(super) fn parse_positive_duration(
    text: Option<&str>,
    default: Duration,
) -> Result<Duration, String> {
    let Some(text) = text else {
        return Ok(default);
    };
    match humantime::parse_duration(text) {
        Ok(value) if !value.is_zero() => Ok(value),
        Ok(_) => Err("must be longer than zero".to_string()),
        Err(e) => Err(format!("{text:?} is not a duration such as 10s ({e})")),
    }
}
