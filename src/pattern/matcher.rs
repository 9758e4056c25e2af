//! The multi-rule matcher: one merged structure over all rules' fields.
//!
//! Rules are split into *sub-rules* (one per `$or` branch) and each sub-rule into field
//! *conditions*. Every condition is registered in the [`FieldIndex`] of its path. An
//! event is scanned once; each value that a rule cares about is looked up in its
//! path's index, and every condition it satisfies bumps its sub-rule's counter. A
//! sub-rule whose counter reaches its number of conditions is a candidate; candidates
//! are confirmed by checking absences (`exists: false`) and, only when the values came
//! from arrays, array consistency. The work per event grows with the event and the
//! number of matches, not with the number of rules.

use std::cell::RefCell;
use std::collections::BTreeMap;

use rustc_hash::FxHashMap;

use std::sync::Arc;

use super::ast::{Field, Op};
use super::consistency::choose_consistent;
use super::flatten::{ArrayPos, Check, Key, NO_SLOT, ScanBuffers, Sink, Value, Visit, scan};
use super::index::{FieldIndex, op_matches};
use super::json::JsonError;
use super::parse::Pattern;
use super::{Limits, PatternError};

/// An exact value used by this many rules at one path is deferred in new rules.
const WIDELY_SHARED: usize = 8;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Strength {
    /// Finds few sub-rules per event: indexed and counted.
    Selective,
    /// An exact value many rules share.
    Wide,
    /// Matches most values (`exists`, `anything-but`, literals) or absence.
    Weak,
}

/// Identifies a rule inside one [`Matcher`] (stable until the rule is removed).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct RuleId(u32);

impl RuleId {
    /// A dense index (below the number of rules ever held at once), for per-rule tables.
    pub fn index(self) -> usize {
        self.0 as usize
    }
}

struct RuleEntry {
    name: String,
    pattern: Pattern,
    subrules: Vec<u32>,
}

#[derive(Default)]
struct SubRule {
    rule: u32,
    /// Indexed conditions that need a matching value (the counter's target).
    strict: u32,
    /// Every indexed condition (strict and optional).
    conds: Vec<u32>,
    /// Conditions checked only once the indexed ones hold: weak ones (`exists`,
    /// `anything-but`, `true`/`false`/`null`) and exact values many rules share, when
    /// the sub-rule has a selective condition to be found by; every condition but exact
    /// values when it has a selective exact value. (condition, path, field).
    deferred: Vec<(u32, u32, Arc<Field>)>,
    /// `[{"exists": false}, ...]` conditions: (condition, path).
    optional: Vec<(u32, u32)>,
    /// Paths that must be absent.
    absent: Vec<u32>,
}

#[derive(Clone, Copy, Default)]
struct Cond {
    subrule: u32,
    path: u32,
    /// Strict conditions of the sub-rule (its counter target); 0 for an optional one.
    need: u32,
}

/// Many named patterns, matched together against events.
///
/// Matching takes `&self`; share a `Matcher` between threads behind an `Arc` (wrap it
/// in a lock or swap it to add rules while others match).
///
/// # Example: route an event
/// ```
/// use eventyard::pattern::Matcher;
/// let mut m = Matcher::new();
/// m.add_rule("ec2", r#"{"source": ["aws.ec2"]}"#).unwrap();
/// m.add_rule("running", r#"{"detail": {"state": ["running"]}}"#).unwrap();
/// let hits = m.matches(br#"{"source": "aws.ec2", "detail": {"state": "running"}}"#).unwrap();
/// assert_eq!(hits, ["ec2", "running"]);
/// ```
pub struct Matcher {
    limits: Limits,
    by_name: BTreeMap<String, u32>,
    rules: Vec<Option<RuleEntry>>,
    free_rules: Vec<u32>,
    subrules: Vec<SubRule>,
    free_subrules: Vec<u32>,
    conds: Vec<Cond>,
    free_conds: Vec<u32>,
    paths: FxHashMap<Box<[u8]>, Visit>,
    fields: Vec<FieldIndex>,
    /// Sub-rules without strict conditions: checked for every event.
    always: Vec<u32>,
    /// How to enter the top-level object (its expected keys).
    root: Visit,
    /// The object paths as a tree: children of each descending path by key.
    nodes: Vec<ChildMap>,
    /// When there are few conditions: every sub-rule with its fields, for
    /// [`Matcher::matches_values`] to check directly (see [`DirectRules`]).
    direct: Option<DirectRules>,
}

/// Most field conditions (over all sub-rules) that [`DirectRules`] takes: checking
/// each against the handed-over values costs about as much as the index's
/// bookkeeping does at this size.
const DIRECT_MAX_FIELDS: usize = 16;

/// A small rule set as plain lists, for values handed over by an event's writer (see
/// [`Matcher::matches_values`]): each sub-rule's fields are checked in turn against
/// the values, with the operators' own semantics ([`op_matches`], which deferred
/// conditions use too). For a handful of rules this skips the index's per-event
/// bookkeeping (epochs, counters, candidates), which is most of the cost there.
#[derive(Default)]
struct DirectRules {
    /// Per sub-rule, in rule order: its rule and its range in `fields`.
    branches: Vec<(u32, std::ops::Range<usize>)>,
    /// Every sub-rule's fields: (path id, field).
    fields: Vec<(u32, Arc<Field>)>,
}

