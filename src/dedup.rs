//! Replay protection. A delivery the app took (2xx) is remembered per route for `ttl`, and a repeat
//! is answered 200 without reaching the app; a repeat while the first is still with the app gets
//! 409 so the sender retries later; a delivery the app failed is forgotten, so its retry goes
//! through. Claims are atomic and carry an owner token with a short TTL, so a replica that dies
//! mid-request cannot block a delivery for the whole `ttl`.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a store call may take before the store counts as unreachable.
const STORE_TIMEOUT: Duration = Duration::from_secs(1);

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request owns the delivery now; `complete` or `release` it with the token.
    Claimed(String),
    /// The app already took this delivery.
    Duplicate,
    /// Another request for it is with the app right now.
    InFlight,
}

#[derive(Debug, thiserror::Error)]
#[error("dedup store unavailable: {0}")]
pub struct Unavailable(String);

/// An owner token unique across processes: the pid, the time and a counter.
fn owner_token() -> String {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!(
        "{}-{nanos}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
}

enum State {
    InFlight(String),
    Done,
}

struct Entry {
    state: State,
    expires: Instant,
}

/// The default store: this process's memory, bounded by `max_entries`.
pub struct MemoryStore {
    max_entries: usize,
    entries: Mutex<HashMap<String, Entry>>,
}

impl MemoryStore {
    pub fn new(max_entries: usize) -> Self {
        MemoryStore {
            max_entries,
            entries: Mutex::new(HashMap::new()),
        }
    }

    fn claim(&self, key: &str, in_flight: Duration) -> Claim {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(entry) = entries.get(key).filter(|e| e.expires > now) {
            return match entry.state {
                State::Done => Claim::Duplicate,
                State::InFlight(_) => Claim::InFlight,
            };
        }
        if entries.len() >= self.max_entries {
            entries.retain(|_, entry| entry.expires > now);
            // Still full: forget the entry closest to expiry. The cost is at worst one duplicate
            // forwarded again, never a delivery lost.
            if entries.len() >= self.max_entries {
                if let Some(oldest) = entries
                    .iter()
                    .min_by_key(|(_, e)| e.expires)
                    .map(|(k, _)| k.clone())
                {
                    entries.remove(&oldest);
                }
            }
        }
        let token = owner_token();
        entries.insert(
            key.to_string(),
            Entry {
                state: State::InFlight(token.clone()),
                expires: now + in_flight,
            },
        );
        Claim::Claimed(token)
    }

    fn settle(&self, key: &str, token: &str, ttl: Option<Duration>) {
        let mut entries = self.entries.lock().unwrap_or_else(|p| p.into_inner());
        let owned =
            matches!(entries.get(key), Some(Entry { state: State::InFlight(t), .. }) if t == token);
        if !owned {
            return;
        }
        match ttl {
            Some(ttl) => {
                entries.insert(
                    key.to_string(),
                    Entry {
                        state: State::Done,
                        expires: Instant::now() + ttl,
                    },
                );
            }
            None => {
                entries.remove(key);
            }
        }
    }
}

/// Shared by replicas: `redis://host:port/db`.
pub struct RedisStore {
    client: redis::Client,
    connection: tokio::sync::Mutex<Option<redis::aio::MultiplexedConnection>>,
}

/// Promote to done, only while the caller still owns the claim.
const COMPLETE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('SET', KEYS[1], 'done', 'PX', ARGV[2]) else return 0 end";
/// Delete, only while the caller still owns the claim.
const RELEASE: &str = "if redis.call('GET', KEYS[1]) == ARGV[1] then \
    return redis.call('DEL', KEYS[1]) else return 0 end";

impl RedisStore {
    pub fn new(url: &str) -> Result<Self, String> {
        let client =
            // The URL is not echoed: it may hold a password.
            redis::Client::open(url).map_err(|e| format!("not a usable redis URL: {e}"))?;
        Ok(RedisStore {
            client,
            connection: tokio::sync::Mutex::new(None),
        })
    }

    /// The shared connection, made on first use and made again after a failure.
    async fn connection(&self) -> Result<redis::aio::MultiplexedConnection, Unavailable> {
        let mut slot = self.connection.lock().await;
        if let Some(connection) = slot.as_ref() {
            return Ok(connection.clone());
        }
        let connection = tokio::time::timeout(
            STORE_TIMEOUT,
            self.client.get_multiplexed_async_connection(),
        )
        .await
        .map_err(|_| Unavailable("connect timed out".into()))?
        .map_err(|e| Unavailable(e.to_string()))?;
        *slot = Some(connection.clone());
        Ok(connection)
    }

    async fn run<T: redis::FromRedisValue>(&self, command: redis::Cmd) -> Result<T, Unavailable> {
        let mut connection = self.connection().await?;
        match tokio::time::timeout(STORE_TIMEOUT, command.query_async::<T>(&mut connection)).await {
            Ok(Ok(value)) => Ok(value),
            failed => {
                *self.connection.lock().await = None;
                Err(Unavailable(match failed {
                    Err(_) => "timed out".into(),
                    Ok(Err(e)) => e.to_string(),
                    Ok(Ok(_)) => String::new(),
                }))
            }
        }
    }

    async fn claim(&self, key: &str, in_flight: Duration) -> Result<Claim, Unavailable> {
        let token = owner_token();
        let mut set = redis::cmd("SET");
        set.arg(key)
            .arg(&token)
            .arg("NX")
            .arg("PX")
            .arg(in_flight.as_millis() as u64);
        let claimed: Option<String> = self.run(set).await?;
        if claimed.is_some() {
            return Ok(Claim::Claimed(token));
        }
        let mut get = redis::cmd("GET");
        get.arg(key);
        let current: Option<String> = self.run(get).await?;
        // Gone between the two calls means it just expired or was released: the sender retries.
        Ok(if current.as_deref() == Some("done") {
            Claim::Duplicate
        } else {
            Claim::InFlight
        })
    }

    async fn settle(
        &self,
        key: &str,
        token: &str,
        ttl: Option<Duration>,
    ) -> Result<(), Unavailable> {
        let mut eval = redis::cmd("EVAL");
        match ttl {
            Some(ttl) => eval
                .arg(COMPLETE)
                .arg(1)
                .arg(key)
                .arg(token)
                .arg(ttl.as_millis() as u64),
            None => eval.arg(RELEASE).arg(1).arg(key).arg(token),
        };
        let _: redis::Value = self.run(eval).await?;
        Ok(())
    }
}

pub enum Store {
    Memory(MemoryStore),
    Redis(RedisStore),
    /// A store that could not be set up: every claim fails, so dedup routes fail closed.
    Unusable(String),
}

impl Store {
    pub async fn claim(&self, key: &str, in_flight: Duration) -> Result<Claim, Unavailable> {
        match self {
            Store::Memory(store) => Ok(store.claim(key, in_flight)),
            Store::Redis(store) => store.claim(key, in_flight).await,
            Store::Unusable(why) => Err(Unavailable(why.clone())),
        }
    }

    /// The app took the delivery: remember it for `ttl`.
    pub async fn complete(&self, key: &str, token: &str, ttl: Duration) -> Result<(), Unavailable> {
        match self {
            Store::Memory(store) => {
                store.settle(key, token, Some(ttl));
                Ok(())
            }
            Store::Redis(store) => store.settle(key, token, Some(ttl)).await,
            Store::Unusable(why) => Err(Unavailable(why.clone())),
        }
    }

    /// The app did not take it: forget the claim so the sender's retry goes through.
    pub async fn release(&self, key: &str, token: &str) -> Result<(), Unavailable> {
        match self {
            Store::Memory(store) => {
                store.settle(key, token, None);
                Ok(())
            }
            Store::Redis(store) => store.settle(key, token, None).await,
            Store::Unusable(why) => Err(Unavailable(why.clone())),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn memory_claims_complete_and_release() {
        let store = MemoryStore::new(10);
        let ttl = Duration::from_secs(60);
        let Claim::Claimed(first) = store.claim("a", ttl) else {
            panic!("first claim")
        };
        assert_eq!(store.claim("a", ttl), Claim::InFlight);
        store.settle("a", "someone-else", Some(ttl));
        assert_eq!(
            store.claim("a", ttl),
            Claim::InFlight,
            "only the owner settles"
        );
        store.settle("a", &first, Some(ttl));
        assert_eq!(store.claim("a", ttl), Claim::Duplicate);
        let Claim::Claimed(second) = store.claim("b", ttl) else {
            panic!("claim b")
        };
        store.settle("b", &second, None);
        assert!(
            matches!(store.claim("b", ttl), Claim::Claimed(_)),
            "a released delivery can be claimed again"
        );
    }

    #[test]
    fn memory_claims_expire_and_stay_bounded() {
        let store = MemoryStore::new(2);
        assert!(matches!(
            store.claim("a", Duration::from_millis(1)),
            Claim::Claimed(_)
        ));
        std::thread::sleep(Duration::from_millis(5));
        assert!(
            matches!(store.claim("a", Duration::from_secs(60)), Claim::Claimed(_)),
            "an expired claim is free"
        );
        for key in ["b", "c", "d"] {
            assert!(matches!(
                store.claim(key, Duration::from_secs(60)),
                Claim::Claimed(_)
            ));
        }
        assert!(store.entries.lock().expect("lock").len() <= 2);
    }
}
