//! What dragging an arrow from one box to another means, and when the model refuses it.
//!
//! [`plan`] answers, without changing anything, either the edit a connection makes
//! ([`Connection`]) or a short reason why the model does not allow it. Kind rules come
//! first (a consumer sends nothing on, nothing delivers to a producer, ...); the edit is
//! then compiled, and a connection that would add a new error (a FIFO topic delivering
//! to a standard queue, a bus cycle, a sixth target) is refused with that error's words.

use std::collections::BTreeSet;

use crate::model::{
    Node, Rule, Subscription, Target, Topology, compile,
    compile::{Problem, Severity},
};

use super::scene::{ItemKey, ItemKind};

/// The edit a connection makes.
#[derive(Clone, Debug, PartialEq)]
pub enum Connection {
    /// A producer now sends to this bus, topic or queue (replacing its old target).
    SendTo,
    /// A new rule on the bus, matching every event, targeting the item.
    NewRule(String),
    /// The rule gets one more target.
    AddTarget,
    /// A new subscription on the topic delivering to the item.
    NewSubscription(String),
    /// The subscription now delivers to the item.
    SetEndpoint,
    /// The consumer now pulls from the queue.
    AddConsumer,
    /// The queue's dead-letter queue becomes the target queue.
    SetDeadLetter,
    /// The archive now keeps this bus's events.
    ArchiveBus,
}

impl Connection {
    /// A few words for a status line or tooltip (`"new rule to-billing"`).
    pub fn describe(&self) -> String {
        match self {
            Connection::SendTo => "sends to it".into(),
            Connection::NewRule(name) => format!("new rule `{name}`"),
            Connection::AddTarget => "adds a rule target".into(),
            Connection::NewSubscription(name) => format!("new subscription `{name}`"),
            Connection::SetEndpoint => "delivers to it".into(),
            Connection::AddConsumer => "consumer pulls from the queue".into(),
            Connection::SetDeadLetter => "dead-letter queue".into(),
            Connection::ArchiveBus => "archives the bus".into(),
        }
    }
}

/// The kind of the item `key` in `topology`.
pub fn item_kind(topology: &Topology, key: &ItemKey) -> Option<ItemKind> {
    match key.split() {
        Some((owner, name)) => match topology.nodes.get(owner)? {
            Node::Bus(b) if b.rules.contains_key(name) => Some(ItemKind::Rule),
            Node::Topic(t) if t.subscriptions.contains_key(name) => Some(ItemKind::Subscription),
            _ => None,
        },
        None => Some(ItemKind::of_node(topology.nodes.get(key.as_str())?.kind())),
    }
}

/// What connecting `from` → `to` would do, or why it is refused.
pub fn plan(topology: &Topology, from: &ItemKey, to: &ItemKey) -> Result<Connection, String> {
    let connection = kind_rule(topology, from, to)?;
    let mut edited = topology.clone();
    apply(&mut edited, from, to, &connection)?;
    if let Some(problem) = new_error(topology, &edited) {
        return Err(problem.message);
    }
    Ok(connection)
}

/// [`plan`] without compiling: only the kinds and counts are judged (fast enough to
/// ask for every box of a large design).
pub fn plan_by_kind(
    topology: &Topology,
    from: &ItemKey,
    to: &ItemKey,
) -> Result<Connection, String> {
    kind_rule(topology, from, to)
}

/// Connects `from` → `to` in `topology` (after [`plan`] allowed it).
pub fn connect(topology: &mut Topology, from: &ItemKey, to: &ItemKey) -> Result<(), String> {
    let connection = plan(topology, from, to)?;
    apply(topology, from, to, &connection)
}

