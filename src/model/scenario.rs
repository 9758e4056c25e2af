//! Scenario lines: timeline actions and assertions, in a small English-like syntax.
//!
//! Actions (`at TIME: ...`):
//! - `consumer NAME down [for DUR]`, `consumer NAME up`
//! - `consumer NAME latency +DUR [for DUR]` (extra processing time)
//! - `consumer NAME error-rate FRACTION [for DUR]`
//! - `producer NAME burst xFACTOR for DUR`, `producer NAME rate N [for DUR]`,
//!   `producer NAME stop`, `producer NAME start`
//! - `rule BUS/RULE disable [for DUR]`, `rule BUS/RULE enable`
//! - `replay archive NAME from TIME to TIME`
//!
//! Assertions:
//! - `every DETAIL-TYPE reaches CONSUMER within DUR` — every event of that detail-type
//!   accepted by a bus is processed by the consumer within DUR of being produced (quote
//!   a detail-type with spaces: `every "EC2 Instance State-change Notification" ...`).
//! - `METRIC OP NUMBER`, where METRIC is `NODE.COUNTER` (see [`METRICS`]) or `dlq.NODE`
//!   (messages NODE's failures sent to a dead-letter queue); OP is one of
//!   `< <= > >= == !=`; latency metrics take a duration (`billing.p99 < 2s`).
//! - `NODE throughput during NODE EFFECT within PCT% of before` — the rate at which NODE
//!   completes work while the named action (e.g. `email down`) is in effect stays within
//!   PCT% of its rate over an equally long window just before it.

use std::fmt;

use super::duration::Dur;

/// Counters and gauges an assertion may name after `NODE.`.
pub const METRICS: &[&str] = &[
    "in",
    "matched",
    "filtered",
    "delivered",
    "failed",
    "retried",
    "dlq",
    "dropped",
    "refused",
    "throttled",
    "produced",
    "processed",
    "depth",
    "max_depth",
    "in_flight",
    "p50",
    "p90",
    "p99",
];

/// The largest `burst xN` factor.
pub const MAX_BURST: f64 = 1000.0;

/// Metrics whose value is a latency (compared with durations).
pub const LATENCY_METRICS: &[&str] = &["p50", "p90", "p99"];

/// One timeline action.
#[derive(Clone, Debug, PartialEq)]
pub struct Action {
    /// When it happens (from the start of the run).
    pub at: Dur,
    /// What happens.
    pub kind: ActionKind,
    /// How long it lasts, for actions that revert on their own.
    pub lasts: Option<Dur>,
}

/// What an action does.
#[derive(Clone, Debug, PartialEq)]
pub enum ActionKind {
    /// The consumer stops processing: every delivery fails (push) or nothing is pulled.
    ConsumerDown(String),
    /// The consumer is back.
    ConsumerUp(String),
    /// Extra processing time.
    ConsumerLatency(String, Dur),
    /// A new error rate.
    ConsumerErrorRate(String, f64),
    /// Multiply the producer's rate.
    ProducerBurst(String, f64),
    /// Set the producer's rate.
    ProducerRate(String, f64),
    /// The producer stops sending.
    ProducerStop(String),
    /// The producer sends again.
    ProducerStart(String),
    /// Disable a rule (`bus`, `rule`).
    RuleDisable(String, String),
    /// Enable a rule again.
    RuleEnable(String, String),
    /// Put an archive's events from a window of time back on its bus.
    Replay {
        /// The archive.
        archive: String,
        /// Window start (event time since the run began).
        from: Dur,
        /// Window end.
        to: Dur,
    },
}

impl ActionKind {
    /// The node the action is about (the bus for rule actions).
    pub fn node(&self) -> &str {
        match self {
            ActionKind::ConsumerDown(n)
            | ActionKind::ConsumerUp(n)
            | ActionKind::ConsumerLatency(n, _)
            | ActionKind::ConsumerErrorRate(n, _)
            | ActionKind::ProducerBurst(n, _)
            | ActionKind::ProducerRate(n, _)
            | ActionKind::ProducerStop(n)
            | ActionKind::ProducerStart(n)
            | ActionKind::RuleDisable(n, _)
            | ActionKind::RuleEnable(n, _) => n,
            ActionKind::Replay { archive, .. } => archive,
        }
    }

