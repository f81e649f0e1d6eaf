//! Where each of a route's secrets comes from (`env VAR`, `file PATH`, a literal `value`), read
//! from the config text itself, since the loaded config keeps only the secret bytes.

use serde_yaml::Value;

/// One description per secret of the route named `route` (its `name`, or its `path` when it has
/// none), in order; empty when the text does not say.
pub fn sources(config_text: &str, route: &str) -> Vec<String> {
    let Ok(config) = serde_yaml::from_str::<Value>(config_text) else {
        return Vec::new();
    };
    let routes = config.get("routes").and_then(Value::as_sequence);
    let found = routes
        .into_iter()
        .flatten()
        .find(|raw| name_of(raw) == Some(route));
    let secrets = found.and_then(|raw| raw.get("secrets")?.as_sequence());
    secrets.into_iter().flatten().map(source).collect()
}

fn name_of(route: &Value) -> Option<&str> {
    route
        .get("name")
        .or_else(|| route.get("path"))
        .and_then(Value::as_str)
}

/// `env VAR`, `file PATH` or `value in the config`: where, never what.
fn source(secret: &Value) -> String {
    let text = |key: &str| secret.get(key).and_then(Value::as_str);
    let place = if let Some(var) = text("env") {
        format!("env {var}")
    } else if let Some(path) = text("file") {
        format!("file {path}")
    } else {
        "value written in the config".to_string()
    };
    match text("not_after") {
        Some(limit) => format!("{place} (not_after {limit})"),
        None => place,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_name_the_place_and_never_the_value() {
        let yaml =
            "routes:\n  - path: /a\n    secrets: [{env: OLD}, {file: /s}, {value: hunter2}]\n";
        let found = sources(yaml, "/a");
        assert_eq!(found, ["env OLD", "file /s", "value written in the config"]);
    }
}
