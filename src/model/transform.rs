//! What an EventBridge rule target receives: the whole event, a constant, part of the
//! event (`InputPath`) or a rendered template (`InputTransformer`).
//!
//! Configuration is compiled once ([`TargetInput::from_config`],
//! [`InputTransformer::compile`]), collecting *every* problem with its path; rendering
//! ([`TargetInput::render`]) is then a single pass over pre-split template parts.
//!
//! # Sources
//!
//! - **(UG)** EventBridge User Guide, *Amazon EventBridge input transformation*
//!   (`eb-transform-target-input.html`): predefined variables, the EC2 examples, "Common
//!   issues" (missing paths, no escaping of extracted values, quotes in strings).
//! - **(API-IT)** EventBridge API Reference, `InputTransformer`: at most 100
//!   `InputPathsMap` entries, keys 1–256 characters of `[A-Za-z0-9_-]`, paths at most 256
//!   characters, `InputTemplate` 1–8192 characters, placeholders not usable as object keys.
//! - **(API-T)** EventBridge API Reference, `Target`: `Input` is valid JSON text of at
//!   most 8192 characters; `InputPath` is a JSONPath of at most 256 characters in dot or
//!   bracket notation.
//! - **(Pipes)** EventBridge User Guide, *Pipes input transformation*: the same
//!   template engine, whose "Common issues" spell out quoting: strings are quoted
//!   automatically outside quotes, objects and arrays are not, and an object or array
//!   referenced inside a string loses its internal quotes.
//! - **(LS)** LocalStack's `tests/aws/services/events/test_events_inputs.py` and its
//!   snapshot, recorded against real AWS in 2024 (`markers.aws.validated`). Used where the
//!   documentation is silent.
//!
//! # Behaviour
//!
//! - **Whole event** (no setting): the event text, unchanged.
//! - **`Input`**: the configured JSON text, unchanged (API-T).
//! - **`InputPath`**: the selected value as compact JSON; a string is delivered *with*
//!   its quotes (`$.detail.payload.sf_id` → `"baz"`) (LS). `$` delivers the event text
//!   unchanged.
//! - **`InputTransformer`** (UG, API-IT): the template with every `<name>` replaced.
//!   The template is classified once:
//!   - *JSON template* — it starts with `{` or `[`, or it is some other JSON value once its
//!     placeholders are filled (a bare `<detail>`). A placeholder **outside** quotes
//!     becomes the value as JSON: strings are quoted and escaped, objects and arrays
//!     inserted as JSON (Pipes). A placeholder **inside** a string literal gets the value
//!     as raw text, *not escaped* ("EventBridge doesn't escape values extracted by Input
//!     Path", UG); numbers, booleans and `null` as their JSON text; an object or array
//!     as its JSON text, which breaks the string — AWS then delivers nothing (LS).
//!   - *String template* — the whole template is one JSON string literal
//!     (`"instance <instance> is in <state>"`). Every placeholder is inside the string:
//!     strings raw, objects and arrays as compact JSON with every `"` removed
//!     (`"Detail is <detail>"` → `"Detail is {key1:value1}"`) (UG, Pipes). The output
//!     keeps the outer quotes (it is what an SQS target receives) (LS).
//!   - *Text template* — anything else (`<instance> is in state <status>`, an example in
//!     API-IT): placeholders are replaced as in a string template.
//!   - A path that selects nothing gives an empty string: nothing inside quotes, `""`
//!     outside quotes (`{"command": <command>}` → `{"command": ""}`) (LS). ("that variable
//!     isn't created and won't appear in the output", UG.)
//!   - Reserved variables (UG): `aws.events.rule-arn`, `aws.events.rule-name`,
//!     `aws.events.event.ingestion-time` (strings from [`Reserved`]);
//!     `aws.events.event.json` (the original event text, unchanged); `aws.events.event`
//!     (the original event without `detail`, see below). They need no `InputPathsMap`
//!     entry and cannot be defined there.
//!
//! # Validation (all problems are collected, each with its path)
//!
//! - At most one of `input`, `input_path`, `input_transformer` (AWS: "Only one of Input,
//!   InputPath, or InputTransformer must be provided") (LS).
//! - `input`: valid JSON, at most 8192 characters (API-T).
//! - `input_path` and every `input_paths_map` value: a JSONPath of EventBridge's subset, at
//!   most 256 characters ([`JsonPath::parse`]).
//! - `input_paths_map`: at most 100 entries; names 1–256 characters of letters, digits,
//!   `_` and `-`; a reserved name is reported as such (API-IT, UG).
//! - `input_template`: 1–8192 characters (API-IT); every placeholder must name an
//!   `input_paths_map` entry or a reserved variable (AWS rejects `PutTargets` with
//!   "InputTemplate for target … contains invalid placeholder notdefinedkey.") (LS); a
//!   template starting with `{`, `[` or `"` must be valid JSON once its placeholders are
//!   filled, and no placeholder may be (part of) an object key (API-IT).
//!
//! # Deviations / assumptions
//!
//! - **JSONPath subset.** `$`, `.name`, `['name']` / `["name"]`, `[N]`. AWS lists
//!   wildcards (`*`) as supported; they are rejected here (a wildcard selects several
//!   values, and which JSON AWS builds from them is undocumented). Deep scan (`..`),
//!   filters, slices, unions, negative indexes and functions are rejected too, as is a path
//!   not starting with `$`. Dot-notation names may not contain whitespace, quotes, `*`,
//!   `?`, `(`, `)` or `]` (bracket notation takes any name).
//! - **`InputPath` selecting nothing.** Undocumented. Assumed: the target receives nothing
//!   ([`TargetInput::render_checked`] reports [`Undeliverable::NothingSelected`];
//!   [`TargetInput::render`] yields `null`).
//! - **Undeliverable transformer output.** When a JSON template renders to invalid JSON
//!   (an object inside quotes, a string with `"` inside quotes), AWS drops the delivery
//!   (LS); [`InputTransformer::apply_checked`] reports it, [`InputTransformer::apply`]
//!   returns the text anyway. String and text templates are always delivered.
//! - **No escaping inside quotes** follows UG; a string value containing `"`, `\` or a
//!   control character inside a quoted placeholder therefore makes the output invalid.
//! - **JSON `null` values** are rendered as `null` (inside quotes too); only a path that
//!   selects nothing counts as missing. Undocumented.
//! - **Re-serialised values.** Extracted objects, arrays and numbers are written by
//!   `serde_json`: compact, numbers in its canonical form (`1e2` → `100.0`), object keys in
//!   its map order (sorted unless `serde_json/preserve_order` is enabled). AWS keeps the
//!   event's order. Template whitespace is kept (an old UG revision said the output is
//!   "minified"; the current one does not).
//! - **`aws.events.event`** is the event without its top-level `detail`; LS shows AWS
//!   renames `detail-type` to `detailType` and orders the members `id`, `account`,
//!   `detailType`, `time`, `source`, `region`, `resources`, `version`, which is
//!   reproduced (other members follow). LS hints that AWS's `time` there may be
//!   formatted differently; the event's own `time` is used.
//! - **Placeholders** are `<name>` where `name` is made of letters, digits, `_`, `-` and
//!   `.`; any other `<`…`>` is literal text. ("The characters "<" and ">" cannot be
//!   escaped" — an older UG revision.) An undefined `<name>` is an error, never literal.
//! - **Template validity.** AWS may accept a broken JSON template at `PutTargets` and drop
//!   every delivery later; it is rejected here at compile time.
//! - **`InputPathsMap` keys starting with "AWS".** Some API-IT revisions say keys cannot
//!   start with "AWS", others "AWS."; the key pattern already excludes `.`, so only the
//!   reserved names are rejected specially and `AWSRegion` is accepted.
//! - **CloudWatch Logs targets** display a transformed `{"timestamp": …, "message": …}`
//!   differently (UG's last example shows the log event, not the transformer output);
//!   that is the target's business, not this module's.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::fmt;
use std::fmt::Write as _;
use std::ops::Range;

use serde::de::IgnoredAny;
use serde_json::Value;

use super::template::Mark;

/// Most entries in an `InputPathsMap`.
pub const MAX_VARIABLES: usize = 100;
/// Most characters in an `InputTemplate`.
pub const MAX_TEMPLATE_CHARS: usize = 8192;
/// Most characters in a constant `Input`.
pub const MAX_INPUT_CHARS: usize = 8192;
/// Most characters in a JSONPath (`InputPath` or an `InputPathsMap` value).
pub const MAX_PATH_CHARS: usize = 256;
/// Most characters in an `InputPathsMap` variable name.
pub const MAX_NAME_CHARS: usize = 256;

/// `<aws.events.rule-arn>`: the rule's ARN.
pub const RULE_ARN: &str = "aws.events.rule-arn";
/// `<aws.events.rule-name>`: the rule's name.
pub const RULE_NAME: &str = "aws.events.rule-name";
/// `<aws.events.event.ingestion-time>`: when EventBridge received the event.
pub const INGESTION_TIME: &str = "aws.events.event.ingestion-time";
/// `<aws.events.event>`: the original event without `detail`, as JSON.
pub const EVENT: &str = "aws.events.event";
/// `<aws.events.event.json>`: the full original event, as JSON.
pub const EVENT_JSON: &str = "aws.events.event.json";
/// The reserved (predefined) variable names, usable in every template.
pub const RESERVED_VARIABLES: [&str; 5] = [RULE_ARN, RULE_NAME, INGESTION_TIME, EVENT, EVENT_JSON];

// ---------------------------------------------------------------------------------------
// JSONPath
// ---------------------------------------------------------------------------------------

/// A compiled JSONPath of EventBridge's subset.
///
/// Accepted: `$`, then any number of `.name`, `['name']`, `["name"]` and `[N]`
/// (`$.detail.items[0].sku`, `$.detail['odd key']`). Everything else is rejected with a
/// message saying what is not supported.
#[derive(Debug, Clone, PartialEq)]
pub struct JsonPath {
    text: String,
    segments: Vec<Segment>,
}

#[derive(Debug, Clone, PartialEq)]
enum Segment {
    Key(String),
    Index(usize),
}

impl JsonPath {
    /// The path as dotted keys (`$.detail.orderId` → `detail.orderId`), when it is
    /// made only of keys (at least one), none empty and none containing a dot.
    pub fn dotted(&self) -> Option<Box<str>> {
        let mut out = String::new();
        for segment in &self.segments {
            let Segment::Key(key) = segment else {
                return None;
            };
            if key.is_empty() || key.contains('.') {
                return None;
            }
            if !out.is_empty() {
                out.push('.');
            }
            out.push_str(key);
        }
        (!out.is_empty() && !self.segments.is_empty()).then(|| out.into())
    }

    /// Parses a JSONPath; the error says what is wrong (without the path's text).
    pub fn parse(text: &str) -> Result<JsonPath, String> {
        let chars: Vec<char> = text.chars().collect();
        if chars.len() > MAX_PATH_CHARS {
            return Err(format!(
                "is {} characters long; at most {MAX_PATH_CHARS} are allowed",
                chars.len()
            ));
        }
        match chars.first() {
            None => return Err("is empty; a JSONPath starts with `$`".into()),
            Some('$') => {}
            Some(_) => return Err("must start with `$` (for example `$.detail`)".into()),
        }
        let mut segments = Vec::new();
        let mut i = 1;
        while let Some(&c) = chars.get(i) {
            match c {
                '.' => {
                    let (segment, next) = parse_dot_name(&chars, i + 1)?;
                    segments.push(segment);
                    i = next;
                }
                '[' => {
                    let (segment, next) = parse_bracket(&chars, i + 1)?;
                    segments.push(segment);
                    i = next;
                }
                '*' => return Err("wildcards (`*`) are not supported".into()),
                _ => {
                    return Err(format!(
                        "unexpected `{c}` at position {i}; expected `.name` or `[...]`"
                    ));
                }
            }
        }
        Ok(JsonPath {
            text: text.to_owned(),
            segments,
        })
    }

    /// The value the path selects, or `None` when the event has nothing there.
    pub fn select<'v>(&self, event: &'v Value) -> Option<&'v Value> {
        let mut current = event;
        for segment in &self.segments {
            current = match (segment, current) {
                (Segment::Key(key), Value::Object(map)) => map.get(key)?,
                (Segment::Index(index), Value::Array(items)) => items.get(*index)?,
                _ => return None,
            };
        }
        Some(current)
    }

    /// The path as written.
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// True for `$` (the whole event).
    pub fn is_root(&self) -> bool {
        self.segments.is_empty()
    }

    /// Selects from the event's JSON *text* without parsing it: the selected value's
    /// text, or `None` when nothing is selected or the text is malformed on the way.
    /// For compact JSON (what the router produces) this equals `select(..).to_string()`
    /// except that numbers keep the event's own spelling.
    pub fn select_raw<'t>(&self, text: &'t str) -> Option<&'t str> {
        let b = text.as_bytes();
        let at = raw::ws(b, 0);
        self.walk(text, at, &self.segments)
    }

    /// Like [`JsonPath::select_raw`], starting from an index of the event's top-level
    /// members (built once, shared by every path read from one event).
    pub fn select_in<'t>(&self, top: &TopLevel<'t>) -> Option<&'t str> {
        match self.segments.split_first() {
            None => Some(top.text),
            Some((Segment::Key(key), rest)) => {
                let (start, end) = top.get(key)?;
                if rest.is_empty() {
                    Some(&top.text[start..end])
                } else {
                    self.walk(top.text, start, rest)
                }
            }
            Some((Segment::Index(_), _)) => self.select_raw(top.text),
        }
    }

    fn walk<'t>(&self, text: &'t str, mut at: usize, segments: &[Segment]) -> Option<&'t str> {
        let b = text.as_bytes();
        for segment in segments {
            at = match segment {
                Segment::Key(key) => raw::member(text, at, key)?,
                Segment::Index(i) => raw::element(b, at, *i)?,
            };
        }
        let end = raw::skip_value(b, at)?;
        Some(&text[at..end])
    }
}

/// The top-level members of an event's JSON text (raw key, value start, value end),
/// found in one pass; of duplicate keys the first counts.
pub struct TopLevel<'t> {
    text: &'t str,
    members: TopMembers<'t>,
    /// Values inside `detail` whose places the event's writer noted.
    written: Option<Written<'t>>,
}

/// Where an event's writer wrote the values at some paths inside its `detail` (see
/// [`crate::model::fuse`]), so that reading them needs no scan.
#[derive(Clone, Copy, Debug)]
pub struct Written<'t> {
    /// The watched paths, dotted, relative to `detail` (a mark's slot indexes them).
    pub paths: &'t [String],
    /// Where each watched value was written (byte ranges of the event text); a
    /// watched path without a mark is absent from the event.
    pub marks: &'t [Mark],
}

impl Written<'_> {
    /// The value range at dotted `path` (relative to `detail`): `None` when the path
    /// is not watched, `Some(None)` when the event has no value there.
    fn lookup(&self, path: &str) -> Option<Option<(usize, usize)>> {
        let slot = self.paths.iter().position(|p| p == path)?;
        Some(
            self.marks
                .iter()
                .find(|m| m.slot as usize == slot)
                .map(|m| (m.start as usize, m.end as usize)),
        )
    }
}

