//! The window: menus, palette, problems list, canvas, inspector, status bar, dialogs,
//! shortcuts, files, autosave and the `--screenshot` mode.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::mpsc::{Receiver, channel};
use std::time::Instant;

use egui::{Key, KeyboardShortcut, Modifiers, Pos2, RichText, Ui, ViewportCommand, pos2};

use crate::model::{
    Bus, Consumer, Node, Position, Producer, Queue, Rule, Topic, Topology,
    compile::{Problem, Severity},
};

use super::EXAMPLES;
use super::canvas::{Canvas, CanvasAction, Overlay, kind_color, kind_icon};
use super::connect;
use super::document::{self, Command, Document};
use super::editor::Buffers;
use super::files::{self, Autosave, Recovered, Settings};
use super::inspector;
use super::layout;
use super::scene::{ItemKey, ItemKind, Scene};

/// How the app starts.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// The design to open (the bundled e-commerce example when absent).
    pub file: Option<PathBuf>,
    /// Render the window once it settles, save a PNG here and exit.
    pub screenshot: Option<PathBuf>,
    /// Where settings and autosaves live (default: [`files::data_dir`]).
    pub data_dir: Option<PathBuf>,
    /// Force the light theme (for screenshots of both themes).
    pub light: bool,
    /// Select this box at start (a node id, `bus/rule` or `topic/subscription`).
    pub select: Option<String>,
}

const UNDO: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Z);
const REDO: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::Z);
const REDO_Y: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Y);
const SAVE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::S);
const SAVE_AS: KeyboardShortcut =
    KeyboardShortcut::new(Modifiers::COMMAND.plus(Modifiers::SHIFT), Key::S);
const OPEN: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::O);
const NEW: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::N);
const QUIT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::Q);
const SELECT_ALL: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::A);
const LAYOUT: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::L);
const COPY: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::C);
const PASTE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::V);
const DUPLICATE: KeyboardShortcut = KeyboardShortcut::new(Modifiers::COMMAND, Key::D);

/// Every shortcut, for the help overlay (F1).
pub const SHORTCUTS: [(&str, &str); 22] = [
    ("Ctrl+N", "New design"),
    ("Ctrl+O", "Open a file"),
    ("Ctrl+S", "Save"),
    ("Ctrl+Shift+S", "Save as"),
    ("Ctrl+Z", "Undo"),
    ("Ctrl+Shift+Z / Ctrl+Y", "Redo"),
    ("Delete / Backspace", "Delete the selection"),
    ("Ctrl+A", "Select everything"),
    ("Ctrl+C / Ctrl+V", "Copy and paste the selected nodes"),
    ("Ctrl+D", "Duplicate the selected nodes"),
    ("Ctrl+L", "Automatic layout"),
    ("F", "Fit the design to the view"),
    ("Arrow keys (Shift: ×5)", "Nudge the selection by 10 points"),
    ("Esc", "Clear the selection / close a dialog"),
    ("Drag a box", "Move it (and the rest of the selection)"),
    (
        "Drag from a box's right-edge circle",
        "Connect it to another box",
    ),
    ("Shift/Ctrl+click", "Add to or remove from the selection"),
    ("Drag on empty space", "Select with a rectangle"),
    ("Scroll / right- or middle-drag", "Pan"),
    ("Ctrl+scroll", "Zoom"),
    ("F1", "This help"),
    ("Double-click empty space", "Fit the design to the view"),
];

/// Something that replaces the document, asked about first when there are unsaved changes.
#[derive(Clone, Debug)]
enum Replace {
    New,
    Open(PathBuf),
    Example(usize),
    Quit,
}

/// The dialog on top, if any.
enum Modal {
    Message {
        title: String,
        text: String,
    },
    Confirm(Replace),
    Restore(Vec<Recovered>),
    Path {
        save: bool,
        text: String,
        note: String,
    },
}

/// A native file dialog's answer.
enum Picked {
    Open(Option<PathBuf>),
    SaveAs(Option<PathBuf>),
}

/// What the canvas and panels show, recomputed when the document changes.
struct Projection {
    state: u64,
    scene: Scene,
    positions: Vec<Pos2>,
    problems: Vec<Problem>,
    problem_items: Vec<Option<usize>>,
    errors: BTreeSet<usize>,
    warnings: BTreeSet<usize>,
}

impl Projection {
    fn new(doc: &Document, base_dir: Option<&Path>) -> Projection {
        let topology = doc.topology();
        let scene = Scene::new(topology);
        let existing = layout_of(topology);
        let filled = layout::fill_missing(&scene, &existing);
        let positions = scene
            .items
            .iter()
            .map(|item| {
                let p = existing
                    .get(&item.key)
                    .or_else(|| filled.get(&item.key))
                    .copied()
                    .unwrap_or_default();
                pos2(p.x, p.y)
            })
            .collect();
        let problems = match crate::model::compile(topology, base_dir) {
            Ok(compiled) => compiled.warnings,
            Err(problems) => problems,
        };
        let problem_items: Vec<Option<usize>> =
            problems.iter().map(|p| problem_item(&scene, p)).collect();
        let mut errors = BTreeSet::new();
        let mut warnings = BTreeSet::new();
        for (p, item) in problems.iter().zip(&problem_items) {
            if let Some(i) = item {
                if p.severity == Severity::Error {
                    errors.insert(*i);
                } else {
                    warnings.insert(*i);
                }
            }
        }
        Projection {
            state: doc.state(),
            scene,
            positions,
            problems,
            problem_items,
            errors,
            warnings,
        }
    }
}

/// The box a problem is about: a rule or subscription when its path names one, else the node.
/// Ids and names may contain dots, so the longest prefix that names a box wins.
fn problem_item(scene: &Scene, problem: &Problem) -> Option<usize> {
    let rest = problem.path.strip_prefix("nodes.")?;
    let segments: Vec<&str> = rest.split('.').collect();
    for n in (1..=segments.len()).rev() {
        let id = segments[..n].join(".");
        let Some(node) = scene.find(&ItemKey::node(&id)) else {
            continue;
        };
        if let Some(&("rules" | "subscriptions")) = segments.get(n) {
            let names = &segments[n + 1..];
            for m in (1..=names.len()).rev() {
                // `to-billing.targets[0]` ends the name at the first segment with a `[`.
                let name = names[..m].join(".");
                let name = name.split('[').next().unwrap_or_default();
                if let Some(i) = scene.find(&ItemKey::nested(&id, name)) {
                    return Some(i);
                }
            }
        }
        return Some(node);
    }
    None
}

