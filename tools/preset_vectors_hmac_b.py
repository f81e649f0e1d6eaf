"""Known-answer vectors for src/verify/presets/catalog/hmac_more.rs (the second half of the HMAC family).

Run by tools/preset_vectors.py with `add`, `body_hmac`, `hmac_digest`, `vectors`, `T`, `NOW` and `BODY` in
scope. Where the provider's SDK signs (castle, modern-treasury) its signer made the signature; where it
only verifies (orb) the signature is computed here and the SDK's verifier must accept it first; the rest
are computed from the documented scheme with Python's hmac, as each `source` says.
"""
import base64
import hashlib
from datetime import datetime, timezone


def b64(digest):
    return base64.b64encode(digest).decode()


# --- Orb: the vector published in orbcorp/orb-node tests/api-resources/webhooks.test.ts, and one at T;
# both accepted by the orb-billing SDK's verify_signature at the vector's instant ---
import orb
import orb.resources.webhooks.webhooks as orb_webhooks


def orb_sdk_accepts(body, headers, secret, at):
    class FixedClock(datetime):
        @classmethod
        def now(cls, tz=None):
            return datetime.fromtimestamp(at, tz=tz)

    real = orb_webhooks.datetime
    orb_webhooks.datetime = FixedClock
    try:
        orb.Orb(api_key="unused").webhooks.verify_signature(payload=body, headers=headers, secret=secret)
    finally:
        orb_webhooks.datetime = real


orb_body = ('{"id": "o4mmewpfNNTnjfZc", "created_at": "2024-03-27T15:42:29+00:00", "type": "resource_event.test", '
            '"properties": {"message": "A test webhook from Orb. Happy testing!"}}')
orb_secret = "c-UGKYdnhHh436B_sMouYAPUvXyWpzOdunZBV5dFSD8"
orb_stamp = "2024-03-27T15:42:29.551"  # no zone: UTC, as Orb sends it
orb_headers = {"X-Orb-Timestamp": orb_stamp,
               "X-Orb-Signature": "v1=9d25de966891ab0bc18754faf8d83d0980b44ae330fcc130b41a6cf3daf1f391"}
orb_at = int(datetime.fromisoformat(orb_stamp).replace(tzinfo=timezone.utc).timestamp())
orb_sdk_accepts(orb_body, orb_headers, orb_secret, orb_at)
vectors.append({
    "preset": "orb", "secret": orb_secret, "wrong_secret": "wrong-secret-value", "now": orb_at + 2,
    "request": {"method": "POST", "url": None, "query": "",
                "headers": [[name, value] for name, value in orb_headers.items()], "body": orb_body},
    "tampered_body": orb_body.replace("Happy", "Happz"),
    "source": f"published in orb-node's webhook tests; orb-billing {orb.__version__} verify_signature accepts it",
})
orb_stamp = datetime.fromtimestamp(T, tz=timezone.utc).strftime("%Y-%m-%dT%H:%M:%S.%f")
sig = hmac_digest(hashlib.sha256, "orb-test-secret", f"v1:{orb_stamp}:{BODY}").hex()
orb_headers = {"X-Orb-Timestamp": orb_stamp, "X-Orb-Signature": f"v2=ignored v1={'ab' * 32} v1={sig}"}
orb_sdk_accepts(BODY, orb_headers, "orb-test-secret", T)
add("orb", "orb-test-secret", [[name, value] for name, value in orb_headers.items()],
    source=f"Orb's scheme, Python hmac; orb-billing {orb.__version__} verify_signature accepts it; a v2 entry and a wrong v1 are ignored")

# --- Go1: t=<unix>,v1=<hex> over "{t}.{body}" (webhook-verifier-js is not on npm, so computed here) ---
sig = hmac_digest(hashlib.sha256, "go1-test-secret", f"{T}.{BODY}").hex()
add("go1", "go1-test-secret", [["Go1-Signature", f"t={T},v1={sig}"]],
    source="go1 docs and webhook-verifier-js scheme, Python hmac")

# --- Castle: the castle SDK's own signer, checked by its verifier ---
from castle.configuration import configuration as castle_configuration
from castle.version import VERSION as castle_version
from castle.webhooks.verify import WebhooksVerify


class CastleWebhook:
    def __init__(self, body, signature=None):
        self.data = body.encode()
        self.headers = {"X-Castle-Signature": signature}


