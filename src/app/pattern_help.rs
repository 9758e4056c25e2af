//! Helpers for the pattern editor, free of egui so they are tested without a window:
//!
//! - [`json_tokens`] splits JSON text (valid, broken or half typed) into coloured spans.
//! - [`sample_events`] and [`sample_messages`] render what could reach a bus or a topic
//!   from the design's producers, for a rule's or a subscription's "test event" box.
//!
//! Samples are rendered by the router's own producer code
//! ([`crate::router::produce::prepare`]), so a bus sample is exactly the EventBridge
//! envelope the router would build, and a topic sample the body and message attributes
//! a producer would publish. Bus rules are matched with [`Matcher`] and their targets'
//! `input`, `input_path` and `input_transformer` applied with
//! [`crate::model::transform::TargetInput`], as the router does. Everything is drawn from
//! fixed seeds at a fixed time ([`SAMPLE_TIME`]): the same design gives the same samples.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::ops::Range;
use std::sync::Arc;

use serde_json::Value;

use crate::model::compile::{CompiledBus, CompiledEvent, CompiledProducer, NodeInfo};
use crate::model::template::Template;
use crate::model::transform::{Reserved, TargetInput, TopLevel};
use crate::model::{Arrivals, Dur, EventTemplate, Node, Topology};
use crate::pattern::Matcher;
use crate::router::produce::{self, Prepared, Source};

// ---------------------------------------------------------------------------------------
// JSON tokens
// ---------------------------------------------------------------------------------------

/// What a span of JSON text is, for colouring.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum TokenKind {
    /// A string followed (after optional whitespace) by `:`, i.e. an object key.
    Key,
    /// Any other string, including an unterminated one (which runs to the end of its
    /// line).
    String,
    /// A well-formed JSON number.
    Number,
    /// `true`, `false` or `null`.
    Literal,
    /// One of `{ } [ ] : ,`.
    Punctuation,
    /// A run of JSON whitespace (space, tab, line feed, carriage return).
    Whitespace,
    /// Anything else: unknown characters, misspelt literals, malformed numbers.
    Invalid,
}

/// Splits text into consecutive spans covering EVERY byte exactly once, in order (the
/// editor's galley must reproduce the text exactly), tolerant of broken/partial JSON
/// (unterminated strings run to end of line; unknown chars are Invalid). Keys = strings
/// followed (after whitespace) by ':'.
///
/// Every span starts and ends on a `char` boundary and no span is empty. Linear time:
/// each byte is looked at a bounded number of times.
pub fn json_tokens(text: &str) -> Vec<(Range<usize>, TokenKind)> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len() / 3 + 1);
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        let start = i;
        let kind = match b {
            b' ' | b'\t' | b'\n' | b'\r' => {
                i = skip_whitespace(bytes, i);
                TokenKind::Whitespace
            }
            b'"' => {
                let (end, closed) = string_end(bytes, i);
                i = end;
                if closed && bytes.get(skip_whitespace(bytes, i)) == Some(&b':') {
                    TokenKind::Key
                } else {
                    TokenKind::String
                }
            }
            b'{' | b'}' | b'[' | b']' | b':' | b',' => {
                i += 1;
                TokenKind::Punctuation
            }
            b'-' | b'0'..=b'9' => {
                i = skip_while(bytes, i, is_number_byte);
                if is_json_number(&bytes[start..i]) {
                    TokenKind::Number
                } else {
                    TokenKind::Invalid
                }
            }
            b'a'..=b'z' | b'A'..=b'Z' | b'_' => {
                i = skip_while(bytes, i, |c| c.is_ascii_alphanumeric() || c == b'_');
                match &bytes[start..i] {
                    b"true" | b"false" | b"null" => TokenKind::Literal,
                    _ => TokenKind::Invalid,
                }
            }
            _ => {
                // Up to the next byte that starts a token: an ASCII byte, so the span
                // ends on a char boundary (multi-byte chars are skipped whole).
                i = skip_while(bytes, i + 1, |c| !starts_token(c));
                TokenKind::Invalid
            }
        };
        out.push((start..i, kind));
    }
    out
}

/// The index of the first byte at or after `i` that is not JSON whitespace.
fn skip_whitespace(bytes: &[u8], i: usize) -> usize {
    skip_while(bytes, i, |c| matches!(c, b' ' | b'\t' | b'\n' | b'\r'))
}

/// The index of the first byte at or after `i` that fails `keep`.
fn skip_while(bytes: &[u8], mut i: usize, keep: impl Fn(u8) -> bool) -> usize {
    while bytes.get(i).is_some_and(|&c| keep(c)) {
        i += 1;
    }
    i
}

/// Where the string starting with the `"` at `start` ends (exclusive), and whether it
/// was closed. An unclosed string stops before the line break (or at the end).
fn string_end(bytes: &[u8], start: usize) -> (usize, bool) {
    let mut i = start + 1;
    while let Some(&c) = bytes.get(i) {
        match c {
            b'"' => return (i + 1, true),
            b'\n' | b'\r' => return (i, false),
            // An escape takes the next byte, unless that breaks the line. (If the next
            // byte starts a multi-byte char, the scan resumes inside it; it only ever
            // stops at ASCII bytes, so the end is still a char boundary.)
            b'\\' if bytes.get(i + 1).is_some_and(|&n| n != b'\n' && n != b'\r') => i += 2,
            _ => i += 1,
        }
    }
    (bytes.len(), false)
}

