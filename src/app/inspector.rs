//! The inspector: the selected node's, rule's, subscription's or arrow's settings as a
//! form. Every change becomes a [`Command`]; the form itself holds no design state
//! except half-typed text ([`Buffers`]).

use egui::{DragValue, RichText, Ui};
use serde_json::Value;

use crate::model::{
    Arrivals, EventTemplate, FilterScope, InputTransformerConfig, Latency, Node, Rule, Scenario,
    Subscription, Target, Topology, compile, compile::Severity, duration::Dur,
};
use crate::pattern::sns::{FilterPolicy, Scope};
use crate::pattern::{Pattern, explain};

use super::canvas::{EdgeRef, kind_color, kind_icon};
use super::document::Command;
use super::editor::{self, Buffers, TestOutcome, json_field};
use super::pattern_help::{sample_events, sample_messages};
use super::scene::{ItemKey, ItemKind};

/// Shows the inspector for `key` and returns the edits made.
pub fn item(
    ui: &mut Ui,
    topology: &Topology,
    key: &ItemKey,
    buffers: &mut Buffers,
) -> Vec<Command> {
    buffers.inspect(key.as_str());
    let mut out = Vec::new();
    // A rename goes last: an edit made in the same frame (the click that ends the name
    // field's focus) still names the item by its old name.
    let mut rename = Vec::new();
    match key.split() {
        Some((owner, name)) => match topology.nodes.get(owner) {
            Some(Node::Bus(bus)) => {
                if let Some(rule) = bus.rules.get(name) {
                    header(ui, ItemKind::Rule, key);
                    rename_row(ui, buffers, key, name, &mut rename);
                    rule_form(ui, topology, owner, name, rule, buffers, &mut out);
                }
            }
            Some(Node::Topic(topic)) => {
                if let Some(sub) = topic.subscriptions.get(name) {
                    header(ui, ItemKind::Subscription, key);
                    rename_row(ui, buffers, key, name, &mut rename);
                    subscription_form(ui, topology, owner, name, sub, buffers, &mut out);
                }
            }
            _ => {}
        },
        None => {
            if let Some(node) = topology.nodes.get(key.as_str()) {
                header(ui, ItemKind::of_node(node.kind()), key);
                rename_row(ui, buffers, key, key.as_str(), &mut rename);
                let mut edited = node.clone();
                node_form(ui, topology, key.as_str(), &mut edited, buffers);
                if &edited != node {
                    out.push(Command::SetNode {
                        id: key.as_str().to_string(),
                        node: Box::new(edited),
                    });
                }
            }
        }
    }
    out.extend(rename);
    out
}

/// Shows the design as a whole (nothing selected): title, description and scenarios.
pub fn design(ui: &mut Ui, topology: &Topology, buffers: &mut Buffers) -> Vec<Command> {
    buffers.inspect("");
    let mut out = Vec::new();
    ui.heading("Design");
    let mut name = topology.name.clone();
    let mut description = topology.description.clone();
    ui.label("Title");
    let a = ui.text_edit_singleline(&mut name).changed();
    ui.label("Description");
    let b = ui
        .add(egui::TextEdit::multiline(&mut description).desired_rows(4))
        .changed();
    if a || b {
        out.push(Command::SetInfo { name, description });
    }
    ui.separator();
    ui.strong("Scenarios");
    ui.weak("Drills for the run: one action or assertion per line, e.g. `at 20s: producer web burst x10 for 5s`, `dlq.billing == 0`.");
    for (scenario_name, scenario) in &topology.scenarios {
        egui::CollapsingHeader::new(scenario_name.as_str())
            .id_salt(("scenario", scenario_name))
            .show(ui, |ui| {
                if let Some(edited) = scenario_form(ui, topology, scenario_name, scenario, buffers)
                {
                    out.push(Command::SetScenario {
                        name: scenario_name.clone(),
                        scenario: edited,
                    });
                }
            });
    }
    if ui.button("➕ Add scenario").clicked() {
        let taken: std::collections::BTreeSet<&str> =
            topology.scenarios.keys().map(String::as_str).collect();
        let name = super::connect::fresh_name("drill", &taken);
        out.push(Command::SetScenario {
            name,
            scenario: Some(Scenario {
                duration: Dur::parse("60s").unwrap_or_default(),
                ..Scenario::default()
            }),
        });
    }
    out
}

