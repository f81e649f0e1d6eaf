//! The config in force: replaced whole on reload, so a request sees one config from start to end,
//! and what only a restart may change.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use arc_swap::ArcSwap;

use super::Config;

/// A config as it stands, with the generation that tells its per-worker upstream connections apart
/// from an earlier config's.
pub struct Live {
    pub config: Config,
    pub generation: u64,
}

impl Live {
    fn new(config: Config) -> Self {
        static GENERATION: AtomicU64 = AtomicU64::new(0);
        Live {
            config,
            generation: GENERATION.fetch_add(1, Ordering::Relaxed),
        }
    }
}

/// A reload that changes what takes effect only on restart.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum RestartOnly {
    #[error("`listen` and `admin` take effect only on restart")]
    Listeners,
    #[error("`dedup` (the store) takes effect only on restart")]
    DedupStore,
    #[error("`spool` takes effect only on restart")]
    Spool,
    /// The journal is sized once, at start.
    #[error("`admin_recent` takes effect only on restart")]
    AdminRecent,
    /// The worker threads are started once.
    #[error("`workers` takes effect only on restart")]
    Workers,
    /// Each worker's idle list is bounded once, at start.
    #[error("`limits.upstream_idle_per_worker` takes effect only on restart")]
    UpstreamIdle,
}

/// The config in force, shared by the server, the proxy and reload.
pub struct LiveConfig(ArcSwap<Live>);

impl LiveConfig {
    pub fn new(config: Config) -> Self {
        LiveConfig(ArcSwap::from_pointee(Live::new(config)))
    }

    /// The config in force now.
    pub fn load(&self) -> Arc<Live> {
        self.0.load_full()
    }

    /// Puts a freshly validated config in force; requests already running finish on the old one.
    /// What binds sockets or holds state cannot move under a running process, so changing it is
    /// refused.
    pub fn replace(&self, config: Config) -> Result<(), RestartOnly> {
        let current = self.0.load();
        if config.listen != current.config.listen || config.admin != current.config.admin {
            return Err(RestartOnly::Listeners);
        }
        if config.dedup_store != current.config.dedup_store {
            return Err(RestartOnly::DedupStore);
        }
        if config.spool != current.config.spool {
            return Err(RestartOnly::Spool);
        }
        if config.admin_recent != current.config.admin_recent {
            return Err(RestartOnly::AdminRecent);
        }
        if config.workers != current.config.workers {
            return Err(RestartOnly::Workers);
        }
        if config.limits.upstream_idle_per_worker != current.config.limits.upstream_idle_per_worker
        {
            return Err(RestartOnly::UpstreamIdle);
        }
        self.0.store(Arc::new(Live::new(config)));
        Ok(())
    }
}
