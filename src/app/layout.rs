//! Automatic left-to-right layout of the design canvas: producers in the first column,
//! routers (buses, rules, topics, subscriptions) in the middle, queues and consumers to
//! the right.
//!
//! How [`auto_layout`] works:
//! - **Columns.** An item's column is its longest path from a source over the scene's
//!   arrows. Dead-letter arrows count only for items nothing else feeds (dead-letter
//!   queues), which therefore land one column right of what fails into them; arrows into
//!   producers and self-loops are ignored, so producers are always in column 0 (and alone
//!   there). Cycles (buses forwarding to each other) are broken deterministically: a
//!   depth-first search from the producers, then the other sources, then everything left,
//!   in scene order, drops its back arrows before the longest paths are computed. Items
//!   without any arrow go to a column by kind; empty columns are removed.
//! - **Groups.** Each account/region [`Group`] gets one band, the same in every column it
//!   spans, as tall as its fullest column. Bands are ordered by first column, then group,
//!   and stacked like a skyline: a band sits [`GROUP_GAP`] below every earlier band whose
//!   columns overlap its own, so the labelled group frames the canvas draws never
//!   overlap or interleave, and groups with disjoint columns may sit side by side.
//! - **Order.** Within a column, a group's items are reordered by a few barycentre sweeps
//!   (left to right over predecessors, right to left over successors) to reduce
//!   crossings; ties go by key, and dead-letter queues and archives sink to the bottom
//!   of their group.
//! - **Rows.** Each column's boxes are then slid inside their band (keeping their order,
//!   at least [`ROW_STEP`] apart, on half-row steps) to line up with the mean of their
//!   neighbours in the same group, alternating directions a few times.
//!
//! Everything here is deterministic (no hash-order iteration, no randomness) and
//! egui-free; positions are box centres in canvas units, keyed like the file's `layout`.

use std::collections::{BTreeMap, HashMap};

use crate::app::scene::{Group, ItemKey, ItemKind, Scene};
use crate::model::Position;

/// Size of a box on the canvas, canvas units `(width, height)`; the canvas draws boxes
/// this big.
pub const ITEM_SIZE: (f32, f32) = (150.0, 48.0);
/// Horizontal distance between the centres of neighbouring columns (box width plus gap).
pub const COLUMN_STEP: f32 = 230.0;
/// Vertical distance between the centres of neighbouring rows of one group.
pub const ROW_STEP: f32 = 80.0;
/// Smallest vertical gap between the boxes of two groups whose columns overlap: room for
/// the group frames and their labels.
pub const GROUP_GAP: f32 = 64.0;

/// Distance of the laid-out boxes' top-left edges from the canvas origin.
const MARGIN: f32 = 40.0;
/// Space [`place_new`] keeps between a new box and the existing ones.
const CLEARANCE: f32 = 16.0;
/// Barycentre sweep pairs (left to right, right to left) ordering the columns.
const ORDER_SWEEPS: usize = 4;
/// Alignment pass pairs sliding boxes towards their neighbours.
const ALIGN_SWEEPS: usize = 3;

/// Lays out every item of `scene` left to right: producers, then routers, then
/// consumers, each account/region group in its own band.
///
/// Returns the centre of every item's box, keyed by item key; the same scene always
/// gives the same positions. No two boxes ([`ITEM_SIZE`]) overlap, every arrow except
/// those closing a cycle points right, and group bounding boxes are apart (at least
/// [`GROUP_GAP`] vertically where their columns overlap).
pub fn auto_layout(scene: &Scene) -> BTreeMap<ItemKey, Position> {
    let n = scene.items.len();
    let mut out = BTreeMap::new();
    if n == 0 {
        return out;
    }
    let graph = Graph::new(scene);
    let (layer, found) = layers(scene, &graph);
    let columns_count = layer.iter().max().map_or(0, |&l| l + 1);

    // Groups: ranked by first column, then group; each with its column span.
    let mut spans: BTreeMap<&Group, (usize, usize)> = BTreeMap::new();
    for (item, &l) in scene.items.iter().zip(&layer) {
        spans
            .entry(&item.group)
            .and_modify(|s| *s = (s.0.min(l), s.1.max(l)))
            .or_insert((l, l));
    }
    let mut groups: Vec<(&Group, (usize, usize))> = spans.into_iter().collect();
    groups.sort_by(|a, b| a.1.0.cmp(&b.1.0).then_with(|| a.0.cmp(b.0)));
    let rank: BTreeMap<&Group, usize> = groups.iter().enumerate().map(|(r, g)| (g.0, r)).collect();
    let group_of: Vec<usize> = scene.items.iter().map(|item| rank[&item.group]).collect();

    // Columns, each sorted so a group's items are contiguous (initially in depth-first
    // order, which already untangles trees).
    let mut columns: Vec<Vec<usize>> = vec![Vec::new(); columns_count];
    for (v, &l) in layer.iter().enumerate() {
        columns[l].push(v);
    }
    for column in &mut columns {
        column.sort_by_key(|&v| (group_of[v], graph.side[v], found[v]));
    }

    // Band heights (rows) and tops (canvas units, box edges), stacked like a skyline.
    let mut height = vec![0usize; groups.len()];
    for column in &columns {
        for run in runs(column, &group_of) {
            let g = group_of[run[0]];
            height[g] = height[g].max(run.len());
        }
    }
    let mut skyline: Vec<Option<f32>> = vec![None; columns_count];
    let mut band_top = vec![0.0f32; groups.len()];
    for (g, &(_, (first, last))) in groups.iter().enumerate() {
        let top = skyline[first..=last]
            .iter()
            .flatten()
            .map(|bottom| bottom + GROUP_GAP)
            .fold(0.0f32, f32::max);
        band_top[g] = top;
        let bottom = top + (height[g].saturating_sub(1)) as f32 * ROW_STEP + ITEM_SIZE.1;
        for slot in &mut skyline[first..=last] {
            *slot = Some(bottom);
        }
    }

    // Order within columns: barycentre sweeps over estimated heights, keeping the order
    // with the fewest crossings.
    let mut row = vec![0.0f32; n];
    for column in &columns {
        centre_runs(column, &group_of, &height, &mut row);
    }
    let estimate = |v: usize, row: &[f32]| band_top[group_of[v]] + row[v] * ROW_STEP;
    let counter = CrossingCounter::new(&graph, &layer, columns_count);
    let mut best = (counter.count(|v| estimate(v, &row)), columns.clone());
    let mut bary = vec![0.0f32; n];
    for _ in 0..ORDER_SWEEPS {
        for forward in [true, false] {
            if best.0 == 0 {
                break;
            }
            let order: Vec<usize> = if forward {
                (1..columns_count).collect()
            } else {
                (0..columns_count.saturating_sub(1)).rev().collect()
            };
            for l in order {
                for &v in &columns[l] {
                    let (mut sum, mut count) = (0.0f32, 0usize);
                    for u in graph.pulls(v) {
                        if layer[u] != l && (layer[u] < l) == forward {
                            sum += estimate(u, &row);
                            count += 1;
                        }
                    }
                    bary[v] = if count == 0 {
                        estimate(v, &row)
                    } else {
                        sum / count as f32
                    };
                }
                columns[l].sort_by(|&a, &b| {
                    (group_of[a], graph.side[a])
                        .cmp(&(group_of[b], graph.side[b]))
                        .then_with(|| bary[a].total_cmp(&bary[b]))
                        .then_with(|| scene.items[a].key.cmp(&scene.items[b].key))
                });
                centre_runs(&columns[l], &group_of, &height, &mut row);
            }
            let crossings = counter.count(|v| estimate(v, &row));
            if crossings < best.0 {
                best = (crossings, columns.clone());
            }
        }
    }
    let columns = best.1;
    for column in &columns {
        centre_runs(column, &group_of, &height, &mut row);
    }

    // Rows: slide boxes inside their band towards their same-group neighbours.
    let mut desired = Vec::new();
    for sweep in 0..ALIGN_SWEEPS * 2 {
        let forward = sweep % 2 == 0;
        for step in 0..columns_count {
            let l = if forward {
                step
            } else {
                columns_count - 1 - step
            };
            for run in runs(&columns[l], &group_of) {
                desired.clear();
                for &v in run {
                    let (mut sum, mut count) = (0.0f32, 0usize);
                    for u in graph.pulls(v) {
                        let before = layer[u] < l;
                        if group_of[u] == group_of[v] && layer[u] != l && before == forward {
                            sum += row[u];
                            count += 1;
                        }
                    }
                    desired.push(if count == 0 {
                        row[v]
                    } else {
                        sum / count as f32
                    });
                }
                let packed = pack(&desired, height[group_of[run[0]]]);
                for (&v, r) in run.iter().zip(packed) {
                    row[v] = r;
                }
            }
        }
    }

    for (v, item) in scene.items.iter().enumerate() {
        let position = Position {
            x: MARGIN + ITEM_SIZE.0 / 2.0 + layer[v] as f32 * COLUMN_STEP,
            y: MARGIN + ITEM_SIZE.1 / 2.0 + band_top[group_of[v]] + row[v] * ROW_STEP,
        };
        out.insert(item.key.clone(), position);
    }
    out
}

