//! The Redis spool under the shared conformance tests against a real redis-server, plus what
//! only a shared store can show: refusing a server without AOF, consumers taking over a dead
//! one's claims, concurrent consumers, and a Redis that goes away.

use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::Instant;

use super::super::conformance::{self, delivery, t0, NOT_STALE, SMALL_MAX_BYTES};
use super::*;

/// A real redis-server on a free loopback port with its files in a temporary directory,
/// stopped on drop.
struct Server {
    port: u16,
    child: Child,
    _dir: tempfile::TempDir,
}

impl Server {
    fn start(appendonly: bool) -> Server {
        Server::start_with(appendonly, &[])
    }

    fn start_with(appendonly: bool, extra: &[&str]) -> Server {
        let dir = tempfile::tempdir().unwrap();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let mut child = Command::new("redis-server")
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--save",
                "",
                "--appendonly",
                if appendonly { "yes" } else { "no" },
            ])
            .arg("--dir")
            .arg(dir.path())
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (.ci/run installs it)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Server {
                    port,
                    child,
                    _dir: dir,
                };
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("redis-server did not start on port {port}");
    }

    fn url(&self) -> String {
        format!("redis://127.0.0.1:{}/0", self.port)
    }

    async fn spool(&self) -> RedisSpool {
        RedisSpool::connect(&self.url(), SMALL_MAX_BYTES)
            .await
            .unwrap()
    }

    fn signal(&self, signal: &str) {
        let status = Command::new("kill")
            .args([signal, &self.child.id().to_string()])
            .status()
            .unwrap();
        assert!(status.success());
    }

    fn stop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A spool on a fresh server with AOF on, the server kept alive beside it.
async fn fresh() -> (Server, RedisSpool) {
    let server = Server::start(true);
    let spool = server.spool().await;
    (server, spool)
}

conformance::suite!(fresh());

#[tokio::test]
async fn refuses_a_server_without_an_append_only_file() {
    let server = Server::start(false);
    let refused = RedisSpool::connect(&server.url(), SMALL_MAX_BYTES).await;
    let Err(SpoolError::Storage(why)) = refused else {
        panic!("connected to a redis without AOF");
    };
    assert!(why.contains("appendonly yes"), "{why}");
}

#[tokio::test]
async fn reports_whether_every_write_is_fsynced() {
    let server = Server::start(true);
    let spool = server.spool().await;
    assert_eq!(
        spool.appendfsync_always(),
        Some(false),
        "the default is everysec"
    );
    assert!(spool.durability_warnings()[0].contains("appendfsync"));
    let always = Server::start_with(true, &["--appendfsync", "always"]);
    let spool = always.spool().await;
    assert_eq!(
        (spool.appendfsync_always(), spool.durability_warnings()),
        (Some(true), vec![])
    );
    let renamed = Server::start_with(true, &["--rename-command", "CONFIG", ""]);
    let spool = renamed.spool().await;
    assert_eq!(spool.appendfsync_always(), None, "CONFIG renamed away");
    assert_eq!(spool.durability_warnings().len(), 1);
    let evicting = Server::start_with(
        true,
        &[
            "--appendfsync",
            "always",
            "--maxmemory-policy",
            "allkeys-lru",
        ],
    );
    let warnings = evicting.spool().await.durability_warnings();
    assert_eq!(warnings.len(), 1);
    assert!(warnings[0].contains("noeviction"), "{warnings:?}");
}

#[tokio::test]
async fn errors_never_show_the_password() {
    let server = Server::start_with(true, &["--requirepass", "s3cret-pass"]);
    let url = format!("redis://:wrong-pass@127.0.0.1:{}/0", server.port);
    let Err(SpoolError::Storage(why)) = RedisSpool::connect(&url, SMALL_MAX_BYTES).await else {
        panic!("connected with a wrong password");
    };
    assert!(
        !why.contains("wrong-pass") && !why.contains("s3cret"),
        "{why}"
    );
    let url = format!("redis://:s3cret-pass@127.0.0.1:{}/0", server.port);
    let spool = RedisSpool::connect(&url, SMALL_MAX_BYTES).await.unwrap();
    spool.enqueue("r", delivery(b"x")).await.unwrap();
    let Err(SpoolError::Storage(why)) = RedisSpool::connect("redis://:pw@[bad", 1).await else {
        panic!("a malformed URL was accepted");
    };
    assert!(!why.contains("pw"), "{why}");
}

