//! The document being designed, and the commands that edit it.
//!
//! Every change to a design goes through [`Document::execute`] with a [`Command`]: that
//! is what undo/redo, the modified mark, autosave and (later) the live router's
//! reconfiguration all follow. A command that fails changes nothing and says why.
//! Undo keeps whole snapshots of the topology (designs are small next to memory, and a
//! snapshot cannot get out of step with the commands); consecutive edits of the same
//! field in the inspector merge into one undo step.

use std::collections::BTreeMap;

use crate::model::{Node, Position, Rule, Scenario, Subscription, Topology};

use super::connect;
use super::scene::{EdgeKind, ItemKey};

/// How many steps undo remembers.
pub const UNDO_DEPTH: usize = 500;

/// One edit of a design.
#[derive(Clone, Debug, PartialEq)]
pub enum Command {
    /// Adds a node at a canvas position.
    AddNode {
        /// The new node's id (must be unused).
        id: String,
        /// Its settings.
        node: Node,
        /// Where its box goes.
        at: Position,
    },
    /// Adds a rule to a bus.
    AddRule {
        /// The bus.
        bus: String,
        /// The rule's name (must be unused on the bus).
        name: String,
        /// Its settings.
        rule: Rule,
        /// Where its box goes.
        at: Position,
    },
    /// Adds a subscription to a topic.
    AddSubscription {
        /// The topic.
        topic: String,
        /// The subscription's name (must be unused on the topic).
        name: String,
        /// Its settings.
        subscription: Subscription,
        /// Where its box goes.
        at: Position,
    },
    /// Deletes nodes, rules and subscriptions; references to deleted nodes are removed
    /// (targets, subscriptions, consumers, dead-letter settings) or left empty where a
    /// field is required (a producer's `to`, an archive's `bus`), which the problems list shows.
    Remove(Vec<ItemKey>),
    /// Deletes the arrow `from` → `to` of this kind.
    Disconnect {
        /// Where the arrow starts.
        from: ItemKey,
        /// Where it points.
        to: ItemKey,
        /// What it means.
        kind: EdgeKind,
    },
    /// Connects two items (see [`connect::plan`] for what that means per kind).
    Connect {
        /// Where the arrow starts.
        from: ItemKey,
        /// Where it points.
        to: ItemKey,
    },
    /// Moves boxes.
    Move(Vec<(ItemKey, Position)>),
    /// Replaces every position (automatic layout).
    SetLayout(BTreeMap<ItemKey, Position>),
    /// Replaces a node's settings (the inspector).
    SetNode {
        /// The node.
        id: String,
        /// Its new settings.
        node: Box<Node>,
    },
    /// Replaces a rule's settings.
    SetRule {
        /// The bus.
        bus: String,
        /// The rule.
        name: String,
        /// Its new settings.
        rule: Rule,
    },
    /// Replaces a subscription's settings.
    SetSubscription {
        /// The topic.
        topic: String,
        /// The subscription.
        name: String,
        /// Its new settings.
        subscription: Subscription,
    },
    /// Renames a node, rule or subscription; every reference in nodes, bus policies and
    /// the layout follows. Scenario lines are free text and keep the old name: the
    /// problems list names each line that no longer refers to anything.
    Rename {
        /// What is renamed.
        key: ItemKey,
        /// The new name.
        to: String,
    },
    /// Adds, replaces (`Some`) or deletes (`None`) a scenario.
    SetScenario {
        /// The scenario's name.
        name: String,
        /// Its new content.
        scenario: Option<Scenario>,
    },
    /// Adds copied nodes (already given unused ids) with their positions.
    Paste(Clip),
    /// Sets the design's title and description.
    SetInfo {
        /// Title.
        name: String,
        /// Description.
        description: String,
    },
}

