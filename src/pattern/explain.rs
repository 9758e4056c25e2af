//! "Why didn't this rule match?" — a verdict for every field of every `$or` branch.
//!
//! This evaluates the pattern directly from its definition ([`super::Op::matches`] over
//! every value of the event), independently of the merged [`super::Matcher`]; the tests
//! use it as the reference the matcher must agree with.

use std::fmt::Write as _;

use serde::Serialize;

use super::ast::{Branch, Field, Op, Scalar};
use super::consistency::choose_consistent;
use super::flatten::{AllValues, ArrayPos};
use super::json::JsonError;
use super::number::comparable;
use super::parse::Pattern;

/// The outcome for one field of a branch.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// A value satisfies the field (or it is absent, as `exists: false` asks).
    Matched,
    /// The event has no value at the path.
    Missing,
    /// The path has a value but the pattern requires it to be absent.
    Present,
    /// Values of the right type exist, none satisfies the field.
    ValueDiffers,
    /// The values are of a type no alternative can match (e.g. a string for `numeric`).
    WrongType,
    /// Matching values exist, but only in different elements of one array than the
    /// values matching the other fields.
    ArrayConsistency,
}

/// One field's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct FieldVerdict {
    /// Dotted event path.
    pub path: String,
    /// The field's value list as written in the pattern.
    pub condition: String,
    /// The outcome.
    pub verdict: Verdict,
    /// The event's values at the path (JSON text, at most 10).
    pub values: Vec<String>,
    /// A sentence for people.
    pub detail: String,
}

/// One `$or` branch's verdict.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct BranchVerdict {
    /// Whether every field holds together.
    pub matched: bool,
    /// Number of fields whose verdict is `matched`.
    pub fields_matched: usize,
    /// Per-field verdicts, in pattern order.
    pub fields: Vec<FieldVerdict>,
}

/// The full explanation of a pattern against an event.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Explanation {
    /// Whether the pattern matches.
    pub matched: bool,
    /// The branch that matched, or came closest (most fields matched).
    pub closest: usize,
    /// One entry per branch (a pattern without `$or` has one).
    pub branches: Vec<BranchVerdict>,
}

/// Explains `pattern` against the raw JSON `event`.
pub fn explain(pattern: &Pattern, event: &[u8]) -> Result<Explanation, JsonError> {
    let values = AllValues::read(event)?;
    let branches: Vec<BranchVerdict> = pattern
        .branches()
        .iter()
        .map(|b| branch_verdict(b, &values))
        .collect();
    let matched = branches.iter().any(|b| b.matched);
    let closest = branches
        .iter()
        .enumerate()
        .max_by(|(ia, a), (ib, b)| {
            (a.matched, ratio(a))
                .partial_cmp(&(b.matched, ratio(b)))
                .unwrap_or(std::cmp::Ordering::Equal)
                .then(ib.cmp(ia))
        })
        .map_or(0, |(i, _)| i);
    Ok(Explanation {
        matched,
        closest,
        branches,
    })
}

/// Does `pattern` match `event`? (The reference evaluation, without explanations.)
pub fn reference_matches(pattern: &Pattern, event: &[u8]) -> Result<bool, JsonError> {
    explain(pattern, event).map(|e| e.matched)
}

fn ratio(b: &BranchVerdict) -> f64 {
    if b.fields.is_empty() {
        1.0
    } else {
        b.fields_matched as f64 / b.fields.len() as f64
    }
}

fn branch_verdict(branch: &Branch, values: &AllValues) -> BranchVerdict {
    let mut fields = Vec::with_capacity(branch.len());
    // For each field that is satisfied by values: the trails of those values.
    let mut tied: Vec<(usize, Vec<&[ArrayPos]>)> = Vec::new();
    for field in branch {
        let here: Vec<_> = values.at(&field.path).collect();
        let shown: Vec<String> = here.iter().take(10).map(|(v, _)| v.to_json()).collect();
        let hits: Vec<&[ArrayPos]> = here
            .iter()
            .filter(|(v, _)| field.alternatives.iter().any(|a| a.op.matches(v)))
            .map(|(_, t)| *t)
            .collect();
        let (verdict, detail) = field_outcome(field, &here, &hits, &shown);
        if verdict == Verdict::Matched && !hits.is_empty() {
            tied.push((fields.len(), hits));
        }
        fields.push(FieldVerdict {
            path: field.path.clone(),
            condition: field.source(),
            verdict,
            values: shown,
            detail,
        });
    }
    if fields.iter().all(|f| f.verdict == Verdict::Matched) && !jointly_consistent(&tied) {
        for (i, _) in tied
            .iter()
            .filter(|(_, trails)| trails.iter().all(|t| !t.is_empty()))
        {
            fields[*i].verdict = Verdict::ArrayConsistency;
            fields[*i].detail =
                "matching values exist, but not in the same array element as the other fields' values".into();
        }
    }
    let fields_matched = fields
        .iter()
        .filter(|f| f.verdict == Verdict::Matched)
        .count();
    BranchVerdict {
        matched: fields_matched == fields.len(),
        fields_matched,
        fields,
    }
}

