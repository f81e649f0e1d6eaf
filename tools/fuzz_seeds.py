#!/usr/bin/env python3
"""Writes the fuzz targets' seed corpora (fuzz/corpus/<target>/) from the known-answer vectors
(tests/data/preset-vectors.json, tests/data/seed-providers.json) and the configs in the repo
(config.example.yaml, the Kustomize config maps, the README's YAML examples).

Each seed is named by the SHA-1 of its content, as libFuzzer names what it finds, so running this
again rewrites the same files. Run from anywhere: python3 tools/fuzz_seeds.py
"""

import base64
import hashlib
import json
import re
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"

# Formats for signature_header's spelled-out mode (its first line), one per SignatureFormat shape.
FORMAT_LINES = [
    "whole sha256=",
    "whole",
    "list , v1=",
    "list   v1,",
    "fields , - t v1",
    "fields , ; t v1",
    "fields ;   ts h1",
    "tsfirst ,",
]

TEMPLATES = [
    "{timestamp}.{body}",
    "{id}.{timestamp}.{body}",
    "{method}\n{url}",
    "{url}{form_params}",
    "{url_hubspot}{body}",
    "{url_plivo}.{nonce}",
    "{method}\n{path}\n{signed_headers}\n{body}",
    "{json:/signature/timestamp}{json:/signature/token}",
    "v0:{timestamp}:{body}",
]

POINTERS = ["", "/type", "/data/file", "/signature/timestamp", "/a~1b/0", "/0"]


def body_of(request):
    """A vector's body as bytes: `body` is text, `body_base64` binary."""
    if "body_base64" in request:
        return base64.b64decode(request["body_base64"])
    return request["body"].encode()


def http_request(method, path, query, headers, body):
    """A request as `hookguard explain` reads a capture: CRLF head, Content-Length body."""
    target = path + ("?" + query if query else "")
    head = [f"{method} {target} HTTP/1.1", "Host: hooks.example.com"]
    head += [f"{name}: {value}" for name, value in headers]
    if not any(name.lower() == "content-length" for name, _ in headers):
        head.append(f"Content-Length: {len(body)}")
    return ("\r\n".join(head) + "\r\n\r\n").encode() + body


def preset_requests():
    """(preset, request bytes) for every known-answer vector."""
    for vector in json.loads((ROOT / "tests/data/preset-vectors.json").read_text())["vectors"]:
        request = vector["request"]
        path = "/webhooks/" + vector["preset"]
        if request.get("url"):
            path = "/" + request["url"].split("://", 1)[1].split("/", 1)[1].split("?")[0]
        yield vector["preset"], http_request(
            request["method"], path, request.get("query", ""), request["headers"], body_of(request)
        )
    for vector in json.loads((ROOT / "tests/data/seed-providers.json").read_text())["vectors"]:
        request = vector["request"]
        yield vector["route"]["provider"], http_request(
            request["method"],
            request["path"],
            request.get("query", ""),
            request["headers"],
            body_of(request),
        )


def configs():
    """Every config text in the repo: the example, the Kustomize config maps, the README's YAML."""
    yield (ROOT / "config.example.yaml").read_text()
    for path in sorted((ROOT / "deploy").rglob("*.yaml")):
        text = path.read_text()
        match = re.search(r"config\.yaml: \|\n((?:    .*\n|\s*\n)+)", text)
        if match:
            yield "\n".join(line[4:] for line in match.group(1).splitlines()) + "\n"
    readme = (ROOT / "README.md").read_text()
    yield from re.findall(r"```yaml\n(.*?)```", readme, re.S)


def smuggling_streams():
    """Request streams a client could send: keep-alive pairs, chunked bodies, both length headers."""
    get = b"GET /a HTTP/1.1\r\nHost: h\r\n\r\n"
    sized = b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    chunked = (
        b"POST /a HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"5;ext=1\r\nhello\r\n0\r\nTrailer: x\r\n\r\n"
    )
    both = (
        b"POST /a HTTP/1.1\r\nHost: h\r\nContent-Length: 4\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
        b"0\r\n\r\n"
    )
    yield from (get + get, sized + get, chunked + sized, both + get, get + both, b"PRI * HTTP/2.0\r\n")


def routing_inputs():
    paths = ["/webhooks/x", "/webhooks/*", "/", "/a/b/c", "/webhooks/github/*"]
    requests = ["/webhooks/x", "/webhooks/x/", "/WEBHOOKS/x", "/webhooks/%2e%2e/x", "/a//b",
                "/webhooks/github/push", "/a%20b", "/a;b", "/webhooks/./x"]
    for request in requests:
        yield ("\n".join(paths) + "\n" + request).encode()


def main():
    corpora = {name: set() for name in (
        "signature_header", "template_json", "smuggling_heads", "routing", "config_yaml",
        "explain_request",
    )}
    requests = list(preset_requests())
    for preset, request in requests:
        corpora["signature_header"].add(preset.encode() + b"\n" + request)
        corpora["explain_request"].add(request)
    for i, line in enumerate(FORMAT_LINES):
        corpora["signature_header"].add(line.encode() + b"\n" + requests[i % len(requests)][1])
    for i, template in enumerate(TEMPLATES):
        pointer = POINTERS[i % len(POINTERS)]
        request = requests[(i * 7) % len(requests)][1]
        corpora["template_json"].add(f"{template}\n{pointer}\n".encode() + request)
    corpora["config_yaml"].update(text.encode() for text in configs())
    corpora["smuggling_heads"].update(bytes([i]) + s for i, s in enumerate(smuggling_streams()))
    # To the head tracker one signed request looks much like another: a sample is enough.
    corpora["smuggling_heads"].update(b"\x07" + request for _, request in requests[::10])
    corpora["routing"].update(routing_inputs())
    for target, seeds in corpora.items():
        directory = CORPUS / target
        directory.mkdir(parents=True, exist_ok=True)
        for seed in seeds:
            (directory / hashlib.sha1(seed).hexdigest()).write_bytes(seed)
        print(f"{target}: {len(seeds)} seeds")


if __name__ == "__main__":
    main()
