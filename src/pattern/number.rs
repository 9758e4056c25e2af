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
    let value: f64 = raw.parse().ok()?;
    if !value.is_finite() {
        return None;
    }
    if !has_short_mantissa(raw) {
        // Slow path: compare the written decimal with the double's shortest form.
        let shortest = format!("{value:e}");
        if Decimal::parse(raw)? != Decimal::parse(&shortest)? {
            return None;
        }
    }
    Some(if value == 0.0 { 0.0 } else { value })
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

/// An exact decimal: sign, significant digits without leading/trailing zeros, and the
/// power of ten of the last digit. Zero has no digits.
#[derive(Debug, PartialEq, Eq)]
struct Decimal {
    negative: bool,
    digits: Vec<u8>,
    exponent: i64,
}

impl Decimal {
    fn parse(text: &str) -> Option<Decimal> {
        let (negative, rest) = match text.strip_prefix('-') {
            Some(rest) => (true, rest),
            None => (false, text),
        };
        let (mantissa, exp) = match rest.find(['e', 'E']) {
            Some(p) => (&rest[..p], rest[p + 1..].parse::<i64>().ok()?),
            None => (rest, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(p) => (&mantissa[..p], &mantissa[p + 1..]),
            None => (mantissa, ""),
        };
        let mut digits: Vec<u8> = int_part.bytes().chain(frac_part.bytes()).collect();
        let mut exponent = exp - frac_part.len() as i64;
        while digits.last() == Some(&b'0') {
            digits.pop();
            exponent += 1;
        }
        let first_nonzero = digits.iter().position(|&d| d != b'0').unwrap_or(digits.len());
        digits.drain(..first_nonzero);
        if digits.is_empty() {
            return Some(Decimal {
                negative: false,
                digits,
                exponent: 0,
            });
        }
        Some(Decimal {
            negative,
            digits,
            exponent,
        })
    }
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
