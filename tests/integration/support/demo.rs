//! The two-route demo config (DriveWidget and the GET-token file host) that several test modules
//! share, and its signer.

use super::{hmac_sha256_hex, App};

pub const SECRET: &str = "answers-test-secret-7f3a";

pub fn config(app: &App, extra_top: &str) -> String {
    format!(
        "listen: 127.0.0.1:0
upstream: {url}
{extra_top}
routes:
  - path: /webhooks/drivewidget
    name: drivewidget
    provider: drivewidget
    secrets: [{{value: {SECRET}}}]
    max_body: 1KiB
  - path: /webhooks/files
    name: files
    verify: {{query_token: {{param: token}}}}
    secrets: [{{value: {SECRET}}}]
",
        url = app.url()
    )
}

pub fn signed(body: &[u8]) -> Vec<(String, String)> {
    vec![(
        "X-DriveWidget-Signature".to_string(),
        format!("sha256={}", hmac_sha256_hex(SECRET.as_bytes(), body)),
    )]
}
