//! Store-and-forward through the real binary and a real recording app: deliveries sent while the
//! app is down are all delivered once it starts, retries follow the schedule, a full spool refuses
//! with nothing recorded, dedup and the queue agree, and a SIGKILL loses nothing acknowledged.

use std::collections::{BTreeMap, BTreeSet};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

use crate::support::{
    github_headers, http1_request, send_raw, App, Hookguard, RawResponse, Recorded,
};

const SECRET: &str = "queue-test-secret";

/// One GitHub-signed queue route at `/gh` in front of `upstream`, spooling in `spool`.
fn config(upstream: SocketAddr, spool: &std::path::Path, top: &str, delivery: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: http://{upstream}\nadmin: 127.0.0.1:0\n\
         spool: {{store: {}}}\n{top}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n\
         \x20   secrets: [{{value: {SECRET}}}]\n    delivery: {{mode: queue, {delivery}}}\n",
        spool.display()
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

/// Waits until the app has recorded `count` requests in all, and returns them.
async fn wait_for(app: &App, seen: &mut Vec<Recorded>, count: usize, limit: Duration) {
    let deadline = Instant::now() + limit;
    while seen.len() < count {
        assert!(
            Instant::now() < deadline,
            "only {} of {count} deliveries reached the app",
            seen.len()
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
        seen.extend(app.take());
    }
}

fn header<'r>(recorded: &'r Recorded, name: &str) -> &'r str {
    recorded
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test]
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
    // Let the dispatcher fail at least once against the closed port.
    proxy.wait_for_logs("result=retry", 1);

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

#[tokio::test]
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
    let upstream = App::free_addr();
    let config = config(upstream, spool.path(), "", "retry: [1s]");
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
