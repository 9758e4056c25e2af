//! A small, strict JSON reader for patterns, policies and rule files.
//!
//! `serde_json` would lose two things the pattern language depends on: the exact
//! spelling of numbers (`300` vs `3e2` vs `300.0` are matched differently when they
//! cannot be compared as floats) and duplicate keys (event-ruler lets a later
//! `"location"` override an earlier one at the same path, while nested objects with the
//! same key merge). This reader keeps both. It follows RFC 8259 strictly (no comments,
//! no trailing commas, no `NaN`) and reports errors with line and column.

use std::fmt;

/// A parsed JSON value that keeps number spelling and duplicate object keys.
#[derive(Clone, Debug, PartialEq)]
pub enum Json {
    /// `null`
    Null,
    /// `true` or `false`
    Bool(bool),
    /// A number, exactly as written in the source text.
    Number(String),
    /// A string with escapes decoded.
    String(String),
    /// An array.
    Array(Vec<Json>),
    /// An object: keys in document order, duplicates kept.
    Object(Vec<(String, Json)>),
}

impl Json {
    /// A short name of the value's JSON type, for error messages.
    pub fn type_name(&self) -> &'static str {
        match self {
            Json::Null => "null",
            Json::Bool(_) => "boolean",
            Json::Number(_) => "number",
            Json::String(_) => "string",
            Json::Array(_) => "array",
            Json::Object(_) => "object",
        }
    }

    /// Writes the value as compact JSON (numbers keep their spelling).
    pub fn write_compact(&self, out: &mut String) {
        match self {
            Json::Null => out.push_str("null"),
            Json::Bool(b) => out.push_str(if *b { "true" } else { "false" }),
            Json::Number(n) => out.push_str(n),
            Json::String(s) => write_string(s, out),
            Json::Array(items) => {
                out.push('[');
                for (i, item) in items.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    item.write_compact(out);
                }
                out.push(']');
            }
            Json::Object(fields) => {
                out.push('{');
                for (i, (k, v)) in fields.iter().enumerate() {
                    if i > 0 {
                        out.push(',');
                    }
                    write_string(k, out);
                    out.push(':');
                    v.write_compact(out);
                }
                out.push('}');
            }
        }
    }

    /// The value as compact JSON text.
    pub fn to_compact(&self) -> String {
        let mut out = String::new();
        self.write_compact(&mut out);
        out
    }
}

/// Appends `s` as a JSON string literal (escaped as serde_json does).
pub fn write_string(s: &str, out: &mut String) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            '\u{08}' => out.push_str("\\b"),
            '\u{0C}' => out.push_str("\\f"),
            c if (c as u32) < 0x20 => out.push_str(&format!("\\u{:04x}", c as u32)),
            c => out.push(c),
        }
    }
    out.push('"');
}

/// A JSON syntax error with its position.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct JsonError {
    /// 1-based line of the error.
    pub line: usize,
    /// 1-based column (in characters) of the error.
    pub column: usize,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for JsonError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "line {}, column {}: {}",
            self.line, self.column, self.message
        )
    }
}

impl std::error::Error for JsonError {}

impl JsonError {
    /// An error at byte `offset` of `text`, with its line and column.
    pub fn at(text: &[u8], offset: usize, message: &str) -> JsonError {
        let (line, column) = line_column(text, offset);
        JsonError {
            line,
            column,
            message: message.to_string(),
        }
    }
}

/// The offset of the first byte at or after `pos` that is not JSON white space.
#[inline]
pub fn skip_ws(bytes: &[u8], mut pos: usize) -> usize {
    while let Some(&b) = bytes.get(pos) {
        if matches!(b, b' ' | b'\t' | b'\n' | b'\r') {
            pos += 1;
        } else {
            break;
        }
    }
    pos
}

/// Computes the 1-based line and column of byte `offset` in `text`.
pub fn line_column(text: &[u8], offset: usize) -> (usize, usize) {
    let offset = offset.min(text.len());
    let before = &text[..offset];
    let line = before.iter().filter(|&&b| b == b'\n').count() + 1;
    let line_start = before
        .iter()
        .rposition(|&b| b == b'\n')
        .map_or(0, |p| p + 1);
    let column = String::from_utf8_lossy(&before[line_start..])
        .chars()
        .count()
        + 1;
    (line, column)
}

/// Parses one JSON document; only whitespace may follow it.
///
/// `max_depth` bounds the nesting of arrays and objects (the reader is recursive).
pub fn parse(text: &str, max_depth: usize) -> Result<Json, JsonError> {
    let mut reader = Reader {
        bytes: text.as_bytes(),
        pos: 0,
        max_depth,
    };
    reader.skip_ws();
    let value = reader.value(0)?;
    reader.skip_ws();
    if reader.pos < reader.bytes.len() {
        return Err(reader.error("unexpected content after the JSON value"));
    }
    Ok(value)
}

struct Reader<'a> {
    bytes: &'a [u8],
    pos: usize,
    max_depth: usize,
}

