//! Event bytes → one `Matcher` holding ~20 representative rules, plus SNS policies.
//!
//! Checks: no panic, hang or stack overflow on any bytes, through `matches` (strict)
//! and `matches_with` (lenient fast path). When the strict path accepts the event:
//! - the lenient path must accept it too and name the same rules (each once), also
//!   when its `Scratch` is reused;
//! - every rule's verdict must equal `reference_matches` for that rule alone.
#![no_main]

mod common;

use eventyard::pattern::{explain, reference_matches, Scratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let fx = common::fixture();
    let m = &fx.matcher;

    let strict = m.matches(data);

    let mut scratch = Scratch::default();
    let mut ids = Vec::new();
    let lenient = m.matches_with(data, &mut scratch, &mut ids);
    // Second pass with the same scratch (the hot path reuses it between events).
    let mut ids_again = Vec::new();
    let lenient_again = m.matches_with(data, &mut scratch, &mut ids_again);
    assert_eq!(lenient.is_ok(), lenient_again.is_ok(), "reusing Scratch changed the outcome");
    if lenient.is_ok() {
        assert_eq!(
            common::names_of(m, &ids),
            common::names_of(m, &ids_again),
            "reusing Scratch changed the verdict"
        );
    }

    if let Ok(names) = &strict {
        assert!(lenient.is_ok(), "matches accepted the event but matches_with rejected it: {lenient:?}");
        assert_eq!(names, &common::names_of(m, &ids), "matches and matches_with disagree");
        for (name, pattern) in &fx.patterns {
            let reference = reference_matches(pattern, data).expect("reference rejected an event matches accepted");
            assert_eq!(
                names.contains(name),
                reference,
                "rule {name}: matcher says {}, reference says {reference}",
                names.contains(name)
            );
        }
        let (name, pattern) = &fx.patterns[data.len() % fx.patterns.len()];
        if let Ok(why) = explain(pattern, data) {
            let _ = why.to_text(name);
        }
    }

    for policy in &fx.policies {
        let _ = policy.matches(data);
    }
});