/// The app.
pub struct EventyardApp {
    doc: Document,
    path: Option<PathBuf>,
    projection: Projection,
    canvas: Canvas,
    buffers: Buffers,
    inspected: Option<ItemKey>,
    /// The projection state the inspector's last edit was made on (its buffers match).
    inspected_state: Option<u64>,
    /// What Ctrl+C copied (also put on the system clipboard as JSON).
    clip: Option<document::Clip>,
    settings: Settings,
    data_dir: PathBuf,
    autosave: Option<Autosave>,
    modal: Option<Modal>,
    picking: Option<Receiver<Picked>>,
    status: String,
    help_open: bool,
    allow_close: bool,
    title: String,
    screenshot: Option<(PathBuf, u32)>,
    applied_theme: Option<(bool, f32)>,
}

impl EventyardApp {
    /// Builds the app, loading the file (or the e-commerce example).
    pub fn new(options: Options) -> EventyardApp {
        let data_dir = options.data_dir.clone().unwrap_or_else(files::data_dir);
        let mut settings = Settings::load(&data_dir);
        if options.light {
            settings.dark = false;
        }
        let screenshot = options.screenshot.clone().map(|p| (p, 0));
        let mut modal = None;
        let (topology, path) = match &options.file {
            Some(path) => match files::load(path) {
                Ok(t) => (t, Some(path.clone())),
                Err(e) => {
                    modal = Some(Modal::Message {
                        title: "Cannot open the file".into(),
                        text: e,
                    });
                    (Topology::new(), None)
                }
            },
            None => (example(0), None),
        };
        if screenshot.is_none() && modal.is_none() {
            let leftovers = files::leftover_autosaves(&data_dir);
            if !leftovers.is_empty() {
                modal = Some(Modal::Restore(leftovers));
            }
        }
        // Nothing the person made is in it yet (a file as saved, an example, or empty).
        let doc = Document::new(with_layout(topology), true);
        let projection = Projection::new(&doc, path.as_deref().and_then(Path::parent));
        let autosave = screenshot.is_none().then(|| Autosave::new(&data_dir));
        if let Some(p) = &path {
            settings.remember(p);
        }
        let mut canvas = Canvas::default();
        canvas.ignore_hover = screenshot.is_some();
        if let Some(key) = &options.select {
            canvas.select_only([ItemKey(key.clone())]);
        }
        EventyardApp {
            doc,
            path,
            projection,
            canvas,
            buffers: Buffers::default(),
            inspected: None,
            inspected_state: None,
            clip: None,
            settings,
            data_dir,
            autosave,
            modal,
            picking: None,
            status: String::new(),
            help_open: false,
            allow_close: false,
            title: String::new(),
            screenshot,
            applied_theme: None,
        }
    }

    /// The document (for tests).
    pub fn document(&self) -> &Document {
        &self.doc
    }

    /// The canvas (for tests: selection, view).
    pub fn canvas(&self) -> &Canvas {
        &self.canvas
    }

    /// The canvas, mutable (tests select from code).
    pub fn canvas_mut(&mut self) -> &mut Canvas {
        &mut self.canvas
    }

    /// The file the design belongs to.
    pub fn path(&self) -> Option<&Path> {
        self.path.as_deref()
    }

    /// The status line's text.
    pub fn status(&self) -> &str {
        &self.status
    }

    /// The problems shown in the problems list.
    pub fn problems(&self) -> &[Problem] {
        &self.projection.problems
    }

    /// Where item `key`'s box is on screen (tests drag between boxes).
    pub fn screen_pos(&self, key: &ItemKey) -> Option<Pos2> {
        let i = self.projection.scene.find(key)?;
        Some(
            self.canvas
                .view(self.canvas.last_rect)
                .to_screen(self.projection.positions[i]),
        )
    }

    /// Where the "drag to connect" handle of `key` is on screen.
    pub fn port_pos(&self, key: &ItemKey) -> Option<Pos2> {
        let center = self.screen_pos(key)?;
        Some(center + egui::vec2(layout::ITEM_SIZE.0 / 2.0, 0.0) * self.canvas.zoom)
    }

    /// Runs a command; an error goes to the status line.
    pub fn execute(&mut self, command: Command) -> bool {
        match self.doc.execute(command) {
            Ok(()) => true,
            Err(e) => {
                self.status = e;
                false
            }
        }
    }

    /// Saves to `path` atomically; the status line says how it went.
    pub fn save_to(&mut self, path: &Path) -> bool {
        match files::save_atomic(path, &self.doc.topology().to_json()) {
            Ok(()) => {
                self.doc.mark_saved();
                self.doc.seal();
                self.path = Some(path.to_path_buf());
                self.settings.remember(path);
                let _ = self.settings.save(&self.data_dir);
                if let Some(a) = &mut self.autosave {
                    a.clear();
                }
                self.status = format!("Saved {}", path.display());
                true
            }
            Err(e) => {
                self.modal = Some(Modal::Message {
                    title: "Cannot save".into(),
                    text: format!("{}: {e}", path.display()),
                });
                false
            }
        }
    }

    /// Opens `path`, replacing the document; a bad file changes nothing and says why.
    pub fn open(&mut self, path: &Path) -> bool {
        match files::load(path) {
            Ok(topology) => {
                self.replace_document(with_layout(topology), Some(path.to_path_buf()), true);
                self.settings.remember(path);
                let _ = self.settings.save(&self.data_dir);
                self.status = format!("Opened {}", path.display());
                true
            }
            Err(e) => {
                self.modal = Some(Modal::Message {
                    title: "Cannot open the file".into(),
                    text: e,
                });
                false
            }
        }
    }

    fn replace_document(&mut self, topology: Topology, path: Option<PathBuf>, saved: bool) {
        self.doc = Document::new(topology, saved);
        self.path = path;
        self.canvas = Canvas::default();
        self.buffers = Buffers::default();
        self.inspected = None;
        if let Some(a) = &mut self.autosave {
            a.clear();
        }
    }

    /// Replaces the document after asking when there are unsaved changes.
    fn request(&mut self, what: Replace) {
        if self.doc.is_modified() {
            self.modal = Some(Modal::Confirm(what));
        } else {
            self.carry_out(what);
        }
    }

    fn carry_out(&mut self, what: Replace) {
        match what {
            Replace::New => {
                self.replace_document(Topology::new(), None, false);
                self.doc.mark_saved();
                self.status = "New design".into();
            }
            Replace::Open(path) => {
                self.open(&path);
            }
            Replace::Example(i) => {
                self.replace_document(with_layout(example(i)), None, true);
                self.status = format!("Opened the example {}", EXAMPLES[i].1);
            }
            Replace::Quit => {
                if let Some(a) = &mut self.autosave {
                    a.clear();
                }
                self.allow_close = true;
            }
        }
    }

