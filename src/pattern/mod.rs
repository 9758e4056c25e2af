//! Event patterns: EventBridge patterns and SNS filter policies — parse, compile, match,
//! explain.
//!
//! The semantics are those of aws/event-ruler 2.0.1 (what EventBridge runs); every
//! surprising corner is documented in `ARCHITECTURE.md` and pinned by the conformance
//! corpus in `tests/data/`.
//!
//! - [`Pattern`] — a validated pattern ([`Pattern::parse`]); errors name the place.
//! - [`Matcher`] — many named patterns matched together, cost per event independent of
//!   the number of rules.
//! - [`explain()`] — why a pattern does or does not match an event, field by field.
//! - [`sns`] — SNS subscription filter policies on top of the same engine.
//!
//! # Example: validate, match and explain
//! ```
//! use eventyard::pattern::{explain, Pattern};
//! let p = Pattern::parse(r#"{"detail": {"total": [{"numeric": [">", 100]}]}}"#).unwrap();
//! let e = br#"{"detail": {"total": 42}}"#;
//! let why = explain(&p, e).unwrap();
//! assert!(!why.matched);
//! assert!(why.to_text("big-orders").contains("detail.total"));
//! ```

mod ast;
mod consistency;
mod explain;
mod flatten;
mod index;
mod ip;
pub mod json;
mod matcher;
mod number;
mod parse;
pub mod sns;
pub(crate) mod swar;
mod text;

pub use ast::{Alternative, Branch, Field, Node, Op, Scalar};
pub use explain::{BranchVerdict, Explanation, FieldVerdict, Verdict, explain, reference_matches};
pub use flatten::{AllValues, ArrayPos, Value as EventValue, skip_string_at, value_end};
pub use json::JsonError;
pub use matcher::{Matcher, RuleId, Scratch};
pub use parse::Pattern;

use std::fmt;

/// Bounds on what a pattern may be. Defaults follow EventBridge's documented quotas.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Limits {
    /// Longest pattern text, in characters (EventBridge: 2,048).
    pub max_pattern_chars: usize,
    /// Most sub-patterns an `$or` may expand into (EventBridge: 1,000).
    pub max_combinations: usize,
    /// Most `*` characters across all wildcards of one pattern (complexity guard).
    pub max_wildcard_stars: usize,
    /// Deepest nesting of objects and arrays in the pattern text.
    pub max_depth: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_pattern_chars: 2048,
            max_combinations: 1000,
            max_wildcard_stars: 100,
            max_depth: 256,
        }
    }
}

/// Why a pattern was rejected, and where.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PatternError {
    /// Where in the pattern (`detail.total[0].numeric`); empty for the whole pattern.
    pub path: String,
    /// What is wrong.
    pub reason: String,
}

impl PatternError {
    /// An error about the pattern as a whole.
    pub fn root(reason: impl Into<String>) -> PatternError {
        PatternError {
            path: String::new(),
            reason: reason.into(),
        }
    }

    /// An error at a place in the pattern.
    pub fn at(path: &str, reason: impl Into<String>) -> PatternError {
        PatternError {
            path: path.to_string(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for PatternError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.reason)
        } else {
            write!(f, "{}: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for PatternError {}
