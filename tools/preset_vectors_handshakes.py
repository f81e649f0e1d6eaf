"""Known-answer vectors for the handshake and basic-auth presets (src/verify/presets/catalog/handshakes.rs).

Run by tools/preset_vectors.py with `add`, `body_hmac`, `hmac_digest`, `T`, `NOW` and `BODY` in scope.
Worldline's signature is checked with its own SDK's SignatureValidator (connect-sdk-python3); the others
publish no signer or verifier for Python, so theirs are computed from the documented scheme with Python's
hmac, independently of hookguard's Rust code.
"""
import base64
import datetime
import hashlib

# --- Meta: sha256=<hex> of the body under the app secret ---
body_hmac("meta", "X-Hub-Signature-256", prefix="sha256=",
          source="developers.facebook.com Graph API webhooks: sha256= + hex HMAC-SHA256 of the payload, Python hmac")

# --- Twitch EventSub: sha256=<hex> over message id + timestamp + body; RFC 3339 with nanoseconds ---
twitch_secret = "twitch-test-secret"
twitch_id = "e76c6bd4-55c9-4987-8304-da1588d8988b"
twitch_ts = datetime.datetime.fromtimestamp(T, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S") + ".123456789Z"
twitch_sig = hmac_digest(hashlib.sha256, twitch_secret, twitch_id + twitch_ts + BODY).hex()
add("twitch", twitch_secret, [
    ["Twitch-Eventsub-Message-Id", twitch_id],
    ["Twitch-Eventsub-Message-Timestamp", twitch_ts],
    ["Twitch-Eventsub-Message-Signature", "sha256=" + twitch_sig],
    ["Twitch-Eventsub-Message-Type", "notification"],
], source="dev.twitch.tv handling-webhook-events: HMAC-SHA256(id + timestamp + body), Python hmac")

# --- Okta: the Authorization header value itself ---
add("okta", "okta-shared-header-value", [["Authorization", "okta-shared-header-value"]], tampered=BODY,
    source="developer.okta.com event hooks: the configured Authorization header value, sent as is")

# --- Nylas v3: hex HMAC-SHA256 of the body ---
body_hmac("nylas", "X-Nylas-Signature", source="developer.nylas.com v3 webhooks: hex HMAC-SHA256 of the body, Python hmac")

# --- LinkedIn: hmacsha256=<hex> of the body under the client secret ---
body_hmac("linkedin", "X-LI-Signature", prefix="hmacsha256=",
          source="learn.microsoft.com LinkedIn receive-applications: hmacsha256= + hex HMAC-SHA256, Python hmac")

# --- Mailchimp: a token in ?secret=, next to the sender's own parameters ---
mailchimp_body = "type=subscribe&fired_at=2026-01-01+00%3A00%3A00&data%5Bemail%5D=a%40example.com"
add("mailchimp", "mailchimp-url-secret", [], query="list=a1&secret=mailchimp-url-secret",
    body=mailchimp_body, tampered=mailchimp_body,
    source="mailchimp.com sync-audience-data-with-webhooks: a secret in the URL's query string, compared as is")

# --- Trello: base64 HMAC-SHA1 of body + callbackURL under the application secret ---
trello_url = "https://hooks.example.com/trello"
trello_sig = base64.b64encode(hmac_digest(hashlib.sha1, "trello-app-secret", BODY + trello_url)).decode()
add("trello", "trello-app-secret", [["X-Trello-Webhook", trello_sig]], url=trello_url,
    source="developer.atlassian.com Trello webhooks: base64 HMAC-SHA1 of body + callbackURL, Python hmac")

# --- Basic auth: Authorization: Basic base64(user:pass), secrets written user:pass ---
def basic(preset, user, password):
    token = base64.b64encode(f"{user}:{password}".encode()).decode()
    add(preset, f"{user}:{password}", [["Authorization", "Basic " + token]], tampered=BODY,
        wrong_secret=f"{user}:wrong-password",
        source="RFC 7617 basic auth as the provider documents it; the secret is user:pass")

basic("postmark", "postmark", "p0stmark pass:with colon")
basic("chargebee", "chargebee-hooks", "cb-secret")
basic("pipedrive", "pipedrive", "pd-secret")

# --- Worldline: base64 HMAC-SHA256 of the body, checked with the SDK's SignatureValidator ---
from worldline.connect.sdk.communication.request_header import RequestHeader
from worldline.connect.sdk.webhooks.in_memory_secret_key_store import InMemorySecretKeyStore
from worldline.connect.sdk.webhooks.signature_validator import SignatureValidator

worldline_secret = "worldline-secret-key"
worldline_sig = base64.b64encode(hmac_digest(hashlib.sha256, worldline_secret, BODY)).decode()
store = InMemorySecretKeyStore.instance()
store.store_secret_key("key-1", worldline_secret)
SignatureValidator(store).validate(BODY.encode(), [RequestHeader("X-GCS-Signature", worldline_sig),
                                                   RequestHeader("X-GCS-KeyId", "key-1")])
add("worldline", worldline_secret, [["X-GCS-Signature", worldline_sig], ["X-GCS-KeyId", "key-1"]],
    source="connect-sdk-python3 SignatureValidator accepts it: base64 HMAC-SHA256 of the body")
