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
use super::json::{line_column, scan_number, scan_string, JsonError};

/// The position of a value inside one enclosing array.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
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

/// What to do with the value at a path.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Visit {
    /// Report scalar values at this path with this id.
    pub leaf: Option<u32>,
    /// Some longer path starts with this one: look inside objects.
    pub descend: bool,
}

impl Visit {
    /// Neither report nor descend.
    pub const SKIP: Visit = Visit {
        leaf: None,
        descend: false,
    };

    fn live(self) -> bool {
        self.leaf.is_some() || self.descend
    }
}

/// Receives the values of an event.
pub trait Sink {
    /// Decides what to do with the value at `path` (dotted, e.g. `detail.state`).
    fn visit(&mut self, path: &[u8]) -> Visit;
    /// A scalar value at a path whose [`Visit::leaf`] was `Some(id)`.
    fn value(&mut self, id: u32, value: Scalar<'_>, trail: &[ArrayPos]);
}

#[derive(Clone, Copy)]
struct Frame {
    array: bool,
    root: bool,
    first: bool,
    visit: Visit,
    path_len: usize,
}

/// Reusable buffers for [`scan`] (keeps the hot path free of allocation).
#[derive(Default)]
pub struct ScanBuffers {
    path: Vec<u8>,
    frames: Vec<Frame>,
    trail: Vec<ArrayPos>,
}

fn error_at(bytes: &[u8], offset: usize, message: &str) -> JsonError {
    let (line, column) = line_column(bytes, offset);
    JsonError {
        line,
        column,
        message: message.to_string(),
    }
}

#[inline]
fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

fn utf8(bytes: &[u8]) -> &str {
    // The whole event was validated as UTF-8 before scanning, and string slices are cut
    // at ASCII quotes, so this cannot fail; fall back to "" rather than panic.
    std::str::from_utf8(bytes).unwrap_or_default()
}

/// Scans one event (a JSON object) and reports its values to `sink`.
pub fn scan(bytes: &[u8], sink: &mut impl Sink, buffers: &mut ScanBuffers) -> Result<(), JsonError> {
    if let Err(e) = std::str::from_utf8(bytes) {
        return Err(error_at(bytes, e.valid_up_to(), "the event is not valid UTF-8"));
    }
    let ScanBuffers {
        path,
        frames,
        trail,
    } = buffers;
    path.clear();
    frames.clear();
    trail.clear();
    let mut next_array = 0u32;
    let mut pos = skip_ws(bytes, 0);
    if bytes.get(pos) != Some(&b'{') {
        return Err(error_at(bytes, pos, "an event must be a JSON object"));
    }
    pos += 1;
    frames.push(Frame {
        array: false,
        root: true,
        first: true,
        visit: Visit {
            leaf: None,
            descend: true,
        },
        path_len: 0,
    });

    'outer: loop {
        // At the start of a member (object) or element (array) of the top frame.
        let Some(frame) = frames.last_mut() else {
            break;
        };
        pos = skip_ws(bytes, pos);
        let visit;
        if frame.array {
            if frame.first && bytes.get(pos) == Some(&b']') {
                pos += 1;
                let live = frame.visit.live();
                close(frames, trail, live);
                if after_value(bytes, &mut pos, frames, trail)? {
                    break;
                }
                continue;
            }
            frame.first = false;
            visit = frame.visit;
            path.truncate(frame.path_len);
        } else {
            if frame.first && bytes.get(pos) == Some(&b'}') {
                pos += 1;
                frames.pop();
                if after_value(bytes, &mut pos, frames, trail)? {
                    break;
                }
                continue;
            }
            frame.first = false;
            if bytes.get(pos) != Some(&b'"') {
                return Err(error_at(bytes, pos, "expected a string key"));
            }
            let (end, decoded) = scan_string(bytes, pos).map_err(|(at, m)| error_at(bytes, at, m))?;
            let key: &[u8] = match &decoded {
                Some(d) => d.as_bytes(),
                None => &bytes[pos + 1..end - 1],
            };
            visit = if frame.visit.descend {
                path.truncate(frame.path_len);
                if !frame.root {
                    path.push(b'.');
                }
                path.extend_from_slice(key);
                sink.visit(path)
            } else {
                Visit::SKIP
            };
            pos = skip_ws(bytes, end);
            if bytes.get(pos) != Some(&b':') {
                return Err(error_at(bytes, pos, "expected ':' after the key"));
            }
            pos = skip_ws(bytes, pos + 1);
        }

        // A value.
        match bytes.get(pos) {
            Some(b'{') => {
                pos += 1;
                let visit = if visit.descend { visit } else { Visit::SKIP };
                frames.push(Frame {
                    array: false,
                    root: false,
                    first: true,
                    visit,
                    path_len: path.len(),
                });
                continue 'outer;
            }
            Some(b'[') => {
                pos += 1;
                let visit = if visit.live() { visit } else { Visit::SKIP };
                if visit.live() {
                    trail.push(ArrayPos {
                        array: next_array,
                        index: 0,
                    });
                    next_array += 1;
                }
                frames.push(Frame {
                    array: true,
                    root: false,
                    first: true,
                    visit,
                    path_len: path.len(),
                });
                continue 'outer;
            }
            Some(b'"') => {
                let (end, decoded) = scan_string(bytes, pos).map_err(|(at, m)| error_at(bytes, at, m))?;
                if let Some(id) = visit.leaf {
                    let text = match decoded {
                        Some(d) => Cow::Owned(d),
                        None => Cow::Borrowed(utf8(&bytes[pos + 1..end - 1])),
                    };
                    sink.value(id, Scalar::Str(text), trail);
                }
                pos = end;
            }
            Some(b'-' | b'0'..=b'9') => {
                let Some(end) = scan_number(bytes, pos) else {
                    return Err(error_at(bytes, pos, "invalid number"));
                };
                if let Some(id) = visit.leaf {
                    sink.value(id, Scalar::Num(Cow::Borrowed(utf8(&bytes[pos..end]))), trail);
                }
                pos = end;
            }
            Some(b't') if bytes[pos..].starts_with(b"true") => {
                if let Some(id) = visit.leaf {
                    sink.value(id, Scalar::True, trail);
                }
                pos += 4;
            }
            Some(b'f') if bytes[pos..].starts_with(b"false") => {
                if let Some(id) = visit.leaf {
                    sink.value(id, Scalar::False, trail);
                }
                pos += 5;
            }
            Some(b'n') if bytes[pos..].starts_with(b"null") => {
                if let Some(id) = visit.leaf {
                    sink.value(id, Scalar::Null, trail);
                }
                pos += 4;
            }
            None => return Err(error_at(bytes, pos, "unexpected end of the event")),
            Some(_) => return Err(error_at(bytes, pos, "expected a JSON value")),
        }
        if after_value(bytes, &mut pos, frames, trail)? {
            break;
        }
    }
    let end = skip_ws(bytes, pos);
    if end < bytes.len() {
        return Err(error_at(bytes, end, "unexpected content after the event object"));
    }
    Ok(())
}

