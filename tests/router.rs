//! Integration tests of the embedded router: the promises of `src/router` and the
//! topology model, checked through the public API (engine, headless runs, the live
//! router on a paused tokio clock) and through the `eventyard` binary.
//!
//! Topologies are written inline as JSON; every assertion uses exact counts (or tight
//! bounds where a count depends on random latencies), so each test can fail.

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use eventyard::model::scenario::parse_action;
use eventyard::model::{Compiled, NodeId, Topology, compile};
use eventyard::router::metrics::{Counters, EdgeCounters, Ledger};
use eventyard::router::trace::{Hop, HopKind, TraceOptions};
use eventyard::router::{Engine, EngineOptions, PutResult, SimTime};

const MS: SimTime = 1_000_000;
const SEC: SimTime = 1_000_000_000;

// ---- helpers ---------------------------------------------------------------------------

/// Reads and compiles a topology; panics with every problem when it does not compile.
fn compiled(json: &str) -> Arc<Compiled> {
    let topology =
        Topology::from_json(json).unwrap_or_else(|e| panic!("topology does not load: {e}"));
    match compile(&topology, None) {
        Ok(c) => Arc::new(c),
        Err(problems) => panic!(
            "topology does not compile:\n{}",
            problems
                .iter()
                .map(ToString::to_string)
                .collect::<Vec<_>>()
                .join("\n")
        ),
    }
}

fn engine(json: &str, seed: u64) -> Engine {
    Engine::new(
        compiled(json),
        EngineOptions {
            seed,
            ..EngineOptions::default()
        },
    )
}

/// An engine tracing every event.
fn traced(json: &str, seed: u64) -> Engine {
    Engine::new(
        compiled(json),
        EngineOptions {
            seed,
            trace: TraceOptions {
                every: 1,
                limit: u64::MAX,
                buffer: 1 << 22,
            },
            ..EngineOptions::default()
        },
    )
}

fn node(e: &Engine, name: &str) -> NodeId {
    e.compiled()
        .node_id(name)
        .unwrap_or_else(|| panic!("no node {name}"))
}

fn counters<'a>(e: &'a Engine, name: &str) -> &'a Counters {
    &e.metrics(node(e, name)).counters
}

/// How many messages `name` dropped for `reason`.
fn drops(e: &Engine, name: &str, reason: &str) -> u64 {
    e.metrics(node(e, name))
        .drop_reasons
        .get(reason)
        .copied()
        .unwrap_or(0)
}

/// Drops for `reason` summed over every node.
fn drops_anywhere(e: &Engine, reason: &str) -> u64 {
    e.all_metrics()
        .iter()
        .map(|m| m.drop_reasons.get(reason).copied().unwrap_or(0))
        .sum()
}

/// The counters of the edge `from → to` labelled `label` (zero when never created).
fn edge(e: &Engine, from: &str, to: &str, label: &str) -> EdgeCounters {
    e.edges()
        .find(|(k, _)| k.from == from && k.to == to && k.label == label)
        .map(|(_, c)| c.clone())
        .unwrap_or_default()
}

/// Schedules a scenario action line (`at 2s: consumer x down for 3s`).
fn act(e: &mut Engine, line: &str) {
    e.schedule_action(parse_action(line).unwrap_or_else(|err| panic!("{line}: {err}")));
}

/// `created = processed + routed + dead_lettered + dropped + pending`, with pending
/// counted from the engine's state, queue depths never exceeding what is pending, and
/// every message held counted once per copy that carries it.
fn assert_balanced(e: &Engine, when: &str) {
    if let Err(problem) = e.verify_sharing() {
        panic!("{when}: {problem}");
    }
    let l = e.ledger();
    let outcomes = l.processed + l.routed + l.dead_lettered + l.dropped;
    assert!(
        outcomes <= l.created,
        "{when}: more outcomes ({outcomes}) than copies created: {l:?}"
    );
    assert_eq!(
        l.created - outcomes,
        e.pending_copies(),
        "{when}: ledger pending != copies held by the engine: {l:?}"
    );
    let queued: u64 = e
        .compiled()
        .topology
        .nodes
        .iter()
        .filter(|(_, n)| n.kind() == eventyard::model::Kind::Queue)
        .map(|(name, _)| counters(e, name).depth)
        .sum();
    assert!(
        queued <= e.pending_copies(),
        "{when}: queues hold {queued} messages but only {} copies are pending",
        e.pending_copies()
    );
}

/// Runs to `until` in 100 ms slices, checking the accounting after each.
fn run_checked(e: &mut Engine, until: SimTime) {
    let mut t = e.now();
    while t < until {
        t = (t + 100 * MS).min(until);
        e.run_until(t);
        assert_balanced(e, &format!("t = {} ms", t / MS));
    }
}

fn produced(e: &Engine) -> u64 {
    e.all_metrics().iter().map(|m| m.counters.produced).sum()
}

/// A consumer's push deliveries from a bus rule (`bus → consumer`, `rule NAME`).
fn rule_edge(e: &Engine, bus: &str, to: &str, rule: &str) -> EdgeCounters {
    edge(e, bus, to, &format!("rule {rule}"))
}

// ---- 1. accounting ---------------------------------------------------------------------

/// A bus fanning out to push consumers (retries, a DLQ), a bounded queue with redrive, a
/// topic with filtered subscriptions, and an archive replayed mid-run.
const BUS_FANOUT: &str = r#"{"eventyard": 1, "nodes": {
  "web": {"kind": "producer", "to": "orders", "rate": 40, "arrivals": "poisson", "limit": 400,
    "events": [
      {"weight": 3, "source": "shop", "detail_type": "Placed", "detail": {"n": {"$int": [1, 100]}}},
      {"source": "shop", "detail_type": "Cancelled", "detail": {"n": {"$int": [1, 100]}}},
      {"source": "other", "detail_type": "Noise", "detail": {}}]},
  "orders": {"kind": "bus", "rules": {
    "to-billing": {"pattern": {"detail-type": ["Placed"]},
      "targets": [{"to": "billing", "dlq": "billing-dlq", "retry": {"maximum_retry_attempts": 3, "maximum_event_age": "60s"}}]},
    "to-slow": {"pattern": {"source": ["shop"]},
      "targets": [{"to": "slow", "retry": {"maximum_retry_attempts": 2, "maximum_event_age": "60s"}}]},
    "to-buffer": {"pattern": {"detail": {"n": [{"numeric": [">", 20]}]}}, "targets": [{"to": "buffer"}]},
    "to-topic": {"pattern": {"source": ["shop"]}, "targets": [{"to": "fanout"}]}}},
  "all": {"kind": "archive", "bus": "orders"},
  "fanout": {"kind": "topic", "subscriptions": {
    "a": {"to": "flaky", "max_retries": 5, "dlq": "flaky-dlq"},
    "b": {"to": "small", "max_retries": 3, "filter_policy": {"detail-type": ["Placed"]}, "filter_policy_scope": "MessageBody"}}},
  "buffer": {"kind": "queue", "visibility_timeout": "2s", "max_receives": 2, "dlq": "buffer-dlq", "capacity": 50, "consumers": ["worker"]},
  "small": {"kind": "queue", "capacity": 5, "visibility_timeout": "1s", "consumers": ["worker"]},
  "billing": {"kind": "consumer", "latency": {"uniform": ["10ms", "60ms"]}, "concurrency": 4},
  "slow": {"kind": "consumer", "latency": {"fixed": "50ms"}, "concurrency": 1},
  "flaky": {"kind": "consumer", "latency": {"exponential": "30ms"}, "error_rate": 0.2},
  "worker": {"kind": "consumer", "latency": {"lognormal": {"median": "80ms", "p99": "400ms"}}, "concurrency": 3, "error_rate": 0.05},
  "billing-dlq": {"kind": "queue", "consumers": ["dlq-reader"]},
  "flaky-dlq": {"kind": "queue", "consumers": ["dlq-reader"]},
  "buffer-dlq": {"kind": "queue", "consumers": ["dlq-reader"]},
  "dlq-reader": {"kind": "consumer"}
}}"#;

const BUS_FANOUT_ACTIONS: &[&str] = &[
    "at 1s: consumer flaky error-rate 0.9 for 10s",
    "at 2s: consumer billing down for 3s",
    "at 4s: consumer worker latency +2s for 3s",
    "at 6s: producer web burst x5 for 2s",
    "at 12s: replay archive all from 0s to 5s",
];

/// A producer sending straight to a bounded queue with two consumers (one with a
/// timeout), and a bus whose rules push to a throttled consumer and into that queue.
const QUEUE_PIPELINE: &str = r#"{"eventyard": 1, "nodes": {
  "src": {"kind": "producer", "to": "jobs", "rate": 50, "arrivals": "poisson", "limit": 300,
    "events": [{"detail": {"k": {"$seq": 0}}}]},
  "api": {"kind": "producer", "to": "edge", "rate": 20, "limit": 150,
    "events": [{"source": "api", "detail_type": "Call", "detail": {"v": {"$int": [0, 9]}}}]},
  "edge": {"kind": "bus", "rules": {
    "slow-path": {"pattern": {"detail": {"v": [{"numeric": ["<", 5]}]}},
      "targets": [{"to": "jobs", "dlq": "edge-dlq", "retry": {"maximum_retry_attempts": 4, "maximum_event_age": "60s"}}]},
    "push": {"pattern": {"source": ["api"]},
      "targets": [{"to": "w1", "retry": {"maximum_retry_attempts": 1, "maximum_event_age": "60s"}}]}}},
  "jobs": {"kind": "queue", "capacity": 40, "visibility_timeout": "1s", "max_receives": 3, "dlq": "jobs-dlq", "consumers": ["w1", "w2"]},
  "w1": {"kind": "consumer", "concurrency": 1, "latency": {"fixed": "100ms"}, "error_rate": 0.3},
  "w2": {"kind": "consumer", "concurrency": 2, "latency": {"uniform": ["50ms", "300ms"]}, "timeout": "250ms"},
  "jobs-dlq": {"kind": "queue", "consumers": ["sink"]},
  "edge-dlq": {"kind": "queue", "consumers": ["sink"]},
  "sink": {"kind": "consumer"}
}}"#;

const QUEUE_PIPELINE_ACTIONS: &[&str] = &[
    "at 1s: consumer w1 down for 2s",
    "at 2s: producer src burst x4 for 1s",
    "at 3s: consumer w2 latency +1s for 2s",
    "at 4s: consumer w2 error-rate 0.9 for 10s",
];

/// FIFO topic → FIFO queue (bounded, redrive to a FIFO DLQ) and a push consumer, with
/// random deduplication ids so that some messages are duplicates.
const FIFO_FLOW: &str = r#"{"eventyard": 1, "nodes": {
  "gen": {"kind": "producer", "to": "events.fifo", "rate": 30, "limit": 300,
    "events": [{"detail": {"n": {"$seq": 0}}, "group_id": {"$choice": ["g1", "g2", "g3"]}, "dedup_id": "d-${int:1..200}"}]},
  "events.fifo": {"kind": "topic", "fifo": true, "subscriptions": {
    "s": {"to": "work.fifo", "max_retries": 3},
    "t": {"to": "direct", "max_retries": 2}}},
  "work.fifo": {"kind": "queue", "fifo": true, "visibility_timeout": "1s", "max_receives": 2, "dlq": "work-dlq.fifo", "capacity": 30, "consumers": ["fw"]},
  "work-dlq.fifo": {"kind": "queue", "fifo": true, "consumers": ["sink"]},
  "fw": {"kind": "consumer", "concurrency": 3, "latency": {"uniform": ["20ms", "200ms"]}, "error_rate": 0.2},
  "direct": {"kind": "consumer", "concurrency": 1, "latency": {"fixed": "40ms"}},
  "sink": {"kind": "consumer"}
}}"#;

