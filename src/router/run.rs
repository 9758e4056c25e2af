//! Headless runs: drive an engine through a scenario on virtual or real time, check the
//! assertions, and report (table, JSON, JUnit XML, JSON Lines trace).

use std::fmt::Write as _;
use std::io::Write;
use std::sync::Arc;
use std::time::Instant;

use serde::Serialize;

use super::engine::{Engine, EngineOptions, SimTime};
use super::metrics::{Counters, EdgeCounters, Ledger};
use super::trace::TraceOptions;
use crate::model::compile::CompiledScenario;
use crate::model::scenario::Assertion;
use crate::model::{Compiled, Dur, Kind};

/// How simulated time relates to the wall clock.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Clock {
    /// As fast as the CPU allows; deterministic.
    Virtual,
    /// Paced to the wall clock, `speed` simulated seconds per real second.
    Real {
        /// Simulated seconds per wall-clock second.
        speed: f64,
    },
}

/// What to run and how.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// The scenario to play (actions and assertions).
    pub scenario: Option<String>,
    /// Virtual or real time.
    pub clock: Clock,
    /// Seed of every random choice.
    pub seed: u64,
    /// Run length (default: the scenario's, else 60 s).
    pub duration: Option<Dur>,
    /// Trace one event in N (0: none).
    pub trace_every: u64,
    /// Most events traced.
    pub trace_limit: u64,
    /// Print progress on stderr about once a second of wall time.
    pub progress: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions {
            scenario: None,
            clock: Clock::Virtual,
            seed: 1,
            duration: None,
            trace_every: 0,
            trace_limit: 0,
            progress: false,
        }
    }
}

/// One node's line in the report.
#[derive(Clone, Debug, Serialize)]
pub struct NodeReport {
    /// Node id.
    pub name: String,
    /// Kind.
    pub kind: String,
    /// Counters.
    pub counters: Counters,
    /// Drop reasons with counts.
    pub drop_reasons: std::collections::BTreeMap<String, u64>,
    /// End-to-end latency percentiles in milliseconds (consumers).
    pub p50_ms: f64,
    /// 90th percentile.
    pub p90_ms: f64,
    /// 99th percentile.
    pub p99_ms: f64,
}

/// One edge's line in the report.
#[derive(Clone, Debug, Serialize)]
pub struct EdgeReport {
    /// Sending node.
    pub from: String,
    /// Receiving node.
    pub to: String,
    /// What the edge is.
    pub label: String,
    /// Counters.
    pub counters: EdgeCounters,
}

/// An assertion's verdict.
#[derive(Clone, Debug, Serialize)]
pub struct AssertionResult {
    /// The assertion as written.
    pub assertion: String,
    /// Whether it held.
    pub passed: bool,
    /// What was measured.
    pub detail: String,
}

/// Everything a run measured.
#[derive(Clone, Debug, Serialize)]
pub struct RunReport {
    /// The scenario played, if any.
    pub scenario: Option<String>,
    /// Simulated seconds run.
    pub simulated_secs: f64,
    /// Wall-clock seconds taken.
    pub wall_secs: f64,
    /// Events produced.
    pub produced: u64,
    /// Global accounting of message copies.
    pub ledger: Ledger,
    /// Copies still waiting at the end (queues, consumers, retries).
    pub pending: u64,
    /// Per node.
    pub nodes: Vec<NodeReport>,
    /// Per edge.
    pub edges: Vec<EdgeReport>,
    /// Assertion verdicts.
    pub assertions: Vec<AssertionResult>,
}

impl RunReport {
    /// True when every assertion held.
    pub fn passed(&self) -> bool {
        self.assertions.iter().all(|a| a.passed)
    }
}

