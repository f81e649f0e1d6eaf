//! What an on-call engineer reads: the request line's fields under their OpenTelemetry names (JSON)
//! and short names (text), the metrics beyond the request counters, and never a secret, a
//! signature or a body in either.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;

use crate::support::{
    github_headers, hmac_sha256_hex, http1_request, send_raw, App, Hookguard, APP_STATUS,
};

const OLD: &str = "telemetry-old-secret";
const NEW: &str = "telemetry-new-secret";
const SVIX_KEY: &[u8] = b"telemetry-svix-key";
const BODY: &str = r#"{"type":"invoice.paid","note":"telemetry-body-marker"}"#;

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("after 1970")
        .as_secs()
}

fn svix_key() -> String {
    format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(SVIX_KEY)
    )
}

/// The headers Svix sends: the signature covers the id, so the id is signed content.
fn svix_headers(id: &str, timestamp: u64) -> (Vec<(String, String)>, String) {
    use hmac::Mac;
    let mut mac = <hmac::Hmac<sha2::Sha256>>::new_from_slice(SVIX_KEY).expect("key");
    mac.update(format!("{id}.{timestamp}.{BODY}").as_bytes());
    let signature = base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes());
    let headers = vec![
        ("svix-id".to_string(), id.to_string()),
        ("svix-timestamp".to_string(), timestamp.to_string()),
        ("svix-signature".to_string(), format!("v1,{signature}")),
    ];
    (headers, signature)
}

async fn post(proxy: &Hookguard, path: &str, headers: &[(String, String)]) -> u16 {
    send_raw(
        proxy.addr,
        &http1_request("POST", path, headers, BODY.as_bytes()),
    )
    .await
    .status
}

/// The request lines, parsed, once `count` have been written.
fn request_events(proxy: &Hookguard, count: usize) -> Vec<serde_json::Value> {
    proxy
        .wait_for_logs(r#""message":"request""#, count)
        .iter()
        .map(|line| serde_json::from_str(line).expect("a JSON log line"))
        .collect()
}

fn event_with<'e>(
    events: &'e [serde_json::Value],
    path: &str,
    status: u16,
) -> &'e serde_json::Value {
    events
        .iter()
        .find(|e| e["url.path"] == path && e["http.response.status_code"] == status)
        .unwrap_or_else(|| panic!("no {path} {status} line in {events:#?}"))
}

/// Nothing a sender must keep secret, nor the body, reached the log or the metrics.
fn assert_hygiene(text: &str, signatures: &[String]) {
    for secret in [OLD, NEW, &svix_key(), "dGVsZW1ldHJ5LXN2aXgta2V5"] {
        assert!(!text.contains(secret), "a secret leaked");
    }
    for signature in signatures {
        assert!(!text.contains(signature.as_str()), "a signature leaked");
    }
    assert!(!text.contains("telemetry-body-marker"), "the body leaked");
}

