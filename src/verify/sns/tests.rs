//! The SNS canonical string per message type, the message refusals, the certificate URL rule and
//! the certificate cache's bound.

use std::sync::Arc;

use super::*;

/// A message as SNS writes it, with `extra` fields spliced in; the signature is not checked here.
fn message(kind: &str, extra: &str) -> Vec<u8> {
    format!(
        r#"{{"Type":"{kind}","MessageId":"22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324","TopicArn":"arn:aws:sns:us-west-2:123456789012:MyTopic","Message":"line one\nline \"two\"","Timestamp":"2012-05-02T00:54:06.655Z","SignatureVersion":"1","Signature":"AAAA","SigningCertURL":"https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem"{extra}}}"#
    )
    .into_bytes()
}

fn canonical(body: &[u8]) -> String {
    String::from_utf8(SnsMessage::parse(body).expect("parses").canonical_string()).expect("utf8")
}

#[test]
fn a_notification_signs_its_fields_in_order_with_the_subject_only_when_present() {
    let without = canonical(&message(
        "Notification",
        r#","UnsubscribeURL":"https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe""#,
    ));
    assert_eq!(
        without,
        "Message\nline one\nline \"two\"\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
    );
    let with = canonical(&message("Notification", r#","Subject":"My First Message""#));
    assert_eq!(
        with,
        "Message\nline one\nline \"two\"\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubject\nMy First Message\nTimestamp\n2012-05-02T00:54:06.655Z\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\nNotification\n"
    );
}

#[test]
fn confirmations_sign_the_subscribe_url_and_token() {
    for kind in ["SubscriptionConfirmation", "UnsubscribeConfirmation"] {
        let body = message(
            kind,
            r#","Token":"2336412f37","SubscribeURL":"https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37","Subject":"not signed here""#,
        );
        assert_eq!(
            canonical(&body),
            format!("Message\nline one\nline \"two\"\nMessageId\n22b80b92-fdea-4c2c-8f9d-bdfb0c7bf324\nSubscribeURL\nhttps://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=2336412f37\nTimestamp\n2012-05-02T00:54:06.655Z\nToken\n2336412f37\nTopicArn\narn:aws:sns:us-west-2:123456789012:MyTopic\nType\n{kind}\n"),
            "{kind}"
        );
    }
}

#[test]
fn a_message_missing_a_field_or_of_an_unknown_kind_or_version_is_refused() {
    let refused = |body: &[u8]| SnsMessage::parse(body).err();
    assert_eq!(
        refused(&message("SubscriptionConfirmation", "")),
        Some(Rejection::MalformedMessage),
        "no Token nor SubscribeURL"
    );
    assert_eq!(
        refused(&message("Advertisement", "")),
        Some(Rejection::MalformedMessage)
    );
    let v3 = String::from_utf8(message("Notification", ""))
        .expect("utf8")
        .replace(r#""SignatureVersion":"1""#, r#""SignatureVersion":"3""#);
    assert_eq!(
        refused(v3.as_bytes()),
        Some(Rejection::UnknownSignatureVersion)
    );
    let unsigned = String::from_utf8(message("Notification", ""))
        .expect("utf8")
        .replace(r#""Signature":"AAAA","#, "");
    assert_eq!(
        refused(unsigned.as_bytes()),
        Some(Rejection::MissingSignature)
    );
    let twice = message("Notification", r#","Message":"another""#);
    assert_eq!(
        refused(&twice),
        Some(Rejection::MalformedMessage),
        "a field given twice"
    );
    assert_eq!(refused(b"not json"), Some(Rejection::MalformedMessage));
}

#[test]
fn the_default_patterns_take_sns_hosts_only() {
    let sns = SnsVerifier::with_defaults();
    let allowed = |url: &str| sns.cert_urls.iter().any(|p| p.matches(url));
    for good in [
        "https://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://SNS.eu-west-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://sns.cn-north-1.amazonaws.com.cn/SimpleNotificationService-0000.pem",
    ] {
        assert!(allowed(good), "{good}");
    }
    for bad in [
        "http://sns.us-east-1.amazonaws.com/SimpleNotificationService-0000.pem",
        "https://sns.us-east-1.amazonaws.com.evil.example/x.pem",
        "https://evil.example/sns.us-east-1.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com@evil.example/x.pem",
        "https://sns.us-east-1.amazonaws.com:8443/x.pem",
        "https://sns.amazonaws.com/x.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem?y=.pem",
        "https://sns.us-east-1.amazonaws.com/x.pem#y",
        "https://sns.us-east-1.amazonaws.com/x.txt",
        "https://sns.us-east-1.amazonaws.com/a/x.pem",
        "https://sns.us-east-1.amazonaws.com/.pem",
        "https://s3.us-east-1.amazonaws.com/x.pem",
        "not a url",
        "",
    ] {
        assert!(!allowed(bad), "{bad}");
    }
}

#[test]
fn a_pattern_may_name_a_port_and_a_literal_host_and_refuses_doubtful_forms() {
    let local = CertUrlPattern::parse("https://127.0.0.1:8443/certs/*.pem").expect("parses");
    assert!(local.matches("https://127.0.0.1:8443/certs/signing.pem"));
    assert!(!local.matches("https://127.0.0.1/certs/signing.pem"));
    assert!(!local.matches("https://127.0.0.2:8443/certs/signing.pem"));
    assert!(local.matches_host("https://127.0.0.1:8443/?Action=ConfirmSubscription&Token=x"));
    assert!(!local.matches_host("http://127.0.0.1:8443/?Action=ConfirmSubscription"));
    assert!(!local.matches_host("https://127.0.0.1:9999/?Action=ConfirmSubscription"));
    for bad in [
        "http://sns.*.amazonaws.com/*.pem",
        "https://sns.us-*.amazonaws.com/*.pem",
        "https://sns.*.amazonaws.com/**.pem",
        "https://sns.*.amazonaws.com/*.pem?x=1",
        "https://user@sns.*.amazonaws.com/*.pem",
        "sns.*.amazonaws.com/*.pem",
    ] {
        assert!(CertUrlPattern::parse(bad).is_err(), "{bad}");
    }
}

#[test]
fn the_subscribe_url_is_visited_only_on_a_certificate_host() {
    let confirming = |sns: &SnsVerifier, url: &str| {
        let body = message(
            "SubscriptionConfirmation",
            &format!(r#","Token":"t","SubscribeURL":"{url}""#),
        );
        sns.confirmation_url(&SnsMessage::parse(&body).expect("parses"))
    };
    let good = "https://sns.us-west-2.amazonaws.com/?Action=ConfirmSubscription&Token=t";
    let mut sns = SnsVerifier::with_defaults();
    sns.confirm_subscription = true;
    assert_eq!(
        confirming(&sns, good)
            .expect("allowed")
            .map(|u| u.to_string()),
        Some(good.to_string())
    );
    assert_eq!(
        confirming(&sns, "https://evil.example/?Action=ConfirmSubscription"),
        Err(Rejection::SubscribeUrlNotAllowed)
    );
    sns.confirm_subscription = false;
    assert_eq!(confirming(&sns, good), Ok(None), "off unless configured");
}

#[test]
fn the_certificate_cache_keeps_each_url_once_and_stays_bounded() {
    const PEM: &str = include_str!("../../../tests/data/sns-signing-cert.pem");
    let certificate = Arc::new(SigningCertificate::from_pem(PEM.as_bytes()).expect("cert"));
    let cache = CertificateCache::default();
    cache.insert("https://a/x.pem", Arc::clone(&certificate));
    cache.insert("https://a/x.pem", Arc::clone(&certificate));
    assert_eq!(cache.len(), 1);
    for n in 0..(CERTIFICATE_CACHE_ENTRIES * 2) {
        cache.insert(&format!("https://a/{n}.pem"), Arc::clone(&certificate));
    }
    assert_eq!(cache.len(), CERTIFICATE_CACHE_ENTRIES);
    assert!(
        cache.get("https://a/x.pem").is_none(),
        "the oldest went first"
    );
    assert!(cache
        .get(&format!(
            "https://a/{}.pem",
            CERTIFICATE_CACHE_ENTRIES * 2 - 1
        ))
        .is_some());
}

#[test]
fn only_an_rsa_certificate_is_taken() {
    assert!(SigningCertificate::from_pem(
        b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"
    )
    .is_err());
    assert!(SigningCertificate::from_pem(b"").is_err());
}
