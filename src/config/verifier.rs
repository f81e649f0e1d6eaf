//! What a route verifies with: a preset, an explicit scheme (`verify: {scheme: ...}` or the short
//! `hmac:`), or a shared token, with the route options a scheme may take.

use std::time::Duration;

use http::{HeaderName, Method, Uri};

use super::error::{invalid, Problem};
use super::raw::{RawBasicAuth, RawHeaderToken, RawHmac, RawQueryToken, RawVerify};
use crate::verify::handshake::Handshake;
use crate::verify::jwt::{JwtSpec, JwtVerifier};
use crate::verify::presets::{self, Preset, Spec};
use crate::verify::scheme::{Part, Template, TimestampSource};
use crate::verify::sns;
use crate::verify::spec::{HeaderSetSpec, SchemeSpec, TimestampSpec};
use crate::verify::{
    Algorithm, Encoding, Field, KeyFormat, Scheme, Secret, SignatureFormat, SignatureVerifier,
    SnsVerifier, TimeUnit, TokenSource, TokenVerifier, Verifier,
};
use std::time::SystemTime;

/// The keys of a route that choose and tune its verification.
pub(super) struct Choice<'r> {
    pub place: &'r str,
    pub provider: Option<&'r str>,
    pub verify: Option<RawVerify>,
    pub tolerance: Option<u64>,
    pub public_url: Option<&'r str>,
    pub secrets: &'r [(Secret, Option<SystemTime>)],
    pub sns: SnsOptions,
}

/// The route keys only the `aws-sns` preset takes.
#[derive(Default)]
pub(super) struct SnsOptions {
    pub cert_url_pattern: Option<Vec<String>>,
    pub topic_arns: Option<Vec<String>>,
    pub confirm_subscription: Option<bool>,
}

impl SnsOptions {
    /// The first SNS key given, to refuse it on a route that is not SNS.
    fn first_given(&self) -> Option<&'static str> {
        if self.cert_url_pattern.is_some() {
            Some("cert_url_pattern")
        } else if self.topic_arns.is_some() {
            Some("topic_arns")
        } else if self.confirm_subscription.is_some() {
            Some("confirm_subscription")
        } else {
            None
        }
    }
}

/// Whether a route's provider is one that verifies without secrets (SNS fetches its certificate).
pub(super) fn takes_no_secrets(provider: Option<&str>) -> bool {
    provider
        .and_then(presets::find)
        .is_some_and(|preset| matches!(preset.spec, Spec::AwsSns))
}

/// What a route's `provider` or `verify` resolves to.
pub(super) struct Built {
    pub verifier: Verifier,
    pub label: String,
    pub methods: Vec<Method>,
    pub event_field: Option<Field>,
    pub delivery_id_field: Option<Field>,
    pub handshake: Handshake,
}

/// `provider` or `verify`, exactly one.
pub(super) fn choose(choice: Choice<'_>) -> Result<Built, Problem> {
    let place = choice.place;
    match (choice.provider, &choice.verify) {
        (Some(_), Some(_)) => Err(invalid(
            place,
            "provider",
            "give either `provider` or `verify`, not both",
        )),
        (None, None) => Err(invalid(
            place,
            "provider",
            "a route needs `provider` or `verify`",
        )),
        (Some(provider), None) => {
            let preset = presets::find(provider).ok_or_else(|| {
                invalid(
                    place,
                    "provider",
                    crate::suggest::unknown_provider(provider),
                )
            })?;
            from_preset(&choice, preset)
        }
        (None, Some(_)) => from_verify(choice),
    }
}

fn from_preset(choice: &Choice<'_>, preset: &Preset) -> Result<Built, Problem> {
    let place = choice.place;
    if !matches!(preset.spec, Spec::AwsSns) {
        refuse_sns_options(choice)?;
    }
    let verifier = match &preset.spec {
        Spec::AwsSns => sns_verifier(choice)?,
        Spec::Signature(spec) => {
            let scheme = spec
                .scheme()
                .map_err(|e| invalid(place, "provider", format!("preset is broken: {e}")))?;
            signature_verifier(choice, scheme, spec.key_format)?
        }
        Spec::Jwt(spec) => jwt_verifier(choice, spec)?,
        Spec::HeaderToken(_) | Spec::QueryToken(_) | Spec::BasicAuth => {
            let source = preset
                .spec
                .token_source()
                .map_err(|e| invalid(place, "provider", e))?;
            refuse_scheme_options(choice.tolerance, choice.public_url)
                .map_err(|(key, m)| invalid(place, key, m))?;
            let source =
                source.ok_or_else(|| invalid(place, "provider", "preset has no token source"))?;
            token_verifier(choice, source)?
        }
    };
    Ok(Built {
        verifier,
        label: preset.name.to_string(),
        methods: preset.methods.to_vec(),
        event_field: preset.event,
        delivery_id_field: preset.delivery_id,
        handshake: preset.handshake,
    })
}

