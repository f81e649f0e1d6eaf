//! Amazon SNS: messages signed with a certificate fetched from SigningCertURL.

use crate::verify::handshake::Handshake;
use crate::verify::presets::shapes::POST;
use crate::verify::presets::{Preset, Spec};
use crate::verify::Field;

pub(in crate::verify::presets) fn rows() -> Vec<Preset> {
    vec![
        // docs.aws.amazon.com/sns/latest/dg/sns-verify-signature-of-message.html and
        // sns-verify-signature-of-message-verify-message-signature.html: the signed fields per
        // type, SignatureVersion 1 (SHA1withRSA) and 2 (SHA256withRSA); aws-sdk-ruby
        // Aws::SNS::MessageVerifier and aws/aws-js-sns-message-validator index.js: `Key\nValue\n`,
        // the certificate host rule. `Type` and `MessageId` are both signed.
        Preset {
            name: "aws-sns",
            description: "Amazon SNS (HTTP/S): RSA signature in the body over SNS's canonical string; certificate from SigningCertURL on an SNS host",
            spec: Spec::AwsSns,
            methods: POST,
            event: Some(Field::Json("/Type")),
            delivery_id: Some(Field::Json("/MessageId")),
            handshake: Handshake::None,
        },
    ]
}
