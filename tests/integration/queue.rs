//! Store-and-forward through the real binary and a real recording app: deliveries sent while the
//! app is down are all delivered once it starts, retries follow the schedule, a full spool refuses
//! with nothing recorded, dedup and the queue agree, and a SIGKILL loses nothing acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{
    github_headers, http1_request, send_raw, App, Hookguard, RawResponse, Recorded, Redis,
};

const SECRET: &str = "queue-test-secret";

/// One GitHub-signed queue route at `/gh` in front of `upstream`, spooling in `spool`.
fn config(upstream: SocketAddr, spool: &std::path::Path, top: &str, delivery: &str) -> String {
    config_with_store(upstream, &spool.display().to_string(), top, delivery)
}

/// The same route spooling in `store`: a directory or a Redis URL.
fn config_with_store(upstream: SocketAddr, store: &str, top: &str, delivery: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: http://{upstream}\nadmin: 127.0.0.1:0\n\
         spool: {{store: '{store}'}}\n{top}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n\
         \x20   secrets: [{{value: {SECRET}}}]\n    delivery: {{mode: queue, {delivery}}}\n"
    )
}

fn signed(body: &[u8]) -> Vec<u8> {
    http1_request("POST", "/gh?a=1", &github_headers(SECRET, body, &[]), body)
}

/// The id in a `{"queued":"<id>"}` answer.
fn queued_id(response: &RawResponse) -> String {
    assert_eq!(response.status, 200, "{}", response.body_text());
    let answer: serde_json::Value =
        serde_json::from_str(&response.body_text()).expect("json answer");
    let id = answer["queued"].as_str().expect("queued id").to_string();
    assert_eq!(id.len(), 24, "{id}");
    id
}

/// Waits until the app has recorded `count` requests in all.
async fn wait_for(app: &App, seen: &mut Vec<Recorded>, count: usize, limit: Duration) {
    app.collect(seen, count, limit).await;
}

/// The spool gauges are refreshed every 2 s; waits up to 6 s for `series` to read `value`.
async fn wait_for_metric(proxy: &Hookguard, series: &str, value: f64) {
    for _ in 0..60 {
        if proxy.metric(series).await == Some(value) {
            return;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!(
        "{series} never read {value}: {:?}",
        proxy.metric(series).await
    );
}

fn header<'r>(recorded: &'r Recorded, name: &str) -> &'r str {
    recorded
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

// The app runs beside log waits that block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deliveries_sent_while_the_app_is_down_all_arrive_once_it_starts() {
    let spool = tempfile::tempdir().unwrap();
    let upstream = App::free_addr();
    let proxy = Hookguard::start(&config(upstream, spool.path(), "", "retry: [1s]"));
    let mut sent = BTreeMap::new();
    for n in 0..50 {
        // Bytes a JSON parser would normalise, to see them arrive untouched.
        let body = format!(
            "{{ \"n\" : {n},\t\"pad\":\"\\u00e9{}\" }}\n",
            "x".repeat(n * 7)
        );
        let response = send_raw(proxy.addr, &signed(body.as_bytes())).await;
        sent.insert(queued_id(&response), body.into_bytes());
    }
    assert_eq!(sent.len(), 50, "every id is its own");
    // Every first attempt meets the closed port before the app starts.
    proxy.wait_for_logs("attempt=1 error=", 50);

    let app = App::start_on(upstream).await;
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 50, Duration::from_secs(30)).await;
    let mut arrived = BTreeMap::new();
    for recorded in &seen {
        assert_eq!(recorded.target, "/gh?a=1");
        assert_eq!(header(recorded, "x-hookguard-route"), "gh");
        let attempt: u32 = header(recorded, "x-hookguard-attempt").parse().unwrap();
        assert!(attempt > 1, "the first attempt met a closed port");
        let id = header(recorded, "x-hookguard-delivery").to_string();
        arrived.insert(id, recorded.body.to_vec());
    }
    assert_eq!(arrived, sent, "each delivery arrived once, byte for byte");
    tokio::time::sleep(Duration::from_millis(700)).await;
    assert!(app.take().is_empty(), "nothing arrives twice");
    let lines = proxy.wait_for_logs("result=delivered", 50);
    assert!(lines.iter().all(|l| !l.contains(SECRET)));
}