impl Command {
    /// What the command does, for the Edit menu (`"Undo move"`).
    pub fn label(&self) -> String {
        match self {
            Command::AddNode { node, .. } => format!("add {}", node.kind()),
            Command::AddRule { .. } => "add rule".into(),
            Command::AddSubscription { .. } => "add subscription".into(),
            Command::Remove(keys) if keys.len() == 1 => format!("delete {}", keys[0]),
            Command::Remove(keys) => format!("delete {} items", keys.len()),
            Command::Disconnect { .. } => "delete arrow".into(),
            Command::Connect { from, to } => format!("connect {from} → {to}"),
            Command::Move(_) => "move".into(),
            Command::SetLayout(_) => "automatic layout".into(),
            Command::SetNode { id, .. } => format!("edit {id}"),
            Command::SetRule { bus, name, .. } => format!("edit {bus}/{name}"),
            Command::SetSubscription { topic, name, .. } => format!("edit {topic}/{name}"),
            Command::Rename { key, to } => format!("rename {key} to {to}"),
            Command::SetScenario {
                name,
                scenario: None,
            } => format!("delete scenario {name}"),
            Command::SetScenario { name, .. } => format!("edit scenario {name}"),
            Command::Paste(clip) => format!("paste {} node(s)", clip.nodes.len()),
            Command::SetInfo { .. } => "edit design info".into(),
        }
    }

    /// Edits of the same thing in a row merge into one undo step.
    fn merge_key(&self) -> Option<String> {
        match self {
            Command::SetNode { id, .. } => Some(format!("node:{id}")),
            Command::SetRule { bus, name, .. } => Some(format!("rule:{bus}/{name}")),
            Command::SetSubscription { topic, name, .. } => Some(format!("sub:{topic}/{name}")),
            Command::SetInfo { .. } => Some("info".into()),
            Command::SetScenario {
                name,
                scenario: Some(_),
            } => Some(format!("scenario:{name}")),
            _ => None,
        }
    }

    /// Applies the command to a topology; on error the topology may be half-edited, so
    /// callers apply to a copy ([`Document::execute`] does).
    pub fn apply(&self, t: &mut Topology) -> Result<(), String> {
        match self {
            Command::AddNode { id, node, at } => {
                check_name(id)?;
                if t.nodes.contains_key(id) {
                    return Err(format!("a node named `{id}` already exists"));
                }
                t.nodes.insert(id.clone(), node.clone());
                t.layout.insert(id.clone(), *at);
            }
            Command::AddRule {
                bus,
                name,
                rule,
                at,
            } => {
                check_name(name)?;
                let rules = &mut bus_mut(t, bus)?.rules;
                if rules.contains_key(name) {
                    return Err(format!("`{bus}` already has a rule named `{name}`"));
                }
                rules.insert(name.clone(), rule.clone());
                t.layout.insert(ItemKey::nested(bus, name).0, *at);
            }
            Command::AddSubscription {
                topic,
                name,
                subscription,
                at,
            } => {
                check_name(name)?;
                let subs = &mut topic_mut(t, topic)?.subscriptions;
                if subs.contains_key(name) {
                    return Err(format!(
                        "`{topic}` already has a subscription named `{name}`"
                    ));
                }
                subs.insert(name.clone(), subscription.clone());
                t.layout.insert(ItemKey::nested(topic, name).0, *at);
            }
            Command::Remove(keys) => {
                for key in keys {
                    remove(t, key);
                }
            }
            Command::Disconnect { from, to, kind } => disconnect(t, from, to, *kind)?,
            Command::Connect { from, to } => connect::connect(t, from, to)?,
            Command::Move(moves) => {
                for (key, at) in moves {
                    t.layout.insert(key.0.clone(), *at);
                }
            }
            Command::SetLayout(positions) => {
                t.layout = positions.iter().map(|(k, p)| (k.0.clone(), *p)).collect();
            }
            Command::SetNode { id, node } => {
                let slot = t
                    .nodes
                    .get_mut(id)
                    .ok_or_else(|| format!("no node `{id}`"))?;
                if slot.kind() != node.kind() {
                    return Err(format!(
                        "`{id}` is a {}, not a {}",
                        slot.kind(),
                        node.kind()
                    ));
                }
                *slot = (**node).clone();
            }
            Command::SetRule { bus, name, rule } => {
                let slot = bus_mut(t, bus)?
                    .rules
                    .get_mut(name)
                    .ok_or_else(|| format!("no rule `{bus}/{name}`"))?;
                *slot = rule.clone();
            }
            Command::SetSubscription {
                topic,
                name,
                subscription,
            } => {
                let slot = topic_mut(t, topic)?
                    .subscriptions
                    .get_mut(name)
                    .ok_or_else(|| format!("no subscription `{topic}/{name}`"))?;
                *slot = subscription.clone();
            }
            Command::Rename { key, to } => rename(t, key, to)?,
            Command::SetScenario { name, scenario } => match scenario {
                Some(s) => {
                    check_name(name)?;
                    t.scenarios.insert(name.clone(), s.clone());
                }
                None => {
                    t.scenarios.remove(name);
                }
            },
            Command::Paste(clip) => {
                if let Some(id) = clip.nodes.keys().find(|id| t.nodes.contains_key(*id)) {
                    return Err(format!("a node named `{id}` already exists"));
                }
                for id in clip.nodes.keys() {
                    check_name(id)?;
                }
                t.nodes.extend(clip.nodes.clone());
                t.layout.extend(clip.layout.clone());
            }
            Command::SetInfo { name, description } => {
                t.name.clone_from(name);
                t.description.clone_from(description);
            }
        }
        Ok(())
    }
}

