//! The designer, driven like a person would: egui_kittest clicks by label and role,
//! types, drags, and looks at snapshots; plus the real binary under Xvfb.
//!
//! One file on purpose: every file in `tests/` links its own large binary.
#![cfg(feature = "gui")]

use std::path::{Path, PathBuf};

use egui::accesskit::Role;
use egui::{Key, Modifiers, Pos2, vec2};
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable as _;
use eventyard::app::scene::ItemKey;
use eventyard::app::{EventyardApp, Options};
use eventyard::model::{Node, Topology};

/// Tests that start their own virtual X server take turns: `xvfb-run -a` picks a free
/// display number, and two picking at once can collide.
static XVFB: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// The X-server tests' turn, when `tools` are installed. Without them the test fails,
/// unless `EVENTYARD_SKIP_XVFB` is set (then it is skipped: `None`).
fn x_server_turn(tools: &[&str]) -> Option<std::sync::MutexGuard<'static, ()>> {
    let missing: Vec<&str> = tools
        .iter()
        .copied()
        .filter(|tool| {
            std::process::Command::new(tool)
                .arg("--help")
                .output()
                .is_err()
        })
        .collect();
    if !missing.is_empty() {
        assert!(
            std::env::var_os("EVENTYARD_SKIP_XVFB").is_some(),
            "{missing:?} missing: scripts/test.sh installs them, or set EVENTYARD_SKIP_XVFB=1"
        );
        return None;
    }
    Some(XVFB.lock().unwrap_or_else(|e| e.into_inner()))
}

fn temp_dir(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("eventyard-ui-{name}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir
}

fn app_in(data_dir: &Path, file: Option<PathBuf>) -> EventyardApp {
    EventyardApp::new(Options {
        file,
        screenshot: None,
        data_dir: Some(data_dir.to_path_buf()),
        light: false,
        select: None,
    })
}

fn harness<'a>(app: EventyardApp) -> Harness<'a, EventyardApp> {
    let mut h = Harness::builder()
        .with_size(vec2(1440.0, 880.0))
        .build_ui_state(|ui, app: &mut EventyardApp| app.frame(ui), app);
    h.run_steps(3);
    h
}

fn node_count(h: &Harness<'_, EventyardApp>) -> usize {
    h.state().document().topology().nodes.len()
}

/// Drags with the primary button from `from` to `to` in small steps.
fn drag(h: &mut Harness<'_, EventyardApp>, from: Pos2, to: Pos2) {
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    for k in 1..=4 {
        let t = k as f32 / 4.0;
        h.hover_at(from + (to - from) * t);
        h.step();
    }
    h.drop_at(to);
    h.run_steps(2);
}

/// The app on the bundled e-commerce example, with its own data directory.
fn started<'a>(name: &str) -> Harness<'a, EventyardApp> {
    harness(app_in(&temp_dir(name), None))
}

/// Whether the document has a node with this id.
fn has_node(h: &Harness<'_, EventyardApp>, id: &str) -> bool {
    h.state().document().topology().nodes.contains_key(id)
}

/// The e-commerce example's `orders` bus as the document now has it.
fn orders_bus(h: &Harness<'_, EventyardApp>) -> eventyard::model::Bus {
    match h.state().document().topology().nodes.get("orders") {
        Some(Node::Bus(bus)) => bus.clone(),
        other => panic!("orders is a bus, not {other:?}"),
    }
}

/// Where an arrow from `from` starts (its handle) and where the box `to` is, on screen.
fn arrow_ends(h: &Harness<'_, EventyardApp>, from: &str, to: &str) -> (Pos2, Pos2) {
    let state = h.state();
    let start = state
        .port_pos(&ItemKey::node(from))
        .expect("start box on the canvas");
    let end = state
        .screen_pos(&ItemKey::node(to))
        .expect("end box on the canvas");
    (start, end)
}

/// Adds a consumer from the palette; returns the ends of an arrow from `orders` to it.
fn add_consumer_and_find_ends(h: &mut Harness<'_, EventyardApp>) -> (Pos2, Pos2) {
    h.get_by_label_contains("  Consumer").click();
    h.run_steps(2);
    arrow_ends(h, "orders", "consumer")
}

/// Fits the design to the view (F), then clicks the box with this label.
fn click_canvas_item(h: &mut Harness<'_, EventyardApp>, label: &str) {
    h.key_press(Key::F);
    h.run_steps(2);
    h.get_by_label(label).click();
    h.run_steps(2);
}

#[test]
fn every_kind_can_be_added_from_the_palette() {
    let mut h = started("add");
    let before = node_count(&h);
    for label in [
        "Producer",
        "Event bus",
        "Topic",
        "Queue",
        "Consumer",
        "Archive",
    ] {
        h.get_by_label_contains(&format!("  {label}")).click();
        h.run_steps(2);
    }
    assert_eq!(node_count(&h), before + 6);
    // A rule needs a bus: select one, then add.
    click_canvas_item(&mut h, "event bus orders");
    h.get_by_label_contains("  Rule").click();
    h.run_steps(2);
    let bus = orders_bus(&h);
    assert!(bus.rules.contains_key("rule"), "{:?}", bus.rules.keys());
    click_canvas_item(&mut h, "topic notifications");
    h.get_by_label_contains("  Subscription").click();
    h.run_steps(2);
    let Some(Node::Topic(topic)) = h.state().document().topology().nodes.get("notifications")
    else {
        panic!("notifications is a topic")
    };
    assert!(topic.subscriptions.contains_key("subscription"));
    // The new items are on the canvas, each reachable by its label.
    h.get_by_label("consumer consumer");
    h.get_by_label("rule orders/rule");
}

#[test]
fn a_rule_without_a_selected_bus_is_refused_with_a_reason() {
    let mut h = started("rule-refused");
    h.get_by_label_contains("  Rule").click();
    h.run_steps(2);
    assert!(
        h.state().status().contains("Select a bus first"),
        "{}",
        h.state().status()
    );
}

#[test]
fn dragging_from_a_bus_to_a_consumer_makes_a_rule() {
    let mut h = started("connect");
    let (from, to) = add_consumer_and_find_ends(&mut h);
    drag(&mut h, from, to);
    let bus = orders_bus(&h);
    let rule = bus
        .rules
        .get("to-consumer")
        .expect("a new rule to the consumer");
    assert_eq!(rule.targets[0].to, "consumer");
    assert!(
        rule.enabled,
        "a new rule is enabled, as in a file that does not say"
    );
}

#[test]
fn undo_in_the_middle_of_a_connection_drag_is_safe() {
    let mut h = started("undo-drag");
    let (from, to) = add_consumer_and_find_ends(&mut h);
    h.hover_at(from);
    h.step();
    h.drag_at(from);
    h.step();
    h.hover_at(from + (to - from) * 0.5);
    h.step();
    // The consumer disappears while the arrow is being dragged.
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.hover_at(to);
    h.step();
    h.drop_at(to);
    h.run_steps(2);
    assert!(!has_node(&h, "consumer"));
}

#[test]
fn arrow_keys_nudge_the_selection() {
    let mut h = started("nudge");
    click_canvas_item(&mut h, "consumer billing");
    let before = h.state().document().topology().layout["billing"];
    h.key_press(Key::ArrowRight);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::SHIFT, Key::ArrowDown);
    h.run_steps(2);
    let after = h.state().document().topology().layout["billing"];
    assert_eq!((after.x - before.x, after.y - before.y), (10.0, 50.0));
}

