//! The design canvas: draws the [`Scene`] (boxes by kind, arrows, account/region
//! groups, problem marks) and turns pointer gestures into [`CanvasAction`]s.
//!
//! The canvas never edits the document. It reports what the person did — moved boxes,
//! dragged an arrow from one box to another, selected things — and the shell turns that
//! into commands. Only the view (pan, zoom), the selection and an in-progress gesture
//! live here.
//!
//! Speed: labels are laid out once per (text, zoom) and kept ([`LabelCache`]), boxes and
//! arrows outside the view are skipped, and the canvas asks for a repaint only while a
//! gesture or an animation needs one, so an idle window uses no CPU.

use std::collections::{BTreeSet, HashMap};
use std::hash::BuildHasher as _;
use std::sync::Arc;

use egui::{
    Align2, Color32, CornerRadius, FontFamily, FontId, Galley, Pos2, Rect, Response, Sense, Shape,
    Stroke, StrokeKind, Ui, Vec2, pos2, vec2,
};

use super::layout::ITEM_SIZE;
use super::scene::{EdgeKind, Group, ItemKey, ItemKind, Scene};

/// Designs up to this many boxes have every candidate end compiled when an arrow is
/// dragged out (about 0.2 ms each for the e-commerce example); larger ones are offered
/// by kind, and the box under the pointer is judged in full.
const MAX_THOROUGH: usize = 60;

/// What the person did on the canvas this frame.
#[derive(Clone, Debug, PartialEq)]
pub enum CanvasAction {
    /// Boxes were dragged to new places (canvas coordinates of their centres).
    Move(Vec<(ItemKey, Pos2)>),
    /// An arrow was dragged from the first item and dropped on the second.
    Connect(ItemKey, ItemKey),
    /// The selection changed.
    Selected,
}

/// A drawn arrow the person can select (and delete).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct EdgeRef {
    /// Where it starts.
    pub from: ItemKey,
    /// Where it points.
    pub to: ItemKey,
    /// What it means.
    pub kind: EdgeKind,
}

/// Answers "may this arrow be drawn?" while a connection is dragged: what it would do,
/// or why not. With `thorough` false only the kinds are judged (cheap, for highlighting
/// every candidate); true also compiles the result (for the box under the pointer).
pub type ConnectCheck<'a> = &'a mut dyn FnMut(&ItemKey, &ItemKey, bool) -> Result<String, String>;

/// What the canvas draws on top of the scene.
pub struct Overlay<'a> {
    /// Items with errors (red mark) by index.
    pub errors: &'a BTreeSet<usize>,
    /// Items with warnings (amber mark) by index.
    pub warnings: &'a BTreeSet<usize>,
    /// The hover text of item i (a rule's pattern, a subscription's policy ...).
    pub tooltip: &'a dyn Fn(usize) -> String,
}

#[derive(Clone, Debug, Default)]
enum Gesture {
    #[default]
    None,
    /// Moving the selection; `offset` is the canvas-space delta so far.
    Moving { offset: Vec2 },
    /// Dragging an arrow out of `from`.
    Connecting { from: usize, to: Pos2 },
    /// Selecting with a rectangle from `start` (canvas space).
    Band { start: Pos2, end: Pos2, add: bool },
    /// Dragging the view.
    Panning,
}

/// Laid-out labels, kept across frames.
///
/// Font sizes are rounded to half a point, so a zoom gesture lays a label out again only
/// when its size has changed by that much (every few percent of zoom), not every frame.
#[derive(Default)]
pub struct LabelCache {
    dark: bool,
    atlas: [usize; 2],
    /// By (hash of the text, style, rounded size): the text itself is kept to tell
    /// colliding hashes apart, and looking up needs no allocation.
    galleys: HashMap<(u64, u8, u32), (String, Arc<Galley>)>,
}

impl LabelCache {
    /// The galley of `text` in one line at about `size` (rounded to half a point), cut
    /// with `…` beyond `max_width` (scaled with the rounding).
    fn get(
        &mut self,
        ui: &Ui,
        text: &str,
        style: u8,
        size: f32,
        color: Color32,
        max_width: f32,
    ) -> Arc<Galley> {
        let rounded = ((size * 2.0).round() / 2.0).max(0.5);
        let key = (
            rustc_hash::FxBuildHasher.hash_one(text),
            style,
            rounded.to_bits(),
        );
        if let Some((cached, g)) = self.galleys.get(&key)
            && cached == text
        {
            return g.clone();
        }
        let font = FontId::new(rounded, FontFamily::Proportional);
        let mut job = egui::text::LayoutJob::single_section(
            text.to_string(),
            egui::TextFormat::simple(font, color),
        );
        job.wrap = egui::text::TextWrapping {
            max_width: max_width * rounded / size.max(0.01),
            max_rows: 1,
            break_anywhere: true,
            overflow_character: Some('…'),
        };
        let galley = ui.fonts_mut(|f| f.layout_job(job));
        self.galleys.insert(key, (text.to_string(), galley.clone()));
        galley
    }

    /// Drops everything after a theme change (colours are baked in), when egui rebuilt its
    /// font atlas (galleys point into it), or when the cache has grown large.
    fn prepare(&mut self, dark: bool, atlas: [usize; 2]) {
        if dark != self.dark || atlas != self.atlas || self.galleys.len() > 50_000 {
            self.dark = dark;
            self.atlas = atlas;
            self.galleys.clear();
        }
    }
}

/// What one drawing pass needs to know about the scene and the view.
#[derive(Clone, Copy)]
struct Layer<'a> {
    scene: &'a Scene,
    /// Item i's centre, moving boxes included.
    place: &'a dyn Fn(usize) -> Pos2,
    view: View,
    /// The canvas area (plus a margin) whose boxes are drawn.
    visible: Rect,
    dark: bool,
    selected: &'a [bool],
    hovered: Option<usize>,
    overlay: &'a Overlay<'a>,
}

