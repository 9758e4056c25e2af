//! Whole-design checks and the executable form the router runs.
//!
//! [`compile`] never stops at the first problem: it walks every node, rule, target,
//! subscription and scenario line and reports each problem with its path
//! (`nodes.orders.rules.to-billing.targets[2].to`). Errors make the design
//! unrunnable; warnings (an unreachable consumer, a queue nobody reads) do not.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::sync::Arc;

use serde_json::Value;

use super::scenario::{self, Action, ActionKind, Assertion};
use super::template::{ShapeSet, Template};
use super::transform::TargetInput;
use super::{
    Arrivals, Bus, Consumer, Dur, EventTemplate, FilterScope, Kind, Latency, Node, Producer, Queue,
    RetryPolicy, Topic, Topology,
};
use crate::pattern::sns::{FilterPolicy, PolicySet, Scope};
use crate::pattern::{Matcher, RuleId};

/// The fastest a producer may send (events per second of simulated time); also the
/// most a scenario may set. Beyond it a run would only exhaust memory.
pub const MAX_RATE: f64 = 10_000_000.0;

/// Index of a node in [`Compiled::nodes`] (nodes are sorted by id).
pub type NodeId = usize;

/// How bad a problem is.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Severity {
    /// The design cannot run.
    Error,
    /// The design runs, but probably not as meant.
    Warning,
}

/// One problem found by [`compile`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Problem {
    /// Error or warning.
    pub severity: Severity,
    /// Where: a dotted path into the file (`nodes.web.to`).
    pub path: String,
    /// What is wrong, and when possible how to fix it.
    pub message: String,
}

impl Problem {
    /// The node id the problem is about, when its path starts with `nodes.ID`.
    pub fn node(&self) -> Option<&str> {
        let rest = self.path.strip_prefix("nodes.")?;
        Some(rest.split(['.', '[']).next().unwrap_or(rest))
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let level = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{level}: {}: {}", self.path, self.message)
    }
}

/// A design checked and ready to run.
#[derive(Clone)]
pub struct Compiled {
    /// The design as written.
    pub topology: Topology,
    /// Node ids, sorted; a [`NodeId`] indexes this and [`Compiled::nodes`].
    pub ids: Vec<String>,
    /// Executable nodes.
    pub nodes: Vec<CompiledNode>,
    /// Scenarios with their lines parsed.
    pub scenarios: BTreeMap<String, CompiledScenario>,
    /// Warnings (a compiled design has no errors).
    pub warnings: Vec<Problem>,
}

impl Compiled {
    /// The id of the node named `name`.
    pub fn node_id(&self, name: &str) -> Option<NodeId> {
        self.ids.binary_search_by(|id| id.as_str().cmp(name)).ok()
    }
}

/// The executable form of one node.
#[derive(Clone)]
pub enum CompiledNode {
    /// A producer.
    Producer(Arc<CompiledProducer>),
    /// A bus.
    Bus(Arc<CompiledBus>),
    /// A topic.
    Topic(Arc<CompiledTopic>),
    /// A queue.
    Queue(Arc<CompiledQueue>),
    /// A consumer.
    Consumer(Arc<CompiledConsumer>),
    /// An archive.
    Archive(Arc<CompiledArchive>),
}

/// Common facts about every node.
#[derive(Clone, Debug, PartialEq)]
pub struct NodeInfo {
    /// The node's id.
    pub name: String,
    /// Account.
    pub account: String,
    /// Region.
    pub region: String,
    /// ARN (`arn:aws:events:us-east-1:123456789012:event-bus/orders`).
    pub arn: String,
}

/// A producer, ready to generate.
#[derive(Clone)]
pub struct CompiledProducer {
    /// Common facts.
    pub info: NodeInfo,
    /// Where events go.
    pub to: NodeId,
    /// Events per second.
    pub rate: f64,
    /// Spacing.
    pub arrivals: Arrivals,
    /// Templates with cumulative weights (the last is the total).
    pub mix: Vec<(f64, Arc<CompiledEvent>)>,
    /// Replay lines (each a JSON text), when the producer replays a file.
    pub replay: Option<Arc<Vec<String>>>,
    /// Stop after this many events.
    pub limit: Option<u64>,
    /// When it starts.
    pub start: Dur,
}

/// One compiled event template.
pub struct CompiledEvent {
    /// `source` (renders a JSON string).
    pub source: Template,
    /// `detail-type` (renders a JSON string).
    pub detail_type: Template,
    /// `detail` or message body.
    pub detail: Template,
    /// `resources`.
    pub resources: Option<Template>,
    /// Message attributes by name.
    pub attributes: Vec<(String, Template)>,
    /// FIFO group id.
    pub group_id: Option<Template>,
    /// FIFO deduplication id.
    pub dedup_id: Option<Template>,
    /// For events sent to a bus: the detail template with the values the bus's rules
    /// read marked, so matching needs no scan (`None`: scan the event).
    pub fused: Option<super::fuse::FusedEvent>,
}

/// A bus with its rules merged into one matcher.
#[derive(Clone)]
pub struct CompiledBus {
    /// Common facts.
    pub info: NodeInfo,
    /// Rules in name order; a matcher [`RuleId`] maps to an index via [`CompiledBus::rule_index`].
    pub rules: Vec<CompiledRule>,
    /// Every rule's pattern, merged.
    pub matcher: Arc<Matcher>,
    /// Matcher rule id → index into `rules`.
    pub rule_of: Vec<usize>,
    /// Extra principals allowed to put (producer/bus ids, account ids, `*`).
    pub allow: BTreeSet<String>,
}

