//! The CLI habits operators expect, through the real binary: `-c`/`HOOKGUARD_CONFIG` and the
//! default path, `--version` with the commit, bash completion, the committed man pages,
//! `check --strict`, "did you mean", and the `workers` knob.

use std::path::Path;
use std::process::{Command, Output};

use crate::support::{binary, App, Hookguard};

const SECRET_VAR: &str = "CLI_HABITS_SECRET";
const SECRET: &str = "cli-habits-secret-0123456789";

/// Runs the binary with `args` and `env` and no inherited `HOOKGUARD_CONFIG`, so the developer's
/// own shell cannot change what a test sees. The cgroup memory file says "no limit", so the only
/// warnings are the config's own.
fn hookguard(args: &[&str], env: &[(&str, &str)]) -> Output {
    let dir = tempfile::tempdir().expect("tempdir");
    let unlimited = dir.path().join("memory.max");
    std::fs::write(&unlimited, "max\n").expect("write");
    Command::new(binary())
        .args(args)
        .env_remove("HOOKGUARD_CONFIG")
        .env("HOOKGUARD_CGROUP_MEMORY_MAX_FILE", &unlimited)
        .env(SECRET_VAR, SECRET)
        .envs(env.iter().copied())
        .output()
        .expect("run hookguard")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

/// A config with no warnings: the secret from the environment, the app on loopback.
fn clean_config(app_url: &str, extra_top: &str) -> String {
    format!(
        "listen: 127.0.0.1:0
upstream: {app_url}
{extra_top}
routes:
  - path: /webhooks/github
    provider: github
    secrets: [{{env: {SECRET_VAR}}}]
"
    )
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write config");
    path.display().to_string()
}

#[test]
fn the_config_comes_from_c_then_hookguard_config_then_the_default_path() {
    let dir = tempfile::tempdir().expect("tempdir");
    let short = write(
        dir.path(),
        "short.yaml",
        &clean_config("http://127.0.0.1:3001", ""),
    );
    let from_env = write(
        dir.path(),
        "env.yaml",
        &clean_config("http://127.0.0.1:3002", ""),
    );

    let by_flag = hookguard(&["check", "-c", &short], &[]);
    assert!(by_flag.status.success(), "{}", text(&by_flag.stderr));
    assert!(text(&by_flag.stdout).contains("upstream: http://127.0.0.1:3001"));

    let by_env = hookguard(&["check"], &[("HOOKGUARD_CONFIG", &from_env)]);
    assert!(by_env.status.success(), "{}", text(&by_env.stderr));
    assert!(text(&by_env.stdout).contains("upstream: http://127.0.0.1:3002"));

    // The flag wins over the environment, and the long form still works.
    let both = hookguard(
        &["check", "--config", &short],
        &[("HOOKGUARD_CONFIG", &from_env)],
    );
    assert!(text(&both.stdout).contains("upstream: http://127.0.0.1:3001"));

    if !Path::new("/etc/hookguard/config.yaml").exists() {
        let neither = hookguard(&["check"], &[]);
        assert_eq!(neither.status.code(), Some(1));
        assert!(
            text(&neither.stderr).contains("/etc/hookguard/config.yaml"),
            "{}",
            text(&neither.stderr)
        );
    }
}

#[test]
fn version_names_the_commit_it_was_built_from() {
    let output = hookguard(&["--version"], &[]);
    assert!(output.status.success());
    let head = Command::new("git")
        .args(["rev-parse", "--short", "HEAD"])
        .current_dir(env!("CARGO_MANIFEST_DIR"))
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map_or_else(
            || "unknown".to_string(),
            |o| text(&o.stdout).trim().to_string(),
        );
    assert_eq!(
        text(&output.stdout).trim(),
        format!("hookguard {} (commit {head})", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn bash_completion_completes_ch_to_check() {
    let script = hookguard(&["completions", "bash"], &[]);
    assert!(script.status.success(), "{}", text(&script.stderr));
    let dir = tempfile::tempdir().expect("tempdir");
    let script_path = write(dir.path(), "hookguard.bash", &text(&script.stdout));
    // What bash does on <Tab> after `hookguard ch`: call the function registered for
    // `hookguard` with the words so far, then offer COMPREPLY.
    let driver = format!(
        r#"source '{script_path}'
function=$(complete -p hookguard | sed -E 's/.* -F ([^ ]+) .*/\1/')
COMP_WORDS=(hookguard ch); COMP_CWORD=1; COMP_LINE='hookguard ch'; COMP_POINT=${{#COMP_LINE}}
"$function" hookguard ch hookguard
printf '%s\n' "${{COMPREPLY[@]}}""#
    );
    let output = Command::new("bash")
        .args(["--norc", "--noprofile", "-c", &driver])
        .output()
        .expect("run bash");
    assert!(output.status.success(), "{}", text(&output.stderr));
    let offered: Vec<String> = text(&output.stdout).lines().map(str::to_string).collect();
    assert_eq!(offered, ["check"]);
}

#[test]
fn zsh_and_fish_completions_are_printed_too() {
    for (shell, marker) in [
        ("zsh", "#compdef hookguard"),
        ("fish", "complete -c hookguard"),
    ] {
        let output = hookguard(&["completions", shell], &[]);
        assert!(output.status.success(), "{shell}");
        assert!(text(&output.stdout).contains(marker), "{shell}");
    }
}

#[test]
fn the_committed_man_pages_are_the_generated_ones() {
    let dir = tempfile::tempdir().expect("tempdir");
    let output = hookguard(&["man", &dir.path().display().to_string()], &[]);
    assert!(output.status.success(), "{}", text(&output.stderr));
    let committed = Path::new(env!("CARGO_MANIFEST_DIR")).join("docs/man");
    let names = |dir: &Path| {
        let mut names: Vec<String> = std::fs::read_dir(dir)
            .expect("read_dir")
            .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    };
    let regenerate = "regenerate with `cargo run -- man docs/man`";
    assert_eq!(names(dir.path()), names(&committed), "{regenerate}");
    for name in names(&committed) {
        let fresh = std::fs::read_to_string(dir.path().join(&name)).expect("generated");
        let kept = std::fs::read_to_string(committed.join(&name)).expect("committed");
        assert!(fresh == kept, "docs/man/{name} is stale: {regenerate}");
    }
    let main_page = std::fs::read_to_string(committed.join("hookguard.1")).expect("page");
    assert!(main_page.contains("completions"));
    let run_page = std::fs::read_to_string(committed.join("hookguard-run.1")).expect("page");
    assert!(run_page.contains("HOOKGUARD_CONFIG"));
}

#[test]
fn check_strict_fails_on_a_warning_and_passes_without_one() {
    let dir = tempfile::tempdir().expect("tempdir");
    let clean = write(
        dir.path(),
        "clean.yaml",
        &clean_config("http://127.0.0.1:3000", ""),
    );
    let warned = write(
        dir.path(),
        "warned.yaml",
        &clean_config("http://10.1.2.3:3000", ""),
    );

    let lenient = hookguard(&["check", "-c", &warned], &[]);
    assert!(lenient.status.success(), "{}", text(&lenient.stderr));
    assert!(text(&lenient.stderr).contains("warning: upstream http://10.1.2.3:3000"));

    let strict = hookguard(&["check", "--strict", "-c", &warned], &[]);
    assert_eq!(strict.status.code(), Some(1));
    assert!(
        text(&strict.stderr).contains("1 warning(s), and --strict fails on any"),
        "{}",
        text(&strict.stderr)
    );

    let strict_clean = hookguard(&["check", "--strict", "-c", &clean], &[]);
    assert!(
        strict_clean.status.success(),
        "{}",
        text(&strict_clean.stderr)
    );
    assert!(!text(&strict_clean.stderr).contains("warning"));
    for output in [&lenient, &strict, &strict_clean] {
        assert!(!text(&output.stdout).contains(SECRET) && !text(&output.stderr).contains(SECRET));
    }
}

#[test]
fn a_misspelt_key_or_preset_gets_a_suggestion() {
    let dir = tempfile::tempdir().expect("tempdir");
    let key = write(
        dir.path(),
        "key.yaml",
        &clean_config("http://127.0.0.1:3000", "").replace("upstream:", "upstrem:"),
    );
    let output = hookguard(&["check", "-c", &key], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(stderr.contains("unknown field `upstrem`"), "{stderr}");
    assert!(stderr.contains("did you mean `upstream`?"), "{stderr}");

    let preset = write(
        dir.path(),
        "preset.yaml",
        &clean_config("http://127.0.0.1:3000", "").replace("provider: github", "provider: githb"),
    );
    let output = hookguard(&["check", "-c", &preset], &[]);
    assert_eq!(output.status.code(), Some(1));
    let stderr = text(&output.stderr);
    assert!(
        stderr.contains(r#"unknown provider "githb"; did you mean "github"?"#),
        "{stderr}"
    );

    let sign = hookguard(
        &["sign", "--provider", "githb", "--secret-env", SECRET_VAR],
        &[],
    );
    assert!(text(&sign.stderr).contains(r#"did you mean "github"?"#));
    assert!(!text(&sign.stderr).contains(SECRET));
}

/// Three, not two: a 2-core CI runner would start two without the key.
#[tokio::test]
async fn workers_3_starts_three_workers_and_a_reload_cannot_change_it() {
    let app = App::start().await;
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("hookguard.yaml");
    std::fs::write(&path, clean_config(&app.url(), "workers: 3")).expect("write");
    let proxy = Hookguard::start_at(dir, &path, &[(SECRET_VAR, SECRET)]);
    let started = proxy.wait_for_log("workers started");
    assert_eq!(
        crate::support::field(&started, "workers").as_deref(),
        Some("3")
    );

    std::fs::write(&path, clean_config(&app.url(), "workers: 2")).expect("rewrite");
    proxy.signal("HUP");
    let refused = proxy.wait_for_log("config reload refused");
    assert!(
        refused.contains("`workers` takes effect only on restart"),
        "{refused}"
    );
}

#[test]
fn run_refuses_out_of_range_workers_and_idle_limits_before_binding() {
    let dir = tempfile::tempdir().expect("tempdir");
    for (extra, expected) in [
        ("workers: 0", "key `workers`: must be from 1 to 1024"),
        (
            "limits: {upstream_idle_per_worker: 100000}",
            "key `limits.upstream_idle_per_worker`: must be from 0 to 65536",
        ),
        (
            "limits: {upstream_idle_per_worker: -1}",
            "upstream_idle_per_worker",
        ),
    ] {
        let path = write(
            dir.path(),
            "bad.yaml",
            &clean_config("http://127.0.0.1:3000", extra),
        );
        let output = hookguard(&["run", "-c", &path], &[]);
        assert_eq!(output.status.code(), Some(1), "{extra}");
        assert!(
            text(&output.stderr).contains(expected),
            "{extra}: {}",
            text(&output.stderr)
        );
    }
}
