//! The admin API over the spool and the `dead-letters` CLI, through the real binary and a real
//! recording app: a delivery the app rejects becomes a dead letter that is listed without what it
//! carried, replayed (with the token only) as attempt 1, replayed by route, dropped; the spool is
//! counted; a non-loopback admin wants the token even to read.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Command, Output};
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::{
    binary, github_headers, http1_request, send_raw, App, Hookguard, RawResponse, Recorded,
};

const SECRET: &str = "admin-api-test-secret";
const TOKEN: &str = "admin-token-0123456789";
const TOKEN_ENV: &str = "HOOKGUARD_ADMIN_TOKEN";
const BODY: &[u8] = b"{\"card\":\"4242-private-body\"}";

/// A GitHub queue route `gh` before `upstream`; `admin` is the admin address, `token` whether
/// `admin_token` is configured.
fn config(upstream: SocketAddr, spool: &Path, admin: &str, token: bool) -> String {
    let token = if token {
        format!("admin_token: {{env: {TOKEN_ENV}}}\n")
    } else {
        String::new()
    };
    format!(
        "listen: 127.0.0.1:0\nupstream: http://{upstream}\nadmin: {admin}\n{token}\
         spool: {{store: {}}}\nroutes:\n  - path: /gh\n    name: gh\n    provider: github\n\
         \x20   secrets: [{{value: {SECRET}}}]\n    delivery: {{mode: queue, retry: [1s]}}\n",
        spool.display()
    )
}

fn start(app: &App, spool: &Path, admin: &str, token: bool) -> Hookguard {
    Hookguard::start_with_env(
        &config(app.addr, spool, admin, token),
        &[(TOKEN_ENV, TOKEN)],
    )
}

/// The admin address to connect to: a wildcard bind is reached on loopback.
fn admin_addr(proxy: &Hookguard) -> SocketAddr {
    let mut addr = proxy.admin.expect("admin listener");
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    addr
}

/// One admin request, with `Authorization: Bearer <token>` when a token is given.
async fn admin(proxy: &Hookguard, method: &str, path: &str, token: Option<&str>) -> RawResponse {
    let headers: Vec<(String, String)> = token
        .map(|t| ("Authorization".to_string(), format!("Bearer {t}")))
        .into_iter()
        .collect();
    send_raw(
        admin_addr(proxy),
        &http1_request(method, path, &headers, b""),
    )
    .await
}

fn json(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body_text())
        .unwrap_or_else(|_| panic!("not JSON: {}", response.body_text()))
}

/// Sends a signed delivery with event `push` and GitHub delivery id `gh-<n>`; returns the spool id.
async fn deliver(proxy: &Hookguard, n: u32) -> String {
    let delivery = format!("gh-{n}");
    let headers = github_headers(
        SECRET,
        BODY,
        &[("X-GitHub-Event", "push"), ("X-GitHub-Delivery", &delivery)],
    );
    let response = send_raw(
        proxy.addr,
        &http1_request("POST", "/gh?private=query", &headers, BODY),
    )
    .await;
    assert_eq!(response.status, 200, "{}", response.body_text());
    json(&response)["queued"]
        .as_str()
        .expect("queued id")
        .to_string()
}

/// Waits until the listing holds exactly `count` dead letters, and returns them.
async fn dead_letters(proxy: &Hookguard, count: usize) -> Vec<Value> {
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let response = admin(proxy, "GET", "/api/dead-letters", Some(TOKEN)).await;
        assert_eq!(response.status, 200, "{}", response.body_text());
        let letters = json(&response)["dead_letters"]
            .as_array()
            .expect("dead_letters")
            .clone();
        if letters.len() == count {
            return letters;
        }
        assert!(
            Instant::now() < deadline,
            "{} dead letters, not {count}",
            letters.len()
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// Waits until the app has recorded `count` requests in all.
async fn received(app: &App, seen: &mut Vec<Recorded>, count: usize) {
    app.collect(seen, count, Duration::from_secs(15)).await;
}

fn header<'r>(recorded: &'r Recorded, name: &str) -> &'r str {
    recorded
        .headers
        .get(name)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_else(|| panic!("{name} missing"))
}

