//! Pattern text → `Pattern::parse` and `FilterPolicy::parse` (both scopes).
//!
//! Checks: no panic, hang or stack overflow on any text. A pattern that parses is
//! also compiled into a `Matcher`, matched against a few fixed events (the matcher's
//! verdict must equal `reference_matches`), explained, and removed again.
#![no_main]

mod common;

use eventyard::pattern::sns::Scope;
use eventyard::pattern::sns::FilterPolicy;
use eventyard::pattern::{explain, reference_matches, Matcher, Pattern};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);

    if let Ok(pattern) = Pattern::parse(&text) {
        let _ = pattern.nodes().len();
        let mut matcher = Matcher::new();
        matcher.add_pattern("p", pattern.clone());
        for event in common::EVENTS {
            let merged = !matcher.matches(event).expect("fixed event is valid JSON").is_empty();
            let reference = reference_matches(&pattern, event).expect("fixed event is valid JSON");
            assert_eq!(
                merged,
                reference,
                "matcher and reference disagree\npattern: {text}\nevent: {}",
                String::from_utf8_lossy(event)
            );
            let why = explain(&pattern, event).expect("fixed event is valid JSON");
            assert_eq!(why.matched, reference);
            let _ = why.to_text("p");
            let _ = why.to_json("p");
        }
        assert!(matcher.remove_rule("p"));
        assert!(matcher.is_empty());
        assert!(matcher.matches(common::EVENTS[0]).expect("valid").is_empty());
    }

    for scope in [Scope::MessageAttributes, Scope::MessageBody] {
        if let Ok(policy) = FilterPolicy::parse(&text, scope) {
            let message: &[u8] = match scope {
                Scope::MessageAttributes => br#"{"store":{"Type":"String","Value":"example_corp"},"price_usd":{"Type":"Number","Value":"210.75"},"tags":{"Type":"String.Array","Value":"[\"a\",1,true]"},"bin":{"Type":"Binary","Value":"AAE="}}"#,
                Scope::MessageBody => common::EVENTS[0],
            };
            let _ = policy.matches(message);
            let _ = policy.explain(message);
        }
    }
});
