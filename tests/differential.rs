//! Differential property tests: the merged [`Matcher`] (both `matches` and the
//! allocation-free `matches_with`) must agree with the reference evaluation
//! [`reference_matches`] (which evaluates each operator straight from its definition),
//! for random patterns and events drawn from one small shared vocabulary of paths,
//! strings, number spellings and operators, so that patterns and events meet often.
//!
//! Also checked: many rules at once, adding / removing / replacing rules at run time,
//! sorted names, and matching from several threads at once.

use std::collections::{BTreeMap, BTreeSet};

use eventyard::pattern::sns::{FilterPolicy, Scope};
use eventyard::pattern::{Matcher, Pattern, RuleId, Scratch, explain, reference_matches};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{RngAlgorithm, TestRng, TestRunner};

// =====================================================================================
// Vocabulary
// =====================================================================================

/// Number spellings that events and exact-number patterns use (several spellings of one
/// value, `-0`, numbers without an exact double form, an overflowing one).
const NUMBERS: &[&str] = &[
    "300",
    "3e2",
    "300.0",
    "3.00E+2",
    "30000e-2",
    "-0",
    "0",
    "0.0",
    "-0.0",
    "1",
    "1.0",
    "10e-1",
    "1.5",
    "15e-1",
    "-1",
    "100",
    "1e2",
    "101",
    "5",
    "-300",
    "0.1",
    "0.10000000000000001",
    "123456789012345678901234567890",
    "1e400",
    "299.99999",
    "9007199254740993",
];
/// The numbers used most often, so that patterns and events meet.
const CORE_NUMBERS: &[&str] = &["300", "3e2", "300.0", "-0", "0", "1", "1.5", "100", "5"];

/// Numbers that are comparable by value (valid in `numeric` and `anything-but`).
const COMPARABLE: &[&str] = &[
    "300",
    "3e2",
    "-0",
    "0",
    "1",
    "1.5",
    "-1",
    "100",
    "101",
    "5",
    "-300",
    "0.1",
    "299.99999",
    "1e2",
];

/// Strings for events and exact / case-insensitive patterns.
const STRINGS: &[&str] = &[
    "",
    "x",
    "X",
    "y",
    "ab",
    "abc",
    "ABC",
    "aBc",
    "abcabc",
    "cab",
    "a*b",
    "axb",
    "a\\b",
    "10.0.0.1",
    "10.0.0.255",
    "10.0.1.1",
    "010.0.0.1",
    "192.168.1.1",
    "::1",
    "2001:db8::1",
    "2001:DB8::1",
    "::ffff:a00:1",
    "Été",
    "été",
    "ÉTÉ",
    "ΣΟΦΙΑ",
    "σοφια",
    "straße",
    "STRASSE",
    "\u{212A}",
    "k",
    "K",
    "300",
    "null",
    "true",
    "x y",
    "😀",
    "??",
    "a.b",
];
/// The strings used most often.
const CORE_STRINGS: &[&str] = &[
    "", "x", "ab", "abc", "ABC", "10.0.0.1", "été", "Été", "300", "a*b",
];

const PREFIXES: &[&str] = &[
    "", "a", "ab", "AB", "x", "10.0.", "É", "é", "2001", "😀", "a*",
];
const SUFFIXES: &[&str] = &["", "c", "bc", "BC", "b", "é", "1", "y", "😀", "*b"];
/// Non-empty (anything-but prefix/suffix must not be empty).
const BUT_AFFIXES: &[&str] = &["a", "ab", "x", "10.", "c", "bc", "é", "1"];
/// Wildcards, as wildcard text (`\*` is a literal star, `\\` a literal backslash).
const GLOBS: &[&str] = &[
    "*", "a*", "*c", "a*c", "*b*", "a\\*b", "ab*ab", "*0.0.*", "", "x", "É*", "a\\\\b", "*a*b*c*",
    "a*b*",
];
const CIDRS: &[&str] = &[
    "10.0.0.0/24",
    "10.0.0.0/8",
    "10.0.0.1/31",
    "192.168.0.0/16",
    "2001:db8::/32",
    "0.0.0.0/0",
    "::/0",
    "10.0.0.255/30",
];

/// Object keys of events at each nesting level; each appears in an object with
/// probability 0.6 (so the pattern paths below are often present).
const KEYS_TOP: &[&str] = &["a", "b", "c", "d", "e"];
const KEYS_1: &[&str] = &["b", "d", "e"];
const KEYS_2: &[&str] = &["e", "b"];
/// Extra members (repeated keys, and with `dotted` also keys containing dots: an event
/// key `a.b` reaches the path `a.b` in one step, like `{"a": {"b": ...}}`).
const EXTRA_TOP: &[&str] = &["a", "b", "c"];
const EXTRA_1: &[&str] = &["b", "d"];
const DOTTED_TOP: &[&str] = &[
    "a", "c", "a.b", "a.d", "c.d", "c.b", "c.d.e", "", ".d", "c.",
];
const DOTTED_1: &[&str] = &["b", "d", "d.e", ""];

/// Field paths a pattern may use at the top level and inside `"c": {...}`. Sibling
/// paths under one parent (`a.b`/`a.d`, `c.b`/`c.d.e`) make array consistency matter
/// when the parent is an array of objects.
const PATHS_TOP: &[&[&str]] = &[
    &["a"],
    &["b"],
    &["a", "b"],
    &["a", "d"],
    &["c", "d", "e"],
    &["c", "d"],
    &["c", "b"],
    &["e"],
    &["d"],
];
const PATHS_IN_C: &[&[&str]] = &[&["d"], &["d", "e"], &["b"], &["e"]];
/// With `dotted` events: also paths with empty key segments (`.d` is the key `d` inside
/// a top-level key `""`; `c..e` is `e` inside `""` inside `c`).
const PATHS_ODD: &[&[&str]] = &[
    &["a"],
    &["b"],
    &["a", "b"],
    &["a", "d"],
    &["c", "d", "e"],
    &["c", "d"],
    &["c", "b"],
    &["e"],
    &["d"],
    &[".d"],
    &["c", ".e"],
    &["c", ""],
];

fn quote(s: &str) -> String {
    serde_json::to_string(s).expect("string to JSON")
}

/// `\uXXXX` for every UTF-16 unit.
fn escaped(s: &str) -> String {
    let mut out = String::from("\"");
    for unit in s.encode_utf16() {
        out.push_str(&format!("\\u{unit:04x}"));
    }
    out.push('"');
    out
}

// =====================================================================================
// Events
// =====================================================================================

