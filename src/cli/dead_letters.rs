//! `hookguard dead-letters list|replay|drop`: a thin HTTP client over the admin API's dead-letter
//! endpoints, so an operator on the host need not hand-write curl lines with the token in them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use anyhow::Context;
use bytes::Bytes;
use clap::{Args, Subcommand};
use http::{header, Method, Request, StatusCode};
use http_body_util::{BodyExt, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use serde_json::Value;

/// Where the token comes from when no `--token-file` is given.
const TOKEN_ENV: &str = "HOOKGUARD_ADMIN_TOKEN";
/// The admin API answers from memory or one store read; longer means something is wrong.
const TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Args)]
pub struct DeadLetters {
    /// The admin listener, as `admin:` in the config says (plain http).
    #[arg(long, global = true, default_value = "http://127.0.0.1:9090")]
    admin: String,
    /// A file holding the admin token. Without it, HOOKGUARD_ADMIN_TOKEN is read. There is no
    /// `--token`: a value on the command line shows in `ps` and shell history.
    #[arg(long, global = true, value_name = "PATH")]
    token_file: Option<PathBuf>,
    #[command(subcommand)]
    action: Action,
}

#[derive(Subcommand)]
enum Action {
    /// List dead letters, oldest first.
    List {
        #[arg(long)]
        route: Option<String>,
        /// How many, 1 to 1000 (the API's default is 100).
        #[arg(long)]
        limit: Option<u16>,
        /// Print the API's JSON instead of a table.
        #[arg(long)]
        json: bool,
    },
    /// Send a dead letter (or every dead letter of a route) to the app again, as attempt 1.
    Replay {
        #[arg(required_unless_present = "route", conflicts_with = "route")]
        id: Option<String>,
        #[arg(long)]
        route: Option<String>,
    },
    /// Remove a dead letter for good.
    Drop { id: String },
}

/// Runs one subcommand against the admin API; an error says what to do about it.
pub fn run(args: DeadLetters) -> anyhow::Result<()> {
    let api = Api::new(&args.admin, token(args.token_file.as_deref())?)?;
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(act(&api, args.action))
}

async fn act(api: &Api, action: Action) -> anyhow::Result<()> {
    match action {
        Action::List { route, limit, json } => list(api, route.as_deref(), limit, json).await,
        Action::Replay { id: Some(id), .. } => {
            let path = format!("/api/dead-letters/{}/replay", encode(&id));
            api.call(Method::POST, &path, Some(&id)).await?;
            println!("replayed {id}");
            Ok(())
        }
        Action::Replay { route, .. } => {
            let route = route.unwrap_or_default();
            let path = format!("/api/dead-letters/replay?route={}", encode(&route));
            let answer = api.call(Method::POST, &path, None).await?;
            let count = answer["replayed"].as_u64().unwrap_or(0);
            println!("replayed {count} dead letter(s) of route {route}");
            Ok(())
        }
        Action::Drop { id } => {
            let path = format!("/api/dead-letters/{}", encode(&id));
            api.call(Method::DELETE, &path, Some(&id)).await?;
            println!("dropped {id}");
            Ok(())
        }
    }
}

