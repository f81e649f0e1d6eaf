//! The per-request pipeline, from a request's head to its record.
//!
//! - [`exchange`]: one request's context, how it can end, and the record its log line and metrics
//!   are written from.
//! - [`phases`]: the pipeline as named phases: admit, handshake, precheck, read body, verify, filter
//!   event, claim, deliver, settle.
//! - [`headers`]: what of the client's head reaches the app, and of the app's head comes back.
//! - [`body`]: reading a body within its bounds.

mod body;
pub mod exchange;
pub mod headers;
mod phases;

use std::net::SocketAddr;
use std::sync::Arc;

use arc_swap::ArcSwap;
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use hyper::body::Incoming;

use crate::config::Config;
use crate::config::DedupStore;
use crate::dedup::{MemoryStore, RedisStore, Store};
use crate::metrics::Metrics;
use crate::smuggling::HeadVerdicts;
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

/// A config as it stands; replaced whole on reload, so a request sees one config from start to end.
pub struct Live {
    pub config: Config,
    /// Tells this config's per-worker upstream connections apart from an earlier config's.
    generation: u64,
}

impl Live {
    fn new(config: Config) -> Self {
        static GENERATION: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let generation = GENERATION.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        Live { config, generation }
    }
}

/// A reload that changes what takes effect only on restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RestartOnly {
    #[error("`listen` and `admin` take effect only on restart")]
    Listeners,
    #[error("`dedup` (the store) takes effect only on restart")]
    DedupStore,
}

pub struct Proxy {
    live: ArcSwap<Live>,
    metrics: Arc<Metrics>,
    /// Outlives reloads, so a reload never forgets which deliveries the app already took.
    dedup: Store,
}

impl Proxy {
    pub fn new(config: Config, metrics: Arc<Metrics>) -> Self {
        let dedup = match &config.dedup_store {
            DedupStore::Memory { max_entries } => Store::Memory(MemoryStore::new(*max_entries)),
            // The URL was validated with the config; should it still fail, dedup routes fail closed.
            DedupStore::Redis { url } => {
                RedisStore::new(url).map_or_else(Store::Unusable, Store::Redis)
            }
        };
        Proxy {
            live: ArcSwap::from_pointee(Live::new(config)),
            metrics,
            dedup,
        }
    }

    /// The config and client in force now.
    pub fn live(&self) -> Arc<Live> {
        self.live.load_full()
    }

    /// Puts a freshly validated config in force; requests already running finish on the old one.
    /// What binds sockets or holds state cannot move under a running process, so changing it is
    /// refused.
    pub fn replace(&self, config: Config) -> Result<(), RestartOnly> {
        let current = self.live.load();
        if config.listen != current.config.listen || config.admin != current.config.admin {
            return Err(RestartOnly::Listeners);
        }
        if config.dedup_store != current.config.dedup_store {
            return Err(RestartOnly::DedupStore);
        }
        self.live.store(Arc::new(Live::new(config)));
        Ok(())
    }

    pub fn metrics(&self) -> &Metrics {
        &self.metrics
    }

    /// Serves one request: the phases, then its one record, even if the client leaves midway.
    pub async fn handle(
        &self,
        request: Request<Incoming>,
        conn: &ConnectionInfo,
    ) -> Response<ProxyBody> {
        let live = self.live.load_full();
        let mut exchange = exchange::Exchange::begin(&self.metrics, &live, conn, &request);
        let (parts, body) = request.into_parts();
        let finished = self.pipeline(&mut exchange, parts, body).await;
        exchange.finish(finished)
    }
}
