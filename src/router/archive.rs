//! What an archive keeps: for an event as its producer wrote it, what prepared it and
//! which of its events it was (the body is written again, identically, for a replay);
//! for any other event, its body, back to back with others in blocks of bytes. A small
//! record per event. Evicting the oldest event frees nothing until a whole block
//! is unused (then the block is kept for reuse), and the archived message itself is let
//! go of as soon as its deliveries are done: an archive holding tens of thousands of
//! messages would otherwise keep each alive, and touch it again, cold, only to free it.
//! Blocks of a fixed size keep memory flat (a growing ring would double, and copy,
//! itself).

use std::collections::VecDeque;
use std::sync::Arc;

use super::engine::SimTime;

/// Bytes per block (a larger body gets a block of its own).
const BLOCK: usize = 64 * 1024;

/// One archived event.
#[derive(Debug)]
struct Entry {
    /// When it was archived.
    at: SimTime,
    /// The produced event it descends from.
    root: u64,
    /// Whether that event is traced.
    traced: bool,
    /// The number of the block its text is in, or (for a recipe) of the block texts
    /// were going to when it came: later texts are in this block or after.
    block: u64,
    body: Stored,
}

/// Where an archived event's body is.
#[derive(Debug)]
enum Stored {
    /// In the entry's block: start and length.
    Text { start: usize, len: usize },
    /// Written again on demand: by recipe number `recipe` (in
    /// [`ArchivedEvents::recipes`]), as its producer's event `seq` due at `time`.
    Recipe { recipe: u32, seq: u64, time: f64 },
}

/// An archived event handed out for replay.
#[derive(Debug, PartialEq, Eq)]
pub struct Archived {
    /// The produced event it descends from.
    pub root: u64,
    /// Whether that event is traced.
    pub traced: bool,
    /// The body as archived.
    pub body: String,
}

/// The events an archive keeps, oldest first; `R` writes a producer's event again.
#[derive(Debug)]
pub struct ArchivedEvents<R> {
    entries: VecDeque<Entry>,
    /// Blocks in use, oldest first; the last one is being filled.
    blocks: VecDeque<Vec<u8>>,
    /// Number of the first block in `blocks`.
    first_block: u64,
    /// An emptied block kept for reuse.
    spare: Option<Vec<u8>>,
    /// The recipes kept events refer to, with how many do (`None`: a free slot). A
    /// handful at most (one per producer and configuration), so keeping an event costs
    /// no reference counting.
    recipes: Vec<Option<(Arc<R>, u32)>>,
}

impl<R> Default for ArchivedEvents<R> {
    fn default() -> Self {
        ArchivedEvents {
            entries: VecDeque::new(),
            blocks: VecDeque::new(),
            first_block: 0,
            spare: None,
            recipes: Vec::new(),
        }
    }
}

impl<R> ArchivedEvents<R> {
    /// Keeps an event as `recipe` writes it: its producer's event `seq`, due at `time`.
    pub fn push_recipe(
        &mut self,
        at: SimTime,
        root: u64,
        traced: bool,
        recipe: &Arc<R>,
        seq: u64,
        time: f64,
    ) {
        let found = self.recipes.iter().position(|r| {
            r.as_ref()
                .is_some_and(|(known, _)| Arc::ptr_eq(known, recipe))
        });
        let index = match found {
            Some(i) => i,
            None => {
                let free = self.recipes.iter().position(Option::is_none);
                let i = free.unwrap_or(self.recipes.len());
                if i == self.recipes.len() {
                    self.recipes.push(None);
                }
                self.recipes[i] = Some((recipe.clone(), 0));
                i
            }
        };
        if let Some((_, count)) = &mut self.recipes[index] {
            *count += 1;
        }
        let recipe = index as u32;
        let block = self.last_block();
        self.entries.push_back(Entry {
            at,
            root,
            traced,
            block,
            body: Stored::Recipe { recipe, seq, time },
        });
    }