/// One top-level member: its raw key (the text between the key's quotes), whether that
/// contains an escape, and its value's byte range.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Member<'t> {
    key: &'t str,
    escaped: bool,
    start: usize,
    end: usize,
}

/// A top-level index's members: an EventBridge event's nine (ten when replayed) fit
/// inline, so indexing an event allocates nothing.
type TopMembers<'t> = smallvec::SmallVec<[Member<'t>; 10]>;

impl<'t> TopLevel<'t> {
    /// Indexes `text`'s top-level object; an empty index when it is not one.
    pub fn new(text: &'t str) -> TopLevel<'t> {
        let mut members = TopMembers::new();
        let b = text.as_bytes();
        let mut i = raw::ws(b, 0);
        if b.get(i) == Some(&b'{') {
            i = raw::ws(b, i + 1);
            while b.get(i) == Some(&b'"') {
                let Some((key_end, escaped)) = raw::string_end(b, i) else {
                    break;
                };
                let key = &text[i + 1..key_end - 1];
                i = raw::ws(b, key_end);
                if b.get(i) != Some(&b':') {
                    break;
                }
                let start = raw::ws(b, i + 1);
                let Some(end) = raw::skip_value(b, start) else {
                    break;
                };
                members.push(Member {
                    key,
                    escaped,
                    start,
                    end,
                });
                i = raw::ws(b, end);
                match b.get(i) {
                    Some(b',') => i = raw::ws(b, i + 1),
                    _ => break,
                }
            }
        }
        TopLevel {
            text,
            members,
            written: None,
        }
    }

    /// The index of `text` from members its writer already knows, without scanning:
    /// each `(raw key, value start, value end)` in text order, exactly as
    /// [`TopLevel::new`] would find them (the raw key is the text between the key's
    /// quotes; the range is the value's, without surrounding white space). For a writer
    /// that has just produced `text` (the router's envelope).
    pub fn from_offsets(text: &'t str, members: &[(&'t str, usize, usize)]) -> TopLevel<'t> {
        let top = TopLevel {
            text,
            written: None,
            members: members
                .iter()
                .map(|&(key, start, end)| Member {
                    key,
                    escaped: key.bytes().any(|c| c == b'\\'),
                    start,
                    end,
                })
                .collect(),
        };
        debug_assert!(
            top.members == TopLevel::new(text).members,
            "offsets disagree with the text: {text}"
        );
        top
    }

    /// This index, also knowing where the writer put the values at some paths inside
    /// `detail` (they are then read without scanning).
    pub fn with_written(mut self, written: Written<'t>) -> TopLevel<'t> {
        self.written = Some(written);
        self
    }

    /// The members as `(raw key, value start, value end)`.
    #[cfg(test)]
    pub(crate) fn members_for_test(&self) -> Vec<(&'t str, usize, usize)> {
        self.members
            .iter()
            .map(|m| (m.key, m.start, m.end))
            .collect()
    }

    fn get(&self, key: &str) -> Option<(usize, usize)> {
        self.members.iter().find_map(|m| {
            // An unescaped key equals `key` only if their lengths do (most differ).
            let same = if m.escaped {
                raw::unescaped_key_is(m.key, key)
            } else {
                m.key.len() == key.len() && raw::same_bytes(m.key.as_bytes(), key.as_bytes())
            };
            same.then_some((m.start, m.end))
        })
    }
}

/// A minimal reader of JSON text for [`JsonPath::select_raw`]: finds members and
/// elements by skipping values, without allocating.
///
/// Skipping follows [`crate::pattern::value_end`] exactly (only strings and brackets are
/// looked at; a string's escapes are stepped over, not checked; brackets must pair up),
/// eight bytes at a time.
mod raw {
    use crate::pattern::swar::{
        equal_bytes, quote_or_backslash, string_stops as special_bytes, structural, word_at,
    };

    pub(super) fn ws(b: &[u8], mut at: usize) -> usize {
        while at < b.len() && matches!(b[at], b' ' | b'\t' | b'\n' | b'\r') {
            at += 1;
        }
        at
    }

    /// Whether `s` has a byte that is `"`, `\` or a control character (what a JSON
    /// string literal must escape).
    #[inline]
    pub(super) fn has_special(s: &str) -> bool {
        let b = s.as_bytes();
        if b.len() < 8 {
            // Padded with spaces (nothing special) to a word.
            let mut padded = [b' '; 8];
            padded[..b.len()].copy_from_slice(b);
            return special_bytes(u64::from_le_bytes(padded)) != 0;
        }
        let mut i = 0;
        while i + 8 < b.len() {
            if special_bytes(word_at(b, i).unwrap_or_default()) != 0 {
                return true;
            }
            i += 8;
        }
        // The last eight bytes (overlapping the previous word).
        special_bytes(word_at(b, b.len() - 8).unwrap_or_default()) != 0
    }

    /// Whether `s` contains a `\`.
    #[inline]
    pub(super) fn has_backslash(s: &str) -> bool {
        let b = s.as_bytes();
        let mut i = 0;
        while let Some(w) = word_at(b, i) {
            if equal_bytes(w, b'\\') != 0 {
                return true;
            }
            i += 8;
        }
        b[i.min(b.len())..].contains(&b'\\')
    }

    /// The end of the string whose opening quote is at `at`, and whether it contains a
    /// backslash (escapes are stepped over, not checked).
    #[inline]
    pub(super) fn string_end(b: &[u8], at: usize) -> Option<(usize, bool)> {
        let mut i = at + 1;
        let mut escaped = false;
        loop {
            i = quote_or_backslash(b, i);
            if *b.get(i)? == b'"' {
                return Some((i + 1, escaped));
            }
            escaped = true;
            i += 2;
        }
    }

    /// The end of the JSON value starting at `at` (no white space before it); `None` if
    /// the text ends first or brackets do not pair up.
    #[inline]
    pub(super) fn skip_value(b: &[u8], at: usize) -> Option<usize> {
        match *b.get(at)? {
            b'"' => string_end(b, at).map(|(end, _)| end),
            b'{' | b'[' => skip_compound(b, at),
            b'-' | b'0'..=b'9' | b't' | b'f' | b'n' => {
                let mut i = at;
                while b
                    .get(i)
                    .is_some_and(|&c| c.is_ascii_alphanumeric() || matches!(c, b'.' | b'+' | b'-'))
                {
                    i += 1;
                }
                Some(i)
            }
            _ => None,
        }
    }

    /// What a byte is to [`skip_compound`]: 0 nothing, 1 `"`, 2 `{` or `[`, 3 `}` or `]`.
    static CLASS: [u8; 256] = {
        let mut class = [0u8; 256];
        class[b'"' as usize] = 1;
        class[b'{' as usize] = 2;
        class[b'[' as usize] = 2;
        class[b'}' as usize] = 3;
        class[b']' as usize] = 3;
        class
    };

    /// Skips the object or array at `at`. The expected closers of the first 64 levels
    /// are bits of a word (1: `}`, 0: `]`, innermost lowest); deeper texts go the slow way.
    /// Byte by byte outside strings (structure is dense there); strings are searched a
    /// word at a time for their closing quote.
    fn skip_compound(b: &[u8], at: usize) -> Option<usize> {
        let mut stack = u64::from(b[at] == b'{');
        let mut depth = 1u32;
        let mut i = at + 1;
        loop {
            let c = *b.get(i)?;
            i += 1;
            match CLASS[usize::from(c)] {
                0 => {}
                1 => loop {
                    i = quote_or_backslash(b, i);
                    let c = *b.get(i)?;
                    i += 1;
                    if c == b'"' {
                        break;
                    }
                    i += 1;
                },
                2 => {
                    if depth == 64 {
                        return skip_compound_deep(b, at);
                    }
                    stack = stack << 1 | u64::from(c == b'{');
                    depth += 1;
                }
                _ => {
                    if ((stack & 1) == 1) != (c == b'}') {
                        return None;
                    }
                    stack >>= 1;
                    depth -= 1;
                    if depth == 0 {
                        return Some(i);
                    }
                }
            }
        }
    }

    /// [`skip_compound`] for any depth.
    #[cold]
    fn skip_compound_deep(b: &[u8], at: usize) -> Option<usize> {
        let mut closers = Vec::new();
        let mut i = at;
        loop {
            i = structural(b, i);
            let c = *b.get(i)?;
            match c {
                b'"' => i = string_end(b, i)?.0,
                b'{' => {
                    closers.push(b'}');
                    i += 1;
                }
                b'[' => {
                    closers.push(b']');
                    i += 1;
                }
                _ => {
                    if closers.pop() != Some(c) {
                        return None;
                    }
                    i += 1;
                    if closers.is_empty() {
                        return Some(i);
                    }
                }
            }
        }
    }

    /// `a == b`, without a call for short slices (keys): lengths, then overlapping
    /// words from both ends.
    #[inline]
    pub(super) fn same_bytes(a: &[u8], b: &[u8]) -> bool {
        let n = a.len();
        if n != b.len() {
            return false;
        }
        match n {
            0 => true,
            1..=3 => a[0] == b[0] && a[n / 2] == b[n / 2] && a[n - 1] == b[n - 1],
            4..=7 => {
                let word = |s: &[u8], at: usize| {
                    u32::from_le_bytes([s[at], s[at + 1], s[at + 2], s[at + 3]])
                };
                word(a, 0) == word(b, 0) && word(a, n - 4) == word(b, n - 4)
            }
            8..=16 => {
                let word = |s: &[u8], at: usize| word_at(s, at).unwrap_or_default();
                word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8)
            }
            _ => a == b,
        }
    }

    /// Whether the raw key `raw_key` (text between quotes, with escapes) decodes to `key`.
    #[cold]
    pub(super) fn unescaped_key_is(raw_key: &str, key: &str) -> bool {
        serde_json::from_str::<String>(&format!("\"{raw_key}\""))
            .ok()
            .as_deref()
            == Some(key)
    }

    /// The start of member `key`'s value in the object at `at`.
    pub(super) fn member(text: &str, at: usize, key: &str) -> Option<usize> {
        let b = text.as_bytes();
        if b.get(at) != Some(&b'{') {
            return None;
        }
        let mut i = ws(b, at + 1);
        while b.get(i) == Some(&b'"') {
            let (end, escaped) = string_end(b, i)?;
            let raw_key = &text[i + 1..end - 1];
            let same = if escaped {
                serde_json::from_str::<String>(&text[i..end])
                    .ok()
                    .as_deref()
                    == Some(key)
            } else {
                same_bytes(raw_key.as_bytes(), key.as_bytes())
            };
            i = ws(b, end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            i = ws(b, i + 1);
            if same {
                // The first of duplicate keys wins, as in the pattern engine.
                return Some(i);
            }
            i = ws(b, skip_value(b, i)?);
            match b.get(i) {
                Some(b',') => i = ws(b, i + 1),
                _ => break,
            }
        }
        None
    }

    /// The start of element `index` of the array at `at`.
    pub(super) fn element(b: &[u8], at: usize, index: usize) -> Option<usize> {
        if b.get(at) != Some(&b'[') {
            return None;
        }
        let mut i = ws(b, at + 1);
        if b.get(i) == Some(&b']') {
            return None;
        }
        for _ in 0..index {
            i = ws(b, skip_value(b, i)?);
            if b.get(i) != Some(&b',') {
                return None;
            }
            i = ws(b, i + 1);
        }
        Some(i)
    }
}

impl fmt::Display for JsonPath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// Reads the name after a `.` starting at `start`; returns the segment and the next index.
fn parse_dot_name(chars: &[char], start: usize) -> Result<(Segment, usize), String> {
    match chars.get(start) {
        None => return Err("ends with `.`; a property name must follow".into()),
        Some('.') => return Err("deep scan (`..`) is not supported".into()),
        Some('*') => return Err("wildcards (`*`) are not supported".into()),
        Some('[') => {
            return Err(format!(
                "`.` at position {} must be followed by a property name, not `[`",
                start - 1
            ));
        }
        Some(_) => {}
    }
    let mut name = String::new();
    let mut i = start;
    while let Some(&c) = chars.get(i) {
        match c {
            '.' | '[' => break,
            '*' => return Err("wildcards (`*`) are not supported".into()),
            '(' | ')' => return Err("functions (such as `length()`) are not supported".into()),
            '?' => return Err("filter expressions are not supported".into()),
            '\'' | '"' | ']' => {
                return Err(format!(
                    "unexpected `{c}` at position {i}; quote odd names in brackets: ['name']"
                ));
            }
            c if c.is_whitespace() || c.is_control() => {
                return Err(format!(
                    "whitespace or control character at position {i}; \
                     quote such names in brackets: ['name']"
                ));
            }
            c => name.push(c),
        }
        i += 1;
    }
    Ok((Segment::Key(name), i))
}

/// Reads a bracket segment whose content starts at `start` (just after `[`).
fn parse_bracket(chars: &[char], start: usize) -> Result<(Segment, usize), String> {
    let open = start - 1;
    let mut i = skip_spaces(chars, start);
    let segment = match chars.get(i) {
        None => return Err(format!("unterminated `[` at position {open}")),
        Some(&quote @ ('\'' | '"')) => {
            let mut name = String::new();
            i += 1;
            loop {
                match chars.get(i) {
                    None => return Err(format!("unterminated quoted name at position {open}")),
                    Some('\\') => {
                        let Some(&escaped) = chars.get(i + 1) else {
                            return Err(format!("unterminated quoted name at position {open}"));
                        };
                        name.push(escaped);
                        i += 2;
                    }
                    Some(&c) if c == quote => {
                        i += 1;
                        break;
                    }
                    Some(&c) => {
                        name.push(c);
                        i += 1;
                    }
                }
            }
            Segment::Key(name)
        }
        Some(c) if c.is_ascii_digit() => {
            let mut index: usize = 0;
            while let Some(d) = chars.get(i).and_then(|c| c.to_digit(10)) {
                index = index
                    .checked_mul(10)
                    .and_then(|x| x.checked_add(d as usize))
                    .ok_or_else(|| format!("array index at position {open} is too large"))?;
                i += 1;
            }
            Segment::Index(index)
        }
        Some('*') => return Err("wildcards (`*`) are not supported".into()),
        Some('?') => return Err("filter expressions (`[?(...)]`) are not supported".into()),
        Some('(') => return Err("script expressions (`[(...)]`) are not supported".into()),
        Some(':') => return Err("array slices (`[a:b]`) are not supported".into()),
        Some('-') => return Err("negative array indexes are not supported".into()),
        Some(']') => return Err(format!("empty brackets at position {open}")),
        Some(c) => {
            return Err(format!(
                "unexpected `{c}` in brackets at position {i}; \
                 expected an array index or a quoted name"
            ));
        }
    };
    i = skip_spaces(chars, i);
    match chars.get(i) {
        Some(']') => Ok((segment, i + 1)),
        Some(',') => Err("unions (`[a,b]`) are not supported".into()),
        Some(':') => Err("array slices (`[a:b]`) are not supported".into()),
        None => Err(format!("unterminated `[` at position {open}")),
        Some(c) => Err(format!(
            "unexpected `{c}` at position {i}; expected `]` closing the `[` at position {open}"
        )),
    }
}

