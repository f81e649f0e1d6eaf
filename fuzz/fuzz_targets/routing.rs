//! Path canonicalisation and routing (src/routing.rs): route patterns as a config writes them, and
//! request paths as a client sends them.
//!
//! Input: lines; each but the last is a route's `path:`, the last is the request path.
#![no_main]

use hookguard::routing::{check_canonical, PathPattern, RouteIndex};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let mut lines: Vec<&str> = text.split('\n').collect();
    let path = lines.pop().unwrap_or("");
    let patterns: Vec<PathPattern> = lines
        .iter()
        .filter_map(|line| PathPattern::parse(line).ok())
        .collect();
    for pattern in &patterns {
        // A pattern written back reads as the same pattern: `check` prints them this way.
        let written = pattern.to_string();
        assert_eq!(
            PathPattern::parse(&written).as_ref(),
            Ok(pattern),
            "{written:?}"
        );
    }
    let canonical = check_canonical(path);
    let index = RouteIndex::build(&patterns, |p| p);
    match index.lookup(&patterns, |p| p, path) {
        Ok(Some(pattern)) => {
            assert!(canonical.is_ok());
            let literal = match pattern {
                PathPattern::Exact(p) | PathPattern::Prefix(p) => p,
            };
            // A route is only ever reached by a path that spells out its literal exactly.
            assert!(
                path.starts_with(literal.as_str()),
                "{path:?} routed to {pattern}"
            );
        }
        Ok(None) => assert!(canonical.is_ok()),
        Err(_) => {}
    }
});
