//! Conformance tests written against the [`Spool`] interface only, so every backend runs the same
//! ones: each takes a fresh, empty store opened with `max_bytes` = [`SMALL_MAX_BYTES`].

use std::time::{Duration, SystemTime};

use bytes::Bytes;

use super::spool::{AttemptEnd, DeadReason, Delivery, DeliveryId, NewDelivery, Spool, SpoolError};

/// One `#[tokio::test]` per conformance test, each on a fresh store: `$fresh` is an expression
/// whose future gives `(something to keep alive, the spool)`.
macro_rules! suite {
    ($fresh:expr) => {
        $crate::delivery::conformance::suite!(
            @each $fresh;
            enqueue_claim_delivered,
            claims_in_order_per_route_up_to_the_limit,
            retry_counts_and_reschedules,
            retries_come_back_soonest_due_first,
            dead_replay_and_drop,
            replay_a_route_and_purge_old_dead_letters,
            full_refuses_and_writes_nothing,
            bodies_byte_for_byte,
            counts_per_route
        );
    };
    (@each $fresh:expr; $($name:ident),*) => {$(
        #[tokio::test]
        async fn $name() {
            let (_kept, spool) = $fresh.await;
            $crate::delivery::conformance::$name(&spool).await;
        }
    )*};
}
pub(crate) use suite;

/// The `max_bytes` every store under test is opened with.
pub const SMALL_MAX_BYTES: u64 = 64 * 1024;

/// Long enough that no test sees a claim taken back as stale.
pub const NOT_STALE: Duration = Duration::from_secs(3600);

pub fn t0() -> SystemTime {
    SystemTime::UNIX_EPOCH + Duration::from_secs(1_800_000_000)
}

pub fn at(seconds: u64) -> SystemTime {
    t0() + Duration::from_secs(seconds)
}

pub fn delivery(body: &[u8]) -> NewDelivery {
    NewDelivery {
        method: "POST".into(),
        path_and_query: "/webhooks/x?a=1".into(),
        headers: vec![
            (b"content-type".to_vec(), b"application/json".to_vec()),
            (b"x-sig".to_vec(), vec![0xff, 0x00, b'v']),
        ],
        body: Bytes::copy_from_slice(body),
        received_at: t0(),
        event: Some("file.uploaded".into()),
        provider_delivery: Some("evt_1".into()),
    }
}

pub fn failed(status: u16) -> AttemptEnd {
    AttemptEnd {
        status: Some(status),
        error: format!("status {status}"),
    }
}

pub async fn claim(spool: &impl Spool, route: &str, now: SystemTime) -> Vec<Delivery> {
    spool.claim(route, now, 100, NOT_STALE).await.unwrap()
}

fn ids(deliveries: &[Delivery]) -> Vec<DeliveryId> {
    deliveries.iter().map(|d| d.id.clone()).collect()
}

pub async fn enqueue_claim_delivered(spool: &impl Spool) {
    let sent = delivery(b"{\"n\":1}");
    let id = spool.enqueue("r", sent.clone()).await.unwrap();
    assert_eq!(id.as_str().len(), DeliveryId::LEN);
    let taken = claim(spool, "r", t0()).await;
    assert_eq!(ids(&taken), vec![id.clone()]);
    let taken = &taken[0];
    assert_eq!(taken.route, "r");
    assert_eq!(taken.method, sent.method);
    assert_eq!(taken.path_and_query, sent.path_and_query);
    assert_eq!(taken.headers, sent.headers);
    assert_eq!(taken.body, sent.body);
    assert_eq!(taken.received_at, sent.received_at);
    assert_eq!(taken.age_from, sent.received_at);
    assert_eq!(taken.event, sent.event);
    assert_eq!(taken.attempt, 0);
    assert!(
        claim(spool, "r", at(60)).await.is_empty(),
        "in flight is not claimed twice"
    );

    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(counts.routes["r"].in_flight, 1);
    spool.delivered(&id).await.unwrap();
    assert!(matches!(
        spool.delivered(&id).await,
        Err(SpoolError::NotFound { .. })
    ));
    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(counts.bytes, 0);
    assert!(counts
        .routes
        .values()
        .all(|r| r.pending + r.in_flight + r.dead == 0));
}

