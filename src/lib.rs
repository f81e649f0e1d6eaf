//! hookguard: a reverse proxy that forwards only webhooks whose signatures check out.
//!
//! A request travels: accept -> admit (framing, canonical path, route, method, address, rate, size) ->
//! handshake -> precheck -> read body -> verify -> filter event -> claim -> deliver -> settle -> record. Anything that fails a step is answered by hookguard itself and never reaches the app.
//!
//! # Layout
//! - [`app`]: wiring, and the start and stop order.
//! - [`config`]: YAML -> validated [`config::Config`], with every doubt refused at load time.
//! - [`routing`]: path canonicalisation and longest-match route lookup.
//! - [`clientip`]: CIDR ranges and the client address behind trusted proxies.
//! - [`ratelimit`]: per-client token buckets.
//! - [`dedup`]: replay protection, in memory or in Redis shared by replicas.
//! - [`verify`]: pure signature verification: schemes, presets and prepared keys. No I/O.
//! - [`proxy`]: the per-request pipeline as named phases, the per-request context and record, and the
//!   header rules for what reaches the app.
//! - [`upstream`]: each worker's keep-alive connections to the app.
//! - [`response`]: every refusal and its status, in one exhaustive match.
//! - [`smuggling`]: spots HTTP/1.1 heads carrying both Content-Length and Transfer-Encoding, which
//!   hyper would otherwise silently accept as chunked.
//! - [`conn`]: per-connection deadlines: send_timeout, idle HTTP/2, the first request.
//! - [`server`]: the accept loop, TLS, HTTP/1.1 + HTTP/2 connections and graceful shutdown.
//! - [`tls`]: certificates for the listener and CA roots for https upstreams.
//! - [`admin`]: `/livez`, `/readyz` and `/metrics` on a separate listener.
//! - [`memory`]: the measured memory per held connection, against the cgroup memory limit.
//! - [`metrics`]: the Prometheus families.
//! - [`logbuffer`]: per-thread batching of log lines, so logging costs no write per request.
//! - [`logformat`]: the text and JSON line layouts, cheap enough to run on every request.
//! - [`reload`]: SIGHUP and file watching; a bad config never replaces a good one.
#![forbid(unsafe_code)]

pub mod admin;
pub mod app;
pub mod body;
pub mod clientip;
pub mod config;
pub mod conn;
pub mod dedup;
pub mod logbuffer;
pub mod logformat;
pub mod memory;
pub mod metrics;
pub mod proxy;
pub mod ratelimit;
pub mod response;
pub mod routing;
pub mod server;
pub mod smuggling;
pub mod tls;
pub mod upstream;
pub mod verify;
