//! JSON editing in the inspector: syntax colouring, live validation with the error at
//! its place, and the "test event" box that says match / no match with the explanation.

use std::collections::HashMap;
use std::sync::Arc;

use egui::text::{LayoutJob, TextFormat};
use egui::{Color32, RichText, TextEdit, Ui};
use serde_json::Value;

use super::pattern_help::{TokenKind, json_tokens};

/// Text being typed into the inspector's fields, kept across frames so that half-typed
/// (invalid) text is never lost or overwritten by the document's last valid value.
#[derive(Default)]
pub struct Buffers {
    owner: String,
    texts: HashMap<String, String>,
    samples: HashMap<String, Vec<(String, String)>>,
    /// Results of checks that compile the whole design, by what was checked; valid for
    /// one document state (`generation`).
    checks: HashMap<String, Result<(), String>>,
    generation: u64,
}

impl Buffers {
    /// Starts a fresh set of buffers when the inspected thing changes.
    pub fn inspect(&mut self, owner: &str) {
        if self.owner != owner {
            self.owner = owner.to_string();
            self.texts.clear();
            self.samples.clear();
            self.checks.clear();
        }
    }

    /// Sample events for a test box, computed once per inspected item (rendering
    /// samples compiles the upstream rules: too slow for every frame).
    pub fn samples(
        &mut self,
        field: &str,
        compute: impl FnOnce() -> Vec<(String, String)>,
    ) -> Vec<(String, String)> {
        self.samples
            .entry(field.to_string())
            .or_insert_with(compute)
            .clone()
    }

    /// Forgets every buffer (after undo/redo the document's values are shown again).
    pub fn reset(&mut self) {
        self.texts.clear();
        self.checks.clear();
    }

    /// Tells the buffers which document state is shown; remembered checks are dropped
    /// when it changes.
    pub fn set_generation(&mut self, state: u64) {
        if self.generation != state {
            self.generation = state;
            self.checks.clear();
        }
    }

    /// The result of `check` for `what` (a key naming the field and its content),
    /// computed once per document state: checks that compile the whole design would
    /// otherwise run on every frame while a field is shown.
    pub fn checked(
        &mut self,
        what: String,
        check: impl FnOnce() -> Result<(), String>,
    ) -> Result<(), String> {
        self.checks.entry(what).or_insert_with(check).clone()
    }

    /// The buffer for `field`, starting from `initial`.
    pub fn text(&mut self, field: &str, initial: impl FnOnce() -> String) -> &mut String {
        self.texts.entry(field.to_string()).or_insert_with(initial)
    }
}

/// Colours for JSON tokens in the current theme.
fn token_color(kind: TokenKind, dark: bool) -> Color32 {
    match (kind, dark) {
        (TokenKind::Key, true) => Color32::from_rgb(130, 190, 255),
        (TokenKind::Key, false) => Color32::from_rgb(0, 80, 170),
        (TokenKind::String, true) => Color32::from_rgb(160, 220, 130),
        (TokenKind::String, false) => Color32::from_rgb(30, 120, 30),
        (TokenKind::Number, true) => Color32::from_rgb(240, 180, 100),
        (TokenKind::Number, false) => Color32::from_rgb(170, 85, 0),
        (TokenKind::Literal, true) => Color32::from_rgb(220, 140, 230),
        (TokenKind::Literal, false) => Color32::from_rgb(140, 40, 160),
        (TokenKind::Invalid, _) => Color32::from_rgb(230, 70, 70),
        (TokenKind::Punctuation | TokenKind::Whitespace, true) => Color32::from_gray(190),
        (TokenKind::Punctuation | TokenKind::Whitespace, false) => Color32::from_gray(70),
    }
}

/// A layout job colouring JSON `text` (the job's text is exactly `text`).
pub fn highlight(ui: &Ui, text: &str) -> LayoutJob {
    let font = egui::TextStyle::Monospace.resolve(ui.style());
    let dark = ui.visuals().dark_mode;
    let mut job = LayoutJob::default();
    for (range, kind) in json_tokens(text) {
        job.append(
            &text[range],
            0.0,
            TextFormat::simple(font.clone(), token_color(kind, dark)),
        );
    }
    job
}