#[tokio::test]
async fn a_rejected_delivery_is_listed_with_every_field_and_nothing_it_carried() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let id = deliver(&proxy, 1).await;
    let letters = dead_letters(&proxy, 1).await;
    let letter = &letters[0];
    assert_eq!(letter["id"], id.as_str());
    assert_eq!(letter["route"], "gh");
    assert_eq!(letter["attempts"], 1);
    assert_eq!(letter["last_status"], 400);
    assert_eq!(letter["last_error"], "status 400");
    assert_eq!(letter["reason"], "rejected");
    assert_eq!(letter["event"], "push");
    assert_eq!(letter["delivery"], "gh-1");
    assert!(letter["size"].as_u64().expect("size") >= BODY.len() as u64);
    let received_at = letter["received_at"].as_str().expect("received_at");
    let at = humantime::parse_rfc3339(received_at).expect("RFC 3339");
    let age = std::time::SystemTime::now()
        .duration_since(at)
        .expect("past");
    assert!(age < Duration::from_secs(60), "{received_at}");
    let keys: Vec<&String> = letter.as_object().expect("object").keys().collect();
    assert_eq!(keys.len(), 10, "exactly the documented fields: {keys:?}");

    let text = admin(&proxy, "GET", "/api/dead-letters", None)
        .await
        .body_text();
    let signature = &github_headers(SECRET, BODY, &[])[0].1;
    for secret in [
        "4242-private-body",
        "private=query",
        signature,
        SECRET,
        TOKEN,
    ] {
        assert!(!text.contains(secret), "{secret} leaked in {text}");
    }
}

#[tokio::test]
async fn a_replay_needs_the_token_and_reaches_the_fixed_app_as_attempt_one() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let id = deliver(&proxy, 1).await;
    dead_letters(&proxy, 1).await;
    let mut seen = app.take();
    assert_eq!(seen.len(), 1, "the rejected attempt");
    let path = format!("/api/dead-letters/{id}/replay");

    let refused = admin(&proxy, "POST", &path, None).await;
    assert_eq!(refused.status, 401);
    assert_eq!(refused.body_text(), r#"{"error":"unauthorized"}"#);
    let wrong = admin(&proxy, "POST", &path, Some("admin-token-0123456788")).await;
    assert_eq!(wrong.status, 401);
    assert_eq!(dead_letters(&proxy, 1).await[0]["id"], id.as_str());

    let replayed = admin(&proxy, "POST", &path, Some(TOKEN)).await;
    assert_eq!(replayed.status, 202, "{}", replayed.body_text());
    assert_eq!(json(&replayed), serde_json::json!({"replayed": 1}));
    received(&app, &mut seen, 2).await;
    assert_eq!(header(&seen[1], "x-hookguard-attempt"), "1");
    assert_eq!(header(&seen[1], "x-hookguard-delivery"), id);
    assert_eq!(seen[1].body.as_ref(), BODY);
    dead_letters(&proxy, 0).await;
    let again = admin(&proxy, "POST", &path, Some(TOKEN)).await;
    assert_eq!(again.status, 404);
    assert_eq!(again.body_text(), r#"{"error":"not found"}"#);

    let line = proxy.wait_for_log("admin: dead letter replay");
    assert!(line.contains(&id) && line.contains("replayed"), "{line}");
    assert!(proxy.logs().iter().all(|l| !l.contains(TOKEN)));
}

#[tokio::test]
async fn without_an_admin_token_changes_are_forbidden_and_loopback_reads_are_open() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", false);
    let id = deliver(&proxy, 1).await;
    dead_letters(&proxy, 1).await;
    let forbidden = r#"{"error":"admin token not configured"}"#;
    let replay = format!("/api/dead-letters/{id}/replay");
    for (method, path) in [
        ("POST", replay.as_str()),
        ("POST", "/api/dead-letters/replay?route=gh"),
        ("DELETE", &format!("/api/dead-letters/{id}")),
    ] {
        let response = admin(&proxy, method, path, Some(TOKEN)).await;
        assert_eq!(response.status, 403, "{method} {path}");
        assert_eq!(response.body_text(), forbidden);
    }
    assert_eq!(dead_letters(&proxy, 1).await[0]["id"], id.as_str());
}

