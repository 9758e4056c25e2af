//! What a producer sends, prepared ahead and in parallel.
//!
//! Everything about a producer's n-th event — its time gap, its body, the bus rules it
//! matches and what each matched target receives — is a pure function of the design,
//! the run's seed, the producer and n (each event draws from its own random stream).
//! So the engine can prepare a batch of upcoming events on all cores (rayon) and then
//! deliver them one by one in simulated-time order: the result is the same as preparing
//! each at its own moment, whatever the batch sizes or the wall clock.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use rand::Rng;
use rand_pcg::Pcg64Mcg;

use crate::model::Arrivals;
use crate::model::NodeId;
use crate::model::compile::{CompiledBus, CompiledNode, CompiledProducer};
use crate::model::fuse::{FusedEvent, FusedFilter};
use crate::model::template::{Mark, RenderContext};
use crate::model::transform::{Reserved, TargetInput, TopLevel, Written};
use crate::pattern::sns::PolicySet;
use crate::pattern::{EventValue, RuleId, Scratch};

/// One prepared event.
#[derive(Debug)]
pub struct Prepared {
    /// When it is sent (simulated nanoseconds, fractional).
    pub time: f64,
    /// The producer's sequence number (1-based).
    pub seq: u64,
    /// The body (an EventBridge event for buses).
    pub body: String,
    /// SNS/SQS message attributes JSON.
    pub attributes: Option<String>,
    /// FIFO group id.
    pub group_id: Option<Arc<str>>,
    /// FIFO deduplication id.
    pub dedup_id: Option<Arc<str>>,
    /// Index of a tracked detail-type (`u32::MAX` if none).
    pub tracked_type: u32,
    /// For bus targets: the matched rules' deliveries, in rule then target order
    /// (`None` when the producer does not send to a bus or the body is malformed).
    pub routes: Option<Routes>,
}

/// The deliveries of one event: a few inline (next to the event itself, so the engine
/// reads them with it), more on the heap.
pub type Routes = smallvec::SmallVec<[Route; INLINE_ROUTES]>;

/// How many routes [`Routes`] holds without allocating.
pub const INLINE_ROUTES: usize = 4;

/// One delivery a matched rule makes.
#[derive(Debug)]
pub struct Route {
    /// Rule index in the bus.
    pub rule: u32,
    /// Target index in the rule.
    pub target: u32,
    /// What the target receives when it is not the event itself.
    pub body: RouteBody,
    /// When the target is a topic whose filter policies all read the message body
    /// (and it has at most 64 subscriptions): bit `i` says whether subscription `i`'s
    /// policy passes this body — worked out here, on the preparing threads, so the
    /// engine need not. `None`: the engine evaluates the policies itself.
    pub filter: Option<u64>,
}

/// What a target receives.
#[derive(Debug)]
pub enum RouteBody {
    /// The event unchanged.
    Event,
    /// Transformed (Input, InputPath, InputTransformer).
    Text(String),
    /// EventBridge delivers nothing (the input path selected nothing, the template
    /// rendered invalid JSON).
    Nothing,
}

/// Everything [`prepare`] reads.
pub struct Source<'a> {
    /// The producer.
    pub producer: &'a CompiledProducer,
    /// The bus it sends to, if it sends to a bus.
    pub bus: Option<&'a CompiledBus>,
    /// The receiving node's region (for the envelope).
    pub region: &'a str,
    /// Run seed mixed with the producer's identity.
    pub stream: u64,
    /// Unix ms of simulated time 0.
    pub epoch_ms: u64,
    /// Detail-types followed by `reaches` assertions.
    pub tracked: &'a HashMap<String, u32>,
    /// The design's nodes (rule targets' filter policies are read from them).
    pub nodes: &'a [CompiledNode],
    /// Whether the producer's account and `region` are written into the envelope
    /// without escapes ([`plain_envelope`]).
    pub plain_envelope: bool,
}

/// Whether an envelope's account and region are written between quotes as they are
/// (neither holds `"` or `\`), so that their ranges in the text are known.
pub fn plain_envelope(account: &str, region: &str) -> bool {
    let plain = |t: &str| !t.contains(['"', '\\']);
    plain(account) && plain(region)
}

/// The random stream of the producer's n-th event (`salt` separates uses).
fn rng_for(stream: u64, seq: u64, salt: u64) -> Pcg64Mcg {
    let mut x = stream ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.rotate_left(29);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    pcg_seeded(x ^ (x >> 31))
}

/// `Pcg64Mcg::seed_from_u64(seed)`, worked out directly: rand_core expands the seed
/// with PCG32 into sixteen bytes, byte by byte, through a call the compiler keeps
/// (about 2 % of preparing an event); here the four words go straight into the state.
#[inline]
fn pcg_seeded(mut seed: u64) -> Pcg64Mcg {
    const MUL: u64 = 6_364_136_223_846_793_005;
    const INC: u64 = 11_634_580_027_462_260_723;
    let mut state: u128 = 0;
    for word in 0..4 {
        seed = seed.wrapping_mul(MUL).wrapping_add(INC);
        let xorshifted = (((seed >> 18) ^ seed) >> 27) as u32;
        let output = xorshifted.rotate_right((seed >> 59) as u32);
        state |= u128::from(output) << (32 * word);
    }
    Pcg64Mcg::new(state)
}

/// A stable identity of a producer for its random streams.
pub fn stream_of(seed: u64, name: &str) -> u64 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = rustc_hash::FxBuildHasher.build_hasher();
    h.write(name.as_bytes());
    h.finish() ^ seed.wrapping_mul(0xD6E8_FEB8_6659_FD93)
}

/// The gap (ns) after the producer's event `seq` at `rate` events per second.
pub fn gap(arrivals: Arrivals, stream: u64, seq: u64, rate: f64) -> f64 {
    if rate <= 0.0 || !rate.is_finite() {
        return f64::INFINITY;
    }
    match arrivals {
        Arrivals::Uniform => 1e9 / rate,
        Arrivals::Poisson => {
            let u: f64 = rng_for(stream, seq, 1)
                .random::<f64>()
                .max(f64::MIN_POSITIVE);
            -u.ln() * 1e9 / rate
        }
    }
}

thread_local! {
    static SCRATCH: RefCell<(Scratch, Vec<RuleId>, u64, String)> =
        RefCell::new((Scratch::default(), Vec::new(), u64::MAX, String::new()));
    static MARKS: RefCell<Vec<Mark>> = const { RefCell::new(Vec::new()) };
    /// Where a transformer wrote each placeholder's value (see [`filter_of_written`]).
    static SLOTS: RefCell<Vec<std::ops::Range<usize>>> = const { RefCell::new(Vec::new()) };
}