/// Runs a compiled design. Trace hops go to `trace` as JSON Lines when given.
pub fn run(
    compiled: Arc<Compiled>,
    options: &RunOptions,
    mut trace: Option<&mut dyn Write>,
) -> Result<RunReport, String> {
    let scenario: Option<CompiledScenario> = match &options.scenario {
        Some(name) => Some(compiled.scenarios.get(name).cloned().ok_or_else(|| {
            let known: Vec<&str> = compiled.scenarios.keys().map(String::as_str).collect();
            format!(
                "no scenario named `{name}` (this file has: {})",
                if known.is_empty() {
                    "none".to_string()
                } else {
                    known.join(", ")
                }
            )
        })?),
        None => None,
    };
    let duration = options
        .duration
        .or(scenario.as_ref().map(|s| s.duration))
        .unwrap_or(Dur::secs(60))
        .nanos();
    let series: Vec<String> = scenario
        .iter()
        .flat_map(|s| &s.assertions)
        .filter_map(|(_, a)| match a {
            Assertion::Throughput { node, .. } => Some(node.clone()),
            _ => None,
        })
        .collect();
    let mut engine = Engine::new(
        compiled.clone(),
        EngineOptions {
            seed: options.seed,
            trace: TraceOptions {
                every: options.trace_every,
                limit: options.trace_limit,
                ..TraceOptions::default()
            },
            series,
            ..EngineOptions::default()
        },
    );
    if let Some(s) = &scenario {
        for action in &s.actions {
            engine.schedule_action(action.clone());
        }
        for (_, a) in &s.assertions {
            if let Assertion::Reaches {
                detail_type,
                consumer,
                within,
            } = a
            {
                engine.add_reach_probe(detail_type, consumer, within.nanos());
            }
        }
    }
    let started = Instant::now();
    match options.clock {
        Clock::Virtual => drive_virtual(&mut engine, duration, options.progress, &mut trace)?,
        Clock::Real { speed } => {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_time()
                .build()
                .map_err(|e| format!("cannot start the clock: {e}"))?;
            rt.block_on(drive_real(
                &mut engine,
                duration,
                speed,
                options.progress,
                &mut trace,
            ))?;
        }
    }
    let wall = started.elapsed().as_secs_f64();
    debug_assert_eq!(engine.verify_sharing(), Ok(()), "messages counted per copy");
    flush_trace(&mut engine, &mut trace)?;
    Ok(report(&engine, scenario.as_ref(), options, duration, wall))
}

fn drive_virtual(
    engine: &mut Engine,
    end: SimTime,
    progress: bool,
    trace: &mut Option<&mut dyn Write>,
) -> Result<(), String> {
    let mut last = Instant::now();
    let chunk = 1_000_000_000; // one simulated second per slice
    let mut t = 0;
    while t < end {
        t = (t + chunk).min(end);
        engine.run_until(t);
        flush_trace(engine, trace)?;
        if progress && last.elapsed().as_secs_f64() >= 1.0 {
            last = Instant::now();
            eprintln!("{}", progress_line(engine, end));
        }
    }
    Ok(())
}

/// How well real-time pacing kept up: the lag between when a happening was due and
/// when the router had processed it, in microseconds (conservative: every happening of
/// a batch is charged the batch's worst lag).
#[derive(Debug)]
pub struct Pacing {
    /// Lag histogram, microseconds.
    pub lag_us: hdrhistogram::Histogram<u64>,
    /// Happenings processed.
    pub steps: u64,
}

