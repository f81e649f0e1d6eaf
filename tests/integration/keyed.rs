//! The keyed family through the running binary: an RSA preset (Bridge, signed here at test time as
//! its timestamp must be fresh) and JWT routes (HS256 and RS256) accept what their sender sends and
//! refuse a tampered body, a wrong key and an expired token.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use jsonwebtoken::{encode, Algorithm, EncodingKey, Header};
use rsa::pkcs1::EncodeRsaPrivateKey as _;
use rsa::pkcs8::{DecodePrivateKey as _, EncodePublicKey as _};
use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use crate::support::{http1_request, send_raw, App, Hookguard, APP_STATUS};

/// A 2048-bit RSA key made for these tests only; it signs nothing anywhere else.
const TEST_KEY: &str = "-----BEGIN PRIVATE KEY-----\nMIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDD6jeyjTaqPlgo\nD1NJtMu1wp4bALwTQByP++mQOKRdLCal34/YGB1EH+Ot3R26N5PZE3t1pAOx4YuO\nC/UA839l/EWHMMCogIV8TiDUlYGyZkjzZLZJMxQPKqAOyoLyrJDEAcy3pJ4//URT\ngzf0cGf0vjA9M+C6mzWFLkbVRC1pndtA0mfdchUcJ4jJzKFrwiU90SXe5dLMFwnc\ns9zi+NMbgJXsd88QYOlrjXSe+WnqvE2ejZc66rLohBJ/LT4yeuHIFjRaa3b1DsiI\n9qA1TTTQIOzgSj3Q93mWr4t0tWHhIpSgTOtm0/V/2f920Ufvmd+4bibvhIiZ/KEr\n4AdXpiKfAgMBAAECggEAGslMyTheh4NTqVKDGDpEefr8hAOjM1yaKyONyR69dlHB\njP9WmvydD8HubsijNmE/8TelMy30JV+JpafD3VftjMOju/qx9LfxyE+kVHyGiZ5L\njh+wfqyhqvswfCU7JzPp7Sqz004KJwSZUXPI9D5kMEXKsauEp+7tr+JmY+VY8i4Z\n/IzyFaFsNUpOeQlWA169vkXGUUcKNqgjYzeceMQHw9p8cBNX7cBm/Xy6kYSH3CXS\nUVOjfj+GWRnA50k3X/2JW2gw9ht5AleA8wpUg385PAH++jigt586QAeqrzpyNFJF\nEYn2hgrTGfIF4nCTpCAi/DY/uFpLaoFIziWkkS6LnQKBgQD6PYSN0hUtD6Wo2C0D\n06sRrBAZKIVWkbsvpKgZiIK+s9S9L6bHElOThQaFGEa72N7fztOBrPv6kXAYVGsa\nhe+Hd3Rfaq0d49mwmJcWNRRYbzdBFLvagjrcwR/n8H6qLf2NpVUhCPwj0DKYwMH/\nR/WVRsA92gA3mrhjOW9I/udG2wKBgQDIbJmkxhSzZyFjDifrvbHvnSN/rQnj7ku8\n3hgHSBrl8H/TlDX0O8+EjuWr7+r3Ta9cb84PRbUbM9WQ+MWicl1JzZ+xW8hCIYU5\nPGAQ6Z3ZPlnZ1/AvKRVTXAqrKXGSx6iUiPkwShARqRudJu0KYZD5c/GmyOuz9Fjf\n9EjeQ6EUjQKBgQCDX2SFp/MiEwLfX45SYf9/aZuR+an2xs9EtebicL5jK7nWEHw4\nKrDh04aWvSX1XGe1i7mSbKRk6ZG11CveYs5biiT4KuLzvDj+8zzulbM2sjyJ2D6+\n+nu4hVMgyytUYIyqnk/Q5gypKJZHh3rRcI/HbLtkPVy71GhU/0QjSF9W3QKBgFk1\n1bG9JWuxZPAFVgmddv0z0aA78mINKJMZvFJJawecZBlWKCndEYJsZJiCgvCvGHYp\noeu0WGeSS+ZqhPXIt/No3kMAmoOtDfKrCAufIM6Y7T+E2Xj0bXScTHdhTBdMXaI3\n0csHvF1QC2WI9Qug3/nY/OADIL8J7SFKR8D/E0zlAoGBAM/DMqlithOP2yycgFwj\nIIn9q1xIiszscoWhEufW2ZdNrUZJrTeinr4mbtUt2juHsDIy+FtL1HuLSdBIC2LP\nT1eS8zls2ZvlUIcdjc3mKAOL+bxVP+pVHFTHz6dohTjVO7Xz47U89wMd1x7JNef+\nuQN16SI58gmE3DGwHMjXbAKQ\n-----END PRIVATE KEY-----";

