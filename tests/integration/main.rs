//! The one integration test binary: every test drives the real `hookguard` binary over real sockets.

mod access;
mod answers;
mod cli;
mod deploy;
mod hygiene;
mod limits;
mod ops;
mod presets;
mod properties;
mod redteam;
mod replay;
mod schemes;
mod slow;
mod support;
mod upstream;
mod vectors;
