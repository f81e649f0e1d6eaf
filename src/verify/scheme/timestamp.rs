//! Timestamp rules: where a scheme's timestamp is read, the units it is written in, and the
//! freshness window it must fall in.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde::{Deserialize, Serialize};

use super::signature::{single_header, HeaderSet};
use super::{LazyJson, RequestView};
use crate::verify::Rejection;

/// Where the timestamp comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TimestampSource {
    /// The header set's timestamp header.
    Header,
    /// The `timestamp_key` field of the signature header.
    SignatureField,
    /// A JSON pointer into the body (Linear's `/webhookTimestamp`, Mailgun's `/signature/timestamp`).
    Json(String),
}

/// Named in YAML `s`, `ms` and `rfc3339`, as `verify: {hmac: {timestamp_unit}}` always has.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum TimeUnit {
    #[serde(rename = "s")]
    Seconds,
    #[serde(rename = "ms")]
    Millis,
    #[serde(rename = "rfc3339")]
    Rfc3339,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TimestampRule {
    pub source: TimestampSource,
    pub unit: TimeUnit,
    /// `None`: signed, but no freshness window is enforced.
    pub tolerance: Option<Duration>,
    /// Most senders are checked both ways; Stripe and HubSpot only refuse old timestamps.
    pub reject_future: bool,
}

impl TimestampRule {
    /// The signed timestamp text, once it is known to parse and to fall inside the window.
    /// `field_timestamp` is the `timestamp_key` field of a `Fields` signature header, if any.
    pub(super) fn fresh_text(
        &self,
        set: Option<&HeaderSet>,
        field_timestamp: Option<Vec<u8>>,
        request: &RequestView<'_>,
        json: &LazyJson<'_>,
    ) -> Result<Vec<u8>, Rejection> {
        let text = self.text(set, field_timestamp, request, json)?;
        self.check_freshness(&text, request.now)?;
        Ok(text)
    }

    /// The signed timestamp's age in seconds at `request.now` (negative: ahead of the clock), for
    /// the log line of a stale or future timestamp; `None` where it cannot be read.
    pub(super) fn age(
        &self,
        set: Option<&HeaderSet>,
        field_timestamp: Option<Vec<u8>>,
        request: &RequestView<'_>,
        json: &LazyJson<'_>,
    ) -> Option<i64> {
        let text = self.text(set, field_timestamp, request, json).ok()?;
        let parsed = parse_timestamp(std::str::from_utf8(&text).ok()?.trim(), self.unit)?;
        Some(seconds_since_epoch(request.now).saturating_sub(parsed))
    }

    fn text(
        &self,
        set: Option<&HeaderSet>,
        field_timestamp: Option<Vec<u8>>,
        request: &RequestView<'_>,
        json: &LazyJson<'_>,
    ) -> Result<Vec<u8>, Rejection> {
        match &self.source {
            TimestampSource::Header => {
                let name = set
                    .and_then(|s| s.timestamp.as_ref())
                    .ok_or(Rejection::MissingTimestamp)?;
                single_header(request.headers, name)?.map(<[u8]>::to_vec)
            }
            TimestampSource::SignatureField => field_timestamp,
            TimestampSource::Json(pointer) => json.text(pointer).map(String::into_bytes),
        }
        .ok_or(Rejection::MissingTimestamp)
    }

    fn check_freshness(&self, text: &[u8], now: SystemTime) -> Result<(), Rejection> {
        let parsed = std::str::from_utf8(text)
            .ok()
            .and_then(|t| parse_timestamp(t.trim(), self.unit))
            .ok_or(Rejection::MalformedTimestamp)?;
        if let Some(tolerance) = self.tolerance {
            let age = seconds_since_epoch(now).saturating_sub(parsed);
            let tolerance = i64::try_from(tolerance.as_secs()).unwrap_or(i64::MAX);
            if age > tolerance {
                return Err(Rejection::StaleTimestamp);
            }
            if self.reject_future && age < tolerance.saturating_neg() {
                return Err(Rejection::FutureTimestamp);
            }
        }
        Ok(())
    }
}

fn seconds_since_epoch(time: SystemTime) -> i64 {
    match time.duration_since(UNIX_EPOCH) {
        Ok(after) => i64::try_from(after.as_secs()).unwrap_or(i64::MAX),
        Err(before) => i64::try_from(before.duration().as_secs()).map_or(i64::MIN, |s| -s),
    }
}

/// Parses a timestamp into whole seconds since the epoch.
fn parse_timestamp(text: &str, unit: TimeUnit) -> Option<i64> {
    match unit {
        TimeUnit::Seconds => text.parse::<i64>().ok(),
        TimeUnit::Millis => text.parse::<i64>().ok().map(|ms| ms.div_euclid(1000)),
        TimeUnit::Rfc3339 => humantime::parse_rfc3339_weak(text)
            .ok()
            .or_else(|| rfc3339_with_offset(text))
            .map(seconds_since_epoch),
    }
}

/// RFC 3339 with a numeric offset (`-07:00`), which humantime leaves to the caller.
fn rfc3339_with_offset(text: &str) -> Option<SystemTime> {
    // The split point comes from client input's length, so it may fall inside a character.
    let split = text
        .len()
        .checked_sub(6)
        .and_then(|i| text.split_at_checked(i));
    let (local, sign, offset) = match split {
        Some((local, offset)) if offset.starts_with('+') => (local, 1i64, &offset[1..]),
        Some((local, offset)) if offset.starts_with('-') => (local, -1i64, &offset[1..]),
        _ => return None,
    };
    let (hours, minutes) = offset.split_once(':')?;
    let offset_s = sign * (hours.parse::<i64>().ok()? * 3600 + minutes.parse::<i64>().ok()? * 60);
    let as_utc = humantime::parse_rfc3339_weak(local).ok()?;
    let shift = Duration::from_secs(offset_s.unsigned_abs());
    // Local time minus its offset is UTC: +02:00 means two hours ahead of UTC.
    if offset_s >= 0 {
        as_utc.checked_sub(shift)
    } else {
        as_utc.checked_add(shift)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_offset_split_inside_a_character_is_refused_not_a_panic() {
        for text in ["é12345", "2026-01-01T00:00:00é:00", "ééé"] {
            assert_eq!(rfc3339_with_offset(text), None, "{text}");
        }
    }

    #[test]
    fn timestamps_parse_in_each_unit() {
        assert_eq!(
            parse_timestamp("1614265330", TimeUnit::Seconds),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("1614265330123", TimeUnit::Millis),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T15:02:10Z", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T07:02:10-08:00", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        assert_eq!(
            parse_timestamp("2021-02-25T17:02:10+02:00", TimeUnit::Rfc3339),
            Some(1_614_265_330)
        );
        for bad in ["", "abc", "12.5", "2021-02-25"] {
            assert_eq!(parse_timestamp(bad, TimeUnit::Seconds), None, "{bad}");
            assert_eq!(parse_timestamp(bad, TimeUnit::Rfc3339), None, "{bad}");
        }
    }
}