fn field_outcome(
    field: &Field,
    here: &[(&Scalar<'static>, &[ArrayPos])],
    hits: &[&[ArrayPos]],
    shown: &[String],
) -> (Verdict, String) {
    let listed = shown.join(", ");
    if field.alternatives.is_empty() {
        return if here.is_empty() {
            (Verdict::Matched, "absent, as required".into())
        } else {
            (
                Verdict::Present,
                format!("must be absent, but the event has {listed}"),
            )
        };
    }
    if !hits.is_empty() {
        return (Verdict::Matched, format!("matched by {listed}"));
    }
    if here.is_empty() {
        return if field.absent_ok {
            (Verdict::Matched, "absent, which exists:false allows".into())
        } else {
            (
                Verdict::Missing,
                "the event has no value at this path".into(),
            )
        };
    }
    let any_type_fits = here.iter().any(|(v, _)| {
        field
            .alternatives
            .iter()
            .any(|a| a.op.accepts_type(v.type_name()))
    });
    let hint = here
        .iter()
        .find_map(|(v, _)| field.alternatives.iter().find_map(|a| near_miss(&a.op, v)))
        .map(|h| format!(" ({h})"))
        .unwrap_or_default();
    if any_type_fits {
        (
            Verdict::ValueDiffers,
            format!("no alternative matches the event's {listed}{hint}"),
        )
    } else {
        let types: Vec<&str> = here.iter().map(|(v, _)| v.type_name()).collect();
        (
            Verdict::WrongType,
            format!(
                "the event has {} ({listed}); no alternative can match that type{hint}",
                types.join("/")
            ),
        )
    }
}

/// A hint for common near misses: letter case, white space, a number written as a
/// string (or the reverse), a number without an exact double form.
fn near_miss(op: &Op, value: &Scalar<'_>) -> Option<String> {
    let same_number = |a: &str, b: &str| comparable(a).is_some() && comparable(a) == comparable(b);
    match (op, value) {
        (Op::ExactString(want), Scalar::Str(got)) if want.to_lowercase() == got.to_lowercase() => {
            Some("it differs only in letter case; equals-ignore-case would match".into())
        }
        (Op::ExactString(want), Scalar::Str(got)) if want.trim() == got.trim() => {
            Some("it differs only in surrounding white space".into())
        }
        (Op::ExactString(want), Scalar::Num(got)) if same_number(want, got) => Some(format!(
            "the pattern has the string \"{want}\", the event the number {got}"
        )),
        (Op::ExactNumber { raw, .. }, Scalar::Str(got)) if same_number(raw, got) => Some(format!(
            "the pattern has the number {raw}, the event the string \"{got}\""
        )),
        (Op::ExactNumber { raw, value }, Scalar::Num(got))
            if value.is_some() && comparable(got).is_none() && raw != got =>
        {
            Some(format!(
                "{got} has no exact 64-bit floating-point form, so only the same spelling would match"
            ))
        }
        (Op::Numeric(_), Scalar::Num(got)) if comparable(got).is_none() => Some(format!(
            "{got} has no exact 64-bit floating-point form and is never compared numerically"
        )),
        (Op::Numeric(_), Scalar::Str(got)) if comparable(got).is_some() => Some(format!(
            "\"{got}\" is a string; numeric only compares JSON numbers"
        )),
        _ => None,
    }
}

/// Is there one value per tied field such that all are pairwise consistent?
fn jointly_consistent(tied: &[(usize, Vec<&[ArrayPos]>)]) -> bool {
    let options: Vec<Vec<&[ArrayPos]>> = tied.iter().map(|(_, trails)| trails.clone()).collect();
    choose_consistent(&options)
}

impl Explanation {
    /// Renders the explanation for people.
    pub fn to_text(&self, name: &str) -> String {
        let mut out = String::new();
        let verdict = if self.matched { "MATCH" } else { "NO MATCH" };
        let _ = writeln!(out, "rule {name}: {verdict}");
        let many = self.branches.len() > 1;
        for (i, branch) in self.branches.iter().enumerate() {
            if many {
                let mark = if branch.matched {
                    "matches"
                } else if i == self.closest {
                    "closest"
                } else {
                    "fails"
                };
                let _ = writeln!(
                    out,
                    "  $or branch {} of {} ({mark}: {} of {} fields hold)",
                    i + 1,
                    self.branches.len(),
                    branch.fields_matched,
                    branch.fields.len()
                );
            }
            let indent = if many { "    " } else { "  " };
            for f in &branch.fields {
                let mark = if f.verdict == Verdict::Matched {
                    "ok  "
                } else {
                    "FAIL"
                };
                let _ = writeln!(
                    out,
                    "{indent}{mark} {} {} — {}",
                    f.path, f.condition, f.detail
                );
            }
        }
        out
    }

    /// Renders the explanation as JSON for tools.
    pub fn to_json(&self, name: &str) -> serde_json::Value {
        serde_json::json!({
            "rule": name,
            "matched": self.matched,
            "closest_branch": self.closest,
            "branches": self.branches,
        })
    }
}
