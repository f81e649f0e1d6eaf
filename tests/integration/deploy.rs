//! The Kustomize base under deploy/kubernetes/base, which every overlay builds on: its embedded
//! config validates with `hookguard check`, the Deployment keeps the properties a sidecar depends
//! on, and its max_connections held by a slowloris client fit in its memory limit. (CI renders
//! each overlay and checks it with tools/check_kustomize.sh.)

use std::process::Command;
use std::time::{Duration, Instant};

use serde::Deserialize;
use serde_yaml::Value;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::support::{binary, hmac_sha256_hex, http1_request, send_raw, App, Hookguard};

/// The base's objects that the sidecar needs, one file each.
const MANIFESTS: [&str; 4] = [
    include_str!("../../deploy/kubernetes/base/configmap.yaml"),
    include_str!("../../deploy/kubernetes/base/secret.yaml"),
    include_str!("../../deploy/kubernetes/base/deployment.yaml"),
    include_str!("../../deploy/kubernetes/base/service.yaml"),
];

fn documents() -> Vec<Value> {
    MANIFESTS
        .iter()
        .flat_map(|manifest| serde_yaml::Deserializer::from_str(manifest))
        .map(|document| Value::deserialize(document).expect("a YAML document"))
        .filter(|document| !document.is_null())
        .collect()
}

fn kind<'d>(documents: &'d [Value], kind: &str) -> &'d Value {
    documents
        .iter()
        .find(|d| d["kind"] == kind)
        .unwrap_or_else(|| panic!("no {kind}"))
}

/// The Deployment's hookguard container.
fn hookguard_container(documents: &[Value]) -> &Value {
    kind(documents, "Deployment")["spec"]["template"]["spec"]["containers"]
        .as_sequence()
        .expect("containers")
        .iter()
        .find(|c| c["name"] == "hookguard")
        .expect("hookguard container")
}

/// The hookguard config its ConfigMap carries, parsed.
fn config_of(documents: &[Value]) -> Value {
    let text = kind(documents, "ConfigMap")["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml");
    serde_yaml::from_str(text).expect("config parses")
}

#[test]
fn the_configmap_config_passes_check_with_the_secret_files_in_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    // The Secret's keys go where the Deployment mounts them, relative to a scratch root.
    let (config, _) = config_with_secrets(dir.path());
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, config).expect("write");
    let output = Command::new(binary())
        .args(["check", "--config"])
        .arg(&path)
        .output()
        .expect("check");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !stderr.contains("loopback"),
        "the example's app is on loopback: {stderr}"
    );
}