/// Paces the engine to tokio's clock (so tests can pause and advance time).
pub async fn drive_real(
    engine: &mut Engine,
    end: SimTime,
    speed: f64,
    progress: bool,
    trace: &mut Option<&mut dyn Write>,
) -> Result<Pacing, String> {
    let speed = if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    };
    let start = tokio::time::Instant::now();
    let mut last = std::time::Instant::now();
    let mut pacing = Pacing {
        lag_us: super::metrics::new_histogram(),
        steps: 0,
    };
    let mut due_from: SimTime = 0;
    let mut idle_spins = 0;
    loop {
        let sim_now = ((start.elapsed().as_nanos() as f64) * speed).min(end as f64) as SimTime;
        let steps = engine.run_until(sim_now);
        if steps > 0 {
            // The oldest happening of this batch was due at `due_from` at the earliest.
            let done = (start.elapsed().as_nanos() as f64 * speed) as SimTime;
            let lag = (done.saturating_sub(due_from) as f64 / speed / 1e3) as u64;
            pacing.lag_us.saturating_record_n(lag.max(1), steps);
            pacing.steps += steps;
        }
        due_from = sim_now;
        flush_trace(engine, trace)?;
        if progress && last.elapsed().as_secs_f64() >= 1.0 {
            last = std::time::Instant::now();
            eprintln!("{}", progress_line(engine, end));
        }
        if sim_now >= end {
            return Ok(pacing);
        }
        let next = engine.next_time().unwrap_or(end).min(end);
        let wait = ((next.saturating_sub(sim_now)) as f64 / speed) as u64;
        if wait < 1_000_000 && idle_spins < 64 {
            // tokio's timer has millisecond resolution: stay on the CPU for short waits
            // (a paused test clock does not move while we spin, so fall back to sleeping).
            idle_spins += 1;
            tokio::task::yield_now().await;
            if (start.elapsed().as_nanos() as f64 * speed) as SimTime > sim_now {
                idle_spins = 0;
            }
        } else {
            idle_spins = 0;
            // Wake at the next happening, but at least every 50 ms for progress and drains.
            tokio::time::sleep(std::time::Duration::from_nanos(wait.clamp(1, 50_000_000))).await;
        }
    }
}

fn progress_line(engine: &Engine, end: SimTime) -> String {
    let l = engine.ledger();
    format!(
        "  t={:.1}s/{:.0}s  copies created {}  processed {}  pending {}",
        engine.now() as f64 / 1e9,
        end as f64 / 1e9,
        l.created,
        l.processed,
        l.pending()
    )
}

fn flush_trace(engine: &mut Engine, trace: &mut Option<&mut dyn Write>) -> Result<(), String> {
    let hops = engine.drain_trace();
    let Some(out) = trace.as_mut() else {
        return Ok(());
    };
    let mut line = String::new();
    for hop in &hops {
        line.clear();
        let _ = writeln!(
            line,
            "{{\"t_ms\":{},\"event\":{},\"node\":{},\"what\":{}}}",
            hop.t as f64 / 1e6,
            hop.root,
            super::engine::json_string(engine.node_name(hop.node)),
            super::engine::json_string(&engine.describe(hop)),
        );
        out.write_all(line.as_bytes())
            .map_err(|e| format!("cannot write the trace: {e}"))?;
    }
    Ok(())
}

fn report(
    engine: &Engine,
    scenario: Option<&CompiledScenario>,
    options: &RunOptions,
    duration: SimTime,
    wall: f64,
) -> RunReport {
    let compiled = engine.compiled();
    let nodes: Vec<NodeReport> = compiled
        .ids
        .iter()
        .enumerate()
        .map(|(id, name)| {
            let m = engine.metrics(id);
            NodeReport {
                name: name.clone(),
                kind: kind_of(compiled, name).to_string(),
                counters: m.counters.clone(),
                drop_reasons: m
                    .drop_reasons
                    .iter()
                    .map(|(k, v)| (k.to_string(), *v))
                    .collect(),
                p50_ms: m.percentile_secs(0.5) * 1e3,
                p90_ms: m.percentile_secs(0.9) * 1e3,
                p99_ms: m.percentile_secs(0.99) * 1e3,
            }
        })
        .collect();
    let edges = engine
        .edges()
        .map(|(k, c)| EdgeReport {
            from: k.from.clone(),
            to: k.to.clone(),
            label: k.label.clone(),
            counters: c.clone(),
        })
        .collect();
    let assertions = scenario
        .map(|s| {
            s.assertions
                .iter()
                .map(|(text, a)| check(engine, s, text, a, duration))
                .collect()
        })
        .unwrap_or_default();
    RunReport {
        scenario: options.scenario.clone(),
        simulated_secs: engine.now() as f64 / 1e9,
        wall_secs: wall,
        produced: nodes.iter().map(|n| n.counters.produced).sum(),
        ledger: engine.ledger().clone(),
        pending: engine.pending_copies(),
        nodes,
        edges,
        assertions,
    }
}