const FIFO_FLOW_ACTIONS: &[&str] = &[
    "at 2s: consumer fw down for 2s",
    "at 3s: producer gen burst x3 for 2s",
    "at 5s: consumer direct latency +1s for 1s",
];

fn check_accounting(topology: &str, actions: &[&str], limit: u64, seed: u64) {
    let mut e = engine(topology, seed);
    for a in actions {
        act(&mut e, a);
    }
    run_checked(&mut e, 150 * SEC);
    let l = e.ledger().clone();
    assert_eq!(produced(&e), limit, "seed {seed}: every event was produced");
    assert_eq!(e.pending_copies(), 0, "seed {seed}: drained: {l:?}");
    assert_eq!(
        l.created,
        l.processed + l.routed + l.dead_lettered + l.dropped,
        "seed {seed}"
    );
    assert!(
        l.processed > 0 && l.dropped + l.dead_lettered > 0,
        "seed {seed}: the drill exercised both success and failure: {l:?}"
    );
}

#[test]
fn accounting_holds_at_every_instant_on_a_bus_fanout() {
    for seed in 1..=3 {
        check_accounting(BUS_FANOUT, BUS_FANOUT_ACTIONS, 400, seed);
    }
}

#[test]
fn accounting_holds_at_every_instant_on_a_queue_pipeline() {
    for seed in 1..=3 {
        check_accounting(QUEUE_PIPELINE, QUEUE_PIPELINE_ACTIONS, 450, seed);
    }
}

#[test]
fn accounting_holds_at_every_instant_on_a_fifo_flow() {
    for seed in 1..=3 {
        check_accounting(FIFO_FLOW, FIFO_FLOW_ACTIONS, 300, seed);
    }
}

#[test]
fn every_event_of_a_drained_run_is_accounted_for_by_node() {
    let mut e = engine(BUS_FANOUT, 11);
    for a in BUS_FANOUT_ACTIONS {
        act(&mut e, a);
    }
    run_checked(&mut e, 150 * SEC);
    let bus = counters(&e, "orders").clone();
    // 400 produced + the archive's replayed events (everything of the first 5 s).
    let replayed = counters(&e, "all").delivered;
    assert!(replayed > 100, "the replay put events back: {replayed}");
    assert_eq!(counters(&e, "web").produced, 400);
    assert_eq!(bus.received, 400 + replayed);
    assert_eq!(bus.matched + bus.filtered, bus.received);
    assert_eq!(drops(&e, "orders", "no rule matched"), bus.filtered);
    // Every queue is empty and nothing is in flight anywhere.
    for q in ["buffer", "small", "billing-dlq", "flaky-dlq", "buffer-dlq"] {
        let c = counters(&e, q);
        assert_eq!((c.depth, c.in_flight), (0, 0), "{q}: {c:?}");
    }
    // What the DLQ reader processed is exactly what was dead-lettered.
    assert_eq!(
        counters(&e, "dlq-reader").processed,
        e.ledger().dead_lettered
    );
    assert_eq!(
        e.ledger().dead_lettered,
        bus.dlq + counters(&e, "fanout").dlq + counters(&e, "buffer").dlq
    );
}

// ---- 2. determinism --------------------------------------------------------------------

/// What a run shows: its trace, every node's counters and the ledger.
type Outcome = (Vec<Hop>, Vec<Counters>, Ledger);

/// BUS_FANOUT with its drill to 30 s, time advanced by `advance(engine, end)`.
fn fanout_run(seed: u64, advance: fn(&mut Engine, SimTime)) -> Outcome {
    let mut e = traced(BUS_FANOUT, seed);
    for a in BUS_FANOUT_ACTIONS {
        act(&mut e, a);
    }
    advance(&mut e, 30 * SEC);
    let counters = e.all_metrics().iter().map(|m| m.counters.clone()).collect();
    (e.drain_trace(), counters, e.ledger().clone())
}

fn by_seconds(e: &mut Engine, end: SimTime) {
    for s in 1..=end / SEC {
        e.run_until(s * SEC);
    }
}

#[test]
fn same_seed_same_trace_and_numbers_other_seed_other_trace() {
    let a = fanout_run(5, by_seconds);
    assert!(a.0.len() > 1000, "a substantial trace: {} hops", a.0.len());
    assert_eq!(a, fanout_run(5, by_seconds), "same seed, same run");
    let c = fanout_run(6, by_seconds);
    assert_ne!(a.0, c.0, "another seed gives another trace");
    assert_ne!(a.2, c.2, "and other numbers");
}

#[test]
fn how_time_is_sliced_does_not_change_what_happens() {
    let seconds = fanout_run(5, by_seconds);
    let odd_slices = fanout_run(5, |e, end| {
        let mut t = 0;
        while t < end {
            t = (t + 37 * MS).min(end);
            e.run_until(t);
        }
    });
    assert_eq!(seconds, odd_slices);
    let steps = fanout_run(5, |e, end| {
        while e.next_time().is_some_and(|t| t <= end) {
            e.step();
        }
        e.run_until(end);
    });
    assert_eq!(seconds, steps);
}

/// `run()` on the example: the trace bytes and the report (minus wall time).
fn example_run(seed: u64) -> (Vec<u8>, serde_json::Value) {
    use eventyard::router::{Clock, RunOptions, run};
    let options = RunOptions {
        scenario: Some("black-friday".into()),
        clock: Clock::Virtual,
        seed,
        duration: Some(eventyard::model::Dur::secs(30)),
        trace_every: 3,
        trace_limit: 2000,
        progress: false,
    };
    let mut trace = Vec::new();
    let report = run(example(), &options, Some(&mut trace)).expect("runs");
    let mut json = serde_json::to_value(&report).expect("report serialises");
    json.as_object_mut().expect("object").remove("wall_secs");
    (trace, json)
}

#[test]
fn headless_runs_are_reproducible_byte_for_byte() {
    let (trace_a, report_a) = example_run(42);
    let (trace_b, report_b) = example_run(42);
    assert!(trace_a.len() > 10_000, "{} bytes of trace", trace_a.len());
    assert!(trace_a == trace_b, "same seed, same trace bytes");
    assert_eq!(report_a, report_b, "same seed, same report");
    let (trace_c, report_c) = example_run(43);
    assert!(trace_a != trace_c, "another seed, another trace");
    assert_ne!(report_a["ledger"], report_c["ledger"]);
}

#[test]
fn a_real_clock_run_gives_the_virtual_run_s_numbers() {
    use eventyard::router::{Clock, RunOptions, run};
    let report = |clock| {
        let options = RunOptions {
            clock,
            duration: Some(eventyard::model::Dur::secs(20)),
            ..RunOptions::default()
        };
        let report = run(example(), &options, None).expect("runs");
        let mut json = serde_json::to_value(&report).expect("serialises");
        json.as_object_mut().expect("object").remove("wall_secs");
        json
    };
    let virtual_run = report(Clock::Virtual);
    assert!(virtual_run["produced"].as_u64().is_some_and(|n| n > 1000));
    assert_eq!(virtual_run, report(Clock::Real { speed: 5000.0 }));
}

// ---- 3. routing semantics --------------------------------------------------------------

const ROUTING: &str = r#"{"eventyard": 1, "nodes": {
  "pa": {"kind": "producer", "to": "bus", "rate": 100, "limit": 30,
    "events": [{"source": "app", "detail_type": "A", "detail": {"n": {"$seq": 0}}}]},
  "pb": {"kind": "producer", "to": "bus", "rate": 100, "limit": 20,
    "events": [{"source": "app", "detail_type": "B", "detail": {"n": {"$seq": 0}}}]},
  "pc": {"kind": "producer", "to": "bus", "rate": 100, "limit": 7,
    "events": [{"source": "elsewhere", "detail_type": "C", "detail": {}}]},
  "bus": {"kind": "bus", "rules": {
    "only-a": {"pattern": {"detail-type": ["A"]}, "targets": [{"to": "c1"}]},
    "a-or-b": {"pattern": {"source": ["app"]}, "targets": [{"to": "c1"}, {"to": "c2"}]},
    "big-n": {"pattern": {"detail": {"n": [{"numeric": [">", 10]}]}}, "targets": [{"to": "qbig"}]},
    "off": {"enabled": false, "pattern": {"source": ["elsewhere"]}, "targets": [{"to": "c3"}]},
    "never": {"pattern": {"detail-type": ["Z"]}, "targets": [{"to": "c3"}]}}},
  "c1": {"kind": "consumer"},
  "c2": {"kind": "consumer"},
  "c3": {"kind": "consumer"},
  "qbig": {"kind": "queue"}
}}"#;

#[test]
fn rules_send_each_event_to_exactly_the_matching_targets() {
    let mut e = engine(ROUTING, 1);
    run_checked(&mut e, 5 * SEC);
    assert_eq!(rule_edge(&e, "bus", "c1", "only-a").delivered, 30);
    assert_eq!(rule_edge(&e, "bus", "c1", "a-or-b").delivered, 50);
    assert_eq!(rule_edge(&e, "bus", "c2", "a-or-b").delivered, 50);
    // A: n = 11..=30, B: n = 11..=20.
    assert_eq!(rule_edge(&e, "bus", "qbig", "big-n").delivered, 30);
    assert_eq!(rule_edge(&e, "bus", "c3", "off").sent, 0, "disabled rule");
    assert_eq!(rule_edge(&e, "bus", "c3", "never").sent, 0);
    assert_eq!(counters(&e, "c1").processed, 80);
    assert_eq!(counters(&e, "c2").processed, 50);
    assert_eq!(counters(&e, "c3").received, 0);
    assert_eq!(counters(&e, "qbig").depth, 30);
    let bus = counters(&e, "bus");
    assert_eq!((bus.received, bus.matched, bus.filtered), (57, 50, 7));
    assert_eq!(drops(&e, "bus", "no rule matched"), 7);
    let l = e.ledger();
    assert_eq!(l.created, 57 + 30 + 50 + 50 + 30);
    assert_eq!(
        (l.processed, l.routed, l.dropped, l.dead_lettered),
        (130, 50, 7, 0)
    );
    assert_eq!(e.pending_copies(), 30, "what waits in qbig");
}

#[test]
fn enabling_a_disabled_rule_by_action_routes_its_events() {
    let mut e = engine(ROUTING, 1);
    act(&mut e, "at 0s: rule bus/off enable");
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "c3").processed, 7);
    assert_eq!(drops(&e, "bus", "no rule matched"), 0);
    let mut e = engine(ROUTING, 1);
    act(&mut e, "at 0s: rule bus/only-a disable");
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "c1").processed, 50, "only a-or-b feeds c1");
}