fn skip_spaces(chars: &[char], mut i: usize) -> usize {
    while chars.get(i).is_some_and(|c| *c == ' ') {
        i += 1;
    }
    i
}

// ---------------------------------------------------------------------------------------
// Errors and delivery context
// ---------------------------------------------------------------------------------------

/// Where and why a target input setting is invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TransformError {
    /// The setting's path, e.g. `nodes.orders.rules.r.targets[0].input_transformer.input_template`.
    pub path: String,
    /// What is wrong.
    pub message: String,
}

impl TransformError {
    fn new(path: impl Into<String>, message: impl Into<String>) -> TransformError {
        TransformError {
            path: path.into(),
            message: message.into(),
        }
    }
}

impl fmt::Display for TransformError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.path, self.message)
    }
}

impl std::error::Error for TransformError {}

/// Values of the reserved variables for one delivery.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Reserved<'a> {
    /// `<aws.events.rule-arn>`.
    pub rule_arn: &'a str,
    /// `<aws.events.rule-name>`.
    pub rule_name: &'a str,
    /// `<aws.events.event.ingestion-time>` (RFC 3339).
    pub ingestion_time: &'a str,
}

/// Why EventBridge would not deliver anything to the target for this event.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Undeliverable {
    /// The `InputPath` selects nothing in this event.
    NothingSelected,
    /// A JSON template rendered to invalid JSON (a quoted placeholder received an object,
    /// an array, or a string containing `"`, `\` or a control character).
    InvalidJson {
        /// The text that was rendered.
        rendered: String,
    },
}

impl fmt::Display for Undeliverable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Undeliverable::NothingSelected => f.write_str("the input path selects nothing"),
            Undeliverable::InvalidJson { rendered } => {
                write!(f, "the input template rendered invalid JSON: {rendered}")
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// InputTransformer
// ---------------------------------------------------------------------------------------

/// How an `InputTemplate` is read (see the module documentation).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TemplateKind {
    /// A JSON value with placeholders (object, array, or a bare value such as `<detail>`).
    Json,
    /// One JSON string literal, `"… <name> …"`.
    String,
    /// Free text.
    Text,
}

/// How one placeholder is filled.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// JSON template, outside quotes: the value as JSON.
    Value,
    /// JSON template, inside a string literal: raw text, objects as JSON.
    Raw,
    /// String or text template: raw text, objects and arrays without their quotes.
    Flat,
}

/// Where a placeholder's value comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Source {
    Var(usize),
    RuleArn,
    RuleName,
    IngestionTime,
    Event,
    EventJson,
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum Part {
    Text(Range<usize>),
    Slot { source: Source, mode: Mode },
}

/// A compiled `InputTransformer`: variables, and the template pre-split into literal runs
/// and placeholder slots.
#[derive(Debug, Clone)]
pub struct InputTransformer {
    template: String,
    kind: TemplateKind,
    variables: Vec<(String, JsonPath)>,
    parts: Vec<Part>,
    /// How the variables are read from an event's text in one walk.
    plan: Plan,
}

/// The variables' paths as a tree of keys, compiled once per transformer, so that paths
/// sharing a prefix (`$.detail.orderId`, `$.detail.customer.tier`) walk it once and an
/// object's members are scanned once for all the keys wanted from it.
///
/// Node 0 is the event; every other node is a key under its parent (paths made only of
/// keys; a path with an index, or `$`, is read on its own).
#[derive(Debug, Clone, Default)]
struct Plan {
    nodes: Vec<PlanNode>,
    /// Variables read on their own (see above).
    alone: Vec<usize>,
    /// Per variable: its path as dotted keys, when it is made of keys without dots.
    dotted: Vec<Option<Box<str>>>,
    /// Per variable with a dotted path: where [`Plan::read_written`] finds it.
    written_at: Vec<Option<WrittenAt>>,
    /// Whether the plan applies (at most [`PLAN_MAX_VARIABLES`] variables).
    usable: bool,
}

/// Where a variable's value is when the event's writer noted places (see [`Written`]).
#[derive(Debug, Clone)]
enum WrittenAt {
    /// A top-level member.
    Member(Box<str>),
    /// At this dotted path inside `detail`.
    InDetail(Box<str>),
    /// Deeper inside another member (not noted).
    Elsewhere,
}

#[derive(Debug, Clone, Default)]
struct PlanNode {
    /// The (unescaped) key.
    key: Box<str>,
    /// Child nodes, in order of first use.
    children: Vec<u32>,
    /// Variables whose path ends here.
    vars: Vec<usize>,
}

/// Most variables a [`Plan`] reads (their values are kept on the stack).
const PLAN_MAX_VARIABLES: usize = 16;

impl Plan {
    fn new(variables: &[(String, JsonPath)]) -> Plan {
        let mut plan = Plan {
            nodes: vec![PlanNode::default()],
            alone: Vec::new(),
            dotted: variables.iter().map(|(_, path)| path.dotted()).collect(),
            written_at: variables
                .iter()
                .map(|(_, path)| {
                    let dotted = path.dotted()?;
                    Some(match dotted.split_once('.') {
                        None => WrittenAt::Member(dotted),
                        Some(("detail", rest)) => WrittenAt::InDetail(rest.into()),
                        Some(_) => WrittenAt::Elsewhere,
                    })
                })
                .collect(),
            usable: variables.len() <= PLAN_MAX_VARIABLES,
        };
        for (v, (_, path)) in variables.iter().enumerate() {
            let keys: Option<Vec<&str>> = path
                .segments
                .iter()
                .map(|segment| match segment {
                    Segment::Key(key) => Some(key.as_str()),
                    Segment::Index(_) => None,
                })
                .collect();
            let Some(keys) = keys.filter(|keys| !keys.is_empty()) else {
                plan.alone.push(v);
                continue;
            };
            let mut node = 0usize;
            for key in keys {
                let found = plan.nodes[node]
                    .children
                    .iter()
                    .map(|&c| c as usize)
                    .find(|&c| &*plan.nodes[c].key == key);
                node = match found {
                    Some(c) => c,
                    None => {
                        let c = plan.nodes.len();
                        plan.nodes.push(PlanNode {
                            key: key.into(),
                            ..PlanNode::default()
                        });
                        plan.nodes[node]
                            .children
                            .push(u32::try_from(c).unwrap_or(u32::MAX));
                        c
                    }
                };
            }
            plan.nodes[node].vars.push(v);
        }
        plan
    }

    /// Reads every planned variable's value text into `values` (indexed by variable),
    /// exactly as [`JsonPath::select_in`] reads each.
    fn read<'t>(&self, top: &TopLevel<'t>, values: &mut [Option<&'t str>]) {
        if top.written.is_some() {
            if self.read_written(top, values) {
                return;
            }
            // Forget what was read before giving up: the walk sets only what it finds.
            values.iter_mut().for_each(|v| *v = None);
        }
        let Some(root) = self.nodes.first() else {
            return;
        };
        for &c in &root.children {
            let node = &self.nodes[c as usize];
            let Some((start, end)) = top.get(&node.key) else {
                continue;
            };
            for &v in &node.vars {
                values[v] = Some(&top.text[start..end]);
            }
            if !node.children.is_empty() {
                self.collect(top.text, node, start, false, values);
            }
        }
    }

    /// [`Plan::read`] from where the writer put the values (top-level members and
    /// [`Written`] paths); false, with `values` partly set, when a planned variable is
    /// neither.
    fn read_written<'t>(&self, top: &TopLevel<'t>, values: &mut [Option<&'t str>]) -> bool {
        let Some(written) = top.written else {
            return false;
        };
        for (v, at) in self.written_at.iter().enumerate() {
            if self.alone.contains(&v) {
                continue;
            }
            let range = match at {
                None | Some(WrittenAt::Elsewhere) => return false,
                Some(WrittenAt::Member(key)) => top.get(key),
                Some(WrittenAt::InDetail(rest)) => match written.lookup(rest) {
                    Some(range) => range,
                    None => return false,
                },
            };
            if let Some(slot) = values.get_mut(v) {
                *slot = range.and_then(|(start, end)| top.text.get(start..end));
            }
        }
        true
    }

    /// Reads the variables under `node` from the value at `at`: one scan of its members
    /// for all the keys wanted (the first of duplicate keys counts), stopping once all
    /// are found unless `need_end`. Returns, when `need_end`, what
    /// [`raw::skip_value`] returns for the value at `at` (from the scan when it reached
    /// the object's end cleanly, where the two agree).
    fn collect<'t>(
        &self,
        text: &'t str,
        node: &PlanNode,
        at: usize,
        need_end: bool,
        values: &mut [Option<&'t str>],
    ) -> Option<usize> {
        let b = text.as_bytes();
        if b.get(at) != Some(&b'{') {
            return if need_end {
                raw::skip_value(b, at)
            } else {
                None
            };
        }
        let wanted = node.children.len();
        // Children found so far (a plan has at most 16 variables, hence 16 children).
        let mut found = 0u32;
        let mut left = wanted;
        let mut i = raw::ws(b, at + 1);
        let mut clean_end = None;
        while b.get(i) == Some(&b'"') {
            let Some((key_end, escaped)) = raw::string_end(b, i) else {
                break;
            };
            let raw_key = &b[i + 1..key_end - 1];
            let mut matched = None;
            for (n, &c) in node.children.iter().enumerate() {
                if found & (1 << n) != 0 {
                    continue;
                }
                let key = &self.nodes[c as usize].key;
                let same = if escaped {
                    raw::unescaped_key_is(&text[i + 1..key_end - 1], key)
                } else {
                    raw::same_bytes(raw_key, key.as_bytes())
                };
                if same {
                    matched = Some((n, c as usize));
                    break;
                }
            }
            i = raw::ws(b, key_end);
            if b.get(i) != Some(&b':') {
                break;
            }
            let start = raw::ws(b, i + 1);
            let end = match matched {
                None => raw::skip_value(b, start),
                Some((n, c)) => {
                    found |= 1 << n;
                    left -= 1;
                    let child = &self.nodes[c];
                    let need_child_end = need_end || left > 0 || !child.vars.is_empty();
                    let end = if child.children.is_empty() {
                        raw::skip_value(b, start)
                    } else {
                        self.collect(text, child, start, need_child_end, values)
                    };
                    if let Some(end) = end {
                        for &v in &child.vars {
                            values[v] = Some(&text[start..end]);
                        }
                    }
                    if left == 0 && !need_end {
                        return None;
                    }
                    end
                }
            };
            let Some(end) = end else {
                break;
            };
            i = raw::ws(b, end);
            match b.get(i) {
                Some(b',') => i = raw::ws(b, i + 1),
                Some(b'}') => {
                    clean_end = Some(i + 1);
                    break;
                }
                _ => break,
            }
        }
        if !need_end {
            return None;
        }
        clean_end.or_else(|| raw::skip_value(b, at))
    }
}