/// Sets `cache` to the RFC 3339 text of a unix second, unless it holds it already.
pub(super) fn time_text(secs: u64, cache: &mut (u64, String)) {
    if cache.0 != secs {
        let t = time::OffsetDateTime::from_unix_timestamp(secs as i64)
            .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
        cache.0 = secs;
        cache.1 = t
            .format(&time::format_description::well_known::Rfc3339)
            .unwrap_or_default();
    }
}

/// Prepares the producer's event `seq`, sent at `time` (simulated ns).
pub fn prepare(src: &Source<'_>, seq: u64, time: f64) -> Prepared {
    let mut out = empty_prepared(seq, time);
    prepare_into(src, &mut out);
    out
}

/// Prepares the events due (sequence number, time) onto `out`, each written where it
/// is kept (a prepared event is large to move).
pub fn prepare_all(src: &Source<'_>, due: &[(u64, f64)], out: &mut Vec<Prepared>) {
    out.reserve(due.len());
    for &(seq, time) in due {
        out.push(empty_prepared(seq, time));
        if let Some(last) = out.last_mut() {
            prepare_into(src, last);
        }
    }
}

/// Prepares `out`'s event (its sequence number and time are set).
fn prepare_into(src: &Source<'_>, out: &mut Prepared) {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let (scratch, ids, secs, text) = &mut *s;
            let mut cache = (*secs, std::mem::take(text));
            prepare_with(src, scratch, ids, &mut cache, out);
            (*secs, *text) = cache;
        }
        Err(_) => prepare_with(
            src,
            &mut Scratch::default(),
            &mut Vec::new(),
            &mut (u64::MAX, String::new()),
            out,
        ),
    })
}

fn prepare_with(
    src: &Source<'_>,
    scratch: &mut Scratch,
    ids: &mut Vec<RuleId>,
    clock: &mut (u64, String),
    out: &mut Prepared,
) {
    let (seq, time) = (out.seq, out.time);
    let mut members: EnvelopeMembers = [("", 0, 0); ENVELOPE_MEMBERS];
    MARKS.with(|cell| {
        let mut taken = cell.try_borrow_mut().ok();
        let mut own = Vec::new();
        let marks = taken.as_deref_mut().unwrap_or(&mut own);
        marks.clear();
        let (known, fused) = prepare_body(src, seq, time, clock, &mut members, marks, out);
        if let Some(bus) = src.bus {
            let fused = fused.filter(|_| known);
            // Built in place: the inline room is large to move.
            let mut values = WrittenValues::new();
            let values = fused
                .filter(|f| written_values(&out.body, f, &members, marks, &mut values))
                .map(|_| values.as_slice());
            let written = fused.map(|f| Written {
                paths: &f.reads.paths,
                marks,
            });
            let known = Known {
                members: known.then_some(&members[..]),
                values,
                written,
            };
            // Written in place: a route list is large to move.
            let body = &out.body;
            let routes = out.routes.insert(Routes::new());
            if !route_into(bus, src.nodes, body, known, &clock.1, scratch, ids, routes) {
                out.routes = None;
            }
        }
    })
}

/// Writes into `values` (empty) the values a bus's rules read, as the producer wrote
/// them (see [`crate::model::fuse`]), in document order; false when one of them must be
/// read from the text after all (an object or array, or a string with escapes).
fn written_values<'b>(
    body: &'b str,
    fused: &FusedEvent,
    members: &EnvelopeMembers,
    marks: &[Mark],
    values: &mut WrittenValues<'b>,
) -> bool {
    let bytes = body.as_bytes();
    let mut value_at = |field: u32, start: usize, end: usize| {
        let value = bytes.get(start..end).and_then(leaf_value);
        value.map(|v| values.push((field, v))).is_some()
    };
    for &(member, field) in &fused.reads.envelope_fields {
        let Some(&(_, start, end)) = members.get(member) else {
            return false;
        };
        if !value_at(field, start, end) {
            return false;
        }
    }
    for mark in marks {
        match fused.reads.fields.get(mark.slot as usize) {
            Some(Some(field)) => {
                if !value_at(*field, mark.start as usize, mark.end as usize) {
                    return false;
                }
            }
            Some(None) => {}
            None => return false,
        }
    }
    true
}

/// Values handed to the matcher: a few on the stack (the usual case), more on the heap
/// (`SmallVec` leaves the inline room uninitialised, so nothing is written per event
/// before the values themselves).
type WrittenValues<'b> = smallvec::SmallVec<[(u32, EventValue<'b>); INLINE_VALUES]>;

/// How many values [`WrittenValues`] holds without allocating.
const INLINE_VALUES: usize = 16;

/// A compact JSON scalar as the matcher receives it; `None` for an object, an array
/// or a string with escapes (those are left to scanning).
fn leaf_value(text: &[u8]) -> Option<EventValue<'_>> {
    match text.first()? {
        b'"' => {
            let inner = text.get(1..text.len() - 1)?;
            // Values are short: a branch-free loop beats a call to memchr.
            let escaped = inner.iter().fold(false, |e, &b| e | (b == b'\\'));
            (!escaped).then_some(EventValue::Str(inner))
        }
        b't' => Some(EventValue::True),
        b'f' => Some(EventValue::False),
        b'n' => Some(EventValue::Null),
        b'{' | b'[' => None,
        _ => Some(EventValue::Num(text)),
    }
}