/// The canvas as last drawn, tessellated: reused while what it shows stays the same.
struct Picture {
    /// Hash of everything it depends on except the pan.
    key: u64,
    /// The pan it was drawn at.
    pan: Vec2,
    /// Nothing was left out for being off screen, so it may be moved to any pan.
    complete: bool,
    mesh: Arc<egui::epaint::Mesh>,
}

impl Picture {
    /// This picture seen at `pan`: itself, moved by whole pixels (text stays crisp), or
    /// `None` when parts of the design were left out and must be drawn afresh.
    fn moved_to(&self, pan: Vec2, pixels_per_point: f32) -> Option<Picture> {
        let delta = pan - self.pan;
        if delta == Vec2::ZERO {
            return Some(Picture {
                key: self.key,
                pan: self.pan,
                complete: self.complete,
                mesh: self.mesh.clone(),
            });
        }
        if !self.complete {
            return None;
        }
        let delta = (delta * pixels_per_point).round() / pixels_per_point;
        let mut mesh = (*self.mesh).clone();
        mesh.translate(delta);
        Some(Picture {
            key: self.key,
            pan: self.pan + delta,
            complete: true,
            mesh: Arc::new(mesh),
        })
    }
}

/// The canvas's own state: view, selection, gesture.
pub struct Canvas {
    /// Screen offset of the canvas origin from the widget's top-left corner.
    pub pan: Vec2,
    /// Screen points per canvas unit.
    pub zoom: f32,
    /// Selected boxes.
    pub selection: BTreeSet<ItemKey>,
    /// The selected arrow, if any (selecting one clears the box selection).
    pub selected_edge: Option<EdgeRef>,
    /// Fit the whole design into view on the next frame.
    pub fit_pending: bool,
    /// Where the widget was drawn last (tests convert canvas positions with it).
    pub last_rect: Rect,
    /// The last refusal while connecting, for the status line.
    pub hint: Option<String>,
    /// Ignore where the pointer rests (no hover handle or tooltip): for screenshots,
    /// where a virtual display parks the pointer in the middle of the window.
    pub ignore_hover: bool,
    gesture: Gesture,
    labels: LabelCache,
    connect_verdict: Option<(usize, Result<String, String>)>,
    /// While connecting: the items the arrow may end on.
    connect_options: Vec<usize>,
    /// The document version the gesture's item indices refer to.
    gesture_version: u64,
    /// The last drawn picture (boxes, arrows, groups) as one mesh.
    picture: Option<Picture>,
}

impl Default for Canvas {
    fn default() -> Self {
        Canvas {
            pan: Vec2::ZERO,
            zoom: 1.0,
            selection: BTreeSet::new(),
            selected_edge: None,
            fit_pending: true,
            last_rect: Rect::NOTHING,
            hint: None,
            ignore_hover: false,
            gesture: Gesture::None,
            labels: LabelCache::default(),
            connect_verdict: None,
            connect_options: Vec::new(),
            gesture_version: 0,
            picture: None,
        }
    }
}

/// The colour of a kind, readable on dark and light backgrounds.
pub fn kind_color(kind: ItemKind, dark: bool) -> Color32 {
    let (d, l) = match kind {
        ItemKind::Producer => ((74, 200, 130), (22, 135, 75)),
        ItemKind::Bus => ((160, 120, 250), (108, 60, 210)),
        ItemKind::Rule => ((196, 170, 255), (130, 95, 215)),
        ItemKind::Topic => ((250, 170, 50), (190, 110, 0)),
        ItemKind::Subscription => ((250, 205, 90), (170, 120, 0)),
        ItemKind::Queue => ((90, 160, 255), (30, 100, 210)),
        ItemKind::Consumer => ((45, 205, 190), (0, 135, 125)),
        ItemKind::Archive => ((160, 175, 195), (90, 105, 125)),
    };
    let (r, g, b) = if dark { d } else { l };
    Color32::from_rgb(r, g, b)
}

/// The icon drawn on a kind's boxes and in the palette.
pub fn kind_icon(kind: ItemKind) -> &'static str {
    match kind {
        ItemKind::Producer => "⚡",
        ItemKind::Bus => "🔀",
        ItemKind::Rule => "🔍",
        ItemKind::Topic => "📢",
        ItemKind::Subscription => "📨",
        ItemKind::Queue => "📥",
        ItemKind::Consumer => "⚙",
        ItemKind::Archive => "🗄",
    }
}

/// Canvas → screen and back.
#[derive(Clone, Copy, Debug)]
pub struct View {
    origin: Pos2,
    zoom: f32,
}

impl View {
    /// A canvas point on screen.
    pub fn to_screen(self, p: Pos2) -> Pos2 {
        self.origin + p.to_vec2() * self.zoom
    }

    /// A screen point on the canvas.
    pub fn to_canvas(self, p: Pos2) -> Pos2 {
        ((p - self.origin) / self.zoom).to_pos2()
    }
}

fn item_rect(center: Pos2) -> Rect {
    Rect::from_center_size(center, vec2(ITEM_SIZE.0, ITEM_SIZE.1))
}

/// Where the "drag to connect" handle of a box is (canvas space).
fn port(center: Pos2) -> Pos2 {
    center + vec2(ITEM_SIZE.0 / 2.0, 0.0)
}

impl Canvas {
    /// The current view transform for a widget at `rect`.
    pub fn view(&self, rect: Rect) -> View {
        View {
            origin: rect.min + self.pan,
            zoom: self.zoom,
        }
    }