// The app runs beside log waits that block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_app_gets_the_delivery_on_attempt_three_after_the_scheduled_waits() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[500, 503]).await;
    let proxy = Hookguard::start(&config(app.addr, spool.path(), "", "retry: [1s, 2s]"));
    let id = queued_id(&send_raw(proxy.addr, &signed(b"{\"retry\":true}")).await);
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 3, Duration::from_secs(20)).await;
    let attempts: Vec<&str> = seen
        .iter()
        .map(|r| header(r, "x-hookguard-attempt"))
        .collect();
    assert_eq!(attempts, ["1", "2", "3"]);
    assert!(seen.iter().all(|r| header(r, "x-hookguard-delivery") == id));
    let first_wait = seen[1].at - seen[0].at;
    let second_wait = seen[2].at - seen[1].at;
    assert!(
        first_wait >= Duration::from_secs(1) && first_wait < Duration::from_millis(2500),
        "first wait {first_wait:?}"
    );
    assert!(
        second_wait >= Duration::from_secs(2) && second_wait < Duration::from_millis(3500),
        "second wait {second_wait:?}"
    );
    let delivered = proxy.wait_for_log("result=delivered");
    assert!(delivered.contains("attempt=3"), "{delivered}");
    let retries = proxy.wait_for_logs("result=retry", 2);
    assert!(retries[0].contains("status=500") && retries[1].contains("status=503"));
    tokio::time::sleep(Duration::from_millis(2300)).await;
    assert!(app.take().is_empty(), "delivered means done");
}

#[tokio::test]
async fn a_full_spool_answers_503_with_retry_after_and_records_nothing() {
    let spool = tempfile::tempdir().unwrap();
    let upstream = App::free_addr();
    let top = "limits: {max_body: 1MiB}";
    let config = config(upstream, spool.path(), top, "retry: [1s]")
        .replace("spool: {store:", "spool: {max_bytes: 1MiB, store:");
    let proxy = Hookguard::start(&config);
    let mut kept = BTreeSet::new();
    let mut refused = 0;
    for n in 0..4u8 {
        let body = vec![b'a' + n; 300 * 1024];
        let response = send_raw(proxy.addr, &signed(&body)).await;
        if response.status == 200 {
            kept.insert(queued_id(&response));
        } else {
            assert_eq!(response.status, 503);
            assert_eq!(response.header("retry-after"), Some("30"));
            assert_eq!(response.body_text(), r#"{"error":"service unavailable"}"#);
            refused += 1;
        }
    }
    assert_eq!(
        (kept.len(), refused),
        (3, 1),
        "1 MiB holds three 300 KiB bodies"
    );
    proxy.wait_for_log("reason=spool_full");

    let app = App::start_on(upstream).await;
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 3, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    seen.extend(app.take());
    let arrived: BTreeSet<String> = seen
        .iter()
        .map(|r| header(r, "x-hookguard-delivery").to_string())
        .collect();
    assert_eq!(arrived, kept, "the refused one left no record behind");
    assert_eq!(seen.len(), 3);
}

#[tokio::test]
async fn the_senders_retry_of_a_spooled_delivery_is_a_duplicate_and_not_spooled_twice() {
    let spool = tempfile::tempdir().unwrap();
    let upstream = App::free_addr();
    let config = config(upstream, spool.path(), "", "retry: [1s]") + "    dedup: {ttl: 1h}\n";
    let proxy = Hookguard::start(&config);
    let body = b"{\"once\":true}";
    queued_id(&send_raw(proxy.addr, &signed(body)).await);
    let again = send_raw(proxy.addr, &signed(body)).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body_text(), r#"{"duplicate":true}"#);
    let app = App::start_on(upstream).await;
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 1, Duration::from_secs(20)).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    seen.extend(app.take());
    assert_eq!(seen.len(), 1, "spooled once, delivered once");
}