/// Names follow the model's id rules: letters, digits, `.`, `_`, `-`, 1–64 characters.
pub fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("a name cannot be empty".into());
    }
    if name.len() > 64 {
        return Err("a name has at most 64 characters".into());
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-')))
    {
        return Err(format!(
            "`{c}` is not allowed in a name (letters, digits, `.`, `_`, `-`)"
        ));
    }
    Ok(())
}

fn bus_mut<'t>(t: &'t mut Topology, bus: &str) -> Result<&'t mut crate::model::Bus, String> {
    match t.nodes.get_mut(bus) {
        Some(Node::Bus(b)) => Ok(b),
        _ => Err(format!("no bus `{bus}`")),
    }
}

fn topic_mut<'t>(t: &'t mut Topology, topic: &str) -> Result<&'t mut crate::model::Topic, String> {
    match t.nodes.get_mut(topic) {
        Some(Node::Topic(x)) => Ok(x),
        _ => Err(format!("no topic `{topic}`")),
    }
}

/// Deletes one item and what refers to a deleted node.
fn remove(t: &mut Topology, key: &ItemKey) {
    if let Some((owner, name)) = key.split() {
        match t.nodes.get_mut(owner) {
            Some(Node::Bus(b)) => {
                b.rules.remove(name);
            }
            Some(Node::Topic(x)) => {
                x.subscriptions.remove(name);
            }
            _ => {}
        }
        t.layout.remove(key.as_str());
        return;
    }
    let id = key.as_str();
    if t.nodes.remove(id).is_none() {
        return;
    }
    let nested_prefix = format!("{id}/");
    t.layout
        .retain(|k, _| k != id && !k.starts_with(&nested_prefix));
    for node in t.nodes.values_mut() {
        match node {
            Node::Producer(p) if p.to == id => p.to.clear(),
            Node::Bus(b) => {
                for rule in b.rules.values_mut() {
                    rule.targets.retain(|target| target.to != id);
                    for target in &mut rule.targets {
                        if target.dlq.as_deref() == Some(id) {
                            target.dlq = None;
                        }
                    }
                }
                if let Some(policy) = &mut b.policy {
                    policy.allow.retain(|a| a != id);
                }
            }
            Node::Topic(x) => {
                x.subscriptions.retain(|_, s| s.to != id);
                for s in x.subscriptions.values_mut() {
                    if s.dlq.as_deref() == Some(id) {
                        s.dlq = None;
                    }
                }
            }
            Node::Queue(q) => {
                q.consumers.retain(|c| c != id);
                if q.dlq.as_deref() == Some(id) {
                    q.dlq = None;
                }
            }
            Node::Archive(a) if a.bus == id => a.bus.clear(),
            _ => {}
        }
    }
    // Subscriptions removed above lose their positions too.
    let live: std::collections::BTreeSet<String> = super::scene::Scene::new(t)
        .items
        .into_iter()
        .map(|i| i.key.0)
        .collect();
    t.layout.retain(|k, _| live.contains(k));
}

