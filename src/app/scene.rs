//! The canvas's projection of a topology: every box (nodes, and the rules and
//! subscriptions nested inside buses and topics) and every arrow between them.
//!
//! A [`Scene`] is derived from a [`Topology`] and never edited: the document is the
//! source of truth, the scene is rebuilt whenever it changes. It knows nothing of egui,
//! so layout and connection rules are tested without a window.

use std::collections::HashMap;

use crate::model::{Kind, Node, Topology};

/// What a box on the canvas stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum ItemKind {
    /// A producer node.
    Producer,
    /// An event bus node.
    Bus,
    /// A rule of a bus (key `bus/rule`).
    Rule,
    /// A topic node.
    Topic,
    /// A subscription of a topic (key `topic/subscription`).
    Subscription,
    /// A queue node.
    Queue,
    /// A consumer node.
    Consumer,
    /// An archive node.
    Archive,
}

impl ItemKind {
    /// Every kind, in palette order.
    pub const ALL: [ItemKind; 8] = [
        ItemKind::Producer,
        ItemKind::Bus,
        ItemKind::Rule,
        ItemKind::Topic,
        ItemKind::Subscription,
        ItemKind::Queue,
        ItemKind::Consumer,
        ItemKind::Archive,
    ];

    /// The word shown to people (`"event bus"`, `"subscription"`).
    pub fn label(self) -> &'static str {
        match self {
            ItemKind::Producer => "producer",
            ItemKind::Bus => "event bus",
            ItemKind::Rule => "rule",
            ItemKind::Topic => "topic",
            ItemKind::Subscription => "subscription",
            ItemKind::Queue => "queue",
            ItemKind::Consumer => "consumer",
            ItemKind::Archive => "archive",
        }
    }

    /// The name new items of this kind start from (`bus`, `queue`, then `bus-2` ...).
    pub fn id_base(self) -> &'static str {
        match self {
            ItemKind::Bus => "bus",
            other => other.label(),
        }
    }

    /// The item kind of a top-level node kind.
    pub fn of_node(kind: Kind) -> ItemKind {
        match kind {
            Kind::Producer => ItemKind::Producer,
            Kind::Bus => ItemKind::Bus,
            Kind::Topic => ItemKind::Topic,
            Kind::Queue => ItemKind::Queue,
            Kind::Consumer => ItemKind::Consumer,
            Kind::Archive => ItemKind::Archive,
        }
    }

    /// Whether items of this kind live inside another node (rules, subscriptions).
    pub fn is_nested(self) -> bool {
        matches!(self, ItemKind::Rule | ItemKind::Subscription)
    }
}

/// Where a box is addressed: a node id, or `owner/name` for a rule or subscription.
///
/// Node ids may not contain `/` (see the model's id rules), so the two never collide;
/// the key is also the box's key in the file's `layout`.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ItemKey(pub String);

impl ItemKey {
    /// The key of a top-level node.
    pub fn node(id: &str) -> ItemKey {
        ItemKey(id.to_string())
    }

    /// The key of a rule or subscription inside `owner`.
    pub fn nested(owner: &str, name: &str) -> ItemKey {
        ItemKey(format!("{owner}/{name}"))
    }

    /// `(owner, name)` for a nested item, `None` for a node.
    pub fn split(&self) -> Option<(&str, &str)> {
        self.0.split_once('/')
    }

    /// The node this item is or belongs to.
    pub fn node_id(&self) -> &str {
        self.split().map_or(self.0.as_str(), |(owner, _)| owner)
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::fmt::Display for ItemKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// One box on the canvas.
#[derive(Clone, Debug, PartialEq)]
pub struct Item {
    /// Its address (and layout key).
    pub key: ItemKey,
    /// What it is.
    pub kind: ItemKind,
    /// The name shown on it (a node's id, a rule's or subscription's name).
    pub name: String,
    /// A second line: what it does in a few words (rate, FIFO, latency ...).
    pub detail: String,
    /// The account/region group it is drawn in.
    pub group: Group,
}

/// An account and region: the labelled box drawn around the nodes they hold.
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Group {
    /// 12-digit account id.
    pub account: String,
    /// Region name.
    pub region: String,
}

/// What an arrow means.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EdgeKind {
    /// A producer sends to a bus, topic or queue.
    Sends,
    /// A bus owns a rule, a topic owns a subscription.
    Owns,
    /// A rule's target (its index among the rule's targets).
    Target(usize),
    /// A subscription's endpoint.
    Endpoint,
    /// A consumer pulls from a queue.
    Pulls,
    /// Failed deliveries go to a dead-letter queue.
    DeadLetter,
    /// A bus's events are archived.
    Archives,
}

impl EdgeKind {
    /// Whether the arrow is a failure path (drawn dashed, laid out last).
    pub fn is_dead_letter(self) -> bool {
        self == EdgeKind::DeadLetter
    }
}

/// One arrow, between two items by index into [`Scene::items`].
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    /// Where the arrow starts.
    pub from: usize,
    /// Where it points.
    pub to: usize,
    /// What it means.
    pub kind: EdgeKind,
}

