//! Per-field indexes: given one event value at a path, which conditions does it satisfy?
//!
//! Every operator kind has a structure whose cost depends on the value, not on how many
//! rules use the field: hash maps for exact strings, numbers and folded case; maps keyed
//! by length for prefixes, suffixes and the literal ends of wildcards; a precomputed
//! partition of the number line for ranges; an exclusion map for `anything-but`.

use rustc_hash::FxHashMap;

use super::ast::{Excluded, Literal, NumRange, Op};
use super::flatten::Value;
use super::ip::{IpRange, parse_ip};
use super::number;
use super::text::{Caseless, Glob, fold_into};

/// Items keyed by a byte string, grouped by the string's length so a value can be
/// probed with one hash lookup per distinct length.
/// Items sharing one key length, keyed by the key bytes.
type SameLength<T> = FxHashMap<Box<[u8]>, Vec<T>>;

#[derive(Debug)]
struct ByLength<T> {
    groups: Vec<(usize, SameLength<T>)>,
}

impl<T> Default for ByLength<T> {
    fn default() -> Self {
        ByLength { groups: Vec::new() }
    }
}

impl<T> ByLength<T> {
    fn insert(&mut self, key: &[u8], item: T) {
        let at = match self
            .groups
            .binary_search_by_key(&key.len(), |(len, _)| *len)
        {
            Ok(at) => at,
            Err(at) => {
                self.groups.insert(at, (key.len(), FxHashMap::default()));
                at
            }
        };
        self.groups[at].1.entry(key.into()).or_default().push(item);
    }

    /// Items whose key is a prefix of `value`.
    #[inline]
    fn prefixes_of<'a>(&'a self, value: &'a [u8]) -> impl Iterator<Item = &'a T> + 'a {
        self.groups
            .iter()
            .take_while(move |(len, _)| *len <= value.len())
            .filter_map(move |(len, map)| map.get(&value[..*len]))
            .flatten()
    }

    /// Items whose key is a suffix of `value`.
    #[inline]
    fn suffixes_of<'a>(&'a self, value: &'a [u8]) -> impl Iterator<Item = &'a T> + 'a {
        self.groups
            .iter()
            .take_while(move |(len, _)| *len <= value.len())
            .filter_map(move |(len, map)| map.get(&value[value.len() - *len..]))
            .flatten()
    }

    fn is_empty(&self) -> bool {
        self.groups.is_empty()
    }
}

/// Numeric ranges: the number line cut at every bound, each piece listing the
/// conditions whose range covers it.
#[derive(Debug, Default)]
struct RangeIndex {
    ranges: Vec<(NumRange, u32)>,
    bounds: Vec<f64>,
    /// Piece `2i` is the open interval below `bounds[i]`, piece `2i+1` is `bounds[i]`.
    offsets: Vec<u32>,
    covering: Vec<u32>,
    /// Too many overlaps to precompute: test every range.
    linear: bool,
}

const RANGE_INDEX_BUDGET: usize = 4_000_000;

impl RangeIndex {
    fn rebuild(&mut self) {
        let mut bounds: Vec<f64> = self
            .ranges
            .iter()
            .flat_map(|(r, _)| [r.low.map(|b| b.value), r.high.map(|b| b.value)])
            .flatten()
            .collect();
        bounds.sort_by(f64::total_cmp);
        bounds.dedup();
        let pieces = 2 * bounds.len() + 1;
        let position = |v: f64| bounds.partition_point(|b| *b < v);
        let span = |r: &NumRange| {
            let first = match r.low {
                None => 0,
                Some(b) => 2 * position(b.value) + if b.inclusive { 1 } else { 2 },
            };
            let last = match r.high {
                None => pieces - 1,
                Some(b) => 2 * position(b.value) + usize::from(b.inclusive),
            };
            (first, last)
        };
        let total: usize = self
            .ranges
            .iter()
            .map(|(r, _)| {
                let (a, b) = span(r);
                (b + 1).saturating_sub(a)
            })
            .sum();
        self.linear = total > RANGE_INDEX_BUDGET;
        self.offsets.clear();
        self.covering.clear();
        if self.linear {
            self.bounds = bounds;
            return;
        }
        // Pieces covered by each range (empty when a range covers nothing).
        let covered = |r: &NumRange| {
            let (a, b) = span(r);
            a..(b + 1).min(pieces)
        };
        let mut counts = vec![0u32; pieces + 1];
        for (r, _) in &self.ranges {
            for piece in covered(r) {
                counts[piece + 1] += 1;
            }
        }
        for i in 1..counts.len() {
            counts[i] += counts[i - 1];
        }
        let mut fill = counts.clone();
        self.covering.resize(total, 0);
        for (r, cond) in &self.ranges {
            for piece in covered(r) {
                self.covering[fill[piece] as usize] = *cond;
                fill[piece] += 1;
            }
        }
        self.offsets = counts;
        self.bounds = bounds;
    }