/// One scenario's form; `Some(None)` deletes it, `Some(Some(s))` replaces it.
fn scenario_form(
    ui: &mut Ui,
    topology: &Topology,
    name: &str,
    scenario: &Scenario,
    buffers: &mut Buffers,
) -> Option<Option<Scenario>> {
    let mut edited = scenario.clone();
    ui.horizontal(|ui| {
        ui.label("Description");
        ui.text_edit_singleline(&mut edited.description);
    });
    ui.horizontal(|ui| {
        ui.label("Duration");
        dur_field(
            ui,
            buffers,
            &format!("{name}-duration"),
            &mut edited.duration,
        );
    });
    for (label, lines, field) in [
        ("Actions", &mut edited.actions, "actions"),
        ("Assertions", &mut edited.assertions, "assertions"),
    ] {
        ui.label(label);
        let text = buffers.text(&format!("{name}-{field}"), || lines.join("\n"));
        if code_box(ui, text) {
            *lines = text
                .lines()
                .map(str::trim)
                .filter(|l| !l.is_empty())
                .map(String::from)
                .collect();
        }
    }
    let prefix = format!("scenarios.{name}");
    let candidate = edited.clone();
    let what = format!("{prefix}\u{0}{candidate:?}");
    let verdict = buffers.checked(what, || {
        first_error_under(
            topology,
            |t| {
                t.scenarios.insert(name.to_string(), candidate);
            },
            &prefix,
        )
    });
    match verdict {
        Ok(()) => {
            ui.label(RichText::new("✔ valid").color(editor::ok_color(ui)));
        }
        Err(e) => {
            ui.colored_label(ui.visuals().error_fg_color, format!("✘ {e}"));
        }
    }
    if ui.small_button("🗑 Delete scenario").clicked() {
        return Some(None);
    }
    (edited != *scenario).then_some(Some(edited))
}

/// Shows a selected arrow: what it means and a delete button.
pub fn edge(ui: &mut Ui, edge: &EdgeRef) -> Vec<Command> {
    ui.heading("Arrow");
    ui.label(format!("{} → {}", edge.from, edge.to));
    ui.weak(format!("{:?}", edge.kind));
    if ui.button("🗑 Delete arrow").clicked() {
        return vec![Command::Disconnect {
            from: edge.from.clone(),
            to: edge.to.clone(),
            kind: edge.kind,
        }];
    }
    Vec::new()
}

fn header(ui: &mut Ui, kind: ItemKind, key: &ItemKey) {
    let dark = ui.visuals().dark_mode;
    ui.horizontal(|ui| {
        ui.label(
            RichText::new(kind_icon(kind))
                .size(20.0)
                .color(kind_color(kind, dark)),
        );
        ui.vertical(|ui| {
            ui.heading(key.as_str());
            ui.weak(kind.label());
        });
    });
    ui.separator();
}

fn rename_row(
    ui: &mut Ui,
    buffers: &mut Buffers,
    key: &ItemKey,
    name: &str,
    out: &mut Vec<Command>,
) {
    ui.horizontal(|ui| {
        ui.label("Name");
        let text = buffers.text("name", || name.to_string());
        let response = ui.text_edit_singleline(text);
        let commit = response.lost_focus() && text.as_str() != name;
        if commit {
            let to = text.clone();
            out.push(Command::Rename {
                key: key.clone(),
                to,
            });
        }
    });
}

