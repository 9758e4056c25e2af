//! CPU time of one designer frame (UI logic + tessellation, headless) on generated
//! designs, labels on.
//!
//! Targets (issue 4): ≤ 2 ms at 500 boxes / 1,000 arrows and ≤ 6 ms at 2,000 boxes /
//! 4,000 arrows. The window is 3840×2160 and the view fits the whole design, so every
//! box is on screen and drawn with its labels (nothing is culled).
//!
//! Cases per size:
//! - `steady`: a frame where nothing changes (hover, a repaint from a timer).
//! - `pan`: the view moves every frame (labels are reused, shapes rebuilt).
//! - `zoom`: the zoom changes every frame, so every label is laid out again.
//!
//! `cargo bench --bench canvas`; `EVENTYARD_BENCH_QUICK=1` runs fewer samples.

use std::time::Duration;

use criterion::{BatchSize, Criterion, criterion_group, criterion_main};
use egui::{Context, RawInput, Rect, pos2, vec2};
use eventyard::app::{EventyardApp, Options};
use eventyard::model::{Consumer, Node, Producer, Queue, Rule, Target, Topology};

/// A design of `units` copies of: producer → bus with 4 rules of 3 targets each (three
/// consumers and a queue with two consumers pulling, one dead-letter arrow):
/// 10 boxes and 20 arrows per unit.
fn generated(units: usize) -> Topology {
    let mut t = Topology::new();
    for u in 0..units {
        let id = |s: &str| format!("{s}-{u}");
        t.nodes.insert(
            id("p"),
            Node::Producer(Producer {
                to: id("bus"),
                rate: 10.0,
                ..Producer::default()
            }),
        );
        let consumers = [id("billing"), id("shipping"), id("email")];
        for c in &consumers {
            t.nodes
                .insert(c.clone(), Node::Consumer(Consumer::default()));
        }
        t.nodes.insert(
            id("queue"),
            Node::Queue(Queue {
                consumers: vec![consumers[0].clone(), consumers[1].clone()],
                ..Queue::default()
            }),
        );
        let mut bus = eventyard::model::Bus::default();
        for r in 0..4 {
            let targets: Vec<Target> = (0..3)
                .map(|k| {
                    let to = if k == 2 {
                        id("queue")
                    } else {
                        consumers[(r + k) % 3].clone()
                    };
                    let dlq = (r == 0 && k == 0).then(|| id("queue"));
                    Target {
                        to,
                        dlq,
                        ..Target::default()
                    }
                })
                .collect();
            bus.rules.insert(
                format!("rule-{r}"),
                Rule {
                    pattern: serde_json::json!({"source": [format!("app.{u}")]}),
                    targets,
                    ..Rule::default()
                },
            );
        }
        t.nodes.insert(id("bus"), Node::Bus(bus));
    }
    t
}

fn input(size: egui::Vec2) -> RawInput {
    RawInput {
        screen_rect: Some(Rect::from_min_size(pos2(0.0, 0.0), size)),
        ..RawInput::default()
    }
}

/// Runs one full frame of the app and tessellates it; returns the number of primitives.
fn frame(ctx: &Context, app: &mut EventyardApp, size: egui::Vec2) -> usize {
    let output = ctx.run_ui(input(size), |ui| app.frame(ui));
    ctx.tessellate(output.shapes, output.pixels_per_point).len()
}

fn bench(c: &mut Criterion) {
    let size = vec2(3840.0, 2160.0);
    for units in [50usize, 200] {
        let design = generated(units);
        let data = std::env::temp_dir().join(format!("eventyard-bench-{}", std::process::id()));
        let file = data.join("design.json");
        std::fs::create_dir_all(&data).expect("temp dir");
        std::fs::write(&file, design.to_json()).expect("writes");
        let ctx = Context::default();
        let mut app = EventyardApp::new(Options {
            file: Some(file),
            screenshot: None,
            data_dir: Some(data.clone()),
            light: false,
        });
        for _ in 0..5 {
            frame(&ctx, &mut app, size);
        }
        let boxes = app.canvas().last_rect;
        let scene = eventyard::app::scene::Scene::new(app.document().topology());
        let label = format!("{}_boxes_{}_arrows", scene.items.len(), scene.edges.len());
        eprintln!(
            "{label}: canvas {:.0}x{:.0}, zoom {:.2}",
            boxes.width(),
            boxes.height(),
            app.canvas().zoom
        );
        let mut group = c.benchmark_group(format!("frame/{label}"));
        if std::env::var_os("EVENTYARD_BENCH_QUICK").is_some() {
            group
                .sample_size(10)
                .measurement_time(Duration::from_secs(2));
        } else {
            group
                .sample_size(30)
                .measurement_time(Duration::from_secs(6));
        }
        group.bench_function("steady", |b| b.iter(|| frame(&ctx, &mut app, size)));
        group.bench_function("pan", |b| {
            let mut k = 0.0f32;
            b.iter(|| {
                k += 1.0;
                app.canvas_mut().pan += vec2(if k as u32 % 2 == 0 { 3.0 } else { -3.0 }, 0.0);
                frame(&ctx, &mut app, size)
            })
        });
        let base_zoom = app.canvas().zoom;
        group.bench_function("zoom", |b| {
            let mut k = 0u32;
            b.iter_batched(
                || {
                    k += 1;
                    base_zoom * (1.0 + 0.01 * (k % 7) as f32)
                },
                |zoom| {
                    app.canvas_mut().zoom = zoom;
                    frame(&ctx, &mut app, size)
                },
                BatchSize::SmallInput,
            )
        });
        group.finish();
        let _ = std::fs::remove_dir_all(&data);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
