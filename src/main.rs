//! The `hookguard` command: logging, the CLI, and exit codes. The work is in the library, or in
//! `cli/` for what only the command does.

mod cli;

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use clap::{Args, CommandFactory, Parser, Subcommand};

use hookguard::config::{Config, LogFormat};
use hookguard::telemetry::logformat::LineFormat;
use hookguard::verify::presets;
use tracing_subscriber::EnvFilter;

/// `--version`: the package version and the commit it was built from ([`hookguard::COMMIT`],
/// spelt here as the same `env!` because `concat!` takes only literals).
const VERSION: &str = concat!(
    env!("CARGO_PKG_VERSION"),
    " (commit ",
    env!("HOOKGUARD_COMMIT"),
    ")"
);

#[derive(Parser)]
#[command(
    name = "hookguard",
    version = VERSION,
    about = "Forwards only webhooks whose signatures check out"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

/// The config file, for every command that reads one.
#[derive(Args)]
struct ConfigFile {
    /// The config file.
    #[arg(
        short = 'c',
        long = "config",
        value_name = "FILE",
        env = "HOOKGUARD_CONFIG",
        // The value is a path, but the help (and the man page made from it) must not change with
        // whatever the generating shell had set.
        hide_env_values = true,
        default_value = "/etc/hookguard/config.yaml"
    )]
    path: PathBuf,
}

#[derive(Subcommand)]
enum Command {
    /// Serve the routes of a config file.
    Run {
        #[command(flatten)]
        config: ConfigFile,
    },
    /// Validate a config file and print the routes it would serve.
    Check {
        #[command(flatten)]
        config: ConfigFile,
        /// Fail (exit 1) on any warning too, not only on errors.
        #[arg(long)]
        strict: bool,
    },
    /// List the provider presets.
    Providers {
        /// Print the README's Markdown table instead of one line per preset.
        #[arg(long, conflicts_with = "yaml")]
        markdown: bool,
        /// Print the explicit `verify:` block that verifies as preset NAME does.
        #[arg(long, value_name = "NAME")]
        yaml: Option<String>,
    },
    /// Print the header(s) a provider would send for a body, to test with curl.
    Sign {
        #[arg(long)]
        provider: String,
        /// The environment variable holding the secret (kept off the command line and shell history).
        #[arg(long)]
        secret_env: String,
        /// The exact URL given to the provider, for URL-signing presets (twilio, square, hubspot).
        #[arg(long)]
        url: Option<String>,
        /// The request method, for presets that sign it (hubspot).
        #[arg(long, default_value = "POST")]
        method: String,
        /// The body's Content-Type, for presets that sign form fields (twilio).
        #[arg(long)]
        content_type: Option<String>,
        /// Print a whole HTTP/1.1 request (request line, Host, signed headers, body) instead of the
        /// headers alone, for `hookguard explain` or `nc`; needs --url.
        #[arg(long)]
        request: bool,
        /// The body file; `-` or nothing reads standard input.
        file: Option<PathBuf>,
    },
    /// Say what a route would do with a captured request, and why; exit 0 forward, 1 refuse.
    Explain {
        #[command(flatten)]
        config: ConfigFile,
        /// The route's name (its `path` when it has no `name`).
        #[arg(long)]
        route: String,
        /// The request as sent: request line, headers, blank line, body; `-` reads standard input.
        request: PathBuf,
    },
    /// List, replay or drop dead letters through a running hookguard's admin API.
    DeadLetters(cli::dead_letters::DeadLetters),
    /// Print a shell completion script; e.g. `hookguard completions bash > /etc/bash_completion.d/hookguard`.
    Completions {
        #[arg(value_enum)]
        shell: clap_complete::Shell,
    },
    /// Write the man pages (hookguard.1 and one per command) into DIR.
    Man {
        /// The directory to write them into; it must exist.
        dir: PathBuf,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run { config } => {
            // `run` reports its own fatal error, in the log format the config asks for.
            return match run(&config.path) {
                Ok(()) => ExitCode::SUCCESS,
                Err(error) => {
                    cli::fatal::report(&config.path, &error);
                    ExitCode::FAILURE
                }
            };
        }
        Command::Check { config, strict } => check(&config.path, strict),
        Command::Providers { markdown, yaml } => providers(markdown, yaml.as_deref()),
        Command::Sign {
            provider,
            secret_env,
            url,
            method,
            content_type,
            request,
            file,
        } => cli::sign::sign(cli::sign::SignArgs {
            provider: &provider,
            secret_env: &secret_env,
            url: url.as_deref(),
            method: &method,
            content_type: content_type.as_deref(),
            request,
            file,
        }),
        Command::Explain {
            config,
            route,
            request,
        } => {
            // Exit 2 for what stops the explanation itself: a usage error, a config that does not
            // load, a request file that does not parse.
            return cli::explain::explain(cli::explain::ExplainArgs {
                config: config.path,
                route,
                request,
            })
            .unwrap_or_else(|error| {
                eprintln!("hookguard: {error:#}");
                ExitCode::from(2)
            });
        }
        Command::DeadLetters(args) => cli::dead_letters::run(args),
        Command::Completions { shell } => {
            clap_complete::generate(
                shell,
                &mut Cli::command(),
                "hookguard",
                &mut std::io::stdout(),
            );
            Ok(())
        }
        Command::Man { dir } => man_pages(&dir),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("hookguard: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Validates and prints; with `strict`, a warning fails the check as an error would.
fn check(path: &Path, strict: bool) -> anyhow::Result<()> {
    let config = Config::load(path)?;
    let warnings = cli::check::print(&config);
    if strict && warnings > 0 {
        anyhow::bail!("{warnings} warning(s), and --strict fails on any");
    }
    Ok(())
}

/// The man pages, written with the bare package version so the committed pages in `docs/man/` do
/// not change with every commit.
fn man_pages(dir: &Path) -> anyhow::Result<()> {
    let command = Cli::command().version(env!("CARGO_PKG_VERSION"));
    clap_mangen::generate_to(command, dir)
        .map_err(|e| anyhow::anyhow!("cannot write the man pages into {}: {e}", dir.display()))
}

fn providers(markdown: bool, yaml: Option<&str>) -> anyhow::Result<()> {
    match (markdown, yaml) {
        (_, Some(name)) => {
            let Some(preset) = presets::find(name) else {
                anyhow::bail!("{}", hookguard::suggest::unknown_provider(name));
            };
            let block = hookguard::verify::spec::verify_yaml(preset)
                .map_err(|e| anyhow::anyhow!("cannot write {name} as YAML: {e}"))?;
            print!("{block}");
        }
        (true, None) => print!("{}", presets::markdown_table()),
        (false, None) => {
            for preset in presets::all() {
                println!("{} {}", preset.name, preset.description);
            }
        }
    }
    Ok(())
}

/// Logs to standard error as text or JSON; RUST_LOG, when set, overrides the config's level.
fn init_logging(format: LogFormat, level: &str) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(hookguard::telemetry::logbuffer::BufferedStderr)
        .event_format(match format {
            LogFormat::Text => LineFormat::Text,
            LogFormat::Json => LineFormat::Json,
        })
        .init();
}

fn run(config_path: &Path) -> anyhow::Result<()> {
    let config = Config::load(config_path)?;
    init_logging(config.log_format, &config.log_level);
    hookguard::app::run(config, config_path)
}
