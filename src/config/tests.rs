//! Unit tests of loading: defaults, explicit values, route options, secrets and refusals.

use std::time::SystemTime;

use super::raw::RawSize;
use super::route::secret_window_warnings;
use super::values::parse_size;
use super::*;
use crate::verify::{presets, Secret, TimeUnit};

fn no_env(_: &str) -> Option<String> {
    None
}

fn load(yaml: &str) -> Result<Config, ConfigError> {
    Config::from_yaml(yaml, |name| {
        (name == "SECRET_VAR").then(|| "from-env".to_string())
    })
}

fn error_text(yaml: &str) -> String {
    load(yaml)
        .expect_err("config should be refused")
        .to_string()
}

const MINIMAL: &str = "
upstream: http://127.0.0.1:3000
routes:
  - path: /webhooks/drivewidget
    provider: drivewidget
    secrets: [{env: SECRET_VAR}]
";

#[test]
fn defaults_fill_in() {
    let config = load(MINIMAL).expect("valid");
    assert_eq!(config.listen, "0.0.0.0:8080".parse().expect("addr"));
    assert_eq!(config.unmatched, Unmatched::Reject);
    assert_eq!(config.max_body, 1024 * 1024);
    let route = &config.routes[0];
    assert_eq!(route.name, "/webhooks/drivewidget");
    assert_eq!(route.methods, vec![Method::POST]);
    assert_eq!(route.upstream.to_string(), "http://127.0.0.1:3000");
    assert_eq!(route.max_body, 1024 * 1024);
    assert!(config.warnings.is_empty(), "{:?}", config.warnings);
    assert_eq!(config.admin, None);
    assert_eq!(config.admin_recent, 1000);
    assert_eq!(config.shutdown_grace, Duration::from_secs(20));
    assert_eq!(config.log_format, LogFormat::Text);
    assert!(config.tls.is_none());
}

#[test]
fn explicit_values_are_taken() {
    let config = load(
        "
listen: 127.0.0.1:9000
upstream: http://app:3000/
unmatched: forward
limits: {max_body: 64KiB}
routes:
  - path: /webhooks/custom
    name: custom
    verify: {hmac: {header: X-Custom-Sig, algorithm: sha512, encoding: base64, prefix: 'v1='}}
    secrets: [{value: literal}]
    methods: [POST, PUT]
    upstream: http://other:8000
    max_body: 2048
  - path: /webhooks/files
    verify: {query_token: {param: token}}
    secrets: [{env: SECRET_VAR}]
",
    )
    .expect("valid");
    assert_eq!(config.unmatched, Unmatched::Forward);
    assert_eq!(config.max_body, 64 * 1024);
    let custom = &config.routes[0];
    assert_eq!(custom.methods, vec![Method::POST, Method::PUT]);
    assert_eq!(custom.upstream.to_string(), "http://other:8000");
    assert_eq!(custom.max_body, 2048);
    assert_eq!(custom.scheme_label, "hmac-sha512 base64 on x-custom-sig");
    let files = &config.routes[1];
    assert_eq!(files.methods, vec![Method::GET]);
    assert_eq!(files.max_body, 64 * 1024);
    let literal: Vec<&String> = config
        .warnings
        .iter()
        .filter(|w| w.contains("literal"))
        .collect();
    assert_eq!(literal.len(), 1);
    assert!(literal[0].contains("custom"), "{:?}", config.warnings);
    assert!(
        config
            .warnings
            .iter()
            .any(|w| w.contains("http://app:3000") && w.contains("loopback")),
        "a non-loopback upstream is worth a warning: {:?}",
        config.warnings
    );
}