fn refuse_sns_options(choice: &Choice<'_>) -> Result<(), Problem> {
    match choice.sns.first_given() {
        Some(key) => Err(invalid(
            choice.place,
            key,
            "only `provider: aws-sns` takes this key",
        )),
        None => Ok(()),
    }
}

/// SNS: the certificate URL patterns (SNS's own hosts by default), the topic allow-list and
/// whether hookguard confirms subscriptions. It signs no timestamp and no URL.
fn sns_verifier(choice: &Choice<'_>) -> Result<Verifier, Problem> {
    let place = choice.place;
    refuse_scheme_options(choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(place, key, m))?;
    let patterns =
        match &choice.sns.cert_url_pattern {
            None => sns::DEFAULT_CERT_URL_PATTERNS
                .iter()
                .map(|text| text.to_string())
                .collect(),
            Some(list) if list.is_empty() => return Err(invalid(
                place,
                "cert_url_pattern",
                "an empty list would refuse every message; leave the key out for SNS's own hosts",
            )),
            Some(list) => list.clone(),
        };
    let patterns = patterns
        .iter()
        .map(|text| sns::CertUrlPattern::parse(text))
        .collect::<Result<Vec<_>, _>>()
        .map_err(|m| invalid(place, "cert_url_pattern", m))?;
    if choice.sns.topic_arns.as_ref().is_some_and(Vec::is_empty) {
        return Err(invalid(
            place,
            "topic_arns",
            "an empty list would refuse every message; leave the key out to allow every topic",
        ));
    }
    Ok(Verifier::Sns(SnsVerifier::new(
        patterns,
        choice.sns.topic_arns.clone(),
        choice.sns.confirm_subscription.unwrap_or(false),
    )))
}

/// A scheme with the route's options applied and its keys prepared.
fn signature_verifier(
    choice: &Choice<'_>,
    scheme: Scheme,
    key_format: KeyFormat,
) -> Result<Verifier, Problem> {
    let place = choice.place;
    let scheme = apply_route_options(scheme, choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(place, key, m))?;
    let verifier = SignatureVerifier::new(scheme, key_format, choice.secrets)
        .map_err(|(i, message)| invalid(place, format!("secrets[{i}]"), message))?;
    Ok(Verifier::Signature(verifier))
}

fn from_verify(mut choice: Choice<'_>) -> Result<Built, Problem> {
    let place = choice.place;
    refuse_sns_options(&choice)?;
    let Some(verify) = choice.verify.take() else {
        return Err(invalid(place, "verify", "missing"));
    };
    let explicit = match (verify.scheme, verify.hmac) {
        (Some(_), Some(_)) => None,
        (Some(spec), None) => Some(("verify.scheme", spec)),
        (None, Some(hmac)) => Some((
            "verify.hmac",
            hmac_spec(hmac).map_err(|(key, m)| invalid(place, key, m))?,
        )),
        (None, None) => None,
    };
    let chosen = (
        explicit,
        verify.query_token,
        verify.header_token,
        verify.jwt,
        verify.basic_auth,
    );
    let (verifier, label, methods) = match chosen {
        (Some((at, spec)), None, None, None, None) => explicit_scheme(&choice, at, &spec)?,
        (None, Some(token), None, None, None) => query_token(&choice, token)?,
        (None, None, Some(token), None, None) => header_token(&choice, token)?,
        (None, None, None, Some(spec), None) => {
            let label = format!("jwt on {}", spec.header);
            (jwt_verifier(&choice, &spec)?, label, vec![Method::POST])
        }
        (None, None, None, None, Some(RawBasicAuth {})) => basic_auth(&choice)?,
        _ => {
            return Err(invalid(
                place,
                "verify",
                "give exactly one of `scheme`, `hmac`, `query_token`, `header_token`, `jwt` or `basic_auth`",
            ))
        }
    };
    Ok(Built {
        verifier,
        label,
        methods,
        event_field: None,
        delivery_id_field: None,
        handshake: Handshake::None,
    })
}

