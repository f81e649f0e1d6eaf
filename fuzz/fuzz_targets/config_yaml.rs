//! Config loading (`Config::from_yaml`): arbitrary YAML, every environment variable set to a
//! secret. A config that loads has routes that its own routing finds again.
#![no_main]

use hookguard::config::Config;
use hookguard::routing::PathPattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let Ok(config) = Config::from_yaml(text, |_| Some("fuzz-secret-0123456789abcdef".into()))
    else {
        return;
    };
    for route in &config.routes {
        let path = match &route.pattern {
            PathPattern::Exact(p) | PathPattern::Prefix(p) => p.as_str(),
        };
        let path = if path.is_empty() { "/" } else { path };
        let found = config.route_for(path);
        assert!(
            matches!(found, Ok(Some(_))),
            "route {} at {path:?} is not found: {:?}",
            route.name,
            found.map(|r| r.map(|r| &r.name))
        );
    }
});