/// Senders keep sending while hookguard is killed; every delivery it answered 200 must reach the
/// app after a restart on the same spool.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_stream_loses_no_acknowledged_delivery() {
    let spool = tempfile::tempdir().unwrap();
    let store = spool.path().display().to_string();
    sigkill_mid_stream_loses_nothing(&store).await;
}

/// The same against the Redis spool, on a real redis-server with AOF on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sigkill_mid_stream_loses_no_acknowledged_delivery_on_redis() {
    let redis = Redis::start(true);
    sigkill_mid_stream_loses_nothing(&redis.url()).await;
}

async fn sigkill_mid_stream_loses_nothing(store: &str) {
    let upstream = App::free_addr();
    let config = config_with_store(upstream, store, "", "retry: [1s], attempt_timeout: 2s");
    let proxy = Hookguard::start(&config);
    let acknowledged = send_until_killed(&proxy, 8).await;
    assert!(
        acknowledged.len() >= 20,
        "only {} acknowledged before the kill",
        acknowledged.len()
    );

    let app = App::start_on(upstream).await;
    let _restarted = Hookguard::start(&config);
    let mut seen = Vec::new();
    let limit = Duration::from_secs(40);
    let deadline = Instant::now() + limit;
    loop {
        seen.extend(app.take());
        let arrived: BTreeSet<String> = seen
            .iter()
            .map(|r| header(r, "x-hookguard-delivery").to_string())
            .collect();
        if acknowledged.is_subset(&arrived) {
            break;
        }
        let missing = acknowledged.difference(&arrived).count();
        assert!(
            Instant::now() < deadline,
            "{missing} acknowledged deliveries never arrived"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// `senders` tasks send deliveries until the process is SIGKILLed about a second in; returns the
/// ids of every delivery answered 200.
async fn send_until_killed(proxy: &Hookguard, senders: usize) -> BTreeSet<String> {
    let addr = proxy.addr;
    let mut tasks = tokio::task::JoinSet::new();
    for sender in 0..senders {
        tasks.spawn(async move {
            let mut ids = Vec::new();
            for n in 0.. {
                let body = format!("{{\"sender\":{sender},\"n\":{n}}}");
                let Some(response) = try_send(addr, &signed(body.as_bytes())).await else {
                    break;
                };
                if response.status == 200 {
                    ids.push(queued_id(&response));
                }
            }
            ids
        });
    }
    tokio::time::sleep(Duration::from_millis(1000)).await;
    proxy.signal("KILL");
    let mut acknowledged = BTreeSet::new();
    while let Some(ids) = tasks.join_next().await {
        acknowledged.extend(ids.expect("sender task"));
    }
    acknowledged
}

/// One request on a fresh connection; `None` once the process is gone.
async fn try_send(addr: SocketAddr, request: &[u8]) -> Option<RawResponse> {
    use tokio::io::AsyncWriteExt;
    let mut stream = tokio::net::TcpStream::connect(addr).await.ok()?;
    stream.write_all(request).await.ok()?;
    tokio::time::timeout(
        Duration::from_secs(5),
        crate::support::read_response_checked(&mut stream),
    )
    .await
    .ok()?
}

// The app runs beside log waits that block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_app_rejection_is_a_dead_letter_at_once_and_not_retried() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400]).await;
    let proxy = Hookguard::start(&config(app.addr, spool.path(), "", "retry: [1s]"));
    let id = queued_id(&send_raw(proxy.addr, &signed(b"{\"bad\":1}")).await);
    let dead = proxy.wait_for_log("result=dead");
    assert!(dead.contains(&id) && dead.contains("status=400"), "{dead}");
    tokio::time::sleep(Duration::from_millis(2500)).await;
    assert_eq!(app.take().len(), 1, "a rejected delivery is not retried");
    let dead = r#"hookguard_spool_deliveries{route="gh",state="dead"}"#;
    wait_for_metric(&proxy, dead, 1.0).await;
    let attempts = r#"hookguard_delivery_attempts_total{route="gh",result="dead"}"#;
    assert_eq!(proxy.metric(attempts).await, Some(1.0));
}

// The app runs beside log waits that block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_delivery_past_max_age_becomes_an_expired_dead_letter() {
    let spool = tempfile::tempdir().unwrap();
    let upstream = App::free_addr();
    let delivery = "retry: [1s], max_age: 2s";
    let proxy = Hookguard::start(&config(upstream, spool.path(), "", delivery));
    let id = queued_id(&send_raw(proxy.addr, &signed(b"{\"late\":1}")).await);
    let dead = proxy.wait_for_logs("result=dead", 1);
    assert!(dead[0].contains(&id), "{dead:?}");
    let retries = proxy
        .logs()
        .iter()
        .filter(|l| l.contains("result=retry"))
        .count();
    assert!(
        (1..=2).contains(&retries),
        "{retries} retries within 2 s of waits of 1 s"
    );
    let app = App::start_on(upstream).await;
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(app.take().is_empty(), "a dead letter waits for a replay");
    let pending = r#"hookguard_spool_deliveries{route="gh",state="pending"}"#;
    let dead = r#"hookguard_spool_deliveries{route="gh",state="dead"}"#;
    wait_for_metric(&proxy, dead, 1.0).await;
    assert_eq!(proxy.metric(pending).await, Some(0.0));
}

/// SIGTERM: the attempt in flight finishes, the rest stay spooled and go out after a restart.
// The app runs beside log waits that block a thread.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sigterm_finishes_the_attempt_in_flight_and_keeps_the_rest() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start().await;
    let config = config(
        app.addr,
        spool.path(),
        "shutdown_grace: 10s",
        "concurrency: 1",
    );
    let mut proxy = Hookguard::start(&config);
    let mut ids = BTreeSet::new();
    for n in 0..3 {
        let body = format!("{{\"slow\":{n}}}");
        let headers = github_headers(SECRET, body.as_bytes(), &[("X-Test-Delay-Ms", "1500")]);
        let request = http1_request("POST", "/gh", &headers, body.as_bytes());
        ids.insert(queued_id(&send_raw(proxy.addr, &request).await));
    }
    tokio::time::sleep(Duration::from_millis(400)).await;
    proxy.signal("TERM");
    assert!(proxy.wait_exit(Duration::from_secs(8)).success());
    let mut seen = app.take();
    assert_eq!(
        seen.len(),
        1,
        "the attempt in flight finished; no new one started"
    );

    let _restarted = Hookguard::start(&config);
    wait_for(&app, &mut seen, 3, Duration::from_secs(20)).await;
    let arrived: BTreeSet<String> = seen
        .iter()
        .map(|r| header(r, "x-hookguard-delivery").to_string())
        .collect();
    assert_eq!(arrived, ids);
}

