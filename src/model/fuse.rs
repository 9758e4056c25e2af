//! Matching without reading: a producer's events are written from templates, so the
//! values its bus's rules read can be noted where they are written, and the bus's
//! matcher fed those values directly ([`crate::pattern::Matcher::matches_values`]),
//! and its targets' input paths read straight from them
//! ([`super::transform::TopLevel::with_written`]), instead of scanning the event text
//! again.
//!
//! [`fuse`] prepares this once per event template and bus: the detail template is
//! compiled again with the read paths marked ([`Template::watching`]); it renders the
//! same text with the same random draws. Where marking cannot be exact (a read value
//! inside an array, inside a `$literal`, or under a dotted key), the template is not
//! fused and its events are scanned as before.

use serde_json::Value;

use std::collections::BTreeSet;

use super::compile::CompiledBus;
use super::template::Template;

/// The top-level members of the EventBridge envelope a producer writes, in the order
/// it writes them.
pub const ENVELOPE_KEYS: [&str; 9] = [
    "version",
    "id",
    "detail-type",
    "source",
    "account",
    "time",
    "region",
    "resources",
    "detail",
];

/// What a producer needs to hand its bus the values it wrote.
#[derive(Debug)]
pub struct FusedEvent {
    /// The event's `detail` template with each watched value marked (same text, same
    /// draws as the plain template).
    pub detail: Template,
    /// The watched paths, dotted, relative to `detail` (a mark's slot indexes them):
    /// those the bus's rules read, then those its targets' inputs read.
    pub paths: Vec<String>,
    /// The matcher's field id for each watched path a rule reads.
    pub detail_fields: Vec<Option<u32>>,
    /// (index in [`ENVELOPE_KEYS`], matcher field id) of each envelope member a rule
    /// reads, in envelope order.
    pub envelope_fields: Vec<(usize, u32)>,
}

/// Prepares reading `detail`'s events on `bus` without scanning them, or `None` when
/// that cannot be exact (see the module documentation).
pub fn fuse(detail: &Value, bus: &CompiledBus) -> Option<FusedEvent> {
    let mut envelope_fields = Vec::new();
    let mut paths = Vec::new();
    let mut detail_fields = Vec::new();
    for (path, field) in bus.matcher.leaf_paths() {
        if let Some(rest) = path.strip_prefix("detail.") {
            paths.push(rest.to_string());
            detail_fields.push(Some(field));
        } else if let Some(i) = ENVELOPE_KEYS.iter().position(|k| *k == path) {
            envelope_fields.push((i, field));
        }
        // Any other path names a member the envelope does not have, or something
        // inside a string member: the event has no value there.
    }
    envelope_fields.sort_unstable();
    let read: BTreeSet<Box<str>> = bus
        .rules
        .iter()
        .flat_map(|r| &r.targets)
        .flat_map(|t| t.input.key_paths())
        .collect();
    for path in read {
        if let Some(rest) = path.strip_prefix("detail.")
            && !paths.iter().any(|p| p == rest)
        {
            paths.push(rest.to_string());
            detail_fields.push(None);
        }
    }
    Some(FusedEvent {
        detail: Template::watching(detail, &paths)?,
        paths,
        detail_fields,
        envelope_fields,
    })
}
