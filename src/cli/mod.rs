//! The subcommands' own work, kept beside `main.rs` (the binary), not in the library: what `check`
//! prints, what `sign` refuses, what `explain` says of a captured request, the `dead-letters`
//! client of the admin API, and how a fatal start-up error is reported.

pub mod check;
pub mod dead_letters;
pub mod explain;
pub mod fatal;
pub mod sign;