#[test]
fn check_prints_the_spool_and_each_queue_routes_policy() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.yaml");
    let upstream: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    std::fs::write(
        &path,
        config(upstream, dir.path(), "", "retry: [10s, 1m], max_age: 72h"),
    )
    .unwrap();
    let output = std::process::Command::new(crate::support::binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(
        stdout.contains(&format!("spool: {}  max_bytes: 1GiB", dir.path().display())),
        "{stdout}"
    );
    assert!(
        stdout.contains(
            "delivery: queue  retry: [10s, 1m]  max_age: 72h  concurrency: 4  attempt_timeout: 30s"
        ),
        "{stdout}"
    );
}

/// The README's quick-start step, on `config.example.yaml` itself: a Filedgr delivery sent while
/// the app is stopped is answered 200 queued and reaches the app once it starts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_example_configs_queue_route_delivers_once_the_app_starts() {
    let example = include_str!("../../config.example.yaml");
    let dir = tempfile::tempdir().unwrap();
    let upstream = App::free_addr();
    let config = example
        .replace("127.0.0.1:8080", "127.0.0.1:0")
        .replace("127.0.0.1:9090", "127.0.0.1:0")
        .replace("http://127.0.0.1:3000", &format!("http://{upstream}"))
        .replace(
            "/tmp/hookguard-spool",
            &dir.path().join("spool").display().to_string(),
        )
        .replace("retry: [5s,", "retry: [1s,");
    assert!(config.contains("mode: queue"));
    let proxy = Hookguard::start(&config);
    let body = br#"{"event":"file.stored","id":"f_1"}"#;
    let signature = crate::support::hmac_sha256_hex(b"filedgr-demo-secret-change-me", body);
    let headers = [("X-Filedgr-Signature".to_string(), signature)];
    let request = http1_request("POST", "/webhooks/filedgr", &headers, body);
    let id = queued_id(&send_raw(proxy.addr, &request).await);
    proxy.wait_for_log("result=retry");
    let app = App::start_on(upstream).await;
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 1, Duration::from_secs(20)).await;
    assert_eq!(header(&seen[0], "x-hookguard-delivery"), id);
    assert_eq!(header(&seen[0], "x-hookguard-route"), "filedgr");
    assert_eq!(seen[0].body.as_ref(), body);
}