/// Every box and arrow of a topology, in a stable order (node ids sorted, nested items
/// after their owner).
#[derive(Clone, Debug, Default)]
pub struct Scene {
    /// The boxes.
    pub items: Vec<Item>,
    /// The arrows; arrows to ids that do not exist are left out (the problems list names them).
    pub edges: Vec<Edge>,
    index: HashMap<ItemKey, usize>,
}

impl Scene {
    /// Projects a topology.
    pub fn new(topology: &Topology) -> Scene {
        let mut scene = Scene::default();
        for (id, node) in &topology.nodes {
            let group = Group {
                account: node.account().to_string(),
                region: node.region().to_string(),
            };
            scene.push(Item {
                key: ItemKey::node(id),
                kind: ItemKind::of_node(node.kind()),
                name: id.clone(),
                detail: node_detail(node),
                group: group.clone(),
            });
            match node {
                Node::Bus(bus) => {
                    for (name, rule) in &bus.rules {
                        let detail = if rule.enabled {
                            format!("{} target(s)", rule.targets.len())
                        } else {
                            "disabled".to_string()
                        };
                        scene.push(Item {
                            key: ItemKey::nested(id, name),
                            kind: ItemKind::Rule,
                            name: name.clone(),
                            detail,
                            group: group.clone(),
                        });
                    }
                }
                Node::Topic(topic) => {
                    for (name, sub) in &topic.subscriptions {
                        let mut detail = Vec::new();
                        if sub.filter_policy.is_some() {
                            detail.push("filtered");
                        }
                        if sub.raw {
                            detail.push("raw");
                        }
                        scene.push(Item {
                            key: ItemKey::nested(id, name),
                            kind: ItemKind::Subscription,
                            name: name.clone(),
                            detail: detail.join(", "),
                            group: group.clone(),
                        });
                    }
                }
                _ => {}
            }
        }
        for (id, node) in &topology.nodes {
            scene.node_edges(id, node);
        }
        scene
    }

    fn push(&mut self, item: Item) {
        self.index.insert(item.key.clone(), self.items.len());
        self.items.push(item);
    }

    fn link(&mut self, from: &ItemKey, to: &str, kind: EdgeKind) {
        let (Some(&from), Some(&to)) = (self.index.get(from), self.index.get(&ItemKey::node(to)))
        else {
            return;
        };
        self.edges.push(Edge { from, to, kind });
    }

    fn node_edges(&mut self, id: &str, node: &Node) {
        let me = ItemKey::node(id);
        match node {
            Node::Producer(p) => self.link(&me, &p.to, EdgeKind::Sends),
            Node::Bus(bus) => {
                for (name, rule) in &bus.rules {
                    let rule_key = ItemKey::nested(id, name);
                    self.link(&me, &rule_key.0, EdgeKind::Owns);
                    for (i, target) in rule.targets.iter().enumerate() {
                        self.link(&rule_key, &target.to, EdgeKind::Target(i));
                        if let Some(dlq) = &target.dlq {
                            self.link(&rule_key, dlq, EdgeKind::DeadLetter);
                        }
                    }
                }
            }
            Node::Topic(topic) => {
                for (name, sub) in &topic.subscriptions {
                    let sub_key = ItemKey::nested(id, name);
                    self.link(&me, &sub_key.0, EdgeKind::Owns);
                    self.link(&sub_key, &sub.to, EdgeKind::Endpoint);
                    if let Some(dlq) = &sub.dlq {
                        self.link(&sub_key, dlq, EdgeKind::DeadLetter);
                    }
                }
            }
            Node::Queue(queue) => {
                for consumer in &queue.consumers {
                    self.link(&me, consumer, EdgeKind::Pulls);
                }
                if let Some(dlq) = &queue.dlq {
                    self.link(&me, dlq, EdgeKind::DeadLetter);
                }
            }
            Node::Archive(archive) => {
                if let Some(&bus) = self.index.get(&ItemKey::node(&archive.bus)) {
                    let archive_index = self.index[&me];
                    self.edges.push(Edge {
                        from: bus,
                        to: archive_index,
                        kind: EdgeKind::Archives,
                    });
                }
            }
            Node::Consumer(_) => {}
        }
    }

    /// The index of the item with this key.
    pub fn find(&self, key: &ItemKey) -> Option<usize> {
        self.index.get(key).copied()
    }
}

