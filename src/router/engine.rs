//! The router core: a discrete-event engine that moves real events through a compiled
//! topology.
//!
//! Every state change happens at a simulated instant ([`SimTime`], nanoseconds since the
//! run began) in a strict order (time, then scheduling order), so the same topology,
//! seed and inputs give the same trace. Drivers decide how simulated time relates to
//! the wall clock: [`super::live`] paces it to real time (with a speed factor, pause and
//! single-step), [`super::run()`] runs it as fast as the CPU allows (virtual time).
//!
//! Message copies live in a slab while they wait (in a queue, a consumer, or for a
//! retry); the [`Ledger`] counts every copy's outcome so that
//! `created = processed + routed + dead-lettered + dropped + pending` always holds.

use std::cmp::Reverse;
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::sync::Arc;

use rand::{Rng, SeedableRng};
use rand_distr::{Distribution, StandardNormal};
use rand_pcg::Pcg64Mcg;
use slab::Slab;

use super::messages::{Messages, MsgKey};
use super::metrics::{EdgeCounters, Ledger, NodeMetrics};
use super::produce::{Prepared, RouteBody, Routes};
use super::trace::{Hop, HopKind, TraceOptions, Tracer};
use crate::model::compile::{
    CompiledArchive, CompiledConsumer, CompiledProducer, CompiledQueue, CompiledTopic,
};
use crate::model::scenario::{Action, ActionKind};
use crate::model::{Compiled, CompiledBus, CompiledNode, Latency, NodeId};
use crate::pattern::{RuleId, Scratch};

/// Simulated time: nanoseconds since the run began.
pub type SimTime = u64;

/// How far apart FIFO deduplication ids are remembered (SNS and SQS: 5 minutes).
pub const DEDUP_WINDOW: SimTime = 300 * 1_000_000_000;
/// First EventBridge retry delay; doubles per retry up to [`RETRY_CAP`].
pub const RETRY_BASE: SimTime = 1_000_000_000;
/// Longest EventBridge retry delay.
pub const RETRY_CAP: SimTime = 300 * 1_000_000_000;
/// The earliest a failed queue message is received again (simulated ns); AWS allows a
/// zero visibility timeout, which with instantly failing work would stop time.
pub const MIN_REDELIVERY: SimTime = 1_000_000;
/// Most events a producer prepares at once.
const FILL_BATCH: usize = 4096;
/// A background batch holds at least this much of a producer's time (seconds).
const PREFETCH_AHEAD_SECS: f64 = 0.001;
/// Batches at least this large are prepared on all cores.
const PARALLEL_FILL: usize = 256;

/// One message as created by a producer or a transformation; copies share it.
#[derive(Debug)]
pub struct Message {
    /// The body: an EventBridge event or a message body (JSON text).
    pub body: String,
    /// The produced event this copy descends from.
    pub root: u64,
    /// When that event was produced.
    pub produced_at: SimTime,
    /// Index of its `detail-type` among the tracked ones (`u32::MAX`: not tracked).
    pub tracked_type: u32,
    /// Whether this event is traced.
    pub traced: bool,
    /// For an event as its producer wrote it: which of the producer's events it is (its
    /// body can be written again from that, identically; archives keep only this).
    pub origin: Option<Origin>,
    /// What few messages carry (kept apart, so that the many without it are small to
    /// move): attributes, FIFO ids, DLQ attributes.
    pub extra: Option<Box<Extra>>,
}

/// The rarely set parts of a [`Message`].
#[derive(Debug, Default)]
pub struct Extra {
    /// SNS/SQS message attributes (`{"name": {"Type": "String", "Value": "x"}}`).
    pub attributes: Option<String>,
    /// FIFO message group.
    pub group_id: Option<Arc<str>>,
    /// FIFO deduplication id.
    pub dedup_id: Option<Arc<str>>,
    /// Set when the message was dead-lettered: the attributes EventBridge/SNS add.
    pub dlq_attributes: Option<BTreeMap<&'static str, String>>,
}

impl Extra {
    /// Boxed, or `None` when nothing is set.
    fn boxed(self) -> Option<Box<Extra>> {
        let set = self.attributes.is_some()
            || self.group_id.is_some()
            || self.dedup_id.is_some()
            || self.dlq_attributes.is_some();
        set.then(|| Box::new(self))
    }
}

/// Which of its producer's events a message is (see [`super::produce::prepare`]).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Origin {
    /// The producer's sequence number.
    pub seq: u64,
    /// When it was due (simulated ns, fractional).
    pub time: f64,
}

impl Message {
    /// A new message carrying `body` that descends from this one: same produced event
    /// (root, time, tracked type, tracing); no attributes, FIFO ids or DLQ attributes.
    fn descendant(&self, body: String) -> Message {
        Message {
            body,
            root: self.root,
            produced_at: self.produced_at,
            tracked_type: self.tracked_type,
            traced: self.traced,
            origin: None,
            extra: None,
        }
    }

    /// SNS/SQS message attributes.
    pub fn attributes(&self) -> Option<&str> {
        self.extra.as_ref()?.attributes.as_deref()
    }

    /// FIFO message group.
    pub fn group_id(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.group_id.as_ref()
    }

    /// FIFO deduplication id.
    pub fn dedup_id(&self) -> Option<&Arc<str>> {
        self.extra.as_ref()?.dedup_id.as_ref()
    }
}

/// How a failed delivery is retried, copied onto the copy when its journey starts.
#[derive(Clone, Copy, Debug)]
struct RetrySpec {
    style: RetryStyle,
    max_retries: u32,
    max_age: SimTime,
    dlq: Option<NodeId>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RetryStyle {
    /// EventBridge target: exponential backoff with jitter.
    EventBridge,
    /// SNS delivery policy for AWS-managed endpoints.
    Sns,
    /// No retries (a producer's own send, a DLQ send).
    None,
}

/// Where a copy is in its journey; only what retries and traces need.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Via {
    Producer(NodeId),
    Rule {
        bus: NodeId,
        rule: u32,
    },
    Subscription {
        topic: NodeId,
    },
    Bus(NodeId),
    DeadLetter,
    /// Put through the PutEvents API (the policy was checked at the call).
    Api,
}

/// The node that sent a letter on its way.
fn via_owner(via: Via) -> Option<NodeId> {
    match via {
        Via::Producer(n) | Via::Bus(n) => Some(n),
        Via::Rule { bus, .. } => Some(bus),
        Via::Subscription { topic } => Some(topic),
        Via::DeadLetter | Via::Api => None,
    }
}

/// A message copy on its way to (or waiting in) a node.
#[derive(Debug)]
struct Letter {
    msg: MsgKey,
    to: NodeId,
    via: Via,
    retry: RetrySpec,
    retries: u32,
    receives: u32,
    first_at: SimTime,
    received_at: SimTime,
    edge: u32,
}

type LetterKey = usize;

/// A scheduled happening, ordered by time then by when it was scheduled. Kept small
/// (32 bytes): the timer heap moves timers around on every push and pop.
#[derive(Debug)]
struct Timer {
    at: SimTime,
    seq: u64,
    kind: TimerKind,
}

impl Timer {
    /// The order key: time, then scheduling order, as one number (compared without
    /// branches).
    #[inline(always)]
    fn key(&self) -> u128 {
        (u128::from(self.at) << 64) | u128::from(self.seq)
    }
}

/// The pending timers, popped in (time, scheduling order) order: a binary heap on
/// [`Timer::key`].
#[derive(Debug, Default)]
struct TimerQueue {
    heap: BinaryHeap<Reverse<Keyed>>,
}

/// A timer ordered by its key alone.
#[derive(Debug)]
struct Keyed(Timer);

impl PartialEq for Keyed {
    fn eq(&self, other: &Self) -> bool {
        self.0.key() == other.0.key()
    }
}

impl Eq for Keyed {}

impl PartialOrd for Keyed {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Keyed {
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        self.0.key().cmp(&other.0.key())
    }
}

impl TimerQueue {
    fn peek_at(&self) -> Option<SimTime> {
        self.heap.peek().map(|Reverse(Keyed(t))| t.at)
    }

    fn push(&mut self, timer: Timer) {
        self.heap.push(Reverse(Keyed(timer)));
    }

    fn pop(&mut self) -> Option<Timer> {
        self.heap.pop().map(|Reverse(Keyed(t))| t)
    }

    /// Takes every timer out, in no particular order.
    fn take_all(&mut self) -> Vec<Timer> {
        std::mem::take(&mut self.heap)
            .into_vec()
            .into_iter()
            .map(|Reverse(Keyed(t))| t)
            .collect()
    }

    #[cfg(test)]
    fn is_empty(&self) -> bool {
        self.heap.is_empty()
    }
}

/// A node id or letter key as a timer holds it (a design has far fewer than 2³² nodes,
/// and a run far fewer letters in flight).
type Id32 = u32;

fn id32(id: usize) -> Id32 {
    debug_assert!(id <= Id32::MAX as usize, "id {id} does not fit a timer");
    id as Id32
}

#[derive(Debug)]
enum TimerKind {
    /// Try delivering a letter again.
    Retry(Id32),
    /// A consumer finished a letter (or failed it).
    Complete {
        consumer: Id32,
        letter: Id32,
        error: Option<WorkError>,
    },
    /// A queue message's visibility timeout ended.
    Visible { queue: Id32, letter: Id32 },
    /// A scenario action starts.
    Action(Id32),
    /// A timed scenario action ends.
    Revert(Id32),
}

/// How a consumer's work on a letter failed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum WorkError {
    /// It took longer than the consumer's timeout.
    Timeout,
    /// The consumer returned an error.
    FunctionError,
}

impl WorkError {
    /// The error code AWS reports.
    fn code(self) -> &'static str {
        match self {
            WorkError::Timeout => "Timeout",
            WorkError::FunctionError => "FunctionError",
        }
    }
}

/// Why an attempt failed.
#[derive(Clone, Copy, Debug)]
struct Failure {
    code: &'static str,
    message: &'static str,
    retryable: bool,
}

const THROTTLED: Failure = Failure {
    code: "ThrottlingException",
    message: "every concurrency slot was busy",
    retryable: true,
};
const DOWN: Failure = Failure {
    code: "ServiceUnavailable",
    message: "the consumer is down",
    retryable: true,
};
const QUEUE_FULL: Failure = Failure {
    code: "QueueFull",
    message: "the queue is at capacity",
    retryable: true,
};
const DENIED: Failure = Failure {
    code: "AccessDeniedException",
    message: "the bus policy does not allow this principal",
    retryable: false,
};

impl ProducerRt {
    /// The next events' (sequence number, time), at most `max`, up to `horizon` (always
    /// at least one if any is left), advancing the producer past them.
    fn take_due(&mut self, horizon: f64, max: usize, rate: f64) -> Vec<(u64, f64)> {
        let (due, after) = self.upcoming(rate).take(horizon, max);
        (self.sent, self.next_at) = after;
        due
    }

    /// Where the producer's upcoming events fall, from where it is now.
    fn upcoming(&self, rate: f64) -> Upcoming {
        Upcoming {
            arrivals: self.cfg.arrivals,
            stream: self.stream,
            limit: self.cfg.limit,
            sent: self.sent,
            next_at: self.next_at,
            rate,
        }
    }

    /// Whether the producer has an event left to send.
    fn has_more(&self) -> bool {
        more_due(self.sent, self.next_at, self.cfg.limit)
    }
}

/// A producer's position and pace, from which its upcoming events' (sequence number,
/// time) follow: a pure function, so a preparing thread can work them out.
#[derive(Clone, Copy, Debug)]
struct Upcoming {
    arrivals: crate::model::Arrivals,
    stream: u64,
    limit: Option<u64>,
    /// Events sent so far, and when the next one is due.
    sent: u64,
    next_at: f64,
    rate: f64,
}

impl Upcoming {
    /// The next events, at most `max`, up to `horizon` (at least one if any is left),
    /// and the position after them.
    fn take(self, horizon: f64, max: usize) -> (Vec<(u64, f64)>, (u64, f64)) {
        let (mut sent, mut next_at) = (self.sent, self.next_at);
        let mut due = Vec::new();
        while more_due(sent, next_at, self.limit)
            && (due.is_empty() || next_at <= horizon)
            && due.len() < max
        {
            sent += 1;
            due.push((sent, next_at));
            next_at += super::produce::gap(self.arrivals, self.stream, sent, self.rate);
        }
        (due, (sent, next_at))
    }
}

/// Whether a producer that has sent `sent` events, the next due at `next_at`, sends
/// another (it is not stopped and has not reached its `limit`).
fn more_due(sent: u64, next_at: f64, limit: Option<u64>) -> bool {
    next_at.is_finite() && limit.is_none_or(|l| sent < l)
}

/// How many finished buffers the engine collects before handing them back at once
/// (see [`super::recycle`]).
const SPARES: usize = 256;

/// The threads that prepare producers' events ahead and drop what the engine is done
/// with: one per core but the engine's ([`preparing_threads`]), at a lower scheduling
/// priority than the engine's own thread, so
/// that background preparation never delays a due event (the engine prepares what it
/// needs itself when the pool is behind).
fn preparers() -> &'static rayon::ThreadPool {
    static POOL: std::sync::OnceLock<rayon::ThreadPool> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let built = rayon::ThreadPoolBuilder::new()
            .num_threads(preparing_threads())
            .thread_name(|i| format!("eventyard-prepare-{i}"))
            .start_handler(|_| lower_priority())
            .build();
        match built {
            Ok(pool) => pool,
            // Threads could not be started: one thread at normal priority still works.
            Err(_) => match rayon::ThreadPoolBuilder::new().num_threads(1).build() {
                Ok(pool) => pool,
                Err(e) => panic!("cannot start a thread to prepare events: {e}"),
            },
        }
    })
}