    /// Frames every box (or the selection, when `only_selected`) in `rect`.
    pub fn fit(&mut self, rect: Rect, positions: &[Pos2]) {
        let mut bounds = Rect::NOTHING;
        for p in positions {
            bounds = bounds.union(item_rect(*p));
        }
        if !bounds.is_positive() || !rect.is_positive() {
            self.pan = rect.size() / 2.0;
            self.zoom = 1.0;
            return;
        }
        let bounds = bounds.expand(40.0);
        let zoom = (rect.width() / bounds.width())
            .min(rect.height() / bounds.height())
            .clamp(0.05, 1.25);
        self.zoom = zoom;
        self.pan = rect.size() / 2.0 - bounds.center().to_vec2() * zoom;
    }

    /// Pans so that the box at `center` is in view (when it is not already).
    pub fn reveal(&mut self, center: Pos2) {
        let rect = self.last_rect;
        if !rect.is_positive() {
            return;
        }
        let screen = Rect::from_center_size(
            self.view(rect).to_screen(center),
            vec2(ITEM_SIZE.0, ITEM_SIZE.1) * self.zoom,
        );
        if !rect.shrink(10.0).contains_rect(screen) {
            self.pan = rect.size() / 2.0 - center.to_vec2() * self.zoom;
        }
    }

    /// Selects exactly these items.
    pub fn select_only(&mut self, keys: impl IntoIterator<Item = ItemKey>) {
        self.selection = keys.into_iter().collect();
        self.selected_edge = None;
    }

    /// Draws the scene and handles the pointer. `positions[i]` is item i's centre;
    /// `version` changes whenever the scene, positions or problems do (the document state).
    pub fn show(
        &mut self,
        ui: &mut Ui,
        version: u64,
        scene: &Scene,
        positions: &[Pos2],
        overlay: &Overlay<'_>,
        check: ConnectCheck<'_>,
    ) -> (Response, Vec<CanvasAction>) {
        let (response, painter) = ui.allocate_painter(ui.available_size(), Sense::click_and_drag());
        let rect = response.rect;
        self.last_rect = rect;
        if self.fit_pending {
            self.fit(rect, positions);
            self.fit_pending = false;
        }
        let dark = ui.visuals().dark_mode;
        let mut actions = Vec::new();
        if self.gesture_version != version {
            // The design changed under a gesture (undo, delete): its item indices are stale.
            self.gesture = Gesture::None;
            self.connect_verdict = None;
            self.connect_options.clear();
            self.gesture_version = version;
        }
        self.navigate(ui, &response);
        let view = self.view(rect);
        self.handle_pointer(ui, &response, scene, positions, view, check, &mut actions);

        let painter = painter.with_clip_rect(rect);
        let visible = view.to_canvas(rect.min);
        let visible = Rect::from_min_max(visible, view.to_canvas(rect.max)).expand(ITEM_SIZE.0);
        let offset = match self.gesture {
            Gesture::Moving { offset } => offset,
            _ => Vec2::ZERO,
        };
        let selected: Vec<bool> = scene
            .items
            .iter()
            .map(|i| self.selection.contains(&i.key))
            .collect();
        let place = |i: usize| -> Pos2 {
            if selected[i] {
                positions[i] + offset
            } else {
                positions[i]
            }
        };
        let hovered = response
            .hover_pos()
            .filter(|_| !self.ignore_hover)
            .and_then(|p| {
                let c = view.to_canvas(p);
                (0..scene.items.len())
                    .rev()
                    .find(|&i| item_rect(place(i)).contains(c))
            });
        let a11y = ui
            .ctx()
            .accesskit_node_builder(response.id, |_| ())
            .is_some();
        // While boxes are dragged, the picture holds everything else and the moving boxes
        // (with their arrows) are drawn on top each frame: a drag costs little more than an
        // idle frame.
        let moving = matches!(self.gesture, Gesture::Moving { .. });
        let key = self.picture_key(ui, version, rect, dark, hovered, moving);
        // Background and grid follow the view on every frame (they are cheap); the rest is
        // the picture.
        let mut backdrop = vec![Shape::rect_filled(rect, 0.0, canvas_background(dark))];
        self.draw_grid(&mut backdrop, rect, view, dark);
        painter.extend(backdrop);
        self.labels
            .prepare(dark, ui.ctx().fonts(|f| f.font_image_size()));
        let layer = Layer {
            scene,
            place: &place,
            view,
            visible,
            dark,
            selected: &selected,
            hovered,
            overlay,
        };
        let reused = match &self.picture {
            Some(p) if p.key == key => p.moved_to(self.pan, ui.ctx().pixels_per_point()),
            _ => None,
        };
        let picture = match reused {
            Some(picture) => picture,
            None => {
                // Static part: every box and arrow, or, while moving, those that stay put
                // (group boxes use the positions before the move).
                let stays = |i: usize| !moving || !selected[i];
                let mut shapes = Vec::with_capacity(scene.items.len() * 6 + scene.edges.len() * 2);
                let unmoved = |i: usize| positions[i];
                let group_place: &dyn Fn(usize) -> Pos2 = if moving { &unmoved } else { &place };
                self.draw_groups(ui, &mut shapes, scene, group_place, view, dark);
                // An arrow stays put when both its ends do.
                let complete = self.draw_layer(ui, &mut shapes, &layer, &stays, &|e| {
                    stays(e.from) && stays(e.to)
                });
                let hint = self
                    .picture
                    .as_ref()
                    .map_or((0, 0), |p| (p.mesh.vertices.len(), p.mesh.indices.len()));
                // A complete picture may be moved later, so nothing in it is culled; an
                // incomplete one is drawn afresh on any move, so shapes off the canvas go.
                let clip = if complete { Rect::EVERYTHING } else { rect };
                Picture {
                    key,
                    pan: self.pan,
                    complete,
                    mesh: Arc::new(tessellate(ui, shapes, clip, hint)),
                }
            }
        };
        painter.add(Shape::mesh(picture.mesh.clone()));
        self.picture = Some(picture);
        if moving {
            let mut shapes = Vec::new();
            self.draw_layer(ui, &mut shapes, &layer, &|i| selected[i], &|e| {
                selected[e.from] || selected[e.to]
            });
            painter.extend(shapes);
        }
        if a11y {
            for (i, item) in scene.items.iter().enumerate() {
                let screen = Rect::from_center_size(
                    view.to_screen(place(i)),
                    vec2(ITEM_SIZE.0, ITEM_SIZE.1) * self.zoom,
                );
                if rect.intersects(screen) {
                    let label = format!("{} {}", item.kind.label(), item.key);
                    let id = response.id.with(("item", &item.key));
                    ui.interact(screen.intersect(rect), id, Sense::hover())
                        .widget_info(|| {
                            egui::WidgetInfo::labeled(egui::WidgetType::Button, true, &label)
                        });
                }
            }
        }
        self.draw_gesture(&painter, positions, view, dark);
        let tip = hovered
            .filter(|_| matches!(self.gesture, Gesture::None))
            .map(|i| (overlay.tooltip)(i))
            .filter(|text| !text.is_empty());
        if let Some(text) = tip {
            egui::Tooltip::always_open(
                ui.ctx().clone(),
                ui.layer_id(),
                response.id.with("item-tip"),
                egui::PopupAnchor::Pointer,
            )
            .gap(12.0)
            .show(|ui| {
                ui.set_max_width(420.0);
                ui.label(egui::RichText::new(text).monospace());
            });
        }
        if !matches!(self.gesture, Gesture::None) {
            ui.ctx().request_repaint();
        }
        (response, actions)
    }

