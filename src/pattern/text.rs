//! String operators: case-insensitive comparison and wildcards.
//!
//! `equals-ignore-case` follows event-ruler exactly: every UTF-16 unit of the pattern
//! may appear in the event as its lower-case or its upper-case form (Java's
//! `toLowerCase`/`toUpperCase` with the root locale). That is why `ÉTÉ` matches `été`,
//! `STRASSE` does not match `straße`, and `ΟΔΟΣ` does not match `οδος` (final sigma).

use std::fmt;

/// A compiled `equals-ignore-case` string: the accepted spellings of each pattern unit.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Caseless {
    units: Vec<(String, String)>,
    /// A folded key usable for hash lookup, when folding is sound for this pattern.
    key: Option<String>,
    /// Every spelling of every unit is a single ASCII byte.
    ascii: bool,
}

impl Caseless {
    /// Compiles the pattern text.
    pub fn new(pattern: &str) -> Caseless {
        let mut units = Vec::with_capacity(pattern.len());
        for c in pattern.chars() {
            if c.len_utf16() == 2 {
                // Java handles the two surrogates separately; a lone surrogate has no case
                // and encodes to UTF-8 as '?'.
                units.push(("?".to_string(), "?".to_string()));
                units.push(("?".to_string(), "?".to_string()));
            } else {
                units.push((c.to_lowercase().collect(), c.to_uppercase().collect()));
            }
        }
        let key = units
            .iter()
            .map(|(lower, upper)| {
                let l = single_char(lower)?;
                let u = single_char(upper)?;
                let folded = fold_char(l);
                (folded == fold_char(u)).then_some(folded)
            })
            .collect::<Option<String>>();
        let ascii = units.iter().all(|(lower, upper)| {
            lower.len() == 1 && upper.len() == 1 && lower.is_ascii() && upper.is_ascii()
        });
        Caseless { units, key, ascii }
    }

    /// The key under which this pattern can be found by [`fold_into`], if any.
    pub fn key(&self) -> Option<&str> {
        self.key.as_deref()
    }

    /// Does `s` equal the pattern, ignoring case?
    pub fn matches(&self, s: &str) -> bool {
        if let Some(ascii) = self.ascii_units() {
            // One byte per unit on both sides: compare position by position.
            return s.len() == ascii.len()
                && ascii
                    .zip(s.bytes())
                    .all(|((lower, upper), b)| b == lower || b == upper);
        }
        self.run(s, vec![0]).contains(&s.len())
    }

    /// The units as byte pairs when every spelling of every unit is one ASCII byte.
    fn ascii_units(&self) -> Option<impl ExactSizeIterator<Item = (u8, u8)> + '_> {
        self.ascii.then(|| {
            self.units
                .iter()
                .map(|(lower, upper)| (lower.as_bytes()[0], upper.as_bytes()[0]))
        })
    }

    /// Does `s` start with the pattern, ignoring case?
    pub fn is_prefix_of(&self, s: &str) -> bool {
        !self.run(s, vec![0]).is_empty()
    }

    /// Does `s` end with the pattern, ignoring case?
    pub fn is_suffix_of(&self, s: &str) -> bool {
        // Match the units backwards from the end: linear in the pattern.
        let bytes = s.as_bytes();
        let mut positions = vec![s.len()];
        for (lower, upper) in self.units.iter().rev() {
            let mut next = Vec::with_capacity(positions.len());
            for &p in &positions {
                for alt in [lower, upper] {
                    if bytes[..p].ends_with(alt.as_bytes()) {
                        next.push(p - alt.len());
                    }
                }
            }
            dedup(&mut next);
            if next.is_empty() {
                return false;
            }
            positions = next;
        }
        true
    }

    /// Advances a set of byte offsets through every unit; returns the reachable ends.
    fn run(&self, s: &str, mut positions: Vec<usize>) -> Vec<usize> {
        let bytes = s.as_bytes();
        for (lower, upper) in &self.units {
            let mut next = Vec::with_capacity(positions.len());
            for &p in &positions {
                for alt in [lower, upper] {
                    if bytes[p..].starts_with(alt.as_bytes()) {
                        next.push(p + alt.len());
                    }
                }
            }
            dedup(&mut next);
            if next.is_empty() {
                return next;
            }
            positions = next;
        }
        positions
    }
}

/// Removes repeated offsets (the sets stay tiny; sorting keeps the worst case
/// `n log n` rather than quadratic).
fn dedup(positions: &mut Vec<usize>) {
    if positions.len() > 1 {
        positions.sort_unstable();
        positions.dedup();
    }
}

fn single_char(s: &str) -> Option<char> {
    let mut chars = s.chars();
    let c = chars.next()?;
    chars.next().is_none().then_some(c)
}

fn fold_char(c: char) -> char {
    if c.is_ascii() {
        return c.to_ascii_lowercase();
    }
    let mut lower = c.to_lowercase();
    match (lower.next(), lower.next()) {
        (Some(l), None) => l,
        _ => c,
    }
}

/// Writes the folded form of `s` (the counterpart of [`Caseless::key`]) into `out`.
pub fn fold_into(s: &str, out: &mut String) {
    out.clear();
    if s.is_ascii() {
        out.push_str(s);
        out.make_ascii_lowercase();
    } else {
        out.extend(s.chars().map(fold_char));
    }
}