/// A free spot for the newly added item `key`, near where it belongs: right of its
/// upstream item (or else left of its downstream one), the nearest free row above or
/// below, if either has a position; otherwise the first free row, from the top down, in
/// the column of its kind's existing boxes (or its kind's usual column).
///
/// The spot keeps a small clearance from every box in `existing` (non-finite positions
/// aside); a position `existing` already holds for `key` itself is ignored. A key that
/// is not in the scene gets a free spot in the first column.
pub fn place_new(scene: &Scene, existing: &BTreeMap<ItemKey, Position>, key: &ItemKey) -> Position {
    Placer::new(scene, existing, Some(key)).spot(scene.find(key))
}

/// Positions for the scene's items that have none in `existing` (only those; existing
/// positions are left as they are).
///
/// If no item of the scene has a position yet, this is [`auto_layout`]. Otherwise each
/// missing item is placed like [`place_new`] would, seeing the items placed before it:
/// in column order of the automatic layout (so a new queue is placed before the new
/// consumer pulling from it), ties in scene order. Deterministic.
pub fn fill_missing(
    scene: &Scene,
    existing: &BTreeMap<ItemKey, Position>,
) -> BTreeMap<ItemKey, Position> {
    if !scene
        .items
        .iter()
        .any(|item| existing.contains_key(&item.key))
    {
        return auto_layout(scene);
    }
    let (layer, _) = layers(scene, &Graph::new(scene));
    let mut missing: Vec<usize> = (0..scene.items.len())
        .filter(|&v| !existing.contains_key(&scene.items[v].key))
        .collect();
    missing.sort_by_key(|&v| (layer[v], v));
    let mut placer = Placer::new(scene, existing, None);
    let mut out = BTreeMap::new();
    for v in missing {
        let position = placer.spot(Some(v));
        placer.occupy(Some(v), position);
        out.insert(scene.items[v].key.clone(), position);
    }
    out
}

/// The arrows that shape the layout and what they say about each item.
struct Graph {
    /// `(from, to)`: every arrow except self-loops, arrows into producers and dead-letter
    /// arrows into items that something else feeds.
    edges: Vec<(usize, usize)>,
    /// Start of each item's neighbours in `adjacent` (one past the end for the last).
    adjacent_start: Vec<usize>,
    /// Neighbours over `edges`, either direction.
    adjacent: Vec<usize>,
    /// Drawn at the bottom of their group in a column: dead-letter queues and archives.
    side: Vec<bool>,
    /// Pulled by every neighbour (see [`Graph::pulls`]): side items, and items whose
    /// neighbours are all side items.
    pulled_by_all: Vec<bool>,
}

impl Graph {
    fn new(scene: &Scene) -> Graph {
        let n = scene.items.len();
        let valid = |from: usize, to: usize| from != to && from < n && to < n;
        let mut fed = vec![false; n];
        let mut dead_letter_in = vec![false; n];
        for e in scene.edges.iter().filter(|e| valid(e.from, e.to)) {
            if e.kind.is_dead_letter() {
                dead_letter_in[e.to] = true;
            } else {
                fed[e.to] = true;
            }
        }
        let edges: Vec<(usize, usize)> = scene
            .edges
            .iter()
            .filter(|e| valid(e.from, e.to))
            .filter(|e| scene.items[e.to].kind != ItemKind::Producer)
            .filter(|e| !(e.kind.is_dead_letter() && fed[e.to]))
            .map(|e| (e.from, e.to))
            .collect();
        let side: Vec<bool> = (0..n)
            .map(|v| (dead_letter_in[v] && !fed[v]) || scene.items[v].kind == ItemKind::Archive)
            .collect();
        let (adjacent_start, adjacent) = csr(n, edges.iter().flat_map(|&(a, b)| [(a, b), (b, a)]));
        let pulled_by_all = (0..n)
            .map(|v| {
                let neighbours = &adjacent[adjacent_start[v]..adjacent_start[v + 1]];
                side[v] || neighbours.iter().all(|&u| side[u])
            })
            .collect();
        Graph {
            edges,
            adjacent_start,
            adjacent,
            side,
            pulled_by_all,
        }
    }