/// A value about to fill a slot.
enum Filler<'v> {
    Missing,
    Str(Cow<'v, str>),
    /// A string whose JSON literal (given, quotes included) has nothing escaped and
    /// nothing to escape: the literal is its JSON, the text between the quotes itself.
    Plain(&'v str),
    /// A number, boolean or `null`, as JSON text.
    Scalar(String),
    /// An object or array, as JSON text.
    Compound(Cow<'v, str>),
}

impl InputTransformer {
    /// Compiles; collects ALL problems, each path prefixed with `base_path` (e.g.
    /// `nodes.orders.rules.to-billing.targets[0].input_transformer.input_paths_map.orderId`).
    pub fn compile(
        paths_map: &BTreeMap<String, String>,
        template: &str,
        base_path: &str,
    ) -> Result<InputTransformer, Vec<TransformError>> {
        let mut errors = Vec::new();
        let map_path = join(base_path, "input_paths_map");
        let template_path = join(base_path, "input_template");

        if paths_map.len() > MAX_VARIABLES {
            errors.push(TransformError::new(
                &map_path,
                format!(
                    "has {} variables; at most {MAX_VARIABLES} are allowed",
                    paths_map.len()
                ),
            ));
        }
        let mut variables = Vec::with_capacity(paths_map.len());
        for (name, path) in paths_map {
            let entry_path = map_entry_path(&map_path, name);
            if let Some(problem) = name_problem(name) {
                errors.push(TransformError::new(&entry_path, problem));
            }
            match JsonPath::parse(path) {
                Ok(parsed) => variables.push((name.clone(), parsed)),
                Err(message) => errors.push(TransformError::new(
                    &entry_path,
                    format!("invalid JSONPath `{path}`: {message}"),
                )),
            }
        }

        let chars = template.chars().count();
        if chars == 0 {
            errors.push(TransformError::new(&template_path, "must not be empty"));
        } else if chars > MAX_TEMPLATE_CHARS {
            errors.push(TransformError::new(
                &template_path,
                format!("is {chars} characters long; at most {MAX_TEMPLATE_CHARS} are allowed"),
            ));
        }

        let scan = scan_template(template);
        let mut undefined: Vec<&str> = Vec::new();
        let mut slots = Vec::with_capacity(scan.slots.len());
        for slot in &scan.slots {
            let source = match slot.name {
                RULE_ARN => Some(Source::RuleArn),
                RULE_NAME => Some(Source::RuleName),
                INGESTION_TIME => Some(Source::IngestionTime),
                EVENT => Some(Source::Event),
                EVENT_JSON => Some(Source::EventJson),
                name => variables
                    .iter()
                    .position(|(n, _)| n == name)
                    .map(Source::Var)
                    .or_else(|| {
                        paths_map
                            .contains_key(name)
                            .then_some(Source::Var(usize::MAX))
                    }),
            };
            match source {
                Some(source) => slots.push(source),
                None => {
                    if !undefined.contains(&slot.name) {
                        undefined.push(slot.name);
                    }
                    slots.push(Source::Var(usize::MAX));
                }
            }
        }
        for name in undefined {
            errors.push(TransformError::new(
                &template_path,
                format!(
                    "placeholder <{name}> is neither defined in input_paths_map nor a \
                     reserved variable ({})",
                    RESERVED_VARIABLES.join(", ")
                ),
            ));
        }

        let kind = match classify(template, &scan) {
            Ok(kind) => kind,
            Err(message) => {
                errors.push(TransformError::new(&template_path, message));
                TemplateKind::Text
            }
        };

        if !errors.is_empty() {
            return Err(errors);
        }
        let mut parts = Vec::with_capacity(scan.pieces.len());
        for piece in scan.pieces {
            match piece {
                Piece::Text(range) => parts.push(Part::Text(range)),
                Piece::Slot(index) => {
                    let (Some(slot), Some(&source)) = (scan.slots.get(index), slots.get(index))
                    else {
                        continue;
                    };
                    let mode = match (kind, slot.quoted) {
                        (TemplateKind::Json, false) => Mode::Value,
                        (TemplateKind::Json, true) => Mode::Raw,
                        (TemplateKind::String | TemplateKind::Text, _) => Mode::Flat,
                    };
                    parts.push(Part::Slot { source, mode });
                }
            }
        }
        let plan = Plan::new(&variables);
        Ok(InputTransformer {
            template: template.to_owned(),
            kind,
            variables,
            parts,
            plan,
        })
    }

    /// Renders the target input for one event. `event_text` is the event's JSON text,
    /// `event` the same parsed.
    ///
    /// Returns the rendered text even when EventBridge would drop it (see
    /// [`InputTransformer::apply_checked`]).
    pub fn apply(&self, event_text: &str, event: &Value, reserved: &Reserved<'_>) -> String {
        self.render(event_text, event, reserved).0
    }

    /// Like [`InputTransformer::apply`], but reports when a JSON template rendered to
    /// invalid JSON, which EventBridge does not deliver.
    pub fn apply_checked(
        &self,
        event_text: &str,
        event: &Value,
        reserved: &Reserved<'_>,
    ) -> Result<String, Undeliverable> {
        let (rendered, suspicious) = self.render(event_text, event, reserved);
        if suspicious && serde_json::from_str::<IgnoredAny>(&rendered).is_err() {
            return Err(Undeliverable::InvalidJson { rendered });
        }
        Ok(rendered)
    }

    /// The template as written.
    pub fn template(&self) -> &str {
        &self.template
    }

    /// How the template is read.
    pub fn kind(&self) -> TemplateKind {
        self.kind
    }

    /// The variables (name and path), sorted by name.
    pub fn variables(&self) -> impl Iterator<Item = (&str, &JsonPath)> {
        self.variables.iter().map(|(n, p)| (n.as_str(), p))
    }

    /// How many placeholders the template has (the ranges
    /// [`TargetInput::render_recording`] notes).
    pub fn placeholders(&self) -> usize {
        self.parts
            .iter()
            .filter(|p| matches!(p, Part::Slot { .. }))
            .count()
    }

    /// The top-level members of a template that is one JSON object, in template order:
    /// each member's key and whether its value is exactly one placeholder (outside
    /// quotes: [`TopMember::Slot`] with the placeholder's number among all of the
    /// template's placeholders, in order). `None` when the template is not a JSON object,
    /// holds a backslash (a key or constant written with escapes reads differently raw),
    /// a placeholder inside a key, or a key that is empty, dotted or repeated.
    pub fn top_members(&self) -> Option<Vec<(String, TopMember)>> {
        if self.kind != TemplateKind::Json || self.template.contains('\\') {
            return None;
        }
        // A placeholder outside quotes becomes a string holding a NUL and its number; one
        // inside a string becomes a SOH, which can never make that string look like the
        // former (a template without backslashes holds neither character).
        let mut probe = String::with_capacity(self.template.len() + 8 * self.parts.len());
        let mut slot = 0;
        for part in &self.parts {
            match part {
                Part::Text(range) => probe.push_str(self.template.get(range.clone())?),
                Part::Slot { mode, .. } => {
                    match mode {
                        Mode::Value => write!(probe, "\"\\u0000{slot}\"").ok()?,
                        Mode::Raw => probe.push_str("\\u0001"),
                        Mode::Flat => return None,
                    }
                    slot += 1;
                }
            }
        }
        let OrderedMembers(members) = serde_json::from_str(&probe).ok()?;
        let mut keys = std::collections::BTreeSet::new();
        let mut top = Vec::with_capacity(members.len());
        for (key, value) in members {
            if key.is_empty() || key.contains(['.', '\0', '\u{1}']) || !keys.insert(key.clone()) {
                return None;
            }
            let member = match value {
                Value::String(s) => s
                    .strip_prefix('\0')
                    .and_then(|n| n.parse().ok())
                    .map_or(TopMember::Other, TopMember::Slot),
                _ => TopMember::Other,
            };
            top.push((key, member));
        }
        Some(top)
    }

    /// Renders; the flag says whether a quoted slot received text that may break JSON.
    fn render(&self, event_text: &str, event: &Value, reserved: &Reserved<'_>) -> (String, bool) {
        self.render_with(
            event_text,
            reserved,
            |_, path| filler_of(path.select(event)),
            || without_detail(event),
            None,
            String::new(),
        )
    }

    /// Renders reading each variable straight from the event text (no parsed event).
    fn render_raw(
        &self,
        top: &TopLevel<'_>,
        reserved: &Reserved<'_>,
        slots: Option<&mut Vec<Range<usize>>>,
        into: String,
    ) -> (String, bool) {
        let event_text = top.text;
        if self.plan.usable {
            let mut values = [None; PLAN_MAX_VARIABLES];
            self.plan.read(top, &mut values);
            for &v in &self.plan.alone {
                if let Some((_, path)) = self.variables.get(v) {
                    values[v] = path.select_in(top);
                }
            }
            return self.render_with(
                event_text,
                reserved,
                |v, _| filler_of_raw(values.get(v).copied().flatten()),
                || {
                    let event = serde_json::from_str::<Value>(event_text).unwrap_or(Value::Null);
                    without_detail(&event)
                },
                slots,
                into,
            );
        }
        self.render_with(
            event_text,
            reserved,
            |_, path| filler_of_raw(path.select_in(top)),
            || {
                let event = serde_json::from_str::<Value>(event_text).unwrap_or(Value::Null);
                without_detail(&event)
            },
            slots,
            into,
        )
    }

    fn render_with<'a>(
        &self,
        event_text: &'a str,
        reserved: &Reserved<'a>,
        lookup: impl Fn(usize, &JsonPath) -> Filler<'a>,
        event_without_detail_of: impl FnOnce() -> String,
        mut slots: Option<&mut Vec<Range<usize>>>,
        into: String,
    ) -> (String, bool) {
        let mut event_without_detail_of = Some(event_without_detail_of);
        // Written into `into` (emptied), with room for a typical result.
        let mut out = into;
        out.clear();
        out.reserve(self.template.len() + 16 * self.parts.len());
        let mut suspicious = false;
        let mut event_without_detail: Option<String> = None;
        for part in &self.parts {
            let (source, mode) = match part {
                Part::Text(range) => {
                    out.push_str(self.template.get(range.clone()).unwrap_or_default());
                    continue;
                }
                Part::Slot { source, mode } => (*source, *mode),
            };
            let slot_start = out.len();
            let filler = match source {
                Source::Var(index) => match self.variables.get(index) {
                    Some((_, path)) => lookup(index, path),
                    None => Filler::Missing,
                },
                Source::RuleArn => Filler::Str(Cow::Borrowed(reserved.rule_arn)),
                Source::RuleName => Filler::Str(Cow::Borrowed(reserved.rule_name)),
                Source::IngestionTime => Filler::Str(Cow::Borrowed(reserved.ingestion_time)),
                Source::EventJson => Filler::Compound(Cow::Borrowed(event_text)),
                Source::Event => {
                    if event_without_detail.is_none() {
                        event_without_detail = event_without_detail_of.take().map(|f| f());
                    }
                    Filler::Compound(Cow::Owned(event_without_detail.clone().unwrap_or_default()))
                }
            };
            match (mode, filler) {
                (Mode::Value, Filler::Missing) => out.push_str("\"\""),
                (Mode::Value, Filler::Str(s)) => push_json_string(&mut out, &s),
                (Mode::Value, Filler::Plain(literal)) => out.push_str(literal),
                (Mode::Raw | Mode::Flat, Filler::Plain(literal)) => {
                    out.push_str(literal.get(1..literal.len() - 1).unwrap_or_default());
                }
                (Mode::Raw | Mode::Flat, Filler::Missing) => {}
                (Mode::Raw, Filler::Str(s)) => {
                    // `"`, `\` and control characters are ASCII: a byte search will do.
                    suspicious |= raw::has_special(&s);
                    out.push_str(&s);
                }
                (Mode::Flat, Filler::Str(s)) => out.push_str(&s),
                (_, Filler::Scalar(text)) => out.push_str(&text),
                (Mode::Value, Filler::Compound(text)) => out.push_str(&text),
                (Mode::Raw, Filler::Compound(text)) => {
                    suspicious = true;
                    out.push_str(&text);
                }
                (Mode::Flat, Filler::Compound(text)) => {
                    // `"` is ASCII: dropping its bytes drops the characters.
                    for run in text.split('"') {
                        out.push_str(run);
                    }
                }
            }
            if let Some(slots) = slots.as_deref_mut() {
                slots.push(slot_start..out.len());
            }
        }
        (out, suspicious)
    }
}

/// What a top-level member of a JSON-object template holds (see
/// [`InputTransformer::top_members`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TopMember {
    /// Exactly one placeholder: its number among the template's placeholders.
    Slot(usize),
    /// A constant, or a value with placeholders inside it.
    Other,
}

/// A JSON object's members in document order, repeated keys kept.
struct OrderedMembers(Vec<(String, Value)>);

impl<'de> serde::Deserialize<'de> for OrderedMembers {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct Members;
        impl<'de> serde::de::Visitor<'de> for Members {
            type Value = OrderedMembers;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<A: serde::de::MapAccess<'de>>(
                self,
                mut map: A,
            ) -> Result<OrderedMembers, A::Error> {
                let mut members = Vec::new();
                while let Some(member) = map.next_entry::<String, Value>()? {
                    members.push(member);
                }
                Ok(OrderedMembers(members))
            }
        }
        d.deserialize_map(Members)
    }
}

/// A variable's filler from the selected value's JSON text.
fn filler_of_raw(raw: Option<&str>) -> Filler<'_> {
    match raw {
        None => Filler::Missing,
        Some(text) if text.len() >= 2 && text.starts_with('"') => {
            let inner = &text[1..text.len() - 1];
            if !raw::has_special(inner) {
                Filler::Plain(text)
            } else if raw::has_backslash(inner) {
                match serde_json::from_str::<String>(text) {
                    Ok(s) => Filler::Str(Cow::Owned(s)),
                    Err(_) => Filler::Missing,
                }
            } else {
                Filler::Str(Cow::Borrowed(inner))
            }
        }
        Some(text) if text.starts_with(['{', '[']) => Filler::Compound(Cow::Borrowed(text)),
        Some(text) => Filler::Scalar(text.to_string()),
    }
}

fn filler_of(value: Option<&Value>) -> Filler<'_> {
    match value {
        None => Filler::Missing,
        Some(Value::String(s)) => Filler::Str(Cow::Borrowed(s)),
        Some(v @ (Value::Object(_) | Value::Array(_))) => {
            Filler::Compound(Cow::Owned(v.to_string()))
        }
        Some(v) => Filler::Scalar(v.to_string()),
    }
}

/// `<aws.events.event>`: the event without `detail`, members in the order AWS was
/// observed to use, `detail-type` renamed `detailType` (LS).
fn without_detail(event: &Value) -> String {
    const ORDER: [(&str, &str); 8] = [
        ("id", "id"),
        ("account", "account"),
        ("detail-type", "detailType"),
        ("time", "time"),
        ("source", "source"),
        ("region", "region"),
        ("resources", "resources"),
        ("version", "version"),
    ];
    let Value::Object(map) = event else {
        return event.to_string();
    };
    let mut out = String::from("{");
    let member = |out: &mut String, key: &str, value: &Value| {
        if out.len() > 1 {
            out.push(',');
        }
        push_json_string(out, key);
        out.push(':');
        let _ = write!(out, "{value}");
    };
    for (from, to) in ORDER {
        if let Some(value) = map.get(from) {
            member(&mut out, to, value);
        }
    }
    for (key, value) in map {
        if key != "detail" && !ORDER.iter().any(|(from, _)| from == key) {
            member(&mut out, key, value);
        }
    }
    out.push('}');
    out
}

/// Appends `s` as a JSON string literal.
fn push_json_string(out: &mut String, s: &str) {
    if raw::has_special(s) {
        crate::pattern::json::write_string(s, out);
    } else {
        // Nothing to escape: what `write_string` would write, without its char loop.
        out.reserve(s.len() + 2);
        out.push('"');
        out.push_str(s);
        out.push('"');
    }
}

fn join(base: &str, field: &str) -> String {
    if base.is_empty() {
        field.to_owned()
    } else {
        format!("{base}.{field}")
    }
}

/// `map.name`, or `map["odd name"]` when the name is not a plain identifier.
fn map_entry_path(map_path: &str, name: &str) -> String {
    if is_variable_name(name) {
        format!("{map_path}.{name}")
    } else {
        let mut quoted = String::new();
        push_json_string(&mut quoted, name);
        format!("{map_path}[{quoted}]")
    }
}

fn is_variable_name(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Why `name` cannot be an `InputPathsMap` key, if it cannot.
fn name_problem(name: &str) -> Option<String> {
    if RESERVED_VARIABLES.contains(&name) {
        return Some(format!(
            "`{name}` is a reserved variable; use <{name}> in the template without defining it"
        ));
    }
    if name.is_empty() {
        return Some("variable name must not be empty".into());
    }
    let chars = name.chars().count();
    if chars > MAX_NAME_CHARS {
        return Some(format!(
            "variable name is {chars} characters long; at most {MAX_NAME_CHARS} are allowed"
        ));
    }
    if !is_variable_name(name) {
        return Some(format!(
            "variable name `{name}` may only contain letters, digits, `_` and `-`"
        ));
    }
    None
}

// ---------------------------------------------------------------------------------------
// Template scanning
// ---------------------------------------------------------------------------------------

struct Scan<'t> {
    pieces: Vec<Piece>,
    slots: Vec<SlotRef<'t>>,
}

enum Piece {
    Text(Range<usize>),
    Slot(usize),
}

struct SlotRef<'t> {
    name: &'t str,
    /// Inside a JSON string literal of the template.
    quoted: bool,
}

/// Splits the template into literal runs and placeholders, noting for each placeholder
/// whether it sits inside a JSON string literal (`"` toggles, `\` escapes inside strings).
/// Only ASCII bytes are examined, so every cut is on a character boundary.
fn scan_template(template: &str) -> Scan<'_> {
    let bytes = template.as_bytes();
    let mut pieces = Vec::new();
    let mut slots = Vec::new();
    let mut literal_start = 0;
    let mut in_string = false;
    let mut escaped = false;
    let mut i = 0;
    while let Some(&b) = bytes.get(i) {
        if b == b'<'
            && let Some((name, end)) = placeholder_at(template, i)
        {
            if literal_start < i {
                pieces.push(Piece::Text(literal_start..i));
            }
            pieces.push(Piece::Slot(slots.len()));
            slots.push(SlotRef {
                name,
                quoted: in_string,
            });
            escaped = false;
            i = end;
            literal_start = end;
            continue;
        }
        if in_string {
            if escaped {
                escaped = false;
            } else if b == b'\\' {
                escaped = true;
            } else if b == b'"' {
                in_string = false;
            }
        } else if b == b'"' {
            in_string = true;
        }
        i += 1;
    }
    if literal_start < bytes.len() {
        pieces.push(Piece::Text(literal_start..bytes.len()));
    }
    Scan { pieces, slots }
}