/// Target inputs are checked by routing the transformed body through a topic whose
/// subscription filters on the message body: only the right body passes.
const TARGET_INPUTS: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "bus", "rate": 100, "limit": 30,
    "events": [{"source": "app", "detail_type": "A", "detail": {"n": {"$seq": 0}, "who": "x"}}]},
  "bus": {"kind": "bus", "rules": {
    "path": {"pattern": {"source": ["app"]}, "targets": [
      {"to": "by-path", "input_path": "$.detail"},
      {"to": "raw-q", "input_path": "$.detail"}]},
    "xform": {"pattern": {"source": ["app"]}, "targets": [
      {"to": "by-xform", "input_transformer": {
        "input_paths_map": {"t": "$.detail-type", "n": "$.detail.n"},
        "input_template": "{\"kind\": <t>, \"num\": <n>}"}}]},
    "const": {"pattern": {"source": ["app"]}, "targets": [{"to": "by-const", "input": {"const": "yes"}}]},
    "whole": {"pattern": {"source": ["app"]}, "targets": [{"to": "by-whole"}]}}},
  "by-path": {"kind": "topic", "subscriptions": {
    "s": {"to": "c-path", "filter_policy": {"n": [{"numeric": [">", 10]}]}, "filter_policy_scope": "MessageBody"}}},
  "by-xform": {"kind": "topic", "subscriptions": {
    "s": {"to": "c-xform", "filter_policy": {"kind": ["A"], "num": [{"numeric": ["<=", 5]}]}, "filter_policy_scope": "MessageBody"}}},
  "by-const": {"kind": "topic", "subscriptions": {
    "s": {"to": "c-const", "filter_policy": {"const": ["yes"]}, "filter_policy_scope": "MessageBody"}}},
  "by-whole": {"kind": "topic", "subscriptions": {
    "nested": {"to": "c-whole", "filter_policy": {"detail": {"n": [{"numeric": ["<=", 3]}]}}, "filter_policy_scope": "MessageBody"},
    "flat": {"to": "c-flat", "filter_policy": {"n": [{"numeric": [">", 0]}]}, "filter_policy_scope": "MessageBody"}}},
  "raw-q": {"kind": "queue"},
  "c-path": {"kind": "consumer"},
  "c-xform": {"kind": "consumer"},
  "c-const": {"kind": "consumer"},
  "c-whole": {"kind": "consumer"},
  "c-flat": {"kind": "consumer"}
}}"#;

#[test]
fn input_path_transformer_and_constant_reach_the_target() {
    let mut e = engine(TARGET_INPUTS, 1);
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "c-path").processed, 20, "$.detail: n > 10");
    assert_eq!(counters(&e, "c-xform").processed, 5, "kind A, num <= 5");
    assert_eq!(counters(&e, "c-const").processed, 30, "the constant");
    assert_eq!(
        counters(&e, "c-whole").processed,
        3,
        "whole event: detail.n <= 3"
    );
    assert_eq!(
        counters(&e, "c-flat").processed,
        0,
        "no top-level n in the event"
    );
    assert_eq!(counters(&e, "raw-q").depth, 30, "messages accumulate");
    assert_eq!(counters(&e, "by-path").filtered, 10);
    assert_eq!(counters(&e, "by-whole").filtered, 27 + 30);
}

const FANOUT: &str = r#"{"eventyard": 1, "nodes": {
  "red": {"kind": "producer", "to": "t", "rate": 100, "limit": 10,
    "events": [{"detail": {"n": {"$seq": 0}}, "attributes": {"color": "red", "size": 5}}]},
  "blue": {"kind": "producer", "to": "t", "rate": 100, "limit": 20,
    "events": [{"detail": {"n": {"$seq": 0}}, "attributes": {"color": "blue", "size": 15}}]},
  "bare": {"kind": "producer", "to": "t", "rate": 100, "limit": 4,
    "events": [{"detail": {"n": 100}}]},
  "t": {"kind": "topic", "subscriptions": {
    "red": {"to": "q-red", "filter_policy": {"color": ["red"]}},
    "big": {"to": "q-big", "filter_policy": {"size": [{"numeric": [">", 10]}]}, "filter_policy_scope": "MessageAttributes"},
    "all": {"to": "q-all"},
    "small-n": {"to": "q-body", "filter_policy": {"n": [{"numeric": ["<=", 3]}]}, "filter_policy_scope": "MessageBody"},
    "green": {"to": "q-green", "filter_policy": {"color": ["green"]}},
    "body-color": {"to": "q-body-color", "filter_policy": {"color": ["red"]}, "filter_policy_scope": "MessageBody"}}},
  "q-red": {"kind": "queue"}, "q-big": {"kind": "queue"}, "q-all": {"kind": "queue"},
  "q-body": {"kind": "queue"}, "q-green": {"kind": "queue"}, "q-body-color": {"kind": "queue"}
}}"#;

#[test]
fn topic_fanout_applies_filter_policies_in_both_scopes() {
    let mut e = engine(FANOUT, 1);
    run_checked(&mut e, 5 * SEC);
    let depth = |q: &str| counters(&e, q).depth;
    assert_eq!(depth("q-red"), 10);
    assert_eq!(depth("q-big"), 20);
    assert_eq!(depth("q-all"), 34);
    assert_eq!(depth("q-body"), 6, "n <= 3 from red and from blue");
    assert_eq!(depth("q-green"), 0);
    assert_eq!(depth("q-body-color"), 0, "attributes are not in the body");
    let t = counters(&e, "t");
    assert_eq!((t.received, t.matched, t.filtered), (34, 70, 34 * 6 - 70));
    assert_eq!(edge(&e, "t", "q-red", "subscription red").delivered, 10);
    assert_eq!(edge(&e, "t", "q-red", "subscription red").filtered, 24);
    assert_eq!(e.ledger().routed, 34);
    assert_eq!(e.ledger().created, 34 + 70);
}

#[test]
fn a_message_no_subscription_accepts_is_dropped() {
    let topology = FANOUT.replace(r#""all": {"to": "q-all"},"#, "");
    let mut e = engine(&topology, 1);
    run_checked(&mut e, 5 * SEC);
    // `bare` has no attributes and n = 100: every subscription filters it out.
    assert_eq!(drops(&e, "t", "no subscription matched"), 4);
    assert_eq!(e.ledger().dropped, 4);
}

// ---- 4. retries and dead-letter queues -------------------------------------------------

fn always_down(retry: &str, dlq: bool, limit: u64) -> Engine {
    let dlq = if dlq { r#", "dlq": "dlq""# } else { "" };
    let topology = format!(
        r#"{{"eventyard": 1, "nodes": {{
          "p": {{"kind": "producer", "to": "bus", "rate": 10, "limit": {limit},
            "events": [{{"source": "app", "detail_type": "A", "detail": {{}}}}]}},
          "bus": {{"kind": "bus", "rules": {{"r": {{"pattern": {{"source": ["app"]}},
            "targets": [{{"to": "svc", "retry": {retry}{dlq}}}]}}}}}},
          "svc": {{"kind": "consumer"}},
          "dlq": {{"kind": "queue"}}
        }}}}"#
    );
    let mut e = engine(&topology, 3);
    act(&mut e, "at 0s: consumer svc down");
    e
}

#[test]
fn a_target_that_is_always_down_ends_in_the_dlq_after_its_retries() {
    let mut e = always_down(
        r#"{"maximum_retry_attempts": 2, "maximum_event_age": "60s"}"#,
        true,
        20,
    );
    run_checked(&mut e, 30 * SEC);
    let bus = counters(&e, "bus");
    assert_eq!(counters(&e, "dlq").depth, 20);
    assert_eq!((bus.dlq, bus.retried), (20, 40));
    assert_eq!(counters(&e, "svc").failed, 60, "1 attempt + 2 retries each");
    assert_eq!(counters(&e, "svc").processed, 0);
    let r = rule_edge(&e, "bus", "svc", "r");
    assert_eq!((r.sent, r.failed, r.retried, r.dlq), (20, 60, 40, 20));
    assert_eq!(edge(&e, "bus", "dlq", "dlq").delivered, 20);
    assert_eq!(e.ledger().dead_lettered, 20);
}

#[test]
fn zero_retry_attempts_means_straight_to_the_dlq() {
    let mut e = always_down(
        r#"{"maximum_retry_attempts": 0, "maximum_event_age": "60s"}"#,
        true,
        20,
    );
    run_checked(&mut e, 10 * SEC);
    let bus = counters(&e, "bus");
    assert_eq!((bus.dlq, bus.retried), (20, 0));
    assert_eq!(counters(&e, "svc").failed, 20);
    assert_eq!(counters(&e, "dlq").depth, 20);
}

#[test]
fn without_a_dlq_exhausted_events_are_dropped_with_a_reason() {
    let mut e = always_down(
        r#"{"maximum_retry_attempts": 2, "maximum_event_age": "60s"}"#,
        false,
        20,
    );
    run_checked(&mut e, 30 * SEC);
    assert_eq!(drops(&e, "bus", "retries exhausted"), 20);
    assert_eq!(counters(&e, "dlq").depth, 0);
    assert_eq!(e.pending_copies(), 0);
}

#[test]
fn maximum_event_age_ends_retries() {
    // Backoff doubles from 1 s with jitter in [d/2, d]: after 6 retries an event is
    // 31.5–63 s old, after 7 63.5–127 s, so a 60 s age limit allows 6 or 7 retries.
    let mut e = always_down(r#"{"maximum_event_age": "60s"}"#, false, 5);
    run_checked(&mut e, 200 * SEC);
    assert_eq!(drops(&e, "bus", "event too old to retry"), 5);
    let retried = counters(&e, "bus").retried;
    assert!((30..=35).contains(&retried), "retried {retried}");
    assert_eq!(counters(&e, "svc").failed, retried + 5);
}

#[test]
fn queue_redrive_moves_a_message_after_max_receives() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 15, "events": [{"detail": {"k": {"$seq": 0}}}]},
          "q": {"kind": "queue", "visibility_timeout": "1s", "max_receives": 3, "dlq": "qdlq", "consumers": ["bad"]},
          "bad": {"kind": "consumer", "error_rate": 1.0, "latency": {"fixed": "10ms"}},
          "qdlq": {"kind": "queue"}
        }}"#,
        1,
    );
    run_checked(&mut e, 30 * SEC);
    assert_eq!(counters(&e, "qdlq").depth, 15);
    assert_eq!(counters(&e, "bad").failed, 45, "exactly 3 receives each");
    assert_eq!(counters(&e, "bad").processed, 0);
    let q = counters(&e, "q");
    assert_eq!((q.dlq, q.depth, q.in_flight), (15, 0, 0));
    assert_eq!(e.ledger().dead_lettered, 15);
}

#[test]
fn a_queue_consumer_counts_the_messages_it_receives() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 15, "events": [{"detail": {}}]},
          "q": {"kind": "queue", "consumers": ["c"]},
          "c": {"kind": "consumer"}
        }}"#,
        1,
    );
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "q").delivered, 15);
    assert_eq!(counters(&e, "c").processed, 15);
    assert_eq!(
        counters(&e, "c").received,
        15,
        "what arrived at the consumer"
    );
}