    fn neighbours(&self, v: usize) -> &[usize] {
        &self.adjacent[self.adjacent_start[v]..self.adjacent_start[v + 1]]
    }

    /// The neighbours that pull `v` towards them when ordering and aligning: the non-side
    /// ones (a rule is not dragged down to the dead-letter queue at the bottom of the
    /// next column), or all of them if `v` is a side item or has only side neighbours.
    fn pulls(&self, v: usize) -> impl Iterator<Item = usize> + '_ {
        let all = self.pulled_by_all[v];
        self.neighbours(v)
            .iter()
            .copied()
            .filter(move |&u| all || !self.side[u])
    }
}

/// Compressed adjacency: `(start, values)` with `values[start[a]..start[a + 1]]` the `b`s
/// of the pairs `(a, b)`, in the pairs' order.
fn csr(n: usize, pairs: impl Iterator<Item = (usize, usize)> + Clone) -> (Vec<usize>, Vec<usize>) {
    let mut start = vec![0usize; n + 1];
    for (a, _) in pairs.clone() {
        start[a + 1] += 1;
    }
    for i in 0..n {
        start[i + 1] += start[i];
    }
    let mut fill = start.clone();
    let mut values = vec![0usize; start[n]];
    for (a, b) in pairs {
        values[fill[a]] = b;
        fill[a] += 1;
    }
    (start, values)
}

/// Each item's column (longest path from a source after breaking cycles, producers in
/// column 0, unconnected items by kind, no empty columns) and its depth-first discovery
/// rank.
fn layers(scene: &Scene, graph: &Graph) -> (Vec<usize>, Vec<usize>) {
    let n = scene.items.len();
    let edges = &graph.edges;
    let (out_start, out) = csr(n, edges.iter().enumerate().map(|(e, &(from, _))| (from, e)));
    let is_producer = |v: usize| scene.items[v].kind == ItemKind::Producer;
    let connected = |v: usize| graph.adjacent_start[v + 1] > graph.adjacent_start[v];
    let mut indegree = vec![0usize; n];
    for &(_, to) in edges {
        indegree[to] += 1;
    }

    // Break cycles: a depth-first search (iterative) drops its back arrows.
    let mut back = vec![false; edges.len()];
    let mut state = vec![0u8; n]; // 0 unseen, 1 on the stack, 2 done
    let roots = (0..n)
        .filter(|&v| is_producer(v))
        .chain((0..n).filter(|&v| indegree[v] == 0))
        .chain(0..n);
    let mut stack: Vec<(usize, usize)> = Vec::new();
    let mut found = vec![0usize; n];
    let mut next_found = 0;
    for root in roots {
        if state[root] != 0 {
            continue;
        }
        state[root] = 1;
        found[root] = next_found;
        next_found += 1;
        stack.push((root, out_start[root]));
        while let Some(top) = stack.last_mut() {
            let (v, next) = *top;
            if next < out_start[v + 1] {
                top.1 += 1;
                let e = out[next];
                let w = edges[e].1;
                match state[w] {
                    0 => {
                        state[w] = 1;
                        found[w] = next_found;
                        next_found += 1;
                        stack.push((w, out_start[w]));
                    }
                    1 => back[e] = true,
                    _ => {}
                }
            } else {
                state[v] = 2;
                stack.pop();
            }
        }
    }

    // Longest paths over what is left (Kahn's order). Producers stay in column 0 (no
    // arrow into them counts); other connected items start in column 1 when there are
    // producers, so producers have the first column to themselves.
    let base = usize::from((0..n).any(is_producer));
    let mut layer: Vec<usize> = (0..n)
        .map(|v| if is_producer(v) { 0 } else { base })
        .collect();
    let mut remaining = vec![0usize; n];
    for (e, &(_, to)) in edges.iter().enumerate() {
        if !back[e] {
            remaining[to] += 1;
        }
    }
    let mut queue: Vec<usize> = (0..n).filter(|&v| remaining[v] == 0).collect();
    let mut head = 0;
    while head < queue.len() {
        let v = queue[head];
        head += 1;
        for &e in &out[out_start[v]..out_start[v + 1]] {
            if back[e] {
                continue;
            }
            let w = edges[e].1;
            layer[w] = layer[w].max(layer[v] + 1);
            remaining[w] -= 1;
            if remaining[w] == 0 {
                queue.push(w);
            }
        }
    }

    // Unconnected items: by kind (a lone consumer goes to the last column).
    let deepest = (0..n)
        .filter(|&v| connected(v))
        .map(|v| layer[v])
        .max()
        .unwrap_or(0);
    for v in (0..n).filter(|&v| !connected(v)) {
        layer[v] = match scene.items[v].kind {
            ItemKind::Producer => 0,
            ItemKind::Bus | ItemKind::Topic | ItemKind::Queue => base,
            ItemKind::Rule | ItemKind::Subscription => base + 1,
            ItemKind::Consumer | ItemKind::Archive => deepest.max(base + 1),
        };
    }

    // Drop empty columns (keeps every arrow's direction).
    let count = layer.iter().max().map_or(0, |&l| l + 1);
    let mut used = vec![false; count];
    for &l in &layer {
        used[l] = true;
    }
    let mut renumber = vec![0usize; count];
    let mut next = 0;
    for l in 0..count {
        renumber[l] = next;
        next += usize::from(used[l]);
    }
    for l in &mut layer {
        *l = renumber[*l];
    }
    (layer, found)
}

/// Counts crossings between the arrows joining neighbouring columns (those to and from
/// side items left out: those items sit at the bottom whatever the order).
struct CrossingCounter {
    /// Per gap between neighbouring columns, the arrows across it as `(left, right)`.
    gaps: Vec<Vec<(usize, usize)>>,
}

impl CrossingCounter {
    fn new(graph: &Graph, layer: &[usize], columns: usize) -> CrossingCounter {
        let mut gaps = vec![Vec::new(); columns.saturating_sub(1)];
        for &(a, b) in &graph.edges {
            let (a, b) = if layer[a] < layer[b] { (a, b) } else { (b, a) };
            if layer[b] == layer[a] + 1 && !graph.side[a] && !graph.side[b] {
                gaps[layer[a]].push((a, b));
            }
        }
        CrossingCounter { gaps }
    }