fn node_form(ui: &mut Ui, topology: &Topology, id: &str, node: &mut Node, buffers: &mut Buffers) {
    egui::Grid::new("node-form").num_columns(2).spacing([10.0, 6.0]).show(ui, |ui| match node {
        Node::Producer(p) => {
            ui.label("Sends to");
            choose(ui, "to", &mut p.to, &ids_of(topology, &[ItemKind::Bus, ItemKind::Topic, ItemKind::Queue]));
            ui.end_row();
            ui.label("Rate (events/s)");
            ui.add(number(&mut p.rate).range(0.0..=crate::model::compile::MAX_RATE).speed(1.0));
            ui.end_row();
            ui.label("Arrivals");
            egui::ComboBox::from_id_salt("arrivals")
                .selected_text(format!("{:?}", p.arrivals).to_lowercase())
                .show_ui(ui, |ui| {
                    ui.selectable_value(&mut p.arrivals, Arrivals::Uniform, "uniform");
                    ui.selectable_value(&mut p.arrivals, Arrivals::Poisson, "poisson");
                });
            ui.end_row();
            ui.label("Starts at");
            dur_field(ui, buffers, "start", &mut p.start);
            ui.end_row();
            ui.label("Stop after");
            optional_count(ui, &mut p.limit, "events");
            ui.end_row();
            placement(ui, &mut p.account, &mut p.region);
        }
        Node::Bus(b) => {
            ui.label("Rules");
            ui.label(format!("{} (select a rule box to edit it)", b.rules.len()));
            ui.end_row();
            ui.label("Policy: allow");
            let text = buffers.text("policy-allow", || {
                b.policy.as_ref().map(|p| p.allow.join(", ")).unwrap_or_default()
            });
            if ui
                .text_edit_singleline(text)
                .on_hover_text("producers, buses or 12-digit accounts allowed to put events, comma-separated; empty: the bus's own account only")
                .changed()
            {
                let allow: Vec<String> =
                    text.split(',').map(str::trim).filter(|s| !s.is_empty()).map(String::from).collect();
                b.policy = (!allow.is_empty()).then_some(crate::model::BusPolicy { allow });
            }
            ui.end_row();
            placement(ui, &mut b.account, &mut b.region);
        }
        Node::Topic(t) => {
            fifo_rows(ui, &mut t.fifo, &mut t.content_based_deduplication);
            placement(ui, &mut t.account, &mut t.region);
        }
        Node::Queue(q) => {
            fifo_rows(ui, &mut q.fifo, &mut q.content_based_deduplication);
            ui.label("Visibility timeout");
            dur_field(ui, buffers, "visibility", &mut q.visibility_timeout);
            ui.end_row();
            ui.label("Max receives");
            optional_count32(ui, &mut q.max_receives);
            ui.end_row();
            ui.label("Dead-letter queue");
            choose_optional(ui, "dlq", &mut q.dlq, &other_queues(topology, id));
            ui.end_row();
            ui.label("Capacity");
            optional_count(ui, &mut q.capacity, "messages");
            ui.end_row();
            ui.label("Consumers");
            ui.label(if q.consumers.is_empty() { "none".to_string() } else { q.consumers.join(", ") });
            ui.end_row();
            placement(ui, &mut q.account, &mut q.region);
        }
        Node::Consumer(c) => {
            ui.label("Processing time");
            latency_field(ui, buffers, &mut c.latency);
            ui.end_row();
            ui.label("Concurrency");
            ui.add(number(&mut c.concurrency).range(1..=u32::MAX));
            ui.end_row();
            ui.label("Error rate");
            ui.add(egui::Slider::new(&mut c.error_rate, 0.0..=1.0).custom_formatter(|v, _| format!("{:.0} %", v * 100.0)));
            ui.end_row();
            ui.label("Timeout");
            optional_dur(ui, buffers, "timeout", &mut c.timeout);
            ui.end_row();
            placement(ui, &mut c.account, &mut c.region);
        }
        Node::Archive(a) => {
            ui.label("Archives bus");
            choose(ui, "bus", &mut a.bus, &ids_of(topology, &[ItemKind::Bus]));
            ui.end_row();
            ui.label("Retention");
            optional_dur(ui, buffers, "retention", &mut a.retention);
            ui.end_row();
            ui.label("Max events");
            ui.add(number(&mut a.max_events).range(1..=u64::MAX));
            ui.end_row();
            placement(ui, &mut a.account, &mut a.region);
        }
    });
    // Full-width editors below the grid.
    match node {
        Node::Producer(p) => {
            ui.separator();
            ui.strong("Event templates");
            ui.weak("Generators: ${seq}, ${uuid}, ${int:1..9}, {\"$choice\": [..]}, {\"$float\": [a, b]} …");
            let current = serde_json::to_value(&p.events).unwrap_or(Value::Null);
            let validate = |v: &Value| check_templates(topology, id, v);
            if let Some(v) = json_field(ui, buffers, "events", &current, 12, &validate)
                && let Ok(events) = serde_json::from_value::<Vec<EventTemplate>>(v)
            {
                p.events = events;
            }
        }
        Node::Archive(a) => {
            ui.separator();
            let mut filtered = a.pattern.is_some();
            if ui
                .checkbox(&mut filtered, "Archive only events matching a pattern")
                .changed()
            {
                a.pattern = filtered.then(super::connect::match_all_pattern);
            }
            if let Some(pattern) = &a.pattern
                && let Some(v) = json_field(ui, buffers, "pattern", pattern, 6, &check_pattern)
            {
                a.pattern = Some(v);
            }
        }
        _ => {}
    }
}