/// A JSON value whose exact text we control (number spellings, escapes, duplicates).
#[derive(Clone, Debug)]
enum J {
    Null,
    Bool(bool),
    Num(&'static str),
    /// A string; `true` writes every character as a `\uXXXX` escape.
    Str(&'static str, bool),
    Arr(Vec<J>),
    /// Members: key, whether to escape the key, value.
    Obj(Vec<(&'static str, bool, J)>),
}

/// How an event is spaced: compact, with spaces, or with every kind of JSON whitespace.
#[derive(Clone, Copy, Debug)]
enum Style {
    Compact,
    Spaced,
    Loose,
}

impl Style {
    fn ws(self) -> &'static str {
        match self {
            Style::Compact => "",
            Style::Spaced => " ",
            Style::Loose => " \t\r\n ",
        }
    }
}

impl J {
    fn write(&self, out: &mut String, style: Style) {
        let ws = style.ws();
        match self {
            J::Null => out.push_str("null"),
            J::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            J::Num(n) => out.push_str(n),
            J::Str(s, false) => out.push_str(&quote(s)),
            J::Str(s, true) => out.push_str(&escaped(s)),
            J::Arr(items) => {
                out.push('[');
                out.push_str(if matches!(style, Style::Loose) {
                    ws
                } else {
                    ""
                });
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        out.push_str(ws);
                    }
                    item.write(out, style);
                }
                out.push_str(if matches!(style, Style::Loose) {
                    ws
                } else {
                    ""
                });
                out.push(']');
            }
            J::Obj(fields) => {
                out.push('{');
                out.push_str(if matches!(style, Style::Loose) {
                    ws
                } else {
                    ""
                });
                for (i, (k, esc, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                        out.push_str(ws);
                    }
                    out.push_str(&if *esc { escaped(k) } else { quote(k) });
                    out.push_str(if matches!(style, Style::Loose) {
                        ws
                    } else {
                        ""
                    });
                    out.push(':');
                    out.push_str(ws);
                    v.write(out, style);
                }
                out.push_str(if matches!(style, Style::Loose) {
                    ws
                } else {
                    ""
                });
                out.push('}');
            }
        }
    }
}

fn core_or_all(
    core: &'static [&'static str],
    all: &'static [&'static str],
) -> BoxedStrategy<&'static str> {
    prop_oneof![3 => prop::sample::select(core), 2 => prop::sample::select(all)].boxed()
}

fn scalar() -> BoxedStrategy<J> {
    prop_oneof![
        1 => Just(J::Null),
        1 => any::<bool>().prop_map(J::Bool),
        4 => core_or_all(CORE_NUMBERS, NUMBERS).prop_map(J::Num),
        5 => (core_or_all(CORE_STRINGS, STRINGS), prop::bool::weighted(0.15)).prop_map(|(s, e)| J::Str(s, e)),
    ]
    .boxed()
}

fn keys_at(level: usize, dotted: bool) -> (&'static [&'static str], &'static [&'static str]) {
    match (level, dotted) {
        (0, false) => (KEYS_TOP, EXTRA_TOP),
        (0, true) => (KEYS_TOP, DOTTED_TOP),
        (1, false) => (KEYS_1, EXTRA_1),
        (1, true) => (KEYS_1, DOTTED_1),
        _ => (KEYS_2, KEYS_2),
    }
}

/// A value for a key at nesting `level` (its objects hold keys of `level + 1`).
fn value_at(level: usize, dotted: bool) -> BoxedStrategy<J> {
    let flat_array = prop::collection::vec(scalar(), 0..4).prop_map(J::Arr);
    if level >= 2 {
        return prop_oneof![4 => scalar(), 1 => flat_array].boxed();
    }
    let element = prop_oneof![
        2 => scalar(),
        4 => object_at(level + 1, dotted),
        1 => prop::collection::vec(scalar(), 0..3).prop_map(J::Arr),
    ];
    prop_oneof![
        4 => scalar(),
        3 => object_at(level + 1, dotted),
        1 => flat_array,
        3 => prop::collection::vec(element, 0..4).prop_map(J::Arr),
    ]
    .boxed()
}

/// An object at nesting `level`: each of the level's keys with probability 0.6, a few
/// extra members (repeated or dotted keys), in random order; some keys escaped.
fn object_at(level: usize, dotted: bool) -> BoxedStrategy<J> {
    let (keys, extra) = keys_at(level, dotted);
    let member = |key: BoxedStrategy<&'static str>| {
        (key, prop::bool::weighted(0.1), value_at(level, dotted))
    };
    let regular = keys
        .iter()
        .map(|&k| prop::option::weighted(0.6, member(Just(k).boxed())))
        .collect::<Vec<_>>();
    let extras = prop::collection::vec(member(prop::sample::select(extra).boxed()), 0..2);
    (regular, extras)
        .prop_map(|(regular, extras)| {
            regular
                .into_iter()
                .flatten()
                .chain(extras)
                .collect::<Vec<_>>()
        })
        .prop_shuffle()
        .prop_map(J::Obj)
        .boxed()
}

/// Event text (a JSON object).
fn event() -> BoxedStrategy<String> {
    event_with(false)
}

/// Event text; with `dotted`, some keys contain dots.
fn event_with(dotted: bool) -> BoxedStrategy<String> {
    let style = prop_oneof![
        Just(Style::Compact),
        Just(Style::Spaced),
        Just(Style::Loose)
    ];
    (object_at(0, dotted), style)
        .prop_map(|(object, style)| {
            let mut out = String::new();
            object.write(&mut out, style);
            out
        })
        .boxed()
}

fn events(max: usize) -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(event(), 1..max).boxed()
}

fn dotted_events(max: usize) -> BoxedStrategy<Vec<String>> {
    prop::collection::vec(event_with(true), 1..max).boxed()
}

// =====================================================================================
// Patterns
// =====================================================================================

/// One pattern node: a field (a path and its value list, as JSON texts), an `$or`, or
/// a nested object (`"c": {...}`) holding more nodes.
#[derive(Clone, Debug)]
enum P {
    Field(&'static [&'static str], Vec<String>),
    Or(Vec<Vec<P>>),
    In(&'static str, Vec<P>),
}

fn write_nodes(nodes: &[P], out: &mut String) {
    out.push('{');
    for (i, node) in nodes.iter().enumerate() {
        if i > 0 {
            out.push_str(", ");
        }
        match node {
            P::Field(path, alternatives) => {
                for (j, key) in path.iter().enumerate() {
                    if j > 0 {
                        out.push('{');
                    }
                    out.push_str(&quote(key));
                    out.push_str(": ");
                }
                out.push('[');
                out.push_str(&alternatives.join(", "));
                out.push(']');
                out.push_str(&"}".repeat(path.len() - 1));
            }
            P::Or(branches) => {
                out.push_str("\"$or\": [");
                for (j, branch) in branches.iter().enumerate() {
                    if j > 0 {
                        out.push_str(", ");
                    }
                    write_nodes(branch, out);
                }
                out.push(']');
            }
            P::In(key, inner) => {
                out.push_str(&quote(key));
                out.push_str(": ");
                write_nodes(inner, out);
            }
        }
    }
    out.push('}');
}

fn pattern_text(nodes: &[P]) -> String {
    let mut out = String::new();
    write_nodes(nodes, &mut out);
    out
}

fn select_str(list: &'static [&'static str]) -> impl Strategy<Value = &'static str> {
    prop::sample::select(list)
}

fn string_list(list: &'static [&'static str], max: usize) -> impl Strategy<Value = String> {
    prop::collection::vec(select_str(list), 1..max).prop_map(|v| {
        format!(
            "[{}]",
            v.iter().map(|s| quote(s)).collect::<Vec<_>>().join(", ")
        )
    })
}