/// How many threads prepare events: one core is left to the engine's own thread,
/// which is sequential (on two cores a second preparing thread only took turns with
/// the engine on its core: the 10 M-event virtual run was about 10 % slower, though
/// saturation was higher), and at least one.
fn preparing_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, |n| n.get().saturating_sub(1))
        .max(1)
}

/// Lowers the calling thread's scheduling priority (nice 10). On Linux the nice value
/// belongs to the thread; elsewhere nothing is changed. Failure is ignored: the thread
/// keeps the normal priority.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    let _ = rustix::process::setpriority_process(None, 10);
}

/// Everything preparing a batch needs, owned, so it can run on another thread.
struct PrepareJob {
    producer: Arc<CompiledProducer>,
    compiled: Arc<Compiled>,
    stream: u64,
    epoch_ms: u64,
    tracked: Arc<HashMap<String, u32>>,
}

impl PrepareJob {
    /// The body of the producer's event `seq`, due at `time`, written again (an
    /// archive's replay).
    fn body(&self, seq: u64, time: f64) -> String {
        self.with_source(|src| super::produce::prepare(src, seq, time).body)
    }

    fn run(&self, due: &[(u64, f64)], parallel: bool) -> Vec<Prepared> {
        self.with_source(|src| {
            if parallel && due.len() >= PARALLEL_FILL {
                use rayon::prelude::*;
                preparers().install(|| {
                    due.par_iter()
                        .map(|&(seq, t)| super::produce::prepare(src, seq, t))
                        .collect()
                })
            } else {
                let mut out = super::recycle::chunk(due.len());
                super::produce::prepare_all(src, due, &mut out);
                out
            }
        })
    }

    /// Calls `f` with what preparing this job's events reads.
    fn with_source<R>(&self, f: impl FnOnce(&super::produce::Source<'_>) -> R) -> R {
        let to = &self.compiled.nodes[self.producer.to];
        let bus = match to {
            CompiledNode::Bus(b) => Some(&**b),
            _ => None,
        };
        let src = super::produce::Source {
            producer: &self.producer,
            bus,
            region: &node_info(to).region,
            stream: self.stream,
            epoch_ms: self.epoch_ms,
            tracked: &self.tracked,
            nodes: &self.compiled.nodes,
            plain_envelope: super::produce::plain_envelope(
                &self.producer.info.account,
                &node_info(to).region,
            ),
        };
        f(&src)
    }
}

/// A batch being prepared in the background, valid if the producer is still where it
/// was when the batch was started.
struct Prefetch {
    /// (first sequence number, its time's bits, the rate's bits) it assumed.
    first: (u64, u64, u64),
    batch: Arc<SharedBatch>,
}

/// A batch prepared in chunks by whoever is free: the pool's threads in the
/// background, and the engine itself when it needs a chunk nobody has started (so no
/// core idles while the engine waits). The engine takes the chunks in order as they
/// are done ([`Ready`]); it never waits for more than the chunk it needs next.
struct SharedBatch {
    job: Arc<PrepareJob>,
    /// Where the batch's events start, and how many it holds at most.
    upcoming: Upcoming,
    size: usize,
    /// The events' (sequence number, time), and the producer's (sent, next_at) after
    /// them: worked out by the first thread that needs them (a preparing thread, as a
    /// rule: it is not the engine's work).
    schedule: std::sync::OnceLock<Schedule>,
    /// The next chunk nobody has claimed.
    next: std::sync::atomic::AtomicUsize,
    /// Finished chunks not taken yet.
    done: std::sync::Mutex<Vec<Option<Vec<Prepared>>>>,
    /// Signalled whenever a chunk is finished.
    finished: std::sync::Condvar,
}

/// A batch's events' (sequence number, time), and its producer's (sent, next_at) after
/// them.
struct Schedule {
    due: Vec<(u64, f64)>,
    after: (u64, f64),
}

/// Events per chunk of a shared batch.
const CHUNK: usize = 128;

impl SharedBatch {
    fn new(job: Arc<PrepareJob>, upcoming: Upcoming, size: usize) -> SharedBatch {
        SharedBatch {
            job,
            upcoming,
            size,
            schedule: std::sync::OnceLock::new(),
            next: std::sync::atomic::AtomicUsize::new(0),
            done: std::sync::Mutex::new(Vec::new()),
            finished: std::sync::Condvar::new(),
        }
    }

    /// The batch's events' (sequence number, time).
    fn due(&self) -> &[(u64, f64)] {
        &self.schedule().due
    }

    /// The producer's (sent, next_at) after the batch.
    fn after(&self) -> (u64, f64) {
        self.schedule().after
    }

    fn schedule(&self) -> &Schedule {
        self.schedule.get_or_init(|| {
            let (due, after) = self.upcoming.take(f64::INFINITY, self.size);
            Schedule { due, after }
        })
    }

    fn chunks(&self) -> usize {
        self.due().len().div_ceil(CHUNK)
    }

    /// The (sequence number, time) of chunk `c`'s first event.
    fn first_of(&self, c: usize) -> Option<(u64, f64)> {
        self.due().get(c * CHUNK).copied()
    }

    /// Prepares chunk `c` (whoever claimed it).
    fn prepare(&self, c: usize) -> Vec<Prepared> {
        let due = self.due();
        let end = ((c + 1) * CHUNK).min(due.len());
        self.job
            .run(due.get(c * CHUNK..end).unwrap_or_default(), false)
    }

    /// Prepares unclaimed chunks until none is left.
    fn work(&self) {
        while self.work_one() {}
    }

    /// Prepares one unclaimed chunk, if any is left; false when none was.
    fn work_one(&self) -> bool {
        use std::sync::atomic::Ordering;
        let c = self.next.fetch_add(1, Ordering::Relaxed);
        if c >= self.chunks() {
            return false;
        }
        let prepared = self.prepare(c);
        if let Ok(mut done) = self.done.lock() {
            if done.len() <= c {
                done.resize_with(c + 1, || None);
            }
            done[c] = Some(prepared);
        }
        self.finished.notify_all();
        true
    }

    /// Takes chunk `c` once it is done, preparing it here if nobody has started it
    /// (chunks are taken in order, so every chunk before `c` was claimed already).
    fn take_chunk(&self, c: usize) -> Vec<Prepared> {
        use std::sync::atomic::Ordering;
        while self.next.load(Ordering::Relaxed) <= c {
            self.work_one();
        }
        let Ok(mut done) = self.done.lock() else {
            // The lock is poisoned (a thread panicked holding it): prepare the chunk here.
            return self.prepare(c);
        };
        loop {
            if let Some(chunk) = done.get_mut(c).and_then(Option::take) {
                return chunk;
            }
            done = match self.finished.wait(done) {
                Ok(d) => d,
                Err(_) => return self.prepare(c),
            };
        }
    }
}

/// Prepared events waiting for their time: chunks in hand, then a batch still being
/// prepared, taken chunk by chunk (never copied into one list).
#[derive(Default)]
struct Ready {
    /// Chunks with events left, in time order, with the job that prepared them.
    /// (A chunk's list goes back to the preparing threads once it is used up.)
    chunks: VecDeque<(Arc<PrepareJob>, VecDeque<Prepared>)>,
    /// A batch whose chunks come after `chunks`, and the next of its chunks to take.
    stream: Option<(Arc<SharedBatch>, usize)>,
    /// The job that prepared the event taken last (it can prepare it again).
    last_job: Option<Arc<PrepareJob>>,
}

impl Ready {
    /// The (time, sequence number) of the next event.
    fn front(&self) -> Option<(f64, u64)> {
        if let Some(p) = self.chunks.front().and_then(|(_, c)| c.front()) {
            return Some((p.time, p.seq));
        }
        let (batch, c) = self.stream.as_ref()?;
        batch.first_of(*c).map(|(seq, time)| (time, seq))
    }

    fn pop_front(&mut self) -> Option<Prepared> {
        if self.chunks.is_empty() {
            let (batch, c) = self.stream.as_mut()?;
            if *c >= batch.chunks() {
                self.stream = None;
                return None;
            }
            let chunk = batch.take_chunk(*c);
            let job = batch.job.clone();
            *c += 1;
            if *c >= batch.chunks() {
                self.stream = None;
            }
            self.push(job, chunk);
        }
        let (job, chunk) = self.chunks.front_mut()?;
        let next = chunk.pop_front();
        if !self.last_job.as_ref().is_some_and(|j| Arc::ptr_eq(j, job)) {
            self.last_job = Some(job.clone());
        }
        if chunk.is_empty()
            && let Some((_, used)) = self.chunks.pop_front()
        {
            super::recycle::give_back_chunk(Vec::from(used));
        }
        next
    }

    fn is_empty(&self) -> bool {
        self.front().is_none()
    }

    fn clear(&mut self) {
        self.chunks.clear();
        self.stream = None;
        self.last_job = None;
    }

    fn push(&mut self, job: Arc<PrepareJob>, chunk: Vec<Prepared>) {
        if !chunk.is_empty() {
            self.chunks.push_back((job, VecDeque::from(chunk)));
        }
    }

    /// Takes `batch`'s chunks after the ones in hand, as they get done.
    fn follow(&mut self, batch: Arc<SharedBatch>) {
        self.stream = Some((batch, 0));
    }
}

struct ProducerRt {
    /// A batch being prepared in the background.
    prefetch: Option<Prefetch>,
    /// What prepared the latest batch, kept while it would be made the same (so that
    /// archives see few distinct ones).
    job: Option<Arc<PrepareJob>>,
    cfg: Arc<CompiledProducer>,
    /// When the next event not yet prepared is due.
    next_at: f64,
    /// Events prepared so far (the last prepared sequence number).
    sent: u64,
    /// Prepared events waiting for their time.
    ready: Ready,
    /// Identity of the producer's random streams.
    stream: u64,
    rate: f64,
    burst: f64,
    stopped: bool,
    edge: u32,
}

struct BusRt {
    cfg: Arc<CompiledBus>,
    disabled: Vec<bool>,
    archives: Vec<NodeId>,
    /// Edge id per rule target.
    edges: Arc<Vec<Vec<u32>>>,
}

struct TopicRt {
    cfg: Arc<CompiledTopic>,
    dedup: Dedup,
    edges: Arc<Vec<u32>>,
}

#[derive(Default)]
struct QueueRt {
    cfg: Option<Arc<CompiledQueue>>,
    visible: VecDeque<LetterKey>,
    /// FIFO: waiting letters per group, and groups ready to hand out.
    groups: HashMap<Arc<str>, VecDeque<LetterKey>>,
    busy_groups: HashMap<Arc<str>, u32>,
    ready: VecDeque<Arc<str>>,
    waiting: u64,
    in_flight: u64,
    next_consumer: usize,
    dedup: Dedup,
    /// Edge id per consumer.
    edges: Vec<u32>,
}

struct ConsumerRt {
    cfg: Arc<CompiledConsumer>,
    /// Draws the consumer's processing times.
    latency: LatencySampler,
    busy: u32,
    down: bool,
    extra_latency: SimTime,
    error_rate: f64,
}

struct ArchiveRt {
    cfg: Arc<CompiledArchive>,
    events: super::archive::ArchivedEvents<PrepareJob>,
}

enum NodeRt {
    Producer(ProducerRt),
    Bus(BusRt),
    Topic(TopicRt),
    Queue(Box<QueueRt>),
    Consumer(ConsumerRt),
    Archive(ArchiveRt),
}

/// FIFO deduplication: ids seen in the last five minutes.
#[derive(Default)]
struct Dedup {
    seen: HashMap<Arc<str>, SimTime>,
    order: VecDeque<(SimTime, Arc<str>)>,
}

impl Dedup {
    /// True when `id` was seen within the window (the message is a duplicate); when
    /// not, and `record`, remembers it from now on.
    fn check(&mut self, id: Arc<str>, now: SimTime, record: bool) -> bool {
        while let Some((t, _)) = self.order.front() {
            if *t + DEDUP_WINDOW > now {
                break;
            }
            if let Some((t, old)) = self.order.pop_front()
                && self.seen.get(&old) == Some(&t)
            {
                self.seen.remove(&old);
            }
        }
        if self.seen.contains_key(&id) {
            return true;
        }
        if record {
            self.seen.insert(id.clone(), now);
            self.order.push_back((now, id));
        }
        false
    }
}

/// An edge of the running design, for counters.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct EdgeKey {
    /// The sending node's id.
    pub from: String,
    /// The receiving node's id.
    pub to: String,
    /// What the edge is (`rule to-billing`, `subscription email`, `send`, `dlq`, `pull`).
    pub label: String,
}

/// Tracks `every TYPE reaches CONSUMER within D` while the run goes.
#[derive(Debug, Default)]
pub struct ReachProbe {
    /// The detail-type.
    pub detail_type: String,
    /// The consumer's id.
    pub consumer: Option<NodeId>,
    /// Deadline.
    pub within: SimTime,
    /// Events of the type produced and not yet seen at the consumer, by root.
    pub pending: HashMap<u64, SimTime>,
    /// Events that reached the consumer in time.
    pub reached: u64,
    /// Events that reached it late.
    pub late: u64,
    /// Worst latency seen.
    pub worst: SimTime,
    /// First late or missing event, for the report.
    pub first_violation: Option<(u64, SimTime)>,
}

/// Options of an engine.
#[derive(Clone, Debug)]
pub struct EngineOptions {
    /// Seed of every random choice.
    pub seed: u64,
    /// Unix time (ms) of simulated time 0 (timestamps in events).
    pub epoch_ms: u64,
    /// Which events to trace.
    pub trace: TraceOptions,
    /// Nodes whose completions are counted per second (throughput assertions).
    pub series: Vec<String>,
}

impl Default for EngineOptions {
    fn default() -> Self {
        EngineOptions {
            seed: 1,
            // 2026-01-01T00:00:00Z
            epoch_ms: 1_767_225_600_000,
            trace: TraceOptions::default(),
            series: Vec::new(),
        }
    }
}

