//! What an archive keeps: its events' bodies back to back in blocks of bytes, with a
//! small record per event. Evicting the oldest event frees nothing until a whole block
//! is unused (then the block is kept for reuse), and the archived message itself is let
//! go of as soon as its deliveries are done: an archive holding tens of thousands of
//! messages would otherwise keep each alive, and touch it again, cold, only to free it.
//! Blocks of a fixed size keep memory flat (a growing ring would double, and copy,
//! itself).

use std::collections::VecDeque;

use super::engine::SimTime;

/// Bytes per block (a larger body gets a block of its own).
const BLOCK: usize = 64 * 1024;

/// One archived event.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// When it was archived.
    at: SimTime,
    /// The produced event it descends from.
    root: u64,
    /// Whether that event is traced.
    traced: bool,
    /// Number of the block holding its body (counted since the archive began).
    block: u64,
    /// Where the body starts in that block.
    start: usize,
    /// Its length.
    len: usize,
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

/// The events an archive keeps, oldest first.
#[derive(Debug, Default)]
pub struct ArchivedEvents {
    entries: VecDeque<Entry>,
    /// Blocks in use, oldest first; the last one is being filled.
    blocks: VecDeque<Vec<u8>>,
    /// Number of the first block in `blocks`.
    first_block: u64,
    /// An emptied block kept for reuse.
    spare: Option<Vec<u8>>,
}

impl ArchivedEvents {
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
        let block = self.first_block + self.blocks.len() as u64 - 1;
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
            start,
            len: bytes.len(),
        });
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
        if self.entries.pop_front().is_none() {
            return false;
        }
        // Blocks before the new oldest event's (all of them when none is left but the
        // one being filled) are no longer used.
        let keep_from = self
            .entries
            .front()
            .map_or(self.first_block + self.blocks.len().saturating_sub(1) as u64, |e| e.block);
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

    /// The events archived within `from..=to`, oldest first.
    pub fn window(&self, from: SimTime, to: SimTime) -> Vec<Archived> {
        self.entries
            .iter()
            .filter(|e| (from..=to).contains(&e.at))
            .map(|e| {
                let bytes = e
                    .block
                    .checked_sub(self.first_block)
                    .and_then(|i| self.blocks.get(i as usize))
                    .and_then(|b| b.get(e.start..e.start + e.len))
                    .unwrap_or_default();
                Archived {
                    root: e.root,
                    traced: e.traced,
                    body: String::from_utf8_lossy(bytes).into_owned(),
                }
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bodies(events: &ArchivedEvents, from: SimTime, to: SimTime) -> Vec<String> {
        events.window(from, to).into_iter().map(|a| a.body).collect()
    }

    /// Bodies come back whole and in order across evictions and the ring's wrap.
    #[test]
    fn keeps_bodies_in_order_across_evictions() {
        let mut events = ArchivedEvents::default();
        let mut kept = VecDeque::new();
        for i in 0..500u64 {
            let body = format!("{{\"n\":{i},\"pad\":\"{}é\"}}", "x".repeat((i % 37) as usize));
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
        let window = events.window(470, 472);
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
        let mut events = ArchivedEvents::default();
        let big = "b".repeat(BLOCK * 2 + 3);
        let small = "s".repeat(1000);
        for i in 0..1000u64 {
            let body = if i % 100 == 7 { &big } else { &small };
            events.push(i, i, false, body);
            while events.len() > 150 {
                events.evict_oldest();
            }
            let kept: usize = events.window(0, u64::MAX).iter().map(|a| a.body.len()).sum();
            let held: usize = events.blocks.iter().map(Vec::capacity).sum();
            // Partly used blocks at both ends, and block tails too short for the next
            // body, at most.
            assert!(held <= 2 * kept + 3 * BLOCK + big.len(), "{held} bytes held for {kept}");
        }
        let window = events.window(907, 907);
        assert_eq!(window[0].body, big);
        assert_eq!(events.window(906, 906)[0].body, small);
    }
}