fn kind_rule(topology: &Topology, from: &ItemKey, to: &ItemKey) -> Result<Connection, String> {
    use ItemKind as K;
    let from_kind = item_kind(topology, from).ok_or("the start of the arrow no longer exists")?;
    let to_kind = item_kind(topology, to).ok_or("the end of the arrow no longer exists")?;
    if from == to {
        return Err("an item cannot connect to itself".into());
    }
    let to_name = to.as_str();
    match (from_kind, to_kind) {
        (_, K::Producer) => Err("producers only send; nothing delivers to them".into()),
        (_, K::Rule) => {
            Err("a rule belongs to its bus; drag from the bus to a target to add a rule".into())
        }
        (_, K::Subscription) => {
            Err("a subscription belongs to its topic; drag from the topic to an endpoint".into())
        }
        (K::Consumer, _) => Err("a consumer is an end point; it sends nothing on".into()),
        (K::Archive, _) => {
            Err("an archive only keeps a bus's events; drag from the bus to it".into())
        }
        (K::Producer, K::Bus | K::Topic | K::Queue) => Ok(Connection::SendTo),
        (K::Producer, _) => Err("a producer sends to a bus, a topic or a queue".into()),
        (K::Bus, K::Archive) => Ok(Connection::ArchiveBus),
        (K::Bus, K::Consumer | K::Queue | K::Topic | K::Bus) => Ok(Connection::NewRule(
            fresh_rule_name(topology, from.as_str(), to_name),
        )),
        (K::Rule, K::Consumer | K::Queue | K::Topic | K::Bus) => {
            let (bus, rule) = from.split().ok_or("not a rule")?;
            if to_name == bus {
                return Err("a rule cannot send events back to its own bus".into());
            }
            let rule = rule_of(topology, bus, rule).ok_or("the rule no longer exists")?;
            if rule.targets.iter().any(|t| t.to == to_name) {
                return Err(format!("`{to_name}` is already a target of this rule"));
            }
            if rule.targets.len() >= 5 {
                return Err("a rule has at most 5 targets".into());
            }
            Ok(Connection::AddTarget)
        }
        (K::Rule, K::Archive) => Err("archives attach to a bus, not to a rule".into()),
        (K::Topic, K::Queue | K::Consumer) => Ok(Connection::NewSubscription(
            fresh_subscription_name(topology, from.as_str(), to_name),
        )),
        (K::Topic, _) => Err("a topic delivers to queues and consumers".into()),
        (K::Subscription, K::Queue | K::Consumer) => Ok(Connection::SetEndpoint),
        (K::Subscription, _) => Err("a subscription delivers to a queue or a consumer".into()),
        (K::Queue, K::Consumer) => {
            if let Some(Node::Queue(q)) = topology.nodes.get(from.as_str())
                && q.consumers.iter().any(|c| c == to_name)
            {
                return Err(format!("`{to_name}` already pulls from this queue"));
            }
            Ok(Connection::AddConsumer)
        }
        (K::Queue, K::Queue) => Ok(Connection::SetDeadLetter),
        (K::Queue, _) => Err("a queue feeds consumers (or a dead-letter queue)".into()),
    }
}

fn rule_of<'t>(topology: &'t Topology, bus: &str, rule: &str) -> Option<&'t Rule> {
    match topology.nodes.get(bus)? {
        Node::Bus(b) => b.rules.get(rule),
        _ => None,
    }
}

/// A new rule as a file would give it when only its pattern and one target are written
/// (enabled, default retry policy).
pub fn new_rule(pattern: serde_json::Value, targets: &[&str]) -> Rule {
    let targets: Vec<serde_json::Value> = targets
        .iter()
        .map(|t| serde_json::json!({"to": t}))
        .collect();
    serde_json::from_value(serde_json::json!({"pattern": pattern, "targets": targets}))
        .unwrap_or_else(|_| Rule {
            pattern: match_all_pattern(),
            enabled: true,
            ..Rule::default()
        })
}

/// A new subscription as a file would give it with only `to` written (SNS's default
/// delivery retries, attribute scope, no filter).
pub fn new_subscription(to: &str) -> Subscription {
    serde_json::from_value(serde_json::json!({"to": to})).unwrap_or_else(|_| Subscription {
        to: to.to_string(),
        ..Subscription::default()
    })
}

/// Names have at most 64 characters; generated ones are cut to leave room for `-N`.
fn name_base(base: &str) -> String {
    base.chars().take(60).collect()
}

/// `to-NAME`, or `to-NAME-2`, ... — a rule name not yet used on the bus.
fn fresh_rule_name(topology: &Topology, bus: &str, target: &str) -> String {
    let taken: BTreeSet<&str> = match topology.nodes.get(bus) {
        Some(Node::Bus(b)) => b.rules.keys().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    };
    fresh_name(&name_base(&format!("to-{target}")), &taken)
}