/// A placeholder `<name>` starting at byte `start`: its name and the index after `>`.
fn placeholder_at(template: &str, start: usize) -> Option<(&str, usize)> {
    let bytes = template.as_bytes();
    let mut end = start + 1;
    while bytes
        .get(end)
        .is_some_and(|b| b.is_ascii_alphanumeric() || matches!(b, b'_' | b'-' | b'.'))
    {
        end += 1;
    }
    if end == start + 1 || bytes.get(end) != Some(&b'>') {
        return None;
    }
    Some((template.get(start + 1..end)?, end + 1))
}

/// Decides how the template is read; an error when it looks like JSON but is not.
fn classify(template: &str, scan: &Scan<'_>) -> Result<TemplateKind, String> {
    let first = template
        .trim_start_matches([' ', '\t', '\n', '\r'])
        .chars()
        .next();
    // A character absent from the template marks quoted placeholders in the skeleton.
    let Some(marker) = ('\u{E000}'..='\u{F8FF}').find(|c| !template.contains(*c)) else {
        return Ok(TemplateKind::Text);
    };
    let mut skeleton = String::with_capacity(template.len());
    for piece in &scan.pieces {
        match piece {
            Piece::Text(range) => {
                skeleton.push_str(template.get(range.clone()).unwrap_or_default())
            }
            Piece::Slot(index) => match scan.slots.get(*index) {
                Some(slot) if slot.quoted => skeleton.push(marker),
                _ => skeleton.push_str("null"),
            },
        }
    }
    let parsed = serde_json::from_str::<Value>(&skeleton);
    match (first, parsed) {
        (Some('"'), Ok(Value::String(_))) => Ok(TemplateKind::String),
        (Some('"' | '{' | '['), Err(e)) => Err(format!(
            "is not valid JSON once its placeholders are filled: {}",
            without_position(&e)
        )),
        (_, Ok(value)) => {
            if has_marked_key(&value, marker) {
                Err("a placeholder cannot be used as (part of) an object key".into())
            } else {
                Ok(TemplateKind::Json)
            }
        }
        (_, Err(_)) => Ok(TemplateKind::Text),
    }
}

fn has_marked_key(value: &Value, marker: char) -> bool {
    match value {
        Value::Object(map) => map
            .iter()
            .any(|(k, v)| k.contains(marker) || has_marked_key(v, marker)),
        Value::Array(items) => items.iter().any(|v| has_marked_key(v, marker)),
        _ => false,
    }
}

/// serde_json's message without "at line … column …" (positions in the skeleton would
/// not match the template's).
fn without_position(error: &serde_json::Error) -> String {
    let text = error.to_string();
    match text.find(" at line ") {
        Some(cut) => text.get(..cut).unwrap_or(&text).to_owned(),
        None => text,
    }
}

// ---------------------------------------------------------------------------------------
// TargetInput
// ---------------------------------------------------------------------------------------

/// What a target receives.
#[derive(Debug, Clone)]
pub enum TargetInput {
    /// The whole event (no input setting).
    WholeEvent,
    /// `Input`: this JSON text.
    Constant(String),
    /// `InputPath`: the selected part of the event.
    Path(JsonPath),
    /// `InputTransformer`: a rendered template.
    Transformer(InputTransformer),
}

impl TargetInput {
    /// The paths this input reads that are made of keys, dotted (see
    /// [`JsonPath::dotted`]).
    pub fn key_paths(&self) -> Vec<Box<str>> {
        match self {
            TargetInput::WholeEvent | TargetInput::Constant(_) => Vec::new(),
            TargetInput::Path(path) => path.dotted().into_iter().collect(),
            TargetInput::Transformer(t) => t.plan.dotted.iter().flatten().cloned().collect(),
        }
    }

    /// Builds from the config fields (at most one of input / input_path / transformer may
    /// be set — else an error at base_path). `base_path` is the target's path; field errors
    /// are reported at `base_path.input`, `base_path.input_path` and
    /// `base_path.input_transformer.…`.
    pub fn from_config(
        input: Option<&str>,
        input_path: Option<&str>,
        transformer: Option<(&BTreeMap<String, String>, &str)>,
        base_path: &str,
    ) -> Result<TargetInput, Vec<TransformError>> {
        let mut errors = Vec::new();
        let set = [input.is_some(), input_path.is_some(), transformer.is_some()]
            .into_iter()
            .filter(|x| *x)
            .count();
        if set > 1 {
            errors.push(TransformError::new(
                base_path,
                "only one of input, input_path and input_transformer may be set",
            ));
        }
        let mut result = TargetInput::WholeEvent;
        if let Some(text) = input {
            let path = join(base_path, "input");
            let chars = text.chars().count();
            if chars > MAX_INPUT_CHARS {
                errors.push(TransformError::new(
                    &path,
                    format!("is {chars} characters long; at most {MAX_INPUT_CHARS} are allowed"),
                ));
            }
            match serde_json::from_str::<IgnoredAny>(text) {
                Ok(_) => result = TargetInput::Constant(text.to_owned()),
                Err(e) => errors.push(TransformError::new(
                    &path,
                    format!("must be valid JSON text: {e}"),
                )),
            }
        }
        if let Some(text) = input_path {
            match JsonPath::parse(text) {
                Ok(path) => result = TargetInput::Path(path),
                Err(message) => errors.push(TransformError::new(
                    join(base_path, "input_path"),
                    format!("invalid JSONPath `{text}`: {message}"),
                )),
            }
        }
        if let Some((paths_map, template)) = transformer {
            let base = join(base_path, "input_transformer");
            match InputTransformer::compile(paths_map, template, &base) {
                Ok(t) => result = TargetInput::Transformer(t),
                Err(mut more) => errors.append(&mut more),
            }
        }
        if errors.is_empty() {
            Ok(result)
        } else {
            Err(errors)
        }
    }

    /// True when rendering needs the parsed event (Path / Transformer).
    pub fn needs_parsed_event(&self) -> bool {
        match self {
            TargetInput::WholeEvent | TargetInput::Constant(_) => false,
            TargetInput::Path(path) => !path.is_root(),
            TargetInput::Transformer(_) => true,
        }
    }

    /// What the target receives. For WholeEvent returns event_text unchanged
    /// (Cow::Borrowed). `event` is only consulted when needs_parsed_event() (when it is
    /// `None` then, `event_text` is parsed here).
    ///
    /// Where EventBridge would deliver nothing (see [`TargetInput::render_checked`]) this
    /// returns `null` for an input path that selects nothing and the rendered text for a
    /// template that rendered invalid JSON.
    pub fn render<'e>(
        &self,
        event_text: &'e str,
        event: Option<&Value>,
        reserved: &Reserved<'_>,
    ) -> Cow<'e, str> {
        match self.render_checked(event_text, event, reserved) {
            Ok(text) => text,
            Err(Undeliverable::NothingSelected) => Cow::Borrowed("null"),
            Err(Undeliverable::InvalidJson { rendered }) => Cow::Owned(rendered),
        }
    }

    /// What the target receives, read straight from the event's text through an index
    /// of its top-level members (build one [`TopLevel`] per event and share it between
    /// targets); the parsed event is never needed except for `<aws.events.event>`.
    pub fn render_from<'t>(
        &self,
        top: &TopLevel<'t>,
        reserved: &Reserved<'_>,
    ) -> Result<Cow<'t, str>, Undeliverable> {
        self.render_recording(top, reserved, None, String::new())
    }

    /// [`TargetInput::render_from`], noting for a transformer where each placeholder's
    /// value was written in the result (in placeholder order; see
    /// [`InputTransformer::top_members`]; none when text put inside quotes could have
    /// changed the result's structure), and writing a transformer's result into
    /// `into` (a buffer to reuse; other inputs leave it).
    pub fn render_recording<'t>(
        &self,
        top: &TopLevel<'t>,
        reserved: &Reserved<'_>,
        mut slots: Option<&mut Vec<Range<usize>>>,
        into: String,
    ) -> Result<Cow<'t, str>, Undeliverable> {
        match self {
            TargetInput::WholeEvent => Ok(Cow::Borrowed(top.text)),
            TargetInput::Constant(text) => Ok(Cow::Owned(text.clone())),
            TargetInput::Path(path) => path
                .select_in(top)
                .map(Cow::Borrowed)
                .ok_or(Undeliverable::NothingSelected),
            TargetInput::Transformer(t) => {
                // `<aws.events.event>` parses the event only when used.
                let (rendered, suspicious) =
                    t.render_raw(top, reserved, slots.as_deref_mut(), into);
                if suspicious {
                    // Text put inside quotes may have closed the string and written more
                    // JSON: where the values are is no longer known.
                    if let Some(slots) = slots {
                        slots.clear();
                    }
                    if serde_json::from_str::<IgnoredAny>(&rendered).is_err() {
                        return Err(Undeliverable::InvalidJson { rendered });
                    }
                }
                Ok(Cow::Owned(rendered))
            }
        }
    }

    /// What the target receives, or why EventBridge would deliver nothing.
    pub fn render_checked<'e>(
        &self,
        event_text: &'e str,
        event: Option<&Value>,
        reserved: &Reserved<'_>,
    ) -> Result<Cow<'e, str>, Undeliverable> {
        if event.is_none() && self.needs_parsed_event() {
            return self.render_from(&TopLevel::new(event_text), reserved);
        }
        let parsed;
        let event = match event {
            Some(event) => event,
            None if self.needs_parsed_event() => {
                parsed = serde_json::from_str::<Value>(event_text).unwrap_or(Value::Null);
                &parsed
            }
            None => &Value::Null,
        };
        match self {
            TargetInput::WholeEvent => Ok(Cow::Borrowed(event_text)),
            TargetInput::Constant(text) => Ok(Cow::Owned(text.clone())),
            TargetInput::Path(path) if path.is_root() => Ok(Cow::Borrowed(event_text)),
            TargetInput::Path(path) => match path.select(event) {
                Some(value) => Ok(Cow::Owned(value.to_string())),
                None => Err(Undeliverable::NothingSelected),
            },
            TargetInput::Transformer(t) => {
                t.apply_checked(event_text, event, reserved).map(Cow::Owned)
            }
        }
    }
}

// ---------------------------------------------------------------------------------------
// Tests
// ---------------------------------------------------------------------------------------

#[cfg(test)]
mod tests {
    /// `text`, every truncation of it, and `corruptions` copies with one byte replaced by
    /// a JSON-significant one (a small deterministic xorshift generator drives it).
    fn damaged(text: &[u8], corruptions: usize, seed: &mut u64) -> Vec<Vec<u8>> {
        let mut next = || {
            *seed ^= *seed << 13;
            *seed ^= *seed >> 7;
            *seed ^= *seed << 17;
            *seed
        };
        let mut texts = vec![text.to_vec()];
        texts.extend((0..text.len()).map(|cut| text[..cut].to_vec()));
        for _ in 0..corruptions {
            let mut t = text.to_vec();
            let at = (next() as usize) % t.len();
            t[at] = b"\"\\{}[],: a1"[(next() as usize) % 11];
            texts.push(t);
        }
        texts
    }

    use super::*;
    use serde_json::json;

    /// The EC2 event of (UG)'s examples.
    const EC2_EVENT: &str = r#"{"version":"0","id":"7bf73129-1428-4cd3-a780-95db273d1602","detail-type":"EC2 Instance State-change Notification","source":"aws.ec2","account":"123456789012","time":"2015-11-11T21:29:54Z","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"detail":{"instance-id":"i-0123456789","state":"RUNNING"}}"#;

