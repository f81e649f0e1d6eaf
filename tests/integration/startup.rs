//! What `run` and `check` say at start and on reload: warnings about secrets past `not_after`, how
//! `env` and `file` secrets are read, and a fatal start-up error in the configured log format.

use std::process::{Command, Output, Stdio};

use crate::support::{
    binary, hmac_sha256_hex, http1_request, send_raw, App, Hookguard, APP_STATUS,
};

fn run_to_exit(config: &str, env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(&path, config).expect("write config");
    Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .envs(env.iter().copied())
        .stdin(Stdio::null())
        .output()
        .expect("run hookguard")
}

fn check(path: &std::path::Path) -> Output {
    Command::new(binary())
        .args(["check", "--config"])
        .arg(path)
        .output()
        .expect("check")
}

fn drivewidget_route(app: &App, secrets: &str) -> String {
    format!(
        "listen: 127.0.0.1:0\nupstream: {}\nroutes:\n  - path: /dw\n    name: dw\n    provider: drivewidget\n    secrets: {secrets}\n",
        app.url()
    )
}

async fn status_signed_with(proxy: &Hookguard, secret: &str) -> u16 {
    let body = br#"{"event":"file.uploaded"}"#;
    let headers = vec![(
        "X-DriveWidget-Signature".to_string(),
        format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body)),
    )];
    send_raw(proxy.addr, &http1_request("POST", "/dw", &headers, body))
        .await
        .status
}

#[tokio::test]
async fn a_route_with_no_active_secret_is_warned_about_by_check_and_run() {
    let app = App::start().await;
    let config = drivewidget_route(
        &app,
        "[{value: retired, not_after: 2020-01-01T00:00:00Z}, {value: older, not_after: 2019-01-01T00:00:00Z}]",
    );
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(&path, &config).expect("write");

    let checked = check(&path);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{stderr}");
    assert!(
        stderr.contains("warning: route \"dw\"") && stderr.contains("no active secret"),
        "{stderr}"
    );

    let proxy = Hookguard::start_at(dir, &path, &[]);
    let at_start = proxy.wait_for_log("no active secret");
    assert!(at_start.contains("WARN"), "{at_start}");
    assert_eq!(status_signed_with(&proxy, "retired").await, 401);
    proxy.signal("HUP");
    proxy.wait_for_log("config reloaded");
    proxy.wait_for_logs("no active secret", 2);
}

#[test]
fn the_example_config_has_no_secret_past_not_after() {
    let path = std::path::Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/config.example.yaml"));
    let checked = check(path);
    let stderr = String::from_utf8_lossy(&checked.stderr);
    assert!(checked.status.success(), "{stderr}");
    assert!(!stderr.contains("not_after"), "{stderr}");
    assert!(!stderr.contains("stops matching"), "{stderr}");
}

#[tokio::test]
async fn env_and_file_secrets_lose_one_trailing_line_ending_alike() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let file = dir.path().join("secret");
    std::fs::write(&file, "from-file\r\n").expect("write secret");
    let config = drivewidget_route(
        &app,
        &format!(
            "[{{env: STARTUP_ENV_SECRET}}, {{file: {}}}]",
            file.display()
        ),
    );
    // What `export STARTUP_ENV_SECRET="$(echo ...; echo)"` or a YAML block scalar would hold.
    let env = [("STARTUP_ENV_SECRET", "from-env\n")];
    let proxy = Hookguard::start_with_env(&config, &env);
    assert_eq!(status_signed_with(&proxy, "from-env").await, APP_STATUS);
    assert_eq!(status_signed_with(&proxy, "from-file").await, APP_STATUS);
    assert_eq!(status_signed_with(&proxy, "from-env\n").await, 401);
    assert_eq!(app.take().len(), 2);

    // `sign` reads its secret the same way, so its headers match the route's.
    let signed = Command::new(binary())
        .args(["sign", "--provider", "drivewidget", "--secret-env"])
        .arg("STARTUP_ENV_SECRET")
        .arg("-")
        .envs(env)
        .stdin(Stdio::null())
        .output()
        .expect("sign");
    let line = String::from_utf8(signed.stdout).expect("utf8");
    assert_eq!(
        line.trim(),
        format!(
            "X-DriveWidget-Signature: sha256={}",
            hmac_sha256_hex(b"from-env", b"")
        )
    );
}

/// Every line of `stderr` is a JSON object, and one of them is the fatal error.
fn json_fatal_line(output: &Output) -> serde_json::Value {
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success(), "{stderr}");
    let lines: Vec<serde_json::Value> = stderr
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|_| panic!("not JSON: {line:?}")))
        .collect();
    let errors: Vec<&serde_json::Value> = lines.iter().filter(|l| l["level"] == "ERROR").collect();
    assert_eq!(errors.len(), 1, "{stderr}");
    assert_eq!(errors[0]["message"], "cannot start", "{stderr}");
    assert!(errors[0]["timestamp"].is_string(), "{stderr}");
    errors[0].clone()
}

#[tokio::test]
async fn a_fatal_start_up_error_is_one_json_line_when_the_log_is_json() {
    let app = App::start().await;
    let missing = "/nonexistent/hookguard-test-cert.pem";
    let config = format!(
        "log: {{format: json}}\ntls: {{cert: {missing}, key: /nonexistent/key.pem}}\n{}",
        drivewidget_route(&app, "[{value: s}]")
    );
    // Even a log level of `off` does not hide why the process exited.
    let output = run_to_exit(&config, &[("RUST_LOG", "off")]);
    let error = json_fatal_line(&output);
    let text = error["error"].as_str().expect("error field");
    assert!(text.contains(missing) && text.contains("tls"), "{error}");

    // A failure after logging is set up, on a port this test holds.
    let held = std::net::TcpListener::bind("127.0.0.1:0").expect("bind");
    let admin = held.local_addr().expect("addr");
    let config = format!(
        "log: {{format: json}}\nadmin: {admin}\n{}",
        drivewidget_route(&app, "[{value: s}]")
    );
    let error = json_fatal_line(&run_to_exit(&config, &[]));
    let text = error["error"].as_str().expect("error field");
    assert!(text.contains(&format!("admin address {admin}")), "{error}");
}

#[tokio::test]
async fn a_fatal_start_up_error_stays_plain_text_when_the_log_is_text() {
    let app = App::start().await;
    let config = format!(
        "tls: {{cert: /nonexistent/c.pem, key: /nonexistent/k.pem}}\n{}",
        drivewidget_route(&app, "[{value: s}]")
    );
    let output = run_to_exit(&config, &[]);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(!output.status.success());
    assert!(
        stderr.starts_with("hookguard: top level: key `tls`"),
        "{stderr}"
    );
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
}