fn fresh_subscription_name(topology: &Topology, topic: &str, target: &str) -> String {
    let taken: BTreeSet<&str> = match topology.nodes.get(topic) {
        Some(Node::Topic(t)) => t.subscriptions.keys().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    };
    fresh_name(&name_base(target), &taken)
}

/// `base`, or `base-2`, `base-3`, ... — the first not in `taken`.
pub fn fresh_name(base: &str, taken: &BTreeSet<&str>) -> String {
    if !taken.contains(base) {
        return base.to_string();
    }
    (2..)
        .map(|n| format!("{base}-{n}"))
        .find(|name| !taken.contains(name.as_str()))
        .unwrap_or_else(|| base.to_string())
}

/// The pattern a new rule starts with: it matches every event (`source` always exists).
pub fn match_all_pattern() -> serde_json::Value {
    serde_json::json!({"source": [{"prefix": ""}]})
}

fn apply(
    topology: &mut Topology,
    from: &ItemKey,
    to: &ItemKey,
    connection: &Connection,
) -> Result<(), String> {
    let to_name = to.as_str().to_string();
    let gone = || "the start of the arrow no longer exists".to_string();
    match connection {
        Connection::SendTo => match topology.nodes.get_mut(from.as_str()) {
            Some(Node::Producer(p)) => p.to = to_name,
            _ => return Err(gone()),
        },
        Connection::ArchiveBus => match topology.nodes.get_mut(to.as_str()) {
            Some(Node::Archive(a)) => a.bus = from.as_str().to_string(),
            _ => return Err(gone()),
        },
        Connection::NewRule(name) => match topology.nodes.get_mut(from.as_str()) {
            Some(Node::Bus(b)) => {
                b.rules
                    .insert(name.clone(), new_rule(match_all_pattern(), &[&to_name]));
            }
            _ => return Err(gone()),
        },
        Connection::AddTarget => {
            let (bus, rule) = from.split().ok_or_else(gone)?;
            match topology.nodes.get_mut(bus) {
                Some(Node::Bus(b)) => {
                    b.rules
                        .get_mut(rule)
                        .ok_or_else(gone)?
                        .targets
                        .push(Target {
                            to: to_name,
                            ..Target::default()
                        })
                }
                _ => return Err(gone()),
            }
        }
        Connection::NewSubscription(name) => match topology.nodes.get_mut(from.as_str()) {
            Some(Node::Topic(t)) => {
                t.subscriptions
                    .insert(name.clone(), new_subscription(&to_name));
            }
            _ => return Err(gone()),
        },
        Connection::SetEndpoint => {
            let (topic, sub) = from.split().ok_or_else(gone)?;
            match topology.nodes.get_mut(topic) {
                Some(Node::Topic(t)) => t.subscriptions.get_mut(sub).ok_or_else(gone)?.to = to_name,
                _ => return Err(gone()),
            }
        }
        Connection::AddConsumer => match topology.nodes.get_mut(from.as_str()) {
            Some(Node::Queue(q)) => q.consumers.push(to_name),
            _ => return Err(gone()),
        },
        Connection::SetDeadLetter => match topology.nodes.get_mut(from.as_str()) {
            Some(Node::Queue(q)) => q.dlq = Some(to_name),
            _ => return Err(gone()),
        },
    }
    Ok(())
}

/// The first error `after` has that `before` did not (compared by path and message).
fn new_error(before: &Topology, after: &Topology) -> Option<Problem> {
    let errors = |t: &Topology| -> Vec<Problem> {
        match compile(t, None) {
            Ok(_) => Vec::new(),
            Err(problems) => problems
                .into_iter()
                .filter(|p| p.severity == Severity::Error && !is_file_problem(p))
                .collect(),
        }
    };
    let old: BTreeSet<(String, String)> = errors(before)
        .into_iter()
        .map(|p| (p.path, p.message))
        .collect();
    errors(after)
        .into_iter()
        .find(|p| !old.contains(&(p.path.clone(), p.message.clone())))
}

