//! Amazon SNS subscription filter policies.
//!
//! A filter policy is an event pattern with SNS's own rules on top (see
//! `tests/data/SNS-NOTES.md` for the documented semantics this follows):
//! - **Scopes.** `MessageAttributes` policies are flat (one level of attribute names)
//!   and match a message's attributes: `String` values as strings, `Number` values as
//!   numbers, `String.Array` values element by element; `Binary` attributes are ignored.
//!   `MessageBody` policies are nested and match the JSON body like an event.
//! - **Operators.** Exact values, `prefix`, `suffix`, `equals-ignore-case`,
//!   `anything-but` (values, `prefix`, `suffix`), `numeric`, `exists`, `cidr`, `$or`.
//!   No `wildcard`.
//! - **`exists: true`** needs a present, non-`null` value.
//! - **Limits.** Numbers within ±1,000,000,000 with at most 5 decimals; at most 5 keys;
//!   at most 150 value combinations (summed over `$or` branches); 256 KB of policy.

use std::borrow::Cow;

use super::ast::Branch;
use super::explain::{Explanation, explain};
use super::json::{self, Json, JsonError};
use super::matcher::Matcher;
use super::parse::{Dialect, Pattern};
use super::{Limits, PatternError};

/// Which part of a message a filter policy applies to (`FilterPolicyScope`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    /// `MessageAttributes` (the default scope).
    MessageAttributes,
    /// `MessageBody` (the JSON message body).
    MessageBody,
}

/// Most attribute names / body keys a policy may use.
pub const MAX_KEYS: usize = 5;
/// Most value combinations a policy may express.
pub const MAX_COMBINATIONS: usize = 150;
/// Largest numeric value (in magnitude) a policy may use.
pub const MAX_NUMBER: f64 = 1e9;
/// Most decimal places of a number in a policy.
pub const MAX_DECIMALS: usize = 5;

/// A validated SNS subscription filter policy.
pub struct FilterPolicy {
    scope: Scope,
    pattern: Pattern,
    matcher: Matcher,
}

impl FilterPolicy {
    /// Parses and validates a filter policy for the given scope.
    pub fn parse(text: &str, scope: Scope) -> Result<FilterPolicy, PatternError> {
        let limits = policy_limits();
        if text.len() > limits.max_pattern_chars {
            return Err(PatternError::root(format!(
                "filter policy is {} bytes; the limit is 256 KB",
                text.len()
            )));
        }
        let doc = json::parse(text, limits.max_depth)
            .map_err(|e| PatternError::root(format!("not valid JSON: {e}")))?;
        check_numbers(&doc, "")?;
        if scope == Scope::MessageAttributes {
            check_flat(&doc, "")?;
        }
        let pattern = Pattern::from_json_dialect(&doc, &limits, Dialect::Sns)?;
        check_keys_and_combinations(pattern.branches())?;
        let mut matcher = Matcher::with_limits(limits);
        matcher.add_pattern("policy", pattern.clone());
        Ok(FilterPolicy {
            scope,
            pattern,
            matcher,
        })
    }

    /// The scope the policy applies to.
    pub fn scope(&self) -> Scope {
        self.scope
    }

    /// Does a message match? `message` is the `MessageAttributes` object (attributes
    /// scope) or the JSON body (body scope).
    pub fn matches(&self, message: &[u8]) -> Result<bool, JsonError> {
        let event = self.as_event(message)?;
        if self.scope == Scope::MessageAttributes
            && event.as_ref() == b"{}"
            && !has_attributes(message)
        {
            // "exists: false only matches if at least one attribute is present".
            return Ok(false);
        }
        self.matcher.any_match(&event)
    }

    /// Explains the policy against a message, field by field.
    pub fn explain(&self, message: &[u8]) -> Result<Explanation, JsonError> {
        let event = self.as_event(message)?;
        explain(&self.pattern, &event)
    }

    /// The message as the event the policy is matched against.
    fn as_event<'m>(&self, message: &'m [u8]) -> Result<Cow<'m, [u8]>, JsonError> {
        match self.scope {
            Scope::MessageBody => Ok(Cow::Borrowed(message)),
            Scope::MessageAttributes => {
                attributes_as_event(message).map(|e| Cow::Owned(e.into_bytes()))
            }
        }
    }
}

/// The limits a filter policy is validated and matched with (SNS allows 256 KB).
fn policy_limits() -> Limits {
    Limits {
        max_pattern_chars: 256 * 1024,
        max_combinations: MAX_COMBINATIONS,
        ..Limits::default()
    }
}

