//! The aws-sns preset through the running binary: a local HTTPS server under a test CA plays SNS's
//! certificate host (and its SubscribeURL). Genuine messages pass, the certificate is fetched once,
//! a URL off the pattern is refused before any fetch, a failed fetch is 503, tampering is 401, and
//! `confirm_subscription` visits the SubscribeURL.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use rsa::pkcs8::DecodePrivateKey;
use rsa::{Pkcs1v15Sign, RsaPrivateKey};
use serde_json::{json, Value};
use sha1::{Digest, Sha1};
use sha2::Sha256;
use tokio::net::TcpListener;

use crate::support::{http1_request, pki, send_raw, App, Hookguard, Pki, RawResponse, APP_STATUS};

const SIGNING_KEY: &str = include_str!("../data/sns-signing-key.pem");
const SIGNING_CERT: &str = include_str!("../data/sns-signing-cert.pem");
const CERT_PATH: &str = "/SimpleNotificationService-test.pem";
const TOPIC: &str = "arn:aws:sns:us-east-1:123456789012:hookguard-test";

/// A local HTTPS server under a fresh test CA: the certificate at [`CERT_PATH`], 200 for a
/// `?Action=ConfirmSubscription` visit, 404 for anything else; every request target is recorded.
struct CertHost {
    port: u16,
    seen: Arc<Mutex<Vec<String>>>,
    pki: Pki,
    task: tokio::task::JoinHandle<()>,
}

impl CertHost {
    async fn start() -> CertHost {
        let pki = pki();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::clone(&pki.server_config));
        let listener = TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let port = listener.local_addr().expect("addr").port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&seen);
        let task = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let (acceptor, sink) = (acceptor.clone(), Arc::clone(&sink));
                tokio::spawn(async move {
                    let Ok(stream) = acceptor.accept(stream).await else {
                        return;
                    };
                    let service = service_fn(move |request: Request<Incoming>| {
                        let target = request
                            .uri()
                            .path_and_query()
                            .map(|pq| pq.to_string())
                            .unwrap_or_default();
                        sink.lock().expect("lock").push(target.clone());
                        async move { Ok::<_, std::convert::Infallible>(answer(&target)) }
                    });
                    let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });
        CertHost {
            port,
            seen,
            pki,
            task,
        }
    }

    fn url(&self, path: &str) -> String {
        format!("https://127.0.0.1:{}{path}", self.port)
    }

    fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("lock").clone()
    }
}

impl Drop for CertHost {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn answer(target: &str) -> Response<Full<Bytes>> {
    let (status, body) = if target == CERT_PATH {
        (200, SIGNING_CERT.to_string())
    } else if target.starts_with("/?Action=ConfirmSubscription") {
        (200, "<ConfirmSubscriptionResponse/>".to_string())
    } else {
        (404, String::new())
    };
    Response::builder()
        .status(status)
        .body(Full::new(Bytes::from(body)))
        .expect("response")
}

/// The fields SNS signs for each message type, in its order (AWS, "Verifying the signatures of
/// Amazon SNS messages"); written here independently of hookguard's own list.
fn signed_fields(kind: &str) -> &'static [&'static str] {
    match kind {
        "Notification" => &[
            "Message",
            "MessageId",
            "Subject",
            "Timestamp",
            "TopicArn",
            "Type",
        ],
        _ => &[
            "Message",
            "MessageId",
            "SubscribeURL",
            "Timestamp",
            "Token",
            "TopicArn",
            "Type",
        ],
    }
}