#[test]
fn route_options_reach_the_route() {
    let config = load(
            "
upstream: http://127.0.0.1:3000
routes:
  - path: /stripe
    provider: stripe
    tolerance: 60
    events: [invoice.paid]
    enforce: false
    secrets: [{env: SECRET_VAR, not_after: 2030-01-01T00:00:00Z}]
  - path: /twilio
    provider: twilio
    public_url: https://hooks.example.com/twilio
    secrets: [{env: SECRET_VAR}]
  - path: /custom
    verify: {hmac: {header: X-Sig, template: 'v1:{timestamp}:{body}', timestamp_header: X-Ts, timestamp_unit: ms}}
    secrets: [{env: SECRET_VAR}]
  - path: /token
    verify: {header_token: {header: X-Token}}
    secrets: [{env: SECRET_VAR}]
",
        )
        .expect("valid");
    let stripe = &config.routes[0];
    assert!(!stripe.enforce);
    assert_eq!(stripe.events, Some(vec!["invoice.paid".to_string()]));
    let Verifier::Signature(verifier) = &stripe.verifier else {
        panic!("signature route expected");
    };
    let rule = verifier
        .scheme()
        .timestamp
        .as_ref()
        .expect("timestamp rule");
    assert_eq!(rule.tolerance, Some(Duration::from_secs(60)));
    assert_eq!(
        config.routes[1].public_url.as_deref(),
        Some("https://hooks.example.com/twilio")
    );
    let Verifier::Signature(custom) = &config.routes[2].verifier else {
        panic!("signature route expected");
    };
    assert_eq!(
        custom.scheme().timestamp.as_ref().map(|t| t.unit),
        Some(TimeUnit::Millis)
    );
    assert!(matches!(config.routes[3].verifier, Verifier::Token(_)));
    assert_eq!(config.routes[3].methods, vec![Method::POST]);
}

#[test]
fn secret_files_lose_their_trailing_newline() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("secret");
    std::fs::write(&path, "abc\n").expect("write");
    let yaml = MINIMAL.replace(
        "{env: SECRET_VAR}",
        &format!("{{file: {}}}", path.display()),
    );
    let config = load(&yaml).expect("valid");
    let preset = presets::find("drivewidget").expect("preset");
    let outgoing = presets::Outgoing {
        method: Method::POST,
        body: b"x",
        url: None,
        content_type: None,
        now: std::time::SystemTime::now(),
    };
    let signed = preset.sign(&Secret::new("abc"), &outgoing).expect("sign");
    let mut headers = http::HeaderMap::new();
    headers.insert(
        "x-drivewidget-signature",
        signed[0].1.parse().expect("value"),
    );
    let view = crate::verify::RequestView {
        method: &Method::POST,
        headers: &headers,
        query: None,
        body: &crate::body::RawBody::from(&b"x"[..]),
        public_url: None,
        now: outgoing.now,
    };
    assert_eq!(config.routes[0].verifier.verify(&view), Ok(()));
}