    /// Draws the boxes for which `include` holds, and the arrows for which
    /// `include_edge` holds; false when some were left out for being off screen.
    fn draw_layer(
        &mut self,
        ui: &Ui,
        shapes: &mut Vec<Shape>,
        layer: &Layer<'_>,
        include: &dyn Fn(usize) -> bool,
        include_edge: &dyn Fn(&crate::app::scene::Edge) -> bool,
    ) -> bool {
        let mut complete = self.draw_edges(shapes, layer, include_edge);
        for (i, item) in layer.scene.items.iter().enumerate() {
            if !include(i) {
                continue;
            }
            let center = (layer.place)(i);
            if !layer.visible.contains(center) {
                complete = false;
                continue;
            }
            let screen = Rect::from_center_size(
                layer.view.to_screen(center),
                vec2(ITEM_SIZE.0, ITEM_SIZE.1) * self.zoom,
            );
            let mark = if layer.overlay.errors.contains(&i) {
                Some(Color32::from_rgb(230, 60, 60))
            } else if layer.overlay.warnings.contains(&i) {
                Some(Color32::from_rgb(230, 170, 30))
            } else {
                None
            };
            let show_port = layer.selected[i] || layer.hovered == Some(i);
            self.draw_item(
                ui,
                shapes,
                item.kind,
                &item.name,
                &item.detail,
                screen,
                layer.selected[i],
                show_port,
                mark,
                layer.dark,
            );
        }
        complete
    }

