//! The captured request file: an HTTP/1.1 request as sent (request line, headers, blank line,
//! body), parsed with httparse into the parts verification reads.

use http::{HeaderMap, HeaderName, HeaderValue, Method};

/// More headers than any webhook sends; a file with more is refused rather than cut short.
const MAX_HEADERS: usize = 128;

/// One captured request.
pub struct Captured {
    pub method: Method,
    /// The request target as written: the path and any `?query`.
    pub target: String,
    pub headers: HeaderMap,
    pub body: Vec<u8>,
    /// Bytes after the `Content-Length` body, which the proxy would never have read as this body.
    pub ignored: usize,
}

impl Captured {
    pub fn path(&self) -> &str {
        self.target.split_once('?').map_or(&self.target, |(p, _)| p)
    }

    pub fn query(&self) -> Option<&str> {
        self.target.split_once('?').map(|(_, q)| q)
    }
}

/// Parses the file; the error says what is wrong with it, for a usage error.
pub fn parse(bytes: &[u8]) -> Result<Captured, String> {
    let mut slots = [httparse::EMPTY_HEADER; MAX_HEADERS];
    let mut request = httparse::Request::new(&mut slots);
    let head = match request.parse(bytes) {
        Ok(httparse::Status::Complete(head)) => head,
        Ok(httparse::Status::Partial) => {
            return Err("the request ends before the blank line after its headers".into())
        }
        Err(e) => return Err(format!("not an HTTP/1.1 request: {e}")),
    };
    // httparse fills these on a complete parse; absent, the file is not what we expect.
    let method = request.method.ok_or("no method in the request line")?;
    let method = Method::from_bytes(method.as_bytes()).map_err(|e| e.to_string())?;
    let target = request
        .path
        .ok_or("no target in the request line")?
        .to_string();
    let headers = header_map(request.headers)?;
    let (body, ignored) = body(&headers, &bytes[head..])?;
    Ok(Captured {
        method,
        target,
        headers,
        body,
        ignored,
    })
}

fn header_map(parsed: &[httparse::Header<'_>]) -> Result<HeaderMap, String> {
    let mut headers = HeaderMap::new();
    for header in parsed {
        let name = HeaderName::from_bytes(header.name.as_bytes())
            .map_err(|_| format!("{:?} is not a header name", header.name))?;
        let value = HeaderValue::from_bytes(header.value)
            .map_err(|_| format!("the value of {name} is not a header value"))?;
        headers.append(name, value);
    }
    Ok(headers)
}

/// The body: `Content-Length` bytes when the header is there, else the rest of the file.
fn body(headers: &HeaderMap, rest: &[u8]) -> Result<(Vec<u8>, usize), String> {
    if headers.contains_key(http::header::TRANSFER_ENCODING) {
        return Err("a Transfer-Encoding body is not supported: save the request with the body decoded and a Content-Length".into());
    }
    let mut lengths = headers.get_all(http::header::CONTENT_LENGTH).iter();
    let Some(length) = lengths.next() else {
        return Ok((rest.to_vec(), 0));
    };
    if lengths.next().is_some() {
        return Err("Content-Length is given more than once".into());
    }
    let length: usize = length
        .to_str()
        .ok()
        .and_then(|text| text.trim().parse().ok())
        .ok_or("Content-Length is not a number")?;
    let body = rest.get(..length).ok_or_else(|| {
        format!(
            "Content-Length says {length} bytes but the file has {} after the headers",
            rest.len()
        )
    })?;
    Ok((body.to_vec(), rest.len() - length))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_length_bounds_the_body_and_lf_lines_are_accepted() {
        let parsed = parse(b"POST /a?x=1 HTTP/1.1\nHost: h\nContent-Length: 2\n\nhi\n").unwrap();
        assert_eq!(parsed.body, b"hi");
        assert_eq!(parsed.ignored, 1);
        assert_eq!((parsed.path(), parsed.query()), ("/a", Some("x=1")));
    }

    #[test]
    fn without_content_length_the_rest_is_the_body() {
        let parsed = parse(b"POST / HTTP/1.1\r\n\r\nhi\n").unwrap();
        assert_eq!(parsed.body, b"hi\n");
    }

    #[test]
    fn short_or_broken_files_are_refused() {
        assert!(parse(b"POST / HTTP/1.1\r\nContent-Length: 9\r\n\r\nhi").is_err());
        assert!(parse(b"POST / HTTP/1.1\r\nHost: h\r\n").is_err());
        assert!(parse(b"not a request\r\n\r\n").is_err());
    }
}
