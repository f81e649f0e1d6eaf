#!/usr/bin/env python3
"""Checks one rendered Kustomize overlay (`kubectl kustomize … > FILE`) beyond its schema.

For every pod template that runs hookguard:
- the hookguard config it mounts from a ConfigMap passes `hookguard check`, run with the pod's
  ConfigMap and Secret volumes written out under a scratch root and the config's paths pointed
  there, so `file:` secrets resolve as they would in the pod;
- the pod's grace period covers hookguard's drain: its preStop sleep plus shutdown_grace, after the
  app's preStop too when hookguard is a native sidecar (stopped only once the app has exited);
- every ServiceMonitor selects a Service of the overlay and scrapes a port that Service names
  (the Prometheus Operator's CRD schema is not available offline, so this is what is checked of it).
Every PrometheusRule's spec is written out as a rules file for `promtool check rules`.

Usage: check_rendered_manifests.py RENDERED.yaml HOOKGUARD_BINARY RULES_OUT_DIR
"""

import os
import subprocess
import sys
import tempfile

import yaml


def pod_templates(documents):
    """(workload name, pod spec) of every workload with a pod template."""
    for doc in documents:
        template = doc.get("spec", {}).get("template")
        if template:
            yield doc["metadata"]["name"], template["spec"]


def hookguard_container(pod):
    containers = pod.get("containers", []) + pod.get("initContainers", [])
    return next((c for c in containers if c["name"] == "hookguard"), None)


def find(documents, kind, name):
    for doc in documents:
        if doc["kind"] == kind and doc["metadata"]["name"] == name:
            return doc
    sys.exit(f"the overlay mounts {kind} {name}, which it does not define")


def volume_files(documents, volume):
    """The files a ConfigMap or Secret volume shows, as {name: text}."""
    if "configMap" in volume:
        return find(documents, "ConfigMap", volume["configMap"]["name"]).get("data", {})
    if "secret" in volume:
        return find(documents, "Secret", volume["secret"]["secretName"]).get("stringData", {})
    return {}


def check_pod_config(documents, workload, pod, binary):
    container = hookguard_container(pod)
    if container is None:
        return
    volumes = {v["name"]: v for v in pod.get("volumes", [])}
    with tempfile.TemporaryDirectory() as root:
        config_path = None
        mounts = sorted(container.get("volumeMounts", []), key=lambda m: -len(m["mountPath"]))
        for mount in mounts:
            local = os.path.join(root, mount["mountPath"].lstrip("/"))
            os.makedirs(local, exist_ok=True)
            for name, text in volume_files(documents, volumes[mount["name"]]).items():
                with open(os.path.join(local, name), "w") as out:
                    out.write(text)
                if name == "config.yaml":
                    config_path = os.path.join(local, name)
        if config_path is None:
            sys.exit(f"{workload}: hookguard mounts no config.yaml")
        with open(config_path) as config:
            text = config.read()
        check_grace_period(workload, pod, text)
        # Longest mount first, so a nested mount is not rewritten through its parent.
        for mount in mounts:
            text = text.replace(mount["mountPath"], os.path.join(root, mount["mountPath"].lstrip("/")))
        with open(config_path, "w") as config:
            config.write(text)
        result = subprocess.run([binary, "check", "--config", config_path], capture_output=True, text=True)
        sys.stderr.write(result.stderr.replace(root, ""))
        if result.returncode != 0:
            sys.exit(f"{workload}: hookguard check refused its config")


def seconds(duration):
    """`20s`, `2m` or `1h` in seconds: the forms the manifests use for shutdown_grace."""
    units = {"s": 1, "m": 60, "h": 3600}
    return int(duration[:-1]) * units[duration[-1]]


def pre_stop_seconds(container):
    return container.get("lifecycle", {}).get("preStop", {}).get("sleep", {}).get("seconds", 0)


def check_grace_period(workload, pod, config_text):
    hookguard = hookguard_container(pod)
    drain = pre_stop_seconds(hookguard) + seconds(yaml.safe_load(config_text).get("shutdown_grace", "20s"))
    if hookguard.get("restartPolicy") == "Always":
        drain += max(pre_stop_seconds(c) for c in pod["containers"])
    grace = pod.get("terminationGracePeriodSeconds", 30)
    if grace <= drain:
        sys.exit(f"{workload}: terminationGracePeriodSeconds {grace} does not cover the {drain} s drain")


def check_service_monitors(documents):
    services = [d for d in documents if d["kind"] == "Service"]
    for monitor in (d for d in documents if d["kind"] == "ServiceMonitor"):
        wanted = monitor["spec"]["selector"]["matchLabels"]
        selected = [
            s for s in services
            if all(s["metadata"].get("labels", {}).get(k) == v for k, v in wanted.items())
        ]
        name = monitor["metadata"]["name"]
        if not selected:
            sys.exit(f"ServiceMonitor {name} selects no Service")
        for endpoint in monitor["spec"]["endpoints"]:
            for service in selected:
                ports = [p.get("name") for p in service["spec"]["ports"]]
                if endpoint["port"] not in ports:
                    sys.exit(f"ServiceMonitor {name}: Service {service['metadata']['name']} has no port {endpoint['port']}")


def write_rules(documents, out_dir):
    os.makedirs(out_dir, exist_ok=True)
    for rule in (d for d in documents if d["kind"] == "PrometheusRule"):
        path = os.path.join(out_dir, rule["metadata"]["name"] + ".rules.yaml")
        with open(path, "w") as out:
            yaml.safe_dump(rule["spec"], out)
        print(path)


def main():
    rendered, binary, rules_dir = sys.argv[1:4]
    with open(rendered) as f:
        documents = [d for d in yaml.safe_load_all(f) if d]
    for workload, pod in pod_templates(documents):
        check_pod_config(documents, workload, pod, binary)
    check_service_monitors(documents)
    write_rules(documents, rules_dir)


if __name__ == "__main__":
    main()