impl Reader<'_> {
    fn error(&self, message: &str) -> JsonError {
        JsonError::at(self.bytes, self.pos, message)
    }

    fn skip_ws(&mut self) {
        self.pos = skip_ws(self.bytes, self.pos);
    }

    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn literal(&mut self, word: &[u8], value: Json) -> Result<Json, JsonError> {
        if self.bytes[self.pos..].starts_with(word) {
            self.pos += word.len();
            Ok(value)
        } else {
            Err(self.error("invalid literal"))
        }
    }

    fn value(&mut self, depth: usize) -> Result<Json, JsonError> {
        match self.peek() {
            None => Err(self.error("unexpected end of input")),
            Some(b'{') => self.object(depth + 1),
            Some(b'[') => self.array(depth + 1),
            Some(b'"') => Ok(Json::String(self.string()?)),
            Some(b't') => self.literal(b"true", Json::Bool(true)),
            Some(b'f') => self.literal(b"false", Json::Bool(false)),
            Some(b'n') => self.literal(b"null", Json::Null),
            Some(b'-' | b'0'..=b'9') => {
                let start = self.pos;
                match scan_number(self.bytes, self.pos) {
                    Some(end) => {
                        self.pos = end;
                        let text = std::str::from_utf8(&self.bytes[start..end]).unwrap_or("0");
                        Ok(Json::Number(text.to_string()))
                    }
                    None => Err(self.error("invalid number")),
                }
            }
            Some(_) => Err(self.error("expected a JSON value")),
        }
    }

    fn check_depth(&self, depth: usize) -> Result<(), JsonError> {
        if depth > self.max_depth {
            Err(self.error(&format!("nesting deeper than {} levels", self.max_depth)))
        } else {
            Ok(())
        }
    }

    fn object(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '{'
        let mut fields = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b'}') {
            self.pos += 1;
            return Ok(Json::Object(fields));
        }
        loop {
            self.skip_ws();
            if self.peek() != Some(b'"') {
                return Err(self.error("expected a string key"));
            }
            let key = self.string()?;
            self.skip_ws();
            if self.peek() != Some(b':') {
                return Err(self.error("expected ':' after the key"));
            }
            self.pos += 1;
            self.skip_ws();
            let value = self.value(depth)?;
            fields.push((key, value));
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b'}') => {
                    self.pos += 1;
                    return Ok(Json::Object(fields));
                }
                _ => return Err(self.error("expected ',' or '}'")),
            }
        }
    }

    fn array(&mut self, depth: usize) -> Result<Json, JsonError> {
        self.check_depth(depth)?;
        self.pos += 1; // '['
        let mut items = Vec::new();
        self.skip_ws();
        if self.peek() == Some(b']') {
            self.pos += 1;
            return Ok(Json::Array(items));
        }
        loop {
            self.skip_ws();
            items.push(self.value(depth)?);
            self.skip_ws();
            match self.peek() {
                Some(b',') => self.pos += 1,
                Some(b']') => {
                    self.pos += 1;
                    return Ok(Json::Array(items));
                }
                _ => return Err(self.error("expected ',' or ']'")),
            }
        }
    }

    fn string(&mut self) -> Result<String, JsonError> {
        match scan_string(self.bytes, self.pos) {
            Ok((end, decoded)) => {
                let s = match decoded {
                    Some(s) => s,
                    None => {
                        String::from_utf8_lossy(&self.bytes[self.pos + 1..end - 1]).into_owned()
                    }
                };
                self.pos = end;
                Ok(s)
            }
            Err((at, message)) => {
                self.pos = at;
                Err(self.error(message))
            }
        }
    }
}

