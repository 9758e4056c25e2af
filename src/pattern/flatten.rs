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

/// A scalar value as a [`Sink`] receives it: text as bytes, which are always valid
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
    fn visit(&mut self, parent: &Visit, key: &[u8], path: &[u8]) -> Visit;
    /// A scalar value at a path whose [`Visit::leaf`] was `Some(id)`.
    fn value(&mut self, id: u32, value: Value<'_>, trail: &[ArrayPos]);
}

#[derive(Clone, Copy)]
struct Frame {
    array: bool,
    root: bool,
    first: bool,
    visit: Visit,
    path_len: usize,
    /// Object frames: bit per expected key already seen.
    seen: u64,
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
        Some(b'-' | b'0'..=b'9' | b't' | b'f' | b'n') => {
            let mut i = pos;
            while bytes
                .get(i)
                .is_some_and(|&b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'+' | b'-'))
            {
                i += 1;
            }
            Ok(i)
        }
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
fn skip_inside(bytes: &[u8], pos: usize, closers: &mut Vec<u8>) -> Skip {
    let mut i = pos;
    loop {
        i = swar::structural(bytes, i);
        let Some(&b) = bytes.get(i) else {
            return Err((bytes.len(), "unexpected end of the event"));
        };
        match b {
            b'"' => i = skip_string(bytes, i)?,
            b'{' => {
                closers.push(b'}');
                i += 1;
            }
            b'[' => {
                closers.push(b']');
                i += 1;
            }
            _ => {
                if closers.pop() != Some(b) {
                    return Err((i, "mismatched bracket"));
                }
                i += 1;
                if closers.is_empty() {
                    return Ok(i);
                }
            }
        }
    }
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
    pos: usize,
    check: Check,
    sink: &'f mut S,
    path: &'f mut Vec<u8>,
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
        pos: 0,
        check,
        sink,
        path,
        frames,
        trail,
        closers,
        seen_keys,
        next_array: 0,
        next_object: 0,
    };
    scanner
        .run(root)
        .map_err(|(at, message)| JsonError::at(bytes, at, message))
}

