//! The same harness contract as `match_bench`, driving the `quamina` crate 0.7.0 (a
//! dev-dependency) so both engines can be measured side by side in one run:
//!
//! ```text
//! cargo run --release --example quamina_bench -- --name W --warmup N --passes N --counts FILE PATTERNS EVENTS
//! ```
//!
//! Workloads quamina cannot parse (suffix, numeric ranges, `$or`) are reported as
//! `unsupported` on stderr with exit status 3.

use std::collections::BTreeMap;
use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use eventyard::cli::load_rules_text;
use quamina::Quamina;

fn run() -> Result<(), (u8, String)> {
    let mut args = std::env::args().skip(1);
    let (mut name, mut warmup, mut passes, mut counts) =
        ("workload".to_string(), 1usize, 5usize, None);
    let mut positional = Vec::new();
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or((2, format!("{a} needs a value")));
        match a.as_str() {
            "--name" => name = value()?,
            "--warmup" => warmup = value()?.parse().map_err(|e| (2, format!("{e}")))?,
            "--passes" => passes = value()?.parse().map_err(|e| (2, format!("{e}")))?,
            "--counts" => counts = Some(value()?),
            _ => positional.push(a),
        }
    }
    let [patterns, events] = <[String; 2]>::try_from(positional).map_err(|_| {
        (
            2,
            "usage: quamina_bench [options] PATTERNS EVENTS".to_string(),
        )
    })?;
    let text = std::fs::read(&events).map_err(|e| (2, format!("{events}: {e}")))?;
    let events: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let rules = load_rules_text(
        &std::fs::read_to_string(&patterns).map_err(|e| (2, format!("{patterns}: {e}")))?,
    )
    .map_err(|e| (2, e))?;
    let started = Instant::now();
    let mut q: Quamina<usize> = Quamina::new();
    for (i, (rule, pattern)) in rules.iter().enumerate() {
        q.add_pattern(i, pattern)
            .map_err(|e| (3, format!("unsupported: {rule}: {e:?}")))?;
    }
    eprintln!(
        "{name}: quamina added {} patterns in {:.2} ms",
        rules.len(),
        started.elapsed().as_secs_f64() * 1e3
    );
    let mut per_rule = vec![0u64; rules.len()];
    let mut matches = 0u64;
    for e in &events {
        if let Ok(found) = q.matches_for_event(e) {
            matches += found.len() as u64;
            for i in found {
                per_rule[i] += 1;
            }
        }
    }
    if let Some(path) = counts {
        let sorted: BTreeMap<&str, u64> = rules
            .iter()
            .zip(&per_rule)
            .map(|((n, _), c)| (n.as_str(), *c))
            .collect();
        let mut f = std::fs::File::create(&path).map_err(|e| (2, format!("{path}: {e}")))?;
        for (n, c) in sorted {
            writeln!(f, "{n}\t{c}").map_err(|e| (2, e.to_string()))?;
        }
    }
    for _ in 1..warmup.max(1) {
        for e in &events {
            let _ = q.matches_for_event(e);
        }
    }
    let mut seconds = Vec::new();
    for _ in 0..passes.max(1) {
        let t = Instant::now();
        matches = 0;
        for e in &events {
            if let Ok(found) = q.matches_for_event(e) {
                matches += found.len() as u64;
            }
        }
        seconds.push(t.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "{name} {} {} {matches} {median:.4} {:.0}",
        events.len(),
        rules.len(),
        events.len() as f64 / median
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err((status, e)) => {
            eprintln!("error: {e}");
            ExitCode::from(status)
        }
    }
}