fn numeric_range() -> impl Strategy<Value = String> {
    let one = (
        select_str(&["<", "<=", ">", ">=", "="]),
        select_str(COMPARABLE),
    )
        .prop_map(|(op, n)| format!("{{\"numeric\": [\"{op}\", {n}]}}"));
    let two = (
        select_str(&[">", ">="]),
        select_str(COMPARABLE),
        select_str(&["<", "<="]),
        select_str(COMPARABLE),
    )
        .prop_map(|(lo_op, a, hi_op, b)| {
            let (va, vb): (f64, f64) = (a.parse().unwrap(), b.parse().unwrap());
            if va == vb {
                format!("{{\"numeric\": [\"{lo_op}\", {a}]}}")
            } else {
                let (lo, hi) = if va < vb { (a, b) } else { (b, a) };
                format!("{{\"numeric\": [\"{lo_op}\", {lo}, \"{hi_op}\", {hi}]}}")
            }
        });
    prop_oneof![one, two]
}

fn anything_but() -> impl Strategy<Value = String> {
    let numbers = prop::collection::vec(select_str(COMPARABLE), 1..4).prop_map(|v| v.join(", "));
    prop_oneof![
        select_str(STRINGS).prop_map(|s| format!("{{\"anything-but\": {}}}", quote(s))),
        select_str(COMPARABLE).prop_map(|n| format!("{{\"anything-but\": {n}}}")),
        string_list(STRINGS, 4).prop_map(|l| format!("{{\"anything-but\": {l}}}")),
        numbers.prop_map(|l| format!("{{\"anything-but\": [{l}]}}")),
        select_str(BUT_AFFIXES)
            .prop_map(|s| format!("{{\"anything-but\": {{\"prefix\": {}}}}}", quote(s))),
        string_list(BUT_AFFIXES, 3)
            .prop_map(|l| format!("{{\"anything-but\": {{\"prefix\": {l}}}}}")),
        select_str(BUT_AFFIXES)
            .prop_map(|s| format!("{{\"anything-but\": {{\"suffix\": {}}}}}", quote(s))),
        string_list(BUT_AFFIXES, 3)
            .prop_map(|l| format!("{{\"anything-but\": {{\"suffix\": {l}}}}}")),
        select_str(STRINGS).prop_map(|s| format!(
            "{{\"anything-but\": {{\"equals-ignore-case\": {}}}}}",
            quote(s)
        )),
        string_list(STRINGS, 3)
            .prop_map(|l| format!("{{\"anything-but\": {{\"equals-ignore-case\": {l}}}}}")),
        select_str(GLOBS)
            .prop_map(|g| format!("{{\"anything-but\": {{\"wildcard\": {}}}}}", quote(g))),
        string_list(GLOBS, 3).prop_map(|l| format!("{{\"anything-but\": {{\"wildcard\": {l}}}}}")),
    ]
}

/// One alternative of a field's value list (JSON text), covering every operator.
fn alternative() -> BoxedStrategy<String> {
    prop_oneof![
        4 => core_or_all(CORE_STRINGS, STRINGS).prop_map(quote),
        3 => core_or_all(CORE_NUMBERS, NUMBERS).prop_map(str::to_string),
        1 => select_str(&["true", "false", "null"]).prop_map(str::to_string),
        2 => select_str(PREFIXES).prop_map(|s| format!("{{\"prefix\": {}}}", quote(s))),
        1 => select_str(PREFIXES).prop_map(|s| format!("{{\"prefix\": {{\"equals-ignore-case\": {}}}}}", quote(s))),
        2 => select_str(SUFFIXES).prop_map(|s| format!("{{\"suffix\": {}}}", quote(s))),
        1 => select_str(SUFFIXES).prop_map(|s| format!("{{\"suffix\": {{\"equals-ignore-case\": {}}}}}", quote(s))),
        2 => select_str(STRINGS).prop_map(|s| format!("{{\"equals-ignore-case\": {}}}", quote(s))),
        1 => select_str(STRINGS).prop_map(|s| format!("{{\"exactly\": {}}}", quote(s))),
        4 => anything_but(),
        4 => numeric_range(),
        2 => Just("{\"exists\": true}".to_string()),
        2 => Just("{\"exists\": false}".to_string()),
        2 => select_str(GLOBS).prop_map(|g| format!("{{\"wildcard\": {}}}", quote(g))),
        2 => select_str(CIDRS).prop_map(|c| format!("{{\"cidr\": {}}}", quote(c))),
    ]
    .boxed()
}

