//! Byte searches eight bytes at a time ("SIMD within a register"), for the scanner's
//! hot loops: the end of a string, and the quotes and brackets of a word.

const ONES: u64 = 0x0101_0101_0101_0101;
/// Bit 7 of every byte.
pub const HIGHS: u64 = 0x8080_8080_8080_8080;
const LOWS: u64 = 0x7f7f_7f7f_7f7f_7f7f;

/// The eight bytes at `i` as a little-endian word, if there are eight.
#[inline]
pub fn word_at(bytes: &[u8], i: usize) -> Option<u64> {
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

/// Bit 7 of each byte is set where `word` has the byte `byte` (exact for the lowest
/// such byte).
#[inline]
pub fn equal_bytes(word: u64, byte: u8) -> u64 {
    zero_bytes(word ^ (u64::from(byte) * ONES))
}

/// Bit 7 of each byte is set exactly where `word` has the byte `byte` (no false hits
/// above a true one, unlike [`equal_bytes`]).
#[inline(always)]
pub fn equal_bytes_exact(word: u64, byte: u8) -> u64 {
    let x = word ^ (u64::from(byte) * ONES);
    !(((x & LOWS) + LOWS) | x) & HIGHS
}

/// For a mask with only bit 7 of bytes set: bit 7 of each byte becomes the parity of
/// the set bits at or below it.
#[inline(always)]
pub fn prefix_xor(mut mask: u64) -> u64 {
    mask ^= mask << 8;
    mask ^= mask << 16;
    mask ^= mask << 32;
    mask
}

/// Bit 7 of each byte of `word` that may be a bracket: every `[`, `]`, `{` and `}`,
/// and also `Y`, `_`, `y` and DEL (never found outside strings in valid JSON; callers
/// check the byte).
#[inline(always)]
pub fn brackets(word: u64) -> u64 {
    // '[' -> '{', ']' -> '}'; then '{' and '}' differ from each other (and from the
    // others) only in bits 1 and 2.
    let x = ((word | (0x20 * ONES)) ^ (0x7b * ONES)) & !(0x06 * ONES);
    !(((x & LOWS) + LOWS) | x) & HIGHS
}

/// Does `word` hold the byte `byte`?
#[inline(always)]
pub fn has_byte(word: u64, byte: u8) -> bool {
    equal_bytes(word, byte) != 0
}

/// Scans from `i` while `hits` finds nothing in a word, then byte by byte with `is_stop`.
#[inline(always)]
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

/// Bit 7 of each byte of `word` that is `"`, `\` or a control character (< 0x20): what
/// a JSON string literal must escape (exact for the lowest such byte).
#[inline(always)]
pub fn string_stops(w: u64) -> u64 {
    equal_bytes(w, b'"') | equal_bytes(w, b'\\') | (w.wrapping_sub(0x20 * ONES) & !w & HIGHS)
}

/// The first offset at or after `i` holding `"`, `\` or a control character (< 0x20),
/// or the length of `bytes`.
#[inline]
pub fn string_stop(bytes: &[u8], i: usize) -> usize {
    find(bytes, i, string_stops, |b| {
        b == b'"' || b == b'\\' || b < 0x20
    })
}

/// Bit 7 of each byte of `word` that is `"`, `\`, a control character or outside ASCII
/// (exact for the lowest such byte).
#[inline(always)]
pub fn string_stops_ascii(w: u64) -> u64 {
    equal_bytes(w, b'"')
        | equal_bytes(w, b'\\')
        | (w.wrapping_sub(0x20 * ONES) & !w & HIGHS)
        | (w & HIGHS)
}

/// Like [`string_stop`], but also stops at the first byte outside ASCII (>= 0x80).
#[inline]
pub fn string_stop_ascii(bytes: &[u8], i: usize) -> usize {
    find(bytes, i, string_stops_ascii, |b| {
        b == b'"' || b == b'\\' || !(0x20..0x80).contains(&b)
    })
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

    #[test]
    fn exact_masks_match_a_plain_loop() {
        let samples: [&[u8; 8]; 7] = [
            b"a\"b\"{[}]",
            b"\"\"\"\"\"\"\"\"",
            b"\x00\"\x01\"\x00{\x00}",
            b"{{{{]]]]",
            b"\\\"\\\\[\xff\x7b\xfb",
            b"no hits!",
            b"Yy_\x7fzZ{}",
        ];
        for s in samples {
            let word = u64::from_le_bytes(*s);
            let bits = |f: &dyn Fn(u8) -> bool| {
                (0..8).fold(0u64, |m, k| if f(s[k]) { m | 0x80 << (8 * k) } else { m })
            };
            assert_eq!(equal_bytes_exact(word, b'"'), bits(&|b| b == b'"'));
            assert_eq!(equal_bytes_exact(word, 0), bits(&|b| b == 0));
            assert_eq!(
                brackets(word),
                bits(&|b| matches!(b, b'[' | b']' | b'{' | b'}' | b'Y' | b'_' | b'y' | 0x7f))
            );
            assert_eq!(has_byte(word, b'"'), s.contains(&b'"'));
            let quotes = equal_bytes_exact(word, b'"');
            let parity = (0..8).fold(0u64, |m, k| {
                let odd = s[..=k].iter().filter(|&&b| b == b'"').count() % 2 == 1;
                if odd { m | 0x80 << (8 * k) } else { m }
            });
            assert_eq!(prefix_xor(quotes), parity);
        }
    }
}
