//! hookguard: a reverse proxy that forwards only webhooks whose signatures check out.
//!
//! A request travels: accept -> canonical path -> route -> method -> body bound -> verify -> forward ->
//! relay. Anything that fails a step is answered by hookguard itself and never reaches the app.
//!
//! # Layout
//! - [`config`]: YAML -> validated [`config::Config`], with every doubt refused at load time.
//! - [`routing`]: path canonicalisation and longest-match route lookup.
//! - [`verify`]: pure signature verification: schemes, presets and prepared keys. No I/O.
//! - [`proxy`]: the per-request pipeline and the header rules for what reaches the app.
//! - [`response`]: every refusal and its status, in one exhaustive match.
//! - [`smuggling`]: spots HTTP/1.1 heads carrying both Content-Length and Transfer-Encoding, which
//!   hyper would otherwise silently accept as chunked.
//! - [`server`]: the accept loop, HTTP/1.1 + HTTP/2 connections and graceful shutdown.
#![forbid(unsafe_code)]

pub mod config;
pub mod proxy;
pub mod response;
pub mod routing;
pub mod server;
pub mod smuggling;
pub mod verify;