#[tokio::test]
async fn json_request_lines_use_opentelemetry_names_and_say_what_to_act_on() {
    let app = App::start().await;
    let config = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: {}\nlog: {{format: json, level: info}}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n    events: [push]\n    secrets: [{{value: {OLD}}}, {{value: {NEW}}}]\n  - path: /svix\n    name: svix\n    provider: svix\n    secrets: [{{value: '{}'}}]\n",
        app.url(),
        svix_key()
    );
    let proxy = Hookguard::start(&config);
    let push = github_headers(
        NEW,
        BODY.as_bytes(),
        &[("X-GitHub-Event", "push"), ("X-GitHub-Delivery", "d-1")],
    );
    assert_eq!(post(&proxy, "/gh", &push).await, APP_STATUS);
    assert_eq!(post(&proxy, "/gh", &[]).await, 401);
    let issues = github_headers(OLD, BODY.as_bytes(), &[("X-GitHub-Event", "issues")]);
    assert_eq!(post(&proxy, "/gh", &issues).await, 200);
    let (fresh, fresh_signature) = svix_headers("msg_1", now_secs());
    assert_eq!(post(&proxy, "/svix", &fresh).await, APP_STATUS);
    let (stale, stale_signature) = svix_headers("msg_2", now_secs() - 1000);
    assert_eq!(post(&proxy, "/svix", &stale).await, 401);
    let (ahead, ahead_signature) = svix_headers("msg_3", now_secs() + 1000);
    assert_eq!(post(&proxy, "/svix", &ahead).await, 401);

    let events = request_events(&proxy, 6);
    let forwarded = event_with(&events, "/gh", APP_STATUS);
    assert_eq!(forwarded["hookguard.route"], "gh");
    assert_eq!(forwarded["http.request.method"], "POST");
    assert_eq!(forwarded["client.address"], "127.0.0.1");
    assert_eq!(forwarded["network.peer.address"], "127.0.0.1");
    assert_eq!(forwarded["hookguard.outcome"], "forwarded");
    assert_eq!(
        forwarded["hookguard.secret"], 1,
        "the rotation's new secret"
    );
    assert_eq!(forwarded["hookguard.event.type"], "push");
    assert_eq!(forwarded["hookguard.delivery.id"], "d-1");
    assert_eq!(
        forwarded["hookguard.delivery.signed"], false,
        "GitHub's delivery header is outside its signature"
    );
    assert!(forwarded["hookguard.latency_us"].is_u64());
    let keys = forwarded.as_object().expect("an object");
    for absent in [
        "hookguard.reason",
        "hookguard.queued",
        "hookguard.upstream.error",
    ] {
        assert!(
            !keys.contains_key(absent),
            "{absent} is left out: {forwarded}"
        );
    }
    for old in [
        "route", "method", "path", "peer", "status", "outcome", "delivery",
    ] {
        assert!(!keys.contains_key(old), "{old} is renamed: {forwarded}");
    }

    let missing = event_with(&events, "/gh", 401);
    assert_eq!(missing["hookguard.reason"], "missing_signature");
    assert_eq!(
        missing["hookguard.signature.expected"],
        "x-hub-signature-256"
    );
    assert!(missing.get("hookguard.secret").is_none());

    let ignored = event_with(&events, "/gh", 200);
    assert_eq!(ignored["hookguard.outcome"], "ignored_event");
    assert_eq!(ignored["hookguard.event.type"], "issues");
    assert_eq!(ignored["hookguard.secret"], 0);

    let signed = event_with(&events, "/svix", APP_STATUS);
    assert_eq!(signed["hookguard.delivery.id"], "msg_1");
    assert_eq!(
        signed["hookguard.delivery.signed"], true,
        "svix-id is signed"
    );
    assert_eq!(signed["hookguard.secret"], 0);

    let late = events
        .iter()
        .find(|e| e["hookguard.reason"] == "stale_timestamp")
        .expect("the stale line");
    assert_eq!(late["hookguard.reason"], "stale_timestamp");
    let age = late["hookguard.timestamp.age_s"].as_i64().expect("an age");
    assert!((1000..1010).contains(&age), "{age}");
    assert_eq!(late["hookguard.timestamp.tolerance_s"], 300);
    assert_eq!(
        late["hookguard.delivery.signed"], false,
        "it did not verify"
    );
    let early = events
        .iter()
        .find(|e| e["hookguard.reason"] == "future_timestamp")
        .expect("the future line");
    let age = early["hookguard.timestamp.age_s"].as_i64().expect("an age");
    assert!((-1000..-990).contains(&age), "ahead of the clock: {age}");
    assert_eq!(early["hookguard.timestamp.tolerance_s"], 300);

    let (status, deliveries) = proxy.admin_get("/api/deliveries?route=svix").await;
    assert_eq!(status, 200, "{deliveries}");
    let deliveries: serde_json::Value = serde_json::from_str(&deliveries).expect("JSON");
    let listed = deliveries["deliveries"].as_array().expect("a list");
    let signed_entry = listed
        .iter()
        .find(|d| d["delivery"] == "msg_1")
        .expect("msg_1 listed");
    assert_eq!(signed_entry["delivery_signed"], true);
    let stale_entry = listed
        .iter()
        .find(|d| d["delivery"] == "msg_2")
        .expect("msg_2 listed");
    assert_eq!(stale_entry["delivery_signed"], false);

    let gh_secret = |position: u32| {
        format!(r#"hookguard_secret_matches_total{{route="gh",secret="{position}"}}"#)
    };
    assert_eq!(proxy.metric(&gh_secret(1)).await, Some(1.0));
    assert_eq!(proxy.metric(&gh_secret(0)).await, Some(1.0));
    assert_eq!(
        proxy
            .metric(r#"hookguard_secret_matches_total{route="svix",secret="0"}"#)
            .await,
        Some(1.0)
    );
    let (_, metrics) = proxy.admin_get("/metrics").await;
    let push_signature = hmac_sha256_hex(NEW.as_bytes(), BODY.as_bytes());
    let signatures = [
        push_signature,
        fresh_signature,
        stale_signature,
        ahead_signature,
    ];
    assert_hygiene(&proxy.logs().join("\n"), &signatures);
    assert_hygiene(&metrics, &signatures);
}

#[tokio::test]
async fn a_502_names_the_app_and_the_os_error_on_its_own_line_and_counts_by_reason() {
    let down = App::free_addr();
    let config = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: http://{down}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n    secrets: [{{value: {NEW}}}]\n"
    );
    let proxy = Hookguard::start(&config);
    let headers = github_headers(NEW, BODY.as_bytes(), &[]);
    assert_eq!(post(&proxy, "/gh", &headers).await, 502);
    assert_eq!(post(&proxy, "/nowhere", &[]).await, 404);

    let line = proxy.wait_for_log("outcome=upstream_error");
    assert!(
        line.contains(" request route=gh method=POST path=/gh "),
        "text keeps short names: {line}"
    );
    assert!(line.contains("reason=upstream_unreachable"), "{line}");
    assert!(
        line.contains(&format!("upstream.address=\"{down}\"")),
        "{line}"
    );
    assert!(line.contains("status=502"), "{line}");
    let error = crate::support::field(&line, "upstream.error").expect("the error");
    assert!(
        line.contains("(os error"),
        "the OS's reason: {error} in {line}"
    );
    assert!(
        proxy
            .logs()
            .iter()
            .all(|l| !l.contains("upstream request failed")),
        "one line per request"
    );
    assert_eq!(
        proxy
            .metric(
                r#"hookguard_refusals_total{route="gh",status="502",reason="upstream_unreachable"}"#
            )
            .await,
        Some(1.0)
    );
    assert_eq!(
        proxy
            .metric(r#"hookguard_refusals_total{route="-",status="404",reason="no_route"}"#)
            .await,
        Some(1.0)
    );
    assert_eq!(
        proxy
            .metric(r#"hookguard_requests_total{route="gh",outcome="upstream_error",status="502"}"#)
            .await,
        Some(1.0)
    );
    let signature = hmac_sha256_hex(NEW.as_bytes(), BODY.as_bytes());
    assert_hygiene(&proxy.logs().join("\n"), &[signature]);
}

#[tokio::test]
async fn metrics_give_the_build_the_process_dedup_rate_limits_and_the_last_reload() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hookguard.yaml");
    let config = format!(
        "listen: 127.0.0.1:0\nadmin: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n    dedup: {{ttl: 1h}}\n    rate_limit: {{per_second: 1, burst: 3}}\n    secrets: [{{value: {NEW}}}]\n",
        app.url()
    );
    std::fs::write(&path, &config).expect("write");
    let proxy = Hookguard::start_at(dir, &path, &[]);
    let headers = github_headers(NEW, BODY.as_bytes(), &[]);
    assert_eq!(post(&proxy, "/gh", &headers).await, APP_STATUS);
    assert_eq!(post(&proxy, "/gh", &headers).await, 200, "a duplicate");
    let mut statuses = Vec::new();
    for _ in 0..3 {
        statuses.push(post(&proxy, "/gh", &headers).await);
    }
    assert!(statuses.contains(&429), "{statuses:?}");

    let (_, text) = proxy.admin_get("/metrics").await;
    let build = format!(
        "hookguard_build_info{{version=\"{}\",commit=\"",
        env!("CARGO_PKG_VERSION")
    );
    assert!(text.contains(&build), "{text}");
    for family in [
        "process_cpu_seconds_total ",
        "process_resident_memory_bytes ",
        "process_open_fds ",
        "process_max_fds ",
        "process_start_time_seconds ",
    ] {
        assert!(
            text.lines().any(|l| l.starts_with(family)),
            "{family} in {text}"
        );
    }
    let rss = proxy
        .metric("process_resident_memory_bytes")
        .await
        .expect("rss");
    assert!(rss > 1e6 && rss < 1e9, "{rss}");
    let started = proxy
        .metric("process_start_time_seconds")
        .await
        .expect("start");
    assert!((now_secs() as f64 - started).abs() < 60.0, "{started}");
    assert!(proxy.metric("process_open_fds").await.expect("fds") >= 3.0);

    let dedup =
        |result: &str| format!(r#"hookguard_dedup_claims_total{{route="gh",result="{result}"}}"#);
    assert_eq!(proxy.metric(&dedup("claimed")).await, Some(1.0));
    assert!(proxy.metric(&dedup("duplicate")).await >= Some(1.0));
    let limited = proxy
        .metric(r#"hookguard_rate_limited_total{route="gh"}"#)
        .await
        .expect("rate-limit refusals");
    assert!(limited >= 1.0);
    assert_eq!(
        proxy
            .metric(r#"hookguard_refusals_total{route="gh",status="429",reason="rate_limited"}"#)
            .await,
        Some(limited)
    );
    assert!(
        text.contains(r#"hookguard_upstream_duration_seconds_bucket{le="65.536",route="gh"}"#),
        "buckets past the 30 s default upstream_timeout: {text}"
    );

    let loaded = "hookguard_config_last_reload_success_timestamp_seconds";
    let at_start = proxy.metric(loaded).await.expect("set at start");
    assert!((now_secs() as f64 - at_start).abs() < 60.0, "{at_start}");
    tokio::time::sleep(Duration::from_millis(1100)).await;
    proxy.signal("HUP");
    let mut reloaded = at_start;
    for _ in 0..100 {
        reloaded = proxy.metric(loaded).await.expect("still there");
        if reloaded > at_start {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(reloaded >= at_start + 1.0, "{at_start} then {reloaded}");
    // A refused reload leaves it.
    std::fs::write(&path, "routes: [").expect("write");
    proxy.signal("HUP");
    for _ in 0..100 {
        let failures = proxy
            .metric(r#"hookguard_config_reloads_total{result="failure"}"#)
            .await;
        if failures >= Some(1.0) {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(proxy.metric(loaded).await, Some(reloaded));
    let signature = hmac_sha256_hex(NEW.as_bytes(), BODY.as_bytes());
    let (_, text) = proxy.admin_get("/metrics").await;
    assert_hygiene(&text, &[signature]);
}

#[tokio::test]
async fn a_queued_delivery_and_its_attempts_log_under_the_same_json_names() {
    let app = App::start().await;
    let spool = tempfile::tempdir().expect("spool dir");
    let config = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nlog: {{format: json}}\nspool: {{store: '{}'}}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n    secrets: [{{value: {NEW}}}]\n    delivery: {{mode: queue}}\n",
        app.url(),
        spool.path().display()
    );
    let proxy = Hookguard::start(&config);
    let headers = github_headers(NEW, BODY.as_bytes(), &[("X-GitHub-Delivery", "d-q")]);
    assert_eq!(post(&proxy, "/gh", &headers).await, 200);
    let queued = &request_events(&proxy, 1)[0];
    assert_eq!(queued["hookguard.outcome"], "queued");
    let id = queued["hookguard.queued"].as_str().expect("the spool id");
    assert_eq!(queued["hookguard.delivery.id"], "d-q");
    let mut seen = Vec::new();
    app.collect(&mut seen, 1, Duration::from_secs(10)).await;
    assert_eq!(seen.len(), 1, "the dispatcher delivered it");
    let line = proxy.wait_for_log(r#""message":"delivery attempt""#);
    let attempt: serde_json::Value = serde_json::from_str(&line).expect("JSON");
    assert_eq!(attempt["hookguard.route"], "gh");
    assert_eq!(attempt["hookguard.id"], id);
    assert_eq!(attempt["hookguard.attempt"], 1);
    assert_eq!(attempt["http.response.status_code"], APP_STATUS);
    assert_eq!(attempt["hookguard.result"], "delivered");
    assert!(attempt.get("hookguard.error").is_none(), "{line}");
    let signature = hmac_sha256_hex(NEW.as_bytes(), BODY.as_bytes());
    assert_hygiene(&proxy.logs().join("\n"), &[signature]);
}
