//! Messages in flight, shared by their copies and counted on the engine's thread.
//!
//! One message (an event as produced, a transformed body, an SNS envelope) is shared
//! by every copy of it on its way somewhere. The engine owns all of them and runs on
//! one thread, so the copies are counted here with plain integers: sharing through
//! `Arc` cost an atomic operation (about twenty cycles) on every copy made, every copy
//! finished and every last-copy check, some fifteen per event in a fan-out design.
//!
//! A [`MsgKey`] is one counted copy: it is neither `Copy` nor `Clone`, so a second
//! copy is made only with [`Messages::share`], and a key is given up only with
//! [`Messages::release`] (dropping a key without releasing it keeps the message).

use slab::Slab;

/// One copy of a message held in [`Messages`].
#[derive(Debug, PartialEq, Eq, Hash)]
#[must_use = "a message copy is released with Messages::release"]
pub struct MsgKey(usize);

impl MsgKey {
    /// The message's slot (the same for every copy of it).
    pub fn slot(&self) -> usize {
        self.0
    }
}

/// A message with the number of copies that hold it.
#[derive(Debug)]
struct Shared<M> {
    msg: M,
    copies: u32,
}

/// The messages in flight (see the module documentation).
#[derive(Debug)]
pub struct Messages<M> {
    slots: Slab<Shared<M>>,
}

impl<M> Default for Messages<M> {
    fn default() -> Self {
        Messages { slots: Slab::new() }
    }
}

impl<M> Messages<M> {
    /// Keeps a new message; the key is its first copy.
    #[inline]
    pub fn insert(&mut self, msg: M) -> MsgKey {
        MsgKey(self.slots.insert(Shared { msg, copies: 1 }))
    }

    /// Another copy of the message `key` holds.
    #[inline]
    pub fn share(&mut self, key: &MsgKey) -> MsgKey {
        if let Some(shared) = self.slots.get_mut(key.0) {
            shared.copies += 1;
        }
        MsgKey(key.0)
    }

    /// Lets go of a copy. When it was the message's last, `last` may take what it
    /// wants of the message (where it is) before it is dropped.
    #[inline]
    pub fn release(&mut self, key: MsgKey, last: impl FnOnce(&mut M)) {
        let Some(shared) = self.slots.get_mut(key.0) else {
            return;
        };
        debug_assert!(
            shared.copies > 0,
            "message {} released once too often",
            key.0
        );
        shared.copies = shared.copies.saturating_sub(1);
        if shared.copies > 0 {
            return;
        }
        last(&mut shared.msg);
        self.slots.remove(key.0);
    }

    /// The copies counted for each message held, by slot.
    pub fn copies(&self) -> impl Iterator<Item = (usize, u32)> + '_ {
        self.slots.iter().map(|(slot, s)| (slot, s.copies))
    }
}

impl<M> std::ops::Index<&MsgKey> for Messages<M> {
    type Output = M;

    #[inline]
    fn index(&self, key: &MsgKey) -> &M {
        &self.slots[key.0].msg
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_message_lives_until_its_last_copy_is_released() {
        let mut messages = Messages::default();
        let first = messages.insert("event".to_string());
        let second = messages.share(&first);
        let third = messages.share(&second);
        assert_eq!(messages[&third], "event");
        assert_eq!(messages.copies().collect::<Vec<_>>(), [(first.slot(), 3)]);
        let mut last = Vec::new();
        messages.release(first, |m| last.push(std::mem::take(m)));
        messages.release(third, |m| last.push(std::mem::take(m)));
        assert!(last.is_empty());
        assert_eq!(messages.copies().count(), 1);
        messages.release(second, |m| last.push(std::mem::take(m)));
        assert_eq!(last, ["event"]);
        assert_eq!(messages.copies().count(), 0);
        let other = messages.insert("next".to_string());
        assert_eq!(other.slot(), 0, "the freed slot is used again");
        messages.release(other, |m| last.push(std::mem::take(m)));
        assert_eq!(last, ["event", "next"]);
    }
}
