//! Reads of the disk spool that need no writer: dead letters, and the oldest pending delivery
//! beside the writer's counts.

use rusqlite::{params, OptionalExtension};

use super::*;
use crate::delivery::spool::{from_unix_ms, RouteCounts};

/// Dead letters of one route or all, oldest received first (ids sort by time of receipt).
pub(super) fn read_dead_letters(
    connection: &Connection,
    route: Option<&str>,
    limit: usize,
) -> Stored<Vec<DeadLetter>> {
    let mut statement = connection.prepare_cached(
        "SELECT seq, salt, route, received_ms, attempt, dead_reason, dead_ms, last_status,
         last_error, size, fixed FROM deliveries
         WHERE state = 2 AND (?1 IS NULL OR route = ?1) ORDER BY seq LIMIT ?2",
    )?;
    let mut rows = statement.query(params![route, int(limit as u64)])?;
    let mut letters = Vec::new();
    while let Some(row) = rows.next()? {
        let fixed: RequestRecord = postcard::from_bytes(&row.get::<_, Vec<u8>>(10)?)?;
        let last_error: Option<String> = row.get(8)?;
        let last_status: Option<u16> = row.get(7)?;
        letters.push(DeadLetter {
            id: DeliveryId::new(uint(row.get(0)?), row.get(1)?),
            route: row.get(2)?,
            method: fixed.method,
            path_and_query: fixed.path_and_query,
            received_at: from_unix_ms(uint(row.get(3)?)),
            attempts: row.get(4)?,
            reason: reason_of(row.get::<_, Option<i64>>(5)?.unwrap_or(1)),
            dead_at: from_unix_ms(uint(row.get::<_, Option<i64>>(6)?.unwrap_or(0))),
            last: last_error.map(|error| AttemptEnd {
                status: last_status,
                error,
            }),
            event: fixed.event,
            provider_delivery: fixed.provider_delivery,
            size: uint(row.get(9)?),
        });
    }
    Ok(letters)
}

/// The writer's counts, with each route's oldest pending delivery read from its index.
pub(super) fn read_counts(
    connection: &Connection,
    tally: Tally,
    now_ms: u64,
) -> Stored<SpoolCounts> {
    let mut oldest = connection.prepare_cached(
        "SELECT received_ms FROM deliveries WHERE route = ?1 AND state = 0 ORDER BY seq LIMIT 1",
    )?;
    let mut counts = SpoolCounts {
        bytes: tally.bytes,
        ..SpoolCounts::default()
    };
    for (route, [pending, in_flight, dead]) in tally.routes {
        if pending + in_flight + dead == 0 {
            continue;
        }
        let received: Option<i64> = oldest
            .query_row([route.as_str()], |row| row.get(0))
            .optional()?;
        let oldest_pending_age = received.map_or(Duration::ZERO, |ms| {
            Duration::from_millis(now_ms.saturating_sub(uint(ms)))
        });
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
