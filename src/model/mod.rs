//! The topology model: what a person draws, as a versioned, human-editable JSON file.
//!
//! - [`Topology`] is the file's content (nodes, scenarios, layout), read with
//!   [`Topology::from_json`] (errors name the line, column and field path) and written
//!   with [`Topology::to_json`] (sorted ids, fixed field order, so designs diff cleanly).
//! - [`compile()`] checks a topology as a whole and collects *every* problem with its path
//!   ([`Problem`], errors vs warnings), producing the executable form ([`Compiled`]) the
//!   router runs.
//!
//! The model never depends on the router or the GUI; it depends on [`crate::pattern`] to
//! validate patterns and filter policies.

pub mod compile;
pub mod duration;
pub mod fuse;
pub mod scenario;
pub mod template;
pub mod transform;

use std::collections::BTreeMap;
use std::fmt;

use serde::{Deserialize, Serialize};
use serde_json::Value;

pub use compile::{
    Compiled, CompiledBus, CompiledNode, CompiledRule, CompiledTarget, NodeId, Problem, Severity,
    compile,
};
pub use duration::Dur;

/// The config format version this build reads and writes (`"eventyard": 1`).
///
/// Promise: a file written by version N of the format is read by every later Eventyard
/// that supports N; fields are only added (with defaults), never renamed or re-meant,
/// within one version. A file with a newer version is refused with a clear error.
pub const FORMAT_VERSION: u32 = 1;

/// A whole design: nodes (semantics), scenarios (drills), layout (positions only).
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topology {
    /// Format version; must be [`FORMAT_VERSION`] or older.
    pub eventyard: u32,
    /// A title for the design.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub name: String,
    /// Free text shown beside the design.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// Every node by id (the id is the node's name in ARNs and on the canvas).
    #[serde(default)]
    pub nodes: BTreeMap<String, Node>,
    /// Named drills: a timeline of actions and the assertions that must hold.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scenarios: BTreeMap<String, Scenario>,
    /// Canvas positions by node id; never affects behaviour.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub layout: BTreeMap<String, Position>,
}

/// A node's place on the canvas.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Position {
    /// Horizontal, in canvas points.
    pub x: f32,
    /// Vertical, in canvas points.
    pub y: f32,
}

/// One box on the canvas, by kind.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Node {
    /// Generates events (templates or a JSON Lines replay) at a rate.
    Producer(Producer),
    /// An EventBridge-style event bus with content-based rules.
    Bus(Bus),
    /// An SNS-style topic fanning out to subscriptions.
    Topic(Topic),
    /// An SQS-style queue that consumers pull from.
    Queue(Queue),
    /// A service that processes events (push target or queue consumer).
    Consumer(Consumer),
    /// An event archive attached to a bus, for replay.
    Archive(Archive),
}

/// The kind of a node, without its settings.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Kind {
    /// [`Producer`].
    Producer,
    /// [`Bus`].
    Bus,
    /// [`Topic`].
    Topic,
    /// [`Queue`].
    Queue,
    /// [`Consumer`].
    Consumer,
    /// [`Archive`].
    Archive,
}

impl Kind {
    /// The word used in files and messages (`"bus"`, `"queue"`, ...).
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Producer => "producer",
            Kind::Bus => "bus",
            Kind::Topic => "topic",
            Kind::Queue => "queue",
            Kind::Consumer => "consumer",
            Kind::Archive => "archive",
        }
    }
}

impl fmt::Display for Kind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl Node {
    /// The node's kind.
    pub fn kind(&self) -> Kind {
        match self {
            Node::Producer(_) => Kind::Producer,
            Node::Bus(_) => Kind::Bus,
            Node::Topic(_) => Kind::Topic,
            Node::Queue(_) => Kind::Queue,
            Node::Consumer(_) => Kind::Consumer,
            Node::Archive(_) => Kind::Archive,
        }
    }

    /// The node's account (or [`DEFAULT_ACCOUNT`]).
    pub fn account(&self) -> &str {
        self.placement().0.as_deref().unwrap_or(DEFAULT_ACCOUNT)
    }

