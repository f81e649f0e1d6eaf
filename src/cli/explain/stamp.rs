//! The timestamp a request carries, read where the route's scheme reads it, for the report and
//! for the timestamp-unit diagnosis. Freshness itself is left to the verifier.

use http::HeaderMap;

use hookguard::verify::scheme::{TimestampRule, TimestampSource};
use hookguard::verify::{Scheme, SignatureFormat, TimeUnit};

/// The timestamp as found.
pub struct Stamp {
    /// Where it was read, such as `header X-Timestamp`.
    pub source: String,
    pub text: String,
    /// Whole seconds since the epoch, in the scheme's unit; `None` when it does not parse.
    pub seconds: Option<i64>,
}

/// The timestamp of a scheme that signs one, when the request carries it.
pub fn read(scheme: &Scheme, headers: &HeaderMap, body: &[u8]) -> Option<Stamp> {
    let rule = scheme.timestamp.as_ref()?;
    let (source, text) = match &rule.source {
        TimestampSource::Header => {
            let name = scheme.header_set(headers)?.timestamp.as_ref()?;
            (format!("header {name}"), header_text(headers, name)?)
        }
        TimestampSource::SignatureField => field(scheme, headers)?,
        TimestampSource::Json(pointer) => (format!("body {pointer}"), json_text(body, pointer)?),
    };
    let seconds = seconds(&text, rule.unit);
    Some(Stamp {
        source,
        text,
        seconds,
    })
}

fn header_text(headers: &HeaderMap, name: &http::HeaderName) -> Option<String> {
    headers.get(name)?.to_str().ok().map(str::to_string)
}

/// The `timestamp_key` field of a Stripe-style signature header, or the first item of a
/// timestamp-first list (Recurly).
fn field(scheme: &Scheme, headers: &HeaderMap) -> Option<(String, String)> {
    if let SignatureFormat::TimestampFirst { separator } = &scheme.format {
        let set = scheme.header_set(headers)?;
        return set.signatures.iter().find_map(|name| {
            let value = header_text(headers, name)?;
            let first = value.split(*separator).next()?.trim().to_string();
            Some((format!("header {name} first item"), first))
        });
    }
    let SignatureFormat::Fields {
        separator,
        timestamp_key: Some(key),
        ..
    } = &scheme.format
    else {
        return None;
    };
    let set = scheme.header_set(headers)?;
    set.signatures.iter().find_map(|name| {
        let value = header_text(headers, name)?;
        let text = value
            .split(*separator)
            .find_map(|item| item.trim().strip_prefix(key.as_str())?.strip_prefix('='))?;
        Some((format!("header {name} field {key}="), text.to_string()))
    })
}

fn json_text(body: &[u8], pointer: &str) -> Option<String> {
    let json: serde_json::Value = serde_json::from_slice(body).ok()?;
    match json.pointer(pointer)? {
        serde_json::Value::String(text) => Some(text.clone()),
        serde_json::Value::Number(number) => Some(number.to_string()),
        _ => None,
    }
}

/// Seconds since the epoch as the verifier reads `text` in `unit`.
pub fn seconds(text: &str, unit: TimeUnit) -> Option<i64> {
    let text = text.trim();
    match unit {
        TimeUnit::Seconds => text.parse().ok(),
        TimeUnit::Millis => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
        TimeUnit::Rfc3339 => {
            let time = humantime::parse_rfc3339_weak(text).ok()?;
            let after = time.duration_since(std::time::UNIX_EPOCH).ok()?;
            i64::try_from(after.as_secs()).ok()
        }
    }
}

/// One line: the value, its age against now, and the window.
pub fn describe(stamp: &Stamp, rule: &TimestampRule, now: i64) -> String {
    let unit = match rule.unit {
        TimeUnit::Seconds => "s",
        TimeUnit::Millis => "ms",
        TimeUnit::Rfc3339 => "RFC 3339",
    };
    let window = match rule.tolerance {
        Some(t) if rule.reject_future => format!("tolerance ±{} s", t.as_secs()),
        Some(t) => format!("tolerance {} s (older is refused)", t.as_secs()),
        None => "no tolerance enforced".to_string(),
    };
    let age = match stamp.seconds {
        Some(seconds) => format!("age {} s", now.saturating_sub(seconds)),
        None => format!("does not parse as {unit}"),
    };
    format!(
        "timestamp: {:?} from {} (in {unit}), {age}, {window}",
        stamp.text, stamp.source
    )
}