    /// Restores a leftover autosave (tests call this like the Restore button).
    pub fn restore(&mut self, recovered: Recovered) {
        self.replace_document(recovered.topology, recovered.file, false);
        // This app's own autosave holds the design before the old one is deleted, so a
        // crash right now loses nothing.
        let written = self
            .autosave
            .as_mut()
            .is_none_or(|a| a.write(self.path.as_deref(), self.doc.topology()).is_ok());
        if written {
            let _ = std::fs::remove_file(&recovered.autosave);
        }
        self.status = "Restored unsaved changes from the autosave".into();
    }

    fn sync_projection(&mut self) {
        if self.projection.state != self.doc.state() {
            // Text being typed in the inspector follows the document only for the
            // inspector's own edits; any other change shows the document's values afresh.
            if self.inspected_state != Some(self.projection.state) {
                self.buffers.reset();
            }
            let base = self.path.as_deref().and_then(Path::parent);
            self.projection = Projection::new(&self.doc, base);
            let scene = &self.projection.scene;
            self.canvas.selection.retain(|k| scene.find(k).is_some());
        }
    }

    /// Undoes one step, like Ctrl+Z; false when there is nothing to undo.
    pub fn undo_once(&mut self) -> bool {
        let had = self.doc.undo_label().is_some();
        self.undo();
        had
    }

    fn undo(&mut self) {
        if self.doc.undo() {
            self.buffers.reset();
            self.status = "Undone".into();
        }
    }

    fn redo(&mut self) {
        if self.doc.redo() {
            self.buffers.reset();
            self.status = "Redone".into();
        }
    }

    fn select_all(&mut self) {
        let keys = self.projection.scene.items.iter().map(|i| i.key.clone());
        self.canvas.select_only(keys);
    }

    fn delete_selection(&mut self) {
        if let Some(edge) = self.canvas.selected_edge.take() {
            self.execute(Command::Disconnect {
                from: edge.from,
                to: edge.to,
                kind: edge.kind,
            });
            return;
        }
        if self.canvas.selection.is_empty() {
            return;
        }
        let keys: Vec<ItemKey> = std::mem::take(&mut self.canvas.selection)
            .into_iter()
            .collect();
        self.execute(Command::Remove(keys));
    }

    /// Adds an item of `kind` (rules and subscriptions go into the selected bus/topic).
    pub fn add(&mut self, kind: ItemKind) {
        let topology = self.doc.topology();
        let selected_owner = |want: ItemKind| -> Option<String> {
            self.canvas
                .selection
                .iter()
                .map(|k| k.node_id().to_string())
                .find(|id| {
                    topology
                        .nodes
                        .get(id)
                        .is_some_and(|n| ItemKind::of_node(n.kind()) == want)
                })
        };
        let command = match kind {
            ItemKind::Rule => {
                let Some(bus) = selected_owner(ItemKind::Bus) else {
                    self.status = "Select a bus first: a rule belongs to a bus".into();
                    return;
                };
                let name = fresh_nested(topology, &bus, "rule");
                let rule = connect::new_rule(connect::match_all_pattern(), &[]);
                let at = self.place(&ItemKey::nested(&bus, &name), |t| {
                    if let Some(Node::Bus(b)) = t.nodes.get_mut(&bus) {
                        b.rules.insert(name.clone(), Rule::default());
                    }
                });
                Command::AddRule {
                    bus,
                    name,
                    rule,
                    at,
                }
            }
            ItemKind::Subscription => {
                let Some(topic) = selected_owner(ItemKind::Topic) else {
                    self.status = "Select a topic first: a subscription belongs to a topic".into();
                    return;
                };
                let name = fresh_nested(topology, &topic, "subscription");
                let at = self.place(&ItemKey::nested(&topic, &name), |t| {
                    if let Some(Node::Topic(x)) = t.nodes.get_mut(&topic) {
                        x.subscriptions
                            .insert(name.clone(), connect::new_subscription(""));
                    }
                });
                Command::AddSubscription {
                    topic,
                    name,
                    subscription: connect::new_subscription(""),
                    at,
                }
            }
            _ => {
                let node = new_node(kind, topology);
                let taken: BTreeSet<&str> = topology.nodes.keys().map(String::as_str).collect();
                let id = connect::fresh_name(kind.id_base(), &taken);
                let at = self.place(&ItemKey::node(&id), |t| {
                    t.nodes.insert(id.clone(), node.clone());
                });
                Command::AddNode { id, node, at }
            }
        };
        let key = match &command {
            Command::AddNode { id, .. } => ItemKey::node(id),
            Command::AddRule { bus, name, .. } => ItemKey::nested(bus, name),
            Command::AddSubscription { topic, name, .. } => ItemKey::nested(topic, name),
            _ => return,
        };
        if self.execute(command) {
            self.sync_projection();
            if let Some(i) = self.projection.scene.find(&key) {
                self.canvas.reveal(self.projection.positions[i]);
            }
            self.canvas.select_only([key.clone()]);
            self.status = format!("Added {key}");
        }
    }

    /// A free spot for a new item, next to where its kind belongs.
    fn place(&self, key: &ItemKey, add: impl FnOnce(&mut Topology)) -> Position {
        let mut t = self.doc.topology().clone();
        add(&mut t);
        let scene = Scene::new(&t);
        let existing: BTreeMap<ItemKey, Position> = self
            .projection
            .scene
            .items
            .iter()
            .zip(&self.projection.positions)
            .map(|(item, p)| (item.key.clone(), Position { x: p.x, y: p.y }))
            .collect();
        layout::place_new(&scene, &existing, key)
    }

    fn auto_layout(&mut self) {
        let positions = layout::auto_layout(&self.projection.scene);
        if self.execute(Command::SetLayout(positions)) {
            self.canvas.fit_pending = true;
            self.status = "Automatic layout".into();
        }
    }

