//! The desktop designer (egui/eframe): a canvas of producers, routers and consumers, an
//! inspector, a problems list, files with undo/redo, autosave and crash recovery.
//!
//! Data flow: UI gestures → [`document::Command`] → [`document::Document`] → a fresh
//! projection ([`scene::Scene`], positions, problems from `compile()`) → canvas and
//! panels. Only this module uses egui, eframe and rfd; `scene`, `connect`, `document`,
//! `layout`, `files` and `pattern_help` are plain Rust and tested without a window.

pub mod canvas;
pub mod connect;
pub mod document;
pub mod editor;
pub mod files;
pub mod inspector;
pub mod layout;
pub mod pattern_help;
pub mod scene;
mod shell;

pub use shell::{EventyardApp, Options, run};

/// The bundled example designs: (file name, title, JSON text).
pub const EXAMPLES: [(&str, &str, &str); 5] = [
    (
        "ecommerce.json",
        "E-commerce order flow",
        include_str!("../../examples/ecommerce.json"),
    ),
    (
        "fanout.json",
        "Fan-out",
        include_str!("../../examples/fanout.json"),
    ),
    (
        "cross-region-replication.json",
        "Cross-region replication",
        include_str!("../../examples/cross-region-replication.json"),
    ),
    (
        "monitoring-alerting.json",
        "Monitoring and alerting",
        include_str!("../../examples/monitoring-alerting.json"),
    ),
    (
        "heterogeneous-integration.json",
        "Heterogeneous integration",
        include_str!("../../examples/heterogeneous-integration.json"),
    ),
];
