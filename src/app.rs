//! Wiring: what `hookguard run` starts, in which order, and how it stops.
//!
//! Start: warnings, the spool (a queue route must not answer 200 without one), the listener (so the
//! kernel queues connections from here on), the admin endpoints, reload, readiness on, the
//! dispatcher, then the workers. Stop, on SIGTERM or SIGINT: readiness off (load balancers stop
//! sending), the workers stop accepting and the dispatcher stops claiming, both drain for
//! `shutdown_grace`, then exit; undelivered deliveries stay spooled for the next start.

use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use anyhow::Context;

use crate::admin::{Health, Journal};
use crate::config::{Config, LiveConfig, SpoolLocation, SpoolSettings};
use crate::delivery::dispatcher::Dispatcher;
use crate::delivery::{DiskSpool, Queue, RedisSpool, SpoolStore};
use crate::proxy::Proxy;
use crate::telemetry::metrics::Metrics;

/// Serves `config` until SIGTERM or SIGINT; `config_path` is watched for reloads.
pub fn run(config: Config, config_path: &Path) -> anyhow::Result<()> {
    warn_at_start(&config);
    // This runtime runs the admin listener, reloads and signals; requests run on the workers.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(serve(config, config_path))
}

fn warn_at_start(config: &Config) {
    for warning in &config.warnings {
        tracing::warn!("{warning}");
    }
    if let Some(warning) = crate::memory::warning_here(config.limits.max_connections) {
        tracing::warn!("{warning}");
    }
}

/// The start order, then the stop order, as the module's header states them.
async fn serve(config: Config, config_path: &Path) -> anyhow::Result<()> {
    let (listen, admin, tls, route_count) = (
        config.listen,
        config.admin,
        config.tls.is_some(),
        config.routes.len(),
    );
    let metrics = Arc::new(Metrics::new());
    let spool = config.spool.clone();
    let grace = config.shutdown_grace;
    let workers = config.worker_count();
    crate::upstream::keep_idle_per_worker(config.limits.upstream_idle_per_worker);
    let queue = match &spool {
        Some(settings) => Some(Arc::new(open_queue(settings, Arc::clone(&metrics)).await?)),
        None => None,
    };
    // Sized once: `admin_recent` takes effect on restart.
    let journal = Arc::new(Journal::new(config.admin_recent));
    let live = Arc::new(LiveConfig::new(config));
    let proxy = Arc::new(Proxy::new(
        Arc::clone(&live),
        Arc::clone(&metrics),
        Arc::clone(&journal),
        queue.clone(),
    ));
    let listener = crate::server::exclusive_listener(listen)
        .and_then(|l| {
            l.set_nonblocking(true)?;
            Ok(l)
        })
        .with_context(|| format!("cannot listen on {listen}"))?;
    let health = Arc::new(Health {
        ready: AtomicBool::new(false),
        metrics: Arc::clone(&metrics),
    });
    if let Some(addr) = admin {
        let admin = crate::admin::Admin {
            health: Arc::clone(&health),
            live: Arc::clone(&live),
            queue: queue.clone(),
            journal: Arc::clone(&journal),
            loopback: addr.ip().is_loopback(),
        };
        start_admin(addr, admin).await?;
    }
    let addr = listener.local_addr().context("listener address")?;
    tokio::spawn(crate::config::reload::watch(
        config_path.to_path_buf(),
        Arc::clone(&live),
        Arc::clone(&metrics),
    ));
    // The listener is bound, so the kernel already queues connections: ready from here on.
    health.ready.store(true, Ordering::SeqCst);
    tracing::info!(%addr, tls, routes = route_count, "listening");
    let (stop, stopped) = tokio::sync::watch::channel(false);
    let dispatcher = match (&queue, spool) {
        (Some(queue), Some(settings)) => {
            let dispatcher = Dispatcher {
                live: Arc::clone(&live),
                queue: Arc::clone(queue),
                metrics: Arc::clone(&metrics),
                dead_letter_retention: settings.dead_letter_retention,
            };
            Some(
                dispatcher
                    .spawn_thread(stopped.clone(), grace)
                    .context("cannot start the dispatcher thread")?,
            )
        }
        _ => None,
    };
    let serving = crate::server::Serving { live, proxy };
    let handles = crate::server::spawn_workers(listener, serving, workers, stopped)
        .context("cannot start the worker threads")?;
    tracing::info!(workers = handles.len(), "workers started");
    shutdown_signal().await;
    // Readiness fails first, so load balancers stop sending while requests drain; the admin
    // listener on this runtime keeps answering until the workers are done.
    health.ready.store(false, Ordering::SeqCst);
    let _ = stop.send(true);
    let _ = tokio::task::spawn_blocking(move || {
        for handle in handles {
            let _ = handle.join();
        }
    })
    .await;
    if let Some(dispatcher) = dispatcher {
        let _ = tokio::task::spawn_blocking(move || dispatcher.join()).await;
    }
    if let Some(queue) = queue {
        queue.spool.close().await;
    }
    tracing::info!("stopped");
    Ok(())
}

/// The spool the config names, opened before the listener so a store that cannot be used stops
/// the start: a queue route must never answer 200 without one.
async fn open_queue(settings: &SpoolSettings, metrics: Arc<Metrics>) -> anyhow::Result<Queue> {
    let store = match &settings.location {
        SpoolLocation::Directory(dir) => DiskSpool::open(dir, settings.max_bytes)
            .await
            .map(SpoolStore::Disk),
        SpoolLocation::Redis(url) => {
            RedisSpool::connect(url, settings.max_bytes)
                .await
                .map(|spool| {
                    for warning in spool.durability_warnings() {
                        tracing::warn!("spool: {warning}");
                    }
                    SpoolStore::Redis(spool)
                })
        }
    }
    .with_context(|| format!("cannot open the spool at {}", settings.shown_location()))?;
    tracing::info!(spool = %settings.shown_location(), "spool open");
    Ok(Queue::new(store, metrics))
}

/// The probes, `/metrics` and the admin API, on this runtime, so they answer while the workers
/// drain.
async fn start_admin(addr: std::net::SocketAddr, admin: crate::admin::Admin) -> anyhow::Result<()> {
    let listener = tokio::net::TcpListener::bind(addr)
        .await
        .with_context(|| format!("cannot listen on admin address {addr}"))?;
    let bound = listener.local_addr().context("admin address")?;
    tracing::info!(admin_addr = %bound, "admin endpoints up");
    tokio::spawn(crate::admin::run(listener, Arc::new(admin)));
    Ok(())
}

async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let mut terminate = match signal(SignalKind::terminate()) {
        Ok(stream) => stream,
        Err(error) => {
            tracing::warn!(%error, "cannot listen for SIGTERM; only Ctrl-C stops hookguard");
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = terminate.recv() => tracing::info!("SIGTERM received"),
        _ = tokio::signal::ctrl_c() => tracing::info!("SIGINT received"),
    }
}
