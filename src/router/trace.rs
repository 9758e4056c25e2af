//! Per-event traces: the hops a sampled event took, with times and decisions.
//!
//! Which events are traced is decided once, when the event is produced (every Nth,
//! up to a limit), so a traced event is followed through every copy it fans out to.
//! Hops wait in a bounded buffer until a driver drains them (to a JSON Lines file, or
//! as flow events to the UI); when nobody drains, hops beyond the bound are counted,
//! never blocking the router.

use std::fmt;

use super::engine::{Message, SimTime};
use crate::model::NodeId;

/// Which events to trace.
#[derive(Clone, Debug)]
pub struct TraceOptions {
    /// Trace one event in this many (0: trace nothing).
    pub every: u64,
    /// Stop choosing new events after this many.
    pub limit: u64,
    /// Most hops held before a drain.
    pub buffer: usize,
}

impl Default for TraceOptions {
    fn default() -> Self {
        TraceOptions {
            every: 0,
            limit: 0,
            buffer: 65_536,
        }
    }
}

/// What happened at a hop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum HopKind {
    /// A producer sent the event.
    Produced,
    /// A bus rule (by index) matched.
    Matched(u32),
    /// No rule of the bus matched.
    NoMatch,
    /// A subscription (by index) filtered the message out.
    Filtered(u32),
    /// An archive kept the event.
    Archived,
    /// A queue accepted the message.
    Queued,
    /// A consumer started processing.
    Started,
    /// A consumer finished successfully.
    Processed,
    /// A consumer failed (error code).
    Failed(&'static str),
    /// A retry was scheduled (retry number, error code).
    Retry(u32, &'static str),
    /// The message went to a dead-letter queue.
    DeadLettered,
    /// The message was dropped (reason).
    Dropped(&'static str),
}

impl fmt::Display for HopKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HopKind::Produced => f.write_str("produced"),
            HopKind::Matched(r) => write!(f, "matched rule #{r}"),
            HopKind::NoMatch => f.write_str("no rule matched"),
            HopKind::Filtered(s) => write!(f, "filtered by subscription #{s}"),
            HopKind::Archived => f.write_str("archived"),
            HopKind::Queued => f.write_str("queued"),
            HopKind::Started => f.write_str("processing"),
            HopKind::Processed => f.write_str("processed"),
            HopKind::Failed(code) => write!(f, "failed: {code}"),
            HopKind::Retry(n, code) => write!(f, "retry {n} after {code}"),
            HopKind::DeadLettered => f.write_str("sent to dead-letter queue"),
            HopKind::Dropped(reason) => write!(f, "dropped: {reason}"),
        }
    }
}

/// One step of a traced event.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Hop {
    /// When.
    pub t: SimTime,
    /// Which produced event (its sequence number in the run).
    pub root: u64,
    /// Where.
    pub node: NodeId,
    /// What happened.
    pub kind: HopKind,
}

/// Records hops of traced events into a bounded buffer.
#[derive(Debug)]
pub struct Tracer {
    options: TraceOptions,
    chosen: u64,
    hops: Vec<Hop>,
    overflow: u64,
}

impl Tracer {
    /// A tracer with these options.
    pub fn new(options: TraceOptions) -> Tracer {
        Tracer {
            options,
            chosen: 0,
            hops: Vec::new(),
            overflow: 0,
        }
    }

    /// Decides whether the event with this sequence number is traced.
    pub fn wants(&mut self, root: u64) -> bool {
        let o = &self.options;
        if o.every == 0 || self.chosen >= o.limit || !root.is_multiple_of(o.every) {
            return false;
        }
        self.chosen += 1;
        true
    }

    /// Records a hop of `msg` if it is traced.
    #[inline]
    pub fn hop(&mut self, msg: &Message, t: SimTime, node: NodeId, kind: HopKind) {
        if !msg.traced {
            return;
        }
        if self.hops.len() >= self.options.buffer {
            self.overflow += 1;
            return;
        }
        self.hops.push(Hop {
            t,
            root: msg.root,
            node,
            kind,
        });
    }

    /// Takes the recorded hops.
    pub fn drain(&mut self) -> Vec<Hop> {
        std::mem::take(&mut self.hops)
    }

    /// Hops lost because the buffer was full.
    pub fn overflow(&self) -> u64 {
        self.overflow
    }
}