#[test]
fn subscription_retries_then_dead_letters() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "t", "rate": 10, "limit": 12, "events": [{"detail": {"k": 1}}]},
          "t": {"kind": "topic", "subscriptions": {"s": {"to": "svc", "max_retries": 3, "dlq": "sdlq"}}},
          "svc": {"kind": "consumer"},
          "sdlq": {"kind": "queue"}
        }}"#,
        1,
    );
    act(&mut e, "at 0s: consumer svc down");
    run_checked(&mut e, 10 * SEC);
    let t = counters(&e, "t");
    assert_eq!((t.dlq, t.retried), (12, 36));
    assert_eq!(counters(&e, "svc").failed, 48);
    assert_eq!(counters(&e, "sdlq").depth, 12);
}

// ---- 5. bus policy and PutEvents -------------------------------------------------------

fn policy_topology(allow: &str) -> String {
    format!(
        r#"{{"eventyard": 1, "nodes": {{
          "ext": {{"kind": "producer", "account": "222222222222", "to": "orders", "rate": 10, "limit": 10,
            "events": [{{"source": "app", "detail_type": "A", "detail": {{}}}}]}},
          "home": {{"kind": "producer", "to": "orders", "rate": 10, "limit": 5,
            "events": [{{"source": "app", "detail_type": "A", "detail": {{}}}}]}},
          "orders": {{"kind": "bus"{allow}, "rules": {{"all": {{"pattern": {{"source": ["app"]}}, "targets": [{{"to": "sink"}}]}}}}}},
          "sink": {{"kind": "queue"}}
        }}}}"#
    )
}

#[test]
fn a_bus_refuses_other_accounts_unless_its_policy_allows_them() {
    let mut e = engine(&policy_topology(""), 1);
    run_checked(&mut e, 5 * SEC);
    let bus = counters(&e, "orders");
    assert_eq!((bus.received, bus.refused), (15, 10));
    assert_eq!(
        counters(&e, "sink").depth,
        5,
        "only the home account's events"
    );
    assert_eq!(drops_anywhere(&e, "refused by bus policy"), 10);
    for allow in [
        r#"["222222222222"]"#,
        r#"["ext"]"#,
        r#"["*"]"#,
        r#"["home", "222222222222"]"#,
    ] {
        let mut e = engine(
            &policy_topology(&format!(r#", "policy": {{"allow": {allow}}}"#)),
            1,
        );
        run_checked(&mut e, 5 * SEC);
        assert_eq!(counters(&e, "orders").refused, 0, "allow {allow}");
        assert_eq!(counters(&e, "sink").depth, 15, "allow {allow}");
    }
    let mut e = engine(
        &policy_topology(r#", "policy": {"allow": ["333333333333", "home"]}"#),
        1,
    );
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "orders").refused, 10, "other principals only");
}

fn forwarding_topology(policy: &str) -> String {
    format!(
        r#"{{"eventyard": 1, "nodes": {{
          "p": {{"kind": "producer", "to": "a", "rate": 10, "limit": 10,
            "events": [{{"source": "app", "detail_type": "A", "detail": {{}}}}]}},
          "a": {{"kind": "bus", "rules": {{"fwd": {{"pattern": {{"source": ["app"]}},
            "targets": [{{"to": "b", "retry": {{"maximum_retry_attempts": 0, "maximum_event_age": "60s"}}}}]}}}}}},
          "b": {{"kind": "bus", "account": "999999999999"{policy},
            "rules": {{"all": {{"pattern": {{"source": ["app"]}}, "targets": [{{"to": "q"}}]}}}}}},
          "q": {{"kind": "queue", "account": "999999999999"}}
        }}}}"#
    )
}

#[test]
fn forwarding_to_a_bus_of_another_account_needs_its_policy() {
    let mut e = engine(&forwarding_topology(""), 1);
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "b").refused, 10);
    assert_eq!(counters(&e, "q").depth, 0);
    assert_eq!(
        drops(&e, "a", "refused by bus policy"),
        10,
        "the rule's bus owns the failure"
    );
    for allow in [r#"["a"]"#, r#"["123456789012"]"#] {
        let mut e = engine(
            &forwarding_topology(&format!(r#", "policy": {{"allow": {allow}}}"#)),
            1,
        );
        run_checked(&mut e, 5 * SEC);
        assert_eq!(counters(&e, "b").refused, 0, "allow {allow}");
        assert_eq!(counters(&e, "q").depth, 10, "allow {allow}");
        assert_eq!(e.ledger().routed, 20, "each event routed by both buses");
    }
}

fn entry(detail: serde_json::Value) -> serde_json::Value {
    serde_json::json!({"Source": "app", "DetailType": "A", "Detail": detail})
}

/// A bus with one rule sending everything from `app` to a queue nobody reads.
fn put_target() -> Engine {
    let mut e = engine(&policy_topology(""), 1);
    // Only PutEvents feeds the bus: silence the producers.
    act(&mut e, "at 0s: producer ext stop");
    act(&mut e, "at 0s: producer home stop");
    e.run_until(0);
    e
}

#[test]
fn put_events_validates_the_batch_and_each_entry() {
    let mut e = put_target();
    let account = "123456789012";
    let ok = entry(serde_json::json!(r#"{"k": 1}"#));
    assert!(e.put_events("orders", account, &[]).is_err(), "0 entries");
    assert!(
        e.put_events("orders", account, &vec![ok.clone(); 11])
            .is_err(),
        "11 entries"
    );
    assert!(
        e.put_events("nowhere", account, std::slice::from_ref(&ok))
            .is_err()
    );
    assert!(
        e.put_events("sink", account, std::slice::from_ref(&ok))
            .is_err()
    );
    let huge = entry(serde_json::Value::String(format!(
        r#"{{"pad": "{}"}}"#,
        "x".repeat(1024 * 1024)
    )));
    let invalid = [
        serde_json::json!({"Source": "app", "DetailType": "A"}),
        entry(serde_json::json!("[1, 2]")),
        entry(serde_json::json!("not json")),
        entry(serde_json::json!({"k": 1})),
        huge,
    ];
    let results = e
        .put_events("orders", account, &invalid)
        .expect("a valid batch");
    let codes: Vec<&str> = results
        .iter()
        .map(|r| match r {
            PutResult::Err(code, _) => code.as_str(),
            PutResult::Ok(id) => panic!("an invalid entry was accepted as {id}"),
        })
        .collect();
    assert_eq!(
        codes,
        [
            "MalformedDetail",
            "MalformedDetail",
            "MalformedDetail",
            "MalformedDetail",
            "ValidationException"
        ]
    );
    let bus = counters(&e, "orders");
    assert_eq!((bus.received, bus.refused), (5, 5));
    assert_eq!(e.ledger().created, 0, "refused entries create nothing");
    let results = e
        .put_events("orders", account, std::slice::from_ref(&ok))
        .expect("valid");
    let [PutResult::Ok(id)] = results.as_slice() else {
        panic!("the valid entry is accepted: {results:?}");
    };
    assert_eq!(id.len(), 36, "a UUID event id: {id}");
    assert_eq!(
        e.ledger().created,
        2,
        "the accepted event and the copy its one matching rule made"
    );
    let refused = e
        .put_events("orders", "222222222222", std::slice::from_ref(&ok))
        .unwrap();
    assert!(
        matches!(&refused[0], PutResult::Err(c, _) if c == "AccessDeniedException"),
        "{refused:?}"
    );
    assert_balanced(&e, "after PutEvents");
}

#[test]
fn put_events_routes_accepted_entries() {
    let mut e = put_target();
    let ok = entry(serde_json::json!(r#"{"k": 1}"#));
    for principal in ["123456789012", "home"] {
        let results = e.put_events("orders", principal, &[ok.clone(), ok.clone()]);
        assert!(
            matches!(results.as_deref(), Ok([PutResult::Ok(_), PutResult::Ok(_)])),
            "{results:?}"
        );
    }
    e.run_until(SEC);
    assert_balanced(&e, "after PutEvents");
    assert_eq!(counters(&e, "orders").refused, 0);
    assert_eq!(counters(&e, "orders").matched, 4);
    assert_eq!(
        counters(&e, "sink").depth,
        4,
        "the accepted events are routed"
    );
}

// ---- 6. FIFO ---------------------------------------------------------------------------

/// Two groups from two producers, a third producer repeating group a's deduplication
/// ids (all duplicates), and a late one repeating them after the 5-minute window.
const FIFO_ORDER: &str = r#"{"eventyard": 1, "nodes": {
  "ga": {"kind": "producer", "to": "orders.fifo", "rate": 20, "limit": 40,
    "events": [{"detail": {"g": "a", "n": {"$seq": 0}}, "group_id": "a", "dedup_id": "a-${seq}"}]},
  "gb": {"kind": "producer", "to": "orders.fifo", "rate": 15, "limit": 40,
    "events": [{"detail": {"g": "b", "n": {"$seq": 0}}, "group_id": "b", "dedup_id": "b-${seq}"}]},
  "dup": {"kind": "producer", "to": "orders.fifo", "rate": 20, "limit": 40, "start": "10ms",
    "events": [{"detail": {"g": "a", "n": {"$seq": 0}}, "group_id": "a", "dedup_id": "a-${seq}"}]},
  "late": {"kind": "producer", "to": "orders.fifo", "rate": 20, "limit": 5, "start": "6m",
    "events": [{"detail": {"g": "a", "n": {"$seq": 0}}, "group_id": "a", "dedup_id": "a-${seq}"}]},
  "orders.fifo": {"kind": "topic", "fifo": true, "subscriptions": {"s": {"to": "work.fifo"}}},
  "work.fifo": {"kind": "queue", "fifo": true, "visibility_timeout": "1s", "consumers": ["fw"]},
  "fw": {"kind": "consumer", "concurrency": 10, "latency": {"uniform": ["20ms", "300ms"]}, "error_rate": 0.2}
}}"#;

#[test]
fn fifo_keeps_order_per_group_and_drops_duplicates() {
    let mut e = traced(FIFO_ORDER, 9);
    run_checked(&mut e, 400 * SEC);
    let hops = e.drain_trace();
    assert_eq!(e.trace_overflow(), 0);
    assert_eq!(drops(&e, "orders.fifo", "duplicate within 5 minutes"), 40);
    assert_eq!(
        counters(&e, "fw").processed,
        85,
        "40 + 40 + 5 after the window"
    );
    assert_eq!(counters(&e, "work.fifo").depth, 0);
    assert!(counters(&e, "fw").failed > 5, "errors were retried");

    let (fw, topic) = (node(&e, "fw"), node(&e, "orders.fifo"));
    let group_of_producer: HashMap<NodeId, &str> = [("ga", "a"), ("late", "a"), ("gb", "b")]
        .into_iter()
        .map(|(p, g)| (node(&e, p), g))
        .collect();
    let dropped: Vec<u64> = hops
        .iter()
        .filter(|h| h.node == topic && h.kind == HopKind::Dropped("duplicate"))
        .map(|h| h.root)
        .collect();
    let mut group = HashMap::new();
    let mut produced: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for h in &hops {
        if h.kind == HopKind::Produced
            && let Some(g) = group_of_producer.get(&h.node)
        {
            group.insert(h.root, *g);
            produced.entry(g).or_default().push(h.root);
        }
    }
    assert_eq!(dropped.len(), 40);
    assert!(
        dropped.iter().all(|r| !group.contains_key(r)),
        "only the `dup` producer's messages are duplicates"
    );
    let mut in_flight: HashMap<&str, u32> = HashMap::new();
    let mut busy_groups_max = 0;
    let mut processed: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    let mut started: BTreeMap<&str, Vec<u64>> = BTreeMap::new();
    for h in hops.iter().filter(|h| h.node == fw) {
        let g = group[&h.root];
        match h.kind {
            HopKind::Started => {
                let n = in_flight.entry(g).or_default();
                *n += 1;
                assert_eq!(
                    *n,
                    1,
                    "group {g}: two messages in flight at {} ms",
                    h.t / MS
                );
                started.entry(g).or_default().push(h.root);
            }
            HopKind::Processed | HopKind::Failed(_) => {
                *in_flight.get_mut(g).expect("started") -= 1;
                if h.kind == HopKind::Processed {
                    processed.entry(g).or_default().push(h.root);
                }
            }
            _ => {}
        }
        busy_groups_max = busy_groups_max.max(in_flight.values().filter(|&&n| n > 0).count());
    }
    assert_eq!(
        busy_groups_max, 2,
        "both groups were processed concurrently"
    );
    assert_eq!(
        processed, produced,
        "every group processed in production order"
    );
    for (g, mut roots) in started {
        roots.dedup();
        assert_eq!(
            roots, produced[g],
            "group {g}: a retry comes before the next"
        );
    }
}

#[test]
fn fifo_queue_deduplicates_by_content_when_asked() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q.fifo", "rate": 10, "limit": 30,
            "events": [{"detail": {"k": {"$int": [1, 3]}}, "group_id": "g"}]},
          "q.fifo": {"kind": "queue", "fifo": true, "content_based_deduplication": true}
        }}"#,
        1,
    );
    run_checked(&mut e, 10 * SEC);
    // Three distinct bodies within 5 minutes: exactly three messages are kept.
    assert_eq!(counters(&e, "q.fifo").depth, 3);
    assert_eq!(drops(&e, "q.fifo", "duplicate within 5 minutes"), 27);
}