/// The message-body policies of a topic's subscriptions, matched in one pass over a
/// message: [`PolicySet::passes`] says which subscriptions a message goes to, exactly as
/// asking each [`FilterPolicy::matches`] in turn would.
pub struct PolicySet {
    matcher: Matcher,
    /// Bit per subscription whose policy a matched rule stands for (by rule id).
    bit_of_rule: Vec<u64>,
    /// Subscriptions without a policy: they pass everything.
    unfiltered: u64,
}

impl PolicySet {
    /// Most subscriptions a set covers (one bit each).
    pub const MAX: usize = 64;

    /// The set for subscriptions with these policies (`None`: no policy), in order;
    /// `None` when there are more than [`PolicySet::MAX`] or a policy reads message
    /// attributes (those depend on the copy, not only on the body).
    pub fn new(policies: &[Option<&FilterPolicy>]) -> Option<PolicySet> {
        if policies.len() > Self::MAX {
            return None;
        }
        let mut matcher = Matcher::with_limits(policy_limits());
        let mut unfiltered = 0u64;
        let mut names = Vec::new();
        for (i, policy) in policies.iter().enumerate() {
            match policy {
                None => unfiltered |= 1 << i,
                Some(p) if p.scope == Scope::MessageBody => {
                    let name = i.to_string();
                    matcher.add_pattern(&name, p.pattern.clone());
                    names.push((name, 1u64 << i));
                }
                Some(_) => return None,
            }
        }
        let mut bit_of_rule = Vec::new();
        for (name, bit) in names {
            let id = matcher.rule_id(&name)?.index();
            if bit_of_rule.len() <= id {
                bit_of_rule.resize(id + 1, 0);
            }
            bit_of_rule[id] = bit;
        }
        Some(PolicySet {
            matcher,
            bit_of_rule,
            unfiltered,
        })
    }

    /// Bit `i` set when subscription `i` passes `message` (a malformed body passes
    /// only the unfiltered subscriptions, as each policy alone would say).
    pub fn passes(&self, message: &[u8]) -> u64 {
        let mut matched = 0u64;
        let each = |id: super::RuleId| {
            matched |= self.bit_of_rule.get(id.index()).copied().unwrap_or(0);
        };
        match self.matcher.for_each_match(message, each) {
            Ok(()) => self.unfiltered | matched,
            Err(_) => self.unfiltered,
        }
    }

    /// Every dotted path at which a policy reads a value, with the field id
    /// [`PolicySet::passes_values`] takes for it (see [`Matcher::leaf_paths`]).
    pub fn leaf_paths(&self) -> Vec<(String, u32)> {
        self.matcher.leaf_paths()
    }

