//! hookguard: a reverse proxy that forwards only webhooks whose signatures check out.
//!
//! A request travels: accept -> admit (framing, canonical path, route, method, address, rate, size)
//! -> handshake -> precheck -> read body -> verify -> filter event -> claim -> deliver -> settle ->
//! record. Anything that fails a step is answered by hookguard itself and never reaches the app.
//!
//! # Layout
//! - [`app`]: wiring, and the start and stop order.
//! - [`config`]: YAML -> validated [`config::Config`], every problem in the file reported at once;
//!   the config in force and its reload.
//! - [`verify`]: pure signature verification: one scheme description shared by presets and YAML,
//!   prepared keys, tokens, handshakes. No I/O.
//! - [`proxy`]: the per-request pipeline as named phases, the per-request context and its record,
//!   the header policy, and every refusal with its status.
//! - [`upstream`]: each worker's keep-alive connections to the app.
//! - [`outbound`]: the only requests hookguard makes of its own: SNS signing certificates and
//!   subscription confirmations.
//! - [`server`]: the accept loop, TLS, HTTP/1.1 + HTTP/2 connections and graceful shutdown, with
//!   `conn` (per-connection deadlines) and `smuggling` (the HTTP/1.1 head tracker).
//! - [`tls`]: certificates for the listener and CA roots for https upstreams; config builds them,
//!   so they sit below both config and the server.
//! - [`dedup`]: replay protection, in memory or in Redis shared by replicas.
//! - [`delivery`]: store-and-forward; so far the durable spool store, not yet wired to routes.
//! - [`admin`]: `/livez`, `/readyz`, `/metrics`, the spool API (`/api/spool`, `/api/dead-letters`),
//!   the journal of recent requests (`/api/deliveries`, its live feed, `/api/routes`) and the
//!   inspector page, on a separate listener.
//! - [`telemetry`]: metrics, log batching and log line layouts.
//! - [`suggest`]: "did you mean" for misspelt config keys and preset names.
//! - [`memory`]: the measured memory per held connection, against the cgroup memory limit.
//! - The plain types that config builds and the proxy applies sit below both, so neither imports
//!   the other's internals: [`body`] (a body as its chunks), [`routing`] (canonical paths and
//!   route patterns), [`clientip`] (CIDRs and the client behind trusted proxies) and [`ratelimit`]
//!   (token buckets).
//! - `fuzzing` (hidden): entry points for the cargo-fuzz targets under `fuzz/`, not an API.
#![forbid(unsafe_code)]

/// The git commit this build came from (`git rev-parse --short HEAD`, by build.rs), or `unknown`
/// for a build without git, such as the Dockerfile's: for `--version` and build information.
pub const COMMIT: &str = env!("HOOKGUARD_COMMIT");

pub mod admin;
pub mod app;
pub mod body;
pub mod clientip;
pub mod config;
pub mod dedup;
pub mod delivery;
#[doc(hidden)]
pub mod fuzzing;
pub mod memory;
pub mod outbound;
pub mod proxy;
pub mod ratelimit;
pub mod routing;
pub mod server;
pub mod suggest;
pub mod telemetry;
pub mod tls;
pub mod upstream;
pub mod verify;
