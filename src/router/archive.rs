//! What an archive keeps: its events' bodies back to back in one ring of bytes, with a
//! small record per event. Evicting the oldest event moves the ring's front; nothing is
//! freed per event, and the archived message itself is let go of as soon as its
//! deliveries are done (an archive holding tens of thousands of messages would keep
//! each alive, and touch it again, cold, only to free it).

use std::collections::VecDeque;

use super::engine::SimTime;

/// One archived event.
#[derive(Clone, Copy, Debug)]
struct Entry {
    /// When it was archived.
    at: SimTime,
    /// The produced event it descends from.
    root: u64,
    /// Whether that event is traced.
    traced: bool,
    /// Its body's length in the ring.
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
    /// Every kept body, oldest first, back to back.
    text: VecDeque<u8>,
}

impl ArchivedEvents {
    /// Keeps an event's body.
    pub fn push(&mut self, at: SimTime, root: u64, traced: bool, body: &str) {
        self.text.extend(body.as_bytes());
        self.entries.push_back(Entry {
            at,
            root,
            traced,
            len: body.len(),
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
        let Some(entry) = self.entries.pop_front() else {
            return false;
        };
        self.text.drain(..entry.len.min(self.text.len()));
        true
    }

    /// The events archived within `from..=to`, oldest first.
    pub fn window(&self, from: SimTime, to: SimTime) -> Vec<Archived> {
        let mut start = 0;
        let mut found = Vec::new();
        for entry in &self.entries {
            let end = start + entry.len;
            if (from..=to).contains(&entry.at) {
                let bytes: Vec<u8> = self.text.range(start..end).copied().collect();
                found.push(Archived {
                    root: entry.root,
                    traced: entry.traced,
                    body: String::from_utf8_lossy(&bytes).into_owned(),
                });
            }
            start = end;
        }
        found
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
    }
}
