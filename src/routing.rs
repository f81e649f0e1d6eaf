//! Path canonicalisation and route lookup: one path, one meaning, or a 400.
//!
//! hookguard and the app must agree on which route a path names. Any spelling the app might decode or
//! normalise into another path (`..`, `//`, `%2F`, a case variant of a route) is refused outright, so
//! `unmatched: forward` cannot be used to reach a verified endpoint unverified.

use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;

/// Why a path was refused before routing.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NonCanonical {
    NotAbsolute,
    DotSegment,
    EmptySegment,
    Backslash,
    Semicolon,
    BadPercentEscape,
    EncodedCharacter,
    CaseVariant,
}

impl NonCanonical {
    pub fn as_str(self) -> &'static str {
        match self {
            NonCanonical::NotAbsolute => "path_not_absolute",
            NonCanonical::DotSegment => "path_dot_segment",
            NonCanonical::EmptySegment => "path_empty_segment",
            NonCanonical::Backslash => "path_backslash",
            NonCanonical::Semicolon => "path_semicolon",
            NonCanonical::BadPercentEscape => "path_bad_percent_escape",
            NonCanonical::EncodedCharacter => "path_encoded_character",
            NonCanonical::CaseVariant => "path_case_variant",
        }
    }
}

impl fmt::Display for NonCanonical {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Characters whose percent-encoded form an app may decode back into a different path: the
/// separators and `%` that design.md names, and the RFC 3986 unreserved set, which normalisers decode.
fn is_decode_sensitive(byte: u8) -> bool {
    matches!(byte, b'/' | b'\\' | b'%' | b'.' | b'-' | b'_' | b'~') || byte.is_ascii_alphanumeric()
}

fn hex_value(byte: u8) -> Option<u8> {
    (byte as char).to_digit(16).map(|d| d as u8)
}

/// Checks a request path (without its query) against the canonical-form rules of design.md.
pub fn check_canonical(path: &str) -> Result<(), NonCanonical> {
    let rest = path.strip_prefix('/').ok_or(NonCanonical::NotAbsolute)?;
    // Walked without collecting: this runs on every request, and a Vec of segments was most of
    // routing's cost once lookup stopped scanning routes.
    let mut segments = rest.split('/').peekable();
    while let Some(segment) = segments.next() {
        // One trailing slash is allowed: `/webhooks/x/` names the same route as `/webhooks/x`.
        if segment.is_empty() && segments.peek().is_some() {
            return Err(NonCanonical::EmptySegment);
        }
        if segment == "." || segment == ".." {
            return Err(NonCanonical::DotSegment);
        }
    }
    let bytes = path.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'\\' => return Err(NonCanonical::Backslash),
            b';' => return Err(NonCanonical::Semicolon),
            b'%' => {
                let high = bytes.get(i + 1).copied().and_then(hex_value);
                let low = bytes.get(i + 2).copied().and_then(hex_value);
                let (Some(high), Some(low)) = (high, low) else {
                    return Err(NonCanonical::BadPercentEscape);
                };
                if is_decode_sensitive(high << 4 | low) {
                    return Err(NonCanonical::EncodedCharacter);
                }
                i += 3;
                continue;
            }
            _ => {}
        }
        i += 1;
    }
    Ok(())
}

/// A route's `path:` as written in the config.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PathPattern {
    /// `/a/b`: that path, with or without one trailing slash.
    Exact(String),
    /// `/a/*`, stored as `/a`: that segment and everything below it.
    Prefix(String),
}

impl PathPattern {
    pub fn parse(text: &str) -> Result<Self, String> {
        let (base, is_prefix) = match text.strip_suffix("/*") {
            Some(base) => (base, true),
            None => (text, false),
        };
        if base.contains('*') {
            return Err("`*` is allowed only as a whole last segment, as in /webhooks/*".into());
        }
        let check = if base.is_empty() { "/" } else { base };
        check_canonical(check).map_err(|reason| {
            format!("{text:?} is not a canonical path ({reason}); requests to it would be refused")
        })?;
        if base.len() > 1 && base.ends_with('/') {
            return Err(format!(
                "{text:?} has a trailing slash; write it without one"
            ));
        }
        Ok(if is_prefix {
            PathPattern::Prefix(base.to_string())
        } else {
            PathPattern::Exact(base.to_string())
        })
    }