async fn list(
    api: &Api,
    route: Option<&str>,
    limit: Option<u16>,
    json: bool,
) -> anyhow::Result<()> {
    let mut query = Vec::new();
    if let Some(route) = route {
        query.push(format!("route={}", encode(route)));
    }
    if let Some(limit) = limit {
        query.push(format!("limit={limit}"));
    }
    let path = format!("/api/dead-letters?{}", query.join("&"));
    let answer = api.call(Method::GET, &path, None).await?;
    if json {
        println!("{answer:#}");
        return Ok(());
    }
    let letters = answer["dead_letters"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    if letters.is_empty() {
        println!("no dead letters");
        return Ok(());
    }
    print!("{}", table(&letters));
    Ok(())
}

const COLUMNS: [&str; 7] = [
    "id",
    "route",
    "reason",
    "attempts",
    "last_status",
    "received_at",
    "event",
];

/// Dead letters as aligned columns; a missing value shows as `-`.
fn table(letters: &[Value]) -> String {
    let rows: Vec<Vec<String>> = letters
        .iter()
        .map(|letter| COLUMNS.iter().map(|c| cell(&letter[*c])).collect())
        .collect();
    let widths: Vec<usize> = (0..COLUMNS.len())
        .map(|i| {
            rows.iter()
                .map(|row| row[i].chars().count())
                .chain([COLUMNS[i].len()])
                .max()
                .unwrap_or(0)
        })
        .collect();
    let header: Vec<String> = COLUMNS.iter().map(|c| c.to_string()).collect();
    std::iter::once(&header)
        .chain(&rows)
        .map(|row| line(row, &widths))
        .collect()
}

fn line(row: &[String], widths: &[usize]) -> String {
    let cells: Vec<String> = row
        .iter()
        .zip(widths)
        .map(|(text, width)| format!("{text:<width$}"))
        .collect();
    format!("{}\n", cells.join("  ").trim_end())
}

/// A value for a terminal: the event type and route come from senders and config, so control
/// characters (escape sequences) are shown escaped rather than sent to the terminal.
fn cell(value: &Value) -> String {
    let text = match value {
        Value::Null => "-".to_string(),
        Value::String(text) => text.clone(),
        other => other.to_string(),
    };
    text.chars()
        .flat_map(|c| {
            let escaped: Vec<char> = if c.is_control() {
                c.escape_default().collect()
            } else {
                vec![c]
            };
            escaped
        })
        .collect()
}

fn encode(text: &str) -> String {
    utf8_percent_encode(text, NON_ALPHANUMERIC).to_string()
}

/// The token from `--token-file`, else the environment; None when neither gives one.
fn token(file: Option<&Path>) -> anyhow::Result<Option<String>> {
    let raw = match file {
        Some(path) => std::fs::read(path)
            .with_context(|| format!("cannot read the token file {}", path.display()))?,
        None => match std::env::var(TOKEN_ENV) {
            Ok(value) => value.into_bytes(),
            Err(_) => return Ok(None),
        },
    };
    let token = hookguard::config::without_line_ending(raw);
    if token.is_empty() {
        return Ok(None);
    }
    let token = String::from_utf8(token).context("the admin token is not UTF-8 text")?;
    Ok(Some(token))
}

/// The admin API at one base URL, with the token when there is one.
struct Api {
    base: String,
    token: Option<String>,
    client: Client<hyper_util::client::legacy::connect::HttpConnector, Empty<Bytes>>,
}

impl Api {
    fn new(base: &str, token: Option<String>) -> anyhow::Result<Api> {
        let uri: http::Uri = base
            .parse()
            .with_context(|| format!("--admin {base:?} is not a URL"))?;
        if uri.scheme_str() != Some("http") || uri.authority().is_none() {
            anyhow::bail!("--admin must be an http:// URL such as http://127.0.0.1:9090");
        }
        let client = Client::builder(TokioExecutor::new()).build_http();
        Ok(Api {
            base: base.trim_end_matches('/').to_string(),
            token,
            client,
        })
    }

    /// Sends one request; Ok with the JSON answer (Null for none) on 2xx. `id` names the dead
    /// letter a 404 is about.
    async fn call(&self, method: Method, path: &str, id: Option<&str>) -> anyhow::Result<Value> {
        let (status, body) = tokio::time::timeout(TIMEOUT, self.send(method, path))
            .await
            .with_context(|| format!("the admin API at {} did not answer", self.base))??;
        let answer: Value = serde_json::from_slice(&body).unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(answer);
        }
        Err(self.refusal(status, &answer, id))
    }

    async fn send(&self, method: Method, path: &str) -> anyhow::Result<(StatusCode, Bytes)> {
        let mut request = Request::builder()
            .method(method)
            .uri(format!("{}{path}", self.base));
        if let Some(token) = &self.token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        let request = request
            .body(Empty::new())
            .context("the admin token cannot be sent in a header")?;
        let response = self
            .client
            .request(request)
            .await
            .with_context(|| format!("cannot reach the admin API at {}", self.base))?;
        let status = response.status();
        let body = response
            .into_body()
            .collect()
            .await
            .context("the admin API's answer broke off")?
            .to_bytes();
        Ok((status, body))
    }

    /// What an error status means for someone at a terminal.
    fn refusal(&self, status: StatusCode, answer: &Value, id: Option<&str>) -> anyhow::Error {
        let said = answer["error"].as_str().unwrap_or("");
        match (status, id) {
            (StatusCode::UNAUTHORIZED, _) if self.token.is_none() => anyhow::anyhow!(
                "unauthorized: the admin API needs the token; give --token-file PATH or set {TOKEN_ENV}"
            ),
            (StatusCode::UNAUTHORIZED, _) => {
                anyhow::anyhow!("unauthorized: the admin API refused the token given")
            }
            (StatusCode::FORBIDDEN, _) => anyhow::anyhow!(
                "forbidden: {said}; set admin_token in hookguard's config to allow this"
            ),
            (StatusCode::NOT_FOUND, Some(id)) if said == "not found" => {
                anyhow::anyhow!("not found: no dead letter {id}")
            }
            _ if said.is_empty() => anyhow::anyhow!("the admin API answered {status}"),
            _ => anyhow::anyhow!("the admin API answered {status}: {said}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_aligns_and_escapes() {
        let letters = vec![serde_json::json!({
            "id": "abc", "route": "gh", "reason": "rejected", "attempts": 1,
            "last_status": null, "received_at": "2024-01-01T00:00:00Z", "event": "pu\u{1b}[31m"
        })];
        let text = table(&letters);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines.len(), 2);
        assert!(lines[0].starts_with("id   route  reason"), "{text}");
        assert!(lines[1].contains(" -  "), "{text}");
        assert!(lines[1].ends_with("pu\\u{1b}[31m"), "{text}");
    }
}
