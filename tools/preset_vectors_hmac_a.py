"""Known-answer vectors for src/verify/presets/catalog/hmac.rs (first half of the family).

Run by tools/preset_vectors.py with `add`, `body_hmac`, `hmac_digest`, `T`, `NOW`, `BODY` in scope.
Where a provider's SDK ships a signer it signs; where it ships only a verifier, the signature is
computed from the documented scheme and that verifier must accept it, with the SDK's clock set to
NOW (the fixtures are signed at T, and the SDKs check freshness against their own clock). The rest
are computed from the documented scheme with Python's hmac, and their `source` says so.
"""
import base64
import contextlib
import hashlib
import json
from datetime import datetime, timezone
from unittest import mock

import standardwebhooks
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519


@contextlib.contextmanager
def sdk_clock_at(seconds):
    """Every SDK clock read here (time.time, standardwebhooks' datetime.now) returns `seconds`."""
    class Frozen(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(seconds, tz=tz)
    with mock.patch("time.time", return_value=float(seconds)), \
            mock.patch("standardwebhooks.webhooks.datetime", Frozen):
        yield


def whsec(seed):
    return "whsec_" + base64.b64encode(seed.encode().ljust(32, b"!")[:32]).decode()


WRONG_WHSEC = whsec("another-key")
WHEN = datetime.fromtimestamp(T, tz=timezone.utc)


def standard_headers(msg_id, signature):
    return [["webhook-id", msg_id], ["webhook-timestamp", str(T)], ["webhook-signature", signature]]


# --- OpenAI: signed with the standardwebhooks signer, accepted by the openai SDK's verifier ---
import openai
secret = whsec("openai-test-key")
msg_id = "msg_openai_1"
signature = standardwebhooks.Webhook(secret).sign(msg_id, WHEN, BODY)
with sdk_clock_at(NOW):
    openai.OpenAI(api_key="unused", webhook_secret=secret).webhooks.verify_signature(
        BODY, dict(standard_headers(msg_id, signature)))
add("openai", secret, standard_headers(msg_id, signature), wrong_secret=WRONG_WHSEC,
    source=f"standardwebhooks Webhook.sign; openai {openai.__version__} webhooks.verify_signature accepts it")

# --- Brex: Standard Webhooks with a base64 secret (no whsec_ prefix), two signatures in rotation ---
secret = base64.b64encode(b"brex-webhook-secret-32-bytes-key").decode()
msg_id = "msg_brex_1"
signature = standardwebhooks.Webhook(secret).sign(msg_id, WHEN, BODY)
other = standardwebhooks.Webhook(base64.b64encode(b"brex-old-secret").decode()).sign(msg_id, WHEN, BODY)
add("brex", secret, [["Webhook-Id", msg_id], ["Webhook-Timestamp", str(T)], ["Webhook-Signature", f"{other} {signature}"]],
    wrong_secret=base64.b64encode(b"another-key").decode(),
    source="standardwebhooks Webhook.sign with the base64 secret Brex's /v1/webhooks/secrets returns; a second (rotated) signature is ignored")

# --- Lithic: the lithic SDK verifies through standardwebhooks ---
import lithic
secret = whsec("lithic-test-key")
msg_id = "msg_lithic_1"
lithic_body = json.dumps({"event_type": "card.created", "token": "resume-1", "card_token": "c1"})
signature = standardwebhooks.Webhook(secret).sign(msg_id, WHEN, lithic_body)
with sdk_clock_at(NOW):
    lithic.Lithic(api_key="unused").webhooks.verify_signature(lithic_body, dict(standard_headers(msg_id, signature)), secret=secret)
add("lithic", secret, standard_headers(msg_id, signature), body=lithic_body, wrong_secret=WRONG_WHSEC,
    source=f"standardwebhooks Webhook.sign; lithic {lithic.__version__} webhooks.verify_signature accepts it")

# --- Polar: Standard Webhooks keyed with the secret's own bytes, as polar-sdk does ---
import polar.webhooks
secret = "polar_whs_test_secret_value"
msg_id = "msg_polar_1"
signature = standardwebhooks.Webhook(base64.b64encode(secret.encode()).decode()).sign(msg_id, WHEN, BODY)
with sdk_clock_at(NOW):
    polar.webhooks._verify_signature(BODY, dict(standard_headers(msg_id, signature)), secret)
add("polar", secret, standard_headers(msg_id, signature),
    source="standardwebhooks Webhook.sign over base64(secret), as Polar's docs direct; polar-sdk's signature check accepts it")

# --- Telnyx: Ed25519 over "{ts}|{body}", accepted by the telnyx SDK's verifier ---
from telnyx.lib.webhook_verification import verify_webhook_signature
import telnyx
signer = ed25519.Ed25519PrivateKey.from_private_bytes(bytes(range(100, 132)))
raw = serialization.Encoding.Raw, serialization.PublicFormat.Raw
public_b64 = base64.b64encode(signer.public_key().public_bytes(*raw)).decode()
other_b64 = base64.b64encode(ed25519.Ed25519PrivateKey.from_private_bytes(bytes(32)).public_key().public_bytes(*raw)).decode()
telnyx_body = json.dumps({"data": {"event_type": "message.received", "id": "resume-evt-1", "payload": {"text": "hi"}}})
signature = base64.b64encode(signer.sign(f"{T}|{telnyx_body}".encode())).decode()
telnyx_headers = [["telnyx-signature-ed25519", signature], ["telnyx-timestamp", str(T)]]
with sdk_clock_at(NOW):
    verify_webhook_signature(telnyx_body, dict(telnyx_headers), public_b64)
add("telnyx", public_b64, telnyx_headers, body=telnyx_body, wrong_secret=other_b64,
    source=f"signed with cryptography Ed25519; telnyx {telnyx.__version__} verify_webhook_signature accepts it")

# --- TikTok, Buildkite, Courier: Stripe-like fields over "{t}.{body}" ---
sig = hmac_digest(hashlib.sha256, "tiktok-client-secret", f"{T}.{BODY}").hex()
add("tiktok", "tiktok-client-secret", [["TikTok-Signature", f"t={T},s={sig}"]],
    source="developers.tiktok.com webhooks-verification scheme, Python hmac")
sig = hmac_digest(hashlib.sha256, "buildkite-webhook-token", f"{T}.{BODY}").hex()
add("buildkite", "buildkite-webhook-token", [["X-Buildkite-Signature", f"timestamp={T},signature={sig}"], ["X-Buildkite-Event", "ping"]],
    source="buildkite/docs verifying HMAC signatures scheme, Python hmac")
sig = hmac_digest(hashlib.sha256, "courier-webhook-secret", f"{T * 1000}.{BODY}").hex()
add("courier", "courier-webhook-secret", [["courier-signature", f"t={T * 1000},signature={sig}"]],
    source="Courier outbound webhooks docs scheme, Python hmac")

# --- Customer.io, Airwallex, Akeneo: a timestamp header ---
sig = hmac_digest(hashlib.sha256, "customerio-signing-key", f"v0:{T}:{BODY}").hex()
add("customerio", "customerio-signing-key", [["X-CIO-Signature", sig], ["X-CIO-Timestamp", str(T)]],
    source="Customer.io reporting webhooks docs scheme, Python hmac")
sig = hmac_digest(hashlib.sha256, "airwallex-webhook-secret", f"{T * 1000}{BODY}").hex()
add("airwallex", "airwallex-webhook-secret", [["x-signature", sig], ["x-timestamp", str(T * 1000)]],
    source="Airwallex webhooks docs scheme, Python hmac")
sig = hmac_digest(hashlib.sha256, "akeneo-events-secret", f"{T}.{BODY}").hex()
add("akeneo", "akeneo-events-secret", [["X-Akeneo-Request-Signature", sig], ["X-Akeneo-Request-Timestamp", str(T)]],
    source="api.akeneo.com Events API security scheme, Python hmac")

# --- The body alone ---
body_hmac("vercel", "x-vercel-signature", algorithm=hashlib.sha1, source="Vercel webhooks docs scheme, Python hmac")
sig = base64.b64encode(hmac_digest(hashlib.sha256, "woocommerce-secret", BODY)).decode()
add("woocommerce", "woocommerce-secret",
    [["X-WC-Webhook-Signature", sig], ["X-WC-Webhook-Topic", "order.created"], ["X-WC-Webhook-Delivery-ID", "d1"]],
    source="WooCommerce WC_Webhook::generate_signature scheme, Python hmac")

import gocardless_pro.webhooks
gc_body = json.dumps({"events": [{"id": "EV1", "resource_type": "payments", "action": "resume"}], "meta": {"webhook_id": "WB1"}})
sig = hmac_digest(hashlib.sha256, "gocardless-webhook-secret", gc_body).hex()
gocardless_pro.webhooks.parse(gc_body, "gocardless-webhook-secret", sig)
add("gocardless", "gocardless-webhook-secret", [["Webhook-Signature", sig]], body=gc_body,
    source="documented scheme, Python hmac; gocardless_pro webhooks.parse accepts it")

import pusher
pusher_body = json.dumps({"time_ms": T * 1000, "events": [{"name": "channel_occupied", "channel": "resume"}]})
with sdk_clock_at(NOW):
    client = pusher.Pusher(app_id="1", key="pusher-key", secret="pusher-app-secret")
    sig = pusher.signature.sign("pusher-app-secret", pusher_body)
    assert client.validate_webhook("pusher-key", sig, pusher_body) is not None
add("pusher", "pusher-app-secret", [["X-Pusher-Key", "pusher-key"], ["X-Pusher-Signature", sig]], body=pusher_body,
    source="pusher SDK signature.sign; Pusher.validate_webhook accepts it")

teams_key = base64.b64encode(b"teams-outgoing-webhook-token-32b").decode()
sig = base64.b64encode(hmac_digest(hashlib.sha256, base64.b64decode(teams_key), BODY)).decode()
add("microsoft-teams", teams_key, [["Authorization", "HMAC " + sig]], wrong_secret=base64.b64encode(b"another-key").decode(),
    source="Teams outgoing-webhook docs and sample app.js scheme (base64-decoded token), Python hmac")

airtable_key = base64.b64encode(b"airtable-mac-secret-bytes").decode()
airtable_body = '{"base":{"id":"app00000000000000"},"webhook":{"id":"ach00000000000000"},"timestamp":"2026-01-01T00:00:00.000Z","resume":1}'
sig = hmac_digest(hashlib.sha256, base64.b64decode(airtable_key), airtable_body).hex()
add("airtable", airtable_key, [["X-Airtable-Content-MAC", "hmac-sha256=" + sig]], body=airtable_body,
    wrong_secret=base64.b64encode(b"another-key").decode(),
    source="Airtable webhooks overview scheme (decoded macSecretBase64), Python hmac")