    fn literal(&self) -> &str {
        match self {
            PathPattern::Exact(p) | PathPattern::Prefix(p) => p,
        }
    }

    fn matches_with(&self, path: &[u8], same: fn(&[u8], &[u8]) -> bool) -> bool {
        let literal = self.literal().as_bytes();
        let head_matches = path.len() >= literal.len() && same(&path[..literal.len()], literal);
        if !head_matches {
            return false;
        }
        let tail = &path[literal.len()..];
        match self {
            PathPattern::Exact(_) => tail.is_empty() || (tail == b"/" && literal != b"/"),
            PathPattern::Prefix(_) => tail.is_empty() || tail[0] == b'/',
        }
    }

    fn matches(&self, path: &[u8]) -> bool {
        self.matches_with(path, |a, b| a == b)
    }

    fn matches_ignoring_case(&self, path: &[u8]) -> bool {
        self.matches_with(path, <[u8]>::eq_ignore_ascii_case)
    }

    /// Longer literals win; at equal length an exact route beats a prefix one.
    fn specificity(&self) -> (usize, bool) {
        (self.literal().len(), matches!(self, PathPattern::Exact(_)))
    }
}

impl fmt::Display for PathPattern {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PathPattern::Exact(p) => f.write_str(p),
            PathPattern::Prefix(p) => write!(f, "{p}/*"),
        }
    }
}

/// The routes of one config found by their literal, so a lookup costs the path's segments, not the
/// number of routes: issue 17 asks 10,000 routes to cost within 5% of one.
///
/// A pattern can match a path, exactly or ignoring case, only where its literal ends at a segment
/// boundary of the path (before a `/` or at the end). So the routes worth checking are those whose
/// ASCII-lowercased literal equals a lowercased boundary prefix of the path; the rest would match
/// neither way, and a scan would pass them by. Those few are checked as the scan checks every route,
/// so the canonical-path and case-variant rules stay exactly as they were.
#[derive(Debug)]
pub struct RouteIndex {
    /// ASCII-lowercased literal → positions in the route list of every pattern with that literal, in
    /// config order (the first of equally specific routes wins, as it did in the scan).
    by_folded_literal: HashMap<Box<[u8]>, Vec<usize>>,
    /// `literal_lengths[n]`: some route's literal is `n` bytes long. Boundaries where no literal can
    /// end are passed over without hashing, and the walk stops past the longest literal, so a small
    /// table costs about what the one-route scan did.
    literal_lengths: Vec<bool>,
}

impl RouteIndex {
    /// Indexes `routes`; lookups must be given the same list.
    pub fn build<T>(routes: &[T], pattern_of: impl Fn(&T) -> &PathPattern) -> Self {
        let mut by_folded_literal: HashMap<Box<[u8]>, Vec<usize>> = HashMap::new();
        let mut literal_lengths = Vec::new();
        for (position, route) in routes.iter().enumerate() {
            let folded = pattern_of(route).literal().to_ascii_lowercase();
            if literal_lengths.len() <= folded.len() {
                literal_lengths.resize(folded.len() + 1, false);
            }
            literal_lengths[folded.len()] = true;
            by_folded_literal
                .entry(folded.into_bytes().into_boxed_slice())
                .or_default()
                .push(position);
        }
        RouteIndex {
            by_folded_literal,
            literal_lengths,
        }
    }

