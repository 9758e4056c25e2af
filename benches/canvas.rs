//! CPU time of one designer frame (UI logic + tessellation, headless) on generated
//! designs, labels on.
//!
//! Targets (issue 4): ≤ 2 ms at 500 boxes / 1,000 arrows and ≤ 6 ms at 2,000 boxes /
//! 4,000 arrows. The window is 3840×2160 and the view fits the whole design, so every
//! box is on screen and drawn with its labels (nothing is culled).
//!
//! Cases per size:
//! - `steady`: a frame where nothing changes (hover, a repaint from a timer).
//! - `steady_inspecting`: the same with a producer in the inspector (its templates'
//!   check compiles the design; the result is kept per document state).
//! - `drag`: a box dragged with the mouse: the canvas is drawn again every frame.
//! - `pan`: the view moves every frame (scroll or drag on empty space): the finished
//!   picture is moved, or drawn again when parts of it were off screen.
//! - `zoom`: a zoom gesture (+0.5 % a frame): redrawn every frame, and labels are laid
//!   out again whenever their rounded font size changes.
//!
//! `cargo bench --bench canvas`; `EVENTYARD_BENCH_QUICK=1` runs fewer samples.

use std::time::Duration;

/// The app binary's allocator (see `src/main.rs`): frames allocate and free large
/// vertex buffers, which glibc's allocator returns to the kernel and faults back in.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use criterion::{Criterion, criterion_group, criterion_main};
use egui::{Context, RawInput, Rect, pos2, vec2};
use eventyard::app::{EventyardApp, Options};
use eventyard::model::{Consumer, Node, Producer, Queue, Rule, Target, Topology};

/// A design of `units` copies of: producer → bus with 4 rules of 3 targets each (three
/// consumers and a queue with two consumers pulling, one dead-letter arrow):
/// 10 boxes and 20 arrows per unit. Each unit is laid out as a block of four columns
/// (producer, bus, rules, queue and consumers) and the blocks tile a 16:9 area, so that
/// fitting the view puts every box on a 4K screen at a zoom where labels are drawn.
fn generated(units: usize) -> Topology {
    let mut t = Topology::new();
    let per_row = ((units as f32 * 16.0 / 9.0 * 280.0 / 800.0).sqrt().ceil() as usize).max(1);
    for u in 0..units {
        let (bx, by) = ((u % per_row) as f32 * 800.0, (u / per_row) as f32 * 280.0);
        let mut place = |key: String, col: f32, row: f32| {
            t.layout.insert(
                key,
                eventyard::model::Position {
                    x: bx + col * 190.0,
                    y: by + row * 66.0,
                },
            );
        };
        place(format!("p-{u}"), 0.0, 1.5);
        place(format!("bus-{u}"), 1.0, 1.5);
        for r in 0..4 {
            place(format!("bus-{u}/rule-{r}"), 2.0, r as f32);
        }
        for (row, name) in ["queue", "billing", "shipping", "email"].iter().enumerate() {
            place(format!("{name}-{u}"), 3.0, row as f32);
        }
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
    frame_with(ctx, app, size, Vec::new())
}

/// [`frame`] with input events (pointer moves and presses).
fn frame_with(
    ctx: &Context,
    app: &mut EventyardApp,
    size: egui::Vec2,
    events: Vec<egui::Event>,
) -> usize {
    let mut raw = input(size);
    raw.events = events;
    let output = ctx.run_ui(raw, |ui| app.frame(ui));
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
            select: None,
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
        group.bench_function("steady_inspecting", |b| {
            // A producer in the inspector: its templates are checked by compiling the
            // whole design, once per document state.
            app.canvas_mut()
                .select_only([eventyard::app::scene::ItemKey::node("p-0")]);
            frame(&ctx, &mut app, size);
            b.iter(|| frame(&ctx, &mut app, size));
            app.canvas_mut().select_only([]);
            frame(&ctx, &mut app, size);
        });
        group.bench_function("drag", |b| {
            // A box dragged with the mouse: the picture changes every frame.
            let key = eventyard::app::scene::ItemKey::node("bus-0");
            let start = app.screen_pos(&key).expect("bus-0 is on screen");
            let press = |pressed: bool, pos: egui::Pos2| egui::Event::PointerButton {
                pos,
                button: egui::PointerButton::Primary,
                pressed,
                modifiers: egui::Modifiers::NONE,
            };
            frame_with(
                &ctx,
                &mut app,
                size,
                vec![egui::Event::PointerMoved(start), press(true, start)],
            );
            let mut k = 0u32;
            b.iter(|| {
                k += 1;
                let offset = vec2(20.0 + (k % 10) as f32 * 3.0, 0.0);
                frame_with(
                    &ctx,
                    &mut app,
                    size,
                    vec![egui::Event::PointerMoved(start + offset)],
                )
            });
            // Drop it back where it was, so the other cases see the same design.
            frame_with(
                &ctx,
                &mut app,
                size,
                vec![egui::Event::PointerMoved(start), press(false, start)],
            );
            while app.undo_once() {}
        });
        group.bench_function("pan", |b| {
            let mut right = false;
            b.iter(|| {
                right = !right;
                app.canvas_mut().pan += vec2(if right { 3.0 } else { -3.0 }, 0.0);
                frame(&ctx, &mut app, size)
            })
        });
        let base_zoom = app.canvas().zoom;
        group.bench_function("zoom", |b| {
            // A steady zoom gesture: +0.5 % per frame from the fitted zoom to twice it,
            // then back down, as a trackpad pinch would.
            let mut zoom = base_zoom;
            let mut step = 1.005f32;
            b.iter(|| {
                zoom *= step;
                if zoom > base_zoom * 2.0 || zoom < base_zoom {
                    step = 1.0 / step;
                }
                app.canvas_mut().zoom = zoom;
                frame(&ctx, &mut app, size)
            })
        });
        group.finish();
        let _ = std::fs::remove_dir_all(&data);
    }
}

criterion_group!(benches, bench);
criterion_main!(benches);