/// Bytes that may appear in a number (a run of them is checked by [`is_json_number`]).
fn is_number_byte(c: u8) -> bool {
    matches!(c, b'0'..=b'9' | b'-' | b'+' | b'.' | b'e' | b'E')
}

/// Whether a byte starts some token other than [`TokenKind::Invalid`].
fn starts_token(c: u8) -> bool {
    matches!(
        c,
        b' ' | b'\t'
            | b'\n'
            | b'\r'
            | b'"'
            | b'{'
            | b'}'
            | b'['
            | b']'
            | b':'
            | b','
            | b'-'
            | b'0'..=b'9'
            | b'a'..=b'z'
            | b'A'..=b'Z'
            | b'_'
    )
}

/// Whether `s` is a JSON number: `-?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?`.
fn is_json_number(s: &[u8]) -> bool {
    let digits = |i: usize| skip_while(s, i, |c| c.is_ascii_digit());
    let mut i = usize::from(s.first() == Some(&b'-'));
    match s.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => i = digits(i),
        _ => return false,
    }
    if s.get(i) == Some(&b'.') {
        let end = digits(i + 1);
        if end == i + 1 {
            return false;
        }
        i = end;
    }
    if matches!(s.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(s.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        let end = digits(i);
        if end == i {
            return false;
        }
        i = end;
    }
    i == s.len()
}

/// `text` laid out over lines with two-space indents, when it is valid JSON; otherwise
/// unchanged. Unlike `serde_json::to_string_pretty` of a parsed value, this keeps the
/// members in their order (the envelope's `version`, `id`, `detail-type`, ... rather
/// than sorted) and every string and number byte for byte (`12.50` stays `12.50`).
fn pretty(text: &str) -> String {
    if serde_json::from_str::<serde::de::IgnoredAny>(text).is_err() {
        return text.to_owned();
    }
    fn newline(out: &mut String, depth: usize) {
        out.push('\n');
        for _ in 0..depth {
            out.push_str("  ");
        }
    }
    let mut out = String::with_capacity(text.len() * 2);
    let mut depth = 0usize;
    let mut tokens = json_tokens(text)
        .into_iter()
        .filter(|(_, kind)| *kind != TokenKind::Whitespace)
        .map(|(range, _)| text.get(range).unwrap_or_default())
        .peekable();
    while let Some(token) = tokens.next() {
        match token {
            "{" | "[" => {
                out.push_str(token);
                let close = if token == "{" { "}" } else { "]" };
                if tokens.next_if_eq(&close).is_some() {
                    out.push_str(close);
                } else {
                    depth += 1;
                    newline(&mut out, depth);
                }
            }
            "}" | "]" => {
                depth = depth.saturating_sub(1);
                newline(&mut out, depth);
                out.push_str(token);
            }
            "," => {
                out.push(',');
                newline(&mut out, depth);
            }
            ":" => out.push_str(": "),
            _ => out.push_str(token),
        }
    }
    out
}

// ---------------------------------------------------------------------------------------
// Samples
// ---------------------------------------------------------------------------------------

/// The time every sample is sent at (`time` of envelopes, `${now}`, `$now`).
pub const SAMPLE_TIME: &str = "2026-01-01T00:00:00Z";
/// [`SAMPLE_TIME`] in Unix milliseconds.
const SAMPLE_EPOCH_MS: u64 = 1_767_225_600_000;
/// Seed of every sample's random stream (mixed with the producer and template).
const SAMPLE_SEED: u64 = 0x5A3D_1E00_E7E4_7A4D;
/// Renders of one template in a row that may fail to reach the node (a forwarding rule
/// did not match) before the template is given up.
const TRIES_PER_SAMPLE: usize = 16;
/// Most renders of one call, whatever `max` is.
const MAX_RENDERS: usize = 2048;
/// Most rule evaluations while following one event across buses (the number of paths
/// through a web of forwarding buses can grow fast).
const MAX_RULE_STEPS: usize = 256;

/// A sample message for a topic subscription's filter policy.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SampleMessage {
    /// Where it comes from: `producer · detail-type` (or `producer · events[i]`), then
    /// `→ bus/rule` for every rule it went through.
    pub label: String,
    /// The message body (pretty JSON when it is JSON): what a `MessageBody` policy reads.
    pub body: String,
    /// The message attributes as SNS gives them to an `MessageAttributes` policy,
    /// `{"name": {"Type": "String", "Value": "x"}}`; `{}` when there are none (always so
    /// for messages published by a bus rule: EventBridge sets no attributes).
    pub attributes: String,
}

/// Up to `max` sample events (pretty JSON text, EventBridge envelope for buses) that
/// could reach `bus_id`: rendered from the event templates of producers sending to it
/// (producer.to == bus_id), and of producers sending to buses that forward to it through
/// a rule target (one hop or more, no infinite loops), deterministic (fixed seed),
/// distinct templates first (one sample per template before repeating).
///
/// Forwarded events are those the forwarding rules match (enabled rules with a valid
/// pattern; their targets' `input`, `input_path` or `input_transformer` applied, as the
/// router does). Templates of producers sending to `bus_id` come first, then those one
/// hop away, and so on. Producers that only replay a file, and templates that do not
/// compile, are skipped. Empty when `bus_id` is not a bus or nothing reaches it.
///
/// Each call compiles the rules on the way; callers should cache the result until the
/// design changes.
pub fn sample_events(topology: &Topology, bus_id: &str, max: usize) -> Vec<String> {
    if !matches!(topology.nodes.get(bus_id), Some(Node::Bus(_))) {
        return Vec::new();
    }
    let net = Net::new(topology, Goal::Bus(bus_id));
    net.samples(max)
        .into_iter()
        .map(|arrival| pretty(&arrival.body))
        .collect()
}