fn rule_form(
    ui: &mut Ui,
    topology: &Topology,
    bus: &str,
    name: &str,
    rule: &Rule,
    buffers: &mut Buffers,
    out: &mut Vec<Command>,
) {
    let mut edited = rule.clone();
    ui.horizontal(|ui| {
        ui.checkbox(&mut edited.enabled, "Enabled");
        ui.label("Description");
        ui.text_edit_singleline(&mut edited.description);
    });
    ui.separator();
    ui.strong("Event pattern");
    if let Some(v) = json_field(ui, buffers, "pattern", &rule.pattern, 8, &check_pattern) {
        edited.pattern = v;
    }
    ui.separator();
    let samples = buffers.samples("events", || {
        sample_events(topology, bus, 8)
            .into_iter()
            .enumerate()
            .map(|(i, text)| (sample_label(i, &text), text))
            .collect()
    });
    let pattern_text = buffers
        .text("pattern", || editor::pretty(&rule.pattern))
        .clone();
    let rule_name = name.to_string();
    editor::test_box(ui, buffers, "test-event", &samples, &|event| {
        let pattern =
            Pattern::parse(&pattern_text).map_err(|e| format!("the pattern is invalid: {e}"))?;
        let explanation = explain(&pattern, event.as_bytes())
            .map_err(|e| format!("the event is not valid JSON: {e}"))?;
        Ok(TestOutcome {
            matched: explanation.matched,
            text: explanation.to_text(&rule_name),
        })
    });
    ui.separator();
    ui.strong(format!("Targets ({} of 5)", edited.targets.len()));
    let queues = ids_of(topology, &[ItemKind::Queue]);
    let destinations = ids_of(
        topology,
        &[
            ItemKind::Consumer,
            ItemKind::Queue,
            ItemKind::Topic,
            ItemKind::Bus,
        ],
    );
    let mut remove = None;
    for (i, target) in edited.targets.iter_mut().enumerate() {
        egui::CollapsingHeader::new(format!("→ {}", target.to))
            .id_salt(("target", i))
            .default_open(edited_targets_open(i))
            .show(ui, |ui| {
                let check = |edited: &Target| {
                    first_error_under(
                        topology,
                        |t| {
                            if let Some(Node::Bus(b)) = t.nodes.get_mut(bus)
                                && let Some(r) = b.rules.get_mut(name)
                                && let Some(slot) = r.targets.get_mut(i)
                            {
                                *slot = edited.clone();
                            }
                        },
                        &format!("nodes.{bus}.rules.{name}.targets[{i}]"),
                    )
                };
                target_form(ui, buffers, i, target, &destinations, &queues, &check);
                if ui.small_button("🗑 Remove target").clicked() {
                    remove = Some(i);
                }
            });
    }
    if let Some(i) = remove {
        edited.targets.remove(i);
        // Text buffers are per target position: the next target moves into this one's.
        buffers.reset();
    }
    if &edited != rule {
        out.push(Command::SetRule {
            bus: bus.to_string(),
            name: name.to_string(),
            rule: edited,
        });
    }
}

fn edited_targets_open(i: usize) -> bool {
    i == 0
}

