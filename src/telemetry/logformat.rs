//! The log line layouts, text and JSON: what tracing-subscriber's `Full` and flattened `json`
//! formats print, without their per-field styling and allocation, and with control characters escaped
//! in every text value so that no value can forge a line.
//!
//! The per-request line was a sixth of the proxy's non-hashing instructions under the stock formatter
//! (callgrind, 1 KiB requests); most of that went to painting field names in no colour at all.

use std::fmt::{self, Write};
use std::time::SystemTime;

use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::fmt::format::Writer;
use tracing_subscriber::fmt::{FmtContext, FormatEvent, FormatFields};
use tracing_subscriber::registry::LookupSpan;

/// `2026-11-22T23:08:25.054911Z  INFO hookguard::proxy: request route=gh status=401`, or one JSON
/// object per line with the same fields at the top level.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LineFormat {
    Text,
    Json,
}

impl<S, N> FormatEvent<S, N> for LineFormat
where
    S: Subscriber + for<'a> LookupSpan<'a>,
    N: for<'a> FormatFields<'a> + 'static,
{
    fn format_event(
        &self,
        _ctx: &FmtContext<'_, S, N>,
        mut writer: Writer<'_>,
        event: &Event<'_>,
    ) -> fmt::Result {
        let meta = event.metadata();
        let now = humantime::format_rfc3339_micros(SystemTime::now());
        match self {
            LineFormat::Text => {
                write!(
                    writer,
                    "{now} {} {}: ",
                    padded_level(meta.level()),
                    meta.target()
                )?;
                let mut fields = TextFields {
                    out: &mut writer,
                    first: true,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
            }
            LineFormat::Json => {
                write!(
                    writer,
                    r#"{{"timestamp":"{now}","level":"{}""#,
                    meta.level().as_str()
                )?;
                let mut fields = JsonFields {
                    out: &mut writer,
                    result: Ok(()),
                };
                event.record(&mut fields);
                fields.result?;
                writer.write_str(r#","target":"#)?;
                write_json_string(&mut writer, meta.target())?;
                writer.write_char('}')?;
            }
        }
        writer.write_char('\n')
    }
}

fn padded_level(level: &Level) -> &'static str {
    match *level {
        Level::TRACE => "TRACE",
        Level::DEBUG => "DEBUG",
        Level::INFO => " INFO",
        Level::WARN => " WARN",
        Level::ERROR => "ERROR",
    }
}

/// `message name=value name="text"`: a `%` value as displayed, a `?` value or a string as Debug
/// prints it (quoted), a number bare.
struct TextFields<'w, W> {
    out: &'w mut W,
    first: bool,
    result: fmt::Result,
}

impl<W: Write> TextFields<'_, W> {
    fn begin(&mut self, field: &Field) -> fmt::Result {
        if !std::mem::take(&mut self.first) {
            self.out.write_char(' ')?;
        }
        if field.name() != "message" {
            self.out.write_str(text_name(field.name()))?;
            self.out.write_char('=')?;
        }
        Ok(())
    }
}

impl<W: Write> Visit for TextFields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        if self.result.is_err() {
            return;
        }
        self.result = self.begin(field).and_then(|()| {
            if field.name() == "message" {
                Escaping(&mut *self.out).write_str(value)
            } else if value
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
            {
                // What `{:?}` prints for such a string, without visiting it char by char.
                self.out.write_char('"')?;
                self.out.write_str(value)?;
                self.out.write_char('"')
            } else {
                write!(self.out, "{value:?}")
            }
        });
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        if self.result.is_ok() {
            self.result = self.begin(field).and_then(|()| write!(self.out, "{value}"));
        }
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        if self.result.is_ok() {
            self.result = self.begin(field).and_then(|()| write!(self.out, "{value}"));
        }
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        if self.result.is_ok() {
            self.result = self
                .begin(field)
                .and_then(|()| write!(Escaping(&mut *self.out), "{value:?}"));
        }
    }
}

/// The short name a text line uses for a field logged under its OpenTelemetry name (the JSON
/// layout keeps those): a person reads `status=502`, a pipeline `http.response.status_code`.
fn text_name(name: &str) -> &str {
    match name {
        "http.request.method" => "method",
        "url.path" => "path",
        "network.peer.address" => "peer",
        "client.address" => "client",
        "http.response.status_code" => "status",
        "user_agent.original" => "user_agent",
        other => other.strip_prefix("hookguard.").unwrap_or(other),
    }
}

/// Text with C0 controls but tab, DEL and C1 controls written as escapes, so that a value holding a
/// newline or a terminal sequence stays inside its own line and field.
struct Escaping<'w, W>(&'w mut W);

