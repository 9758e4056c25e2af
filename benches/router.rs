//! Router benchmarks (custom harness; figures go to the README).
//!
//! - `realtime`: the real-time engine, headless, in-process producer and sinks, 100
//!   rules on one bus and 3 targets per matched event. First the saturation rate
//!   (events/s the engine sustains with the clock out of the way), then paced runs at
//!   fractions of it on the wall clock, reporting achieved rate and the lag p50/p99
//!   between when events were due and when they had been delivered.
//! - `virtual`: the e-commerce example (`examples/ecommerce.json`) on virtual time until
//!   N events were produced (default 10,000,000; `EVENTYARD_BENCH_EVENTS` overrides),
//!   reporting the time taken and peak RSS (memory must stay flat: bounded traces).
//!
//! Run: `cargo bench --no-default-features --bench router [-- realtime|virtual]`.

use std::sync::Arc;
use std::time::Instant;

/// The same allocator as the `eventyard` binary.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use eventyard::model::{Compiled, Topology, compile};
use eventyard::router::run::drive_real;
use eventyard::router::{Engine, EngineOptions};

/// 100 rules, as on a busy event bus: each routes one event type (exact
/// `detail-type`, a `source` prefix) with one content condition (numeric range,
/// anything-but, exists, prefix — a mix). 97 route types this workload never sends;
/// 3 route `OrderPlaced` to one sink each, so every event is matched by 3 rules.
fn realtime_topology(rate: f64) -> Arc<Compiled> {
    let mut rules = serde_json::Map::new();
    for i in 0..97 {
        let condition = match i % 4 {
            0 => serde_json::json!({"amount": [{"numeric": [">", i * 10]}]}),
            1 => serde_json::json!({"status": [{"anything-but": ["cancelled", "void"]}]}),
            2 => serde_json::json!({"customer": {"tier": [{"exists": true}]}}),
            _ => serde_json::json!({"sku": [{"prefix": format!("SKU-{i}")}]}),
        };
        rules.insert(
            format!("type-{i:03}"),
            serde_json::json!({
                "pattern": {"source": [{"prefix": "svc."}], "detail-type": [format!("Type{i:03}Changed")], "detail": condition},
                "targets": [{"to": "sink-a"}]
            }),
        );
    }
    let matching = [
        serde_json::json!({"amount": [{"numeric": [">", 0]}]}),
        serde_json::json!({"status": [{"anything-but": ["cancelled"]}]}),
        serde_json::json!({"sku": [{"prefix": "SKU-"}]}),
    ];
    for (i, (sink, condition)) in ["sink-a", "sink-b", "sink-c"]
        .iter()
        .zip(matching)
        .enumerate()
    {
        rules.insert(
            format!("orders-{i}"),
            serde_json::json!({
                "pattern": {"source": [{"prefix": "svc."}], "detail-type": ["OrderPlaced"], "detail": condition},
                "targets": [{"to": sink}]
            }),
        );
    }
    let sink = serde_json::json!({"kind": "consumer", "latency": {"fixed": "0s"}, "concurrency": 1_000_000});
    let topology = serde_json::json!({
        "eventyard": 1,
        "nodes": {
            "load": {"kind": "producer", "to": "bus", "rate": rate, "events": [{
                "source": "svc.shop", "detail_type": "OrderPlaced",
                "detail": {"orderId": "${seq}", "amount": {"$int": [1, 500]}, "status": "new", "sku": "SKU-${int:100..999}"}
            }]},
            "bus": {"kind": "bus", "rules": rules},
            "sink-a": sink, "sink-b": sink, "sink-c": sink
        }
    });
    build(&topology.to_string())
}

fn build(text: &str) -> Arc<Compiled> {
    let topology = match Topology::from_json(text) {
        Ok(t) => t,
        Err(e) => panic!("benchmark topology does not load: {e}"),
    };
    match compile(&topology, None) {
        Ok(c) => Arc::new(c),
        Err(problems) => panic!("benchmark topology has problems: {problems:?}"),
    }
}

fn delivered(engine: &Engine) -> u64 {
    engine
        .all_metrics()
        .iter()
        .map(|m| m.counters.processed)
        .sum()
}

