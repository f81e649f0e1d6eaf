//! The command line: check, run's refusal of a bad config, providers and sign.

use std::process::Output;

use crate::support::demo::{config, SECRET};
use crate::support::{http1_request, run_binary, send_raw, App, Hookguard, APP_STATUS};

fn hookguard(args: &[&str], env: &[(&str, &str)], stdin: Option<&[u8]>) -> Output {
    run_binary(args, env, stdin.unwrap_or_default())
}

/// The one `Name: value` line `sign` printed, after it succeeded.
fn one_signed_header(output: Output) -> (String, String) {
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let line = String::from_utf8(output.stdout).expect("utf8");
    let (name, value) = line.trim().split_once(": ").expect("Name: value");
    (name.to_string(), value.to_string())
}

fn write_config(dir: &tempfile::TempDir, text: &str) -> String {
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, text).expect("write");
    path.display().to_string()
}

#[tokio::test]
async fn check_prints_the_routes_of_a_good_config() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(&dir, &config(&app, ""));
    let output = hookguard(&["check", "--config", &path], &[], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout} {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert!(
        stdout.contains("route \"drivewidget\": /webhooks/drivewidget"),
        "{stdout}"
    );
    assert!(stdout.contains("scheme: drivewidget"), "{stdout}");
    assert!(
        stdout.contains("route \"files\": /webhooks/files"),
        "{stdout}"
    );
    assert!(stdout.contains("ok: 2 route(s)"), "{stdout}");
    assert!(!stdout.contains(SECRET), "check never prints secrets");
    assert!(
        String::from_utf8_lossy(&output.stderr).contains("literal `value`"),
        "literal secrets warn"
    );
}

#[tokio::test]
async fn check_and_run_refuse_bad_configs_naming_route_and_key() {
    let app = App::start().await;
    let good = config(&app, "");
    let cases = [
        (
            good.replace("provider: drivewidget", "provider: drivewidgit"),
            vec!["drivewidget", "provider", "drivewidgit"],
        ),
        (
            good.replace("max_body: 1KiB", "max_body: lots"),
            vec!["drivewidget", "max_body"],
        ),
        (
            good.replace("max_body: 1KiB", "max_body: 1KiB\n    allow_ipz: []"),
            vec!["routes[0]", "allow_ipz"],
        ),
        (
            good.replace(
                &format!("{{value: {SECRET}}}]\n    max_body"),
                "{env: HOOKGUARD_TEST_UNSET_VAR}]\n    max_body",
            ),
            vec!["drivewidget", "secrets[0]", "HOOKGUARD_TEST_UNSET_VAR"],
        ),
        (
            good.replace("param: token", "param: ''"),
            vec!["files", "query_token.param"],
        ),
    ];
    for (yaml, needles) in cases {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write_config(&dir, &yaml);
        for command in ["check", "run"] {
            let output = hookguard(&[command, "--config", &path], &[], None);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(
                !output.status.success(),
                "{command} accepted a bad config: {yaml}"
            );
            for needle in &needles {
                assert!(
                    stderr.contains(needle),
                    "{command}: {stderr:?} should mention {needle:?}"
                );
            }
            assert!(
                !stderr.contains("listening"),
                "{command} must fail before binding"
            );
        }
    }
    let missing = hookguard(
        &["check", "--config", "/nonexistent/hookguard.yaml"],
        &[],
        None,
    );
    assert!(!missing.status.success());
    assert!(String::from_utf8_lossy(&missing.stderr).contains("/nonexistent/hookguard.yaml"));
}

#[test]
fn providers_lists_one_preset_per_line() {
    let output = hookguard(&["providers"], &[], None);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    let names: Vec<&str> = stdout
        .lines()
        .map(|l| l.split(' ').next().unwrap_or(""))
        .collect();
    for preset in ["drivewidget", "x-signature", "filedgr", "uploadcare"] {
        assert!(names.contains(&preset), "{preset} missing from {stdout}");
    }
    assert!(stdout
        .lines()
        .all(|l| l.split_once(' ').is_some_and(|(_, d)| !d.is_empty())));
}

