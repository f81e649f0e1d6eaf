"""Known-answer vectors for the ngrok-list gap presets (src/verify/presets/catalog/more_senders.rs).

Run by tools/preset_vectors.py with `add`, `body_hmac`, `hmac_digest`, `T`, `NOW` and `BODY` in scope.
Neither sender ships a signer or verifier, so each vector is computed here from the documented scheme
with Python's hmac and base64, independently of hookguard's Rust code.
"""
import base64
import hashlib

# --- HostedHooks: t=<unix>,s=<hex HMAC-SHA256 of "{t}.{body}"> ---
hostedhooks_secret = "hostedhooks-endpoint-secret"
hostedhooks_sig = hmac_digest(hashlib.sha256, hostedhooks_secret, f"{T}.{BODY}").hex()
add("hostedhooks", hostedhooks_secret, [["HostedHooks-Signature", f"t={T},s={hostedhooks_sig}"]],
    source="docs.hostedhooks.com webhook-signatures: t=,s= over {t}.{body}, hex HMAC-SHA256; "
           "computed from the documented scheme with Python hmac (no SDK signer)")

# --- VMware Workspace ONE UEM: Authorization: Basic base64(user:pass), the secret written user:pass ---
vmware_user, vmware_password = "ws1-notifications", "uem-pass:with colon"
vmware_token = base64.b64encode(f"{vmware_user}:{vmware_password}".encode()).decode()
add("vmware", f"{vmware_user}:{vmware_password}", [["Authorization", "Basic " + vmware_token]], tampered=BODY,
    wrong_secret=f"{vmware_user}:wrong-password",
    source="RFC 7617 basic auth with the event notification's Username and Password; computed, no SDK")
