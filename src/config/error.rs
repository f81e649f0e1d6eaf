//! What is wrong with a config file: every problem found in it, each naming its place and key, so
//! one run of `check` shows them all.

use std::fmt;
use std::path::PathBuf;

/// One thing wrong, where it is: `route "stripe" (routes[2]): key `secrets[0]`: ...`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub place: String,
    pub key: String,
    pub message: String,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: key `{}`: {}", self.place, self.key, self.message)
    }
}

pub(super) fn invalid(place: &str, key: impl Into<String>, message: impl fmt::Display) -> Problem {
    Problem {
        place: place.to_string(),
        key: key.into(),
        message: message.to_string(),
    }
}

/// The problems found so far. Validation goes on past each one, so that a file with five mistakes
/// is refused once, naming all five.
#[derive(Debug, Default)]
pub(super) struct Problems(Vec<Problem>);

impl Problems {
    /// The value, or `None` with its problem kept.
    pub(super) fn keep<T>(&mut self, result: Result<T, Problem>) -> Option<T> {
        match result {
            Ok(value) => Some(value),
            Err(problem) => {
                self.0.push(problem);
                None
            }
        }
    }

    pub(super) fn push(&mut self, problem: Problem) {
        self.0.push(problem);
    }

    pub(super) fn count(&self) -> usize {
        self.0.len()
    }

    /// `Ok` when nothing was found.
    pub(super) fn into_result(self) -> Result<(), ConfigError> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(ConfigError::Invalid(self.0))
        }
    }
}

/// Each message already carries its cause's text, so no variant names a `source`: anyhow's `{:#}`
/// would print that cause a second time.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {cause}")]
    Read {
        path: PathBuf,
        cause: std::io::Error,
    },
    /// An unknown key or value also names the nearest known one.
    #[error(
        "config is not valid YAML for hookguard: {}",
        crate::suggest::with_suggestion(&.0.to_string())
    )]
    Syntax(serde_yaml::Error),
    #[error("{}", list(.0))]
    Invalid(Vec<Problem>),
}

/// One problem on its own, as it always read; several one to a line under a count.
fn list(problems: &[Problem]) -> String {
    match problems {
        [only] => only.to_string(),
        many => {
            let mut text = format!("{} problems in the config:", many.len());
            for problem in many {
                text.push_str("\n  ");
                text.push_str(&problem.to_string());
            }
            text
        }
    }
}