/// The envelope's top-level members as [`prepare_body`] writes them: raw key, value range.
type EnvelopeMembers = [(&'static str, usize, usize); ENVELOPE_MEMBERS];

/// Everything of [`prepare_with`] but the routes. When it writes an envelope whose
/// top-level members it knows, it fills in `members` and says so (so that routing need
/// not scan the event again to find them).
fn prepare_body<'s>(
    src: &Source<'s>,
    seq: u64,
    time: f64,
    clock: &mut (u64, String),
    members: &mut EnvelopeMembers,
    marks: &mut Vec<Mark>,
    out: &mut Prepared,
) -> (bool, Option<&'s FusedEvent>) {
    let mut rng = rng_for(src.stream, seq, 0);
    let now_ms = src.epoch_ms + (time as u64) / 1_000_000;
    time_text(now_ms / 1000, clock);
    let now_text = clock.1.as_str();
    let p = src.producer;
    let to_bus = src.bus.is_some();
    let mut members_known = false;
    let mut fused = None;
    if let Some(lines) = &p.replay {
        if let Some(line) = lines.get((seq as usize - 1) % lines.len().max(1)) {
            out.body = if to_bus {
                envelope_from_line(line, &mut rng, &p.info.account, now_text, src.region)
            } else {
                line.clone()
            };
            out.tracked_type = tracked_type_of(&out.body, src.tracked);
        }
    } else if let Some(total) = p.mix.last().map(|(w, _)| *w) {
        let pick = rng.random::<f64>() * total;
        let Some((_, event)) = p.mix.iter().find(|(w, _)| pick < *w).or(p.mix.last()) else {
            return (false, None);
        };
        let ctx = RenderContext {
            seq,
            now_rfc3339: now_text,
            now_ms,
        };
        let body = &mut out.body;
        if to_bus {
            let id =
                uuid::Builder::from_random_bytes(rng.random::<u128>().to_le_bytes()).into_uuid();
            // Each template renders one compact JSON value; the account, time and region
            // are written between quotes unescaped, so their ranges are known only when
            // they hold no `"` or `\` (an RFC 3339 time never does).
            members_known = src.plain_envelope;
            // Constant text goes in as few pieces as possible (each is a copy call); the
            // members' ranges are worked out from the pieces' lengths.
            const VERSION_KEY: &str = "{\"version\":";
            const HEAD: &str = "{\"version\":\"0\",\"id\":\"";
            const AFTER_ID: &str = "\",\"detail-type\":";
            let start = body.len();
            body.push_str(HEAD);
            members[0] = (
                "version",
                start + VERSION_KEY.len(),
                start + VERSION_KEY.len() + 3,
            );
            crate::model::template::push_uuid_text(body, id);
            body.push_str(AFTER_ID);
            // The id's closing quote starts `AFTER_ID`.
            members[1] = (
                "id",
                start + HEAD.len() - 1,
                body.len() - AFTER_ID.len() + 1,
            );
            let mut at = body.len();
            event.detail_type.render(&mut rng, &ctx, body);
            members[2] = ("detail-type", at, body.len());
            if !src.tracked.is_empty()
                && let Some(dt) = json_string_value(&body[at..])
            {
                out.tracked_type = src.tracked.get(&*dt).copied().unwrap_or(u32::MAX);
            }
            body.push_str(",\"source\":");
            at = body.len();
            event.source.render(&mut rng, &ctx, body);
            members[3] = ("source", at, body.len());
            for (n, (key, head, value)) in [
                ("account", ",\"account\":\"", p.info.account.as_str()),
                ("time", "\",\"time\":\"", now_text),
                ("region", "\",\"region\":\"", src.region),
            ]
            .into_iter()
            .enumerate()
            {
                // Each head closes the previous value's quote (but the first) and opens
                // this one's.
                body.push_str(head);
                at = body.len() - 1;
                body.push_str(value);
                // The value ends with the quote the next piece starts with.
                members[4 + n] = (key, at, body.len() + 1);
            }
            body.push('"');
            body.push_str(",\"resources\":");
            at = body.len();
            match &event.resources {
                Some(r) => r.render(&mut rng, &ctx, body),
                None => body.push_str("[]"),
            }
            members[7] = ("resources", at, body.len());
            body.push_str(",\"detail\":");
            at = body.len();
            match &event.fused {
                Some(f) => {
                    f.detail.render_marked(&mut rng, &ctx, body, marks);
                    fused = Some(f);
                }
                None => event.detail.render(&mut rng, &ctx, body),
            }
            members[8] = ("detail", at, body.len());
            body.push('}');
        } else {
            event.detail.render(&mut rng, &ctx, body);
        }
        if !event.attributes.is_empty() {
            let mut a = String::from("{");
            for (i, (name, t)) in event.attributes.iter().enumerate() {
                let value = t.render_to_string(&mut rng, &ctx);
                let (kind, text) = attribute_value(&value);
                if i > 0 {
                    a.push(',');
                }
                a.push_str(&super::engine::json_string(name));
                a.push_str(":{\"Type\":\"");
                a.push_str(kind);
                a.push_str("\",\"Value\":");
                a.push_str(&super::engine::json_string(&text));
                a.push('}');
            }
            a.push('}');
            out.attributes = Some(a);
        }
        let mut string_of = |t: &Option<crate::model::template::Template>| {
            t.as_ref().map(|t| {
                let v = t.render_to_string(&mut rng, &ctx);
                Arc::<str>::from(serde_json::from_str::<String>(&v).unwrap_or(v))
            })
        };
        out.group_id = string_of(&event.group_id);
        out.dedup_id = string_of(&event.dedup_id);
    }
    (members_known, fused)
}

/// An empty prepared event (its body a reusable buffer).
pub(super) fn empty_prepared(seq: u64, time: f64) -> Prepared {
    Prepared {
        time,
        seq,
        body: super::recycle::body(),
        attributes: None,
        group_id: None,
        dedup_id: None,
        tracked_type: u32::MAX,
        routes: None,
    }
}

/// Top-level members of the envelope [`prepare`] writes for a bus.
const ENVELOPE_MEMBERS: usize = crate::model::fuse::ENVELOPE_KEYS.len();

/// The text of a JSON string literal (`None` when `json` is not exactly one).
fn json_string_value(json: &str) -> Option<std::borrow::Cow<'_, str>> {
    let inner = json.strip_prefix('"')?.strip_suffix('"');
    match inner {
        // Nothing escaped: the text between the quotes is the string.
        Some(inner) if !inner.bytes().any(|b| b == b'"' || b == b'\\' || b < 0x20) => {
            Some(std::borrow::Cow::Borrowed(inner))
        }
        _ => serde_json::from_str::<String>(json)
            .ok()
            .map(std::borrow::Cow::Owned),
    }
}

/// The deliveries a bus makes for an event: matched rules (disabled ones included; the
/// engine skips those it has disabled), each target's input. `None` if malformed.
pub fn route(
    bus: &CompiledBus,
    nodes: &[CompiledNode],
    body: &str,
    ingestion_time: &str,
    scratch: &mut Scratch,
    ids: &mut Vec<RuleId>,
) -> Option<Routes> {
    let mut routes = Routes::new();
    route_into(
        bus,
        nodes,
        body,
        Known::default(),
        ingestion_time,
        scratch,
        ids,
        &mut routes,
    )
    .then_some(routes)
}

