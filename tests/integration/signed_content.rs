//! The signed-content presets through the running binary: Plivo's nonce and sorted URL (replayed
//! from its SDK-made fixture, since V3 signs no timestamp) and Persona's signature sets while a
//! secret rotates (signed by `hookguard sign`).

use serde_json::{json, Value};

use crate::support::run_binary;
use crate::support::{header_pairs, http1_request, send_raw, App, Hookguard, APP_BODY, APP_STATUS};

const FIXTURES: &str = include_str!("../data/preset-vectors.json");

/// The Plivo fixture whose callback URL carries a query.
fn plivo_fixture() -> Value {
    let document: Value = serde_json::from_str(FIXTURES).expect("fixtures parse");
    document["vectors"]
        .as_array()
        .expect("vectors")
        .iter()
        .find(|v| v["preset"] == "plivo" && v["request"]["query"] != "")
        .expect("a plivo fixture with a query")
        .clone()
}

fn replace_header(headers: &mut [(String, String)], name: &str, value: &str) {
    for (key, old) in headers.iter_mut() {
        if key.eq_ignore_ascii_case(name) {
            *old = value.to_string();
        }
    }
}

#[tokio::test]
async fn plivo_verifies_the_sorted_url_form_fields_and_nonce() {
    let app = App::start().await;
    let fixture = plivo_fixture();
    let request = &fixture["request"];
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [{
            "path": "/plivo",
            "provider": "plivo",
            "public_url": request["url"],
            "secrets": [{ "value": fixture["secret"] }],
        }],
    });
    let proxy = Hookguard::start(&config.to_string());
    let target = format!("/plivo?{}", request["query"].as_str().expect("query"));
    let body = request["body"].as_str().expect("body").as_bytes();
    let headers = header_pairs(&request["headers"]);

    let good = send_raw(proxy.addr, &http1_request("POST", &target, &headers, body)).await;
    assert_eq!(good.status, APP_STATUS, "{}", good.body_text());
    assert_eq!(good.body_text(), APP_BODY);
    assert_eq!(app.take()[0].body.as_ref(), body, "exact bytes");

    // The nonce, the query and the form fields are all signed.
    let mut other_nonce = headers.clone();
    replace_header(&mut other_nonce, "X-Plivo-Signature-V3-Nonce", "1");
    let without_nonce: Vec<(String, String)> = headers
        .iter()
        .filter(|(name, _)| !name.eq_ignore_ascii_case("X-Plivo-Signature-V3-Nonce"))
        .cloned()
        .collect();
    let tampered = fixture["tampered_body"].as_str().expect("tampered");
    for (what, target, headers, body) in [
        ("nonce", target.as_str(), &other_nonce, body),
        ("query", "/plivo?route=other&a=1", &headers, body),
        ("body", target.as_str(), &headers, tampered.as_bytes()),
    ] {
        let forged = send_raw(proxy.addr, &http1_request("POST", target, headers, body)).await;
        assert_eq!(forged.status, 401, "{what} changed");
    }
    let missing = send_raw(
        proxy.addr,
        &http1_request("POST", &target, &without_nonce, body),
    )
    .await;
    assert_eq!(missing.status, 401);
    proxy.wait_for_log("reason=missing_nonce");

    // A JSON body is not covered by Plivo's signature, so it is refused whatever the headers say.
    let mut json_headers = headers.clone();
    replace_header(&mut json_headers, "Content-Type", "application/json");
    let json_body = send_raw(
        proxy.addr,
        &http1_request("POST", &target, &json_headers, br#"{"Event":"x"}"#),
    )
    .await;
    assert_eq!(json_body.status, 401);
    proxy.wait_for_log("reason=unsigned_body");
    assert!(app.take().is_empty());
}

/// `hookguard sign --provider persona`'s one header value, for `secret`.
fn persona_set(secret: &str, body: &[u8]) -> String {
    let output = run_binary(
        &[
            "sign",
            "--provider",
            "persona",
            "--secret-env",
            "PERSONA_SECRET",
            "-",
        ],
        &[("PERSONA_SECRET", secret)],
        body,
    );
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let text = String::from_utf8(output.stdout).expect("utf8");
    let (name, value) = text.trim().split_once(": ").expect("Name: value");
    assert_eq!(name, "Persona-Signature");
    value.to_string()
}

#[tokio::test]
async fn persona_accepts_either_signature_set_while_a_secret_rotates() {
    let app = App::start().await;
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [{
            "path": "/persona",
            "provider": "persona",
            "secrets": [{ "value": "wbhsec_new" }],
        }],
    });
    let proxy = Hookguard::start(&config.to_string());
    let body = br#"{"data":{"type":"event","attributes":{"name":"inquiry.completed"}}}"#;
    let old = persona_set("wbhsec_old", body);
    let new = persona_set("wbhsec_new", body);
    let send = |value: String, body: &'static [u8]| {
        let headers = vec![("Persona-Signature".to_string(), value)];
        let addr = proxy.addr;
        async move { send_raw(addr, &http1_request("POST", "/persona", &headers, body)).await }
    };
    for header in [format!("{old} {new}"), format!("{new} {old}")] {
        let response = send(header, body).await;
        assert_eq!(response.status, APP_STATUS, "{}", response.body_text());
    }
    assert_eq!(app.take().len(), 2);
    let only_old = send(old.clone(), body).await;
    assert_eq!(only_old.status, 401);
    let tampered = send(format!("{old} {new}"), br#"{"data":{}}"#).await;
    assert_eq!(tampered.status, 401);
    assert!(app.take().is_empty());
}

#[test]
fn sign_refuses_a_plivo_body_that_plivo_would_not_sign() {
    let output = run_binary(
        &[
            "sign",
            "--provider",
            "plivo",
            "--secret-env",
            "PLIVO_TOKEN",
            "--url",
            "https://hooks.example.com/plivo",
            "--content-type",
            "application/json",
            "-",
        ],
        &[("PLIVO_TOKEN", "plivo-auth-token")],
        br#"{"Event":"x"}"#,
    );
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("plivo does not sign the fields of a \"application/json\" body"),
        "{stderr}"
    );
}
