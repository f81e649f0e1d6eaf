//! The disk spool under the shared conformance tests, plus what only a file on disk can show:
//! crash recovery, reopening, and group commit.

use super::super::conformance::{self, at, claim, delivery, t0, SMALL_MAX_BYTES};
use super::*;

async fn fresh() -> (tempfile::TempDir, DiskSpool) {
    let dir = tempfile::tempdir().unwrap();
    let spool = DiskSpool::open(dir.path(), SMALL_MAX_BYTES).await.unwrap();
    (dir, spool)
}

conformance::suite!(fresh());

/// The database and its write-ahead log as they are on disk now, while the store is still open,
/// so no clean shutdown ever reaches the copy.
fn copy_as_a_crash_leaves_it(from: &std::path::Path, to: &std::path::Path) {
    for suffix in ["", "-wal"] {
        let name = format!("{FILE_NAME}{suffix}");
        if from.join(&name).exists() {
            std::fs::copy(from.join(&name), to.join(&name)).unwrap();
        }
    }
}

/// The file as a crash would leave it: a copy taken while the store is still open, so no
/// clean shutdown ever reaches it.
#[tokio::test]
async fn a_crash_leaves_in_flight_deliveries_pending_and_loses_nothing_acknowledged() {
    let (dir, spool) = fresh().await;
    let taken = spool.enqueue("r", delivery(b"taken")).await.unwrap();
    claim(&spool, "r", t0()).await;
    let waiting = spool.enqueue("r", delivery(b"waiting")).await.unwrap();
    let dead = spool.enqueue("r", delivery(b"dead")).await.unwrap();
    spool.dead(&dead, DeadReason::Rejected, None).await.unwrap();
    // The dispatcher's changes skip the fsync; the next enqueue's durable commit carries them.
    let last = spool.enqueue("r", delivery(b"last")).await.unwrap();

    let crashed = tempfile::tempdir().unwrap();
    copy_as_a_crash_leaves_it(dir.path(), crashed.path());
    let reopened = DiskSpool::open(crashed.path(), SMALL_MAX_BYTES)
        .await
        .unwrap();

    let due = claim(&reopened, "r", at(60)).await;
    let bodies: Vec<_> = due.iter().map(|d| (d.id.clone(), d.body.clone())).collect();
    assert_eq!(
        bodies,
        vec![
            (taken, Bytes::from_static(b"taken")),
            (waiting, Bytes::from_static(b"waiting")),
            (last.clone(), Bytes::from_static(b"last"))
        ]
    );
    assert_eq!(
        reopened.dead_letters(Some("r"), 10).await.unwrap()[0].id,
        dead
    );
    let before = spool.counts(at(1)).await.unwrap().bytes;
    assert_eq!(reopened.counts(at(1)).await.unwrap().bytes, before);
    let next = reopened.enqueue("r", delivery(b"after")).await.unwrap();
    assert!(next > last, "ids keep increasing after a restart");
}

