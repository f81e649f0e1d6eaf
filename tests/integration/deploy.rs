//! The shipped Kubernetes example: its embedded config validates with `hookguard check`, and the
//! Deployment keeps the properties a sidecar depends on.

use std::process::Command;

use serde::Deserialize;
use serde_yaml::Value;

use crate::support::binary;

const MANIFEST: &str = include_str!("../../deploy/kubernetes/sidecar.yaml");

fn documents() -> Vec<Value> {
    serde_yaml::Deserializer::from_str(MANIFEST)
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

#[test]
fn the_configmap_config_passes_check_with_the_secret_files_in_place() {
    let documents = documents();
    let config = kind(&documents, "ConfigMap")["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml")
        .to_string();
    let secret = kind(&documents, "Secret");
    let dir = tempfile::tempdir().expect("tempdir");
    // Put the Secret's keys where the Deployment mounts them, relative to a scratch root.
    for (key, value) in secret["stringData"].as_mapping().expect("stringData") {
        std::fs::write(
            dir.path().join(key.as_str().expect("key")),
            value.as_str().expect("value"),
        )
        .expect("write");
    }
    let config = config.replace(
        "/var/run/secrets/hookguard",
        &dir.path().display().to_string(),
    );
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
    let config = kind(&documents, "ConfigMap")["data"]["config.yaml"]
        .as_str()
        .expect("config.yaml");
    let parsed: Value = serde_yaml::from_str(config).expect("config parses");
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