    /// The node's region (or [`DEFAULT_REGION`]).
    pub fn region(&self) -> &str {
        self.placement().1.as_deref().unwrap_or(DEFAULT_REGION)
    }

    fn placement(&self) -> (&Option<String>, &Option<String>) {
        match self {
            Node::Producer(n) => (&n.account, &n.region),
            Node::Bus(n) => (&n.account, &n.region),
            Node::Topic(n) => (&n.account, &n.region),
            Node::Queue(n) => (&n.account, &n.region),
            Node::Consumer(n) => (&n.account, &n.region),
            Node::Archive(n) => (&n.account, &n.region),
        }
    }
}

/// The account a node without one belongs to.
pub const DEFAULT_ACCOUNT: &str = "123456789012";
/// The region a node without one belongs to.
pub const DEFAULT_REGION: &str = "us-east-1";

/// How a producer spaces its events.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Arrivals {
    /// Evenly spaced, `1/rate` apart.
    #[default]
    Uniform,
    /// A Poisson process (exponential gaps with mean `1/rate`).
    Poisson,
}

/// Generates events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Producer {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The bus (PutEvents), topic (Publish) or queue (SendMessage) it sends to.
    pub to: String,
    /// Events per second of simulated time; 0 sends only during bursts or replays.
    #[serde(default)]
    pub rate: f64,
    /// Spacing of events.
    #[serde(default, skip_serializing_if = "is_default")]
    pub arrivals: Arrivals,
    /// Weighted mix of event templates; one is chosen per event.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub events: Vec<EventTemplate>,
    /// A JSON Lines file of events to send instead of templates (path relative to the
    /// topology file); each line is an event (a bus receives `source`, `detail-type`,
    /// `detail`, `resources` from it) or a message body (topic, queue).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replay: Option<String>,
    /// Stop after this many events.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<u64>,
    /// When the producer starts sending.
    #[serde(default, skip_serializing_if = "is_default")]
    pub start: Dur,
}

/// One kind of event a producer sends. Every field is a template
/// (see [`template`]): plain JSON, or generators like `{"$int": [1, 9]}` and
/// strings with `${uuid}`.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventTemplate {
    /// Relative frequency in the producer's mix (default 1).
    #[serde(default = "one", skip_serializing_if = "is_one")]
    pub weight: f64,
    /// EventBridge `source` (bus targets).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub source: Value,
    /// EventBridge `detail-type` (bus targets).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail_type: Value,
    /// EventBridge `detail`; for topics and queues, the message body.
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub detail: Value,
    /// EventBridge `resources` (a template of an array of strings).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub resources: Value,
    /// SNS/SQS message attributes by name: a template of a string or a number
    /// (numbers become `Number` attributes, arrays `String.Array`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub attributes: BTreeMap<String, Value>,
    /// FIFO `MessageGroupId` (template of a string).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub group_id: Value,
    /// FIFO `MessageDeduplicationId` (template of a string).
    #[serde(default, skip_serializing_if = "Value::is_null")]
    pub dedup_id: Value,
}

/// An EventBridge event bus.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bus {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Rules by name.
    #[serde(default)]
    pub rules: BTreeMap<String, Rule>,
    /// Who may put events; absent: only producers and buses of the bus's own account.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub policy: Option<BusPolicy>,
}

/// A resource policy on a bus.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BusPolicy {
    /// Allowed principals: producer or bus ids, 12-digit account ids, or `"*"`.
    /// Principals of the bus's own account are always allowed.
    #[serde(default)]
    pub allow: Vec<String>,
}

/// A rule: a pattern and up to five targets.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// What the rule is for.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// The EventBridge event pattern.
    pub pattern: Value,
    /// A disabled rule matches nothing.
    #[serde(default = "yes", skip_serializing_if = "is_true")]
    pub enabled: bool,
    /// Where matched events go (1–5).
    #[serde(default)]
    pub targets: Vec<Target>,
}

