//! Conformance tests written against the [`Spool`] interface only, so every backend runs the same
//! ones: each takes a fresh, empty store opened with `max_bytes` = [`SMALL_MAX_BYTES`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::spool::{DeadReason, DeliveryId, NewDelivery, Spool, SpoolError};

/// The `max_bytes` every store under test is opened with.
pub const SMALL_MAX_BYTES: u64 = 64 * 1024;

pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn at(seconds: u64) -> SystemTime {
    t0() + Duration::from_secs(seconds)
}

pub fn delivery(body: &[u8], due: SystemTime) -> NewDelivery {
    NewDelivery {
        method: "POST".into(),
        path_and_query: "/webhooks/x?a=1".into(),
        headers: vec![
            (b"content-type".to_vec(), b"application/json".to_vec()),
            (b"x-sig".to_vec(), vec![0xff, 0x00, b'v']),
        ],
        body: Bytes::copy_from_slice(body),
        received_at: t0(),
        next_due: due,
    }
}

fn ids(due: &[super::spool::Due]) -> Vec<DeliveryId> {
    due.iter().map(|d| d.id.clone()).collect()
}

pub async fn enqueue_take_delivered(spool: &impl Spool) {
    let sent = delivery(b"{\"n\":1}", t0());
    let id = spool.enqueue("r", sent.clone()).await.unwrap();
    assert_eq!(id.as_str().len(), DeliveryId::LEN);
    let due = spool.next_due("r", t0(), 10).await.unwrap();
    assert_eq!(ids(&due), vec![id.clone()]);
    assert_eq!(due[0].attempt, 0);

    let taken = spool.take(&id).await.unwrap();
    assert_eq!(taken.route, "r");
    assert_eq!(taken.method, sent.method);
    assert_eq!(taken.path_and_query, sent.path_and_query);
    assert_eq!(taken.headers, sent.headers);
    assert_eq!(taken.body, sent.body);
    assert_eq!(taken.received_at, sent.received_at);
    assert_eq!(taken.attempt, 0);
    assert!(spool.next_due("r", at(60), 10).await.unwrap().is_empty());
    assert!(matches!(
        spool.take(&id).await,
        Err(SpoolError::NotFound { .. })
    ));

    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(counts.routes["r"].in_flight, 1);
    spool.delivered(&id).await.unwrap();
    assert!(matches!(
        spool.delivered(&id).await,
        Err(SpoolError::NotFound { .. })
    ));
    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(counts.bytes, 0);
    assert!(counts.routes.is_empty());
}

pub async fn due_in_order_per_route(spool: &impl Spool) {
    let late = spool.enqueue("r", delivery(b"late", at(30))).await.unwrap();
    let early = spool
        .enqueue("r", delivery(b"early", at(10)))
        .await
        .unwrap();
    let middle = spool.enqueue("r", delivery(b"mid", at(20))).await.unwrap();
    let other = spool.enqueue("other", delivery(b"o", at(0))).await.unwrap();
    assert!(
        early < middle && late < early,
        "ids sort by time of receipt"
    );

    assert!(spool.next_due("r", at(9), 10).await.unwrap().is_empty());
    let due = spool.next_due("r", at(20), 10).await.unwrap();
    assert_eq!(ids(&due), vec![early.clone(), middle.clone()]);
    let due = spool.next_due("r", at(100), 10).await.unwrap();
    assert_eq!(ids(&due), vec![early.clone(), middle, late]);
    let due = spool.next_due("r", at(100), 1).await.unwrap();
    assert_eq!(ids(&due), vec![early]);
    let due = spool.next_due("other", at(100), 10).await.unwrap();
    assert_eq!(ids(&due), vec![other]);
}

pub async fn retry_counts_and_reschedules(spool: &impl Spool) {
    let id = spool.enqueue("r", delivery(b"x", t0())).await.unwrap();
    spool.take(&id).await.unwrap();
    spool.retry(&id, at(60)).await.unwrap();
    assert!(matches!(
        spool.retry(&id, at(60)).await,
        Err(SpoolError::NotFound { .. })
    ));
    assert!(spool.next_due("r", at(59), 10).await.unwrap().is_empty());
    let due = spool.next_due("r", at(60), 10).await.unwrap();
    assert_eq!(ids(&due), vec![id.clone()]);
    assert_eq!(due[0].attempt, 1);
    let taken = spool.take(&id).await.unwrap();
    assert_eq!(taken.attempt, 1);
    assert_eq!(taken.next_due, at(60));
    assert_eq!(taken.body, Bytes::from_static(b"x"));
}

