//! The hub: hands work out with overlap, takes signed bundles back, and (next) measures
//! agreement and exports the merged dataset. Same binary, same batch and bundle formats.
//!
//! - [`api`]: request and response types (the workstation's client uses them too);
//! - [`db`]: storage, the only SQL of the hub, on SQLite or PostgreSQL through [`sql`];
//! - [`server`]: the HTTP server (axum);
//! - [`client`]: the workstation's side (`verdict pull URL`, `verdict push URL`).

pub mod agreement;
pub mod api;
pub mod client;
pub mod db;
pub mod escalations;
pub mod html;
pub mod inference;
pub mod interop;
pub mod metrics;
pub mod qualification;
pub mod report;
pub mod review;
pub mod server;
pub mod sql;
