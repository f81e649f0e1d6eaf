//! Reads of the spool that need no writer: due deliveries, dead letters and the counts.

use super::*;

/// Whether `route` has a pending delivery due at or before `now_ms`.
pub(super) fn any_due(db: &Database, route: &str, now_ms: u64) -> Stored<bool> {
    let txn = db.begin_read()?;
    let due = txn.open_table(DUE)?;
    let mut range = due.range((route, 0u64, "")..(route, now_ms.saturating_add(1), ""))?;
    Ok(range.next().transpose()?.is_some())
}

/// Dead letters of one route or all, oldest received first (ids sort by time of receipt).
pub(super) fn read_dead_letters(
    db: &Database,
    route: Option<&str>,
    limit: usize,
) -> Stored<Vec<DeadLetter>> {
    let txn = db.begin_read()?;
    let dead = txn.open_table(DEAD)?;
    let meta = txn.open_table(META)?;
    let mut letters = Vec::new();
    let entries = match route {
        Some(route) => dead.range((route, "")..)?,
        None => dead.range::<(&str, &str)>(..)?,
    };
    for entry in entries {
        let (key, _) = entry?;
        let (key_route, id) = key.value();
        if route.is_some_and(|route| route != key_route) {
            break;
        }
        if let Some(letter) = dead_letter(&meta, id)? {
            letters.push(letter);
        }
        if route.is_some() && letters.len() >= limit {
            break;
        }
    }
    letters.sort_by(|a, b| a.id.cmp(&b.id));
    letters.truncate(limit);
    Ok(letters)
}

fn dead_letter(
    meta: &redb::ReadOnlyTable<&'static str, &'static [u8]>,
    id: &str,
) -> Stored<Option<DeadLetter>> {
    let Some(encoded) = meta.get(id)? else {
        return Ok(None);
    };
    let record: Record = postcard::from_bytes(encoded.value())?;
    let (State::Dead { reason, at_ms }, Some(id)) = (record.state, DeliveryId::parse(id)) else {
        return Ok(None);
    };
    Ok(Some(DeadLetter {
        id,
        last: record.last(),
        route: record.route,
        method: record.method,
        path_and_query: record.path_and_query,
        received_at: from_unix_ms(record.received_at_ms),
        attempts: record.attempt,
        reason,
        dead_at: from_unix_ms(at_ms),
        event: record.event,
        provider_delivery: record.provider_delivery,
        size: record.size,
    }))
}

pub(super) fn read_counts(db: &Database, now_ms: u64) -> Stored<SpoolCounts> {
    let txn = db.begin_read()?;
    let meta = txn.open_table(META)?;
    let mut counts = SpoolCounts::default();
    let mut oldest_pending_ms: std::collections::BTreeMap<String, u64> = Default::default();
    for entry in meta.iter()? {
        let (_, encoded) = entry?;
        let record: Record = postcard::from_bytes(encoded.value())?;
        counts.bytes = counts.bytes.saturating_add(record.size);
        let route: &mut RouteCounts = counts.routes.entry(record.route.clone()).or_default();
        match record.state {
            State::Pending { .. } => {
                route.pending += 1;
                let oldest = oldest_pending_ms.entry(record.route).or_insert(u64::MAX);
                *oldest = (*oldest).min(record.received_at_ms);
            }
            State::InFlight { .. } => route.in_flight += 1,
            State::Dead { .. } => route.dead += 1,
        }
    }
    for (route, received_ms) in oldest_pending_ms {
        if let Some(route) = counts.routes.get_mut(&route) {
            route.oldest_pending_age =
                std::time::Duration::from_millis(now_ms.saturating_sub(received_ms));
        }
    }
    Ok(counts)
}