fn node_detail(node: &Node) -> String {
    match node {
        Node::Producer(p) if p.replay.is_some() => "replays a file".to_string(),
        Node::Producer(p) => format!("{} ev/s", trim_float(p.rate)),
        Node::Bus(b) => format!("{} rule(s)", b.rules.len()),
        Node::Topic(t) => {
            let fifo = if t.fifo { "FIFO, " } else { "" };
            format!("{fifo}{} sub(s)", t.subscriptions.len())
        }
        Node::Queue(q) => {
            let fifo = if q.fifo { "FIFO" } else { "standard" };
            match q.capacity {
                Some(c) => format!("{fifo}, cap {c}"),
                None => fifo.to_string(),
            }
        }
        Node::Consumer(c) => {
            if c.error_rate > 0.0 {
                format!(
                    "x{} · {}% errors",
                    c.concurrency,
                    trim_float(c.error_rate * 100.0)
                )
            } else {
                format!("x{} concurrent", c.concurrency)
            }
        }
        Node::Archive(a) => match &a.retention {
            Some(r) => format!("keeps {r}"),
            None => "keeps all".to_string(),
        },
    }
}

/// Longest summary text shown in a hover tooltip.
const SUMMARY_CHARS: usize = 280;

/// What an item does, for its hover tooltip: a rule's pattern and targets, a
/// subscription's filter policy, a node's kind and key settings.
pub fn summary(topology: &Topology, key: &ItemKey) -> String {
    let clip = |text: String| -> String {
        if text.chars().count() <= SUMMARY_CHARS {
            text
        } else {
            let mut t: String = text.chars().take(SUMMARY_CHARS).collect();
            t.push('…');
            t
        }
    };
    match key.split() {
        Some((owner, name)) => match topology.nodes.get(owner) {
            Some(Node::Bus(bus)) => match bus.rules.get(name) {
                Some(rule) => {
                    let targets: Vec<&str> = rule.targets.iter().map(|t| t.to.as_str()).collect();
                    let state = if rule.enabled { "" } else { " (disabled)" };
                    format!(
                        "Rule {name} on {owner}{state}\nPattern: {}\nTargets: {}",
                        clip(rule.pattern.to_string()),
                        if targets.is_empty() {
                            "none".into()
                        } else {
                            targets.join(", ")
                        }
                    )
                }
                None => String::new(),
            },
            Some(Node::Topic(topic)) => match topic.subscriptions.get(name) {
                Some(sub) => {
                    let policy = match &sub.filter_policy {
                        Some(p) => format!(
                            "Filter policy ({:?}): {}",
                            sub.filter_policy_scope,
                            clip(p.to_string())
                        ),
                        None => "No filter policy: every message".into(),
                    };
                    format!("Subscription {name} on {owner} → {}\n{policy}", sub.to)
                }
                None => String::new(),
            },
            _ => String::new(),
        },
        None => match topology.nodes.get(key.as_str()) {
            Some(node) => format!(
                "{} {}\n{}",
                ItemKind::of_node(node.kind()).label(),
                key,
                node_detail(node)
            ),
            None => String::new(),
        },
    }
}

/// `40` rather than `40.0`, `2.5` as is.
pub fn trim_float(x: f64) -> String {
    if x.fract() == 0.0 && x.abs() < 1e15 {
        format!("{}", x as i64)
    } else {
        format!("{x}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecommerce() -> Topology {
        let text = include_str!("../../examples/ecommerce.json");
        Topology::from_json(text).expect("example loads")
    }

    #[test]
    fn every_node_rule_and_subscription_is_a_box() {
        let t = ecommerce();
        let scene = Scene::new(&t);
        let rules: usize = t
            .nodes
            .values()
            .map(|n| match n {
                Node::Bus(b) => b.rules.len(),
                Node::Topic(t) => t.subscriptions.len(),
                _ => 0,
            })
            .sum();
        assert_eq!(scene.items.len(), t.nodes.len() + rules);
        for item in &scene.items {
            assert_eq!(scene.find(&item.key).map(|i| &scene.items[i]), Some(item));
        }
    }

    #[test]
    fn arrows_follow_the_references() {
        let scene = Scene::new(&ecommerce());
        let has = |from: &str, to: &str, kind: EdgeKind| {
            scene.edges.iter().any(|e| {
                scene.items[e.from].key.as_str() == from
                    && scene.items[e.to].key.as_str() == to
                    && e.kind == kind
            })
        };
        assert!(has("web", "orders", EdgeKind::Sends));
        assert!(
            scene
                .edges
                .iter()
                .any(|e| e.kind == EdgeKind::Owns && scene.items[e.from].key.as_str() == "orders")
        );
        assert!(scene.edges.iter().any(|e| e.kind == EdgeKind::DeadLetter));
    }

    #[test]
    fn a_rule_summary_shows_its_pattern_and_targets() {
        let t = ecommerce();
        let text = summary(&t, &ItemKey::nested("orders", "to-billing"));
        assert!(text.contains("Pattern: {"), "{text}");
        assert!(text.contains("Targets: billing"), "{text}");
        let sub = summary(&t, &ItemKey::nested("notifications", "email"));
        assert!(sub.contains("Filter policy"), "{sub}");
    }

    #[test]
    fn keys_split_into_owner_and_name() {
        let k = ItemKey::nested("orders", "to-billing");
        assert_eq!(k.split(), Some(("orders", "to-billing")));
        assert_eq!(k.node_id(), "orders");
        assert_eq!(ItemKey::node("web").split(), None);
    }
}