impl CompiledBus {
    /// The rule a matcher id stands for.
    pub fn rule_index(&self, id: RuleId) -> usize {
        self.rule_of[id.index()]
    }

    /// Whether a principal (node id and account) may put events on this bus.
    pub fn allows(&self, principal: &str, account: &str) -> bool {
        account == self.info.account
            || self.allow.contains("*")
            || self.allow.contains(principal)
            || self.allow.contains(account)
    }
}

/// A rule.
#[derive(Clone)]
pub struct CompiledRule {
    /// Rule name.
    pub name: String,
    /// Rule ARN.
    pub arn: String,
    /// Enabled in the file.
    pub enabled: bool,
    /// Targets.
    pub targets: Vec<CompiledTarget>,
}

/// A rule target.
#[derive(Clone)]
pub struct CompiledTarget {
    /// The receiving node.
    pub to: NodeId,
    /// The receiving node's ARN.
    pub arn: String,
    /// What it receives.
    pub input: Arc<TargetInput>,
    /// Retry policy.
    pub retry: RetryPolicy,
    /// Dead-letter queue.
    pub dlq: Option<NodeId>,
    /// FIFO group id for FIFO queue targets.
    pub group_id: Option<String>,
    /// When the target is a topic whose filter policies can read their values from
    /// what this target's input transformer writes (see [`super::fuse::fuse_filter`]).
    pub fused_filter: Option<Arc<super::fuse::FusedFilter>>,
}

/// A topic.
#[derive(Clone)]
pub struct CompiledTopic {
    /// Common facts.
    pub info: NodeInfo,
    /// FIFO topic.
    pub fifo: bool,
    /// Deduplicate by body hash.
    pub content_dedup: bool,
    /// Subscriptions in name order.
    pub subscriptions: Vec<CompiledSubscription>,
    /// The subscriptions' filter policies matched in one pass, when they all read the
    /// message body (see [`PolicySet::new`]).
    pub policy_set: Option<Arc<PolicySet>>,
}

/// A subscription.
#[derive(Clone)]
pub struct CompiledSubscription {
    /// Subscription name.
    pub name: String,
    /// The receiving node.
    pub to: NodeId,
    /// The filter policy.
    pub policy: Option<Arc<FilterPolicy>>,
    /// Raw message delivery.
    pub raw: bool,
    /// Redrive DLQ.
    pub dlq: Option<NodeId>,
    /// Delivery retries.
    pub max_retries: u32,
}

/// A queue.
#[derive(Clone)]
pub struct CompiledQueue {
    /// Common facts.
    pub info: NodeInfo,
    /// The settings as written.
    pub config: Queue,
    /// Redrive DLQ.
    pub dlq: Option<NodeId>,
    /// Consumers pulling.
    pub consumers: Vec<NodeId>,
}

/// A consumer.
#[derive(Clone)]
pub struct CompiledConsumer {
    /// Common facts.
    pub info: NodeInfo,
    /// The settings as written.
    pub config: Consumer,
    /// Queues it pulls from.
    pub queues: Vec<NodeId>,
}

/// An archive.
#[derive(Clone)]
pub struct CompiledArchive {
    /// Common facts.
    pub info: NodeInfo,
    /// The archived bus.
    pub bus: NodeId,
    /// Only matching events are kept.
    pub pattern: Option<Arc<Matcher>>,
    /// Retention.
    pub retention: Option<Dur>,
    /// Most events held.
    pub max_events: u64,
}

/// A scenario with parsed lines.
#[derive(Clone, Debug)]
pub struct CompiledScenario {
    /// Run length.
    pub duration: Dur,
    /// Actions in time order.
    pub actions: Vec<Action>,
    /// Assertions, with their source text.
    pub assertions: Vec<(String, Assertion)>,
}

/// Collects problems while compiling.
#[derive(Default)]
struct Problems(Vec<Problem>);

impl Problems {
    fn error(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Error, path.into(), message.into());
    }
    fn warn(&mut self, path: impl Into<String>, message: impl Into<String>) {
        self.push(Severity::Warning, path.into(), message.into());
    }
    fn push(&mut self, severity: Severity, path: String, message: String) {
        self.0.push(Problem {
            severity,
            path,
            message,
        });
    }
}

/// Whether a `layout` key names a box: a node id, or `bus/rule` / `topic/subscription`
/// (node ids cannot contain `/`).
fn layout_key_exists(topology: &Topology, key: &str) -> bool {
    match key.split_once('/') {
        None => topology.nodes.contains_key(key),
        Some((owner, name)) => match topology.nodes.get(owner) {
            Some(Node::Bus(b)) => b.rules.contains_key(name),
            Some(Node::Topic(t)) => t.subscriptions.contains_key(name),
            _ => false,
        },
    }
}

