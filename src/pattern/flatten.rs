//! Event text → the scalar values at the paths someone asked about.
//!
//! One pass over the bytes, no tree is built and no recursion is used (deeply nested
//! events cannot overflow the stack). A [`Sink`] is asked about each object key's dotted
//! path; subtrees nobody needs are still validated but not reported. Each reported value
//! carries its *array trail*: for every enclosing array, which array (numbered per
//! event) and which element. Two values whose trails pick different elements of the
//! same array come from different objects of that array and must not be combined.

use std::borrow::Cow;

use super::ast::Scalar;
use super::json::{JsonError, scan_number, scan_string, skip_ws};
use super::swar;

/// The position of a value inside one enclosing array.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ArrayPos {
    /// Which array of the event (numbered in document order from 0).
    pub array: u32,
    /// Which element of that array.
    pub index: u32,
}

/// Can two values with these trails be used together in one match?
pub fn consistent(a: &[ArrayPos], b: &[ArrayPos]) -> bool {
    for (x, y) in a.iter().zip(b) {
        if x.array != y.array {
            return true;
        }
        if x.index != y.index {
            return false;
        }
    }
    true
}

/// A scalar value as the matcher receives it: text as bytes, which are always valid
/// UTF-8 (checked by the scan), so lookups need not build a `&str`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Value<'a> {
    /// A string's decoded text (valid UTF-8).
    Str(&'a [u8]),
    /// A number as written (ASCII).
    Num(&'a [u8]),
    /// `true`
    True,
    /// `false`
    False,
    /// `null`
    Null,
}

impl<'a> Value<'a> {
    /// The value as a [`Scalar`] (its text checked again, which cannot fail).
    pub fn to_scalar(self) -> Scalar<'a> {
        let text = |b: &'a [u8]| Cow::Borrowed(std::str::from_utf8(b).unwrap_or_default());
        match self {
            Value::Str(b) => Scalar::Str(text(b)),
            Value::Num(b) => Scalar::Num(text(b)),
            Value::True => Scalar::True,
            Value::False => Scalar::False,
            Value::Null => Scalar::Null,
        }
    }
}

/// "No slot": the key is not one of a fixed set of expected keys.
pub const NO_SLOT: u8 = u8::MAX;

/// What to do with the value at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    /// Report scalar values at this path with this id.
    pub leaf: Option<u32>,
    /// Some longer path starts with this one: look inside objects.
    pub descend: bool,
    /// This key's number among its parent's expected keys ([`NO_SLOT`] if none).
    pub slot: u8,
    /// When descending: how many distinct keys are expected inside (0: unknown). Once
    /// all were seen, the rest of the object can be skipped unread.
    pub children: u8,
    /// When descending: the sink's id for this object path (for child lookups).
    pub node: u32,
}

impl Visit {
    /// Neither report nor descend.
    pub const SKIP: Visit = Visit {
        leaf: None,
        descend: false,
        slot: NO_SLOT,
        children: 0,
        node: 0,
    };

    /// Whether the value is reported or looked into.
    pub fn live(self) -> bool {
        self.leaf.is_some() || self.descend
    }
}

/// An object key as a [`Sink`] receives it.
#[derive(Clone, Copy, Debug)]
pub struct Key<'a> {
    /// The key's text (escapes decoded).
    pub text: &'a [u8],
    /// The first eight bytes of the text (zero-padded when shorter), little-endian: two
    /// keys of up to eight bytes are equal when their heads and lengths are.
    pub head: u64,
}

