//! The parsed form of a pattern: fields, their alternatives, and `$or` groups.
//!
//! Each [`Op`] knows its own meaning ([`Op::matches`]); that is the reference semantics
//! used by `explain` and by the tests that check the merged [`super::Matcher`] against it.

use std::borrow::Cow;
use std::collections::BTreeSet;
use std::sync::Arc;

use super::ip::{IpRange, parse_ip};
use super::number::{self, comparable};
use super::text::{Caseless, Glob};

/// A scalar value found in an event (strings decoded, numbers as written).
#[derive(Clone, Debug, PartialEq)]
pub enum Scalar<'a> {
    /// A string.
    Str(Cow<'a, str>),
    /// A number, spelled as in the event.
    Num(Cow<'a, str>),
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

impl Scalar<'_> {
    /// The value as JSON text (for explanations).
    pub fn to_json(&self) -> String {
        match self {
            Scalar::Str(s) => {
                let mut out = String::new();
                super::json::write_string(s, &mut out);
                out
            }
            Scalar::Num(n) => n.to_string(),
            Scalar::True => "true".into(),
            Scalar::False => "false".into(),
            Scalar::Null => "null".into(),
        }
    }

    /// The JSON type of the value.
    pub fn type_name(&self) -> &'static str {
        match self {
            Scalar::Str(_) => "string",
            Scalar::Num(_) => "number",
            Scalar::True | Scalar::False => "boolean",
            Scalar::Null => "null",
        }
    }

    /// A copy that owns its text.
    pub fn into_owned(self) -> Scalar<'static> {
        match self {
            Scalar::Str(s) => Scalar::Str(Cow::Owned(s.into_owned())),
            Scalar::Num(n) => Scalar::Num(Cow::Owned(n.into_owned())),
            Scalar::True => Scalar::True,
            Scalar::False => Scalar::False,
            Scalar::Null => Scalar::Null,
        }
    }
}

/// `true`, `false` or `null` in a pattern.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Literal {
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

/// One bound of a numeric range.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bound {
    /// The bound's value.
    pub value: f64,
    /// Whether the bound itself is inside the range.
    pub inclusive: bool,
}

/// A numeric range (`=` is a range whose bounds are equal and inclusive).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct NumRange {
    /// Lower bound, `None` for unbounded.
    pub low: Option<Bound>,
    /// Upper bound, `None` for unbounded.
    pub high: Option<Bound>,
}

impl NumRange {
    /// Is `v` inside the range?
    pub fn contains(&self, v: f64) -> bool {
        let above = match self.low {
            None => true,
            Some(b) => v > b.value || (b.inclusive && v == b.value),
        };
        let below = match self.high {
            None => true,
            Some(b) => v < b.value || (b.inclusive && v == b.value),
        };
        above && below
    }
}

/// What an `anything-but` excludes.
#[derive(Clone, Debug, PartialEq)]
pub enum Excluded {
    /// Exact strings.
    Strings(BTreeSet<String>),
    /// Numbers, compared by value (keys from [`number::key`]).
    Numbers(BTreeSet<u64>),
    /// Strings starting with any of these.
    Prefixes(Vec<String>),
    /// Strings ending with any of these.
    Suffixes(Vec<String>),
    /// Strings equal to any of these, ignoring case.
    Caseless(Vec<Caseless>),
    /// Strings matching any of these wildcards.
    Wildcards(Vec<Glob>),
}

impl Excluded {
    /// Does `value` fall under the exclusion?
    pub fn excludes(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (Excluded::Strings(set), Scalar::Str(s)) => set.contains(s.as_ref()),
            (Excluded::Numbers(set), Scalar::Num(n)) => {
                comparable(n).is_some_and(|v| set.contains(&number::key(v)))
            }
            (Excluded::Prefixes(list), Scalar::Str(s)) => {
                list.iter().any(|p| s.starts_with(p.as_str()))
            }
            (Excluded::Suffixes(list), Scalar::Str(s)) => {
                list.iter().any(|p| s.ends_with(p.as_str()))
            }
            (Excluded::Caseless(list), Scalar::Str(s)) => list.iter().any(|c| c.matches(s)),
            (Excluded::Wildcards(list), Scalar::Str(s)) => list.iter().any(|g| g.matches(s)),
            _ => false,
        }
    }
}

/// One matching operator of a field.
#[derive(Clone, Debug, PartialEq)]
pub enum Op {
    /// A string, compared exactly.
    ExactString(String),
    /// A string that is an IP address: matches any spelling of the same address.
    ExactIp(IpRange),
    /// A number: matches the same spelling, or the same value when comparable.
    ExactNumber {
        /// The number as written in the pattern.
        raw: String,
        /// Its value, when it has an exact double form.
        value: Option<f64>,
    },
    /// `true`, `false` or `null`.
    Literal(Literal),
    /// `{"prefix": "..."}`
    Prefix(String),
    /// `{"prefix": {"equals-ignore-case": "..."}}`
    PrefixCaseless(Caseless),
    /// `{"suffix": "..."}`
    Suffix(String),
    /// `{"suffix": {"equals-ignore-case": "..."}}`
    SuffixCaseless(Caseless),
    /// `{"equals-ignore-case": "..."}`
    Caseless(Caseless),
    /// `{"wildcard": "..."}`
    Wildcard(Glob),
    /// `{"anything-but": ...}`
    AnythingBut(Excluded),
    /// `{"numeric": [...]}`
    Numeric(NumRange),
    /// `{"cidr": "..."}`
    Cidr(IpRange),
    /// `{"exists": true}` (any value, `null` included, is present)
    Exists,
    /// SNS's `{"exists": true}`: a present value other than `null` or `""`.
    ExistsNotNull,
}

