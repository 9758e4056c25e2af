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
use super::transform::{TargetInput, TopMember};
use crate::pattern::sns::PolicySet;

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

/// How a topic's filter policies read their values from what a rule target's input
/// transformer wrote, instead of scanning the message (see [`fuse_filter`]).
#[derive(Debug)]
pub struct FusedFilter {
    /// (policy field id, placeholder number) per value the policies read, in template
    /// order: the placeholder's value as written is the value at the field's path.
    pub reads: Vec<(u32, usize)>,
    /// How many placeholders the template has: a rendering that did not note them all
    /// (see [`TargetInput::render_recording`]) is scanned.
    pub placeholders: usize,
}

/// Prepares matching `set` on what `input` renders without scanning it, or `None` when
/// that cannot be exact: `input` is not a transformer whose template is one JSON object
/// (see [`super::transform::InputTransformer::top_members`]), or a policy reads a
/// member that is not exactly one placeholder, or reads inside a member. A policy reading a key the
/// template does not have finds nothing there, as on the text.
///
/// At run time a placeholder's value must also be a scalar (not an object, array or an
/// escaped string); otherwise the message is scanned after all.
pub fn fuse_filter(input: &TargetInput, set: &PolicySet) -> Option<FusedFilter> {
    let TargetInput::Transformer(t) = input else {
        return None;
    };
    let members = t.top_members()?;
    let mut reads = Vec::new();
    for (path, field) in set.leaf_paths() {
        for (key, member) in &members {
            let inside = path
                .strip_prefix(key.as_str())
                .is_some_and(|rest| rest.starts_with('.'));
            match member {
                _ if inside => return None,
                TopMember::Slot(slot) if *key == path => reads.push((field, *slot)),
                TopMember::Other if *key == path => return None,
                _ => {}
            }
        }
    }
    reads.sort_unstable_by_key(|&(_, slot)| slot);
    Some(FusedFilter {
        reads,
        placeholders: t.placeholders(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::sns::FilterPolicy;

    fn transformer(template: &str) -> TargetInput {
        let map = [("a", "$.detail.a"), ("b", "$.detail.b")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        let t = super::super::transform::InputTransformer::compile(&map, template, "t");
        TargetInput::Transformer(t.unwrap_or_else(|e| panic!("{template}: {e:?}")))
    }

    fn policies(texts: &[&str]) -> PolicySet {
        let parsed: Vec<FilterPolicy> = texts
            .iter()
            .map(|t| {
                FilterPolicy::parse(t, crate::pattern::sns::Scope::MessageBody)
                    .unwrap_or_else(|e| panic!("{t}: {e:?}"))
            })
            .collect();
        let refs: Vec<Option<&FilterPolicy>> = parsed.iter().map(Some).collect();
        PolicySet::new(&refs).expect("a set")
    }

    /// Policies read placeholders' values by number, in template order; a read of a
    /// constant, of a placeholder inside a string, or inside a member refuses.
    #[test]
    fn filters_fuse_only_on_whole_placeholder_members() {
        let set = policies(&[
            r#"{"x": ["1"], "q": [{"prefix": "a"}]}"#,
            r#"{"gone": ["z"]}"#,
        ]);
        let fused =
            fuse_filter(&transformer(r#"{"q": <b>, "c": 1, "x": <a>}"#), &set).expect("fused");
        let slots: Vec<usize> = fused.reads.iter().map(|&(_, slot)| slot).collect();
        assert_eq!(slots, [0, 1]);
        for refused in [
            r#"{"x": "<a>", "q": <b>}"#,
            r#"{"x": 1, "q": <b>}"#,
            r#"{"x": {"y": <a>}, "q": <b>}"#,
            r#"[<a>]"#,
        ] {
            assert!(
                fuse_filter(&transformer(refused), &set).is_none(),
                "{refused}"
            );
        }
        let nested = policies(&[r#"{"x": {"y": ["1"]}}"#]);
        assert!(fuse_filter(&transformer(r#"{"x": <a>}"#), &nested).is_none());
        assert!(fuse_filter(&TargetInput::WholeEvent, &set).is_none());
    }
}
