//! A real headless Chromium against the running binary's admin port.

use std::time::Duration;

use crate::support::{github_headers, http1_request, send_raw, App, Browser, Hookguard};

/// The DevTools plumbing the inspector's browser tests stand on: a page served by hookguard is
/// loaded and read through real Chromium.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chromium_loads_a_page_from_the_admin_port() {
    let app = App::start().await;
    let proxy = Hookguard::start(&crate::support::demo::config(&app, "admin: 127.0.0.1:0"));
    let admin = proxy.admin.expect("admin listener");
    let mut browser = Browser::open(&format!("http://{admin}/livez"), 800, 600).await;
    let text = browser
        .wait_for(
            "document.body && document.body.innerText.trim()",
            Duration::from_secs(10),
        )
        .await;
    assert_eq!(text, "ok");
    let png = browser.screenshot().await;
    assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
}

const SECRET: &str = "browser-test-secret";
const TOKEN: &str = "browser-test-admin-token-0123456789";

/// The on-call path through the inspector in real Chromium: a forged delivery shows with its
/// reason in words; a dead letter's Replay button asks for the token, and with it the app gets
/// the delivery again. `HOOKGUARD_SCREENSHOT=PATH` also saves the page (docs/inspector.png).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_inspector_shows_a_forgery_and_replays_a_dead_letter() {
    let spool = tempfile::tempdir().unwrap();
    let app = App::start_scripted(&[422]).await;
    let config = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nadmin: 127.0.0.1:0\nadmin_token: {{env: BROWSER_TOKEN}}\n\
         spool: {{store: {}}}\nroutes:\n  - path: /gh\n    name: github\n    provider: github\n\
         \x20   secrets: [{{value: {SECRET}}}]\n    delivery: {{mode: queue, retry: [1s]}}\n",
        app.url(),
        spool.path().display()
    );
    let proxy = Hookguard::start_with_env(&config, &[("BROWSER_TOKEN", TOKEN)]);
    let body = br#"{"action":"opened"}"#;
    let signed = github_headers(SECRET, body, &[("X-GitHub-Delivery", "d-1")]);
    assert_eq!(
        send_raw(proxy.addr, &http1_request("POST", "/gh", &signed, body))
            .await
            .status,
        200
    );
    proxy.wait_for_log("result=dead");
    let forged = github_headers("not-the-secret", body, &[("X-GitHub-Delivery", "d-2")]);
    assert_eq!(
        send_raw(proxy.addr, &http1_request("POST", "/gh", &forged, body))
            .await
            .status,
        401
    );
    assert_eq!(app.take().len(), 1, "the app rejected the first attempt");

    let admin = proxy.admin.expect("admin listener");
    let mut page = Browser::open(&format!("http://{admin}/"), 1200, 900).await;
    let forgery = "[...document.querySelectorAll('#deliveries tr')].map(r => r.innerText)\
                   .find(t => t.includes('d-2') && t.includes('signature did not match any secret'))";
    page.wait_for(forgery, Duration::from_secs(15)).await;
    let replay_button = "document.querySelector('#dead button')";
    page.wait_for(replay_button, Duration::from_secs(15)).await;
    if let Ok(path) = std::env::var("HOOKGUARD_SCREENSHOT") {
        std::fs::write(path, page.screenshot().await).expect("write the screenshot");
    }

    // Without the token the page asks for it; with it, the replay goes out.
    page.eval(&format!("{replay_button}.click()")).await;
    page.wait_for(
        "!document.querySelector('#token-form').hidden",
        Duration::from_secs(10),
    )
    .await;
    page.eval(&format!(
        "document.querySelector('#token').value = '{TOKEN}';\
         document.querySelector('#token-form').requestSubmit(); true"
    ))
    .await;
    page.wait_for(replay_button, Duration::from_secs(15)).await;
    page.eval(&format!("{replay_button}.click()")).await;
    let mut seen = Vec::new();
    app.collect(&mut seen, 1, Duration::from_secs(10)).await;
    assert_eq!(seen.len(), 1, "the replay reached the app");
    assert_eq!(seen[0].headers["x-hookguard-attempt"], "1");
    assert_eq!(seen[0].body.as_ref(), body);
    // The page's spool view no longer lists it as dead.
    page.wait_for(
        "!document.querySelector('#dead button')",
        Duration::from_secs(10),
    )
    .await;
}