/// Checks a design and builds its executable form. Replay files are resolved against
/// `base_dir` (the topology file's folder).
///
/// On success the result carries the warnings; on failure every problem (errors and
/// warnings), sorted by path.
pub fn compile(topology: &Topology, base_dir: Option<&Path>) -> Result<Compiled, Vec<Problem>> {
    let mut c = Compiler {
        t: topology,
        ids: topology.nodes.keys().cloned().collect(),
        problems: Problems::default(),
        base_dir,
        fed: BTreeSet::new(),
    };
    let nodes: Vec<Option<CompiledNode>> = topology
        .nodes
        .iter()
        .map(|(id, node)| c.node(id, node))
        .collect();
    c.bus_cycles();
    c.reachability();
    let scenarios = c.scenarios();
    for id in topology.layout.keys() {
        if !layout_key_exists(topology, id) {
            c.problems.warn(
                format!("layout.{id}"),
                "a position for a node that does not exist",
            );
        }
    }
    let mut problems = c.problems.0;
    problems.sort_by(|a, b| (a.severity, &a.path).cmp(&(b.severity, &b.path)));
    if problems.iter().any(|p| p.severity == Severity::Error) {
        return Err(problems);
    }
    let mut nodes = nodes;
    fuse_producers(topology, &mut nodes);
    fuse_filters(&mut nodes);
    Ok(Compiled {
        topology: topology.clone(),
        ids: c.ids,
        nodes: nodes.into_iter().flatten().collect(),
        scenarios,
        warnings: problems,
    })
}

/// Marks, in every event template of a producer that sends to a bus, the values the
/// bus's rules read (see [`super::fuse`]). `nodes` are in `topology.nodes` order.
fn fuse_producers(topology: &Topology, nodes: &mut [Option<CompiledNode>]) {
    let reads: Vec<Option<Arc<super::fuse::BusReads>>> = nodes
        .iter()
        .map(|n| match n {
            Some(CompiledNode::Bus(b)) => super::fuse::BusReads::of(b).map(Arc::new),
            _ => None,
        })
        .collect();
    for (node, source) in nodes.iter_mut().zip(topology.nodes.values()) {
        let (Some(CompiledNode::Producer(p)), Node::Producer(spec)) = (node, source) else {
            continue;
        };
        let Some(Some(reads)) = reads.get(p.to) else {
            continue;
        };
        let Some(p) = Arc::get_mut(p) else {
            continue;
        };
        if p.mix.len() != spec.events.len() {
            continue;
        }
        for ((_, event), template) in p.mix.iter_mut().zip(&spec.events) {
            if let Some(event) = Arc::get_mut(event) {
                event.fused = super::fuse::fuse(&template.detail, reads);
            }
        }
    }
}

/// Lets every topic's filter policies read their values from what a rule target's
/// input transformer writes, where that is exact (see [`super::fuse::fuse_filter`]).
fn fuse_filters(nodes: &mut [Option<CompiledNode>]) {
    let sets: Vec<Option<Arc<PolicySet>>> = nodes
        .iter()
        .map(|n| match n {
            Some(CompiledNode::Topic(t)) => t.policy_set.clone(),
            _ => None,
        })
        .collect();
    for node in nodes.iter_mut() {
        let Some(CompiledNode::Bus(bus)) = node else {
            continue;
        };
        let Some(bus) = Arc::get_mut(bus) else {
            continue;
        };
        for target in bus.rules.iter_mut().flat_map(|r| &mut r.targets) {
            if let Some(Some(set)) = sets.get(target.to) {
                target.fused_filter = super::fuse::fuse_filter(&target.input, set).map(Arc::new);
            }
        }
    }
}

struct Compiler<'a> {
    t: &'a Topology,
    ids: Vec<String>,
    problems: Problems,
    base_dir: Option<&'a Path>,
    /// Nodes something sends to (for reachability warnings).
    fed: BTreeSet<String>,
}

fn arn(kind: Kind, name: &str, account: &str, region: &str) -> String {
    match kind {
        Kind::Bus => format!("arn:aws:events:{region}:{account}:event-bus/{name}"),
        Kind::Topic => format!("arn:aws:sns:{region}:{account}:{name}"),
        Kind::Queue => format!("arn:aws:sqs:{region}:{account}:{name}"),
        Kind::Consumer => format!("arn:aws:lambda:{region}:{account}:function:{name}"),
        Kind::Archive => format!("arn:aws:events:{region}:{account}:archive/{name}"),
        Kind::Producer => format!("arn:aws:iam::{account}:role/{name}"),
    }
}