/// What the writer of an event knows about its text, so that routing need not scan it.
#[derive(Default)]
struct Known<'b> {
    /// The envelope's top-level members (see [`TopLevel::from_offsets`]).
    members: Option<&'b [(&'b str, usize, usize)]>,
    /// The values the bus's rules read (see [`written_values`]).
    values: Option<&'b [(u32, EventValue<'b>)]>,
    /// Where watched values inside `detail` were written.
    written: Option<Written<'b>>,
}

/// [`route`], writing the deliveries into `routes` (empty), with what the caller knows
/// of the event when it wrote it (`known`; else the event is scanned); false when the
/// event is malformed.
#[allow(
    clippy::too_many_arguments,
    reason = "the per-event working buffers are passed in, not allocated"
)]
fn route_into<'b>(
    bus: &CompiledBus,
    nodes: &[CompiledNode],
    body: &'b str,
    known: Known<'b>,
    ingestion_time: &str,
    scratch: &mut Scratch,
    ids: &mut Vec<RuleId>,
    routes: &mut Routes,
) -> bool {
    ids.clear();
    match known.values {
        Some(values) => bus.matcher.matches_values(values, scratch, ids),
        None => {
            if bus
                .matcher
                .matches_with(body.as_bytes(), scratch, ids)
                .is_err()
            {
                return false;
            }
        }
    }
    // Rule order (ids are in match order); sorted in place, no allocation.
    ids.sort_unstable_by_key(|&id| bus.rule_index(id));
    let body_text = body;
    if ids.len() > routes.inline_size() {
        *routes = super::recycle::routes(ids.len());
    }
    let mut top: Option<TopLevel<'_>> = None;
    for r in ids.iter().map(|&id| bus.rule_index(id)) {
        let rule = &bus.rules[r];
        for (t, target) in rule.targets.iter().enumerate() {
            let mut written_filter = None;
            let body = match &*target.input {
                TargetInput::WholeEvent => RouteBody::Event,
                TargetInput::Constant(c) => RouteBody::Text(pooled(c)),
                input => {
                    let reserved = Reserved {
                        rule_arn: &rule.arn,
                        rule_name: &rule.name,
                        ingestion_time,
                    };
                    let top = top.get_or_insert_with(|| {
                        let top = match known.members {
                            Some(members) => TopLevel::from_offsets(body, members),
                            None => TopLevel::new(body),
                        };
                        match known.written {
                            Some(written) => top.with_written(written),
                            None => top,
                        }
                    });
                    // A fused producer event is well-formed JSON, so what the transformer
                    // writes is too, and the topic's policies may take its values.
                    let fusing = target
                        .fused_filter
                        .as_deref()
                        .filter(|_| known.values.is_some());
                    // A transformer writes straight into a reusable buffer.
                    let into = match input {
                        TargetInput::Transformer(_) => super::recycle::body(),
                        _ => String::new(),
                    };
                    let rendered = match fusing {
                        Some(fused) => SLOTS.with(|cell| {
                            let mut taken = cell.try_borrow_mut().ok();
                            let mut own = Vec::new();
                            let slots = taken.as_deref_mut().unwrap_or(&mut own);
                            slots.clear();
                            let rendered =
                                input.render_recording(top, &reserved, Some(slots), into);
                            if let Ok(text) = &rendered {
                                written_filter =
                                    filter_of_written(nodes, target.to, fused, text, slots);
                            }
                            rendered
                        }),
                        None => input.render_recording(top, &reserved, None, into),
                    };
                    match rendered {
                        Ok(std::borrow::Cow::Borrowed(text))
                            if std::ptr::eq(text.as_ptr(), body.as_ptr())
                                && text.len() == body.len() =>
                        {
                            RouteBody::Event
                        }
                        // In a reusable buffer: the engine gives it back when done, instead
                        // of freeing another thread's memory.
                        Ok(std::borrow::Cow::Owned(text)) if super::recycle::keeps(&text) => {
                            RouteBody::Text(text)
                        }
                        Ok(text) => RouteBody::Text(pooled(&text)),
                        Err(_) => RouteBody::Nothing,
                    }
                }
            };
            let filter = match &body {
                RouteBody::Event => topic_filter(nodes, target.to, body_text),
                RouteBody::Text(text) => {
                    written_filter.or_else(|| topic_filter(nodes, target.to, text))
                }
                RouteBody::Nothing => None,
            };
            routes.push(Route {
                rule: r as u32,
                target: t as u32,
                body,
                filter,
            });
        }
    }
    true
}

/// `text` in a body buffer from [`super::recycle`].
fn pooled(text: &str) -> String {
    let mut body = super::recycle::body();
    body.push_str(text);
    body
}

/// Which of topic `to`'s subscriptions pass `message` (see [`Route::filter`]); `None`
/// when `to` is not a topic or its policies cannot be matched in one pass (more than 64
/// subscriptions, or a policy on message attributes, which depend on the copy).
fn topic_filter(nodes: &[CompiledNode], to: NodeId, message: &str) -> Option<u64> {
    Some(policy_set_of(nodes, to)?.passes(message.as_bytes()))
}

/// The filter policies of topic `to` matched in one pass, if it is such a topic.
fn policy_set_of(nodes: &[CompiledNode], to: NodeId) -> Option<&PolicySet> {
    match nodes.get(to) {
        Some(CompiledNode::Topic(topic)) => topic.policy_set.as_deref(),
        _ => None,
    }
}

/// [`topic_filter`] from the values a transformer wrote (`slots`: where it wrote each
/// placeholder's value in `message`); `None` when one of them is not a plain scalar, so
/// the message must be scanned.
fn filter_of_written(
    nodes: &[CompiledNode],
    to: NodeId,
    fused: &FusedFilter,
    message: &str,
    slots: &[std::ops::Range<usize>],
) -> Option<u64> {
    let set = policy_set_of(nodes, to)?;
    if slots.len() != fused.placeholders {
        return None;
    }
    let bytes = message.as_bytes();
    let mut values = WrittenValues::default();
    for &(field, slot) in &fused.reads {
        let range = slots.get(slot)?.clone();
        values.push((field, leaf_value(bytes.get(range)?)?));
    }
    Some(set.passes_values(values.as_slice()))
}