fn target_form(
    ui: &mut Ui,
    buffers: &mut Buffers,
    i: usize,
    target: &mut Target,
    destinations: &[String],
    queues: &[String],
    check: &dyn Fn(&Target) -> Result<(), String>,
) {
    egui::Grid::new(("target-grid", i))
        .num_columns(2)
        .show(ui, |ui| {
            ui.label("Delivers to");
            choose(ui, &format!("target-to-{i}"), &mut target.to, destinations);
            ui.end_row();
            ui.label("Retry attempts");
            ui.add(number(&mut target.retry.maximum_retry_attempts).range(0..=185));
            ui.end_row();
            ui.label("Max event age");
            dur_field(
                ui,
                buffers,
                &format!("target-{i}-age"),
                &mut target.retry.maximum_event_age,
            );
            ui.end_row();
            ui.label("Dead-letter queue");
            choose_optional(ui, &format!("target-dlq-{i}"), &mut target.dlq, queues);
            ui.end_row();
        });
    target_input(ui, buffers, i, target, check);
}

/// What a target receives: the whole event, a constant `Input`, an `InputPath`, or an
/// `InputTransformer`; switching clears the others (EventBridge allows one).
fn target_input(
    ui: &mut Ui,
    buffers: &mut Buffers,
    i: usize,
    target: &mut Target,
    check: &dyn Fn(&Target) -> Result<(), String>,
) {
    #[derive(PartialEq, Clone, Copy)]
    enum Mode {
        Event,
        Constant,
        Path,
        Transform,
    }
    let mode = if target.input.is_some() {
        Mode::Constant
    } else if target.input_path.is_some() {
        Mode::Path
    } else if target.input_transformer.is_some() {
        Mode::Transform
    } else {
        Mode::Event
    };
    let label = |m: Mode| match m {
        Mode::Event => "the whole event",
        Mode::Constant => "a constant (Input)",
        Mode::Path => "part of the event (InputPath)",
        Mode::Transform => "a transformation (InputTransformer)",
    };
    let mut chosen = mode;
    ui.horizontal(|ui| {
        ui.label("Receives");
        egui::ComboBox::from_id_salt(("input-mode", i))
            .selected_text(label(mode))
            .show_ui(ui, |ui| {
                for m in [Mode::Event, Mode::Constant, Mode::Path, Mode::Transform] {
                    ui.selectable_value(&mut chosen, m, label(m));
                }
            });
    });
    if chosen != mode {
        target.input = (chosen == Mode::Constant).then(|| serde_json::json!({"hello": "world"}));
        target.input_path = (chosen == Mode::Path).then(|| "$.detail".to_string());
        target.input_transformer = (chosen == Mode::Transform).then(|| InputTransformerConfig {
            input_paths_map: [("id".to_string(), "$.id".to_string())].into(),
            input_template: "{\"event\": <id>}".to_string(),
        });
        buffers.reset();
        return;
    }
    match chosen {
        Mode::Event => {}
        Mode::Constant => {
            let current = target.input.clone().unwrap_or(Value::Null);
            if let Some(v) =
                json_field(ui, buffers, &format!("input-{i}"), &current, 4, &|_| Ok(()))
            {
                target.input = Some(v);
            }
        }
        Mode::Path => {
            let mut path = target.input_path.clone().unwrap_or_default();
            if ui.text_edit_singleline(&mut path).changed() {
                target.input_path = Some(path);
            }
            let what = format!("target-{i}\u{0}{target:?}");
            if let Err(e) = buffers.checked(what, || check(target)) {
                ui.colored_label(ui.visuals().error_fg_color, format!("✘ {e}"));
            }
        }
        Mode::Transform => {
            let Some(transformer) = &mut target.input_transformer else {
                return;
            };
            ui.label("InputPathsMap (variable → JSONPath)");
            let current = serde_json::to_value(&transformer.input_paths_map).unwrap_or(Value::Null);
            let map_ok = |v: &Value| -> Result<(), String> {
                serde_json::from_value::<std::collections::BTreeMap<String, String>>(v.clone())
                    .map(|_| ())
                    .map_err(|_| "an object of variable names to JSONPath strings".to_string())
            };
            if let Some(v) = json_field(ui, buffers, &format!("paths-{i}"), &current, 4, &map_ok)
                && let Ok(map) = serde_json::from_value(v)
            {
                transformer.input_paths_map = map;
            }
            ui.label("InputTemplate");
            let text = buffers.text(&format!("template-{i}"), || {
                transformer.input_template.clone()
            });
            if code_box(ui, text) {
                transformer.input_template = text.clone();
            }
            let what = format!("target-{i}\u{0}{target:?}");
            match buffers.checked(what, || check(target)) {
                Ok(()) => {
                    ui.label(RichText::new("✔ valid").color(editor::ok_color(ui)));
                }
                Err(e) => {
                    ui.colored_label(ui.visuals().error_fg_color, format!("✘ {e}"));
                }
            }
        }
    }
}

