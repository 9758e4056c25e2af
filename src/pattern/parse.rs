//! Pattern text → [`Pattern`]: every rule of event-ruler's `JsonRuleCompiler`, with
//! errors that name the place (`detail.total[0].numeric: bottom must be less than top`).

use std::collections::BTreeSet;
use std::sync::Arc;

use super::ast::{
    Alternative, Bound, Branch, Excluded, Field, Literal, Node, NumRange, Op, expand,
};
use super::ip::{IpRange, parse_cidr, parse_ip};
use super::json::{self, Json};
use super::number::{self, comparable};
use super::text::{Caseless, Glob};
use super::{Limits, PatternError};

/// Field names that may not appear inside an `$or` branch (event-ruler reserves them).
const RESERVED_IN_OR: &[&str] = &[
    "exactly",
    "equals-ignore-case",
    "prefix",
    "suffix",
    "anything-but",
    "exists",
    "wildcard",
    "numeric",
    "cidr",
    "html",
    "=",
    "<",
    "<=",
    ">",
    ">=",
    "regex",
    "not-wildcard",
    "not-equals-ignore-case",
    "date-after",
    "date-on-or-after",
    "date-before",
    "date-on-or-before",
    "in-date-range",
    "ip-address-in-range",
    "ip-address-not-in-range",
];

/// Which service's rules a pattern follows.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Dialect {
    /// EventBridge event patterns (event-ruler).
    EventBridge,
    /// SNS subscription filter policies.
    Sns,
}

/// A validated EventBridge event pattern.
#[derive(Clone, Debug, PartialEq)]
pub struct Pattern {
    nodes: Vec<Node>,
    branches: Vec<Branch>,
}

impl Pattern {
    /// Parses and validates pattern text with the default [`Limits`].
    pub fn parse(text: &str) -> Result<Pattern, PatternError> {
        Pattern::parse_with(text, &Limits::default())
    }

    /// Parses and validates pattern text with explicit limits.
    pub fn parse_with(text: &str, limits: &Limits) -> Result<Pattern, PatternError> {
        let chars = text.chars().count();
        if chars > limits.max_pattern_chars {
            return Err(PatternError::root(format!(
                "pattern is {chars} characters long; the limit is {}",
                limits.max_pattern_chars
            )));
        }
        let json = json::parse(text, limits.max_depth)
            .map_err(|e| PatternError::root(format!("not valid JSON: {e}")))?;
        Pattern::from_json(&json, limits)
    }

    /// Validates an already parsed JSON value.
    pub fn from_json(json: &Json, limits: &Limits) -> Result<Pattern, PatternError> {
        Pattern::from_json_dialect(json, limits, Dialect::EventBridge)
    }

    pub(crate) fn from_json_dialect(
        json: &Json,
        limits: &Limits,
        dialect: Dialect,
    ) -> Result<Pattern, PatternError> {
        let Json::Object(fields) = json else {
            return Err(PatternError::root(format!(
                "a pattern must be a JSON object, not {}",
                json.type_name()
            )));
        };
        let mut parser = Parser {
            limits,
            dialect,
            stars: 0,
        };
        let nodes = parser.object(fields, None, "", false)?;
        let branches = expand(&nodes, limits.max_combinations).map_err(|n| {
            PatternError::root(format!(
                "$or expands to {n} combinations; the limit is {}",
                limits.max_combinations
            ))
        })?;
        Ok(Pattern { nodes, branches })
    }

    /// The pattern tree as written (fields and `$or` groups).
    pub fn nodes(&self) -> &[Node] {
        &self.nodes
    }

    /// The conjunctions the pattern stands for once `$or` is expanded.
    pub fn branches(&self) -> &[Branch] {
        &self.branches
    }
}

struct Parser<'l> {
    limits: &'l Limits,
    dialect: Dialect,
    stars: usize,
}

fn join(location: &str, key: &str) -> String {
    if location.is_empty() {
        key.to_string()
    } else {
        format!("{location}.{key}")
    }
}

fn err(location: &str, reason: impl Into<String>) -> PatternError {
    PatternError::at(location, reason)
}