/// Pops the array frame on top, dropping its trail entry when it had one.
fn close(frames: &mut Vec<Frame>, trail: &mut Vec<ArrayPos>, live: bool) {
    frames.pop();
    if live {
        trail.pop();
    }
}

/// After a complete value: consumes separators and closing brackets. Returns true when
/// the root object has been closed.
fn after_value(
    bytes: &[u8],
    pos: &mut usize,
    frames: &mut Vec<Frame>,
    trail: &mut Vec<ArrayPos>,
) -> Result<bool, JsonError> {
    loop {
        let Some(frame) = frames.last() else {
            return Ok(true);
        };
        *pos = skip_ws(bytes, *pos);
        let array = frame.array;
        match (bytes.get(*pos), array) {
            (Some(b','), _) => {
                *pos += 1;
                if array && frame.visit.live() {
                    if let Some(last) = trail.last_mut() {
                        last.index += 1;
                    }
                }
                if !array {
                    // the next member must be a key, not a closing brace
                    let next = skip_ws(bytes, *pos);
                    if bytes.get(next) != Some(&b'"') {
                        return Err(error_at(bytes, next, "expected a string key"));
                    }
                } else {
                    let next = skip_ws(bytes, *pos);
                    if bytes.get(next) == Some(&b']') {
                        return Err(error_at(bytes, next, "expected a value after ','"));
                    }
                }
                return Ok(false);
            }
            (Some(b'}'), false) => {
                *pos += 1;
                frames.pop();
            }
            (Some(b']'), true) => {
                *pos += 1;
                let live = frame.visit.live();
                close(frames, trail, live);
            }
            (None, _) => return Err(error_at(bytes, *pos, "unexpected end of the event")),
            (Some(_), false) => return Err(error_at(bytes, *pos, "expected ',' or '}'")),
            (Some(_), true) => return Err(error_at(bytes, *pos, "expected ',' or ']'")),
        }
    }
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
        scan(bytes, &mut all, &mut ScanBuffers::default())?;
        Ok(all)
    }

    /// The values at `path`, with their trails.
    pub fn at<'s>(&'s self, path: &str) -> impl Iterator<Item = (&'s Scalar<'static>, &'s [ArrayPos])> + 's {
        let id = self.ids.get(path.as_bytes()).copied();
        self.values
            .iter()
            .filter(move |(p, _, _)| Some(*p) == id)
            .map(|(_, v, t)| (v, t.as_slice()))
    }
}

impl Sink for AllValues {
    fn visit(&mut self, path: &[u8]) -> Visit {
        let next = self.paths.len() as u32;
        let id = *self.ids.entry(path.to_vec()).or_insert_with(|| {
            next
        });
        if id == next {
            self.paths.push(String::from_utf8_lossy(path).into_owned());
        }
        Visit {
            leaf: Some(id),
            descend: true,
        }
    }

    fn value(&mut self, id: u32, value: Scalar<'_>, trail: &[ArrayPos]) {
        self.values.push((id, value.into_owned(), trail.to_vec()));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(event: &str) -> Vec<(String, String, Vec<(u32, u32)>)> {
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
        let got = values(r#"{"a": {"b.c": 1, "d": [true, [null, "x"]]}, "e": [{"f": 2}, {"f": 3}], "g": []}"#);
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
            "", "[]", "{", "{\"a\"}", "{\"a\":1,}", "{\"a\":[1,]}", "{\"a\":01}", "{\"a\":tru}",
            "{\"a\":1}}", "{\"a\":\"\\q\"}", "{\"a\" 1}", "{\"a\":[1 2]}", "{\"a\":{\"b\":1]}", "{,}",
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