/// A message as SNS sends it, signed with the test key under `version` ("1" SHA-1, "2" SHA-256).
fn signed_message(kind: &str, version: &str, cert_url: &str, extra: Value) -> Value {
    let mut message = json!({
        "Type": kind,
        "MessageId": format!("msg-{kind}-{version}"),
        "TopicArn": TOPIC,
        "Message": "{\"order\":42,\"note\":\"caf\u{e9}\\n ok\"}",
        "Timestamp": "2026-01-01T00:00:00.000Z",
    });
    for (name, value) in extra.as_object().expect("object") {
        message[name] = value.clone();
    }
    let canonical: String = signed_fields(kind)
        .iter()
        .filter_map(|name| Some(format!("{name}\n{}\n", message.get(*name)?.as_str()?)))
        .collect();
    let key = RsaPrivateKey::from_pkcs8_pem(SIGNING_KEY).expect("test key");
    let signature = match version {
        "1" => key.sign(
            Pkcs1v15Sign::new::<Sha1>(),
            &Sha1::digest(canonical.as_bytes()),
        ),
        _ => key.sign(
            Pkcs1v15Sign::new::<Sha256>(),
            &Sha256::digest(canonical.as_bytes()),
        ),
    }
    .expect("sign");
    message["SignatureVersion"] = json!(version);
    message["Signature"] = json!(base64::engine::general_purpose::STANDARD.encode(signature));
    message["SigningCertURL"] = json!(cert_url);
    message
}

/// A proxy with one aws-sns route per `(path, extra keys)`, trusting the host's test CA.
fn proxy(app: &App, host: &CertHost, routes: &[(&str, Value)]) -> Hookguard {
    let routes: Vec<Value> = routes
        .iter()
        .map(|(path, extra)| {
            let mut route = json!({
                "path": path,
                "provider": "aws-sns",
                "cert_url_pattern": host.url("/*.pem"),
            });
            for (name, value) in extra.as_object().expect("object") {
                route[name] = value.clone();
            }
            route
        })
        .collect();
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "upstream_ca": host.pki.ca_path,
        "routes": routes,
    });
    Hookguard::start(&config.to_string())
}

async fn post(proxy: &Hookguard, path: &str, message: &Value) -> RawResponse {
    let kind = message["Type"]
        .as_str()
        .unwrap_or("Notification")
        .to_string();
    let headers = vec![
        ("x-amz-sns-message-type".to_string(), kind),
        (
            "Content-Type".to_string(),
            "text/plain; charset=UTF-8".to_string(),
        ),
    ];
    let body = message.to_string();
    send_raw(
        proxy.addr,
        &http1_request("POST", path, &headers, body.as_bytes()),
    )
    .await
}

#[tokio::test]
async fn genuine_messages_pass_on_one_fetch_of_their_certificate_and_a_tampered_one_does_not() {
    let app = App::start().await;
    let host = CertHost::start().await;
    let proxy = proxy(&app, &host, &[("/sns", json!({}))]);
    let cert_url = host.url(CERT_PATH);
    let messages = [
        signed_message(
            "Notification",
            "1",
            &cert_url,
            json!({"Subject": "hookguard test"}),
        ),
        signed_message("Notification", "2", &cert_url, json!({})),
        signed_message(
            "SubscriptionConfirmation",
            "1",
            &cert_url,
            json!({"Token": "tok-1", "SubscribeURL": host.url("/?Action=ConfirmSubscription&Token=tok-1")}),
        ),
        signed_message(
            "SubscriptionConfirmation",
            "2",
            &cert_url,
            json!({"Token": "tok-2", "SubscribeURL": host.url("/?Action=ConfirmSubscription&Token=tok-2")}),
        ),
    ];
    for message in &messages {
        let response = post(&proxy, "/sns", message).await;
        assert_eq!(response.status, APP_STATUS, "{}", response.body_text());
    }
    let mut seen = Vec::new();
    app.collect(&mut seen, messages.len(), Duration::from_secs(5))
        .await;
    for (recorded, message) in seen.iter().zip(&messages) {
        assert_eq!(
            recorded.body,
            message.to_string().into_bytes(),
            "byte for byte"
        );
    }
    assert_eq!(
        host.seen(),
        vec![CERT_PATH.to_string()],
        "one fetch, then the cache; and no SubscribeURL visit without confirm_subscription"
    );

    let mut tampered = messages[1].clone();
    tampered["Message"] = json!("{\"order\":43}");
    let mut reversioned = messages[0].clone();
    reversioned["SignatureVersion"] = json!("2");
    let mut unknown_version = messages[1].clone();
    unknown_version["SignatureVersion"] = json!("3");
    let mut missing = messages[1].clone();
    missing.as_object_mut().expect("object").remove("TopicArn");
    for refused in [tampered, reversioned, unknown_version, missing] {
        let response = post(&proxy, "/sns", &refused).await;
        assert_eq!(response.status, 401, "{refused}");
        assert!(response.header("retry-after").is_none());
    }
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.take().is_empty(), "nothing refused reaches the app");
    assert_eq!(host.seen().len(), 1);
}