/// The result of one PutEvents entry.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PutResult {
    /// Accepted, with the event id.
    Ok(String),
    /// Refused: error code and message.
    Err(String, String),
}

/// The engine. See the module documentation.
pub struct Engine {
    compiled: Arc<Compiled>,
    now: SimTime,
    seed: u64,
    /// How far `run_until` is going (producers prepare events up to here).
    target: SimTime,
    /// Times of scheduled scenario actions and reverts (producers never prepare past
    /// the next one, since it may change them).
    action_marks: BinaryHeap<Reverse<SimTime>>,
    seq: u64,
    heap: TimerQueue,
    letters: Slab<Letter>,
    /// The messages the letters carry, shared by copies (counted, not reference-counted).
    messages: Messages<Message>,
    rng: Pcg64Mcg,
    nodes: Vec<NodeRt>,
    metrics: Vec<NodeMetrics>,
    edge_keys: Vec<EdgeKey>,
    edge_index: BTreeMap<EdgeKey, u32>,
    edges: Vec<EdgeCounters>,
    ledger: Ledger,
    scratch: Scratch,
    rule_ids: Vec<RuleId>,
    /// The filter verdicts of the route being delivered right now (see
    /// [`super::produce::Route::filter`]), taken by the topic it reaches.
    route_filter: Option<u64>,
    producers: Vec<NodeId>,
    /// Finished bodies and route lists, to be handed back for reuse.
    spare_bodies: Vec<String>,
    spare_routes: Vec<Routes>,
    /// [`Engine::next_producer`]'s answer until a producer changes (`None`: unknown).
    next_producer_cache: std::cell::Cell<Option<Option<(SimTime, NodeId)>>>,
    roots: u64,
    epoch_ms: u64,
    time_text: (u64, String),
    tracer: Tracer,
    actions: Vec<Action>,
    /// Saved values restored when a timed action ends.
    saved: Vec<f64>,
    /// Timed value-setting actions in effect, by (node, effect), oldest first.
    overlapping: HashMap<(String, &'static str), Vec<usize>>,
    /// Probes for `reaches` assertions.
    pub probes: Vec<ReachProbe>,
    tracked_types: Arc<HashMap<String, u32>>,
    series_names: Vec<String>,
    series_nodes: Vec<Option<usize>>,
    series: Vec<Vec<u32>>,
}

impl Engine {
    /// An engine running `compiled` from time 0 (startup is the diff from an empty design).
    pub fn new(compiled: Arc<Compiled>, options: EngineOptions) -> Engine {
        let mut engine = Engine {
            compiled: Arc::new(empty_compiled()),
            now: 0,
            seed: options.seed,
            target: 0,
            action_marks: BinaryHeap::new(),
            seq: 0,
            heap: TimerQueue::default(),
            letters: Slab::new(),
            messages: Messages::default(),
            rng: Pcg64Mcg::seed_from_u64(options.seed),
            nodes: Vec::new(),
            metrics: Vec::new(),
            edge_keys: Vec::new(),
            edge_index: BTreeMap::new(),
            edges: Vec::new(),
            ledger: Ledger::default(),
            scratch: Scratch::default(),
            rule_ids: Vec::new(),
            route_filter: None,
            producers: Vec::new(),
            spare_bodies: Vec::new(),
            spare_routes: Vec::new(),
            next_producer_cache: std::cell::Cell::new(None),
            roots: 0,
            epoch_ms: options.epoch_ms,
            time_text: (u64::MAX, String::new()),
            tracer: Tracer::new(options.trace),
            actions: Vec::new(),
            saved: Vec::new(),
            overlapping: HashMap::new(),
            probes: Vec::new(),
            tracked_types: Arc::default(),
            series_nodes: Vec::new(),
            series: options.series.iter().map(|_| Vec::new()).collect(),
            series_names: options.series,
        };
        engine.apply(compiled);
        engine
    }

    /// Simulated now.
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// The design being run.
    pub fn compiled(&self) -> &Arc<Compiled> {
        &self.compiled
    }

    /// The global accounting.
    pub fn ledger(&self) -> &Ledger {
        &self.ledger
    }

    /// Metrics of a node.
    pub fn metrics(&self, id: NodeId) -> &NodeMetrics {
        &self.metrics[id]
    }

    /// Every node's metrics, by node id.
    pub fn all_metrics(&self) -> &[NodeMetrics] {
        &self.metrics
    }

    /// Every edge with its counters, sorted.
    pub fn edges(&self) -> impl Iterator<Item = (&EdgeKey, &EdgeCounters)> {
        self.edge_index
            .iter()
            .map(|(k, &i)| (k, &self.edges[i as usize]))
    }

    /// Completions per second of a node named in [`EngineOptions::series`].
    pub fn series(&self, name: &str) -> Option<&[u32]> {
        let id = self.compiled.node_id(name)?;
        let slot = (*self.series_nodes.get(id)?)?;
        Some(&self.series[slot])
    }

    /// Copies waiting anywhere (queues, consumers, retries), counted from the state
    /// itself — equal to [`Ledger::pending`] when the accounting is right.
    pub fn pending_copies(&self) -> u64 {
        self.letters.len() as u64
    }

    /// Checks that every message held is counted once for each pending copy that
    /// carries it, and that none is held without one (between steps; a self-check
    /// for tests: a miscount would leak messages or free one still in use).
    pub fn verify_sharing(&self) -> Result<(), String> {
        let mut carried: HashMap<usize, u32> = HashMap::new();
        for (_, letter) in &self.letters {
            *carried.entry(letter.msg.slot()).or_default() += 1;
        }
        for (slot, copies) in self.messages.copies() {
            let letters = carried.remove(&slot).unwrap_or(0);
            if letters != copies {
                return Err(format!(
                    "message {slot} is counted {copies} times but {letters} copies carry it"
                ));
            }
        }
        match carried.into_keys().next() {
            Some(slot) => Err(format!("copies carry message {slot}, which is not held")),
            None => Ok(()),
        }
    }

    /// Takes the trace hops recorded since the last call.
    pub fn drain_trace(&mut self) -> Vec<Hop> {
        self.tracer.drain()
    }

    /// Hops not recorded because the trace buffer was full.
    pub fn trace_overflow(&self) -> u64 {
        self.tracer.overflow()
    }

    /// Tracks `every TYPE reaches CONSUMER within D`.
    pub fn add_reach_probe(&mut self, detail_type: &str, consumer: &str, within: SimTime) {
        self.invalidate_producers();
        let next = self.tracked_types.len() as u32;
        Arc::make_mut(&mut self.tracked_types)
            .entry(detail_type.to_string())
            .or_insert(next);
        self.probes.push(ReachProbe {
            detail_type: detail_type.to_string(),
            consumer: self.compiled.node_id(consumer),
            within,
            ..ReachProbe::default()
        });
    }

    /// Schedules a scenario action.
    pub fn schedule_action(&mut self, action: Action) {
        let at = action.at.nanos();
        self.invalidate_producers();
        self.actions.push(action);
        self.saved.push(0.0);
        self.schedule(at, TimerKind::Action(id32(self.actions.len() - 1)));
    }