#[tokio::test]
async fn close_then_reopen_keeps_everything() {
    let (dir, spool) = fresh().await;
    spool.enqueue("r", delivery(b"kept")).await.unwrap();
    claim(&spool, "r", t0()).await;
    spool.close().await;
    drop(spool);
    let reopened = DiskSpool::open(dir.path(), SMALL_MAX_BYTES).await.unwrap();
    assert_eq!(claim(&reopened, "r", t0()).await[0].body.as_ref(), b"kept");
    // The limit holds across reopens: the byte count was rebuilt.
    let big = vec![0u8; SMALL_MAX_BYTES as usize];
    let full = reopened.enqueue("r", delivery(&big)).await;
    assert_eq!(full, Err(SpoolError::Full));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_enqueues_share_commits() {
    const SENDERS: usize = 200;
    let dir = tempfile::tempdir().unwrap();
    let spool = Arc::new(DiskSpool::open(dir.path(), 1 << 30).await.unwrap());
    let mut senders = tokio::task::JoinSet::new();
    for n in 0..SENDERS {
        let spool = Arc::clone(&spool);
        senders.spawn(async move {
            let body = format!("{{\"n\":{n}}}");
            spool.enqueue("r", delivery(body.as_bytes())).await
        });
    }
    let mut ids = Vec::new();
    while let Some(sent) = senders.join_next().await {
        ids.push(sent.unwrap().unwrap());
    }
    ids.sort();
    ids.dedup();
    assert_eq!(ids.len(), SENDERS);
    let commits = spool.commits();
    eprintln!("{SENDERS} concurrent enqueues took {commits} commits");
    assert!(commits <= (SENDERS / 10) as u64, "{commits} commits");
    let due = spool.claim("r", at(1), 1000, conformance::NOT_STALE).await;
    assert_eq!(due.unwrap().len(), SENDERS);
}

#[test]
fn ids_are_fixed_width_and_parse_back() {
    let id = DeliveryId::new(1 << 16, 7);
    assert_eq!(id.as_str(), "000000000001000000000007");
    assert_eq!(DeliveryId::parse(id.as_str()), Some(id.clone()));
    assert_eq!(id.time_and_counter(), 1 << 16);
    assert_eq!(DeliveryId::parse("00000000000100000000000G"), None);
    assert_eq!(DeliveryId::parse("short"), None);
}

/// The dispatcher's changes are committed without an fsync: a killed process still loses none
/// of them (they are in the log, in the OS's hands); only a power loss could take one back, and
/// then the delivery would be pending again. A clean close syncs them.
#[tokio::test]
async fn a_killed_process_keeps_the_dispatchers_unsynced_changes() {
    let (dir, spool) = fresh().await;
    let id = spool.enqueue("r", delivery(b"kept")).await.unwrap();
    claim(&spool, "r", t0()).await;
    spool.delivered(&id).await.unwrap();
    let crashed = tempfile::tempdir().unwrap();
    copy_as_a_crash_leaves_it(dir.path(), crashed.path());
    let reopened = DiskSpool::open(crashed.path(), SMALL_MAX_BYTES)
        .await
        .unwrap();
    assert!(claim(&reopened, "r", t0()).await.is_empty());
    assert_eq!(reopened.counts(at(1)).await.unwrap().bytes, 0);

    spool.close().await;
    drop(spool);
    let reopened_clean = DiskSpool::open(dir.path(), SMALL_MAX_BYTES).await.unwrap();
    assert!(claim(&reopened_clean, "r", t0()).await.is_empty());
}

/// Not a test: how fast the store itself is, without HTTP. `cargo test --release --lib
/// disk_throughput -- --ignored --nocapture`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
#[ignore]
async fn disk_throughput() {
    let dir = tempfile::tempdir_in("/var/tmp").unwrap();
    let spool = Arc::new(DiskSpool::open(dir.path(), 1 << 33).await.unwrap());
    let body = vec![b'x'; 1024];
    let started = std::time::Instant::now();
    let mut senders = tokio::task::JoinSet::new();
    for _ in 0..64 {
        let spool = Arc::clone(&spool);
        let body = body.clone();
        senders.spawn(async move {
            for _ in 0..500 {
                spool.enqueue("r", delivery(&body)).await.unwrap();
            }
        });
    }
    while senders.join_next().await.is_some() {}
    let enqueued = started.elapsed();
    let commits = spool.commits();
    let started = std::time::Instant::now();
    let mut n = 0;
    while std::env::var("SKIP_DRAIN").is_err() {
        let claimed = spool
            .claim("r", at(1), 32, conformance::NOT_STALE)
            .await
            .unwrap();
        if claimed.is_empty() {
            break;
        }
        for delivery in claimed {
            spool.delivered(&delivery.id).await.unwrap();
            n += 1;
        }
    }
    eprintln!(
        "32000 enqueues in {enqueued:?} ({} commits); {n} claimed+delivered in {:?}",
        commits,
        started.elapsed()
    );
}

#[tokio::test]
async fn a_spool_hookguard_creates_is_readable_by_it_alone() {
    use std::os::unix::fs::PermissionsExt;
    let parent = tempfile::tempdir().unwrap();
    let dir = parent.path().join("new").join("spool");
    let spool = DiskSpool::open(&dir, SMALL_MAX_BYTES).await.unwrap();
    spool.enqueue("r", delivery(b"secret-ish")).await.unwrap();
    let mode =
        |path: &std::path::Path| std::fs::metadata(path).unwrap().permissions().mode() & 0o777;
    assert_eq!(mode(&dir), 0o700);
    assert_eq!(mode(&dir.join(FILE_NAME)), 0o600);
    let wal = dir.join(format!("{FILE_NAME}-wal"));
    assert_eq!(
        mode(&wal) & 0o077,
        0,
        "SQLite gives its log the database's mode"
    );
}
