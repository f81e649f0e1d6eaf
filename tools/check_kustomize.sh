#!/usr/bin/env bash
# Renders every Kustomize overlay under deploy/kubernetes/overlays and checks what comes out:
# - the Kubernetes objects against the API's schemas, strictly (unknown fields are errors), for
#   the oldest release the manifests need (1.30: the preStop `sleep` action) and the newest
#   kubernetes-validate knows;
# - the hookguard config each pod mounts, with `hookguard check` (tools/check_rendered_manifests.py);
# - the alert rules with `promtool check rules`, and their unit tests with `promtool test rules`.
# ServiceMonitor and PrometheusRule are CRDs whose schemas kubernetes-validate does not ship: it
# warns and passes them, so only that warning is allowed, and they get the checks above instead.
# Usage: tools/check_kustomize.sh [HOOKGUARD_BINARY]   (default target/debug/hookguard)
set -euo pipefail
cd "$(dirname "$0")/.."
binary=$(realpath "${1:-target/debug/hookguard}")
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Runs a command, showing its output only when it fails.
quietly() {
  local out
  out=$("$@" 2>&1) || { echo "$out" >&2; return 1; }
}

crd_warning="Couldn't find schema for kind (ServiceMonitor|PrometheusRule) with api version monitoring.coreos.com/v1 "

for overlay in deploy/kubernetes/overlays/*/; do
  name=$(basename "$overlay")
  rendered="$work/$name.yaml"
  kubectl kustomize "$overlay" >"$rendered"
  for version in 1.30.0 latest; do
    flags=(--strict --quiet)
    [ "$version" = latest ] || flags+=(-k "$version")
    if ! report=$(kubernetes-validate "${flags[@]}" "$rendered" 2>&1); then
      echo "$report" >&2
      exit 1
    fi
    if unexpected=$(grep -Ev "$crd_warning" <<<"$report"); then
      echo "$name: $unexpected" >&2
      exit 1
    fi
  done
  quietly python3 tools/check_rendered_manifests.py "$rendered" "$binary" "$work/rules-$name"
  quietly promtool check rules "$work/rules-$name"/*.yaml
  cp deploy/kubernetes/alerts.test.yaml "$work/rules-$name/"
  (cd "$work/rules-$name" && quietly promtool test rules alerts.test.yaml)
  echo "deploy/kubernetes/overlays/$name: rendered, validated, config checked, alerts tested"
done
