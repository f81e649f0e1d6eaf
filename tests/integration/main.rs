//! The one integration test binary: every test drives the real `hookguard` binary over real sockets.

mod access;
mod admin_api;
mod answers;
mod browser;
mod cli;
mod connections;
mod deploy;
mod explain;
mod hygiene;
mod inspector;
mod limits;
mod ops;
mod ports;
mod presets;
mod properties;
mod queue;
mod redteam;
mod replay;
mod schemes;
mod slow;
mod sns;
mod startup;
mod support;
mod upstream;
mod vectors;