    /// Finds the route for a canonical path: `Ok(Some(route))`, `Ok(None)` for no route, or a
    /// refusal. Any route the path matches only when case is ignored refuses it, whatever else matches.
    pub fn lookup<'r, T>(
        &self,
        routes: &'r [T],
        pattern_of: impl Fn(&T) -> &PathPattern,
        path: &str,
    ) -> Result<Option<&'r T>, NonCanonical> {
        check_canonical(path)?;
        let path = path.as_bytes();
        // Only the part a literal can cover is ever looked up, and most paths are lowercase
        // already: only the others pay for a folded copy.
        let reach = &path[..path.len().min(self.literal_lengths.len())];
        let folded: Cow<'_, [u8]> = if reach.iter().any(u8::is_ascii_uppercase) {
            Cow::Owned(reach.to_ascii_lowercase())
        } else {
            Cow::Borrowed(reach)
        };
        let mut best: Option<(&T, (usize, bool))> = None;
        let literal_ends = segment_boundaries(path)
            .take_while(|&end| end < self.literal_lengths.len())
            .filter(|&end| matches!(self.literal_lengths.get(end), Some(true)));
        for end in literal_ends {
            let Some(positions) = self.by_folded_literal.get(&folded[..end]) else {
                continue;
            };
            // A position past the list's end could only come from another list: skip, never panic.
            for route in positions
                .iter()
                .filter_map(|&position| routes.get(position))
            {
                let pattern = pattern_of(route);
                if pattern.matches(path) {
                    // Equal specificity means an equal literal, so one bucket: config order decides.
                    let specificity = pattern.specificity();
                    if best.is_none_or(|(_, current)| specificity > current) {
                        best = Some((route, specificity));
                    }
                } else if pattern.matches_ignoring_case(path) {
                    return Err(NonCanonical::CaseVariant);
                }
            }
        }
        Ok(best.map(|(route, _)| route))
    }
}

/// Where a route's literal may end in `path`: before each `/` (the first gives `/*`'s empty literal)
/// and at the end.
fn segment_boundaries(path: &[u8]) -> impl Iterator<Item = usize> + '_ {
    (0..=path.len()).filter(|&end| end == path.len() || path[end] == b'/')
}