type Chosen = (Verifier, String, Vec<Method>);

fn explicit_scheme(choice: &Choice<'_>, at: &str, spec: &SchemeSpec) -> Result<Chosen, Problem> {
    let scheme = spec
        .scheme()
        .map_err(|e| invalid(choice.place, format!("{at}.{}", e.key), e.message))?;
    let label = format!(
        "{} {} on {}",
        scheme.algorithm.as_str(),
        scheme.encoding.as_str(),
        match &scheme.signature_in_body {
            Some(pointer) => format!("body {pointer}"),
            None => scheme
                .header_sets
                .first()
                .and_then(|s| s.signatures.first())
                .map_or(String::new(), |h| h.to_string()),
        }
    );
    let verifier = signature_verifier(choice, scheme, spec.key_format)?;
    Ok((verifier, label, vec![Method::POST]))
}

/// A JWT scheme with its keys prepared. It signs no timestamp of its own and no URL, so the route
/// options for those are refused.
fn jwt_verifier(choice: &Choice<'_>, spec: &JwtSpec) -> Result<Verifier, Problem> {
    let place = choice.place;
    let header = spec
        .check()
        .map_err(|e| invalid(place, format!("verify.jwt.{}", e.key), e.message))?;
    refuse_scheme_options(choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(place, key, m))?;
    let verifier = JwtVerifier::new(spec, header, choice.secrets)
        .map_err(|(i, message)| invalid(place, format!("secrets[{i}]"), message))?;
    Ok(Verifier::Jwt(verifier))
}

fn query_token(choice: &Choice<'_>, token: RawQueryToken) -> Result<Chosen, Problem> {
    let place = choice.place;
    if token.param.is_empty() {
        return Err(invalid(
            place,
            "verify.query_token.param",
            "must not be empty",
        ));
    }
    refuse_scheme_options(choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(place, key, m))?;
    let label = format!("query_token on ?{}=", token.param);
    let verifier = TokenVerifier::new(TokenSource::Query(token.param), choice.secrets);
    Ok((Verifier::Token(verifier), label, vec![Method::GET]))
}

fn header_token(choice: &Choice<'_>, token: RawHeaderToken) -> Result<Chosen, Problem> {
    let place = choice.place;
    let header = HeaderName::from_bytes(token.header.as_bytes()).map_err(|_| {
        invalid(
            place,
            "verify.header_token.header",
            format!("{:?} is not a valid header name", token.header),
        )
    })?;
    refuse_scheme_options(choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(place, key, m))?;
    let label = format!("header_token on {header}");
    let verifier = TokenVerifier::new(TokenSource::Header(header), choice.secrets);
    Ok((Verifier::Token(verifier), label, vec![Method::POST]))
}

fn basic_auth(choice: &Choice<'_>) -> Result<Chosen, Problem> {
    refuse_scheme_options(choice.tolerance, choice.public_url)
        .map_err(|(key, m)| invalid(choice.place, key, m))?;
    let verifier = token_verifier(choice, TokenSource::Basic)?;
    Ok((verifier, "basic_auth".to_string(), vec![Method::POST]))
}

/// A token verifier over the route's secrets. Basic-auth secrets are `user:pass`: one without a
/// colon could never match a request, so it is refused at load rather than failing every delivery.
fn token_verifier(choice: &Choice<'_>, source: TokenSource) -> Result<Verifier, Problem> {
    if source == TokenSource::Basic {
        if let Some(i) = choice
            .secrets
            .iter()
            .position(|(secret, _)| !secret.expose().contains(&b':'))
        {
            return Err(invalid(
                choice.place,
                format!("secrets[{i}]"),
                "a basic-auth secret is written user:pass",
            ));
        }
    }
    Ok(Verifier::Token(TokenVerifier::new(source, choice.secrets)))
}