impl<W: Write> Write for Escaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        // 0xC2 leads every UTF-8 encoding of a C1 control.
        if !text
            .bytes()
            .any(|b| (b < 0x20 && b != b'\t') || b == 0x7f || b == 0xc2)
        {
            return self.0.write_str(text);
        }
        for ch in text.chars() {
            match u32::from(ch) {
                0x09 => self.0.write_char(ch)?,
                code @ (0..=0x1f | 0x7f) => write!(self.0, "\\x{code:02x}")?,
                code @ 0x80..=0x9f => write!(self.0, "\\u{{{code:x}}}")?,
                _ => self.0.write_char(ch)?,
            }
        }
        Ok(())
    }
}

/// `,"name":value` for each field: strings and `%`/`?` values as JSON strings, numbers and booleans as
/// themselves.
struct JsonFields<'w, W> {
    out: &'w mut W,
    result: fmt::Result,
}

impl<W: Write> JsonFields<'_, W> {
    fn entry(&mut self, field: &Field, value: impl FnOnce(&mut W) -> fmt::Result) {
        if self.result.is_ok() {
            self.result = self
                .out
                .write_char(',')
                .and_then(|()| write_json_string(self.out, field.name()))
                .and_then(|()| self.out.write_char(':'))
                .and_then(|()| value(self.out));
        }
    }
}

impl<W: Write> Visit for JsonFields<'_, W> {
    fn record_str(&mut self, field: &Field, value: &str) {
        self.entry(field, |out| write_json_string(out, value));
    }

    fn record_u64(&mut self, field: &Field, value: u64) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_i64(&mut self, field: &Field, value: i64) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_bool(&mut self, field: &Field, value: bool) {
        self.entry(field, |out| write!(out, "{value}"));
    }

    fn record_f64(&mut self, field: &Field, value: f64) {
        self.entry(field, |out| {
            if value.is_finite() {
                write!(out, "{value:?}")
            } else {
                out.write_str("null")
            }
        });
    }

    fn record_debug(&mut self, field: &Field, value: &dyn fmt::Debug) {
        self.entry(field, |out| {
            out.write_char('"')?;
            write!(JsonEscaping(&mut *out), "{value:?}")?;
            out.write_char('"')
        });
    }
}

fn write_json_string<W: Write>(out: &mut W, text: &str) -> fmt::Result {
    out.write_char('"')?;
    JsonEscaping(&mut *out).write_str(text)?;
    out.write_char('"')
}

/// The inside of a JSON string, escaped as serde_json escapes it.
struct JsonEscaping<'w, W>(&'w mut W);