#[test]
fn copy_paste_and_duplicate_add_renamed_nodes() {
    let mut h = started("paste");
    click_canvas_item(&mut h, "consumer billing");
    h.key_press_modifiers(Modifiers::COMMAND, Key::D);
    h.run_steps(2);
    let nodes = &h.state().document().topology().nodes;
    assert!(nodes.contains_key("billing-copy"), "{:?}", nodes.keys());
    assert!(
        h.state()
            .canvas()
            .selection
            .contains(&ItemKey::node("billing-copy"))
    );
    h.key_press_modifiers(Modifiers::COMMAND, Key::C);
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::V);
    h.run_steps(2);
    assert!(has_node(&h, "billing-copy-copy"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert!(!has_node(&h, "billing-copy-copy"));
}

#[test]
fn selecting_items_changes_nothing() {
    let mut h = started("select");
    for label in [
        "subscription notifications/email",
        "subscription notifications/sms-gold",
        "rule orders/to-billing",
        "consumer billing",
        "queue warehouse-queue",
        "producer web",
        "archive all-orders",
        "event bus orders",
        "topic notifications",
    ] {
        click_canvas_item(&mut h, label);
        h.run_steps(2);
        assert!(
            !h.state().document().is_modified(),
            "selecting {label} edited the design"
        );
        assert!(h.state().document().undo_label().is_none(), "{label}");
    }
}

#[test]
fn a_connection_the_model_forbids_is_refused_and_changes_nothing() {
    let mut h = started("refuse");
    let before = h.state().document().topology().clone();
    let (from, to) = arrow_ends(&h, "billing", "orders");
    drag(&mut h, from, to);
    assert_eq!(h.state().document().topology(), &before);
    let hint = h.state().canvas().hint.clone().unwrap_or_default();
    assert!(hint.contains("end point"), "{hint}");
    h.get_by_label_contains("end point");
}

#[test]
fn an_invalid_pattern_shows_its_error_at_its_path() {
    let mut h = started("pattern");
    click_canvas_item(&mut h, "rule orders/to-billing");
    h.get_by_label_contains("Event pattern");
    // The test-event box judges a sample from the upstream producers.
    assert!(
        h.query_by_label_contains("✔ match").is_some()
            || h.query_by_label_contains("✘ no match").is_some()
    );
    let editor = h
        .get_all_by_role(Role::MultilineTextInput)
        .next()
        .expect("pattern editor");
    editor.focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.run_steps(1);
    h.get_all_by_role(Role::MultilineTextInput)
        .next()
        .expect("pattern editor")
        .type_text(r#"{"detail": {"total": [{"numeric": [">", "x"]}]}}"#);
    h.run_steps(3);
    h.get_by_label_contains("✘ detail.total");
    // Not valid JSON: the error names line and column, and the document keeps the last pattern.
    h.get_all_by_role(Role::MultilineTextInput)
        .next()
        .expect("pattern editor")
        .type_text("{");
    h.run_steps(3);
    h.get_by_label_contains("not valid JSON — line");
    let bus = orders_bus(&h);
    assert_eq!(
        bus.rules["to-billing"].pattern,
        serde_json::json!({"detail": {"total": [{"numeric": [">", "x"]}]}}),
        "the document keeps the last text that was JSON"
    );
}

#[test]
fn undo_and_redo_walk_back_and_forth() {
    let mut h = started("undo");
    let original = h.state().document().topology().clone();
    h.get_by_label_contains("  Queue").click();
    h.run_steps(2);
    let added = h.state().document().topology().clone();
    assert_ne!(added, original);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().document().topology(), &original);
    h.key_press_modifiers(Modifiers::COMMAND | Modifiers::SHIFT, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().document().topology(), &added);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    h.key_press_modifiers(Modifiers::COMMAND, Key::Y);
    h.run_steps(2);
    assert_eq!(h.state().document().topology(), &added);
    // Deleting is undoable too.
    click_canvas_item(&mut h, "consumer billing");
    h.key_press(Key::Delete);
    h.run_steps(2);
    assert!(!has_node(&h, "billing"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().document().topology(), &added);
}

#[test]
fn save_then_reopen_gives_the_same_design() {
    let data = temp_dir("save");
    let file = data.join("shop.json");
    let mut h = harness(app_in(&data, None));
    h.get_by_label_contains("  Consumer").click();
    h.run_steps(2);
    // Save through the menu's path field (the way a machine without dialogs saves).
    h.get_by_label("File").click();
    h.run_steps(2);
    h.get_by_label("Save to path…").click();
    h.run_steps(2);
    h.get_by_label("Path").focus();
    h.run_steps(1);
    h.key_press_modifiers(Modifiers::COMMAND, Key::A);
    h.get_by_label("Path")
        .type_text(&file.display().to_string());
    h.run_steps(2);
    h.get_by_label("Save").click();
    h.run_steps(3);
    assert!(
        !h.state().document().is_modified(),
        "{}",
        h.state().status()
    );
    let saved = h.state().document().topology().clone();
    let reopened = harness(app_in(&data, Some(file.clone())));
    assert_eq!(reopened.state().document().topology(), &saved);
    assert!(!reopened.state().document().is_modified());
    assert_eq!(
        Topology::from_json(&std::fs::read_to_string(&file).expect("file")).expect("valid"),
        saved
    );
}

#[test]
fn opening_a_malformed_file_shows_where_and_changes_nothing() {
    let data = temp_dir("malformed");
    let bad = data.join("bad.json");
    std::fs::write(
        &bad,
        "{\n  \"eventyard\": 1,\n  \"nodes\": {\n    \"x\": {\"kind\": \"bus\",}\n  }\n}\n",
    )
    .expect("writes");
    let newer = data.join("newer.json");
    std::fs::write(&newer, r#"{"eventyard": 99, "nodes": {}}"#).expect("writes");
    let mut h = harness(app_in(&data, None));
    let before = h.state().document().topology().clone();
    assert!(!h.state_mut().open(&bad));
    h.run_steps(2);
    h.get_by_label_contains("bad.json: line 4, column");
    h.get_by_label("OK").click();
    h.run_steps(2);
    assert!(!h.state_mut().open(&newer));
    h.run_steps(2);
    h.get_by_label_contains("newer");
    assert_eq!(h.state().document().topology(), &before);
}

#[test]
fn an_autosave_left_by_a_killed_run_is_offered_and_restored() {
    let data = temp_dir("restore");
    let mut h = harness(app_in(&data, None));
    h.get_by_label_contains("  Topic").click();
    h.run_steps(2);
    let edited = h.state().document().topology().clone();
    // Autosave writes a couple of seconds after a change.
    std::thread::sleep(
        eventyard::app::files::AUTOSAVE_DELAY + std::time::Duration::from_millis(200),
    );
    h.run_steps(2);
    let own = data.join(format!("autosave-{}.json", std::process::id()));
    assert!(own.exists(), "autosave written");
    // The process "dies" (kill -9 leaves the file behind under a pid that no longer runs).
    drop(h);
    std::fs::rename(&own, data.join("autosave-4000000000.json")).expect("renames");
    let mut h = harness(app_in(&data, None));
    h.get_by_label_contains("Restore unsaved changes?");
    h.get_by_label("Restore").click();
    h.run_steps(2);
    assert_eq!(h.state().document().topology(), &edited);
    assert!(h.state().document().is_modified());
    assert!(!data.join("autosave-4000000000.json").exists());
}

#[test]
fn clicking_a_problem_selects_its_node() {
    let data = temp_dir("problems");
    let file = data.join("broken.json");
    std::fs::write(
        &file,
        r#"{"eventyard": 1, "nodes": {"p": {"kind": "producer", "to": "nowhere", "rate": 1}, "q": {"kind": "queue"}}}"#,
    )
    .expect("writes");
    let mut h = harness(app_in(&data, Some(file)));
    assert!(!h.state().problems().is_empty());
    h.get_by_label_contains("nodes.p.to").click();
    h.run_steps(2);
    assert!(h.state().canvas().selection.contains(&ItemKey::node("p")));
}

#[test]
fn an_idle_window_asks_for_no_more_frames() {
    let mut h = started("idle");
    // `try_run` fails when every frame asks for another: a busy loop burning CPU.
    assert!(h.try_run().is_ok(), "the idle designer keeps repainting");
    h.hover_at(
        h.state()
            .screen_pos(&ItemKey::node("orders"))
            .expect("orders"),
    );
    assert!(h.try_run().is_ok(), "hovering a box keeps repainting");
}

#[test]
fn hovering_a_rule_summarises_its_pattern() {
    let mut h = started("hover");
    let rule = h
        .state()
        .screen_pos(&ItemKey::nested("orders", "to-billing"))
        .expect("rule on canvas");
    h.hover_at(rule);
    h.run_steps(3);
    h.get_by_label_contains("Pattern: {");
    h.get_by_label_contains("Targets: billing");
}

#[test]
fn scenarios_are_edited_in_the_design_panel() {
    let mut h = started("scenario");
    let before = h.state().document().topology().scenarios.len();
    h.get_by_label("➕ Add scenario").click();
    h.run_steps(2);
    let scenarios = &h.state().document().topology().scenarios;
    assert_eq!(scenarios.len(), before + 1);
    assert!(scenarios.contains_key("drill"));
    h.key_press_modifiers(Modifiers::COMMAND, Key::Z);
    h.run_steps(2);
    assert_eq!(h.state().document().topology().scenarios.len(), before);
}

#[test]
fn a_rule_target_can_receive_a_transformation() {
    let mut h = started("transform");
    // A tall window, so the target's settings below the pattern and test boxes are shown.
    h.set_size(vec2(1440.0, 2400.0));
    h.run_steps(2);
    click_canvas_item(&mut h, "rule orders/to-billing");
    h.get_by_value("the whole event").click();
    h.run_steps(2);
    h.get_by_label("a transformation (InputTransformer)")
        .click();
    h.run_steps(3);
    let bus = orders_bus(&h);
    let target = &bus.rules["to-billing"].targets[0];
    assert!(target.input_transformer.is_some(), "{target:?}");
    h.get_by_label_contains("InputTemplate");
}

#[test]
fn the_help_overlay_lists_the_shortcuts() {
    let mut h = started("help");
    h.key_press(Key::F1);
    h.run_steps(2);
    h.get_by_label("Keyboard shortcuts");
    h.get_by_label("Ctrl+Shift+Z / Ctrl+Y");
}

#[test]
fn every_example_opens_from_the_menu() {
    let data = temp_dir("examples");
    let mut h = harness(app_in(&data, None));
    for (_, title, text) in eventyard::app::EXAMPLES {
        h.get_by_label("File").click();
        h.run_steps(2);
        h.get_by_label_contains("Examples").hover();
        h.run_steps(2);
        h.get_by_label(title).click();
        h.run_steps(2);
        let want = Topology::from_json(text).expect("example loads");
        assert_eq!(h.state().document().topology().nodes, want.nodes, "{title}");
        // The canvas shows the new design, not the previous one.
        for id in want.nodes.keys() {
            assert!(
                h.state().screen_pos(&ItemKey::node(id)).is_some(),
                "{title}: {id} drawn"
            );
        }
    }
}

fn snapshot_of_the_ecommerce_canvas(light: bool, name: &str) {
    let data = temp_dir(name);
    let app = EventyardApp::new(Options {
        file: None,
        screenshot: None,
        data_dir: Some(data),
        light,
        select: None,
    });
    let mut h = harness(app);
    h.run_steps(2);
    h.snapshot(name);
}

#[test]
fn snapshot_of_the_ecommerce_canvas_dark() {
    snapshot_of_the_ecommerce_canvas(false, "ecommerce_dark");
}

#[test]
fn snapshot_of_the_ecommerce_canvas_light() {
    snapshot_of_the_ecommerce_canvas(true, "ecommerce_light");
}

/// The real binary, in a real (virtual) X window, takes its own screenshot.
#[test]
fn the_binary_renders_a_screenshot_under_xvfb() {
    let Some(_turn) = x_server_turn(&["xvfb-run"]) else {
        return;
    };
    let dir = temp_dir("xvfb");
    let out = dir.join("shot.png");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ecommerce.json");
    let status = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24"])
        .arg(env!("CARGO_BIN_EXE_eventyard"))
        .arg("--screenshot")
        .arg(&out)
        .arg(&example)
        .env("EVENTYARD_DATA_DIR", &dir)
        .env_remove("WAYLAND_DISPLAY")
        .status()
        .expect("runs");
    assert!(status.success(), "{status}");
    let image = image::open(&out).expect("a PNG").to_rgba8();
    assert_eq!((image.width(), image.height()), (1440, 880));
    // Not blank: many colours, and the bus's purple and the producers' green are there.
    let mut colours = std::collections::BTreeSet::new();
    let (mut purple, mut green) = (0, 0);
    for p in image.pixels() {
        let [r, g, b, _] = p.0;
        colours.insert((r, g, b));
        if r > 130 && b > 200 && g < 150 {
            purple += 1;
        }
        if g > 170 && r < 110 && b < 160 {
            green += 1;
        }
    }
    assert!(colours.len() > 500, "{} colours", colours.len());
    assert!(purple > 50 && green > 50, "purple {purple}, green {green}");
}

/// The real binary, killed with SIGKILL after an edit, leaves an autosave that the next
/// start offers: a click on the palette's Queue button (xdotool), a wait for the autosave,
/// `kill -9`, then the library's scan of the data directory finds the edit.
#[test]
fn a_killed_binary_leaves_a_restorable_autosave() {
    let Some(_turn) = x_server_turn(&["xvfb-run", "xdotool"]) else {
        return;
    };
    let dir = temp_dir("kill");
    let example = Path::new(env!("CARGO_MANIFEST_DIR")).join("examples/ecommerce.json");
    let script = r#"
        "$EVENTYARD_BIN" "$EVENTYARD_EXAMPLE" & pid=$!
        sleep 4
        xdotool mousemove 120 200 click 1
        sleep 4
        kill -9 "$pid"
        wait "$pid" 2>/dev/null
        exit 0
    "#;
    let status = std::process::Command::new("xvfb-run")
        .args(["-a", "-s", "-screen 0 1600x1000x24", "bash", "-c", script])
        .env("EVENTYARD_BIN", env!("CARGO_BIN_EXE_eventyard"))
        .env("EVENTYARD_EXAMPLE", &example)
        .env("EVENTYARD_DATA_DIR", &dir)
        .env_remove("WAYLAND_DISPLAY")
        .status()
        .expect("runs");
    assert!(status.success(), "{status}");
    let found = eventyard::app::files::leftover_autosaves(&dir);
    assert_eq!(
        found.len(),
        1,
        "one autosave left behind in {}",
        dir.display()
    );
    let restored = &found[0].topology;
    let original =
        Topology::from_json(&std::fs::read_to_string(&example).expect("example")).expect("loads");
    assert!(!original.nodes.contains_key("queue"));
    assert!(
        restored.nodes.contains_key("queue"),
        "the added queue survived the kill"
    );
    assert_eq!(found[0].file.as_deref(), Some(example.as_path()));
}