    /// [`PolicySet::passes`] for a well-formed message whose writer recorded the values
    /// at the [leaf paths](PolicySet::leaf_paths), under the conditions of
    /// [`Matcher::matches_values`].
    pub fn passes_values(&self, values: &[(u32, super::EventValue<'_>)]) -> u64 {
        let mut matched = 0u64;
        self.matcher.for_each_match_values(values, |id| {
            matched |= self.bit_of_rule.get(id.index()).copied().unwrap_or(0);
        });
        self.unfiltered | matched
    }
}

/// Does the attributes object name any attribute (Binary ones included)?
fn has_attributes(message: &[u8]) -> bool {
    let text = String::from_utf8_lossy(message);
    matches!(json::parse(&text, 64), Ok(Json::Object(fields)) if !fields.is_empty())
}

fn invalid_message(message: &str) -> JsonError {
    JsonError {
        line: 1,
        column: 1,
        message: message.to_string(),
    }
}

/// Turns SNS `MessageAttributes` (`{"name": {"Type": "String", "Value": "x"}}`, or the
/// SDK's `DataType`/`StringValue` form) into the flat event the policy is matched on.
pub fn attributes_as_event(message: &[u8]) -> Result<String, JsonError> {
    let text = std::str::from_utf8(message)
        .map_err(|_| invalid_message("message attributes are not valid UTF-8"))?;
    let Json::Object(attributes) = json::parse(text, 64)? else {
        return Err(invalid_message("message attributes must be a JSON object"));
    };
    let mut fields = Vec::with_capacity(attributes.len());
    for (name, attribute) in attributes {
        let Json::Object(parts) = attribute else {
            return Err(invalid_message(&format!(
                "attribute {name} must be an object with Type and Value"
            )));
        };
        let get = |keys: &[&str]| {
            parts
                .iter()
                .find(|(k, _)| keys.contains(&k.as_str()))
                .and_then(|(_, v)| match v {
                    Json::String(s) => Some(s.clone()),
                    _ => None,
                })
        };
        let Some(kind) = get(&["Type", "DataType"]) else {
            return Err(invalid_message(&format!("attribute {name} has no Type")));
        };
        let value = get(&["Value", "StringValue"]);
        let base = kind.split('.').next().unwrap_or_default();
        let converted = match (base, value) {
            ("String", Some(v)) if kind == "String.Array" => match json::parse(&v, 64) {
                Ok(Json::Array(items)) => Some(Json::Array(items)),
                _ => None,
            },
            ("String", Some(v)) => Some(Json::String(v)),
            ("Number", Some(v)) => json::parse(v.trim(), 4)
                .ok()
                .filter(|j| matches!(j, Json::Number(_))),
            // Binary attributes (and attributes without a value) are ignored.
            _ => None,
        };
        if let Some(value) = converted {
            fields.push((name, value));
        }
    }
    Ok(Json::Object(fields).to_compact())
}

/// Numbers in a policy must be within ±1e9 with at most 5 decimals.
fn check_numbers(doc: &Json, location: &str) -> Result<(), PatternError> {
    match doc {
        Json::Number(raw) => {
            let value: f64 = raw.parse().unwrap_or(f64::INFINITY);
            if !(-MAX_NUMBER..=MAX_NUMBER).contains(&value) {
                return Err(PatternError::at(
                    location,
                    format!("{raw} is outside the range -1e9 to 1e9 SNS supports"),
                ));
            }
            if decimals(raw) > MAX_DECIMALS {
                return Err(PatternError::at(
                    location,
                    format!("{raw} has more than {MAX_DECIMALS} decimal places"),
                ));
            }
            Ok(())
        }
        Json::Array(items) => items
            .iter()
            .enumerate()
            .try_for_each(|(i, item)| check_numbers(item, &format!("{location}[{i}]"))),
        Json::Object(fields) => fields.iter().try_for_each(|(k, v)| {
            let here = if location.is_empty() {
                k.clone()
            } else {
                format!("{location}.{k}")
            };
            check_numbers(v, &here)
        }),
        _ => Ok(()),
    }
}

/// Decimal places of a number as written (after applying its exponent).
fn decimals(raw: &str) -> usize {
    let (mantissa, exp) = match raw.find(['e', 'E']) {
        Some(p) => (&raw[..p], raw[p + 1..].parse::<i64>().unwrap_or(0)),
        None => (raw, 0),
    };
    let fraction = mantissa
        .find('.')
        .map_or("", |p| &mantissa[p + 1..])
        .trim_end_matches('0');
    (fraction.len() as i64 - exp).max(0) as usize
}

/// In the attributes scope, attribute names map straight to value lists.
fn check_flat(doc: &Json, location: &str) -> Result<(), PatternError> {
    let Json::Object(fields) = doc else {
        return Ok(());
    };
    for (key, value) in fields {
        let here = if location.is_empty() {
            key.clone()
        } else {
            format!("{location}.{key}")
        };
        match value {
            Json::Object(_) => {
                return Err(PatternError::at(
                    &here,
                    "nested keys are only allowed in the MessageBody scope; attribute policies are flat",
                ));
            }
            Json::Array(branches) if key == "$or" => {
                for (i, branch) in branches.iter().enumerate() {
                    check_flat(branch, &format!("{here}[{i}]"))?;
                }
            }
            _ => {}
        }
    }
    Ok(())
}

/// Keys are counted at the top level only (nested body keys count as their parent);
/// a field's combinations are its number of values times its depth, multiplied over
/// the fields of a branch and summed over `$or` branches.
fn check_keys_and_combinations(branches: &[Branch]) -> Result<(), PatternError> {
    let mut keys: Vec<&str> = branches
        .iter()
        .flatten()
        .map(|f| f.path.split('.').next().unwrap_or_default())
        .collect();
    keys.sort_unstable();
    keys.dedup();
    if keys.len() > MAX_KEYS {
        return Err(PatternError::root(format!(
            "the policy uses {} keys ({}); SNS allows at most {MAX_KEYS}",
            keys.len(),
            keys.join(", ")
        )));
    }
    let combinations: usize = branches
        .iter()
        .map(|b| {
            b.iter()
                .map(|f| {
                    (f.alternatives.len() + usize::from(f.absent_ok)) * f.path.split('.').count()
                })
                .product::<usize>()
        })
        .sum();
    if combinations > MAX_COMBINATIONS {
        return Err(PatternError::root(format!(
            "the policy has {combinations} value combinations; SNS allows at most {MAX_COMBINATIONS}"
        )));
    }
    Ok(())
}
