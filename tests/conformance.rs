//! The engine-independent corpora in `tests/data/`, run against every evaluation path:
//! the merged [`Matcher`], the reference evaluation behind `explain`, and validation.

use eventyard::pattern::json::{self, Json};
use eventyard::pattern::sns::{FilterPolicy, Scope};
use std::collections::BTreeMap;

use eventyard::pattern::{EventValue, Matcher, Pattern, reference_matches};

struct Case {
    id: String,
    pattern: String,
    event: String,
    expect: String,
    scope: Option<String>,
}

fn load(file: &str, pattern_key: &str, event_key: &str) -> Vec<Case> {
    let path = format!("{}/tests/data/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("corpus file");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|line| {
            let Json::Object(fields) = json::parse(line, 256).expect("corpus line is JSON") else {
                panic!("corpus line is not an object: {line}")
            };
            let get = |k: &str| fields.iter().find(|(n, _)| n == k).map(|(_, v)| v.clone());
            let raw = get("raw") == Some(Json::Bool(true));
            let text_of = |k: &str| match get(k) {
                Some(Json::String(s)) if raw => s,
                Some(v) => v.to_compact(),
                None => String::new(),
            };
            let string_of = |k: &str| match get(k) {
                Some(Json::String(s)) => Some(s),
                _ => None,
            };
            Case {
                id: string_of("id").unwrap_or_default(),
                pattern: text_of(pattern_key),
                event: text_of(event_key),
                expect: string_of("expect").unwrap_or_default(),
                scope: string_of("scope"),
            }
        })
        .collect()
}

