//! The matcher benchmark harness (contract in `benches/kit/README.md`):
//!
//! ```text
//! cargo run --release --example match_bench -- --name W --warmup N --passes N --counts FILE PATTERNS EVENTS
//! ```
//!
//! Loads all events into memory, adds the patterns (timed, reported on stderr), runs the
//! warm-up passes (the first writes per-pattern counts to `--counts`), then the timed
//! passes (parse + match of every raw event line), and prints
//! `workload events patterns matches seconds events_per_sec` (median pass).

use std::io::Write as _;
use std::process::ExitCode;
use std::time::Instant;

use eventyard::cli::load_rules_text;
use eventyard::pattern::{Matcher, RuleId, Scratch};

struct Options {
    name: String,
    warmup: usize,
    passes: usize,
    counts: Option<String>,
    patterns: String,
    events: String,
}

fn parse_args() -> Result<Options, String> {
    let mut args = std::env::args().skip(1);
    let mut positional = Vec::new();
    let mut o = Options {
        name: "workload".into(),
        warmup: 1,
        passes: 5,
        counts: None,
        patterns: String::new(),
        events: String::new(),
    };
    while let Some(a) = args.next() {
        let mut value = || args.next().ok_or(format!("{a} needs a value"));
        match a.as_str() {
            "--name" => o.name = value()?,
            "--warmup" => o.warmup = value()?.parse().map_err(|e| format!("--warmup: {e}"))?,
            "--passes" => o.passes = value()?.parse().map_err(|e| format!("--passes: {e}"))?,
            "--counts" => o.counts = Some(value()?),
            _ => positional.push(a),
        }
    }
    let [patterns, events] = <[String; 2]>::try_from(positional).map_err(|_| "usage: match_bench [--name W] [--warmup N] [--passes N] [--counts FILE] PATTERNS EVENTS".to_string())?;
    o.patterns = patterns;
    o.events = events;
    o.warmup = o.warmup.max(1);
    o.passes = o.passes.max(1);
    Ok(o)
}

/// One pass over all events; returns matched (event, pattern) pairs and fills `per_rule`.
fn pass(
    m: &Matcher,
    events: &[&[u8]],
    scratch: &mut Scratch,
    out: &mut Vec<RuleId>,
    per_rule: Option<&mut Vec<u64>>,
) -> u64 {
    let mut matches = 0u64;
    match per_rule {
        None => {
            for e in events {
                out.clear();
                if m.matches_with(e, scratch, out).is_ok() {
                    matches += out.len() as u64;
                }
            }
        }
        Some(counts) => {
            for e in events {
                out.clear();
                if m.matches_with(e, scratch, out).is_ok() {
                    matches += out.len() as u64;
                    for id in out.iter() {
                        counts[id.index()] += 1;
                    }
                }
            }
        }
    }
    matches
}

fn run() -> Result<(), String> {
    let o = parse_args()?;
    let text = std::fs::read(&o.events).map_err(|e| format!("{}: {e}", o.events))?;
    let events: Vec<&[u8]> = text
        .split(|&b| b == b'\n')
        .filter(|l| !l.is_empty())
        .collect();
    let rules_text =
        std::fs::read_to_string(&o.patterns).map_err(|e| format!("{}: {e}", o.patterns))?;
    let rules = load_rules_text(&rules_text)?;

    let started = Instant::now();
    let mut m = Matcher::new();
    for (name, pattern) in &rules {
        m.add_rule(name, pattern)
            .map_err(|e| format!("invalid pattern {name}: {e}"))?;
    }
    let add_seconds = started.elapsed().as_secs_f64();
    eprintln!(
        "{}: added {} patterns in {:.2} ms",
        o.name,
        rules.len(),
        add_seconds * 1e3
    );

    let mut scratch = Scratch::default();
    let mut out = Vec::new();
    let mut per_rule = vec![0u64; rules.len() * 2 + 1];
    let mut matches = pass(&m, &events, &mut scratch, &mut out, Some(&mut per_rule));
    if let Some(path) = &o.counts {
        let mut lines: Vec<(String, u64)> = rules
            .iter()
            .map(|(name, _)| {
                (
                    name.clone(),
                    m.rule_id(name).map_or(0, |id| per_rule[id.index()]),
                )
            })
            .collect();
        lines.sort();
        let mut f = std::fs::File::create(path).map_err(|e| format!("{path}: {e}"))?;
        for (name, count) in lines {
            writeln!(f, "{name}\t{count}").map_err(|e| e.to_string())?;
        }
    }
    for _ in 1..o.warmup {
        pass(&m, &events, &mut scratch, &mut out, None);
    }
    let mut seconds = Vec::with_capacity(o.passes);
    for _ in 0..o.passes {
        let t = Instant::now();
        matches = pass(&m, &events, &mut scratch, &mut out, None);
        seconds.push(t.elapsed().as_secs_f64());
    }
    seconds.sort_by(f64::total_cmp);
    let median = seconds[seconds.len() / 2];
    println!(
        "{} {} {} {} {:.4} {:.0}",
        o.name,
        events.len(),
        rules.len(),
        matches,
        median,
        events.len() as f64 / median
    );
    Ok(())
}

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(2)
        }
    }
}
