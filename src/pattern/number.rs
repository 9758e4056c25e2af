//! When is a JSON number compared by value?
//!
//! event-ruler 2.x compares numbers as 64-bit floats, but only numbers that survive the
//! trip through a double unchanged: `300`, `3e2` and `300.0` are all the double 300 and
//! match each other, while `0.10000000000000001` (which parses to the same double as
//! `0.1`) or `123456789012345678901234567890` do not have an exact double form and are
//! then only matched by their spelling. This module decides that and produces the value.

/// The numeric value of a JSON number text, when event-ruler would compare it by value.
///
/// Returns `None` for numbers that are not exactly the shortest decimal form of some
/// finite double (too many significant digits, overflow). `-0` is returned as `0`.
pub fn comparable(raw: &str) -> Option<f64> {
    if let Some(value) = plain_decimal_bytes(raw.as_bytes()) {
        return Some(value);
    }
    let value = parse(raw)?;
    is_exact(raw, value).then_some(value)
}

/// Parses a JSON number text as a finite double (`-0` becomes `0`), without deciding
/// whether it is comparable: cheap, for probing hash maps before [`is_exact`].
#[inline]
pub fn parse(raw: &str) -> Option<f64> {
    // fast-float2 rounds correctly like `str::parse`, and faster; the text is already
    // a valid JSON number.
    let value: f64 = fast_float2::parse(raw).ok()?;
    if !value.is_finite() {
        return None;
    }
    Some(if value == 0.0 { 0.0 } else { value })
}

/// The value of a plain integer text (`-?[0-9]{1,15}`), which is always comparable:
/// what [`parse`] returns, with [`is_exact`] known to hold, without float parsing.
#[inline]
pub fn plain_integer(raw: &str) -> Option<f64> {
    plain_integer_bytes(raw.as_bytes())
}

/// [`plain_integer`] of a number text given as bytes.
#[inline]
pub fn plain_integer_bytes(bytes: &[u8]) -> Option<f64> {
    let (negative, digits) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    if digits.is_empty() || digits.len() > 15 {
        return None;
    }
    let mut value: i64 = 0;
    for &b in digits {
        let d = b.wrapping_sub(b'0');
        if d > 9 {
            return None;
        }
        value = value * 10 + i64::from(d);
    }
    // Below 2^53: converted exactly; `-0` becomes `0` as in `parse`.
    Some(if negative { -value } else { value } as f64)
}

/// Exact powers of ten as doubles (every one up to 10^22 is).
const POWERS_OF_TEN: [f64; 16] = [
    1e0, 1e1, 1e2, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9, 1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
];

/// The value of a plain decimal text (`-?[0-9]+(\.[0-9]+)?` with at most 15 digits, as
/// prices and measurements are written), which is always comparable: what [`parse`]
/// returns, with [`is_exact`] known to hold, without general float parsing. The digits
/// form an integer below 2^53 and the divisor an exact power of ten, so one correctly
/// rounded division gives the correctly rounded value.
#[inline]
pub fn plain_decimal_bytes(bytes: &[u8]) -> Option<f64> {
    let (negative, text) = match bytes.split_first() {
        Some((b'-', rest)) => (true, rest),
        _ => (false, bytes),
    };
    let mut mantissa: i64 = 0;
    let mut digits = 0usize;
    let mut point: Option<usize> = None;
    for (i, &b) in text.iter().enumerate() {
        let d = b.wrapping_sub(b'0');
        if d <= 9 {
            mantissa = mantissa * 10 + i64::from(d);
            digits += 1;
            if digits > 15 {
                return None;
            }
        } else if b == b'.' && point.is_none() && i > 0 {
            point = Some(digits);
        } else {
            return None;
        }
    }
    let fraction = digits - point.unwrap_or(digits);
    if digits == 0 || (point.is_some() && fraction == 0) {
        return None;
    }
    let value = mantissa as f64 / POWERS_OF_TEN[fraction];
    // `-0` (and `-0.0`) becomes `0` as in `parse`.
    Some(if negative && mantissa != 0 {
        -value
    } else {
        value
    })
}

/// Is `raw` exactly the decimal value of `value`'s shortest representation?
pub fn is_exact(raw: &str, value: f64) -> bool {
    if has_short_mantissa(raw) {
        return true;
    }
    let mut buffer = ryu::Buffer::new();
    let shortest = buffer.format_finite(value);
    // Most producers write the shortest form themselves, in the same notation.
    raw == shortest || same_decimal(raw, shortest)
}