fn assert_all_pass(failures: &[String], total: usize) {
    assert!(
        failures.is_empty(),
        "{} of {total} cases fail:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

#[test]
fn eventbridge_corpus() {
    let cases = load("eventbridge-patterns.jsonl", "pattern", "event");
    assert!(cases.len() >= 434);
    let mut failures = Vec::new();
    for case in &cases {
        let parsed = Pattern::parse(&case.pattern);
        let verdict = match &parsed {
            Err(_) => "invalid".to_string(),
            Ok(p) => {
                let mut m = Matcher::new();
                m.add_pattern("r", p.clone());
                let merged = m
                    .matches(case.event.as_bytes())
                    .map(|names| !names.is_empty());
                let reference = reference_matches(p, case.event.as_bytes());
                match (merged, reference) {
                    (Ok(a), Ok(b)) if a == b => (if a { "match" } else { "no-match" }).to_string(),
                    (a, b) => format!("disagreement: matcher {a:?}, reference {b:?}"),
                }
            }
        };
        if verdict != case.expect {
            failures.push(format!(
                "{}: expected {}, got {verdict} ({:?})",
                case.id,
                case.expect,
                parsed.err()
            ));
        }
    }
    assert_all_pass(&failures, cases.len());
}

#[test]
fn sns_corpus() {
    let cases = load("sns-filter-policies.jsonl", "policy", "message");
    assert!(cases.len() >= 100);
    let mut failures = Vec::new();
    for case in &cases {
        let scope = match case.scope.as_deref() {
            Some("body") => Scope::MessageBody,
            _ => Scope::MessageAttributes,
        };
        let verdict = match FilterPolicy::parse(&case.pattern, scope) {
            Err(e) => format!("invalid ({e})"),
            Ok(policy) => match policy.matches(case.event.as_bytes()) {
                Ok(true) => "match".into(),
                Ok(false) => "no-match".into(),
                Err(e) => format!("bad message: {e}"),
            },
        };
        if !verdict.starts_with(&case.expect) {
            failures.push(format!(
                "{}: expected {}, got {verdict}",
                case.id, case.expect
            ));
        }
    }
    assert_all_pass(&failures, cases.len());
}

/// Every valid body-scope policy of the SNS corpus.
fn body_policies(cases: &[Case]) -> Vec<FilterPolicy> {
    cases
        .iter()
        .filter(|c| c.scope.as_deref() == Some("body"))
        .filter_map(|c| FilterPolicy::parse(&c.pattern, Scope::MessageBody).ok())
        .collect()
}

/// A topic's body policies matched in one pass give, for every message, exactly the
/// verdicts of the policies asked one by one (every valid body policy of the corpus
/// against every body message of the corpus, malformed ones included).
#[test]
fn sns_policy_sets_agree_with_single_policies() {
    use eventyard::pattern::sns::PolicySet;
    let cases = load("sns-filter-policies.jsonl", "policy", "message");
    let body = |c: &&Case| c.scope.as_deref() == Some("body");
    let policies = body_policies(&cases);
    let mut messages: Vec<&str> = cases
        .iter()
        .filter(body)
        .map(|c| c.event.as_str())
        .collect();
    messages.extend(["", "not json", "{\"a\":", "[1,2]", "\"text\"", "{}"]);
    assert!(policies.len() > 64, "{} policies", policies.len());
    let mut compared = 0;
    for chunk in policies.chunks(PolicySet::MAX) {
        // Every third subscription has no policy.
        let slots: Vec<Option<&FilterPolicy>> = chunk
            .iter()
            .enumerate()
            .map(|(i, p)| (i % 3 != 2).then_some(p))
            .collect();
        let Some(set) = PolicySet::new(&slots) else {
            panic!("body policies make a set");
        };
        for message in &messages {
            let passes = set.passes(message.as_bytes());
            for (i, slot) in slots.iter().enumerate() {
                let alone = slot.is_none_or(|p| p.matches(message.as_bytes()).unwrap_or(false));
                assert_eq!(passes & (1 << i) != 0, alone, "policy {i} on {message}");
                compared += 1;
            }
        }
    }
    assert!(compared > 5_000, "{compared}");
    let attributes = FilterPolicy::parse(r#"{"a": ["b"]}"#, Scope::MessageAttributes);
    let Ok(attributes) = attributes else {
        panic!("valid policy");
    };
    assert!(PolicySet::new(&[Some(&attributes)]).is_none());
    assert!(PolicySet::new(&vec![None; PolicySet::MAX + 1]).is_none());
}

/// The values `event` has at the leaf paths `leaves` (dotted path → field id), in
/// document order — what an event's writer hands over instead of the text — or `None`
/// when the writer would not (a value at a leaf path that is an object or array or sits
/// in an array, or a key with a dot in it).
fn leaf_values<'j>(
    event: &'j Json,
    leaves: &BTreeMap<String, u32>,
) -> Option<Vec<(u32, EventValue<'j>)>> {
    fn walk<'j>(
        members: &'j [(String, Json)],
        prefix: &str,
        leaves: &BTreeMap<String, u32>,
        out: &mut Vec<(u32, EventValue<'j>)>,
    ) -> Option<()> {
        for (key, value) in members {
            if key.contains('.') {
                return None;
            }
            let path = if prefix.is_empty() {
                key.clone()
            } else {
                format!("{prefix}.{key}")
            };
            let leaf = leaves.get(&path).copied();
            let value = match value {
                Json::Object(inner) if leaf.is_none() => {
                    walk(inner, &path, leaves, out)?;
                    continue;
                }
                Json::Array(_) => {
                    let below = format!("{path}.");
                    if leaf.is_some() || leaves.keys().any(|l| l.starts_with(&below)) {
                        return None;
                    }
                    continue;
                }
                Json::Object(_) => return None,
                Json::Null => EventValue::Null,
                Json::Bool(true) => EventValue::True,
                Json::Bool(false) => EventValue::False,
                Json::Number(raw) => EventValue::Num(raw.as_bytes()),
                Json::String(text) => EventValue::Str(text.as_bytes()),
            };
            if let Some(id) = leaf {
                out.push((id, value));
            }
        }
        Some(())
    }
    let Json::Object(members) = event else {
        return None;
    };
    let mut out = Vec::new();
    walk(members, "", leaves, &mut out)?;
    Some(out)
}

/// Values handed over by an event's writer give the verdicts scanning the event's text
/// gives: every corpus pattern (in small sets, matched directly, and all together,
/// through the index) and every body policy (in small sets), against every corpus
/// event or message whose values a writer could hand over.
#[test]
fn handed_over_values_agree_with_scanning_on_the_corpora() {
    use eventyard::pattern::sns::PolicySet;
    let cases = load("eventbridge-patterns.jsonl", "pattern", "event");
    let patterns: Vec<Pattern> = cases
        .iter()
        .filter_map(|c| Pattern::parse(&c.pattern).ok())
        .collect();
    let events: Vec<Json> = cases
        .iter()
        .filter_map(|c| json::parse(&c.event, 256).ok())
        .collect();
    let mut sets: Vec<&[Pattern]> = patterns.chunks(3).collect();
    sets.push(&patterns);
    let mut compared = 0;
    for set in sets {
        let mut m = Matcher::new();
        for (i, p) in set.iter().enumerate() {
            m.add_pattern(&i.to_string(), p.clone());
        }
        let leaves: BTreeMap<String, u32> = m.leaf_paths().into_iter().collect();
        let mut scratch = eventyard::pattern::Scratch::default();
        for event in &events {
            let Some(values) = leaf_values(event, &leaves) else {
                continue;
            };
            let text = event.to_compact();
            let Ok(scanned) = m.matches(text.as_bytes()) else {
                continue;
            };
            let mut ids = Vec::new();
            m.matches_values(&values, &mut scratch, &mut ids);
            let mut given: Vec<&str> = ids.iter().map(|&id| m.rule_name(id)).collect();
            given.sort_unstable();
            assert_eq!(given, scanned, "{text}");
            compared += 1;
        }
    }
    assert!(compared > 20_000, "{compared}");

    let cases = load("sns-filter-policies.jsonl", "policy", "message");
    let body = |c: &&Case| c.scope.as_deref() == Some("body");
    let policies = body_policies(&cases);
    let messages: Vec<Json> = cases
        .iter()
        .filter(body)
        .filter_map(|c| json::parse(&c.event, 256).ok())
        .collect();
    let mut compared = 0;
    for chunk in policies.chunks(3) {
        let slots: Vec<Option<&FilterPolicy>> = chunk.iter().map(Some).collect();
        let Some(set) = PolicySet::new(&slots) else {
            panic!("body policies make a set");
        };
        let leaves: BTreeMap<String, u32> = set.leaf_paths().into_iter().collect();
        for message in &messages {
            let Some(values) = leaf_values(message, &leaves) else {
                continue;
            };
            let text = message.to_compact();
            assert_eq!(
                set.passes_values(&values),
                set.passes(text.as_bytes()),
                "{text}"
            );
            compared += 1;
        }
    }
    assert!(compared > 2_000, "{compared}");
}