#[test]
fn the_deployment_keeps_the_sidecar_properties() {
    let documents = documents();
    let parsed = config_of(&documents);
    let grace =
        humantime::parse_duration(parsed["shutdown_grace"].as_str().expect("shutdown_grace"))
            .expect("duration");
    assert_eq!(
        parsed["admin"].as_str(),
        Some("0.0.0.0:9090"),
        "probes reach the pod IP"
    );
    assert!(parsed["upstream"]
        .as_str()
        .expect("upstream")
        .starts_with("http://127.0.0.1:"));

    let pod = &kind(&documents, "Deployment")["spec"]["template"]["spec"];
    let containers = pod["containers"].as_sequence().expect("containers");
    let hookguard = containers
        .iter()
        .find(|c| c["name"] == "hookguard")
        .expect("hookguard container");
    assert_eq!(hookguard["readinessProbe"]["httpGet"]["path"], "/readyz");
    assert_eq!(hookguard["livenessProbe"]["httpGet"]["path"], "/livez");
    assert_eq!(hookguard["readinessProbe"]["httpGet"]["port"], "admin");
    assert!(hookguard["resources"]["requests"].is_mapping());
    let security = &hookguard["securityContext"];
    assert_eq!(security["runAsNonRoot"], true);
    assert_eq!(security["readOnlyRootFilesystem"], true);
    assert_eq!(security["allowPrivilegeEscalation"], false);
    assert_eq!(security["capabilities"]["drop"][0], "ALL");
    let pre_stop = hookguard["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("preStop sleep");
    let termination = pod["terminationGracePeriodSeconds"]
        .as_u64()
        .expect("terminationGracePeriodSeconds");
    assert!(
        termination > pre_stop + grace.as_secs(),
        "the kubelet must not kill a drain"
    );
    for mount in hookguard["volumeMounts"].as_sequence().expect("mounts") {
        assert!(
            mount["subPath"].is_null(),
            "subPath mounts never see updates, so reload would not either"
        );
    }
    let app = containers
        .iter()
        .find(|c| c["name"] == "app")
        .expect("app container");
    let app_pre_stop = app["lifecycle"]["preStop"]["sleep"]["seconds"]
        .as_u64()
        .expect("app preStop");
    assert!(
        app_pre_stop >= pre_stop + grace.as_secs(),
        "the app outlives hookguard's drain"
    );
}

/// The manifest's config with its secrets written under `dir`, and the Secret's drivewidget key.
fn config_with_secrets(dir: &std::path::Path) -> (String, String) {
    let documents = documents();
    let config = kind(&documents, "ConfigMap")["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml")
        .to_string();
    let secret = kind(&documents, "Secret");
    for (key, value) in secret["stringData"].as_mapping().expect("stringData") {
        std::fs::write(
            dir.join(key.as_str().expect("key")),
            value.as_str().expect("value"),
        )
        .expect("write");
    }
    let drivewidget = secret["stringData"]["drivewidget"]
        .as_str()
        .expect("drivewidget secret")
        .to_string();
    let config = config
        .replace("/var/run/secrets/hookguard", &dir.display().to_string())
        .replace(
            "/var/lib/hookguard/spool",
            &dir.join("spool").display().to_string(),
        );
    (config, drivewidget)
}

#[test]
fn the_cpu_limit_matches_workers() {
    let documents = documents();
    let parsed = config_of(&documents);
    let workers = parsed["workers"]
        .as_u64()
        .expect("the sidecar states workers");
    let hookguard = hookguard_container(&documents);
    let cpu: u64 = hookguard["resources"]["limits"]["cpu"]
        .as_str()
        .expect("a CPU limit in whole cores")
        .parse()
        .expect("whole cores");
    assert_eq!(cpu, workers, "one core per worker thread");
}

/// The hookguard container's memory limit, in bytes (`128Mi`).
fn memory_limit() -> u64 {
    let documents = documents();
    let hookguard = hookguard_container(&documents);
    let limit = hookguard["resources"]["limits"]["memory"]
        .as_str()
        .expect("memory limit");
    let mebibytes: u64 = limit
        .strip_suffix("Mi")
        .expect("a limit in Mi")
        .parse()
        .expect("a number");
    mebibytes << 20
}

fn max_connections(config: &str) -> u64 {
    let parsed: Value = serde_yaml::from_str(config).expect("config parses");
    parsed["limits"]["max_connections"]
        .as_u64()
        .expect("the sidecar sets limits.max_connections")
}

/// `hookguard check` on `config`, with `memory_max` as the cgroup's memory.max; its stderr.
fn check_under(dir: &std::path::Path, config: &str, memory_max: &str) -> String {
    let path = dir.join("check.yaml");
    std::fs::write(&path, config).expect("write");
    let cgroup = dir.join("memory.max");
    std::fs::write(&cgroup, memory_max).expect("write");
    let output = Command::new(binary())
        .args(["check", "--config"])
        .arg(&path)
        .env(hookguard::memory::CGROUP_FILE_ENV, &cgroup)
        .output()
        .expect("check");
    assert!(output.status.success());
    String::from_utf8_lossy(&output.stderr).into_owned()
}

#[test]
fn the_sidecar_max_connections_fits_its_memory_limit_and_check_says_when_not() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, _) = config_with_secrets(dir.path());
    let limit = memory_limit();
    let held = max_connections(&config) * hookguard::memory::CONNECTION_COST_BYTES;
    // Held connections may take at most 3/4 of the limit: the rest is for bodies in flight.
    assert!(
        held * 4 <= limit * 3,
        "{held} bytes of held connections against a {limit}-byte limit"
    );
    let stderr = check_under(dir.path(), &config, &format!("{limit}\n"));
    assert!(!stderr.contains("max_connections"), "{stderr}");
    // The default max_connections (10000) does not fit in the same limit, and check says so.
    let unbounded = config.replace("max_connections: 2048", "max_connections: 10000");
    assert_ne!(unbounded, config);
    let stderr = check_under(dir.path(), &unbounded, &format!("{limit}\n"));
    assert!(
        stderr.contains("warning: limits.max_connections 10000") && stderr.contains("OOM"),
        "{stderr}"
    );
    // No limit, no warning.
    let stderr = check_under(dir.path(), &unbounded, "max\n");
    assert!(!stderr.contains("max_connections"), "{stderr}");
}

