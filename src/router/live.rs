//! The live router: an [`Engine`] on a tokio task, steered through a bounded command
//! channel, reporting through a bounded flow-event channel and a latest-value stats
//! channel. The router never waits for a viewer: flow events that do not fit are
//! counted and dropped; stats are overwritten, not queued.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::{mpsc, oneshot, watch};
use tokio::time::Instant;

use super::engine::{Engine, EngineOptions, PutResult, SimTime};
use super::metrics::{Counters, Ledger};
use super::trace::Hop;
use crate::model::Compiled;
use crate::model::scenario::Action;

/// What a UI (or the HTTP ingest) can ask of a running router.
pub enum Command {
    /// Stop advancing time.
    Pause,
    /// Advance time again.
    Resume,
    /// While paused: process the next happening only.
    Step,
    /// Simulated seconds per real second.
    SetSpeed(f64),
    /// Apply a new design without losing queued messages.
    Apply(Arc<Compiled>),
    /// A scenario action, now.
    Act(Action),
    /// PutEvents on a bus.
    PutEvents {
        /// The bus id.
        bus: String,
        /// Who puts (a node id or an account id).
        principal: String,
        /// The entries.
        entries: Vec<serde_json::Value>,
        /// Where the per-entry results go.
        reply: oneshot::Sender<Result<Vec<PutResult>, String>>,
    },
    /// End the task.
    Stop,
}

/// A snapshot of the router's numbers.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    /// Simulated now.
    pub now: SimTime,
    /// Paused?
    pub paused: bool,
    /// Counters per node id, with p99 latency in seconds.
    pub nodes: Vec<(String, Counters, f64)>,
    /// Global accounting.
    pub ledger: Ledger,
    /// Flow events dropped because the viewer was slow.
    pub flow_dropped: u64,
}

/// Handle to a running router.
pub struct LiveRouter {
    /// Send commands (bounded; use `try_send` from a UI thread).
    pub commands: mpsc::Sender<Command>,
    /// Sampled flow events (traced hops).
    pub flow: mpsc::Receiver<(String, Hop)>,
    /// Latest numbers.
    pub stats: watch::Receiver<Snapshot>,
}

/// Capacity of the command channel.
pub const COMMAND_CAPACITY: usize = 256;
/// Capacity of the flow-event channel.
pub const FLOW_CAPACITY: usize = 4096;

impl LiveRouter {
    /// Starts a router on the current tokio runtime, pacing simulated time to tokio's
    /// clock at `speed` (use a paused tokio clock in tests).
    pub fn spawn(compiled: Arc<Compiled>, options: EngineOptions, speed: f64) -> LiveRouter {
        let (cmd_tx, cmd_rx) = mpsc::channel(COMMAND_CAPACITY);
        let (flow_tx, flow_rx) = mpsc::channel(FLOW_CAPACITY);
        let (stats_tx, stats_rx) = watch::channel(Snapshot::default());
        let engine = Engine::new(compiled, options);
        tokio::spawn(drive(engine, speed, cmd_rx, flow_tx, stats_tx));
        LiveRouter {
            commands: cmd_tx,
            flow: flow_rx,
            stats: stats_rx,
        }
    }
}

async fn drive(
    mut engine: Engine,
    speed: f64,
    mut commands: mpsc::Receiver<Command>,
    flow: mpsc::Sender<(String, Hop)>,
    stats: watch::Sender<Snapshot>,
) {
    let mut speed = sane(speed);
    let mut paused = false;
    // Simulated time = base_sim + (wall - base_wall) * speed while running.
    let mut base_wall = Instant::now();
    let mut base_sim: SimTime = 0;
    let mut flow_dropped = 0u64;
    loop {
        let target = if paused {
            engine.now()
        } else {
            base_sim + (base_wall.elapsed().as_nanos() as f64 * speed) as SimTime
        };
        engine.run_until(target);
        for hop in engine.drain_trace() {
            let name = engine.node_name(hop.node).to_string();
            if flow.try_send((name, hop)).is_err() {
                flow_dropped += 1;
            }
        }
        stats.send_replace(snapshot(&engine, paused, flow_dropped));
        let wait = if paused {
            Duration::from_millis(250)
        } else {
            let next = engine.next_time().unwrap_or(target + 50_000_000);
            Duration::from_nanos(
                (((next.saturating_sub(target)) as f64 / speed) as u64).clamp(100_000, 20_000_000),
            )
        };
        let command = tokio::select! {
            c = commands.recv() => c,
            _ = tokio::time::sleep(wait) => continue,
        };
        let Some(command) = command else {
            return;
        };
        // Any change of pacing restarts the wall/sim correspondence at "now".
        let rebase = |engine: &Engine, base_wall: &mut Instant, base_sim: &mut SimTime| {
            *base_wall = Instant::now();
            *base_sim = engine.now();
        };
        match command {
            Command::Pause => paused = true,
            Command::Resume => {
                paused = false;
                rebase(&engine, &mut base_wall, &mut base_sim);
            }
            Command::Step => {
                if paused {
                    engine.step();
                }
            }
            Command::SetSpeed(s) => {
                engine.run_until(target);
                speed = sane(s);
                rebase(&engine, &mut base_wall, &mut base_sim);
            }
            Command::Apply(compiled) => engine.apply(compiled),
            Command::Act(mut action) => {
                action.at = crate::model::Dur(engine.now());
                engine.schedule_action(action);
            }
            Command::PutEvents {
                bus,
                principal,
                entries,
                reply,
            } => {
                let _ = reply.send(engine.put_events(&bus, &principal, &entries));
            }
            Command::Stop => return,
        }
    }
}

fn sane(speed: f64) -> f64 {
    if speed.is_finite() && speed > 0.0 {
        speed
    } else {
        1.0
    }
}

fn snapshot(engine: &Engine, paused: bool, flow_dropped: u64) -> Snapshot {
    Snapshot {
        now: engine.now(),
        paused,
        nodes: engine
            .all_metrics()
            .iter()
            .enumerate()
            .map(|(id, m)| {
                (
                    engine.node_name(id).to_string(),
                    m.counters.clone(),
                    m.percentile_secs(0.99),
                )
            })
            .collect(),
        ledger: engine.ledger().clone(),
        flow_dropped,
    }
}