impl Parser<'_> {
    /// Parses an object of fields. `path` is the dotted event path of the object,
    /// `location` where it sits in the pattern.
    fn object(
        &mut self,
        fields: &[(String, Json)],
        path: Option<&str>,
        location: &str,
        in_or: bool,
    ) -> Result<Vec<Node>, PatternError> {
        if fields.is_empty() {
            return Err(err(location, "empty objects are not allowed"));
        }
        let mut nodes = Vec::new();
        for (key, value) in fields {
            let here = join(location, key);
            if key == "$or" && (self.dialect == Dialect::EventBridge || sns_or_applies(value)) {
                nodes.push(self.or(value, path, &here)?);
                continue;
            }
            if in_or && RESERVED_IN_OR.contains(&key.as_str()) {
                return Err(err(
                    &here,
                    format!("\"{key}\" is a reserved word and cannot be a field name inside $or"),
                ));
            }
            // Top-level keys start the path; nested ones are joined with a dot (so a
            // top-level "" key followed by "d" is ".d", as in events).
            let field_path = match path {
                None => key.clone(),
                Some(parent) => format!("{parent}.{key}"),
            };
            match value {
                Json::Object(inner) => {
                    nodes.extend(self.object(inner, Some(&field_path), &here, in_or)?)
                }
                Json::Array(items) => {
                    nodes.push(Node::Field(Arc::new(self.field(items, field_path, &here)?)))
                }
                other => {
                    return Err(err(
                        &here,
                        format!("must be an object or an array, not {}", other.type_name()),
                    ));
                }
            }
        }
        Ok(nodes)
    }

    fn or(
        &mut self,
        value: &Json,
        path: Option<&str>,
        location: &str,
    ) -> Result<Node, PatternError> {
        let Json::Array(items) = value else {
            return Err(err(location, "$or must be followed by an array of objects"));
        };
        let mut branches = Vec::with_capacity(items.len());
        for (i, item) in items.iter().enumerate() {
            let here = format!("{location}[{i}]");
            let Json::Object(fields) = item else {
                return Err(err(&here, "only objects are allowed in an $or array"));
            };
            branches.push(self.object(fields, path, &here, true)?);
        }
        if branches.len() < 2 {
            return Err(err(location, "$or needs at least 2 objects"));
        }
        Ok(Node::Or(branches))
    }

    fn field(
        &mut self,
        items: &[Json],
        path: String,
        location: &str,
    ) -> Result<Field, PatternError> {
        if items.is_empty() {
            return Err(err(location, "empty arrays are not allowed"));
        }
        let mut alternatives = Vec::with_capacity(items.len());
        let mut absent_ok = false;
        for (i, item) in items.iter().enumerate() {
            let here = format!("{location}[{i}]");
            let op = match item {
                Json::Object(expression) => match self.expression(expression, &here)? {
                    Some(op) => op,
                    None => {
                        absent_ok = true;
                        continue;
                    }
                },
                Json::String(s) => {
                    match parse_ip(s).filter(|_| self.dialect == Dialect::EventBridge) {
                        Some(ip) => Op::ExactIp(IpRange::single(ip)),
                        None => Op::ExactString(s.clone()),
                    }
                }
                Json::Number(raw) => Op::ExactNumber {
                    raw: raw.clone(),
                    value: comparable(raw),
                },
                Json::Bool(true) => Op::Literal(Literal::True),
                Json::Bool(false) => Op::Literal(Literal::False),
                Json::Null => Op::Literal(Literal::Null),
                Json::Array(_) => {
                    return Err(err(
                        &here,
                        "a match value must be a string, number, true, false, null or an operator object",
                    ));
                }
            };
            alternatives.push(Alternative {
                op,
                source: item.to_compact(),
            });
        }
        Ok(Field {
            path,
            location: location.to_string(),
            alternatives,
            absent_ok,
        })
    }

    /// Parses `{"operator": operand}`. Returns `None` for `{"exists": false}`.
    fn expression(
        &mut self,
        expression: &[(String, Json)],
        location: &str,
    ) -> Result<Option<Op>, PatternError> {
        let Some((name, operand)) = expression.first() else {
            return Err(err(
                location,
                "an operator object needs an operator (e.g. \"prefix\")",
            ));
        };
        let here = join(location, name);
        if expression.len() > 1 {
            return Err(err(
                &here,
                "only one operator is allowed in a match expression",
            ));
        }
        if self.dialect == Dialect::Sns && matches!(name.as_str(), "exactly" | "wildcard") {
            return Err(err(
                &here,
                format!("\"{name}\" is not supported in SNS filter policies"),
            ));
        }
        let op = match name.as_str() {
            "exactly" => Op::ExactString(string_operand(operand, &here)?.to_string()),
            "prefix" | "suffix" => {
                let prefix = name == "prefix";
                match operand {
                    Json::Object(inner) => {
                        let text = caseless_operand(inner, &here)?;
                        let c = Caseless::new(text);
                        if prefix {
                            Op::PrefixCaseless(c)
                        } else {
                            Op::SuffixCaseless(c)
                        }
                    }
                    _ => {
                        let text = string_operand(operand, &here)?.to_string();
                        if prefix {
                            Op::Prefix(text)
                        } else {
                            Op::Suffix(text)
                        }
                    }
                }
            }
            "equals-ignore-case" => Op::Caseless(Caseless::new(string_operand(operand, &here)?)),
            "wildcard" => Op::Wildcard(self.glob(string_operand(operand, &here)?, &here)?),
            "numeric" => Op::Numeric(numeric_operand(operand, &here)?),
            "cidr" => {
                let text = string_operand(operand, &here)?;
                Op::Cidr(parse_cidr(text).map_err(|e| err(&here, e))?)
            }
            "exists" => match operand {
                Json::Bool(true) if self.dialect == Dialect::Sns => Op::ExistsNotNull,
                Json::Bool(true) => Op::Exists,
                Json::Bool(false) => return Ok(None),
                _ => return Err(err(&here, "exists must be true or false")),
            },
            "anything-but" => Op::AnythingBut(self.anything_but(operand, &here)?),
            other => return Err(err(&here, format!("unknown operator \"{other}\""))),
        };
        Ok(Some(op))
    }

    fn glob(&mut self, text: &str, location: &str) -> Result<Glob, PatternError> {
        let glob = Glob::parse(text).map_err(|e| err(location, e))?;
        self.stars += glob.stars();
        if self.stars > self.limits.max_wildcard_stars {
            return Err(err(
                location,
                format!(
                    "too complex: the pattern uses more than {} wildcard '*' characters",
                    self.limits.max_wildcard_stars
                ),
            ));
        }
        Ok(glob)
    }

    fn anything_but(&mut self, operand: &Json, location: &str) -> Result<Excluded, PatternError> {
        match operand {
            Json::String(s) => Ok(Excluded::Strings(BTreeSet::from([s.clone()]))),
            Json::Number(raw) => Ok(Excluded::Numbers(BTreeSet::from([number_key(
                raw, location,
            )?]))),
            Json::Array(items) => {
                let mut strings = BTreeSet::new();
                let mut numbers = BTreeSet::new();
                for (i, item) in items.iter().enumerate() {
                    match item {
                        Json::String(s) => {
                            strings.insert(s.clone());
                        }
                        Json::Number(raw) => {
                            numbers.insert(number_key(raw, &format!("{location}[{i}]"))?);
                        }
                        other => {
                            return Err(err(
                                &format!("{location}[{i}]"),
                                format!(
                                    "anything-but lists hold strings or numbers, not {}",
                                    other.type_name()
                                ),
                            ));
                        }
                    }
                }
                match (strings.is_empty(), numbers.is_empty()) {
                    (false, true) => Ok(Excluded::Strings(strings)),
                    (true, false) => Ok(Excluded::Numbers(numbers)),
                    (true, true) => Err(err(location, "anything-but needs at least one value")),
                    (false, false) => Err(err(
                        location,
                        "anything-but values must be all strings or all numbers, not mixed",
                    )),
                }
            }
            Json::Object(inner) => self.anything_but_operator(inner, location),
            other => Err(err(
                location,
                format!(
                    "anything-but takes a string, a number, a list or an operator object, not {}",
                    other.type_name()
                ),
            )),
        }
    }

    fn anything_but_operator(
        &mut self,
        inner: &[(String, Json)],
        location: &str,
    ) -> Result<Excluded, PatternError> {
        let Some((name, operand)) = inner.first() else {
            return Err(err(location, "anything-but object needs an operator"));
        };
        let here = join(location, name);
        let supported: &[&str] = match self.dialect {
            Dialect::EventBridge => &["prefix", "suffix", "equals-ignore-case", "wildcard"],
            Dialect::Sns => &["prefix"],
        };
        if !supported.contains(&name.as_str()) {
            return Err(err(
                &here,
                format!("anything-but does not support \"{name}\""),
            ));
        }
        if inner.len() > 1 {
            return Err(err(
                &here,
                "only one operator is allowed inside anything-but",
            ));
        }
        let texts: Vec<(String, String)> = match operand {
            Json::String(s) => vec![(here.clone(), s.clone())],
            Json::Array(items) => items
                .iter()
                .enumerate()
                .map(|(i, item)| match item {
                    Json::String(s) => Ok((format!("{here}[{i}]"), s.clone())),
                    other => Err(err(
                        &format!("{here}[{i}]"),
                        format!("{name} values must be strings, not {}", other.type_name()),
                    )),
                })
                .collect::<Result<_, _>>()?,
            other => {
                return Err(err(
                    &here,
                    format!(
                        "{name} value must be a string or a list of strings, not {}",
                        other.type_name()
                    ),
                ));
            }
        };
        if matches!(name.as_str(), "prefix" | "suffix")
            && let Some((at, _)) = texts.iter().find(|(_, t)| t.is_empty())
        {
            return Err(err(
                at,
                format!("an empty {name} is not allowed in anything-but"),
            ));
        }
        Ok(match name.as_str() {
            "prefix" => Excluded::Prefixes(texts.into_iter().map(|(_, t)| t).collect()),
            "suffix" => Excluded::Suffixes(texts.into_iter().map(|(_, t)| t).collect()),
            "equals-ignore-case" => {
                Excluded::Caseless(texts.iter().map(|(_, t)| Caseless::new(t)).collect())
            }
            _ => Excluded::Wildcards(
                texts
                    .iter()
                    .map(|(at, t)| self.glob(t, at))
                    .collect::<Result<_, _>>()?,
            ),
        })
    }
}