/// `tolerance` and `public_url` only mean something to schemes that use them, so elsewhere they are
/// a sign of a misunderstanding and refused.
fn apply_route_options(
    mut scheme: Scheme,
    tolerance: Option<u64>,
    public_url: Option<&str>,
) -> Result<Scheme, (&'static str, String)> {
    if let Some(seconds) = tolerance {
        let rule = scheme
            .timestamp
            .as_mut()
            .ok_or(("tolerance", "this scheme signs no timestamp".to_string()))?;
        rule.tolerance = Some(Duration::from_secs(seconds));
    }
    match (scheme.template.needs_url(), public_url) {
        (true, None) => Err((
            "public_url",
            "required: the exact URL given to the provider".to_string(),
        )),
        (false, Some(_)) => Err((
            "public_url",
            "this scheme does not sign the URL".to_string(),
        )),
        (true, Some(url)) => {
            let parsed: Uri = url
                .parse()
                .map_err(|e| ("public_url", format!("{url:?} is not a URL: {e}")))?;
            if parsed.scheme().is_none() || parsed.authority().is_none() || parsed.query().is_some()
            {
                return Err((
                    "public_url",
                    format!("{url:?}: give scheme, host and path, without a query"),
                ));
            }
            Ok(scheme)
        }
        (false, None) => Ok(scheme),
    }
}

fn refuse_scheme_options(
    tolerance: Option<u64>,
    public_url: Option<&str>,
) -> Result<(), (&'static str, String)> {
    if tolerance.is_some() {
        return Err(("tolerance", "this scheme signs no timestamp".into()));
    }
    if public_url.is_some() {
        return Err(("public_url", "this scheme does not sign the URL".into()));
    }
    Ok(())
}

/// The short `hmac:` form as the full description: one header set, a whole signature after an
/// optional prefix, raw keys, and a header timestamp checked ±300 s, as it has always meant.
fn hmac_spec(raw: RawHmac) -> Result<SchemeSpec, (&'static str, String)> {
    let name = |key: &'static str, text: &str| {
        HeaderName::from_bytes(text.as_bytes())
            .map(|_| text.to_string())
            .map_err(|_| (key, format!("{text:?} is not a valid header name")))
    };
    let header = name("verify.hmac.header", &raw.header)?;
    let algorithm = match raw.algorithm.as_deref() {
        None => Algorithm::HmacSha256,
        Some(text) => Algorithm::parse_hmac(text).ok_or((
            "verify.hmac.algorithm",
            format!("{text:?} is not one of sha1, sha256, sha512"),
        ))?,
    };
    let encoding = match raw.encoding.as_deref() {
        None => Encoding::Hex,
        Some(text) => Encoding::parse(text).ok_or((
            "verify.hmac.encoding",
            format!("{text:?} is not one of hex, base64"),
        ))?,
    };
    let template_text = raw.template.unwrap_or_else(|| "{body}".to_string());
    let template =
        Template::parse(&template_text).map_err(|e| ("verify.hmac.template", e.to_string()))?;
    let timestamp_header = raw
        .timestamp_header
        .as_deref()
        .map(|t| name("verify.hmac.timestamp_header", t))
        .transpose()?;
    let id_header = raw
        .id_header
        .as_deref()
        .map(|t| name("verify.hmac.id_header", t))
        .transpose()?;
    let unit = match raw.timestamp_unit.as_deref() {
        None | Some("s") => TimeUnit::Seconds,
        Some("ms") => TimeUnit::Millis,
        Some("rfc3339") => TimeUnit::Rfc3339,
        Some(other) => {
            return Err((
                "verify.hmac.timestamp_unit",
                format!("{other:?} is not one of s, ms, rfc3339"),
            ))
        }
    };
    if template.needs(&Part::Timestamp) != timestamp_header.is_some() {
        return Err((
            "verify.hmac.timestamp_header",
            "give it exactly when the template uses {timestamp}".into(),
        ));
    }
    if template.needs(&Part::Id) != id_header.is_some() {
        return Err((
            "verify.hmac.id_header",
            "give it exactly when the template uses {id}".into(),
        ));
    }
    // An explicit timestamp is checked both ways, five minutes by default, as most senders do.
    let timestamp = timestamp_header.as_ref().map(|_| TimestampSpec {
        source: TimestampSource::Header,
        unit,
        tolerance: Some(300),
        reject_future: true,
    });
    let prefixes = raw.prefix.filter(|p| !p.is_empty()).into_iter().collect();
    Ok(SchemeSpec {
        algorithm,
        encoding,
        key_format: KeyFormat::Raw,
        header_sets: vec![HeaderSetSpec {
            signatures: vec![header],
            timestamp: timestamp_header,
            id: id_header,
            ..Default::default()
        }],
        signature_in_body: None,
        format: SignatureFormat::Whole { prefixes },
        template: template_text,
        timestamp,
        body_sha256_param: None,
        prehash: None,
    })
}