#[test]
fn providers_yaml_prints_a_verify_block_that_check_accepts_in_place_of_the_preset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let secrets = [
        ("stripe", "whsec_stripe"),
        ("standard-webhooks", "whsec_c2VjcmV0LWtleQ=="),
        ("dropbox", "dropbox-secret"),
        ("gitlab", "gitlab-token"),
    ];
    for (name, secret) in secrets {
        let output = hookguard(&["providers", "--yaml", name], &[], None);
        assert!(output.status.success(), "{name}");
        let block = String::from_utf8(output.stdout).expect("utf8");
        assert!(block.starts_with("verify:\n"), "{name}: {block}");
        assert!(
            !block.contains("provider:"),
            "{name}: explicit, not the preset"
        );
        let route: String = block.lines().map(|line| format!("    {line}\n")).collect();
        let path = write_config(
            &dir,
            &format!(
                "upstream: http://127.0.0.1:3000\nroutes:\n  - path: /hooks\n{route}    secrets: [{{env: BLOCK_SECRET}}]\n"
            ),
        );
        let checked = hookguard(
            &["check", "--config", &path],
            &[("BLOCK_SECRET", secret)],
            None,
        );
        assert!(
            checked.status.success(),
            "{name}: {block}\n{}",
            String::from_utf8_lossy(&checked.stderr)
        );
    }
    let unknown = hookguard(&["providers", "--yaml", "nosuch"], &[], None);
    assert!(!unknown.status.success());
    assert!(String::from_utf8_lossy(&unknown.stderr).contains("nosuch"));
}

#[test]
fn readme_preset_table_is_the_generated_one() {
    let output = hookguard(&["providers", "--markdown"], &[], None);
    assert!(output.status.success());
    let table = String::from_utf8(output.stdout).expect("utf8");
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/README.md")).expect("README");
    let start = readme
        .find("<!-- presets:start -->\n")
        .expect("start marker")
        + "<!-- presets:start -->\n".len();
    let end = readme.find("<!-- presets:end -->").expect("end marker");
    assert_eq!(
        &readme[start..end],
        table,
        "regenerate with: hookguard providers --markdown"
    );
}

#[tokio::test]
async fn sign_output_is_accepted_by_the_proxy_for_every_preset() {
    let app = App::start().await;
    let body = br#"{"event":"file.uploaded","id":"sign-test"}"#;
    let env = [("SIGN_TEST_SECRET", SECRET)];
    for (preset, path) in [
        ("drivewidget", "/webhooks/drivewidget"),
        ("x-signature", "/webhooks/widget"),
        ("filedgr", "/webhooks/filedgr"),
        ("uploadcare", "/webhooks/uploadcare"),
    ] {
        let output = hookguard(
            &[
                "sign",
                "--provider",
                preset,
                "--secret-env",
                "SIGN_TEST_SECRET",
                "-",
            ],
            &env,
            Some(body),
        );
        let (name, value) = one_signed_header(output);
        let yaml = format!(
            "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: {path}\n    provider: {preset}\n    secrets: [{{env: SIGN_TEST_SECRET}}]\n",
            app.url()
        );
        let proxy = Hookguard::start_with_env(&yaml, &env);
        let headers = vec![(name.to_string(), value.to_string())];
        let response = send_raw(proxy.addr, &http1_request("POST", path, &headers, body)).await;
        assert_eq!(response.status, APP_STATUS, "{preset}: {name}: {value}");
        assert_eq!(app.take().len(), 1);
    }
    let unknown = hookguard(
        &[
            "sign",
            "--provider",
            "nope",
            "--secret-env",
            "SIGN_TEST_SECRET",
        ],
        &env,
        Some(b""),
    );
    assert!(!unknown.status.success());
    let unset = hookguard(
        &[
            "sign",
            "--provider",
            "filedgr",
            "--secret-env",
            "HOOKGUARD_TEST_UNSET_VAR",
        ],
        &[],
        Some(b""),
    );
    assert!(String::from_utf8_lossy(&unset.stderr).contains("HOOKGUARD_TEST_UNSET_VAR"));
}

