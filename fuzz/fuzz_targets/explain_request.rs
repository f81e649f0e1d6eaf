//! `hookguard explain`'s reader of a captured request (src/cli/explain/capture.rs): whatever file
//! it is given, it answers with the request's parts or says why not.
#![no_main]

use hookguard::fuzzing::capture;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(captured) = capture::parse(data) else {
        return;
    };
    // The body and what follows it come from the file, never from beyond it.
    assert!(captured.body.len() + captured.ignored <= data.len());
    let rebuilt = match captured.query() {
        Some(query) => format!("{}?{query}", captured.path()),
        None => captured.path().to_string(),
    };
    assert_eq!(rebuilt, captured.target);
});