pub async fn dead_replay_and_drop(spool: &impl Spool) {
    let rejected = spool.enqueue("r", delivery(b"a", t0())).await.unwrap();
    let expired = spool.enqueue("r", delivery(b"b", t0())).await.unwrap();
    spool.take(&rejected).await.unwrap();
    spool.dead(&rejected, DeadReason::Rejected).await.unwrap();
    spool.dead(&expired, DeadReason::Expired).await.unwrap();
    assert!(spool.next_due("r", at(100), 10).await.unwrap().is_empty());
    assert!(spool.dead_letters("other").await.unwrap().is_empty());

    let letters = spool.dead_letters("r").await.unwrap();
    assert_eq!(letters.len(), 2);
    assert_eq!(letters[0].id, rejected);
    assert_eq!(letters[0].reason, DeadReason::Rejected);
    assert_eq!(
        letters[0].attempts, 1,
        "the attempt the app rejected counts"
    );
    assert_eq!(letters[1].id, expired);
    assert_eq!(letters[1].reason, DeadReason::Expired);
    assert_eq!(letters[1].attempts, 0);
    assert_eq!(letters[1].received_at, t0());
    assert!(letters[1].size > 0);
    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(
        (counts.routes["r"].dead, counts.routes["r"].pending),
        (2, 0)
    );

    assert!(matches!(
        spool.take(&rejected).await,
        Err(SpoolError::NotFound { .. })
    ));
    spool.replay(&rejected).await.unwrap();
    let due = spool.next_due("r", SystemTime::now(), 10).await.unwrap();
    assert_eq!(ids(&due), vec![rejected.clone()], "a replay is due now");
    assert_eq!(
        spool.take(&rejected).await.unwrap().body,
        Bytes::from_static(b"a")
    );

    assert!(matches!(
        spool.drop_dead(&rejected).await,
        Err(SpoolError::NotFound { .. })
    ));
    spool.drop_dead(&expired).await.unwrap();
    assert!(spool.dead_letters("r").await.unwrap().is_empty());
    assert!(matches!(
        spool.replay(&expired).await,
        Err(SpoolError::NotFound { .. })
    ));
}

pub async fn full_refuses_and_writes_nothing(spool: &impl Spool) {
    let half = vec![b'h'; (SMALL_MAX_BYTES / 2) as usize];
    spool.enqueue("r", delivery(&half, t0())).await.unwrap();
    let before = spool.counts(at(1)).await.unwrap();
    let refused = spool.enqueue("r", delivery(&half, t0())).await;
    assert_eq!(refused, Err(SpoolError::Full));
    assert_eq!(spool.counts(at(1)).await.unwrap(), before);
    assert_eq!(spool.next_due("r", at(1), 10).await.unwrap().len(), 1);
    // A small one still fits.
    spool.enqueue("r", delivery(b"small", t0())).await.unwrap();
}

pub async fn bodies_byte_for_byte(spool: &impl Spool) {
    let bodies: Vec<Vec<u8>> = vec![
        Vec::new(),
        (0..=255u8).collect(),
        (0..20_000u32)
            .map(|i| (i.wrapping_mul(2_654_435_761) >> 24) as u8)
            .collect(),
    ];
    let mut sent = Vec::new();
    for body in &bodies {
        sent.push(spool.enqueue("r", delivery(body, t0())).await.unwrap());
    }
    for (id, body) in sent.iter().zip(&bodies) {
        assert_eq!(spool.take(id).await.unwrap().body.as_ref(), body.as_slice());
    }
}

pub async fn counts_per_route(spool: &impl Spool) {
    let first = spool.enqueue("a", delivery(b"1", t0())).await.unwrap();
    spool.enqueue("a", delivery(b"2", t0())).await.unwrap();
    let dead = spool.enqueue("b", delivery(b"3", t0())).await.unwrap();
    spool.take(&first).await.unwrap();
    spool.dead(&dead, DeadReason::Expired).await.unwrap();
    let counts = spool.counts(at(90)).await.unwrap();
    let a = &counts.routes["a"];
    assert_eq!((a.pending, a.in_flight, a.dead), (1, 1, 0));
    assert_eq!(a.oldest_pending_age, Duration::from_secs(90));
    let b = &counts.routes["b"];
    assert_eq!((b.pending, b.in_flight, b.dead), (0, 0, 1));
    assert_eq!(b.oldest_pending_age, Duration::ZERO);
    assert!(counts.bytes > 3);
}