    /// Crossings with item `v` at height `y(v)`.
    fn count(&self, y: impl Fn(usize) -> f32) -> usize {
        let mut total = 0;
        let mut ends: Vec<(f32, f32)> = Vec::new();
        let mut right: Vec<f32> = Vec::new();
        let mut scratch: Vec<f32> = Vec::new();
        for gap in &self.gaps {
            ends.clear();
            ends.extend(gap.iter().map(|&(a, b)| (y(a), y(b))));
            ends.sort_by(|p, q| p.0.total_cmp(&q.0).then_with(|| p.1.total_cmp(&q.1)));
            right.clear();
            right.extend(ends.iter().map(|e| e.1));
            total += inversions(&mut right, &mut scratch);
        }
        total
    }
}

/// Pairs `i < j` with `values[i] > values[j]` (merge sort; sorts `values`).
fn inversions(values: &mut [f32], scratch: &mut Vec<f32>) -> usize {
    let n = values.len();
    if n < 2 {
        return 0;
    }
    let mid = n / 2;
    let mut count =
        inversions(&mut values[..mid], scratch) + inversions(&mut values[mid..], scratch);
    scratch.clear();
    let (mut i, mut j) = (0, mid);
    while i < mid && j < n {
        if values[j] < values[i] {
            scratch.push(values[j]);
            count += mid - i;
            j += 1;
        } else {
            scratch.push(values[i]);
            i += 1;
        }
    }
    scratch.extend_from_slice(&values[i..mid]);
    scratch.extend_from_slice(&values[j..]);
    values.copy_from_slice(scratch);
    count
}

/// The runs of one group's items in a column sorted by group.
fn runs<'a>(column: &'a [usize], group_of: &'a [usize]) -> impl Iterator<Item = &'a [usize]> + 'a {
    column.chunk_by(move |&a, &b| group_of[a] == group_of[b])
}

/// Rows of a column's items: each group's run centred in its band.
fn centre_runs(column: &[usize], group_of: &[usize], height: &[usize], row: &mut [f32]) {
    for run in runs(column, group_of) {
        let offset = (height[group_of[run[0]]] - run.len()) as f32 / 2.0;
        for (i, &v) in run.iter().enumerate() {
            row[v] = offset + i as f32;
        }
    }
}

/// Rows `p` closest (least squares) to `desired`, in the same order, at least one row
/// apart, within `0..=rows - 1`, on half-row steps.
///
/// With `q[i] = p[i] - i` the constraints become `q` non-decreasing within
/// `0..=rows - len`: isotonic regression (pool adjacent violators), then clamping.
fn pack(desired: &[f32], rows: usize) -> Vec<f32> {
    let max_shift = rows.saturating_sub(desired.len()) as f32;
    let mut blocks: Vec<(f32, usize)> = Vec::new();
    for (i, &d) in desired.iter().enumerate() {
        let (mut sum, mut count) = (d - i as f32, 1usize);
        while let Some(&(s, c)) = blocks.last() {
            if s / c as f32 > sum / count as f32 {
                sum += s;
                count += c;
                blocks.pop();
            } else {
                break;
            }
        }
        blocks.push((sum, count));
    }
    let mut rows_out = Vec::with_capacity(desired.len());
    for (sum, count) in blocks {
        let shift = (sum / count as f32).clamp(0.0, max_shift);
        let shift = if shift.is_finite() {
            (shift * 2.0).round() / 2.0
        } else {
            0.0
        };
        for _ in 0..count {
            let i = rows_out.len() as f32;
            rows_out.push(shift + i);
        }
    }
    rows_out
}

/// Grid cell size of the free-spot search: two boxes closer than this (centre to centre,
/// on both axes) are too close.
const CELL: (f32, f32) = (ITEM_SIZE.0 + CLEARANCE, ITEM_SIZE.1 + CLEARANCE);

/// Finds free spots among placed boxes.
struct Placer<'a> {
    scene: &'a Scene,
    /// Each item's position, if it has a usable (finite) one.
    at: Vec<Option<Position>>,
    /// Placed box centres by grid cell ([`CELL`]); looked up, never iterated.
    occupied: HashMap<(i64, i64), Vec<Position>>,
    /// Boxes in `occupied`.
    count: usize,
    /// Leftmost, topmost and bottommost centre in `occupied`.
    extent: Option<[f32; 3]>,
    /// Arrows into each item (indices into the scene's edges).
    incoming: Vec<Vec<usize>>,
    /// Arrows out of each item.
    outgoing: Vec<Vec<usize>>,
}