/// Writes a canonical form of a number's decimal value into `out` (sign, significant
/// digits, exponent) and returns it: texts of equal value get equal keys (`300`, `3e2`,
/// `300.0`; `-0` and `0`). For comparable numbers equal keys mean equal doubles, so
/// exact matching needs no float parsing. `None` when the text is not a number or has
/// more significant digits than any comparable number (more than 40).
pub fn decimal_key<'b>(raw: &str, out: &'b mut [u8; 64]) -> Option<&'b [u8]> {
    let bytes = raw.as_bytes();
    let mut i = 0;
    let mut len = 0;
    if bytes.first() == Some(&b'-') {
        out[0] = b'-';
        len = 1;
        i = 1;
    }
    let digits_start = len;
    // Significant digits go to `out`; `point` counts digits before the decimal point
    // (after leading zeros are dropped), adjusted by leading zeros after the point.
    let mut point: i64 = 0;
    let mut in_fraction = false;
    let mut trailing_zeros = 0usize;
    while let Some(&b) = bytes.get(i) {
        match b {
            b'0'..=b'9' => {
                if len == digits_start && b == b'0' {
                    if in_fraction {
                        point -= 1;
                    }
                } else {
                    *out.get_mut(len)? = b;
                    len += 1;
                    trailing_zeros = if b == b'0' { trailing_zeros + 1 } else { 0 };
                    if !in_fraction {
                        point += 1;
                    }
                }
            }
            b'.' => in_fraction = true,
            _ => break,
        }
        i += 1;
        if len > 42 {
            return None;
        }
    }
    let exponent: i64 = match bytes.get(i) {
        Some(b'e' | b'E') => raw.get(i + 1..)?.parse().ok()?,
        None => 0,
        Some(_) => return None,
    };
    len -= trailing_zeros;
    if len == digits_start {
        out[0] = b'0';
        return Some(&out[..1]);
    }
    let mut e = point.checked_add(exponent)?;
    *out.get_mut(len)? = b'e';
    len += 1;
    if e < 0 {
        *out.get_mut(len)? = b'-';
        len += 1;
        e = -e;
    }
    let start = len;
    loop {
        *out.get_mut(len)? = b'0' + (e % 10) as u8;
        len += 1;
        e /= 10;
        if e == 0 {
            break;
        }
    }
    out[start..len].reverse();
    Some(&out[..len])
}

/// The bits used to key a comparable number in hash maps (`-0` already folded to `0`).
pub fn key(value: f64) -> u64 {
    value.to_bits()
}

/// True when the number has at most 15 significant digits and a moderate exponent, in
/// which case its double is guaranteed to print back as the same decimal value.
fn has_short_mantissa(raw: &str) -> bool {
    let bytes = raw.as_bytes();
    let mut digits = 0usize;
    let mut leading = true;
    let mut trailing_zeros = 0usize;
    let mut exponent = 0i64;
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'0' if leading => {}
            b'0'..=b'9' => {
                leading = false;
                digits += 1;
                if bytes[i] == b'0' {
                    trailing_zeros += 1;
                } else {
                    trailing_zeros = 0;
                }
            }
            b'e' | b'E' => {
                exponent = raw[i + 1..].parse().unwrap_or(i64::MAX);
                break;
            }
            _ => {}
        }
        i += 1;
    }
    let significant = digits - trailing_zeros;
    significant <= 15 && (-250..=250).contains(&exponent) && raw.len() < 300
}

/// The significant digits of a decimal text and the power of ten of its first digit.
struct Digits<'a> {
    negative: bool,
    /// Mantissa digits with the decimal point removed (leading zeros still present).
    mantissa: [&'a [u8]; 2],
    exponent: i64,
}

