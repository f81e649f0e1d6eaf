//! Reads of the disk spool that need no writer: whether anything is due, dead letters, and the
//! oldest pending delivery beside the writer's counts.

use super::*;
use crate::delivery::spool::{from_unix_ms, RouteCounts};

/// Whether `route` has a pending delivery due at or before `now_ms`.
pub(super) fn any_due(db: &Database, route: &str, now_ms: u64) -> Stored<bool> {
    let txn = db.begin_read()?;
    let due = txn.open_table(DUE)?;
    let mut range = due.range((route, 0u64, 0u128)..(route, now_ms.saturating_add(1), 0u128))?;
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
    let status = txn.open_table(STATUS)?;
    let fixed = txn.open_table(FIXED)?;
    let mut letters = Vec::new();
    let entries = match route {
        Some(route) => dead.range((route, 0u128)..)?,
        None => dead.range::<(&str, u128)>(..)?,
    };
    for entry in entries {
        let (key, _) = entry?;
        let (key_route, id) = key.value();
        if route.is_some_and(|route| route != key_route) {
            break;
        }
        if let Some(letter) = dead_letter(&status, &fixed, id)? {
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
    status: &redb::ReadOnlyTable<u128, &'static [u8]>,
    fixed: &redb::ReadOnlyTable<u128, &'static [u8]>,
    id: u128,
) -> Stored<Option<DeadLetter>> {
    let (Some(status), Some(fixed)) = (status.get(id)?, fixed.get(id)?) else {
        return Ok(None);
    };
    let status: Status = postcard::from_bytes(status.value())?;
    let fixed: Fixed = postcard::from_bytes(fixed.value())?;
    let State::Dead { reason, at_ms } = status.state else {
        return Ok(None);
    };
    Ok(Some(DeadLetter {
        id: DeliveryId::from_u128(id),
        last: status.last(),
        route: status.route,
        method: fixed.method,
        path_and_query: fixed.path_and_query,
        received_at: from_unix_ms(status.received_at_ms),
        attempts: status.attempt,
        reason,
        dead_at: from_unix_ms(at_ms),
        event: fixed.event,
        provider_delivery: fixed.provider_delivery,
        size: status.size,
    }))
}

/// The writer's counts, with each route's oldest pending delivery read from its index.
pub(super) fn read_counts(db: &Database, tally: Tally, now_ms: u64) -> Stored<SpoolCounts> {
    let txn = db.begin_read()?;
    let waiting = txn.open_table(WAITING)?;
    let mut counts = SpoolCounts {
        bytes: tally.bytes,
        ..SpoolCounts::default()
    };
    for (route, [pending, in_flight, dead]) in tally.routes {
        if pending + in_flight + dead == 0 {
            continue;
        }
        let mut oldest =
            waiting.range((route.as_str(), 0u64, 0u128)..(route.as_str(), u64::MAX, u128::MAX))?;
        let oldest_pending_age = match oldest.next().transpose()? {
            Some((key, _)) => Duration::from_millis(now_ms.saturating_sub(key.value().1)),
            None => Duration::ZERO,
        };
        counts.routes.insert(
            route,
            RouteCounts {
                pending,
                in_flight,
                dead,
                oldest_pending_age,
            },
        );
    }
    Ok(counts)
}