#[tokio::test]
async fn check_spells_values_as_the_yaml_does_and_shows_each_routes_protections() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let yaml = config(&app, "").replace(
        "    max_body: 1KiB\n",
        "    max_body: 1KiB\n    allow_ips: [192.0.2.0/24, 127.0.0.1]\n    rate_limit: {per_second: 50, burst: 100}\n    dedup: {ttl: 24h}\n",
    );
    let path = write_config(&dir, &yaml);
    let output = hookguard(&["check", "--config", &path], &[], None);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{stdout}");
    assert!(stdout.contains("unmatched: reject"), "{stdout}");
    assert!(!stdout.contains("Reject"), "{stdout}");
    assert!(stdout.contains("max_body: 1MiB"), "top level: {stdout}");
    assert!(stdout.contains("max_body: 1KiB"), "route: {stdout}");
    // Not "1024" as well: the app's random port may contain it.
    assert!(!stdout.contains("1048576"), "{stdout}");
    assert!(
        stdout.contains("allow_ips: [192.0.2.0/24, 127.0.0.1/32]  rate_limit: {per_second: 50, burst: 100}  dedup: {ttl: 24h}"),
        "{stdout}"
    );
    assert!(
        stdout.contains("allow_ips: any  rate_limit: none  dedup: off"),
        "an absent protection is said too: {stdout}"
    );
}

#[test]
fn a_read_or_yaml_error_is_printed_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bad_yaml = write_config(&dir, "upstream: [\n");
    let cases = [
        ("/nonexistent/hookguard.yaml", "No such file or directory"),
        (bad_yaml.as_str(), "expected a string at line 1"),
    ];
    for (path, cause) in cases {
        for command in ["check", "run"] {
            let output = hookguard(&[command, "--config", path], &[], None);
            let stderr = String::from_utf8_lossy(&output.stderr);
            assert!(!output.status.success(), "{command} {path}");
            assert_eq!(stderr.matches(cause).count(), 1, "{command}: {stderr}");
        }
    }
}

#[tokio::test]
async fn a_duplicate_path_is_reported_as_a_path() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let route = "  - path: /webhooks/twice\n    provider: filedgr\n    secrets: [{value: s}]\n";
    let path = write_config(
        &dir,
        &format!("upstream: {}\nroutes:\n{route}{route}", app.url()),
    );
    let output = hookguard(&["check", "--config", &path], &[], None);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.contains("routes[1]")
            && stderr.contains("key `path`: another route already has this path"),
        "{stderr}"
    );
    assert!(!stderr.contains("`name`"), "{stderr}");
}

fn sign_with(preset: &str, extra: &[&str], body: &[u8]) -> Output {
    let mut args = vec![
        "sign",
        "--provider",
        preset,
        "--secret-env",
        "SIGN_TEST_SECRET",
    ];
    args.extend_from_slice(extra);
    args.push("-");
    hookguard(&args, &[("SIGN_TEST_SECRET", SECRET)], Some(body))
}

/// A preset, the options after it, the body, and what the refusal must mention.
type SignCase<'a> = (&'a str, Vec<&'a str>, &'a [u8], Vec<&'a str>);

