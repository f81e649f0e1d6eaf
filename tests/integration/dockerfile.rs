//! The Dockerfile's build stage replayed without Docker: its WORKDIR, COPY and RUN steps run in
//! a scratch directory, offline from the local cargo cache, so a file the build needs but the
//! Dockerfile forgets to copy fails here instead of in `docker build`.
//!
//! The RUN commands are the Dockerfile's own, run by `sh -c`. Only the release profile is
//! overridden through cargo's environment (no LTO, opt-level 0, many codegen units) and the
//! target directory is shared under `target/`, so the replay costs a debug-like build once and
//! an incremental one after. Which files cargo reads (the manifest, every target it names, the
//! sources and what they `include_str!`) does not depend on the optimisation level, so the
//! replay proves what a real release build would need.

use std::path::{Path, PathBuf};
use std::process::Command;

const DOCKERFILE: &str = include_str!("../../Dockerfile");
const DOCKERIGNORE: &str = include_str!("../../.dockerignore");
/// The stage that builds the binary, as the Dockerfile names it (`FROM … AS build`).
const BUILD_STAGE: &str = "build";

/// One instruction of the build stage that the replay acts on.
#[derive(Debug)]
enum Step {
    Workdir(String),
    Copy { sources: Vec<String>, dest: String },
    Run(String),
}

/// The Dockerfile's instructions as (keyword, arguments), continuation lines joined and
/// comments dropped.
fn instructions(dockerfile: &str) -> Vec<(String, String)> {
    let mut joined = Vec::new();
    let mut current = String::new();
    for line in dockerfile.lines() {
        let trimmed = line.trim();
        if trimmed.starts_with('#') || (trimmed.is_empty() && current.is_empty()) {
            continue;
        }
        match trimmed.strip_suffix('\\') {
            Some(head) => {
                current.push_str(head);
                current.push(' ');
            }
            None => {
                current.push_str(trimmed);
                joined.push(std::mem::take(&mut current));
            }
        }
    }
    joined
        .into_iter()
        .filter(|line| !line.is_empty())
        .map(|line| {
            let (keyword, rest) = line.split_once(char::is_whitespace).unwrap_or((&line, ""));
            (keyword.to_ascii_uppercase(), rest.trim().to_string())
        })
        .collect()
}

/// The steps of the stage named `stage`; panics on an instruction the replay cannot honour,
/// so a Dockerfile that grows one makes this test grow with it.
fn stage_steps(dockerfile: &str, stage: &str) -> Vec<Step> {
    let mut in_stage = false;
    let mut steps = Vec::new();
    for (keyword, args) in instructions(dockerfile) {
        if keyword == "FROM" {
            let words: Vec<&str> = args.split_whitespace().collect();
            in_stage = words.len() == 3 && words[1].eq_ignore_ascii_case("as") && words[2] == stage;
            continue;
        }
        if !in_stage {
            continue;
        }
        match keyword.as_str() {
            "WORKDIR" => steps.push(Step::Workdir(args)),
            "RUN" => steps.push(Step::Run(args)),
            "COPY" => {
                assert!(
                    !args.starts_with("--"),
                    "COPY flags are not replayed: {args}"
                );
                let mut words: Vec<String> = args.split_whitespace().map(String::from).collect();
                let dest = words.pop().expect("COPY has a destination");
                assert!(!words.is_empty(), "COPY has a source: {args}");
                steps.push(Step::Copy {
                    sources: words,
                    dest,
                });
            }
            "ENV" | "ARG" | "ADD" | "SHELL" | "USER" => {
                panic!("the replay does not model {keyword} yet: {args}")
            }
            _ => {}
        }
    }
    assert!(!steps.is_empty(), "no stage named {stage}");
    steps
}

/// Where the runtime stage takes the binary from (`COPY --from=build PATH …`).
fn artifacts_taken_from_build(dockerfile: &str) -> Vec<String> {
    instructions(dockerfile)
        .into_iter()
        .filter(|(keyword, _)| keyword == "COPY")
        .filter_map(|(_, args)| {
            let rest = args.strip_prefix(&format!("--from={BUILD_STAGE}"))?;
            rest.split_whitespace().next().map(String::from)
        })
        .collect()
}

/// Top-level names `.dockerignore` keeps out of the build context.
fn ignored() -> Vec<&'static str> {
    DOCKERIGNORE
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && !line.starts_with('#'))
        .map(|line| line.trim_matches('/'))
        .collect()
}