impl<'a> Placer<'a> {
    /// Boxes placed as in `existing` (scene items or not), except `skip`'s.
    fn new(
        scene: &'a Scene,
        existing: &BTreeMap<ItemKey, Position>,
        skip: Option<&ItemKey>,
    ) -> Placer<'a> {
        let n = scene.items.len();
        let mut placer = Placer {
            scene,
            at: vec![None; n],
            occupied: HashMap::new(),
            count: 0,
            extent: None,
            incoming: vec![Vec::new(); n],
            outgoing: vec![Vec::new(); n],
        };
        for (e, edge) in scene.edges.iter().enumerate() {
            if edge.from != edge.to && edge.from < n && edge.to < n {
                placer.outgoing[edge.from].push(e);
                placer.incoming[edge.to].push(e);
            }
        }
        for (key, &position) in existing {
            if Some(key) != skip {
                placer.occupy(scene.find(key), position);
            }
        }
        placer
    }

    /// Records a box at `position` (ignored unless finite), item `v`'s if known.
    fn occupy(&mut self, v: Option<usize>, position: Position) {
        if !(position.x.is_finite() && position.y.is_finite()) {
            return;
        }
        if let Some(slot) = v.and_then(|v| self.at.get_mut(v)) {
            *slot = Some(position);
        }
        self.occupied
            .entry(cell(position))
            .or_default()
            .push(position);
        self.count += 1;
        self.extent = Some(match self.extent {
            Some([left, top, bottom]) => [
                left.min(position.x),
                top.min(position.y),
                bottom.max(position.y),
            ],
            None => [position.x, position.y, position.y],
        });
    }

    /// Whether a box centred at `p` keeps its clearance from every placed box.
    fn is_free(&self, p: Position) -> bool {
        let (cx, cy) = cell(p);
        for dx in -1..=1 {
            for dy in -1..=1 {
                let Some(boxes) = self
                    .occupied
                    .get(&(cx.saturating_add(dx), cy.saturating_add(dy)))
                else {
                    continue;
                };
                if boxes
                    .iter()
                    .any(|q| (q.x - p.x).abs() < CELL.0 && (q.y - p.y).abs() < CELL.1)
                {
                    return false;
                }
            }
        }
        true
    }

    /// Where `v` would like to be, and whether to search both up and down from there
    /// (near a neighbour) or only down (in a kind's column).
    fn anchor(&self, v: Option<usize>) -> (Position, bool) {
        let edges = &self.scene.edges;
        if let Some(v) = v {
            for dead_letter in [false, true] {
                for &e in &self.incoming[v] {
                    if edges[e].kind.is_dead_letter() == dead_letter
                        && let Some(p) = self.at[edges[e].from]
                    {
                        return (
                            Position {
                                x: p.x + COLUMN_STEP,
                                y: p.y,
                            },
                            true,
                        );
                    }
                }
            }
            for &e in &self.outgoing[v] {
                if !edges[e].kind.is_dead_letter()
                    && let Some(p) = self.at[edges[e].to]
                {
                    return (
                        Position {
                            x: p.x - COLUMN_STEP,
                            y: p.y,
                        },
                        true,
                    );
                }
            }
            let kind = self.scene.items[v].kind;
            let mut same: Vec<Position> = self
                .at
                .iter()
                .zip(&self.scene.items)
                .filter(|(_, item)| item.kind == kind)
                .filter_map(|(p, _)| *p)
                .collect();
            if !same.is_empty() {
                same.sort_by(|a, b| a.x.total_cmp(&b.x));
                let x = same[same.len() / 2].x;
                let y = same.iter().map(|p| p.y).fold(f32::INFINITY, f32::min);
                return (Position { x, y }, false);
            }
        }
        let (left, top) = match self.extent {
            Some([left, top, _]) => (left, top),
            None => (MARGIN + ITEM_SIZE.0 / 2.0, MARGIN + ITEM_SIZE.1 / 2.0),
        };
        let column = v.map_or(0, |v| kind_column(self.scene.items[v].kind));
        (
            Position {
                x: left + column as f32 * COLUMN_STEP,
                y: top,
            },
            false,
        )
    }

    /// A free spot for `v` (or for an item the scene does not know, when `None`).
    fn spot(&self, v: Option<usize>) -> Position {
        let (anchor, both_ways) = self.anchor(v);
        // Each placed box blocks at most two candidates in one direction, so this many
        // steps always find a free one.
        let steps = 4 * self.count + 4;
        for step in 0..=steps {
            let rows = if both_ways {
                if step % 2 == 1 {
                    step.div_ceil(2) as f32
                } else {
                    -((step / 2) as f32)
                }
            } else {
                step as f32
            };
            let candidate = Position {
                x: anchor.x,
                y: anchor.y + rows * ROW_STEP,
            };
            if self.is_free(candidate) {
                return candidate;
            }
        }
        // Unreachable in practice; below everything is always free.
        let bottom = self
            .extent
            .map_or(anchor.y, |[_, _, bottom]| bottom.max(anchor.y));
        Position {
            x: anchor.x,
            y: bottom + CELL.1,
        }
    }
}

/// The grid cell of a box centre.
fn cell(p: Position) -> (i64, i64) {
    ((p.x / CELL.0).floor() as i64, (p.y / CELL.1).floor() as i64)
}

/// The column a kind usually takes in a simple design (producer, bus, rule, topic ...).
fn kind_column(kind: ItemKind) -> usize {
    match kind {
        ItemKind::Producer => 0,
        ItemKind::Bus | ItemKind::Topic => 1,
        ItemKind::Rule | ItemKind::Subscription | ItemKind::Archive => 2,
        ItemKind::Queue => 3,
        ItemKind::Consumer => 4,
    }
}

#[cfg(test)]
mod tests {
    use std::time::Instant;

    use serde_json::json;

    use super::*;
    use crate::app::scene::EdgeKind;
    use crate::model::{
        Archive, Bus, Consumer, Node, Producer, Queue, Rule, Subscription, Target, Topic, Topology,
    };

    const EXAMPLES: [(&str, &str); 5] = [
        (
            "cross-region-replication",
            include_str!("../../examples/cross-region-replication.json"),
        ),
        ("ecommerce", include_str!("../../examples/ecommerce.json")),
        ("fanout", include_str!("../../examples/fanout.json")),
        (
            "heterogeneous-integration",
            include_str!("../../examples/heterogeneous-integration.json"),
        ),
        (
            "monitoring-alerting",
            include_str!("../../examples/monitoring-alerting.json"),
        ),
    ];

    fn example(name: &str) -> Scene {
        let (_, text) = EXAMPLES
            .iter()
            .find(|(n, _)| *n == name)
            .expect("known example");
        Scene::new(&Topology::from_json(text).expect("example loads"))
    }

    fn examples() -> impl Iterator<Item = (&'static str, Scene)> {
        EXAMPLES.iter().map(|(name, _)| (*name, example(name)))
    }

    fn at(layout: &BTreeMap<ItemKey, Position>, scene: &Scene, v: usize) -> Position {
        *layout
            .get(&scene.items[v].key)
            .expect("item has a position")
    }

    fn overlaps(a: Position, b: Position) -> bool {
        (a.x - b.x).abs() < ITEM_SIZE.0 && (a.y - b.y).abs() < ITEM_SIZE.1
    }

    fn assert_no_overlap(name: &str, positions: &[(&ItemKey, Position)]) {
        for (i, &(ka, a)) in positions.iter().enumerate() {
            assert!(a.x.is_finite() && a.y.is_finite(), "{name}: {ka} at {a:?}");
            for &(kb, b) in &positions[i + 1..] {
                assert!(
                    !overlaps(a, b),
                    "{name}: {ka} at {a:?} overlaps {kb} at {b:?}"
                );
            }
        }
    }

    fn assert_complete_and_apart(name: &str, scene: &Scene, layout: &BTreeMap<ItemKey, Position>) {
        assert_eq!(
            layout.len(),
            scene.items.len(),
            "{name}: one position per item"
        );
        for item in &scene.items {
            assert!(
                layout.contains_key(&item.key),
                "{name}: {} has no position",
                item.key
            );
        }
        let positions: Vec<(&ItemKey, Position)> = layout.iter().map(|(k, p)| (k, *p)).collect();
        assert_no_overlap(name, &positions);
    }