/// Bridge's published test key: a valid RSA key that did not sign these deliveries.
const OTHER_PUBLIC_KEY: &str = "-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtqsEE4eI7EmzhcquGJXt\nLX9PMK0UH6Kl1WIR21sv8HtueG8BuvvpP3MiN7ltzmIhS8KaynCjN4l+620PnXeu\nxWG+CSnEdkinL9hCqbEid5vv9zl0j9LWiJx3FkKHqADU7cgm46aa8dKUdIQYF2X+\nO7WmyLkC4wUM/mWhBPMsIQBznashRMZxx7XJjsVp27ACUE4eNIjEXbVYN6U8jSbU\nhG++CfL8xXu+GHDqKmFE6Po6HnuURvLFVnCtE3mXXBcVFlPy+octfx8nOMLT3X8O\n9UehIigJ34o2yMm/Fq3HUJzg2BsiAiGgtr0vmeoV9Q7upSNj9TuOumAzZFi4pYA+\nqwIDAQAB\n-----END PUBLIC KEY-----\n";

const HMAC_SECRET: &str = "fusionauth-hmac-secret-for-hookguard-tests";

fn private_key() -> rsa::RsaPrivateKey {
    rsa::RsaPrivateKey::from_pkcs8_pem(TEST_KEY).expect("test key")
}

fn public_pem() -> String {
    private_key()
        .to_public_key()
        .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
        .expect("pem")
}

fn now_secs() -> u64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .expect("clock")
        .as_secs()
}

/// Bridge's header for this body now: RSA-SHA256 over the SHA-256 of "{t}.{body}", t in ms.
fn bridge_header(body: &str) -> (String, String) {
    let ms = now_secs() * 1000;
    let digest = Sha256::digest(Sha256::digest(format!("{ms}.{body}")));
    let signature = private_key()
        .sign(rsa::Pkcs1v15Sign::new::<Sha256>(), &digest)
        .expect("sign");
    let value = format!(
        "t={ms},v0={}",
        base64::engine::general_purpose::STANDARD.encode(signature)
    );
    ("X-Webhook-Signature".to_string(), value)
}

fn body_hash(body: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(body))
}

fn token(algorithm: Algorithm, claims: &Value) -> (String, String) {
    let key = match algorithm {
        Algorithm::HS256 => EncodingKey::from_secret(HMAC_SECRET.as_bytes()),
        _ => EncodingKey::from_rsa_der(private_key().to_pkcs1_der().expect("der").as_bytes()),
    };
    let jwt = encode(&Header::new(algorithm), claims, &key).expect("token");
    ("X-FusionAuth-Signature-JWT".to_string(), jwt)
}

async fn status(proxy: &Hookguard, path: &str, header: &(String, String), body: &str) -> u16 {
    let request = http1_request("POST", path, std::slice::from_ref(header), body.as_bytes());
    send_raw(proxy.addr, &request).await.status
}

#[tokio::test]
async fn an_rsa_preset_accepts_its_sender_and_refuses_tampering_and_other_keys() {
    let app = App::start().await;
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [
            {"path": "/bridge", "provider": "bridge", "secrets": [{"value": public_pem()}]},
            {"path": "/other", "name": "other", "provider": "bridge", "secrets": [{"value": OTHER_PUBLIC_KEY}]},
        ],
    });
    let proxy = Hookguard::start(&config.to_string());
    let body = r#"{"event_type":"customer.created","event_id":"wh_1"}"#;
    let header = bridge_header(body);

    assert_eq!(status(&proxy, "/bridge", &header, body).await, APP_STATUS);
    let received = app.take();
    assert_eq!(received.len(), 1);
    assert_eq!(received[0].body.as_ref(), body.as_bytes());

    let tampered = body.replace("wh_1", "wh_2");
    assert_eq!(status(&proxy, "/bridge", &header, &tampered).await, 401);
    assert_eq!(status(&proxy, "/other", &header, body).await, 401);
    proxy.wait_for_logs("reason=signature_mismatch", 2);
    assert!(app.take().is_empty());
}