// ---- 7. queue as an elastic buffer -----------------------------------------------------

#[test]
fn a_queue_absorbs_a_burst_and_drains_after_it() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "buf", "rate": 10, "events": [{"detail": {"k": {"$seq": 0}}}]},
          "buf": {"kind": "queue", "consumers": ["c"]},
          "c": {"kind": "consumer", "latency": {"fixed": "100ms"}, "concurrency": 3}
        }}"#,
        1,
    );
    act(&mut e, "at 2s: producer p burst x10 for 5s");
    act(&mut e, "at 30s: producer p stop");
    run_checked(&mut e, 2 * SEC);
    assert!(counters(&e, "buf").max_depth <= 3, "no backlog before");
    // 5 s at 100/s in, 30/s out: about 350 waiting when the burst ends.
    run_checked(&mut e, 7 * SEC);
    let depth = counters(&e, "buf").depth;
    assert!(
        (340..=360).contains(&depth),
        "depth {depth} at the end of the burst"
    );
    run_checked(&mut e, 30 * SEC);
    assert!(counters(&e, "buf").depth <= 3, "drained at 20/s net");
    run_checked(&mut e, 60 * SEC);
    let (buf, c) = (counters(&e, "buf"), counters(&e, "c"));
    assert!((340..=360).contains(&buf.max_depth), "{}", buf.max_depth);
    assert_eq!(
        (buf.depth, buf.in_flight, buf.dropped, buf.refused),
        (0, 0, 0, 0)
    );
    let sent = counters(&e, "p").produced;
    assert!((745..=755).contains(&sent), "produced {sent}");
    assert_eq!(c.processed, sent);
    assert_eq!(c.throttled, 0, "pulling never throttles");
    assert_eq!(e.ledger().dropped, 0);
}

#[test]
fn latency_percentiles_are_end_to_end_and_exact() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 5, "limit": 20, "events": [{"detail": {}}]},
          "q": {"kind": "queue", "consumers": ["c"]},
          "c": {"kind": "consumer", "latency": {"fixed": "100ms"}, "concurrency": 1},
          "p2": {"kind": "producer", "to": "q2", "rate": 100, "limit": 20, "events": [{"detail": {}}]},
          "q2": {"kind": "queue", "consumers": ["c2"]},
          "c2": {"kind": "consumer", "latency": {"fixed": "100ms"}, "concurrency": 1}
        }}"#,
        1,
    );
    run_checked(&mut e, 10 * SEC);
    let m = e.metrics(node(&e, "c"));
    for q in [0.5, 0.99] {
        let v = m.percentile_secs(q);
        assert!((0.0999..=0.1001).contains(&v), "p{q}: {v}");
    }
    // 20 at once behind one slot: the last waits 1.9 s, then takes 0.1 s (made 0.19 s
    // after the first); end to end it is 0.1 s + 19 * (0.1 s - 0.01 s) = 1.81 s.
    let m = e.metrics(node(&e, "c2"));
    let worst = m.percentile_secs(1.0);
    assert!((1.808..=1.812).contains(&worst), "max {worst}");
    assert_eq!(counters(&e, "c2").processed, 20);
}

// ---- 8. live reconfiguration -----------------------------------------------------------

const RECONF_V1: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "orders", "rate": 10, "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
  "orders": {"kind": "bus", "rules": {"r1": {"pattern": {"source": ["app"]}, "targets": [{"to": "held"}]}}},
  "held": {"kind": "queue", "consumers": ["c"]},
  "c": {"kind": "consumer", "latency": {"fixed": "10ms"}, "concurrency": 1}
}}"#;

/// V1 plus a rule to a new consumer, and `c` slower but wider.
const RECONF_V2: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "orders", "rate": 10, "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
  "orders": {"kind": "bus", "rules": {
    "r1": {"pattern": {"source": ["app"]}, "targets": [{"to": "held"}]},
    "r2": {"pattern": {"detail-type": ["A"]}, "targets": [{"to": "c2"}]}}},
  "held": {"kind": "queue", "consumers": ["c"]},
  "c": {"kind": "consumer", "latency": {"fixed": "200ms"}, "concurrency": 4},
  "c2": {"kind": "consumer"}
}}"#;

/// V1 without the queue (and the rule feeding it).
const RECONF_V3: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "orders", "rate": 10, "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
  "orders": {"kind": "bus"},
  "c": {"kind": "consumer"}
}}"#;

#[test]
fn applying_a_new_design_keeps_queued_messages_and_takes_effect() {
    let mut e = engine(RECONF_V1, 1);
    act(&mut e, "at 0s: consumer c down for 12s");
    run_checked(&mut e, 10 * SEC);
    let before = counters(&e, "p").produced;
    assert!((100..=101).contains(&before), "{before}");
    assert_eq!(counters(&e, "held").depth, before);
    e.apply(compiled(RECONF_V2));
    assert_balanced(&e, "right after apply");
    assert_eq!(counters(&e, "held").depth, before, "nothing lost");
    assert_eq!(e.pending_copies(), before);
    assert_eq!(counters(&e, "p").produced, before, "counters survive");
    // `c` is still down until 12 s; then 4 at a time, 200 ms each.
    run_checked(&mut e, 12 * SEC);
    assert_eq!(counters(&e, "c").processed, 0, "still down");
    run_checked(&mut e, 13 * SEC);
    let done = counters(&e, "c").processed;
    assert!((16..=20).contains(&done), "the new latency applies: {done}");
    act(&mut e, "at 20s: producer p stop");
    run_checked(&mut e, 60 * SEC);
    let total = counters(&e, "p").produced;
    assert_eq!(
        counters(&e, "c").processed,
        total,
        "every message, old and new"
    );
    assert_eq!(
        counters(&e, "c2").processed,
        total - before,
        "r2 from apply on"
    );
    assert_eq!(counters(&e, "held").depth, 0);
    assert_eq!(e.pending_copies(), 0);
    assert_eq!(e.ledger().dropped, 0);
}

#[test]
fn removing_a_queue_drops_what_it_held_with_a_reason() {
    let mut e = traced(RECONF_V1, 1);
    act(&mut e, "at 0s: consumer c down");
    run_checked(&mut e, 5 * SEC);
    let held = counters(&e, "held").depth;
    assert!((50..=51).contains(&held), "{held}");
    let _ = e.drain_trace();
    let dropped_before = e.ledger().dropped;
    e.apply(compiled(RECONF_V3));
    assert_balanced(&e, "right after removing the queue");
    assert_eq!(e.ledger().dropped - dropped_before, held);
    assert_eq!(e.pending_copies(), 0);
    let removed = e
        .drain_trace()
        .iter()
        .filter(|h| h.kind == HopKind::Dropped("node removed"))
        .count() as u64;
    assert_eq!(
        removed, held,
        "each dropped message is traced with its reason"
    );
    // The bus now has no rule: new events are dropped as unmatched.
    run_checked(&mut e, 10 * SEC);
    assert!(drops(&e, "orders", "no rule matched") >= 49);
    assert_eq!(e.pending_copies(), 0);
}

/// A consumer busy with a message (5 s) from a queue that is removed meanwhile; new
/// messages then accumulate in another queue and reuse the freed storage.
const RECONF_BUSY_V1: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "held", "rate": 10, "limit": 3, "events": [{"detail": {"k": 1}}]},
  "held": {"kind": "queue", "consumers": ["c"]},
  "c": {"kind": "consumer", "latency": {"fixed": "5s"}, "concurrency": 1}
}}"#;

const RECONF_BUSY_V2: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "held", "rate": 10, "limit": 3, "events": [{"detail": {"k": 1}}]},
  "p2": {"kind": "producer", "to": "other", "rate": 10, "events": [{"detail": {"k": 2}}]},
  "c": {"kind": "consumer", "latency": {"fixed": "5s"}, "concurrency": 1},
  "other": {"kind": "queue"}
}}"#;

#[test]
fn removing_a_queue_while_its_consumer_works_does_not_touch_other_messages() {
    let mut e = engine(RECONF_BUSY_V1, 1);
    run_checked(&mut e, SEC);
    assert_eq!(counters(&e, "held").depth, 3);
    assert_eq!(counters(&e, "held").in_flight, 1);
    // "p" is unchanged but now points at a removed node; give it a target again.
    let v2 = RECONF_BUSY_V2.replace(r#""to": "held""#, r#""to": "other""#);
    e.apply(compiled(&v2));
    assert_balanced(&e, "after apply");
    run_checked(&mut e, 8 * SEC);
    assert_eq!(counters(&e, "c").processed, 0, "its message was removed");
    assert_eq!(counters(&e, "other").depth, e.pending_copies());
}

const RECONF_CONSUMER_V1: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 3, "events": [{"detail": {"k": 1}}]},
  "q": {"kind": "queue", "visibility_timeout": "2s", "consumers": ["w"]},
  "w": {"kind": "consumer", "latency": {"fixed": "5s"}, "concurrency": 1}
}}"#;