impl<'a> Digits<'a> {
    fn new(text: &'a str) -> Option<Digits<'a>> {
        let bytes = text.as_bytes();
        let (negative, rest) = match bytes.first() {
            Some(b'-') => (true, &bytes[1..]),
            _ => (false, bytes),
        };
        let (mantissa, exp) = match rest.iter().position(|&b| b == b'e' || b == b'E') {
            Some(p) => (
                &rest[..p],
                std::str::from_utf8(&rest[p + 1..])
                    .ok()?
                    .parse::<i64>()
                    .ok()?,
            ),
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.iter().position(|&b| b == b'.') {
            Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
            None => (mantissa, &mantissa[mantissa.len()..]),
        };
        Some(Digits {
            negative,
            mantissa: [int_part, frac_part],
            exponent: exp.checked_add(int_part.len() as i64)?,
        })
    }

    /// Significant digits (no leading or trailing zeros) and the scientific exponent;
    /// `None` digits for zero.
    fn normalized(&self) -> (impl Iterator<Item = u8> + '_, i64, bool) {
        let all = || self.mantissa[0].iter().chain(self.mantissa[1]).copied();
        let leading = all().take_while(|&d| d == b'0').count();
        let total = all().count();
        let trailing = all().rev().take_while(|&d| d == b'0').count();
        let significant = total.saturating_sub(leading).saturating_sub(trailing);
        let zero = significant == 0;
        let exponent = if zero {
            0
        } else {
            self.exponent - leading as i64
        };
        (all().skip(leading).take(significant), exponent, zero)
    }
}

/// Do two decimal texts denote the same value?
fn same_decimal(a: &str, b: &str) -> bool {
    let (Some(a), Some(b)) = (Digits::new(a), Digits::new(b)) else {
        return false;
    };
    let (da, ea, za) = a.normalized();
    let (db, eb, zb) = b.normalized();
    if za || zb {
        return za && zb;
    }
    a.negative == b.negative && ea == eb && da.eq(db)
}

#[cfg(test)]
mod tests {
    use super::comparable;

    #[test]
    fn spellings_of_one_value_agree() {
        for s in ["300", "3e2", "300.0", "3.00E+2", "30000e-2"] {
            assert_eq!(comparable(s), Some(300.0), "{s}");
        }
        assert_eq!(comparable("-0"), Some(0.0));
        assert_eq!(comparable("-0").map(f64::to_bits), Some(0.0f64.to_bits()));
        assert_eq!(comparable("1e301"), Some(1e301));
        assert_eq!(comparable("-1000000000000001"), Some(-1000000000000001.0));
        assert_eq!(comparable("0.30000000000000004"), Some(0.30000000000000004));
    }

    /// Plain decimals get the value and comparability general parsing gives them;
    /// anything else is left to it.
    #[test]
    fn plain_decimals_parse_as_numbers_do() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand_pcg::Pcg64::seed_from_u64(3);
        let mut texts: Vec<String> = [
            "0",
            "-0",
            "0.0",
            "-0.0",
            "1",
            "12.5",
            "0.1",
            "0.30",
            "-122.388718383713",
            "999999999999999",
            "99999999999999.9",
            "0.000000000000001",
            "123456.789012345",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        for _ in 0..20_000 {
            let width = rng.random_range(1..=15);
            let int: u64 = rng.random_range(0..10u64.pow(width));
            let places = rng.random_range(0..=15usize);
            let mut text = int.to_string();
            if places > 0 {
                while text.len() <= places {
                    text.insert(0, '0');
                }
                text.insert(text.len() - places, '.');
            }
            if rng.random_bool(0.3) {
                text.insert(0, '-');
            }
            texts.push(text);
        }
        let mut fast = 0;
        for text in &texts {
            match super::plain_decimal_bytes(text.as_bytes()) {
                Some(v) => {
                    fast += 1;
                    let want = super::parse(text).unwrap_or(f64::NAN);
                    assert_eq!(v.to_bits(), want.to_bits(), "{text}");
                    assert!(super::is_exact(text, v), "{text}");
                }
                None => assert!(
                    text.trim_start_matches('-').replace('.', "").len() > 15,
                    "{text}"
                ),
            }
        }
        assert!(fast > 10_000, "{fast}");
        for text in [
            "1e5",
            "1.",
            ".5",
            "1.2.3",
            "",
            "-",
            "1234567890123456",
            "0x1",
            "1-2",
        ] {
            assert_eq!(super::plain_decimal_bytes(text.as_bytes()), None, "{text}");
        }
    }

    #[test]
    fn decimal_keys_agree_for_equal_values() {
        let key = |s: &str| super::decimal_key(s, &mut [0u8; 64]).map(<[u8]>::to_vec);
        assert_eq!(key("300"), key("3e2"));
        assert_eq!(key("300"), key("300.000"));
        assert_eq!(key("0.5"), key("5e-1"));
        assert_eq!(key("-0"), key("0.0"));
        assert_ne!(key("300"), key("-300"));
        assert_ne!(key("301"), key("300"));
        assert_ne!(key("30"), key("300"));
        assert_eq!(key("0.0012"), key("1.2e-3"));
        assert_eq!(key("120"), key("1.2e2"));
        assert_ne!(key("0.012"), key("0.0012"));
        assert_eq!(key("-122.38871838371378"), key("-1.2238871838371378e2"));
    }

    #[test]
    fn plain_integers_agree_with_parse() {
        for s in [
            "0",
            "-0",
            "7",
            "-7",
            "321",
            "999999999999999",
            "-999999999999999",
            "1000000",
        ] {
            let fast = super::plain_integer(s);
            assert_eq!(
                fast.map(f64::to_bits),
                super::parse(s).map(f64::to_bits),
                "{s}"
            );
            assert!(fast.is_some_and(|v| super::is_exact(s, v)), "{s}");
        }
        for s in [
            "",
            "-",
            "1.5",
            "1e3",
            "1000000000000000",
            "12a",
            "+1",
            "--1",
        ] {
            assert_eq!(super::plain_integer(s), None, "{s}");
        }
    }

    #[test]
    fn numbers_without_an_exact_double_are_not_comparable() {
        assert_eq!(comparable("0.10000000000000001"), None);
        assert_eq!(comparable("123456789012345678901234567890"), None);
        assert_eq!(comparable("9007199254740993"), None);
        assert_eq!(comparable("1e400"), None);
        // the shortest form of a double is always comparable
        assert!(comparable("1.2345678901234568e29").is_some());
    }
}