/// The first error `compile()` reports under `prefix` once `edit` is applied, if any.
fn first_error_under(
    topology: &Topology,
    edit: impl FnOnce(&mut Topology),
    prefix: &str,
) -> Result<(), String> {
    let mut t = topology.clone();
    edit(&mut t);
    match compile(&t, None) {
        Ok(_) => Ok(()),
        Err(problems) => problems
            .into_iter()
            .find(|p| p.severity == Severity::Error && p.path.starts_with(prefix))
            .map_or(Ok(()), |p| Err(format!("{}: {}", p.path, p.message))),
    }
}

fn subscription_form(
    ui: &mut Ui,
    topology: &Topology,
    topic: &str,
    name: &str,
    sub: &Subscription,
    buffers: &mut Buffers,
    out: &mut Vec<Command>,
) {
    let mut edited = sub.clone();
    egui::Grid::new("sub-form").num_columns(2).show(ui, |ui| {
        ui.label("Delivers to");
        choose(
            ui,
            "sub-to",
            &mut edited.to,
            &ids_of(topology, &[ItemKind::Queue, ItemKind::Consumer]),
        );
        ui.end_row();
        ui.label("Raw delivery");
        ui.checkbox(&mut edited.raw, "message body only, no SNS envelope");
        ui.end_row();
        ui.label("Dead-letter queue");
        choose_optional(
            ui,
            "sub-dlq",
            &mut edited.dlq,
            &ids_of(topology, &[ItemKind::Queue]),
        );
        ui.end_row();
        ui.label("Max retries");
        ui.add(number(&mut edited.max_retries).range(0..=100_015));
        ui.end_row();
        ui.label("Filter scope");
        egui::ComboBox::from_id_salt("scope")
            .selected_text(match edited.filter_policy_scope {
                FilterScope::MessageAttributes => "message attributes",
                FilterScope::MessageBody => "message body",
            })
            .show_ui(ui, |ui| {
                ui.selectable_value(
                    &mut edited.filter_policy_scope,
                    FilterScope::MessageAttributes,
                    "message attributes",
                );
                ui.selectable_value(
                    &mut edited.filter_policy_scope,
                    FilterScope::MessageBody,
                    "message body",
                );
            });
        ui.end_row();
    });
    ui.separator();
    let mut filtered = edited.filter_policy.is_some();
    if ui.checkbox(&mut filtered, "Filter policy").changed() {
        edited.filter_policy = filtered.then(|| serde_json::json!({}));
        buffers.reset();
    }
    let scope = match edited.filter_policy_scope {
        FilterScope::MessageAttributes => Scope::MessageAttributes,
        FilterScope::MessageBody => Scope::MessageBody,
    };
    if let Some(policy) = &sub.filter_policy {
        let validate = move |v: &Value| {
            FilterPolicy::parse(&v.to_string(), scope)
                .map(|_| ())
                .map_err(|e| e.to_string())
        };
        if let Some(v) = json_field(ui, buffers, "policy", policy, 6, &validate) {
            edited.filter_policy = Some(v);
        }
        let samples = buffers.samples(&format!("messages-{scope:?}"), || {
            sample_messages(topology, topic, 8)
                .into_iter()
                .map(|m| {
                    let text = match scope {
                        Scope::MessageBody => m.body,
                        Scope::MessageAttributes => m.attributes,
                    };
                    (m.label, text)
                })
                .collect()
        });
        let policy_text = buffers.text("policy", || editor::pretty(policy)).clone();
        let what = match scope {
            Scope::MessageBody => "message body",
            Scope::MessageAttributes => "message attributes",
        };
        ui.weak(format!("Test against a {what}:"));
        let sub_name = name.to_string();
        editor::test_box(ui, buffers, "test-message", &samples, &|message| {
            let policy = FilterPolicy::parse(&policy_text, scope)
                .map_err(|e| format!("the policy is invalid: {e}"))?;
            let explanation = policy
                .explain(message.as_bytes())
                .map_err(|e| format!("not valid JSON: {e}"))?;
            let matched = policy
                .matches(message.as_bytes())
                .unwrap_or(explanation.matched);
            Ok(TestOutcome {
                matched,
                text: explanation.to_text(&sub_name),
            })
        });
    }
    if &edited != sub {
        out.push(Command::SetSubscription {
            topic: topic.to_string(),
            name: name.to_string(),
            subscription: edited,
        });
    }
}