    /// Everything the picture depends on besides the document and the pan.
    fn picture_key(
        &self,
        ui: &Ui,
        version: u64,
        rect: Rect,
        dark: bool,
        hovered: Option<usize>,
        moving: bool,
    ) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = rustc_hash::FxHasher::default();
        version.hash(&mut h);
        for f in [self.zoom, rect.min.x, rect.min.y, rect.max.x, rect.max.y] {
            f.to_bits().hash(&mut h);
        }
        ui.ctx().pixels_per_point().to_bits().hash(&mut h);
        ui.ctx().fonts(|f| f.font_image_size()).hash(&mut h);
        (dark, hovered, moving, &self.selection, &self.selected_edge).hash(&mut h);
        h.finish()
    }

    fn navigate(&mut self, ui: &Ui, response: &Response) {
        let Some(pointer) = response.hover_pos() else {
            return;
        };
        let (zoom_delta, scroll) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta()));
        if zoom_delta != 1.0 {
            self.zoom_about(response.rect, pointer, zoom_delta);
        } else if scroll != Vec2::ZERO {
            self.pan += scroll;
        }
    }

    /// Zooms by `factor`, keeping the canvas point under `anchor` in place.
    pub fn zoom_about(&mut self, rect: Rect, anchor: Pos2, factor: f32) {
        let view = self.view(rect);
        let under = view.to_canvas(anchor);
        self.zoom = (self.zoom * factor).clamp(0.05, 4.0);
        self.pan = anchor - rect.min - under.to_vec2() * self.zoom;
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_pointer(
        &mut self,
        ui: &Ui,
        response: &Response,
        scene: &Scene,
        positions: &[Pos2],
        view: View,
        check: ConnectCheck<'_>,
        actions: &mut Vec<CanvasAction>,
    ) {
        let modifiers = ui.input(|i| i.modifiers);
        let pointer = response.interact_pointer_pos().or(response.hover_pos());
        let hit = |p: Pos2| -> Option<usize> {
            let c = view.to_canvas(p);
            (0..scene.items.len())
                .rev()
                .find(|&i| item_rect(positions[i]).contains(c))
        };
        let port_hit = |p: Pos2| -> Option<usize> {
            let c = view.to_canvas(p);
            let radius = (9.0 / self.zoom).max(7.0);
            (0..scene.items.len())
                .rev()
                .find(|&i| port(positions[i]).distance(c) <= radius)
        };
        let middle = ui.input(|i| i.pointer.middle_down() || i.pointer.secondary_down());
        if response.drag_started() {
            let start = ui.input(|i| i.pointer.press_origin()).or(pointer);
            if let Some(start) = start {
                self.gesture = if middle {
                    Gesture::Panning
                } else if let Some(from) = port_hit(start) {
                    // Offer the allowed ends up front: by kind for every box, and in
                    // small designs also compiled (a compile per candidate); the box under
                    // the pointer is always judged in full.
                    self.connect_options = {
                        let thorough = scene.items.len() <= MAX_THOROUGH;
                        let from_key = &scene.items[from].key;
                        scene
                            .items
                            .iter()
                            .enumerate()
                            .filter(|(i, item)| {
                                *i != from && check(from_key, &item.key, thorough).is_ok()
                            })
                            .map(|(i, _)| i)
                            .collect()
                    };
                    Gesture::Connecting {
                        from,
                        to: view.to_canvas(start),
                    }
                } else if let Some(i) = hit(start) {
                    let key = &scene.items[i].key;
                    if !self.selection.contains(key) {
                        if !(modifiers.shift || modifiers.command) {
                            self.selection.clear();
                        }
                        self.selection.insert(key.clone());
                        self.selected_edge = None;
                        actions.push(CanvasAction::Selected);
                    }
                    Gesture::Moving { offset: Vec2::ZERO }
                } else {
                    let c = view.to_canvas(start);
                    Gesture::Band {
                        start: c,
                        end: c,
                        add: modifiers.shift || modifiers.command,
                    }
                };
            }
        }
        if response.dragged() {
            let delta = response.drag_delta();
            match &mut self.gesture {
                Gesture::Panning => self.pan += delta,
                Gesture::Moving { offset } => *offset += delta / self.zoom,
                Gesture::Connecting { to, from } => {
                    if let Some(p) = pointer {
                        *to = view.to_canvas(p);
                        let from = *from;
                        match hit(p) {
                            Some(target) if target != from => {
                                if self
                                    .connect_verdict
                                    .as_ref()
                                    .is_none_or(|(t, _)| *t != target)
                                {
                                    let verdict = check(
                                        &scene.items[from].key,
                                        &scene.items[target].key,
                                        true,
                                    );
                                    self.connect_verdict = Some((target, verdict));
                                }
                            }
                            _ => self.connect_verdict = None,
                        }
                    }
                }
                Gesture::Band { end, .. } => {
                    if let Some(p) = pointer {
                        *end = view.to_canvas(p);
                    }
                }
                Gesture::None => {}
            }
        }
        if response.drag_stopped() {
            match std::mem::take(&mut self.gesture) {
                Gesture::Moving { offset } if offset.length() > 0.0 => {
                    let moves = scene
                        .items
                        .iter()
                        .enumerate()
                        .filter(|(_, item)| self.selection.contains(&item.key))
                        .map(|(i, item)| (item.key.clone(), positions[i] + offset))
                        .collect();
                    actions.push(CanvasAction::Move(moves));
                }
                Gesture::Connecting { from, .. } => match self.connect_verdict.take() {
                    Some((to, Ok(_))) => {
                        actions.push(CanvasAction::Connect(
                            scene.items[from].key.clone(),
                            scene.items[to].key.clone(),
                        ));
                        self.hint = None;
                    }
                    Some((_, Err(reason))) => self.hint = Some(reason),
                    None => {}
                },
                Gesture::Band { start, end, add } => {
                    let band = Rect::from_two_pos(start, end);
                    if !add {
                        self.selection.clear();
                    }
                    for (i, item) in scene.items.iter().enumerate() {
                        if band.intersects(item_rect(positions[i])) {
                            self.selection.insert(item.key.clone());
                        }
                    }
                    self.selected_edge = None;
                    actions.push(CanvasAction::Selected);
                }
                _ => {}
            }
            self.connect_verdict = None;
        }
        if response.double_clicked()
            && let Some(p) = pointer
            && hit(p).is_none()
        {
            self.fit_pending = true;
        }
        if response.clicked()
            && let Some(p) = pointer
        {
            self.click(p, modifiers, scene, positions, view, &hit);
            actions.push(CanvasAction::Selected);
        }
    }

    fn click(
        &mut self,
        p: Pos2,
        modifiers: egui::Modifiers,
        scene: &Scene,
        positions: &[Pos2],
        view: View,
        hit: &dyn Fn(Pos2) -> Option<usize>,
    ) {
        let toggle = modifiers.shift || modifiers.command;
        if let Some(i) = hit(p) {
            let key = scene.items[i].key.clone();
            if toggle {
                if !self.selection.remove(&key) {
                    self.selection.insert(key);
                }
            } else {
                self.selection = BTreeSet::from([key]);
            }
            self.selected_edge = None;
            return;
        }
        let c = view.to_canvas(p);
        let tolerance = 6.0 / self.zoom;
        let edge = scene.edges.iter().find(|e| {
            let (a, b) = (positions[e.from], positions[e.to]);
            let points = edge_points(a, b);
            points
                .windows(2)
                .any(|w| distance_to_segment(c, w[0], w[1]) <= tolerance)
        });
        if !toggle {
            self.selection.clear();
        }
        self.selected_edge = edge.map(|e| EdgeRef {
            from: scene.items[e.from].key.clone(),
            to: scene.items[e.to].key.clone(),
            kind: e.kind,
        });
    }

    fn draw_grid(&self, shapes: &mut Vec<Shape>, rect: Rect, view: View, dark: bool) {
        let step = 50.0 * self.zoom;
        if step < 12.0 {
            return;
        }
        let color = if dark {
            Color32::from_white_alpha(10)
        } else {
            Color32::from_black_alpha(14)
        };
        let origin = view.to_screen(Pos2::ZERO);
        let mut x = rect.left() + (origin.x - rect.left()).rem_euclid(step);
        while x < rect.right() {
            shapes.push(Shape::line_segment(
                [pos2(x, rect.top()), pos2(x, rect.bottom())],
                Stroke::new(1.0, color),
            ));
            x += step;
        }
        let mut y = rect.top() + (origin.y - rect.top()).rem_euclid(step);
        while y < rect.bottom() {
            shapes.push(Shape::line_segment(
                [pos2(rect.left(), y), pos2(rect.right(), y)],
                Stroke::new(1.0, color),
            ));
            y += step;
        }
    }

    fn draw_groups(
        &mut self,
        ui: &Ui,
        shapes: &mut Vec<Shape>,
        scene: &Scene,
        place: &dyn Fn(usize) -> Pos2,
        view: View,
        dark: bool,
    ) {
        let mut groups: std::collections::BTreeMap<&Group, Rect> =
            std::collections::BTreeMap::new();
        for (i, item) in scene.items.iter().enumerate() {
            let r = item_rect(place(i));
            groups
                .entry(&item.group)
                .and_modify(|b| *b = b.union(r))
                .or_insert(r);
        }
        if groups.len() < 2 {
            return;
        }
        let stroke = if dark {
            Color32::from_white_alpha(60)
        } else {
            Color32::from_black_alpha(70)
        };
        let fill = if dark {
            Color32::from_white_alpha(6)
        } else {
            Color32::from_black_alpha(8)
        };
        for (group, bounds) in groups {
            let screen = Rect::from_min_max(
                view.to_screen(bounds.min - vec2(20.0, 34.0)),
                view.to_screen(bounds.max + vec2(20.0, 20.0)),
            );
            shapes.push(Shape::Rect(egui::epaint::RectShape::new(
                screen,
                CornerRadius::same(8),
                fill,
                Stroke::new(1.0, stroke),
                StrokeKind::Inside,
            )));
            // Group names stay readable when zoomed out (the box grows with the design).
            let size = (13.0 * self.zoom).max(10.0);
            {
                let text = format!("account {} · {}", group.account, group.region);
                let color = ui.visuals().weak_text_color();
                let galley = self.labels.get(ui, &text, 3, size, color, f32::INFINITY);
                shapes.push(Shape::galley(
                    screen.min + vec2(8.0, 6.0) * self.zoom,
                    galley,
                    color,
                ));
            }
        }
    }

    /// Draws the arrows in view for which `include` holds; false when some were left
    /// out for being off screen.
    fn draw_edges(
        &self,
        shapes: &mut Vec<Shape>,
        layer: &Layer<'_>,
        include: &dyn Fn(&crate::app::scene::Edge) -> bool,
    ) -> bool {
        let Layer {
            scene,
            place,
            view,
            visible,
            dark,
            ..
        } = *layer;
        let normal = if dark {
            Color32::from_gray(150)
        } else {
            Color32::from_gray(95)
        };
        let mut complete = true;
        for edge in scene.edges.iter().filter(|e| include(e)) {
            let (a, b) = (place(edge.from), place(edge.to));
            if !visible.contains(a)
                && !visible.contains(b)
                && !visible.intersects(Rect::from_two_pos(a, b))
            {
                complete = false;
                continue;
            }
            let selected = self.selected_edge.as_ref().is_some_and(|s| {
                s.kind == edge.kind
                    && s.from == scene.items[edge.from].key
                    && s.to == scene.items[edge.to].key
            });
            let (color, width) = match edge.kind {
                EdgeKind::DeadLetter => (Color32::from_rgb(220, 80, 80), 1.3),
                EdgeKind::Owns => (normal.gamma_multiply(0.7), 1.2),
                _ => (normal, 1.6),
            };
            let (color, width) = if selected {
                (Color32::from_rgb(60, 150, 255), width + 1.5)
            } else {
                (color, width)
            };
            // Curves get a segment per ~40 screen points (2–8), enough to look smooth.
            let steps = (((b - a).length() * self.zoom / 40.0) as usize).clamp(2, 8);
            let mut points = edge_path(a, b, steps);
            for p in &mut points {
                *p = view.to_screen(*p);
            }
            let stroke = Stroke::new(width * self.zoom.max(0.5), color);
            if edge.kind.is_dead_letter() {
                shapes.extend(Shape::dashed_line(
                    &points,
                    stroke,
                    6.0 * self.zoom,
                    4.0 * self.zoom,
                ));
            } else {
                shapes.push(Shape::line(points.clone(), stroke));
            }
            if let [.., before, tip] = points.as_slice() {
                let dir = (*tip - *before).normalized();
                let size = 8.0 * self.zoom;
                let side = vec2(-dir.y, dir.x) * size * 0.5;
                shapes.push(Shape::convex_polygon(
                    vec![*tip, *tip - dir * size + side, *tip - dir * size - side],
                    color,
                    Stroke::NONE,
                ));
            }
        }
        complete
    }

    #[allow(clippy::too_many_arguments)]
    fn draw_item(
        &mut self,
        ui: &Ui,
        out: &mut Vec<Shape>,
        kind: ItemKind,
        name: &str,
        detail: &str,
        rect: Rect,
        selected: bool,
        show_port: bool,
        mark: Option<Color32>,
        dark: bool,
    ) {
        let z = self.zoom;
        // Far out, boxes are small: plain shapes, no icons or handles (keeps big designs fast).
        let compact = z < 0.45;
        let accent = kind_color(kind, dark);
        let base = if dark {
            Color32::from_rgb(30, 33, 40)
        } else {
            Color32::from_rgb(252, 252, 253)
        };
        let fill = base.lerp_to_gamma(accent, if dark { 0.16 } else { 0.10 });
        let radius = match kind {
            _ if compact => 2.0,
            ItemKind::Producer => rect.height() / 2.0,
            ItemKind::Topic | ItemKind::Subscription => 10.0 * z,
            ItemKind::Consumer => 6.0 * z,
            _ => 3.0 * z,
        };
        let stroke = if selected {
            Stroke::new(3.0 * z.max(0.6), Color32::from_rgb(60, 150, 255))
        } else {
            Stroke::new(1.5 * z.max(0.5), accent)
        };
        let cr = CornerRadius::same(radius.min(255.0) as u8);
        if kind == ItemKind::Rule {
            let c = 12.0 * z;
            let points = vec![
                pos2(rect.left() + c, rect.top()),
                pos2(rect.right() - c, rect.top()),
                pos2(rect.right(), rect.center().y),
                pos2(rect.right() - c, rect.bottom()),
                pos2(rect.left() + c, rect.bottom()),
                pos2(rect.left(), rect.center().y),
            ];
            out.push(Shape::convex_polygon(points, fill, stroke));
        } else {
            out.push(Shape::Rect(egui::epaint::RectShape::new(
                rect,
                cr,
                fill,
                stroke,
                StrokeKind::Inside,
            )));
        }
        if !compact {
            decorate(out, kind, rect, z, accent);
        }
        if z < 0.2 {
            return;
        }
        let text = ui.visuals().strong_text_color();
        let weak = ui.visuals().weak_text_color();
        let left = rect.left()
            + if kind == ItemKind::Producer {
                14.0
            } else {
                10.0
            } * z;
        if !compact {
            let icon = self
                .labels
                .get(ui, kind_icon(kind), 0, 16.0 * z, accent, f32::INFINITY);
            out.push(Shape::galley(
                pos2(left, rect.center().y - icon.size().y / 2.0),
                icon,
                accent,
            ));
        }
        let text_left = left + if compact { 0.0 } else { 24.0 * z };
        let room = rect.right() - text_left - 8.0 * z;
        let name_galley = self.labels.get(ui, name, 1, 13.5 * z, text, room);
        let detail_galley = (!detail.is_empty() && z >= 0.5)
            .then(|| self.labels.get(ui, detail, 2, 10.5 * z, weak, room));
        let total = name_galley.size().y + detail_galley.as_ref().map_or(0.0, |g| g.size().y);
        let mut y = rect.center().y - total / 2.0;
        out.push(Shape::galley(pos2(text_left, y), name_galley.clone(), text));
        y += name_galley.size().y;
        if let Some(g) = detail_galley {
            out.push(Shape::galley(pos2(text_left, y), g, weak));
        }
        if let Some(mark) = mark {
            let c = rect.right_top() + vec2(-2.0, 2.0) * z;
            out.push(Shape::circle_filled(c, 7.0 * z, mark));
            let bang = self
                .labels
                .get(ui, "!", 4, 11.0 * z, Color32::WHITE, f32::INFINITY);
            out.push(Shape::galley(c - bang.size() / 2.0, bang, Color32::WHITE));
        }
        if show_port && !compact && !matches!(kind, ItemKind::Consumer | ItemKind::Archive) {
            out.push(Shape::Circle(egui::epaint::CircleShape {
                center: rect.right_center(),
                radius: 4.5 * z.max(0.7),
                fill: base,
                stroke: Stroke::new(1.5 * z.max(0.5), accent),
            }));
        }
    }

    fn draw_gesture(&self, painter: &egui::Painter, positions: &[Pos2], view: View, dark: bool) {
        match &self.gesture {
            Gesture::Band { start, end, .. } => {
                let r = Rect::from_two_pos(view.to_screen(*start), view.to_screen(*end));
                painter.rect(
                    r,
                    CornerRadius::ZERO,
                    Color32::from_rgba_unmultiplied(60, 150, 255, 30),
                    Stroke::new(1.0, Color32::from_rgb(60, 150, 255)),
                    StrokeKind::Inside,
                );
            }
            Gesture::Connecting { from, to } => {
                let halo = Color32::from_rgba_unmultiplied(40, 180, 90, 90);
                for &i in &self.connect_options {
                    let r = Rect::from_center_size(
                        view.to_screen(positions[i]),
                        vec2(ITEM_SIZE.0, ITEM_SIZE.1) * self.zoom,
                    );
                    painter.rect_stroke(
                        r.expand(2.0),
                        CornerRadius::same(6),
                        Stroke::new(3.0, halo),
                        StrokeKind::Outside,
                    );
                }
                let (color, label) = match &self.connect_verdict {
                    Some((_, Ok(what))) => (Color32::from_rgb(40, 180, 90), what.clone()),
                    Some((_, Err(why))) => (Color32::from_rgb(220, 70, 70), why.clone()),
                    None => (
                        if dark {
                            Color32::LIGHT_GRAY
                        } else {
                            Color32::DARK_GRAY
                        },
                        String::new(),
                    ),
                };
                let a = view.to_screen(port(positions[*from]));
                let b = view.to_screen(*to);
                painter.arrow(a, b - a, Stroke::new(2.0, color));
                if let Some((target, _)) = &self.connect_verdict {
                    let r = Rect::from_center_size(
                        view.to_screen(positions[*target]),
                        vec2(ITEM_SIZE.0, ITEM_SIZE.1) * self.zoom,
                    );
                    painter.rect_stroke(
                        r.expand(3.0),
                        CornerRadius::same(6),
                        Stroke::new(2.5, color),
                        StrokeKind::Outside,
                    );
                }
                if !label.is_empty() {
                    painter.text(
                        b + vec2(12.0, 12.0),
                        Align2::LEFT_TOP,
                        label,
                        FontId::proportional(13.0),
                        color,
                    );
                }
            }
            _ => {}
        }
    }
}

