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
use std::sync::Arc;

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
    /// The event's `detail` template with each path in `reads.paths` marked (same text,
    /// same draws as the plain template).
    pub detail: Template,
    /// What the bus reads (a mark's slot indexes `reads.paths`).
    pub reads: Arc<BusReads>,
}

/// What a bus reads of the events put on it, worked out once per bus: where each
/// read path lies in the envelope a producer writes.
#[derive(Debug)]
pub struct BusReads {
    /// Read paths inside `detail`, dotted, relative to it: those the rules read, then
    /// those the targets' inputs read.
    pub paths: Vec<String>,
    /// The matcher's field id per path a rule reads (`None`: only an input reads it).
    pub fields: Vec<Option<u32>>,
    /// (index in [`ENVELOPE_KEYS`], matcher field id) per envelope member a rule reads,
    /// in envelope order.
    pub envelope_fields: Vec<(usize, u32)>,
}

/// Envelope members whose value a producer writes itself, always as a plain string:
/// nothing lies inside them.
const WRITTEN_AS_STRINGS: [&str; 5] = ["version", "id", "account", "time", "region"];

impl BusReads {
    /// The reads of `bus`, or `None` when a rule reads inside `source`, `detail-type`
    /// or `resources` (templates render those, and could render an object there): such
    /// a bus's events are scanned.
    pub fn of(bus: &CompiledBus) -> Option<BusReads> {
        let mut reads = BusReads {
            paths: Vec::new(),
            fields: Vec::new(),
            envelope_fields: Vec::new(),
        };
        for (path, field) in bus.matcher.leaf_paths() {
            if let Some(rest) = path.strip_prefix("detail.") {
                reads.paths.push(rest.to_string());
                reads.fields.push(Some(field));
            } else if let Some(i) = ENVELOPE_KEYS.iter().position(|k| *k == path) {
                reads.envelope_fields.push((i, field));
            } else {
                let first = path.split('.').next().unwrap_or_default();
                if ENVELOPE_KEYS.contains(&first) && !WRITTEN_AS_STRINGS.contains(&first) {
                    return None;
                }
                // Otherwise a member the envelope does not have, or something inside
                // a plain string: the event has no value there.
            }
        }
        reads.envelope_fields.sort_unstable();
        let inputs: BTreeSet<Box<str>> = bus
            .rules
            .iter()
            .flat_map(|r| &r.targets)
            .flat_map(|t| t.input.key_paths())
            .collect();
        for path in inputs {
            if let Some(rest) = path.strip_prefix("detail.")
                && !reads.paths.iter().any(|p| p == rest)
            {
                reads.paths.push(rest.to_string());
                reads.fields.push(None);
            }
        }
        Some(reads)
    }
}

/// Prepares reading `detail`'s events on a bus that reads `reads` without scanning
/// them, or `None` when that cannot be exact (see the module documentation).
pub fn fuse(detail: &Value, reads: &Arc<BusReads>) -> Option<FusedEvent> {
    Some(FusedEvent {
        detail: Template::watching(detail, &reads.paths)?,
        reads: reads.clone(),
    })
}