/// A rule target.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Target {
    /// A consumer, queue, topic or another bus.
    pub to: String,
    /// Constant JSON delivered instead of the event (`Input`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<Value>,
    /// Part of the event delivered (`InputPath`, e.g. `$.detail`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_path: Option<String>,
    /// `InputTransformer`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_transformer: Option<InputTransformerConfig>,
    /// Retries before giving up (`RetryPolicy`).
    #[serde(default, skip_serializing_if = "is_default")]
    pub retry: RetryPolicy,
    /// A standard queue receiving events that could not be delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq: Option<String>,
    /// `MessageGroupId` for FIFO queue targets.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message_group_id: Option<String>,
}

/// EventBridge's `InputTransformer`.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InputTransformerConfig {
    /// Variable name → JSONPath into the event (at most 100).
    #[serde(default)]
    pub input_paths_map: BTreeMap<String, String>,
    /// The template with `<variable>` placeholders.
    pub input_template: String,
}

/// How long and how often delivery to a target is retried.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RetryPolicy {
    /// `MaximumRetryAttempts`, 0–185 (default 185).
    #[serde(default = "max_retries")]
    pub maximum_retry_attempts: u32,
    /// `MaximumEventAgeInSeconds`, 60 s – 24 h (default 24 h).
    #[serde(default = "max_age")]
    pub maximum_event_age: Dur,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy {
            maximum_retry_attempts: max_retries(),
            maximum_event_age: max_age(),
        }
    }
}

/// An SNS topic.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Topic {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// A FIFO topic keeps order per message group and drops duplicates for 5 minutes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fifo: bool,
    /// FIFO: deduplicate by a hash of the body when no deduplication id is given.
    #[serde(default, skip_serializing_if = "is_default")]
    pub content_based_deduplication: bool,
    /// Subscriptions by name.
    #[serde(default)]
    pub subscriptions: BTreeMap<String, Subscription>,
}

/// Which part of a message a filter policy reads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum FilterScope {
    /// Message attributes (SNS's default).
    #[default]
    MessageAttributes,
    /// The JSON message body.
    MessageBody,
}

/// A topic subscription.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Subscription {
    /// A queue or consumer.
    pub to: String,
    /// Only messages matching this policy are delivered.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filter_policy: Option<Value>,
    /// What the filter policy reads.
    #[serde(default, skip_serializing_if = "is_default")]
    pub filter_policy_scope: FilterScope,
    /// Deliver the body alone instead of the SNS JSON envelope.
    #[serde(default, skip_serializing_if = "is_default")]
    pub raw: bool,
    /// A queue receiving messages that could not be delivered (redrive policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq: Option<String>,
    /// Delivery retries before the message goes to the DLQ (or is dropped); SNS's
    /// default for AWS-managed endpoints is 100,015 (23 days).
    #[serde(default = "sns_retries", skip_serializing_if = "is_sns_retries")]
    pub max_retries: u32,
}

/// An SQS queue.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Queue {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// FIFO: one message in flight per group, duplicates dropped for 5 minutes.
    #[serde(default, skip_serializing_if = "is_default")]
    pub fifo: bool,
    /// FIFO: deduplicate by a hash of the body when no deduplication id is given.
    #[serde(default, skip_serializing_if = "is_default")]
    pub content_based_deduplication: bool,
    /// How long a received message stays invisible before it can be received again.
    #[serde(default = "visibility", skip_serializing_if = "is_visibility")]
    pub visibility_timeout: Dur,
    /// Receives before a message moves to the DLQ (`maxReceiveCount`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_receives: Option<u32>,
    /// The dead-letter queue (redrive policy).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dlq: Option<String>,
    /// Most messages held; sends beyond it are refused (SQS has no such limit; a
    /// bounded buffer models a service in front of a fixed store).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub capacity: Option<u64>,
    /// Consumers pulling from this queue.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub consumers: Vec<String>,
}

impl Default for Queue {
    fn default() -> Self {
        Queue {
            account: None,
            region: None,
            fifo: false,
            content_based_deduplication: false,
            visibility_timeout: visibility(),
            max_receives: None,
            dlq: None,
            capacity: None,
            consumers: Vec::new(),
        }
    }
}