impl<'a> Key<'a> {
    /// The key with this text.
    pub fn new(text: &'a [u8]) -> Key<'a> {
        let mut head = [0u8; 8];
        let n = text.len().min(8);
        head[..n].copy_from_slice(&text[..n]);
        Key {
            text,
            head: u64::from_le_bytes(head),
        }
    }
}

/// Receives the values of an event.
pub trait Sink {
    /// What to do with the top-level object.
    fn root(&mut self) -> Visit {
        Visit {
            leaf: None,
            descend: true,
            slot: NO_SLOT,
            children: 0,
            node: 0,
        }
    }
    /// Whether [`Sink::visit`] needs the full dotted path (building it costs a copy
    /// per key).
    const NEEDS_PATH: bool;
    /// Decides what to do with the value of `key` inside the object reached by
    /// `parent`; `path` is the full dotted path (`detail.state`) when
    /// [`Sink::NEEDS_PATH`], else empty. A returned [`Visit::slot`] must refer to the
    /// parent's expected keys (so [`NO_SLOT`] for a dotted key reaching deeper).
    fn visit(&mut self, parent: &Visit, key: Key<'_>, path: &[u8]) -> Visit;
    /// A scalar value at a path whose [`Visit::leaf`] was `Some(id)`.
    fn value(&mut self, id: u32, value: Value<'_>, trail: &[ArrayPos]);
}

/// An open container.
#[derive(Clone, Copy)]
struct Frame {
    array: bool,
    root: bool,
    visit: Visit,
    path_len: usize,
    /// Object frames: bit per expected key already seen.
    seen: u64,
    /// Object frames under [`Check::Lenient`]: how many expected keys are still
    /// unseen (at 0 the rest of the object is skipped unread); `u32::MAX` when there is
    /// no such limit.
    left: u32,
    /// Object frames: a number identifying this object within the event.
    serial: u32,
}

/// Reusable buffers for [`scan`] (keeps the hot path free of allocation).
#[derive(Default)]
pub struct ScanBuffers {
    path: Vec<u8>,
    frames: Vec<Frame>,
    trail: Vec<ArrayPos>,
    closers: Vec<u8>,
    /// Keys seen per object, for objects whose keys have no slot.
    seen_keys: std::collections::HashSet<(u32, Vec<u8>)>,
}

type Skip = Result<usize, (usize, &'static str)>;

/// Skips one value, checking only its structure; returns the offset after it.
fn skip_value(bytes: &[u8], pos: usize, closers: &mut Vec<u8>) -> Skip {
    match bytes.get(pos) {
        Some(b'"') => skip_string(bytes, pos),
        Some(&open @ (b'{' | b'[')) => {
            closers.clear();
            closers.push(if open == b'{' { b'}' } else { b']' });
            skip_inside(bytes, pos + 1, closers)
        }
        Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => Ok(skip_scalar(bytes, pos)),
        None => Err((pos, "unexpected end of the event")),
        Some(_) => Err((pos, "expected a JSON value")),
    }
}

/// The end of the JSON value starting at `pos` (no white space before it), found by
/// skipping — strings and brackets only are looked at, with SWAR. `None` if the text
/// ends first or brackets do not pair up.
pub fn value_end(bytes: &[u8], pos: usize) -> Option<usize> {
    thread_local! {
        static CLOSERS: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
    }
    CLOSERS.with(|cell| match cell.try_borrow_mut() {
        Ok(mut closers) => skip_value(bytes, pos, &mut closers).ok(),
        Err(_) => skip_value(bytes, pos, &mut Vec::new()).ok(),
    })
}

/// The end of the JSON string starting at `pos` (its opening quote).
pub fn skip_string_at(bytes: &[u8], pos: usize) -> Option<usize> {
    skip_string(bytes, pos).ok()
}

/// Skips to just after the bracket that empties `closers` (the expected closing
/// brackets, innermost last). Only brackets and strings are looked at.
///
/// Eight bytes at a time: the quotes of a word tell which of its bytes are inside a
/// string (a running parity), so only brackets outside strings are visited one by one.
/// Words holding a backslash go byte by byte (an escaped quote does not count).
fn skip_inside(bytes: &[u8], pos: usize, closers: &mut Vec<u8>) -> Skip {
    let mut i = pos;
    let mut in_string = false;
    while let Some(word) = swar::word_at(bytes, i) {
        if swar::has_byte(word, b'\\') {
            match skip_bytes(bytes, i, i + 8, in_string, closers)? {
                Skipped::End(end) => return Ok(end),
                Skipped::At(next, inside) => (i, in_string) = (next, inside),
            }
            continue;
        }
        // Bit 7 of each byte: inside a string (an opening quote counts as inside).
        let mut inside = swar::prefix_xor(swar::equal_bytes_exact(word, b'"'));
        if in_string {
            inside ^= swar::HIGHS;
        }
        in_string = inside >> 63 != 0;
        let mut brackets = swar::brackets(word) & !inside;
        while brackets != 0 {
            let k = (brackets.trailing_zeros() / 8) as usize;
            match (word >> (8 * k)) as u8 {
                b'{' => closers.push(b'}'),
                b'[' => closers.push(b']'),
                b @ (b'}' | b']') => {
                    if closers.pop() != Some(b) {
                        return Err((i + k, "mismatched bracket"));
                    }
                    if closers.is_empty() {
                        return Ok(i + k + 1);
                    }
                }
                _ => {}
            }
            brackets &= brackets - 1;
        }
        i += 8;
    }
    match skip_bytes(bytes, i, bytes.len(), in_string, closers)? {
        Skipped::End(end) => Ok(end),
        Skipped::At(_, true) => Err((bytes.len(), "unterminated string")),
        Skipped::At(_, false) => Err((bytes.len(), "unexpected end of the event")),
    }
}

/// Where [`skip_bytes`] stopped.
enum Skipped {
    /// After the bracket that emptied the closers.
    End(usize),
    /// At this offset, inside a string or not.
    At(usize, bool),
}

/// [`skip_inside`] byte by byte from `i` up to `stop` (or just past it, after an
/// escape).
#[cold]
fn skip_bytes(
    bytes: &[u8],
    mut i: usize,
    stop: usize,
    mut in_string: bool,
    closers: &mut Vec<u8>,
) -> Result<Skipped, (usize, &'static str)> {
    while i < stop {
        let Some(&b) = bytes.get(i) else {
            break;
        };
        i += 1;
        if in_string {
            match b {
                b'"' => in_string = false,
                b'\\' => i += 1,
                _ => {}
            }
            continue;
        }
        match b {
            b'"' => in_string = true,
            b'{' => closers.push(b'}'),
            b'[' => closers.push(b']'),
            b'}' | b']' => {
                if closers.pop() != Some(b) {
                    return Err((i - 1, "mismatched bracket"));
                }
                if closers.is_empty() {
                    return Ok(Skipped::End(i));
                }
            }
            _ => {}
        }
    }
    Ok(Skipped::At(i, in_string))
}

/// Skips a string whose opening quote is at `pos` (escapes are stepped over, not checked).
#[inline]
fn skip_string(bytes: &[u8], pos: usize) -> Skip {
    let mut i = pos + 1;
    loop {
        i = swar::quote_or_backslash(bytes, i);
        match bytes.get(i) {
            Some(b'"') => return Ok(i + 1),
            Some(_) => i += 2,
            None => return Err((bytes.len(), "unterminated string")),
        }
    }
}

/// The end (after the closing quote) of the string whose opening quote is at `pos`
/// when it holds no escape and no control character, and whether it is all ASCII;
/// `None` otherwise (then [`scan_string`] decides).
#[inline(always)]
fn plain_string_end(bytes: &[u8], pos: usize) -> Option<(usize, bool)> {
    // Most strings end within the first word.
    if let Some(word) = swar::word_at(bytes, pos + 1) {
        let stops = swar::string_stops_ascii(word);
        if stops != 0 {
            let n = (stops.trailing_zeros() / 8) as usize;
            if (word >> (8 * n)) as u8 == b'"' {
                return Some((pos + n + 2, true));
            }
        }
    }
    long_string_end(bytes, pos)
}

/// [`plain_string_end`] for strings longer than a word.
#[inline(never)]
fn long_string_end(bytes: &[u8], pos: usize) -> Option<(usize, bool)> {
    let stop = swar::string_stop_ascii(bytes, pos + 1);
    match bytes.get(stop) {
        Some(b'"') => Some((stop + 1, true)),
        Some(&b) if b >= 0x80 => {
            let stop = swar::string_stop(bytes, stop + 1);
            (bytes.get(stop) == Some(&b'"')).then_some((stop + 1, false))
        }
        _ => None,
    }
}

/// The end (after the closing quote) of the key whose opening quote is at `pos`, and
/// its [`Key::head`], when it is plain ASCII without escapes; `None` otherwise.
#[inline(always)]
fn plain_key(bytes: &[u8], pos: usize) -> Option<(usize, u64)> {
    let start = pos + 1;
    let word = swar::word_at(bytes, start)?;
    let stops = swar::string_stops_ascii(word);
    if stops != 0 {
        // Exact for the lowest stop, the only one used.
        let n = stops.trailing_zeros() / 8;
        if (word >> (8 * n)) as u8 != b'"' {
            return None;
        }
        let head = word & ((1u64 << (8 * n)) - 1);
        return Some((start + n as usize + 1, head));
    }
    let stop = swar::string_stop_ascii(bytes, start + 8);
    (bytes.get(stop) == Some(&b'"')).then_some((stop + 1, word))
}

/// How thoroughly [`scan`] checks the parts of an event nobody asked about.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Check {
    /// Full JSON grammar and UTF-8 everywhere.
    Strict,
    /// Reported values are fully checked; skipped subtrees only for balanced brackets
    /// and closed strings, and the rest of an object is not read once every key a rule
    /// needs there has been seen.
    Lenient,
}

/// The state of one scan.
struct Scanner<'b, 'f, S> {
    bytes: &'b [u8],
    sink: &'f mut S,
    path: &'f mut Vec<u8>,
    /// The containers enclosing the innermost one (which the scan loop keeps in a local).
    frames: &'f mut Vec<Frame>,
    trail: &'f mut Vec<ArrayPos>,
    closers: &'f mut Vec<u8>,
    seen_keys: &'f mut std::collections::HashSet<(u32, Vec<u8>)>,
    next_array: u32,
    next_object: u32,
}

/// Scans one event (a JSON object) and reports its values to `sink`.
///
/// For repeated keys in one object, the first occurrence counts and later ones are
/// skipped.
pub fn scan(
    bytes: &[u8],
    sink: &mut impl Sink,
    buffers: &mut ScanBuffers,
    check: Check,
) -> Result<(), JsonError> {
    // ASCII (most events) is valid UTF-8; only other text needs the full check.
    if check == Check::Strict
        && !bytes.is_ascii()
        && let Err(e) = std::str::from_utf8(bytes)
    {
        return Err(JsonError::at(
            bytes,
            e.valid_up_to(),
            "the event is not valid UTF-8",
        ));
    }
    let ScanBuffers {
        path,
        frames,
        trail,
        closers,
        seen_keys,
    } = buffers;
    path.clear();
    frames.clear();
    trail.clear();
    seen_keys.clear();
    let root = sink.root();
    let mut scanner = Scanner {
        bytes,
        sink,
        path,
        frames,
        trail,
        closers,
        seen_keys,
        next_array: 0,
        next_object: 0,
    };
    let done = match check {
        Check::Lenient => scanner.run::<true>(root),
        Check::Strict => scanner.run::<false>(root),
    };
    done.map_err(|(at, message)| JsonError::at(bytes, at, message))
}

type Step = Result<(), (usize, &'static str)>;

impl<S: Sink> Scanner<'_, '_, S> {
    /// The frame of a container just opened (not on the stack).
    #[inline(always)]
    fn open<const LENIENT: bool>(&mut self, array: bool, root: bool, visit: Visit) -> Frame {
        let serial = self.next_object;
        self.next_object += u32::from(!array);
        Frame {
            array,
            root,
            visit,
            path_len: if S::NEEDS_PATH { self.path.len() } else { 0 },
            seen: 0,
            left: if LENIENT && !array && visit.children > 0 {
                u32::from(visit.children)
            } else {
                u32::MAX
            },
            serial,
        }
    }

    /// Closes the innermost container `cur` (never the top-level object): its parent
    /// becomes the innermost, and its trail entry is dropped when it had one.
    #[inline(always)]
    fn close(&mut self, cur: &mut Frame) {
        if cur.array && cur.visit.live() {
            self.trail.pop();
        }
        if let Some(parent) = self.frames.pop() {
            *cur = parent;
        }
    }

    /// What to do with the value of `key` in the object `cur` (which descends).
    #[inline(always)]
    fn child(&mut self, cur: &mut Frame, key: Key<'_>) -> Visit {
        if S::NEEDS_PATH {
            self.path.truncate(cur.path_len);
            if !cur.root {
                self.path.push(b'.');
            }
            self.path.extend_from_slice(key.text);
        }
        let visit = self.sink.visit(&cur.visit, key, self.path);
        if !visit.live() {
            return Visit::SKIP;
        }
        // First occurrence wins: a repeated key's value is skipped.
        let fresh = if visit.slot != NO_SLOT {
            let bit = 1u64 << (visit.slot & 63);
            let fresh = cur.seen & bit == 0;
            cur.seen |= bit;
            cur.left = cur.left.wrapping_sub(u32::from(fresh));
            fresh
        } else {
            self.seen_keys.insert((cur.serial, key.text.to_vec()))
        };
        if fresh { visit } else { Visit::SKIP }
    }

    /// The whole scan, as one loop over members (object keys with their values, array
    /// elements) that keeps the innermost container in a local. `LENIENT`: see
    /// [`Check::Lenient`].
    fn run<const LENIENT: bool>(&mut self, root: Visit) -> Step {
        let bytes = self.bytes;
        let mut pos = skip_ws(bytes, 0);
        if bytes.get(pos) != Some(&b'{') {
            return Err((pos, "an event must be a JSON object"));
        }
        let mut cur = self.open::<LENIENT>(false, true, root);
        pos = skip_ws(bytes, pos + 1);
        if bytes.get(pos) == Some(&b'}') {
            return after_event(bytes, pos + 1);
        }
        'member: loop {
            // At a member, white space skipped: a key (objects) or a value (arrays).
            let visit = if cur.array {
                if S::NEEDS_PATH {
                    self.path.truncate(cur.path_len);
                }
                cur.visit
            } else {
                if bytes.get(pos) != Some(&b'"') {
                    return Err((pos, "expected a string key"));
                }
                // Most keys are short plain ASCII: their text is the raw bytes between
                // the quotes, and the word read to find the end holds their head.
                let decoded;
                let (end, key) = match plain_key(bytes, pos) {
                    Some((end, head)) => (
                        end,
                        Key {
                            text: &bytes[pos + 1..end - 1],
                            head,
                        },
                    ),
                    None => {
                        let end;
                        (end, decoded) = match plain_string_end(bytes, pos) {
                            Some((end, _)) => (end, None),
                            None => scan_string(bytes, pos)?,
                        };
                        let text = match &decoded {
                            Some(d) => d.as_bytes(),
                            None => &bytes[pos + 1..end - 1],
                        };
                        (end, Key::new(text))
                    }
                };
                let visit = if cur.visit.descend {
                    self.child(&mut cur, key)
                } else {
                    Visit::SKIP
                };
                pos = end;
                if bytes.get(pos) != Some(&b':') {
                    pos = skip_ws(bytes, pos);
                    if bytes.get(pos) != Some(&b':') {
                        return Err((pos, "expected ':' after the key"));
                    }
                }
                pos = skip_ws(bytes, pos + 1);
                visit
            };
            // The value.
            match bytes.get(pos) {
                Some(b'"') => {
                    pos = if LENIENT && visit.leaf.is_none() {
                        skip_string(bytes, pos)?
                    } else {
                        self.string(pos, visit.leaf)?
                    };
                }
                Some(&open @ (b'{' | b'[')) => {
                    let array = open == b'[';
                    let enter = if array { visit.live() } else { visit.descend };
                    let close = if array { b']' } else { b'}' };
                    if LENIENT && !enter {
                        self.closers.clear();
                        self.closers.push(close);
                        pos = skip_inside(bytes, pos + 1, self.closers)?;
                    } else {
                        let visit = if enter { visit } else { Visit::SKIP };
                        if array && enter {
                            self.trail.push(ArrayPos {
                                array: self.next_array,
                                index: 0,
                            });
                            self.next_array += 1;
                        }
                        let inner = self.open::<LENIENT>(array, false, visit);
                        self.frames.push(std::mem::replace(&mut cur, inner));
                        pos = skip_ws(bytes, pos + 1);
                        if bytes.get(pos) != Some(&close) {
                            continue 'member;
                        }
                        // Empty.
                        pos += 1;
                        self.close(&mut cur);
                    }
                }
                Some(b'-' | b'0'..=b'9') => {
                    if LENIENT && visit.leaf.is_none() {
                        pos = skip_scalar(bytes, pos);
                    } else {
                        let Some(end) = scan_number(bytes, pos) else {
                            return Err((pos, "invalid number"));
                        };
                        if let Some(id) = visit.leaf {
                            self.sink
                                .value(id, Value::Num(&bytes[pos..end]), self.trail);
                        }
                        pos = end;
                    }
                }
                Some(&first @ (b't' | b'f' | b'n')) => {
                    if LENIENT && visit.leaf.is_none() {
                        pos = skip_scalar(bytes, pos);
                    } else {
                        let (word, value): (&[u8], _) = match first {
                            b't' => (b"true", Value::True),
                            b'f' => (b"false", Value::False),
                            _ => (b"null", Value::Null),
                        };
                        if !bytes[pos..].starts_with(word) {
                            return Err((pos, "expected a JSON value"));
                        }
                        if let Some(id) = visit.leaf {
                            self.sink.value(id, value, self.trail);
                        }
                        pos += word.len();
                    }
                }
                None => return Err((pos, "unexpected end of the event")),
                Some(_) => return Err((pos, "expected a JSON value")),
            }
            // After a value: separators and closing brackets.
            loop {
                if LENIENT && cur.left == 0 {
                    // Every key anyone needs here has been read: skip the rest unread.
                    if cur.root {
                        // Done, and what follows the event is not looked at.
                        return Ok(());
                    }
                    pos = leave_object(bytes, pos, self.closers)?;
                    self.close(&mut cur);
                    continue;
                }
                pos = skip_ws(bytes, pos);
                let close = if cur.array { b']' } else { b'}' };
                match bytes.get(pos) {
                    Some(b',') => {
                        pos = skip_ws(bytes, pos + 1);
                        if cur.array {
                            if cur.visit.live()
                                && let Some(last) = self.trail.last_mut()
                            {
                                last.index += 1;
                            }
                            if matches!(bytes.get(pos), Some(b']') | None) {
                                return Err((pos, "expected a value after ','"));
                            }
                        }
                        continue 'member;
                    }
                    Some(&b) if b == close => {
                        pos += 1;
                        if cur.root {
                            return after_event(bytes, pos);
                        }
                        self.close(&mut cur);
                    }
                    None => return Err((pos, "unexpected end of the event")),
                    Some(_) if cur.array => return Err((pos, "expected ',' or ']'")),
                    Some(_) => return Err((pos, "expected ',' or '}'")),
                }
            }
        }
    }

    /// Reads (and reports to `leaf`) the string whose opening quote is at `pos`;
    /// returns the offset after it.
    #[inline(always)]
    fn string(&mut self, pos: usize, leaf: Option<u32>) -> Skip {
        let bytes = self.bytes;
        let (end, decoded, ascii) = match plain_string_end(bytes, pos) {
            Some((end, ascii)) => (end, None, ascii),
            None => {
                let (end, decoded) = scan_string(bytes, pos)?;
                (end, decoded, false)
            }
        };
        if let Some(id) = leaf {
            let text: &[u8] = match &decoded {
                Some(d) => d.as_bytes(),
                None => {
                    let raw = &bytes[pos + 1..end - 1];
                    if !ascii && std::str::from_utf8(raw).is_err() {
                        return Err((pos, "string is not valid UTF-8"));
                    }
                    raw
                }
            };
            self.sink.value(id, Value::Str(text), self.trail);
        }
        Ok(end)
    }
}

/// After the top-level object closed at `pos`: only white space may follow.
fn after_event(bytes: &[u8], pos: usize) -> Step {
    let end = skip_ws(bytes, pos);
    if end < bytes.len() {
        return Err((end, "unexpected content after the event object"));
    }
    Ok(())
}

/// Skips a number or literal (without checking it): the run of characters that can
/// make one up.
#[inline(always)]
fn skip_scalar(bytes: &[u8], pos: usize) -> usize {
    let mut i = pos;
    while bytes
        .get(i)
        .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
    {
        i += 1;
    }
    i
}

/// Skips from inside an object to just after its closing brace.
fn leave_object(bytes: &[u8], pos: usize, closers: &mut Vec<u8>) -> Skip {
    closers.clear();
    closers.push(b'}');
    skip_inside(bytes, pos, closers)
}

/// Collects every scalar of an event with its path and trail (for explanations and
/// reference checks; the matcher uses its own sink that skips what no rule needs).
#[derive(Default)]
pub struct AllValues {
    /// Interned paths, indexed by id.
    pub paths: Vec<String>,
    ids: std::collections::HashMap<Vec<u8>, u32>,
    /// Every value: path id, value, trail.
    pub values: Vec<(u32, Scalar<'static>, Vec<ArrayPos>)>,
}

impl AllValues {
    /// Reads an event completely.
    pub fn read(bytes: &[u8]) -> Result<AllValues, JsonError> {
        let mut all = AllValues::default();
        scan(bytes, &mut all, &mut ScanBuffers::default(), Check::Strict)?;
        Ok(all)
    }

    /// The values at `path`, with their trails.
    pub fn at<'s>(
        &'s self,
        path: &str,
    ) -> impl Iterator<Item = (&'s Scalar<'static>, &'s [ArrayPos])> + 's {
        let id = self.ids.get(path.as_bytes()).copied();
        self.values
            .iter()
            .filter(move |(p, _, _)| Some(*p) == id)
            .map(|(_, v, t)| (v, t.as_slice()))
    }
}

impl Sink for AllValues {
    const NEEDS_PATH: bool = true;

    fn visit(&mut self, _parent: &Visit, _key: Key<'_>, path: &[u8]) -> Visit {
        let next = self.paths.len() as u32;
        let id = *self.ids.entry(path.to_vec()).or_insert_with(|| next);
        if id == next {
            self.paths.push(String::from_utf8_lossy(path).into_owned());
        }
        Visit {
            leaf: Some(id),
            descend: true,
            slot: NO_SLOT,
            children: 0,
            node: 0,
        }
    }

    fn value(&mut self, id: u32, value: Value<'_>, trail: &[ArrayPos]) {
        self.values
            .push((id, value.to_scalar().into_owned(), trail.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    type Flat = Vec<(String, String, Vec<(u32, u32)>)>;

    fn values(event: &str) -> Flat {
        let all = AllValues::read(event.as_bytes()).unwrap();
        all.values
            .iter()
            .map(|(p, v, t)| {
                (
                    all.paths[*p as usize].clone(),
                    v.to_json(),
                    t.iter().map(|a| (a.array, a.index)).collect(),
                )
            })
            .collect()
    }

    #[test]
    fn flattens_with_paths_and_trails() {
        let got = values(
            r#"{"a": {"b.c": 1, "d": [true, [null, "x"]]}, "e": [{"f": 2}, {"f": 3}], "g": []}"#,
        );
        let want = vec![
            ("a.b.c".into(), "1".into(), vec![]),
            ("a.d".into(), "true".into(), vec![(0, 0)]),
            ("a.d".into(), "null".into(), vec![(0, 1), (1, 0)]),
            ("a.d".into(), "\"x\"".into(), vec![(0, 1), (1, 1)]),
            ("e.f".into(), "2".into(), vec![(2, 0)]),
            ("e.f".into(), "3".into(), vec![(2, 1)]),
        ];
        assert_eq!(got, want);
    }

    #[test]
    fn trail_consistency() {
        let a = [ArrayPos { array: 0, index: 0 }];
        let b = [ArrayPos { array: 0, index: 1 }];
        let c = [ArrayPos { array: 3, index: 1 }];
        assert!(!consistent(&a, &b));
        assert!(consistent(&a, &c));
        assert!(consistent(&a, &[]));
    }

    #[test]
    fn malformed_events_are_errors() {
        for bad in [
            "",
            "[]",
            "{",
            "{\"a\"}",
            "{\"a\":1,}",
            "{\"a\":[1,]}",
            "{\"a\":01}",
            "{\"a\":tru}",
            "{\"a\":1}}",
            "{\"a\":\"\\q\"}",
            "{\"a\" 1}",
            "{\"a\":[1 2]}",
            "{\"a\":{\"b\":1]}",
            "{,}",
        ] {
            assert!(AllValues::read(bad.as_bytes()).is_err(), "{bad:?}");
        }
        assert!(AllValues::read(b"{\"a\":\"\xff\"}").is_err());
    }

    #[test]
    fn deep_nesting_does_not_overflow() {
        let depth = 100_000;
        let event = format!("{{\"a\":{}1{}}}", "[".repeat(depth), "]".repeat(depth));
        let all = AllValues::read(event.as_bytes()).unwrap();
        assert_eq!(all.values.len(), 1);
        assert_eq!(all.values[0].2.len(), depth);
    }

    /// Wants the values at a few dotted paths (as a rule would), by path text.
    struct Want {
        paths: &'static [&'static str],
        got: Vec<(String, String)>,
    }

    impl Sink for Want {
        const NEEDS_PATH: bool = true;

        fn visit(&mut self, _parent: &Visit, _key: Key<'_>, path: &[u8]) -> Visit {
            let path = std::str::from_utf8(path).unwrap();
            let leaf = self.paths.iter().position(|p| *p == path);
            let descend = self.paths.iter().any(|p| {
                p.len() > path.len() && p.starts_with(path) && p.as_bytes()[path.len()] == b'.'
            });
            Visit {
                leaf: leaf.map(|i| i as u32),
                descend,
                slot: NO_SLOT,
                children: 0,
                node: 0,
            }
        }

        fn value(&mut self, id: u32, value: Value<'_>, _trail: &[ArrayPos]) {
            let path = self.paths[id as usize].to_string();
            self.got.push((path, value.to_scalar().to_json()));
        }
    }

    fn wanted(
        event: &str,
        paths: &'static [&'static str],
        check: Check,
    ) -> Result<Vec<(String, String)>, JsonError> {
        let mut want = Want {
            paths,
            got: Vec::new(),
        };
        scan(
            event.as_bytes(),
            &mut want,
            &mut ScanBuffers::default(),
            check,
        )?;
        Ok(want.got)
    }

    fn pairs(list: &[(&str, &str)]) -> Vec<(String, String)> {
        list.iter()
            .map(|(a, b)| (a.to_string(), b.to_string()))
            .collect()
    }

    #[test]
    fn white_space_and_escapes_do_not_change_values() {
        let forms = [
            r#"{"a":"x","b":{"c":1,"d":[true,null]},"e":"y"}"#,
            " { \"a\" : \"x\" , \"b\" : { \"c\" : 1 , \"d\" : [ true , null ] } , \"e\" : \"y\" } ",
            "{\n\t\"a\":\r\n\"x\",\n\"b\":{\"c\":1,\"d\":[true,\n null]},\"e\":\"y\"\n}\n",
            r#"{"\u0061":"\u0078","b":{"\u0063":1,"d":[true,null]},"e":"y"}"#,
        ];
        let want = values(forms[0]);
        for form in forms {
            assert_eq!(values(form), want, "{form}");
            for check in [Check::Strict, Check::Lenient] {
                assert_eq!(
                    wanted(form, &["a", "b.c", "e"], check).unwrap(),
                    pairs(&[("a", "\"x\""), ("b.c", "1"), ("e", "\"y\"")]),
                    "{form}"
                );
            }
        }
    }

    #[test]
    fn long_keys_and_keys_with_escapes_are_read_whole() {
        let event = r#"{"a_rather_long_key_name":1,"k\"q":2,"k\\":3,"\u00e9t\u00e9":4,"été":5}"#;
        let got = values(event);
        let keys: Vec<&str> = got.iter().map(|(p, _, _)| p.as_str()).collect();
        // The escaped and the raw spelling are one key: the first counts.
        assert_eq!(keys, ["a_rather_long_key_name", "k\"q", "k\\", "été"]);
        assert_eq!(got[3].1, "4");
    }

    #[test]
    fn skipped_subtrees_with_tricky_strings() {
        // Brackets and escaped quotes inside strings of skipped values, across word
        // boundaries, must not confuse the skip.
        let tricky = [
            r#"{"s":"]}\"{[","t":["\\",{"u":"\\\"]"}],"v":{"w":"}}}}}}}}}}}}"}}"#,
            r#"{"x":[[[[[[[[[[[[[[[[[[["\"]]]]]]]]]]]]]]]]]]]"]]]]]]]]]]]]]]]]]]]}"#,
            r#"{"y":"a\\\\\\\\\\\\\"\\\\","z":[{"q":"[[[[[[[["},{"q":"]]]]]]]]"}]}"#,
            r#"{"Yy_":{"yY_":["_yY","Y"],"_":{"y":[]}},"e":{}}"#,
        ];
        for event in tricky {
            let inner = format!(r#"{{"skip":{event},"last":"found"}}"#);
            for check in [Check::Strict, Check::Lenient] {
                assert_eq!(
                    wanted(&inner, &["last"], check).unwrap(),
                    pairs(&[("last", "\"found\"")]),
                    "{inner}"
                );
            }
            assert_eq!(
                value_end(inner.as_bytes(), 8),
                Some(8 + event.len()),
                "{event}"
            );
        }
    }

    #[test]
    fn skipped_brackets_must_pair_up() {
        for bad in [
            r#"{"a":[1}, "b":1}"#,
            r#"{"a":{"c":[}], "b":1}"#,
            r#"{"a":{"c":"]"], "b":1}"#,
            r#"{"a":{"c":"x\"}"}, "b":1"#,
        ] {
            assert!(wanted(bad, &["b"], Check::Lenient).is_err(), "{bad}");
            assert!(wanted(bad, &["b"], Check::Strict).is_err(), "{bad}");
        }
    }

    #[test]
    fn deep_skipped_nesting() {
        let depth = 10_000;
        let event = format!(
            r#"{{"a":{}"x"{},"b":{}{{}}{},"c":1}}"#,
            "[".repeat(depth),
            "]".repeat(depth),
            "{\"k\":".repeat(depth),
            "}".repeat(depth)
        );
        for check in [Check::Strict, Check::Lenient] {
            assert_eq!(wanted(&event, &["c"], check).unwrap(), pairs(&[("c", "1")]));
        }
    }

    #[test]
    fn first_of_repeated_keys_counts() {
        let event = r#"{"a":1,"b":{"c":2},"a":3,"b":{"c":4,"d":5}}"#;
        for check in [Check::Strict, Check::Lenient] {
            assert_eq!(
                wanted(event, &["a", "b.c", "b.d"], check).unwrap(),
                pairs(&[("a", "1"), ("b.c", "2")])
            );
        }
    }

    #[test]
    fn truncated_events_are_errors() {
        let event = r#"{"a":"x\"y","b":{"c":[1,{"d":"]"}],"e":true},"f":-1.5e3,"g":null}"#;
        for end in 0..event.len() {
            let cut = &event[..end];
            assert!(AllValues::read(cut.as_bytes()).is_err(), "{cut}");
            for paths in [&["g"][..], &["a", "b.c.d", "f"][..]] {
                let paths: &'static [&'static str] = Box::leak(paths.to_vec().into_boxed_slice());
                assert!(wanted(cut, paths, Check::Lenient).is_err(), "{cut}");
            }
        }
        assert!(AllValues::read(event.as_bytes()).is_ok());
    }
}