#[test]
fn sign_refuses_headers_that_could_never_verify_and_says_what_is_missing() {
    let form = b"From=%2B15551234567&Body=hi";
    let json = br#"{"type":"message.sent"}"#;
    let url = "https://hooks.example.test/webhooks/twilio";
    let form_type = "application/x-www-form-urlencoded";
    let cases: Vec<SignCase> = vec![
        (
            "twilio",
            vec!["--content-type", form_type],
            form,
            vec!["--url"],
        ),
        ("square", vec![], json, vec!["--url"]),
        ("hubspot", vec![], json, vec!["--url"]),
        (
            "square",
            vec!["--url", "/webhooks/square"],
            json,
            vec!["absolute URL"],
        ),
        (
            "twilio",
            vec!["--url", url],
            form,
            vec!["--content-type", form_type],
        ),
        (
            "twilio",
            vec!["--url", url, "--content-type", "application/json"],
            json,
            vec!["bodySHA256="],
        ),
        ("twilio", vec!["--url", url], json, vec!["bodySHA256="]),
        (
            "mailgun",
            vec![],
            json,
            vec!["/signature/timestamp", "/signature/token"],
        ),
        (
            "mailgun",
            vec![],
            br#"{"signature":{"timestamp":"1"}}"#,
            vec!["/signature/token"],
        ),
        (
            "mailgun",
            vec![],
            br#"{"signature":{"timestamp":"1","token":"t"}}"#,
            vec!["/signature/timestamp", "300 s"],
        ),
        ("mailgun", vec![], b"not json", vec!["not JSON"]),
    ];
    for (preset, extra, body, needles) in cases {
        let output = sign_with(preset, &extra, body);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(!output.status.success(), "{preset} {extra:?}: {stderr}");
        assert!(
            output.stdout.is_empty(),
            "{preset} {extra:?}: printed headers"
        );
        for needle in needles {
            assert!(
                stderr.contains(needle),
                "{preset} {extra:?}: {stderr:?} should mention {needle:?}"
            );
        }
        assert!(!stderr.contains(SECRET), "{stderr}");
        assert!(!stderr.contains("malformed_signature"), "{stderr}");
    }
}

/// `sign` for a URL-signing preset prints what the proxy accepts, once given what it asked for.
#[tokio::test]
async fn sign_with_url_and_form_or_body_digest_is_accepted_by_the_proxy() {
    let app = App::start().await;
    let public_url = "https://hooks.example.test/webhooks/twilio";
    let yaml = format!(
        "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: /webhooks/twilio\n    provider: twilio\n    public_url: {public_url}\n    secrets: [{{env: SIGN_TEST_SECRET}}]\n",
        app.url()
    );
    let proxy = Hookguard::start_with_env(&yaml, &[("SIGN_TEST_SECRET", SECRET)]);
    let form_type = "application/x-www-form-urlencoded";
    let form = b"From=%2B15551234567&Body=hi".as_slice();
    let json = br#"{"type":"message.sent"}"#.as_slice();
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(json))
    };
    let json_url = format!("{public_url}?bodySHA256={digest}");
    let cases = [
        (
            vec!["--url", public_url, "--content-type", form_type],
            form,
            form_type,
            "/webhooks/twilio".to_string(),
        ),
        (
            vec!["--url", &json_url, "--content-type", "application/json"],
            json,
            "application/json",
            format!("/webhooks/twilio?bodySHA256={digest}"),
        ),
    ];
    for (extra, body, content_type, target) in cases {
        let output = sign_with("twilio", &extra, body);
        let (name, value) = one_signed_header(output);
        let headers = vec![
            (name.to_string(), value.to_string()),
            ("Content-Type".to_string(), content_type.to_string()),
        ];
        let response = send_raw(proxy.addr, &http1_request("POST", &target, &headers, body)).await;
        assert_eq!(response.status, APP_STATUS, "{extra:?}");
    }
    assert_eq!(app.take().len(), 2);
}

#[test]
fn check_names_every_problem_in_the_file_with_its_route_and_key() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write_config(
        &dir,
        "upstream: http://127.0.0.1:3000
routes:
  - path: /a
    name: alpha
    provider: no-such-sender
    methods: [post]
    secrets: [{value: s}]
  - path: /b
    name: beta
    provider: github
    max_body: lots
    secrets: [{env: HOOKGUARD_TEST_UNSET_SECRET}]
  - path: /c
    name: gamma
    provider: github
    allow_ips: [300.1.1.1/8]
    secrets: [{value: s}]
",
    );
    let output = hookguard(&["check", "--config", &path], &[], None);
    assert!(!output.status.success());
    let stderr = String::from_utf8(output.stderr).expect("utf8");
    assert!(stderr.contains("5 problems"), "{stderr}");
    for (route, key) in [
        ("alpha", "provider"),
        ("alpha", "methods"),
        ("beta", "max_body"),
        ("beta", "secrets[0]"),
        ("gamma", "allow_ips"),
    ] {
        let named = stderr.lines().any(|line| {
            line.contains(&format!("route \"{route}\"")) && line.contains(&format!("key `{key}`"))
        });
        assert!(named, "{route} {key} in:\n{stderr}");
    }
}