/// A compiled `wildcard` pattern: literal pieces separated by `*`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Glob {
    pieces: Vec<String>,
}

impl Glob {
    /// Parses wildcard text: `*` matches any run of characters, `\*` a literal star and
    /// `\\` a literal backslash. Consecutive stars and other escapes are errors.
    pub fn parse(text: &str) -> Result<Glob, String> {
        let mut pieces = vec![String::new()];
        let mut chars = text.chars().peekable();
        let mut last_was_star = false;
        while let Some(c) = chars.next() {
            match c {
                '*' => {
                    if last_was_star {
                        return Err("consecutive wildcard characters are not allowed".into());
                    }
                    pieces.push(String::new());
                    last_was_star = true;
                    continue;
                }
                '\\' => match chars.next() {
                    Some(e @ ('*' | '\\')) => push_last(&mut pieces, e),
                    Some(_) => {
                        return Err("invalid escape: only \\* and \\\\ are allowed".into());
                    }
                    None => return Err("wildcard ends with an unfinished escape".into()),
                },
                c => push_last(&mut pieces, c),
            }
            last_was_star = false;
        }
        Ok(Glob { pieces })
    }

    /// Number of `*` in the pattern.
    pub fn stars(&self) -> usize {
        self.pieces.len() - 1
    }

    /// The literal text before the first star (the whole text when there is no star).
    pub fn head(&self) -> &str {
        self.pieces.first().map_or("", String::as_str)
    }

    /// The literal text after the last star (empty when there is no star).
    pub fn tail(&self) -> &str {
        if self.pieces.len() < 2 {
            ""
        } else {
            self.pieces.last().map_or("", String::as_str)
        }
    }

    /// Does the whole of `s` match?
    pub fn matches(&self, s: &str) -> bool {
        let bytes = s.as_bytes();
        let Some((first, rest)) = self.pieces.split_first() else {
            return s.is_empty();
        };
        let Some((last, middle)) = rest.split_last() else {
            return s == first;
        };
        if bytes.len() < first.len() + last.len()
            || !bytes.starts_with(first.as_bytes())
            || !bytes.ends_with(last.as_bytes())
        {
            return false;
        }
        let mut window = &bytes[first.len()..bytes.len() - last.len()];
        for piece in middle {
            match memchr::memmem::find(window, piece.as_bytes()) {
                Some(at) => window = &window[at + piece.len()..],
                None => return false,
            }
        }
        true
    }
}

fn push_last(pieces: &mut [String], c: char) {
    if let Some(last) = pieces.last_mut() {
        last.push(c);
    }
}

impl fmt::Display for Glob {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, piece) in self.pieces.iter().enumerate() {
            if i > 0 {
                f.write_str("*")?;
            }
            f.write_str(&piece.replace('\\', "\\\\").replace('*', "\\*"))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn caseless_follows_java_per_unit_folding() {
        assert!(Caseless::new("ÉTÉ").matches("été"));
        assert!(!Caseless::new("STRASSE").matches("straße"));
        assert!(!Caseless::new("ΟΔΟΣ").matches("οδος"));
        assert!(Caseless::new("ΣΟΦΙΑ").matches("σοφια"));
        assert!(Caseless::new("\u{212A}").matches("k"));
        assert!(!Caseless::new("İstanbul").matches("istanbul"));
        assert!(Caseless::new("abc").is_prefix_of("ABCdef"));
        assert!(!Caseless::new("abc").is_prefix_of("xABC"));
        assert!(Caseless::new("ÄÖ").is_suffix_of("xäö"));
        assert!(Caseless::new("").matches(""));
        assert!(Caseless::new("").is_prefix_of("x"));
    }

    #[test]
    fn caseless_key_is_sound() {
        let mut buf = String::new();
        for (p, s) in [("FoLsOm", "folsom"), ("ÉTÉ", "été"), ("k", "K")] {
            let c = Caseless::new(p);
            fold_into(s, &mut buf);
            assert_eq!(c.key(), Some(buf.as_str()), "{p}");
        }
        assert_eq!(Caseless::new("İ").key(), None);
    }

    #[test]
    fn glob_matching() {
        let g = |p: &str| Glob::parse(p).unwrap();
        assert!(g("Simple*Service").matches("SimpleService"));
        assert!(g("*ab*ab*").matches("xabab"));
        assert!(!g("a*b*c").matches("acb"));
        assert!(g("a\\*b").matches("a*b"));
        assert!(!g("a\\*b").matches("axb"));
        assert!(g("a\\\\*").matches("a\\xyz"));
        assert!(g("\\**").matches("*abc"));
        assert!(g("").matches(""));
        assert!(!g("").matches("a"));
        assert!(g("*").matches(""));
        assert!(!g("aa*aa").matches("aaa"));
        assert!(Glob::parse("a**b").is_err());
        assert!(Glob::parse("a\\b").is_err());
        assert!(Glob::parse("abc\\").is_err());
        assert_eq!(g("ab*c\\*").to_string(), "ab*c\\*");
    }
}