/// Two replicas share one Redis. Replica A holds deliveries in flight (its app never answers)
/// when it is SIGKILLed; replica B takes them over once they are stale and delivers every one.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replica_killed_holding_deliveries_leaves_them_to_the_other() {
    let redis = Redis::start(true);
    // Accepts connections and never answers: A's attempts hang until attempt_timeout.
    let black_hole = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let policy = "retry: [1s], attempt_timeout: 3s, concurrency: 4";
    let a = Hookguard::start(&config_with_store(
        black_hole.local_addr().unwrap(),
        &redis.url(),
        "",
        policy,
    ));
    let mut sent = BTreeSet::new();
    for n in 0..20 {
        let body = format!("{{\"replica\":{n}}}");
        sent.insert(queued_id(&send_raw(a.addr, &signed(body.as_bytes())).await));
    }
    tokio::time::sleep(Duration::from_millis(500)).await;
    a.signal("KILL");

    let app = App::start().await;
    let b_started = Instant::now();
    let b = Hookguard::start(&config_with_store(app.addr, &redis.url(), "", policy));
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 20, Duration::from_secs(40)).await;
    let arrived: BTreeSet<String> = seen
        .iter()
        .map(|r| header(r, "x-hookguard-delivery").to_string())
        .collect();
    assert_eq!(arrived, sent);
    // What A held in flight (its concurrency, 4) comes back only once stale: attempt_timeout
    // + 10 s without A. The rest were never claimed and go at once.
    let stale_after = b_started + Duration::from_secs(12);
    let late = seen.iter().filter(|r| r.at >= stale_after).count();
    assert!(
        (1..=4).contains(&late),
        "{late} arrived after A's claims went stale"
    );
    drop(b);
}

#[tokio::test]
async fn a_redis_without_appendonly_is_refused_at_start() {
    let redis = Redis::start(false);
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("hookguard.yaml");
    let upstream: SocketAddr = "127.0.0.1:3000".parse().unwrap();
    std::fs::write(
        &path,
        config_with_store(upstream, &redis.url(), "", "retry: [1s]"),
    )
    .unwrap();
    let output = std::process::Command::new(crate::support::binary())
        .args(["run", "--config"])
        .arg(&path)
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("appendonly yes"), "{stderr}");
    assert!(!stderr.contains("listening"), "{stderr}");
}

/// The app's longer `Retry-After` stands in for the schedule's wait.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_longer_retry_after_from_the_app_is_honoured() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[503]).await;
    let proxy = Hookguard::start(&config(app.addr, spool.path(), "", "retry: [1s]"));
    let body = b"{\"later\":1}";
    let headers = github_headers(SECRET, body, &[("X-Test-Retry-After", "3")]);
    queued_id(&send_raw(proxy.addr, &http1_request("POST", "/gh", &headers, body)).await);
    let mut seen = Vec::new();
    wait_for(&app, &mut seen, 2, Duration::from_secs(15)).await;
    let waited = seen[1].at - seen[0].at;
    assert!(
        waited >= Duration::from_secs(3) && waited < Duration::from_millis(4500),
        "waited {waited:?}, not the schedule's 1 s"
    );
}
