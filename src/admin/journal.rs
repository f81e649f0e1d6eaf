//! The journal: the last `admin_recent` requests, kept in memory, with per-route counts since start
//! and a broadcast of each new entry for the live feed. Written once per request from the same
//! `Record` as the log line, so it holds what the log holds and nothing more: never a body, a
//! secret, a signature, a token or a query string.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::SystemTime;

use serde_json::{json, Value};
use tokio::sync::broadcast;

use crate::proxy::Record;
use crate::telemetry::metrics::Label;

/// How many entries a live reader may fall behind before it is cut off: the proxy never waits.
const FEED_BACKLOG: usize = 256;

/// The most of a client-chosen string (path, event type) an entry keeps, so that the journal's
/// size is bounded by `admin_recent`, not by what senders put in a request head.
const MAX_TEXT: usize = 256;

/// `text` cut to `MAX_TEXT` bytes on a character boundary, marked with `…` when cut.
fn bounded(text: &str) -> Box<str> {
    if text.len() <= MAX_TEXT {
        return text.into();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!("{}…", &text[..end]).into()
}

/// One request, as the inspector shows it.
#[derive(Debug)]
pub struct Entry {
    pub at: SystemTime,
    pub route: Label,
    pub method: http::Method,
    /// The path only: a query string may carry tokens.
    pub path: Box<str>,
    pub outcome: &'static str,
    pub reason: Option<&'static str>,
    pub status: u16,
    pub latency_us: u64,
    pub delivery: Option<Box<str>>,
    /// A signature that verified covers the delivery id; otherwise it is the sender's claim.
    pub delivery_signed: bool,
    pub event: Option<Box<str>>,
    /// The spool id of a queued delivery.
    pub id: Option<Box<str>>,
}

impl Entry {
    fn of(record: &Record<'_>) -> Entry {
        Entry {
            at: record.at,
            route: Label::clone(record.route),
            method: record.method.clone(),
            path: bounded(record.path),
            outcome: record.outcome.as_str(),
            reason: record.reason,
            status: record.status,
            latency_us: record.latency_us,
            delivery: record.delivery.map(bounded),
            delivery_signed: record.delivery.is_some() && record.notes.delivery_signed,
            event: record.event.map(bounded),
            id: record.queued.map(Into::into),
        }
    }

    /// The entry as the API and the feed send it; the time is formatted here, off the request path.
    pub fn to_json(&self) -> Value {
        json!({
            "at": humantime::format_rfc3339_millis(self.at).to_string(),
            "route": self.route.as_str(),
            "method": self.method.as_str(),
            "path": &*self.path,
            "outcome": self.outcome,
            "reason": self.reason,
            "status": self.status,
            "latency_us": self.latency_us,
            "delivery": self.delivery.as_deref(),
            "delivery_signed": self.delivery.as_ref().map(|_| self.delivery_signed),
            "event": self.event.as_deref(),
            "id": self.id.as_deref(),
        })
    }
}

/// A route's counts since start: by outcome, and refusals by reason.
#[derive(Debug, Default, Clone)]
pub struct Counts {
    pub outcomes: BTreeMap<&'static str, u64>,
    pub reasons: BTreeMap<&'static str, u64>,
}

impl Counts {
    fn add(&mut self, outcome: &'static str, reason: Option<&'static str>) {
        *self.outcomes.entry(outcome).or_default() += 1;
        if let Some(reason) = reason {
            *self.reasons.entry(reason).or_default() += 1;
        }
    }
}

struct Inner {
    recent: VecDeque<Arc<Entry>>,
    counts: HashMap<Label, Counts>,
}

pub struct Journal {
    capacity: usize,
    inner: Mutex<Inner>,
    feed: broadcast::Sender<Arc<Entry>>,
    /// Live readers, counted here because the broadcast's own count takes its lock.
    watchers: Arc<AtomicUsize>,
}

/// Counts one live reader for as long as it is held.
pub struct Watching(Arc<AtomicUsize>);

impl Drop for Watching {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Journal {
    /// A journal keeping the last `capacity` entries (at least one).
    pub fn new(capacity: usize) -> Journal {
        let (feed, _) = broadcast::channel(FEED_BACKLOG);
        Journal {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner {
                recent: VecDeque::new(),
                counts: HashMap::new(),
            }),
            feed,
            watchers: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Adds one request. The lock is held for a push, a pop and two counter bumps; the evicted
    /// entry is freed after the lock is released.
    pub fn write(&self, record: &Record<'_>) {
        let entry = Arc::new(Entry::of(record));
        let evicted = {
            let mut guard = self.lock();
            let inner = &mut *guard;
            // The label is cloned only for a route's first request: a clone is an atomic increment
            // on a count every worker shares.
            if let Some(counts) = inner.counts.get_mut(record.route) {
                counts.add(entry.outcome, entry.reason);
            } else {
                let mut counts = Counts::default();
                counts.add(entry.outcome, entry.reason);
                inner.counts.insert(Label::clone(record.route), counts);
            }
            let evicted = (inner.recent.len() >= self.capacity)
                .then(|| inner.recent.pop_front())
                .flatten();
            inner.recent.push_back(Arc::clone(&entry));
            evicted
        };
        drop(evicted);
        // Nobody watching costs a load; a full backlog drops the oldest for the slow reader only.
        if self.watchers.load(Ordering::Relaxed) > 0 {
            let _ = self.feed.send(entry);
        }
    }

    /// Up to `limit` entries, newest first, that `keep` accepts.
    pub fn recent(&self, limit: usize, keep: impl Fn(&Entry) -> bool) -> Vec<Arc<Entry>> {
        let inner = self.lock();
        inner
            .recent
            .iter()
            .rev()
            .filter(|entry| keep(entry))
            .take(limit)
            .cloned()
            .collect()
    }

    /// Every route's counts since start, by route name.
    pub fn counts(&self) -> BTreeMap<String, Counts> {
        let inner = self.lock();
        inner
            .counts
            .iter()
            .map(|(route, counts)| (route.to_string(), counts.clone()))
            .collect()
    }

    /// A receiver of every entry written from now on, and the token that keeps it counted.
    pub fn subscribe(&self) -> (broadcast::Receiver<Arc<Entry>>, Watching) {
        self.watchers.fetch_add(1, Ordering::Relaxed);
        (self.feed.subscribe(), Watching(Arc::clone(&self.watchers)))
    }

    /// A panic elsewhere while holding the lock leaves plain data behind, still worth reading.
    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::proxy::Outcome;

    fn record<'a>(route: &'a Label, method: &'a http::Method, n: u16) -> Record<'a> {
        Record {
            at: SystemTime::UNIX_EPOCH,
            route,
            method,
            path: "/hook",
            peer: std::net::Ipv4Addr::LOCALHOST.into(),
            client: None,
            outcome: if n % 2 == 0 {
                Outcome::Forwarded
            } else {
                Outcome::Refused
            },
            reason: (n % 2 == 1).then_some("signature_mismatch"),
            verification_failure: None,
            delivery: None,
            queued: None,
            event: None,
            notes: Box::leak(Box::default()),
            status: n,
            latency_us: 1,
        }
    }

    #[test]
    fn keeps_the_newest_and_counts_everything() {
        let journal = Journal::new(3);
        let route = Arc::new("r".to_string());
        let method = http::Method::POST;
        for n in 0..5 {
            journal.write(&record(&route, &method, n));
        }
        let statuses: Vec<u16> = journal
            .recent(10, |_| true)
            .iter()
            .map(|e| e.status)
            .collect();
        assert_eq!(statuses, [4, 3, 2]);
        assert_eq!(journal.recent(1, |e| e.outcome == "refused")[0].status, 3);
        let counts = &journal.counts()["r"];
        assert_eq!(counts.outcomes["forwarded"], 3);
        assert_eq!(counts.outcomes["refused"], 2);
        assert_eq!(counts.reasons["signature_mismatch"], 2);
    }

    #[test]
    fn long_client_strings_are_cut() {
        assert_eq!(&*bounded("/short"), "/short");
        let long = "é".repeat(200);
        let cut = bounded(&long);
        assert!(cut.len() <= MAX_TEXT + '…'.len_utf8() && cut.ends_with('…'));
    }

    #[test]
    fn subscribers_see_new_entries() {
        let journal = Journal::new(2);
        let (mut feed, _watching) = journal.subscribe();
        let route = Arc::new("r".to_string());
        let method = http::Method::POST;
        journal.write(&record(&route, &method, 7));
        let entry = feed.try_recv().expect("an entry");
        assert_eq!(entry.status, 7);
        assert_eq!(entry.to_json()["at"], "1970-01-01T00:00:00.000Z");
    }

    /// `cargo test --release --lib journal_write_cost -- --ignored --nocapture`: ns per write.
    #[test]
    #[ignore = "a measurement, not a check"]
    fn journal_write_cost() {
        let journal = Journal::new(1000);
        let route = Arc::new("r".to_string());
        let method = http::Method::POST;
        let record = record(&route, &method, 1);
        let n = 2_000_000u32;
        let started = std::time::Instant::now();
        for _ in 0..n {
            journal.write(&record);
        }
        println!(
            "{} ns per write",
            started.elapsed().as_nanos() / u128::from(n)
        );
    }
}