/// The small marks that tell kinds apart beyond colour: a bus's rails, a queue's slots,
/// an archive's lid.
fn decorate(out: &mut Vec<Shape>, kind: ItemKind, rect: Rect, z: f32, accent: Color32) {
    let thin = Stroke::new(1.0 * z.max(0.5), accent.gamma_multiply(0.8));
    match kind {
        ItemKind::Bus => {
            let y1 = rect.top() + 5.0 * z;
            let y2 = rect.bottom() - 5.0 * z;
            out.push(Shape::line_segment(
                [
                    pos2(rect.left() + 6.0 * z, y1),
                    pos2(rect.right() - 6.0 * z, y1),
                ],
                thin,
            ));
            out.push(Shape::line_segment(
                [
                    pos2(rect.left() + 6.0 * z, y2),
                    pos2(rect.right() - 6.0 * z, y2),
                ],
                thin,
            ));
        }
        ItemKind::Queue => {
            for k in 1..=3 {
                let x = rect.right() - (6.0 + 7.0 * k as f32) * z;
                out.push(Shape::line_segment(
                    [
                        pos2(x, rect.top() + 8.0 * z),
                        pos2(x, rect.bottom() - 8.0 * z),
                    ],
                    thin,
                ));
            }
        }
        ItemKind::Archive => {
            let y = rect.top() + 9.0 * z;
            out.push(Shape::line_segment(
                [pos2(rect.left(), y), pos2(rect.right(), y)],
                thin,
            ));
        }
        _ => {}
    }
}