impl Op {
    /// Does one event value satisfy the operator?
    pub fn matches(&self, value: &Scalar<'_>) -> bool {
        match (self, value) {
            (Op::ExactString(s), Scalar::Str(v)) => s == v,
            (Op::ExactIp(range) | Op::Cidr(range), Scalar::Str(v)) => {
                parse_ip(v).is_some_and(|ip| range.contains(ip))
            }
            (Op::ExactNumber { raw, value }, Scalar::Num(n)) => {
                raw == n || value.is_some_and(|want| comparable(n) == Some(want))
            }
            (Op::Literal(l), v) => matches!(
                (l, v),
                (Literal::True, Scalar::True)
                    | (Literal::False, Scalar::False)
                    | (Literal::Null, Scalar::Null)
            ),
            (Op::Prefix(p), Scalar::Str(v)) => v.starts_with(p.as_str()),
            (Op::Suffix(p), Scalar::Str(v)) => v.ends_with(p.as_str()),
            (Op::PrefixCaseless(c), Scalar::Str(v)) => c.is_prefix_of(v),
            (Op::SuffixCaseless(c), Scalar::Str(v)) => c.is_suffix_of(v),
            (Op::Caseless(c), Scalar::Str(v)) => c.matches(v),
            (Op::Wildcard(g), Scalar::Str(v)) => g.matches(v),
            (Op::AnythingBut(excluded), v) => !excluded.excludes(v),
            (Op::Numeric(range), Scalar::Num(n)) => {
                comparable(n).is_some_and(|v| range.contains(v))
            }
            (Op::Exists, _) => true,
            (Op::ExistsNotNull, v) => {
                !matches!(v, Scalar::Null) && !matches!(v, Scalar::Str(s) if s.is_empty())
            }
            _ => false,
        }
    }

    /// Which JSON types the operator can ever match (for "wrong type" explanations).
    pub fn accepts_type(&self, type_name: &str) -> bool {
        match self {
            Op::ExactNumber { .. } | Op::Numeric(_) => type_name == "number",
            Op::Literal(Literal::Null) => type_name == "null",
            Op::Literal(_) => type_name == "boolean",
            Op::AnythingBut(_) | Op::Exists => true,
            Op::ExistsNotNull => type_name != "null",
            _ => type_name == "string",
        }
    }
}

/// One alternative of a field: an operator and the pattern text it came from.
#[derive(Clone, Debug, PartialEq)]
pub struct Alternative {
    /// The operator.
    pub op: Op,
    /// The alternative as written in the pattern (compact JSON).
    pub source: String,
}

/// A field condition: the event's values at `path` must satisfy one alternative.
#[derive(Clone, Debug, PartialEq)]
pub struct Field {
    /// Dotted path of the field in the event (`detail.state`).
    pub path: String,
    /// Where the field sits in the pattern (`$or[1].detail.state`).
    pub location: String,
    /// The alternatives that need a value.
    pub alternatives: Vec<Alternative>,
    /// Whether `{"exists": false}` is among the alternatives (absence satisfies).
    pub absent_ok: bool,
}

impl Field {
    /// The field's value list as written (`["a", {"prefix": "b"}]`).
    pub fn source(&self) -> String {
        let mut items: Vec<&str> = self
            .alternatives
            .iter()
            .map(|a| a.source.as_str())
            .collect();
        if self.absent_ok {
            items.push("{\"exists\":false}");
        }
        format!("[{}]", items.join(","))
    }
}

/// A node of the pattern tree.
#[derive(Clone, Debug, PartialEq)]
pub enum Node {
    /// A field condition.
    Field(Arc<Field>),
    /// An `$or`: one of the branches (each a list of nodes) must hold.
    Or(Vec<Vec<Node>>),
}

/// One conjunction of fields after `$or` is expanded (a "sub-rule").
pub type Branch = Vec<Arc<Field>>;

/// Expands nodes into branches, applying later-field-wins for repeated paths, the way
/// event-ruler's compiler does. Fails when more than `limit` branches would result.
pub fn expand(nodes: &[Node], limit: usize) -> Result<Vec<Branch>, usize> {
    let mut branches: Vec<Branch> = vec![Vec::new()];
    expand_into(nodes, &mut branches, limit)?;
    Ok(branches)
}

fn expand_into(nodes: &[Node], branches: &mut Vec<Branch>, limit: usize) -> Result<(), usize> {
    for node in nodes {
        match node {
            Node::Field(field) => {
                for branch in branches.iter_mut() {
                    match branch.iter_mut().find(|f| f.path == field.path) {
                        Some(existing) => *existing = Arc::clone(field),
                        None => branch.push(Arc::clone(field)),
                    }
                }
            }
            Node::Or(alternatives) => {
                let total = branches.len().saturating_mul(alternatives.len());
                if total > limit {
                    return Err(total);
                }
                let current = std::mem::take(branches);
                for alternative in alternatives {
                    let mut forked = current.clone();
                    expand_into(alternative, &mut forked, limit)?;
                    branches.extend(forked);
                    if branches.len() > limit {
                        return Err(branches.len());
                    }
                }
            }
        }
    }
    Ok(())
}
