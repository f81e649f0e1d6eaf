//! Who may use a route: `allow_ips` with and without trusted proxies (including a forged
//! X-Forwarded-For), and the per-client rate limit with its refill.

use std::time::Duration;

use crate::support::{
    github_config, github_headers, http1_request, send_raw, App, Hookguard, APP_STATUS,
};

const SECRET: &str = "access-test-secret";

fn signed(body: &[u8], forwarded_for: Option<&str>) -> Vec<(String, String)> {
    let extra: Vec<(&str, &str)> = forwarded_for
        .map(|chain| ("X-Forwarded-For", chain))
        .into_iter()
        .collect();
    github_headers(SECRET, body, &extra)
}

fn config(app: &App, top: &str, route: &str) -> String {
    github_config(app, SECRET, top, route)
}

async fn status(proxy: &Hookguard, forwarded_for: Option<&str>) -> u16 {
    let body = br#"{"who":"sender"}"#;
    send_raw(
        proxy.addr,
        &http1_request("POST", "/gh", &signed(body, forwarded_for), body),
    )
    .await
    .status
}

#[tokio::test]
async fn allow_ips_checks_the_peer_when_no_proxy_is_trusted() {
    let app = App::start().await;
    let allowed = Hookguard::start(&config(&app, "", "    allow_ips: [127.0.0.0/8]"));
    assert_eq!(status(&allowed, None).await, APP_STATUS);
    let elsewhere = Hookguard::start(&config(&app, "", "    allow_ips: [192.0.2.0/24]"));
    assert_eq!(status(&elsewhere, None).await, 403);
    // Without trusted proxies, X-Forwarded-For is the client's own claim and changes nothing.
    assert_eq!(status(&elsewhere, Some("192.0.2.10")).await, 403);
    elsewhere.wait_for_log("reason=address_not_allowed");
    assert_eq!(app.take().len(), 1);
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_rightmost_untrusted_hop_is_checked() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app,
        "trusted_proxies: [127.0.0.0/8]",
        "    allow_ips: [192.0.2.0/24]",
    ));
    assert_eq!(
        status(&proxy, Some("192.0.2.10")).await,
        APP_STATUS,
        "the sender's address, as the proxy saw it"
    );
    let received = app.take();
    assert_eq!(
        received[0].headers["x-forwarded-for"], "192.0.2.10, 127.0.0.1",
        "the chain is extended, not replaced"
    );
    assert_eq!(received[0].headers["x-real-ip"], "192.0.2.10");
    // A forger prepends an allowed address; the proxy appends the real one, which is what counts.
    assert_eq!(status(&proxy, Some("192.0.2.10, 198.51.100.7")).await, 403);
    assert_eq!(
        status(&proxy, None).await,
        403,
        "no header: the client is the proxy itself"
    );
    assert_eq!(
        status(&proxy, Some("not-an-address")).await,
        403,
        "a mangled header fails closed"
    );
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn the_rate_limit_refuses_a_flood_from_one_client_and_refills() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(
        &app,
        "trusted_proxies: [127.0.0.0/8]",
        "    rate_limit: {per_second: 2, burst: 3}",
    ));
    for _ in 0..3 {
        assert_eq!(status(&proxy, Some("198.51.100.7")).await, APP_STATUS);
    }
    let body = br#"{"who":"sender"}"#;
    let limited = send_raw(
        proxy.addr,
        &http1_request("POST", "/gh", &signed(body, Some("198.51.100.7")), body),
    )
    .await;
    assert_eq!(limited.status, 429);
    assert_eq!(limited.header("retry-after"), Some("1"));
    // Another client is not starved by the flood.
    assert_eq!(status(&proxy, Some("203.0.113.9")).await, APP_STATUS);
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert_eq!(
        status(&proxy, Some("198.51.100.7")).await,
        APP_STATUS,
        "a token is back after 0.5 s at 2/s"
    );
    assert_eq!(app.take().len(), 5);
    proxy.wait_for_log("reason=rate_limited");
}