impl DirectRules {
    /// Calls `each` for every rule some sub-rule of which holds for `values`, once
    /// per rule, in rule order.
    #[inline]
    fn for_each_match(&self, values: &[(u32, Value<'_>)], mut each: impl FnMut(RuleId)) {
        let mut last = u32::MAX;
        for (rule, range) in &self.branches {
            if *rule == last {
                continue;
            }
            let fields = self.fields.get(range.clone()).unwrap_or_default();
            if fields
                .iter()
                .all(|(path, field)| holds(*path, field, values))
            {
                last = *rule;
                each(RuleId(*rule));
            }
        }
    }
}

/// Does `field` (at path id `path`) hold for an event whose values at leaf paths are
/// `values`: a value there satisfies an alternative, or there is none and absence
/// satisfies (`exists: false`)?
#[inline]
fn holds(path: u32, field: &Field, values: &[(u32, Value<'_>)]) -> bool {
    let mut present = false;
    for &(id, value) in values {
        if id == path {
            if field.alternatives.iter().any(|a| op_matches(&a.op, value)) {
                return true;
            }
            present = true;
        }
    }
    !present && (field.absent_ok || field.alternatives.is_empty())
}

/// The keys of one object path that some rule needs, with what to do with each.
struct ChildMap {
    /// Few keys: compared one by one by [`signature`] (cheaper than hashing).
    small: Vec<Child>,
    /// Many keys.
    large: FxHashMap<Box<[u8]>, Visit>,
    /// The keys that lead to object paths: only a key that starts with one of them and
    /// a dot can be a dotted path to something.
    objects: Vec<Box<[u8]>>,
    /// The length of the shortest of `objects` (`usize::MAX` when there are none): a
    /// dotted key is longer.
    shortest_object: usize,
}

impl Default for ChildMap {
    fn default() -> Self {
        ChildMap {
            small: Vec::new(),
            large: FxHashMap::default(),
            objects: Vec::new(),
            shortest_object: usize::MAX,
        }
    }
}

/// One expected key of a [`ChildMap`].
struct Child {
    sig: u64,
    name: Box<[u8]>,
    visit: Visit,
}

/// A key's [`Key::head`] with, for keys shorter than eight bytes, the length in the top
/// byte: keys with different signatures differ.
#[inline(always)]
fn signature(key: Key<'_>) -> u64 {
    let len = key.text.len();
    if len < 8 {
        key.head | (len as u64) << 56
    } else {
        key.head
    }
}

impl ChildMap {
    #[inline(always)]
    fn get(&self, key: Key<'_>) -> Visit {
        let sig = signature(key);
        for c in &self.small {
            // Equal signatures: the keys are equal when the lengths are and, beyond
            // eight bytes, the rest.
            if c.sig == sig
                && c.name.len() == key.text.len()
                && (key.text.len() <= 8 || c.name.get(8..) == key.text.get(8..))
            {
                return c.visit;
            }
        }
        if self.large.is_empty() {
            return Visit::SKIP;
        }
        self.large.get(key.text).copied().unwrap_or(Visit::SKIP)
    }

    /// Can `key` (not one of the keys) be a dotted path into one of the objects?
    #[inline(always)]
    fn may_reach(&self, key: &[u8]) -> bool {
        key.len() > self.shortest_object && self.reaches(key)
    }

    #[inline(never)]
    fn reaches(&self, key: &[u8]) -> bool {
        self.objects
            .iter()
            .any(|name| key.get(name.len()) == Some(&b'.') && key.starts_with(name))
    }
}

impl Default for Matcher {
    fn default() -> Self {
        Matcher::new()
    }
}

impl Matcher {
    /// An empty matcher with default [`Limits`].
    pub fn new() -> Matcher {
        Matcher::with_limits(Limits::default())
    }

    /// An empty matcher whose patterns are validated with `limits`.
    pub fn with_limits(limits: Limits) -> Matcher {
        Matcher {
            limits,
            by_name: BTreeMap::new(),
            rules: Vec::new(),
            free_rules: Vec::new(),
            subrules: Vec::new(),
            free_subrules: Vec::new(),
            conds: Vec::new(),
            free_conds: Vec::new(),
            paths: FxHashMap::default(),
            fields: Vec::new(),
            always: Vec::new(),
            root: Visit {
                descend: true,
                ..Visit::SKIP
            },
            nodes: vec![ChildMap::default()],
            direct: Some(DirectRules::default()),
        }
    }

    /// Number of rules.
    pub fn len(&self) -> usize {
        self.by_name.len()
    }

    /// True when there are no rules.
    pub fn is_empty(&self) -> bool {
        self.by_name.is_empty()
    }

    /// Rule names, sorted.
    pub fn rule_names(&self) -> impl Iterator<Item = &str> {
        self.by_name.keys().map(String::as_str)
    }

    /// The pattern of a rule.
    pub fn pattern(&self, name: &str) -> Option<&Pattern> {
        let slot = *self.by_name.get(name)?;
        self.rules.get(slot as usize)?.as_ref().map(|r| &r.pattern)
    }

    /// The id of a rule by name.
    pub fn rule_id(&self, name: &str) -> Option<RuleId> {
        self.by_name.get(name).map(|&slot| RuleId(slot))
    }

    /// The name of a rule id returned by [`Matcher::matches_with`].
    pub fn rule_name(&self, id: RuleId) -> &str {
        self.rules
            .get(id.0 as usize)
            .and_then(Option::as_ref)
            .map_or("", |r| r.name.as_str())
    }

    /// Parses `pattern` and adds it under `name`, replacing a rule of that name.
    /// On error the matcher is unchanged.
    pub fn add_rule(&mut self, name: &str, pattern: &str) -> Result<(), PatternError> {
        let parsed = Pattern::parse_with(pattern, &self.limits)?;
        self.add_pattern(name, parsed);
        Ok(())
    }

    /// Adds an already validated pattern under `name`, replacing a rule of that name.
    pub fn add_pattern(&mut self, name: &str, pattern: Pattern) {
        // The path tree is rebuilt once, below.
        self.unregister(name);
        let rule = take_slot(&mut self.free_rules, self.rules.len());
        let mut subrules = Vec::with_capacity(pattern.branches().len());
        for branch in pattern.branches() {
            let sub = take_slot(&mut self.free_subrules, self.subrules.len());
            let mut entry = SubRule {
                rule,
                ..SubRule::default()
            };
            let paths: Vec<u32> = branch.iter().map(|f| self.intern_path(&f.path)).collect();
            // Defer weak and widely shared conditions when a selective one can find
            // the sub-rule: fewer conditions are touched per event.
            let kinds: Vec<Strength> = branch
                .iter()
                .zip(&paths)
                .map(|(field, &path)| self.strength(field, path))
                .collect();
            let has_anchor = kinds.contains(&Strength::Selective);
            // A selective exact value finds few sub-rules; its sub-rule's ranges,
            // prefixes and the like (which often hold for many values) are then only
            // checked for the sub-rules it finds, not counted for every value.
            let exact = |field: &Field| {
                field
                    .alternatives
                    .iter()
                    .all(|a| matches!(a.op, Op::ExactString(_) | Op::ExactNumber { .. }))
            };
            let exact_anchor = branch
                .iter()
                .zip(&kinds)
                .any(|(field, &kind)| kind == Strength::Selective && exact(field));
            for ((field, &path), kind) in branch.iter().zip(&paths).zip(kinds) {
                if field.absent_ok {
                    self.fields[path as usize].presence_refs += 1;
                }
                if field.alternatives.is_empty() {
                    entry.absent.push(path);
                    continue;
                }
                let cond = take_slot(&mut self.free_conds, self.conds.len());
                put(
                    &mut self.conds,
                    cond,
                    Cond {
                        subrule: sub,
                        path,
                        need: 0,
                    },
                );
                let defer = if exact_anchor {
                    kind != Strength::Selective || !exact(field)
                } else {
                    has_anchor && kind != Strength::Selective
                };
                if defer && !field.absent_ok {
                    entry.deferred.push((cond, path, Arc::clone(field)));
                    self.fields[path as usize].recorded_refs += 1;
                    continue;
                }
                for alternative in &field.alternatives {
                    self.fields[path as usize].insert(cond, &alternative.op);
                }
                entry.conds.push(cond);
                if field.absent_ok {
                    entry.optional.push((cond, path));
                } else {
                    entry.strict += 1;
                }
            }
            if entry.strict == 0 {
                self.always.push(sub);
            }
            for &cond in &entry.conds {
                if !entry.optional.iter().any(|&(c, _)| c == cond) {
                    self.conds[cond as usize].need = entry.strict;
                }
            }
            put(&mut self.subrules, sub, entry);
            subrules.push(sub);
        }
        put(
            &mut self.rules,
            rule,
            Some(RuleEntry {
                name: name.to_string(),
                pattern,
                subrules,
            }),
        );
        self.by_name.insert(name.to_string(), rule);
        self.assign_slots();
        self.direct = self.direct_rules(DIRECT_MAX_FIELDS);
    }

    /// The rules as [`DirectRules`], when they have at most `max_fields` field
    /// conditions.
    fn direct_rules(&self, max_fields: usize) -> Option<DirectRules> {
        let mut direct = DirectRules::default();
        for (rule, entry) in self.rules.iter().enumerate() {
            let Some(entry) = entry else { continue };
            for branch in entry.pattern.branches() {
                let start = direct.fields.len();
                for field in branch {
                    let path = self.paths.get(field.path.as_bytes())?.leaf?;
                    direct.fields.push((path, Arc::clone(field)));
                    if direct.fields.len() > max_fields {
                        return None;
                    }
                }
                direct
                    .branches
                    .push((rule as u32, start..direct.fields.len()));
            }
        }
        Some(direct)
    }

    /// How well a field finds its sub-rule: weak operators match most values; an exact
    /// value already used by many rules at this path is likely common.
    fn strength(&self, field: &Field, path: u32) -> Strength {
        let weak = |op: &Op| {
            matches!(
                op,
                Op::Exists | Op::ExistsNotNull | Op::AnythingBut(_) | Op::Literal(_)
            )
        };
        if field.absent_ok || field.alternatives.iter().any(|a| weak(&a.op)) {
            return Strength::Weak;
        }
        let index = &self.fields[path as usize];
        if field
            .alternatives
            .iter()
            .any(|a| index.sharing(&a.op) >= WIDELY_SHARED)
        {
            return Strength::Wide;
        }
        Strength::Selective
    }

    /// Numbers the expected keys of every object path (so a scan knows when it has
    /// seen all keys that matter in an object) and rebuilds the path tree.
    fn assign_slots(&mut self) {
        // Parent `None` is the top-level object (distinct from the path "", a key "").
        type Parent = Option<Vec<u8>>;
        let split = |key: &[u8]| -> (Parent, Vec<u8>) {
            match key.iter().rposition(|&b| b == b'.') {
                Some(dot) => (Some(key[..dot].to_vec()), key[dot + 1..].to_vec()),
                None => (None, key.to_vec()),
            }
        };
        // Per parent: (key name inside the parent, full path).
        type Kids = Vec<(Vec<u8>, Vec<u8>)>;
        let mut children: BTreeMap<Parent, Kids> = BTreeMap::new();
        for key in self.paths.keys() {
            let (parent, name) = split(key);
            children
                .entry(parent)
                .or_default()
                .push((name, key.to_vec()));
        }
        // Node ids: 0 is the root, then every descending path.
        let mut node_of: FxHashMap<Vec<u8>, u32> = FxHashMap::default();
        for (key, visit) in self.paths.iter_mut() {
            visit.slot = NO_SLOT;
            visit.children = 0;
            if visit.descend {
                visit.node = node_of.len() as u32 + 1;
                node_of.insert(key.to_vec(), visit.node);
            }
        }
        self.root.children = 0;
        // First every path's slot and expected-key count, then the lookup maps (which
        // hold copies of the finished visits).
        for (parent, kids) in &mut children {
            kids.sort_unstable();
            let count = if kids.len() <= 64 {
                kids.len() as u8
            } else {
                0
            };
            match parent {
                None => self.root.children = count,
                Some(p) => {
                    if let Some(visit) = self.paths.get_mut(p.as_slice()) {
                        visit.children = count;
                    }
                }
            }
            for (slot, (_, full)) in kids.iter().enumerate() {
                if let Some(visit) = self.paths.get_mut(full.as_slice()) {
                    visit.slot = if count > 0 { slot as u8 } else { NO_SLOT };
                }
            }
        }
        self.nodes = (0..=node_of.len()).map(|_| ChildMap::default()).collect();
        for (parent, kids) in children {
            let id = parent.and_then(|p| node_of.get(&p).copied()).unwrap_or(0);
            let map = &mut self.nodes[id as usize];
            for (name, full) in kids {
                if let Some(visit) = self.paths.get(full.as_slice()).copied() {
                    if visit.descend {
                        map.shortest_object = map.shortest_object.min(name.len());
                        map.objects.push(name.as_slice().into());
                    }
                    map.small.push(Child {
                        sig: signature(Key::new(&name)),
                        name: name.into(),
                        visit,
                    });
                }
            }
            if map.small.len() > 8 {
                map.large = map.small.drain(..).map(|c| (c.name, c.visit)).collect();
            }
        }
    }

    /// Removes a rule; returns whether it existed.
    pub fn remove_rule(&mut self, name: &str) -> bool {
        let removed = self.unregister(name);
        if removed {
            self.assign_slots();
            self.direct = self.direct_rules(DIRECT_MAX_FIELDS);
        }
        removed
    }

    /// Takes a rule out of every index, leaving the path tree to be rebuilt.
    fn unregister(&mut self, name: &str) -> bool {
        let Some(rule) = self.by_name.remove(name) else {
            return false;
        };
        let Some(entry) = self.rules.get_mut(rule as usize).and_then(Option::take) else {
            return false;
        };
        let mut by_path: BTreeMap<u32, Vec<u32>> = BTreeMap::new();
        for &sub in &entry.subrules {
            let subrule = std::mem::take(&mut self.subrules[sub as usize]);
            // Every `exists: false` field (absent-only or optional) counted one presence ref.
            let presence = subrule
                .absent
                .iter()
                .chain(subrule.optional.iter().map(|(_, p)| p));
            for &path in presence {
                let refs = &mut self.fields[path as usize].presence_refs;
                *refs = refs.saturating_sub(1);
            }
            for &cond in &subrule.conds {
                by_path
                    .entry(self.conds[cond as usize].path)
                    .or_default()
                    .push(cond);
                self.free_conds.push(cond);
            }
            for &(cond, path, _) in &subrule.deferred {
                let refs = &mut self.fields[path as usize].recorded_refs;
                *refs = refs.saturating_sub(1);
                self.free_conds.push(cond);
            }
            self.always.retain(|&s| s != sub);
            self.free_subrules.push(sub);
        }
        for (path, conds) in by_path {
            self.fields[path as usize].remove(&conds);
        }
        self.free_rules.push(rule);
        true
    }

    fn intern_path(&mut self, path: &str) -> u32 {
        let bytes = path.as_bytes();
        for (i, &b) in bytes.iter().enumerate() {
            if b == b'.' {
                let visit = self.paths.entry(bytes[..i].into()).or_insert(Visit::SKIP);
                visit.descend = true;
            }
        }
        let next = self.fields.len() as u32;
        let visit = self.paths.entry(bytes.into()).or_insert(Visit::SKIP);
        match visit.leaf {
            Some(id) => id,
            None => {
                visit.leaf = Some(next);
                self.fields.push(FieldIndex::default());
                next
            }
        }
    }

    /// The names of the rules that match `event` (raw JSON text), sorted.
    ///
    /// The whole event is checked to be valid JSON and UTF-8.
    pub fn matches(&self, event: &[u8]) -> Result<Vec<&str>, JsonError> {
        let mut ids = Vec::new();
        with_scratch(|scratch| self.run(event, scratch, &mut ids, Check::Strict))?;
        let mut names: Vec<&str> = ids.into_iter().map(|id| self.rule_name(id)).collect();
        names.sort_unstable();
        Ok(names)
    }

    /// Whether any rule matches `event` (checked as strictly as [`Matcher::matches`]),
    /// without allocating.
    pub fn any_match(&self, event: &[u8]) -> Result<bool, JsonError> {
        with_scratch(|scratch| {
            let mut ids = std::mem::take(&mut scratch.ids);
            ids.clear();
            let result = self.run(event, scratch, &mut ids, Check::Strict);
            let any = !ids.is_empty();
            scratch.ids = ids;
            result.map(|()| any)
        })
    }

    /// Calls `each` with the id of every rule matching `event` (each once, in no
    /// particular order), checked as strictly as [`Matcher::matches`], without
    /// allocating. Nothing is called when the event is malformed.
    pub fn for_each_match(
        &self,
        event: &[u8],
        mut each: impl FnMut(RuleId),
    ) -> Result<(), JsonError> {
        with_scratch(|scratch| {
            let mut ids = std::mem::take(&mut scratch.ids);
            ids.clear();
            let result = self.run(event, scratch, &mut ids, Check::Strict);
            if result.is_ok() {
                ids.iter().copied().for_each(&mut each);
            }
            scratch.ids = ids;
            result
        })
    }

    /// Appends the ids of matching rules to `out` (each once, in no particular order),
    /// reusing `scratch` between calls. This is the allocation-free hot path.
    ///
    /// Parts of the event that no rule looks at are only checked for structure
    /// (balanced brackets, closed strings, allowed characters), not full JSON grammar.
    pub fn matches_with(
        &self,
        event: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) -> Result<(), JsonError> {
        self.run(event, scratch, out, Check::Lenient)
    }

    /// Every dotted path at which some rule reads a value, with the field id
    /// [`Matcher::matches_values`] takes for a value there; sorted by path.
    pub fn leaf_paths(&self) -> Vec<(String, u32)> {
        let mut leaves: Vec<(String, u32)> = self
            .paths
            .iter()
            .filter_map(|(path, visit)| {
                let id = visit.leaf?;
                Some((String::from_utf8_lossy(path).into_owned(), id))
            })
            .collect();
        leaves.sort_unstable();
        leaves
    }

    /// [`Matcher::matches_with`] for an event whose writer recorded its values at the
    /// [leaf paths](Matcher::leaf_paths), so that nothing is scanned: `values` holds
    /// (field id, value) for every value the event has at a leaf path, in document
    /// order. The result is the one `matches_with` gives on the event's text when no
    /// such value is inside an array and none is an object or array (the caller falls
    /// back to the text otherwise).
    pub fn matches_values(
        &self,
        values: &[(u32, Value<'_>)],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        match &self.direct {
            Some(direct) => direct.for_each_match(values, |id| out.push(id)),
            None => self.matches_values_indexed(values, scratch, out),
        }
    }

    /// [`Matcher::matches_values`] through the index (any number of rules).
    fn matches_values_indexed(
        &self,
        values: &[(u32, Value<'_>)],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
    ) {
        let state = &mut scratch.state;
        state.begin(self);
        // Deferred conditions read `values` itself: nothing is recorded.
        state.values_given = true;
        let mut sink = MatchSink { m: self, s: state };
        for &(id, value) in values {
            sink.value(id, value, &[]);
        }
        self.finish(state, out, values);
    }

    /// [`Matcher::for_each_match`] for values recorded by the event's writer (see
    /// [`Matcher::matches_values`], whose conditions apply), on this thread's scratch.
    pub fn for_each_match_values(&self, values: &[(u32, Value<'_>)], mut each: impl FnMut(RuleId)) {
        if let Some(direct) = &self.direct {
            direct.for_each_match(values, each);
            return;
        }
        with_scratch(|scratch| {
            let mut ids = std::mem::take(&mut scratch.ids);
            ids.clear();
            self.matches_values(values, scratch, &mut ids);
            ids.iter().copied().for_each(&mut each);
            scratch.ids = ids;
        })
    }

    fn run(
        &self,
        event: &[u8],
        scratch: &mut Scratch,
        out: &mut Vec<RuleId>,
        check: Check,
    ) -> Result<(), JsonError> {
        let Scratch {
            state,
            scan: buffers,
            ..
        } = scratch;
        state.begin(self);
        scan(event, &mut MatchSink { m: self, s: state }, buffers, check)?;
        self.finish(state, out, &[]);
        Ok(())
    }

    /// Confirms the sub-rules whose counters are full; `given`: the values handed to
    /// [`Matcher::matches_values`] (then nothing was recorded).
    fn finish(&self, s: &mut State, out: &mut Vec<RuleId>, given: &[(u32, Value<'_>)]) {
        let complete = std::mem::take(&mut s.complete);
        for &sub in complete.iter().chain(&self.always) {
            let rule = self.subrules[sub as usize].rule;
            if s.rule_stamp[rule as usize] != s.epoch && self.confirm(sub, s, given) {
                s.rule_stamp[rule as usize] = s.epoch;
                out.push(RuleId(rule));
            }
        }
        s.complete = complete;
    }

    /// Checks absences and array consistency of a sub-rule whose counter is full.
    fn confirm(&self, sub: u32, s: &mut State, given: &[(u32, Value<'_>)]) -> bool {
        let subrule = &self.subrules[sub as usize];
        if subrule
            .absent
            .iter()
            .any(|&p| s.path_stamp[p as usize] == s.epoch)
        {
            return false;
        }
        for &(cond, path) in &subrule.optional {
            if s.cond_state[cond as usize].seen != s.epoch && s.path_stamp[path as usize] == s.epoch
            {
                return false;
            }
        }
        // Deferred conditions: a recorded value at the path must satisfy them. Values
        // inside arrays join the consistency check below.
        if s.values_given {
            // Given values are outside arrays (no hits, no trails): one satisfying value
            // at the path will do (deferred fields are never satisfied by absence).
            return subrule
                .deferred
                .iter()
                .all(|(_, path, field)| holds(*path, field, given));
        }
        let mut lists: Vec<Vec<(u32, u32)>> = Vec::new();
        for (_, path, field) in &subrule.deferred {
            let path = *path;
            let mut trails = Vec::new();
            let mut found = false;
            for r in s.recorded.iter().filter(|r| r.path == path) {
                let value = r.value(&s.recorded_text);
                if field.alternatives.iter().any(|a| op_matches(&a.op, value)) {
                    found = true;
                    if r.trail.1 == 0 {
                        trails.clear();
                        break;
                    }
                    trails.push(r.trail);
                }
            }
            if !found {
                return false;
            }
            if !trails.is_empty() {
                lists.push(trails);
            }
        }
        if s.hits.is_empty() && lists.is_empty() {
            return true;
        }
        // Conditions met only by values inside arrays must be met consistently.
        let tied = subrule.conds.iter().copied().filter(|&c| {
            let state = s.cond_state[c as usize];
            state.seen == s.epoch && state.free != s.epoch
        });
        if !s.hits_sorted {
            s.hits.sort_unstable_by_key(|h| h.cond);
            s.hits_sorted = true;
        }
        for c in tied {
            let start = s.hits.partition_point(|h| h.cond < c);
            let end = s.hits.partition_point(|h| h.cond <= c);
            lists.push(
                s.hits[start..end]
                    .iter()
                    .map(|h| (h.start, h.len))
                    .collect(),
            );
        }
        if lists.len() < 2 {
            return true;
        }
        let trails = &s.trails;
        let options: Vec<Vec<&[ArrayPos]>> = lists
            .iter()
            .map(|list| {
                list.iter()
                    .filter_map(|&(start, len)| trails.get(start as usize..(start + len) as usize))
                    .collect()
            })
            .collect();
        choose_consistent(&options)
    }
}

fn take_slot(free: &mut Vec<u32>, len: usize) -> u32 {
    free.pop().unwrap_or(len as u32)
}

fn put<T>(items: &mut Vec<T>, at: u32, value: T) {
    let at = at as usize;
    if at == items.len() {
        items.push(value);
    } else {
        items[at] = value;
    }
}

#[derive(Clone, Copy)]
struct Hit {
    cond: u32,
    start: u32,
    len: u32,
}

/// A value kept for deferred conditions.
struct Recorded {
    path: u32,
    kind: RecordedKind,
    /// Byte range of the text in `Scratch::recorded_text`.
    text: (u32, u32),
    /// Range of the trail in `Scratch::trails`.
    trail: (u32, u32),
}

#[derive(Clone, Copy)]
enum RecordedKind {
    Str,
    Num,
    True,
    False,
    Null,
}

impl Recorded {
    fn value<'t>(&self, text: &'t [u8]) -> Value<'t> {
        let t = text
            .get(self.text.0 as usize..self.text.1 as usize)
            .unwrap_or_default();
        match self.kind {
            RecordedKind::Str => Value::Str(t),
            RecordedKind::Num => Value::Num(t),
            RecordedKind::True => Value::True,
            RecordedKind::False => Value::False,
            RecordedKind::Null => Value::Null,
        }
    }
}

/// Per-event state of one condition (epoch stamps).
#[derive(Clone, Copy, Default)]
struct CondState {
    /// Satisfied by some value in this event.
    seen: u32,
    /// Satisfied by a value outside any array (compatible with everything).
    free: u32,
}

/// Per-thread working memory for matching; reuse one per thread.
#[derive(Default)]
pub struct Scratch {
    state: State,
    scan: ScanBuffers,
    ids: Vec<RuleId>,
}

/// Per-event matching state (epoch-stamped, so nothing is cleared between events).
#[derive(Default)]
struct State {
    epoch: u32,
    cond_state: Vec<CondState>,
    /// Per sub-rule: epoch in the high half, counter in the low half.
    sub_state: Vec<u64>,
    path_stamp: Vec<u32>,
    rule_stamp: Vec<u32>,
    complete: Vec<u32>,
    hits: Vec<Hit>,
    hits_sorted: bool,
    trails: Vec<ArrayPos>,
    fold: String,
    /// Values kept for deferred conditions, their text in `recorded_text`.
    recorded: Vec<Recorded>,
    recorded_text: Vec<u8>,
    /// The event's values were handed over ([`Matcher::matches_values`]) rather than
    /// scanned: deferred conditions read them there, and nothing is recorded.
    values_given: bool,
}

impl State {
    fn begin(&mut self, m: &Matcher) {
        self.epoch = self.epoch.wrapping_add(1);
        if self.epoch == 0 {
            for v in [&mut self.path_stamp, &mut self.rule_stamp] {
                v.iter_mut().for_each(|x| *x = 0);
            }
            self.cond_state
                .iter_mut()
                .for_each(|c| *c = CondState::default());
            self.sub_state.iter_mut().for_each(|x| *x = 0);
            self.epoch = 1;
        }
        if self.cond_state.len() < m.conds.len() {
            self.cond_state.resize(m.conds.len(), CondState::default());
        }
        if self.sub_state.len() < m.subrules.len() {
            self.sub_state.resize(m.subrules.len(), 0);
        }
        grow(&mut self.path_stamp, m.fields.len());
        grow(&mut self.rule_stamp, m.rules.len());
        self.complete.clear();
        self.hits.clear();
        self.hits_sorted = false;
        self.trails.clear();
        self.recorded.clear();
        self.recorded_text.clear();
        self.values_given = false;
    }
}

fn grow(v: &mut Vec<u32>, len: usize) {
    if v.len() < len {
        v.resize(len, 0);
    }
}

thread_local! {
    static SCRATCH: RefCell<Scratch> = RefCell::new(Scratch::default());
}

fn with_scratch<R>(f: impl FnOnce(&mut Scratch) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut scratch) => f(&mut scratch),
        Err(_) => f(&mut Scratch::default()),
    })
}

struct MatchSink<'m, 's> {
    m: &'m Matcher,
    s: &'s mut State,
}

impl MatchSink<'_, '_> {
    /// What to do with a key holding dots (`"detail.state"`): the path its pieces
    /// reach, if any.
    #[cold]
    fn dotted(&self, parent: &Visit, key: &[u8]) -> Visit {
        let mut visit = *parent;
        for piece in key.split(|&b| b == b'.') {
            if !visit.descend {
                return Visit::SKIP;
            }
            visit = self
                .m
                .nodes
                .get(visit.node as usize)
                .map_or(Visit::SKIP, |c| c.get(Key::new(piece)));
        }
        Visit {
            slot: NO_SLOT,
            ..visit
        }
    }
}

impl Sink for MatchSink<'_, '_> {
    fn root(&mut self) -> Visit {
        self.m.root
    }

    const NEEDS_PATH: bool = false;

    #[inline(always)]
    fn visit(&mut self, parent: &Visit, key: Key<'_>, _path: &[u8]) -> Visit {
        let Some(children) = self.m.nodes.get(parent.node as usize) else {
            return Visit::SKIP;
        };
        let visit = children.get(key);
        // Child names never contain a dot, so a found key is a plain one. A dotted key
        // can only lead somewhere when it starts with a child that is an object path.
        if visit.live() || !children.may_reach(key.text) {
            return visit;
        }
        self.dotted(parent, key.text)
    }

    #[inline]
    fn value(&mut self, id: u32, value: Value<'_>, trail: &[ArrayPos]) {
        let m = self.m;
        let s = &mut *self.s;
        let Some(field) = m.fields.get(id as usize) else {
            return;
        };
        let epoch = s.epoch;
        if field.presence_refs > 0 {
            s.path_stamp[id as usize] = epoch;
        }
        let mut trail_range: Option<(u32, u32)> = None;
        if field.recorded_refs > 0 && !s.values_given {
            let start = s.recorded_text.len() as u32;
            let kind = match value {
                Value::Str(t) => {
                    s.recorded_text.extend_from_slice(t);
                    RecordedKind::Str
                }
                Value::Num(t) => {
                    s.recorded_text.extend_from_slice(t);
                    RecordedKind::Num
                }
                Value::True => RecordedKind::True,
                Value::False => RecordedKind::False,
                Value::Null => RecordedKind::Null,
            };
            let trail_at = s.trails.len() as u32;
            s.trails.extend_from_slice(trail);
            let range = (trail_at, trail.len() as u32);
            trail_range = Some(range);
            s.recorded.push(Recorded {
                path: id,
                kind,
                text: (start, s.recorded_text.len() as u32),
                trail: range,
            });
        }
        // Each satisfied condition is stamped and counted as it is found (a condition
        // may be reported more than once; only its first report counts).
        let State {
            fold,
            cond_state,
            sub_state,
            complete,
            hits,
            trails,
            ..
        } = s;
        let mut counter = Counter {
            epoch,
            trail,
            trail_range,
            conds: &m.conds,
            cond_state,
            sub_state,
            complete,
            hits,
            trails,
        };
        let mut emit = |cond: u32| counter.hit(cond);
        field.collect(value, fold, &mut emit);
    }
}

/// Stamps and counts the conditions one value satisfies.
struct Counter<'a> {
    epoch: u32,
    trail: &'a [ArrayPos],
    /// The value's trail in `trails`, once stored.
    trail_range: Option<(u32, u32)>,
    conds: &'a [Cond],
    cond_state: &'a mut [CondState],
    sub_state: &'a mut [u64],
    complete: &'a mut Vec<u32>,
    hits: &'a mut Vec<Hit>,
    trails: &'a mut Vec<ArrayPos>,
}

impl Counter<'_> {
    #[inline(always)]
    fn hit(&mut self, cond: u32) {
        let epoch = self.epoch;
        let Some(state) = self.cond_state.get_mut(cond as usize) else {
            return;
        };
        if self.trail.is_empty() {
            state.free = epoch;
        } else {
            let (trail, trails) = (self.trail, &mut *self.trails);
            let (start, len) = *self.trail_range.get_or_insert_with(|| {
                let start = trails.len() as u32;
                trails.extend_from_slice(trail);
                (start, trail.len() as u32)
            });
            self.hits.push(Hit { cond, start, len });
        }
        if state.seen == epoch {
            return;
        }
        state.seen = epoch;
        let Some(&info) = self.conds.get(cond as usize) else {
            return;
        };
        if info.need == 0 {
            return;
        }
        let Some(sub) = self.sub_state.get_mut(info.subrule as usize) else {
            return;
        };
        let count = if (*sub >> 32) as u32 == epoch {
            (*sub as u32) + 1
        } else {
            1
        };
        *sub = (u64::from(epoch) << 32) | u64::from(count);
        if count == info.need {
            self.complete.push(info.subrule);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::pattern::reference_matches;

    /// Every rule's verdict, from the matcher (both checks) and from the reference.
    fn check(rules: &[(&str, &str)], events: &[&str]) {
        let mut m = Matcher::new();
        for (name, p) in rules {
            m.add_rule(name, p).unwrap();
        }
        let mut scratch = Scratch::default();
        for event in events {
            let mut want: Vec<&str> = rules
                .iter()
                .filter(|(_, p)| {
                    let p = Pattern::parse(p).unwrap();
                    reference_matches(&p, event.as_bytes()).unwrap()
                })
                .map(|(name, _)| *name)
                .collect();
            want.sort_unstable();
            assert_eq!(m.matches(event.as_bytes()).unwrap(), want, "{event}");
            let mut ids = Vec::new();
            m.matches_with(event.as_bytes(), &mut scratch, &mut ids)
                .unwrap();
            let mut got: Vec<&str> = ids.iter().map(|&id| m.rule_name(id)).collect();
            got.sort_unstable();
            assert_eq!(got, want, "{event}");
        }
    }

    /// Values handed over by an event's writer match as scanning its text does, for
    /// deferred conditions of every kind (each sub-rule has a selective exact anchor).
    #[test]
    fn given_values_match_as_scanning_does() {
        let rules = [
            (
                "num",
                r#"{"detail-type": ["A"], "source": [{"prefix": "sv"}], "detail": {"n": [{"numeric": [">", 3]}]}}"#,
            ),
            (
                "but",
                r#"{"detail-type": ["A"], "detail": {"s": [{"anything-but": ["x"]}]}}"#,
            ),
            (
                "exists",
                r#"{"detail-type": ["A"], "detail": {"s": [{"exists": true}]}}"#,
            ),
            (
                "absent",
                r#"{"detail-type": ["A"], "detail": {"b": [{"exists": false}]}}"#,
            ),
            (
                "range-and-true",
                r#"{"detail-type": ["B"], "detail": {"n": [{"numeric": ["<", 5]}], "b": [true]}}"#,
            ),
            (
                "values",
                r#"{"detail-type": ["A", "B"], "detail": {"s": ["x", "y"], "n": [1, 2]}}"#,
            ),
            (
                "suffix",
                r#"{"detail-type": ["B"], "detail": {"s": [{"suffix": "y"}]}}"#,
            ),
            (
                "caseless",
                r#"{"detail-type": ["A"], "detail": {"s": [{"equals-ignore-case": "X"}]}}"#,
            ),
            (
                "either",
                r#"{"$or": [{"detail-type": ["B"], "detail": {"b": [false]}}, {"source": ["x"], "detail-type": ["C"]}]}"#,
            ),
        ];
        let mut m = Matcher::new();
        for (name, p) in rules {
            m.add_rule(name, p).unwrap();
        }
        let leaves: BTreeMap<String, u32> = m.leaf_paths().into_iter().collect();
        let mut scratch = Scratch::default();
        let (mut checked, mut matched) = (0, 0);
        for dt in ["A", "B", "C"] {
            for source in ["svc", "x"] {
                for n in ["-1", "1", "1.0", "2e0", "3", "4", "4.5", "6", "10", ""] {
                    for text in ["x", "y", "X", "", "-"] {
                        for b in ["true", "false", "\"true\"", ""] {
                            let mut event = format!(
                                r#"{{"detail-type":"{dt}","source":"{source}","detail":{{"#
                            );
                            let mut values = Vec::new();
                            let mut push = |path: &str, value: Value<'static>| {
                                if let Some(&id) = leaves.get(path) {
                                    values.push((id, value));
                                }
                            };
                            push("detail-type", Value::Str(dt.as_bytes()));
                            push("source", Value::Str(source.as_bytes()));
                            let mut members = Vec::new();
                            if !n.is_empty() {
                                members.push(format!(r#""n":{n}"#));
                                push("detail.n", Value::Num(n.as_bytes()));
                            }
                            if text != "-" {
                                members.push(format!(r#""s":"{text}""#));
                                push("detail.s", Value::Str(text.as_bytes()));
                            }
                            match b {
                                "" => {}
                                "true" => push("detail.b", Value::True),
                                "false" => push("detail.b", Value::False),
                                _ => push("detail.b", Value::Str(b"true")),
                            }
                            if !b.is_empty() {
                                members.push(format!(r#""b":{b}"#));
                            }
                            event.push_str(&members.join(","));
                            event.push_str("}}");
                            matched += verdicts_agree(&m, &event, &values, &mut scratch).len();
                            checked += 1;
                        }
                    }
                }
            }
        }
        assert_eq!(checked, 1200);
        assert!(matched > 600, "{matched}");
    }

    /// The rules matching given `values`, sorted, after checking that the index and
    /// [`DirectRules`] agree on them.
    fn given_both_ways(
        m: &Matcher,
        values: &[(u32, Value<'_>)],
        scratch: &mut Scratch,
    ) -> Vec<RuleId> {
        let mut indexed = Vec::new();
        m.matches_values_indexed(values, scratch, &mut indexed);
        indexed.sort_unstable_by_key(|id| id.index());
        let mut direct = Vec::new();
        m.direct_rules(usize::MAX)
            .expect("every path is known")
            .for_each_match(values, |id| direct.push(id));
        assert_eq!(direct, indexed, "direct and indexed verdicts differ");
        indexed
    }

    /// The rules matching `event`, sorted, after checking that scanning its text and
    /// the `values` its writer would hand over (both ways) agree on them.
    fn verdicts_agree(
        m: &Matcher,
        event: &str,
        values: &[(u32, Value<'_>)],
        scratch: &mut Scratch,
    ) -> Vec<RuleId> {
        let mut scanned = Vec::new();
        m.matches_with(event.as_bytes(), scratch, &mut scanned)
            .unwrap_or_else(|e| panic!("{event}: {e}"));
        scanned.sort_unstable_by_key(|id| id.index());
        let given = given_both_ways(m, values, scratch);
        assert_eq!(given, scanned, "{event}");
        given
    }

    /// A pattern or event object from dotted paths and their JSON texts.
    fn nest(fields: &[(&str, String)]) -> String {
        let mut top = Vec::new();
        let mut detail = Vec::new();
        for (path, text) in fields {
            match path.strip_prefix("detail.") {
                Some(key) => detail.push(format!(r#""{key}": {text}"#)),
                None => top.push(format!(r#""{path}": {text}"#)),
            }
        }
        if !detail.is_empty() {
            top.push(format!(r#""detail": {{{}}}"#, detail.join(", ")));
        }
        format!("{{{}}}", top.join(", "))
    }

    /// Random rule sets and events over a few paths: values handed over match as
    /// scanning does, through the index and directly, for every operator kind,
    /// `$or`, absence and optional fields, and values of every type.
    #[test]
    fn given_values_match_directly_as_scanning_does() {
        use rand::seq::IndexedRandom;
        use rand::{Rng, SeedableRng};
        const PATHS: [&str; 5] = ["source", "detail-type", "detail.n", "detail.s", "detail.b"];
        const ALTERNATIVES: [&str; 23] = [
            r#""a""#,
            r#""ab""#,
            r#""B""#,
            r#""""#,
            "1",
            "2.0",
            "true",
            "false",
            "null",
            r#"{"prefix": "a"}"#,
            r#"{"suffix": "b"}"#,
            r#"{"equals-ignore-case": "AB"}"#,
            r#"{"wildcard": "a*"}"#,
            r#"{"anything-but": ["a", "ab"]}"#,
            r#"{"anything-but": {"prefix": "a"}}"#,
            r#"{"anything-but": [1, 2]}"#,
            r#"{"numeric": [">", 1]}"#,
            r#"{"numeric": [">=", 0, "<", 2]}"#,
            r#"{"exists": true}"#,
            r#"{"exists": false}"#,
            r#"{"cidr": "10.0.0.0/8"}"#,
            r#"{"prefix": {"equals-ignore-case": "A"}}"#,
            // More digits than a canonical decimal key takes: found by spelling only.
            "1.000000000000000000000000000000000000000000000",
        ];
        const VALUES: [&str; 15] = [
            r#""a""#,
            r#""ab""#,
            r#""AB""#,
            r#""b""#,
            r#""""#,
            r#""10.1.2.3""#,
            "1",
            "1.0",
            "2",
            "-3",
            "1e0",
            "true",
            "false",
            "null",
            "1.000000000000000000000000000000000000000000000",
        ];
        type Rng64 = rand_pcg::Pcg64;
        fn branch(rng: &mut Rng64) -> String {
            let mut fields: Vec<(&str, String)> = Vec::new();
            for _ in 0..rng.random_range(1..=3) {
                let path = PATHS.choose(rng).copied().unwrap_or("source");
                let alternatives: Vec<&str> = (0..rng.random_range(1..=3))
                    .filter_map(|_| ALTERNATIVES.choose(rng).copied())
                    .collect();
                if !fields.iter().any(|(p, _)| *p == path) {
                    fields.push((path, format!("[{}]", alternatives.join(", "))));
                }
            }
            nest(&fields)
        }
        let mut rng = Rng64::seed_from_u64(11);
        let mut scratch = Scratch::default();
        let (mut checked, mut matched) = (0, 0);
        for _ in 0..300 {
            let mut m = Matcher::new();
            for r in 0..rng.random_range(1..=5) {
                let pattern = if rng.random_bool(0.2) {
                    format!(r#"{{"$or": [{}, {}]}}"#, branch(&mut rng), branch(&mut rng))
                } else {
                    branch(&mut rng)
                };
                m.add_rule(&format!("r{r}"), &pattern)
                    .unwrap_or_else(|e| panic!("{pattern}: {e}"));
            }
            let leaves: BTreeMap<String, u32> = m.leaf_paths().into_iter().collect();
            for _ in 0..40 {
                let mut present: Vec<(&str, &str)> = Vec::new();
                for path in PATHS {
                    if rng.random_bool(0.75) {
                        present.push((path, VALUES.choose(&mut rng).copied().unwrap_or("1")));
                    }
                }
                let fields: Vec<(&str, String)> =
                    present.iter().map(|&(p, v)| (p, v.to_string())).collect();
                let event = nest(&fields);
                let values: Vec<(u32, Value<'_>)> = present
                    .iter()
                    .filter_map(|&(path, text)| {
                        let id = *leaves.get(path)?;
                        let value = match text {
                            "true" => Value::True,
                            "false" => Value::False,
                            "null" => Value::Null,
                            t if t.starts_with('"') => Value::Str(t.trim_matches('"').as_bytes()),
                            t => Value::Num(t.as_bytes()),
                        };
                        Some((id, value))
                    })
                    .collect();
                matched += verdicts_agree(&m, &event, &values, &mut scratch).len();
                checked += 1;
            }
        }
        assert_eq!(checked, 12_000);
        assert!(matched > 2_000, "{matched}");
    }

    #[test]
    fn conditions_deferred_behind_an_exact_value() {
        // `kind` is a selective exact value: the other conditions are deferred and
        // checked against the values recorded at their paths.
        let rules = [
            ("num", r#"{"kind": ["A"], "n": [{"numeric": [">", 10]}]}"#),
            ("pre", r#"{"kind": ["A"], "s": [{"prefix": "ab"}]}"#),
            ("suf", r#"{"kind": ["A"], "s": [{"suffix": "yz"}]}"#),
            (
                "but",
                r#"{"kind": ["A"], "s": [{"anything-but": ["abc"]}]}"#,
            ),
            ("ex", r#"{"kind": ["A"], "s": [{"exists": true}]}"#),
            ("gone", r#"{"kind": ["A"], "s": [{"exists": false}]}"#),
            (
                "opt",
                r#"{"kind": ["A"], "s": [{"exists": false}, {"prefix": "ab"}]}"#,
            ),
            (
                "mix",
                r#"{"kind": ["A"], "s": [{"prefix": "q"}, "abc"], "n": [{"numeric": ["<=", 3]}]}"#,
            ),
            (
                "nested",
                r#"{"kind": ["A"], "o": {"a": [{"prefix": "x"}], "b": [{"numeric": ["=", 1]}]}}"#,
            ),
            (
                "arr",
                r#"{"kind": ["A"], "items": {"sku": [{"prefix": "S"}], "qty": [{"numeric": [">", 5]}]}}"#,
            ),
        ];
        let events = [
            r#"{"kind": "A", "n": 11, "s": "abc"}"#,
            r#"{"kind": "A", "n": 10, "s": "xyz"}"#,
            r#"{"kind": "B", "n": 11, "s": "abyz"}"#,
            r#"{"kind": "A"}"#,
            r#"{"kind": "A", "n": "11", "s": 12}"#,
            r#"{"kind": "A", "n": 1e2, "s": null}"#,
            r#"{"kind": "A", "n": 11.5, "s": ""}"#,
            r#"{"kind": "A", "n": [1, 20], "s": ["abc", "zyz", "abyz"]}"#,
            r#"{"kind": "A", "n": [3], "s": ["q1"]}"#,
            r#"{"kind": ["B", "A"], "n": [], "s": []}"#,
            r#"{"kind": "A", "o": {"a": "xx", "b": 1.0}}"#,
            r#"{"kind": "A", "o": [{"a": "xx", "b": 2}, {"a": "y", "b": 1}]}"#,
            r#"{"kind": "A", "o": [{"a": "y", "b": 2}, {"a": "xx", "b": 1}]}"#,
            r#"{"kind": "A", "items": [{"sku": "S1", "qty": 1}, {"sku": "T", "qty": 9}]}"#,
            r#"{"kind": "A", "items": [{"sku": "S1", "qty": 1}, {"sku": "S2", "qty": 9}]}"#,
            r#"{"kind": "A", "items": [{"sku": ["T", "S"], "qty": [9]}]}"#,
            r#"{"kind": "A", "s": "ab\u00e9", "n": -0}"#,
            r#"{"kind": "A", "s": "\u00e9ab", "n": 12345678901234567890}"#,
        ];
        check(&rules, &events);
    }

    #[test]
    fn shared_prefix_deferred_in_either_rule_order() {
        // A prefix many rules share, and a range matching most values: deferred in
        // every rule that has a selective exact value, whichever was added first.
        let mut rules: Vec<(String, String)> = (0..20)
            .map(|i| {
                (
                    format!("r{i:02}"),
                    format!(
                        r#"{{"source": [{{"prefix": "svc."}}], "type": ["T{i}"], "n": [{{"numeric": [">", {i}]}}]}}"#
                    ),
                )
            })
            .collect();
        rules.push(("any".into(), r#"{"source": [{"prefix": "svc."}]}"#.into()));
        let events = [
            r#"{"source": "svc.a", "type": "T3", "n": 4}"#,
            r#"{"source": "svc.a", "type": "T3", "n": 3}"#,
            r#"{"source": "other", "type": "T3", "n": 40}"#,
            r#"{"source": ["x", "svc.b"], "type": ["T19", "T2"], "n": [1, 20]}"#,
        ];
        let refs: Vec<(&str, &str)> = rules
            .iter()
            .map(|(n, p)| (n.as_str(), p.as_str()))
            .collect();
        check(&refs, &events);
        let reversed: Vec<(&str, &str)> = refs.iter().rev().copied().collect();
        check(&reversed, &events);
    }
}