pub async fn claims_in_order_per_route_up_to_the_limit(spool: &impl Spool) {
    let first = spool.enqueue("r", delivery(b"1")).await.unwrap();
    let second = spool.enqueue("r", delivery(b"2")).await.unwrap();
    let third = spool.enqueue("r", delivery(b"3")).await.unwrap();
    let other = spool.enqueue("other", delivery(b"o")).await.unwrap();
    assert!(
        first < second && second < third,
        "ids sort by time of receipt"
    );

    let taken = spool.claim("r", t0(), 2, NOT_STALE).await.unwrap();
    assert_eq!(ids(&taken), vec![first, second]);
    assert_eq!(ids(&claim(spool, "r", t0()).await), vec![third]);
    assert_eq!(ids(&claim(spool, "other", t0()).await), vec![other]);
}

pub async fn retry_counts_and_reschedules(spool: &impl Spool) {
    let id = spool.enqueue("r", delivery(b"x")).await.unwrap();
    claim(spool, "r", t0()).await;
    spool.retry(&id, at(60), failed(500)).await.unwrap();
    assert!(matches!(
        spool.retry(&id, at(60), failed(500)).await,
        Err(SpoolError::NotFound { .. })
    ));
    assert!(claim(spool, "r", at(59)).await.is_empty());
    let taken = claim(spool, "r", at(60)).await;
    assert_eq!(ids(&taken), vec![id]);
    assert_eq!(taken[0].attempt, 1);
    assert_eq!(taken[0].next_due, at(60));
    assert_eq!(taken[0].body, Bytes::from_static(b"x"));
}

pub async fn retries_come_back_soonest_due_first(spool: &impl Spool) {
    let a = spool.enqueue("r", delivery(b"a")).await.unwrap();
    let b = spool.enqueue("r", delivery(b"b")).await.unwrap();
    claim(spool, "r", t0()).await;
    spool.retry(&a, at(60), failed(503)).await.unwrap();
    spool.retry(&b, at(30), failed(503)).await.unwrap();
    assert_eq!(ids(&claim(spool, "r", at(45)).await), vec![b.clone()]);
    spool.retry(&b, at(50), failed(503)).await.unwrap();
    assert_eq!(ids(&claim(spool, "r", at(100)).await), vec![b, a]);
}

pub async fn dead_replay_and_drop(spool: &impl Spool) {
    let rejected = spool.enqueue("r", delivery(b"a")).await.unwrap();
    claim(spool, "r", t0()).await;
    let expired = spool.enqueue("r", delivery(b"b")).await.unwrap();
    spool
        .dead(&rejected, DeadReason::Rejected, Some(failed(400)))
        .await
        .unwrap();
    spool
        .dead(&expired, DeadReason::Expired, None)
        .await
        .unwrap();
    assert!(claim(spool, "r", at(100)).await.is_empty());
    assert!(spool
        .dead_letters(Some("other"), 10)
        .await
        .unwrap()
        .is_empty());

    let letters = spool.dead_letters(Some("r"), 10).await.unwrap();
    assert_eq!(ids_of(&letters), vec![rejected.clone(), expired.clone()]);
    assert_eq!(letters[0].reason, DeadReason::Rejected);
    assert_eq!(
        letters[0].attempts, 1,
        "the attempt the app rejected counts"
    );
    assert_eq!(letters[0].last, Some(failed(400)));
    assert_eq!(letters[0].event.as_deref(), Some("file.uploaded"));
    assert_eq!(letters[0].provider_delivery.as_deref(), Some("evt_1"));
    assert_eq!(letters[1].reason, DeadReason::Expired);
    assert_eq!((letters[1].attempts, letters[1].last.clone()), (0, None));
    assert_eq!(letters[1].received_at, t0());
    assert!(letters[1].size > 0);
    let first = spool.dead_letters(None, 1).await.unwrap();
    assert_eq!(ids_of(&first), vec![rejected.clone()]);
    let counts = spool.counts(at(1)).await.unwrap();
    assert_eq!(
        (counts.routes["r"].dead, counts.routes["r"].pending),
        (2, 0)
    );

    spool.replay(&rejected).await.unwrap();
    let now = SystemTime::now() + Duration::from_secs(1);
    let taken = claim(spool, "r", now).await;
    assert_eq!(ids(&taken), vec![rejected.clone()], "a replay is due now");
    assert_eq!(taken[0].body, Bytes::from_static(b"a"));
    assert_eq!(taken[0].attempt, 0, "a replay counts attempts afresh");
    let since_replay = SystemTime::now()
        .duration_since(taken[0].age_from)
        .unwrap_or_default();
    assert!(
        taken[0].age_from != t0() && since_replay < Duration::from_secs(60),
        "max_age counts from the replay"
    );
    assert!(matches!(
        spool.drop_dead(&rejected).await,
        Err(SpoolError::NotFound { .. })
    ));
    spool.drop_dead(&expired).await.unwrap();
    assert!(spool.dead_letters(Some("r"), 10).await.unwrap().is_empty());
    assert!(matches!(
        spool.replay(&expired).await,
        Err(SpoolError::NotFound { .. })
    ));
}

