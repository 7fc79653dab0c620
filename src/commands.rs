//! One module per subcommand: each takes its arguments and the resolved [`Env`] and runs.

pub mod demo;
pub mod export;
pub mod history;
pub mod hub;
pub mod key;
pub mod label;
pub mod metrics;
pub mod open;
pub mod pull;
pub mod push;
pub mod stats;
pub mod status;
pub mod verify;

pub use crate::config::Env;