    /// When the next thing happens, if anything is scheduled.
    pub fn next_time(&self) -> Option<SimTime> {
        let timer = self.heap.peek_at();
        let producer = self.next_producer().map(|(t, _)| t);
        match (timer, producer) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    /// The producer whose next event is due first, with that time; remembered until a
    /// producer changes ([`Engine::producers_changed`]).
    #[inline]
    fn next_producer(&self) -> Option<(SimTime, NodeId)> {
        if let Some(known) = self.next_producer_cache.get() {
            return known;
        }
        let next = self.find_next_producer();
        self.next_producer_cache.set(Some(next));
        next
    }

    /// Forgets [`Engine::next_producer`]'s answer (a producer's state changed).
    fn producers_changed(&self) {
        self.next_producer_cache.set(None);
    }

    fn find_next_producer(&self) -> Option<(SimTime, NodeId)> {
        let mut best: Option<(SimTime, NodeId)> = None;
        for &id in &self.producers {
            if let NodeRt::Producer(p) = &self.nodes[id] {
                let next = match p.ready.front() {
                    Some((time, _)) => time,
                    None if p.stopped
                        || !p.next_at.is_finite()
                        || p.cfg.limit.is_some_and(|l| p.sent >= l) =>
                    {
                        continue;
                    }
                    None => p.next_at,
                };
                let t = next.max(0.0) as SimTime;
                if best.is_none_or(|(b, _)| t < b) {
                    best = Some((t, id));
                }
            }
        }
        best
    }

    /// Processes everything due at or before `t`, then sets the clock to `t`.
    pub fn run_until(&mut self, t: SimTime) -> u64 {
        self.target = t;
        let mut steps = 0;
        while self.step_due(t).is_some() {
            steps += 1;
        }
        self.now = self.now.max(t);
        steps
    }

    /// Processes the next scheduled happening; returns its time, or `None` if idle.
    pub fn step(&mut self) -> Option<SimTime> {
        self.step_due(SimTime::MAX)
    }

    /// Processes the next happening if it is due at or before `limit` (one look at
    /// the producers and the timers per happening).
    fn step_due(&mut self, limit: SimTime) -> Option<SimTime> {
        let timer_at = self.heap.peek_at();
        match (self.next_producer(), timer_at) {
            (Some((pt, id)), t) if t.is_none_or(|t| pt < t) => {
                if pt > limit {
                    return None;
                }
                self.now = self.now.max(pt);
                self.target = self.target.max(pt);
                self.produce(id);
                Some(pt)
            }
            (_, Some(at)) if at <= limit => {
                let timer = self.heap.pop()?;
                self.now = self.now.max(timer.at);
                self.fire(timer.kind);
                Some(timer.at)
            }
            _ => None,
        }
    }

    #[inline]
    fn schedule(&mut self, at: SimTime, kind: TimerKind) {
        if matches!(kind, TimerKind::Action(_) | TimerKind::Revert(_)) {
            self.action_marks.push(Reverse(at));
        }
        self.seq += 1;
        self.heap.push(Timer {
            at,
            seq: self.seq,
            kind,
        });
    }

    fn fire(&mut self, kind: TimerKind) {
        match kind {
            TimerKind::Retry(key) => {
                let key = key as LetterKey;
                if let Some(letter) = self.letters.get(key) {
                    let to = letter.to;
                    self.deliver(key, to);
                }
            }
            TimerKind::Complete {
                consumer,
                letter,
                error,
            } => self.complete(consumer as NodeId, letter as LetterKey, error),
            TimerKind::Visible { queue, letter } => {
                self.make_visible(queue as NodeId, letter as LetterKey)
            }
            TimerKind::Action(i) => {
                self.action_marks.pop();
                self.start_action(i as usize)
            }
            TimerKind::Revert(i) => {
                self.action_marks.pop();
                self.revert_action(i as usize)
            }
        }
    }

    // ---- reconfiguration -------------------------------------------------------

    /// Applies a new design while running: nodes present in both keep their state
    /// (queued messages, busy consumers, counters); removed nodes drop what they held
    /// (counted, reason "node removed"); new nodes start empty.
    pub fn apply(&mut self, new: Arc<Compiled>) {
        self.producers_changed();
        self.invalidate_producers();
        let old = std::mem::replace(&mut self.compiled, new.clone());
        let remap: Vec<Option<NodeId>> = old
            .ids
            .iter()
            .enumerate()
            .map(|(o, id)| {
                new.node_id(id)
                    .filter(|&n| same_kind(&old.nodes[o], &new.nodes[n]))
            })
            .collect();
        let mut old_nodes: Vec<Option<NodeRt>> = std::mem::take(&mut self.nodes)
            .into_iter()
            .map(Some)
            .collect();
        let mut old_metrics: Vec<Option<NodeMetrics>> = std::mem::take(&mut self.metrics)
            .into_iter()
            .map(Some)
            .collect();
        let mut back: Vec<Option<NodeId>> = vec![None; new.nodes.len()];
        for (o, n) in remap.iter().enumerate() {
            if let Some(n) = n {
                back[*n] = Some(o);
            }
        }
        for (id, node) in new.nodes.iter().enumerate() {
            let prior = back[id].and_then(|o| old_nodes[o].take());
            let rt = self.node_runtime(&new, id, node, prior);
            self.nodes.push(rt);
            self.metrics.push(
                back[id]
                    .and_then(|o| old_metrics[o].take())
                    .unwrap_or_default(),
            );
        }
        // Letters and timers refer to old ids: move them to the new ones.
        let mut orphaned = Vec::new();
        for (key, letter) in self.letters.iter_mut() {
            match remap.get(letter.to).copied().flatten() {
                Some(to) => {
                    letter.to = to;
                    letter.retry.dlq = letter
                        .retry
                        .dlq
                        .and_then(|d| remap.get(d).copied().flatten());
                    letter.via = match letter.via {
                        Via::Producer(p) => {
                            Via::Producer(remap.get(p).copied().flatten().unwrap_or(to))
                        }
                        Via::Rule { bus, rule } => match remap.get(bus).copied().flatten() {
                            Some(bus) => Via::Rule { bus, rule },
                            None => Via::DeadLetter,
                        },
                        Via::Subscription { topic } => match remap.get(topic).copied().flatten() {
                            Some(topic) => Via::Subscription { topic },
                            None => Via::DeadLetter,
                        },
                        Via::Bus(b) => Via::Bus(remap.get(b).copied().flatten().unwrap_or(to)),
                        Via::DeadLetter => Via::DeadLetter,
                        Via::Api => Via::Api,
                    };
                }
                None => orphaned.push(key),
            }
        }
        let timers = self.heap.take_all();
        // Slots freed because the letter being processed went away; letters whose
        // consumer went away while their queue stayed go back to the queue.
        let mut freed = Vec::new();
        let mut requeue = Vec::new();
        for mut t in timers {
            let keep = match &mut t.kind {
                TimerKind::Retry(k) => !orphaned.contains(&(*k as LetterKey)),
                TimerKind::Complete {
                    consumer, letter, ..
                } => match (
                    remap.get(*consumer as NodeId).copied().flatten(),
                    orphaned.contains(&(*letter as LetterKey)),
                ) {
                    (Some(c), false) => {
                        *consumer = id32(c);
                        true
                    }
                    (Some(c), true) => {
                        freed.push(c);
                        false
                    }
                    (None, false) => {
                        requeue.push(*letter as LetterKey);
                        false
                    }
                    (None, true) => false,
                },
                TimerKind::Visible { queue, letter } => {
                    match remap.get(*queue as NodeId).copied().flatten() {
                        Some(q) if !orphaned.contains(&(*letter as LetterKey)) => {
                            *queue = id32(q);
                            true
                        }
                        _ => false,
                    }
                }
                TimerKind::Action(_) | TimerKind::Revert(_) => true,
            };
            if keep {
                self.heap.push(t);
            }
        }
        for c in freed {
            if let NodeRt::Consumer(rt) = &mut self.nodes[c] {
                rt.busy = rt.busy.saturating_sub(1);
            }
        }
        // Queues carried over hold letter keys, which are unchanged.
        for key in orphaned {
            if self.letters.contains(key) {
                let letter = self.letters.remove(key);
                match via_owner(letter.via).and_then(|o| remap.get(o).copied().flatten()) {
                    Some(at) => self.forget(letter, at, "node removed"),
                    None => self.retire(letter.msg),
                }
                self.ledger.dropped += 1;
            }
        }
        for key in requeue {
            let queue = self.letters[key].to;
            self.make_visible(queue, key);
        }
        self.rebuild_edges();
        self.producers = (0..new.nodes.len())
            .filter(|&i| matches!(self.nodes[i], NodeRt::Producer(_)))
            .collect();
        self.series_nodes = new
            .ids
            .iter()
            .map(|id| self.series_names.iter().position(|n| n == id))
            .collect();
        for id in 0..new.nodes.len() {
            if matches!(self.nodes[id], NodeRt::Queue(_)) {
                self.dispatch(id);
            }
        }
        // The producers themselves may have changed above (new list, new state).
        self.producers_changed();
    }

    fn node_runtime(
        &mut self,
        new: &Compiled,
        id: NodeId,
        node: &CompiledNode,
        prior: Option<NodeRt>,
    ) -> NodeRt {
        match (node, prior) {
            (CompiledNode::Producer(p), prior) => {
                let mut rt = ProducerRt {
                    prefetch: None,
                    job: None,
                    ready: Ready::default(),
                    stream: super::produce::stream_of(self.seed, &p.info.name),
                    cfg: p.clone(),
                    next_at: if p.rate > 0.0 {
                        self.now.max(p.start.nanos()) as f64
                    } else {
                        f64::INFINITY
                    },
                    sent: 0,
                    rate: p.rate,
                    burst: 1.0,
                    stopped: false,
                    edge: 0,
                };
                if let Some(NodeRt::Producer(old)) = prior {
                    // Scenario effects (bursts, stops, rate changes) outlive an edit,
                    // unless the edit changed the rate itself.
                    rt.next_at = old.next_at;
                    rt.sent = old.sent;
                    rt.burst = old.burst;
                    rt.stopped = old.stopped;
                    if old.cfg.rate == p.rate {
                        rt.rate = old.rate;
                    } else if rt.rate > 0.0 && !rt.next_at.is_finite() {
                        rt.next_at = self.now as f64;
                    }
                }
                NodeRt::Producer(rt)
            }
            (CompiledNode::Bus(b), prior) => NodeRt::Bus(BusRt {
                cfg: b.clone(),
                disabled: b
                    .rules
                    .iter()
                    .map(|r| match &prior {
                        // A rule disabled or enabled by a scenario stays so unless the
                        // edit changed its `enabled` flag.
                        Some(NodeRt::Bus(old)) => old
                            .cfg
                            .rules
                            .iter()
                            .position(|o| o.name == r.name && o.enabled == r.enabled)
                            .map_or(!r.enabled, |i| old.disabled[i]),
                        _ => !r.enabled,
                    })
                    .collect(),
                archives: new
                    .nodes
                    .iter()
                    .enumerate()
                    .filter(|(_, n)| matches!(n, CompiledNode::Archive(a) if a.bus == id))
                    .map(|(i, _)| i)
                    .collect(),
                edges: Arc::default(),
            }),
            (CompiledNode::Topic(t), prior) => NodeRt::Topic(TopicRt {
                cfg: t.clone(),
                dedup: match prior {
                    Some(NodeRt::Topic(old)) => old.dedup,
                    _ => Dedup::default(),
                },
                edges: Arc::default(),
            }),
            (CompiledNode::Queue(q), prior) => {
                let mut rt = match prior {
                    Some(NodeRt::Queue(old)) => *old,
                    _ => QueueRt::default(),
                };
                rt.cfg = Some(q.clone());
                NodeRt::Queue(Box::new(rt))
            }
            (CompiledNode::Consumer(c), prior) => {
                let mut rt = ConsumerRt {
                    latency: LatencySampler::new(&c.config.latency),
                    error_rate: c.config.error_rate,
                    cfg: c.clone(),
                    busy: 0,
                    down: false,
                    extra_latency: 0,
                };
                if let Some(NodeRt::Consumer(old)) = prior {
                    rt.busy = old.busy;
                    rt.down = old.down;
                    rt.extra_latency = old.extra_latency;
                    if old.cfg.config.error_rate == c.config.error_rate {
                        rt.error_rate = old.error_rate;
                    }
                }
                NodeRt::Consumer(rt)
            }
            (CompiledNode::Archive(a), prior) => NodeRt::Archive(ArchiveRt {
                cfg: a.clone(),
                events: match prior {
                    Some(NodeRt::Archive(old)) => old.events,
                    _ => super::archive::ArchivedEvents::default(),
                },
            }),
        }
    }

    fn edge(&mut self, from: NodeId, to: NodeId, label: String) -> u32 {
        let key = EdgeKey {
            from: self.compiled.ids[from].clone(),
            to: self.compiled.ids[to].clone(),
            label,
        };
        if let Some(&i) = self.edge_index.get(&key) {
            return i;
        }
        let i = self.edges.len() as u32;
        self.edges.push(EdgeCounters::default());
        self.edge_keys.push(key.clone());
        self.edge_index.insert(key, i);
        i
    }

    fn rebuild_edges(&mut self) {
        let compiled = self.compiled.clone();
        for (id, node) in compiled.nodes.iter().enumerate() {
            match node {
                CompiledNode::Producer(p) => {
                    let e = self.edge(id, p.to, "send".into());
                    if let NodeRt::Producer(rt) = &mut self.nodes[id] {
                        rt.edge = e;
                    }
                }
                CompiledNode::Bus(b) => {
                    let edges: Vec<Vec<u32>> = b
                        .rules
                        .iter()
                        .map(|r| {
                            r.targets
                                .iter()
                                .map(|t| self.edge(id, t.to, format!("rule {}", r.name)))
                                .collect()
                        })
                        .collect();
                    if let NodeRt::Bus(rt) = &mut self.nodes[id] {
                        rt.edges = Arc::new(edges);
                    }
                }
                CompiledNode::Topic(t) => {
                    let edges: Vec<u32> = t
                        .subscriptions
                        .iter()
                        .map(|s| self.edge(id, s.to, format!("subscription {}", s.name)))
                        .collect();
                    if let NodeRt::Topic(rt) = &mut self.nodes[id] {
                        rt.edges = Arc::new(edges);
                    }
                }
                CompiledNode::Queue(q) => {
                    let edges: Vec<u32> = q
                        .consumers
                        .iter()
                        .map(|&c| self.edge(id, c, "pull".into()))
                        .collect();
                    if let NodeRt::Queue(rt) = &mut self.nodes[id] {
                        rt.edges = edges;
                    }
                }
                CompiledNode::Consumer(_) | CompiledNode::Archive(_) => {}
            }
        }
    }

    // ---- producers ----------------------------------------------------------------

    fn time_text(&mut self) -> &str {
        let secs = (self.epoch_ms + self.now / 1_000_000) / 1000;
        super::produce::time_text(secs, &mut self.time_text);
        &self.time_text.1
    }

    fn produce(&mut self, id: NodeId) {
        self.producers_changed();
        let empty = matches!(&self.nodes[id], NodeRt::Producer(p) if p.ready.is_empty());
        if empty {
            self.fill(id);
        }
        let NodeRt::Producer(p) = &mut self.nodes[id] else {
            return;
        };
        let Some(mut prepared) = p.ready.pop_front() else {
            return;
        };
        let to = p.cfg.to;
        let edge = p.edge;
        self.metrics[id].counters.produced += 1;
        self.edges[edge as usize].sent += 1;
        if p.cfg.mix.is_empty() && p.cfg.replay.as_ref().is_none_or(|l| l.is_empty()) {
            return;
        }
        let root = self.roots;
        self.roots += 1;
        let msg = Message {
            body: prepared.body,
            root,
            produced_at: self.now,
            tracked_type: prepared.tracked_type,
            traced: self.tracer.wants(root),
            origin: Some(Origin {
                seq: prepared.seq,
                time: prepared.time,
            }),
            extra: Extra {
                attributes: prepared.attributes,
                group_id: prepared.group_id,
                dedup_id: prepared.dedup_id,
                dlq_attributes: None,
            }
            .boxed(),
        };
        self.ledger.created += 1;
        self.tracer.hop(&msg, self.now, id, HopKind::Produced);
        let key = self.letters.insert(Letter {
            msg: self.messages.insert(msg),
            to,
            via: Via::Producer(id),
            retry: no_retry(),
            retries: 0,
            receives: 0,
            first_at: self.now,
            received_at: self.now,
            edge,
        });
        match prepared.routes.as_mut() {
            // The route list is used where it is (it is large to move).
            Some(routes) if matches!(self.nodes[to], NodeRt::Bus(_)) => {
                self.put_on_bus(key, to, Some(&mut *routes));
                self.retire_routes(routes);
            }
            _ => self.deliver(key, to),
        }
    }

    /// Prepares a producer's upcoming events up to the horizon (the run target or the
    /// next scenario action, whichever is first), on all cores when there are many.
    fn fill(&mut self, id: NodeId) {
        self.producers_changed();
        // Up to where this run goes or the next scenario action (it may change the
        // producer), whichever is first: preparing further ahead here would make a
        // real-time run wait for a big batch while events are due (latency). Further
        // batches are prepared in the background (below), which costs no waiting.
        let horizon = self.target.min(self.next_action_mark());
        let compiled = self.compiled.clone();
        let tracked = self.tracked_types.clone();
        let epoch_ms = self.epoch_ms;
        let NodeRt::Producer(p) = &mut self.nodes[id] else {
            return;
        };
        let rate = p.rate * p.burst;
        // What prepares this producer's events now (and again, for an archive's replay).
        let same = |j: &PrepareJob| {
            Arc::ptr_eq(&j.producer, &p.cfg)
                && Arc::ptr_eq(&j.compiled, &compiled)
                && Arc::ptr_eq(&j.tracked, &tracked)
                && j.stream == p.stream
                && j.epoch_ms == epoch_ms
        };
        let job = match &p.job {
            Some(job) if same(job) => job.clone(),
            _ => {
                let job = Arc::new(PrepareJob {
                    producer: p.cfg.clone(),
                    compiled,
                    stream: p.stream,
                    epoch_ms,
                    tracked,
                });
                p.job = Some(job.clone());
                job
            }
        };
        // The batch prepared in the background, if it starts where the producer is: its
        // chunks are taken as they get done.
        let prepared = match p.prefetch.take() {
            Some(pf) if pf.first == (p.sent + 1, p.next_at.to_bits(), rate.to_bits()) => {
                (p.sent, p.next_at) = pf.batch.after();
                let len = pf.batch.due().len();
                p.ready.follow(pf.batch);
                len
            }
            _ => {
                let due = p.take_due(horizon as f64, FILL_BATCH, rate);
                let chunk = job.run(&due, true);
                let len = chunk.len();
                p.ready.push(job.clone(), chunk);
                len
            }
        };
        // Prepare the next batch in the background while this one is delivered; if the
        // engine needs it first, it prepares the remaining chunks itself (no waiting on
        // a busy core).
        // At least the events of the next few milliseconds (at the producer's rate), so
        // that a real-time run's next batch is being prepared well before it is due.
        let ahead = (rate * PREFETCH_AHEAD_SECS).ceil().min(FILL_BATCH as f64) as usize;
        let size = prepared.max(ahead).clamp(PARALLEL_FILL, FILL_BATCH);
        let (first_seq, first_time) = (p.sent + 1, p.next_at);
        if p.has_more() {
            // Its events' times are worked out by the preparing threads too.
            let batch = Arc::new(SharedBatch::new(job, p.upcoming(rate), size));
            for _ in 0..preparers().current_num_threads() {
                let batch = batch.clone();
                preparers().spawn(move || batch.work());
            }
            p.prefetch = Some(Prefetch {
                first: (first_seq, first_time.to_bits(), rate.to_bits()),
                batch,
            });
        }
    }

    /// Forgets prepared events (their producer's settings or the horizon changed); they
    /// are prepared again, identically, when due.
    fn invalidate(&mut self, id: NodeId) {
        self.producers_changed();
        if let NodeRt::Producer(p) = &mut self.nodes[id] {
            if let Some((time, seq)) = p.ready.front() {
                p.next_at = time;
                p.sent = seq - 1;
            }
            p.ready.clear();
            p.prefetch = None;
        }
    }

    fn invalidate_producers(&mut self) {
        for id in self.producers.clone() {
            self.invalidate(id);
        }
    }

    fn next_action_mark(&self) -> SimTime {
        self.action_marks
            .peek()
            .map_or(SimTime::MAX, |Reverse(t)| *t)
    }

    // ---- delivery --------------------------------------------------------------------

    /// Hands a letter to the node `to` (a bus, topic, queue or consumer).
    fn deliver(&mut self, key: LetterKey, to: NodeId) {
        match &self.nodes[to] {
            NodeRt::Bus(_) => self.put_on_bus(key, to, None),
            NodeRt::Topic(_) => self.publish(key, to),
            NodeRt::Queue(_) => self.enqueue(key, to),
            NodeRt::Consumer(_) => self.push_to_consumer(key, to),
            NodeRt::Producer(_) | NodeRt::Archive(_) => {
                self.drop_letter(key, to, "not a receiver");
            }
        }
    }

    /// Lets go of a message; when it was the last copy, its body goes back to the
    /// preparing threads for reuse (see [`super::recycle`]).
    #[inline]
    fn retire(&mut self, msg: MsgKey) {
        let spares = &mut self.spare_bodies;
        self.messages.release(msg, |last| {
            if super::recycle::keeps(&last.body) {
                spares.push(std::mem::take(&mut last.body));
            }
        });
        self.give_back_spares();
    }

    /// Lets go of a route list (emptied): one on the heap is kept for reuse.
    fn retire_routes(&mut self, routes: &mut Routes) {
        if routes.spilled() {
            self.spare_routes.push(std::mem::take(routes));
            self.give_back_spares();
        }
    }

    /// Hands the collected buffers back once there are enough of them.
    #[inline]
    fn give_back_spares(&mut self) {
        if self.spare_bodies.len() + self.spare_routes.len() >= SPARES {
            self.give_back_now();
        }
    }

    #[cold]
    fn give_back_now(&mut self) {
        super::recycle::give_back(&mut self.spare_bodies, &mut self.spare_routes);
    }

    fn drop_letter(&mut self, key: LetterKey, at: NodeId, reason: &'static str) {
        let letter = self.letters.remove(key);
        self.metrics[at].drop(reason);
        self.ledger.dropped += 1;
        self.forget(letter, at, reason);
    }

    /// The message a waiting letter carries.
    #[inline]
    fn letter_msg(&self, key: LetterKey) -> &Message {
        &self.messages[&self.letters[key].msg]
    }

    /// Records a trace hop of a waiting letter's message.
    #[inline]
    fn hop_letter(&mut self, key: LetterKey, at: NodeId, kind: HopKind) {
        let msg = &self.messages[&self.letters[key].msg];
        self.tracer.hop(msg, self.now, at, kind);
    }

    /// Records a removed letter's last hop (dropped at `at` for `reason`) and lets go of
    /// its message.
    fn forget(&mut self, letter: Letter, at: NodeId, reason: &'static str) {
        self.tracer.hop(
            &self.messages[&letter.msg],
            self.now,
            at,
            HopKind::Dropped(reason),
        );
        self.retire(letter.msg);
    }

    /// Puts a letter on a bus; `routes`: its deliveries, when they were prepared (they
    /// are taken out of the list).
    fn put_on_bus(&mut self, key: LetterKey, bus: NodeId, routes: Option<&mut Routes>) {
        let NodeRt::Bus(b) = &self.nodes[bus] else {
            return;
        };
        self.metrics[bus].counters.received += 1;
        if !self.may_put(key, &b.cfg) {
            self.metrics[bus].counters.refused += 1;
            self.fail(key, bus, DENIED);
            return;
        }
        if matches!(self.letters[key].via, Via::Producer(_) | Via::Api) {
            // `reaches` assertions follow events a bus accepted.
            self.track_produced(key);
        }
        let letter = self.letters.remove(key);
        self.count_delivered(letter.edge, letter.via);
        let msg = letter.msg;
        // A producer's own event, put just now: what prepared it can write it again.
        let recipe = match (&routes, letter.via, self.messages[&msg].origin) {
            (Some(_), Via::Producer(p), Some(origin)) => Some((p, origin)),
            _ => None,
        };
        self.archive(bus, &msg, recipe);
        match routes {
            Some(routes) => self.route_on_bus(bus, &msg, routes),
            None => {
                let NodeRt::Bus(b) = &self.nodes[bus] else {
                    self.retire(msg);
                    return;
                };
                let cfg = b.cfg.clone();
                self.time_text();
                let scanned = super::produce::route(
                    &cfg,
                    &self.compiled.nodes,
                    &self.messages[&msg].body,
                    &self.time_text.1,
                    &mut self.scratch,
                    &mut self.rule_ids,
                );
                match scanned {
                    Some(mut routes) => {
                        self.route_on_bus(bus, &msg, &mut routes);
                        self.retire_routes(&mut routes);
                    }
                    None => {
                        self.metrics[bus].drop("malformed event");
                        self.ledger.dropped += 1;
                        self.tracer.hop(
                            &self.messages[&msg],
                            self.now,
                            bus,
                            HopKind::Dropped("malformed event"),
                        );
                    }
                }
            }
        }
        self.retire(msg);
    }

    /// The rest of [`Engine::put_on_bus`] once the bus accepted `msg`: sends a copy to
    /// every target of every live matched rule in `routes` (emptying it).
    fn route_on_bus(&mut self, bus: NodeId, msg: &MsgKey, routes: &mut Routes) {
        let NodeRt::Bus(b) = &self.nodes[bus] else {
            return;
        };
        let disabled = &b.disabled;
        let live = routes.iter().filter(|r| !disabled[r.rule as usize]).count();
        if live == 0 {
            self.metrics[bus].counters.filtered += 1;
            self.metrics[bus].drop("no rule matched");
            self.ledger.dropped += 1;
            self.tracer
                .hop(&self.messages[msg], self.now, bus, HopKind::NoMatch);
            return;
        }
        self.metrics[bus].counters.matched += 1;
        self.ledger.routed += 1;
        let mut last_rule = u32::MAX;
        for route in routes.drain(..) {
            let NodeRt::Bus(b) = &self.nodes[bus] else {
                break;
            };
            if b.disabled[route.rule as usize] {
                continue;
            }
            if route.rule != last_rule {
                last_rule = route.rule;
                self.tracer.hop(
                    &self.messages[msg],
                    self.now,
                    bus,
                    HopKind::Matched(route.rule),
                );
            }
            // What the delivery needs of the target, read here (not holding the bus's
            // configuration across the delivery, which would cost reference counting).
            let target = &b.cfg.rules[route.rule as usize].targets[route.target as usize];
            let (to, edge) = (
                target.to,
                b.edges[route.rule as usize][route.target as usize],
            );
            let group_id = target.group_id.as_deref().map(Arc::<str>::from);
            let retry = RetrySpec {
                style: RetryStyle::EventBridge,
                max_retries: target.retry.maximum_retry_attempts,
                max_age: target.retry.maximum_event_age.nanos(),
                dlq: target.dlq,
            };
            self.edges[edge as usize].sent += 1;
            let body = match route.body {
                RouteBody::Event => None,
                RouteBody::Text(text) => Some(text),
                RouteBody::Nothing => {
                    // EventBridge delivers nothing in these cases.
                    self.metrics[bus].drop("input transformation produced nothing");
                    continue;
                }
            };
            let via = Via::Rule {
                bus,
                rule: route.rule,
            };
            if self.is_instant_consumer(to) {
                // The copy's body is never read: counts, hops and probes use what it
                // shares with the event.
                self.ledger.created += 1;
                self.consume_now(msg, to, edge, via);
                continue;
            }
            let copy = if body.is_none() && group_id.is_none() {
                self.messages.share(msg)
            } else {
                let shared = &self.messages[msg];
                let copy = Message {
                    extra: Extra {
                        group_id,
                        ..Extra::default()
                    }
                    .boxed(),
                    ..shared.descendant(body.unwrap_or_else(|| shared.body.clone()))
                };
                self.messages.insert(copy)
            };
            self.ledger.created += 1;
            let key = self.letters.insert(Letter {
                msg: copy,
                to,
                via,
                retry,
                retries: 0,
                receives: 0,
                first_at: self.now,
                received_at: self.now,
                edge,
            });
            self.route_filter = route.filter;
            self.deliver(key, to);
            self.route_filter = None;
        }
    }

    /// Who is putting a letter: the producer or forwarding bus, with its account.
    /// Whether the letter's sender may put on `bus` (PutEvents calls were checked when
    /// they were made).
    fn may_put(&self, key: LetterKey, bus: &CompiledBus) -> bool {
        let via = self.letters[key].via;
        if via == Via::Api {
            return true;
        }
        match via_owner(via) {
            Some(id) => {
                let info = node_info(&self.compiled.nodes[id]);
                bus.allows(&info.name, &info.account)
            }
            None => bus.allows("", ""),
        }
    }

    /// Keeps `msg` in the bus's archives: as its recipe when `recipe` names the
    /// producer that just prepared it (and which of its events it is), else as text.
    fn archive(&mut self, bus: NodeId, msg: &MsgKey, recipe: Option<(NodeId, Origin)>) {
        let msg = &self.messages[msg];
        let count = match &self.nodes[bus] {
            NodeRt::Bus(b) => b.archives.len(),
            _ => 0,
        };
        for i in 0..count {
            let NodeRt::Bus(b) = &self.nodes[bus] else {
                return;
            };
            let a = b.archives[i];
            let (producer, archive) = match recipe {
                Some((p, _)) => match self.nodes.get_disjoint_mut([p, a]) {
                    Ok([producer, archive]) => (Some(&*producer), archive),
                    Err(_) => continue,
                },
                None => (None, &mut self.nodes[a]),
            };
            let NodeRt::Archive(rt) = archive else {
                continue;
            };
            let job = match producer {
                Some(NodeRt::Producer(p)) => p.ready.last_job.as_ref(),
                _ => None,
            };
            let keep = match &rt.cfg.pattern {
                Some(m) => {
                    let mut ids = Vec::new();
                    m.matches_with(msg.body.as_bytes(), &mut self.scratch, &mut ids)
                        .is_ok()
                        && !ids.is_empty()
                }
                None => true,
            };
            if !keep {
                continue;
            }
            match (job, recipe) {
                (Some(job), Some((_, origin))) => rt.events.push_recipe(
                    self.now,
                    msg.root,
                    msg.traced,
                    job,
                    origin.seq,
                    origin.time,
                ),
                _ => rt.events.push(self.now, msg.root, msg.traced, &msg.body),
            }
            let mut evicted = 0;
            while rt.events.len() as u64 > rt.cfg.max_events
                || rt.cfg.retention.is_some_and(|r| {
                    rt.events
                        .oldest_at()
                        .is_some_and(|t| t.saturating_add(r.nanos()) < self.now)
                })
            {
                if !rt.events.evict_oldest() {
                    break;
                }
                evicted += 1;
            }
            let depth = rt.events.len() as u64;
            let m = &mut self.metrics[a];
            m.counters.received += 1;
            m.counters.dropped += evicted;
            if evicted > 0 {
                *m.drop_reasons.entry("evicted").or_default() += evicted;
            }
            m.set_depth(depth);
            self.tracer.hop(msg, self.now, a, HopKind::Archived);
        }
    }

    fn publish(&mut self, key: LetterKey, topic: NodeId) {
        // Verdicts worked out when the route was prepared (only for a delivery
        // straight from the rule; retries evaluate again).
        let known = self.route_filter.take();
        self.metrics[topic].counters.received += 1;
        let NodeRt::Topic(t) = &self.nodes[topic] else {
            return;
        };
        if t.cfg.fifo && self.fifo_duplicate(key, topic, t.cfg.content_dedup, true) {
            return;
        }
        let letter = self.letters.remove(key);
        self.count_delivered(letter.edge, letter.via);
        let msg = letter.msg;
        self.publish_copies(topic, &msg, known);
        self.retire(msg);
    }

    /// The rest of [`Engine::publish`] once the topic took `msg`: a copy to every
    /// subscription whose filter policy passes (`known`: the body policies' verdicts,
    /// when they were worked out as the route was prepared).
    fn publish_copies(&mut self, topic: NodeId, msg: &MsgKey, known: Option<u64>) {
        let NodeRt::Topic(t) = &self.nodes[topic] else {
            return;
        };
        // One pass over the body for all body policies, unless already known.
        let known = known.or_else(|| {
            t.cfg
                .policy_set
                .as_ref()
                .map(|set| set.passes(self.messages[msg].body.as_bytes()))
        });
        let subscriptions = t.cfg.subscriptions.len();
        let mut copies = 0;
        let mut envelope: Option<MsgKey> = None;
        for i in 0..subscriptions {
            // What the delivery needs of the subscription, read here (not holding the
            // topic's configuration across the delivery, which would cost reference
            // counting).
            let NodeRt::Topic(t) = &self.nodes[topic] else {
                break;
            };
            let (sub, edge) = (&t.cfg.subscriptions[i], t.edges[i]);
            let (to, raw, max_retries, dlq) = (sub.to, sub.raw, sub.max_retries, sub.dlq);
            let pass = match (&sub.policy, known) {
                (None, _) => true,
                (Some(_), Some(passes)) => passes & (1 << i) != 0,
                (Some(p), None) => {
                    let shared = &self.messages[msg];
                    let input = match p.scope() {
                        crate::pattern::sns::Scope::MessageBody => shared.body.as_bytes(),
                        crate::pattern::sns::Scope::MessageAttributes => {
                            shared.attributes().unwrap_or("{}").as_bytes()
                        }
                    };
                    p.matches(input).unwrap_or(false)
                }
            };
            self.edges[edge as usize].sent += 1;
            if !pass {
                self.edges[edge as usize].filtered += 1;
                self.metrics[topic].counters.filtered += 1;
                self.tracer.hop(
                    &self.messages[msg],
                    self.now,
                    topic,
                    HopKind::Filtered(i as u32),
                );
                continue;
            }
            self.metrics[topic].counters.matched += 1;
            copies += 1;
            self.ledger.created += 1;
            let copy = if raw {
                self.messages.share(msg)
            } else {
                if envelope.is_none() {
                    let arn = t.cfg.info.arn.clone();
                    envelope = Some(self.sns_envelope(&arn, msg));
                }
                match &envelope {
                    Some(e) => self.messages.share(e),
                    None => self.messages.share(msg),
                }
            };
            let key = self.letters.insert(Letter {
                msg: copy,
                to,
                via: Via::Subscription { topic },
                retry: RetrySpec {
                    style: RetryStyle::Sns,
                    max_retries,
                    max_age: u64::MAX,
                    dlq,
                },
                retries: 0,
                receives: 0,
                first_at: self.now,
                received_at: self.now,
                edge,
            });
            self.deliver(key, to);
        }
        if let Some(envelope) = envelope {
            self.retire(envelope);
        }
        if copies == 0 {
            self.metrics[topic].drop("no subscription matched");
            self.ledger.dropped += 1;
        } else {
            self.ledger.routed += 1;
        }
    }

    /// The JSON SNS delivers when raw message delivery is off.
    fn sns_envelope(&mut self, topic_arn: &str, msg: &MsgKey) -> MsgKey {
        let id =
            uuid::Builder::from_random_bytes(self.rng.random::<u128>().to_le_bytes()).into_uuid();
        let time = self.time_text().to_string();
        let msg = &self.messages[msg];
        let mut body = String::with_capacity(msg.body.len() + 256);
        body.push_str("{\"Type\":\"Notification\",\"MessageId\":\"");
        crate::model::template::push_uuid_text(&mut body, id);
        body.push_str("\",\"TopicArn\":");
        body.push_str(&json_string(topic_arn));
        body.push_str(",\"Message\":");
        body.push_str(&json_string(&msg.body));
        body.push_str(",\"Timestamp\":\"");
        body.push_str(&time);
        body.push_str("\",\"SignatureVersion\":\"1\",\"MessageAttributes\":");
        body.push_str(msg.attributes().unwrap_or("{}"));
        body.push('}');
        let envelope = Message {
            extra: Extra {
                attributes: msg.attributes().map(String::from),
                group_id: msg.group_id().cloned(),
                dedup_id: msg.dedup_id().cloned(),
                dlq_attributes: None,
            }
            .boxed(),
            ..msg.descendant(body)
        };
        self.messages.insert(envelope)
    }

    /// FIFO deduplication at a topic or queue: true (and the letter dropped, counted)
    /// when its `MessageDeduplicationId` — or, content-based, a hash of its body — was
    /// seen in the last five minutes.
    /// With `record` false the id is only looked up (a queue records it once it has
    /// accepted the message: a send refused for capacity is not a seen message).
    fn fifo_duplicate(
        &mut self,
        key: LetterKey,
        node: NodeId,
        content_based: bool,
        record: bool,
    ) -> bool {
        let msg = self.letter_msg(key);
        let id = msg
            .dedup_id()
            .cloned()
            .or_else(|| content_based.then(|| Arc::from(format!("{:016x}", fxhash(&msg.body)))));
        let dedup = match &mut self.nodes[node] {
            NodeRt::Topic(t) => &mut t.dedup,
            NodeRt::Queue(q) => &mut q.dedup,
            _ => return false,
        };
        let Some(id) = id else {
            return false;
        };
        if !dedup.check(id, self.now, record) {
            return false;
        }
        let letter = self.letters.remove(key);
        self.count_delivered(letter.edge, letter.via);
        self.metrics[node].drop("duplicate within 5 minutes");
        self.ledger.dropped += 1;
        self.forget(letter, node, "duplicate");
        true
    }

    /// Counts a successful hand-over on an edge and at the bus or topic that routed it.
    #[inline]
    fn count_delivered(&mut self, edge: u32, via: Via) {
        if let Some(e) = self.edges.get_mut(edge as usize) {
            e.delivered += 1;
        }
        if let Via::Rule { bus, .. } | Via::Subscription { topic: bus } = via {
            self.metrics[bus].counters.delivered += 1;
        }
    }

    fn enqueue(&mut self, key: LetterKey, queue: NodeId) {
        self.metrics[queue].counters.received += 1;
        let NodeRt::Queue(q) = &mut self.nodes[queue] else {
            return;
        };
        let Some(cfg) = q.cfg.as_ref() else {
            return;
        };
        let full = cfg
            .config
            .capacity
            .is_some_and(|c| q.waiting + q.in_flight >= c);
        let (fifo, content_based) = (cfg.config.fifo, cfg.config.content_based_deduplication);
        // A duplicate is accepted and dropped even when the queue is full (SQS).
        if fifo && self.fifo_duplicate(key, queue, content_based, !full) {
            return;
        }
        if full {
            self.metrics[queue].counters.refused += 1;
            self.fail(key, queue, QUEUE_FULL);
            return;
        }
        let letter = &mut self.letters[key];
        letter.to = queue;
        let group = self.messages[&letter.msg].group_id().cloned();
        let NodeRt::Queue(q) = &mut self.nodes[queue] else {
            return;
        };
        match group {
            Some(g) if q.cfg.as_ref().is_some_and(|c| c.config.fifo) => {
                let list = q.groups.entry(g.clone()).or_default();
                list.push_back(key);
                if list.len() == 1 && !q.busy_groups.contains_key(&g) {
                    q.ready.push_back(g);
                }
            }
            _ => q.visible.push_back(key),
        }
        q.waiting += 1;
        let depth = q.waiting + q.in_flight;
        self.metrics[queue].set_depth(depth);
        let (edge, via) = (self.letters[key].edge, self.letters[key].via);
        self.count_delivered(edge, via);
        self.hop_letter(key, queue, HopKind::Queued);
        self.dispatch(queue);
    }

    /// Hands visible messages to consumers with free slots.
    fn dispatch(&mut self, queue: NodeId) {
        loop {
            let NodeRt::Queue(q) = &self.nodes[queue] else {
                return;
            };
            let Some(cfg) = q.cfg.as_ref() else {
                return;
            };
            if q.waiting == 0 || cfg.consumers.is_empty() {
                return;
            }
            // A consumer with a free slot, round robin.
            let n = cfg.consumers.len();
            let start = q.next_consumer;
            let Some(slot) = (0..n).map(|i| (start + i) % n).find(|&i| {
                matches!(&self.nodes[cfg.consumers[i]], NodeRt::Consumer(rt) if !rt.down && rt.busy < rt.cfg.config.concurrency)
            }) else {
                return;
            };
            let consumer = cfg.consumers[slot];
            let (max_receives, dlq) = (cfg.config.max_receives, cfg.dlq);
            let NodeRt::Queue(q) = &mut self.nodes[queue] else {
                return;
            };
            q.next_consumer = (slot + 1) % n;
            let edge = q.edges.get(slot).copied().unwrap_or(u32::MAX);
            let Some(key) = take_next(q) else {
                return;
            };
            q.waiting -= 1;
            let letter = &mut self.letters[key];
            letter.receives += 1;
            letter.received_at = self.now;
            if max_receives.is_some_and(|m| letter.receives > m) && dlq.is_some() {
                // SQS moves a message on the receive that exceeds maxReceiveCount.
                let group = self.letter_msg(key).group_id().cloned();
                self.release_group(queue, group);
                self.metrics[queue].counters.dlq += 1;
                self.refresh_depth(queue);
                self.dead_letter(
                    key,
                    queue,
                    dlq,
                    "MaxReceiveCountExceeded",
                    "received more than maxReceiveCount times",
                    "maxReceiveCount",
                );
                continue;
            }
            let NodeRt::Queue(q) = &mut self.nodes[queue] else {
                return;
            };
            q.in_flight += 1;
            self.metrics[queue].counters.in_flight = q.in_flight;
            self.metrics[queue].counters.delivered += 1;
            self.metrics[consumer].counters.received += 1;
            if let Some(e) = self.edges.get_mut(edge as usize) {
                e.sent += 1;
                e.delivered += 1;
            }
            self.start_processing(key, consumer);
        }
    }

    fn refresh_depth(&mut self, queue: NodeId) {
        if let NodeRt::Queue(q) = &self.nodes[queue] {
            let (depth, inflight) = (q.waiting + q.in_flight, q.in_flight);
            let m = &mut self.metrics[queue];
            m.set_depth(depth);
            m.counters.in_flight = inflight;
        }
    }

    /// FIFO: a group may hand out its next message once the previous one is done.
    fn release_group(&mut self, queue: NodeId, group: Option<Arc<str>>) {
        let NodeRt::Queue(q) = &mut self.nodes[queue] else {
            return;
        };
        let Some(g) = group else {
            return;
        };
        if let Some(n) = q.busy_groups.get_mut(&g) {
            *n -= 1;
            if *n == 0 {
                q.busy_groups.remove(&g);
                if q.groups.get(&g).is_some_and(|l| !l.is_empty()) {
                    q.ready.push_back(g);
                }
            }
        }
    }

    fn push_to_consumer(&mut self, key: LetterKey, consumer: NodeId) {
        let NodeRt::Consumer(c) = &self.nodes[consumer] else {
            return;
        };
        self.metrics[consumer].counters.received += 1;
        if c.down {
            self.fail(key, consumer, DOWN);
            return;
        }
        if c.busy >= c.cfg.config.concurrency {
            self.metrics[consumer].counters.throttled += 1;
            self.fail(key, consumer, THROTTLED);
            return;
        }
        let (edge, via) = (self.letters[key].edge, self.letters[key].via);
        self.count_delivered(edge, via);
        self.start_processing(key, consumer);
    }

    /// Whether a copy delivered to `node` now would be processed on arrival and cannot
    /// fail: a consumer that is up, has a free slot, instant work (latency 0, none added),
    /// no error rate, and no queues to pull from afterwards.
    #[inline]
    fn is_instant_consumer(&self, node: NodeId) -> bool {
        matches!(&self.nodes[node], NodeRt::Consumer(c)
            if !c.down
                && c.busy < c.cfg.config.concurrency
                && c.extra_latency == 0
                && c.error_rate <= 0.0
                && c.cfg.queues.is_empty()
                && matches!(c.cfg.config.latency, Latency::Fixed(d) if d.nanos() == 0))
    }

    /// Processes a copy of `msg` at an instant consumer (see [`Self::is_instant_consumer`])
    /// without making a letter: the counts, depth gauge, latency, probes and trace hops
    /// are those of [`Self::push_to_consumer`], [`Self::start_processing`] and
    /// [`Self::complete`] for such a copy.
    fn consume_now(&mut self, msg: &MsgKey, consumer: NodeId, edge: u32, via: Via) {
        self.count_delivered(edge, via);
        let NodeRt::Consumer(c) = &self.nodes[consumer] else {
            return;
        };
        let busy = u64::from(c.busy);
        let m = &mut self.metrics[consumer];
        m.counters.received += 1;
        m.set_depth(busy + 1);
        m.set_depth(busy);
        self.tracer
            .hop(&self.messages[msg], self.now, consumer, HopKind::Started);
        self.record_processed(consumer, msg);
    }

    /// A consumer finished `msg`: counts, end-to-end latency, the throughput series,
    /// `reaches` probes and the trace hop.
    #[inline]
    fn record_processed(&mut self, consumer: NodeId, msg: &MsgKey) {
        let m = &mut self.metrics[consumer];
        m.counters.processed += 1;
        let shared = &self.messages[msg];
        m.record_latency(self.now - shared.produced_at);
        self.ledger.processed += 1;
        if let Some(slot) = self.series_nodes.get(consumer).copied().flatten() {
            let sec = (self.now / 1_000_000_000) as usize;
            let s = &mut self.series[slot];
            if s.len() <= sec {
                s.resize(sec + 1, 0);
            }
            s[sec] += 1;
        }
        let shared = &self.messages[msg];
        let (tracked_type, root) = (shared.tracked_type, shared.root);
        self.tracer
            .hop(shared, self.now, consumer, HopKind::Processed);
        self.probe(consumer, tracked_type, root);
    }

    fn start_processing(&mut self, key: LetterKey, consumer: NodeId) {
        let NodeRt::Consumer(c) = &mut self.nodes[consumer] else {
            return;
        };
        c.busy += 1;
        let busy = c.busy;
        let latency = c
            .latency
            .sample(&mut self.rng)
            .saturating_add(c.extra_latency);
        let error_rate = c.error_rate;
        let timeout = c.cfg.config.timeout.map(|t| t.nanos());
        self.metrics[consumer].set_depth(u64::from(busy));
        let (delay, error) = match timeout {
            Some(t) if latency > t => (t, Some(WorkError::Timeout)),
            _ if error_rate > 0.0 && self.rng.random::<f64>() < error_rate => {
                (latency, Some(WorkError::FunctionError))
            }
            _ => (latency, None),
        };
        self.hop_letter(key, consumer, HopKind::Started);
        if delay == 0 && !matches!(self.nodes[self.letters[key].to], NodeRt::Queue(_)) {
            // Instant work (a sink) finishes now, without a timer; queue deliveries
            // always go through the timer so a backlog cannot recurse.
            self.complete(consumer, key, error);
            return;
        }
        self.schedule(
            self.now.saturating_add(delay),
            TimerKind::Complete {
                consumer: id32(consumer),
                letter: id32(key),
                error,
            },
        );
    }

    fn complete(&mut self, consumer: NodeId, key: LetterKey, error: Option<WorkError>) {
        if let NodeRt::Consumer(c) = &mut self.nodes[consumer] {
            c.busy = c.busy.saturating_sub(1);
            let busy = c.busy;
            self.metrics[consumer].set_depth(u64::from(busy));
        }
        if !self.letters.contains(key) {
            return;
        }
        let from_queue = matches!(self.nodes.get(self.letters[key].to), Some(NodeRt::Queue(_)));
        let queue = self.letters[key].to;
        match error {
            None => {
                let letter = self.letters.remove(key);
                self.record_processed(consumer, &letter.msg);
                if from_queue {
                    let group = self.messages[&letter.msg].group_id().cloned();
                    self.release_group(queue, group);
                    if let NodeRt::Queue(q) = &mut self.nodes[queue] {
                        q.in_flight -= 1;
                    }
                    self.refresh_depth(queue);
                }
                self.retire(letter.msg);
            }
            Some(error) => {
                let code = error.code();
                self.hop_letter(key, consumer, HopKind::Failed(code));
                if from_queue {
                    self.metrics[consumer].counters.failed += 1;
                    // The message reappears when its visibility timeout ends.
                    let letter = &self.letters[key];
                    let vt = match &self.nodes[queue] {
                        NodeRt::Queue(q) => q
                            .cfg
                            .as_ref()
                            .map(|c| c.config.visibility_timeout.nanos())
                            .unwrap_or(0),
                        _ => 0,
                    };
                    // At least MIN_REDELIVERY later: with a zero visibility timeout and
                    // work that fails instantly, time would otherwise never move.
                    let at = letter
                        .received_at
                        .saturating_add(vt)
                        .max(self.now + MIN_REDELIVERY);
                    self.schedule(
                        at,
                        TimerKind::Visible {
                            queue: id32(queue),
                            letter: id32(key),
                        },
                    );
                } else {
                    let failure = Failure {
                        code,
                        message: if error == WorkError::Timeout {
                            "the consumer timed out"
                        } else {
                            "the consumer returned an error"
                        },
                        retryable: true,
                    };
                    self.fail(key, consumer, failure);
                }
            }
        }
        // A free slot: pull from the queues this consumer reads.
        let queues = match &self.nodes[consumer] {
            NodeRt::Consumer(c) => c.cfg.queues.len(),
            _ => 0,
        };
        for i in 0..queues {
            let NodeRt::Consumer(c) = &self.nodes[consumer] else {
                break;
            };
            let q = c.cfg.queues[i];
            self.dispatch(q);
        }
    }

    fn make_visible(&mut self, queue: NodeId, key: LetterKey) {
        if !self.letters.contains(key) {
            return;
        }
        let group = self.letter_msg(key).group_id().cloned();
        self.release_group(queue, group.clone());
        let NodeRt::Queue(q) = &mut self.nodes[queue] else {
            return;
        };
        q.in_flight -= 1;
        q.waiting += 1;
        match group {
            Some(g) if q.cfg.as_ref().is_some_and(|c| c.config.fifo) => {
                let list = q.groups.entry(g.clone()).or_default();
                list.push_front(key);
                if !q.busy_groups.contains_key(&g) && !q.ready.contains(&g) {
                    q.ready.push_front(g);
                }
            }
            _ => q.visible.push_back(key),
        }
        self.refresh_depth(queue);
        self.dispatch(queue);
    }

    fn probe(&mut self, consumer: NodeId, tracked_type: u32, root: u64) {
        if tracked_type == u32::MAX {
            return;
        }
        let now = self.now;
        for p in &mut self.probes {
            if p.consumer != Some(consumer) {
                continue;
            }
            if let Some(at) = p.pending.remove(&root) {
                let took = now - at;
                p.worst = p.worst.max(took);
                if took <= p.within {
                    p.reached += 1;
                } else {
                    p.late += 1;
                    p.first_violation.get_or_insert((root, took));
                }
            }
        }
    }

    /// A failed attempt: retry per the letter's policy, or give up.
    fn fail(&mut self, key: LetterKey, at: NodeId, failure: Failure) {
        let letter = &mut self.letters[key];
        if let Some(e) = self.edges.get_mut(letter.edge as usize) {
            e.failed += 1;
        }
        self.metrics[at].counters.failed += 1;
        let spec = letter.retry;
        let age = self.now - letter.first_at;
        let (exhausted, condition) = if !failure.retryable {
            (true, "NonRetryableError")
        } else if letter.retries >= spec.max_retries || spec.style == RetryStyle::None {
            (true, "MaximumRetryAttempts")
        } else if age >= spec.max_age {
            (true, "MaximumEventAgeInSeconds")
        } else {
            (false, "")
        };
        let owner = via_owner(letter.via).unwrap_or(at);
        if exhausted {
            if spec.dlq.is_some() {
                self.metrics[owner].counters.dlq += 1;
                if at != owner {
                    self.metrics[at].counters.dlq += 1;
                }
                if let Some(e) = self.edges.get_mut(self.letters[key].edge as usize) {
                    e.dlq += 1;
                }
                self.dead_letter(
                    key,
                    owner,
                    spec.dlq,
                    failure.code,
                    failure.message,
                    condition,
                );
            } else {
                let reason = match condition {
                    "MaximumEventAgeInSeconds" => "event too old to retry",
                    "NonRetryableError" => failure_reason(failure.code),
                    _ if spec.style == RetryStyle::None => failure_reason(failure.code),
                    _ => "retries exhausted",
                };
                self.drop_letter(key, owner, reason);
            }
            return;
        }
        letter.retries += 1;
        let n = letter.retries;
        let delay = match spec.style {
            RetryStyle::EventBridge => {
                let d = RETRY_BASE
                    .saturating_mul(1u64 << (n - 1).min(20))
                    .min(RETRY_CAP);
                d / 2 + self.rng.random_range(0..=d / 2)
            }
            RetryStyle::Sns => sns_delay(n),
            RetryStyle::None => 0,
        };
        self.metrics[owner].counters.retried += 1;
        if let Some(e) = self.edges.get_mut(self.letters[key].edge as usize) {
            e.retried += 1;
        }
        self.hop_letter(key, at, HopKind::Retry(n, failure.code));
        self.schedule(self.now.saturating_add(delay), TimerKind::Retry(id32(key)));
    }

    /// Moves a letter to a dead-letter queue with the attributes AWS sets.
    fn dead_letter(
        &mut self,
        key: LetterKey,
        owner: NodeId,
        dlq: Option<NodeId>,
        code: &str,
        message: &str,
        condition: &str,
    ) {
        let letter = self.letters.remove(key);
        let Some(dlq) = dlq else {
            self.metrics[owner].drop("no dead-letter queue");
            self.ledger.dropped += 1;
            self.retire(letter.msg);
            return;
        };
        self.ledger.dead_lettered += 1;
        // EventBridge sets these on what a rule target's DLQ receives; SQS redrive and
        // SNS keep the message (and its attributes) as it was.
        let mut attrs = BTreeMap::new();
        if let Via::Rule { bus, rule } = letter.via {
            if let CompiledNode::Bus(b) = &self.compiled.nodes[bus]
                && let Some(r) = b.rules.get(rule as usize)
            {
                attrs.insert("RULE_ARN", r.arn.clone());
            }
            let target = node_info(&self.compiled.nodes[letter.to]).arn.clone();
            attrs.insert("TARGET_ARN", target);
            attrs.insert("ERROR_CODE", code.to_string());
            attrs.insert("ERROR_MESSAGE", message.to_string());
            attrs.insert("EXHAUSTED_RETRY_CONDITION", condition.to_string());
            attrs.insert("RETRY_ATTEMPTS", letter.retries.to_string());
        }
        let failed = &self.messages[&letter.msg];
        let msg = Message {
            tracked_type: u32::MAX,
            extra: Extra {
                attributes: failed.attributes().map(String::from),
                group_id: failed.group_id().cloned(),
                dedup_id: None,
                dlq_attributes: (!attrs.is_empty()).then_some(attrs),
            }
            .boxed(),
            ..failed.descendant(failed.body.clone())
        };
        self.retire(letter.msg);
        self.tracer
            .hop(&msg, self.now, owner, HopKind::DeadLettered);
        let msg = self.messages.insert(msg);
        self.ledger.created += 1;
        let edge = self.edge(owner, dlq, "dlq".into());
        self.edges[edge as usize].sent += 1;
        let copy = self.letters.insert(Letter {
            msg,
            to: dlq,
            via: Via::DeadLetter,
            retry: no_retry(),
            retries: 0,
            receives: 0,
            first_at: self.now,
            received_at: self.now,
            edge,
        });
        self.enqueue(copy, dlq);
    }

    // ---- scenario actions ---------------------------------------------------------

    fn start_action(&mut self, i: usize) {
        let Some(action) = self.actions.get(i).cloned() else {
            return;
        };
        let id = self.compiled.node_id(action.kind.node());
        let Some(id) = id else {
            return;
        };
        let mut saved = 0.0;
        match &action.kind {
            ActionKind::ConsumerDown(_) | ActionKind::ConsumerUp(_) => {
                let down = matches!(action.kind, ActionKind::ConsumerDown(_));
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    c.down = down;
                }
                if !down {
                    self.wake_consumer(id);
                }
            }
            ActionKind::ConsumerLatency(_, extra) => {
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    c.extra_latency += extra.nanos();
                }
            }
            ActionKind::ConsumerErrorRate(_, rate) => {
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    saved = c.error_rate;
                    c.error_rate = *rate;
                }
            }
            ActionKind::ProducerBurst(_, factor) => self.set_producer(id, |p| p.burst *= factor),
            ActionKind::ProducerRate(_, rate) => {
                if let NodeRt::Producer(p) = &self.nodes[id] {
                    saved = p.rate;
                }
                self.set_producer(id, |p| p.rate = *rate);
            }
            ActionKind::ProducerStop(_) => self.set_producer(id, |p| p.stopped = true),
            ActionKind::ProducerStart(_) => self.set_producer(id, |p| p.stopped = false),
            ActionKind::RuleDisable(_, rule) | ActionKind::RuleEnable(_, rule) => {
                let disable = matches!(action.kind, ActionKind::RuleDisable(..));
                if let NodeRt::Bus(b) = &mut self.nodes[id]
                    && let Some(r) = b.cfg.rules.iter().position(|r| &r.name == rule)
                {
                    b.disabled[r] = disable;
                }
            }
            ActionKind::Replay { from, to, .. } => self.replay(id, from.nanos(), to.nanos()),
        }
        self.saved[i] = saved;
        if let Some(lasts) = action.lasts {
            if matches!(
                action.kind,
                ActionKind::ConsumerErrorRate(..) | ActionKind::ProducerRate(..)
            ) {
                self.overlapping
                    .entry((action.kind.node().to_string(), action.kind.effect()))
                    .or_default()
                    .push(i);
            }
            self.schedule(
                self.now.saturating_add(lasts.nanos()),
                TimerKind::Revert(id32(i)),
            );
        }
    }

    /// For a timed action that set a value others may also have set meanwhile: the
    /// value to restore now, if this is the latest such action still in effect; else
    /// the next one inherits what this one saved (so the last to end restores the
    /// value from before them all).
    fn restore_value(&mut self, i: usize, action: &Action) -> Option<f64> {
        let key = (action.kind.node().to_string(), action.kind.effect());
        let active = self.overlapping.get_mut(&key)?;
        let at = active.iter().position(|&a| a == i)?;
        active.remove(at);
        match active.get(at) {
            Some(&next) => {
                self.saved[next] = self.saved[i];
                None
            }
            None => Some(self.saved[i]),
        }
    }

    fn revert_action(&mut self, i: usize) {
        let Some(action) = self.actions.get(i).cloned() else {
            return;
        };
        let Some(id) = self.compiled.node_id(action.kind.node()) else {
            return;
        };
        match &action.kind {
            ActionKind::ConsumerDown(_) => {
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    c.down = false;
                }
                self.wake_consumer(id);
            }
            ActionKind::ConsumerUp(_) => {
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    c.down = true;
                }
            }
            ActionKind::ConsumerLatency(_, extra) => {
                if let NodeRt::Consumer(c) = &mut self.nodes[id] {
                    c.extra_latency = c.extra_latency.saturating_sub(extra.nanos());
                }
            }
            ActionKind::ConsumerErrorRate(..) => {
                if let Some(value) = self.restore_value(i, &action)
                    && let NodeRt::Consumer(c) = &mut self.nodes[id]
                {
                    c.error_rate = value;
                }
            }
            ActionKind::ProducerBurst(_, factor) => self.set_producer(id, |p| p.burst /= factor),
            ActionKind::ProducerRate(..) => {
                if let Some(value) = self.restore_value(i, &action) {
                    self.set_producer(id, |p| p.rate = value);
                }
            }
            ActionKind::ProducerStop(_) => self.set_producer(id, |p| p.stopped = false),
            ActionKind::ProducerStart(_) => self.set_producer(id, |p| p.stopped = true),
            ActionKind::RuleDisable(_, rule) | ActionKind::RuleEnable(_, rule) => {
                let disable = matches!(action.kind, ActionKind::RuleEnable(..));
                if let NodeRt::Bus(b) = &mut self.nodes[id]
                    && let Some(r) = b.cfg.rules.iter().position(|r| &r.name == rule)
                {
                    b.disabled[r] = disable;
                }
            }
            ActionKind::Replay { .. } => {}
        }
    }

    fn set_producer(&mut self, id: NodeId, change: impl FnOnce(&mut ProducerRt)) {
        self.producers_changed();
        self.invalidate(id);
        let now = self.now as f64;
        if let NodeRt::Producer(p) = &mut self.nodes[id] {
            let was_idle = !p.next_at.is_finite() || p.stopped;
            change(p);
            // A producer that was idle (rate 0 or stopped) starts from now.
            if was_idle || p.next_at < now || !p.next_at.is_finite() {
                p.next_at = now;
            }
            let rate = p.rate * p.burst;
            if rate <= 0.0 {
                p.next_at = f64::INFINITY;
            } else {
                // A faster rate does not wait for an event the slow rate scheduled.
                p.next_at = p.next_at.min(now + 1e9 / rate);
            }
        }
    }

    fn wake_consumer(&mut self, id: NodeId) {
        if let NodeRt::Consumer(c) = &self.nodes[id] {
            for q in c.cfg.queues.clone() {
                self.dispatch(q);
            }
        }
    }

    /// Puts an archive's events from `[from, to]` back on its bus, marked with
    /// `replay-name` as EventBridge does.
    fn replay(&mut self, archive: NodeId, from: SimTime, to: SimTime) {
        let NodeRt::Archive(a) = &self.nodes[archive] else {
            return;
        };
        let bus = a.cfg.bus;
        let name = a.cfg.info.name.clone();
        let events = a.events.window(from, to, PrepareJob::body);
        for archived in events {
            let body = match archived.body.strip_prefix('{') {
                Some(rest) => format!("{{\"replay-name\":{},{rest}", json_string(&name)),
                None => archived.body,
            };
            self.ledger.created += 1;
            self.metrics[archive].counters.delivered += 1;
            let copy = self.messages.insert(Message {
                body,
                root: archived.root,
                produced_at: self.now,
                tracked_type: u32::MAX,
                traced: archived.traced,
                origin: None,
                extra: None,
            });
            let edge = self.edge(archive, bus, "replay".into());
            self.edges[edge as usize].sent += 1;
            let key = self.letters.insert(Letter {
                msg: copy,
                to: bus,
                via: Via::Bus(bus),
                retry: no_retry(),
                retries: 0,
                receives: 0,
                first_at: self.now,
                received_at: self.now,
                edge,
            });
            self.deliver(key, bus);
        }
    }

    // ---- PutEvents ------------------------------------------------------------------

    /// EventBridge PutEvents on `bus` from `principal` (a node id or an account id):
    /// 1–10 entries, each ≤ 1 MB, each with `Source`, `DetailType` and a JSON-object
    /// `Detail`. Returns one result per entry; refused entries are counted.
    pub fn put_events(
        &mut self,
        bus: &str,
        principal: &str,
        entries: &[serde_json::Value],
    ) -> Result<Vec<PutResult>, String> {
        let Some(bus_id) = self.compiled.node_id(bus) else {
            return Err(format!(
                "ResourceNotFoundException: event bus {bus} does not exist"
            ));
        };
        let NodeRt::Bus(b) = &self.nodes[bus_id] else {
            return Err(format!(
                "ResourceNotFoundException: {bus} is not an event bus"
            ));
        };
        if entries.is_empty() || entries.len() > 10 {
            return Err(format!(
                "ValidationException: PutEvents takes 1 to 10 entries, not {}",
                entries.len()
            ));
        }
        let account = self
            .compiled
            .node_id(principal)
            .map(|p| node_info(&self.compiled.nodes[p]).account.clone())
            .unwrap_or_else(|| principal.to_string());
        let allowed = b.cfg.allows(principal, &account);
        let region = b.cfg.info.region.clone();
        let mut results = Vec::new();
        for entry in entries {
            let result = self.put_entry(bus_id, entry, allowed, &account, &region);
            if let PutResult::Err(..) = result {
                self.metrics[bus_id].counters.received += 1;
                self.metrics[bus_id].counters.refused += 1;
            }
            results.push(result);
        }
        Ok(results)
    }

    fn put_entry(
        &mut self,
        bus: NodeId,
        entry: &serde_json::Value,
        allowed: bool,
        account: &str,
        region: &str,
    ) -> PutResult {
        let err = |code: &str, m: &str| PutResult::Err(code.to_string(), m.to_string());
        if !allowed {
            return err(
                "AccessDeniedException",
                "the bus policy does not allow this principal",
            );
        }
        let size = entry.to_string().len();
        if size > 1024 * 1024 {
            return err("ValidationException", "the entry is larger than 1 MB");
        }
        let text = |k: &str| entry.get(k).and_then(|v| v.as_str());
        let (Some(source), Some(detail_type), Some(detail)) =
            (text("Source"), text("DetailType"), text("Detail"))
        else {
            return err(
                "MalformedDetail",
                "an entry needs Source, DetailType and Detail (a JSON object as a string)",
            );
        };
        let detail: serde_json::Value = match serde_json::from_str(detail) {
            Ok(v @ serde_json::Value::Object(_)) => v,
            _ => return err("MalformedDetail", "Detail is not a JSON object"),
        };
        let id =
            uuid::Builder::from_random_bytes(self.rng.random::<u128>().to_le_bytes()).into_uuid();
        let time = self.time_text().to_string();
        let resources = entry
            .get("Resources")
            .cloned()
            .unwrap_or(serde_json::json!([]));
        let event = serde_json::json!({
            "version": "0",
            "id": id.hyphenated().to_string(),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": time,
            "region": region,
            "resources": resources,
            "detail": detail,
        });
        let root = self.roots;
        self.roots += 1;
        let body = event.to_string();
        let msg = Message {
            tracked_type: super::produce::tracked_type_of(&body, &self.tracked_types),
            body,
            root,
            produced_at: self.now,
            traced: self.tracer.wants(root),
            origin: None,
            extra: None,
        };
        self.ledger.created += 1;
        let key = self.letters.insert(Letter {
            msg: self.messages.insert(msg),
            to: bus,
            via: Via::Api,
            retry: no_retry(),
            retries: 0,
            receives: 0,
            first_at: self.now,
            received_at: self.now,
            edge: u32::MAX,
        });
        self.deliver(key, bus);
        PutResult::Ok(id.hyphenated().to_string())
    }

    fn track_produced(&mut self, key: LetterKey) {
        let msg = self.letter_msg(key);
        if msg.tracked_type == u32::MAX {
            return;
        }
        let ty = msg.tracked_type;
        let (root, at) = (msg.root, msg.produced_at);
        let names: Vec<bool> = self
            .probes
            .iter()
            .map(|p| self.tracked_types.get(&p.detail_type) == Some(&ty))
            .collect();
        for (p, hit) in self.probes.iter_mut().zip(names) {
            if hit && p.consumer.is_some() {
                p.pending.insert(root, at);
            }
        }
    }

    /// Names of the nodes, by id.
    pub fn node_name(&self, id: NodeId) -> &str {
        &self.compiled.ids[id]
    }

    /// What a hop says, in words (rule and subscription names resolved).
    pub fn describe(&self, hop: &Hop) -> String {
        let node = &self.compiled.nodes[hop.node];
        match (&hop.kind, node) {
            (HopKind::Matched(r), CompiledNode::Bus(b)) => {
                format!("matched rule {}", b.rules[*r as usize].name)
            }
            (HopKind::Filtered(s), CompiledNode::Topic(t)) => {
                format!(
                    "filtered by subscription {}",
                    t.subscriptions[*s as usize].name
                )
            }
            (kind, _) => kind.to_string(),
        }
    }
}