#[test]
fn refusals_name_the_route_and_the_key() {
    let cases: Vec<(String, &[&str])> = vec![
            (MINIMAL.replace("    provider: drivewidget\n", "    provider: drivewidget\n    allow_ipz: []\n"), &["routes[0]", "allow_ipz"]),
            (MINIMAL.replace("drivewidget\n    secrets", "nosuch\n    secrets"), &["routes[0]", "provider", "nosuch"]),
            (MINIMAL.replace("SECRET_VAR", "MISSING_VAR"), &["/webhooks/drivewidget", "secrets[0]", "MISSING_VAR"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{file: /nonexistent/secret}"), &["secrets[0]", "/nonexistent/secret"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{value: ''}"), &["secrets[0]", "empty"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{env: SECRET_VAR, value: x}"), &["secrets[0]", "exactly one"]),
            (MINIMAL.replace("secrets: [{env: SECRET_VAR}]", "secrets: []"), &["secrets", "at least one"]),
            (MINIMAL.replace("upstream: http://127.0.0.1:3000", "upstream: ftp://x"), &["top level", "upstream"]),
            (format!("admin: nowhere\n{MINIMAL}"), &["top level", "admin"]),
            (format!("admin_recent: 0\n{MINIMAL}"), &["top level", "admin_recent"]),
            (format!("admin_recent: 100001\n{MINIMAL}"), &["admin_recent", "100000"]),
            (format!("shutdown_grace: soon\n{MINIMAL}"), &["shutdown_grace", "duration"]),
            (format!("log: {{format: xml}}\n{MINIMAL}"), &["log", "xml"]),
            (format!("log: {{level: 'not a level!!'}}\n{MINIMAL}"), &["log.level"]),
            (format!("tls: {{cert: /nonexistent/cert.pem, key: /nonexistent/key.pem}}\n{MINIMAL}"), &["tls", "/nonexistent/cert.pem"]),
            (format!("upstream_ca: /nonexistent/ca.pem\n{MINIMAL}"), &["upstream_ca", "/nonexistent/ca.pem"]),
            (format!("{MINIMAL}limits: {{header_timeout: soon}}\n"), &["limits.header_timeout"]),
            (format!("{MINIMAL}limits: {{request_timeout: 5s}}\n"), &["request_timeout"]),
            (format!("{MINIMAL}limits: {{body_timeout: 0s}}\n"), &["limits.body_timeout", "zero"]),
            (format!("{MINIMAL}limits: {{upstream_timeout: later}}\n"), &["limits.upstream_timeout", "duration"]),
            (format!("{MINIMAL}limits: {{max_connections: 0}}\n"), &["limits.max_connections"]),
            (format!("{MINIMAL}    allow_ips: [192.0.2.1/24]\n"), &["allow_ips", "192.0.2.0/24"]),
            (format!("{MINIMAL}    allow_ips: []\n"), &["allow_ips", "empty"]),
            (format!("{MINIMAL}    rate_limit: {{per_second: 0}}\n"), &["rate_limit.per_second"]),
            (format!("trusted_proxies: [nope]\n{MINIMAL}"), &["trusted_proxies", "nope"]),
            (format!("dedup: {{store: memcached}}\n{MINIMAL}"), &["dedup.store", "memcached"]),
            (format!("dedup: {{store: 'redis://x', max_entries: 5}}\n{MINIMAL}"), &["dedup.max_entries"]),
            (format!("{MINIMAL}    dedup: {{ttl: forever}}\n"), &["dedup.ttl"]),
            (MINIMAL.replace("upstream: http://127.0.0.1:3000\n", ""), &["upstream", "required"]),
            (MINIMAL.replace("path: /webhooks/drivewidget", "path: /a/../b"), &["path", "canonical"]),
            (format!("{MINIMAL}    methods: [post]\n"), &["methods", "upper-case"]),
            (format!("{MINIMAL}    max_body: 1MB\n"), &["max_body", "KiB"]),
            (format!("{MINIMAL}    verify: {{query_token: {{param: t}}}}\n"), &["provider", "not both"]),
            (format!("{MINIMAL}  - path: /webhooks/drivewidget\n    name: second\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["second", "path", "already"]),
            (format!("{MINIMAL}  - path: /webhooks/drivewidget\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["routes[1]", "`path`", "already has this path"]),
            (format!("{MINIMAL}  - path: /other\n    name: /webhooks/drivewidget\n    provider: filedgr\n    secrets: [{{env: SECRET_VAR}}]\n"), &["routes[1]", "name", "already"]),
            ("upstream: http://x\nroutes: []\n".to_string(), &["routes", "at least one"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, algorithm: md5}}"), &["verify.hmac.algorithm", "md5"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {}"), &["verify", "exactly one"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {jwt: {}}"), &["verify", "jwt"]),
            (MINIMAL.replace("provider: drivewidget", "provider: drivewidget\n    name: \"caf\u{e9}\""), &["name", "printable"]),
            (format!("{MINIMAL}tls: {{cert: a, key: b}}\n"), &["tls"]),
            (format!("{MINIMAL}    tolerance: 60\n"), &["tolerance", "no timestamp"]),
            (MINIMAL.replace("provider: drivewidget", "provider: twilio"), &["public_url", "required"]),
            (format!("{MINIMAL}    public_url: https://x.test/a\n"), &["public_url", "does not sign"]),
            (MINIMAL.replace("provider: drivewidget", "provider: twilio\n    public_url: https://x.test/a?b=1"), &["public_url", "without a query"]),
            (MINIMAL.replace("provider: drivewidget", "provider: x-signature\n    events: [a]"), &["events", "event type"]),
            (format!("{MINIMAL}    events: []\n"), &["events", "at least one"]),
            (MINIMAL.replace("{env: SECRET_VAR}", "{env: SECRET_VAR, not_after: tomorrow}"), &["secrets[0].not_after", "RFC 3339"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, template: '{timestamp}.{body}'}}"), &["timestamp_header", "{timestamp}"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {hmac: {header: X-S, template: '{nope}'}}"), &["verify.hmac.template", "nope"]),
            (MINIMAL.replace("provider: drivewidget", "provider: discord"), &["secrets[0]", "Ed25519"]),
            (MINIMAL.replace("provider: drivewidget", "provider: svix").replace("{env: SECRET_VAR}", "{value: 'whsec_!!'}"), &["secrets[0]", "whsec_"]),
            (format!("{MINIMAL}    enforce: maybe\n"), &["enforce"]),
            (MINIMAL.replace("provider: drivewidget", "provider: meta"), &["verify_token", "required"]),
            (format!("{MINIMAL}    verify_token: {{value: t}}\n"), &["verify_token", "no hub.verify_token"]),
            (MINIMAL.replace("provider: drivewidget", "provider: meta\n    verify_token: {value: t, not_after: 2030-01-01T00:00:00Z}"), &["verify_token.not_after"]),
            (MINIMAL.replace("provider: drivewidget", "provider: meta\n    verify_token: {env: NOPE}"), &["verify_token", "NOPE"]),
            (MINIMAL.replace("provider: drivewidget", "provider: postmark").replace("{env: SECRET_VAR}", "{value: no-colon}"), &["secrets[0]", "user:pass"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {basic_auth: {realm: x}}"), &["realm"]),
            (MINIMAL.replace("provider: drivewidget", "verify: {basic_auth: {}}\n    tolerance: 5"), &["tolerance"]),
        ];
    for (yaml, needles) in cases {
        let text = error_text(&yaml);
        for needle in needles {
            assert!(text.contains(needle), "{text:?} should mention {needle:?}");
        }
    }
    assert!(Config::from_yaml(MINIMAL, no_env).is_err());
}

#[test]
fn secrets_past_not_after_are_warned_about() {
    let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000_000);
    let day = Duration::from_secs(24 * 3600);
    let warn = |ends: &[Option<SystemTime>]| secret_window_warnings("route", ends, now);
    assert!(warn(&[None]).is_empty());
    assert!(warn(&[Some(now + 30 * day)]).is_empty());
    let none_active = warn(&[Some(now - day), Some(now - 2 * day)]);
    assert_eq!(none_active.len(), 1, "{none_active:?}");
    assert!(none_active[0].contains("no active secret"));
    let soon = warn(&[Some(now + day)]);
    assert!(soon[0].contains("stops matching by"), "{soon:?}");
    let one_retired = warn(&[None, Some(now - day)]);
    assert_eq!(one_retired.len(), 1);
    assert!(
        one_retired[0].contains("secrets[1] is past"),
        "{one_retired:?}"
    );
}

#[test]
fn one_line_ending_is_trimmed_from_a_secret() {
    for (stored, secret) in [
        ("abc", "abc"),
        ("abc\n", "abc"),
        ("abc\r\n", "abc"),
        ("abc\n\n", "abc\n"),
        ("abc\r", "abc\r"),
        ("\n", ""),
    ] {
        assert_eq!(
            without_line_ending(stored.as_bytes().to_vec()),
            secret.as_bytes(),
            "{stored:?}"
        );
    }
}

#[test]
fn sizes_parse() {
    let ok = [
        ("1024", 1024),
        ("1KiB", 1024),
        ("5MiB", 5 << 20),
        ("1GiB", 1 << 30),
        ("7B", 7),
    ];
    for (text, expected) in ok {
        assert_eq!(
            parse_size(&RawSize::Text(text.into())),
            Ok(expected),
            "{text}"
        );
    }
    for bad in ["", "MiB", "1.5MiB", "1mb", "-1", "99999999999999999999GiB"] {
        assert!(parse_size(&RawSize::Text(bad.into())).is_err(), "{bad}");
    }
    assert_eq!(parse_size(&RawSize::Bytes(3)), Ok(3));
}

#[test]
fn credentials_in_a_url_are_refused_without_being_echoed() {
    for yaml in [
        MINIMAL.replace(
            "upstream: http://127.0.0.1:3000",
            "upstream: http://app:hunter2pw@127.0.0.1:3000",
        ),
        MINIMAL.replace(
            "    secrets: [{env: SECRET_VAR}]",
            "    secrets: [{env: SECRET_VAR}]\n    upstream: http://app:hunter2pw@127.0.0.1:3000/x",
        ),
        format!("dedup: {{store: 'rediss://app:hunter2pw@redis:6379/0'}}\n{MINIMAL}"),
        format!("dedup: {{store: 'redis://app:hunter2pw@[bad'}}\n{MINIMAL}"),
    ] {
        let text = error_text(&yaml);
        assert!(!text.contains("hunter2pw"), "{text}");
    }
}

const QUEUE_ROUTE: &str = "
upstream: http://127.0.0.1:3000
spool: {store: /var/lib/hookguard/spool}
routes:
  - path: /q
    name: q
    provider: drivewidget
    secrets: [{env: SECRET_VAR}]
    delivery: {mode: queue}
";

#[test]
fn queue_defaults_follow_the_contract() {
    let config = load(QUEUE_ROUTE).expect("valid");
    let spool = config.spool.as_ref().expect("spool");
    assert_eq!(
        spool.location,
        SpoolLocation::Directory("/var/lib/hookguard/spool".into())
    );
    assert_eq!(spool.max_bytes, 1 << 30);
    assert_eq!(spool.dead_letter_retention, Duration::from_secs(14 * 86400));
    let DeliveryMode::Queue(policy) = &config.routes[0].delivery else {
        panic!("queue mode");
    };
    let waits: Vec<u64> = policy.retry.iter().map(Duration::as_secs).collect();
    assert_eq!(waits, [10, 60, 300, 900, 3600, 10800, 21600]);
    assert_eq!(policy.max_age, Duration::from_secs(72 * 3600));
    assert_eq!(policy.concurrency, 4);
    assert_eq!(
        policy.attempt_timeout,
        Duration::from_secs(30),
        "upstream_timeout"
    );
    assert_eq!(policy.wait_after(1), Duration::from_secs(10));
    assert_eq!(policy.wait_after(7), Duration::from_secs(21600));
    assert_eq!(
        policy.wait_after(50),
        Duration::from_secs(21600),
        "the last repeats"
    );
    assert_eq!(
        load(MINIMAL).expect("valid").routes[0].delivery,
        DeliveryMode::Direct
    );
}

#[test]
fn queue_settings_are_taken_and_redis_urls_never_shown() {
    let yaml = QUEUE_ROUTE
        .replace(
            "spool: {store: /var/lib/hookguard/spool}",
            "spool: {store: \"redis://:hunter2@redis:6379/1\", max_bytes: 2GiB, dead_letter_retention: 2d}",
        )
        .replace(
            "delivery: {mode: queue}",
            "delivery: {mode: queue, retry: [1s, 90s], max_age: 1h, concurrency: 9, attempt_timeout: 5s}",
        );
    let config = load(&yaml).expect("valid");
    let spool = config.spool.as_ref().expect("spool");
    assert_eq!(spool.max_bytes, 2 << 30);
    assert_eq!(spool.dead_letter_retention, Duration::from_secs(2 * 86400));
    assert!(!spool.shown_location().contains("hunter2"));
    let DeliveryMode::Queue(policy) = &config.routes[0].delivery else {
        panic!("queue mode");
    };
    assert_eq!(
        policy.retry,
        [Duration::from_secs(1), Duration::from_secs(90)]
    );
    assert_eq!(policy.max_age, Duration::from_secs(3600));
    assert_eq!(policy.concurrency, 9);
    assert_eq!(policy.attempt_timeout, Duration::from_secs(5));
}

#[test]
fn doubtful_queue_configs_are_refused() {
    let cases = [
        (
            QUEUE_ROUTE.replace("spool: {store: /var/lib/hookguard/spool}\n", ""),
            "top-level `spool`",
        ),
        (
            QUEUE_ROUTE.replace(
                "delivery: {mode: queue}",
                "delivery: {mode: queue}\n    enforce: false",
            ),
            "shadow mode is direct only",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: later"),
            "neither direct nor queue",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: direct, retry: [1s]"),
            "only to mode: queue",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: queue, retry: []"),
            "at least one wait",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: queue, retry: [0s]"),
            "longer than zero",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: queue, concurrency: 0"),
            "between 1 and 1024",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: queue, max_age: soon"),
            "delivery.max_age",
        ),
        (
            QUEUE_ROUTE.replace("mode: queue", "mode: queue, spare: 1"),
            "unknown field",
        ),
        (
            QUEUE_ROUTE.replace("/var/lib/hookguard/spool", "spool-here"),
            "absolute directory",
        ),
        (
            QUEUE_ROUTE.replace(
                "store: /var/lib/hookguard/spool",
                "store: /s, max_bytes: 1MiB",
            ) + "    max_body: 2MiB\n",
            "exceeds spool.max_bytes",
        ),
        (
            QUEUE_ROUTE.replace("/var/lib/hookguard/spool", "\"s3://bucket\""),
            "neither a directory",
        ),
        (
            QUEUE_ROUTE.replace(
                "store: /var/lib/hookguard/spool",
                "store: /s, max_bytes: 1KiB",
            ),
            "at least 1MiB",
        ),
        (
            QUEUE_ROUTE.replace(
                "store: /var/lib/hookguard/spool",
                "store: /s, dead_letter_retention: 0s",
            ),
            "spool.dead_letter_retention",
        ),
    ];
    for (yaml, expected) in cases {
        let text = error_text(&yaml);
        assert!(text.contains(expected), "{expected:?} not in {text}");
    }
}

#[test]
fn the_admin_token_comes_from_env_or_file_and_must_be_long() {
    let token = |yaml_token: &str, env_value: &'static str| {
        let yaml = format!("{MINIMAL}admin_token: {yaml_token}\n");
        Config::from_yaml(&yaml, move |name| match name {
            "SECRET_VAR" => Some("from-env".into()),
            "TOKEN" => Some(env_value.into()),
            _ => None,
        })
    };
    let config = token("{env: TOKEN}", "0123456789abcdef-long\n").expect("valid");
    assert_eq!(
        config.admin_token.expect("token").expose(),
        b"0123456789abcdef-long"
    );
    let short = token("{env: TOKEN}", "short")
        .expect_err("refused")
        .to_string();
    assert!(
        short.contains("at least 16 bytes") && !short.contains("short\""),
        "{short}"
    );
    let unset = token("{env: NOT_SET}", "")
        .expect_err("refused")
        .to_string();
    assert!(unset.contains("NOT_SET is not set"), "{unset}");
    let literal = token("{value: x}", "").expect_err("refused").to_string();
    assert!(literal.contains("unknown field"), "{literal}");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("token");
    std::fs::write(&path, "from-a-file-0123456789\n").expect("write");
    let config = token(&format!("{{file: {}}}", path.display()), "").expect("valid");
    assert_eq!(
        config.admin_token.expect("token").expose(),
        b"from-a-file-0123456789"
    );
    assert!(
        config.watched_files.contains(&path),
        "rotation is picked up"
    );
}

#[test]
fn admin_recent_takes_effect_only_on_restart() {
    let live = super::LiveConfig::new(load(MINIMAL).expect("valid"));
    let resized = load(&format!("admin_recent: 10\n{MINIMAL}")).expect("valid");
    assert_eq!(resized.admin_recent, 10);
    assert_eq!(
        live.replace(resized).err(),
        Some(super::RestartOnly::AdminRecent)
    );
    assert!(live.replace(load(MINIMAL).expect("valid")).is_ok());
}

#[test]
fn workers_and_upstream_idle_are_bounded_and_take_effect_only_on_restart() {
    let defaults = load(MINIMAL).expect("valid");
    assert_eq!(defaults.workers, None);
    assert!(defaults.worker_count() >= 1);
    assert_eq!(defaults.limits.upstream_idle_per_worker, 256);
    let set = load(&format!(
        "workers: 2\nlimits: {{upstream_idle_per_worker: 0}}\n{MINIMAL}"
    ))
    .expect("valid");
    assert_eq!((set.workers, set.worker_count()), (Some(2), 2));
    assert_eq!(set.limits.upstream_idle_per_worker, 0);
    for (yaml, key) in [
        ("workers: 0", "key `workers`: must be from 1 to 1024"),
        ("workers: 1025", "key `workers`: must be from 1 to 1024"),
        (
            "limits: {upstream_idle_per_worker: 70000}",
            "key `limits.upstream_idle_per_worker`: must be from 0 to 65536",
        ),
    ] {
        let text = error_text(&format!("{yaml}\n{MINIMAL}"));
        assert!(text.contains(key), "{yaml}: {text}");
    }
    assert!(error_text(&format!("workers: -1\n{MINIMAL}")).contains("workers"));
    let live = super::LiveConfig::new(load(MINIMAL).expect("valid"));
    let more_workers = load(&format!("workers: 3\n{MINIMAL}")).expect("valid");
    assert_eq!(
        live.replace(more_workers).err(),
        Some(super::RestartOnly::Workers)
    );
    let fewer_idle = load(&format!(
        "limits: {{upstream_idle_per_worker: 8}}\n{MINIMAL}"
    ))
    .expect("valid");
    assert_eq!(
        live.replace(fewer_idle).err(),
        Some(super::RestartOnly::UpstreamIdle)
    );
}

#[test]
fn unknown_keys_and_values_name_the_nearest_known_one() {
    let key = error_text(&MINIMAL.replace("upstream:", "upstrem:"));
    assert!(key.contains("unknown field `upstrem`"), "{key}");
    assert!(key.contains("did you mean `upstream`?"), "{key}");
    let value = error_text(&format!("log: {{format: jsn}}\n{MINIMAL}"));
    assert!(value.contains("did you mean `json`?"), "{value}");
    let preset = error_text(&MINIMAL.replace("drivewidget\n", "drivewidgit\n"));
    assert!(preset.contains("did you mean \"drivewidget\"?"), "{preset}");
}

#[test]
fn a_meta_route_holds_its_verify_token_and_a_basic_auth_route_its_logins() {
    let yaml = MINIMAL.replace(
        "provider: drivewidget",
        "provider: meta\n    verify_token: {env: VT}",
    )
        + "  - path: /legacy\n    verify: {basic_auth: {}}\n    secrets: [{value: 'user:pa:ss'}]\n";
    let env = |name: &str| match name {
        "SECRET_VAR" => Some("s".to_string()),
        "VT" => Some("token\n".to_string()),
        _ => None,
    };
    let config = Config::from_yaml(&yaml, env).expect("loads");
    let meta = &config.routes[0];
    assert_eq!(
        meta.handshake,
        crate::verify::handshake::Handshake::HubChallenge
    );
    assert_eq!(
        format!("{:?}", meta.verify_token),
        "Some(VerifyToken(redacted))"
    );
    assert!(config.routes[1].verifier.is_basic_auth());
    assert_eq!(config.routes[1].methods, vec![http::Method::POST]);
}