/// The scan the index replaced, kept as the oracle the index is checked against.
#[cfg(test)]
fn scan_lookup<'r, T>(
    routes: &'r [T],
    pattern_of: impl Fn(&T) -> &PathPattern,
    path: &str,
) -> Result<Option<&'r T>, NonCanonical> {
    check_canonical(path)?;
    let path = path.as_bytes();
    let mut best: Option<(&T, (usize, bool))> = None;
    for route in routes {
        let pattern = pattern_of(route);
        if pattern.matches(path) {
            let specificity = pattern.specificity();
            if best.is_none_or(|(_, current)| specificity > current) {
                best = Some((route, specificity));
            }
        } else if pattern.matches_ignoring_case(path) {
            return Err(NonCanonical::CaseVariant);
        }
    }
    Ok(best.map(|(route, _)| route))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn canonical_paths_pass() {
        for path in [
            "/",
            "/webhooks/x",
            "/webhooks/x/",
            "/a%20b",
            "/a%3Fb",
            "/a-b_c~d.json",
            "/%E2%9C%93",
        ] {
            assert_eq!(check_canonical(path), Ok(()), "{path}");
        }
    }

    #[test]
    fn non_canonical_paths_are_named() {
        let cases = [
            ("webhooks", NonCanonical::NotAbsolute),
            ("*", NonCanonical::NotAbsolute),
            ("/a/./b", NonCanonical::DotSegment),
            ("/a/../b", NonCanonical::DotSegment),
            ("/a/..", NonCanonical::DotSegment),
            ("/.", NonCanonical::DotSegment),
            ("//a", NonCanonical::EmptySegment),
            ("/a//b", NonCanonical::EmptySegment),
            ("/a//", NonCanonical::EmptySegment),
            ("/a\\b", NonCanonical::Backslash),
            ("/a;x=1", NonCanonical::Semicolon),
            ("/a/b;", NonCanonical::Semicolon),
            ("/a%2Fb", NonCanonical::EncodedCharacter),
            ("/a%2fb", NonCanonical::EncodedCharacter),
            ("/a%5Cb", NonCanonical::EncodedCharacter),
            ("/a%2E%2E/b", NonCanonical::EncodedCharacter),
            ("/a%25", NonCanonical::EncodedCharacter),
            ("/%73tripe", NonCanonical::EncodedCharacter),
            ("/a%2", NonCanonical::BadPercentEscape),
            ("/a%zz", NonCanonical::BadPercentEscape),
            ("/a%", NonCanonical::BadPercentEscape),
        ];
        for (path, reason) in cases {
            assert_eq!(check_canonical(path), Err(reason), "{path}");
        }
    }

    fn patterns(list: &[&str]) -> Vec<PathPattern> {
        list.iter()
            .map(|p| PathPattern::parse(p).expect("valid pattern"))
            .collect()
    }

    /// The position of the route the index finds, so expectations read as positions in the list.
    fn lookup(routes: &[PathPattern], path: &str) -> Result<Option<usize>, NonCanonical> {
        let index = RouteIndex::build(routes, |p| p);
        let found = index.lookup(routes, |p| p, path)?;
        Ok(found.map(|route| position_of(routes, route)))
    }

    pub(super) fn position_of(routes: &[PathPattern], route: &PathPattern) -> usize {
        routes
            .iter()
            .position(|r| std::ptr::eq(r, route))
            .expect("from list")
    }

    #[test]
    fn exact_routes_allow_one_trailing_slash() {
        let routes = patterns(&["/webhooks/stripe"]);
        assert_eq!(lookup(&routes, "/webhooks/stripe"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/webhooks/stripe/"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/webhooks/stripe/x"), Ok(None));
        assert_eq!(lookup(&routes, "/webhooks/stripex"), Ok(None));
        assert_eq!(lookup(&routes, "/webhooks"), Ok(None));
    }

    #[test]
    fn prefix_routes_cover_the_segment_and_below() {
        let routes = patterns(&["/webhooks/*"]);
        assert_eq!(lookup(&routes, "/webhooks"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/webhooks/"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/webhooks/a/b"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/webhooksx"), Ok(None));
        let everything = patterns(&["/*"]);
        assert_eq!(lookup(&everything, "/anything/at/all"), Ok(Some(0)));
    }

    #[test]
    fn longest_match_wins_whatever_the_order() {
        let routes = patterns(&[
            "/webhooks/*",
            "/webhooks/stripe",
            "/*",
            "/webhooks/stripe/*",
        ]);
        assert_eq!(lookup(&routes, "/webhooks/stripe"), Ok(Some(1)));
        assert_eq!(lookup(&routes, "/webhooks/stripe/x"), Ok(Some(3)));
        assert_eq!(lookup(&routes, "/webhooks/github"), Ok(Some(0)));
        assert_eq!(lookup(&routes, "/other"), Ok(Some(2)));
    }

    #[test]
    fn case_variants_of_a_route_are_refused() {
        let routes = patterns(&["/webhooks/*", "/webhooks/stripe"]);
        assert_eq!(
            lookup(&routes, "/WEBHOOKS/stripe"),
            Err(NonCanonical::CaseVariant)
        );
        assert_eq!(
            lookup(&routes, "/webhooks/Stripe"),
            Err(NonCanonical::CaseVariant)
        );
        // Case inside a prefix route's wildcard part is the app's business.
        assert_eq!(lookup(&routes, "/webhooks/GitHub"), Ok(Some(0)));
    }

    #[test]
    fn bad_patterns_are_refused() {
        for bad in ["webhooks", "/a/../b", "/a*", "/a/*/b", "/a/", "//a"] {
            assert!(PathPattern::parse(bad).is_err(), "{bad}");
        }
        assert_eq!(
            PathPattern::parse("/*"),
            Ok(PathPattern::Prefix(String::new()))
        );
        assert_eq!(
            PathPattern::parse("/a/*").map(|p| p.to_string()),
            Ok("/a/*".into())
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    /// Few, short segments, some differing only in case, so generated routes share prefixes, clash
    /// by case, and repeat.
    fn segment() -> impl Strategy<Value = String> {
        prop::sample::select(vec!["a", "A", "b", "ab", "aB", "Ab", "c"]).prop_map(String::from)
    }

    /// A route's `path:` as a config could write it: `""`, `/`, `/*`, `/a/b`, `/a/b/*`.
    fn pattern_text() -> impl Strategy<Value = String> {
        (
            prop::collection::vec(segment(), 0..4),
            any::<bool>(),
            any::<bool>(),
        )
            .prop_map(|(segments, prefix, empty)| {
                let base: String = segments.iter().map(|s| format!("/{s}")).collect();
                match (base.is_empty(), prefix) {
                    (_, true) => format!("{base}/*"),
                    (true, false) if empty => String::new(),
                    (true, false) => "/".into(),
                    (false, false) => base,
                }
            })
    }

    /// Request paths over the same segments, with or without a trailing slash, plus anything at all.
    fn path_text() -> impl Strategy<Value = String> {
        prop_oneof![
            4 => (prop::collection::vec(segment(), 0..5), any::<bool>()).prop_map(
                |(segments, trailing)| {
                    let mut path: String = segments.iter().map(|s| format!("/{s}")).collect();
                    if trailing || path.is_empty() {
                        path.push('/');
                    }
                    path
                }
            ),
            1 => "[/aAbB.%;*]{0,12}",
        ]
    }

    proptest! {
        /// Whatever the path, the check never panics, and a path it passes has none of the
        /// spellings an app could normalise into another path.
        #[test]
        fn passed_paths_are_canonical(path in "(/|[a-zA-Z0-9._~%;\\\\-]|%[0-9a-fA-F]{2}){0,40}") {
            if check_canonical(&path).is_ok() {
                let segments: Vec<&str> = path[1..].split('/').collect();
                for (i, segment) in segments.iter().enumerate() {
                    prop_assert!(*segment != "." && *segment != "..");
                    prop_assert!(!segment.is_empty() || i == segments.len() - 1);
                }
                prop_assert!(!path.contains('\\') && !path.contains(';'));
                let lower = path.to_ascii_lowercase();
                for encoded in ["%2f", "%5c", "%2e", "%25"] {
                    prop_assert!(!lower.contains(encoded), "{} passed", path);
                }
            }
        }

        /// Lookup over arbitrary strings never panics, and a found route really matches.
        #[test]
        fn lookup_is_total(path in ".{0,60}") {
            let routes: Vec<PathPattern> = ["/webhooks/*", "/webhooks/stripe", "/a"]
                .iter()
                .map(|p| PathPattern::parse(p).expect("pattern"))
                .collect();
            let index = RouteIndex::build(&routes, |p| p);
            if let Ok(Some(found)) = index.lookup(&routes, |p| p, &path) {
                prop_assert!(found.matches(path.as_bytes()));
            }
        }

        /// The index answers exactly as the scan it replaced: the same route, the same refusal, over
        /// tables with shared prefixes, `/`, `/*`, case variants and duplicates, and paths that are
        /// case variants, have trailing slashes, or are not canonical at all.
        #[test]
        fn index_answers_as_the_scan_did(
            written in prop::collection::vec(pattern_text(), 0..12),
            path in path_text(),
        ) {
            let routes: Vec<PathPattern> = written
                .iter()
                .map(|p| PathPattern::parse(p).expect("generated patterns are valid"))
                .collect();
            let index = RouteIndex::build(&routes, |p| p);
            let position = |found: Option<&PathPattern>| found.map(|r| tests::position_of(&routes, r));
            let by_index = index.lookup(&routes, |p| p, &path).map(position);
            let by_scan = scan_lookup(&routes, |p| p, &path).map(position);
            prop_assert_eq!(by_index, by_scan, "routes {:?}, path {:?}", written, path);
        }
    }
}