const RECONF_CONSUMER_V2: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 3, "events": [{"detail": {"k": 1}}]},
  "q": {"kind": "queue", "visibility_timeout": "2s"}
}}"#;

#[test]
fn removing_a_consumer_mid_message_returns_the_message_to_its_queue() {
    let mut e = engine(RECONF_CONSUMER_V1, 1);
    run_checked(&mut e, SEC);
    assert_eq!(counters(&e, "q").in_flight, 1);
    e.apply(compiled(RECONF_CONSUMER_V2));
    run_checked(&mut e, 20 * SEC);
    let q = counters(&e, "q");
    assert_eq!(
        (q.depth, q.in_flight),
        (3, 0),
        "all three wait for a consumer"
    );
    assert_eq!(e.ledger().processed, 0);
}

const BURSTY: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "orders", "rate": 10, "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
  "orders": {"kind": "bus", "rules": {"r": {"pattern": {"source": ["app"]}, "targets": [{"to": "q"}]}}},
  "q": {"kind": "queue"}
}}"#;

#[test]
fn applying_during_a_burst_keeps_the_burst_and_its_end() {
    let mut e = engine(BURSTY, 1);
    act(&mut e, "at 0s: producer p burst x10 for 10s");
    run_checked(&mut e, 5 * SEC);
    e.apply(compiled(BURSTY));
    run_checked(&mut e, 10 * SEC);
    let burst = counters(&e, "p").produced;
    assert!((995..=1005).contains(&burst), "100/s for 10 s: {burst}");
    run_checked(&mut e, 20 * SEC);
    let before = counters(&e, "p").produced;
    run_checked(&mut e, 30 * SEC);
    let after = counters(&e, "p").produced - before;
    assert_eq!(after, 100, "back to 10/s after the burst");
}

#[test]
fn applying_keeps_stopped_producers_and_disabled_rules() {
    let mut e = engine(BURSTY, 1);
    act(&mut e, "at 0s: rule orders/r disable");
    act(&mut e, "at 5s: producer p stop");
    run_checked(&mut e, 6 * SEC);
    let sent = counters(&e, "p").produced;
    assert_eq!(sent, 50);
    e.apply(compiled(BURSTY));
    run_checked(&mut e, 10 * SEC);
    assert_eq!(counters(&e, "p").produced, sent, "still stopped");
    assert_eq!(counters(&e, "q").depth, 0, "the rule is still disabled");
}

// ---- 9. the live router ----------------------------------------------------------------

mod live {
    use std::time::Duration;

    use eventyard::router::live::{Command, LiveRouter, Snapshot};
    use eventyard::router::{EngineOptions, PutResult};
    use tokio::sync::oneshot;
    use tokio::time::sleep;

    use super::compiled;

    const TOPOLOGY: &str = r#"{"eventyard": 1, "nodes": {
      "p": {"kind": "producer", "to": "orders", "rate": 10, "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
      "orders": {"kind": "bus", "rules": {"all": {"pattern": {"source": ["app"]}, "targets": [{"to": "held"}]}}},
      "held": {"kind": "queue"}
    }}"#;

    fn stat(
        s: &Snapshot,
        node: &str,
        pick: fn(&eventyard::router::metrics::Counters) -> u64,
    ) -> u64 {
        s.nodes
            .iter()
            .find(|(n, _, _)| n == node)
            .map(|(_, c, _)| pick(c))
            .unwrap_or_else(|| panic!("no node {node} in the snapshot"))
    }

    fn produced(r: &LiveRouter) -> u64 {
        stat(&r.stats.borrow(), "p", |c| c.produced)
    }

    async fn send(r: &LiveRouter, c: Command) {
        r.commands.send(c).await.expect("the router is running");
        // Let the router take the command and publish a snapshot.
        sleep(Duration::from_millis(1)).await;
    }

    #[tokio::test(start_paused = true)]
    async fn live_router_paces_pauses_steps_and_takes_put_events() {
        let router = LiveRouter::spawn(compiled(TOPOLOGY), EngineOptions::default(), 1.0);
        sleep(Duration::from_secs(10)).await;
        let first = produced(&router);
        assert!((99..=101).contains(&first), "about 10/s for 10 s: {first}");
        assert_eq!(
            stat(&router.stats.borrow(), "held", |c| c.depth),
            first,
            "each event routed to the queue"
        );

        send(&router, Command::Pause).await;
        let paused_at = produced(&router);
        let now = router.stats.borrow().now;
        sleep(Duration::from_secs(10)).await;
        assert!(router.stats.borrow().paused);
        assert_eq!(produced(&router), paused_at, "nothing happens while paused");
        assert_eq!(router.stats.borrow().now, now);

        send(&router, Command::Step).await;
        assert_eq!(produced(&router), paused_at + 1, "one step, one event");
        assert!(router.stats.borrow().now > now);

        let (reply, answer) = oneshot::channel();
        let entry = serde_json::json!({"Source": "app", "DetailType": "A", "Detail": "{}"});
        send(
            &router,
            Command::PutEvents {
                bus: "orders".into(),
                principal: "123456789012".into(),
                entries: vec![entry],
                reply,
            },
        )
        .await;
        let results = answer.await.expect("a reply").expect("a valid batch");
        assert!(
            matches!(results.as_slice(), [PutResult::Ok(_)]),
            "{results:?}"
        );
        assert_eq!(
            stat(&router.stats.borrow(), "orders", |c| c.received),
            paused_at + 2
        );

        send(&router, Command::Resume).await;
        let resumed = produced(&router);
        sleep(Duration::from_secs(5)).await;
        let n = produced(&router) - resumed;
        assert!((49..=51).contains(&n), "10/s again: {n}");
        assert!(!router.stats.borrow().paused);

        send(&router, Command::SetSpeed(4.0)).await;
        let fast = produced(&router);
        sleep(Duration::from_secs(5)).await;
        let n = produced(&router) - fast;
        assert!((196..=204).contains(&n), "four times faster: {n}");

        // A design reading the queue: its backlog drains without loss.
        let with_reader = TOPOLOGY.replace(
            r#""held": {"kind": "queue"}"#,
            r#""held": {"kind": "queue", "consumers": ["c"]}, "c": {"kind": "consumer"}"#,
        );
        send(&router, Command::Apply(compiled(&with_reader))).await;
        sleep(Duration::from_secs(2)).await;
        let snapshot = router.stats.borrow().clone();
        let held = stat(&snapshot, "held", |c| c.received);
        assert!(stat(&snapshot, "held", |c| c.depth) <= 1);
        assert!(stat(&snapshot, "c", |c| c.processed) + 1 >= held);

        let l = router.stats.borrow().ledger.clone();
        assert_eq!(
            l.created,
            l.processed + l.routed + l.dead_lettered + l.dropped + l.pending()
        );
        router.commands.send(Command::Stop).await.expect("running");
    }
}

// ---- 10. scenarios ---------------------------------------------------------------------

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ecommerce.json");

fn example_topology() -> Topology {
    let text = std::fs::read_to_string(EXAMPLE).expect("the example exists");
    Topology::from_json(&text).expect("the example loads")
}

fn example() -> Arc<Compiled> {
    Arc::new(compile(&example_topology(), None).unwrap_or_else(|p| panic!("{p:?}")))
}

fn run_scenario(compiled: Arc<Compiled>, name: &str) -> eventyard::router::RunReport {
    use eventyard::router::{Clock, RunOptions, run};
    let options = RunOptions {
        scenario: Some(name.to_string()),
        clock: Clock::Virtual,
        ..RunOptions::default()
    };
    run(compiled, &options, None).unwrap_or_else(|e| panic!("{name}: {e}"))
}

#[test]
fn every_scenario_of_the_example_passes() {
    let compiled = example();
    let names: Vec<String> = compiled.scenarios.keys().cloned().collect();
    assert_eq!(names, ["black-friday", "email-outage"]);
    for name in names {
        let report = run_scenario(compiled.clone(), &name);
        let failed: Vec<String> = report
            .assertions
            .iter()
            .filter(|a| !a.passed)
            .map(|a| format!("{} — {}", a.assertion, a.detail))
            .collect();
        assert!(report.passed(), "{name}: {failed:#?}");
        assert_eq!(
            report.assertions.len(),
            compiled.scenarios[&name].assertions.len()
        );
        let l = &report.ledger;
        assert_eq!(
            l.created - l.processed - l.routed - l.dead_lettered - l.dropped,
            report.pending
        );
    }
}

/// Every bundled example loads with no warnings, and each of its scenarios passes for
/// several seeds (the assertions are claims about the design, not about one draw).
#[test]
fn every_bundled_example_passes_its_scenarios() {
    use eventyard::router::{Clock, RunOptions, run};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .expect("examples/")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .collect();
    files.sort();
    let names: Vec<String> = files
        .iter()
        .filter_map(|p| p.file_stem().map(|s| s.to_string_lossy().into_owned()))
        .collect();
    assert_eq!(
        names,
        [
            "cross-region-replication",
            "ecommerce",
            "fanout",
            "heterogeneous-integration",
            "monitoring-alerting"
        ]
    );
    for file in files {
        let text = std::fs::read_to_string(&file).expect("readable");
        let topology = Topology::from_json(&text).unwrap_or_else(|e| panic!("{file:?}: {e}"));
        let compiled = Arc::new(
            compile(&topology, file.parent()).unwrap_or_else(|p| panic!("{file:?}: {p:#?}")),
        );
        assert!(!compiled.scenarios.is_empty(), "{file:?} has a scenario");
        for name in compiled.scenarios.keys() {
            for seed in [1, 7] {
                let options = RunOptions {
                    scenario: Some(name.clone()),
                    clock: Clock::Virtual,
                    seed,
                    ..RunOptions::default()
                };
                let report = run(compiled.clone(), &options, None)
                    .unwrap_or_else(|e| panic!("{file:?} {name}: {e}"));
                let failed: Vec<String> = report
                    .assertions
                    .iter()
                    .filter(|a| !a.passed)
                    .map(|a| format!("{} — {}", a.assertion, a.detail))
                    .collect();
                assert!(report.passed(), "{file:?} {name} seed {seed}: {failed:#?}");
                assert_eq!(report.ledger.pending(), report.pending, "{file:?} {name}");
            }
        }
    }
}

/// The example with one more scenario.
fn example_with(name: &str, duration: &str, actions: &[&str], assertions: &[&str]) -> Topology {
    let mut t = example_topology();
    t.scenarios.insert(
        name.into(),
        eventyard::model::Scenario {
            description: String::new(),
            duration: eventyard::model::Dur::parse(duration).expect("duration"),
            actions: actions.iter().map(ToString::to_string).collect(),
            assertions: assertions.iter().map(ToString::to_string).collect(),
        },
    );
    t
}

