//! `hookguard explain`: a request signed by `hookguard sign --request` explains as forwarded, and
//! each usual mistake, made to that request as the mistake would make it, is the one named. No
//! output, on either stream, ever holds a secret.

use std::process::Output;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::support::hmac_sha256_hex;
use crate::support::run_binary;

const OLD: &str = "whsec_explain_old_4a1d";
const NEW: &str = "whsec_explain_new_9c2e";
const ENV: [(&str, &str); 2] = [("EXPLAIN_OLD", OLD), ("EXPLAIN_NEW", NEW)];

const CONFIG: &str = "listen: 127.0.0.1:0
upstream: http://127.0.0.1:9
routes:
  - path: /hooks/stripe
    name: stripe
    provider: stripe
    secrets: [{env: EXPLAIN_OLD}, {env: EXPLAIN_NEW}]
  - path: /hooks/square
    name: square
    provider: square
    public_url: https://hooks.example.com/hooks/square
    secrets: [{env: EXPLAIN_NEW}]
  - path: /hooks/plain
    name: plain
    verify: {hmac: {header: X-Sig, timestamp_header: X-Ts, template: '{timestamp}.{body}'}}
    secrets: [{env: EXPLAIN_NEW}]
";

/// Runs the binary with the secrets in its environment; checks neither stream holds one.
fn run(args: &[&str], stdin: &[u8]) -> Output {
    let output = run_binary(args, &ENV, stdin);
    for stream in [&output.stdout, &output.stderr] {
        let text = String::from_utf8_lossy(stream);
        for secret in [OLD, NEW] {
            assert!(!text.contains(secret), "secret in output: {text}");
        }
    }
    output
}

/// A request file for `body`, as `hookguard sign --request` writes it.
fn signed(provider: &str, url: &str, body: &[u8]) -> Vec<u8> {
    let args = [
        "sign",
        "--provider",
        provider,
        "--secret-env",
        "EXPLAIN_NEW",
        "--url",
        url,
        "--request",
    ];
    let output = run(&args, body);
    assert!(output.status.success(), "{}", text(&output.stderr));
    output.stdout
}

/// `explain` of `request` against `route` on standard input; its exit code and standard output.
fn explain(route: &str, request: &[u8]) -> (i32, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = dir.path().join("config.yaml");
    std::fs::write(&config, CONFIG).expect("write config");
    let config = config.display().to_string();
    let output = run(
        &["explain", "--config", &config, "--route", route, "-"],
        request,
    );
    (output.status.code().unwrap_or(-1), text(&output.stdout))
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// The request with its body replaced and Content-Length made to match, as it was received.
fn with_body(request: &[u8], body: &[u8]) -> Vec<u8> {
    let end = request
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .expect("blank line");
    let head = text(&request[..end]);
    let head: Vec<String> = head
        .lines()
        .map(|line| match line.starts_with("Content-Length:") {
            true => format!("Content-Length: {}", body.len()),
            false => line.to_string(),
        })
        .collect();
    [head.join("\r\n").as_bytes(), b"\r\n\r\n", body].concat()
}

fn stripe_signed(body: &[u8]) -> Vec<u8> {
    signed("stripe", "https://hooks.example.com/hooks/stripe", body)
}

/// Asserts a refusal (exit 1) whose `fits:` line contains `finding`.
fn assert_fits(route: &str, request: &[u8], finding: &str) {
    let (code, out) = explain(route, request);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("verdict: refuse"), "{out}");
    let fits = out.lines().find(|l| l.starts_with("fits:")).unwrap_or("");
    assert!(fits.contains(finding), "wanted {finding:?} in:\n{out}");
}

#[test]
fn a_correctly_signed_request_is_forwarded_and_its_secret_named_by_place() {
    let body = br#"{"id":"evt_1","type":"invoice.paid"}"#;
    let (code, out) = explain("stripe", &stripe_signed(body));
    assert_eq!(code, 0, "{out}");
    assert!(out.contains("verdict: forward"), "{out}");
    assert!(
        out.contains("secret: secrets[1] env EXPLAIN_NEW matched"),
        "{out}"
    );
    assert!(!out.contains("secrets[0]"), "{out}");
    assert!(out.contains("signature header: stripe-signature"), "{out}");
    assert!(out.contains("format parsed"), "{out}");
    assert!(out.contains("tolerance 300 s"), "{out}");
    let digest = "sha256 ";
    assert!(
        out.contains(&format!("body {} bytes, {digest}", body.len())),
        "{out}"
    );
}

#[test]
fn a_body_that_lost_its_trailing_newline_is_named_curl_d() {
    let request = stripe_signed(b"{\"id\":\"evt_2\"}\n");
    let mangled = with_body(&request, b"{\"id\":\"evt_2\"}");
    assert_fits("stripe", &mangled, "lost its trailing newline");
    assert_fits("stripe", &mangled, "curl -d");
}

#[test]
fn a_body_that_gained_a_trailing_newline_is_named() {
    let request = stripe_signed(b"{\"id\":\"evt_3\"}");
    let mangled = with_body(&request, b"{\"id\":\"evt_3\"}\n");
    assert_fits("stripe", &mangled, "gained a trailing newline");
}

#[test]
fn lf_converted_to_crlf_is_named() {
    let request = stripe_signed(b"line one\nline two\nend");
    let mangled = with_body(&request, b"line one\r\nline two\r\nend");
    assert_fits(
        "stripe",
        &mangled,
        "signed with LF line endings and sent with CRLF",
    );
}