/// Tessellates the canvas's shapes into one mesh, as egui would at the end of the frame,
/// leaving out shapes outside `clip`; `hint` is the previous mesh's size, so the buffers
/// do not grow by copying.
fn tessellate(ui: &Ui, shapes: Vec<Shape>, clip: Rect, hint: (usize, usize)) -> egui::epaint::Mesh {
    let ctx = ui.ctx();
    let options = ctx.tessellation_options(|o| *o);
    let atlas = ctx.fonts(|f| f.font_image_size());
    let mut tessellator =
        egui::epaint::Tessellator::new(ctx.pixels_per_point(), options, atlas, Vec::new());
    tessellator.set_clip_rect(clip);
    let mut mesh = egui::epaint::Mesh::default();
    mesh.vertices.reserve(hint.0 + hint.0 / 8);
    mesh.indices.reserve(hint.1 + hint.1 / 8);
    for shape in shapes {
        tessellator.tessellate_shape(shape, &mut mesh);
    }
    mesh
}

fn canvas_background(dark: bool) -> Color32 {
    if dark {
        Color32::from_rgb(22, 24, 29)
    } else {
        Color32::from_rgb(242, 243, 246)
    }
}

/// The polyline of an arrow from box centre `a` to box centre `b` (canvas space):
/// a smooth S-curve from the right side of `a` to the left side of `b` when `b` is to
/// the right, otherwise a straight line between the box edges.
pub fn edge_points(a: Pos2, b: Pos2) -> Vec<Pos2> {
    edge_path(a, b, 10)
}