fn disconnect(
    t: &mut Topology,
    from: &ItemKey,
    to: &ItemKey,
    kind: EdgeKind,
) -> Result<(), String> {
    let to_id = to.as_str();
    let missing = || format!("no arrow {from} → {to}");
    match kind {
        EdgeKind::Owns => remove(t, to),
        EdgeKind::Archives => match t.nodes.get_mut(to_id) {
            Some(Node::Archive(a)) => a.bus.clear(),
            _ => return Err(missing()),
        },
        EdgeKind::Sends => match t.nodes.get_mut(from.as_str()) {
            Some(Node::Producer(p)) => p.to.clear(),
            _ => return Err(missing()),
        },
        EdgeKind::Target(i) => {
            let (bus, rule) = from.split().ok_or_else(missing)?;
            let rule = bus_mut(t, bus)?.rules.get_mut(rule).ok_or_else(missing)?;
            if rule.targets.get(i).is_none_or(|x| x.to != to_id) {
                return Err(missing());
            }
            rule.targets.remove(i);
        }
        EdgeKind::Endpoint => remove(t, from),
        EdgeKind::Pulls => match t.nodes.get_mut(from.as_str()) {
            Some(Node::Queue(q)) => q.consumers.retain(|c| c != to_id),
            _ => return Err(missing()),
        },
        EdgeKind::DeadLetter => {
            let clear = |dlq: &mut Option<String>| {
                if dlq.as_deref() == Some(to_id) {
                    *dlq = None;
                }
            };
            match from.split() {
                Some((owner, name)) => match t.nodes.get_mut(owner) {
                    Some(Node::Bus(b)) => {
                        let rule = b.rules.get_mut(name).ok_or_else(missing)?;
                        rule.targets.iter_mut().for_each(|x| clear(&mut x.dlq));
                    }
                    Some(Node::Topic(x)) => {
                        clear(&mut x.subscriptions.get_mut(name).ok_or_else(missing)?.dlq);
                    }
                    _ => return Err(missing()),
                },
                None => match t.nodes.get_mut(from.as_str()) {
                    Some(Node::Queue(q)) => clear(&mut q.dlq),
                    _ => return Err(missing()),
                },
            }
        }
    }
    Ok(())
}

/// Copied nodes with their positions (their rules and subscriptions travel with them).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct Clip {
    /// The nodes by id.
    pub nodes: BTreeMap<String, Node>,
    /// Their boxes' positions (nodes, rules, subscriptions).
    pub layout: BTreeMap<String, Position>,
}

impl Clip {
    /// The top-level nodes among `keys` (a selected rule or subscription copies nothing
    /// on its own: it lives in its bus or topic).
    pub fn copy(topology: &Topology, keys: &[ItemKey]) -> Clip {
        let mut clip = Clip::default();
        for key in keys.iter().filter(|k| k.split().is_none()) {
            let id = key.as_str();
            let Some(node) = topology.nodes.get(id) else {
                continue;
            };
            clip.nodes.insert(id.to_string(), node.clone());
            let nested = format!("{id}/");
            for (k, p) in &topology.layout {
                if k == id || k.starts_with(&nested) {
                    clip.layout.insert(k.clone(), *p);
                }
            }
        }
        clip
    }

    /// The same clip with every box moved by `offset`.
    pub fn shifted(mut self, offset: Position) -> Clip {
        for p in self.layout.values_mut() {
            p.x += offset.x;
            p.y += offset.y;
        }
        self
    }