/// SNS reads `$or` as the OR operator only when it holds at least two objects and none
/// of them uses a reserved word as a field name; otherwise `$or` is an ordinary key.
fn sns_or_applies(value: &Json) -> bool {
    let Json::Array(items) = value else {
        return false;
    };
    items.len() >= 2
        && items.iter().all(|item| match item {
            Json::Object(fields) => !fields
                .iter()
                .any(|(k, _)| RESERVED_IN_OR.contains(&k.as_str())),
            _ => false,
        })
}

fn string_operand<'j>(operand: &'j Json, location: &str) -> Result<&'j str, PatternError> {
    match operand {
        Json::String(s) => Ok(s),
        other => Err(err(
            location,
            format!("must be a string, not {}", other.type_name()),
        )),
    }
}

/// `{"equals-ignore-case": "..."}` inside prefix/suffix.
fn caseless_operand<'j>(
    inner: &'j [(String, Json)],
    location: &str,
) -> Result<&'j str, PatternError> {
    let Some((name, operand)) = inner.first() else {
        return Err(err(location, "expected {\"equals-ignore-case\": \"...\"}"));
    };
    let here = join(location, name);
    if name != "equals-ignore-case" {
        return Err(err(
            &here,
            format!("\"{name}\" is not supported here; only equals-ignore-case"),
        ));
    }
    if inner.len() > 1 {
        return Err(err(
            &here,
            "only one operator is allowed in a match expression",
        ));
    }
    string_operand(operand, &here)
}

