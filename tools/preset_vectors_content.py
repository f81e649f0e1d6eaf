"""Vectors for the signed-content family (src/verify/presets/catalog/signed_content.rs).

Run by tools/preset_vectors.py with its `add`, `hmac_digest`, `T`, `NOW` and `BODY` in scope. Sanity
and Contentful are signed by their own npm SDKs (installed under /work/npm-sdks, see NPM below);
Plivo by plivo-python's own signing functions, checked with its validate_v3_signature; Recurly and
Persona ship no signer or verifier in their npm or PyPI packages, so theirs are computed from the
documented scheme.
"""
import base64
import hashlib
import json
import os
import subprocess

NPM = os.environ.get("HOOKGUARD_NPM_SDKS", "/work/npm-sdks/node_modules")


def node(script, **inputs):
    """Runs `script` with node, the SDKs on its path and `inputs` as the JSON global INPUT."""
    env = dict(os.environ, NODE_PATH=NPM, INPUT=json.dumps(inputs))
    prelude = "const INPUT = JSON.parse(process.env.INPUT);\n"
    done = subprocess.run(["node", "-e", prelude + script], env=env, check=True, capture_output=True, text=True)
    return json.loads(done.stdout)


# --- Sanity: @sanity/webhook's own signer, checked with its own verifier ---
sanity_secret = "sanity-webhook-test-secret"
sanity = node("""
const w = require('@sanity/webhook');
(async () => {
  const header = await w.encodeSignatureHeader(INPUT.body, INPUT.ms, INPUT.secret);
  const ok = await w.isValidSignature(INPUT.body, header, INPUT.secret);
  console.log(JSON.stringify({header, ok}));
})();
""", body=BODY, ms=T * 1000, secret=sanity_secret)
assert sanity["ok"] and "+" not in sanity["header"] and "/" not in sanity["header"]
add("sanity", sanity_secret, [["sanity-webhook-signature", sanity["header"]]],
    source="@sanity/webhook encodeSignatureHeader (base64url, unpadded); its isValidSignature accepts it")

# --- Contentful: @contentful/node-apps-toolkit's signRequest, checked with its verifyRequest ---
contentful_secret = "c" * 32 + "0123456789abcdef" * 2  # the toolkit wants 64 characters
contentful_url = "https://hooks.example.com/hooks/contentful"
contentful_query = "space=abc&note=caf%C3%A9"
contentful = node("""
const t = require('@contentful/node-apps-toolkit');
const request = {method: 'POST', path: INPUT.path, body: INPUT.body,
                 headers: {'x-contentful-topic': 'ContentManagement.Entry.publish'}};
const signed = t.signRequest(INPUT.secret, request, INPUT.ms);
const headers = Object.assign({'x-contentful-topic': 'ContentManagement.Entry.publish',
                               'content-type': 'application/vnd.contentful.management.v1+json'}, signed);
const ok = t.verifyRequest(INPUT.secret, {method: 'POST', path: INPUT.path, body: INPUT.body, headers}, 0);
console.log(JSON.stringify({headers, ok}));
""", path="/hooks/contentful?" + contentful_query, body=BODY, ms=T * 1000, secret=contentful_secret)
assert contentful["ok"]
add("contentful", contentful_secret, [[k, v] for k, v in contentful["headers"].items()],
    url=contentful_url, query=contentful_query,
    source="@contentful/node-apps-toolkit signRequest (signs x-contentful-topic too); its verifyRequest accepts it")

# --- Plivo V3: plivo-python's own signing functions, checked with its validate_v3_signature ---
from urllib.parse import parse_qsl
from plivo.utils.signature_v3 import construct_post_url, get_signature_v3, validate_v3_signature

plivo_token = "plivo-auth-token"
plivo_url = "https://hooks.example.com/plivo"
plivo_form = "To=%2B15557654321&From=%2B15551234567&CallUUID=abc-123&Event=StartApp&Note=hi+there"
plivo_params = dict(parse_qsl(plivo_form, keep_blank_values=True))
other = base64.b64encode(b"x" * 32).decode()
for query, nonce in [("route=main&a=1", "05429567804466091622"), ("", "31415926535897932384")]:
    uri = plivo_url + ("?" + query if query else "")
    signature = get_signature_v3(plivo_token.encode(), construct_post_url(uri, dict(plivo_params)), nonce).decode()
    header = f"{other},{signature}"
    assert validate_v3_signature("POST", uri, nonce, plivo_token, header, dict(plivo_params))
    add("plivo", plivo_token,
        [["Content-Type", "application/x-www-form-urlencoded"], ["X-Plivo-Signature-V3", header],
         ["X-Plivo-Signature-V3-Nonce", nonce]],
        body=plivo_form, url=plivo_url, query=query, tampered=plivo_form.replace("StartApp", "StartApq"),
        source="plivo-python construct_post_url + get_signature_v3; validate_v3_signature accepts it (a second, wrong signature listed first)")

# --- Recurly: `<ms>,<hex>,<hex>` over "{ms}.{body}" ---
ms = str(T * 1000)
sig = hmac_digest(hashlib.sha256, "recurly-webhook-key", f"{ms}.{BODY}").hex()
add("recurly", "recurly-webhook-key", [["recurly-signature", f"{ms},{'ab' * 32},{sig}"]],
    source="docs.recurly.com scheme (recurly-client-ruby Webhooks.verify_signature), Python hmac; "
           "the recurly npm and PyPI clients ship no webhook verifier; two signatures as during key rotation")

# --- Persona: two sets while a secret rotates, each over its own timestamp ---
old_t = T - 1
sig = hmac_digest(hashlib.sha256, "wbhsec_persona_test", f"{T}.{BODY}").hex()
stale = hmac_digest(hashlib.sha256, "wbhsec_persona_old", f"{old_t}.{BODY}").hex()
add("persona", "wbhsec_persona_test", [["Persona-Signature", f"t={old_t},v1={stale} t={T},v1={sig}"]],
    source="docs.withpersona.com scheme, Python hmac; the second set (own timestamp) is the key's")