impl Compiler<'_> {
    fn id_of(&self, name: &str) -> Option<NodeId> {
        self.ids.binary_search_by(|id| id.as_str().cmp(name)).ok()
    }

    fn kind_of(&self, name: &str) -> Option<Kind> {
        self.t.nodes.get(name).map(Node::kind)
    }

    /// Resolves a reference that must name a node of one of `kinds`.
    fn reference(&mut self, path: &str, name: &str, kinds: &[Kind]) -> Option<NodeId> {
        if !self.check_reference(path, name, kinds) {
            return None;
        }
        self.fed.insert(name.to_string());
        self.id_of(name)
    }

    /// Reports (and returns false) when `name` is not a node of one of `kinds`.
    fn check_reference(&mut self, path: &str, name: &str, kinds: &[Kind]) -> bool {
        let wanted = kinds
            .iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ");
        match self.kind_of(name) {
            None => {
                self.problems.error(
                    path,
                    format!("no node named `{name}` (expected a {wanted})"),
                );
                false
            }
            Some(k) if !kinds.contains(&k) => {
                self.problems
                    .error(path, format!("`{name}` is a {k}; this must be a {wanted}"));
                false
            }
            Some(_) => true,
        }
    }

    fn node(&mut self, id: &str, node: &Node) -> Option<CompiledNode> {
        let path = format!("nodes.{id}");
        self.name_rules(&path, id, "node id");
        let (account, region) = (node.account().to_string(), node.region().to_string());
        for (field, text) in [("account", &account), ("region", &region)] {
            // Both are written into event envelopes and ARNs as they are.
            if text
                .chars()
                .any(|c| c == '"' || c == '\\' || c.is_control())
            {
                self.problems.error(
                    format!("{path}.{field}"),
                    format!("`{text}` may not contain quotes, backslashes or control characters"),
                );
            }
        }
        if !(account.len() == 12 && account.bytes().all(|b| b.is_ascii_digit())) {
            self.problems.warn(
                format!("{path}.account"),
                format!("`{account}` is not a 12-digit account id"),
            );
        }
        let info = NodeInfo {
            name: id.to_string(),
            arn: arn(node.kind(), id, &account, &region),
            account,
            region,
        };
        match node {
            Node::Producer(p) => self
                .producer(&path, info, p)
                .map(|n| CompiledNode::Producer(Arc::new(n))),
            Node::Bus(b) => self
                .bus(&path, info, b)
                .map(|n| CompiledNode::Bus(Arc::new(n))),
            Node::Topic(t) => self
                .topic(&path, info, t)
                .map(|n| CompiledNode::Topic(Arc::new(n))),
            Node::Queue(q) => self
                .queue(&path, info, q)
                .map(|n| CompiledNode::Queue(Arc::new(n))),
            Node::Consumer(c) => self
                .consumer(&path, info, c)
                .map(|n| CompiledNode::Consumer(Arc::new(n))),
            Node::Archive(a) => self
                .archive(&path, info, a)
                .map(|n| CompiledNode::Archive(Arc::new(n))),
        }
    }

    fn name_rules(&mut self, path: &str, name: &str, what: &str) {
        if name.is_empty() || name.len() > 64 {
            self.problems
                .error(path, format!("a {what} must have 1 to 64 characters"));
        } else if !name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b))
        {
            self.problems.error(
                path,
                format!("`{name}`: a {what} may only use letters, digits, `.`, `_` and `-`"),
            );
        }
    }

    fn producer(&mut self, path: &str, info: NodeInfo, p: &Producer) -> Option<CompiledProducer> {
        let to = self.reference(
            &format!("{path}.to"),
            &p.to,
            &[Kind::Bus, Kind::Topic, Kind::Queue],
        );
        if !(p.rate.is_finite() && (0.0..=MAX_RATE).contains(&p.rate)) {
            self.problems.error(
                format!("{path}.rate"),
                format!("the rate must be 0 to {MAX_RATE} events per second"),
            );
        }
        let to_bus = self.kind_of(&p.to) == Some(Kind::Bus);
        let to_fifo = self.is_fifo(&p.to);
        let mut mix = Vec::new();
        let mut total = 0.0;
        for (i, e) in p.events.iter().enumerate() {
            let epath = format!("{path}.events[{i}]");
            if !(e.weight.is_finite() && e.weight > 0.0) {
                self.problems
                    .error(format!("{epath}.weight"), "a weight must be positive");
            }
            total += e.weight.max(0.0);
            if to_fifo && e.group_id.is_null() {
                self.problems.error(
                    format!("{epath}.group_id"),
                    format!(
                        "`{}` is FIFO: every message needs a group_id (MessageGroupId)",
                        p.to
                    ),
                );
            }
            if let Some(ev) = self.event(&epath, e, to_bus) {
                mix.push((total, Arc::new(ev)));
            }
        }
        let replay = p.replay.as_ref().and_then(|file| self.replay(path, file));
        if p.events.is_empty() && p.replay.is_none() {
            self.problems.error(
                format!("{path}.events"),
                "a producer needs event templates (`events`) or a `replay` file",
            );
        }
        if p.rate == 0.0 {
            self.problems.warn(
                format!("{path}.rate"),
                "rate 0: sends nothing until a scenario sets its rate (`producer NAME rate N`)",
            );
        }
        Some(CompiledProducer {
            info,
            to: to?,
            rate: p.rate,
            arrivals: p.arrivals,
            mix,
            replay,
            limit: p.limit,
            start: p.start,
        })
    }

    fn replay(&mut self, path: &str, file: &str) -> Option<Arc<Vec<String>>> {
        let full = match self.base_dir {
            Some(dir) => dir.join(file),
            None => Path::new(file).to_path_buf(),
        };
        match std::fs::read_to_string(&full) {
            Ok(text) => {
                let mut lines = Vec::new();
                for (n, line) in text.lines().enumerate() {
                    if line.trim().is_empty() {
                        continue;
                    }
                    if let Err(e) = serde_json::from_str::<Value>(line) {
                        self.problems.error(
                            format!("{path}.replay"),
                            format!("{}: line {}: {e}", full.display(), n + 1),
                        );
                        return None;
                    }
                    lines.push(line.to_string());
                }
                if lines.is_empty() {
                    self.problems.warn(
                        format!("{path}.replay"),
                        format!("{} has no events", full.display()),
                    );
                }
                Some(Arc::new(lines))
            }
            Err(e) => {
                self.problems.error(
                    format!("{path}.replay"),
                    format!("cannot read {}: {e}", full.display()),
                );
                None
            }
        }
    }

    fn template(&mut self, path: &str, value: &Value) -> Option<Template> {
        match Template::compile(value, path) {
            Ok(t) => Some(t),
            Err(errors) => {
                for e in errors {
                    self.problems.error(e.path, e.message);
                }
                None
            }
        }
    }

    /// Compiles a template and checks a sample rendering has the JSON type required.
    /// A template that must render `what` every time: checked on the template itself
    /// (every `$choice` alternative and generator), not on a sample.
    fn typed_template(
        &mut self,
        path: &str,
        value: &Value,
        what: &str,
        ok: fn(ShapeSet) -> bool,
    ) -> Option<Template> {
        let t = self.template(path, value)?;
        let shapes = Template::may_render(value);
        if ok(shapes) {
            return Some(t);
        }
        self.problems.error(
            path,
            format!("must always produce {what}; this template may produce {shapes}"),
        );
        None
    }

    fn event(&mut self, path: &str, e: &EventTemplate, to_bus: bool) -> Option<CompiledEvent> {
        let required = |v: &Value| !v.is_null();
        if to_bus {
            for (field, v) in [("source", &e.source), ("detail_type", &e.detail_type)] {
                if !required(v) {
                    self.problems.error(
                        format!("{path}.{field}"),
                        "events for a bus need `source` and `detail_type`",
                    );
                }
            }
        }
        if !required(&e.detail) {
            self.problems.error(
                format!("{path}.detail"),
                "missing `detail` (the event's content or message body)",
            );
        }
        let source = self.typed_template(
            &format!("{path}.source"),
            &or_empty(&e.source),
            "a string",
            ShapeSet::only_strings,
        );
        let detail_type = self.typed_template(
            &format!("{path}.detail_type"),
            &or_empty(&e.detail_type),
            "a string",
            ShapeSet::only_strings,
        );
        let detail = if to_bus {
            self.typed_template(
                &format!("{path}.detail"),
                &e.detail,
                "a JSON object",
                ShapeSet::only_objects,
            )
        } else {
            self.template(&format!("{path}.detail"), &e.detail)
        };
        let resources = if e.resources.is_null() {
            None
        } else {
            Some(self.typed_template(
                &format!("{path}.resources"),
                &e.resources,
                "an array of strings",
                ShapeSet::only_string_arrays,
            )?)
        };
        let mut attributes = Vec::new();
        for (name, v) in &e.attributes {
            if let Some(t) = self.typed_template(
                &format!("{path}.attributes.{name}"),
                v,
                "a string, number or array",
                ShapeSet::only_strings_numbers_or_arrays,
            ) {
                attributes.push((name.clone(), t));
            }
        }
        let mut optional = |field: &str, v: &Value| -> Option<Option<Template>> {
            if v.is_null() {
                Some(None)
            } else {
                self.typed_template(
                    &format!("{path}.{field}"),
                    v,
                    "a string",
                    ShapeSet::only_strings,
                )
                .map(Some)
            }
        };
        let group_id = optional("group_id", &e.group_id)?;
        let dedup_id = optional("dedup_id", &e.dedup_id)?;
        Some(CompiledEvent {
            source: source?,
            detail_type: detail_type?,
            detail: detail?,
            resources,
            attributes,
            group_id,
            dedup_id,
            fused: None,
        })
    }

    fn pattern(&mut self, path: &str, matcher: &mut Matcher, name: &str, pattern: &Value) -> bool {
        match matcher.add_rule(name, &pattern.to_string()) {
            Ok(()) => true,
            Err(e) => {
                let at = if e.path.is_empty() {
                    path.to_string()
                } else {
                    format!("{path}.{}", e.path)
                };
                self.problems.error(at, e.reason);
                false
            }
        }
    }

    fn bus(&mut self, path: &str, info: NodeInfo, b: &Bus) -> Option<CompiledBus> {
        let mut matcher = Matcher::new();
        let mut rules = Vec::new();
        let mut ok = true;
        if b.rules.len() > 300 {
            self.problems.warn(
                format!("{path}.rules"),
                "more than 300 rules (EventBridge's default quota per bus)",
            );
        }
        for (name, rule) in &b.rules {
            let rpath = format!("{path}.rules.{name}");
            self.name_rules(&rpath, name, "rule name");
            ok &= self.pattern(
                &format!("{rpath}.pattern"),
                &mut matcher,
                name,
                &rule.pattern,
            );
            if rule.targets.len() > 5 {
                self.problems.error(
                    format!("{rpath}.targets"),
                    format!("{} targets; a rule has at most 5", rule.targets.len()),
                );
            } else if rule.targets.is_empty() {
                self.problems.warn(
                    format!("{rpath}.targets"),
                    "no targets: matched events go nowhere",
                );
            }
            let rule_arn = format!(
                "arn:aws:events:{}:{}:rule/{}/{name}",
                info.region, info.account, info.name
            );
            let mut targets = Vec::new();
            for (i, t) in rule.targets.iter().enumerate() {
                let tpath = format!("{rpath}.targets[{i}]");
                if let Some(target) = self.target(&tpath, &info.name, t) {
                    targets.push(target);
                } else {
                    ok = false;
                }
            }
            rules.push(CompiledRule {
                name: name.clone(),
                arn: rule_arn,
                enabled: rule.enabled,
                targets,
            });
        }
        if let Some(policy) = &b.policy {
            for (i, p) in policy.allow.iter().enumerate() {
                let is_account = p.len() == 12 && p.bytes().all(|c| c.is_ascii_digit());
                if p != "*" && !is_account && !self.t.nodes.contains_key(p) {
                    self.problems.warn(
                        format!("{path}.policy.allow[{i}]"),
                        format!("`{p}` is neither a node, a 12-digit account nor `*`"),
                    );
                }
            }
        }
        if !ok {
            return None;
        }
        let rule_of = rules
            .iter()
            .map(|r| matcher.rule_id(&r.name).map(RuleId::index))
            .collect::<Option<Vec<usize>>>()?;
        let mut by_id = vec![0; rules.len()];
        for (rule, id) in rule_of.into_iter().enumerate() {
            by_id[id] = rule;
        }
        Some(CompiledBus {
            info,
            rules,
            matcher: Arc::new(matcher),
            rule_of: by_id,
            allow: b
                .policy
                .iter()
                .flat_map(|p| p.allow.iter().cloned())
                .collect(),
        })
    }

    fn target(&mut self, path: &str, bus: &str, t: &super::Target) -> Option<CompiledTarget> {
        let kinds = [Kind::Consumer, Kind::Queue, Kind::Topic, Kind::Bus];
        let to = self.reference(&format!("{path}.to"), &t.to, &kinds);
        if t.to == bus {
            self.problems
                .error(format!("{path}.to"), "a rule cannot target its own bus");
        }
        let retry = t.retry;
        if retry.maximum_retry_attempts > 185 {
            self.problems.error(
                format!("{path}.retry.maximum_retry_attempts"),
                "must be 0 to 185",
            );
        }
        if !(Dur::secs(60)..=Dur::secs(86_400)).contains(&retry.maximum_event_age) {
            self.problems.error(
                format!("{path}.retry.maximum_event_age"),
                "must be 60s to 24h (MaximumEventAgeInSeconds 60–86,400)",
            );
        }
        let dlq = match &t.dlq {
            Some(q) => {
                let id = self.reference(&format!("{path}.dlq"), q, &[Kind::Queue]);
                if self.is_fifo_queue(q) {
                    self.problems.error(
                        format!("{path}.dlq"),
                        "an EventBridge dead-letter queue must be a standard queue",
                    );
                }
                Some(id?)
            }
            None => None,
        };
        if self.is_fifo(&t.to) && t.message_group_id.is_none() {
            self.problems.error(
                format!("{path}.message_group_id"),
                "a FIFO queue or topic target needs a message_group_id",
            );
        }
        let constant = t.input.as_ref().map(Value::to_string);
        let transformer = t
            .input_transformer
            .as_ref()
            .map(|x| (&x.input_paths_map, x.input_template.as_str()));
        let input = match TargetInput::from_config(
            constant.as_deref(),
            t.input_path.as_deref(),
            transformer,
            path,
        ) {
            Ok(input) => Some(input),
            Err(errors) => {
                for e in errors {
                    self.problems.error(e.path, e.message);
                }
                None
            }
        };
        let arn = self
            .t
            .nodes
            .get(&t.to)
            .map(|n| arn(n.kind(), &t.to, n.account(), n.region()))
            .unwrap_or_default();
        Some(CompiledTarget {
            to: to?,
            arn,
            input: Arc::new(input?),
            retry,
            dlq,
            group_id: t.message_group_id.clone(),
            fused_filter: None,
        })
    }

    fn is_fifo_queue(&self, name: &str) -> bool {
        matches!(self.t.nodes.get(name), Some(Node::Queue(q)) if q.fifo)
    }

    /// A FIFO queue or FIFO topic.
    fn is_fifo(&self, name: &str) -> bool {
        match self.t.nodes.get(name) {
            Some(Node::Queue(q)) => q.fifo,
            Some(Node::Topic(t)) => t.fifo,
            _ => false,
        }
    }

    fn topic(&mut self, path: &str, info: NodeInfo, t: &Topic) -> Option<CompiledTopic> {
        let mut subscriptions = Vec::new();
        let mut ok = true;
        if t.fifo && !info.name.ends_with(".fifo") {
            self.problems
                .warn(path, "AWS requires FIFO topic names to end in `.fifo`");
        }
        for (name, s) in &t.subscriptions {
            let spath = format!("{path}.subscriptions.{name}");
            self.name_rules(&spath, name, "subscription name");
            let to = self.reference(
                &format!("{spath}.to"),
                &s.to,
                &[Kind::Queue, Kind::Consumer],
            );
            let to_fifo = self.is_fifo_queue(&s.to);
            if t.fifo && self.kind_of(&s.to) == Some(Kind::Queue) && !to_fifo {
                self.problems.error(
                    format!("{spath}.to"),
                    format!(
                        "a FIFO topic delivers only to FIFO queues; `{}` is a standard queue",
                        s.to
                    ),
                );
            }
            if !t.fifo && to_fifo {
                self.problems.error(
                    format!("{spath}.to"),
                    format!(
                        "a standard topic cannot deliver to the FIFO queue `{}`",
                        s.to
                    ),
                );
            }
            let policy = match &s.filter_policy {
                Some(p) => {
                    let scope = match s.filter_policy_scope {
                        FilterScope::MessageAttributes => Scope::MessageAttributes,
                        FilterScope::MessageBody => Scope::MessageBody,
                    };
                    match FilterPolicy::parse(&p.to_string(), scope) {
                        Ok(policy) => Some(Arc::new(policy)),
                        Err(e) => {
                            let at = if e.path.is_empty() {
                                format!("{spath}.filter_policy")
                            } else {
                                format!("{spath}.filter_policy.{}", e.path)
                            };
                            self.problems.error(at, e.reason);
                            ok = false;
                            None
                        }
                    }
                }
                None => None,
            };
            let dlq = match &s.dlq {
                Some(q) => {
                    let id = self.reference(&format!("{spath}.dlq"), q, &[Kind::Queue]);
                    if self.is_fifo_queue(q) != t.fifo {
                        self.problems.error(
                            format!("{spath}.dlq"),
                            "a subscription's dead-letter queue must be FIFO exactly when the topic is",
                        );
                    }
                    id
                }
                None => None,
            };
            if s.max_retries > 100_015 {
                self.problems
                    .error(format!("{spath}.max_retries"), "at most 100,015 retries");
            }
            match to {
                Some(to) => subscriptions.push(CompiledSubscription {
                    name: name.clone(),
                    to,
                    policy,
                    raw: s.raw,
                    dlq,
                    max_retries: s.max_retries,
                }),
                None => ok = false,
            }
        }
        let policies: Vec<Option<&FilterPolicy>> =
            subscriptions.iter().map(|s| s.policy.as_deref()).collect();
        let policy_set = PolicySet::new(&policies).map(Arc::new);
        ok.then_some(CompiledTopic {
            info,
            fifo: t.fifo,
            content_dedup: t.content_based_deduplication,
            subscriptions,
            policy_set,
        })
    }

    fn queue(&mut self, path: &str, info: NodeInfo, q: &Queue) -> Option<CompiledQueue> {
        if q.fifo && !info.name.ends_with(".fifo") {
            self.problems
                .warn(path, "AWS requires FIFO queue names to end in `.fifo`");
        }
        if q.visibility_timeout > Dur::secs(12 * 3600) {
            self.problems
                .error(format!("{path}.visibility_timeout"), "must be 0s to 12h");
        }
        if q.capacity == Some(0) {
            self.problems
                .error(format!("{path}.capacity"), "a capacity must be at least 1");
        }
        let dlq = match &q.dlq {
            Some(d) => {
                let id = self.reference(&format!("{path}.dlq"), d, &[Kind::Queue]);
                if d == &info.name {
                    self.problems.error(
                        format!("{path}.dlq"),
                        "a queue cannot be its own dead-letter queue",
                    );
                }
                if self.is_fifo_queue(d) != q.fifo {
                    self.problems.error(
                        format!("{path}.dlq"),
                        "the dead-letter queue of a FIFO queue must be FIFO, of a standard queue standard",
                    );
                }
                match q.max_receives {
                    None => self.problems.error(
                        format!("{path}.max_receives"),
                        "a redrive policy needs max_receives (maxReceiveCount, 1–1,000)",
                    ),
                    Some(n) if !(1..=1000).contains(&n) => self
                        .problems
                        .error(format!("{path}.max_receives"), "must be 1 to 1,000"),
                    Some(_) => {}
                }
                Some(id?)
            }
            None => {
                if q.max_receives.is_some() {
                    self.problems.warn(
                        format!("{path}.max_receives"),
                        "max_receives has no effect without a dlq",
                    );
                }
                None
            }
        };
        let mut consumers = Vec::new();
        for (i, c) in q.consumers.iter().enumerate() {
            consumers.push(self.reference(
                &format!("{path}.consumers[{i}]"),
                c,
                &[Kind::Consumer],
            )?);
        }
        Some(CompiledQueue {
            info,
            config: q.clone(),
            dlq,
            consumers,
        })
    }

    fn consumer(&mut self, path: &str, info: NodeInfo, c: &Consumer) -> Option<CompiledConsumer> {
        if c.concurrency == 0 {
            self.problems.error(
                format!("{path}.concurrency"),
                "concurrency must be at least 1",
            );
        }
        if c.timeout == Some(Dur::ZERO) {
            self.problems
                .error(format!("{path}.timeout"), "a timeout must be above 0s");
        }
        if !(0.0..=1.0).contains(&c.error_rate) {
            self.problems.error(
                format!("{path}.error_rate"),
                "an error rate is between 0 and 1",
            );
        }
        match &c.latency {
            Latency::Uniform([a, b]) if a > b => self.problems.error(
                format!("{path}.latency.uniform"),
                "the lower bound is above the upper",
            ),
            Latency::Lognormal { median, p99 } if p99 < median || median.0 == 0 => {
                self.problems.error(
                    format!("{path}.latency.lognormal"),
                    "needs 0 < median <= p99",
                )
            }
            _ => {}
        }
        let queues = self
            .t
            .nodes
            .iter()
            .filter(|(_, n)| matches!(n, Node::Queue(q) if q.consumers.contains(&info.name)))
            .filter_map(|(id, _)| self.id_of(id))
            .collect();
        Some(CompiledConsumer {
            info,
            config: c.clone(),
            queues,
        })
    }

    fn archive(
        &mut self,
        path: &str,
        info: NodeInfo,
        a: &super::Archive,
    ) -> Option<CompiledArchive> {
        let bus = self.reference(&format!("{path}.bus"), &a.bus, &[Kind::Bus]);
        let pattern = match &a.pattern {
            Some(p) => {
                let mut m = Matcher::new();
                if !self.pattern(&format!("{path}.pattern"), &mut m, "archive", p) {
                    return None;
                }
                Some(Arc::new(m))
            }
            None => None,
        };
        if a.max_events == 0 {
            self.problems
                .error(format!("{path}.max_events"), "must be at least 1");
        }
        Some(CompiledArchive {
            info,
            bus: bus?,
            pattern,
            retention: a.retention,
            max_events: a.max_events,
        })
    }

    /// Buses forwarding to buses must not form a cycle (events would loop).
    fn bus_cycles(&mut self) {
        let edges: BTreeMap<&str, Vec<&str>> = self
            .t
            .nodes
            .iter()
            .filter_map(|(id, n)| match n {
                Node::Bus(b) => Some((
                    id.as_str(),
                    b.rules
                        .values()
                        .flat_map(|r| &r.targets)
                        .map(|t| t.to.as_str())
                        .filter(|to| self.kind_of(to) == Some(Kind::Bus))
                        .collect(),
                )),
                _ => None,
            })
            .collect();
        let mut reported = BTreeSet::new();
        for &start in edges.keys() {
            let mut stack = vec![(start, vec![start])];
            while let Some((at, trail)) = stack.pop() {
                for &next in edges.get(at).into_iter().flatten() {
                    if next == start {
                        let mut cycle = trail.clone();
                        cycle.sort_unstable();
                        if reported.insert(cycle) {
                            let shown = trail.iter().chain([&start]).copied().collect::<Vec<_>>();
                            self.problems.error(
                                format!("nodes.{start}.rules"),
                                format!(
                                    "buses forward to each other in a cycle: {}",
                                    shown.join(" → ")
                                ),
                            );
                        }
                    } else if !trail.contains(&next) {
                        let mut t = trail.clone();
                        t.push(next);
                        stack.push((next, t));
                    }
                }
            }
        }
    }

    fn reachability(&mut self) {
        for (id, node) in &self.t.nodes {
            let fed = self.fed.contains(id);
            match node {
                Node::Consumer(_) if !fed => self.problems.warn(
                    format!("nodes.{id}"),
                    "nothing delivers to this consumer (no rule, subscription or queue)",
                ),
                Node::Queue(q) if q.consumers.is_empty() && !self.is_dlq(id) => self.problems.warn(
                    format!("nodes.{id}.consumers"),
                    "no consumer reads this queue: messages accumulate",
                ),
                Node::Bus(_) | Node::Topic(_) | Node::Queue(_) if !fed => self
                    .problems
                    .warn(format!("nodes.{id}"), "nothing sends to this node"),
                _ => {}
            }
        }
    }

    fn is_dlq(&self, id: &str) -> bool {
        self.t.nodes.values().any(|n| match n {
            Node::Queue(q) => q.dlq.as_deref() == Some(id),
            Node::Bus(b) => b
                .rules
                .values()
                .flat_map(|r| &r.targets)
                .any(|t| t.dlq.as_deref() == Some(id)),
            Node::Topic(t) => t
                .subscriptions
                .values()
                .any(|s| s.dlq.as_deref() == Some(id)),
            _ => false,
        })
    }

    fn scenarios(&mut self) -> BTreeMap<String, CompiledScenario> {
        let mut out = BTreeMap::new();
        for (name, s) in &self.t.scenarios {
            let path = format!("scenarios.{name}");
            if s.duration.0 == 0 {
                self.problems.error(
                    format!("{path}.duration"),
                    "a scenario needs a duration above 0",
                );
            }
            let mut actions = Vec::new();
            for (i, line) in s.actions.iter().enumerate() {
                let apath = format!("{path}.actions[{i}]");
                match scenario::parse_action(line) {
                    Ok(a) => {
                        self.action_refs(&apath, &a);
                        if a.at > s.duration {
                            self.problems.warn(
                                &apath,
                                format!("happens after the scenario ends ({})", s.duration),
                            );
                        }
                        actions.push(a);
                    }
                    Err(e) => self.problems.error(apath, e),
                }
            }
            actions.sort_by_key(|a| a.at);
            let mut assertions = Vec::new();
            for (i, line) in s.assertions.iter().enumerate() {
                let apath = format!("{path}.assertions[{i}]");
                match scenario::parse_assertion(line) {
                    Ok(a) => {
                        self.assertion_refs(&apath, &a, &actions);
                        assertions.push((line.clone(), a));
                    }
                    Err(e) => self.problems.error(apath, e),
                }
            }
            out.insert(
                name.clone(),
                CompiledScenario {
                    duration: s.duration,
                    actions,
                    assertions,
                },
            );
        }
        out
    }

    fn action_refs(&mut self, path: &str, a: &Action) {
        let kind = a.kind.node_kind();
        self.check_reference(path, a.kind.node(), &[kind]);
        if let ActionKind::RuleDisable(bus, rule) | ActionKind::RuleEnable(bus, rule) = &a.kind
            && let Some(Node::Bus(b)) = self.t.nodes.get(bus)
            && !b.rules.contains_key(rule)
        {
            self.problems
                .error(path, format!("bus `{bus}` has no rule `{rule}`"));
        }
    }

    fn assertion_refs(&mut self, path: &str, a: &Assertion, actions: &[Action]) {
        match a {
            Assertion::Reaches { consumer, .. } => {
                self.check_reference(path, consumer, &[Kind::Consumer]);
            }
            Assertion::Compare { node, .. } => {
                if !self.t.nodes.contains_key(node) {
                    self.problems.error(path, format!("no node named `{node}`"));
                }
            }
            Assertion::Throughput {
                node,
                during_node,
                during_effect,
                ..
            } => {
                if !self.t.nodes.contains_key(node) {
                    self.problems.error(path, format!("no node named `{node}`"));
                }
                let found = actions.iter().any(|x| {
                    x.kind.node() == during_node
                        && x.kind.effect() == during_effect
                        && x.lasts.is_some()
                });
                if !found {
                    self.problems.error(
                        path,
                        format!(
                            "no timed action `{during_node} {during_effect} ... for DUR` in this scenario"
                        ),
                    );
                }
            }
        }
    }
}

fn or_empty(v: &Value) -> Value {
    if v.is_null() {
        Value::String(String::new())
    } else {
        v.clone()
    }
}
