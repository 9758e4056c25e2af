//! Differential: merged `Matcher` vs the slow reference evaluation.
//!
//! Input: first line = pattern text (lossy UTF-8), the rest = event bytes. When the
//! pattern parses and `Matcher::matches` accepts the event as valid JSON:
//! - a matcher holding only this pattern must give the verdict of `reference_matches`;
//! - `matches_with` (lenient) must give the same verdict;
//! - a matcher holding the pattern among the fixture rules (with one fixture rule
//!   removed again, so slots are reused) must give the same verdict too.
#![no_main]

mod common;

use eventyard::pattern::{reference_matches, Matcher, Pattern, Scratch};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some(newline) = data.iter().position(|&b| b == b'\n') else {
        return;
    };
    let (pattern_bytes, event) = (&data[..newline], &data[newline + 1..]);
    let text = String::from_utf8_lossy(pattern_bytes);
    let Ok(pattern) = Pattern::parse(&text) else {
        return;
    };

    let mut alone = Matcher::new();
    alone.add_pattern("fuzz", pattern.clone());
    let strict = alone.matches(event);

    let mut scratch = Scratch::default();
    let mut ids = Vec::new();
    let lenient = alone.matches_with(event, &mut scratch, &mut ids);

    let Ok(names) = strict else {
        return;
    };
    let merged = !names.is_empty();
    let reference = match reference_matches(&pattern, event) {
        Ok(r) => r,
        Err(e) => panic!("matches accepted the event, reference_matches rejected it: {e}"),
    };
    let show = || format!("\npattern: {text}\nevent:   {}", String::from_utf8_lossy(event));
    assert_eq!(merged, reference, "Matcher says {merged}, reference says {reference}{}", show());

    match lenient {
        Ok(()) => assert_eq!(!ids.is_empty(), reference, "matches_with disagrees with reference{}", show()),
        Err(e) => panic!("matches accepted the event, matches_with rejected it: {e}{}", show()),
    }

    // The same pattern among many rules, with slot reuse after a removal.
    let fx = common::fixture();
    let mut crowd = Matcher::new();
    for (name, p) in &fx.patterns {
        crowd.add_pattern(name, p.clone());
    }
    crowd.add_pattern("~fuzz", pattern.clone());
    let gone = fx.patterns[data.len() % fx.patterns.len()].0;
    assert!(crowd.remove_rule(gone));
    crowd.add_pattern("~fuzz-again", pattern);
    let names = crowd.matches(event).expect("same event, same strict check");
    for rule in ["~fuzz", "~fuzz-again"] {
        assert_eq!(
            names.contains(&rule),
            reference,
            "{rule} among the fixture rules: matcher says {}, reference says {reference}{}",
            names.contains(&rule),
            show()
        );
    }
    assert!(!names.contains(&gone), "removed rule {gone} still matches{}", show());
});
