"""Vectors for the keyed family (RSA and JWT-carried signatures), run by tools/preset_vectors.py with
its `add`, `vectors`, `T`, `NOW` and `BODY` in scope.

Keys are made fresh with `cryptography` on every run, so these vectors change each time, as the
sendgrid one does. Each vector's `secret` is the PEM public key that verifies it and `wrong_secret`
another valid key of the same kind. Bridge's own published test vector is kept as published.
"""
import base64
import hashlib
import json
import os
import subprocess

import jwt as pyjwt
import rsa as python_rsa
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa

NPM = "/work/npm-sdks/node_modules"


def rsa_key(bits=2048):
    return rsa.generate_private_key(public_exponent=65537, key_size=bits)


def public_pem(private, pkcs1=False):
    form = serialization.PublicFormat.PKCS1 if pkcs1 else serialization.PublicFormat.SubjectPublicKeyInfo
    return private.public_key().public_bytes(serialization.Encoding.PEM, form).decode()


def private_pem(private):
    return private.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.NoEncryption()).decode()


# --- Bridge: the test data published on "Webhook Event Signature Verification", as published ---
BRIDGE_PEM = ("-----BEGIN PUBLIC KEY-----\nMIIBIjANBgkqhkiG9w0BAQEFAAOCAQ8AMIIBCgKCAQEAtqsEE4eI7EmzhcquGJXt\n"
              "LX9PMK0UH6Kl1WIR21sv8HtueG8BuvvpP3MiN7ltzmIhS8KaynCjN4l+620PnXeu\nxWG+CSnEdkinL9hCqbEid5vv9zl0j9LWiJx3FkKHqADU7cgm46aa8dKUdIQYF2X+\n"
              "O7WmyLkC4wUM/mWhBPMsIQBznashRMZxx7XJjsVp27ACUE4eNIjEXbVYN6U8jSbU\nhG++CfL8xXu+GHDqKmFE6Po6HnuURvLFVnCtE3mXXBcVFlPy+octfx8nOMLT3X8O\n"
              "9UehIigJ34o2yMm/Fq3HUJzg2BsiAiGgtr0vmeoV9Q7upSNj9TuOumAzZFi4pYA+\nqwIDAQAB\n-----END PUBLIC KEY-----\n")
BRIDGE_HEADER = ("t=1705854411204,v0=jz/0dmHJ63FAzacGutrDTEoq+iSz/PHm/ugdooXDQu5NwuVIT2LmZGjsnCsBHgR9Py6OBP9zurzW4dHgygU4EDqm"
                 "MPTUOvhvndYb4lWt+TY66LihaFI2whL6DAf/jb1QjYjNU0A6x9SLzC45dgE6X7zTDUM+2Z+scG/WEQf6SxQMt4E2sEipl5PqMK5lYUe3otd"
                 "JV+X2c9D64bGwCEE7QSia+Vhozg8QNOQEk/rdz2IEONIg6oC43CeiN4E2kF9XLAGuy9uAHx9O9OJH5ZPLJZjyo4VcXYeWQgxaQ1gZ1Qu6hE"
                 "EzgiPSff/1nou58dm4bIIazgCWli/mO0NyGcpfFw==")
BRIDGE_BODY = '{"message":"Hello World!"}'


def bridge_verifies(pem, header, body):
    """Bridge's documented check: RSA-SHA256 (PKCS#1 v1.5) over the SHA-256 digest of "{t}.{body}"."""
    t, v0 = (field.split("=", 1)[1] for field in header.split(","))
    key = serialization.load_pem_public_key(pem.encode())
    digest = hashlib.sha256(f"{t}.{body}".encode()).digest()
    key.verify(base64.b64decode(v0), digest, padding.PKCS1v15(), hashes.SHA256())
    return True


other_rsa = rsa_key()
assert bridge_verifies(BRIDGE_PEM, BRIDGE_HEADER, BRIDGE_BODY)
vectors.append({
    "preset": "bridge", "secret": BRIDGE_PEM, "wrong_secret": public_pem(other_rsa),
    "now": 1705854411 + 2,
    "request": {"method": "POST", "url": None, "query": "", "headers": [["X-Webhook-Signature", BRIDGE_HEADER]], "body": BRIDGE_BODY},
    "tampered_body": BRIDGE_BODY.replace("World", "Worlf"),
    "source": "published by Bridge (apidocs.bridge.xyz, Webhook Event Signature Verification test data)",
})

# A second Bridge delivery signed here with a 4096-bit key given in PKCS#1 PEM form.
signer = rsa_key(4096)
ms = T * 1000
digest = hashlib.sha256(f"{ms}.{BODY}".encode()).digest()
v0 = base64.b64encode(signer.sign(digest, padding.PKCS1v15(), hashes.SHA256())).decode()
assert bridge_verifies(public_pem(signer), f"t={ms},v0={v0}", BODY)
add("bridge", public_pem(signer, pkcs1=True), [["X-Webhook-Signature", f"t={ms},v0={v0}"]], wrong_secret=public_pem(other_rsa),
    source="signed with cryptography (RSA-4096, PKCS#1 v1.5 SHA-256 over SHA-256 of {t}.{body}) as Bridge documents; PKCS#1 PEM key")

