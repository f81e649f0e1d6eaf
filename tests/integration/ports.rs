//! A second hookguard on an address already served fails to start with "address in use", for the
//! webhook port and the admin port alike, and the first keeps serving.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::support::{
    binary, github_config, github_headers, http1_request, send_raw, App, Hookguard,
};

const SECRET: &str = "ports-test-secret";

/// Runs `hookguard run` on `config` and returns its exit status and standard error, or fails the
/// test if it is still running after a few seconds (it started, sharing the port).
fn run_expecting_exit(config: &str) -> (std::process::ExitStatus, String) {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("second.yaml");
    std::fs::write(&path, config).expect("write config");
    let mut child = Command::new(binary())
        .args(["run", "--config"])
        .arg(&path)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    let started = Instant::now();
    while child.try_wait().expect("try_wait").is_none() {
        if started.elapsed() > Duration::from_secs(5) {
            let _ = child.kill();
            let _ = child.wait();
            panic!("a second instance started on an address already in use");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let output = child.wait_with_output().expect("output");
    (
        output.status,
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

async fn still_serves(first: &Hookguard) {
    let body = br#"{"first":"still here"}"#;
    let request = http1_request("POST", "/gh", &github_headers(SECRET, body, &[]), body);
    for _ in 0..20 {
        assert_eq!(send_raw(first.addr, &request).await.status, 202);
    }
}

#[tokio::test]
async fn a_second_instance_on_the_same_listen_address_fails_with_address_in_use() {
    let app = App::start().await;
    let first = Hookguard::start(&github_config(&app, SECRET, "", ""));
    let second = github_config(&app, SECRET, "", "")
        .replace("listen: 127.0.0.1:0", &format!("listen: {}", first.addr));
    let (status, stderr) = run_expecting_exit(&second);
    assert!(!status.success());
    assert!(
        stderr.contains(&format!("cannot listen on {}", first.addr)),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("address already in use"),
        "{stderr}"
    );
    // Every request reaches the first instance's app: nothing was shared.
    still_serves(&first).await;
    assert_eq!(app.take().len(), 20);
}

#[tokio::test]
async fn a_second_instance_on_the_same_admin_address_fails_with_address_in_use() {
    let app = App::start().await;
    let first = Hookguard::start(&github_config(&app, SECRET, "admin: 127.0.0.1:0", ""));
    let admin = first.admin.expect("admin address");
    let second = github_config(&app, SECRET, &format!("admin: {admin}"), "");
    let (status, stderr) = run_expecting_exit(&second);
    assert!(!status.success());
    assert!(
        stderr.contains("cannot listen on admin address"),
        "{stderr}"
    );
    assert!(
        stderr.to_lowercase().contains("address already in use"),
        "{stderr}"
    );
    assert_eq!(first.admin_get("/livez").await.0, 200);
    still_serves(&first).await;
}