#[test]
fn crlf_converted_to_lf_is_named() {
    let request = stripe_signed(b"line one\r\nline two\r\nend");
    let mangled = with_body(&request, b"line one\nline two\nend");
    assert_fits(
        "stripe",
        &mangled,
        "signed with CRLF line endings and sent with LF",
    );
}

#[test]
fn a_json_body_re_serialised_with_whitespace_is_named() {
    // Keys already in sorted order, so only the whitespace differs after pretty-printing.
    let compact = br#"{"data":{"amount":100},"id":"evt_4","type":"invoice.paid"}"#;
    let value: serde_json::Value = serde_json::from_slice(compact).expect("json");
    let pretty = serde_json::to_vec_pretty(&value).expect("pretty");
    let mangled = with_body(&stripe_signed(compact), &pretty);
    assert_fits("stripe", &mangled, "the JSON body was re-serialised");
    assert_fits("stripe", &mangled, "signed compact (no spaces)");
}

#[test]
fn a_json_body_signed_as_python_writes_it_is_named() {
    let spaced = br#"{"id": "evt_8", "tags": [1, 2]}"#;
    let mangled = with_body(&stripe_signed(spaced), br#"{"id":"evt_8","tags":[1,2]}"#);
    assert_fits("stripe", &mangled, "Python's json.dumps");
}

#[test]
fn a_json_body_signed_with_sorted_keys_is_named() {
    let sorted = br#"{"a":1,"b":2}"#;
    let mangled = with_body(&stripe_signed(sorted), br#"{"b":2,"a":1}"#);
    assert_fits("stripe", &mangled, "compact with its keys sorted");
}

/// A request to the `plain` route with `stamp` in X-Ts, signed over `{stamp}.{body}`.
fn plain_signed(stamp: &str, body: &[u8]) -> Vec<u8> {
    let message = [stamp.as_bytes(), b".", body].concat();
    let signature = hmac_sha256_hex(NEW.as_bytes(), &message);
    let head = format!(
        "POST /hooks/plain HTTP/1.1\r\nHost: h\r\nX-Sig: {signature}\r\nX-Ts: {stamp}\r\nContent-Length: {}\r\n\r\n",
        body.len()
    );
    [head.as_bytes(), body].concat()
}

fn unix_now() -> std::time::Duration {
    SystemTime::now().duration_since(UNIX_EPOCH).expect("clock")
}

#[test]
fn a_timestamp_in_milliseconds_where_seconds_are_expected_is_named() {
    let request = plain_signed(&unix_now().as_millis().to_string(), b"{}");
    assert_fits(
        "plain",
        &request,
        "milliseconds where this scheme expects seconds",
    );
}

#[test]
fn a_stale_timestamp_on_a_good_signature_is_named_with_its_age() {
    let stamp = (unix_now().as_secs() - 1000).to_string();
    let request = plain_signed(&stamp, b"{}");
    let (code, out) = explain("plain", &request);
    assert_eq!(code, 1, "{out}");
    assert!(out.contains("reason: stale_timestamp"), "{out}");
    assert!(out.contains("tolerance ±300 s"), "{out}");
    assert_fits(
        "plain",
        &request,
        "the signature matches but the timestamp is 10",
    );
}

#[test]
fn a_request_file_path_is_read_like_standard_input() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, request) = (dir.path().join("c.yaml"), dir.path().join("r.http"));
    std::fs::write(&config, CONFIG).expect("write config");
    std::fs::write(&request, stripe_signed(b"{}")).expect("write request");
    let (config, request) = (config.display().to_string(), request.display().to_string());
    let output = run(
        &[
            "explain", "--config", &config, "--route", "stripe", &request,
        ],
        b"",
    );
    assert!(output.status.success(), "{}", text(&output.stdout));
}
#[test]
fn a_public_url_differing_in_scheme_host_port_or_slash_is_named() {
    let body = b"{\"id\":\"evt_6\"}";
    for (url, part) in [
        ("http://hooks.example.com/hooks/square", "scheme"),
        ("https://hooks.example.com:8443/hooks/square", "port"),
        ("https://other.example.com/hooks/square", "host"),
        ("https://hooks.example.com/hooks/square/", "trailing slash"),
    ] {
        let request = signed("square", url, body);
        assert_fits("square", &request, &format!("(they differ in {part})"));
        assert_fits("square", &request, &format!("signed the URL {url}"));
    }
}

#[test]
fn a_request_that_fits_no_mistake_says_so() {
    let request = stripe_signed(b"{\"id\":\"evt_7\"}");
    let mangled = with_body(&request, b"{\"id\":\"evt_X\"}");
    assert_fits("stripe", &mangled, "none of the usual mistakes");
}

#[test]
fn a_request_file_that_does_not_parse_or_a_missing_route_is_a_usage_error() {
    let (code, _) = explain("stripe", b"this is not a request\r\n\r\n");
    assert_eq!(code, 2);
    let (code, _) = explain(
        "stripe",
        b"POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nshort",
    );
    assert_eq!(code, 2);
    let (code, _) = explain("nope", &stripe_signed(b"{}"));
    assert_eq!(code, 2);
}

#[test]
fn a_path_the_proxy_would_route_elsewhere_is_noted() {
    let request = stripe_signed(b"{}");
    let moved = text(&request).replacen("POST /hooks/stripe", "POST /hooks/square", 1);
    let (_, out) = explain("stripe", moved.as_bytes());
    assert!(
        out.contains("note: hookguard would route /hooks/square to route square, not stripe"),
        "{out}"
    );
}