#[tokio::test]
async fn a_certificate_url_off_the_pattern_is_refused_before_any_fetch() {
    let app = App::start().await;
    let host = CertHost::start().await;
    let proxy = proxy(
        &app,
        &host,
        &[
            ("/sns", json!({})),
            (
                "/sns-topic",
                json!({"topic_arns": ["arn:aws:sns:us-east-1:123456789012:other"]}),
            ),
        ],
    );
    let off_pattern = [
        host.url("/deeper/SimpleNotificationService-test.pem"),
        host.url("/SimpleNotificationService-test.txt"),
        format!("http://127.0.0.1:{}{CERT_PATH}", host.port),
        format!("https://localhost:{}{CERT_PATH}", host.port),
        format!("https://127.0.0.1:{}{CERT_PATH}", host.port + 1),
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-test.pem".to_string(),
    ];
    for url in &off_pattern {
        let message = signed_message("Notification", "2", url, json!({}));
        let response = post(&proxy, "/sns", &message).await;
        assert_eq!(response.status, 401, "{url}");
    }
    let foreign_topic = signed_message("Notification", "2", &host.url(CERT_PATH), json!({}));
    assert_eq!(post(&proxy, "/sns-topic", &foreign_topic).await.status, 401);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(host.seen().is_empty(), "fetched: {:?}", host.seen());
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn a_failed_certificate_fetch_is_503_with_retry_after_and_never_forwarded() {
    let app = App::start().await;
    let host = CertHost::start().await;
    let proxy = proxy(&app, &host, &[("/sns", json!({}))]);
    let missing = signed_message("Notification", "2", &host.url("/missing.pem"), json!({}));
    let response = post(&proxy, "/sns", &missing).await;
    assert_eq!(response.status, 503, "{}", response.body_text());
    assert!(response.header("retry-after").is_some());
    assert_eq!(host.seen(), vec!["/missing.pem".to_string()]);

    // A host the proxy cannot trust (no upstream_ca) fails the same way, before any request.
    let untrusting = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [{"path": "/sns", "provider": "aws-sns", "cert_url_pattern": host.url("/*.pem")}],
    });
    let untrusting = Hookguard::start(&untrusting.to_string());
    let genuine = signed_message("Notification", "2", &host.url(CERT_PATH), json!({}));
    assert_eq!(post(&untrusting, "/sns", &genuine).await.status, 503);
    assert_eq!(host.seen().len(), 1, "the TLS handshake failed first");
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.take().is_empty());
}

