//! A real headless Chromium against the running binary's admin port.

use std::time::Duration;

use crate::support::{App, Browser, Hookguard};

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