/// Builds an EventBridge event from a replayed line (`source`, `detail-type`, `detail`,
/// `resources` and `time` are taken from it; the rest is filled in).
fn envelope_from_line(
    line: &str,
    rng: &mut Pcg64Mcg,
    account: &str,
    time: &str,
    region: &str,
) -> String {
    let v: serde_json::Value = serde_json::from_str(line).unwrap_or_default();
    let id = uuid::Builder::from_random_bytes(rng.random::<u128>().to_le_bytes()).into_uuid();
    let field = |k: &str, default: serde_json::Value| v.get(k).cloned().unwrap_or(default);
    serde_json::json!({
        "version": "0",
        "id": id.hyphenated().to_string(),
        "detail-type": field("detail-type", "".into()),
        "source": field("source", "".into()),
        "account": account,
        "time": field("time", time.into()),
        "region": region,
        "resources": field("resources", serde_json::json!([])),
        "detail": field("detail", serde_json::json!({})),
    })
    .to_string()
}

/// The tracked-type index of an event's `detail-type`.
pub fn tracked_type_of(body: &str, tracked: &HashMap<String, u32>) -> u32 {
    if tracked.is_empty() {
        return u32::MAX;
    }
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| {
            v.get("detail-type")
                .and_then(|d| d.as_str())
                .and_then(|d| tracked.get(d).copied())
        })
        .unwrap_or(u32::MAX)
}

/// `(Type, Value)` of an SNS attribute rendered from a template value.
fn attribute_value(json: &str) -> (&'static str, String) {
    match serde_json::from_str::<serde_json::Value>(json) {
        Ok(serde_json::Value::String(s)) => ("String", s),
        Ok(serde_json::Value::Number(n)) => ("Number", n.to_string()),
        Ok(v @ serde_json::Value::Array(_)) => ("String.Array", v.to_string()),
        _ => ("String", json.to_string()),
    }
}

#[cfg(test)]
mod tests {
    /// The direct seeding gives the stream rand_core's `seed_from_u64` gives.
    #[test]
    fn pcg_seeding_matches_rand_core() {
        use rand::{Rng, SeedableRng};
        let mut seeds = vec![0, 1, u64::MAX, 0x8000_0000_0000_0000];
        let mut x = 0x1234_5678_9ABC_DEF0u64;
        for _ in 0..1000 {
            x = x.wrapping_mul(0x9E37_79B9_7F4A_7C15).wrapping_add(7);
            seeds.push(x);
        }
        for seed in seeds {
            let mut ours = super::pcg_seeded(seed);
            let mut theirs = Pcg64Mcg::seed_from_u64(seed);
            for _ in 0..3 {
                assert_eq!(ours.random::<u64>(), theirs.random::<u64>(), "{seed}");
            }
        }
    }

    use super::*;
    use crate::model::compile::CompiledNode;
    use crate::model::{Compiled, Topology, compile};

    fn example() -> Compiled {
        let text = include_str!("../../examples/ecommerce.json");
        let topology = Topology::from_json(text).expect("example loads");
        compile(&topology, None).unwrap_or_else(|p| panic!("{p:?}"))
    }

    /// Checks that `prepared`'s routes are those scanning its body gives; how many.
    fn routes_as_scanned(
        bus: &CompiledBus,
        nodes: &[CompiledNode],
        prepared: &Prepared,
        ingestion_time: &str,
    ) -> usize {
        let scanned = route(
            bus,
            nodes,
            &prepared.body,
            ingestion_time,
            &mut Scratch::default(),
            &mut Vec::new(),
        );
        assert_eq!(
            format!("{:?}", prepared.routes),
            format!("{scanned:?}"),
            "{}",
            prepared.body
        );
        scanned.map_or(0, |r| r.len())
    }

