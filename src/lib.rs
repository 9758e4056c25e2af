//! Eventyard: draw an event-driven system, run it on a real embedded router, export it.
//!
//! Module map (each owns one thing; see `ARCHITECTURE.md` for what may depend on what):
//! - [`pattern`] — EventBridge event patterns and SNS filter policies: parse, compile,
//!   match, explain. The exactness of everything else rests on it.
//! - [`model`] — the topology: versioned JSON file, validation collecting every
//!   problem with its path, and the compiled form the router runs.
//! - [`router`] — the embedded router: discrete-event engine, clocks, metrics, traces,
//!   scenarios, headless runs.
//! - [`cli`] — the `eventyard` command line (headless; no GUI dependency).
//! - `app` (feature `gui`, on by default) — the egui designer: canvas, inspector,
//!   files, undo/redo, autosave.
//!
//! Exporters and HTTP ingest arrive with their issues; the headless build
//! (`--no-default-features`) never links egui.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

#[cfg(feature = "gui")]
pub mod app;
pub mod cli;
pub mod model;
pub mod pattern;
pub mod router;