type Step = Result<(), (usize, &'static str)>;

impl<S: Sink> Scanner<'_, '_, S> {
    fn run(&mut self, root: Visit) -> Step {
        self.pos = skip_ws(self.bytes, 0);
        if self.bytes.get(self.pos) != Some(&b'{') {
            return Err((self.pos, "an event must be a JSON object"));
        }
        self.pos += 1;
        self.push(false, true, root);
        loop {
            // `None`: an empty container closed.
            if let Some(visit) = self.member()? {
                self.value(visit)?;
            }
            if self.after_value()? {
                break;
            }
        }
        if self.frames.is_empty() {
            let end = skip_ws(self.bytes, self.pos);
            if end < self.bytes.len() {
                return Err((end, "unexpected content after the event object"));
            }
        }
        Ok(())
    }

    fn push(&mut self, array: bool, root: bool, visit: Visit) {
        let serial = self.next_object;
        if !array {
            self.next_object += 1;
        }
        self.frames.push(Frame {
            array,
            root,
            first: true,
            visit,
            path_len: self.path.len(),
            seen: 0,
            serial,
        });
    }

    /// At the start of an object member or array element: reads the key (objects) and
    /// returns what to do with the value; `None` when the container was empty and has
    /// been closed.
    fn member(&mut self) -> Result<Option<Visit>, (usize, &'static str)> {
        let bytes = self.bytes;
        self.pos = skip_ws(bytes, self.pos);
        let Some(frame) = self.frames.last_mut() else {
            return Err((self.pos, "internal: no open container"));
        };
        if frame.array {
            if frame.first && bytes.get(self.pos) == Some(&b']') {
                self.pos += 1;
                self.close();
                return Ok(None);
            }
            frame.first = false;
            if S::NEEDS_PATH {
                self.path.truncate(frame.path_len);
            }
            return Ok(Some(frame.visit));
        }
        if frame.first && bytes.get(self.pos) == Some(&b'}') {
            self.pos += 1;
            self.close();
            return Ok(None);
        }
        frame.first = false;
        if bytes.get(self.pos) != Some(&b'"') {
            return Err((self.pos, "expected a string key"));
        }
        // Most keys hold no escape: their text is the raw bytes between the quotes.
        let decoded;
        let (end, key): (usize, &[u8]) = match plain_string_end(bytes, self.pos) {
            Some((end, _)) => (end, &bytes[self.pos + 1..end - 1]),
            None => {
                let end;
                (end, decoded) = scan_string(bytes, self.pos)?;
                match &decoded {
                    Some(d) => (end, d.as_bytes()),
                    None => (end, &bytes[self.pos + 1..end - 1]),
                }
            }
        };
        let mut visit = Visit::SKIP;
        if frame.visit.descend {
            if S::NEEDS_PATH {
                self.path.truncate(frame.path_len);
                if !frame.root {
                    self.path.push(b'.');
                }
                self.path.extend_from_slice(key);
            }
            visit = self.sink.visit(&frame.visit, key, self.path);
            if visit.live() {
                // First occurrence wins: a repeated key's value is skipped.
                let fresh = if visit.slot != NO_SLOT {
                    let bit = 1u64 << (visit.slot & 63);
                    let fresh = frame.seen & bit == 0;
                    frame.seen |= bit;
                    fresh
                } else {
                    self.seen_keys.insert((frame.serial, key.to_vec()))
                };
                if !fresh {
                    visit = Visit::SKIP;
                }
            }
        }
        self.pos = skip_ws(bytes, end);
        if bytes.get(self.pos) != Some(&b':') {
            return Err((self.pos, "expected ':' after the key"));
        }
        self.pos = skip_ws(bytes, self.pos + 1);
        Ok(Some(visit))
    }

    /// Reads one value.
    fn value(&mut self, visit: Visit) -> Step {
        let bytes = self.bytes;
        let pos = self.pos;
        if self.check == Check::Lenient && !visit.live() {
            self.pos = match bytes.get(pos) {
                Some(b'"') => skip_string(bytes, pos)?,
                _ => skip_value(bytes, pos, self.closers)?,
            };
            return Ok(());
        }
        match bytes.get(pos) {
            Some(b'{') => {
                self.pos += 1;
                let visit = if visit.descend { visit } else { Visit::SKIP };
                self.push(false, false, visit);
            }
            Some(b'[') => {
                self.pos += 1;
                let visit = if visit.live() { visit } else { Visit::SKIP };
                if visit.live() {
                    self.trail.push(ArrayPos {
                        array: self.next_array,
                        index: 0,
                    });
                    self.next_array += 1;
                }
                self.push(true, false, visit);
            }
            Some(b'"') => {
                let (end, decoded, ascii) = match plain_string_end(bytes, pos) {
                    Some((end, ascii)) => (end, None, ascii),
                    None => {
                        let (end, decoded) = scan_string(bytes, pos)?;
                        (end, decoded, false)
                    }
                };
                if let Some(id) = visit.leaf {
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
                self.pos = end;
            }
            Some(b'-' | b'0'..=b'9') => {
                let Some(end) = scan_number(bytes, pos) else {
                    return Err((pos, "invalid number"));
                };
                if let Some(id) = visit.leaf {
                    self.sink
                        .value(id, Value::Num(&bytes[pos..end]), self.trail);
                }
                self.pos = end;
            }
            Some(b't') if bytes[pos..].starts_with(b"true") => self.literal(visit, Value::True, 4),
            Some(b'f') if bytes[pos..].starts_with(b"false") => {
                self.literal(visit, Value::False, 5)
            }
            Some(b'n') if bytes[pos..].starts_with(b"null") => self.literal(visit, Value::Null, 4),
            None => return Err((pos, "unexpected end of the event")),
            Some(_) => return Err((pos, "expected a JSON value")),
        }
        Ok(())
    }

    fn literal(&mut self, visit: Visit, value: Value<'static>, len: usize) {
        if let Some(id) = visit.leaf {
            self.sink.value(id, value, self.trail);
        }
        self.pos += len;
    }

    /// Pops the container on top, dropping its trail entry when it had one.
    fn close(&mut self) {
        if let Some(frame) = self.frames.pop()
            && frame.array
            && frame.visit.live()
        {
            self.trail.pop();
        }
    }

    /// After a complete value (or an empty container just closed): consumes
    /// separators and closing brackets. Returns true when the event is done.
    #[inline(always)]
    fn after_value(&mut self) -> Result<bool, (usize, &'static str)> {
        let bytes = self.bytes;
        loop {
            let Some(frame) = self.frames.last_mut() else {
                return Ok(true);
            };
            // In a just-completed container value the top frame is still open.
            if frame.first {
                return Ok(false);
            }
            if !frame.array {
                if self.check == Check::Lenient
                    && frame.visit.children > 0
                    && frame.seen.count_ones() == u32::from(frame.visit.children)
                {
                    // Every key anyone needs here has been read: skip the rest unread.
                    if frame.root {
                        // Done; the open root frame tells `run` not to check what follows.
                        return Ok(true);
                    }
                    self.pos = leave_object(bytes, self.pos, self.closers)?;
                    self.close();
                    continue;
                }
                self.pos = skip_ws(bytes, self.pos);
                match bytes.get(self.pos) {
                    // `member` checks that a key follows.
                    Some(b',') => {
                        self.pos += 1;
                        return Ok(false);
                    }
                    Some(b'}') => {
                        self.pos += 1;
                        self.close();
                        continue;
                    }
                    None => return Err((self.pos, "unexpected end of the event")),
                    Some(_) => return Err((self.pos, "expected ',' or '}'")),
                }
            }
            self.pos = skip_ws(bytes, self.pos);
            match bytes.get(self.pos) {
                Some(b',') => {
                    self.pos += 1;
                    if frame.visit.live()
                        && let Some(last) = self.trail.last_mut()
                    {
                        last.index += 1;
                    }
                    let next = skip_ws(bytes, self.pos);
                    if matches!(bytes.get(next), Some(b']') | None) {
                        return Err((next, "expected a value after ','"));
                    }
                    return Ok(false);
                }
                Some(b']') => {
                    self.pos += 1;
                    self.close();
                }
                None => return Err((self.pos, "unexpected end of the event")),
                Some(_) => return Err((self.pos, "expected ',' or ']'")),
            }
        }
    }
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

    fn visit(&mut self, _parent: &Visit, _key: &[u8], path: &[u8]) -> Visit {
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
}