/// A distribution of processing times.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Latency {
    /// Always the same.
    Fixed(Dur),
    /// Uniform between two bounds.
    Uniform([Dur; 2]),
    /// Exponential with this mean.
    Exponential(Dur),
    /// Log-normal given its median and 99th percentile (heavy tail).
    Lognormal {
        /// 50th percentile.
        median: Dur,
        /// 99th percentile.
        p99: Dur,
    },
}

impl Default for Latency {
    fn default() -> Self {
        Latency::Fixed(Dur::millis(10))
    }
}

/// A service that processes events.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Consumer {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// Processing time per event.
    #[serde(default, skip_serializing_if = "is_default")]
    pub latency: Latency,
    /// Events processed at once; pushes beyond it are throttled (and retried).
    #[serde(default = "concurrency", skip_serializing_if = "is_concurrency")]
    pub concurrency: u32,
    /// Fraction of events that fail (0–1).
    #[serde(default, skip_serializing_if = "is_default")]
    pub error_rate: f64,
    /// Processing longer than this fails with a timeout.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub timeout: Option<Dur>,
}

impl Default for Consumer {
    fn default() -> Self {
        Consumer {
            account: None,
            region: None,
            latency: Latency::default(),
            concurrency: concurrency(),
            error_rate: 0.0,
            timeout: None,
        }
    }
}

/// An archive of a bus's events.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Archive {
    /// 12-digit AWS account id (default [`DEFAULT_ACCOUNT`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub account: Option<String>,
    /// AWS region (default [`DEFAULT_REGION`]).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The bus whose events are archived.
    pub bus: String,
    /// Only matching events are archived (all when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pattern: Option<Value>,
    /// Events older than this are discarded (kept indefinitely when absent).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retention: Option<Dur>,
    /// Most events held in memory; the oldest are evicted beyond it (counted).
    #[serde(default = "archive_cap", skip_serializing_if = "is_archive_cap")]
    pub max_events: u64,
}

/// A drill: actions on a timeline and assertions checked during and after the run.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// What the drill shows.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub description: String,
    /// How long the run lasts (simulated time).
    pub duration: Dur,
    /// Actions like `at 10s: consumer email down for 20s` (see [`scenario`]).
    #[serde(default)]
    pub actions: Vec<String>,
    /// Assertions like `email-dlq.depth <= 3` (see [`scenario`]).
    #[serde(default)]
    pub assertions: Vec<String>,
}

/// Why a topology file could not be read.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LoadError {
    /// 1-based line of the problem (0 when unknown).
    pub line: usize,
    /// 1-based column of the problem (0 when unknown).
    pub column: usize,
    /// The field path (`nodes.web.rate`), empty at the top.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for LoadError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line > 0 {
            write!(f, "line {}, column {}: ", self.line, self.column)?;
        }
        if !self.path.is_empty() && self.path != "." {
            write!(f, "{}: ", self.path)?;
        }
        f.write_str(&self.message)
    }
}

impl std::error::Error for LoadError {}

impl Topology {
    /// An empty design of the current format version.
    pub fn new() -> Topology {
        Topology {
            eventyard: FORMAT_VERSION,
            ..Topology::default()
        }
    }

    /// Reads a topology file. Errors name line, column and the field path; a file of a
    /// newer format version is refused before anything else is read.
    pub fn from_json(text: &str) -> Result<Topology, LoadError> {
        let version = probe_version(text)?;
        if version > u64::from(FORMAT_VERSION) {
            return Err(LoadError {
                line: 0,
                column: 0,
                path: "eventyard".into(),
                message: format!(
                    "this file is format version {version}; this Eventyard reads version {FORMAT_VERSION} and older — update Eventyard"
                ),
            });
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let topology: Topology = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let path = e.path().to_string();
            let inner = e.into_inner();
            LoadError {
                line: inner.line(),
                column: inner.column(),
                path: node_field_path(text, &path).unwrap_or(path),
                message: strip_position(&inner.to_string()),
            }
        })?;
        de.end().map_err(|e| LoadError {
            line: e.line(),
            column: e.column(),
            path: String::new(),
            message: strip_position(&e.to_string()),
        })?;
        if topology.eventyard == 0 {
            return Err(LoadError {
                line: 0,
                column: 0,
                path: "eventyard".into(),
                message: "format version must be 1 or more".into(),
            });
        }
        Ok(topology)
    }

    /// The file text: pretty JSON, ids sorted, fields in a fixed order, a final newline.
    pub fn to_json(&self) -> String {
        let mut text = serde_json::to_string_pretty(self)
            .unwrap_or_else(|e| format!("{{\"error\": \"cannot serialise: {e}\"}}"));
        text.push('\n');
        text
    }
}