    #[inline]
    fn query(&self, v: f64, emit: &mut impl FnMut(u32)) {
        if self.ranges.is_empty() {
            return;
        }
        if self.linear {
            for (r, cond) in &self.ranges {
                if r.contains(v) {
                    emit(*cond);
                }
            }
            return;
        }
        let i = self.bounds.partition_point(|b| *b < v);
        let piece = if self.bounds.get(i) == Some(&v) {
            2 * i + 1
        } else {
            2 * i
        };
        let (Some(&start), Some(&end)) = (self.offsets.get(piece), self.offsets.get(piece + 1))
        else {
            return;
        };
        for &cond in &self.covering[start as usize..end as usize] {
            emit(cond);
        }
    }
}

/// The index of one event path.
#[derive(Debug, Default)]
pub(crate) struct FieldIndex {
    /// Every registered (condition, operator), the source the rest is built from.
    ops: Vec<(u32, Op)>,
    /// Exact strings by their bytes (event text is compared without building a `&str`).
    strings: FxHashMap<Box<[u8]>, Vec<u32>>,
    raw_numbers: FxHashMap<Box<[u8]>, Vec<u32>>,
    /// Comparable numbers by [`number::decimal_key`].
    numbers: FxHashMap<Box<[u8]>, Vec<u32>>,
    literals: [Vec<u32>; 3],
    ips: Vec<(IpRange, u32)>,
    prefixes: ByLength<u32>,
    suffixes: ByLength<u32>,
    caseless: FxHashMap<Box<str>, Vec<(u32, Caseless)>>,
    /// Case-insensitive operators checked one by one.
    caseless_other: Vec<(u32, Op)>,
    wild_heads: ByLength<(u32, Glob)>,
    wild_tails: ByLength<(u32, Glob)>,
    wild_other: Vec<(u32, Glob)>,
    ranges: RangeIndex,
    exists: Vec<u32>,
    exists_not_null: Vec<u32>,
    /// anything-but entries: (condition, exclusion kind).
    but: Vec<(u32, Excluded)>,
    /// The condition of each anything-but entry (parallel to `but`).
    but_conds: Vec<u32>,
    but_strings: FxHashMap<Box<[u8]>, Vec<u32>>,
    but_numbers: FxHashMap<u64, Vec<u32>>,
    /// Entries whose exclusion must be tested (prefix, suffix, case, wildcard).
    but_checked: Vec<u32>,
    /// How many conditions need to know whether the path is present at all.
    pub(crate) presence_refs: u32,
    /// How many deferred conditions need this path's values kept for later checks.
    pub(crate) recorded_refs: u32,
    wants_value_of_numbers: bool,
}

fn literal_slot(l: Literal) -> usize {
    match l {
        Literal::True => 0,
        Literal::False => 1,
        Literal::Null => 2,
    }
}

impl FieldIndex {
    /// Registers `op` as satisfying condition `cond`.
    pub(crate) fn insert(&mut self, cond: u32, op: &Op) {
        self.ops.push((cond, op.clone()));
        self.index(cond, op);
        if matches!(op, Op::Numeric(_)) {
            self.ranges.rebuild();
        }
    }