    /// This clip ready to paste into `topology`: every node gets an unused id
    /// (`name-copy`, `name-copy-2`, ...), references between the copied nodes follow
    /// the new ids (references to other nodes stay), and boxes move by `offset`.
    pub fn pasted_into(&self, topology: &Topology, offset: Position) -> Result<Clip, String> {
        let mut scratch = Topology {
            nodes: self.nodes.clone(),
            layout: self.layout.clone(),
            ..Topology::default()
        };
        let mut taken: std::collections::BTreeSet<String> =
            topology.nodes.keys().cloned().collect();
        taken.extend(self.nodes.keys().cloned());
        for id in self.nodes.keys() {
            let base: String = format!("{id}-copy").chars().take(58).collect();
            let taken_refs: std::collections::BTreeSet<&str> =
                taken.iter().map(String::as_str).collect();
            let fresh = super::connect::fresh_name(&base, &taken_refs);
            rename(&mut scratch, &ItemKey::node(id), &fresh)?;
            taken.insert(fresh);
        }
        Ok(Clip {
            nodes: scratch.nodes,
            layout: scratch.layout,
        }
        .shifted(offset))
    }
}

fn rename(t: &mut Topology, key: &ItemKey, to: &str) -> Result<(), String> {
    check_name(to)?;
    if let Some((owner, name)) = key.split() {
        match t.nodes.get_mut(owner) {
            Some(Node::Bus(b)) => move_entry(&mut b.rules, name, to),
            Some(Node::Topic(x)) => move_entry(&mut x.subscriptions, name, to),
            _ => return Err(format!("no `{key}`")),
        }?;
        if let Some(p) = t.layout.remove(key.as_str()) {
            t.layout.insert(ItemKey::nested(owner, to).0, p);
        }
        return Ok(());
    }
    let from = key.as_str();
    move_entry(&mut t.nodes, from, to)?;
    let rename_ref = |s: &mut String| {
        if s == from {
            *s = to.to_string();
        }
    };
    let rename_opt = |s: &mut Option<String>| {
        if s.as_deref() == Some(from) {
            *s = Some(to.to_string());
        }
    };
    for node in t.nodes.values_mut() {
        match node {
            Node::Producer(p) => rename_ref(&mut p.to),
            Node::Bus(b) => {
                for rule in b.rules.values_mut() {
                    for target in &mut rule.targets {
                        rename_ref(&mut target.to);
                        rename_opt(&mut target.dlq);
                    }
                }
                if let Some(policy) = &mut b.policy {
                    policy.allow.iter_mut().for_each(rename_ref);
                }
            }
            Node::Topic(x) => {
                for s in x.subscriptions.values_mut() {
                    rename_ref(&mut s.to);
                    rename_opt(&mut s.dlq);
                }
            }
            Node::Queue(q) => {
                q.consumers.iter_mut().for_each(rename_ref);
                rename_opt(&mut q.dlq);
            }
            Node::Archive(a) => rename_ref(&mut a.bus),
            Node::Consumer(_) => {}
        }
    }
    let prefix = format!("{from}/");
    let moved: Vec<(String, Position)> = t
        .layout
        .iter()
        .filter(|(k, _)| k.as_str() == from || k.starts_with(&prefix))
        .map(|(k, p)| (k.clone(), *p))
        .collect();
    for (k, p) in moved {
        t.layout.remove(&k);
        let renamed = match k.strip_prefix(&prefix) {
            Some(rest) => format!("{to}/{rest}"),
            None => to.to_string(),
        };
        t.layout.insert(renamed, p);
    }
    Ok(())
}

fn move_entry<V>(map: &mut BTreeMap<String, V>, from: &str, to: &str) -> Result<(), String> {
    if from == to {
        return Ok(());
    }
    if map.contains_key(to) {
        return Err(format!("`{to}` is already taken"));
    }
    let value = map.remove(from).ok_or_else(|| format!("no `{from}`"))?;
    map.insert(to.to_string(), value);
    Ok(())
}

/// One undo step: the topology before a command.
#[derive(Clone, Debug)]
struct Step {
    label: String,
    topology: Topology,
    state: u64,
    merge: Option<String>,
}

/// A design being edited: its topology, undo/redo history, and whether it is saved.
#[derive(Clone, Debug)]
pub struct Document {
    topology: Topology,
    /// Identifies the content: equal ids mean equal topologies (undo restores ids).
    state: u64,
    saved_state: Option<u64>,
    undo: Vec<Step>,
    redo: Vec<Step>,
}

