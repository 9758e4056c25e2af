//! Byte searches eight bytes at a time ("SIMD within a register"), for the scanner's
//! hot loops: the end of a string and the next structural character.

const ONES: u64 = 0x0101_0101_0101_0101;
const HIGHS: u64 = 0x8080_8080_8080_8080;

#[inline]
fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
    let chunk = bytes.get(i..i + 8)?;
    let mut word = [0u8; 8];
    word.copy_from_slice(chunk);
    Some(u64::from_le_bytes(word))
}

/// Bit 7 of each byte is set where `word` has a zero byte (exact for the lowest such
/// byte, which is all the callers use).
#[inline]
fn zero_bytes(word: u64) -> u64 {
    word.wrapping_sub(ONES) & !word & HIGHS
}

#[inline]
fn equal_bytes(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (u64::from(byte) * ONES))
}

/// Scans from `i` while `hits` finds nothing in a word, then byte by byte with `is_stop`.
#[inline]
fn find(
    bytes: &[u8],
    mut i: usize,
    hits: impl Fn(u64) -> u64,
    is_stop: impl Fn(u8) -> bool,
) -> usize {
    while let Some(w) = word_at(bytes, i) {
        let h = hits(w);
        if h != 0 {
            return i + (h.trailing_zeros() / 8) as usize;
        }
        i += 8;
    }
    while let Some(&b) = bytes.get(i) {
        if is_stop(b) {
            return i;
        }
        i += 1;
    }
    i
}

/// The first offset at or after `i` holding `"`, `\` or a control character (< 0x20),
/// or the length of `bytes`.
#[inline]
pub fn string_stop(bytes: &[u8], i: usize) -> usize {
    find(
        bytes,
        i,
        |w| {
            equal_bytes(w, b'"')
                | equal_bytes(w, b'\\')
                | (w.wrapping_sub(0x20 * ONES) & !w & HIGHS)
        },
        |b| b == b'"' || b == b'\\' || b < 0x20,
    )
}

/// Like [`string_stop`], but also stops at the first byte outside ASCII (>= 0x80).
#[inline]
pub fn string_stop_ascii(bytes: &[u8], i: usize) -> usize {
    find(
        bytes,
        i,
        |w| {
            equal_bytes(w, b'"')
                | equal_bytes(w, b'\\')
                | (w.wrapping_sub(0x20 * ONES) & !w & HIGHS)
                | (w & HIGHS)
        },
        |b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b),
    )
}

/// The first offset at or after `i` holding `"` or `\`, or the length of `bytes`.
#[inline]
pub fn quote_or_backslash(bytes: &[u8], i: usize) -> usize {
    find(
        bytes,
        i,
        |w| equal_bytes(w, b'"') | equal_bytes(w, b'\\'),
        |b| b == b'"' || b == b'\\',
    )
}

/// Does `bytes` contain `byte`?
#[inline]
pub fn contains(bytes: &[u8], byte: u8) -> bool {
    find(bytes, 0, |w| equal_bytes(w, byte), |b| b == byte) < bytes.len()
}

/// The first offset at or after `i` holding `"`, `[`, `]`, `{` or `}`, or the length.
#[inline]
pub fn structural(bytes: &[u8], i: usize) -> usize {
    find(
        bytes,
        i,
        |w| {
            let folded = w | (0x20 * ONES); // '[' -> '{', ']' -> '}'
            equal_bytes(w, b'"') | equal_bytes(folded, b'{') | equal_bytes(folded, b'}')
        },
        |b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}'),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_stop_byte_like_a_plain_loop() {
        let samples: [&[u8]; 6] = [
            b"abcdefghijklmnop\"rest",
            b"abc\\\"def",
            b"0123456789\x01x",
            b"{\"x\": -122.388, \"y\": 37.7}",
            b"\xc3\xa9t\xc3\xa9 \xe2\x82\xac\"",
            b"no stop at all here",
        ];
        for s in samples {
            for start in 0..s.len() {
                let plain =
                    |f: &dyn Fn(u8) -> bool| (start..s.len()).find(|&i| f(s[i])).unwrap_or(s.len());
                assert_eq!(
                    string_stop(s, start),
                    plain(&|b| b == b'"' || b == b'\\' || b < 0x20)
                );
                assert_eq!(
                    string_stop_ascii(s, start),
                    plain(&|b| b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b))
                );
                assert_eq!(
                    quote_or_backslash(s, start),
                    plain(&|b| b == b'"' || b == b'\\')
                );
                assert_eq!(
                    structural(s, start),
                    plain(&|b| matches!(b, b'"' | b'[' | b']' | b'{' | b'}'))
                );
            }
        }
    }
}
