//! The rows of every preset, one file per family of senders, gathered and ordered by name. Each
//! family file owns its rows and cites, per row, what it was checked against.

mod aws;
mod first_wave;
mod handshakes;
mod hmac;
mod hmac_more;
mod keyed;
mod more_senders;
mod signed_content;

use super::Preset;

/// Every row, sorted by name so `hookguard providers` and the README read like an index.
pub(super) fn table() -> Vec<Preset> {
    let mut rows: Vec<Preset> = [
        first_wave::rows(),
        hmac::rows(),
        hmac_more::rows(),
        signed_content::rows(),
        keyed::rows(),
        aws::rows(),
        handshakes::rows(),
        more_senders::rows(),
    ]
    .into_iter()
    .flatten()
    .collect();
    rows.sort_by(|a, b| a.name.cmp(b.name));
    rows
}
