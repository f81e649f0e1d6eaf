"""Vectors for the Amazon SNS preset (aws-sns), run by tools/preset_vectors.py with its helpers.

SNS signs `Key\nValue\n` for a fixed list of fields per message type with the private key of a
certificate it names in `SigningCertURL` (AWS, "Verifying the signatures of Amazon SNS messages";
the fields and their order also in aws-sdk-ruby's Aws::SNS::MessageVerifier and
aws-js-sns-message-validator). AWS ships verifiers only, so the signatures here are computed from
the documented scheme with Python `cryptography` (PKCS#1 v1.5; SHA-1 for SignatureVersion 1, SHA-256
for 2), and AWS's own verifier, the npm `sns-validator` (aws/aws-js-sns-message-validator, installed
under /work/npm-sdks), must accept each message before it is written. That verifier fetches the
certificate over HTTPS from AWS; here `https.get` is stubbed to serve the test certificate instead,
which leaves its host check, canonical string and RSA check as they are.

The key and its self-signed certificate live in tests/data (made once, here, when absent), so the
vectors do not change between runs. Each vector's `secret` is the certificate PEM: the unit tests
give it to the verifier as the certificate already fetched for the message's SigningCertURL; its
`wrong_secret` is another RSA certificate.
"""
import base64
import datetime
import json
import os
import subprocess

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.x509.oid import NameOID

DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "tests", "data")
CERT_URL = "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-hookguard-test.pem"
TOPIC = "arn:aws:sns:us-east-1:123456789012:hookguard-test"


def key_and_certificate(stem):
    """The test key and certificate in tests/data/<stem>-key.pem and <stem>-cert.pem, made if absent."""
    key_path = os.path.join(DATA, f"{stem}-key.pem")
    cert_path = os.path.join(DATA, f"{stem}-cert.pem")
    if not os.path.exists(key_path):
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"hookguard test {stem}")])
        start = datetime.datetime(2025, 1, 1, tzinfo=datetime.timezone.utc)
        certificate = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
                       .public_key(key.public_key()).serial_number(x509.random_serial_number())
                       .not_valid_before(start).not_valid_after(start + datetime.timedelta(days=36500))
                       .sign(key, hashes.SHA256()))
        with open(key_path, "wb") as out:
            out.write(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                        serialization.NoEncryption()))
        with open(cert_path, "wb") as out:
            out.write(certificate.public_bytes(serialization.Encoding.PEM))
    with open(key_path, "rb") as key_file, open(cert_path, "rb") as cert_file:
        return serialization.load_pem_private_key(key_file.read(), None), cert_file.read().decode()


SIGNED = {
    "Notification": ["Message", "MessageId", "Subject", "Timestamp", "TopicArn", "Type"],
    "SubscriptionConfirmation": ["Message", "MessageId", "SubscribeURL", "Timestamp", "Token", "TopicArn", "Type"],
}


SDKS = os.environ.get("NPM_SDKS", "/work/npm-sdks")
AWS_VALIDATOR = r"""
const https = require('https'), { EventEmitter } = require('events');
const [message, pem] = JSON.parse(require('fs').readFileSync(0, 'utf8'));
https.get = (url, onResponse) => {
    const response = new EventEmitter(); response.statusCode = 200;
    setImmediate(() => { onResponse(response); response.emit('data', Buffer.from(pem)); response.emit('end'); });
    return new EventEmitter();
};
const Validator = require(process.argv[1] + '/node_modules/sns-validator');
new Validator().validate(JSON.parse(message), (error) => { if (error) { console.error(error.message); process.exit(1); } console.log('ok'); });
"""


def aws_validator_accepts(message, certificate):
    checked = subprocess.run(["node", "-e", AWS_VALIDATOR, SDKS], input=json.dumps([message, certificate]),
                             capture_output=True, text=True)
    assert checked.stdout.strip() == "ok", checked.stderr
    return message


def sns_message(key, certificate, kind, version, **fields):
    message = {"Type": kind, "MessageId": "6f1c9a2e-hookguard-0001", "TopicArn": TOPIC, "Message": BODY,
               "Timestamp": "2026-01-01T00:00:00.000Z", **fields}
    canonical = "".join(f"{name}\n{message[name]}\n" for name in SIGNED[kind] if name in message).encode()
    digest = hashes.SHA1() if version == "1" else hashes.SHA256()
    signature = key.sign(canonical, padding.PKCS1v15(), digest)
    x509.load_pem_x509_certificate(certificate.encode()).public_key().verify(signature, canonical, padding.PKCS1v15(), digest)
    message.update({"SignatureVersion": version, "Signature": base64.b64encode(signature).decode(),
                    "SigningCertURL": CERT_URL,
                    "UnsubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=" + TOPIC + ":1"})
    return aws_validator_accepts(json.dumps(message), certificate)


key, certificate = key_and_certificate("sns-signing")
_, other = key_and_certificate("sns-other")
SOURCE = ("AWS 'Verifying the signatures of Amazon SNS messages': {what}, computed with Python cryptography, "
          "accepted by AWS's sns-validator (aws-js-sns-message-validator); secret = the signing certificate PEM, "
          "given as already fetched")
for kind, version, fields in [
    ("Notification", "1", {"Subject": "hookguard test"}),
    ("Notification", "2", {}),
    ("SubscriptionConfirmation", "2", {"Token": "2336412f37fb687f5d51e6e2425c464d",
                                       "SubscribeURL": "https://sns.us-east-1.amazonaws.com/?Action=ConfirmSubscription&TopicArn=" + TOPIC + "&Token=2336412f37fb687f5d51e6e2425c464d"}),
]:
    add("aws-sns", certificate, [["x-amz-sns-message-type", kind]], body=sns_message(key, certificate, kind, version, **fields),
        wrong_secret=other, source=SOURCE.format(what=f"{kind}, SignatureVersion {version}"))
