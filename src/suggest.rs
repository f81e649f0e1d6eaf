//! "Did you mean": the closest known name to a misspelt one, for unknown config keys and preset
//! names. Only a near miss is suggested; a word unlike every candidate gets no guess.

/// The candidate nearest to `word` by Jaro-Winkler similarity (the measure clap suggests
/// subcommands with), if any is close enough to be a plausible typo.
pub fn closest<'c>(word: &str, candidates: impl IntoIterator<Item = &'c str>) -> Option<&'c str> {
    /// clap's own threshold: below it, suggestions are more often noise than help.
    const LEAST_SIMILARITY: f64 = 0.7;
    candidates
        .into_iter()
        .map(|candidate| (strsim::jaro_winkler(word, candidate), candidate))
        .filter(|(similarity, _)| *similarity >= LEAST_SIMILARITY)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, candidate)| candidate)
}

/// The refusal of an unknown preset name, with the nearest preset when one is close.
pub fn unknown_provider(name: &str) -> String {
    let known = crate::verify::presets::all()
        .iter()
        .map(|preset| preset.name);
    match closest(name, known) {
        Some(near) => format!(
            "unknown provider {name:?}; did you mean {near:?}? `hookguard providers` lists them"
        ),
        None => format!("unknown provider {name:?}; `hookguard providers` lists them"),
    }
}

/// serde's refusal of an unknown key or value ("unknown field `upstrem`, expected one of
/// `listen`, `upstream`, …") with the nearest expected name added. serde already lists what it
/// expected; this picks the one the writer most likely meant, so the fix reads at a glance.
pub fn with_suggestion(message: &str) -> String {
    let Some((word, expected)) = ["unknown field `", "unknown variant `"]
        .iter()
        .find_map(|lead| message.split_once(lead))
        .and_then(|(_, rest)| rest.split_once("`, expected "))
    else {
        return message.to_string();
    };
    let names = expected
        .split('`')
        .skip(1)
        .step_by(2)
        .take_while(|name| !name.is_empty());
    match closest(word, names) {
        Some(near) => format!("{message} (did you mean `{near}`?)"),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_near_miss_is_suggested_and_a_stranger_is_not() {
        let keys = ["listen", "upstream", "admin", "routes"];
        assert_eq!(closest("upstrem", keys), Some("upstream"));
        assert_eq!(closest("rotues", keys), Some("routes"));
        assert_eq!(closest("zzzzzz", keys), None);
    }

    #[test]
    fn serde_messages_get_the_nearest_expected_name() {
        let message =
            "routes[0]: unknown field `upstrem`, expected one of `path`, `upstream`, `name` at line 4 column 5";
        assert_eq!(
            with_suggestion(message),
            format!("{message} (did you mean `upstream`?)")
        );
        let variant = "log.format: unknown variant `jsn`, expected `text` or `json`";
        assert!(with_suggestion(variant).ends_with("(did you mean `json`?)"));
        let unrelated = "invalid type: string, expected a sequence";
        assert_eq!(with_suggestion(unrelated), unrelated);
        let stranger = "unknown field `qqqqqqqq`, expected `path`";
        assert_eq!(with_suggestion(stranger), stranger);
    }

    #[test]
    fn unknown_presets_name_the_nearest_preset() {
        assert!(unknown_provider("githb").contains("did you mean \"github\"?"));
        assert!(!unknown_provider("qqqqqqqqqq").contains("did you mean"));
    }
}
