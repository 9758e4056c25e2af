//! The embedded router: runs a compiled topology for real — events are rendered,
//! matched by the pattern engine, fanned out, queued, retried and dead-lettered.
//!
//! - [`engine`] — the deterministic discrete-event core (one owner of all state).
//! - [`run`](mod@run) — headless runs over virtual or real time, assertions and reports.
//! - [`live`] — the engine on a tokio task with bounded channels, for the UI.
//! - [`metrics`], [`trace`] — counters, histograms, the ledger, per-event traces.
//!
//! The router depends on [`crate::model`] and [`crate::pattern`], never on the UI.

mod archive;
pub mod engine;
pub mod live;
mod messages;
pub mod metrics;
pub mod produce;
mod recycle;
pub mod run;
pub mod trace;

pub use engine::{Engine, EngineOptions, PutResult, SimTime};
pub use run::{Clock, RunOptions, RunReport, run};