    /// The word naming the effect in throughput assertions (`down`, `burst`, ...).
    pub fn effect(&self) -> &'static str {
        match self {
            ActionKind::ConsumerDown(_) => "down",
            ActionKind::ConsumerUp(_) => "up",
            ActionKind::ConsumerLatency(..) => "latency",
            ActionKind::ConsumerErrorRate(..) => "error-rate",
            ActionKind::ProducerBurst(..) => "burst",
            ActionKind::ProducerRate(..) => "rate",
            ActionKind::ProducerStop(_) => "stop",
            ActionKind::ProducerStart(_) => "start",
            ActionKind::RuleDisable(..) => "disable",
            ActionKind::RuleEnable(..) => "enable",
            ActionKind::Replay { .. } => "replay",
        }
    }

    /// The kind of node the action needs (`consumer`, `producer`, `bus`, `archive`).
    pub fn node_kind(&self) -> super::Kind {
        use super::Kind;
        match self {
            ActionKind::ConsumerDown(_)
            | ActionKind::ConsumerUp(_)
            | ActionKind::ConsumerLatency(..)
            | ActionKind::ConsumerErrorRate(..) => Kind::Consumer,
            ActionKind::ProducerBurst(..)
            | ActionKind::ProducerRate(..)
            | ActionKind::ProducerStop(_)
            | ActionKind::ProducerStart(_) => Kind::Producer,
            ActionKind::RuleDisable(..) | ActionKind::RuleEnable(..) => Kind::Bus,
            ActionKind::Replay { .. } => Kind::Archive,
        }
    }
}

/// A comparison operator.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Op {
    /// `<`
    Lt,
    /// `<=`
    Le,
    /// `>`
    Gt,
    /// `>=`
    Ge,
    /// `==`
    Eq,
    /// `!=`
    Ne,
}

impl Op {
    /// Applies the comparison.
    pub fn holds(self, left: f64, right: f64) -> bool {
        match self {
            Op::Lt => left < right,
            Op::Le => left <= right,
            Op::Gt => left > right,
            Op::Ge => left >= right,
            Op::Eq => left == right,
            Op::Ne => left != right,
        }
    }

    fn parse(text: &str) -> Option<Op> {
        Some(match text {
            "<" => Op::Lt,
            "<=" => Op::Le,
            ">" => Op::Gt,
            ">=" => Op::Ge,
            "==" | "=" => Op::Eq,
            "!=" => Op::Ne,
            _ => return None,
        })
    }
}

impl fmt::Display for Op {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Op::Lt => "<",
            Op::Le => "<=",
            Op::Gt => ">",
            Op::Ge => ">=",
            Op::Eq => "==",
            Op::Ne => "!=",
        })
    }
}

/// One assertion.
#[derive(Clone, Debug, PartialEq)]
pub enum Assertion {
    /// Every event of a detail-type reaches a consumer within a time.
    Reaches {
        /// The `detail-type`.
        detail_type: String,
        /// The consumer.
        consumer: String,
        /// The deadline after production.
        within: Dur,
    },
    /// A metric compared with a number (latencies in seconds).
    Compare {
        /// The node.
        node: String,
        /// The metric (one of [`METRICS`]; `dlq.NODE` gives `dlq`).
        metric: String,
        /// The comparison.
        op: Op,
        /// The number (seconds for latencies).
        value: f64,
    },
    /// A node's throughput while an action is in effect vs. just before.
    Throughput {
        /// Whose throughput.
        node: String,
        /// The node the action is about.
        during_node: String,
        /// The action's effect word (`down`, `burst`, ...).
        during_effect: String,
        /// Allowed relative difference, in percent.
        within_percent: f64,
    },
}