/// The same for a topic subscription's filter policy: message bodies (and their
/// attributes) reaching `topic_id` from producers publishing to it directly, and from bus
/// rules targeting it. Returns (label, body_text, attributes_json_object_text).
///
/// A producer's message is its rendered `detail` with its rendered `attributes`. A bus
/// rule's message is the matched event (the EventBridge envelope), or what the target's
/// `input`, `input_path` or `input_transformer` makes of it, with no attributes; events
/// reach the rule's bus as in [`sample_events`]. Direct producers come first; distinct
/// templates before repeats. Works for any node a rule can target (a queue too);
/// deliveries through topic subscriptions are not followed.
pub fn sample_messages(topology: &Topology, topic_id: &str, max: usize) -> Vec<SampleMessage> {
    if !topology.nodes.contains_key(topic_id) {
        return Vec::new();
    }
    let net = Net::new(topology, Goal::Target(topic_id));
    net.samples(max)
        .into_iter()
        .map(|arrival| SampleMessage {
            label: arrival.label,
            body: pretty(&arrival.body),
            attributes: pretty(arrival.attributes.as_deref().unwrap_or("{}")),
        })
        .collect()
}

/// What the samples are for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Goal<'t> {
    /// Events arriving on this bus.
    Bus(&'t str),
    /// Messages sent to this node by producers and bus rules.
    Target(&'t str),
}

/// One sample as it arrives.
struct Arrival {
    /// Where it came from.
    label: String,
    /// Its body (compact).
    body: String,
    /// Its message attributes, if any.
    attributes: Option<String>,
}

/// One event template of one producer, ready to render.
struct Origin {
    /// `producer · detail-type`.
    label: String,
    /// The producer with this template alone in its mix (so the router's producer code
    /// renders exactly this template).
    producer: CompiledProducer,
    /// The node the producer sends to.
    to: String,
    /// Whether that is a bus (the router then builds an envelope).
    to_bus: bool,
    /// The receiving node's region (for the envelope).
    region: String,
    /// The template's random stream.
    stream: u64,
}

/// An enabled rule of a bus that matters, compiled.
struct NetRule<'t> {
    /// Rule name.
    name: &'t str,
    /// Rule ARN (`<aws.events.rule-arn>`).
    arn: String,
    /// The rule's pattern alone.
    matcher: Matcher,
    /// Targets whose input settings compile: node id and input.
    targets: Vec<(&'t str, TargetInput)>,
}

/// The producers and bus rules through which samples reach the goal.
struct Net<'t> {
    /// What the samples are for.
    goal: Goal<'t>,
    /// Rules of the buses from which the goal can be reached, by bus id.
    buses: BTreeMap<&'t str, Vec<NetRule<'t>>>,
    /// Templates of producers sending to the goal or to those buses, nearest first.
    origins: Vec<Origin>,
    /// A bus with no rules: what [`produce::prepare`] needs to build an envelope.
    envelope_bus: CompiledBus,
}