    fn title_text(&self) -> String {
        let name = self
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| {
                let t = &self.doc.topology().name;
                if t.is_empty() {
                    "untitled".into()
                } else {
                    t.clone()
                }
            });
        let mark = if self.doc.is_modified() { " •" } else { "" };
        format!("{name}{mark} — Eventyard")
    }

    fn shortcuts(&mut self, ui: &Ui) {
        let typing = ui.ctx().text_edit_focused();
        let pressed = |s: &KeyboardShortcut| ui.ctx().input_mut(|i| i.consume_shortcut(s));
        if pressed(&SAVE_AS) {
            self.save_as();
        } else if pressed(&SAVE) {
            self.save();
        }
        if pressed(&OPEN) {
            self.open_dialog();
        }
        if pressed(&NEW) {
            self.request(Replace::New);
        }
        if pressed(&QUIT) {
            ui.ctx().send_viewport_cmd(ViewportCommand::Close);
        }
        if ui.ctx().input(|i| i.key_pressed(Key::F1)) {
            self.help_open = !self.help_open;
        }
        if typing || self.modal.is_some() {
            return;
        }
        if pressed(&REDO) || pressed(&REDO_Y) {
            self.redo();
        } else if pressed(&UNDO) {
            self.undo();
        }
        if pressed(&SELECT_ALL) {
            self.select_all();
        }
        if pressed(&LAYOUT) {
            self.auto_layout();
        }
        // egui turns Ctrl+C / Ctrl+V into copy and paste events; tests send the keys.
        let (copy_event, paste_event) = ui.ctx().input(|i| {
            let copy = i.events.iter().any(|e| matches!(e, egui::Event::Copy));
            let paste = i.events.iter().find_map(|e| match e {
                egui::Event::Paste(text) => Some(text.clone()),
                _ => None,
            });
            (copy, paste)
        });
        if pressed(&DUPLICATE) {
            self.copy_selection(ui);
            self.paste(None);
        } else {
            if copy_event || pressed(&COPY) {
                self.copy_selection(ui);
            }
            if pressed(&PASTE) {
                self.paste(None);
            } else if let Some(text) = paste_event {
                self.paste(Some(&text));
            }
        }
        let key = |k: Key| ui.ctx().input_mut(|i| i.consume_key(Modifiers::NONE, k));
        if key(Key::Delete) || key(Key::Backspace) {
            self.delete_selection();
        }
        if key(Key::F) {
            self.canvas.fit_pending = true;
        }
        self.nudge(ui);
        if key(Key::Escape) {
            self.canvas.select_only([]);
            self.help_open = false;
        }
    }

    /// Copies the selected nodes (with their rules and subscriptions) to the app's and
    /// the system's clipboard.
    fn copy_selection(&mut self, ui: &Ui) {
        let keys: Vec<ItemKey> = self.canvas.selection.iter().cloned().collect();
        let clip = document::Clip::copy(self.doc.topology(), &keys);
        if clip.nodes.is_empty() {
            self.status =
                "Select nodes to copy (a rule or subscription goes with its bus or topic)".into();
            return;
        }
        if let Ok(text) = serde_json::to_string_pretty(&clip) {
            ui.ctx().copy_text(text);
        }
        self.status = format!("Copied {} node(s)", clip.nodes.len());
        self.clip = Some(clip);
    }

    /// Pastes copied nodes under fresh names, offset from the originals, and selects them.
    /// `text` is the system clipboard's content when it came with the paste.
    pub fn paste(&mut self, text: Option<&str>) {
        let from_text = text.and_then(|t| serde_json::from_str::<document::Clip>(t).ok());
        let Some(clip) = from_text.or_else(|| self.clip.clone()) else {
            return;
        };
        let offset = Position { x: 40.0, y: 40.0 };
        let pasted = match clip.pasted_into(self.doc.topology(), offset) {
            Ok(p) => p,
            Err(e) => {
                self.status = e;
                return;
            }
        };
        let keys: Vec<ItemKey> = pasted.nodes.keys().map(|id| ItemKey::node(id)).collect();
        if self.execute(Command::Paste(pasted)) {
            self.status = format!("Pasted {} node(s)", keys.len());
            self.canvas.select_only(keys);
            // The next paste of the same clip lands beside this one.
            self.clip = self.clip.take().map(|c| c.shifted(offset));
        }
    }

    /// Arrow keys move the selected boxes by 10 canvas points (50 with Shift).
    fn nudge(&mut self, ui: &Ui) {
        if self.canvas.selection.is_empty() {
            return;
        }
        let mut delta = egui::Vec2::ZERO;
        for (k, d) in [
            (Key::ArrowLeft, egui::vec2(-1.0, 0.0)),
            (Key::ArrowRight, egui::vec2(1.0, 0.0)),
            (Key::ArrowUp, egui::vec2(0.0, -1.0)),
            (Key::ArrowDown, egui::vec2(0.0, 1.0)),
        ] {
            // Shift first: a plain-key match ignores an extra Shift.
            let (shifted, plain) = ui.ctx().input_mut(|i| {
                let shifted = i.consume_key(Modifiers::SHIFT, k);
                (shifted, i.consume_key(Modifiers::NONE, k))
            });
            delta += d * (if plain { 10.0 } else { 0.0 } + if shifted { 50.0 } else { 0.0 });
        }
        if delta == egui::Vec2::ZERO {
            return;
        }
        let moves = self
            .projection
            .scene
            .items
            .iter()
            .zip(&self.projection.positions)
            .filter(|(item, _)| self.canvas.selection.contains(&item.key))
            .map(|(item, p)| {
                let p = *p + delta;
                (item.key.clone(), Position { x: p.x, y: p.y })
            })
            .collect();
        self.execute(Command::Move(moves));
    }

    fn save(&mut self) {
        match self.path.clone() {
            Some(path) => {
                self.save_to(&path);
            }
            None => self.save_as(),
        }
    }

    fn save_as(&mut self) {
        if !dialogs_available() {
            self.path_prompt(true);
            return;
        }
        let name = self
            .path
            .as_ref()
            .and_then(|p| p.file_name())
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "design.json".into());
        let dialog = design_dialog().set_file_name(name).save_file();
        self.picking = Some(on_helper_thread(dialog, Picked::SaveAs));
    }

    fn open_dialog(&mut self) {
        if !dialogs_available() {
            self.path_prompt(false);
            return;
        }
        self.picking = Some(on_helper_thread(design_dialog().pick_file(), Picked::Open));
    }

    fn path_prompt(&mut self, save: bool) {
        let text = self
            .path
            .as_ref()
            .map(|p| p.display().to_string())
            .unwrap_or_else(|| {
                std::env::current_dir()
                    .map(|d| d.join("design.json").display().to_string())
                    .unwrap_or_default()
            });
        let note = if dialogs_available() {
            String::new()
        } else {
            "No file dialog service was found (no desktop portal on the session bus, no zenity). Type a path instead.".into()
        };
        self.modal = Some(Modal::Path { save, text, note });
    }

    fn poll_dialog(&mut self, ui: &Ui) {
        let Some(rx) = &self.picking else {
            return;
        };
        match rx.try_recv() {
            Ok(Picked::Open(Some(path))) => {
                self.picking = None;
                self.request(Replace::Open(path));
            }
            Ok(Picked::SaveAs(Some(path))) => {
                self.picking = None;
                self.save_to(&path);
            }
            Ok(_) => self.picking = None,
            Err(std::sync::mpsc::TryRecvError::Empty) => {
                ui.ctx()
                    .request_repaint_after(std::time::Duration::from_millis(100));
            }
            Err(std::sync::mpsc::TryRecvError::Disconnected) => self.picking = None,
        }
    }

    fn menu_bar(&mut self, ui: &mut Ui) {
        egui::MenuBar::new().ui(ui, |ui| {
            ui.menu_button("File", |ui| {
                if shortcut_button(ui, "New", &NEW) {
                    self.request(Replace::New);
                }
                if shortcut_button(ui, "Open…", &OPEN) {
                    self.open_dialog();
                }
                if ui.button("Open path…").clicked() {
                    self.path_prompt(false);
                }
                ui.menu_button("Open recent", |ui| {
                    if self.settings.recent.is_empty() {
                        ui.weak("No recent files");
                    }
                    for path in self.settings.recent.clone() {
                        if ui.button(path.display().to_string()).clicked() {
                            self.request(Replace::Open(path));
                        }
                    }
                });
                ui.menu_button("Examples", |ui| {
                    for (i, (_, title, _)) in EXAMPLES.iter().enumerate() {
                        if ui.button(*title).clicked() {
                            self.request(Replace::Example(i));
                        }
                    }
                });
                ui.separator();
                if shortcut_button(ui, "Save", &SAVE) {
                    self.save();
                }
                if shortcut_button(ui, "Save as…", &SAVE_AS) {
                    self.save_as();
                }
                if ui.button("Save to path…").clicked() {
                    self.path_prompt(true);
                }
                ui.separator();
                if shortcut_button(ui, "Quit", &QUIT) {
                    ui.ctx().send_viewport_cmd(ViewportCommand::Close);
                }
            });
            ui.menu_button("Edit", |ui| {
                if history_button(ui, "Undo", self.doc.undo_label(), &UNDO) {
                    self.undo();
                }
                if history_button(ui, "Redo", self.doc.redo_label(), &REDO) {
                    self.redo();
                }
                ui.separator();
                if ui.button("Delete selection").clicked() {
                    self.delete_selection();
                }
                if shortcut_button(ui, "Copy", &COPY) {
                    self.copy_selection(ui);
                }
                if shortcut_button(ui, "Paste", &PASTE) {
                    self.paste(None);
                }
                if shortcut_button(ui, "Duplicate", &DUPLICATE) {
                    self.copy_selection(ui);
                    self.paste(None);
                }
                if shortcut_button(ui, "Select all", &SELECT_ALL) {
                    self.select_all();
                }
            });
            ui.menu_button("View", |ui| {
                if ui.button("Fit to view (F)").clicked() {
                    self.canvas.fit_pending = true;
                }
                if shortcut_button(ui, "Automatic layout", &LAYOUT) {
                    self.auto_layout();
                }
                ui.separator();
                let theme = if self.settings.dark {
                    "☀ Light theme"
                } else {
                    "🌙 Dark theme"
                };
                if ui.button(theme).clicked() {
                    self.settings.dark = !self.settings.dark;
                    let _ = self.settings.save(&self.data_dir);
                }
                ui.menu_button("UI scale", |ui| {
                    for scale in [0.75, 1.0, 1.25, 1.5, 2.0] {
                        let label = format!("{:.0} %", scale * 100.0);
                        if ui.radio(self.settings.scale == scale, label).clicked() {
                            self.settings.scale = scale;
                            let _ = self.settings.save(&self.data_dir);
                        }
                    }
                });
            });
            ui.menu_button("Help", |ui| {
                if ui.button("Keyboard shortcuts (F1)").clicked() {
                    self.help_open = true;
                }
            });
        });
    }

    fn palette(&mut self, ui: &mut Ui) {
        ui.heading("Add");
        let dark = ui.visuals().dark_mode;
        for kind in ItemKind::ALL {
            let text = RichText::new(format!("{}  {}", kind_icon(kind), capitalise(kind.label())))
                .color(kind_color(kind, dark));
            let hint = match kind {
                ItemKind::Rule => "Adds a rule to the selected bus",
                ItemKind::Subscription => "Adds a subscription to the selected topic",
                _ => "Adds one to the design",
            };
            if ui
                .add_sized([ui.available_width(), 24.0], egui::Button::new(text))
                .on_hover_text(hint)
                .clicked()
            {
                self.add(kind);
            }
        }
        ui.separator();
        ui.weak("Connect: drag from the small circle on a box's right edge to another box.");
    }

    fn problems_list(&mut self, ui: &mut Ui) {
        let errors = self
            .projection
            .problems
            .iter()
            .filter(|p| p.severity == Severity::Error)
            .count();
        let warnings = self.projection.problems.len() - errors;
        ui.heading("Problems");
        ui.label(format!("{errors} errors · {warnings} warnings"));
        if self.projection.problems.is_empty() {
            ui.label(RichText::new("✔ No problems").color(super::editor::ok_color(ui)));
            return;
        }
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .id_salt("problems")
            .show(ui, |ui| {
                for (i, p) in self.projection.problems.iter().enumerate() {
                    let (mark, color) = match p.severity {
                        Severity::Error => ("✘", ui.visuals().error_fg_color),
                        Severity::Warning => ("⚠", ui.visuals().warn_fg_color),
                    };
                    let text =
                        RichText::new(format!("{mark} {}: {}", p.path, p.message)).color(color);
                    if ui
                        .add(egui::Label::new(text).wrap().sense(egui::Sense::click()))
                        .on_hover_text("Select it on the canvas")
                        .clicked()
                    {
                        clicked = Some(i);
                    }
                }
            });
        if let Some(i) = clicked {
            self.select_problem(i);
        }
    }

    /// Selects the box a problem is about (the problems list's click).
    pub fn select_problem(&mut self, index: usize) {
        if let Some(Some(item)) = self.projection.problem_items.get(index) {
            let key = self.projection.scene.items[*item].key.clone();
            self.canvas.select_only([key]);
        }
    }

    fn inspector(&mut self, ui: &mut Ui) {
        let single = (self.canvas.selection.len() == 1)
            .then(|| self.canvas.selection.iter().next().cloned())
            .flatten();
        if single != self.inspected {
            self.doc.seal();
            self.buffers.reset();
            self.inspected = single.clone();
        }
        self.buffers.set_generation(self.doc.state());
        let commands = egui::ScrollArea::vertical()
            .id_salt("inspector")
            .show(ui, |ui| {
                if let Some(edge) = &self.canvas.selected_edge {
                    return inspector::edge(ui, edge);
                }
                // Per-item ids: text fields keep no cursor or undo state across items.
                let id = single.as_ref().map_or("", |k| k.as_str()).to_string();
                ui.push_id(id, |ui| match &single {
                    Some(key) => inspector::item(ui, self.doc.topology(), key, &mut self.buffers),
                    None => self.design_info(ui),
                })
                .inner
            });
        let before = self.doc.state();
        for command in commands.inner {
            let rename = match &command {
                Command::Rename { key, to } => Some(match key.split() {
                    Some((owner, _)) => ItemKey::nested(owner, to),
                    None => ItemKey::node(to),
                }),
                _ => None,
            };
            if self.execute(command)
                && let Some(key) = rename
            {
                self.canvas.select_only([key.clone()]);
                self.inspected = Some(key);
            }
        }
        if self.doc.state() != before {
            self.inspected_state = Some(self.projection.state);
        }
    }

    fn design_info(&mut self, ui: &mut Ui) -> Vec<Command> {
        let n = self.canvas.selection.len();
        if n > 1 {
            ui.heading(format!("{n} items selected"));
            ui.label("Press Delete to remove them, or drag to move them together.");
            return Vec::new();
        }
        let commands = inspector::design(ui, self.doc.topology(), &mut self.buffers);
        ui.separator();
        ui.label(format!(
            "{} nodes, {} boxes, {} arrows",
            self.doc.topology().nodes.len(),
            self.projection.scene.items.len(),
            self.projection.scene.edges.len()
        ));
        ui.weak("Select a box or an arrow to edit it.");
        commands
    }

    fn modal(&mut self, ui: &mut Ui) {
        let Some(modal) = self.modal.take() else {
            return;
        };
        let mut keep = true;
        let mut then: Option<(Replace, bool)> = None;
        let mut restore: Option<Recovered> = None;
        let mut open_path: Option<(bool, PathBuf)> = None;
        let mut modal = modal;
        let response = egui::Modal::new(egui::Id::new("eventyard-modal")).show(ui.ctx(), |ui| {
            ui.set_max_width(520.0);
            match &mut modal {
                Modal::Message { title, text } => {
                    ui.heading(title.as_str());
                    ui.label(text.as_str());
                    if ui.button("OK").clicked() {
                        keep = false;
                    }
                }
                Modal::Confirm(what) => {
                    ui.heading("Unsaved changes");
                    ui.label("The design has changes that are not saved. Discard them?");
                    ui.horizontal(|ui| {
                        if ui.button("Save first").clicked() {
                            keep = false;
                            then = Some((what.clone(), true));
                        }
                        if ui.button("Discard changes").clicked() {
                            keep = false;
                            then = Some((what.clone(), false));
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
                Modal::Restore(found) => {
                    ui.heading("Restore unsaved changes?");
                    ui.label(
                        "Eventyard did not close normally. These autosaved designs were not saved:",
                    );
                    for r in found.iter() {
                        let when = humantime_ago(r.written);
                        let what = r
                            .file
                            .as_ref()
                            .map(|p| p.display().to_string())
                            .unwrap_or_else(|| "untitled design".into());
                        ui.horizontal(|ui| {
                            ui.label(format!("{what} ({when})"));
                            if ui.button("Restore").clicked() {
                                restore = Some(r.clone());
                                keep = false;
                            }
                        });
                    }
                    if ui.button("Discard them").clicked() {
                        for r in found.iter() {
                            let _ = std::fs::remove_file(&r.autosave);
                        }
                        keep = false;
                    }
                }
                Modal::Path { save, text, note } => {
                    ui.heading(if *save {
                        "Save to a path"
                    } else {
                        "Open a path"
                    });
                    if !note.is_empty() {
                        ui.label(note.as_str());
                    }
                    let label = ui.label("Path");
                    let response = ui
                        .add(egui::TextEdit::singleline(text).desired_width(480.0))
                        .labelled_by(label.id);
                    let enter = response.lost_focus() && ui.input(|i| i.key_pressed(Key::Enter));
                    ui.horizontal(|ui| {
                        if ui.button(if *save { "Save" } else { "Open" }).clicked() || enter {
                            open_path = Some((*save, PathBuf::from(text.trim())));
                            keep = false;
                        }
                        if ui.button("Cancel").clicked() {
                            keep = false;
                        }
                    });
                }
            }
        });
        if response.should_close() {
            keep = false;
        }
        if keep {
            self.modal = Some(modal);
        }
        if let Some(r) = restore {
            // Other leftovers stay on disk and are offered again at the next start.
            self.restore(r);
        }
        if let Some((what, save_first)) = then {
            // Discarding never marks the design saved: if the replacement fails (a recent
            // file that moved), the edits stay, modified and autosaved.
            if save_first {
                self.save();
            }
            if !save_first || !self.doc.is_modified() {
                self.carry_out(what);
            }
        }
        if let Some((save, path)) = open_path {
            if save {
                self.save_to(&path);
            } else {
                self.request(Replace::Open(path));
            }
        }
    }

    fn help(&mut self, ui: &Ui) {
        if !self.help_open {
            return;
        }
        let mut open = true;
        egui::Window::new("Keyboard shortcuts")
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_CENTER, [0.0, 0.0])
            .show(ui.ctx(), |ui| {
                egui::Grid::new("shortcuts").striped(true).show(ui, |ui| {
                    for (keys, what) in SHORTCUTS {
                        ui.strong(keys);
                        ui.label(what);
                        ui.end_row();
                    }
                });
            });
        self.help_open = open;
    }

    fn status_bar(&mut self, ui: &mut Ui) {
        ui.horizontal(|ui| {
            let file = self
                .path
                .as_ref()
                .map(|p| p.display().to_string())
                .unwrap_or_else(|| "not saved yet".into());
            ui.label(file);
            if self.doc.is_modified() {
                ui.label(RichText::new("• modified").color(ui.visuals().warn_fg_color));
            }
            ui.separator();
            ui.label(format!("zoom {:.0} %", self.canvas.zoom * 100.0));
            ui.separator();
            if let Some(hint) = &self.canvas.hint {
                ui.label(RichText::new(format!("✘ {hint}")).color(ui.visuals().error_fg_color));
            } else {
                ui.label(&self.status);
            }
        });
    }

    fn show_canvas(&mut self, ui: &mut Ui) {
        let doc = &self.doc;
        let mut check = |from: &ItemKey, to: &ItemKey, thorough: bool| -> Result<String, String> {
            let verdict = if thorough {
                connect::plan(doc.topology(), from, to)
            } else {
                connect::plan_by_kind(doc.topology(), from, to)
            };
            verdict.map(|c| c.describe())
        };
        let scene = &self.projection.scene;
        let tooltip = |i: usize| super::scene::summary(doc.topology(), &scene.items[i].key);
        let overlay = Overlay {
            errors: &self.projection.errors,
            warnings: &self.projection.warnings,
            tooltip: &tooltip,
        };
        let (_, actions) = self.canvas.show(
            ui,
            self.projection.state,
            &self.projection.scene,
            &self.projection.positions,
            &overlay,
            &mut check,
        );
        for action in actions {
            match action {
                CanvasAction::Move(moves) => {
                    let moves = moves
                        .into_iter()
                        .map(|(k, p)| (k, Position { x: p.x, y: p.y }))
                        .collect();
                    self.execute(Command::Move(moves));
                }
                CanvasAction::Connect(from, to) => {
                    if self.execute(Command::Connect {
                        from: from.clone(),
                        to: to.clone(),
                    }) {
                        self.status = format!("Connected {from} → {to}");
                    }
                }
                CanvasAction::Selected => self.canvas.hint = None,
            }
        }
    }

    fn apply_theme(&mut self, ctx: &egui::Context) {
        let want = (self.settings.dark, self.settings.scale);
        if self.applied_theme != Some(want) {
            ctx.set_theme(if want.0 {
                egui::Theme::Dark
            } else {
                egui::Theme::Light
            });
            ctx.set_zoom_factor(want.1);
            self.applied_theme = Some(want);
        }
    }

    fn screenshot_step(&mut self, ui: &Ui) -> Result<(), String> {
        let Some((path, frames)) = &mut self.screenshot else {
            return Ok(());
        };
        *frames += 1;
        let shot = ui.ctx().input(|i| {
            i.events.iter().find_map(|e| match e {
                egui::Event::Screenshot { image, .. } => Some(image.clone()),
                _ => None,
            })
        });
        if let Some(image) = shot {
            let [w, h] = image.size;
            let result = image::save_buffer(
                path.as_path(),
                image.as_raw(),
                w as u32,
                h as u32,
                image::ExtendedColorType::Rgba8,
            )
            .map_err(|e| format!("cannot write {}: {e}", path.display()));
            self.allow_close = true;
            ui.ctx().send_viewport_cmd(ViewportCommand::Close);
            return result;
        }
        if *frames == 6 {
            ui.ctx()
                .send_viewport_cmd(ViewportCommand::Screenshot(egui::UserData::default()));
        }
        ui.ctx().request_repaint();
        Ok(())
    }

    /// Draws one frame (the eframe entry point, also used by tests).
    pub fn frame(&mut self, ui: &mut Ui) {
        let ctx = ui.ctx().clone();
        self.apply_theme(&ctx);
        if ctx.input(|i| i.viewport().close_requested()) && !self.allow_close {
            if self.doc.is_modified() {
                ctx.send_viewport_cmd(ViewportCommand::CancelClose);
                self.modal = Some(Modal::Confirm(Replace::Quit));
            } else if let Some(a) = &mut self.autosave {
                a.clear();
            }
        }
        self.poll_dialog(ui);
        self.shortcuts(ui);
        self.sync_projection();
        egui::Panel::top("menu").show(ui, |ui| self.menu_bar(ui));
        egui::Panel::bottom("status").show(ui, |ui| self.status_bar(ui));
        egui::Panel::left("palette")
            .default_size(230.0)
            .resizable(true)
            .show(ui, |ui| {
                self.palette(ui);
                ui.separator();
                self.problems_list(ui);
            });
        egui::Panel::right("inspector")
            .default_size(380.0)
            .resizable(true)
            .show(ui, |ui| self.inspector(ui));
        self.sync_projection();
        egui::CentralPanel::default()
            .frame(egui::Frame::NONE)
            .show(ui, |ui| self.show_canvas(ui));
        self.sync_projection();
        self.modal(ui);
        self.help(ui);
        let title = self.title_text();
        if title != self.title {
            ctx.send_viewport_cmd(ViewportCommand::Title(title.clone()));
            self.title = title;
        }
        if self.allow_close {
            ctx.send_viewport_cmd(ViewportCommand::Close);
        }
        if let Some(a) = &mut self.autosave
            && let Some(wait) = a.tick(
                self.doc.state(),
                self.doc.is_modified(),
                self.path.as_deref(),
                self.doc.topology(),
                Instant::now(),
            )
        {
            ctx.request_repaint_after(wait);
        }
        if let Err(e) = self.screenshot_step(ui) {
            eprintln!("error: {e}");
        }
    }
}

impl eframe::App for EventyardApp {
    fn ui(&mut self, ui: &mut Ui, _frame: &mut eframe::Frame) {
        self.frame(ui);
    }

    fn clear_color(&self, _visuals: &egui::Visuals) -> [f32; 4] {
        [0.0, 0.0, 0.0, 1.0]
    }
}

/// "Undo move" / "Redo add queue", greyed out when there is nothing to undo or redo.
fn history_button(
    ui: &mut Ui,
    verb: &str,
    step: Option<&str>,
    shortcut: &KeyboardShortcut,
) -> bool {
    let text = step.map_or_else(|| verb.to_string(), |l| format!("{verb} {l}"));
    let button = egui::Button::new(text).shortcut_text(ui.ctx().format_shortcut(shortcut));
    ui.add_enabled(step.is_some(), button).clicked()
}

fn shortcut_button(ui: &mut Ui, label: &str, shortcut: &KeyboardShortcut) -> bool {
    ui.add(egui::Button::new(label).shortcut_text(ui.ctx().format_shortcut(shortcut)))
        .clicked()
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next()
        .map(|f| f.to_uppercase().collect::<String>() + c.as_str())
        .unwrap_or_default()
}

fn humantime_ago(t: std::time::SystemTime) -> String {
    match std::time::SystemTime::now().duration_since(t) {
        Ok(d) if d.as_secs() < 120 => format!("{} s ago", d.as_secs()),
        Ok(d) if d.as_secs() < 7200 => format!("{} min ago", d.as_secs() / 60),
        Ok(d) => format!("{} h ago", d.as_secs() / 3600),
        Err(_) => "just now".into(),
    }
}

/// A native file dialog for design files.
fn design_dialog() -> rfd::AsyncFileDialog {
    rfd::AsyncFileDialog::new().add_filter("Eventyard design", &["json"])
}

/// Waits for a dialog on a helper thread (the window never blocks on it); the answer
/// arrives on the returned channel, which the window polls.
fn on_helper_thread(
    dialog: impl std::future::Future<Output = Option<rfd::FileHandle>> + Send + 'static,
    answer: fn(Option<PathBuf>) -> Picked,
) -> Receiver<Picked> {
    let (tx, rx) = channel();
    std::thread::spawn(move || {
        let picked = pollster::block_on(dialog).map(|h| h.path().to_path_buf());
        let _ = tx.send(answer(picked));
    });
    rx
}

/// Whether a native file dialog can appear: a desktop portal on the session bus, or zenity.
fn dialogs_available() -> bool {
    if std::env::var_os("EVENTYARD_NO_DIALOGS").is_some() {
        return false;
    }
    let on_path = |name: &str| {
        std::env::var_os("PATH")
            .is_some_and(|paths| std::env::split_paths(&paths).any(|d| d.join(name).is_file()))
    };
    std::env::var_os("DBUS_SESSION_BUS_ADDRESS").is_some() || on_path("zenity")
}

/// Bundled example `i`, parsed (the examples are tested to load).
fn example(i: usize) -> Topology {
    Topology::from_json(EXAMPLES[i].2).unwrap_or_default()
}

/// The file's positions by box.
fn layout_of(topology: &Topology) -> BTreeMap<ItemKey, Position> {
    topology
        .layout
        .iter()
        .map(|(k, p)| (ItemKey(k.clone()), *p))
        .collect()
}

/// Fills positions for boxes that have none. A file where a quarter or more of the boxes
/// have no position (an imported or hand-written file, or one that placed only its nodes
/// and not their rules and subscriptions) gets a whole automatic layout instead, since
/// squeezing many boxes between the few placed ones reads worse than a fresh layout.
fn with_layout(mut topology: Topology) -> Topology {
    let scene = Scene::new(&topology);
    let existing = layout_of(&topology);
    let missing = scene
        .items
        .iter()
        .filter(|i| !existing.contains_key(&i.key))
        .count();
    if missing * 4 >= scene.items.len() && missing > 0 {
        topology.layout = layout::auto_layout(&scene)
            .into_iter()
            .map(|(k, p)| (k.0, p))
            .collect();
        return topology;
    }
    for (key, p) in layout::fill_missing(&scene, &existing) {
        topology.layout.entry(key.0).or_insert(p);
    }
    topology
}

fn fresh_nested(topology: &Topology, owner: &str, base: &str) -> String {
    let taken: BTreeSet<&str> = match topology.nodes.get(owner) {
        Some(Node::Bus(b)) => b.rules.keys().map(String::as_str).collect(),
        Some(Node::Topic(t)) => t.subscriptions.keys().map(String::as_str).collect(),
        _ => BTreeSet::new(),
    };
    connect::fresh_name(base, &taken)
}

/// A new node of `kind` with sensible settings (a producer sends to the first bus).
fn new_node(kind: ItemKind, topology: &Topology) -> Node {
    let first = |k: crate::model::Kind| {
        topology
            .nodes
            .iter()
            .find(|(_, n)| n.kind() == k)
            .map(|(id, _)| id.clone())
            .unwrap_or_default()
    };
    match kind {
        ItemKind::Producer => Node::Producer(Producer {
            to: first(crate::model::Kind::Bus),
            rate: 1.0,
            events: vec![crate::model::EventTemplate {
                weight: 1.0,
                source: serde_json::json!("app.example"),
                detail_type: serde_json::json!("SomethingHappened"),
                detail: serde_json::json!({"id": "${uuid}", "n": "${seq}"}),
                ..Default::default()
            }],
            ..Producer::default()
        }),
        ItemKind::Bus => Node::Bus(Bus::default()),
        ItemKind::Topic => Node::Topic(Topic::default()),
        ItemKind::Queue => Node::Queue(Queue::default()),
        // As a file with only `bus` written would give it (the default event cap).
        ItemKind::Archive => Node::Archive(
            serde_json::from_value(serde_json::json!({"bus": first(crate::model::Kind::Bus)}))
                .unwrap_or_default(),
        ),
        ItemKind::Consumer | ItemKind::Rule | ItemKind::Subscription => {
            Node::Consumer(Consumer::default())
        }
    }
}

/// Opens the window; returns when it closes.
pub fn run(options: Options) -> ExitCode {
    let screenshot = options.screenshot.is_some();
    let native = eframe::NativeOptions {
        renderer: eframe::Renderer::Glow,
        viewport: egui::ViewportBuilder::default()
            .with_title("Eventyard")
            .with_inner_size([1440.0, 880.0])
            .with_app_id("eventyard"),
        ..Default::default()
    };
    let shot_path = options.screenshot.clone();
    let result = eframe::run_native(
        "Eventyard",
        native,
        Box::new(move |_cc| Ok(Box::new(EventyardApp::new(options)))),
    );
    match result {
        Ok(()) => {
            if let Some(path) = shot_path.filter(|_| screenshot)
                && !path.exists()
            {
                eprintln!("error: the window closed before the screenshot was taken");
                return ExitCode::from(1);
            }
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("error: cannot open the window: {e}");
            ExitCode::from(1)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(path: &str) -> Problem {
        Problem {
            severity: Severity::Error,
            path: path.to_string(),
            message: String::new(),
        }
    }

    #[test]
    fn problems_point_at_the_deepest_box_their_path_names() {
        let t = Topology::from_json(
            r#"{"eventyard": 1, "nodes": {
                "orders.v2": {"kind": "bus", "rules": {"r.1": {"pattern": {}, "targets": [{"to": "x"}]}}},
                "orders": {"kind": "bus"}
            }}"#,
        )
        .expect("loads");
        let scene = Scene::new(&t);
        let key = |i: Option<usize>| i.map(|i| scene.items[i].key.0.clone());
        let at = |path: &str| key(problem_item(&scene, &problem(path)));
        assert_eq!(
            at("nodes.orders.v2.rules.r.1.targets[0].to"),
            Some("orders.v2/r.1".into())
        );
        assert_eq!(
            at("nodes.orders.v2.rules.gone.pattern"),
            Some("orders.v2".into())
        );
        assert_eq!(at("nodes.orders.policy"), Some("orders".into()));
        assert_eq!(at("scenarios.drill.actions[0]"), None);
    }
}