/// Docker's COPY: a directory's contents go into the destination, a file goes into it when it
/// is a directory (ends in `/`, or several sources) or becomes it otherwise.
fn copy(context: &Path, root: &Path, workdir: &str, sources: &[String], dest: &str) {
    let dest_path = resolve(root, workdir, dest);
    let into_dir = dest.ends_with('/') || dest == "." || sources.len() > 1;
    for source in sources {
        let name = source.trim_end_matches('/');
        assert!(
            !ignored().contains(&name),
            "{source} is in .dockerignore, so COPY would find nothing"
        );
        let from = context.join(name);
        assert!(from.exists(), "COPY {source}: no such file in the repo");
        if from.is_dir() {
            copy_dir(&from, &dest_path);
        } else {
            let to = if into_dir {
                dest_path.join(from.file_name().expect("file name"))
            } else {
                dest_path.clone()
            };
            std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
            std::fs::copy(&from, &to).expect("copy");
        }
    }
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read_dir") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

/// A path of the image's filesystem, inside the scratch root that stands for WORKDIR.
fn resolve(root: &Path, workdir: &str, path: &str) -> PathBuf {
    match path.strip_prefix('/') {
        Some(absolute) => {
            let inside = Path::new(absolute)
                .strip_prefix(workdir.trim_start_matches('/'))
                .unwrap_or_else(|_| panic!("{path} lies outside WORKDIR {workdir}"));
            root.join(inside)
        }
        None => root.join(path),
    }
}

/// The shared target directory, outside the scratch root so the dependencies build once.
fn replay_target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("target/dockerfile-replay")
}

fn run(root: &Path, command: &str) {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_string());
    let cargo_dir = Path::new(&cargo).parent().map(Path::to_path_buf);
    let mut path = std::env::var_os("PATH").unwrap_or_default();
    if let Some(dir) = cargo_dir.filter(|dir| !dir.as_os_str().is_empty()) {
        path = std::env::join_paths(std::iter::once(dir).chain(std::env::split_paths(&path)))
            .expect("PATH");
    }
    let output = Command::new("sh")
        .arg("-c")
        .arg(command)
        .current_dir(root)
        .env("PATH", path)
        .env("CARGO_NET_OFFLINE", "true")
        .env("CARGO_TARGET_DIR", replay_target_dir())
        .env("CARGO_PROFILE_RELEASE_LTO", "false")
        .env("CARGO_PROFILE_RELEASE_OPT_LEVEL", "0")
        .env("CARGO_PROFILE_RELEASE_CODEGEN_UNITS", "256")
        .env_remove("RUSTFLAGS")
        .output()
        .expect("sh");
    assert!(
        output.status.success(),
        "RUN {command}\nfailed in the replay: the Dockerfile's build stage lacks something.\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
}

/// Ignored by a plain `cargo test`: it builds the whole crate again, which would starve the
/// suite's timing-sensitive tests of CPU. `.ci/run` runs it on its own after the suite.
#[test]
#[ignore = "a full build; .ci/run runs it alone: cargo test --test integration dockerfile:: -- --ignored"]
fn the_build_stage_builds_from_only_what_it_copies() {
    let context = Path::new(env!("CARGO_MANIFEST_DIR"));
    let scratch = tempfile::tempdir().expect("tempdir");
    let root = scratch.path();
    let mut workdir = String::from("/");
    for step in stage_steps(DOCKERFILE, BUILD_STAGE) {
        match step {
            Step::Workdir(dir) => workdir = dir,
            Step::Copy { sources, dest } => copy(context, root, &workdir, &sources, &dest),
            Step::Run(command) => run(root, &command),
        }
    }
    // The runtime stage copies the binary from the build stage's target directory.
    let target = format!("{}/target/", workdir.trim_end_matches('/'));
    let artifacts = artifacts_taken_from_build(DOCKERFILE);
    assert!(!artifacts.is_empty(), "the runtime stage copies the binary");
    for artifact in artifacts {
        let inside = artifact
            .strip_prefix(&target)
            .unwrap_or_else(|| panic!("{artifact} is not under {target}"));
        let built = replay_target_dir().join(inside);
        assert!(built.is_file(), "{artifact} was not built ({built:?})");
    }
}

#[test]
fn the_parser_sees_what_a_forgotten_file_looks_like() {
    let dockerfile = "FROM rust AS build\nWORKDIR /src\n# deps\nCOPY Cargo.toml Cargo.lock ./\n\
                      RUN mkdir src \\\n    && cargo build --release\nFROM other\nCOPY x y\n";
    let steps = stage_steps(dockerfile, "build");
    assert!(matches!(&steps[0], Step::Workdir(dir) if dir == "/src"));
    assert!(
        matches!(&steps[1], Step::Copy { sources, dest } if sources.len() == 2 && dest == "./")
    );
    assert!(
        matches!(&steps[2], Step::Run(cmd) if cmd.contains("mkdir src") && cmd.contains("cargo build"))
    );
    assert_eq!(steps.len(), 3, "the next stage's COPY is not replayed");
}
