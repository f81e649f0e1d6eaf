//! The journal, its read API, the live feed and the inspector page, through the real binary: a
//! forwarded, a forged and a stale delivery are listed and counted without anything they carried;
//! the feed sends a request made after subscribing; a non-loopback admin wants the token; the page
//! is served with a policy that lets it load nothing from elsewhere.

use std::net::SocketAddr;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{
    github_headers, hmac_sha256_hex, http1_request, send_raw, App, Hookguard, RawResponse,
};

const SECRET: &str = "inspector-test-secret-51";
const TOKEN: &str = "inspector-admin-token-0123";
const TOKEN_ENV: &str = "HOOKGUARD_ADMIN_TOKEN";
const BODY: &[u8] = b"{\"card\":\"4242-private-body\"}";

/// A GitHub route `gh` and a Stripe route `stripe`, both direct, with the admin at `admin`.
fn config(app: &App, admin: &str, token: bool) -> String {
    let token = if token {
        format!("admin_token: {{env: {TOKEN_ENV}}}\n")
    } else {
        String::new()
    };
    format!(
        "listen: 127.0.0.1:0\nupstream: {}\nadmin: {admin}\n{token}admin_recent: 50\nroutes:\n\
         \x20 - path: /gh\n    name: gh\n    provider: github\n    secrets: [{{value: {SECRET}}}]\n\
         \x20 - path: /stripe\n    name: stripe\n    provider: stripe\n    secrets: [{{value: {SECRET}}}]\n",
        app.url()
    )
}

fn start(app: &App, admin: &str, token: bool) -> Hookguard {
    Hookguard::start_with_env(&config(app, admin, token), &[(TOKEN_ENV, TOKEN)])
}

fn admin_addr(proxy: &Hookguard) -> SocketAddr {
    let mut addr = proxy.admin.expect("admin listener");
    if addr.ip().is_unspecified() {
        addr.set_ip([127, 0, 0, 1].into());
    }
    addr
}

fn bearer(token: Option<&str>) -> Vec<(String, String)> {
    token
        .map(|t| ("Authorization".to_string(), format!("Bearer {t}")))
        .into_iter()
        .collect()
}

async fn admin(proxy: &Hookguard, method: &str, path: &str, token: Option<&str>) -> RawResponse {
    let request = http1_request(method, path, &bearer(token), b"");
    send_raw(admin_addr(proxy), &request).await
}

fn json(response: &RawResponse) -> Value {
    serde_json::from_str(&response.body_text())
        .unwrap_or_else(|_| panic!("not JSON: {}", response.body_text()))
}

/// A GitHub delivery with id `delivery`, signed with `secret`, the query string holding a secret.
async fn github(proxy: &Hookguard, secret: &str, delivery: &str) -> RawResponse {
    let headers = github_headers(
        secret,
        BODY,
        &[("X-GitHub-Event", "push"), ("X-GitHub-Delivery", delivery)],
    );
    let request = http1_request("POST", "/gh?private=query", &headers, BODY);
    send_raw(proxy.addr, &request).await
}

/// A Stripe delivery correctly signed but an hour old.
async fn stale_stripe(proxy: &Hookguard) -> (RawResponse, String) {
    let now = SystemTime::now().duration_since(UNIX_EPOCH).expect("clock");
    let t = now.as_secs() - 3600;
    let mut signed = format!("{t}.").into_bytes();
    signed.extend_from_slice(BODY);
    let signature = hmac_sha256_hex(SECRET.as_bytes(), &signed);
    let headers = vec![(
        "Stripe-Signature".to_string(),
        format!("t={t},v1={signature}"),
    )];
    let request = http1_request("POST", "/stripe", &headers, BODY);
    (send_raw(proxy.addr, &request).await, signature)
}