    /// Bounding boxes of each group's boxes: `(min x, min y, max x, max y)`.
    fn group_boxes(
        scene: &Scene,
        layout: &BTreeMap<ItemKey, Position>,
    ) -> BTreeMap<Group, [f32; 4]> {
        let mut boxes: BTreeMap<Group, [f32; 4]> = BTreeMap::new();
        for (v, item) in scene.items.iter().enumerate() {
            let p = at(layout, scene, v);
            let (w, h) = (ITEM_SIZE.0 / 2.0, ITEM_SIZE.1 / 2.0);
            let b =
                boxes
                    .entry(item.group.clone())
                    .or_insert([f32::MAX, f32::MAX, f32::MIN, f32::MIN]);
            *b = [
                b[0].min(p.x - w),
                b[1].min(p.y - h),
                b[2].max(p.x + w),
                b[3].max(p.y + h),
            ];
        }
        boxes
    }

    fn assert_groups_apart(name: &str, scene: &Scene, layout: &BTreeMap<ItemKey, Position>) {
        let boxes: Vec<(Group, [f32; 4])> = group_boxes(scene, layout).into_iter().collect();
        for (i, (ga, a)) in boxes.iter().enumerate() {
            for (gb, b) in &boxes[i + 1..] {
                let side_by_side = a[2] + 40.0 <= b[0] || b[2] + 40.0 <= a[0];
                let stacked = a[3] + 40.0 <= b[1] || b[3] + 40.0 <= a[1];
                assert!(
                    side_by_side || stacked,
                    "{name}: groups {ga:?} {a:?} and {gb:?} {b:?} too close"
                );
            }
        }
    }

    #[test]
    fn examples_place_every_item_without_overlap() {
        for (name, scene) in examples() {
            assert!(!scene.items.is_empty());
            assert_complete_and_apart(name, &scene, &auto_layout(&scene));
        }
    }

    #[test]
    fn examples_arrows_point_right_except_dead_letters() {
        for (name, scene) in examples() {
            let layout = auto_layout(&scene);
            for e in scene.edges.iter().filter(|e| !e.kind.is_dead_letter()) {
                let (from, to) = (at(&layout, &scene, e.from), at(&layout, &scene, e.to));
                assert!(
                    from.x < to.x,
                    "{name}: {} -> {} ({:?}) points left",
                    scene.items[e.from].key,
                    scene.items[e.to].key,
                    e.kind
                );
            }
        }
    }

    #[test]
    fn examples_producers_are_left_of_what_they_send_to_and_in_the_first_column() {
        for (name, scene) in examples() {
            let layout = auto_layout(&scene);
            let first = layout.values().map(|p| p.x).fold(f32::INFINITY, f32::min);
            let mut sends = 0;
            for e in scene.edges.iter().filter(|e| e.kind == EdgeKind::Sends) {
                let (from, to) = (at(&layout, &scene, e.from), at(&layout, &scene, e.to));
                assert!(
                    from.x < to.x,
                    "{name}: producer {} not left of its bus",
                    scene.items[e.from].key
                );
                sends += 1;
            }
            assert!(sends > 0, "{name}: has producers");
            for (v, item) in scene.items.iter().enumerate() {
                let x = at(&layout, &scene, v).x;
                assert_eq!(
                    item.kind == ItemKind::Producer,
                    x == first,
                    "{name}: {} column",
                    item.key
                );
            }
        }
    }

    #[test]
    fn examples_dead_letter_queues_and_archives_sit_right_of_their_sources() {
        let mut dead_letters = 0;
        for (name, scene) in examples() {
            let layout = auto_layout(&scene);
            for e in &scene.edges {
                let fed = scene
                    .edges
                    .iter()
                    .any(|o| o.to == e.to && !o.kind.is_dead_letter());
                if (e.kind.is_dead_letter() && !fed) || e.kind == EdgeKind::Archives {
                    let (from, to) = (at(&layout, &scene, e.from), at(&layout, &scene, e.to));
                    assert!(
                        from.x < to.x,
                        "{name}: {} left of its source",
                        scene.items[e.to].key
                    );
                    dead_letters += 1;
                }
            }
        }
        assert!(dead_letters >= 5);
    }

    #[test]
    fn examples_group_boxes_do_not_overlap() {
        let scene = example("cross-region-replication");
        let layout = auto_layout(&scene);
        assert_eq!(group_boxes(&scene, &layout).len(), 3);
        assert_groups_apart("cross-region-replication", &scene, &layout);
        for (name, scene) in examples() {
            assert_groups_apart(name, &scene, &auto_layout(&scene));
        }
    }

    #[test]
    fn layout_is_deterministic() {
        for (name, scene) in examples() {
            let again = example(name);
            assert_eq!(auto_layout(&scene), auto_layout(&again), "{name}");
        }
        let big = Scene::new(&generated(2000));
        assert_eq!(auto_layout(&big), auto_layout(&big));
    }

    #[test]
    fn empty_scene_has_an_empty_layout() {
        let scene = Scene::new(&Topology::new());
        assert!(auto_layout(&scene).is_empty());
        assert!(fill_missing(&scene, &BTreeMap::new()).is_empty());
        let p = place_new(&scene, &BTreeMap::new(), &ItemKey::node("ghost"));
        assert!(p.x.is_finite() && p.y.is_finite());
    }

    fn bus_with_rules(targets: &[(&str, &[&str])]) -> Node {
        let rules = targets
            .iter()
            .map(|(name, to)| {
                let rule = Rule {
                    pattern: json!({"source": ["x"]}),
                    enabled: true,
                    targets: to
                        .iter()
                        .map(|t| Target {
                            to: t.to_string(),
                            ..Target::default()
                        })
                        .collect(),
                    ..Rule::default()
                };
                (name.to_string(), rule)
            })
            .collect();
        Node::Bus(Bus {
            rules,
            ..Bus::default()
        })
    }

    fn producer(to: &str) -> Node {
        Node::Producer(Producer {
            to: to.to_string(),
            rate: 1.0,
            ..Producer::default()
        })
    }

