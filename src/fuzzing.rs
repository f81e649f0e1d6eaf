//! Entry points for the cargo-fuzz targets under `fuzz/`: the parsers a client or a config
//! controls that are not public on their own. Not an API; nothing in the proxy calls this.

/// `hookguard explain`'s reader of a captured request. It belongs to the binary (`src/cli/`); the
/// same file is compiled here too so the fuzz targets, which link the library, can reach it.
#[path = "cli/explain/capture.rs"]
pub mod capture;

/// The verdicts the HTTP/1.1 head tracker records when the connection delivers `reads` one after
/// another: one per request head it followed, `true` where the head had both length headers.
pub fn smuggling_verdicts<'a>(reads: impl IntoIterator<Item = &'a [u8]>) -> Vec<bool> {
    crate::server::smuggling::verdicts_for_reads(reads)
}
