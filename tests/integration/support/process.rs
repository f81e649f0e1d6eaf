//! The real `hookguard` binary as a child process on 127.0.0.1:0, its logs, admin port and memory.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::process::{Child, Command, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

use super::*;

pub fn binary() -> &'static str {
    env!("CARGO_BIN_EXE_hookguard")
}

/// Runs the binary to completion with `args`, `env` and `stdin` as its input (closed after).
pub fn run_binary(args: &[&str], env: &[(&str, &str)], stdin: &[u8]) -> std::process::Output {
    use std::io::Write;
    let mut child = Command::new(binary())
        .args(args)
        .envs(env.iter().copied())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn hookguard");
    let mut input = child.stdin.take().expect("stdin");
    // A command that refuses early may close its stdin first; its output says why.
    let _ = input.write_all(stdin);
    drop(input);
    child.wait_with_output().expect("wait for hookguard")
}

/// A running `hookguard run` process; killed on drop.
pub struct Hookguard {
    pub addr: SocketAddr,
    /// The admin listener's address, when the config has one.
    pub admin: Option<SocketAddr>,
    child: Child,
    logs: Arc<Mutex<Vec<String>>>,
    _dir: tempfile::TempDir,
}

impl Hookguard {
    /// Writes `config` (YAML, or JSON, which YAML reads too) and starts the binary on it. The
    /// config should say `listen: 127.0.0.1:0`; the bound address is read from the log.
    pub fn start(config: &str) -> Hookguard {
        Self::start_with_env(config, &[])
    }

    pub fn start_with_env(config: &str, env: &[(&str, &str)]) -> Hookguard {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("hookguard.yaml");
        std::fs::write(&path, config).expect("write config");
        Self::start_at(dir, &path, env)
    }

    /// Starts on a config file the test owns (and may rewrite); `dir` is kept alive with the process.
    pub fn start_at(
        dir: tempfile::TempDir,
        path: &std::path::Path,
        env: &[(&str, &str)],
    ) -> Hookguard {
        let mut child = Command::new(binary())
            .args(["run", "--config"])
            .arg(path)
            .envs(env.iter().copied())
            .env("RUST_LOG", "info")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn hookguard");
        let stderr = child.stderr.take().expect("stderr");
        let logs = Arc::new(Mutex::new(Vec::new()));
        let sink = Arc::clone(&logs);
        let (addr_tx, addr_rx) = mpsc::channel();
        std::thread::spawn(move || {
            let mut admin = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Some(addr) =
                    field(&line, "admin_addr").and_then(|a| a.parse::<SocketAddr>().ok())
                {
                    admin = Some(addr);
                }
                if line.contains(" listening ") || line.contains(r#""message":"listening""#) {
                    if let Some(addr) =
                        field(&line, "addr").and_then(|a| a.parse::<SocketAddr>().ok())
                    {
                        let _ = addr_tx.send((addr, admin));
                    }
                }
                sink.lock().expect("lock").push(line);
            }
        });
        let (addr, admin) = match addr_rx.recv_timeout(Duration::from_secs(20)) {
            Ok(found) => found,
            Err(_) => {
                let _ = child.kill();
                panic!(
                    "hookguard did not start; logs: {:?}",
                    logs.lock().expect("lock")
                );
            }
        };
        Hookguard {
            addr,
            admin,
            child,
            logs,
            _dir: dir,
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Resident memory of the process, in KiB.
    pub fn rss_kib(&self) -> u64 {
        self.status_kib("VmRSS:")
    }

    /// The most resident memory the process has had, in KiB.
    pub fn peak_rss_kib(&self) -> u64 {
        self.status_kib("VmHWM:")
    }

    fn status_kib(&self, field: &str) -> u64 {
        let status =
            std::fs::read_to_string(format!("/proc/{}/status", self.pid())).expect("status");
        status
            .lines()
            .find_map(|line| line.strip_prefix(field))
            .and_then(|rest| rest.split_whitespace().next()?.parse().ok())
            .unwrap_or_else(|| panic!("{field} in /proc status"))
    }

    /// Whether the process is still running.
    pub fn alive(&mut self) -> bool {
        self.child.try_wait().expect("try_wait").is_none()
    }

    /// Sends a Unix signal (`HUP`, `TERM`, ...) to the process.
    pub fn signal(&self, name: &str) {
        let status = Command::new("kill")
            .arg(format!("-{name}"))
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success(), "kill -{name} failed");
    }

    /// Waits for the process to exit, up to `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> std::process::ExitStatus {
        let deadline = std::time::Instant::now() + limit;
        loop {
            if let Some(status) = self.child.try_wait().expect("try_wait") {
                return status;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "hookguard did not exit within {limit:?}"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// GETs an admin path; returns status and body.
    pub async fn admin_get(&self, path: &str) -> (u16, String) {
        let admin = self.admin.expect("config has an admin listener");
        let response = send_raw(admin, &http1_request("GET", path, &[], b"")).await;
        (response.status, response.body_text())
    }

    /// The value of one Prometheus sample, by its full text before the value.
    pub async fn metric(&self, series: &str) -> Option<f64> {
        let (_, text) = self.admin_get("/metrics").await;
        text.lines().find_map(|line| {
            line.strip_prefix(series)?
                .strip_prefix(' ')?
                .split(' ')
                .next()?
                .parse()
                .ok()
        })
    }

    pub fn logs(&self) -> Vec<String> {
        self.logs.lock().expect("lock").clone()
    }

    /// Waits until a log line containing `needle` appears, for lines written just after a response.
    pub fn wait_for_log(&self, needle: &str) -> String {
        self.wait_for_logs(needle, 1).remove(0)
    }

    /// Waits until at least `count` log lines contain `needle`, and returns them all.
    pub fn wait_for_logs(&self, needle: &str, count: usize) -> Vec<String> {
        for _ in 0..500 {
            let lines: Vec<String> = self
                .logs()
                .into_iter()
                .filter(|l| l.contains(needle))
                .collect();
            if lines.len() >= count {
                return lines;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        panic!(
            "fewer than {count} log lines with {needle:?} in {:?}",
            self.logs()
        );
    }
}

impl Drop for Hookguard {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The value of field `name` in a log line, text (`name=value`) or JSON (`"name":"value"`).
pub fn field(line: &str, name: &str) -> Option<String> {
    if line.starts_with('{') {
        let value: serde_json::Value = serde_json::from_str(line).ok()?;
        return match &value[name] {
            serde_json::Value::String(text) => Some(text.clone()),
            serde_json::Value::Null => None,
            other => Some(other.to_string()),
        };
    }
    text_field(line, name).map(str::to_string)
}

fn text_field<'l>(line: &'l str, name: &str) -> Option<&'l str> {
    let start = line.find(&format!(" {name}="))? + name.len() + 2;
    let rest = &line[start..];
    Some(
        rest.split_whitespace()
            .next()
            .unwrap_or("")
            .trim_matches('"'),
    )
}