#[test]
fn an_assertion_that_does_not_hold_fails_the_run() {
    let t = example_with(
        "must-fail",
        "10s",
        &[],
        &[
            "dlq.billing > 100",
            "billing.processed > 100",
            "orders.dlq == 0",
        ],
    );
    let report = run_scenario(Arc::new(compile(&t, None).expect("compiles")), "must-fail");
    assert!(!report.passed());
    let verdicts: Vec<bool> = report.assertions.iter().map(|a| a.passed).collect();
    assert_eq!(verdicts, [false, true, true], "{:#?}", report.assertions);
}

#[test]
fn dlq_assertion_counts_a_consumers_dead_letters() {
    // Billing fails every event and its rule target retries none: each order placed
    // goes straight to billing-dlq because of billing's failures.
    let mut t = example_with(
        "billing-dead",
        "30s",
        &["at 0s: consumer billing error-rate 1"],
        &["dlq.billing > 0", "billing-dlq.depth > 0"],
    );
    if let Some(eventyard::model::Node::Bus(b)) = t.nodes.get_mut("orders") {
        b.rules.get_mut("to-billing").expect("rule").targets[0]
            .retry
            .maximum_retry_attempts = 0;
    }
    let report = run_scenario(
        Arc::new(compile(&t, None).expect("compiles")),
        "billing-dead",
    );
    assert!(report.passed(), "{:#?}", report.assertions);
}

const PROBED: &str = r#"{"eventyard": 1, "nodes": {
  "p": {"kind": "producer", "to": "bus", "rate": 10, "limit": 50,
    "events": [{"source": "app", "detail_type": "A", "detail": {}}]},
  "bus": {"kind": "bus", "rules": {"r": {"pattern": {"source": ["app"]},
    "targets": [{"to": "c", "retry": {"maximum_retry_attempts": 5, "maximum_event_age": "60s"}}]}}},
  "c": {"kind": "consumer", "latency": {"fixed": "100ms"}}
}, "scenarios": {
  "calm": {"duration": "20s", "assertions": [
    "every A reaches c within 200ms", "c.processed == 50", "c.p99 < 101ms", "c.p50 >= 99ms"]},
  "outage": {"duration": "20s", "actions": ["at 1s: consumer c down for 2s"], "assertions": [
    "every A reaches c within 200ms", "c.processed == 50"]}
}}"#;

#[test]
fn reach_and_latency_assertions_measure_end_to_end() {
    let compiled = compiled(PROBED);
    let calm = run_scenario(compiled.clone(), "calm");
    assert!(calm.passed(), "{:#?}", calm.assertions);
    assert!(
        calm.assertions[0]
            .detail
            .starts_with("50 reached in time, 0 late, 0 never arrived"),
        "{}",
        calm.assertions[0].detail
    );
    let outage = run_scenario(compiled, "outage");
    let verdicts: Vec<bool> = outage.assertions.iter().map(|a| a.passed).collect();
    assert_eq!(verdicts, [false, true], "{:#?}", outage.assertions);
    // Events put at 1.0 s ... 2.9 s meet a consumer that is down and arrive late.
    assert!(
        outage.assertions[0]
            .detail
            .starts_with("30 reached in time, 20 late, 0 never arrived"),
        "{}",
        outage.assertions[0].detail
    );
}

#[test]
fn a_producer_with_rate_zero_sends_only_when_told() {
    let topology = r#"{"eventyard": 1, "nodes": {
      "p": {"kind": "producer", "to": "q", "rate": 0, "events": [{"detail": {}}]},
      "q": {"kind": "queue"}
    }}"#;
    let mut e = engine(topology, 1);
    run_checked(&mut e, 5 * SEC);
    assert_eq!(
        counters(&e, "p").produced,
        0,
        "rate 0 sends nothing by itself"
    );
    let mut e = engine(topology, 1);
    act(&mut e, "at 1s: producer p rate 5 for 2s");
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "q").depth, 10, "5/s from 1 s to 3 s");
}

// ---- 11. the command line --------------------------------------------------------------

mod cli {
    use std::path::PathBuf;
    use std::process::{Command, Output};

    use super::EXAMPLE;

    /// A scratch directory for one test, removed when dropped.
    struct Scratch(PathBuf);

    impl Scratch {
        fn new(tag: &str) -> Scratch {
            let dir =
                std::env::temp_dir().join(format!("eventyard-router-{tag}-{}", std::process::id()));
            std::fs::create_dir_all(&dir).expect("scratch dir");
            Scratch(dir)
        }

        fn file(&self, name: &str, text: &str) -> PathBuf {
            let path = self.0.join(name);
            std::fs::write(&path, text).expect("write");
            path
        }

        fn path(&self, name: &str) -> PathBuf {
            self.0.join(name)
        }
    }

    impl Drop for Scratch {
        fn drop(&mut self) {
            let _ = std::fs::remove_dir_all(&self.0);
        }
    }

    fn eventyard(args: &[&std::ffi::OsStr]) -> (Option<i32>, String, String) {
        let Output {
            status,
            stdout,
            stderr,
        } = Command::new(env!("CARGO_BIN_EXE_eventyard"))
            .args(args)
            .output()
            .expect("run eventyard");
        (
            status.code(),
            String::from_utf8_lossy(&stdout).into_owned(),
            String::from_utf8_lossy(&stderr).into_owned(),
        )
    }

    const BROKEN: &str = r#"{"eventyard": 1, "nodes": {
      "p": {"kind": "producer", "to": "a", "rate": 1, "events": [{"source": "s", "detail_type": "d", "detail": {}}]},
      "a": {"kind": "bus", "rules": {
        "r1": {"pattern": {"source": ["s"]}, "targets": [{"to": "ghost"}]},
        "r2": {"pattern": {"source": ["s"]}, "targets": [
          {"to": "c"}, {"to": "c"}, {"to": "c"}, {"to": "c"}, {"to": "c"}, {"to": "c"}]},
        "r3": {"pattern": {"detail-type": "not-an-array"}, "targets": [{"to": "c"}]},
        "r4": {"pattern": {"source": ["s"]}, "targets": [{"to": "b"}]}}},
      "b": {"kind": "bus", "rules": {"back": {"pattern": {"source": ["s"]}, "targets": [{"to": "a"}]}}},
      "t.fifo": {"kind": "topic", "fifo": true, "subscriptions": {"s1": {"to": "std"}}},
      "std": {"kind": "queue", "consumers": ["c"]},
      "c": {"kind": "consumer"}
    }}"#;

    #[test]
    fn validate_prints_every_error_with_its_path() {
        let dir = Scratch::new("validate");
        let file = dir.file("broken.json", BROKEN);
        let (status, stdout, stderr) = eventyard(&["validate".as_ref(), file.as_os_str()]);
        assert_eq!(status, Some(2), "{stdout}{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
        let errors: Vec<&str> = stderr.lines().filter(|l| l.contains(": error: ")).collect();
        for (path, words) in [
            ("nodes.a.rules.r1.targets[0].to", "ghost"),
            ("nodes.a.rules.r2.targets", "at most 5"),
            ("nodes.a.rules.r3.pattern", ""),
            ("nodes.t.fifo.subscriptions.s1.to", "standard queue"),
            ("nodes.a.rules", "cycle"),
        ] {
            assert!(
                errors
                    .iter()
                    .any(|l| l.contains(&format!("error: {path}")) && l.contains(words)),
                "no error at {path} ({words}) in:\n{stderr}"
            );
        }
        assert!(errors.len() >= 5, "{stderr}");
        assert!(
            stdout.contains(&format!("{} errors", errors.len())),
            "{stdout}"
        );
    }

    #[test]
    fn validate_accepts_the_example() {
        let (status, stdout, stderr) = eventyard(&["validate".as_ref(), EXAMPLE.as_ref()]);
        assert_eq!(status, Some(0), "{stdout}{stderr}");
        assert!(stdout.contains("ok (14 nodes"), "{stdout}");
        assert!(!stderr.contains("error:"), "{stderr}");
    }

    #[test]
    fn validate_reports_a_syntax_error_with_line_and_column() {
        let dir = Scratch::new("syntax");
        let file = dir.file(
            "bad.json",
            "{\n  \"eventyard\": 1,\n  \"nodes\": {\n    \"p\": {\"kind\": \"producer\",, }\n  }\n}\n",
        );
        for command in ["validate", "run"] {
            let (status, stdout, stderr) = eventyard(&[command.as_ref(), file.as_os_str()]);
            assert_eq!(status, Some(2), "{command}: {stdout}{stderr}");
            assert!(!stderr.contains("panicked"), "{stderr}");
            assert!(stderr.contains("line 4, column"), "{command}: {stderr}");
        }
    }

    #[test]
    fn run_writes_stats_junit_and_trace() {
        let dir = Scratch::new("run");
        let (junit, trace) = (dir.path("out.xml"), dir.path("t.jsonl"));
        let (status, stdout, stderr) = eventyard(&[
            "run".as_ref(),
            EXAMPLE.as_ref(),
            "--virtual".as_ref(),
            "--quiet".as_ref(),
            "--scenario".as_ref(),
            "email-outage".as_ref(),
            "--junit".as_ref(),
            junit.as_os_str(),
            "--trace".as_ref(),
            trace.as_os_str(),
            "--trace-every".as_ref(),
            "5".as_ref(),
            "--stats".as_ref(),
            "json".as_ref(),
        ]);
        assert_eq!(status, Some(0), "{stderr}");
        let report: serde_json::Value = serde_json::from_str(&stdout).expect("stats are JSON");
        assert_eq!(report["scenario"], "email-outage");
        assert_eq!(report["assertions"].as_array().map(Vec::len), Some(5));
        assert!(
            report["produced"].as_u64().is_some_and(|n| n > 3000),
            "{}",
            report["produced"]
        );
        let xml = std::fs::read_to_string(&junit).expect("junit written");
        assert!(xml.contains(r#"tests="5" failures="0""#), "{xml}");
        assert_eq!(xml.matches("<testcase ").count(), 5, "{xml}");
        assert!(xml.contains(r#"name="dlq.billing == 0""#), "{xml}");
        let text = std::fs::read_to_string(&trace).expect("trace written");
        let mut lines = 0;
        for line in text.lines() {
            let hop: serde_json::Value = serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("trace line is not JSON ({e}): {line}"));
            assert!(hop["t_ms"].is_number() && hop["node"].is_string(), "{line}");
            lines += 1;
        }
        assert!(lines > 1000, "{lines} trace lines");
    }

    #[test]
    fn run_exits_1_when_an_assertion_fails() {
        let dir = Scratch::new("fail");
        let t = super::example_with("must-fail", "5s", &[], &["dlq.billing > 100"]);
        let file = dir.file("shop.json", &t.to_json());
        let junit = dir.path("out.xml");
        let (status, stdout, stderr) = eventyard(&[
            "run".as_ref(),
            file.as_os_str(),
            "--virtual".as_ref(),
            "--quiet".as_ref(),
            "--scenario".as_ref(),
            "must-fail".as_ref(),
            "--junit".as_ref(),
            junit.as_os_str(),
        ]);
        assert_eq!(status, Some(1), "{stdout}{stderr}");
        assert!(stdout.contains("FAIL  dlq.billing > 100"), "{stdout}");
        let xml = std::fs::read_to_string(&junit).expect("junit written");
        assert!(
            xml.contains(r#"failures="1""#) && xml.contains("<failure "),
            "{xml}"
        );
        let (status, _, stderr) = eventyard(&[
            "run".as_ref(),
            file.as_os_str(),
            "--virtual".as_ref(),
            "--scenario".as_ref(),
            "nope".as_ref(),
        ]);
        assert_eq!(status, Some(2), "unknown scenario: {stderr}");
        assert!(stderr.contains("no scenario named `nope`"), "{stderr}");
    }
}

/// Malformed and mutated topology files never panic: loading reports an error, or the
/// design compiles with problems, or it runs (briefly) with its ledger balanced.
#[test]
fn mutated_topology_files_never_panic() {
    use rand::{Rng, SeedableRng};
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/examples");
    let texts: Vec<String> = ["ecommerce", "fanout", "heterogeneous-integration"]
        .iter()
        .map(|n| std::fs::read_to_string(format!("{dir}/{n}.json")).expect("example"))
        .collect();
    let mut rng = rand_pcg::Pcg64Mcg::seed_from_u64(7);
    let pieces = [
        "",
        "{",
        "}",
        "[",
        "]",
        "\"",
        ",",
        ":",
        "0",
        "-1",
        "1e999",
        "null",
        "true",
        "\"x\"",
        "{\"$int\": [9, 1]}",
        "\"${int:5..1}\"",
        "\"at 1s: consumer nobody down\"",
        "\"kind\": \"queue\"",
        "\"fifo\": true",
        "\"to\": \"nowhere\"",
    ];
    let values = [
        "null",
        "0",
        "-1",
        "1e300",
        "\"\"",
        "\"x\"",
        "[]",
        "{}",
        "true",
        "{\"$int\": [9, 1]}",
        "\"${int:5..1}\"",
        "[\"at 1s: consumer nobody down\"]",
        "{\"kind\": \"queue\", \"fifo\": true}",
        "\"nowhere\"",
        "\"5s\"",
        "100000",
        "{\"numeric\": [\">\", 5]}",
        "[{\"prefix\": \"\"}]",
        "{\"fixed\": \"0s\"}",
    ];
    let (mut loaded, mut compiled_ok, mut ran) = (0, 0, 0);
    // More rounds for a longer hunt: EVENTYARD_MUTATION_ROUNDS=20000.
    let rounds: usize = std::env::var("EVENTYARD_MUTATION_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(240);
    for round in 0..rounds {
        let mut text = texts[round % texts.len()].clone();
        if round % 2 == 0 {
            // Value-level: replace one value anywhere in the file (keeps it JSON).
            let mut doc: serde_json::Value = serde_json::from_str(&text).expect("json");
            let mut pointers = Vec::new();
            collect_pointers(&doc, String::new(), &mut pointers);
            for _ in 0..rng.random_range(1..3) {
                let at = &pointers[rng.random_range(0..pointers.len())];
                let value = values[rng.random_range(0..values.len())];
                if let Some(slot) = doc.pointer_mut(at) {
                    *slot = serde_json::from_str(value).expect("value");
                }
            }
            text = doc.to_string();
        }
        for _ in 0..rng.random_range(0..3) * (round % 2) {
            let mut at = rng.random_range(0..text.len());
            while !text.is_char_boundary(at) {
                at -= 1;
            }
            let mut end = (at + rng.random_range(0..24)).min(text.len());
            while !text.is_char_boundary(end) {
                end -= 1;
            }
            let piece = pieces[rng.random_range(0..pieces.len())];
            text.replace_range(at..end, piece);
        }
        let Ok(topology) = Topology::from_json(&text) else {
            continue;
        };
        loaded += 1;
        let Ok(compiled) = compile(&topology, None) else {
            continue;
        };
        compiled_ok += 1;
        let mut e = Engine::new(Arc::new(compiled.clone()), EngineOptions::default());
        for s in compiled.scenarios.values() {
            for a in &s.actions {
                e.schedule_action(a.clone());
            }
        }
        e.run_until(2 * SEC);
        assert_eq!(e.ledger().pending(), e.pending_copies(), "round {round}");
        ran += 1;
    }
    // The mutations must exercise every stage, not only the parser.
    assert!(
        loaded > 60 && compiled_ok > 20 && ran > 20,
        "{loaded} {compiled_ok} {ran}"
    );
}

fn collect_pointers(v: &serde_json::Value, at: String, out: &mut Vec<String>) {
    out.push(at.clone());
    let escape = |k: &str| k.replace('~', "~0").replace('/', "~1");
    match v {
        serde_json::Value::Object(map) => {
            for (k, child) in map {
                collect_pointers(child, format!("{at}/{}", escape(k)), out);
            }
        }
        serde_json::Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                collect_pointers(child, format!("{at}/{i}"), out);
            }
        }
        _ => {}
    }
}

/// A zero visibility timeout with work that fails instantly and no DLQ must not stop
/// simulated time (the message is received again, forever, but time moves on).
#[test]
fn instant_failures_with_zero_visibility_do_not_stop_time() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 3, "events": [{"detail": {"n": 1}}]},
          "q": {"kind": "queue", "visibility_timeout": "0s", "consumers": ["c"]},
          "c": {"kind": "consumer", "latency": {"fixed": "0s"}, "error_rate": 1.0}
        }}"#,
        1,
    );
    run_checked(&mut e, 2 * SEC);
    assert_eq!(e.now(), 2 * SEC);
    let c = counters(&e, "c");
    assert_eq!(c.processed, 0);
    // Each of the 3 messages is received about once per millisecond.
    assert!((5_000..=6_001).contains(&c.failed), "{}", c.failed);
    assert_eq!(counters(&e, "q").depth, 3);
}