fn saturation() {
    // A producer far faster than the engine, run on virtual time.
    let events: u64 = std::env::var("EVENTYARD_BENCH_SATURATION")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000);
    let mut engine = Engine::new(realtime_topology(10_000_000.0), EngineOptions::default());
    let started = Instant::now();
    engine.run_until(events * 100); // at 10 M/s of simulated time (the most a producer may send)
    let secs = started.elapsed().as_secs_f64();
    let events = engine
        .all_metrics()
        .iter()
        .map(|m| m.counters.produced)
        .sum::<u64>();
    let saturation = events as f64 / secs;
    println!(
        "saturation: {events} events, {} deliveries in {secs:.2}s = {saturation:.0} events/s ({:.0} deliveries/s)",
        delivered(&engine),
        delivered(&engine) as f64 / secs
    );
}

fn realtime() {
    let runtime = match tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => panic!("tokio: {e}"),
    };
    // `EVENTYARD_BENCH_RATES=300000,1000000` picks the paced rates.
    let rates: Vec<f64> = std::env::var("EVENTYARD_BENCH_RATES")
        .ok()
        .map(|v| v.split(',').filter_map(|r| r.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100_000.0, 300_000.0, 500_000.0, 700_000.0, 1_000_000.0]);
    for rate in rates {
        let mut engine = Engine::new(realtime_topology(rate), EngineOptions::default());
        let wall = Instant::now();
        let pacing = runtime.block_on(drive_real(
            &mut engine,
            3_000_000_000,
            1.0,
            false,
            &mut None,
        ));
        let secs = wall.elapsed().as_secs_f64();
        let Ok(pacing) = pacing else { continue };
        let produced = engine
            .all_metrics()
            .iter()
            .map(|m| m.counters.produced)
            .sum::<u64>();
        println!(
            "realtime/paced {rate:>9.0}/s: {produced} events in {secs:.2}s wall = {:.0} events/s end to end; lag p50 {}us p99 {}us max {}us",
            produced as f64 / secs,
            pacing.lag_us.value_at_quantile(0.5),
            pacing.lag_us.value_at_quantile(0.99),
            pacing.lag_us.max()
        );
    }
}

fn peak_rss_kb() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1).map(str::to_string))
        })
        .and_then(|v| v.parse().ok())
        .unwrap_or(0)
}

fn virtual_ecommerce() {
    let target: u64 = std::env::var("EVENTYARD_BENCH_EVENTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000_000);
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/examples/ecommerce.json");
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) => panic!("{path}: {e}"),
    };
    let mut engine = Engine::new(build(&text), EngineOptions::default());
    let started = Instant::now();
    let mut t = 0;
    let mut checkpoints = Vec::new();
    loop {
        t += 100_000_000_000; // 100 simulated seconds per slice
        engine.run_until(t);
        let produced = engine
            .all_metrics()
            .iter()
            .map(|m| m.counters.produced)
            .sum::<u64>();
        if checkpoints.len() < 10 && produced >= (checkpoints.len() as u64 + 1) * target / 10 {
            checkpoints.push(peak_rss_kb());
        }
        if produced >= target {
            let secs = started.elapsed().as_secs_f64();
            let l = engine.ledger();
            println!(
                "virtual/ecommerce: {produced} events ({} copies, {} processed) in {secs:.2}s = {:.0} events/s; {:.0} simulated seconds",
                l.created,
                l.processed,
                produced as f64 / secs,
                t as f64 / 1e9
            );
            println!("virtual/ecommerce: peak RSS (KB) at each tenth of the run: {checkpoints:?}");
            return;
        }
    }
}

fn main() {
    let which: Vec<String> = std::env::args()
        .skip(1)
        .filter(|a| !a.starts_with('-'))
        .collect();
    let wants = |name: &str| which.is_empty() || which.iter().any(|w| name.contains(w.as_str()));
    if wants("saturation") {
        saturation();
    }
    if wants("realtime") {
        realtime();
    }
    if wants("virtual") {
        virtual_ecommerce();
    }
}