/// Scans a JSON number starting at `start`; returns the end offset, or `None` when the
/// text there is not a valid JSON number.
pub fn scan_number(bytes: &[u8], start: usize) -> Option<usize> {
    let mut i = start;
    if bytes.get(i) == Some(&b'-') {
        i += 1;
    }
    match bytes.get(i) {
        Some(b'0') => i += 1,
        Some(b'1'..=b'9') => {
            while matches!(bytes.get(i), Some(b'0'..=b'9')) {
                i += 1;
            }
        }
        _ => return None,
    }
    if bytes.get(i) == Some(&b'.') {
        i += 1;
        if !matches!(bytes.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(bytes.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    if matches!(bytes.get(i), Some(b'e' | b'E')) {
        i += 1;
        if matches!(bytes.get(i), Some(b'+' | b'-')) {
            i += 1;
        }
        if !matches!(bytes.get(i), Some(b'0'..=b'9')) {
            return None;
        }
        while matches!(bytes.get(i), Some(b'0'..=b'9')) {
            i += 1;
        }
    }
    // A number must not run straight into another value character ("01", "1x").
    match bytes.get(i) {
        Some(b'0'..=b'9' | b'a'..=b'z' | b'A'..=b'Z' | b'.' | b'+' | b'-') => None,
        _ => Some(i),
    }
}

/// Scans a JSON string whose opening quote is at `start`.
///
/// Returns the offset just past the closing quote and, when the string contained
/// escapes, its decoded text (`None` means the raw bytes between the quotes are the
/// text). The input must be valid UTF-8. Errors carry the offending offset.
pub fn scan_string(
    bytes: &[u8],
    start: usize,
) -> Result<(usize, Option<String>), (usize, &'static str)> {
    let mut i = start + 1;
    // Fast path: most strings are plain.
    i = super::swar::string_stop(bytes, i);
    match bytes.get(i) {
        Some(b'"') => return Ok((i + 1, None)),
        Some(b'\\') => {}
        Some(_) => return Err((i, "control character in string")),
        None => return Err((bytes.len(), "unterminated string")),
    }
    let mut decoded: Option<String> = None;
    let mut run_start = start + 1;
    loop {
        let Some(found) = memchr::memchr2(b'"', b'\\', &bytes[i..]) else {
            return Err((bytes.len(), "unterminated string"));
        };
        let stop = i + found;
        if let Some(pos) = bytes[i..stop].iter().position(|&b| b < 0x20) {
            return Err((i + pos, "control character in string"));
        }
        if bytes[stop] == b'"' {
            if let Some(mut d) = decoded {
                d.push_str(&String::from_utf8_lossy(&bytes[run_start..stop]));
                return Ok((stop + 1, Some(d)));
            }
            return Ok((stop + 1, None));
        }
        // backslash escape
        let d = decoded.get_or_insert_with(String::new);
        d.push_str(&String::from_utf8_lossy(&bytes[run_start..stop]));
        let Some(&esc) = bytes.get(stop + 1) else {
            return Err((stop, "unterminated escape"));
        };
        i = stop + 2;
        match esc {
            b'"' => d.push('"'),
            b'\\' => d.push('\\'),
            b'/' => d.push('/'),
            b'b' => d.push('\u{8}'),
            b'f' => d.push('\u{c}'),
            b'n' => d.push('\n'),
            b'r' => d.push('\r'),
            b't' => d.push('\t'),
            b'u' => {
                let Some(unit) = hex4(bytes, i) else {
                    return Err((stop, "invalid \\u escape"));
                };
                i += 4;
                if (0xD800..0xDC00).contains(&unit) {
                    // high surrogate: a low surrogate escape should follow
                    let low = if bytes.get(i) == Some(&b'\\') && bytes.get(i + 1) == Some(&b'u') {
                        hex4(bytes, i + 2).filter(|l| (0xDC00..0xE000).contains(l))
                    } else {
                        None
                    };
                    match low {
                        Some(low) => {
                            i += 6;
                            let c = 0x10000 + ((unit - 0xD800) << 10) + (low - 0xDC00);
                            d.push(char::from_u32(c).unwrap_or('\u{FFFD}'));
                        }
                        None => d.push('\u{FFFD}'),
                    }
                } else {
                    d.push(char::from_u32(unit).unwrap_or('\u{FFFD}'));
                }
            }
            _ => return Err((stop, "invalid escape in string")),
        }
        run_start = i;
    }
}

fn hex4(bytes: &[u8], at: usize) -> Option<u32> {
    let digits = bytes.get(at..at + 4)?;
    let mut value = 0u32;
    for &b in digits {
        value = value * 16 + (b as char).to_digit(16)?;
    }
    Some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keeps_number_spelling_and_duplicates() {
        let v = parse(r#"{"a": 3e2, "a": [1.50, -0]}"#, 64).unwrap();
        let Json::Object(fields) = v else { panic!() };
        assert_eq!(fields[0], ("a".into(), Json::Number("3e2".into())));
        assert_eq!(
            fields[1].1,
            Json::Array(vec![Json::Number("1.50".into()), Json::Number("-0".into())])
        );
    }

    #[test]
    fn rejects_malformed_input_with_position() {
        for bad in [
            "{\"a\":[\"x\"],}",
            "{\"a\":01}",
            "{\"a\":NaN}",
            "{\"a\":\"\\x\"}",
            "{\"a\":1} x",
            "[1,]",
            "{\"a\":\"\u{1}\"}",
            "",
            "{\"a\":1.}",
        ] {
            let err = parse(bad, 64).unwrap_err();
            assert!(err.line >= 1 && err.column >= 1, "{bad}: {err}");
        }
        let err = parse("{\n  \"a\": tru }", 64).unwrap_err();
        assert_eq!((err.line, err.column), (2, 8));
    }

    #[test]
    fn decodes_escapes_and_surrogates() {
        let v = parse(r#""a\n\u00e9\ud83d\ude80\"""#, 8).unwrap();
        assert_eq!(v, Json::String("a\né🚀\"".into()));
    }

    #[test]
    fn depth_limit_is_an_error_not_a_crash() {
        let deep = "[".repeat(5000) + &"]".repeat(5000);
        assert!(parse(&deep, 1000).is_err());
        let ok = "[".repeat(500) + &"]".repeat(500);
        assert!(parse(&ok, 1000).is_ok());
    }
}