fn sample_label(i: usize, event: &str) -> String {
    let v: Value = serde_json::from_str(event).unwrap_or(Value::Null);
    let source = v.get("source").and_then(Value::as_str).unwrap_or("?");
    let detail_type = v.get("detail-type").and_then(Value::as_str).unwrap_or("?");
    format!("{}: {source} / {detail_type}", i + 1)
}

/// A pattern's problems, as `path: reason`.
fn check_pattern(value: &Value) -> Result<(), String> {
    Pattern::parse(&value.to_string())
        .map(|_| ())
        .map_err(|e| e.to_string())
}

/// Checks event templates by compiling the design with them in place; the first error
/// under the producer's `events` is reported.
fn check_templates(topology: &Topology, id: &str, value: &Value) -> Result<(), String> {
    let events: Vec<EventTemplate> = serde_json::from_value(value.clone())
        .map_err(|e| format!("not a list of event templates: {e}"))?;
    first_error_under(
        topology,
        |t| {
            if let Some(Node::Producer(p)) = t.nodes.get_mut(id) {
                p.events = events;
            }
        },
        &format!("nodes.{id}.events"),
    )
}

fn ids_of(topology: &Topology, kinds: &[ItemKind]) -> Vec<String> {
    topology
        .nodes
        .iter()
        .filter(|(_, n)| kinds.contains(&ItemKind::of_node(n.kind())))
        .map(|(id, _)| id.clone())
        .collect()
}

fn other_queues(topology: &Topology, id: &str) -> Vec<String> {
    ids_of(topology, &[ItemKind::Queue])
        .into_iter()
        .filter(|q| q != id)
        .collect()
}

fn choose(ui: &mut Ui, salt: &str, value: &mut String, choices: &[String]) {
    let shown = if value.is_empty() {
        "(none)".to_string()
    } else {
        value.clone()
    };
    egui::ComboBox::from_id_salt(salt)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            for c in choices {
                ui.selectable_value(value, c.clone(), c);
            }
        });
}

fn choose_optional(ui: &mut Ui, salt: &str, value: &mut Option<String>, choices: &[String]) {
    let shown = value.clone().unwrap_or_else(|| "(none)".into());
    egui::ComboBox::from_id_salt(salt)
        .selected_text(shown)
        .show_ui(ui, |ui| {
            ui.selectable_value(value, None, "(none)");
            for c in choices {
                ui.selectable_value(value, Some(c.clone()), c);
            }
        });
}

/// A number field that never changes a value just by showing it (egui's default clamps
/// the current value into the range every frame, which would edit a design merely
/// because it was selected); the range applies to what the person drags or types.
fn number<N: egui::emath::Numeric>(value: &mut N) -> DragValue<'_> {
    DragValue::new(value).clamp_existing_to_range(false)
}

/// A three-line monospace text box as wide as the panel; true when edited.
fn code_box(ui: &mut Ui, text: &mut String) -> bool {
    ui.add(
        egui::TextEdit::multiline(text)
            .code_editor()
            .desired_rows(3)
            .desired_width(f32::INFINITY),
    )
    .changed()
}

/// The FIFO settings topics and queues share.
fn fifo_rows(ui: &mut Ui, fifo: &mut bool, content_based_deduplication: &mut bool) {
    ui.label("FIFO");
    ui.checkbox(fifo, "keep order per message group");
    ui.end_row();
    ui.label("Deduplication");
    ui.checkbox(content_based_deduplication, "content-based");
    ui.end_row();
}

