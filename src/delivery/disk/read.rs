//! Reads of the spool that need no writer: due deliveries, dead letters and the counts.

use super::*;

pub(super) fn read_due(db: &Database, route: &str, now_ms: u64, limit: usize) -> Stored<Vec<Due>> {
    let txn = db.begin_read()?;
    let due = txn.open_table(DUE)?;
    let mut found = Vec::new();
    for entry in due.range((route, 0u64, "")..(route, now_ms.saturating_add(1), ""))? {
        if found.len() >= limit {
            break;
        }
        let (key, attempt) = entry?;
        if let Some(id) = DeliveryId::parse(key.value().2) {
            found.push(Due {
                id,
                attempt: attempt.value(),
            });
        }
    }
    Ok(found)
}

pub(super) fn read_dead_letters(db: &Database, route: &str) -> Stored<Vec<DeadLetter>> {
    let txn = db.begin_read()?;
    let dead = txn.open_table(DEAD)?;
    let meta = txn.open_table(META)?;
    let mut letters = Vec::new();
    for entry in dead.range((route, "")..)? {
        let (key, _) = entry?;
        let (key_route, id) = key.value();
        if key_route != route {
            break;
        }
        let Some(encoded) = meta.get(id)? else {
            continue;
        };
        let record: Record = postcard::from_bytes(encoded.value())?;
        let (State::Dead { reason, at_ms }, Some(id)) = (record.state, DeliveryId::parse(id))
        else {
            continue;
        };
        letters.push(DeadLetter {
            id,
            route: record.route,
            method: record.method,
            path_and_query: record.path_and_query,
            received_at: from_unix_ms(record.received_at_ms),
            attempts: record.attempt,
            reason,
            dead_at: from_unix_ms(at_ms),
            size: record.size,
        });
    }
    Ok(letters)
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