/// Parses an action line (`at 10s: consumer email down for 20s`).
pub fn parse_action(line: &str) -> Result<Action, String> {
    let rest = line
        .trim()
        .strip_prefix("at ")
        .ok_or("an action starts with `at TIME:`")?;
    let (time, what) = rest
        .split_once(':')
        .ok_or("expected `:` after the time (`at 10s: ...`)")?;
    let at = Dur::parse(time)?;
    let words: Vec<&str> = what.split_whitespace().collect();
    let (words, lasts) = match words.iter().rposition(|w| *w == "for") {
        Some(i) if i + 2 == words.len() => (&words[..i], Some(Dur::parse(words[i + 1])?)),
        _ => (&words[..], None),
    };
    let name = |i: usize| -> Result<String, String> {
        words
            .get(i)
            .map(|w| w.to_string())
            .ok_or_else(|| "missing a node name".to_string())
    };
    let kind = match words {
        ["consumer", n, "down"] => ActionKind::ConsumerDown(n.to_string()),
        ["consumer", n, "up"] => ActionKind::ConsumerUp(n.to_string()),
        ["consumer", n, "latency", extra] => {
            let extra = extra
                .strip_prefix('+')
                .ok_or("write the extra latency as +DUR (e.g. +2s)")?;
            ActionKind::ConsumerLatency(n.to_string(), Dur::parse(extra)?)
        }
        ["consumer", n, "error-rate", r] => {
            let rate = number(r)?;
            if !(0.0..=1.0).contains(&rate) {
                return Err(format!("error-rate {rate} is not between 0 and 1"));
            }
            ActionKind::ConsumerErrorRate(n.to_string(), rate)
        }
        ["producer", n, "burst", factor] => {
            let f = factor
                .strip_prefix('x')
                .ok_or("write the burst factor as xN (e.g. x10)")?;
            let f = number(f)?;
            if !(f > 0.0 && f <= MAX_BURST) {
                return Err(format!(
                    "the burst factor must be above 0 and at most {MAX_BURST}"
                ));
            }
            if lasts.is_none() {
                return Err("a burst needs `for DUR`".into());
            }
            ActionKind::ProducerBurst(n.to_string(), f)
        }
        ["producer", n, "rate", r] => {
            let rate = non_negative(r)?;
            if rate > super::compile::MAX_RATE {
                return Err(format!(
                    "at most {} events per second",
                    super::compile::MAX_RATE
                ));
            }
            ActionKind::ProducerRate(n.to_string(), rate)
        }
        ["producer", n, "stop"] => ActionKind::ProducerStop(n.to_string()),
        ["producer", n, "start"] => ActionKind::ProducerStart(n.to_string()),
        ["rule", r, verb @ ("disable" | "enable")] => {
            let (bus, rule) = r
                .split_once('/')
                .ok_or("name the rule as BUS/RULE (e.g. orders/to-email)")?;
            if *verb == "disable" {
                ActionKind::RuleDisable(bus.into(), rule.into())
            } else {
                ActionKind::RuleEnable(bus.into(), rule.into())
            }
        }
        ["replay", "archive", _, "from", from, "to", to] => {
            let (from, to) = (Dur::parse(from)?, Dur::parse(to)?);
            if from > to {
                return Err("the replay window ends before it starts".into());
            }
            ActionKind::Replay {
                archive: name(2)?,
                from,
                to,
            }
        }
        _ => {
            return Err(format!(
                "cannot read `{}`; expected e.g. `consumer NAME down for 20s`, `producer NAME burst x10 for 5s`, `consumer NAME latency +2s`, `rule BUS/RULE disable`, `replay archive NAME from 0s to 30s`",
                what.trim()
            ));
        }
    };
    if lasts.is_some() && matches!(kind, ActionKind::Replay { .. }) {
        return Err("a replay does not take `for`".into());
    }
    Ok(Action { at, kind, lasts })
}

/// Parses an assertion line.
pub fn parse_assertion(line: &str) -> Result<Assertion, String> {
    // A detail-type with spaces is written in double quotes.
    if let Some(rest) = line.trim().strip_prefix("every \"") {
        let (detail_type, rest) = rest
            .split_once('"')
            .ok_or("the quoted detail-type has no closing quote")?;
        return match rest.split_whitespace().collect::<Vec<_>>().as_slice() {
            ["reaches", consumer, "within", d] => Ok(Assertion::Reaches {
                detail_type: detail_type.to_string(),
                consumer: consumer.to_string(),
                within: Dur::parse(d)?,
            }),
            _ => Err("expected `every \"TYPE\" reaches CONSUMER within DUR`".into()),
        };
    }
    let words: Vec<&str> = line.split_whitespace().collect();
    match words.as_slice() {
        ["every", dt, "reaches", consumer, "within", d] => Ok(Assertion::Reaches {
            detail_type: dt.to_string(),
            consumer: consumer.to_string(),
            within: Dur::parse(d)?,
        }),
        [
            node,
            "throughput",
            "during",
            during,
            effect,
            "within",
            pct,
            "of",
            "before",
        ] => {
            let pct = pct
                .strip_suffix('%')
                .ok_or("write the tolerance as a percentage (5%)")?;
            Ok(Assertion::Throughput {
                node: node.to_string(),
                during_node: during.to_string(),
                during_effect: effect.to_string(),
                within_percent: non_negative(pct)?,
            })
        }
        [metric, op, value] => {
            let op =
                Op::parse(op).ok_or_else(|| format!("`{op}` is not one of < <= > >= == !="))?;
            // Node ids may contain dots (`orders.fifo`): the metric is after the last one.
            let (node, metric) = match (metric.strip_prefix("dlq."), metric.rsplit_once('.')) {
                (Some(node), _) => (node.to_string(), "dlq".to_string()),
                (None, Some((node, m))) => (node.to_string(), m.to_string()),
                (None, None) => return Err(format!("`{metric}` is not NODE.METRIC or dlq.NODE")),
            };
            if !METRICS.contains(&metric.as_str()) {
                return Err(format!(
                    "unknown metric `{metric}`; known: {}",
                    METRICS.join(", ")
                ));
            }
            let value = if LATENCY_METRICS.contains(&metric.as_str()) {
                Dur::parse(value)?.as_secs_f64()
            } else {
                number(value)?
            };
            Ok(Assertion::Compare {
                node,
                metric,
                op,
                value,
            })
        }
        _ => Err(format!(
            "cannot read `{}`; expected `every TYPE reaches CONSUMER within 5s`, `NODE.METRIC <= N`, `dlq.NODE <= N` or `NODE throughput during NODE down within 5% of before`",
            line.trim()
        )),
    }
}