/// Reads `"eventyard"` before the full parse so newer files get the right message.
fn probe_version(text: &str) -> Result<u64, LoadError> {
    let value: Value = serde_json::from_str(text).map_err(|e| LoadError {
        line: e.line(),
        column: e.column(),
        path: String::new(),
        message: strip_position(&e.to_string()),
    })?;
    let Value::Object(map) = &value else {
        return Err(LoadError {
            line: 1,
            column: 1,
            path: String::new(),
            message: "a topology file is a JSON object with \"eventyard\": 1".into(),
        });
    };
    match map.get("eventyard") {
        Some(v) => v.as_u64().ok_or_else(|| LoadError {
            line: 0,
            column: 0,
            path: "eventyard".into(),
            message: format!("the format version must be a whole number, not {v}"),
        }),
        None => Err(LoadError {
            line: 0,
            column: 0,
            path: String::new(),
            message: "missing \"eventyard\": 1 (the format version) — is this an Eventyard file?"
                .into(),
        }),
    }
}

/// A node's settings are read through its `kind` tag, which hides the failing field
/// from the path (`nodes.web`); reading that node again by its kind finds it
/// (`nodes.web.rate`).
fn node_field_path(text: &str, path: &str) -> Option<String> {
    let id = path.strip_prefix("nodes.")?;
    if id.contains(['.', '[']) {
        return None;
    }
    let value: Value = serde_json::from_str(text).ok()?;
    let mut fields = value.get("nodes")?.get(id)?.as_object()?.clone();
    let kind = fields.remove("kind")?;
    let fields = Value::Object(fields);
    let failing = match kind.as_str()? {
        "producer" => failing_path::<Producer>(fields),
        "bus" => failing_path::<Bus>(fields),
        "topic" => failing_path::<Topic>(fields),
        "queue" => failing_path::<Queue>(fields),
        "consumer" => failing_path::<Consumer>(fields),
        "archive" => failing_path::<Archive>(fields),
        _ => None,
    }?;
    Some(format!("nodes.{id}.{failing}"))
}

fn failing_path<T: serde::de::DeserializeOwned>(value: Value) -> Option<String> {
    serde_path_to_error::deserialize::<_, T>(value)
        .err()
        .map(|e| e.path().to_string())
}

/// serde_json appends " at line L column C"; we report those separately.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(i) => message[..i].to_string(),
        None => message.to_string(),
    }
}