fn field(paths: &'static [&'static [&'static str]]) -> BoxedStrategy<P> {
    (
        prop::sample::select(paths),
        prop::collection::vec(alternative(), 1..4),
    )
        .prop_map(|(path, alternatives)| P::Field(path, alternatives))
        .boxed()
}

fn or_of(paths: &'static [&'static [&'static str]], nested: bool) -> BoxedStrategy<P> {
    let branch_node = if nested {
        prop_oneof![4 => field(paths), 1 => or_of(paths, false)].boxed()
    } else {
        field(paths)
    };
    prop::collection::vec(prop::collection::vec(branch_node, 1..3), 2..4)
        .prop_map(P::Or)
        .boxed()
}

/// Pattern text. Most patterns have one to three fields; some use `$or` (also nested
/// and inside an object).
fn pattern() -> BoxedStrategy<String> {
    pattern_over(PATHS_TOP)
}

fn pattern_over(paths: &'static [&'static [&'static str]]) -> BoxedStrategy<String> {
    let inside_c = prop::collection::vec(
        prop_oneof![3 => field(PATHS_IN_C), 1 => or_of(PATHS_IN_C, false)],
        1..3,
    )
    .prop_map(|nodes| P::In("c", nodes));
    let node = prop_oneof![
        8 => field(paths),
        2 => or_of(paths, true),
        1 => inside_c,
    ];
    prop::collection::vec(node, 1..4)
        .prop_map(|nodes| pattern_text(&nodes))
        .prop_filter("within EventBridge's size limits", |t: &String| {
            within_limits(t)
        })
        .boxed()
}

/// Patterns made of sibling fields below `a` and `c`, optionally with `$or`.
fn sibling_pattern() -> BoxedStrategy<String> {
    const SIBLINGS: &[&[&str]] = &[
        &["a", "b"],
        &["a", "d"],
        &["a", "d", "e"],
        &["c", "b"],
        &["c", "d", "e"],
    ];
    let node = prop_oneof![4 => field(SIBLINGS), 1 => or_of(SIBLINGS, false)];
    prop::collection::vec(node, 2..4)
        .prop_map(|nodes| pattern_text(&nodes))
        .prop_filter("within EventBridge's size limits", |t: &String| {
            within_limits(t)
        })
        .boxed()
}

/// Events whose `a` and `c` are arrays (mostly of objects, sometimes nested arrays).
fn array_event() -> BoxedStrategy<String> {
    let element = || {
        prop_oneof![
            5 => object_at(1, false),
            1 => prop::collection::vec(object_at(1, false), 0..3).prop_map(J::Arr),
            1 => scalar(),
        ]
    };
    let array = move || prop::collection::vec(element(), 0..5).prop_map(J::Arr);
    (array(), array(), any::<bool>())
        .prop_map(|(a, c, spaced)| {
            let object = J::Obj(vec![("a", false, a), ("c", false, c)]);
            let mut out = String::new();
            object.write(
                &mut out,
                if spaced {
                    Style::Spaced
                } else {
                    Style::Compact
                },
            );
            out
        })
        .boxed()
}

/// `n` rules on keys no generated pattern uses: half at the top level, half under `c`.
fn filler_rules(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let text = match i % 4 {
                0 => format!(r#"{{"k{i:02}": [{{"exists": false}}]}}"#),
                1 => format!(r#"{{"c": {{"k{i:02}": [{i}]}}}}"#),
                2 => format!(r#"{{"k{i:02}": [{i}], "a": [{{"exists": true}}]}}"#),
                _ => format!(
                    r#"{{"c": {{"k{i:02}": [{{"exists": false}}], "d": [{{"exists": true}}]}}}}"#
                ),
            };
            (format!("filler-{i:02}"), text)
        })
        .collect()
}

/// The event with the filler key `"k02": 2` added at the top level (first member):
/// rule `filler-02` then matches when `a` is present.
fn with_filler_key(event: &str, filler: usize) -> String {
    if filler == 0 {
        return event.to_string();
    }
    let k = 2;
    let at = event.find('{').expect("an object") + 1;
    let rest = &event[at..];
    let comma = if rest.trim_start().starts_with('}') {
        ""
    } else {
        ", "
    };
    format!("{}\"k{k:02}\": {k}{comma}{rest}", &event[..at])
}

/// Large `$or` combinations can exceed the pattern length (2,048 characters) or the
/// number of combinations (1,000): those are discarded. Any other rejection is a bug in
/// the generator and surfaces in [`parse`].
fn within_limits(text: &str) -> bool {
    match Pattern::parse(text) {
        Ok(_) => true,
        Err(e) => !e.reason.contains("the limit is"),
    }
}

fn parse(text: &str) -> Pattern {
    match Pattern::parse(text) {
        Ok(p) => p,
        Err(e) => panic!("generated pattern is invalid: {text}\n{e}"),
    }
}

// =====================================================================================
// Checking helpers
// =====================================================================================

/// The reference verdict (the generated events are valid, so it must not fail).
fn reference(pattern: &Pattern, text: &str, event: &str) -> bool {
    match reference_matches(pattern, event.as_bytes()) {
        Ok(v) => v,
        Err(e) => panic!("reference rejected a valid event: {e}\npattern: {text}\nevent: {event}"),
    }
}

/// `matches_with` results as sorted names, checking each rule is reported once.
/// The verdicts of the reference, `Matcher::matches` and `Matcher::matches_with` for one
/// pattern on one event.
fn verdicts(pattern: &str, event: &str) -> [bool; 3] {
    let p = Pattern::parse(pattern).unwrap();
    let reference = reference_matches(&p, event.as_bytes()).unwrap();
    let mut m = Matcher::new();
    m.add_rule("r", pattern).unwrap();
    let strict = !m.matches(event.as_bytes()).unwrap().is_empty();
    let mut ids = Vec::new();
    m.matches_with(event.as_bytes(), &mut Scratch::default(), &mut ids)
        .unwrap();
    [reference, strict, !ids.is_empty()]
}

fn names_with(m: &Matcher, event: &str, scratch: &mut Scratch) -> Vec<String> {
    let mut ids: Vec<RuleId> = Vec::new();
    m.matches_with(event.as_bytes(), scratch, &mut ids)
        .unwrap_or_else(|e| panic!("matches_with rejected a valid event: {e}\nevent: {event}"));
    let unique: BTreeSet<RuleId> = ids.iter().copied().collect();
    assert_eq!(
        unique.len(),
        ids.len(),
        "matches_with reported a rule twice for {event}"
    );
    let mut names: Vec<String> = ids.iter().map(|&id| m.rule_name(id).to_string()).collect();
    names.sort();
    names
}

/// `matches` results, checking they come sorted.
fn names_of(m: &Matcher, event: &str) -> Vec<String> {
    let names = m
        .matches(event.as_bytes())
        .unwrap_or_else(|e| panic!("matches rejected a valid event: {e}\nevent: {event}"));
    assert!(
        names.windows(2).all(|w| w[0] < w[1]),
        "names not sorted and unique: {names:?}"
    );
    names.into_iter().map(str::to_string).collect()
}

fn matcher_of(rules: &BTreeMap<String, String>) -> Matcher {
    let mut m = Matcher::new();
    for (name, text) in rules {
        m.add_rule(name, text)
            .unwrap_or_else(|e| panic!("{name}: {text}: {e}"));
    }
    m
}

/// The rules whose reference verdict on `event` is true, sorted by name.
fn expected(
    rules: &BTreeMap<String, String>,
    parsed: &BTreeMap<String, Pattern>,
    event: &str,
) -> Vec<String> {
    rules
        .iter()
        .filter(|(name, text)| reference(&parsed[*name], text, event))
        .map(|(name, _)| name.clone())
        .collect()
}

fn check_agreement(pattern_text: &str, events: &[String]) -> Result<(), TestCaseError> {
    let pattern = parse(pattern_text);
    let mut m = Matcher::new();
    m.add_rule("r", pattern_text)
        .expect("pattern accepted by Matcher");
    let mut scratch = Scratch::default();
    for event in events {
        let want = reference(&pattern, pattern_text, event);
        let got = names_of(&m, event);
        prop_assert_eq!(
            !got.is_empty(),
            want,
            "Matcher::matches disagrees with the reference\npattern: {}\nevent:   {}",
            pattern_text,
            event
        );
        // `matches_with` may skip the rest of an object once every key a rule needs
        // there was read, and so miss a later dotted key (ARCHITECTURE.md, "Hot-path
        // checking"); events without dotted keys must agree exactly.
        if !has_dotted_key(event) {
            let got_with = names_with(&m, event, &mut scratch);
            prop_assert_eq!(
                !got_with.is_empty(),
                want,
                "Matcher::matches_with disagrees with the reference\npattern: {}\nevent:   {}",
                pattern_text,
                event
            );
        }
    }
    Ok(())
}

/// Does any object key of the event contain a dot?
fn has_dotted_key(event: &str) -> bool {
    fn walk(v: &serde_json::Value) -> bool {
        match v {
            serde_json::Value::Object(map) => map.iter().any(|(k, v)| k.contains('.') || walk(v)),
            serde_json::Value::Array(items) => items.iter().any(walk),
            _ => false,
        }
    }
    serde_json::from_str(event).map_or(true, |v| walk(&v))
}

fn config(cases: u32) -> ProptestConfig {
    ProptestConfig {
        cases,
        // never write regression files into the source tree
        failure_persistence: None,
        max_shrink_iters: 4096,
        // the default ChaCha generator dominates the run time of debug builds
        rng_algorithm: RngAlgorithm::XorShift,
        ..ProptestConfig::default()
    }
}

// =====================================================================================
// Properties
// =====================================================================================

proptest! {
    #![proptest_config(config(3000))]

    /// One pattern, several events: `matches` and `matches_with` both agree with the
    /// reference verdict.
    #[test]
    fn matcher_agrees_with_reference(pattern in pattern(), events in events(5)) {
        check_agreement(&pattern, &events)?;
    }
}

proptest! {
    #![proptest_config(config(1000))]

    /// Events whose keys contain dots (`{"c.d": 1}` is the path `c.d`, like
    /// `{"c": {"d": 1}}`) or are empty, and patterns whose paths have empty segments:
    /// `matches` and `matches_with` still agree with the reference.
    #[test]
    fn dotted_event_keys_agree_with_reference(
        pattern in pattern_over(PATHS_ODD),
        events in dotted_events(5),
    ) {
        check_agreement(&pattern, &events)?;
    }
}

proptest! {
    #![proptest_config(config(600))]

    /// Patterns of sibling fields under arrays of objects (`a.b` with `a.d`, `c.b` with
    /// `c.d.e`): array consistency decides, and the matcher must decide like the reference.
    #[test]
    fn array_consistency_agrees_with_reference(
        patterns in prop::collection::vec(sibling_pattern(), 1..5),
        events in prop::collection::vec(array_event(), 1..6),
    ) {
        let rules: BTreeMap<String, String> =
            patterns.iter().enumerate().map(|(i, p)| (format!("rule-{i:02}"), p.clone())).collect();
        let parsed: BTreeMap<String, Pattern> = rules.iter().map(|(n, t)| (n.clone(), parse(t))).collect();
        let m = matcher_of(&rules);
        let mut scratch = Scratch::default();
        for event in &events {
            let want = expected(&rules, &parsed, event);
            prop_assert_eq!(names_of(&m, event), want.clone(), "matches, event: {}\nrules: {:#?}", event, rules);
            prop_assert_eq!(names_with(&m, event, &mut scratch), want, "matches_with, event: {}\nrules: {:#?}", event, rules);
        }
    }
}

proptest! {
    #![proptest_config(config(300))]

    /// A matcher holding N random rules returns exactly the rules whose reference
    /// verdict is true, sorted.
    #[test]
    fn many_rules_return_exactly_the_reference_set(
        patterns in prop::collection::vec(pattern(), 1..12),
        filler in prop::sample::select(&[0usize, 0, 10, 70][..]),
        events in events(6),
    ) {
        let mut rules: BTreeMap<String, String> =
            patterns.iter().enumerate().map(|(i, p)| (format!("rule-{i:02}"), p.clone())).collect();
        // Filler rules widen the matcher's key maps (more than 8 and more than 64 keys
        // under one object) without changing what the generated events mean.
        for (name, text) in filler_rules(filler) {
            rules.insert(name, text);
        }
        let parsed: BTreeMap<String, Pattern> = rules.iter().map(|(n, t)| (n.clone(), parse(t))).collect();
        let m = matcher_of(&rules);
        prop_assert_eq!(m.len(), rules.len());
        let mut scratch = Scratch::default();
        for event in events.iter().flat_map(|e| [e.clone(), with_filler_key(e, filler)]) {
            let want = expected(&rules, &parsed, &event);
            let got = names_of(&m, &event);
            prop_assert_eq!(&got, &want, "matches, event: {}\nrules: {:#?}", event, rules);
            let got_with = names_with(&m, &event, &mut scratch);
            prop_assert_eq!(&got_with, &want, "matches_with, event: {}\nrules: {:#?}", event, rules);
        }
    }

    /// Rules added and removed at run time: after every step the matcher answers like
    /// a fresh matcher built from the rules that remain.
    #[test]
    fn adding_and_removing_rules_equals_a_fresh_matcher(
        steps in prop::collection::vec((0usize..6, prop::option::weighted(0.65, pattern())), 1..14),
        events in events(5),
    ) {
        let mut m = Matcher::new();
        let mut model: BTreeMap<String, String> = BTreeMap::new();
        // one scratch reused across every matcher state and the fresh matchers
        let mut scratch = Scratch::default();
        for (slot, action) in &steps {
            let name = format!("n{slot}");
            match action {
                Some(text) => {
                    m.add_rule(&name, text).expect("valid pattern");
                    model.insert(name.clone(), text.clone());
                }
                None => {
                    let existed = m.remove_rule(&name);
                    prop_assert_eq!(existed, model.remove(&name).is_some());
                    prop_assert!(m.pattern(&name).is_none());
                    prop_assert!(m.rule_id(&name).is_none());
                }
            }
            prop_assert_eq!(m.len(), model.len());
            let names: Vec<&str> = m.rule_names().collect();
            let model_names: Vec<&str> = model.keys().map(String::as_str).collect();
            prop_assert_eq!(names, model_names);
            let fresh = matcher_of(&model);
            let parsed: BTreeMap<String, Pattern> = model.iter().map(|(n, t)| (n.clone(), parse(t))).collect();
            for event in &events {
                let want = expected(&model, &parsed, event);
                let fresh_got = names_of(&fresh, event);
                prop_assert_eq!(&fresh_got, &want, "fresh matcher, event {}\nrules {:#?}", event, model);
                let got = names_of(&m, event);
                prop_assert_eq!(&got, &want, "after {:?}: matches, event {}\nrules {:#?}", steps, event, model);
                let got_with = names_with(&m, event, &mut scratch);
                prop_assert_eq!(&got_with, &want, "after {:?}: matches_with, event {}", steps, event);
            }
        }
    }

    /// Adding a rule under an existing name replaces it.
    #[test]
    fn replacing_a_rule_by_name(
        first in pattern(),
        second in pattern(),
        others in prop::collection::vec(pattern(), 0..4),
        events in events(6),
    ) {
        let mut rules: BTreeMap<String, String> =
            others.iter().enumerate().map(|(i, p)| (format!("other-{i}"), p.clone())).collect();
        let mut m = matcher_of(&rules);
        m.add_rule("target", &first).expect("valid");
        let before = m.len();
        m.add_rule("target", &second).expect("valid");
        prop_assert_eq!(m.len(), before);
        prop_assert_eq!(m.pattern("target"), Some(&parse(&second)));
        rules.insert("target".into(), second.clone());
        let parsed: BTreeMap<String, Pattern> = rules.iter().map(|(n, t)| (n.clone(), parse(t))).collect();
        let mut scratch = Scratch::default();
        for event in &events {
            let want = expected(&rules, &parsed, event);
            prop_assert_eq!(names_of(&m, event), want.clone(), "event {}", event);
            prop_assert_eq!(names_with(&m, event, &mut scratch), want, "event {}", event);
        }
        // a failed replacement leaves the rule untouched
        let invalid = m.add_rule("target", r#"{"a": []}"#);
        prop_assert!(invalid.is_err());
        prop_assert_eq!(m.pattern("target"), Some(&parse(&second)));
    }
}

// -------------------------------------------------------------------------------------
// SNS message-body policies: the policy's matcher against its own explanation.
// -------------------------------------------------------------------------------------

/// Alternatives SNS filter policies allow (no wildcard, no `exactly`; anything-but
/// only with values or prefix; numbers within SNS's limits).
fn sns_alternative() -> BoxedStrategy<String> {
    prop_oneof![
        4 => core_or_all(CORE_STRINGS, STRINGS).prop_map(quote),
        2 => select_str(COMPARABLE).prop_map(str::to_string),
        1 => select_str(&["true", "false", "null"]).prop_map(str::to_string),
        2 => select_str(PREFIXES).prop_map(|s| format!("{{\"prefix\": {}}}", quote(s))),
        2 => select_str(SUFFIXES).prop_map(|s| format!("{{\"suffix\": {}}}", quote(s))),
        2 => select_str(STRINGS).prop_map(|s| format!("{{\"equals-ignore-case\": {}}}", quote(s))),
        2 => select_str(STRINGS).prop_map(|s| format!("{{\"anything-but\": {}}}", quote(s))),
        1 => string_list(STRINGS, 3).prop_map(|l| format!("{{\"anything-but\": {l}}}")),
        1 => select_str(COMPARABLE).prop_map(|n| format!("{{\"anything-but\": {n}}}")),
        1 => select_str(BUT_AFFIXES).prop_map(|s| format!("{{\"anything-but\": {{\"prefix\": {}}}}}", quote(s))),
        3 => numeric_range(),
        2 => Just("{\"exists\": true}".to_string()),
        2 => Just("{\"exists\": false}".to_string()),
        1 => select_str(CIDRS).prop_map(|c| format!("{{\"cidr\": {}}}", quote(c))),
    ]
    .boxed()
}

fn sns_body_policy() -> BoxedStrategy<String> {
    let field = (
        prop::sample::select(PATHS_TOP),
        prop::collection::vec(sns_alternative(), 1..3),
    )
        .prop_map(|(path, alternatives)| P::Field(path, alternatives));
    let or =
        prop::collection::vec(prop::collection::vec(field.clone(), 1..3), 2..3).prop_map(P::Or);
    prop::collection::vec(prop_oneof![4 => field, 1 => or], 1..3)
        .prop_map(|nodes| pattern_text(&nodes))
        .boxed()
}

proptest! {
    #![proptest_config(config(600))]

    /// A body-scope filter policy's matcher agrees with its explanation (the reference
    /// evaluation) on every event.
    #[test]
    fn sns_body_policy_matches_its_explanation(policy in sns_body_policy(), events in events(5)) {
        // generated policies may exceed SNS's key or combination limits: skip those
        let Ok(p) = FilterPolicy::parse(&policy, Scope::MessageBody) else {
            return Ok(());
        };
        for event in &events {
            let got = p.matches(event.as_bytes()).expect("valid event");
            let want = p.explain(event.as_bytes()).expect("valid event").matched;
            prop_assert_eq!(got, want, "policy {}\nevent {}", policy, event);
        }
    }
}

// =====================================================================================
// Deterministic tests
// =====================================================================================

/// Case-folding corner cases beyond the random vocabulary: characters whose lower or
/// upper case is another character's too (Kelvin sign, Ohm sign, long s, dotless i,
/// micro sign, title-case digraphs, final sigma, ligatures).
const CASE_STRINGS: &[&str] = &[
    "\u{212A}",
    "k",
    "K",
    "\u{2126}",
    "ω",
    "Ω",
    "ſ",
    "s",
    "S",
    "ı",
    "i",
    "I",
    "İ",
    "i\u{307}",
    "µ",
    "μ",
    "Μ",
    "ǅ",
    "ǆ",
    "Ǆ",
    "ς",
    "σ",
    "Σ",
    "ﬀ",
    "FF",
    "ff",
    "ß",
    "ẞ",
    "SS",
    "Kelvin\u{212A}",
    "KELVINK",
    "ſtop",
    "STOP",
];

/// Every single-value operator of the vocabulary against every scalar of the
/// vocabulary (plus `CASE_STRINGS`), as one matcher holding all of them: the set of
/// matching rules must be exactly the reference's, for each event.
#[test]
fn every_operator_against_every_vocabulary_value() {
    let strings: Vec<&str> = STRINGS.iter().chain(CASE_STRINGS).copied().collect();
    let mut alternatives: Vec<String> = Vec::new();
    for s in &strings {
        alternatives.push(quote(s));
        alternatives.push(format!(r#"{{"equals-ignore-case": {}}}"#, quote(s)));
        alternatives.push(format!(
            r#"{{"prefix": {{"equals-ignore-case": {}}}}}"#,
            quote(s)
        ));
        alternatives.push(format!(
            r#"{{"suffix": {{"equals-ignore-case": {}}}}}"#,
            quote(s)
        ));
        alternatives.push(format!(r#"{{"anything-but": {}}}"#, quote(s)));
        alternatives.push(format!(
            r#"{{"anything-but": {{"equals-ignore-case": {}}}}}"#,
            quote(s)
        ));
    }
    for p in PREFIXES {
        alternatives.push(format!(r#"{{"prefix": {}}}"#, quote(p)));
    }
    for p in SUFFIXES {
        alternatives.push(format!(r#"{{"suffix": {}}}"#, quote(p)));
    }
    for p in BUT_AFFIXES {
        alternatives.push(format!(r#"{{"anything-but": {{"prefix": {}}}}}"#, quote(p)));
        alternatives.push(format!(r#"{{"anything-but": {{"suffix": {}}}}}"#, quote(p)));
    }
    for g in GLOBS {
        alternatives.push(format!(r#"{{"wildcard": {}}}"#, quote(g)));
        alternatives.push(format!(
            r#"{{"anything-but": {{"wildcard": {}}}}}"#,
            quote(g)
        ));
    }
    for c in CIDRS {
        alternatives.push(format!(r#"{{"cidr": {}}}"#, quote(c)));
    }
    for n in NUMBERS {
        alternatives.push(n.to_string());
    }
    for n in COMPARABLE {
        alternatives.push(format!(r#"{{"anything-but": {n}}}"#));
        for op in ["<", "<=", ">", ">=", "="] {
            alternatives.push(format!(r#"{{"numeric": ["{op}", {n}]}}"#));
        }
    }
    for lit in [
        "true",
        "false",
        "null",
        r#"{"exists": true}"#,
        r#"{"exists": false}"#,
    ] {
        alternatives.push(lit.to_string());
    }
    let mut rules: BTreeMap<String, String> = BTreeMap::new();
    for (i, alternative) in alternatives.iter().enumerate() {
        rules.insert(format!("r{i:04}"), format!(r#"{{"a": [{alternative}]}}"#));
    }
    let parsed: BTreeMap<String, Pattern> =
        rules.iter().map(|(n, t)| (n.clone(), parse(t))).collect();
    let m = matcher_of(&rules);

    let mut events: Vec<String> = vec![
        "{}".into(),
        r#"{"a": true}"#.into(),
        r#"{"a": false}"#.into(),
    ];
    events.push(r#"{"a": null}"#.into());
    for s in &strings {
        events.push(format!(r#"{{"a": {}}}"#, quote(s)));
        events.push(format!(r#"{{"a": {}}}"#, escaped(s)));
    }
    for n in NUMBERS {
        events.push(format!(r#"{{"a": {n}}}"#));
    }
    let mut scratch = Scratch::default();
    let mut failures = Vec::new();
    for event in &events {
        let want = expected(&rules, &parsed, event);
        let got = names_of(&m, event);
        let got_with = names_with(&m, event, &mut scratch);
        for (how, got) in [("matches", &got), ("matches_with", &got_with)] {
            if got != &want {
                let extra: Vec<&String> = got
                    .iter()
                    .filter(|n| !want.contains(n))
                    .map(|n| &rules[n])
                    .collect();
                let missing: Vec<&String> = want
                    .iter()
                    .filter(|n| !got.contains(n))
                    .map(|n| &rules[n])
                    .collect();
                failures.push(format!(
                    "{how} on {event}: extra {extra:?}, missing {missing:?}"
                ));
            }
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn matches_returns_names_sorted() {
    let mut m = Matcher::new();
    let names = [
        "zulu", "Alpha", "mike", "alpha", "_", "10", "9", "ünicode", "a-b", "a.b", "Z",
    ];
    for (i, name) in names.iter().enumerate() {
        // all match the event below, each through a different path / operator
        let pattern = match i % 4 {
            0 => r#"{"a": [1]}"#,
            1 => r#"{"b": [{"prefix": "x"}]}"#,
            2 => r#"{"c": {"d": [{"exists": true}]}}"#,
            _ => r#"{"e": [{"exists": false}]}"#,
        };
        m.add_rule(name, pattern).unwrap();
    }
    let hits = m
        .matches(br#"{"a": 1.0, "b": "xyz", "c": {"d": null}}"#)
        .unwrap();
    let mut sorted: Vec<&str> = names.to_vec();
    sorted.sort();
    assert_eq!(hits, sorted);
    let listed: Vec<&str> = m.rule_names().collect();
    assert_eq!(listed, sorted);
}

#[test]
fn rules_without_required_fields_are_checked_for_every_event() {
    // only `exists: false` conditions: nothing in the event triggers these rules
    let mut m = Matcher::new();
    m.add_rule("no-e", r#"{"e": [{"exists": false}]}"#).unwrap();
    m.add_rule("no-c-d", r#"{"c": {"d": [{"exists": false}]}}"#)
        .unwrap();
    m.add_rule("a-or-none", r#"{"a": [1, {"exists": false}]}"#)
        .unwrap();
    let cases: [(&str, &[&str]); 5] = [
        ("{}", &["a-or-none", "no-c-d", "no-e"]),
        (r#"{"a": 1}"#, &["a-or-none", "no-c-d", "no-e"]),
        (r#"{"a": 2}"#, &["no-c-d", "no-e"]),
        (r#"{"e": null, "c": {"d": []}}"#, &["a-or-none", "no-c-d"]),
        (
            r#"{"c": [{"d": {"x": 1}}, {"d": false}]}"#,
            &["a-or-none", "no-e"],
        ),
    ];
    let mut scratch = Scratch::default();
    for (event, want) in cases {
        assert_eq!(m.matches(event.as_bytes()).unwrap(), want, "{event}");
        assert_eq!(names_with(&m, event, &mut scratch), want, "{event}");
        for name in ["no-e", "no-c-d", "a-or-none"] {
            let p = m.pattern(name).unwrap();
            assert_eq!(
                reference_matches(p, event.as_bytes()).unwrap(),
                want.contains(&name),
                "{name} {event}"
            );
        }
    }
}

/// Empty objects are not patterns (EventBridge rejects them); the matcher agrees.
#[test]
fn empty_patterns_are_rejected() {
    let mut m = Matcher::new();
    for text in ["{}", r#"{"c": {}}"#] {
        assert!(Pattern::parse(text).is_err(), "{text}");
        assert!(m.add_rule("x", text).is_err(), "{text}");
    }
    assert!(m.is_empty());
}

/// The documented deviation of the hot path (ARCHITECTURE.md, "Hot-path checking"):
/// once every key the rules need in an object has been read, `matches_with` skips the
/// rest of the object, so a later dotted key reaching a rule's path (`"c.d"` after
/// `"c"`) is not seen. `matches` and the reference read it. If this test starts failing
/// because `matches_with` became exact, update ARCHITECTURE.md and this test.
#[test]
fn dotted_key_after_its_parent_documented_deviation() {
    // (pattern, event, correct verdict, what matches_with reports)
    let cases = [
        (r#"{"c": {"d": [1]}}"#, r#"{"c": 1, "c.d": 1}"#, true, false),
        (
            r#"{"c": {"d": [1]}}"#,
            r#"{"c": {}, "c.d": 1}"#,
            true,
            false,
        ),
        (
            r#"{"c": {"d": [{"exists": false}]}}"#,
            r#"{"c": 1, "c.d": 1}"#,
            false,
            true,
        ),
        // the dotted key before its parent is read
        (r#"{"c": {"d": [1]}}"#, r#"{"c.d": 1, "c": {}}"#, true, true),
        // no early exit while a needed key is still missing
        (
            r#"{"c": {"d": [1]}, "z": [2]}"#,
            r#"{"c": {}, "c.d": 1, "z": 2}"#,
            true,
            true,
        ),
    ];
    for (pattern, event, want, hot_path) in cases {
        assert_eq!(
            verdicts(pattern, event),
            [want, want, hot_path],
            "reference, matches, matches_with: {pattern} {event}"
        );
    }
}

/// Array consistency: fields matched inside one array must come from one element.
#[test]
fn array_consistency_cases_agree() {
    let cases = [
        (
            r#"{"a": {"b": ["x"], "d": [1]}}"#,
            r#"{"a": [{"b": "x", "d": 2}, {"b": "y", "d": 1}]}"#,
        ),
        (
            r#"{"a": {"b": ["x"], "d": [1]}}"#,
            r#"{"a": [{"b": "x", "d": 1}, {"b": "y", "d": 2}]}"#,
        ),
        (
            r#"{"a": {"b": ["x"]}, "c": {"d": [1]}}"#,
            r#"{"a": [{"b": "x"}], "c": [{"d": 1}]}"#,
        ),
        (
            r#"{"a": {"b": ["x"], "d": [{"exists": false}]}}"#,
            r#"{"a": [{"b": "x"}, {"d": 1}]}"#,
        ),
        (
            r#"{"a": {"b": ["x", "y"], "d": [1, 2]}}"#,
            r#"{"a": [{"b": "x", "d": 3}, {"b": "y", "d": 2}]}"#,
        ),
        (
            r#"{"a": {"b": ["x"], "d": {"e": [1]}}}"#,
            r#"{"a": [{"b": "x", "d": [{"e": 2}]}, {"b": "z", "d": [{"e": 1}]}]}"#,
        ),
        (
            r#"{"a": {"b": [{"anything-but": "x"}], "d": [1]}}"#,
            r#"{"a": [{"b": "x", "d": 1}, {"b": "y", "d": 2}]}"#,
        ),
    ];
    for (pattern, event) in cases {
        check_agreement(pattern, &[event.to_string()]).unwrap();
    }
}

/// Minimal reproducers: paths whose first segment is the empty key (`.d`, i.e. `d`
/// inside a top-level `""`). The reference finds the value; the matcher never does, not
/// even for an event spelling the path exactly like the pattern (`{".d": 1}`), and
/// `exists: false` then matches although the value is present.
#[test]
fn empty_first_key_segment_is_found_by_the_matcher() {
    let cases = [
        (r#"{".d": [1]}"#, r#"{".d": 1}"#, true),
        (r#"{".d": [1]}"#, r#"{"": {"d": 1}}"#, true),
        (r#"{"..d": [1]}"#, r#"{"": {"": {"d": 1}}}"#, true),
        (r#"{".d": [{"exists": false}]}"#, r#"{"": {"d": 1}}"#, false),
        // for comparison: the empty key deeper down works
        (
            r#"{"c": {"": {"d": [1]}}}"#,
            r#"{"c": {"": {"d": 1}}}"#,
            true,
        ),
        (r#"{"c": {"": {"d": [1]}}}"#, r#"{"c..d": 1}"#, true),
    ];
    for (pattern, event, want) in cases {
        assert_eq!(
            verdicts(pattern, event),
            [want; 3],
            "reference, matches, matches_with: {pattern} {event}"
        );
    }
}

/// Several threads matching against one shared matcher (each with the thread-local
/// scratch of `matches` and its own `Scratch` for `matches_with`) get exactly the
/// single-threaded results.
#[test]
fn concurrent_matching_agrees_with_single_thread() {
    let mut runner = TestRunner::new_with_rng(
        config(1),
        TestRng::deterministic_rng(RngAlgorithm::XorShift),
    );
    let patterns: Vec<String> = (0..60)
        .map(|_| pattern().new_tree(&mut runner).expect("pattern").current())
        .collect();
    let events: Vec<String> = (0..400)
        .map(|_| event().new_tree(&mut runner).expect("event").current())
        .collect();
    let rules: BTreeMap<String, String> = patterns
        .iter()
        .enumerate()
        .map(|(i, p)| (format!("rule-{i:02}"), p.clone()))
        .collect();
    let m = matcher_of(&rules);

    let single: Vec<Vec<String>> = events.iter().map(|e| names_of(&m, e)).collect();
    assert!(
        single.iter().any(|hits| !hits.is_empty()),
        "the events should match some rules"
    );

    let threads = 4;
    let rounds = 3;
    // per thread: (event index, names from `matches`, names from `matches_with`)
    type Seen = Vec<(usize, Vec<String>, Vec<String>)>;
    let results: Vec<Seen> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..threads)
            .map(|t| {
                let m = &m;
                let events = &events;
                s.spawn(move || {
                    let mut scratch = Scratch::default();
                    let mut out = Vec::new();
                    for round in 0..rounds {
                        // each thread walks the events in its own order
                        for k in 0..events.len() {
                            let i = (k * (2 * t + 1) + round * 7 + t * 13) % events.len();
                            let a = names_of(m, &events[i]);
                            let b = names_with(m, &events[i], &mut scratch);
                            out.push((i, a, b));
                        }
                    }
                    out
                })
            })
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().expect("matching thread panicked"))
            .collect()
    });
    for (t, per_thread) in results.iter().enumerate() {
        assert_eq!(per_thread.len(), events.len() * rounds);
        for (i, a, b) in per_thread {
            assert_eq!(a, &single[*i], "thread {t}, matches, event {}", events[*i]);
            assert_eq!(
                b, &single[*i],
                "thread {t}, matches_with, event {}",
                events[*i]
            );
        }
    }
}

/// The explanation and the reference verdict are the same evaluation.
#[test]
fn explain_agrees_with_reference_matches() {
    let p = Pattern::parse(r#"{"$or": [{"a": [300]}, {"b": [{"prefix": "x"}]}]}"#).unwrap();
    for (event, want) in [
        (r#"{"a": 3e2}"#, true),
        (r#"{"b": "xy"}"#, true),
        (r#"{"a": 301, "b": "y"}"#, false),
    ] {
        assert_eq!(
            explain(&p, event.as_bytes()).unwrap().matched,
            want,
            "{event}"
        );
        assert_eq!(
            reference_matches(&p, event.as_bytes()).unwrap(),
            want,
            "{event}"
        );
    }
}

// =====================================================================================
// Regressions found by fuzzing (fuzz/regressions/): each must stay fast and exact.
// =====================================================================================

/// Every evaluation of one pattern/event pair and `want`; panics if they disagree.
fn assert_both(pattern: &str, event: &str, want: bool) {
    assert_eq!(
        verdicts(pattern, event),
        [want; 3],
        "reference, matches, matches_with"
    );
}

/// Eight independent arrays used to multiply the array-consistency search past its
/// budget, turning a match (a[3] holds both x and y) into a miss.
#[test]
fn independent_arrays_do_not_exhaust_the_consistency_search() {
    let fields: String = ('b'..='i').map(|c| format!(",\"{c}\":[1]")).collect();
    let pattern = format!(r#"{{"a":{{"x":[1],"y":[1]}}{fields}}}"#);
    let arrays: String = ('b'..='i').map(|c| format!(",\"{c}\":[1,1,1,1]")).collect();
    let event = format!(
        r#"{{"a":[{{"x":1}},{{"x":1}},{{"x":1}},{{"x":1,"y":1}},{{"y":1}},{{"y":1}},{{"y":1}},{{"y":1}}]{arrays}}}"#
    );
    assert_both(&pattern, &event, true);
}

/// The reference evaluation (explain) searched all 10^8 combinations of eight
/// unrelated arrays before finding that a.x and a.y never share an element.
#[test]
fn explain_does_not_search_unrelated_arrays_exhaustively() {
    let fields: String = (0..8).map(|i| format!(",\"b{i}\":[1]")).collect();
    let pattern = format!(r#"{{"a":{{"x":[1]}}{fields},"a.y":[1]}}"#);
    let arrays: String = (0..8)
        .map(|i| format!(",\"b{i}\":[1,1,1,1,1,1,1,1,1,1]"))
        .collect();
    let event = format!(r#"{{"a":[{{"x":1}},{{"y":1}}]{arrays}}}"#);
    assert_both(&pattern, &event, false);
}

/// suffix + equals-ignore-case was quadratic in the value's length.
#[test]
fn caseless_suffix_is_linear() {
    let pattern = format!(
        r#"{{"x":[{{"suffix":{{"equals-ignore-case":"{}"}}}}]}}"#,
        "a".repeat(1000)
    );
    assert_both(
        &pattern,
        &format!(r#"{{"x":"{}"}}"#, "A".repeat(3000)),
        true,
    );
    assert_both(
        &pattern,
        &format!(r#"{{"x":"{}b"}}"#, "a".repeat(3000)),
        false,
    );
    let jpg = r#"{"detail":{"name":[{"suffix":{"equals-ignore-case":".JPG"}}]}}"#;
    assert_both(
        jpg,
        &format!(r#"{{"detail":{{"name":"{}"}}}}"#, ".".repeat(262_000)),
        false,
    );
    assert_both(
        jpg,
        &format!(r#"{{"detail":{{"name":"{}.jpg"}}}}"#, ".".repeat(262_000)),
        true,
    );
}

/// x only in the first half of a large array, y only in the second: no element holds
/// both, found without comparing every pair.
#[test]
fn disjoint_halves_of_a_large_array_do_not_match() {
    let pattern = r#"{"a":{"x":[1],"y":[1]}}"#;
    let half = 20_000;
    let xs = vec![r#"{"x":1}"#; half].join(",");
    let ys = vec![r#"{"y":1}"#; half].join(",");
    assert_both(pattern, &format!(r#"{{"a":[{xs},{ys}]}}"#), false);
    assert_both(
        pattern,
        &format!(r#"{{"a":[{xs},{{"x":1,"y":1}},{ys}]}}"#),
        true,
    );
}