#[tokio::test]
async fn a_live_consumers_claim_is_not_taken_but_a_dead_ones_is() {
    let server = Server::start(true);
    let (a, b) = (server.spool().await, server.spool().await);
    assert_ne!(a.consumer(), b.consumer());
    let id = a.enqueue("r", delivery(b"x")).await.unwrap();
    assert_eq!(conformance::claim(&a, "r", t0()).await[0].id, id);
    assert!(conformance::claim(&b, "r", t0()).await.is_empty());

    tokio::time::sleep(Duration::from_millis(50)).await;
    let taken = b.claim("r", t0(), 10, Duration::from_millis(10)).await;
    let taken = taken.unwrap();
    assert_eq!(taken.len(), 1, "A is taken to have died");
    assert_eq!((&taken[0].id, taken[0].body.as_ref()), (&id, &b"x"[..]));
    b.delivered(&id).await.unwrap();
    let counts = b.counts(t0()).await.unwrap();
    assert_eq!((counts.bytes, counts.routes.len()), (0, 0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_consumers_take_each_delivery_once() {
    const DELIVERIES: usize = 200;
    let server = Server::start(true);
    let first = Arc::new(server.spool().await);
    let mut sent = Vec::new();
    for n in 0..DELIVERIES {
        let body = format!("{{\"n\":{n}}}");
        sent.push(first.enqueue("r", delivery(body.as_bytes())).await.unwrap());
    }
    let spools = [first, Arc::new(server.spool().await)];
    let mut consumers = tokio::task::JoinSet::new();
    for spool in spools.iter().cycle().take(4) {
        let spool = Arc::clone(spool);
        consumers.spawn(async move {
            let mut taken = Vec::new();
            loop {
                let batch = spool.claim("r", t0(), 7, NOT_STALE).await.unwrap();
                if batch.is_empty() {
                    return taken;
                }
                taken.extend(batch.into_iter().map(|d| d.id));
            }
        });
    }
    let mut taken = Vec::new();
    while let Some(ids) = consumers.join_next().await {
        taken.extend(ids.unwrap());
    }
    taken.sort();
    sent.sort();
    assert_eq!(taken, sent, "every delivery exactly once");
}

#[tokio::test]
async fn a_redis_that_went_away_fails_promptly() {
    let mut server = Server::start(true);
    let spool = server.spool().await;
    let id = spool.enqueue("r", delivery(b"x")).await.unwrap();
    server.stop();
    let started = Instant::now();
    let enqueued = spool.enqueue("r", delivery(b"y")).await;
    assert!(
        matches!(enqueued, Err(SpoolError::Storage(_))),
        "{enqueued:?}"
    );
    let claimed = spool.claim("r", t0(), 10, NOT_STALE).await;
    assert!(
        matches!(claimed, Err(SpoolError::Storage(_))),
        "{claimed:?}"
    );
    assert!(matches!(
        spool.delivered(&id).await,
        Err(SpoolError::Storage(_))
    ));
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "{:?}",
        started.elapsed()
    );
}

#[tokio::test]
async fn a_hung_redis_times_out() {
    let server = Server::start(true);
    let spool = server.spool().await;
    spool.enqueue("r", delivery(b"x")).await.unwrap();
    server.signal("-STOP");
    let started = Instant::now();
    let counted = spool.counts(t0()).await;
    server.signal("-CONT");
    let Err(SpoolError::Storage(why)) = counted else {
        panic!("a hung redis answered: {counted:?}");
    };
    assert!(why.contains("no answer"), "{why}");
    assert!(started.elapsed() < COMMAND_TIMEOUT + Duration::from_secs(2));
    assert_eq!(
        spool.counts(t0()).await.unwrap().routes["r"].pending,
        1,
        "it reconnects once redis answers again"
    );
}

#[tokio::test]
async fn consumers_with_nothing_pending_are_pruned() {
    let server = Server::start(true);
    let (a, b) = (server.spool().await, server.spool().await);
    let id = a.enqueue("r", delivery(b"x")).await.unwrap();
    a.enqueue("r", delivery(b"y")).await.unwrap();
    a.claim("r", t0(), 1, NOT_STALE).await.unwrap();
    a.delivered(&id).await.unwrap();
    // Redis 7.0 makes a consumer on its first read that returns something.
    b.claim("r", t0(), 1, NOT_STALE).await.unwrap();
    let consumers = || async {
        let client = ::redis::Client::open(server.url()).unwrap();
        let mut connection = client.get_multiplexed_async_connection().await.unwrap();
        let mut info = ::redis::cmd("XINFO");
        info.arg("CONSUMERS")
            .arg(format!("{KEY_PREFIX}s:r"))
            .arg("hookguard");
        let listed: Vec<::redis::Value> = info.query_async(&mut connection).await.unwrap();
        listed.len()
    };
    assert_eq!(consumers().await, 2, "nobody idle long enough yet");
    tokio::time::sleep(Duration::from_millis(50)).await;
    b.claim("r", t0(), 10, Duration::from_millis(10))
        .await
        .unwrap();
    assert_eq!(
        consumers().await,
        1,
        "A, idle with nothing pending, is gone"
    );
}

#[tokio::test]
async fn an_id_already_taken_is_never_overwritten() {
    let server = Server::start(true);
    let spool = server.spool().await;
    let id = spool.enqueue("r", delivery(b"first")).await.unwrap();
    let before = spool.counts(t0()).await.unwrap();
    let body = bytes::Bytes::from_static(b"second");
    let new = New {
        route: "r",
        size: 10,
        meta: b"",
        body: &body,
        received_ms: 0,
    };
    assert_eq!(spool.write_new(&new, &id).await.unwrap(), -1);
    assert_eq!(spool.counts(t0()).await.unwrap(), before);
    let taken = conformance::claim(&spool, "r", t0()).await;
    assert_eq!(taken[0].body.as_ref(), b"first");
}
