//! What a held connection costs in memory, measured, and the warning when `max_connections` of
//! them would not fit in the cgroup memory limit hookguard runs under: past that limit a
//! slowloris attack ends in an OOM kill, and every delivery in flight is lost.

use std::path::Path;

/// Resident memory one connection held open by a slowloris client costs: its tasks, hyper's read
/// buffer, the head tracker and the connection driver.
///
/// Measured on the release binary with the settings of `deploy/kubernetes/base` (the sidecar):
/// `slowhttptest -H -c 3000 -r 1000 -i 5 -l 40 -u http://127.0.0.1:18080/webhooks/drivewidget`,
/// RSS sampled from /proc beside the established connections: 3,000 held at a peak of 79 MiB over
/// 6.0 MiB idle, 25 KiB each. Rounded up to 32 KiB for allocator slack and heads that grow.
pub const CONNECTION_COST_BYTES: u64 = 32 * 1024;

/// A testing aid: the file read for the cgroup memory limit instead of the system's.
pub const CGROUP_FILE_ENV: &str = "HOOKGUARD_CGROUP_MEMORY_MAX_FILE";

const CGROUP_V2: &str = "/sys/fs/cgroup/memory.max";
const CGROUP_V1: &str = "/sys/fs/cgroup/memory/memory.limit_in_bytes";
/// cgroup v1 writes "no limit" as a page-rounded i64::MAX; anything this large is no limit.
const UNLIMITED: u64 = 1 << 60;

/// The memory limit of the cgroup this process runs in, in bytes; `None` when there is none or it
/// cannot be read (then there is nothing to warn about).
pub fn cgroup_memory_limit() -> Option<u64> {
    match std::env::var_os(CGROUP_FILE_ENV) {
        Some(path) => read_limit(Path::new(&path)),
        None => read_limit(Path::new(CGROUP_V2)).or_else(|| read_limit(Path::new(CGROUP_V1))),
    }
}

fn read_limit(path: &Path) -> Option<u64> {
    parse_limit(&std::fs::read_to_string(path).ok()?)
}

/// `max` (v2) and v1's huge sentinel mean no limit.
fn parse_limit(text: &str) -> Option<u64> {
    let text = text.trim();
    if text == "max" {
        return None;
    }
    text.parse::<u64>().ok().filter(|&bytes| bytes < UNLIMITED)
}

/// The warning for this process: `max_connections` against the cgroup it runs under. `check` and
/// `run` both give it, since a sidecar only ever runs `run`.
pub fn warning_here(max_connections: usize) -> Option<String> {
    connection_warning(max_connections, cgroup_memory_limit())
}

/// A warning when `max_connections` held connections would cost more than `limit` bytes.
pub fn connection_warning(max_connections: usize, limit: Option<u64>) -> Option<String> {
    let limit = limit?;
    let needed = (max_connections as u64).saturating_mul(CONNECTION_COST_BYTES);
    (needed > limit).then(|| {
        let fits = limit / CONNECTION_COST_BYTES;
        format!(
            "limits.max_connections {max_connections} × {} KiB per held connection is {} MiB, over \
             the cgroup memory limit of {} MiB: a slowloris attack could get hookguard OOM-killed \
             and every delivery in flight lost; set max_connections below {fits} or raise the limit",
            CONNECTION_COST_BYTES / 1024,
            needed >> 20,
            limit >> 20,
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_both_cgroup_versions_and_their_no_limit() {
        assert_eq!(parse_limit("134217728\n"), Some(128 << 20));
        assert_eq!(parse_limit("max\n"), None);
        assert_eq!(parse_limit("9223372036854771712\n"), None);
        assert_eq!(parse_limit("garbage"), None);
    }

    #[test]
    fn warns_only_past_the_limit() {
        let limit = Some(128 << 20);
        let fits = (128 << 20) / CONNECTION_COST_BYTES as usize;
        assert!(connection_warning(fits, limit).is_none());
        let warning = connection_warning(fits + 1, limit).expect("warning");
        assert!(warning.contains("limits.max_connections"), "{warning}");
        assert!(connection_warning(10_000_000, None).is_none());
    }
}