/// Content ids are unique across every document of the process, so a view keyed by
/// the id notices when one document replaces another (open, restore, new).
fn fresh_state() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
}

impl Document {
    /// A document holding `topology`, considered saved (it came from a file) or not.
    pub fn new(topology: Topology, saved: bool) -> Document {
        let state = fresh_state();
        Document {
            topology,
            state,
            saved_state: saved.then_some(state),
            undo: Vec::new(),
            redo: Vec::new(),
        }
    }

    /// The design.
    pub fn topology(&self) -> &Topology {
        &self.topology
    }

    /// Changes whenever the content changes (and returns to an old value on undo).
    pub fn state(&self) -> u64 {
        self.state
    }

    /// Whether there are changes since the last save.
    pub fn is_modified(&self) -> bool {
        self.saved_state != Some(self.state)
    }

    /// Records that the current content is saved.
    pub fn mark_saved(&mut self) {
        self.saved_state = Some(self.state);
    }

    /// Runs a command; on error nothing changes.
    pub fn execute(&mut self, command: Command) -> Result<(), String> {
        let mut edited = self.topology.clone();
        command.apply(&mut edited)?;
        if edited == self.topology {
            return Ok(());
        }
        let merge = command.merge_key();
        let merges = merge.is_some()
            && self.redo.is_empty()
            && self.undo.last().is_some_and(|s| s.merge == merge);
        let before = std::mem::replace(&mut self.topology, edited);
        if !merges {
            self.undo.push(Step {
                label: command.label(),
                topology: before,
                state: self.state,
                merge,
            });
            if self.undo.len() > UNDO_DEPTH {
                self.undo.remove(0);
            }
        }
        self.redo.clear();
        self.state = fresh_state();
        Ok(())
    }

    /// Ends merging: the next edit of the same field starts a new undo step.
    pub fn seal(&mut self) {
        if let Some(last) = self.undo.last_mut() {
            last.merge = None;
        }
    }

    /// What undo would undo.
    pub fn undo_label(&self) -> Option<&str> {
        self.undo.last().map(|s| s.label.as_str())
    }

    /// What redo would redo.
    pub fn redo_label(&self) -> Option<&str> {
        self.redo.last().map(|s| s.label.as_str())
    }

    /// Undoes the last step; false when there is none.
    pub fn undo(&mut self) -> bool {
        self.travel(true)
    }

    /// Redoes the last undone step; false when there is none.
    pub fn redo(&mut self) -> bool {
        self.travel(false)
    }