fn number(text: &str) -> Result<f64, String> {
    text.parse::<f64>()
        .ok()
        .filter(|v| v.is_finite())
        .ok_or_else(|| format!("`{text}` is not a number"))
}

fn non_negative(text: &str) -> Result<f64, String> {
    let v = number(text)?;
    if v < 0.0 {
        return Err(format!("`{text}` must not be negative"));
    }
    Ok(v)
}

impl fmt::Display for Assertion {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Assertion::Reaches {
                detail_type,
                consumer,
                within,
            } if detail_type.contains(char::is_whitespace) => {
                write!(
                    f,
                    "every \"{detail_type}\" reaches {consumer} within {within}"
                )
            }
            Assertion::Reaches {
                detail_type,
                consumer,
                within,
            } => write!(f, "every {detail_type} reaches {consumer} within {within}"),
            Assertion::Compare {
                node,
                metric,
                op,
                value,
            } if metric == "dlq" => write!(f, "dlq.{node} {op} {value}"),
            Assertion::Compare {
                node,
                metric,
                op,
                value,
            } if LATENCY_METRICS.contains(&metric.as_str()) => {
                write!(f, "{node}.{metric} {op} {}", Dur::from_secs_f64(*value))
            }
            Assertion::Compare {
                node,
                metric,
                op,
                value,
            } => write!(f, "{node}.{metric} {op} {value}"),
            Assertion::Throughput {
                node,
                during_node,
                during_effect,
                within_percent,
            } => write!(
                f,
                "{node} throughput during {during_node} {during_effect} within {within_percent}% of before"
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_documented_actions() {
        let a = parse_action("at 10s: consumer email down for 20s").unwrap();
        assert_eq!(a.at, Dur::secs(10));
        assert_eq!(a.kind, ActionKind::ConsumerDown("email".into()));
        assert_eq!(a.lasts, Some(Dur::secs(20)));
        let a = parse_action("at 20s: producer web burst x10 for 5s").unwrap();
        assert_eq!(a.kind, ActionKind::ProducerBurst("web".into(), 10.0));
        let a = parse_action("at 30s: consumer billing latency +2s").unwrap();
        assert_eq!(
            a.kind,
            ActionKind::ConsumerLatency("billing".into(), Dur::secs(2))
        );
        let a = parse_action("at 1m: replay archive all from 0s to 30s").unwrap();
        assert!(matches!(a.kind, ActionKind::Replay { .. }));
        let a = parse_action("at 5s: rule orders/to-email disable for 1s").unwrap();
        assert_eq!(
            a.kind,
            ActionKind::RuleDisable("orders".into(), "to-email".into())
        );
        for bad in [
            "10s: consumer x down",
            "at 10s consumer x down",
            "at 10s: consumer x sideways",
            "at 1s: producer p burst 10 for 1s",
            "at 1s: producer p burst x10",
            "at 1s: consumer c error-rate 2",
            "at 1s: rule nobus disable",
        ] {
            assert!(parse_action(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn reads_the_documented_assertions() {
        let a = parse_assertion("every OrderPlaced reaches billing within 5s").unwrap();
        assert_eq!(a.to_string(), "every OrderPlaced reaches billing within 5s");
        let a = parse_assertion("dlq.email <= 3").unwrap();
        assert_eq!(a.to_string(), "dlq.email <= 3");
        let a = parse_assertion("wms-inbound.fifo.max_depth > 100").unwrap();
        assert_eq!(a.to_string(), "wms-inbound.fifo.max_depth > 100");
        let a = parse_assertion(
            "every \"EC2 Instance State-change Notification\" reaches pager within 5s",
        )
        .unwrap();
        assert!(matches!(&a, Assertion::Reaches { detail_type, .. } if detail_type.contains(' ')));
        assert_eq!(parse_assertion(&a.to_string()).unwrap(), a);
        let a = parse_assertion("billing.p99 < 2s").unwrap();
        assert_eq!(a.to_string(), "billing.p99 < 2s");
        let a =
            parse_assertion("billing throughput during email down within 5% of before").unwrap();
        assert!(matches!(
            a,
            Assertion::Throughput {
                within_percent: 5.0,
                ..
            }
        ));
        for bad in [
            "billing.speed > 3",
            "billing > 3",
            "x.depth ~ 3",
            "every X reaches",
        ] {
            assert!(parse_assertion(bad).is_err(), "{bad}");
        }
    }
}