#[tokio::test]
async fn confirm_subscription_visits_the_subscribe_url_then_forwards() {
    let app = App::start().await;
    let host = CertHost::start().await;
    let proxy = proxy(
        &app,
        &host,
        &[("/sns", json!({"confirm_subscription": true}))],
    );
    let cert_url = host.url(CERT_PATH);
    let visit = "/?Action=ConfirmSubscription&TopicArn=t&Token=tok-9";
    let confirmation = signed_message(
        "SubscriptionConfirmation",
        "2",
        &cert_url,
        json!({"Token": "tok-9", "SubscribeURL": host.url(visit)}),
    );
    let response = post(&proxy, "/sns", &confirmation).await;
    assert_eq!(response.status, APP_STATUS, "{}", response.body_text());
    assert_eq!(host.seen(), vec![CERT_PATH.to_string(), visit.to_string()]);
    let mut seen = Vec::new();
    app.collect(&mut seen, 1, Duration::from_secs(5)).await;

    // A notification is not a confirmation: nothing is visited.
    let notification = signed_message("Notification", "2", &cert_url, json!({}));
    assert_eq!(post(&proxy, "/sns", &notification).await.status, APP_STATUS);
    assert_eq!(host.seen().len(), 2);

    // A signed SubscribeURL off the certificate host is not visited, and the message is refused.
    let elsewhere = signed_message(
        "SubscriptionConfirmation",
        "2",
        &cert_url,
        json!({"Token": "tok-10", "SubscribeURL": format!("https://localhost:{}{visit}", host.port)}),
    );
    assert_eq!(post(&proxy, "/sns", &elsewhere).await.status, 401);
    // A visit that fails leaves SNS to send the confirmation again: 503, not forwarded.
    let failing = signed_message(
        "SubscriptionConfirmation",
        "2",
        &cert_url,
        json!({"Token": "tok-11", "SubscribeURL": host.url("/nowhere")}),
    );
    let response = post(&proxy, "/sns", &failing).await;
    assert_eq!(response.status, 503);
    assert!(response.header("retry-after").is_some());
    assert_eq!(host.seen().len(), 3, "{:?}", host.seen());
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(app.take().len(), 1, "only the notification after the first");
}

#[tokio::test]
async fn sns_keys_are_refused_where_they_mean_nothing() {
    let check = |route: Value| {
        let config = json!({"upstream": "http://127.0.0.1:3000", "routes": [route]});
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("config.yaml");
        std::fs::write(&path, config.to_string()).expect("write");
        let output = std::process::Command::new(crate::support::binary())
            .args(["check", "--config"])
            .arg(&path)
            .output()
            .expect("check");
        (
            output.status.success(),
            String::from_utf8_lossy(&output.stderr).into_owned(),
        )
    };
    let (ok, _) = check(json!({"path": "/sns", "provider": "aws-sns"}));
    assert!(ok, "aws-sns needs no secrets");
    for (route, needle) in [
        (
            json!({"path": "/sns", "provider": "aws-sns", "secrets": [{"value": "k"}]}),
            "secrets",
        ),
        (
            json!({"path": "/gh", "provider": "github", "secrets": [{"value": "k"}], "confirm_subscription": true}),
            "confirm_subscription",
        ),
        (
            json!({"path": "/sns", "provider": "aws-sns", "cert_url_pattern": "http://sns.*.amazonaws.com/*.pem"}),
            "cert_url_pattern",
        ),
        (
            json!({"path": "/sns", "provider": "aws-sns", "topic_arns": []}),
            "topic_arns",
        ),
    ] {
        let (ok, stderr) = check(route.clone());
        assert!(!ok, "{route} should be refused");
        assert!(stderr.contains(needle), "{stderr}");
    }
}

#[tokio::test]
async fn dedup_keys_sns_on_the_signed_message_id_not_the_unsigned_fields() {
    let app = App::start().await;
    let host = CertHost::start().await;
    let proxy = proxy(&app, &host, &[("/sns", json!({"dedup": {"ttl": "1h"}}))]);
    let message = signed_message("Notification", "2", &host.url(CERT_PATH), json!({}));
    assert_eq!(post(&proxy, "/sns", &message).await.status, APP_STATUS);
    // The same signed message with an unsigned field changed is still the same delivery.
    let mut replayed = message.clone();
    replayed["UnsubscribeURL"] =
        json!("https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&r=1");
    let response = post(&proxy, "/sns", &replayed).await;
    assert_eq!(response.status, 200);
    assert!(
        response.body_text().contains("duplicate"),
        "{}",
        response.body_text()
    );
    let mut seen = Vec::new();
    app.collect(&mut seen, 1, Duration::from_secs(5)).await;
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(app.take().is_empty(), "the replay did not reach the app");
}