/// A multi-line JSON editor with colouring; returns whether the text changed.
pub fn json_text_edit(ui: &mut Ui, id: &str, text: &mut String, rows: usize) -> bool {
    let mut layouter =
        |ui: &Ui, buf: &dyn egui::TextBuffer, wrap_width: f32| -> Arc<egui::Galley> {
            let mut job = highlight(ui, buf.as_str());
            job.wrap.max_width = wrap_width;
            ui.fonts_mut(|f| f.layout_job(job))
        };
    ui.add(
        TextEdit::multiline(text)
            .id_salt(id)
            .code_editor()
            .desired_rows(rows)
            .desired_width(f32::INFINITY)
            .layouter(&mut layouter),
    )
    .changed()
}

/// Where a JSON syntax error is, as `line L, column C: message`.
pub fn json_error(text: &str) -> Option<String> {
    serde_json::from_str::<Value>(text)
        .err()
        .map(|e| format!("line {}, column {}: {e}", e.line(), e.column()))
}

/// An editor for a JSON value with live validation.
///
/// Returns the new value when the text parses as JSON and differs from `current`
/// (also when `validate` rejects it: the problems list then shows it, and nothing the
/// person typed is lost). The error, if any, is shown under the editor at its place.
pub fn json_field(
    ui: &mut Ui,
    buffers: &mut Buffers,
    field: &str,
    current: &Value,
    rows: usize,
    validate: &dyn Fn(&Value) -> Result<(), String>,
) -> Option<Value> {
    let text = buffers.text(field, || pretty(current));
    json_text_edit(ui, field, text, rows);
    let text = text.clone();
    let parsed = serde_json::from_str::<Value>(&text);
    match &parsed {
        Err(e) => {
            ui.label(
                RichText::new(format!(
                    "✘ not valid JSON — line {}, column {}: {e}",
                    e.line(),
                    e.column()
                ))
                .color(ui.visuals().error_fg_color),
            );
        }
        Ok(value) => match buffers.checked(format!("{field}\u{0}{text}"), || validate(value)) {
            Ok(()) => {
                ui.label(RichText::new("✔ valid").color(ok_color(ui)));
            }
            Err(message) => {
                ui.label(RichText::new(format!("✘ {message}")).color(ui.visuals().error_fg_color));
            }
        },
    }
    parsed.ok().filter(|v| v != current)
}

/// Pretty JSON with two-space indents (the inspector's starting text).
pub fn pretty(value: &Value) -> String {
    serde_json::to_string_pretty(value).unwrap_or_else(|_| value.to_string())
}

/// The green used for "valid" and "match".
pub fn ok_color(ui: &Ui) -> Color32 {
    if ui.visuals().dark_mode {
        Color32::from_rgb(90, 210, 120)
    } else {
        Color32::from_rgb(20, 130, 50)
    }
}

/// The outcome of testing one event against a pattern or policy.
pub struct TestOutcome {
    /// Whether it matched.
    pub matched: bool,
    /// The explanation, field by field.
    pub text: String,
}

/// The "test event" box: an event (or message) to try, filled from `samples`, and the
/// verdict with its explanation. `test` returns `Err` for an invalid pattern or event.
pub fn test_box(
    ui: &mut Ui,
    buffers: &mut Buffers,
    field: &str,
    samples: &[(String, String)],
    test: &dyn Fn(&str) -> Result<TestOutcome, String>,
) {
    ui.horizontal(|ui| {
        ui.strong("Test event");
        if samples.is_empty() {
            ui.weak("(no upstream producer templates to sample)");
        }
        let mut pick = None;
        egui::ComboBox::from_id_salt(format!("{field}-samples"))
            .selected_text("Sample…")
            .show_ui(ui, |ui| {
                for (i, (label, _)) in samples.iter().enumerate() {
                    if ui.selectable_label(false, label).clicked() {
                        pick = Some(i);
                    }
                }
            });
        if let Some(i) = pick {
            *buffers.text(field, String::new) = samples[i].1.clone();
        }
    });
    let text = buffers.text(field, || {
        samples.first().map(|s| s.1.clone()).unwrap_or_default()
    });
    json_text_edit(ui, field, text, 8);
    let text = text.clone();
    if text.trim().is_empty() {
        ui.weak("Paste or pick an event to see whether it matches.");
        return;
    }
    match test(&text) {
        Ok(outcome) => {
            let (word, color) = if outcome.matched {
                ("✔ match", ok_color(ui))
            } else {
                ("✘ no match", ui.visuals().warn_fg_color)
            };
            ui.label(RichText::new(word).strong().color(color));
            ui.add(egui::Label::new(RichText::new(outcome.text).monospace().small()).wrap());
        }
        Err(e) => {
            ui.label(RichText::new(format!("✘ {e}")).color(ui.visuals().error_fg_color));
        }
    }
}
