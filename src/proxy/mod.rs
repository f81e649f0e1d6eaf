//! The per-request pipeline, from a request's head to its record.
//!
//! - [`exchange`]: one request's context, how it can end, and the record its log line and metrics
//!   are written from.
//! - [`phases`]: the pipeline as named phases: admit, handshake, precheck, read body, verify, filter
//!   event, claim, deliver, settle.
//! - [`headers`]: what of the client's head reaches the app, and of the app's head comes back.
//! - [`body`]: reading a body within its bounds.
//! - [`refusal`]: every refusal and its status, in one exhaustive match.

mod body;
pub mod exchange;
pub mod headers;
mod phases;
pub mod refusal;

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use crate::admin::Journal;
use crate::config::DedupStore;
use crate::config::{Live, LiveConfig};
use crate::dedup::{MemoryStore, RedisStore, Store};
use crate::delivery::Queue;
use crate::server::smuggling::HeadVerdicts;
use crate::telemetry::metrics::Metrics;
use crate::upstream::PooledBody;

pub use self::exchange::{Outcome, Record};
pub use self::headers::{PeerHeaders, ROUTE_HEADER, SHADOW_HEADER};
pub use self::phases::MAX_HEADER_FIELDS;

/// Our own small answers, or the app's streamed body.
pub type ProxyBody = Either<Full<Bytes>, PooledBody>;

/// Facts about the connection a request came in on.
#[derive(Clone)]
pub struct ConnectionInfo {
    pub peer: SocketAddr,
    pub head_verdicts: HeadVerdicts,
    /// The forwarding headers' values for this peer, made once per connection.
    pub peer_headers: Arc<PeerHeaders>,
}

pub struct Proxy {
    live: Arc<LiveConfig>,
    metrics: Arc<Metrics>,
    /// Recent requests for the admin API; sized at start.
    journal: Arc<Journal>,
    /// Outlives reloads, so a reload never forgets which deliveries the app already took.
    dedup: Store,
    /// The spool queue routes write to; `None` when the config has no `spool`.
    queue: Option<Arc<Queue>>,
}

impl Proxy {
    /// The dedup store is made from the config in force now; it is restart-only, so it stays.
    pub fn new(
        live: Arc<LiveConfig>,
        metrics: Arc<Metrics>,
        journal: Arc<Journal>,
        queue: Option<Arc<Queue>>,
    ) -> Self {
        let dedup = match &live.load().config.dedup_store {
            DedupStore::Memory { max_entries } => Store::Memory(MemoryStore::new(*max_entries)),
            // The URL was validated with the config; should it still fail, dedup routes fail closed.
            DedupStore::Redis { url } => {
                RedisStore::new(url).map_or_else(Store::Unusable, Store::Redis)
            }
        };
        Proxy {
            live,
            metrics,
            journal,
            dedup,
            queue,
        }
    }

    /// Serves one request: the phases, then its one record, even if the client leaves midway.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<ProxyBody> {
        let live = self.live.load();
        let mut exchange =
            exchange::Exchange::begin(&self.metrics, &self.journal, &live, conn, &request);
        let (parts, body) = request.into_parts();
        let finished = self.pipeline(&mut exchange, parts, body).await;
        exchange.finish(finished)
    }
}
