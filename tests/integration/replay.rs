//! Replay protection through the real binary: a duplicate is forwarded once, a duplicate in flight
//! gets 409, a failed delivery's retry goes through, shadow mode never records, and two processes
//! sharing a real redis-server agree; with Redis stopped, dedup routes fail closed with 503.

use std::time::Duration;

use base64::Engine as _;

use crate::support::{
    github_config, github_headers, http1_request, send_raw, App, Hookguard, Redis, APP_STATUS,
};

const SECRET: &str = "replay-test-secret";

fn config(app: &App, top: &str, route: &str) -> String {
    github_config(app, SECRET, top, route)
}

fn delivery(body: &[u8], extra: &[(&str, &str)]) -> Vec<u8> {
    http1_request("POST", "/gh", &github_headers(SECRET, body, extra), body)
}

#[tokio::test]
async fn a_duplicate_is_forwarded_once_and_a_failed_delivery_retried() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "", "    dedup: {ttl: 1h}"));
    let body = br#"{"delivery":"one"}"#;
    assert_eq!(
        send_raw(proxy.addr, &delivery(body, &[])).await.status,
        APP_STATUS
    );
    let again = send_raw(proxy.addr, &delivery(body, &[])).await;
    assert_eq!(again.status, 200);
    assert_eq!(again.body_text(), r#"{"duplicate":true}"#);
    assert_eq!(app.take().len(), 1, "the app saw it once");
    proxy.wait_for_log("outcome=duplicate");

    // The app fails the first attempt: nothing is remembered, so the retry reaches it.
    let other = br#"{"delivery":"two"}"#;
    assert_eq!(
        send_raw(proxy.addr, &delivery(other, &[("X-Test-Status", "500")]))
            .await
            .status,
        500
    );
    assert_eq!(
        send_raw(proxy.addr, &delivery(other, &[])).await.status,
        APP_STATUS
    );
    assert_eq!(
        send_raw(proxy.addr, &delivery(other, &[])).await.status,
        200
    );
    assert_eq!(app.take().len(), 2);
}

#[tokio::test]
async fn a_duplicate_while_the_first_is_in_flight_gets_409() {
    let app = App::start().await;
    let proxy = Hookguard::start(&config(&app, "", "    dedup: {ttl: 1h}"));
    let body = br#"{"delivery":"slow"}"#;
    let addr = proxy.addr;
    let slow = delivery(body, &[("X-Test-Delay-Ms", "1500")]);
    let first = tokio::spawn(async move { send_raw(addr, &slow).await });
    tokio::time::sleep(Duration::from_millis(400)).await;
    let second = send_raw(proxy.addr, &delivery(body, &[])).await;
    assert_eq!(second.status, 409, "the sender retries later");
    proxy.wait_for_log("outcome=in_flight reason=duplicate_in_flight");
    assert_eq!(first.await.expect("first").status, APP_STATUS);
    assert_eq!(
        send_raw(proxy.addr, &delivery(body, &[])).await.status,
        200,
        "now a plain duplicate"
    );
    assert_eq!(app.take().len(), 1);
}

#[tokio::test]
async fn a_signed_delivery_id_is_the_key_and_shadow_mode_never_records() {
    let app = App::start().await;
    let key = format!(
        "whsec_{}",
        base64::engine::general_purpose::STANDARD.encode(b"replay-svix-key")
    );
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: /svix\n    provider: svix\n    dedup: {{ttl: 1h}}\n    secrets: [{{value: '{key}'}}]\n  - path: /gh\n    provider: github\n    enforce: false\n    dedup: {{ttl: 1h}}\n    secrets: [{{value: {SECRET}}}]\n",
        app.url()
    );
    let proxy = Hookguard::start(&yaml);
    let body = br#"{"type":"same.body"}"#;
    let sign = |id: &str| {
        let timestamp = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("clock")
            .as_secs()
            .to_string();
        let mut mac = <hmac::Hmac<sha2::Sha256> as hmac::Mac>::new_from_slice(b"replay-svix-key")
            .expect("key");
        hmac::Mac::update(&mut mac, format!("{id}.{timestamp}.").as_bytes());
        hmac::Mac::update(&mut mac, body);
        let signature =
            base64::engine::general_purpose::STANDARD.encode(hmac::Mac::finalize(mac).into_bytes());
        vec![
            ("svix-id".to_string(), id.to_string()),
            ("svix-timestamp".to_string(), timestamp),
            ("svix-signature".to_string(), format!("v1,{signature}")),
        ]
    };
    // Two deliveries with the same body but different signed ids are two deliveries.
    for id in ["msg_1", "msg_2"] {
        let response = send_raw(proxy.addr, &http1_request("POST", "/svix", &sign(id), body)).await;
        assert_eq!(response.status, APP_STATUS, "{id}");
    }
    let repeat = send_raw(
        proxy.addr,
        &http1_request("POST", "/svix", &sign("msg_1"), body),
    )
    .await;
    assert_eq!(
        repeat.status, 200,
        "the same signed id again is a duplicate"
    );
    assert_eq!(app.take().len(), 2);
    for _ in 0..2 {
        assert_eq!(
            send_raw(proxy.addr, &delivery(b"{}", &[])).await.status,
            APP_STATUS
        );
    }
    assert_eq!(
        app.take().len(),
        2,
        "shadow mode forwards both and records nothing"
    );
}

#[tokio::test]
async fn two_processes_sharing_redis_forward_a_duplicate_once_and_fail_closed_without_it() {
    let mut redis = Redis::start(false);
    let app = App::start().await;
    let top = format!("dedup: {{store: 'redis://127.0.0.1:{}/0'}}", redis.port);
    let first = Hookguard::start(&config(&app, &top, "    dedup: {ttl: 1h}"));
    let second = Hookguard::start(&config(&app, &top, "    dedup: {ttl: 1h}"));
    let body = br#"{"delivery":"shared"}"#;
    assert_eq!(
        send_raw(first.addr, &delivery(body, &[])).await.status,
        APP_STATUS
    );
    let repeat = send_raw(second.addr, &delivery(body, &[])).await;
    assert_eq!(repeat.status, 200);
    assert_eq!(repeat.body_text(), r#"{"duplicate":true}"#);
    assert_eq!(app.take().len(), 1, "one delivery across both replicas");

    redis.stop();
    let unreachable = send_raw(second.addr, &delivery(br#"{"delivery":"after"}"#, &[])).await;
    assert_eq!(unreachable.status, 503);
    assert!(app.take().is_empty(), "nothing is forwarded unchecked");
    second.wait_for_log("outcome=unavailable reason=dedup_unavailable");
}