#[tokio::test]
async fn a_route_replay_sends_every_dead_letter_of_the_route_again() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400, 400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let first = deliver(&proxy, 1).await;
    dead_letters(&proxy, 1).await;
    let second = deliver(&proxy, 2).await;
    dead_letters(&proxy, 2).await;
    let mut seen = app.take();

    let unknown = admin(
        &proxy,
        "POST",
        "/api/dead-letters/replay?route=nope",
        Some(TOKEN),
    )
    .await;
    assert_eq!(unknown.status, 404);
    let unnamed = admin(&proxy, "POST", "/api/dead-letters/replay", Some(TOKEN)).await;
    assert_eq!(unnamed.status, 400);
    let replayed = admin(
        &proxy,
        "POST",
        "/api/dead-letters/replay?route=gh",
        Some(TOKEN),
    )
    .await;
    assert_eq!(replayed.status, 202, "{}", replayed.body_text());
    assert_eq!(json(&replayed), serde_json::json!({"replayed": 2}));
    received(&app, &mut seen, 4).await;
    let mut ids: Vec<&str> = seen[2..]
        .iter()
        .map(|r| header(r, "x-hookguard-delivery"))
        .collect();
    ids.sort();
    let mut sent = [first.as_str(), second.as_str()];
    sent.sort();
    assert_eq!(ids, sent);
    assert!(seen[2..]
        .iter()
        .all(|r| header(r, "x-hookguard-attempt") == "1"));
    dead_letters(&proxy, 0).await;
}

#[tokio::test]
async fn a_drop_removes_the_dead_letter_and_the_spool_counts_follow() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let id = deliver(&proxy, 1).await;
    dead_letters(&proxy, 1).await;

    let counts = json(&admin(&proxy, "GET", "/api/spool", None).await);
    let gh = serde_json::json!({"route": "gh", "pending": 0, "in_flight": 0, "dead": 1,
        "oldest_pending_seconds": 0});
    assert_eq!(counts["routes"], serde_json::json!([gh]));
    assert!(counts["bytes"].as_u64().expect("bytes") > 0);
    assert_eq!(counts["max_bytes"], 1u64 << 30);

    let path = format!("/api/dead-letters/{id}");
    let dropped = admin(&proxy, "DELETE", &path, Some(TOKEN)).await;
    assert_eq!(dropped.status, 204);
    assert!(dropped.body.is_empty());
    assert_eq!(
        admin(&proxy, "DELETE", &path, Some(TOKEN)).await.status,
        404
    );
    let malformed = admin(&proxy, "DELETE", "/api/dead-letters/xyz", Some(TOKEN)).await;
    assert_eq!(malformed.status, 404);
    dead_letters(&proxy, 0).await;
    let counts = json(&admin(&proxy, "GET", "/api/spool", None).await);
    assert_eq!(counts["routes"][0]["dead"], 0);
    proxy.wait_for_log("admin: dead letter drop");
}

#[tokio::test]
async fn wrong_methods_and_bad_limits_are_refused() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start().await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    for (method, path) in [
        ("PUT", "/api/spool"),
        ("POST", "/api/dead-letters"),
        ("GET", "/api/dead-letters/replay"),
        ("GET", "/api/dead-letters/0123456789abcdef01234567"),
    ] {
        let response = admin(&proxy, method, path, Some(TOKEN)).await;
        assert_eq!(response.status, 405, "{method} {path}");
        assert!(response.header("allow").is_some());
    }
    for limit in ["0", "1001", "x", "-5"] {
        let path = format!("/api/dead-letters?limit={limit}");
        assert_eq!(
            admin(&proxy, "GET", &path, None).await.status,
            400,
            "{limit}"
        );
    }
    let ok = admin(&proxy, "GET", "/api/dead-letters?limit=1000&route=gh", None).await;
    assert_eq!(ok.status, 200);
    assert_eq!(admin(&proxy, "GET", "/api/other", None).await.status, 404);
}

#[tokio::test]
async fn a_non_loopback_admin_wants_the_token_even_to_read() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start().await;
    let proxy = start(&app, spool.path(), "0.0.0.0:0", true);
    for path in ["/api/spool", "/api/dead-letters"] {
        assert_eq!(admin(&proxy, "GET", path, None).await.status, 401, "{path}");
        let wrong = admin(&proxy, "GET", path, Some("not-the-admin-token")).await;
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(admin(&proxy, "GET", path, Some(TOKEN)).await.status, 200);
    }
    assert_eq!(admin(&proxy, "GET", "/livez", None).await.status, 200);

    let spool = tempfile::tempdir().unwrap();
    let untokened = start(&app, spool.path(), "0.0.0.0:0", false);
    let response = admin(&untokened, "GET", "/api/spool", None).await;
    assert_eq!(response.status, 403);
    assert_eq!(
        response.body_text(),
        r#"{"error":"admin token not configured"}"#
    );
}

