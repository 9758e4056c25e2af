//! Criterion benchmarks for the pattern matcher.
//!
//! - `workload/*`: Eventyard's `Matcher` next to the `quamina` crate 0.7.0 on the
//!   benchmark kit's workloads (first 20,000 events of each file), same process, same
//!   run. Needs the kit's data: `bash benches/kit/make_data.sh target/bench-data`
//!   (generated automatically when absent; `EVENTYARD_BENCH_DATA` overrides the place).
//! - `rules/*`: per-event cost against the number of rules (10 … 10,000), showing that
//!   the cost follows the event, not the rule count.
//! - `add/1000-rules`: the time to add 1,000 rules.
//!
//! Run: `cargo bench --no-default-features --bench matcher`.

use std::path::{Path, PathBuf};
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, Throughput, criterion_group, criterion_main};
use eventyard::cli::load_rules_text;
use eventyard::pattern::{Matcher, Scratch};
use quamina::Quamina;

const EVENTS_PER_WORKLOAD: usize = 20_000;

fn data_dir() -> Option<PathBuf> {
    let dir = std::env::var_os("EVENTYARD_BENCH_DATA")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-data"));
    if !dir.join("workloads.tsv").exists() {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("benches/kit/make_data.sh");
        let status = std::process::Command::new("bash")
            .arg(script)
            .arg(&dir)
            .status()
            .ok()?;
        if !status.success() {
            return None;
        }
    }
    Some(dir)
}

fn eventyard_matcher(rules: &[(String, String)]) -> Matcher {
    let mut m = Matcher::new();
    for (name, pattern) in rules {
        m.add_rule(name, pattern)
            .expect("benchmark patterns are valid");
    }
    m
}

fn quamina_matcher(rules: &[(String, String)]) -> Option<Quamina<usize>> {
    let mut q = Quamina::new();
    for (i, (_, pattern)) in rules.iter().enumerate() {
        q.add_pattern(i, pattern).ok()?;
    }
    Some(q)
}

fn run_eventyard(
    m: &Matcher,
    events: &[Vec<u8>],
    scratch: &mut Scratch,
    out: &mut Vec<eventyard::pattern::RuleId>,
) -> usize {
    let mut n = 0;
    for e in events {
        out.clear();
        if m.matches_with(e, scratch, out).is_ok() {
            n += out.len();
        }
    }
    n
}

fn run_quamina(q: &Quamina<usize>, events: &[Vec<u8>]) -> usize {
    events
        .iter()
        .filter_map(|e| q.matches_for_event(e).ok())
        .map(|v| v.len())
        .sum()
}

fn workloads(c: &mut Criterion) {
    let Some(dir) = data_dir() else {
        eprintln!("benchmark data unavailable; skipping workload benchmarks");
        return;
    };
    let Ok(table) = std::fs::read_to_string(dir.join("workloads.tsv")) else {
        return;
    };
    let mut group = c.benchmark_group("workload");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(3))
        .warm_up_time(Duration::from_secs(1));
    for line in table
        .lines()
        .filter(|l| !l.starts_with('#') && !l.trim().is_empty())
    {
        let cols: Vec<&str> = line.split('\t').collect();
        let [name, patterns, events, ..] = cols[..] else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(dir.join(events)) else {
            continue;
        };
        let events: Vec<Vec<u8>> = text
            .lines()
            .take(EVENTS_PER_WORKLOAD)
            .map(|l| l.as_bytes().to_vec())
            .collect();
        let Ok(rules) = std::fs::read_to_string(dir.join(patterns))
            .map_err(|e| e.to_string())
            .and_then(|t| load_rules_text(&t))
        else {
            continue;
        };
        group.throughput(Throughput::Elements(events.len() as u64));
        let m = eventyard_matcher(&rules);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("eventyard", name), |b| {
            b.iter(|| run_eventyard(&m, &events, &mut scratch, &mut out))
        });
        if let Some(q) = quamina_matcher(&rules) {
            group.bench_function(BenchmarkId::new("quamina-0.7.0", name), |b| {
                b.iter(|| run_quamina(&q, &events))
            });
        }
    }
    group.finish();
}