# --- Fireblocks v1: RSA-SHA512 of the body, checked with the `rsa` package as Fireblocks' Python example does ---
FIREBLOCKS_PRODUCTION_PEM = """-----BEGIN PUBLIC KEY-----
MIICIjANBgkqhkiG9w0BAQEFAAOCAg8AMIICCgKCAgEA0+6wd9OJQpK60ZI7qnZG
jjQ0wNFUHfRv85Tdyek8+ahlg1Ph8uhwl4N6DZw5LwLXhNjzAbQ8LGPxt36RUZl5
YlxTru0jZNKx5lslR+H4i936A4pKBjgiMmSkVwXD9HcfKHTp70GQ812+J0Fvti/v
4nrrUpc011Wo4F6omt1QcYsi4GTI5OsEbeKQ24BtUd6Z1Nm/EP7PfPxeb4CP8KOH
clM8K7OwBUfWrip8Ptljjz9BNOZUF94iyjJ/BIzGJjyCntho64ehpUYP8UJykLVd
CGcu7sVYWnknf1ZGLuqqZQt4qt7cUUhFGielssZP9N9x7wzaAIFcT3yQ+ELDu1SZ
dE4lZsf2uMyfj58V8GDOLLE233+LRsRbJ083x+e2mW5BdAGtGgQBusFfnmv5Bxqd
HgS55hsna5725/44tvxll261TgQvjGrTxwe7e5Ia3d2Syc+e89mXQaI/+cZnylNP
SwCCvx8mOM847T0XkVRX3ZrwXtHIA25uKsPJzUtksDnAowB91j7RJkjXxJcz3Vh1
4k182UFOTPRW9jzdWNSyWQGl/vpe9oQ4c2Ly15+/toBo4YXJeDdDnZ5c/O+KKadc
IMPBpnPrH/0O97uMPuED+nI6ISGOTMLZo35xJ96gPBwyG5s2QxIkKPXIrhgcgUnk
tSM7QYNhlftT4/yVvYnk0YcCAwEAAQ==
-----END PUBLIC KEY-----
"""
signer = rsa_key(4096)
fb_body = '{"type":"TRANSACTION_CREATED","tenantId":"t-1","timestamp":1767225600000,"data":{"id":"tx-1","note":"resume"}}'
signature = signer.sign(fb_body.encode(), padding.PKCS1v15(), hashes.SHA512())
assert python_rsa.verify(fb_body.encode(), signature, python_rsa.PublicKey.load_pkcs1_openssl_pem(public_pem(signer).encode())) == "SHA-512"
add("fireblocks", public_pem(signer), [["Fireblocks-Signature", base64.b64encode(signature).decode()]], body=fb_body,
    wrong_secret=FIREBLOCKS_PRODUCTION_PEM,
    source="signed with cryptography (RSA-4096, PKCS#1 v1.5 SHA-512 of the body); the `rsa` package's verify, as in Fireblocks' Python example, accepts it; wrong key: Fireblocks' published production key")

# --- FusionAuth: a JWT carrying request_body_sha256, checked with `jose` as FusionAuth's example listener does ---
def fusionauth_accepts(token, body, key_pem_or_secret, algorithm):
    """FusionAuth's example listener (signature-verify/app.js): jose.jwtVerify, then the base64
    SHA-256 of the raw body against the request_body_sha256 claim."""
    script = """
import * as jose from '%s/jose/dist/webapi/index.js';
import crypto from 'node:crypto';
const [token, body, key, alg] = JSON.parse(process.argv[1]);
const verifyKey = alg === 'HS256' ? new TextEncoder().encode(key) : await jose.importSPKI(key, alg);
const { payload } = await jose.jwtVerify(token, verifyKey, { algorithms: [alg] });
const hash = crypto.createHash('sha256').update(Buffer.from(body, 'utf8')).digest('base64');
process.stdout.write(payload.request_body_sha256 === hash ? 'ok' : 'mismatch');
""" % NPM
    out = subprocess.run(["node", "--input-type=module", "-e", script, json.dumps([token, body, key_pem_or_secret, algorithm])],
                         capture_output=True, text=True, check=True)
    return out.stdout == "ok"


fa_body = '{"event":{"type":"user.create","id":"e-1","createInstant":1767225600000,"user":{"email":"resume@example.com"}}}'
claims = {"request_body_sha256": base64.b64encode(hashlib.sha256(fa_body.encode()).digest()).decode()}
ec_signer = ec.generate_private_key(ec.SECP256R1())
ec_other = ec.generate_private_key(ec.SECP256R1())
rsa_signer = rsa_key()
for algorithm, signing_key, secret, wrong in [
    ("HS256", "fusionauth-hmac-secret-for-hookguard-tests", "fusionauth-hmac-secret-for-hookguard-tests", "wrong-secret-value"),
    ("RS256", private_pem(rsa_signer), public_pem(rsa_signer), public_pem(other_rsa)),
    ("ES256", private_pem(ec_signer), public_pem(ec_signer), public_pem(ec_other)),
]:
    token = pyjwt.encode(claims, signing_key, algorithm=algorithm, headers={"kid": "hookguard-test"})
    assert fusionauth_accepts(token, fa_body, secret, algorithm)
    add("fusionauth", secret, [["X-FusionAuth-Signature-JWT", token]], body=fa_body, wrong_secret=wrong,
        source=f"PyJWT {pyjwt.__version__} {algorithm} token with request_body_sha256 (FusionAuth's signing doc); jose jwtVerify as in FusionAuth's example listener accepts it")