    fn node<'c>(c: &'c Compiled, name: &str) -> &'c CompiledNode {
        &c.nodes[c.node_id(name).expect("node")]
    }

    /// Filter verdicts worked out for a route to a topic are the policies' own verdicts
    /// on the body the topic receives; targets that are not topics get none.
    #[test]
    fn topic_filter_verdicts_are_the_policies_verdicts() {
        let c = example();
        let CompiledNode::Bus(bus) = node(&c, "orders") else {
            panic!("orders is a bus");
        };
        let CompiledNode::Topic(topic) = node(&c, "notifications") else {
            panic!("notifications is a topic");
        };
        let CompiledNode::Producer(producer) = node(&c, "web") else {
            panic!("web is a producer");
        };
        let notify = bus.rules.iter().flat_map(|r| &r.targets);
        let notify = notify.filter(|t| Some(t.to) == c.node_id("notifications"));
        assert!(
            notify.clone().count() == 1 && notify.clone().all(|t| t.fused_filter.is_some()),
            "the policies read what the transformer writes"
        );
        let tracked = HashMap::new();
        let src = Source {
            producer,
            bus: Some(bus),
            region: "eu-west-1",
            stream: 7,
            epoch_ms: 0,
            tracked: &tracked,
            nodes: &c.nodes,
            plain_envelope: super::plain_envelope(&producer.info.account, "eu-west-1"),
        };
        let (mut to_topic, mut passed) = (0, 0);
        for seq in 1..=300 {
            let prepared = prepare(&src, seq, seq as f64 * 1e6);
            for r in prepared.routes.expect("routes") {
                let target = &bus.rules[r.rule as usize].targets[r.target as usize];
                if target.to != c.node_id("notifications").expect("topic") {
                    assert_eq!(r.filter, None);
                    continue;
                }
                let RouteBody::Text(body) = &r.body else {
                    panic!("the notification target transforms the event");
                };
                let mut expected = 0u64;
                for (i, sub) in topic.subscriptions.iter().enumerate() {
                    let policy = sub.policy.as_ref().expect("policy");
                    if policy.matches(body.as_bytes()).expect("valid body") {
                        expected |= 1 << i;
                    }
                }
                assert_eq!(r.filter, Some(expected), "{body}");
                to_topic += 1;
                passed += expected.count_ones();
            }
        }
        assert!(to_topic > 250, "{to_topic}");
        // Every placed or cancelled order passes the email policy; some are gold.
        assert!(passed > to_topic, "{passed} of {to_topic}");
    }

    /// The index built from the offsets the envelope writer knows is the one scanning
    /// finds, and routing through it delivers the same bodies.
    #[test]
    fn envelope_offsets_agree_with_scanning() {
        let c = example();
        let CompiledNode::Bus(bus) = node(&c, "orders") else {
            panic!("orders is a bus");
        };
        let tracked: HashMap<String, u32> = [
            ("OrderPlaced".to_owned(), 0),
            ("OrderCancelled".to_owned(), 1),
        ]
        .into();
        let mut checked = 0;
        for name in ["web", "mobile"] {
            let CompiledNode::Producer(producer) = node(&c, name) else {
                panic!("{name} is a producer");
            };
            let src = Source {
                producer,
                bus: Some(bus),
                region: "eu-west-1",
                stream: stream_of(42, name),
                epoch_ms: 1_700_000_000_000,
                tracked: &tracked,
                nodes: &c.nodes,
                plain_envelope: super::plain_envelope(&producer.info.account, "eu-west-1"),
            };
            for seq in 1..=400 {
                let time = seq as f64 * 7.3e8;
                let mut clock = (u64::MAX, String::new());
                let mut members = [("", 0, 0); ENVELOPE_MEMBERS];
                let mut prepared = empty_prepared(seq, time);
                let (known, _) = prepare_body(
                    &src,
                    seq,
                    time,
                    &mut clock,
                    &mut members,
                    &mut Vec::new(),
                    &mut prepared,
                );
                assert!(known, "the envelope's members are known");
                // Fused events find envelope values by these indexes.
                let keys: Vec<&str> = members.iter().map(|m| m.0).collect();
                assert_eq!(keys, crate::model::fuse::ENVELOPE_KEYS);
                let body = prepared.body.as_str();
                assert_eq!(
                    TopLevel::from_offsets(body, &members).members_for_test(),
                    TopLevel::new(body).members_for_test(),
                    "{body}"
                );
                assert_eq!(prepared.tracked_type, tracked_type_of(body, &tracked));
                assert_ne!(prepared.tracked_type, u32::MAX);

                // The whole preparation routes as scanning the body does.
                routes_as_scanned(bus, &c.nodes, &prepare(&src, seq, time), &clock.1);
                checked += 1;
            }
        }
        assert_eq!(checked, 800);
    }

    #[test]
    fn envelope_members_unknown_when_a_text_needs_escaping() {
        let c = example();
        let CompiledNode::Bus(bus) = node(&c, "orders") else {
            panic!("orders is a bus");
        };
        let CompiledNode::Producer(producer) = node(&c, "web") else {
            panic!("web is a producer");
        };
        let tracked = HashMap::new();
        for region in [r#"eu-"west"-1"#, r"eu\west"] {
            let src = Source {
                producer,
                bus: Some(bus),
                region,
                stream: 1,
                epoch_ms: 0,
                tracked: &tracked,
                nodes: &c.nodes,
                plain_envelope: super::plain_envelope(&producer.info.account, region),
            };
            let mut members = [("", 0, 0); ENVELOPE_MEMBERS];
            let mut clock = (u64::MAX, String::new());
            let mut prepared = empty_prepared(1, 0.0);
            let (known, _) = prepare_body(
                &src,
                1,
                0.0,
                &mut clock,
                &mut members,
                &mut Vec::new(),
                &mut prepared,
            );
            assert!(!known, "{region}");
        }
    }

    #[test]
    fn json_string_values() {
        for (json, expected) in [
            (r#""OrderPlaced""#, Some("OrderPlaced")),
            (r#""""#, Some("")),
            (r#""caf\u00e9 \"x\"""#, Some("café \"x\"")),
            (r#""é ✓""#, Some("é ✓")),
            ("12", None),
            (r#""a"b""#, None),
            ("\"", None),
            ("\"tab\t\"", None),
        ] {
            assert_eq!(json_string_value(json).as_deref(), expected, "{json}");
            assert_eq!(
                json_string_value(json).map(|s| s.into_owned()),
                serde_json::from_str::<String>(json).ok(),
                "{json}"
            );
        }
    }

    /// Preparing routes from the values the producer wrote (see
    /// [`crate::model::fuse`]) decides exactly what scanning the event text decides:
    /// every example, and a design whose rules use every kind of condition on values
    /// of every type, written by optional members, choices, escapes, arrays and
    /// `$literal`s.
    #[test]
    fn written_values_route_as_scanning_does() {
        let varied = serde_json::json!({
            "eventyard": 1,
            "nodes": {
                "p": {"kind": "producer", "to": "bus", "rate": 1, "events": [
                    {"source": "svc.a", "detail_type": {"$choice": ["Made", "Gone", "Odd \"one\""]}, "detail": {
                        "n": {"$int": [-5, 5]},
                        "f": {"$float": [0, 2]},
                        "s": {"$choice": ["x", "y", "", "x\\y", "é"]},
                        "b": {"$bool": 0.5},
                        "z": {"$choice": [null, 1, "1", true]},
                        "o": {"$optional": {"p": 0.5, "value": {"deep": {"v": {"$choice": ["a", "b"]}}}}},
                        "c": {"$choice": ["flat", {"v": "nested"}, [1, 2]]},
                        "id": "ID-${seq}",
                        "t": {"kind": "${choice:gold,silver}", "n": {"$int": [1, 3]}}
                    }},
                    {"weight": 0.5, "source": "svc.b", "detail_type": "Made", "detail": {
                        "items": {"$array": {"min": 0, "max": 2, "item": {"s": {"$choice": ["x", "y"]}}}},
                        "s": "x"
                    }},
                    {"weight": 0.5, "source": "svc.b", "detail_type": "Made", "detail": {
                        "lit": {"$literal": {"s": "x", "$odd": 1}}, "s": "y"
                    }}
                ]},
                "bus": {"kind": "bus", "rules": {
                    "exact": {"pattern": {"detail": {"s": ["x"]}}, "targets": [{"to": "sink"}]},
                    "prefix": {"pattern": {"source": [{"prefix": "svc."}], "detail": {"id": [{"prefix": "ID-1"}]}}, "targets": [{"to": "sink"}]},
                    "numeric": {"pattern": {"detail": {"n": [{"numeric": [">", 0, "<=", 4]}], "f": [{"numeric": ["<", 1]}]}}, "targets": [{"to": "sink"}]},
                    "anything-but": {"pattern": {"detail": {"s": [{"anything-but": ["x", "y"]}]}}, "targets": [{"to": "sink"}]},
                    "absent": {"pattern": {"detail": {"o": {"deep": {"v": [{"exists": false}]}}}}, "targets": [{"to": "sink"}]},
                    "present": {"pattern": {"detail": {"o": {"deep": {"v": ["a"]}}}}, "targets": [{"to": "sink"}]},
                    "types": {"pattern": {"detail": {"z": [null, 1, "1"], "b": [true]}}, "targets": [{"to": "sink"}]},
                    "nested-or-flat": {"pattern": {"detail": {"c": ["flat"]}}, "targets": [{"to": "sink"}]},
                    "nested": {"pattern": {"detail": {"c": {"v": ["nested"]}}}, "targets": [{"to": "sink"}]},
                    "escaped": {"pattern": {"detail-type": ["Odd \"one\""]}, "targets": [{"to": "sink"}]},
                    "unicode": {"pattern": {"detail": {"s": ["é", "x\\y"]}}, "targets": [{"to": "sink"}]},
                    "either": {"pattern": {"$or": [{"detail": {"t": {"kind": ["gold"]}}}, {"detail-type": ["Gone"]}]}, "targets": [{"to": "sink"}]},
                    "suffix": {"pattern": {"detail": {"t": {"kind": [{"suffix": "ver"}]}}}, "targets": [
                        {"to": "sink", "input_path": "$.detail.t"},
                        {"to": "sink", "input_transformer": {
                            "input_paths_map": {"k": "$.detail.t.kind", "v": "$.detail.o.deep.v", "s": "$.detail.s", "type": "$.detail-type", "n": "$.detail.t.n"},
                            "input_template": "{\"k\": <k>, \"v\": <v>, \"s\": <s>, \"type\": <type>, \"n\": <n>}"
                        }}
                    ]},
                    "in-array": {"pattern": {"detail": {"items": {"s": ["y"]}}}, "targets": [{"to": "sink"}]},
                    "in-literal": {"pattern": {"detail": {"lit": {"s": ["x"]}}}, "targets": [{"to": "sink"}]},
                    "to-topics": {"pattern": {"source": ["svc.a"]}, "targets": [
                        {"to": "topic", "input_transformer": {
                            "input_paths_map": {"s": "$.detail.s", "n": "$.detail.n", "z": "$.detail.z", "c": "$.detail.c", "k": "$.detail.t.kind",
                                "miss": "$.detail.nope", "f": "$.detail.f", "b": "$.detail.b", "o": "$.detail.o.deep.v", "type": "$.detail-type"},
                            "input_template": "{\"s\": <s>, \"n\": <n>, \"z\": <z>, \"c\": <c>, \"k\": \"kind-<k>\", \"m\": <miss>, \"f\": <f>, \"b\": <b>, \"o\": <o>, \"type\": <type>, \"const\": \"x\", \"nest\": {\"s\": <s>}}"
                        }},
                        {"to": "constant-topic", "input_transformer": {
                            "input_paths_map": {"s": "$.detail.s", "k": "$.detail.t.kind"},
                            "input_template": "{\"k\": \"kind-<k>\", \"const\": \"x\", \"nest\": {\"s\": <s>}}"
                        }}
                    ]}
                }},
                "topic": {"kind": "topic", "subscriptions": {
                    "exact": {"to": "sink", "filter_policy": {"s": ["x", "é"]}, "filter_policy_scope": "MessageBody"},
                    "numeric": {"to": "sink", "filter_policy": {"n": [{"numeric": [">", 0]}], "b": [true]}, "filter_policy_scope": "MessageBody"},
                    "absent": {"to": "sink", "filter_policy": {"z": [{"exists": false}]}, "filter_policy_scope": "MessageBody"},
                    "compound": {"to": "sink", "filter_policy": {"c": ["flat"]}, "filter_policy_scope": "MessageBody"},
                    "missing": {"to": "sink", "filter_policy": {"m": [""]}, "filter_policy_scope": "MessageBody"},
                    "prefix": {"to": "sink", "filter_policy": {"o": [{"prefix": "a"}]}, "filter_policy_scope": "MessageBody"},
                    "small": {"to": "sink", "filter_policy": {"f": [{"numeric": ["<", 1]}]}, "filter_policy_scope": "MessageBody"},
                    "anything-but": {"to": "sink", "filter_policy": {"z": [{"anything-but": ["1"]}]}, "filter_policy_scope": "MessageBody"},
                    "escaped": {"to": "sink", "filter_policy": {"s": ["x\\y"], "type": ["Odd \"one\""]}, "filter_policy_scope": "MessageBody"},
                    "or": {"to": "sink", "filter_policy": {"$or": [{"type": ["Made"]}, {"s": ["y"]}]}, "filter_policy_scope": "MessageBody"},
                    "everything": {"to": "sink"}
                }},
                "constant-topic": {"kind": "topic", "subscriptions": {
                    "constant": {"to": "sink", "filter_policy": {"const": ["x"]}, "filter_policy_scope": "MessageBody"},
                    "nested": {"to": "sink", "filter_policy": {"nest": {"s": ["x"]}}, "filter_policy_scope": "MessageBody"}
                }},
                "sink": {"kind": "consumer"}
            }
        });
        // More read values than fit on the stack.
        let fields: serde_json::Map<String, serde_json::Value> = (0..24)
            .map(|i| (format!("f{i}"), serde_json::json!({"$int": [0, 9]})))
            .collect();
        let rules: serde_json::Map<String, serde_json::Value> = (0..24)
            .map(|i| {
                (
                    format!("r{i}"),
                    serde_json::json!({"pattern": {"detail": {format!("f{i}"): [{"numeric": [">", 5]}]}}, "targets": [{"to": "sink"}]}),
                )
            })
            .collect();
        let wide = serde_json::json!({
            "eventyard": 1,
            "nodes": {
                "p": {"kind": "producer", "to": "bus", "rate": 1, "events": [{"source": "s", "detail_type": "T", "detail": fields}]},
                "bus": {"kind": "bus", "rules": rules},
                "sink": {"kind": "consumer"}
            }
        });
        let designs = [
            varied.to_string(),
            wide.to_string(),
            include_str!("../../examples/ecommerce.json").to_string(),
            include_str!("../../examples/fanout.json").to_string(),
            include_str!("../../examples/cross-region-replication.json").to_string(),
            include_str!("../../examples/monitoring-alerting.json").to_string(),
            include_str!("../../examples/heterogeneous-integration.json").to_string(),
        ];
        // The topic's policies read what the first transformer writes; the other
        // topic's policies read a constant and inside a member, so they scan.
        let c = compile(
            &Topology::from_json(&designs[0]).expect("design loads"),
            None,
        )
        .unwrap_or_else(|p| panic!("{p:?}"));
        let CompiledNode::Bus(bus) = node(&c, "bus") else {
            panic!("bus is a bus");
        };
        let rule = bus
            .rules
            .iter()
            .find(|r| r.name == "to-topics")
            .expect("rule");
        assert!(rule.targets[0].fused_filter.is_some());
        assert!(rule.targets[1].fused_filter.is_none());
        let (mut fused_templates, mut routes_seen) = (0, 0);
        for text in &designs {
            let (fused, routes) = routes_equal_scanning(text, 600);
            fused_templates += fused;
            routes_seen += routes;
        }
        // The varied design's first template and most examples' templates are fused;
        // the array and `$literal` templates are not (they are scanned).
        assert!(fused_templates >= 8, "{fused_templates} templates fused");
        assert!(routes_seen > 5000, "{routes_seen} routes");
    }

    /// Prepares `events` events of every producer of `design` that sends to a bus and
    /// checks each one's routes equal scanning's: (templates fused, routes seen).
    fn routes_equal_scanning(design: &str, events: u64) -> (usize, usize) {
        let topology = Topology::from_json(design).expect("design loads");
        let c = compile(&topology, None).unwrap_or_else(|p| panic!("{p:?}"));
        let (mut fused, mut routes) = (0, 0);
        for node in &c.nodes {
            let CompiledNode::Producer(producer) = node else {
                continue;
            };
            let Some(CompiledNode::Bus(bus)) = c.nodes.get(producer.to) else {
                continue;
            };
            fused += producer
                .mix
                .iter()
                .filter(|(_, e)| e.fused.is_some())
                .count();
            let tracked = HashMap::new();
            let src = Source {
                producer,
                bus: Some(bus),
                region: "eu-west-1",
                stream: stream_of(3, &producer.info.name),
                epoch_ms: 1_700_000_000_000,
                tracked: &tracked,
                nodes: &c.nodes,
                plain_envelope: super::plain_envelope(&producer.info.account, "eu-west-1"),
            };
            for seq in 1..=events {
                let time = seq as f64 * 3.1e8;
                let prepared = prepare(&src, seq, time);
                let mut clock = (u64::MAX, String::new());
                time_text((src.epoch_ms + time as u64 / 1_000_000) / 1000, &mut clock);
                routes += routes_as_scanned(bus, &c.nodes, &prepared, &clock.1);
            }
        }
        (fused, routes)
    }

    /// A design with one producer (these event templates) and one rule into a sink.
    fn one_rule(events: serde_json::Value, rule: serde_json::Value) -> String {
        serde_json::json!({"eventyard": 1, "nodes": {
            "p": {"kind": "producer", "to": "bus", "rate": 1, "events": events},
            "bus": {"kind": "bus", "rules": {"r": rule}},
            "sink": {"kind": "consumer"}
        }})
        .to_string()
    }

    /// A design whose rule sends every event through `transformer` to a topic with one
    /// subscription filtered by `policy` (on the message body).
    fn through_topic(
        detail: serde_json::Value,
        transformer: serde_json::Value,
        policy: serde_json::Value,
    ) -> String {
        serde_json::json!({"eventyard": 1, "nodes": {
            "p": {"kind": "producer", "to": "bus", "rate": 1, "events": [{"source": "s", "detail_type": "T", "detail": detail}]},
            "bus": {"kind": "bus", "rules": {"r": {"pattern": {"source": ["s"]}, "targets": [{"to": "topic", "input_transformer": transformer}]}}},
            "topic": {"kind": "topic", "subscriptions": {"only": {"to": "sink", "filter_policy": policy, "filter_policy_scope": "MessageBody"}}},
            "sink": {"kind": "consumer"}
        }})
        .to_string()
    }

    /// Cases a review found where a topic's verdict from the transformer's written
    /// values and scanning its output disagreed: a placeholder inside a string followed by
    /// digits (read as a whole placeholder), and text put inside quotes that closed the
    /// string and wrote another member.
    #[test]
    fn topic_verdicts_agree_with_scanning_on_reviewed_cases() {
        let cases = [
            through_topic(
                serde_json::json!({"a": "ab"}),
                serde_json::json!({"input_paths_map": {"a": "$.detail.a"}, "input_template": "{\"x\": \"<a>0\"}"}),
                serde_json::json!({"x": ["ab0"]}),
            ),
            through_topic(
                serde_json::json!({"a": "ab", "b": "c"}),
                serde_json::json!({"input_paths_map": {"a": "$.detail.a", "b": "$.detail.b"}, "input_template": "{\"x\": \"<a>0<b>\", \"y\": <b>}"}),
                serde_json::json!({"x": ["ab0c"], "y": ["c"]}),
            ),
            through_topic(
                serde_json::json!({"x": "\", \"s\": \"hit", "y": 1}),
                serde_json::json!({"input_paths_map": {"x": "$.detail.x", "y": "$.detail.y"}, "input_template": "{\"a\": \"<x>\", \"q\": <y>}"}),
                serde_json::json!({"s": ["hit"]}),
            ),
        ];
        for design in &cases {
            let (fused, routes) = routes_equal_scanning(design, 50);
            assert!(fused > 0 && routes == 50, "{design}");
        }
    }

    /// Cases a review found where written values and scanning disagreed: empty keys in
    /// templates, patterns and input paths. (Templates that may render an object as
    /// `source`, `detail-type` or a resource are refused by `compile`.)
    #[test]
    fn written_values_agree_with_scanning_on_reviewed_cases() {
        let sink = |pattern: serde_json::Value| serde_json::json!({"pattern": pattern, "targets": [{"to": "sink"}]});
        let cases = [
            one_rule(
                serde_json::json!([{"source": "s", "detail_type": "T", "detail": {"": {"a": "x"}}}]),
                sink(serde_json::json!({"detail": {"a": ["x"]}})),
            ),
            one_rule(
                serde_json::json!([{"source": "s", "detail_type": "T", "detail": {"": {"x": "1"}}}]),
                sink(serde_json::json!({"detail": {"": {"x": ["1"]}}})),
            ),
            one_rule(
                serde_json::json!([{"source": "s", "detail_type": "T", "detail": {"x": "1"}}]),
                serde_json::json!({"pattern": {"source": ["s"]}, "targets": [{"to": "sink", "input_transformer": {
                    "input_paths_map": {"v": "$[''].detail.x"}, "input_template": "\"<v>\""}}]}),
            ),
        ];
        // Scanning routes events in every case but the first (`a` under an empty key is
        // not at `detail.a`).
        for (i, design) in cases.iter().enumerate() {
            let (_, routes) = routes_equal_scanning(design, 200);
            assert_eq!(routes > 0, i != 0, "{design}");
        }
    }
}