/// Size of the value space rules and events draw from: each rule is distinct and an
/// event matches about `5 × n / SPACE` rules, so the matches per event stay small and
/// what grows with `n` is only the number of rules that do *not* match.
const SPACE: usize = 10_000;

/// A deterministic rule set of `n` EventBridge-style rules mixing operators.
fn synthetic_rules(n: usize) -> Vec<(String, String)> {
    (0..n)
        .map(|i| {
            let pattern = match i % 5 {
                0 => format!(r#"{{"source":["com.example.orders"],"detail":{{"customer":["c{i}"]}}}}"#),
                1 => format!(r#"{{"detail":{{"items":{{"sku":[{{"prefix":"SKU-{i}-"}}]}}}}}}"#),
                2 => format!(
                    r#"{{"detail":{{"amount":[{{"numeric":[">=",{i},"<",{}]}}],"currency":["C{}"]}}}}"#,
                    i + 1,
                    i % 11
                ),
                3 => format!(r#"{{"detail":{{"customer":["c{i}"],"tier":[{{"anything-but":["T{}"]}}]}}}}"#, i % 5),
                _ => format!(r#"{{"detail-type":[{{"equals-ignore-case":"Type-{i}"}}]}}"#),
            };
            (format!("rule-{i:05}"), pattern)
        })
        .collect()
}

/// 1,000 events drawing customers, SKUs, amounts and types from the rules' value space.
fn synthetic_events() -> Vec<Vec<u8>> {
    let mut x: u64 = 0x9E37_79B9_7F4A_7C15;
    let mut next = move || {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        (x % SPACE as u64) as usize
    };
    (0..1000)
        .map(|i| {
            let (c, k, a, t, u) = (next(), next(), next(), next(), next());
            format!(
                r#"{{"version":"0","id":"{i}","detail-type":"TYPE-{t}","source":"com.example.orders","account":"123456789012","region":"us-east-1","resources":[],"detail":{{"customer":"c{c}","tier":"T{}","amount":{a}.5,"currency":"C{}","items":[{{"sku":"SKU-{k}-x","qty":1}},{{"sku":"SKU-{u}-y","qty":2}}]}}}}"#,
                i % 5,
                a % 11
            )
            .into_bytes()
        })
        .collect()
}

fn rule_scaling(c: &mut Criterion) {
    let events = synthetic_events();
    let mut group = c.benchmark_group("rules");
    group
        .sample_size(10)
        .measurement_time(Duration::from_secs(2))
        .warm_up_time(Duration::from_millis(500));
    group.throughput(Throughput::Elements(events.len() as u64));
    for n in [10, 100, 1_000, 10_000] {
        let rules = synthetic_rules(n);
        let m = eventyard_matcher(&rules);
        let mut scratch = Scratch::default();
        let mut out = Vec::new();
        group.bench_function(BenchmarkId::new("eventyard", n), |b| {
            b.iter(|| run_eventyard(&m, &events, &mut scratch, &mut out))
        });
        if n <= 1_000
            && let Some(q) = quamina_matcher(&rules)
        {
            group.bench_function(BenchmarkId::new("quamina-0.7.0", n), |b| {
                b.iter(|| run_quamina(&q, &events))
            });
        }
    }
    group.finish();
}

fn adding_rules(c: &mut Criterion) {
    let rules = synthetic_rules(1_000);
    let mut group = c.benchmark_group("add");
    group.sample_size(10);
    group.bench_function("1000-rules", |b| b.iter(|| eventyard_matcher(&rules).len()));
    group.finish();
}

criterion_group!(benches, rule_scaling, adding_rules, workloads);
criterion_main!(benches);
