//! Test support, one file per job: the recording app, the hookguard process, raw wire clients,
//! signers, and the shared demo config.

#![allow(dead_code)]

mod app;
mod browser;
pub mod demo;
mod pki;
mod process;
mod redis;
mod signers;
mod wire;

pub use app::*;
pub use browser::*;
pub use pki::*;
pub use process::*;
pub use redis::*;
pub use signers::*;
pub use wire::*;
