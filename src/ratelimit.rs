//! Per-route token buckets, one per client address, so a flood from one address cannot starve the
//! real sender. IPv6 clients are grouped by /64, since one host can hold a whole /64.

use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Mutex;
use std::time::Instant;

/// Buckets kept at most; full (idle) buckets are dropped first, as a fresh bucket is the same.
const MAX_TRACKED: usize = 100_000;

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    buckets: Mutex<HashMap<IpAddr, Bucket>>,
}

fn bucket_key(client: IpAddr) -> IpAddr {
    match client {
        IpAddr::V6(v6) => IpAddr::V6((u128::from(v6) & (u128::MAX << 64)).into()),
        IpAddr::V4(_) => client,
    }
}

impl RateLimiter {
    pub fn new(per_second: f64, burst: u32) -> Self {
        RateLimiter {
            per_second,
            burst: f64::from(burst),
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Tokens added per second, as configured (`check` prints it).
    pub fn per_second(&self) -> f64 {
        self.per_second
    }

    /// The bucket's size, as configured; built from a `u32`, so the conversion back is exact.
    pub fn burst(&self) -> u32 {
        self.burst as u32
    }

    fn refill(&self, bucket: &mut Bucket, now: Instant) {
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.per_second).min(self.burst);
        bucket.updated = now;
    }

    /// Takes a token for `client`, or says in how many whole seconds one will be there.
    pub fn check(&self, client: IpAddr, now: Instant) -> Result<(), u64> {
        let key = bucket_key(client);
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if buckets.len() >= MAX_TRACKED && !buckets.contains_key(&key) {
            buckets.retain(|_, bucket| {
                let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
                bucket.tokens + elapsed * self.per_second < self.burst
            });
            if buckets.len() >= MAX_TRACKED {
                // Every tracked address is mid-burst: refuse newcomers rather than forget a limit.
                return Err(1);
            }
        }
        let bucket = buckets.entry(key).or_insert(Bucket {
            tokens: self.burst,
            updated: now,
        });
        self.refill(bucket, now);
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(((1.0 - bucket.tokens) / self.per_second).ceil().max(1.0) as u64)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn burst_then_refill() {
        let limiter = RateLimiter::new(2.0, 3);
        let start = Instant::now();
        let client = ip("192.0.2.1");
        for _ in 0..3 {
            assert_eq!(limiter.check(client, start), Ok(()));
        }
        assert_eq!(limiter.check(client, start), Err(1));
        assert_eq!(
            limiter.check(client, start + Duration::from_millis(500)),
            Ok(()),
            "one token after 0.5 s at 2/s"
        );
        assert_eq!(
            limiter.check(client, start + Duration::from_millis(500)),
            Err(1)
        );
        assert_eq!(
            limiter.check(ip("192.0.2.2"), start),
            Ok(()),
            "another address has its own bucket"
        );
    }

    #[test]
    fn slow_rates_ask_for_a_longer_wait() {
        let limiter = RateLimiter::new(0.1, 1);
        let start = Instant::now();
        assert_eq!(limiter.check(ip("192.0.2.1"), start), Ok(()));
        assert_eq!(limiter.check(ip("192.0.2.1"), start), Err(10));
    }

    #[test]
    fn an_ipv6_64_shares_one_bucket() {
        let limiter = RateLimiter::new(1.0, 1);
        let start = Instant::now();
        assert_eq!(limiter.check(ip("2001:db8::1"), start), Ok(()));
        assert_eq!(limiter.check(ip("2001:db8::ffff:1"), start), Err(1));
        assert_eq!(limiter.check(ip("2001:db8:0:1::1"), start), Ok(()));
    }
}