/// Latencies and action lengths near the end of time saturate instead of overflowing.
#[test]
fn huge_durations_saturate() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 10, "limit": 2, "events": [{"detail": {"n": 1}}]},
          "q": {"kind": "queue", "consumers": ["c"]},
          "c": {"kind": "consumer", "latency": {"fixed": "200000d"}}
        }}"#,
        1,
    );
    act(&mut e, "at 0s: consumer c latency +200000d for 200000d");
    run_checked(&mut e, 5 * SEC);
    assert_eq!(counters(&e, "c").processed, 0);
    assert_eq!(counters(&e, "q").in_flight, 2);
}

/// Overlapping timed actions on one setting: each restores only what it set.
#[test]
fn overlapping_error_rate_actions_restore_the_right_value() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q", "rate": 100, "events": [{"detail": {"n": 1}}]},
          "q": {"kind": "queue", "consumers": ["c"]},
          "c": {"kind": "consumer", "latency": {"fixed": "1ms"}, "concurrency": 100}
        }}"#,
        1,
    );
    act(&mut e, "at 1s: consumer c error-rate 1 for 2s");
    act(&mut e, "at 2s: consumer c error-rate 1 for 3s");
    // Between the first action's end (3 s) and the second's (5 s) everything still fails.
    run_checked(&mut e, 3500 * MS);
    let at_3_5 = counters(&e, "c").failed;
    run_checked(&mut e, 4500 * MS);
    assert!(
        counters(&e, "c").failed - at_3_5 >= 90,
        "the second action still holds"
    );
    run_checked(&mut e, 6 * SEC);
    let failed_by_6s = counters(&e, "c").failed;
    run_checked(&mut e, 10 * SEC);
    // Both ended by 5 s: from then on nothing fails (the first action's end at 3 s
    // must not leave a stale 1.0 behind, the second's end must restore 0).
    assert_eq!(counters(&e, "c").failed, failed_by_6s);
    assert!(failed_by_6s > 300, "{failed_by_6s}");
}

/// A FIFO duplicate sent to a full queue is accepted and dropped (SQS), not refused;
/// a refused send does not count as seen.
#[test]
fn fifo_duplicates_to_a_full_queue_are_dropped_not_refused() {
    let mut e = engine(
        r#"{"eventyard": 1, "nodes": {
          "p": {"kind": "producer", "to": "q.fifo", "rate": 10, "limit": 4,
                "events": [{"detail": {"n": 1}, "group_id": "g", "dedup_id": "same"}]},
          "q.fifo": {"kind": "queue", "fifo": true, "capacity": 1}
        }}"#,
        1,
    );
    run_checked(&mut e, 2 * SEC);
    let q = counters(&e, "q.fifo");
    assert_eq!((q.depth, q.refused), (1, 0));
    assert_eq!(drops(&e, "q.fifo", "duplicate within 5 minutes"), 3);
}

/// Consumers whose work is instant process copies on arrival (no letter is made): every
/// copy is counted, traced and probed as on the long way, a single slot is enough for
/// any number of copies arriving together, and a consumer that is down fails them.
#[test]
fn instant_consumers_process_on_arrival() {
    let json = r#"{"eventyard": 1, "nodes": {
      "p": {"kind": "producer", "to": "bus", "rate": 500, "events": [{"source": "s.x", "detail_type": "T", "detail": {"n": 7}}]},
      "bus": {"kind": "bus", "rules": {
        "a": {"pattern": {"source": [{"prefix": "s."}]}, "targets": [{"to": "tiny"}, {"to": "tiny", "input_path": "$.detail"}]},
        "b": {"pattern": {"detail-type": ["T"]}, "targets": [{"to": "tiny"}]}}},
      "tiny": {"kind": "consumer", "latency": {"fixed": "0s"}, "concurrency": 1}
    }}"#;
    let mut e = traced(json, 1);
    e.add_reach_probe("T", "tiny", 0);
    e.run_until(2 * SEC);
    let c = counters(&e, "tiny").clone();
    let produced = counters(&e, "p").produced;
    assert!(produced > 900, "{produced}");
    assert_eq!(c.received, 3 * produced);
    assert_eq!(c.processed, 3 * produced);
    assert_eq!((c.failed, c.throttled, c.max_depth, c.depth), (0, 0, 1, 0));
    let hops = e.drain_trace();
    let tiny = node(&e, "tiny");
    let started = hops
        .iter()
        .filter(|h| h.node == tiny && e.describe(h) == "processing")
        .count();
    assert_eq!(started as u64, 3 * produced);
    assert_eq!(e.ledger().processed, 3 * produced);
    assert_eq!(e.pending_copies(), 0);
}

/// Account and region are written into event envelopes and ARNs as they are: text that
/// would need escaping there is an error at its place, not a malformed event later.
#[test]
fn account_and_region_may_not_need_escaping() {
    let json = r#"{"eventyard": 1, "nodes": {
      "p": {"kind": "producer", "to": "bus", "rate": 1, "region": "eu-\"west\"-1", "events": [{"source": "s", "detail_type": "T", "detail": {}}]},
      "bus": {"kind": "bus", "account": "12345678901\\", "rules": {}}
    }}"#;
    let topology = Topology::from_json(json).expect("loads");
    let Err(problems) = compile(&topology, None) else {
        panic!("must not compile");
    };
    let paths: Vec<String> = problems
        .iter()
        .filter(|p| p.to_string().contains("may not contain quotes"))
        .map(|p| p.path.clone())
        .collect();
    assert_eq!(
        paths,
        ["nodes.bus.account", "nodes.p.region"],
        "{problems:?}"
    );
}
