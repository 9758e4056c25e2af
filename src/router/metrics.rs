//! Counters, gauges and latency histograms per node and per edge.
//!
//! Latencies are end to end (from the moment the producer sent the event to the moment
//! a consumer finished it), recorded in microseconds in an HDR histogram (3 significant
//! digits), so p50/p90/p99 are exact to 0.1 % whatever the run length.

use std::collections::BTreeMap;

use hdrhistogram::Histogram;
use serde::Serialize;

/// Counters of one node. Which ones move depends on the kind (see ARCHITECTURE.md).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Counters {
    /// Events/messages that arrived.
    #[serde(rename = "in")]
    pub received: u64,
    /// Bus: events matching at least one rule. Topic: subscription copies that passed their filter.
    pub matched: u64,
    /// Bus: events matching no rule. Topic: subscription copies filtered out.
    pub filtered: u64,
    /// Deliveries that succeeded (to the next node, or processed by a consumer).
    pub delivered: u64,
    /// Attempts that failed (errors, timeouts, throttles, down).
    pub failed: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Messages sent to a dead-letter queue because of this node's failures.
    pub dlq: u64,
    /// Messages dropped (see the node's drop reasons).
    pub dropped: u64,
    /// Puts refused (bus policy, full queue, PutEvents validation).
    pub refused: u64,
    /// Pushes refused because every slot was busy.
    pub throttled: u64,
    /// Producer: events sent.
    pub produced: u64,
    /// Consumer: events processed successfully.
    pub processed: u64,
    /// Queue: messages waiting (visible or in flight). Consumer: events being processed.
    pub depth: u64,
    /// Largest depth seen.
    pub max_depth: u64,
    /// Queue: messages received and not yet deleted.
    pub in_flight: u64,
}

/// Everything measured about one node.
#[derive(Clone, Debug)]
pub struct NodeMetrics {
    /// Counters.
    pub counters: Counters,
    /// Why messages were dropped, with counts.
    pub drop_reasons: BTreeMap<&'static str, u64>,
    /// End-to-end latency of processed events, microseconds (consumers).
    pub latency: Histogram<u64>,
}

impl Default for NodeMetrics {
    fn default() -> Self {
        NodeMetrics {
            counters: Counters::default(),
            drop_reasons: BTreeMap::new(),
            latency: new_histogram(),
        }
    }
}

/// A histogram for microsecond latencies up to ~1 year, 3 significant digits.
pub fn new_histogram() -> Histogram<u64> {
    // Constant, valid bounds (low ≥ 1, high ≥ 2 × low, 3 digits): this cannot fail.
    Histogram::new_with_bounds(1, 365 * 86_400 * 1_000_000, 3)
        .unwrap_or_else(|e| panic!("hdrhistogram rejected constant bounds: {e}"))
}

impl NodeMetrics {
    /// Counts a drop with its reason.
    pub fn drop(&mut self, reason: &'static str) {
        self.counters.dropped += 1;
        *self.drop_reasons.entry(reason).or_default() += 1;
    }

    /// Records an end-to-end latency in nanoseconds.
    pub fn record_latency(&mut self, nanos: u64) {
        // Saturates at the histogram's top instead of failing.
        self.latency.saturating_record((nanos / 1_000).max(1));
    }

    /// Sets the depth gauge and tracks its maximum.
    pub fn set_depth(&mut self, depth: u64) {
        self.counters.depth = depth;
        self.counters.max_depth = self.counters.max_depth.max(depth);
    }

    /// A latency percentile in seconds (0 when nothing was recorded).
    pub fn percentile_secs(&self, q: f64) -> f64 {
        if self.latency.is_empty() {
            0.0
        } else {
            self.latency.value_at_quantile(q) as f64 / 1e6
        }
    }
}

/// Counters of one edge (a rule target, a subscription, a producer's sends, a queue's
/// consumers).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct EdgeCounters {
    /// Messages that went along the edge (attempted).
    pub sent: u64,
    /// Deliveries that succeeded.
    pub delivered: u64,
    /// Attempts that failed.
    pub failed: u64,
    /// Retries scheduled.
    pub retried: u64,
    /// Messages sent to a DLQ from this edge.
    pub dlq: u64,
    /// Copies the subscription's filter policy rejected.
    pub filtered: u64,
}

/// Global accounting of every message copy: each one created ends in exactly one
/// outcome, or is still pending.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Ledger {
    /// Message copies created (produced events, fanout copies, retries excluded).
    pub created: u64,
    /// Copies a consumer processed successfully.
    pub processed: u64,
    /// Copies a bus or topic consumed while routing them on (the copies they made are
    /// counted in `created`).
    pub routed: u64,
    /// Copies moved to a dead-letter queue (the DLQ's copy is counted in `created`).
    pub dead_lettered: u64,
    /// Copies dropped with a reason (no rule matched, filtered, expired, refused...).
    pub dropped: u64,
}

impl Ledger {
    /// Copies that have not reached an outcome yet.
    pub fn pending(&self) -> u64 {
        self.created - self.processed - self.routed - self.dead_lettered - self.dropped
    }
}
