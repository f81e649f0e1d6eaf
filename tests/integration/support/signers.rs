//! Signing as the senders do, computed independently of hookguard's own code, and the one-route
//! GitHub config the signatures are checked against.

use super::*;

/// A config with one GitHub-signed route at `/gh` in front of `app`; `top` adds top-level keys and
/// `route` adds keys to the route (indented four spaces).
pub fn github_config(app: &App, secret: &str, top: &str, route: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: {}\n{top}\nroutes:\n  - path: /gh\n    provider: github\n    secrets: [{{value: {secret}}}]\n{route}\n",
        app.url()
    )
}

/// The header GitHub would send for `body`, plus any `extra` headers.
pub fn github_headers(secret: &str, body: &[u8], extra: &[(&str, &str)]) -> Vec<(String, String)> {
    let mut headers = vec![(
        "X-Hub-Signature-256".to_string(),
        format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body)),
    )];
    headers.extend(extra.iter().map(|(n, v)| (n.to_string(), v.to_string())));
    headers
}

/// HMAC-SHA256 in hex, computed here independently of hookguard's own code.
pub fn hmac_sha256_hex(secret: &[u8], body: &[u8]) -> String {
    use hmac::{Hmac, Mac};
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(secret).expect("hmac key");
    mac.update(body);
    hex::encode(mac.finalize().into_bytes())
}

/// A vector's header list, `[["Name", "value"], ...]` in the JSON fixtures, as pairs.
pub fn header_pairs(list: &serde_json::Value) -> Vec<(String, String)> {
    list.as_array()
        .expect("headers")
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().expect("name").to_string(),
                pair[1].as_str().expect("value").to_string(),
            )
        })
        .collect()
}
