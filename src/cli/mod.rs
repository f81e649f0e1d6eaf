//! The subcommands' own work, kept beside `main.rs` (the binary), not in the library: what `check`
//! prints, what `sign` refuses, and how a fatal start-up error is reported.

pub mod check;
pub mod fatal;
pub mod sign;