fn is_default<T: Default + PartialEq>(v: &T) -> bool {
    *v == T::default()
}
fn one() -> f64 {
    1.0
}
fn is_one(v: &f64) -> bool {
    *v == 1.0
}
fn yes() -> bool {
    true
}
fn is_true(v: &bool) -> bool {
    *v
}
fn max_retries() -> u32 {
    185
}
fn max_age() -> Dur {
    Dur::secs(86_400)
}
fn sns_retries() -> u32 {
    100_015
}
fn is_sns_retries(v: &u32) -> bool {
    *v == sns_retries()
}
fn visibility() -> Dur {
    Dur::secs(30)
}
fn is_visibility(v: &Dur) -> bool {
    *v == visibility()
}
fn concurrency() -> u32 {
    10
}
fn is_concurrency(v: &u32) -> bool {
    *v == concurrency()
}
fn archive_cap() -> u64 {
    100_000
}
fn is_archive_cap(v: &u64) -> bool {
    *v == archive_cap()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn errors_name_line_column_and_path() {
        let text = "{\n  \"eventyard\": 1,\n  \"nodes\": {\n    \"web\": {\"kind\": \"producer\", \"to\": \"orders\", \"rate\": \"fast\"}\n  }\n}";
        let e = Topology::from_json(text).unwrap_err();
        assert!((4..=5).contains(&e.line), "{e}");
        assert_eq!(e.path, "nodes.web.rate", "{e}");
        let e = Topology::from_json(
            r#"{"eventyard": 1, "nodes": {"q": {"kind": "queue", "fifo": "yes"}}}"#,
        )
        .unwrap_err();
        assert_eq!(e.path, "nodes.q.fifo", "{e}");
        let e = Topology::from_json(r#"{"eventyard": 1, "nodes": {"q": {"kind": "quay"}}}"#)
            .unwrap_err();
        assert!(e.message.contains("unknown variant `quay`"), "{e}");
        let e = Topology::from_json("{\"eventyard\": 1, \"nodez\": {}}").unwrap_err();
        assert!(e.message.contains("unknown field `nodez`"), "{e}");
        let e = Topology::from_json("{\"eventyard\": 1,").unwrap_err();
        assert_eq!((e.line, e.column), (1, 16), "{e}");
        let e = Topology::from_json("{\"eventyard\": 2}").unwrap_err();
        assert!(e.message.contains("version 2"), "{e}");
    }

    #[test]
    fn writing_is_deterministic_and_round_trips() {
        let text = r#"{"eventyard": 1, "nodes": {
            "z": {"kind": "consumer"},
            "a": {"kind": "queue", "consumers": ["z"], "visibility_timeout": "45s"},
            "p": {"kind": "producer", "to": "a", "rate": 5, "events": [{"detail": {"n": {"$seq": 1}}}]}
        }}"#;
        let t = Topology::from_json(text).unwrap();
        let out = t.to_json();
        assert_eq!(Topology::from_json(&out).unwrap(), t);
        assert_eq!(Topology::from_json(&out).unwrap().to_json(), out);
        assert!(out.find("\"a\"").unwrap() < out.find("\"p\"").unwrap());
        assert!(out.contains("\"visibility_timeout\": \"45s\""));
        assert!(
            !out.contains("concurrency"),
            "defaults are not written:\n{out}"
        );
    }

    /// An event template must render the type its field needs every time, not only in
    /// a sample: a `$choice` with one object alternative is refused at its path.
    #[test]
    fn templates_that_may_render_the_wrong_type_are_refused() {
        let design = |event: &str| {
            format!(
                r#"{{"eventyard": 1, "nodes": {{
                    "p": {{"kind": "producer", "to": "bus", "rate": 1, "events": [{event}]}},
                    "bus": {{"kind": "bus", "rules": {{}}}}
                }}}}"#
            )
        };
        for (event, path, shapes) in [
            (
                r#"{"source": {"$choice": ["svc", {"k": "v"}]}, "detail_type": "T", "detail": {}}"#,
                "nodes.p.events[0].source",
                "a string or an object",
            ),
            (
                r#"{"source": "s", "detail_type": {"$choice": ["T", 1]}, "detail": {}}"#,
                "nodes.p.events[0].detail_type",
                "a number or a string",
            ),
            (
                r#"{"source": "s", "detail_type": "T", "resources": [{"$choice": ["arn:x", {"k": "v"}]}], "detail": {}}"#,
                "nodes.p.events[0].resources",
                "with elements that are not strings",
            ),
            (
                r#"{"source": "s", "detail_type": "T", "detail": {"$choice": [{}, "flat"]}}"#,
                "nodes.p.events[0].detail",
                "a string or an object",
            ),
        ] {
            let topology = Topology::from_json(&design(event)).expect("loads");
            let problems = compile::compile(&topology, None).err().expect("refused");
            assert!(
                problems
                    .iter()
                    .any(|p| p.path == path && p.message.contains(shapes)),
                "{event}: {problems:?}"
            );
        }
        // Every alternative a string, generators that render strings: accepted.
        let fine = design(
            r#"{"source": {"$choice": ["a", "b-${seq}"]}, "detail_type": {"$uuid": true}, "resources": [{"$literal": "arn:x"}, "${choice:x,y}"], "detail": {"$choice": [{"a": 1}, {"$literal": {"$b": 2}}]}}"#,
        );
        let topology = Topology::from_json(&fine).expect("loads");
        assert!(compile::compile(&topology, None).is_ok());
    }
}