    const RESERVED: Reserved<'static> = Reserved {
        rule_arn: "arn:aws:events:us-east-2:123456789012:rule/example",
        rule_name: "example",
        ingestion_time: "2015-11-11T21:29:55Z",
    };

    /// A template's top level as a topic's policies read it: placeholders that are a
    /// member's whole value are known by number; anything a raw read could see
    /// differently refuses the template.
    #[test]
    fn top_members_of_json_object_templates() {
        let map: BTreeMap<String, String> = [("a", "$.detail.a"), ("b", "$.detail.b")]
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .into();
        let top = |template: &str| {
            InputTransformer::compile(&map, template, "t")
                .unwrap_or_else(|e| panic!("{template}: {e:?}"))
                .top_members()
        };
        let members = |list: &[(&str, TopMember)]| {
            Some(
                list.iter()
                    .map(|(k, m)| (k.to_string(), *m))
                    .collect::<Vec<_>>(),
            )
        };
        assert_eq!(
            top(r#"{"x": <a>, "y": "id-<b>", "z": 1, "w": {"v": <b>}, "q": <a>}"#),
            members(&[
                ("x", TopMember::Slot(0)),
                ("y", TopMember::Other),
                ("z", TopMember::Other),
                ("w", TopMember::Other),
                ("q", TopMember::Slot(3)),
            ])
        );
        // A placeholder inside a string, even followed by digits, is not a whole one.
        assert_eq!(
            top(r#"{"x": "<a>0", "y": "<a>0<b>", "z": <b>}"#),
            members(&[
                ("x", TopMember::Other),
                ("y", TopMember::Other),
                ("z", TopMember::Slot(3)),
            ])
        );
        assert_eq!(
            top(r#"{"rule": <aws.events.rule-name>, "a": <a>}"#),
            members(&[("rule", TopMember::Slot(0)), ("a", TopMember::Slot(1))])
        );
        for refused in [
            r#"[<a>, <b>]"#,
            r#"<a>"#,
            r#""<a> and <b>""#,
            r#"{"x.y": <a>}"#,
            r#"{"": <a>}"#,
            r#"{"x": <a>, "x": <b>}"#,
            r#"{"x\n": <a>}"#,
            r#"{"x": "\u0041", "a": <a>}"#,
        ] {
            assert_eq!(top(refused), None, "{refused}");
        }
    }

    /// The router reads variables straight from the event text; that must give what
    /// reading the parsed event gives, for every kind of value and placement.
    #[test]
    fn reading_the_text_agrees_with_reading_the_parsed_event() {
        let paths: &[(&str, &str)] = &[
            ("state", "$.detail.state"),
            ("instance", "$.detail.instance-id"),
            ("detail", "$.detail"),
            ("resources", "$.resources"),
            ("first", "$.resources[0]"),
            ("missing", "$.detail.nope"),
            ("command", "$.detail.command"),
            ("payload", "$.detail.payload"),
            ("list", "$.detail.listmulti"),
        ];
        let templates = [
            r#"{"s": <state>, "i": "<instance>", "d": <detail>, "r": <resources>}"#,
            r#""<instance> is in state <state>; <first> <command>""#,
            r#"{"m": <missing>, "q": "<missing>", "f": "<first>", "p": <payload>}"#,
            r#"<detail>"#,
            r#"{"c": "<command>", "l": <list>, "arn": "<aws.events.rule-arn>", "e": <aws.events.event>}"#,
        ];
        let map: BTreeMap<String, String> = paths
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        // Object members may come out in a different order (the text keeps the event's
        // order, as AWS does; serde_json sorts): compare JSON values when they are JSON.
        let show = |r: Result<Cow<'_, str>, Undeliverable>| match r {
            Ok(text) => match serde_json::from_str::<Value>(&text) {
                Ok(v) => format!("json: {v}"),
                Err(_) => text.into_owned(),
            },
            Err(why) => format!("undeliverable: {why}"),
        };
        for event_text in [EC2_EVENT, LS_EVENT] {
            let event: Value = serde_json::from_str(event_text).unwrap();
            for template in templates {
                let input =
                    TargetInput::from_config(None, None, Some((&map, template)), "t").unwrap();
                assert_eq!(
                    show(input.render_checked(event_text, None, &RESERVED)),
                    show(input.render_checked(event_text, Some(&event), &RESERVED)),
                    "{template}"
                );
            }
            for (_, path) in paths {
                let input = TargetInput::from_config(None, Some(path), None, "t").unwrap();
                assert_eq!(
                    show(input.render_checked(event_text, None, &RESERVED)),
                    show(input.render_checked(event_text, Some(&event), &RESERVED)),
                    "{path}"
                );
            }
        }
    }

    /// The raw reader skips exactly as the pattern engine's `value_end` does, on valid,
    /// truncated, corrupted and deeply nested texts.
    #[test]
    fn raw_skipping_agrees_with_the_pattern_engine() {
        let deep = format!("{}1{}", "[{\"a\":".repeat(40), "}]".repeat(40));
        let too_deep = format!("{}{}", "[".repeat(70), "]".repeat(70));
        let mismatched = format!("{}{}", "[".repeat(70), "}".repeat(70));
        let samples = [
            EC2_EVENT,
            LS_EVENT,
            r#"{"a":"x\"y\\","b":[1,{"c":"]}"}],"d":-1.5e+3,"e":true}"#,
            r#"{"a": [ {"b" : "c\\"} , 2 ] , "k\"q" : null }"#,
            r#"["\u00e9 ✓ é", {"x": "{[\"]}"}]"#,
            deep.as_str(),
            too_deep.as_str(),
            mismatched.as_str(),
        ];
        let mut seed = 0x2545_f491_4f6c_dd1d_u64;
        let texts: Vec<Vec<u8>> = samples
            .iter()
            .flat_map(|sample| damaged(sample.as_bytes(), 200, &mut seed))
            .collect();
        for t in &texts {
            for at in 0..t.len() {
                assert_eq!(
                    raw::skip_value(t, at),
                    crate::pattern::value_end(t, at),
                    "{:?} at {at}",
                    String::from_utf8_lossy(t)
                );
                if t[at] == b'"' {
                    assert_eq!(
                        raw::string_end(t, at).map(|(end, _)| end),
                        crate::pattern::skip_string_at(t, at),
                        "{:?} at {at}",
                        String::from_utf8_lossy(t)
                    );
                }
            }
        }
    }

    /// A transformer's plan reads every variable exactly as its path alone reads it, on
    /// valid, truncated and corrupted texts, with escaped keys, white space and
    /// duplicate keys.
    #[test]
    fn plans_read_what_paths_read() {
        let paths = [
            "$.detail.orderId",
            "$.detail-type",
            "$.detail.customer.tier",
            "$.detail.customer",
            "$.detail.customer.id",
            "$.detail.items[1].sku",
            "$.detail.payload.acc_id",
            "$.detail.listmulti",
            "$.detail.state",
            "$.detail.nope.x",
            "$.detail",
            "$",
            "$.resources[0]",
        ];
        let variables: Vec<(String, JsonPath)> = paths
            .iter()
            .enumerate()
            .map(|(k, p)| (format!("v{k}"), JsonPath::parse(p).unwrap()))
            .collect();
        let plan = Plan::new(&variables);
        assert!(plan.usable);
        let order = r#"{"version":"0","id":"x","detail-type":"OrderPlaced","source":"s","account":"1","time":"t","region":"r","resources":["a"],"detail":{"channel":"web","currency":"EUR","customer":{"id":"C-1","tier":"gold"},"items":[{"qty":1,"sku":"S-1"},{"qty":2,"sku":"S-\"2"}],"orderId":"ORD-7","total":1.50}}"#;
        let dup = r#"{"detail":{"customer":{"tier":"a","tier":"b"},"orderId":"1","customer":{"tier":"c"},"orderId":"2"},"detail":{"orderId":"3"}}"#;
        let odd = r#"{ "detail" : { "cust\u006fmer" : { "tier" : [1, {"a": "}"}] } , "orderId" : null } }"#;
        let mut seed = 0x1234_5678_9abc_def1_u64;
        for sample in [EC2_EVENT, LS_EVENT, order, dup, odd] {
            for t in damaged(sample.as_bytes(), 400, &mut seed) {
                let Ok(text) = String::from_utf8(t) else {
                    continue;
                };
                let top = TopLevel::new(&text);
                let mut values = [None; PLAN_MAX_VARIABLES];
                plan.read(&top, &mut values);
                for (v, (_, path)) in variables.iter().enumerate() {
                    if plan.alone.contains(&v) {
                        continue;
                    }
                    assert_eq!(values[v], path.select_in(&top), "{path} in {text}");
                }
            }
        }
    }

    /// The word-wide searches agree with byte-by-byte ones at every length and position.
    #[test]
    fn byte_searches_agree_with_plain_loops() {
        for len in 0..40 {
            for at in 0..=len {
                for special in [b'"', b'\\', 0x00, 0x1f, b'a', 0x7f, 0xc3] {
                    let mut bytes = vec![b'x'; len];
                    if at < len {
                        bytes[at] = special;
                        if special == 0xc3 {
                            bytes[at] = b'y';
                        }
                    }
                    let s = String::from_utf8(bytes).unwrap();
                    assert_eq!(
                        raw::has_special(&s),
                        s.bytes().any(|c| c == b'"' || c == b'\\' || c < 0x20),
                        "{s:?}"
                    );
                    assert_eq!(raw::has_backslash(&s), s.contains('\\'), "{s:?}");
                    let other = format!("{s}z");
                    let same = s.as_bytes() == &other.as_bytes()[..len];
                    assert_eq!(
                        raw::same_bytes(s.as_bytes(), &other.as_bytes()[..len]),
                        same
                    );
                    assert!(!raw::same_bytes(s.as_bytes(), other.as_bytes()));
                    for flip in 0..len {
                        let mut t = s.clone().into_bytes();
                        t[flip] ^= 1;
                        assert!(!raw::same_bytes(s.as_bytes(), &t), "{s:?} {flip}");
                    }
                }
            }
        }
    }

    #[test]
    fn json_strings_are_written_as_serde_writes_them() {
        for s in [
            "",
            "plain",
            "exactly8",
            "longer than eight bytes, no escapes at all",
            "quote \" here",
            "back\\slash",
            "ctl \u{1} \u{1f} \n \t",
            "é ✓ \u{2028} \u{7f}",
            "12345678\"",
        ] {
            let mut ours = String::from("x");
            push_json_string(&mut ours, s);
            let mut theirs = String::from("x");
            crate::pattern::json::write_string(s, &mut theirs);
            assert_eq!(ours, theirs, "{s:?}");
            assert_eq!(
                raw::has_special(s),
                s.chars().any(|c| c == '"' || c == '\\' || c < ' '),
                "{s:?}"
            );
            assert_eq!(raw::has_backslash(s), s.contains('\\'), "{s:?}");
        }
    }

    /// (UG)'s InputPathsMap (the `resource` entry is in later revisions).
    fn ec2_paths() -> BTreeMap<String, String> {
        map(&[
            ("timestamp", "$.time"),
            ("instance", "$.detail.instance-id"),
            ("state", "$.detail.state"),
            ("resource", "$.resources[0]"),
        ])
    }

    fn map(entries: &[(&str, &str)]) -> BTreeMap<String, String> {
        entries
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    fn transform(paths: &BTreeMap<String, String>, template: &str, event: &str) -> String {
        let t = InputTransformer::compile(paths, template, "t")
            .unwrap_or_else(|e| panic!("{template}: {e:?}"));
        let parsed: Value = serde_json::from_str(event).expect("test event is JSON");
        t.apply(event, &parsed, &RESERVED)
    }

    fn checked(
        paths: &BTreeMap<String, String>,
        template: &str,
        event: &str,
    ) -> Result<String, Undeliverable> {
        let t = InputTransformer::compile(paths, template, "t")
            .unwrap_or_else(|e| panic!("{template}: {e:?}"));
        let parsed: Value = serde_json::from_str(event).expect("test event is JSON");
        t.apply_checked(event, &parsed, &RESERVED)
    }

    fn errors(paths: &BTreeMap<String, String>, template: &str) -> Vec<String> {
        match InputTransformer::compile(paths, template, "rules.r.targets[0].input_transformer") {
            Ok(_) => panic!("{template} compiled"),
            Err(errors) => errors.iter().map(ToString::to_string).collect(),
        }
    }

    fn same_json(a: &str, b: &str) {
        let a: Value = serde_json::from_str(a).unwrap_or_else(|e| panic!("{a}: {e}"));
        let b: Value = serde_json::from_str(b).unwrap_or_else(|e| panic!("{b}: {e}"));
        assert_eq!(a, b);
    }

    // --- [UG] "Input transform examples" table, row by row -----------------------------

    #[test]
    fn ug_simple_string() {
        let out = transform(
            &ec2_paths(),
            r#""instance <instance> is in <state>""#,
            EC2_EVENT,
        );
        assert_eq!(out, r#""instance i-0123456789 is in RUNNING""#);
    }

    #[test]
    fn ug_string_with_escaped_quotes() {
        let out = transform(
            &ec2_paths(),
            r#""instance \"<instance>\" is in <state>""#,
            EC2_EVENT,
        );
        assert_eq!(out, r#""instance \"i-0123456789\" is in RUNNING""#);
    }

    #[test]
    fn ug_simple_json() {
        let template = "{\n  \"instance\" : <instance>,\n  \"state\": <state>\n}";
        let out = transform(&ec2_paths(), template, EC2_EVENT);
        assert_eq!(
            out,
            "{\n  \"instance\" : \"i-0123456789\",\n  \"state\": \"RUNNING\"\n}"
        );
    }

    #[test]
    fn ug_json_with_strings_and_variables() {
        let template = r#"{
 "instance" : <instance>,
 "state": "<state>",
 "instanceStatus": "instance \"<instance>\" is in <state>"
}"#;
        let out = transform(&ec2_paths(), template, EC2_EVENT);
        assert_eq!(
            out,
            r#"{
 "instance" : "i-0123456789",
 "state": "RUNNING",
 "instanceStatus": "instance \"i-0123456789\" is in RUNNING"
}"#
        );
    }

    #[test]
    fn ug_json_with_mix_of_variables_and_static_information() {
        let template = "{\n  \"instance\" : <instance>,\n  \"state\": [ 9, <state>, true ],\n  \"Transformed\" : \"Yes\"\n}\n";
        let out = transform(&ec2_paths(), template, EC2_EVENT);
        assert_eq!(
            out,
            "{\n  \"instance\" : \"i-0123456789\",\n  \"state\": [ 9, \"RUNNING\", true ],\n  \"Transformed\" : \"Yes\"\n}\n"
        );
        // [UG] shows the same JSON pretty-printed.
        same_json(
            &out,
            r#"{"instance":"i-0123456789","state":[9,"RUNNING",true],"Transformed":"Yes"}"#,
        );
    }

    #[test]
    fn ug_reserved_variables_in_json() {
        let template = r#"{
  "instance" : <instance>,
  "state": <state>,
  "ruleArn" : <aws.events.rule-arn>,
  "ruleName" : <aws.events.rule-name>,
  "originalEvent" : <aws.events.event>
}"#;
        let out = transform(&ec2_paths(), template, EC2_EVENT);
        same_json(
            &out,
            r#"{
  "instance" : "i-0123456789",
  "state": "RUNNING",
  "ruleArn" : "arn:aws:events:us-east-2:123456789012:rule/example",
  "ruleName" : "example",
  "originalEvent" : {
    "id": "7bf73129-1428-4cd3-a780-95db273d1602",
    "account": "123456789012",
    "detailType": "EC2 Instance State-change Notification",
    "time": "2015-11-11T21:29:54Z",
    "source": "aws.ec2",
    "region": "us-east-1",
    "resources": ["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],
    "version": "0"
  }
}"#,
        );
        // Member order as AWS was observed to write it ([LS]).
        assert!(out.ends_with(
            r#""originalEvent" : {"id":"7bf73129-1428-4cd3-a780-95db273d1602","account":"123456789012","detailType":"EC2 Instance State-change Notification","time":"2015-11-11T21:29:54Z","source":"aws.ec2","region":"us-east-1","resources":["arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"],"version":"0"}
}"#
        ));
    }

    #[test]
    fn ug_reserved_variables_in_a_string() {
        let out = transform(
            &ec2_paths(),
            r#""<aws.events.rule-name> triggered""#,
            EC2_EVENT,
        );
        assert_eq!(out, r#""example triggered""#);
    }

    #[test]
    fn ug_cloudwatch_log_group_template() {
        // [UG] shows what the log group displays; the transformer output itself is JSON.
        let template = r#"{
  "timestamp" : <timestamp>,
  "message": "instance \"<instance>\" is in <state>"
}"#;
        let out = transform(&ec2_paths(), template, EC2_EVENT);
        assert_eq!(
            out,
            r#"{
  "timestamp" : "2015-11-11T21:29:54Z",
  "message": "instance \"i-0123456789\" is in RUNNING"
}"#
        );
    }

    #[test]
    fn ug_array_index_variable() {
        let out = transform(&ec2_paths(), r#"{"resource": <resource>}"#, EC2_EVENT);
        assert_eq!(
            out,
            r#"{"resource": "arn:aws:ec2:us-east-1:123456789012:instance/i-abcd1111"}"#
        );
    }

    #[test]
    fn api_reference_examples() {
        let paths = map(&[
            ("instance", "$.detail.instance"),
            ("status", "$.detail.status"),
        ]);
        let event = r#"{"detail":{"instance":"i-1","status":"running"}}"#;
        // Plain text template: placeholders as raw text.
        assert_eq!(
            transform(&paths, "<instance> is in state <status>", event),
            "i-1 is in state running"
        );
        assert_eq!(
            transform(&paths, r#"<instance> is in state \"<status>\""#, event),
            r#"i-1 is in state \"running\""#
        );
        assert_eq!(
            transform(
                &paths,
                r#"{"myInstance": <instance>,"myStatus": "<instance> is in state \"<status>\""}"#,
                event
            ),
            r#"{"myInstance": "i-1","myStatus": "i-1 is in state \"running\""}"#
        );
    }

    // --- [UG]/[Pipes] common issues: objects, arrays, missing paths --------------------

    #[test]
    fn object_in_a_string_loses_its_quotes() {
        let paths = map(&[("detail", "$.detail")]);
        let event = r#"{"detail":{"key1":"value1"}}"#;
        assert_eq!(
            transform(&paths, r#""Detail is <detail>""#, event),
            r#""Detail is {key1:value1}""#
        );
        assert_eq!(
            transform(&paths, r#"{"detail": <detail>}"#, event),
            r#"{"detail": {"key1":"value1"}}"#
        );
    }

    #[test]
    fn missing_path_is_an_empty_string() {
        let paths = map(&[("command", "$.detail.notinmessage"), ("t", "$.detail-type")]);
        let event = r#"{"detail-type":"X","detail":{"command":"c"}}"#;
        // [LS] (recorded against AWS): string template and JSON template.
        assert_eq!(
            transform(&paths, r#""Event of <t> type, info <command>""#, event),
            r#""Event of X type, info ""#
        );
        assert_eq!(
            transform(
                &paths,
                r#"{"detailType": <t>, "command": <command>}"#,
                event
            ),
            r#"{"detailType": "X", "command": ""}"#
        );
        assert_eq!(
            transform(&paths, r#"{"command": "<command>"}"#, event),
            r#"{"command": ""}"#
        );
    }

    // --- [LS]: tests recorded against AWS ------------------------------------------------

    const LS_EVENT: &str = r#"{"version":"0","id":"e1","detail-type":"core.update-account-command","source":"core.update-account-command","account":"111111111111","time":"2024-06-11T08:33:00Z","region":"us-east-1","resources":[],"detail":{"command":"update-account","payload":{"acc_id":"0a787ecb-4015","sf_id":"baz"},"listsingle":["HIGH"],"listmulti":["ACTIVE","INACTIVE"]}}"#;

    fn ls_paths() -> BTreeMap<String, String> {
        map(&[
            ("userId", "$.detail.payload.acc_id"),
            ("payload", "$.detail.payload"),
            ("systemstring", "$.detail.awsAccountId"),
            ("listsingle", "$.detail.listsingle"),
            ("listmulti", "$.detail.listmulti"),
            ("detail-type", "$.detail-type"),
            ("timestamp", "$.time"),
            ("command", "$.detail.command"),
        ])
    }

    #[test]
    fn ls_string_templates() {
        let p = ls_paths();
        assert_eq!(
            transform(
                &p,
                r#""Event of <detail-type> type, at time <timestamp>, info extracted from detail <command>""#,
                LS_EVENT
            ),
            r#""Event of core.update-account-command type, at time 2024-06-11T08:33:00Z, info extracted from detail update-account""#
        );
        assert_eq!(
            transform(
                &p,
                r#""{[/Check with special starting characters for event of <detail-type> type""#,
                LS_EVENT
            ),
            r#""{[/Check with special starting characters for event of core.update-account-command type""#
        );
        assert_eq!(
            transform(
                &p,
                r#""Payload of <payload> with path users-service/users/<userId> and <userId>""#,
                LS_EVENT
            ),
            r#""Payload of {acc_id:0a787ecb-4015,sf_id:baz} with path users-service/users/0a787ecb-4015 and 0a787ecb-4015""#
        );
        assert_eq!(
            transform(&p, r#""<listsingle> single list item""#, LS_EVENT),
            r#""[HIGH] single list item""#
        );
        assert_eq!(
            transform(&p, r#""<listmulti> multiple list items""#, LS_EVENT),
            r#""[ACTIVE,INACTIVE] multiple list items""#
        );
        assert_eq!(
            transform(
                &p,
                r#""<listsingle> single <listmulti> multi <systemstring> system <payload> payload <userId> user""#,
                LS_EVENT
            ),
            r#""[HIGH] single [ACTIVE,INACTIVE] multi  system {acc_id:0a787ecb-4015,sf_id:baz} payload 0a787ecb-4015 user""#
        );
    }

    #[test]
    fn ls_json_templates() {
        let p = ls_paths();
        let cases = [
            (
                r#"{"method": "PUT", "path": "users-service/users/<userId>", "bod": <payload>}"#,
                r#"{"method": "PUT", "path": "users-service/users/0a787ecb-4015", "bod": {"acc_id":"0a787ecb-4015","sf_id":"baz"}}"#,
            ),
            (r#"{"id" : <userId>}"#, r#"{"id" : "0a787ecb-4015"}"#),
            (r#"{"id" : "<userId>"}"#, r#"{"id" : "0a787ecb-4015"}"#),
            (
                r#"{"method": "PUT", "path": "users-service/users/<userId>", "bod": [<userId>, "hardcoded"]}"#,
                r#"{"method": "PUT", "path": "users-service/users/0a787ecb-4015", "bod": ["0a787ecb-4015", "hardcoded"]}"#,
            ),
            (
                r#"{"method": "PUT", "nested": {"level1": {"level2": {"level3": "users-service/users/<userId>"} } }, "bod": "<userId>"}"#,
                r#"{"method": "PUT", "nested": {"level1": {"level2": {"level3": "users-service/users/0a787ecb-4015"} } }, "bod": "0a787ecb-4015"}"#,
            ),
            (
                r#"{"singlelistitem": <listsingle>}"#,
                r#"{"singlelistitem": ["HIGH"]}"#,
            ),
            (
                r#"{"multi_replacement": "users/<userId>/second/<userId>"}"#,
                r#"{"multi_replacement": "users/0a787ecb-4015/second/0a787ecb-4015"}"#,
            ),
        ];
        for (template, expected) in cases {
            assert_eq!(checked(&p, template, LS_EVENT).as_deref(), Ok(expected));
        }
    }

    #[test]
    fn ls_objects_and_arrays_inside_quotes_are_not_delivered() {
        let p = ls_paths();
        for template in [
            r#"{"not_valid": "users-service/users/<payload>", "bod": <payload>}"#,
            r#"{"payload": "<payload>"}"#,
            r#"{"singlelistitem": "<listsingle>"}"#,
        ] {
            assert!(
                matches!(
                    checked(&p, template, LS_EVENT),
                    Err(Undeliverable::InvalidJson { .. })
                ),
                "{template}"
            );
        }
    }

    #[test]
    fn ls_predefined_variables() {
        let none = BTreeMap::new();
        assert_eq!(
            transform(
                &none,
                r#""Message containing all pre defined variables <aws.events.rule-arn> <aws.events.rule-name> <aws.events.event.ingestion-time>""#,
                LS_EVENT
            ),
            r#""Message containing all pre defined variables arn:aws:events:us-east-2:123456789012:rule/example example 2015-11-11T21:29:55Z""#
        );
        let out = transform(
            &none,
            r#"{"originalEvent": <aws.events.event>, "originalEventJson": <aws.events.event.json>}"#,
            LS_EVENT,
        );
        assert_eq!(
            out,
            format!(
                r#"{{"originalEvent": {{"id":"e1","account":"111111111111","detailType":"core.update-account-command","time":"2024-06-11T08:33:00Z","source":"core.update-account-command","region":"us-east-1","resources":[],"version":"0"}}, "originalEventJson": {LS_EVENT}}}"#
            )
        );
    }

    #[test]
    fn ls_input_path() {
        let event: Value = serde_json::from_str(LS_EVENT).expect("JSON");
        let render = |path: &str| {
            let input = TargetInput::from_config(None, Some(path), None, "t").expect("valid");
            input
                .render_checked(LS_EVENT, Some(&event), &RESERVED)
                .map(Cow::into_owned)
        };
        assert_eq!(render("$.detail.payload.sf_id").as_deref(), Ok(r#""baz""#));
        assert_eq!(
            render("$.detail.payload").as_deref(),
            Ok(r#"{"acc_id":"0a787ecb-4015","sf_id":"baz"}"#)
        );
        assert_eq!(render("$.detail.nope"), Err(Undeliverable::NothingSelected));
        assert_eq!(
            render("$.detail.listmulti[1]").as_deref(),
            Ok(r#""INACTIVE""#)
        );
        assert_eq!(render("$").as_deref(), Ok(LS_EVENT));
    }

    // --- TargetInput -----------------------------------------------------------------

    #[test]
    fn whole_event_and_root_path_borrow_the_event_text() {
        let whole = TargetInput::from_config(None, None, None, "t").expect("valid");
        assert!(!whole.needs_parsed_event());
        assert!(matches!(
            whole.render(EC2_EVENT, None, &RESERVED),
            Cow::Borrowed(s) if s == EC2_EVENT
        ));
        let root = TargetInput::from_config(None, Some("$"), None, "t").expect("valid");
        assert!(!root.needs_parsed_event());
        assert!(matches!(
            root.render(EC2_EVENT, None, &RESERVED),
            Cow::Borrowed(s) if s == EC2_EVENT
        ));
    }

    #[test]
    fn constant_input_is_delivered_as_is() {
        let input =
            TargetInput::from_config(Some(r#"{ "a" : [1, 2] }"#), None, None, "t").expect("valid");
        assert!(!input.needs_parsed_event());
        assert_eq!(
            input.render(EC2_EVENT, None, &RESERVED),
            r#"{ "a" : [1, 2] }"#
        );
    }

    #[test]
    fn render_parses_the_event_when_not_given_one() {
        let input = TargetInput::from_config(None, Some("$.detail.state"), None, "t").expect("ok");
        assert!(input.needs_parsed_event());
        assert_eq!(input.render(EC2_EVENT, None, &RESERVED), r#""RUNNING""#);
        let missing = TargetInput::from_config(None, Some("$.nope"), None, "t").expect("ok");
        assert_eq!(missing.render(EC2_EVENT, None, &RESERVED), "null");
        let paths = ec2_paths();
        let t = TargetInput::from_config(None, None, Some((&paths, "<state>")), "t").expect("ok");
        assert_eq!(t.render(EC2_EVENT, None, &RESERVED), r#""RUNNING""#);
        assert_eq!(t.render("not json", None, &RESERVED), r#""""#);
    }

    #[test]
    fn from_config_collects_every_problem() {
        let paths = map(&[("bad name", "$.x"), ("ok", "detail")]);
        let errors = TargetInput::from_config(
            Some("{nope"),
            Some("$.a[*]"),
            Some((&paths, "<missing>")),
            "nodes.b.rules.r.targets[0]",
        )
        .expect_err("invalid");
        let lines: Vec<String> = errors.iter().map(ToString::to_string).collect();
        let expected_prefixes = [
            "nodes.b.rules.r.targets[0]: only one of input, input_path and input_transformer",
            "nodes.b.rules.r.targets[0].input: must be valid JSON text",
            "nodes.b.rules.r.targets[0].input_path: invalid JSONPath `$.a[*]`: wildcards",
            r#"nodes.b.rules.r.targets[0].input_transformer.input_paths_map["bad name"]: variable name `bad name` may only contain"#,
            "nodes.b.rules.r.targets[0].input_transformer.input_paths_map.ok: invalid JSONPath `detail`: must start with `$`",
            "nodes.b.rules.r.targets[0].input_transformer.input_template: placeholder <missing> is neither defined",
        ];
        assert_eq!(lines.len(), expected_prefixes.len(), "{lines:#?}");
        for (line, prefix) in lines.iter().zip(expected_prefixes) {
            assert!(
                line.starts_with(prefix),
                "{line:?} should start with {prefix:?}"
            );
        }
    }

    #[test]
    fn constant_input_limits() {
        let long = format!("\"{}\"", "x".repeat(MAX_INPUT_CHARS));
        let errors = TargetInput::from_config(Some(&long), None, None, "t").expect_err("too long");
        assert_eq!(errors.len(), 1);
        assert!(errors[0].message.contains("at most 8192"));
        let errors = TargetInput::from_config(Some(""), None, None, "t").expect_err("empty");
        assert_eq!(errors[0].path, "t.input");
    }

    // --- Validation ------------------------------------------------------------------

    #[test]
    fn transformer_validation_collects_all_problems() {
        let mut paths: BTreeMap<String, String> = (0..101)
            .map(|i| (format!("v{i}"), "$.detail".to_owned()))
            .collect();
        paths.insert("aws.events.rule-arn".into(), "$.x".into());
        paths.insert(String::new(), "$.x".into());
        paths.insert("x".repeat(257), "$.x".into());
        paths.insert("deep".into(), "$..x".into());
        paths.insert("long".into(), format!("$.{}", "a".repeat(300)));
        let template = format!(
            "{{\"a\": <nope>, \"b\": \"<nope>\", \"c\": <v1>, \"d\": <aws.events.nope>}}{}",
            " ".repeat(MAX_TEMPLATE_CHARS)
        );
        let errors = errors(&paths, &template);
        let base = "rules.r.targets[0].input_transformer";
        let expected = [
            format!("{base}.input_paths_map: has 106 variables; at most 100 are allowed"),
            format!("{base}.input_paths_map[\"\"]: variable name must not be empty"),
            format!(
                "{base}.input_paths_map[\"aws.events.rule-arn\"]: `aws.events.rule-arn` is a reserved variable"
            ),
            format!("{base}.input_paths_map.deep: invalid JSONPath `$..x`: deep scan"),
            format!("{base}.input_paths_map.long: invalid JSONPath `$.aaa"),
            format!(
                "{base}.input_paths_map.{}: variable name is 257 characters",
                "x".repeat(257)
            ),
            format!(
                "{base}.input_template: is {} characters long; at most 8192",
                template.chars().count()
            ),
            format!("{base}.input_template: placeholder <nope> is neither defined"),
            format!("{base}.input_template: placeholder <aws.events.nope> is neither defined"),
        ];
        assert_eq!(errors.len(), expected.len(), "{errors:#?}");
        for (error, prefix) in errors.iter().zip(&expected) {
            assert!(
                error.starts_with(prefix.as_str()),
                "{error:?}\nshould start with\n{prefix:?}"
            );
        }
        assert!(errors[4].contains("at most 256"));
    }

    #[test]
    fn template_must_be_valid_json_when_it_looks_like_json() {
        let p = map(&[("a", "$.a"), ("k", "$.k")]);
        for (template, needle) in [
            (r#"{"x": <a>,}"#, "not valid JSON"),
            (r#"{<k>: 1}"#, "not valid JSON"),
            (r#"{"<k>": 1}"#, "object key"),
            (r#"{"x": {"pre-<k>": <a>}}"#, "object key"),
            (r#"[<a> <a>]"#, "not valid JSON"),
            (r#""abc" <a>"#, "not valid JSON"),
            (r#"{"x": "<a>""#, "not valid JSON"),
        ] {
            let errors = errors(&p, template);
            assert_eq!(errors.len(), 1, "{template}: {errors:?}");
            assert!(errors[0].contains(needle), "{template}: {errors:?}");
            assert!(!errors[0].contains("at line"), "{errors:?}");
        }
        let errors = errors(&p, "");
        assert_eq!(
            errors,
            ["rules.r.targets[0].input_transformer.input_template: must not be empty"]
        );
    }

    #[test]
    fn template_kinds() {
        let p = map(&[("a", "$.a")]);
        let kind = |template: &str| {
            InputTransformer::compile(&p, template, "t")
                .expect("valid")
                .kind()
        };
        assert_eq!(kind(r#"{"x": <a>}"#), TemplateKind::Json);
        assert_eq!(kind("[<a>, 1]"), TemplateKind::Json);
        assert_eq!(kind("  <a>  "), TemplateKind::Json);
        assert_eq!(kind("42"), TemplateKind::Json);
        assert_eq!(kind(r#" "x <a>" "#), TemplateKind::String);
        assert_eq!(kind("hello <a>"), TemplateKind::Text);
        assert_eq!(kind("a < b > c"), TemplateKind::Text);
    }

    #[test]
    fn non_placeholder_angle_brackets_are_literal() {
        let p = map(&[("a", "$.a")]);
        let event = r#"{"a":"v"}"#;
        assert_eq!(
            transform(&p, r#""1 < 2 <> 3 <a>""#, event),
            r#""1 < 2 <> 3 v""#
        );
        assert_eq!(transform(&p, r#""<<a>>""#, event), r#""<v>""#);
        assert_eq!(transform(&p, "<a", event), "<a");
        let errors = errors(&p, r#""<b>bold</b>""#);
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert!(errors[0].contains("placeholder <b>"));
    }

    #[test]
    fn bare_placeholder_template_delivers_the_value() {
        let p = map(&[("d", "$.detail"), ("s", "$.detail.state")]);
        assert_eq!(
            transform(&p, "<d>", EC2_EVENT),
            r#"{"instance-id":"i-0123456789","state":"RUNNING"}"#
        );
        assert_eq!(transform(&p, "<s>", EC2_EVENT), r#""RUNNING""#);
    }

    #[test]
    fn scalars_and_nulls() {
        let p = map(&[("n", "$.n"), ("b", "$.b"), ("z", "$.z"), ("f", "$.f")]);
        let event = r#"{"n":12,"b":true,"z":null,"f":1.5}"#;
        assert_eq!(
            transform(&p, r#"{"n": <n>, "b": <b>, "z": <z>, "f": <f>}"#, event),
            r#"{"n": 12, "b": true, "z": null, "f": 1.5}"#
        );
        assert_eq!(
            transform(&p, r#"{"s": "<n>/<b>/<z>/<f>"}"#, event),
            r#"{"s": "12/true/null/1.5"}"#
        );
        assert_eq!(
            transform(&p, r#""<n> <b> <z>""#, event),
            r#""12 true null""#
        );
    }

    #[test]
    fn quoted_strings_are_not_escaped() {
        // [UG]: "EventBridge doesn't escape values extracted by Input Path".
        let p = map(&[("q", "$.q")]);
        let event = r#"{"q":"say \"hi\"\n"}"#;
        let out = checked(&p, r#"{"m": "<q>"}"#, event);
        assert_eq!(
            out,
            Err(Undeliverable::InvalidJson {
                rendered: "{\"m\": \"say \"hi\"\n\"}".into()
            })
        );
        // Outside quotes the value is escaped, so the output stays valid.
        assert_eq!(
            checked(&p, r#"{"m": <q>}"#, event).as_deref(),
            Ok(r#"{"m": "say \"hi\"\n"}"#)
        );
        // A backslash that happens to form a valid escape is still delivered.
        let p2 = map(&[("q", "$.q")]);
        assert_eq!(
            checked(&p2, r#"{"m": "<q>"}"#, r#"{"q":"a\\nb"}"#).as_deref(),
            Ok(r#"{"m": "a\nb"}"#)
        );
    }

    #[test]
    fn rendered_json_templates_are_valid_json() {
        // Every kind of value, in every unquoted position, plus plain strings inside quotes.
        let values = [
            json!("plain"),
            json!("with \"quotes\" and \\ and \n newline and \u{1} control and é ✓"),
            json!(""),
            json!(0),
            json!(-12.5e3),
            json!(u64::MAX),
            json!(true),
            json!(null),
            json!([]),
            json!({}),
            json!([1, "two", {"three": [3]}]),
            json!({"k": "v \"q\"", "n": null, "a": [{}]}),
        ];
        let templates = [
            "<v>",
            r#"{"a": <v>}"#,
            r#"{"a": [<v>, <v>, <m>], "b": {"c": <v>}, "s": "<p> and <m>"}"#,
            "[<v>,<m>,<v>]",
            "\n{ \"x\" :\t<v> , \"y\": \"pre <p> post\" }\n",
            r#"{"all": [<aws.events.event>, <aws.events.event.json>, <aws.events.rule-arn>, "<aws.events.rule-name> at <aws.events.event.ingestion-time>"]}"#,
        ];
        let paths = map(&[("v", "$.v"), ("m", "$.missing"), ("p", "$.p")]);
        for template in templates {
            let t = InputTransformer::compile(&paths, template, "t").expect("valid");
            assert_eq!(t.kind(), TemplateKind::Json);
            for v in &values {
                let event = json!({"v": v, "p": "plain text", "detail": {"x": 1}});
                let text = event.to_string();
                let out = t.apply_checked(&text, &event, &RESERVED);
                let out = out.unwrap_or_else(|e| panic!("{template} with {v}: {e}"));
                assert!(
                    serde_json::from_str::<Value>(&out).is_ok(),
                    "{template} with {v}: {out}"
                );
            }
        }
    }

    #[test]
    fn unquoted_string_values_round_trip() {
        let p = map(&[("v", "$.v")]);
        let tricky = "a\"b\\c\u{0}\u{1f}\u{7f}\u{2028}é";
        let event = json!({ "v": tricky });
        let out = InputTransformer::compile(&p, r#"{"v": <v>}"#, "t")
            .expect("valid")
            .apply(&event.to_string(), &event, &RESERVED);
        let back: Value = serde_json::from_str(&out).expect("valid JSON");
        assert_eq!(back, json!({ "v": tricky }));
        assert_eq!(
            out,
            format!(
                r#"{{"v": {}}}"#,
                serde_json::to_string(tricky).expect("str")
            )
        );
    }

    #[test]
    fn event_json_in_a_string_template_loses_its_quotes() {
        let none = BTreeMap::new();
        assert_eq!(
            transform(
                &none,
                r#""event: <aws.events.event.json>""#,
                r#"{"a":"b","detail":{}}"#
            ),
            r#""event: {a:b,detail:{}}""#
        );
    }

    #[test]
    fn variables_accessor_is_sorted() {
        let t = InputTransformer::compile(&ec2_paths(), "<state>", "t").expect("valid");
        let names: Vec<&str> = t.variables().map(|(n, _)| n).collect();
        assert_eq!(names, ["instance", "resource", "state", "timestamp"]);
        assert_eq!(t.template(), "<state>");
    }

    // --- JSONPath ---------------------------------------------------------------------

    #[test]
    fn json_path_valid() {
        let event = json!({
            "detail": {
                "items": [{"sku": "A-1"}, {"sku": "B-2"}],
                "odd key": {"x": 1},
                "it's": 2,
                "with\"quote": 3,
                "a/b-c_d": 4,
                "é": 5,
                "": 6,
            },
            "detail-type": "T",
        });
        let cases = [
            ("$", event.clone()),
            ("$.detail.items[0].sku", json!("A-1")),
            ("$.detail.items[1]", json!({"sku": "B-2"})),
            ("$.detail['items'][1]['sku']", json!("B-2")),
            ("$.detail[\"items\"][ 1 ][ 'sku' ]", json!("B-2")),
            ("$['detail']['odd key'].x", json!(1)),
            ("$.detail['it\\'s']", json!(2)),
            ("$.detail[\"with\\\"quote\"]", json!(3)),
            ("$.detail.a/b-c_d", json!(4)),
            ("$.detail.é", json!(5)),
            ("$.detail['']", json!(6)),
            ("$.detail-type", json!("T")),
        ];
        for (text, expected) in cases {
            let path = JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(path.as_str(), text);
            assert_eq!(path.to_string(), text);
            assert_eq!(path.select(&event), Some(&expected), "{text}");
        }
        for text in [
            "$.nope",
            "$.detail.items[2]",
            "$.detail.items.sku",
            "$.detail-type[0]",
            "$.detail.items[0][0]",
            "$[0]",
        ] {
            let path = JsonPath::parse(text).unwrap_or_else(|e| panic!("{text}: {e}"));
            assert_eq!(path.select(&event), None, "{text}");
        }
        assert!(JsonPath::parse("$").expect("root").is_root());
    }

    #[test]
    fn json_path_invalid() {
        let cases = [
            ("", "is empty"),
            ("detail", "must start with `$`"),
            ("$detail", "unexpected `d`"),
            ("$.", "ends with `.`"),
            ("$..detail", "deep scan"),
            ("$.detail.*", "wildcards"),
            ("$.detail[*]", "wildcards"),
            ("$*", "wildcards"),
            ("$.de*tail", "wildcards"),
            ("$.items[?(@.price > 10)]", "filter expressions"),
            ("$.items[(@.length-1)]", "script expressions"),
            ("$.items.length()", "functions"),
            ("$.items[0:2]", "slices"),
            ("$.items[:2]", "slices"),
            ("$.items[0,1]", "unions"),
            ("$['a','b']", "unions"),
            ("$.items[-1]", "negative"),
            ("$.items[]", "empty brackets"),
            ("$.items[0", "unterminated `[`"),
            ("$['a", "unterminated quoted name"),
            ("$['a\\", "unterminated quoted name"),
            ("$['a'", "unterminated `[`"),
            ("$['a' x]", "expected `]`"),
            ("$[a]", "expected an array index or a quoted name"),
            ("$.a b", "whitespace"),
            ("$.a'b", "unexpected `'`"),
            ("$.a]", "unexpected `]`"),
            ("$.[0]", "must be followed by a property name"),
            ("$.items[99999999999999999999999]", "too large"),
        ];
        for (text, needle) in cases {
            match JsonPath::parse(text) {
                Ok(_) => panic!("{text} parsed"),
                Err(message) => assert!(message.contains(needle), "{text}: {message}"),
            }
        }
        let long = format!("$.{}", "a".repeat(MAX_PATH_CHARS - 2));
        assert!(JsonPath::parse(&long).is_ok());
        let too_long = format!("{long}b");
        assert!(
            JsonPath::parse(&too_long)
                .expect_err("too long")
                .contains("at most 256")
        );
    }

    #[test]
    fn error_display() {
        let e = TransformError::new("a.b", "bad");
        assert_eq!(e.to_string(), "a.b: bad");
        assert_eq!(
            Undeliverable::NothingSelected.to_string(),
            "the input path selects nothing"
        );
    }

    /// Target inputs read from the text are byte for byte what they were before the
    /// reader was last optimised: a fingerprint over thousands of generated events (the
    /// e-commerce example's producers), their truncations and corruptions, through
    /// transformers and input paths that share prefixes, miss, index arrays and select
    /// objects.
    #[test]
    fn inputs_read_from_text_are_unchanged() {
        use crate::model::template::{RenderContext, Template};
        use rand::SeedableRng as _;
        let example: Value =
            serde_json::from_str(include_str!("../../examples/ecommerce.json")).unwrap();
        let mut producers = Vec::new();
        for node in example["nodes"]
            .as_object()
            .into_iter()
            .flat_map(|m| m.values())
        {
            for event in node["events"].as_array().into_iter().flatten() {
                producers.push((
                    event["detail_type"].as_str().unwrap_or("x").to_owned(),
                    Template::compile(&event["detail"], "").unwrap(),
                ));
            }
        }
        let transformers: &[(&[(&str, &str)], &str)] = &[
            (
                &[
                    ("order", "$.detail.orderId"),
                    ("type", "$.detail-type"),
                    ("tier", "$.detail.customer.tier"),
                ],
                r#"{"kind": <type>, "order": <order>, "tier": <tier>}"#,
            ),
            (
                &[
                    ("a", "$.detail.customer"),
                    ("b", "$.detail.customer.id"),
                    ("c", "$.detail.items[1].sku"),
                    ("d", "$.detail.items[0]"),
                    ("e", "$.detail.total"),
                    ("f", "$.detail.nope.deeper"),
                    ("g", "$.detail"),
                    ("h", "$.detail.reason"),
                    ("i", "$.resources[0]"),
                    ("j", "$['detail']['orderId']"),
                ],
                r#"{"a": <a>, "b": "<b> and <c>", "d": <d>, "e": <e>, "f": <f>, "g": "<g>", "h": <h>, "i": <i>, "j": <j>, "r": "<aws.events.rule-name>"}"#,
            ),
            (
                &[
                    ("o", "$.detail.orderId"),
                    ("t", "$.detail.customer.tier"),
                    ("x", "$.detail.customer.tier.x"),
                ],
                r#""<o> for <t> (<x>) at <aws.events.event.ingestion-time>""#,
            ),
            (
                &[("d", "$.detail"), ("o", "$.detail.orderId")],
                "free <d> text <o>",
            ),
            (&[("d", "$.detail.items")], "<d>"),
        ];
        let mut inputs: Vec<TargetInput> = transformers
            .iter()
            .map(|(paths, template)| {
                let map = paths
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.to_string()))
                    .collect();
                TargetInput::from_config(None, None, Some((&map, template)), "t").unwrap()
            })
            .collect();
        for path in [
            "$.detail",
            "$.detail.customer.tier",
            "$.detail.items[2]",
            "$.nope",
            "$",
        ] {
            inputs.push(TargetInput::from_config(None, Some(path), None, "t").unwrap());
        }
        let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(5);
        let mut noise = 0x9e37_79b9_7f4a_7c15_u64;
        let mut next = move || {
            noise ^= noise << 13;
            noise ^= noise >> 7;
            noise ^= noise << 17;
            noise
        };
        let mut hash = 0xcbf2_9ce4_8422_2325_u64;
        let mut fnv = |bytes: &[u8]| {
            for &b in bytes {
                hash ^= u64::from(b);
                hash = hash.wrapping_mul(0x0100_0000_01b3);
            }
            hash ^= 0xff;
            hash = hash.wrapping_mul(0x0100_0000_01b3);
        };
        for seq in 0..3_000u64 {
            let (detail_type, template) = &producers[(next() % producers.len() as u64) as usize];
            let ctx = RenderContext {
                seq,
                now_rfc3339: "2024-05-01T12:00:00Z",
                now_ms: 0,
            };
            let detail = template.render_to_string(&mut rng, &ctx);
            let event = format!(
                r#"{{"version":"0","id":"id-{seq}","detail-type":"{detail_type}","source":"shop","account":"1","time":"t","region":"r","resources":["arn:{seq}"],"detail":{detail}}}"#
            );
            let mut texts = vec![event.clone()];
            // A few truncations and corruptions of each event.
            for _ in 0..6 {
                let mut b = event.clone().into_bytes();
                let at = 120 + (next() as usize) % (b.len() - 120);
                if next() % 3 == 0 {
                    b.truncate(at);
                } else {
                    b[at] = b"\"\\{}[],: a1"[(next() as usize) % 11];
                }
                if let Ok(text) = String::from_utf8(b) {
                    texts.push(text);
                }
            }
            texts.push(event.replace("\"customer\":", "\"cust\\u006fmer\":"));
            texts.push(event.replace("\"tier\":", "\"tier\" : "));
            texts.push(event.replace(",\"items\":", " , \"items\" :"));
            for text in &texts {
                let top = TopLevel::new(text);
                for input in &inputs {
                    match input.render_from(&top, &RESERVED) {
                        Ok(out) => fnv(out.as_bytes()),
                        Err(Undeliverable::NothingSelected) => fnv(b"<nothing>"),
                        Err(Undeliverable::InvalidJson { rendered }) => {
                            fnv(b"<invalid>");
                            fnv(rendered.as_bytes());
                        }
                    }
                }
            }
        }
        println!("inputs fingerprint {hash:#x}");
        assert_eq!(hash, INPUTS_FINGERPRINT);
    }

    const INPUTS_FINGERPRINT: u64 = 0x85e8_2b3d_5e54_6dab;
}