    fn index(&mut self, cond: u32, op: &Op) {
        match op {
            Op::ExactString(s) => self
                .strings
                .entry(s.as_bytes().into())
                .or_default()
                .push(cond),
            Op::ExactIp(range) | Op::Cidr(range) => self.ips.push((*range, cond)),
            Op::ExactNumber { raw, value } => {
                // A comparable number is found by value (which covers its own spelling);
                // any other only by its spelling.
                match number::decimal_key(raw, &mut [0u8; 64]).filter(|_| value.is_some()) {
                    Some(key) => self.numbers.entry(key.into()).or_default().push(cond),
                    None => self
                        .raw_numbers
                        .entry(raw.as_bytes().into())
                        .or_default()
                        .push(cond),
                }
            }
            Op::Literal(l) => self.literals[literal_slot(*l)].push(cond),
            Op::Prefix(p) => self.prefixes.insert(p.as_bytes(), cond),
            Op::Suffix(p) => self.suffixes.insert(p.as_bytes(), cond),
            Op::Caseless(c) => match c.key() {
                Some(key) => self
                    .caseless
                    .entry(key.into())
                    .or_default()
                    .push((cond, c.clone())),
                None => self.caseless_other.push((cond, op.clone())),
            },
            Op::PrefixCaseless(_) | Op::SuffixCaseless(_) => {
                self.caseless_other.push((cond, op.clone()))
            }
            Op::Wildcard(g) => {
                if !g.head().is_empty() {
                    self.wild_heads
                        .insert(g.head().as_bytes(), (cond, g.clone()));
                } else if !g.tail().is_empty() {
                    self.wild_tails
                        .insert(g.tail().as_bytes(), (cond, g.clone()));
                } else {
                    self.wild_other.push((cond, g.clone()));
                }
            }
            Op::Numeric(r) => {
                self.ranges.ranges.push((*r, cond));
                self.wants_value_of_numbers = true;
            }
            Op::Exists => self.exists.push(cond),
            Op::ExistsNotNull => self.exists_not_null.push(cond),
            Op::AnythingBut(excluded) => {
                let entry = self.but.len() as u32;
                self.but.push((cond, excluded.clone()));
                self.but_conds.push(cond);
                match excluded {
                    Excluded::Strings(set) => {
                        for s in set {
                            self.but_strings
                                .entry(s.as_bytes().into())
                                .or_default()
                                .push(entry);
                        }
                    }
                    Excluded::Numbers(set) => {
                        for k in set {
                            self.but_numbers.entry(*k).or_default().push(entry);
                        }
                        self.wants_value_of_numbers = true;
                    }
                    _ => self.but_checked.push(entry),
                }
            }
        }
    }

    /// How many conditions already use the exact value of `op` (0 for other operators).
    pub(crate) fn sharing(&self, op: &Op) -> usize {
        match op {
            Op::ExactString(s) => self.strings.get(s.as_bytes()).map_or(0, Vec::len),
            Op::ExactNumber { raw, .. } => {
                let by_value =
                    number::decimal_key(raw, &mut [0u8; 64]).and_then(|k| self.numbers.get(k));
                by_value
                    .or_else(|| self.raw_numbers.get(raw.as_bytes()))
                    .map_or(0, Vec::len)
            }
            // Prefixes, suffixes, ranges...: the same operator used by many rules (a
            // `source` prefix every rule of a bus shares) is as common as a shared value.
            _ => self.ops.iter().filter(|(_, o)| o == op).count(),
        }
    }

    /// Removes every operator of the given conditions and rebuilds the index.
    pub(crate) fn remove(&mut self, conds: &[u32]) {
        let ops = std::mem::take(&mut self.ops);
        let presence_refs = self.presence_refs;
        let recorded_refs = self.recorded_refs;
        *self = FieldIndex {
            presence_refs,
            recorded_refs,
            ..FieldIndex::default()
        };
        for (cond, op) in ops {
            if !conds.contains(&cond) {
                self.ops.push((cond, op.clone()));
                self.index(cond, &op);
            }
        }
        self.ranges.rebuild();
    }

    /// Calls `emit` with every condition the value satisfies (a condition may repeat).
    #[inline]
    pub(crate) fn collect(&self, value: Value<'_>, fold: &mut String, emit: &mut impl FnMut(u32)) {
        match value {
            Value::Str(s) => self.collect_string(s, fold, emit),
            Value::Num(raw) => self.collect_number(raw, emit),
            Value::True => self.collect_literal(Literal::True, emit),
            Value::False => self.collect_literal(Literal::False, emit),
            Value::Null => self.collect_literal(Literal::Null, emit),
        }
        for &cond in &self.exists {
            emit(cond);
        }
        // `Op::ExistsNotNull`: anything but `null` and the empty string.
        if !self.exists_not_null.is_empty() && !matches!(value, Value::Null | Value::Str(b"")) {
            for &cond in &self.exists_not_null {
                emit(cond);
            }
        }
        if !self.but.is_empty() {
            self.collect_anything_but(value, emit);
        }
    }

    fn collect_literal(&self, l: Literal, emit: &mut impl FnMut(u32)) {
        for &cond in &self.literals[literal_slot(l)] {
            emit(cond);
        }
    }