impl<W: Write> Write for JsonEscaping<'_, W> {
    fn write_str(&mut self, text: &str) -> fmt::Result {
        let mut plain_from = 0;
        for (at, byte) in text.bytes().enumerate() {
            let escape = match byte {
                b'"' => "\\\"",
                b'\\' => "\\\\",
                b'\n' => "\\n",
                b'\r' => "\\r",
                b'\t' => "\\t",
                0x08 => "\\b",
                0x0c => "\\f",
                0..=0x1f => "",
                _ => continue,
            };
            self.0.write_str(&text[plain_from..at])?;
            if escape.is_empty() {
                write!(self.0, "\\u{byte:04x}")?;
            } else {
                self.0.write_str(escape)?;
            }
            plain_from = at + 1;
        }
        self.0.write_str(&text[plain_from..])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io;
    use std::sync::{Arc, Mutex};
    use tracing_subscriber::fmt::MakeWriter;

    #[derive(Clone, Default)]
    struct Captured(Arc<Mutex<Vec<u8>>>);

    impl io::Write for Captured {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0
                .lock()
                .map_err(|_| io::ErrorKind::Other)?
                .extend_from_slice(bytes);
            Ok(bytes.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl<'a> MakeWriter<'a> for Captured {
        type Writer = Captured;
        fn make_writer(&'a self) -> Captured {
            self.clone()
        }
    }

    impl Captured {
        fn lines(&self) -> Vec<String> {
            let bytes = self.0.lock().expect("lock").clone();
            String::from_utf8(bytes)
                .expect("utf-8")
                .lines()
                .map(str::to_owned)
                .collect()
        }
    }

    /// Every shape of event hookguard logs, with awkward values among them.
    fn log_the_sample_events() {
        let route: Arc<str> = Arc::from("drivewidget");
        let peer: std::net::IpAddr = [127, 0, 0, 1].into();
        let latency_us: u64 = 2163;
        tracing::info!(
            route = %route,
            method = %http::Method::POST,
            path = %"/webhooks/drivewidget",
            peer = %peer,
            outcome = %"forwarded",
            reason = %"-",
            delivery = "d-1 \"quoted\" \\ é",
            status = 200u16,
            latency_us,
            "request"
        );
        tracing::warn!(error = %"connection refused (os error 111)", "upstream request failed");
        tracing::warn!(cause = "SIGHUP", "config reloaded");
        tracing::info!(addr = %"127.0.0.1:8080", tls = false, routes = 3, "listening");
        tracing::info!(grace_s = 20.0, offset = -4i64, "shutting down");
        tracing::error!(debugged = ?vec!["a", "b"], "{} and {}", "formatted", 42);
        tracing::info!(only = "a field");
        tracing::debug!("a route named \"x\" ignores tab\tand unicode ü");
    }

    fn capture(format: Option<LineFormat>, json: bool) -> Vec<String> {
        let captured = Captured::default();
        let builder = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .with_max_level(Level::DEBUG)
            .with_ansi(false);
        let dispatch = match (format, json) {
            (Some(format), _) => tracing::Dispatch::new(builder.event_format(format).finish()),
            (None, false) => tracing::Dispatch::new(builder.finish()),
            (None, true) => tracing::Dispatch::new(builder.json().flatten_event(true).finish()),
        };
        tracing::dispatcher::with_default(&dispatch, log_the_sample_events);
        captured.lines()
    }

    #[test]
    fn text_lines_match_tracing_subscribers_full_format() {
        let ours = capture(Some(LineFormat::Text), false);
        let stock = capture(None, false);
        assert_eq!(ours.len(), 8);
        assert_eq!(ours.len(), stock.len());
        for (ours, stock) in ours.iter().zip(&stock) {
            let (our_time, our_rest) = ours.split_once(' ').expect("a timestamp");
            let (_, stock_rest) = stock.split_once(' ').expect("a timestamp");
            humantime::parse_rfc3339(our_time).expect("an RFC 3339 timestamp");
            assert_eq!(our_rest, stock_rest);
        }
    }

    #[test]
    fn json_lines_match_tracing_subscribers_flattened_json_format() {
        let ours = capture(Some(LineFormat::Json), true);
        let stock = capture(None, true);
        assert_eq!(ours.len(), 8);
        assert_eq!(ours.len(), stock.len());
        let without_timestamp = |line: &str| {
            let mut value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            let time = value["timestamp"].as_str().expect("a timestamp").to_owned();
            humantime::parse_rfc3339(&time).expect("an RFC 3339 timestamp");
            value
                .as_object_mut()
                .expect("an object")
                .remove("timestamp");
            // Compared as text too, so that key order counts.
            (value.clone(), serde_json::to_string(&value).expect("JSON"))
        };
        for (ours, stock) in ours.iter().zip(&stock) {
            assert!(ours.starts_with(r#"{"timestamp":""#), "{ours}");
            assert_eq!(without_timestamp(ours), without_timestamp(stock));
        }
    }

    #[test]
    fn a_value_with_control_characters_cannot_start_a_line_of_its_own() {
        let captured = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(captured.clone())
            .event_format(LineFormat::Text)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            tracing::info!(
                path = %"/a\n2026-01-01T00:00:00Z  INFO forged",
                peer = %"\u{1b}[2J\u{9b}",
                "request\r"
            );
        });
        let lines = captured.lines();
        assert_eq!(lines.len(), 1, "{lines:?}");
        assert!(lines[0].ends_with(
            r"request\x0d path=/a\x0a2026-01-01T00:00:00Z  INFO forged peer=\x1b[2J\u{9b}"
        ));
    }

    #[test]
    fn text_lines_shorten_the_opentelemetry_names_json_lines_keep() {
        let log = || {
            tracing::info!(
                hookguard.route = "gh",
                http.request.method = "POST",
                http.response.status_code = 502u16,
                hookguard.upstream.error = "cannot connect",
                "request"
            );
        };
        let text = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(text.clone())
            .event_format(LineFormat::Text)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        assert!(
            text.lines()[0].ends_with(
                r#"request route="gh" method="POST" status=502 upstream.error="cannot connect""#
            ),
            "{:?}",
            text.lines()
        );
        let json = Captured::default();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(json.clone())
            .event_format(LineFormat::Json)
            .finish();
        tracing::subscriber::with_default(subscriber, log);
        let line: serde_json::Value = serde_json::from_str(&json.lines()[0]).expect("JSON");
        assert_eq!(line["hookguard.route"], "gh");
        assert_eq!(line["http.request.method"], "POST");
        assert_eq!(line["http.response.status_code"], 502);
        assert_eq!(line["hookguard.upstream.error"], "cannot connect");
    }

    #[test]
    fn json_strings_escape_what_json_requires() {
        let mut out = String::new();
        write_json_string(&mut out, "a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{7f}é").expect("write");
        let parsed: String = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(parsed, "a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{7f}é");
        assert_eq!(
            out,
            serde_json::to_string("a\"b\\c\nd\re\tf\u{8}\u{c}\u{1}\u{7f}é").expect("JSON")
        );
    }
}
