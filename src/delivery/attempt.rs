//! One attempt to hand a spooled delivery to the app: the request as direct mode would have sent
//! it plus `X-Hookguard-Delivery` and `X-Hookguard-Attempt`, and what the app's answer means.

use std::time::Duration;

use bytes::Bytes;
use http::header::{HeaderName, HeaderValue, RETRY_AFTER};
use http::{HeaderMap, Method, Request, StatusCode, Uri, Version};
use http_body_util::BodyExt;

use super::spool::{AttemptEnd, Delivery};
use crate::body::RawBody;
use crate::config::{Live, Route};
use crate::upstream::{self, UpstreamError};

pub const DELIVERY_HEADER: HeaderName = HeaderName::from_static("x-hookguard-delivery");
pub const ATTEMPT_HEADER: HeaderName = HeaderName::from_static("x-hookguard-attempt");

/// The longest `Retry-After` honoured: an app asking for more is retried on the schedule.
const MAX_RETRY_AFTER: Duration = Duration::from_secs(3600);

/// What an attempt's end means for the delivery.
pub enum Verdict {
    /// The app answered 2xx.
    Delivered(StatusCode),
    /// Worth trying again: no answer, 408, 425, 429 or 5xx. `retry_after` is the app's own ask.
    Retry {
        end: AttemptEnd,
        retry_after: Option<Duration>,
    },
    /// Any other status: the same request would be refused again.
    Rejected(AttemptEnd),
}

/// Sends `delivery` to `route`'s app as attempt `number`, within `timeout` for the whole answer.
pub async fn send(
    live: &Live,
    route: &Route,
    delivery: &Delivery,
    number: u32,
    timeout: Duration,
) -> Verdict {
    let request = match request(delivery, number) {
        Ok(request) => request,
        Err(error) => return Verdict::Rejected(no_answer(error)),
    };
    let exchange = async {
        let response = upstream::send(
            live.generation,
            &live.config.upstream_tls,
            &route.upstream,
            request,
        )
        .await?;
        let status = response.status();
        let retry_after = retry_after(response.headers());
        // Read to the end so the connection goes back for the next attempt; the body is dropped.
        let mut body = response.into_body();
        while let Some(Ok(_)) = body.frame().await {}
        Ok::<_, UpstreamError>((status, retry_after))
    };
    match tokio::time::timeout(timeout, exchange).await {
        Err(_) => Verdict::Retry {
            end: no_answer(format!("no answer within {}s", timeout.as_secs_f32())),
            retry_after: None,
        },
        Ok(Err(error)) => Verdict::Retry {
            end: no_answer(short_error(&error)),
            retry_after: None,
        },
        Ok(Ok((status, retry_after))) => judge(status, retry_after),
    }
}

fn judge(status: StatusCode, retry_after: Option<Duration>) -> Verdict {
    if status.is_success() {
        return Verdict::Delivered(status);
    }
    let end = AttemptEnd {
        status: Some(status.as_u16()),
        error: format!("status {}", status.as_u16()),
    };
    let retryable = matches!(status.as_u16(), 408 | 425 | 429) || status.is_server_error();
    if retryable {
        Verdict::Retry { end, retry_after }
    } else {
        Verdict::Rejected(end)
    }
}

fn no_answer(error: String) -> AttemptEnd {
    AttemptEnd {
        status: None,
        error,
    }
}

/// The OS's or hyper's words for the failure; neither carries a secret or a body.
fn short_error(error: &UpstreamError) -> String {
    let (mut text, mut source): (String, Option<&(dyn std::error::Error + 'static)>) = match error {
        UpstreamError::Unreachable(cause) => ("cannot connect".into(), Some(cause.as_ref())),
        UpstreamError::Failed(cause) => ("failed".into(), Some(cause)),
    };
    while let Some(cause) = source {
        text = format!("{text}: {cause}");
        source = cause.source();
    }
    text.chars().take(200).collect()
}

/// `Retry-After` in seconds, capped at an hour; a date or garbage is ignored.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let seconds: u64 = headers
        .get(RETRY_AFTER)?
        .to_str()
        .ok()?
        .trim()
        .parse()
        .ok()?;
    Some(Duration::from_secs(seconds).min(MAX_RETRY_AFTER))
}

fn request(delivery: &Delivery, number: u32) -> Result<Request<crate::body::UpstreamBody>, String> {
    let unbuildable = |what: &str| format!("spooled {what} cannot be sent");
    let method =
        Method::from_bytes(delivery.method.as_bytes()).map_err(|_| unbuildable("method"))?;
    let uri: Uri = delivery
        .path_and_query
        .parse()
        .map_err(|_| unbuildable("path"))?;
    let mut headers = HeaderMap::with_capacity(delivery.headers.len() + 2);
    for (name, value) in &delivery.headers {
        let name = HeaderName::from_bytes(name).map_err(|_| unbuildable("header name"))?;
        let value = HeaderValue::from_bytes(value).map_err(|_| unbuildable("header value"))?;
        headers.append(name, value);
    }
    headers.insert(
        DELIVERY_HEADER,
        HeaderValue::from_str(delivery.id.as_str()).map_err(|_| unbuildable("id"))?,
    );
    headers.insert(ATTEMPT_HEADER, HeaderValue::from(number));
    let mut request = Request::new(RawBody::from(Bytes::clone(&delivery.body)).into_upstream());
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    *request.version_mut() = Version::HTTP_11;
    *request.headers_mut() = headers;
    Ok(request)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statuses_are_judged_as_the_contract_says() {
        let kind = |code: u16| match judge(StatusCode::from_u16(code).unwrap(), None) {
            Verdict::Delivered(_) => "delivered",
            Verdict::Retry { .. } => "retry",
            Verdict::Rejected(_) => "rejected",
        };
        for code in [200, 201, 202, 204, 299] {
            assert_eq!(kind(code), "delivered", "{code}");
        }
        for code in [408, 425, 429, 500, 502, 503, 504, 599] {
            assert_eq!(kind(code), "retry", "{code}");
        }
        for code in [301, 304, 400, 401, 403, 404, 409, 410, 413, 422] {
            assert_eq!(kind(code), "rejected", "{code}");
        }
    }

    #[test]
    fn retry_after_is_seconds_capped_at_an_hour() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(RETRY_AFTER, HeaderValue::from_str(value).unwrap());
            retry_after(&headers)
        };
        assert_eq!(with("120"), Some(Duration::from_secs(120)));
        assert_eq!(with("999999"), Some(MAX_RETRY_AFTER));
        assert_eq!(with("Wed, 21 Oct 2015 07:28:00 GMT"), None);
        assert_eq!(with("-5"), None);
        assert_eq!(retry_after(&HeaderMap::new()), None);
    }
}