fn kind_of(compiled: &Compiled, name: &str) -> Kind {
    compiled
        .topology
        .nodes
        .get(name)
        .map(|n| n.kind())
        .unwrap_or(Kind::Consumer)
}

fn check(
    engine: &Engine,
    scenario: &CompiledScenario,
    text: &str,
    a: &Assertion,
    end: SimTime,
) -> AssertionResult {
    let (passed, detail) = match a {
        Assertion::Reaches {
            detail_type,
            consumer,
            within,
        } => {
            let probe = engine.probes.iter().find(|p| {
                &p.detail_type == detail_type && engine.compiled().node_id(consumer) == p.consumer
            });
            match probe {
                None => (false, "not measured".to_string()),
                Some(p) => {
                    let missing = p
                        .pending
                        .values()
                        .filter(|&&at| at.saturating_add(within.nanos()) <= end)
                        .count() as u64;
                    let bad = p.late + missing;
                    let detail = format!(
                        "{} reached in time, {} late, {} never arrived; worst {}",
                        p.reached,
                        p.late,
                        missing,
                        Dur(p.worst).human()
                    );
                    if p.reached + bad == 0 {
                        (false, format!("no {detail_type} event was produced"))
                    } else {
                        (bad == 0, detail)
                    }
                }
            }
        }
        Assertion::Compare {
            node,
            metric,
            op,
            value,
        } => match engine.compiled().node_id(node) {
            None => (false, format!("no node {node}")),
            Some(id) => {
                let m = engine.metrics(id);
                let actual = metric_value(m, metric);
                let shown = if crate::model::scenario::LATENCY_METRICS.contains(&metric.as_str()) {
                    Dur::from_secs_f64(actual).human()
                } else {
                    format!("{actual}")
                };
                (op.holds(actual, *value), format!("{metric} = {shown}"))
            }
        },
        Assertion::Throughput {
            node,
            during_node,
            during_effect,
            within_percent,
        } => {
            let action = scenario
                .actions
                .iter()
                .find(|x| x.kind.node() == during_node && x.kind.effect() == during_effect);
            match (action, engine.series(node)) {
                (Some(action), Some(series)) => {
                    let lasts = action.lasts.unwrap_or(Dur::secs(1)).nanos();
                    let from = (action.at.nanos() / 1_000_000_000) as usize;
                    let to = (action.at.nanos().saturating_add(lasts) / 1_000_000_000) as usize;
                    // Whole seconds the run lasted (no window past its end).
                    let to = to.min(series.len().max(from + 1));
                    let len = (to - from).max(1);
                    let before_from = from.saturating_sub(len);
                    let rate = |a: usize, b: usize| {
                        let n = b.saturating_sub(a).max(1);
                        (a..b)
                            .map(|i| u64::from(series.get(i).copied().unwrap_or(0)))
                            .sum::<u64>() as f64
                            / n as f64
                    };
                    let during = rate(from, to);
                    let before = rate(before_from, from);
                    if before == 0.0 {
                        (
                            false,
                            format!(
                                "{node} processed nothing before {during_node} {during_effect}"
                            ),
                        )
                    } else {
                        let diff = (during - before).abs() / before * 100.0;
                        (
                            diff <= *within_percent,
                            format!(
                                "{during:.1}/s during vs {before:.1}/s before ({diff:.1}% apart)"
                            ),
                        )
                    }
                }
                _ => (false, "not measured".to_string()),
            }
        }
    };
    AssertionResult {
        assertion: text.to_string(),
        passed,
        detail,
    }
}

