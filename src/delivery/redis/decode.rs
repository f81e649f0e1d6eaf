//! Turning the scripts' rows back into deliveries, dead letters and counts; a row that does not
//! parse is a store fault, never a panic.

use bytes::Bytes;

use super::*;

type Row = Vec<Option<Vec<u8>>>;

fn fault(what: &str) -> SpoolError {
    storage(format_args!("malformed {what} in the spool"))
}

/// The field at `index`, present.
fn field(row: &mut Row, index: usize, what: &str) -> Result<Vec<u8>, SpoolError> {
    row.get_mut(index)
        .and_then(Option::take)
        .ok_or_else(|| fault(what))
}

fn text(row: &mut Row, index: usize, what: &str) -> Result<String, SpoolError> {
    String::from_utf8(field(row, index, what)?).map_err(|_| fault(what))
}

fn number<T: std::str::FromStr>(row: &mut Row, index: usize, what: &str) -> Result<T, SpoolError> {
    text(row, index, what)?.parse().map_err(|_| fault(what))
}

fn id(row: &mut Row, index: usize) -> Result<DeliveryId, SpoolError> {
    DeliveryId::parse(&text(row, index, "id")?).ok_or_else(|| fault("id"))
}

fn meta(row: &mut Row, index: usize) -> Result<Meta, SpoolError> {
    postcard::from_bytes(&field(row, index, "record")?).map_err(|_| fault("record"))
}

/// A claim row: {id, meta, body, attempt, age_from, due}.
pub(super) fn decode_delivery(route: &str, mut row: Row) -> Result<Delivery, SpoolError> {
    let meta = meta(&mut row, 1)?;
    Ok(Delivery {
        id: id(&mut row, 0)?,
        route: route.to_owned(),
        method: meta.request.method,
        path_and_query: meta.request.path_and_query,
        headers: meta.request.headers,
        body: Bytes::from(field(&mut row, 2, "body")?),
        received_at: from_unix_ms(meta.received_at_ms),
        attempt: number(&mut row, 3, "attempt")?,
        age_from: from_unix_ms(number(&mut row, 4, "age")?),
        next_due: from_unix_ms(number(&mut row, 5, "due time")?),
        event: meta.request.event,
    })
}

fn reason(text: &str) -> Result<DeadReason, SpoolError> {
    match text {
        "rejected" => Ok(DeadReason::Rejected),
        "expired" => Ok(DeadReason::Expired),
        _ => Err(fault("dead reason")),
    }
}

/// {has_last, last_status, last_error} at `index`; the status is empty when the app never
/// answered.
fn last(row: &mut Row, index: usize) -> Result<Option<AttemptEnd>, SpoolError> {
    if row.get(index).cloned().flatten().as_deref() != Some(b"1") {
        return Ok(None);
    }
    let status = text(row, index + 1, "last status")?;
    let status = match status.as_str() {
        "" => None,
        digits => Some(digits.parse().map_err(|_| fault("last status"))?),
    };
    Ok(Some(AttemptEnd {
        status,
        error: text(row, index + 2, "last error")?,
    }))
}

/// A dead-letter row: {id, route, meta, attempt, reason, dead_at, has_last, last_status,
/// last_error, size}.
pub(super) fn decode_dead_letter(mut row: Row) -> Result<DeadLetter, SpoolError> {
    let meta = meta(&mut row, 2)?;
    Ok(DeadLetter {
        id: id(&mut row, 0)?,
        route: text(&mut row, 1, "route")?,
        method: meta.request.method,
        path_and_query: meta.request.path_and_query,
        received_at: from_unix_ms(meta.received_at_ms),
        attempts: number(&mut row, 3, "attempt")?,
        reason: reason(&text(&mut row, 4, "dead reason")?)?,
        dead_at: from_unix_ms(number(&mut row, 5, "dead time")?),
        last: last(&mut row, 6)?,
        event: meta.request.event,
        provider_delivery: meta.request.provider_delivery,
        size: number(&mut row, 9, "size")?,
    })
}

/// Rows of {route, pending, in flight, dead, oldest pending received ms ('' when none)}; routes
/// holding nothing are left out, as the disk store leaves them out.
pub(super) fn decode_counts(
    bytes: &str,
    rows: Vec<Vec<String>>,
    now_ms: u64,
) -> Result<SpoolCounts, SpoolError> {
    let mut counts = SpoolCounts {
        bytes: bytes.parse().map_err(|_| fault("byte count"))?,
        ..SpoolCounts::default()
    };
    for row in rows {
        let [route, pending, in_flight, dead, oldest] =
            <[String; 5]>::try_from(row).map_err(|_| fault("route counts"))?;
        let parse = |n: &str| n.parse::<u64>().map_err(|_| fault("route counts"));
        let route_counts = RouteCounts {
            pending: parse(&pending)?,
            in_flight: parse(&in_flight)?,
            dead: parse(&dead)?,
            oldest_pending_age: oldest_age(&oldest, now_ms)?,
        };
        if route_counts.pending + route_counts.in_flight + route_counts.dead > 0 {
            counts.routes.insert(route, route_counts);
        }
    }
    Ok(counts)
}

/// Sorted-set scores come back as decimal floats; ms fit a float exactly.
fn oldest_age(received: &str, now_ms: u64) -> Result<Duration, SpoolError> {
    if received.is_empty() {
        return Ok(Duration::ZERO);
    }
    let received: f64 = received.parse().map_err(|_| fault("receipt time"))?;
    Ok(Duration::from_millis(
        now_ms.saturating_sub(received as u64),
    ))
}
