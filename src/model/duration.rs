//! Durations as people write them in topology files: `"250ms"`, `"5s"`, `"2m"`, `"1h"`,
//! `"1.5s"`, `"7d"`; a bare number means seconds. Written back in the shortest exact unit.

use std::fmt;
use std::time::Duration;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// A non-negative span of (simulated) time with nanosecond resolution.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Dur(pub u64);

const UNITS: [(&str, u64); 7] = [
    ("d", 86_400_000_000_000),
    ("h", 3_600_000_000_000),
    ("m", 60_000_000_000),
    ("s", 1_000_000_000),
    ("ms", 1_000_000),
    ("us", 1_000),
    ("ns", 1),
];

impl Dur {
    /// Zero.
    pub const ZERO: Dur = Dur(0);

    /// From whole seconds.
    pub const fn secs(s: u64) -> Dur {
        Dur(s * 1_000_000_000)
    }

    /// From whole milliseconds.
    pub const fn millis(ms: u64) -> Dur {
        Dur(ms * 1_000_000)
    }

    /// Nanoseconds.
    pub const fn nanos(self) -> u64 {
        self.0
    }

    /// Seconds as a float.
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / 1e9
    }

    /// From seconds as a float (negative and NaN become zero, huge values saturate).
    pub fn from_secs_f64(s: f64) -> Dur {
        if s.is_nan() || s <= 0.0 {
            Dur(0)
        } else {
            Dur((s * 1e9).min(u64::MAX as f64) as u64)
        }
    }

    /// Parses `"250ms"`, `"1.5s"`, `"2m"`, `"1h"`, `"7d"`, `"10us"`, `"5ns"`.
    pub fn parse(text: &str) -> Result<Dur, String> {
        let t = text.trim();
        let split = t
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(t.len());
        let (number, unit) = t.split_at(split);
        let unit = unit.trim();
        let scale = if unit.is_empty() {
            Some(1_000_000_000)
        } else {
            UNITS
                .iter()
                .find(|(u, _)| *u == unit)
                .map(|&(_, scale)| scale)
        };
        let Some(scale) = scale else {
            return Err(format!(
                "`{text}` is not a duration (write e.g. 250ms, 5s, 2m, 1h, 7d)"
            ));
        };
        let value: f64 = number
            .parse()
            .map_err(|_| format!("`{text}` is not a duration (no number before the unit)"))?;
        let nanos = value * scale as f64;
        if !nanos.is_finite() || nanos > u64::MAX as f64 {
            return Err(format!("`{text}` is too long"));
        }
        Ok(Dur(nanos.round() as u64))
    }

    /// Rounded for people: `850us`, `12.3ms`, `4.56s`, `2.5m`.
    pub fn human(self) -> String {
        let ns = self.0 as f64;
        if self.0 < 1_000_000 {
            format!("{:.0}us", ns / 1e3)
        } else if self.0 < 1_000_000_000 {
            format!("{:.1}ms", ns / 1e6)
        } else if self.0 < 60_000_000_000 {
            format!("{:.2}s", ns / 1e9)
        } else {
            format!("{:.1}m", ns / 6e10)
        }
    }

    /// This duration as std's.
    pub fn to_std(self) -> Duration {
        Duration::from_nanos(self.0)
    }
}

impl fmt::Display for Dur {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.0 == 0 {
            return f.write_str("0s");
        }
        for (unit, scale) in UNITS {
            if self.0.is_multiple_of(scale) {
                return write!(f, "{}{unit}", self.0 / scale);
            }
        }
        write!(f, "{}ns", self.0)
    }
}

impl Serialize for Dur {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Dur {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Dur, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Raw {
            Text(String),
            Seconds(f64),
        }
        match Raw::deserialize(d)? {
            Raw::Text(t) => Dur::parse(&t).map_err(serde::de::Error::custom),
            Raw::Seconds(s) if s >= 0.0 && s.is_finite() => Ok(Dur::from_secs_f64(s)),
            Raw::Seconds(s) => Err(serde::de::Error::custom(format!(
                "{s} is not a duration (seconds must be zero or more)"
            ))),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_in_the_shortest_exact_unit() {
        for (text, shown) in [
            ("250ms", "250ms"),
            ("1.5s", "1500ms"),
            ("2m", "2m"),
            ("120s", "2m"),
            ("1h", "1h"),
            ("7d", "7d"),
            ("0", "0s"),
            ("10us", "10us"),
        ] {
            assert_eq!(Dur::parse(text).map(|d| d.to_string()), Ok(shown.into()));
        }
        for bad in ["", "ms", "5 parsecs", "1e999s", "-1s"] {
            assert!(Dur::parse(bad).is_err(), "{bad}");
        }
    }
}