#[tokio::test]
async fn forwarded_forged_and_stale_are_listed_and_counted_without_what_they_carried() {
    let app = App::start().await;
    let proxy = start(&app, "127.0.0.1:0", true);
    assert_eq!(github(&proxy, SECRET, "gh-ok").await.status, 202);
    assert_eq!(
        github(&proxy, "forged-secret", "gh-forged").await.status,
        401
    );
    let (stale, signature) = stale_stripe(&proxy).await;
    assert_eq!(stale.status, 401);

    let response = admin(&proxy, "GET", "/api/deliveries", None).await;
    assert_eq!(response.status, 200);
    let raw = response.body_text();
    let forged_signature = hmac_sha256_hex(b"forged-secret", BODY);
    let good_signature = hmac_sha256_hex(SECRET.as_bytes(), BODY);
    for leak in [
        SECRET,
        TOKEN,
        "4242-private-body",
        "private=query",
        &signature,
        &forged_signature,
        &good_signature,
    ] {
        assert!(!raw.contains(leak), "{leak} in {raw}");
    }
    let listed = json(&response)["deliveries"]
        .as_array()
        .expect("list")
        .clone();
    let seen: Vec<(&str, &str, Option<&str>, u64)> = listed
        .iter()
        .map(|d| {
            (
                d["route"].as_str().expect("route"),
                d["outcome"].as_str().expect("outcome"),
                d["reason"].as_str(),
                d["status"].as_u64().expect("status"),
            )
        })
        .collect();
    assert_eq!(
        seen,
        [
            ("stripe", "refused", Some("stale_timestamp"), 401),
            ("gh", "refused", Some("signature_mismatch"), 401),
            ("gh", "forwarded", None, 202),
        ]
    );
    let forwarded = &listed[2];
    assert_eq!(forwarded["path"], "/gh");
    assert_eq!(forwarded["method"], "POST");
    assert_eq!(forwarded["delivery"], "gh-ok");
    assert!(forwarded["latency_us"].as_u64().is_some());
    let at = forwarded["at"].as_str().expect("at");
    assert!(at.ends_with('Z') && at.contains('.'), "{at}");

    let filtered = admin(
        &proxy,
        "GET",
        "/api/deliveries?route=gh&outcome=refused",
        None,
    )
    .await;
    let filtered = json(&filtered)["deliveries"]
        .as_array()
        .expect("list")
        .clone();
    assert_eq!(filtered.len(), 1);
    assert_eq!(filtered[0]["delivery"], "gh-forged");
    let limited = admin(&proxy, "GET", "/api/deliveries?limit=1", None).await;
    assert_eq!(
        json(&limited)["deliveries"].as_array().map(Vec::len),
        Some(1)
    );
    let bad = admin(&proxy, "GET", "/api/deliveries?limit=0", None).await;
    assert_eq!(bad.status, 400);
}

#[tokio::test]
async fn routes_are_counted_by_outcome_and_reason() {
    let app = App::start().await;
    let proxy = start(&app, "127.0.0.1:0", false);
    github(&proxy, SECRET, "a").await;
    github(&proxy, SECRET, "b").await;
    github(&proxy, "forged-secret", "c").await;
    stale_stripe(&proxy).await;
    let response = admin(&proxy, "GET", "/api/routes", None).await;
    assert_eq!(response.status, 200);
    let routes = json(&response)["routes"]
        .as_array()
        .expect("routes")
        .clone();
    let gh = &routes[0];
    assert_eq!(gh["name"], "gh");
    assert_eq!(gh["path"], "/gh");
    assert_eq!(gh["scheme"], "github");
    assert_eq!(gh["mode"], "direct");
    assert_eq!(gh["outcomes"]["forwarded"], 2);
    assert_eq!(gh["outcomes"]["refused"], 1);
    assert_eq!(gh["reasons"]["signature_mismatch"], 1);
    let stripe = &routes[1];
    assert_eq!(stripe["name"], "stripe");
    assert_eq!(stripe["outcomes"]["refused"], 1);
    assert_eq!(stripe["reasons"]["stale_timestamp"], 1);
}

/// Sends the stream request and reads until the head is in; returns the socket and what was read.
async fn subscribe(addr: SocketAddr, token: Option<&str>) -> (TcpStream, String) {
    let mut stream = TcpStream::connect(addr).await.expect("connect");
    let request = http1_request("GET", "/api/deliveries/stream", &bearer(token), b"");
    stream.write_all(&request).await.expect("write");
    let seen = read_until(&mut stream, String::new(), "\r\n\r\n").await;
    (stream, seen)
}

/// Reads until `needle` has been seen, for up to 10 s.
async fn read_until(stream: &mut TcpStream, mut seen: String, needle: &str) -> String {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while !seen.contains(needle) {
        let mut chunk = [0u8; 4096];
        let read = tokio::time::timeout_at(deadline, stream.read(&mut chunk))
            .await
            .unwrap_or_else(|_| panic!("no {needle:?} in {seen:?}"))
            .expect("read");
        assert!(read > 0, "closed before {needle:?}: {seen:?}");
        seen.push_str(&String::from_utf8_lossy(&chunk[..read]));
    }
    seen
}

#[tokio::test]
async fn the_live_feed_sends_a_request_made_after_subscribing() {
    let app = App::start().await;
    let proxy = start(&app, "127.0.0.1:0", true);
    let (mut stream, head) = subscribe(admin_addr(&proxy), None).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head
        .to_ascii_lowercase()
        .contains("content-type: text/event-stream"));
    // The first comment proves the copier is subscribed before anything is sent.
    let seen = read_until(&mut stream, head, ": hookguard live feed").await;
    assert_eq!(github(&proxy, SECRET, "gh-live").await.status, 202);
    let seen = read_until(&mut stream, seen, "\n\n").await;
    let seen = read_until(&mut stream, seen, "\"delivery\":\"gh-live\"").await;
    let line = seen
        .lines()
        .find(|l| l.starts_with("data: "))
        .expect("a data line");
    let event: Value = serde_json::from_str(&line["data: ".len()..]).expect("event JSON");
    assert_eq!(event["outcome"], "forwarded");
    assert_eq!(event["route"], "gh");
    assert!(!seen.contains(SECRET) && !seen.contains("4242-private-body"));
}

