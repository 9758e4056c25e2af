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

use rand::{Rng, SeedableRng};
use rand_pcg::Pcg64Mcg;

use crate::model::Arrivals;
use crate::model::compile::{CompiledBus, CompiledProducer};
use crate::model::template::RenderContext;
use crate::model::transform::{Reserved, TargetInput, TopLevel};
use crate::pattern::{RuleId, Scratch};

/// Room reserved for a body (most events fit; bigger ones grow once).
const BODY_CAPACITY: usize = 512;

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
    pub routes: Option<Vec<Route>>,
}

/// One delivery a matched rule makes.
#[derive(Debug)]
pub struct Route {
    /// Rule index in the bus.
    pub rule: u32,
    /// Target index in the rule.
    pub target: u32,
    /// What the target receives when it is not the event itself.
    pub body: RouteBody,
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
}

/// The random stream of the producer's n-th event (`salt` separates uses).
fn rng_for(stream: u64, seq: u64, salt: u64) -> Pcg64Mcg {
    let mut x = stream ^ seq.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ salt.rotate_left(29);
    // splitmix64 finaliser
    x = (x ^ (x >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    x = (x ^ (x >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    Pcg64Mcg::seed_from_u64(x ^ (x >> 31))
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
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut s) => {
            let (scratch, ids, secs, text) = &mut *s;
            let mut cache = (*secs, std::mem::take(text));
            let p = prepare_with(src, seq, time, scratch, ids, &mut cache);
            (*secs, *text) = cache;
            p
        }
        Err(_) => prepare_with(
            src,
            seq,
            time,
            &mut Scratch::default(),
            &mut Vec::new(),
            &mut (u64::MAX, String::new()),
        ),
    })
}

fn prepare_with(
    src: &Source<'_>,
    seq: u64,
    time: f64,
    scratch: &mut Scratch,
    ids: &mut Vec<RuleId>,
    clock: &mut (u64, String),
) -> Prepared {
    let mut rng = rng_for(src.stream, seq, 0);
    let now_ms = src.epoch_ms + (time as u64) / 1_000_000;
    time_text(now_ms / 1000, clock);
    let now_text = clock.1.as_str();
    let p = src.producer;
    let to_bus = src.bus.is_some();
    let mut out = Prepared {
        time,
        seq,
        body: String::with_capacity(BODY_CAPACITY),
        attributes: None,
        group_id: None,
        dedup_id: None,
        tracked_type: u32::MAX,
        routes: None,
    };
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
            return out;
        };
        let ctx = RenderContext {
            seq,
            now_rfc3339: now_text,
            now_ms,
        };
        let body = &mut out.body;
        if to_bus {
            let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
            body.push_str("{\"version\":\"0\",\"id\":\"");
            body.push_str(
                id.hyphenated()
                    .encode_lower(&mut uuid::Uuid::encode_buffer()),
            );
            body.push_str("\",\"detail-type\":");
            let at = body.len();
            event.detail_type.render(&mut rng, &ctx, body);
            if !src.tracked.is_empty()
                && let Ok(dt) = serde_json::from_str::<String>(&body[at..])
            {
                out.tracked_type = src.tracked.get(&dt).copied().unwrap_or(u32::MAX);
            }
            body.push_str(",\"source\":");
            event.source.render(&mut rng, &ctx, body);
            for (key, value) in [
                (",\"account\":\"", p.info.account.as_str()),
                ("\",\"time\":\"", now_text),
                ("\",\"region\":\"", src.region),
            ] {
                body.push_str(key);
                body.push_str(value);
            }
            body.push_str("\",\"resources\":");
            match &event.resources {
                Some(r) => r.render(&mut rng, &ctx, body),
                None => body.push_str("[]"),
            }
            body.push_str(",\"detail\":");
            event.detail.render(&mut rng, &ctx, body);
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
    if let Some(bus) = src.bus {
        out.routes = route(bus, &out.body, now_text, scratch, ids);
    }
    out
}

/// The deliveries a bus makes for an event: matched rules (disabled ones included; the
/// engine skips those it has disabled), each target's input. `None` if malformed.
pub fn route(
    bus: &CompiledBus,
    body: &str,
    ingestion_time: &str,
    scratch: &mut Scratch,
    ids: &mut Vec<RuleId>,
) -> Option<Vec<Route>> {
    ids.clear();
    bus.matcher
        .matches_with(body.as_bytes(), scratch, ids)
        .ok()?;
    // Rule order (ids are in match order); sorted in place, no allocation.
    ids.sort_unstable_by_key(|&id| bus.rule_index(id));
    let mut routes = Vec::with_capacity(ids.len());
    let mut top: Option<TopLevel<'_>> = None;
    for r in ids.iter().map(|&id| bus.rule_index(id)) {
        let rule = &bus.rules[r];
        for (t, target) in rule.targets.iter().enumerate() {
            let body = match &*target.input {
                TargetInput::WholeEvent => RouteBody::Event,
                TargetInput::Constant(c) => RouteBody::Text(c.clone()),
                input => {
                    let reserved = Reserved {
                        rule_arn: &rule.arn,
                        rule_name: &rule.name,
                        ingestion_time,
                    };
                    let top = top.get_or_insert_with(|| TopLevel::new(body));
                    match input.render_from(top, &reserved) {
                        Ok(std::borrow::Cow::Borrowed(text))
                            if std::ptr::eq(text.as_ptr(), body.as_ptr())
                                && text.len() == body.len() =>
                        {
                            RouteBody::Event
                        }
                        Ok(text) => RouteBody::Text(text.into_owned()),
                        Err(_) => RouteBody::Nothing,
                    }
                }
            };
            routes.push(Route {
                rule: r as u32,
                target: t as u32,
                body,
            });
        }
    }
    Some(routes)
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
    let id = uuid::Builder::from_random_bytes(rng.random()).into_uuid();
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