/// Slowloris in miniature against the sidecar's settings: each held connection costs no more
/// than the figure `check` counts, a genuine delivery is served meanwhile, and header_timeout
/// (shortened here) closes them all.
#[tokio::test]
async fn slowloris_against_the_sidecar_settings_stays_within_the_counted_memory() {
    const HELD: usize = 400;
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let (config, secret) = config_with_secrets(dir.path());
    let config = config
        .replace("0.0.0.0:8080", "127.0.0.1:0")
        .replace("0.0.0.0:9090", "127.0.0.1:0")
        .replace("http://127.0.0.1:3000", &app.url())
        .replace("format: json", "format: text")
        .replace("limits:\n", "limits:\n  header_timeout: 2s\n");
    let path = dir.path().join("config.yaml");
    std::fs::write(&path, &config).expect("write");
    let proxy = Hookguard::start_at(dir, &path, &[]);
    let body = br#"{"event":"file.uploaded"}"#;
    let signature = format!("sha256={}", hmac_sha256_hex(secret.as_bytes(), body));
    let genuine = http1_request(
        "POST",
        "/webhooks/drivewidget",
        &[("X-DriveWidget-Signature".to_string(), signature)],
        body,
    );
    // Warm up, so the baseline holds the runtime's steady allocations. The route queues, so a
    // genuine delivery is answered 200 once spooled.
    for _ in 0..20 {
        assert_eq!(send_raw(proxy.addr, &genuine).await.status, 200);
    }
    let baseline = proxy.rss_kib();
    let mut held = Vec::new();
    for _ in 0..HELD {
        let mut stream = TcpStream::connect(proxy.addr).await.expect("connect");
        stream
            .write_all(b"POST /webhooks/drivewidget HTTP/1.1\r\nHost: x\r\nX-a: b\r\n")
            .await
            .expect("partial head");
        held.push(stream);
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let per_connection = (proxy.rss_kib().saturating_sub(baseline)) * 1024 / HELD as u64;
    let started = Instant::now();
    assert_eq!(send_raw(proxy.addr, &genuine).await.status, 200);
    assert!(started.elapsed() < Duration::from_secs(1));
    assert!(
        per_connection <= hookguard::memory::CONNECTION_COST_BYTES,
        "{per_connection} bytes per held connection"
    );
    let mut scratch = [0u8; 1024];
    for mut stream in held {
        let read = tokio::time::timeout(Duration::from_secs(4), stream.read(&mut scratch)).await;
        assert!(
            matches!(read, Ok(Ok(_)) | Ok(Err(_))),
            "a held connection outlived header_timeout"
        );
    }
}

/// A queue route needs its spool directory on a writable volume (the root filesystem is read
/// only), and the volume must hold more than `spool.max_bytes`, so hookguard answers 503 before
/// the kubelet evicts the pod for filling it.
#[test]
fn the_spool_sits_on_a_writable_volume_larger_than_max_bytes() {
    let documents = documents();
    let parsed = config_of(&documents);
    let store = parsed["spool"]["store"].as_str().expect("spool.store");
    let max_bytes = parse_quantity(parsed["spool"]["max_bytes"].as_str().expect("max_bytes"));
    let queued = parsed["routes"]
        .as_sequence()
        .expect("routes")
        .iter()
        .any(|route| route["delivery"]["mode"] == "queue");
    assert!(queued, "the example shows a queue route");

    let hookguard = hookguard_container(&documents);
    let mount = hookguard["volumeMounts"]
        .as_sequence()
        .expect("mounts")
        .iter()
        .find(|m| m["mountPath"] == store)
        .expect("the spool directory is a mount");
    assert!(mount["readOnly"].is_null() || mount["readOnly"] == false);
    let pod = &kind(&documents, "Deployment")["spec"]["template"]["spec"];
    let volume = pod["volumes"]
        .as_sequence()
        .expect("volumes")
        .iter()
        .find(|v| v["name"] == mount["name"])
        .expect("the spool volume");
    let size_limit = volume["emptyDir"]["sizeLimit"]
        .as_str()
        .expect("emptyDir with a sizeLimit");
    assert!(
        parse_quantity(size_limit) > max_bytes,
        "{size_limit} must exceed max_bytes"
    );
}

/// `512MiB` (hookguard) or `768Mi` (Kubernetes) in bytes.
fn parse_quantity(text: &str) -> u64 {
    let digits: String = text.chars().take_while(char::is_ascii_digit).collect();
    let number: u64 = digits.parse().expect("a number");
    let unit = match &text[digits.len()..] {
        "KiB" | "Ki" => 1 << 10,
        "MiB" | "Mi" => 1 << 20,
        "GiB" | "Gi" => 1 << 30,
        other => panic!("unit {other:?}"),
    };
    number * unit
}