    #[test]
    fn cycles_terminate_and_get_positions() {
        let mut t = Topology::new();
        t.nodes.insert("p".into(), producer("a"));
        t.nodes.insert(
            "a".into(),
            bus_with_rules(&[("to-b", &["b"]), ("self", &["a"])]),
        );
        t.nodes.insert(
            "b".into(),
            bus_with_rules(&[("to-a", &["a"]), ("out", &["c"])]),
        );
        // Two buses forwarding to each other with nothing feeding them.
        t.nodes
            .insert("x".into(), bus_with_rules(&[("to-y", &["y"])]));
        t.nodes
            .insert("y".into(), bus_with_rules(&[("to-x", &["x"])]));
        // Queues dead-lettering into each other.
        t.nodes.insert(
            "q1".into(),
            Node::Queue(Queue {
                dlq: Some("q2".into()),
                ..Queue::default()
            }),
        );
        t.nodes.insert(
            "q2".into(),
            Node::Queue(Queue {
                dlq: Some("q1".into()),
                consumers: vec!["c".into()],
                ..Queue::default()
            }),
        );
        t.nodes
            .insert("c".into(), Node::Consumer(Consumer::default()));
        let scene = Scene::new(&t);
        let layout = auto_layout(&scene);
        assert_complete_and_apart("cycles", &scene, &layout);
        assert_eq!(layout, auto_layout(&scene));
        let x = |key: &str| layout[&ItemKey(key.to_string())].x;
        assert!(x("p") < x("a") && x("a") < x("a/to-b") && x("a/to-b") < x("b"));
        assert!(x("b") < x("b/out") && x("b/out") < x("c"));
    }

    #[test]
    fn unconnected_items_go_to_their_kinds_columns() {
        let mut t = Topology::new();
        t.nodes.insert("p".into(), producer("nowhere"));
        t.nodes.insert("bus".into(), bus_with_rules(&[]));
        t.nodes
            .insert("worker".into(), Node::Consumer(Consumer::default()));
        let scene = Scene::new(&t);
        let layout = auto_layout(&scene);
        assert_complete_and_apart("unconnected", &scene, &layout);
        let x = |key: &str| layout[&ItemKey(key.to_string())].x;
        assert!(x("p") < x("bus") && x("bus") < x("worker"));
    }

    /// About `items` items, twice as many arrows, six groups, rings of buses forwarding
    /// to each other, dead-letter queues and archives.
    fn generated(items: usize) -> Topology {
        let cells = items / 13;
        let mut t = Topology::new();
        for i in 0..cells {
            let account = format!("{:012}", 100_000_000_000u64 + (i / 8 % 3) as u64);
            let region = ["us-east-1", "eu-west-1"][i / 24 % 2].to_string();
            let (account, region) = (Some(account), Some(region));
            let name = |what: &str| format!("{what}{i:04}");
            let ring_next = (i / 8) * 8 + (i + 1) % 8;
            let ring_next = if ring_next < cells {
                ring_next
            } else {
                i / 8 * 8
            };
            let target = |to: String, dlq: Option<String>| Target {
                to,
                dlq,
                ..Target::default()
            };
            let rule = |targets: Vec<Target>| Rule {
                pattern: json!({"source": ["gen"]}),
                enabled: true,
                targets,
                ..Rule::default()
            };
            let mut forward = vec![
                target(format!("b{ring_next:04}"), None),
                target(name("ca"), None),
            ];
            if i % 5 == 0 {
                forward.push(target(format!("b{:04}", (i + 13) % cells), None));
            }
            let rules = BTreeMap::from([
                (
                    "r0".to_string(),
                    rule(vec![
                        target(name("qa"), Some(name("d"))),
                        target(name("ca"), None),
                        target(name("cb"), None),
                        target(name("qb"), None),
                        target(name("t"), None),
                    ]),
                ),
                (
                    "r1".to_string(),
                    rule(vec![
                        target(name("t"), None),
                        target(name("qb"), None),
                        target(name("ca"), None),
                        target(name("cb"), None),
                        target(name("qa"), None),
                    ]),
                ),
                ("r2".to_string(), rule(forward)),
            ]);
            t.nodes.insert(
                name("p"),
                Node::Producer(Producer {
                    account: account.clone(),
                    region: region.clone(),
                    to: name("b"),
                    ..Producer::default()
                }),
            );
            t.nodes.insert(
                name("b"),
                Node::Bus(Bus {
                    account: account.clone(),
                    region: region.clone(),
                    rules,
                    ..Bus::default()
                }),
            );
            let subscription = |to: String, dlq: Option<String>| Subscription {
                to,
                dlq,
                ..Subscription::default()
            };
            t.nodes.insert(
                name("t"),
                Node::Topic(Topic {
                    account: account.clone(),
                    region: region.clone(),
                    subscriptions: BTreeMap::from([
                        ("sa".to_string(), subscription(name("ca"), Some(name("d")))),
                        ("sb".to_string(), subscription(name("qb"), None)),
                    ]),
                    ..Topic::default()
                }),
            );
            let queue = |consumer: String, dlq: Option<String>| {
                Node::Queue(Queue {
                    account: account.clone(),
                    region: region.clone(),
                    dlq,
                    consumers: vec![consumer],
                    ..Queue::default()
                })
            };
            t.nodes.insert(name("qa"), queue(name("ca"), None));
            t.nodes
                .insert(name("qb"), queue(name("cb"), Some(name("d"))));
            t.nodes.insert(
                name("d"),
                Node::Queue(Queue {
                    account: account.clone(),
                    region: region.clone(),
                    ..Queue::default()
                }),
            );
            for c in ["ca", "cb"] {
                t.nodes.insert(
                    name(c),
                    Node::Consumer(Consumer {
                        account: account.clone(),
                        region: region.clone(),
                        ..Consumer::default()
                    }),
                );
            }
            t.nodes.insert(
                name("a"),
                Node::Archive(Archive {
                    account,
                    region,
                    bus: name("b"),
                    ..Archive::default()
                }),
            );
        }
        t
    }

    #[test]
    fn a_generated_design_of_2000_items_lays_out_quickly() {
        let scene = Scene::new(&generated(2000));
        assert!(scene.items.len() >= 2000, "{} items", scene.items.len());
        assert!(scene.edges.len() >= 4000, "{} arrows", scene.edges.len());
        let start = Instant::now();
        let layout = auto_layout(&scene);
        let elapsed = start.elapsed();
        println!(
            "auto_layout: {} items, {} arrows in {elapsed:?}",
            scene.items.len(),
            scene.edges.len()
        );
        assert_complete_and_apart("generated", &scene, &layout);
        assert_groups_apart("generated", &scene, &layout);
        // Only arrows closing a cycle (bus to bus, through a rule) may point left.
        for e in &scene.edges {
            let (from, to) = (at(&layout, &scene, e.from), at(&layout, &scene, e.to));
            let closes_cycle = e.kind.is_dead_letter() || scene.items[e.to].kind == ItemKind::Bus;
            assert!(
                from.x < to.x || closes_cycle,
                "{} -> {}",
                scene.items[e.from].key,
                scene.items[e.to].key
            );
        }
    }