    fn travel(&mut self, back: bool) -> bool {
        let (from, to) = if back {
            (&mut self.undo, &mut self.redo)
        } else {
            (&mut self.redo, &mut self.undo)
        };
        let Some(step) = from.pop() else {
            return false;
        };
        let current = std::mem::replace(&mut self.topology, step.topology);
        to.push(Step {
            label: step.label,
            topology: current,
            state: self.state,
            merge: None,
        });
        self.state = step.state;
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{Consumer, Queue};

    fn ecommerce() -> Document {
        let t = Topology::from_json(include_str!("../../examples/ecommerce.json")).expect("loads");
        Document::new(t, true)
    }

    fn at(x: f32, y: f32) -> Position {
        Position { x, y }
    }

    #[test]
    fn undo_and_redo_walk_the_history() {
        let mut d = ecommerce();
        let original = d.topology().clone();
        assert!(!d.is_modified());
        d.execute(Command::AddNode {
            id: "audit".into(),
            node: Node::Consumer(Consumer::default()),
            at: at(1.0, 2.0),
        })
        .expect("adds");
        assert!(d.is_modified());
        let added = d.topology().clone();
        assert!(d.undo());
        assert_eq!(d.topology(), &original);
        assert!(
            !d.is_modified(),
            "undo back to the saved state is unmodified"
        );
        assert!(d.redo());
        assert_eq!(d.topology(), &added);
        assert!(!d.redo());
    }

    #[test]
    fn a_failing_command_changes_nothing() {
        let mut d = ecommerce();
        let before = d.topology().clone();
        let err = d
            .execute(Command::AddNode {
                id: "orders".into(),
                node: Node::Queue(Queue::default()),
                at: at(0.0, 0.0),
            })
            .unwrap_err();
        assert!(err.contains("already exists"));
        assert!(
            d.execute(Command::Rename {
                key: ItemKey::node("web"),
                to: "bad name".into()
            })
            .is_err()
        );
        assert_eq!(d.topology(), &before);
        assert!(d.undo_label().is_none());
    }

    #[test]
    fn inspector_edits_of_one_thing_merge() {
        let mut d = ecommerce();
        let Some(Node::Consumer(c)) = d.topology().nodes.get("billing").cloned() else {
            panic!("billing is a consumer")
        };
        for n in 1..=3 {
            let node = Node::Consumer(Consumer {
                concurrency: n,
                ..c.clone()
            });
            d.execute(Command::SetNode {
                id: "billing".into(),
                node: Box::new(node),
            })
            .expect("edits");
        }
        assert!(d.undo());
        assert!(d.undo_label().is_none(), "three edits were one step");
        assert!(!d.is_modified());
    }

    #[test]
    fn rename_moves_every_reference() {
        let mut d = ecommerce();
        d.execute(Command::Rename {
            key: ItemKey::node("orders"),
            to: "orders-bus".into(),
        })
        .expect("renames");
        let json = d.topology().to_json();
        assert!(!json.contains("\"orders\""), "{json}");
        assert!(crate::model::compile(d.topology(), None).is_ok());
        assert!(
            d.topology()
                .layout
                .keys()
                .all(|k| !k.starts_with("orders/"))
        );
    }

    #[test]
    fn removing_a_node_removes_its_arrows() {
        let mut d = ecommerce();
        d.execute(Command::Remove(vec![ItemKey::node("billing")]))
            .expect("removes");
        let t = d.topology();
        assert!(!t.nodes.contains_key("billing"));
        assert!(!t.to_json().contains("\"billing\""));
        assert!(d.undo());
        assert!(d.topology().nodes.contains_key("billing"));
    }

    #[test]
    fn pasted_nodes_get_new_ids_and_keep_their_links() {
        let mut d = ecommerce();
        let keys = [
            ItemKey::node("warehouse-queue"),
            ItemKey::node("warehouse"),
            ItemKey::nested("orders", "to-billing"),
        ];
        let clip = Clip::copy(d.topology(), &keys);
        assert_eq!(clip.nodes.len(), 2, "the rule travels only with its bus");
        let pasted = clip
            .pasted_into(d.topology(), Position { x: 30.0, y: 30.0 })
            .expect("pastes");
        assert!(pasted.nodes.contains_key("warehouse-queue-copy"));
        let Some(Node::Queue(q)) = pasted.nodes.get("warehouse-queue-copy") else {
            panic!("the queue is copied")
        };
        assert_eq!(
            q.consumers,
            vec!["warehouse-copy".to_string()],
            "links inside the copy follow"
        );
        assert_eq!(
            q.dlq.as_deref(),
            Some("warehouse-dlq"),
            "links outside stay"
        );
        let before = d.topology().layout["warehouse"];
        assert_eq!(pasted.layout["warehouse-copy"].x, before.x + 30.0);
        d.execute(Command::Paste(pasted.clone())).expect("adds");
        assert!(crate::model::compile(d.topology(), None).is_ok());
        let again = clip
            .pasted_into(d.topology(), Position::default())
            .expect("pastes again");
        assert!(again.nodes.contains_key("warehouse-queue-copy-2"));
        assert!(
            d.execute(Command::Paste(pasted)).is_err(),
            "ids already taken"
        );
    }

    #[test]
    fn names_follow_the_id_rules() {
        assert!(check_name("orders.fifo").is_ok());
        assert!(check_name("").is_err());
        assert!(check_name("a b").is_err());
        assert!(check_name(&"x".repeat(65)).is_err());
    }
}