fn placement(ui: &mut Ui, account: &mut Option<String>, region: &mut Option<String>) {
    for (label, value, default) in [
        ("Account", account, crate::model::DEFAULT_ACCOUNT),
        ("Region", region, crate::model::DEFAULT_REGION),
    ] {
        ui.label(label);
        let mut text = value.clone().unwrap_or_default();
        if ui
            .add(egui::TextEdit::singleline(&mut text).hint_text(default))
            .changed()
        {
            *value = (!text.trim().is_empty()).then(|| text.trim().to_string());
        }
        ui.end_row();
    }
}

/// A duration typed as text (`250ms`, `5s`); invalid text stays in the box, marked.
fn dur_field(ui: &mut Ui, buffers: &mut Buffers, field: &str, value: &mut Dur) {
    let text = buffers.text(field, || value.to_string());
    let response = ui.add(egui::TextEdit::singleline(text).desired_width(90.0));
    match Dur::parse(text) {
        Ok(d) => {
            if response.changed() {
                *value = d;
            }
        }
        Err(e) => {
            response.on_hover_text(e.clone());
            ui.colored_label(ui.visuals().error_fg_color, "✘");
        }
    }
}

fn optional_dur(ui: &mut Ui, buffers: &mut Buffers, field: &str, value: &mut Option<Dur>) {
    ui.horizontal(|ui| {
        let mut on = value.is_some();
        if ui.checkbox(&mut on, "").changed() {
            *value = on.then(|| Dur::parse("30s").unwrap_or_default());
        }
        if let Some(d) = value {
            dur_field(ui, buffers, field, d);
        }
    });
}

fn optional_count(ui: &mut Ui, value: &mut Option<u64>, unit: &str) {
    ui.horizontal(|ui| {
        let mut on = value.is_some();
        if ui.checkbox(&mut on, "").changed() {
            *value = on.then_some(1000);
        }
        if let Some(n) = value {
            ui.add(number(n).range(1..=u64::MAX));
            ui.label(unit);
        }
    });
}

fn optional_count32(ui: &mut Ui, value: &mut Option<u32>) {
    ui.horizontal(|ui| {
        let mut on = value.is_some();
        if ui.checkbox(&mut on, "").changed() {
            *value = on.then_some(5);
        }
        if let Some(n) = value {
            ui.add(number(n).range(1..=1000));
        }
    });
}

fn latency_field(ui: &mut Ui, buffers: &mut Buffers, latency: &mut Latency) {
    ui.vertical(|ui| {
        let kind = match latency {
            Latency::Fixed(_) => "fixed",
            Latency::Uniform(_) => "uniform",
            Latency::Exponential(_) => "exponential",
            Latency::Lognormal { .. } => "log-normal",
        };
        let ms = |n| Dur::parse(&format!("{n}ms")).unwrap_or_default();
        egui::ComboBox::from_id_salt("latency-kind")
            .selected_text(kind)
            .show_ui(ui, |ui| {
                let mut pick = |label: &str, make: Latency| {
                    if ui.selectable_label(kind == label, label).clicked() && kind != label {
                        *latency = make;
                    }
                };
                pick("fixed", Latency::Fixed(ms(10)));
                pick("uniform", Latency::Uniform([ms(5), ms(50)]));
                pick("exponential", Latency::Exponential(ms(20)));
                pick(
                    "log-normal",
                    Latency::Lognormal {
                        median: ms(20),
                        p99: ms(200),
                    },
                );
            });
        if kind_changed(buffers, kind) {
            buffers.reset();
        }
        ui.horizontal(|ui| match latency {
            Latency::Fixed(d) | Latency::Exponential(d) => dur_field(ui, buffers, "latency-a", d),
            Latency::Uniform([a, b]) => {
                dur_field(ui, buffers, "latency-a", a);
                ui.label("to");
                dur_field(ui, buffers, "latency-b", b);
            }
            Latency::Lognormal { median, p99 } => {
                ui.label("median");
                dur_field(ui, buffers, "latency-a", median);
                ui.label("p99");
                dur_field(ui, buffers, "latency-b", p99);
            }
        });
    });
}

/// Whether the latency kind differs from the one the buffers were made for.
fn kind_changed(buffers: &mut Buffers, kind: &str) -> bool {
    let seen = buffers.text("latency-kind", || kind.to_string());
    if seen != kind {
        *seen = kind.to_string();
        return true;
    }
    false
}