impl<'t> Net<'t> {
    fn new(topology: &'t Topology, goal: Goal<'t>) -> Net<'t> {
        // Bus → buses and other nodes its (enabled) rules target.
        let mut feeds: BTreeMap<&str, BTreeSet<&str>> = BTreeMap::new();
        for (id, node) in &topology.nodes {
            if let Node::Bus(bus) = node {
                let targets = bus
                    .rules
                    .values()
                    .filter(|r| r.enabled)
                    .flat_map(|r| &r.targets)
                    .map(|t| t.to.as_str());
                feeds.entry(id.as_str()).or_default().extend(targets);
            }
        }
        // Hops from each bus to the goal, found backwards (breadth first: each bus once,
        // so loops end).
        let mut hops: BTreeMap<&str, usize> = BTreeMap::new();
        let mut frontier: Vec<&str> = match goal {
            Goal::Bus(bus) => vec![bus],
            Goal::Target(node) => feeds
                .iter()
                .filter(|(_, to)| to.contains(node))
                .map(|(bus, _)| *bus)
                .collect(),
        };
        let mut distance = usize::from(matches!(goal, Goal::Target(_)));
        while !frontier.is_empty() {
            for bus in &frontier {
                hops.entry(bus).or_insert(distance);
            }
            let next: BTreeSet<&str> = feeds
                .iter()
                .filter(|(bus, to)| {
                    !hops.contains_key(*bus) && frontier.iter().any(|f| to.contains(f))
                })
                .map(|(bus, _)| *bus)
                .collect();
            frontier = next.into_iter().collect();
            distance += 1;
        }
        let buses = hops
            .keys()
            .filter_map(|&id| match topology.nodes.get(id) {
                Some(node @ Node::Bus(bus)) => Some((id, net_rules(id, node, bus))),
                _ => None,
            })
            .collect();
        // Producers, nearest first (ties in id and template order).
        let mut origins: Vec<(usize, Origin)> = Vec::new();
        for (id, node) in &topology.nodes {
            let Node::Producer(p) = node else { continue };
            let distance = match goal {
                Goal::Target(target) if p.to == target => 0,
                _ => match hops.get(p.to.as_str()) {
                    Some(&d) => d,
                    None => continue,
                },
            };
            let Some(receiver) = topology.nodes.get(&p.to) else {
                continue;
            };
            let to_bus = matches!(receiver, Node::Bus(_));
            for (i, template) in p.events.iter().enumerate() {
                let Some(event) = compile_event(template) else {
                    continue;
                };
                let what = match &template.detail_type {
                    Value::String(s) if !s.contains("${") => s.clone(),
                    _ => format!("events[{i}]"),
                };
                origins.push((
                    distance,
                    Origin {
                        label: format!("{id} · {what}"),
                        producer: CompiledProducer {
                            info: NodeInfo {
                                name: id.clone(),
                                account: node.account().to_owned(),
                                region: node.region().to_owned(),
                                arn: String::new(),
                            },
                            to: 0,
                            rate: 0.0,
                            arrivals: Arrivals::default(),
                            mix: vec![(1.0, Arc::new(event))],
                            replay: None,
                            limit: None,
                            start: Dur::default(),
                        },
                        to: p.to.clone(),
                        to_bus,
                        region: receiver.region().to_owned(),
                        stream: produce::stream_of(SAMPLE_SEED.wrapping_add(i as u64), id),
                    },
                ));
            }
        }
        // Stable: equal distances keep id and template order.
        origins.sort_by_key(|(distance, _)| *distance);
        Net {
            goal,
            buses,
            origins: origins.into_iter().map(|(_, o)| o).collect(),
            envelope_bus: CompiledBus {
                info: NodeInfo {
                    name: String::new(),
                    account: String::new(),
                    region: String::new(),
                    arn: String::new(),
                },
                rules: Vec::new(),
                matcher: Arc::new(Matcher::new()),
                rule_of: Vec::new(),
                allow: BTreeSet::new(),
            },
        }
    }

    /// Up to `max` arrivals, one per origin in turn (an origin that yields nothing in
    /// [`TRIES_PER_SAMPLE`] renders in a row is given up).
    fn samples(&self, max: usize) -> Vec<Arrival> {
        let n = self.origins.len();
        let mut queues: Vec<VecDeque<Arrival>> = (0..n).map(|_| VecDeque::new()).collect();
        let mut next_seq = vec![1u64; n];
        let mut given_up = vec![false; n];
        let mut renders = 0;
        let mut out = Vec::new();
        while out.len() < max {
            let mut progressed = false;
            for (i, origin) in self.origins.iter().enumerate() {
                if out.len() >= max {
                    break;
                }
                if given_up[i] {
                    continue;
                }
                let mut tries = 0;
                while queues[i].is_empty() && tries < TRIES_PER_SAMPLE && renders < MAX_RENDERS {
                    let seq = next_seq[i];
                    next_seq[i] += 1;
                    tries += 1;
                    renders += 1;
                    self.arrivals(origin, seq, &mut queues[i]);
                }
                match queues[i].pop_front() {
                    Some(arrival) => {
                        out.push(arrival);
                        progressed = true;
                    }
                    None => given_up[i] = true,
                }
            }
            if !progressed {
                break;
            }
        }
        out
    }

    /// Renders `origin`'s event `seq` and follows it to the goal.
    fn arrivals(&self, origin: &Origin, seq: u64, out: &mut VecDeque<Arrival>) {
        let tracked = HashMap::new();
        let source = Source {
            producer: &origin.producer,
            bus: origin.to_bus.then_some(&self.envelope_bus),
            region: &origin.region,
            stream: origin.stream,
            epoch_ms: SAMPLE_EPOCH_MS,
            tracked: &tracked,
            nodes: &[],
            plain_envelope: produce::plain_envelope(&origin.producer.info.account, &origin.region),
        };
        let Prepared {
            body, attributes, ..
        } = produce::prepare(&source, seq, 0.0);
        let at_goal = match self.goal {
            Goal::Bus(bus) | Goal::Target(bus) => origin.to == bus,
        };
        if at_goal {
            out.push_back(Arrival {
                label: origin.label.clone(),
                body,
                attributes,
            });
        } else if origin.to_bus {
            let mut walk = Walk {
                path: Vec::new(),
                steps: 0,
            };
            self.follow(&body, &origin.to, &origin.label, &mut walk, out);
        }
    }

    /// Follows an event put on `bus` through the rules that match it, towards the goal.
    fn follow(
        &self,
        event: &str,
        bus: &'t str,
        label: &str,
        walk: &mut Walk<'t>,
        out: &mut VecDeque<Arrival>,
    ) {
        if self.goal == Goal::Bus(bus) {
            out.push_back(Arrival {
                label: label.to_owned(),
                body: event.to_owned(),
                attributes: None,
            });
            return;
        }
        let Some(rules) = self.buses.get(bus) else {
            return;
        };
        walk.path.push(bus);
        let top = TopLevel::new(event);
        for rule in rules {
            if walk.steps >= MAX_RULE_STEPS {
                break;
            }
            walk.steps += 1;
            if !rule.matcher.any_match(event.as_bytes()).unwrap_or(false) {
                continue;
            }
            for &(to, ref input) in &rule.targets {
                let to_goal = self.goal == Goal::Target(to);
                let onward = self.buses.contains_key(to) && !walk.path.contains(&to);
                if !to_goal && !onward {
                    continue;
                }
                let reserved = Reserved {
                    rule_arn: &rule.arn,
                    rule_name: rule.name,
                    ingestion_time: SAMPLE_TIME,
                };
                // EventBridge delivers nothing when the input path selects nothing or
                // the transformer renders invalid JSON.
                let Ok(body) = input.render_from(&top, &reserved) else {
                    continue;
                };
                let label = format!("{label} → {bus}/{}", rule.name);
                if to_goal {
                    out.push_back(Arrival {
                        label,
                        body: body.into_owned(),
                        attributes: None,
                    });
                } else {
                    self.follow(&body, to, &label, walk, out);
                }
            }
        }
        walk.path.pop();
    }
}