fn ids_of(letters: &[super::spool::DeadLetter]) -> Vec<DeliveryId> {
    letters.iter().map(|l| l.id.clone()).collect()
}

pub async fn replay_a_route_and_purge_old_dead_letters(spool: &impl Spool) {
    let mut dead = Vec::new();
    for route in ["a", "a", "b"] {
        let id = spool.enqueue(route, delivery(b"d")).await.unwrap();
        spool.dead(&id, DeadReason::Expired, None).await.unwrap();
        dead.push(id);
    }
    assert_eq!(spool.replay_route("a").await.unwrap(), 2);
    assert_eq!(spool.replay_route("a").await.unwrap(), 0);
    let now = SystemTime::now() + Duration::from_secs(1);
    assert_eq!(ids(&claim(spool, "a", now).await), dead[..2].to_vec());

    let long_ago = SystemTime::now() - Duration::from_secs(3600);
    assert_eq!(spool.purge_dead(long_ago).await.unwrap(), 0);
    let later = SystemTime::now() + Duration::from_secs(3600);
    assert_eq!(spool.purge_dead(later).await.unwrap(), 1);
    assert!(spool.dead_letters(None, 10).await.unwrap().is_empty());
    assert!(matches!(
        spool.replay(&dead[2]).await,
        Err(SpoolError::NotFound { .. })
    ));
}

pub async fn full_refuses_and_writes_nothing(spool: &impl Spool) {
    let half = vec![b'h'; (SMALL_MAX_BYTES / 2) as usize];
    spool.enqueue("r", delivery(&half)).await.unwrap();
    let before = spool.counts(at(1)).await.unwrap();
    let refused = spool.enqueue("r", delivery(&half)).await;
    assert_eq!(refused, Err(SpoolError::Full));
    assert_eq!(spool.counts(at(1)).await.unwrap(), before);
    // A small one still fits.
    spool.enqueue("r", delivery(b"small")).await.unwrap();
    assert_eq!(claim(spool, "r", at(1)).await.len(), 2);
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
        sent.push(spool.enqueue("r", delivery(body)).await.unwrap());
    }
    let taken = claim(spool, "r", t0()).await;
    assert_eq!(ids(&taken), sent);
    for (delivery, body) in taken.iter().zip(&bodies) {
        assert_eq!(delivery.body.as_ref(), body.as_slice());
    }
}

pub async fn counts_per_route(spool: &impl Spool) {
    spool.enqueue("a", delivery(b"1")).await.unwrap();
    spool.claim("a", t0(), 1, NOT_STALE).await.unwrap();
    spool.enqueue("a", delivery(b"2")).await.unwrap();
    let dead = spool.enqueue("b", delivery(b"3")).await.unwrap();
    spool.dead(&dead, DeadReason::Expired, None).await.unwrap();
    let counts = spool.counts(at(90)).await.unwrap();
    let a = &counts.routes["a"];
    assert_eq!((a.pending, a.in_flight, a.dead), (1, 1, 0));
    assert_eq!(a.oldest_pending_age, Duration::from_secs(90));
    let b = &counts.routes["b"];
    assert_eq!((b.pending, b.in_flight, b.dead), (0, 0, 1));
    assert_eq!(b.oldest_pending_age, Duration::ZERO);
    assert!(counts.bytes > 3);
}