    /// Keeps an event's body.
    pub fn push(&mut self, at: SimTime, root: u64, traced: bool, body: &str) {
        let bytes = body.as_bytes();
        let fits = self
            .blocks
            .back()
            .is_some_and(|b| b.capacity() - b.len() >= bytes.len());
        if !fits {
            let block = match self.spare.take() {
                Some(block) if block.capacity() >= bytes.len() => block,
                _ => Vec::with_capacity(BLOCK.max(bytes.len())),
            };
            self.blocks.push_back(block);
        }
        let block = self.last_block();
        let Some(last) = self.blocks.back_mut() else {
            return;
        };
        let start = last.len();
        last.extend_from_slice(bytes);
        self.entries.push_back(Entry {
            at,
            root,
            traced,
            block,
            body: Stored::Text {
                start,
                len: bytes.len(),
            },
        });
    }

    /// The number of the block being filled (of the first block to come, when there is
    /// none).
    fn last_block(&self) -> u64 {
        self.first_block + self.blocks.len().saturating_sub(1) as u64
    }

    /// How many events are kept.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    /// When the oldest kept event was archived.
    pub fn oldest_at(&self) -> Option<SimTime> {
        self.entries.front().map(|e| e.at)
    }

    /// Forgets the oldest event; false when there is none.
    pub fn evict_oldest(&mut self) -> bool {
        let Some(oldest) = self.entries.pop_front() else {
            return false;
        };
        if let Stored::Recipe { recipe, .. } = oldest.body
            && let Some(slot) = self.recipes.get_mut(recipe as usize)
            && let Some((_, count)) = slot
        {
            *count -= 1;
            if *count == 0 {
                *slot = None;
            }
        }
        // Blocks before the oldest event's (all of them when none is left but the one
        // being filled) hold no kept text.
        let keep_from = self.entries.front().map_or(self.last_block(), |e| e.block);
        while self.first_block < keep_from {
            let Some(mut block) = self.blocks.pop_front() else {
                break;
            };
            self.first_block += 1;
            block.clear();
            self.spare = Some(block);
        }
        if self.entries.is_empty()
            && let Some(last) = self.blocks.back_mut()
        {
            last.clear();
        }
        true
    }