fn failure_reason(code: &'static str) -> &'static str {
    match code {
        "QueueFull" => "queue full",
        "AccessDeniedException" => "refused by bus policy",
        "ThrottlingException" => "throttled",
        "ServiceUnavailable" => "consumer down",
        _ => "delivery failed",
    }
}

/// SNS's delivery policy for AWS-managed endpoints: 3 immediate retries, 2 one second
/// apart, 10 backing off from 1 s to 20 s, then every 20 s.
fn sns_delay(retry: u32) -> SimTime {
    const S: SimTime = 1_000_000_000;
    match retry {
        0..=3 => 0,
        4..=5 => S,
        6..=15 => {
            let step = u64::from(retry - 6);
            S + (19 * S * step) / 9
        }
        _ => 20 * S,
    }
}

fn no_retry() -> RetrySpec {
    RetrySpec {
        style: RetryStyle::None,
        max_retries: 0,
        max_age: u64::MAX,
        dlq: None,
    }
}

fn take_next(q: &mut QueueRt) -> Option<LetterKey> {
    while let Some(g) = q.ready.pop_front() {
        if let Some(list) = q.groups.get_mut(&g)
            && let Some(key) = list.pop_front()
        {
            if list.is_empty() {
                q.groups.remove(&g);
            }
            *q.busy_groups.entry(g).or_default() += 1;
            return Some(key);
        }
    }
    q.visible.pop_front()
}

/// A consumer's processing-time distribution with what each draw needs worked out
/// once (the same draws as computing it every time).
#[derive(Clone, Copy, Debug)]
enum LatencySampler {
    Fixed(SimTime),
    Uniform(SimTime, SimTime),
    Exponential(f64),
    /// Median (ns, at least 1) and the log-normal's sigma.
    Lognormal(f64, f64),
}

impl LatencySampler {
    fn new(latency: &Latency) -> LatencySampler {
        match latency {
            Latency::Fixed(d) => LatencySampler::Fixed(d.nanos()),
            Latency::Uniform([a, b]) => LatencySampler::Uniform(a.nanos(), b.nanos()),
            Latency::Exponential(mean) => LatencySampler::Exponential(mean.nanos() as f64),
            Latency::Lognormal { median, p99 } => {
                let m = median.nanos().max(1) as f64;
                let sigma = (p99.nanos().max(1) as f64 / m).ln() / 2.326_347_874;
                LatencySampler::Lognormal(m, sigma)
            }
        }
    }

    #[inline]
    fn sample(self, rng: &mut Pcg64Mcg) -> SimTime {
        match self {
            LatencySampler::Fixed(d) => d,
            LatencySampler::Uniform(a, b) => {
                if a >= b {
                    a
                } else {
                    rng.random_range(a..=b)
                }
            }
            LatencySampler::Exponential(mean) => {
                let u: f64 = rng.random::<f64>().max(f64::MIN_POSITIVE);
                (-u.ln() * mean) as SimTime
            }
            LatencySampler::Lognormal(m, sigma) => {
                let z: f64 = StandardNormal.sample(rng);
                (m * (sigma * z).exp()).min(1e15) as SimTime
            }
        }
    }
}

/// A JSON string literal.
pub fn json_string(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    crate::pattern::json::write_string(s, &mut out);
    out
}

fn fxhash(s: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(s.as_bytes());
    h.finish()
}

fn node_info(node: &CompiledNode) -> &crate::model::compile::NodeInfo {
    match node {
        CompiledNode::Producer(n) => &n.info,
        CompiledNode::Bus(n) => &n.info,
        CompiledNode::Topic(n) => &n.info,
        CompiledNode::Queue(n) => &n.info,
        CompiledNode::Consumer(n) => &n.info,
        CompiledNode::Archive(n) => &n.info,
    }
}

fn same_kind(a: &CompiledNode, b: &CompiledNode) -> bool {
    std::mem::discriminant(a) == std::mem::discriminant(b)
}

fn empty_compiled() -> Compiled {
    Compiled {
        topology: crate::model::Topology::new(),
        ids: Vec::new(),
        nodes: Vec::new(),
        scenarios: BTreeMap::new(),
        warnings: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An archive keeps a producer's events as what prepared them; writing them again
    /// gives exactly the bodies that were delivered.
    #[test]
    fn archived_events_are_written_again_identically() {
        let design = serde_json::json!({"eventyard": 1, "nodes": {
            "p": {"kind": "producer", "to": "bus", "rate": 50, "arrivals": "poisson", "events": [
                {"source": "s", "detail_type": {"$choice": ["A", "B"]}, "detail": {
                    "n": {"$int": [1, 9]}, "id": "${uuid}", "at": "${now}", "x": {"$float": [0, 1]},
                    "items": {"$array": {"min": 0, "max": 3, "item": {"k": "${hex:6}"}}}}}
            ]},
            "bus": {"kind": "bus", "rules": {"all": {"pattern": {"source": ["s"]}, "targets": [{"to": "q"}]}}},
            "q": {"kind": "queue"},
            "a": {"kind": "archive", "bus": "bus", "max_events": 400}
        }});
        let topology =
            crate::model::Topology::from_json(&design.to_string()).expect("design loads");
        let compiled = crate::model::compile(&topology, None).unwrap_or_else(|p| panic!("{p:?}"));
        let mut engine = Engine::new(Arc::new(compiled), EngineOptions::default());
        engine.run_until(20_000_000_000);
        let delivered: HashMap<u64, String> = engine
            .letters
            .iter()
            .map(|(_, l)| &engine.messages[&l.msg])
            .map(|m| (m.root, m.body.clone()))
            .collect();
        let a = engine.compiled.node_id("a").expect("archive");
        let NodeRt::Archive(rt) = &engine.nodes[a] else {
            panic!("a is an archive");
        };
        let archived = rt.events.window(0, SimTime::MAX, PrepareJob::body);
        assert_eq!(archived.len(), 400, "the archive is full");
        for event in &archived {
            assert_eq!(Some(&event.body), delivered.get(&event.root));
        }
    }

    /// The timer queue pops in (time, scheduling order) order, like a binary heap of
    /// timers, under any mix of pushes and pops, and gives back every timer it holds.
    #[test]
    fn timer_queue_pops_in_time_then_scheduling_order() {
        let mut rng = Pcg64Mcg::seed_from_u64(5);
        let mut queue = TimerQueue::default();
        let mut reference = BinaryHeap::new();
        let mut seq = 0u64;
        let mut popped = 0;
        for round in 0..20_000 {
            if rng.random::<f64>() < 0.55 || queue.is_empty() {
                seq += 1;
                // Few distinct times, so that many timers share one.
                let at = rng.random_range(0..50u64) * 1_000 + round / 100;
                queue.push(Timer {
                    at,
                    seq,
                    kind: TimerKind::Retry(seq as Id32),
                });
                reference.push(Reverse((at, seq)));
            } else {
                let timer = queue.pop().expect("a timer");
                let Reverse((at, seq)) = reference.pop().expect("a timer");
                assert_eq!((timer.at, timer.seq), (at, seq));
                assert!(matches!(timer.kind, TimerKind::Retry(k) if u64::from(k) == seq));
                popped += 1;
            }
            assert_eq!(
                queue.peek_at(),
                reference.peek().map(|Reverse((at, _))| *at)
            );
        }
        assert!(popped > 5_000);
        let mut left: Vec<u64> = queue.take_all().iter().map(|t| t.seq).collect();
        let mut expected: Vec<u64> = reference.into_iter().map(|Reverse((_, s))| s).collect();
        left.sort_unstable();
        expected.sort_unstable();
        assert_eq!(left, expected);
        assert!(queue.pop().is_none());
    }
}