    fn collect_number(&self, raw: &[u8], emit: &mut impl FnMut(u32)) {
        if !self.raw_numbers.is_empty()
            && let Some(conds) = self.raw_numbers.get(raw)
        {
            conds.iter().for_each(|&c| emit(c));
        }
        // Whether the spelling is exactly a double is only worked out when some
        // condition would take the value.
        // A plain decimal is exact and its value needs no general float parsing.
        let plain = number::plain_decimal_bytes(raw);
        if self.numbers.is_empty() && !self.wants_value_of_numbers {
            return;
        }
        // Number text is ASCII: this check does not fail.
        let raw = std::str::from_utf8(raw).unwrap_or("0");
        let mut exact = plain.map(|_| true);
        let mut is_exact = || {
            *exact
                .get_or_insert_with(|| number::parse(raw).is_some_and(|v| number::is_exact(raw, v)))
        };
        if !self.numbers.is_empty()
            && let Some(key) = number::decimal_key(raw, &mut [0u8; 64])
            && let Some(conds) = self.numbers.get(key)
            && is_exact()
        {
            conds.iter().for_each(|&c| emit(c));
        }
        if !self.wants_value_of_numbers {
            return;
        }
        let Some(v) = plain.or_else(|| number::parse(raw)) else {
            return;
        };
        let mut gated = |cond| {
            if is_exact() {
                emit(cond);
            }
        };
        self.ranges.query(v, &mut gated);
    }

    fn collect_string(&self, bytes: &[u8], fold: &mut String, emit: &mut impl FnMut(u32)) {
        if !self.strings.is_empty()
            && let Some(conds) = self.strings.get(bytes)
        {
            conds.iter().for_each(|&c| emit(c));
        }
        if !self.prefixes.is_empty() {
            self.prefixes.prefixes_of(bytes).for_each(|&c| emit(c));
        }
        if !self.suffixes.is_empty() {
            self.suffixes.suffixes_of(bytes).for_each(|&c| emit(c));
        }
        if self.caseless.is_empty()
            && self.caseless_other.is_empty()
            && self.wild_heads.is_empty()
            && self.wild_tails.is_empty()
            && self.wild_other.is_empty()
            && self.ips.is_empty()
        {
            return;
        }
        // The scan reports valid UTF-8 only: this check does not fail.
        let s = std::str::from_utf8(bytes).unwrap_or_default();
        if !self.caseless.is_empty() {
            fold_into(s, fold);
            if let Some(candidates) = self.caseless.get(fold.as_str()) {
                for (cond, c) in candidates {
                    if c.matches(s) {
                        emit(*cond);
                    }
                }
            }
        }
        for (cond, op) in &self.caseless_other {
            if op.matches(&super::ast::Scalar::Str(s.into())) {
                emit(*cond);
            }
        }
        if !self.wild_heads.is_empty() {
            for (cond, glob) in self.wild_heads.prefixes_of(bytes) {
                if glob.matches(s) {
                    emit(*cond);
                }
            }
        }
        if !self.wild_tails.is_empty() {
            for (cond, glob) in self.wild_tails.suffixes_of(bytes) {
                if glob.matches(s) {
                    emit(*cond);
                }
            }
        }
        for (cond, glob) in &self.wild_other {
            if glob.matches(s) {
                emit(*cond);
            }
        }
        if !self.ips.is_empty()
            && let Some(ip) = parse_ip(s)
        {
            for (range, cond) in &self.ips {
                if range.contains(ip) {
                    emit(*cond);
                }
            }
        }
    }

    fn collect_anything_but(&self, value: Value<'_>, emit: &mut impl FnMut(u32)) {
        // Entries (not conditions) are excluded: one condition may hold two anything-buts.
        let mut excluded: smallvec_lite::Small = smallvec_lite::Small::default();
        match value {
            Value::Str(s) => {
                if !self.but_strings.is_empty()
                    && let Some(entries) = self.but_strings.get(s)
                {
                    entries.iter().for_each(|&e| excluded.push(e));
                }
                if !self.but_checked.is_empty() {
                    let scalar = value.to_scalar();
                    for &entry in &self.but_checked {
                        if let Some((_, exclusion)) = self.but.get(entry as usize)
                            && exclusion.excludes(&scalar)
                        {
                            excluded.push(entry);
                        }
                    }
                }
            }
            Value::Num(raw) if !self.but_numbers.is_empty() => {
                let raw = std::str::from_utf8(raw).unwrap_or("0");
                if let Some(v) = number::plain_integer(raw).or_else(|| number::parse(raw))
                    && let Some(entries) = self.but_numbers.get(&number::key(v))
                    && number::is_exact(raw, v)
                {
                    entries.iter().for_each(|&e| excluded.push(e));
                }
            }
            _ => {}
        }
        if excluded.is_empty() {
            self.but_conds.iter().for_each(|&c| emit(c));
            return;
        }
        for (entry, &cond) in self.but_conds.iter().enumerate() {
            if !excluded.contains(entry as u32) {
                emit(cond);
            }
        }
    }
}