/// A node metric by the name assertions use.
pub fn metric_value(m: &super::metrics::NodeMetrics, metric: &str) -> f64 {
    let c = &m.counters;
    let v = match metric {
        "in" => c.received,
        "matched" => c.matched,
        "filtered" => c.filtered,
        "delivered" => c.delivered,
        "failed" => c.failed,
        "retried" => c.retried,
        "dlq" => c.dlq,
        "dropped" => c.dropped,
        "refused" => c.refused,
        "throttled" => c.throttled,
        "produced" => c.produced,
        "processed" => c.processed,
        "depth" => c.depth,
        "max_depth" => c.max_depth,
        "in_flight" => c.in_flight,
        "p50" => return m.percentile_secs(0.5),
        "p90" => return m.percentile_secs(0.9),
        "p99" => return m.percentile_secs(0.99),
        _ => return f64::NAN,
    };
    v as f64
}

/// The summary table printed by `eventyard run`.
pub fn table(report: &RunReport) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{:<24} {:<9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6} {:>7} {:>7} {:>9}",
        "node",
        "kind",
        "in",
        "out",
        "processed",
        "failed",
        "retried",
        "dlq",
        "dropped",
        "depth",
        "p99"
    );
    for n in &report.nodes {
        let c = &n.counters;
        let out_count = match n.kind.as_str() {
            "producer" => c.produced.to_string(),
            "consumer" => "-".to_string(),
            _ => c.delivered.to_string(),
        };
        let p99 = if n.kind == "consumer" && c.processed > 0 {
            Dur::from_secs_f64(n.p99_ms / 1e3).human()
        } else {
            "-".into()
        };
        let depth = if n.kind == "queue" || n.kind == "archive" {
            format!("{}/{}", c.depth, c.max_depth)
        } else {
            "-".into()
        };
        let _ = writeln!(
            out,
            "{:<24} {:<9} {:>9} {:>9} {:>9} {:>7} {:>7} {:>6} {:>7} {:>7} {:>9}",
            n.name,
            n.kind,
            c.received,
            out_count,
            c.processed,
            c.failed,
            c.retried,
            c.dlq,
            c.dropped,
            depth,
            p99
        );
    }
    let l = &report.ledger;
    let _ = writeln!(
        out,
        "\n{} events produced in {:.1}s simulated ({:.2}s wall); copies: {} created = {} processed + {} routed + {} dead-lettered + {} dropped + {} pending",
        report.produced,
        report.simulated_secs,
        report.wall_secs,
        l.created,
        l.processed,
        l.routed,
        l.dead_lettered,
        l.dropped,
        report.pending
    );
    if !report.assertions.is_empty() {
        let _ = writeln!(out);
        for a in &report.assertions {
            let mark = if a.passed { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "{mark}  {}  — {}", a.assertion, a.detail);
        }
    }
    out
}

/// JUnit XML: one test case per assertion.
pub fn junit(report: &RunReport) -> String {
    let name = report.scenario.as_deref().unwrap_or("run");
    let failures = report.assertions.iter().filter(|a| !a.passed).count();
    let mut out = String::from("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    let _ = writeln!(
        out,
        "<testsuite name=\"{}\" tests=\"{}\" failures=\"{failures}\" time=\"{:.3}\">",
        xml(name),
        report.assertions.len(),
        report.wall_secs
    );
    for a in &report.assertions {
        let _ = write!(
            out,
            "  <testcase classname=\"eventyard.{}\" name=\"{}\"",
            xml(name),
            xml(&a.assertion)
        );
        if a.passed {
            let _ = writeln!(out, "/>");
        } else {
            let _ = writeln!(
                out,
                ">\n    <failure message=\"{}\"/>\n  </testcase>",
                xml(&a.detail)
            );
        }
    }
    out.push_str("</testsuite>\n");
    out
}

fn xml(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}