castle_configuration.api_secret = "castle-test-secret"
sig = WebhooksVerify._compute_signature(CastleWebhook(BODY), "castle-test-secret")
WebhooksVerify.call(CastleWebhook(BODY, sig), castle_configuration)
add("castle", "castle-test-secret", [["X-Castle-Signature", sig]],
    source=f"castle {castle_version} WebhooksVerify._compute_signature; WebhooksVerify.call accepts it")

# --- Modern Treasury: the SDK's get_signature, checked by validate_signature ---
import modern_treasury
mt = modern_treasury.ModernTreasury(api_key="unused", organization_id="unused", webhook_key="modern-treasury-test-secret")
sig = mt.webhooks.get_signature(BODY)
assert mt.webhooks.validate_signature(BODY, {"X-Signature": sig})
add("modern-treasury", "modern-treasury-test-secret", [["X-Signature", sig]],
    source=f"modern-treasury {modern_treasury.__version__} webhooks.get_signature; validate_signature accepts it")

# --- Pinwheel: v2=<hex> over "v2:{x-timestamp}:{body}" ---
sig = hmac_digest(hashlib.sha256, "pinwheel-test-secret", f"v2:{T}:{BODY}").hex()
add("pinwheel", "pinwheel-test-secret", [["x-pinwheel-signature", "v2=" + sig], ["x-timestamp", str(T)]],
    source="Pinwheel docs scheme, Python hmac")

# --- Front application webhooks: base64 HMAC-SHA256 over "{ms timestamp}:{body}" ---
sig = b64(hmac_digest(hashlib.sha256, "frontapp-test-secret", f"{T * 1000}:{BODY}"))
add("frontapp", "frontapp-test-secret", [["x-front-signature", sig], ["x-front-request-timestamp", str(T * 1000)]],
    source="Front application-webhooks docs scheme, Python hmac")

# --- The HMAC of the body alone, as each provider documents it ---
body_hmac("pylon", "X-Pylon-Signature", source="Pylon docs: hex HMAC-SHA256, Python hmac")
body_hmac("tally", "Tally-Signature", encoding="base64", source="Tally docs: base64 HMAC-SHA256, Python hmac")
body_hmac("fastspring", "X-FS-Signature", encoding="base64", source="FastSpring docs: base64 HMAC-SHA256, Python hmac")
body_hmac("aftership", "aftership-hmac-sha256", encoding="base64", source="AfterShip Tracking docs: base64 HMAC-SHA256, Python hmac")
sig = b64(hmac_digest(hashlib.sha256, "aftership-test-secret", BODY))
add("aftership", "aftership-test-secret", [["am-webhook-signature", sig]], source="AfterShip Shipping docs: base64 HMAC-SHA256, Python hmac")
body_hmac("autodesk", "x-adsk-signature", algorithm=hashlib.sha1, prefix="sha1hash=", source="Autodesk APS docs: sha1hash= + hex HMAC-SHA1, Python hmac")
body_hmac("bolt", "X-Bolt-Hmac-Sha256", encoding="base64", source="Bolt docs: base64 HMAC-SHA256, Python hmac")
body_hmac("mongodb-atlas", "X-MMS-Signature", algorithm=hashlib.sha1, encoding="base64", source="MongoDB Atlas docs: base64 HMAC-SHA1, Python hmac")
body_hmac("signal-sciences", "X-SigSci-Signature", source="Signal Sciences docs: hex HMAC-SHA256, Python hmac")
body_hmac("sonatype", "X-Nexus-Webhook-Signature", algorithm=hashlib.sha1, source="Sonatype Lifecycle docs: hex HmacSHA1, Python hmac")
body_hmac("trendmicro-conformity", "X-Conformity-Signature", source="Conformity docs: hex HMAC-SHA256, Python hmac")
body_hmac("frontapp-rules", "X-Front-Signature", algorithm=hashlib.sha1, encoding="base64", source="Front rule-webhooks docs: base64 HMAC-SHA1, Python hmac")
body_hmac("commercelayer", "X-CommerceLayer-Signature", encoding="base64", source="Commerce Layer docs: base64 HMAC-SHA256, Python hmac")
body_hmac("picqer", "X-Picqer-Signature", encoding="base64", source="picqer-php PicqerWebhook scheme: base64 HMAC-SHA256, Python hmac")
body_hmac("nuvemshop", "X-Linkedstore-Hmac-Sha256", source="Tiendanube api-docs: hex HMAC-SHA256, Python hmac")
body_hmac("clearbit", "X-Request-Signature", algorithm=hashlib.sha1, prefix="sha1=", source="clearbit-ruby Webhook.valid? scheme: sha1= + hex HMAC-SHA1, Python hmac")