/// An exact number condition (`raw` as the pattern writes it, `comparable` when it has
/// an exact double form) against an event's number, exactly as the index finds it: by
/// value — equal canonical decimal keys, the event's spelling exact — when the pattern's
/// number has a key, otherwise by spelling. (`Op::matches` compares doubles instead, and
/// differs for numbers with more than 42 digits, which have no key.)
fn exact_number_matches(raw: &str, comparable: bool, event: &[u8]) -> bool {
    let mut pattern_key = [0u8; 64];
    match number::decimal_key(raw, &mut pattern_key).filter(|_| comparable) {
        Some(key) => {
            // Number text is ASCII: this check does not fail.
            let event = std::str::from_utf8(event).unwrap_or("");
            number::decimal_key(event, &mut [0u8; 64]) == Some(key)
                && number::comparable(event).is_some()
        }
        None => raw.as_bytes() == event,
    }
}

/// [`Op::matches`] for a value as the scan reports it: the common operators compare
/// bytes directly; the rest go through [`Value::to_scalar`].
#[inline]
pub(crate) fn op_matches(op: &Op, value: Value<'_>) -> bool {
    match (op, value) {
        (Op::ExactString(s), Value::Str(v)) => s.as_bytes() == v,
        (Op::Prefix(p), Value::Str(v)) => v.starts_with(p.as_bytes()),
        (Op::Suffix(p), Value::Str(v)) => v.ends_with(p.as_bytes()),
        (Op::Exists, _) => true,
        (Op::ExistsNotNull, v) => !matches!(v, Value::Null | Value::Str(b"")),
        (Op::ExactNumber { raw, value }, Value::Num(v)) => {
            exact_number_matches(raw, value.is_some(), v)
        }
        (Op::Numeric(range), Value::Num(raw)) => match number::plain_decimal_bytes(raw) {
            Some(v) => range.contains(v),
            None => {
                // `comparable(raw)` in range; exactness (the costly part) is only worked
                // out for values in range.
                let raw = std::str::from_utf8(raw).unwrap_or("0");
                number::parse(raw).is_some_and(|v| range.contains(v) && number::is_exact(raw, v))
            }
        },
        (Op::AnythingBut(Excluded::Strings(set)), Value::Str(v)) => {
            !set.iter().any(|x| x.as_bytes() == v)
        }
        (Op::AnythingBut(Excluded::Prefixes(list)), Value::Str(v)) => {
            !list.iter().any(|p| v.starts_with(p.as_bytes()))
        }
        (Op::AnythingBut(Excluded::Suffixes(list)), Value::Str(v)) => {
            !list.iter().any(|p| v.ends_with(p.as_bytes()))
        }
        (
            Op::ExactString(_)
            | Op::Prefix(_)
            | Op::Suffix(_)
            | Op::AnythingBut(Excluded::Strings(_) | Excluded::Prefixes(_) | Excluded::Suffixes(_)),
            Value::Num(_) | Value::True | Value::False | Value::Null,
        ) => {
            // Only strings match these; anything-but of strings takes every other type.
            matches!(op, Op::AnythingBut(_))
        }
        _ => op.matches(&value.to_scalar()),
    }
}

/// A tiny inline-first set of entry numbers (exclusions per value are usually 0–2).
mod smallvec_lite {
    #[derive(Default)]
    pub struct Small {
        inline: [u32; 4],
        len: usize,
        spill: Vec<u32>,
    }

    impl Small {
        #[inline]
        pub fn push(&mut self, v: u32) {
            if self.len < self.inline.len() {
                self.inline[self.len] = v;
                self.len += 1;
            } else {
                self.spill.push(v);
            }
        }

        #[inline]
        pub fn is_empty(&self) -> bool {
            self.len == 0
        }

        #[inline]
        pub fn contains(&self, v: u32) -> bool {
            self.inline[..self.len].contains(&v) || self.spill.contains(&v)
        }
    }
}