    fn without(layout: &BTreeMap<ItemKey, Position>, keys: &[&str]) -> BTreeMap<ItemKey, Position> {
        let mut layout = layout.clone();
        for key in keys {
            assert!(
                layout.remove(&ItemKey(key.to_string())).is_some(),
                "{key} is laid out"
            );
        }
        layout
    }

    #[test]
    fn place_new_finds_a_free_spot_near_its_upstream() {
        for (name, scene) in examples() {
            let layout = auto_layout(&scene);
            for (v, item) in scene.items.iter().enumerate() {
                let mut others = layout.clone();
                others.remove(&item.key);
                let p = place_new(&scene, &others, &item.key);
                for (key, q) in &others {
                    assert!(
                        !overlaps(p, *q),
                        "{name}: new {} at {p:?} overlaps {key}",
                        item.key
                    );
                }
                if let Some(e) = scene
                    .edges
                    .iter()
                    .find(|e| e.to == v && !e.kind.is_dead_letter())
                {
                    let up = at(&layout, &scene, e.from);
                    assert!(p.x > up.x, "{name}: {} not right of its upstream", item.key);
                }
            }
        }
    }

    #[test]
    fn place_new_stacks_in_a_crowded_spot_without_overlap() {
        // Every box piled on one point except the new one; and a new item beside many.
        let scene = example("fanout");
        let mut crowd: BTreeMap<ItemKey, Position> = BTreeMap::new();
        for item in scene.items.iter().skip(1) {
            let p = place_new(&scene, &crowd, &item.key);
            crowd.insert(item.key.clone(), p);
        }
        let first = &scene.items[0].key;
        let p = place_new(&scene, &crowd, first);
        crowd.insert(first.clone(), p);
        let positions: Vec<(&ItemKey, Position)> = crowd.iter().map(|(k, p)| (k, *p)).collect();
        assert_no_overlap("crowd", &positions);
    }

    #[test]
    fn fill_missing_keeps_existing_positions_and_places_the_rest() {
        for (name, scene) in examples() {
            let full = auto_layout(&scene);
            // Move one box so positions are not all from the automatic layout.
            let mut existing = without(&full, &[]);
            let nested: Vec<&str> = scene
                .items
                .iter()
                .filter(|i| i.kind.is_nested() || i.kind == ItemKind::Consumer)
                .map(|i| i.key.as_str())
                .collect();
            for key in &nested {
                existing.remove(&ItemKey(key.to_string()));
            }
            if let Some(p) = existing.values_mut().next() {
                p.y -= 5000.0;
            }
            let filled = fill_missing(&scene, &existing);
            assert_eq!(filled.len(), nested.len(), "{name}: only missing ones");
            for key in filled.keys() {
                assert!(
                    !existing.contains_key(key),
                    "{name}: {key} already had a position"
                );
            }
            let mut all = existing.clone();
            all.extend(filled.clone());
            assert_complete_and_apart(name, &scene, &all);
            assert_eq!(
                filled,
                fill_missing(&scene, &existing),
                "{name}: deterministic"
            );
        }
    }

    #[test]
    fn place_new_avoids_every_existing_box_even_unknown_ones() {
        let scene = example("ecommerce");
        let mut existing = without(&auto_layout(&scene), &["billing"]);
        let spot = place_new(&scene, &existing, &ItemKey::node("billing"));
        // A box of an item the scene no longer has, right where billing would go.
        existing.insert(ItemKey::node("stale"), spot);
        existing.insert(
            ItemKey::node("nowhere"),
            Position {
                x: f32::NAN,
                y: 0.0,
            },
        );
        for key in ["billing", "ghost"] {
            let p = place_new(&scene, &existing, &ItemKey::node(key));
            assert!(p.x.is_finite() && p.y.is_finite());
            for (other, q) in existing.iter().filter(|(k, _)| k.as_str() != "nowhere") {
                assert!(!overlaps(p, *q), "{key} at {p:?} overlaps {other}");
            }
        }
        // Only stale boxes: still a free spot.
        let stale = BTreeMap::from([(ItemKey::node("stale"), Position { x: 115.0, y: 64.0 })]);
        let p = place_new(&scene, &stale, &ItemKey::node("web"));
        assert!(!overlaps(p, stale[&ItemKey::node("stale")]));
    }

    #[test]
    fn fill_missing_with_everything_placed_adds_nothing() {
        let scene = example("fanout");
        assert!(fill_missing(&scene, &auto_layout(&scene)).is_empty());
    }

    #[test]
    fn fill_missing_with_nothing_placed_is_the_automatic_layout() {
        for (name, scene) in examples() {
            let stale = BTreeMap::from([(ItemKey::node("gone"), Position { x: 1.0, y: 2.0 })]);
            assert_eq!(fill_missing(&scene, &stale), auto_layout(&scene), "{name}");
        }
    }

    #[test]
    fn fill_missing_places_a_new_chain_left_to_right() {
        let scene = example("ecommerce");
        let existing = without(
            &auto_layout(&scene),
            &["warehouse-queue", "warehouse", "warehouse-dlq"],
        );
        let filled = fill_missing(&scene, &existing);
        let x = |key: &str| filled[&ItemKey(key.to_string())].x;
        assert!(existing[&ItemKey::nested("orders", "to-shipping")].x < x("warehouse-queue"));
        assert!(x("warehouse-queue") < x("warehouse"));
        assert!(x("warehouse-queue") < x("warehouse-dlq"));
    }

    #[test]
    fn inversions_count_strictly_decreasing_pairs() {
        let mut scratch = Vec::new();
        let mut values = [3.0, 1.0, 2.0, 2.0, 0.0];
        assert_eq!(inversions(&mut values, &mut scratch), 7);
        assert_eq!(values, [0.0, 1.0, 2.0, 2.0, 3.0]);
        assert_eq!(inversions(&mut [], &mut scratch), 0);
    }

    #[test]
    fn pack_keeps_order_spacing_and_bounds() {
        assert_eq!(pack(&[2.0, 2.0, 2.0], 5), vec![1.0, 2.0, 3.0]);
        assert_eq!(pack(&[-3.0, 0.0], 4), vec![0.0, 1.0]);
        assert_eq!(pack(&[9.0, 9.0], 4), vec![2.0, 3.0]);
        assert_eq!(pack(&[0.5, 0.5], 3), vec![0.0, 1.0]);
        assert_eq!(pack(&[0.0, 0.0], 3), vec![0.0, 1.0]);
        assert_eq!(pack(&[f32::NAN], 3), vec![0.0]);
    }
}