#[tokio::test]
async fn without_a_spool_the_api_says_so() {
    let app = App::start().await;
    let config = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nadmin: 127.0.0.1:0\nroutes:\n  - path: /gh\n    \
         provider: github\n    secrets: [{{value: {SECRET}}}]\n",
        app.url()
    );
    let proxy = Hookguard::start(&config);
    for path in ["/api/spool", "/api/dead-letters"] {
        let response = admin(&proxy, "GET", path, None).await;
        assert_eq!(response.status, 404, "{path}");
        assert_eq!(response.body_text(), r#"{"error":"no spool configured"}"#);
    }
}

/// Runs `hookguard dead-letters ARGS` against `proxy`'s admin API, the token in the environment
/// when given.
fn cli(proxy: &Hookguard, args: &[&str], token: Option<&str>) -> Output {
    let url = format!("http://{}", admin_addr(proxy));
    let mut command = Command::new(binary());
    command
        .args(["dead-letters", "--admin", &url])
        .args(args)
        .env_remove(TOKEN_ENV);
    if let Some(token) = token {
        command.env(TOKEN_ENV, token);
    }
    command.output().expect("run the CLI")
}

fn stdout(output: &Output) -> String {
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn failure(output: &Output) -> String {
    assert!(!output.status.success(), "succeeded");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_lists_replays_and_drops_dead_letters() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[400, 400]).await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let first = deliver(&proxy, 1).await;
    dead_letters(&proxy, 1).await;
    let second = deliver(&proxy, 2).await;
    dead_letters(&proxy, 2).await;
    let mut seen = app.take();

    let table = stdout(&cli(&proxy, &["list", "--route", "gh"], None));
    let lines: Vec<&str> = table.lines().collect();
    assert_eq!(lines.len(), 3, "{table}");
    for column in [
        "id",
        "route",
        "reason",
        "attempts",
        "last_status",
        "received_at",
        "event",
    ] {
        assert!(lines[0].contains(column), "{table}");
    }
    assert!(
        lines[1].starts_with(&first) && lines[2].starts_with(&second),
        "{table}"
    );
    assert!(lines[1].contains("rejected") && lines[1].contains("400") && lines[1].contains("push"));

    let token_file = spool.path().join("token");
    std::fs::write(&token_file, format!("{TOKEN}\n")).unwrap();
    let token_path = token_file.to_str().expect("utf-8 path");
    let replayed = cli(
        &proxy,
        &["--token-file", token_path, "replay", &first],
        None,
    );
    assert_eq!(stdout(&replayed).trim(), format!("replayed {first}"));
    received(&app, &mut seen, 3).await;
    assert_eq!(header(&seen[2], "x-hookguard-delivery"), first);

    let dropped = stdout(&cli(&proxy, &["drop", &second], Some(TOKEN)));
    assert_eq!(dropped.trim(), format!("dropped {second}"));
    dead_letters(&proxy, 0).await;
    assert_eq!(
        stdout(&cli(&proxy, &["list"], None)).trim(),
        "no dead letters"
    );
    let route = stdout(&cli(&proxy, &["replay", "--route", "gh"], Some(TOKEN)));
    assert_eq!(route.trim(), "replayed 0 dead letter(s) of route gh");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_fails_with_a_clear_message() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start().await;
    let proxy = start(&app, spool.path(), "127.0.0.1:0", true);
    let unknown = "0123456789abcdef01234567";
    let missing = failure(&cli(&proxy, &["drop", unknown], None));
    assert!(
        missing.contains("unauthorized") && missing.contains(TOKEN_ENV),
        "{missing}"
    );
    let wrong = failure(&cli(
        &proxy,
        &["drop", unknown],
        Some("admin-token-wrong-000"),
    ));
    assert!(wrong.contains("refused the token"), "{wrong}");
    let absent = failure(&cli(&proxy, &["replay", unknown], Some(TOKEN)));
    assert!(
        absent.contains(&format!("no dead letter {unknown}")),
        "{absent}"
    );
    let bad_limit = failure(&cli(&proxy, &["list", "--limit", "0"], None));
    assert!(bad_limit.contains("400"), "{bad_limit}");

    let untokened_spool = tempfile::tempdir().unwrap();
    let untokened = start(&app, untokened_spool.path(), "127.0.0.1:0", false);
    let forbidden = failure(&cli(&untokened, &["drop", unknown], Some(TOKEN)));
    assert!(
        forbidden.contains("admin token not configured"),
        "{forbidden}"
    );

    let closed = App::free_addr();
    let output = Command::new(binary())
        .args([
            "dead-letters",
            "--admin",
            &format!("http://{closed}"),
            "list",
        ])
        .output()
        .expect("run the CLI");
    let refused = failure(&output);
    assert!(refused.contains("cannot reach the admin API"), "{refused}");
}