fn number_value(raw: &str, location: &str) -> Result<f64, PatternError> {
    comparable(raw).ok_or_else(|| {
        err(
            location,
            format!(
                "{raw} cannot be compared as a number (it has no exact 64-bit floating-point form)"
            ),
        )
    })
}

fn number_key(raw: &str, location: &str) -> Result<u64, PatternError> {
    number_value(raw, location).map(number::key)
}

fn numeric_operand(operand: &Json, location: &str) -> Result<NumRange, PatternError> {
    let Json::Array(items) = operand else {
        return Err(err(
            location,
            "numeric takes an array such as [\">\", 0, \"<=\", 5]",
        ));
    };
    let operator_at = |i: usize| -> Result<&str, PatternError> {
        match items.get(i) {
            Some(Json::String(s)) => Ok(s.as_str()),
            Some(other) => Err(err(
                &format!("{location}[{i}]"),
                format!("expected an operator, found {}", other.type_name()),
            )),
            None => Err(err(location, "expected an operator")),
        }
    };
    let value_at = |i: usize, op: &str| -> Result<f64, PatternError> {
        match items.get(i) {
            Some(Json::Number(raw)) => number_value(raw, &format!("{location}[{i}]")),
            Some(other) => Err(err(
                &format!("{location}[{i}]"),
                format!(
                    "the value of {op} must be a number, not {}",
                    other.type_name()
                ),
            )),
            None => Err(err(location, format!("{op} needs a number"))),
        }
    };
    let end_at = |i: usize| -> Result<(), PatternError> {
        if items.len() > i {
            Err(err(
                &format!("{location}[{i}]"),
                "too many elements in numeric expression",
            ))
        } else {
            Ok(())
        }
    };
    let first = operator_at(0)?;
    let v = value_at(1, first)?;
    let bound = |inclusive| {
        Some(Bound {
            value: v,
            inclusive,
        })
    };
    let range = match first {
        "=" => {
            end_at(2)?;
            NumRange {
                low: bound(true),
                high: bound(true),
            }
        }
        "<" | "<=" => {
            end_at(2)?;
            NumRange {
                low: None,
                high: bound(first == "<="),
            }
        }
        ">" | ">=" => {
            let low = bound(first == ">=");
            if items.len() == 2 {
                NumRange { low, high: None }
            } else {
                let second = operator_at(2)?;
                if second != "<" && second != "<=" {
                    return Err(err(
                        &format!("{location}[2]"),
                        format!("expected \"<\" or \"<=\" after a lower bound, found \"{second}\""),
                    ));
                }
                let top = value_at(3, second)?;
                end_at(4)?;
                if top <= v {
                    return Err(err(location, "bottom must be less than top"));
                }
                NumRange {
                    low,
                    high: Some(Bound {
                        value: top,
                        inclusive: second == "<=",
                    }),
                }
            }
        }
        other => {
            return Err(err(
                &format!("{location}[0]"),
                format!("unknown numeric operator \"{other}\""),
            ));
        }
    };
    Ok(range)
}