/// The state of following one event across buses.
struct Walk<'t> {
    /// Buses the event is on its way through (it never enters one twice).
    path: Vec<&'t str>,
    /// Rule evaluations so far (bounded by [`MAX_RULE_STEPS`]).
    steps: usize,
}

/// A bus's enabled rules whose pattern is valid, with the targets whose input compiles.
fn net_rules<'t>(id: &'t str, node: &Node, bus: &'t crate::model::Bus) -> Vec<NetRule<'t>> {
    let mut rules = Vec::new();
    for (name, rule) in &bus.rules {
        if !rule.enabled {
            continue;
        }
        let mut matcher = Matcher::new();
        if matcher.add_rule(name, &rule.pattern.to_string()).is_err() {
            continue;
        }
        let targets = rule
            .targets
            .iter()
            .filter_map(|t| {
                let constant = t.input.as_ref().map(Value::to_string);
                let transformer = t
                    .input_transformer
                    .as_ref()
                    .map(|x| (&x.input_paths_map, x.input_template.as_str()));
                let input = TargetInput::from_config(
                    constant.as_deref(),
                    t.input_path.as_deref(),
                    transformer,
                    "",
                )
                .ok()?;
                Some((t.to.as_str(), input))
            })
            .collect();
        rules.push(NetRule {
            name,
            // As `model::compile` names rules.
            arn: format!(
                "arn:aws:events:{}:{}:rule/{id}/{name}",
                node.region(),
                node.account()
            ),
            matcher,
            targets,
        });
    }
    rules
}

