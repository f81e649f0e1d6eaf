//! `hookguard check`: the routes a config would serve, spelled as the YAML spells them.

use std::time::Duration;

use hookguard::config::{Config, DeliveryMode, Route, SpoolSettings, Unmatched};

/// Prints the listener, every route and the warnings; the caller has already validated `config`.
/// Returns how many warnings it printed, for `--strict`.
pub fn print(config: &Config) -> usize {
    println!(
        "listen: {}  upstream: {}  unmatched: {}  max_body: {}  workers: {}{}  upstream_idle_per_worker: {}",
        config.listen,
        config.upstream,
        unmatched(config.unmatched),
        size(config.max_body),
        config.worker_count(),
        if config.workers.is_none() { " (available cores)" } else { "" },
        config.limits.upstream_idle_per_worker
    );
    if let Some(spool) = &config.spool {
        println!("{}", spool_line(spool));
    }
    for route in &config.routes {
        println!("{}", route_line(route));
        println!("    {}", protections(route));
        if let DeliveryMode::Queue(policy) = &route.delivery {
            let waits: Vec<String> = policy.retry.iter().map(|w| duration(*w)).collect();
            println!(
                "    delivery: queue  retry: [{}]  max_age: {}  concurrency: {}  attempt_timeout: {}",
                waits.join(", "),
                duration(policy.max_age),
                policy.concurrency,
                duration(policy.attempt_timeout)
            );
        }
    }
    let memory = hookguard::memory::warning_here(config.limits.max_connections);
    let warnings: Vec<&String> = config.warnings.iter().chain(memory.as_ref()).collect();
    for warning in &warnings {
        eprintln!("warning: {warning}");
    }
    println!("ok: {} route(s)", config.routes.len());
    warnings.len()
}

fn spool_line(spool: &SpoolSettings) -> String {
    format!(
        "spool: {}  max_bytes: {}  dead_letter_retention: {}",
        spool.shown_location(),
        size(spool.max_bytes),
        duration(spool.dead_letter_retention)
    )
}

fn unmatched(value: Unmatched) -> &'static str {
    match value {
        Unmatched::Reject => "reject",
        Unmatched::Forward => "forward",
    }
}

/// What the route takes and where it goes.
fn route_line(route: &Route) -> String {
    let methods: Vec<&str> = route.methods.iter().map(|m| m.as_str()).collect();
    let mut line = format!(
        "route {:?}: {} -> {}  scheme: {}  methods: [{}]  secrets: {}  max_body: {}",
        route.name,
        route.pattern,
        route.upstream,
        route.scheme_label,
        methods.join(", "),
        route.secret_count,
        size(route.max_body),
    );
    if !route.enforce {
        line.push_str("  enforce: false (shadow mode: forwarded whatever the verdict)");
    }
    if let Some(events) = &route.events {
        line.push_str(&format!("  events: [{}]", events.join(", ")));
    }
    if let Some(url) = &route.public_url {
        line.push_str(&format!("  public_url: {url}"));
    }
    line
}

/// Who may use the route, how often, and whether replays are caught; said even when off, since an
/// absent protection is what an operator most needs to see.
fn protections(route: &Route) -> String {
    let allow_ips = match &route.allow_ips {
        None => "any".to_string(),
        Some(ranges) => {
            let ranges: Vec<String> = ranges.iter().map(ToString::to_string).collect();
            format!("[{}]", ranges.join(", "))
        }
    };
    let rate_limit = match &route.rate_limit {
        None => "none".to_string(),
        Some(limiter) => format!(
            "{{per_second: {}, burst: {}}}",
            limiter.per_second(),
            limiter.burst()
        ),
    };
    let dedup = match route.dedup_ttl {
        None => "off".to_string(),
        Some(ttl) => format!("{{ttl: {}}}", duration(ttl)),
    };
    format!("allow_ips: {allow_ips}  rate_limit: {rate_limit}  dedup: {dedup}")
}

/// A byte count in the largest binary unit that divides it, as `max_body` is written: `1MiB`.
pub fn size(bytes: u64) -> String {
    const UNITS: [(u64, &str); 3] = [(1 << 30, "GiB"), (1 << 20, "MiB"), (1 << 10, "KiB")];
    UNITS
        .iter()
        .find(|(unit, _)| bytes != 0 && bytes % unit == 0)
        .map_or_else(
            || format!("{bytes}B"),
            |(unit, name)| format!("{}{name}", bytes / unit),
        )
}

/// A duration in the largest unit that divides it, as durations are written: `24h`, `90s`.
pub fn duration(value: Duration) -> String {
    if value.subsec_nanos() != 0 {
        return format!("{}ms", value.as_millis());
    }
    let seconds = value.as_secs();
    match seconds {
        0 => "0s".to_string(),
        s if s % 3600 == 0 => format!("{}h", s / 3600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_and_durations_read_as_yaml() {
        assert_eq!(size(1 << 20), "1MiB");
        assert_eq!(size(256 << 10), "256KiB");
        assert_eq!(size(3 << 30), "3GiB");
        assert_eq!(size(1000), "1000B");
        assert_eq!(size(0), "0B");
        assert_eq!(duration(Duration::from_secs(24 * 3600)), "24h");
        assert_eq!(duration(Duration::from_secs(90)), "90s");
        assert_eq!(duration(Duration::from_secs(120)), "2m");
        assert_eq!(duration(Duration::from_millis(1500)), "1500ms");
        for text in ["24h", "90s", "2m", "1500ms"] {
            let parsed = humantime::parse_duration(text).expect("humantime reads it");
            assert_eq!(duration(parsed), text);
        }
    }
}