#[tokio::test]
async fn a_non_loopback_admin_wants_the_token_for_the_journal_too() {
    let app = App::start().await;
    let proxy = start(&app, "0.0.0.0:0", true);
    for path in ["/api/deliveries", "/api/routes"] {
        assert_eq!(admin(&proxy, "GET", path, None).await.status, 401, "{path}");
        let wrong = admin(&proxy, "GET", path, Some("not-the-admin-token")).await;
        assert_eq!(wrong.status, 401, "{path}");
        assert_eq!(admin(&proxy, "GET", path, Some(TOKEN)).await.status, 200);
    }
    let refused = send_raw(
        admin_addr(&proxy),
        &http1_request("GET", "/api/deliveries/stream", &[], b""),
    )
    .await;
    assert_eq!(refused.status, 401);
    let (_stream, head) = subscribe(admin_addr(&proxy), Some(TOKEN)).await;
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    // The page carries no data, so it needs no token; what it fetches does.
    assert_eq!(admin(&proxy, "GET", "/", None).await.status, 200);

    let untokened = start(&app, "0.0.0.0:0", false);
    let post = admin(&untokened, "POST", "/api/dead-letters/abc/replay", None).await;
    assert_eq!(post.status, 403);
    assert_eq!(
        admin(&untokened, "GET", "/api/deliveries", None)
            .await
            .status,
        403
    );
}

#[tokio::test]
async fn the_page_and_its_assets_are_served_under_a_strict_policy() {
    let app = App::start().await;
    let proxy = start(&app, "127.0.0.1:0", false);
    let page = admin(&proxy, "GET", "/", None).await;
    assert_eq!(page.status, 200);
    assert!(page
        .header("content-type")
        .is_some_and(|t| t.starts_with("text/html")));
    let policy = page.header("content-security-policy").expect("CSP");
    assert!(policy.contains("default-src 'none'"), "{policy}");
    assert!(policy.contains("script-src 'self'") && !policy.contains("unsafe-inline"));
    assert_eq!(page.header("x-content-type-options"), Some("nosniff"));
    let html = page.body_text();
    assert!(html.contains("src=\"/inspector.js\""), "{html}");
    for (path, kind) in [
        ("/inspector.js", "text/javascript"),
        ("/inspector.css", "text/css"),
    ] {
        let asset = admin(&proxy, "GET", path, None).await;
        assert_eq!(asset.status, 200, "{path}");
        assert!(asset
            .header("content-type")
            .is_some_and(|t| t.starts_with(kind)));
        assert_eq!(asset.header("x-content-type-options"), Some("nosniff"));
        let text = asset.body_text();
        // Nothing is loaded from elsewhere, and data never goes through innerHTML.
        assert!(
            !text.contains("http://") && !text.contains("https://"),
            "{path}"
        );
        assert!(!text.contains("innerHTML"), "{path}");
    }
    assert!(!html.contains("http://") && !html.contains("https://"));
    assert_eq!(admin(&proxy, "POST", "/", None).await.status, 405);
}

/// Chromium on PATH; .ci/run and the README's set-up install it.
fn chromium() -> Option<&'static str> {
    ["chromium", "chromium-browser"].into_iter().find(|name| {
        std::process::Command::new(name)
            .arg("--version")
            .output()
            .is_ok_and(|out| out.status.success())
    })
}

/// The page as headless Chromium leaves it after running its script for a few (virtual) seconds.
fn dump_dom(browser: &str, url: &str) -> String {
    let profile = tempfile::tempdir().expect("profile dir");
    let mut child = std::process::Command::new(browser)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--virtual-time-budget=5000",
            "--dump-dom",
        ])
        .arg(format!("--user-data-dir={}", profile.path().display()))
        .arg(url)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("start chromium");
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    while child.try_wait().expect("wait").is_none() {
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            panic!("chromium did not finish in 60 s");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let mut dom = String::new();
    std::io::Read::read_to_string(&mut child.stdout.take().expect("stdout"), &mut dom)
        .expect("read the DOM");
    dom
}

#[tokio::test]
async fn headless_chromium_renders_the_journal_as_text() {
    let browser = chromium().expect("chromium must be installed (.ci/run installs it)");
    let app = App::start().await;
    let proxy = start(&app, "127.0.0.1:0", false);
    assert_eq!(github(&proxy, SECRET, "gh-ok").await.status, 202);
    // A delivery id that would be markup if the page ever parsed data as HTML.
    let forged = github(&proxy, "forged-secret", "<b id=injected>bold</b>").await;
    assert_eq!(forged.status, 401);
    let url = format!("http://{}/", admin_addr(&proxy));
    let dom = tokio::task::spawn_blocking(move || dump_dom(browser, &url))
        .await
        .expect("chromium task");
    for expected in [
        "signature did not match any secret (signature_mismatch)",
        "forwarded: 1",
        "gh-ok",
        "POST /gh",
        "(live)",
        "No spool configured",
        "&lt;b id=injected&gt;bold&lt;/b&gt;",
    ] {
        assert!(dom.contains(expected), "{expected} not in {dom}");
    }
    assert!(!dom.contains("<b id=\"injected\">"), "{dom}");
}