/// One producer event template compiled for rendering; `None` when a field does not
/// compile. Fields are read as `model::compile` reads them (a missing `source` or
/// `detail-type` is the empty string); a missing `detail` renders `{}`. FIFO ids are
/// left out: they never show in a body.
fn compile_event(e: &EventTemplate) -> Option<CompiledEvent> {
    let compile = |v: &Value| Template::compile(v, "").ok();
    let string_or_empty = |v: &Value| {
        if v.is_null() {
            compile(&Value::String(String::new()))
        } else {
            compile(v)
        }
    };
    let detail = if e.detail.is_null() {
        compile(&Value::Object(serde_json::Map::new()))?
    } else {
        compile(&e.detail)?
    };
    let resources = if e.resources.is_null() {
        None
    } else {
        Some(compile(&e.resources)?)
    };
    let attributes = e
        .attributes
        .iter()
        .map(|(name, v)| Some((name.clone(), compile(v)?)))
        .collect::<Option<Vec<_>>>()?;
    Some(CompiledEvent {
        source: string_or_empty(&e.source)?,
        detail_type: string_or_empty(&e.detail_type)?,
        detail,
        resources,
        attributes,
        group_id: None,
        dedup_id: None,
        fused: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::sns::{FilterPolicy, Scope};
    use proptest::prelude::*;

    /// The spans are non-empty, contiguous, on char boundaries and cover the text.
    fn assert_covers(text: &str) {
        let tokens = json_tokens(text);
        let mut at = 0;
        for (range, kind) in &tokens {
            assert_eq!(
                range.start, at,
                "gap or overlap before {range:?} in {text:?}"
            );
            assert!(range.end > range.start, "empty {kind:?} span in {text:?}");
            assert!(
                text.get(range.clone()).is_some(),
                "{range:?} is not on char boundaries in {text:?}"
            );
            at = range.end;
        }
        assert_eq!(at, text.len(), "{text:?} not covered");
        let rebuilt: String = tokens
            .iter()
            .filter_map(|(range, _)| text.get(range.clone()))
            .collect();
        assert_eq!(rebuilt, text);
    }

    /// The kinds of the non-whitespace spans, with their text.
    fn kinds(text: &str) -> Vec<(&str, TokenKind)> {
        json_tokens(text)
            .into_iter()
            .filter(|(_, kind)| *kind != TokenKind::Whitespace)
            .filter_map(|(range, kind)| Some((text.get(range)?, kind)))
            .collect()
    }

    fn ecommerce() -> Topology {
        Topology::from_json(include_str!("../../examples/ecommerce.json"))
            .unwrap_or_else(|e| panic!("the example loads: {e:?}"))
    }

    fn topology(json: &str) -> Topology {
        Topology::from_json(json).unwrap_or_else(|e| panic!("{e:?}\n{json}"))
    }

    fn parse(text: &str) -> Value {
        serde_json::from_str(text).unwrap_or_else(|e| panic!("{e}: {text}"))
    }

    #[test]
    fn tokens_cover_valid_broken_empty_and_unicode_text() {
        for text in [
            "",
            " ",
            "{}",
            r#"{"a": 1, "b": [true, false, null], "c": {"d": "e"}}"#,
            "{\n  \"source\": [\"shop.web\"],\n  \"detail\": {\"total\": [{\"numeric\": [\">\", 100]}]}\n}",
            r#"{"a": "#,
            r#"{"a": "unterminated"#,
            "{\"a\": \"unterminated\n, \"b\": 1}",
            "{\"a\\",
            "\"\\",
            "\"\\\n\"",
            r#"{"a" 1 :: ,, ]]"#,
            "tru fals nul truex -- 1.2.3 01 1e 1e+ .5 -",
            "{\"café\": \"naïve ✓ 😀\", \"😀\": 😀}",
            "😀😀é\u{2028}\u{0}\u{7f}",
            "\"é\\😀\"",
            "@#$%^&*()=+|~`<>?/;'",
            "{\"\u{feff}key\":\u{a0}1}",
            "\r\n\t \r",
        ] {
            assert_covers(text);
        }
    }

    #[test]
    fn keys_and_string_values_are_told_apart() {
        let text = r#"{"source": ["shop.web"], "detail" :{"total": [{"numeric": [">", 1.5e3]}], "x": "y:"}, "ok": true, "no": null, "n": -0}"#;
        let got = kinds(text);
        let kind_of = |s: &str| -> Vec<TokenKind> {
            got.iter()
                .filter(|(t, _)| *t == s)
                .map(|(_, k)| *k)
                .collect()
        };
        use TokenKind::*;
        for key in [
            r#""source""#,
            r#""detail""#,
            r#""total""#,
            r#""numeric""#,
            r#""x""#,
            r#""ok""#,
            r#""no""#,
            r#""n""#,
        ] {
            assert_eq!(kind_of(key), vec![Key], "{key}");
        }
        for value in [r#""shop.web""#, r#"">""#, r#""y:""#] {
            assert_eq!(kind_of(value), vec![String], "{value}");
        }
        assert_eq!(kind_of("1.5e3"), vec![Number]);
        assert_eq!(kind_of("-0"), vec![Number]);
        assert_eq!(kind_of("true"), vec![Literal]);
        assert_eq!(kind_of("null"), vec![Literal]);
        assert_eq!(kind_of("{"), vec![Punctuation; 3]);
        assert_eq!(kind_of(":"), vec![Punctuation; 8]);
        assert!(got.iter().all(|(_, k)| *k != Invalid), "{got:?}");
    }

    #[test]
    fn broken_json_is_tolerated() {
        use TokenKind::*;
        // An unterminated string runs to the end of its line; the next line is lexed.
        assert_eq!(
            kinds("{\"a\": \"open\n\"b\": 1}"),
            vec![
                ("{", Punctuation),
                ("\"a\"", Key),
                (":", Punctuation),
                ("\"open", String),
                ("\"b\"", Key),
                (":", Punctuation),
                ("1", Number),
                ("}", Punctuation),
            ]
        );
        // Escaped quotes do not end a string.
        assert_eq!(
            kinds(r#""say \"hi\"": 1"#),
            vec![(r#""say \"hi\"""#, Key), (":", Punctuation), ("1", Number)]
        );
        // Misspelt literals, malformed numbers and stray characters are invalid.
        assert_eq!(
            kinds("tru 01 1. 1e -x @😀 nul"),
            vec![
                ("tru", Invalid),
                ("01", Invalid),
                ("1.", Invalid),
                ("1e", Invalid),
                ("-", Invalid),
                ("x", Invalid),
                ("@😀", Invalid),
                ("nul", Invalid),
            ]
        );
        assert_eq!(
            kinds("-1 0 0.25 2E-7 1e+9 -0.0e0"),
            vec![
                ("-1", Number),
                ("0", Number),
                ("0.25", Number),
                ("2E-7", Number),
                ("1e+9", Number),
                ("-0.0e0", Number),
            ]
        );
        assert!(json_tokens("").is_empty());
    }

    #[test]
    fn tokens_are_linear_on_large_text() {
        // A few hundred KB (a hundred times what the editor holds) in well under a
        // second even unoptimised: no quadratic scanning.
        let chunk = r#"{"key": "value with \"escapes\" and é", "n": [1, -2.5e3, true, null]}, "#;
        let text = chunk.repeat(4000) + "\"unterminated " + &" ".repeat(100_000);
        let start = std::time::Instant::now();
        let tokens = json_tokens(&text);
        assert!(start.elapsed() < std::time::Duration::from_secs(2));
        assert_eq!(tokens.last().map(|(r, _)| r.end), Some(text.len()));
    }

    proptest! {
        #[test]
        fn any_text_is_covered(text in any::<String>()) {
            assert_covers(&text);
        }

        #[test]
        fn json_like_text_is_covered(
            text in "[{}\\[\\]:,\" \\\\\n\ta-z0-9.eE+\\-é😀\u{0}]{0,80}"
        ) {
            assert_covers(&text);
        }

        /// Valid JSON from serde_json: no invalid span, and the pretty layout is the
        /// same value.
        #[test]
        fn valid_json_has_no_invalid_span(
            keys in proptest::collection::vec("[a-z\"\\\\é😀 :]{0,6}", 0..5),
            numbers in proptest::collection::vec(-1e9f64..1e9, 0..5),
        ) {
            let object: serde_json::Map<std::string::String, Value> = keys
                .iter()
                .zip(numbers.iter().chain(std::iter::repeat(&0.5)))
                .map(|(k, n)| (k.clone(), serde_json::json!([n, k, true, null, {}])))
                .collect();
            let text = Value::Object(object).to_string();
            prop_assert!(kinds(&text).iter().all(|(_, k)| *k != TokenKind::Invalid), "{}", text);
            prop_assert_eq!(parse(&pretty(&text)), parse(&text));
        }
    }

    #[test]
    fn pretty_keeps_member_order_and_number_text() {
        let text = r#"{"version":"0","id":"x","detail":{"total":12.50,"e":[],"o":{},"a":[1,{"b":"c, d: [e]"}]}}"#;
        assert_eq!(
            pretty(text),
            "{\n  \"version\": \"0\",\n  \"id\": \"x\",\n  \"detail\": {\n    \"total\": 12.50,\n    \"e\": [],\n    \"o\": {},\n    \"a\": [\n      1,\n      {\n        \"b\": \"c, d: [e]\"\n      }\n    ]\n  }\n}"
        );
        assert_eq!(pretty("not json {"), "not json {");
        assert_eq!(pretty("\"s\""), "\"s\"");
    }

    #[test]
    fn ecommerce_orders_samples_are_envelopes_the_rules_match() {
        let t = ecommerce();
        let samples = sample_events(&t, "orders", 5);
        assert_eq!(samples.len(), 5);
        let Some(Node::Bus(orders)) = t.nodes.get("orders") else {
            panic!("orders is a bus");
        };
        let mut matcher = Matcher::new();
        for (name, rule) in &orders.rules {
            matcher
                .add_rule(name, &rule.pattern.to_string())
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
        let mut matched = 0;
        for sample in &samples {
            let event = parse(sample);
            for field in ["source", "detail-type", "detail", "id", "time", "region"] {
                assert!(event.get(field).is_some(), "no {field} in {sample}");
            }
            assert_eq!(event["version"], "0");
            assert_eq!(event["time"], SAMPLE_TIME);
            assert_eq!(event["region"], crate::model::DEFAULT_REGION);
            assert_eq!(event["account"], crate::model::DEFAULT_ACCOUNT);
            assert!(event["detail"].is_object(), "{sample}");
            assert!(sample.contains('\n'), "pretty: {sample}");
            let names = matcher.matches(sample.as_bytes()).expect("valid JSON");
            matched += usize::from(!names.is_empty());
        }
        assert!(matched >= 1, "{samples:#?}");
    }

    #[test]
    fn distinct_templates_come_first() {
        let samples = sample_events(&ecommerce(), "orders", 4);
        let kinds: Vec<(std::string::String, std::string::String)> = samples
            .iter()
            .map(|s| {
                let e = parse(s);
                (
                    e["source"].as_str().unwrap_or_default().to_owned(),
                    e["detail-type"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        // mobile's one template, then web's two (producers in id order), then mobile again.
        let pair = |s: &str, d: &str| (s.to_owned(), d.to_owned());
        assert_eq!(
            kinds,
            vec![
                pair("shop.mobile", "OrderPlaced"),
                pair("shop.web", "OrderPlaced"),
                pair("shop.web", "OrderCancelled"),
                pair("shop.mobile", "OrderPlaced"),
            ]
        );
        // Repeats are new renderings (the next sequence number).
        assert_eq!(parse(&samples[0])["detail"]["orderId"], "M-1");
        assert_eq!(parse(&samples[3])["detail"]["orderId"], "M-2");
        assert_ne!(samples[0], samples[3]);
    }

    #[test]
    fn samples_are_deterministic() {
        let t = ecommerce();
        let a = sample_events(&t, "orders", 7);
        assert_eq!(a, sample_events(&t, "orders", 7));
        assert_eq!(sample_events(&t, "orders", 3), a[..3]);
        let m = sample_messages(&t, "notifications", 7);
        assert_eq!(m, sample_messages(&t, "notifications", 7));
    }

    #[test]
    fn ecommerce_notifications_get_transformed_messages() {
        let t = ecommerce();
        let messages = sample_messages(&t, "notifications", 6);
        assert_eq!(messages.len(), 6);
        let email = FilterPolicy::parse(
            r#"{"kind": ["OrderPlaced", "OrderCancelled"]}"#,
            Scope::MessageBody,
        )
        .expect("policy");
        let mut passed = 0;
        for m in &messages {
            // The rule's input transformer made the body.
            let body = parse(&m.body);
            assert!(
                body.get("kind").is_some() && body.get("order").is_some(),
                "{m:?}"
            );
            assert!(body.get("detail").is_none(), "{m:?}");
            assert_eq!(m.attributes, "{}");
            assert!(m.label.contains("→ orders/to-notifications"), "{}", m.label);
            passed += usize::from(email.matches(m.body.as_bytes()).expect("JSON body"));
        }
        assert_eq!(passed, messages.len());
        // A queue fed by a rule without input settings receives the whole event.
        let queued = sample_messages(&t, "warehouse-queue", 2);
        assert_eq!(queued.len(), 2);
        assert_eq!(parse(&queued[0].body)["detail-type"], "OrderPlaced");
    }

    #[test]
    fn nothing_upstream_gives_nothing() {
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "lonely": {"kind": "bus", "rules": {"all": {"pattern": {"source": ["x"]}, "targets": [{"to": "t"}]}}},
                "t": {"kind": "topic"},
                "q": {"kind": "queue"},
                "p": {"kind": "producer", "to": "q", "events": [{"detail": {"a": 1}}]}
            }}"#,
        );
        assert!(sample_events(&t, "lonely", 5).is_empty());
        assert!(sample_messages(&t, "t", 5).is_empty());
        assert!(sample_events(&t, "missing", 5).is_empty());
        assert!(sample_messages(&t, "missing", 5).is_empty());
        // Not a bus.
        assert!(sample_events(&t, "q", 5).is_empty());
        assert!(sample_events(&ecommerce(), "orders", 0).is_empty());
        assert!(sample_messages(&t, "q", 0).is_empty());
        assert_eq!(sample_messages(&t, "q", 1).len(), 1);
    }

    #[test]
    fn forwarding_loops_terminate() {
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "p": {"kind": "producer", "to": "a", "events": [{"source": "app", "detail_type": "Ping", "detail": {"n": "${seq}"}}]},
                "a": {"kind": "bus", "rules": {"fwd": {"pattern": {"source": ["app"]}, "targets": [{"to": "b"}]}}},
                "b": {"kind": "bus", "rules": {
                    "back": {"pattern": {"source": ["app"]}, "targets": [{"to": "a"}, {"to": "c"}]},
                    "out": {"pattern": {"source": ["app"]}, "targets": [{"to": "t", "input_path": "$.detail"}]}
                }},
                "c": {"kind": "bus", "rules": {"fwd": {"pattern": {"source": ["app"]}, "targets": [{"to": "a"}, {"to": "b"}]}}},
                "t": {"kind": "topic"}
            }}"#,
        );
        for bus in ["a", "b", "c"] {
            let samples = sample_events(&t, bus, 3);
            assert_eq!(samples.len(), 3, "{bus}");
            for s in &samples {
                assert_eq!(parse(s)["source"], "app", "{bus}: {s}");
            }
        }
        let messages = sample_messages(&t, "t", 3);
        assert_eq!(messages.len(), 3);
        assert_eq!(parse(&messages[0].body), serde_json::json!({"n": "1"}));
        assert_eq!(messages[0].label, "p · Ping → a/fwd → b/out");
    }

    #[test]
    fn forwarding_follows_only_what_the_rules_match() {
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "p": {"kind": "producer", "to": "a", "events": [
                    {"source": "app", "detail_type": "Kept", "detail": {"tier": {"$choice": ["gold", "silver", "bronze"]}}},
                    {"source": "app", "detail_type": "Dropped", "detail": {}}
                ]},
                "a": {"kind": "bus", "rules": {
                    "gold": {"pattern": {"detail": {"tier": ["gold"]}}, "targets": [{"to": "b"}]},
                    "off": {"pattern": {"source": ["app"]}, "enabled": false, "targets": [{"to": "b"}]},
                    "broken": {"pattern": {"source": "not an array"}, "targets": [{"to": "b"}]}
                }},
                "b": {"kind": "bus"}
            }}"#,
        );
        let samples = sample_events(&t, "b", 4);
        assert_eq!(samples.len(), 4);
        for s in &samples {
            let e = parse(s);
            assert_eq!(e["detail-type"], "Kept", "{s}");
            assert_eq!(e["detail"]["tier"], "gold", "{s}");
        }
    }

    #[test]
    fn producers_publishing_to_a_topic_give_bodies_and_attributes() {
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "p": {"kind": "producer", "to": "t", "events": [{
                    "detail": {"order": "o-${seq}", "total": {"$float": [1, 2]}},
                    "attributes": {"tier": {"$choice": ["gold", "silver"]}, "n": {"$int": [1, 3]}}
                }]},
                "t": {"kind": "topic"}
            }}"#,
        );
        let messages = sample_messages(&t, "t", 3);
        assert_eq!(messages.len(), 3);
        let policy = FilterPolicy::parse(
            r#"{"tier": ["gold", "silver"], "n": [{"numeric": [">=", 1]}]}"#,
            Scope::MessageAttributes,
        )
        .expect("policy");
        for (i, m) in messages.iter().enumerate() {
            assert_eq!(m.label, "p · events[0]");
            assert_eq!(parse(&m.body)["order"], format!("o-{}", i + 1));
            let attributes = parse(&m.attributes);
            assert_eq!(attributes["n"]["Type"], "Number", "{}", m.attributes);
            assert_eq!(attributes["tier"]["Type"], "String", "{}", m.attributes);
            assert!(
                policy.matches(m.attributes.as_bytes()).expect("attributes"),
                "{m:?}"
            );
        }
    }

    #[test]
    fn replays_and_broken_templates_are_skipped() {
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "replayer": {"kind": "producer", "to": "a", "replay": "does-not-exist.jsonl"},
                "broken": {"kind": "producer", "to": "a", "events": [
                    {"source": "x", "detail_type": "Bad", "detail": {"$nope": 1}},
                    {"source": {"$int": [5, 1]}, "detail_type": "Bad", "detail": {}},
                    {"source": "x", "detail_type": "Bad", "detail": {}, "attributes": {"a": "${oops"}},
                    {"source": "x", "detail_type": "Good", "detail": {"k": "${hex:4}"}, "resources": ["r-${seq}"]}
                ]},
                "a": {"kind": "bus"}
            }}"#,
        );
        let samples = sample_events(&t, "a", 3);
        assert_eq!(samples.len(), 3);
        for s in &samples {
            assert_eq!(parse(s)["detail-type"], "Good", "{s}");
        }
        assert_eq!(parse(&samples[1])["resources"], serde_json::json!(["r-2"]));
        // Only a replay: nothing.
        let t = topology(
            r#"{"eventyard": 1, "nodes": {
                "replayer": {"kind": "producer", "to": "a", "replay": "events.jsonl"},
                "a": {"kind": "bus"}
            }}"#,
        );
        assert!(sample_events(&t, "a", 3).is_empty());
    }
}