#[test]
fn a_rsa_key_under_2048_bits_is_refused_at_startup() {
    let short = rsa::RsaPublicKey::new(
        rsa::BigUint::from_bytes_be(&[0xc5; 128]),
        rsa::BigUint::from(65537u32),
    )
    .expect("1024-bit key")
    .to_public_key_pem(rsa::pkcs8::LineEnding::LF)
    .expect("pem");
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": "http://127.0.0.1:9",
        "routes": [{"path": "/bridge", "provider": "bridge", "secrets": [{"value": short}]}],
    });
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), config.to_string()).expect("write config");
    let output = std::process::Command::new(crate::support::binary())
        .args(["check", "--config"])
        .arg(file.path())
        .output()
        .expect("check");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(stderr.contains("1024 bits"), "{stderr}");
}

#[tokio::test]
async fn jwt_routes_accept_signed_body_hashes_and_refuse_mismatches_and_expired_tokens() {
    let app = App::start().await;
    let jwt = |algorithms: &[&str]| {
        json!({"header": "X-FusionAuth-Signature-JWT", "algorithms": algorithms,
               "body_hash_claim": "request_body_sha256", "body_hash_encoding": "base64"})
    };
    let config = json!({
        "listen": "127.0.0.1:0",
        "upstream": app.url(),
        "routes": [
            {"path": "/hs", "name": "hs", "verify": {"jwt": jwt(&["hs256"])}, "secrets": [{"value": HMAC_SECRET}]},
            {"path": "/rs", "name": "rs", "verify": {"jwt": jwt(&["rs256"])}, "secrets": [{"value": public_pem()}]},
            {"path": "/fusionauth", "provider": "fusionauth", "secrets": [{"value": public_pem()}]},
        ],
    });
    let proxy = Hookguard::start(&config.to_string());
    let body = r#"{"event":{"type":"user.create","id":"e-1"}}"#;
    let now = now_secs();
    for (path, algorithm) in [
        ("/hs", Algorithm::HS256),
        ("/rs", Algorithm::RS256),
        ("/fusionauth", Algorithm::RS256),
    ] {
        let good = token(
            algorithm,
            &json!({"request_body_sha256": body_hash(body), "iat": now, "exp": now + 300}),
        );
        assert_eq!(
            status(&proxy, path, &good, body).await,
            APP_STATUS,
            "{path}"
        );
        assert_eq!(app.take().len(), 1, "{path}");

        let tampered = body.replace("e-1", "e-2");
        assert_eq!(status(&proxy, path, &good, &tampered).await, 401, "{path}");
        let expired = token(
            algorithm,
            &json!({"request_body_sha256": body_hash(body), "exp": now - 600}),
        );
        assert_eq!(status(&proxy, path, &expired, body).await, 401, "{path}");
        assert!(app.take().is_empty(), "{path}");
    }
    proxy.wait_for_logs("reason=signature_mismatch", 3);
    proxy.wait_for_logs("reason=stale_timestamp", 3);
    // A token signed by another algorithm than the route's key is for is refused, not tried.
    let wrong_family = token(
        Algorithm::HS256,
        &json!({"request_body_sha256": body_hash(body)}),
    );
    assert_eq!(status(&proxy, "/rs", &wrong_family, body).await, 401);
    assert!(app.take().is_empty());
}

#[test]
fn sign_refuses_the_keyed_presets_as_it_does_ed25519() {
    for (preset, expected) in [
        ("bridge", "signs with the provider's private key"),
        ("fireblocks", "signs with the provider's private key"),
        ("discord", "signs with the provider's private key"),
        (
            "fusionauth",
            "sends a JWT signed with the provider's own key",
        ),
    ] {
        let file = tempfile::NamedTempFile::new().expect("temp file");
        std::fs::write(file.path(), b"{}").expect("body");
        let output = std::process::Command::new(crate::support::binary())
            .args([
                "sign",
                "--provider",
                preset,
                "--secret-env",
                "KEYED_SIGN_SECRET",
            ])
            .arg(file.path())
            .env("KEYED_SIGN_SECRET", public_pem())
            .output()
            .expect("sign");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{preset}");
        assert!(output.stdout.is_empty(), "{preset}");
        assert!(stderr.contains(expected), "{preset}: {stderr}");
    }
}
