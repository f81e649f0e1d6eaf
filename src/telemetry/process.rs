//! The standard `process_*` families (CPU seconds, resident memory, open and maximum file
//! descriptors, start time), read from /proc/self on each scrape: prometheus-client has no process
//! collector. Elsewhere than Linux the reads fail and the families are left out.

use std::time::{SystemTime, UNIX_EPOCH};

use prometheus_client::collector::Collector;
use prometheus_client::encoding::{DescriptorEncoder, EncodeMetric};
use prometheus_client::metrics::counter::ConstCounter;
use prometheus_client::metrics::gauge::ConstGauge;

#[derive(Debug)]
pub struct ProcessCollector {
    /// Read once: the start time does not change, and the clock it is read against might.
    start_time_seconds: Option<f64>,
}

impl ProcessCollector {
    pub fn new() -> Self {
        ProcessCollector {
            start_time_seconds: start_time_seconds(),
        }
    }
}

impl Default for ProcessCollector {
    fn default() -> Self {
        Self::new()
    }
}

impl Collector for ProcessCollector {
    fn encode(&self, mut encoder: DescriptorEncoder) -> Result<(), std::fmt::Error> {
        if let Some(cpu) = stat_fields().map(|f| f.cpu_seconds) {
            let counter = ConstCounter::new(cpu);
            let metric = encoder.encode_descriptor(
                "process_cpu_seconds",
                "User and system CPU time spent, in seconds",
                None,
                counter.metric_type(),
            )?;
            counter.encode(metric)?;
        }
        let gauges = [
            (
                "process_resident_memory_bytes",
                "Resident memory size, in bytes",
                resident_memory_bytes(),
            ),
            (
                "process_open_fds",
                "Open file descriptors",
                open_fds().map(|n| n as f64),
            ),
            (
                "process_max_fds",
                "The soft limit on open file descriptors",
                max_fds(),
            ),
            (
                "process_start_time_seconds",
                "Start time of the process since the Unix epoch, in seconds",
                self.start_time_seconds,
            ),
        ];
        for (name, help, value) in gauges {
            let Some(value) = value else { continue };
            let gauge = ConstGauge::new(value);
            let metric = encoder.encode_descriptor(name, help, None, gauge.metric_type())?;
            gauge.encode(metric)?;
        }
        Ok(())
    }
}

struct StatFields {
    cpu_seconds: f64,
    /// Clock ticks after boot at which the process started.
    start_ticks: f64,
}

fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

/// utime, stime and starttime from /proc/self/stat. The command name (field 2) may hold spaces
/// and parentheses, so fields are counted from the last `)`.
fn stat_fields() -> Option<StatFields> {
    let stat = std::fs::read_to_string("/proc/self/stat").ok()?;
    let after_name = &stat[stat.rfind(')')? + 1..];
    // After the name: state is field 3, utime 14, stime 15, starttime 22.
    let fields: Vec<&str> = after_name.split_whitespace().collect();
    let field = |n: usize| fields.get(n - 3)?.parse::<f64>().ok();
    let ticks = ticks_per_second();
    Some(StatFields {
        cpu_seconds: (field(14)? + field(15)?) / ticks,
        start_ticks: field(22)?,
    })
}

fn start_time_seconds() -> Option<f64> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let boot: f64 = stat
        .lines()
        .find_map(|line| line.strip_prefix("btime "))?
        .trim()
        .parse()
        .ok()?;
    let started = boot + stat_fields()?.start_ticks / ticks_per_second();
    // A container may see the host's boot time; a start in the future is not believed.
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .ok()?
        .as_secs_f64();
    (started <= now).then_some(started)
}

fn resident_memory_bytes() -> Option<f64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kib: f64 = status
        .lines()
        .find_map(|line| line.strip_prefix("VmRSS:"))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()?;
    Some(kib * 1024.0)
}

fn open_fds() -> Option<usize> {
    // The directory handle read_dir holds is one of the entries; it is not counted.
    Some(
        std::fs::read_dir("/proc/self/fd")
            .ok()?
            .count()
            .saturating_sub(1),
    )
}

fn max_fds() -> Option<f64> {
    let limits = std::fs::read_to_string("/proc/self/limits").ok()?;
    let soft = limits
        .lines()
        .find_map(|line| line.strip_prefix("Max open files"))?
        .split_whitespace()
        .next()?;
    soft.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_process_families_read_plausible_values_here() {
        let stat = stat_fields().expect("/proc/self/stat");
        assert!(stat.cpu_seconds >= 0.0);
        assert!(resident_memory_bytes().expect("VmRSS") > 1024.0 * 1024.0);
        // stdin, stdout and stderr at least; other tests open files meanwhile, so no exact count.
        assert!(open_fds().expect("/proc/self/fd") >= 3);
        assert!(max_fds().expect("limits") >= 64.0);
        let started = start_time_seconds().expect("start time");
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .expect("after 1970")
            .as_secs_f64();
        assert!(
            started > now - 3600.0 && started <= now,
            "{started} vs {now}"
        );
    }
}