/// Problems about files on disk (replay files) depend on where the design is saved,
/// not on the connection being made.
fn is_file_problem(p: &Problem) -> bool {
    p.path.ends_with(".replay")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ecommerce() -> Topology {
        Topology::from_json(include_str!("../../examples/ecommerce.json")).expect("example loads")
    }

    fn key(s: &str) -> ItemKey {
        ItemKey(s.to_string())
    }

    #[test]
    fn kinds_that_send_nothing_are_refused_with_a_reason() {
        let t = ecommerce();
        let err = plan(&t, &key("billing"), &key("orders")).unwrap_err();
        assert!(err.contains("end point"), "{err}");
        let err = plan(&t, &key("orders"), &key("web")).unwrap_err();
        assert!(err.contains("producers only send"), "{err}");
    }

    #[test]
    fn a_bus_to_a_consumer_makes_a_match_all_rule() {
        let mut t = ecommerce();
        let plan = plan(&t, &key("orders"), &key("billing")).expect("allowed");
        let Connection::NewRule(name) = plan.clone() else {
            panic!("{plan:?}")
        };
        connect(&mut t, &key("orders"), &key("billing")).expect("connects");
        let Some(Node::Bus(b)) = t.nodes.get("orders") else {
            panic!("orders is a bus")
        };
        assert_eq!(b.rules[&name].targets[0].to, "billing");
        assert!(compile(&t, None).is_ok());
    }

    #[test]
    fn a_sixth_target_is_refused() {
        let mut t = ecommerce();
        connect(&mut t, &key("orders"), &key("billing")).expect("connects");
        let rule = match t.nodes.get("orders") {
            Some(Node::Bus(b)) => b
                .rules
                .keys()
                .find(|k| k.starts_with("to-billing"))
                .cloned(),
            _ => None,
        }
        .expect("new rule");
        let rule_key = ItemKey::nested("orders", &rule);
        let consumers: Vec<String> = t
            .nodes
            .iter()
            .filter(|(id, n)| matches!(n, Node::Consumer(_)) && id.as_str() != "billing")
            .map(|(id, _)| id.clone())
            .collect();
        assert!(consumers.len() >= 4);
        for c in consumers.iter().take(4) {
            connect(&mut t, &rule_key, &key(c)).expect("fits in 5");
        }
        let extra = consumers
            .get(4)
            .cloned()
            .unwrap_or_else(|| "billing".to_string());
        let err = plan(&t, &rule_key, &key(&extra)).unwrap_err();
        assert!(
            err.contains("at most 5") || err.contains("already"),
            "{err}"
        );
    }

    #[test]
    fn compile_errors_refuse_a_connection() {
        // A bus forwarding to a bus that forwards back is a cycle.
        let mut t = Topology::from_json(
            r#"{"eventyard": 1, "nodes": {
                "a": {"kind": "bus"}, "b": {"kind": "bus", "rules": {"back": {"pattern": {"source": ["x"]}, "targets": [{"to": "a"}]}}}
            }}"#,
        )
        .expect("loads");
        let err = plan(&t, &key("a"), &key("b")).unwrap_err();
        assert!(err.contains("cycle"), "{err}");
        assert!(connect(&mut t, &key("a"), &key("b")).is_err());
        let Some(Node::Bus(a)) = t.nodes.get("a") else {
            panic!()
        };
        assert!(a.rules.is_empty(), "a refused connection changes nothing");
    }

    #[test]
    fn new_rules_and_subscriptions_get_the_file_defaults() {
        let rule = new_rule(match_all_pattern(), &["x"]);
        assert!(rule.enabled);
        assert_eq!(rule.targets[0].to, "x");
        let target: Target =
            serde_json::from_value(serde_json::json!({"to": "x"})).expect("target");
        assert_eq!(rule.targets[0], target);
        let sub = new_subscription("q");
        let from_file: Subscription =
            serde_json::from_value(serde_json::json!({"to": "q"})).expect("sub");
        assert_eq!(sub, from_file);
        assert!(sub.max_retries > 0);
        let long = "x".repeat(64);
        let mut t = Topology::from_json(&format!(
            r#"{{"eventyard": 1, "nodes": {{"b": {{"kind": "bus"}}, "{long}": {{"kind": "consumer"}}}}}}"#
        ))
        .expect("loads");
        connect(&mut t, &key("b"), &key(&long)).expect("a long target still gets a rule");
    }

    #[test]
    fn fresh_names_skip_taken_ones() {
        let taken: BTreeSet<&str> = ["to-x", "to-x-2"].into_iter().collect();
        assert_eq!(fresh_name("to-x", &taken), "to-x-3");
        assert_eq!(fresh_name("to-y", &taken), "to-y");
    }
}