    /// The events archived within `from..=to`, oldest first; `write` writes a recipe's
    /// event (sequence number, time) again.
    pub fn window(
        &self,
        from: SimTime,
        to: SimTime,
        write: impl Fn(&R, u64, f64) -> String,
    ) -> Vec<Archived> {
        self.entries
            .iter()
            .filter(|e| (from..=to).contains(&e.at))
            .map(|e| Archived {
                root: e.root,
                traced: e.traced,
                body: match &e.body {
                    Stored::Text { start, len } => {
                        let bytes = e
                            .block
                            .checked_sub(self.first_block)
                            .and_then(|i| self.blocks.get(i as usize))
                            .and_then(|b| b.get(*start..start + len))
                            .unwrap_or_default();
                        String::from_utf8_lossy(bytes).into_owned()
                    }
                    Stored::Recipe { recipe, seq, time } => {
                        match self.recipes.get(*recipe as usize) {
                            Some(Some((recipe, _))) => write(recipe, *seq, *time),
                            _ => String::new(),
                        }
                    }
                },
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A recipe for tests: the body of event `seq` is `"{prefix}{seq}"`.
    type Recipe = String;

    fn write(prefix: &Recipe, seq: u64, _time: f64) -> String {
        format!("{prefix}{seq}")
    }

    fn window(events: &ArchivedEvents<Recipe>, from: SimTime, to: SimTime) -> Vec<Archived> {
        events.window(from, to, write)
    }

    fn bodies(events: &ArchivedEvents<Recipe>, from: SimTime, to: SimTime) -> Vec<String> {
        window(events, from, to)
            .into_iter()
            .map(|a| a.body)
            .collect()
    }

    /// Bodies come back whole and in order across evictions and the ring's wrap.
    #[test]
    fn keeps_bodies_in_order_across_evictions() {
        let mut events = ArchivedEvents::<Recipe>::default();
        let mut kept = VecDeque::new();
        for i in 0..500u64 {
            let body = format!(
                "{{\"n\":{i},\"pad\":\"{}é\"}}",
                "x".repeat((i % 37) as usize)
            );
            events.push(i, i + 1000, i % 3 == 0, &body);
            kept.push_back((i, body));
            while events.len() > 40 {
                assert!(events.evict_oldest());
                kept.pop_front();
            }
            assert_eq!(events.oldest_at(), kept.front().map(|(t, _)| *t));
        }
        let all: Vec<String> = kept.iter().map(|(_, b)| b.clone()).collect();
        assert_eq!(bodies(&events, 0, u64::MAX), all);
        let window = window(&events, 470, 472);
        assert_eq!(window.len(), 3);
        assert_eq!(window[0].root, 1470);
        assert!(!window[0].traced && window[1].traced && !window[2].traced);
        assert_eq!(window[1].body, kept[kept.len() - 29].1);
        while events.evict_oldest() {}
        assert_eq!(events.len(), 0);
        assert!(bodies(&events, 0, u64::MAX).is_empty());
        assert!(events.blocks.len() <= 1, "emptied blocks are let go of");
    }

    /// Bodies larger than a block, and many blocks' worth of bodies: memory follows
    /// what is kept.
    #[test]
    fn blocks_follow_what_is_kept() {
        let mut events = ArchivedEvents::<Recipe>::default();
        let big = "b".repeat(BLOCK * 2 + 3);
        let small = "s".repeat(1000);
        for i in 0..1000u64 {
            let body = if i % 100 == 7 { &big } else { &small };
            events.push(i, i, false, body);
            while events.len() > 150 {
                events.evict_oldest();
            }
            let kept: usize = window(&events, 0, u64::MAX)
                .iter()
                .map(|a| a.body.len())
                .sum();
            let held: usize = events.blocks.iter().map(Vec::capacity).sum();
            // Partly used blocks at both ends, and block tails too short for the next
            // body, at most.
            assert!(
                held <= 2 * kept + 3 * BLOCK + big.len(),
                "{held} bytes held for {kept}"
            );
        }
        assert_eq!(window(&events, 907, 907)[0].body, big);
        assert_eq!(window(&events, 906, 906)[0].body, small);
    }

    /// Recipes and texts mixed: bodies come back in order, written again from recipes,
    /// and blocks are let go of once only recipes are left before them.
    #[test]
    fn recipes_and_texts_mixed() {
        let mut events = ArchivedEvents::<Recipe>::default();
        let recipe = Arc::new("event-".to_string());
        let mut expected = VecDeque::new();
        for i in 0..2000u64 {
            if i % 5 == 0 {
                let body = format!("{{\"text\":{i},\"pad\":\"{}\"}}", "p".repeat(300));
                events.push(i, i, false, &body);
                expected.push_back(body);
            } else {
                events.push_recipe(i, i, i % 2 == 0, &recipe, i, i as f64);
                expected.push_back(format!("event-{i}"));
            }
            while events.len() > 300 {
                events.evict_oldest();
                expected.pop_front();
            }
        }
        assert_eq!(bodies(&events, 0, u64::MAX), Vec::from(expected));
        // 60 texts of about 320 bytes kept: one or two blocks.
        assert!(events.blocks.len() <= 2, "{} blocks", events.blocks.len());
        while events.evict_oldest() {}
        assert!(events.blocks.iter().all(Vec::is_empty));
        assert_eq!(
            Arc::strong_count(&recipe),
            1,
            "evicted recipes are let go of"
        );
        // Two recipes in turn share two slots.
        let other = Arc::new("other-".to_string());
        for i in 0..10 {
            let which = if i % 2 == 0 { &recipe } else { &other };
            events.push_recipe(i, i, false, which, i, 0.0);
        }
        assert_eq!(events.recipes.len(), 2);
        assert_eq!(bodies(&events, 0, 1), ["event-0", "other-1"]);
    }
}