/// [`edge_points`] with `steps` segments for the curve (fewer when it is short on screen).
fn edge_path(a: Pos2, b: Pos2, steps: usize) -> Vec<Pos2> {
    let half = vec2(ITEM_SIZE.0 / 2.0, ITEM_SIZE.1 / 2.0);
    if b.x - a.x > ITEM_SIZE.0 {
        let start = a + vec2(half.x, 0.0);
        let end = b - vec2(half.x + 1.0, 0.0);
        let dx = (end.x - start.x) * 0.5;
        let (c1, c2) = (start + vec2(dx, 0.0), end - vec2(dx, 0.0));
        let steps = steps.max(1);
        (0..=steps)
            .map(|k| {
                let t = k as f32 / steps as f32;
                let u = 1.0 - t;
                let p = start.to_vec2() * (u * u * u)
                    + c1.to_vec2() * (3.0 * u * u * t)
                    + c2.to_vec2() * (3.0 * u * t * t)
                    + end.to_vec2() * (t * t * t);
                p.to_pos2()
            })
            .collect()
    } else {
        let d = b - a;
        let clip = |d: Vec2| -> Vec2 {
            let sx = if d.x.abs() > 1e-3 {
                half.x / d.x.abs()
            } else {
                f32::INFINITY
            };
            let sy = if d.y.abs() > 1e-3 {
                half.y / d.y.abs()
            } else {
                f32::INFINITY
            };
            d * sx.min(sy).min(1.0)
        };
        vec![a + clip(d), b - clip(d) - d.normalized() * 1.0]
    }
}

fn distance_to_segment(p: Pos2, a: Pos2, b: Pos2) -> f32 {
    let ab = b - a;
    let t = if ab.length_sq() > 0.0 {
        ((p - a).dot(ab) / ab.length_sq()).clamp(0.0, 1.0)
    } else {
        0.0
    };
    p.distance(a + ab * t)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn view_round_trips() {
        let c = Canvas {
            pan: vec2(10.0, 20.0),
            zoom: 2.0,
            ..Canvas::default()
        };
        let v = c.view(Rect::from_min_size(pos2(5.0, 5.0), vec2(100.0, 100.0)));
        let p = pos2(33.0, -7.0);
        assert!((v.to_canvas(v.to_screen(p)) - p).length() < 1e-4);
    }

    #[test]
    fn fit_shows_every_box() {
        let mut c = Canvas::default();
        let rect = Rect::from_min_size(Pos2::ZERO, vec2(800.0, 600.0));
        let positions = [pos2(0.0, 0.0), pos2(2000.0, 900.0)];
        c.fit(rect, &positions);
        let v = c.view(rect);
        for p in positions {
            assert!(rect.contains(v.to_screen(item_rect(p).min)));
            assert!(rect.contains(v.to_screen(item_rect(p).max)));
        }
    }

    #[test]
    fn arrows_start_and_end_outside_the_boxes() {
        for (a, b) in [
            (pos2(0.0, 0.0), pos2(400.0, 50.0)),
            (pos2(0.0, 0.0), pos2(0.0, 200.0)),
        ] {
            let points = edge_points(a, b);
            let first = points[0];
            let last = points[points.len() - 1];
            assert!(!item_rect(a).shrink(0.5).contains(first));
            assert!(!item_rect(b).shrink(0.5).contains(last));
        }
    }
}
