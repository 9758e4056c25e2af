//! IP addresses and CIDR blocks, read the way event-ruler reads them.
//!
//! event-ruler recognises an address with two regular expressions and Java's
//! `InetAddress`: IPv4 parts are decimal (`010.0.0.1` is 10.0.0.1), IPv4-mapped IPv6
//! addresses (`::ffff:a00:1`) become IPv4, zone ids and dotted IPv6 tails are not
//! addresses. A CIDR block's range runs from the address *as written* (host bits are
//! not cleared) to the address with all host bits set; `/32` and `/128` are rejected.

use std::fmt;
use std::net::Ipv6Addr;

/// An IPv4 or IPv6 address as a number, with its family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ip {
    /// True for a 16-byte (IPv6) address.
    pub v6: bool,
    /// The address bits.
    pub bits: u128,
}

/// An inclusive range of addresses of one family.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct IpRange {
    /// True for an IPv6 range.
    pub v6: bool,
    /// Lowest address in the range.
    pub low: u128,
    /// Highest address in the range.
    pub high: u128,
}

impl IpRange {
    /// Is `ip` inside the range?
    pub fn contains(&self, ip: Ip) -> bool {
        ip.v6 == self.v6 && self.low <= ip.bits && ip.bits <= self.high
    }

    /// The range holding exactly `ip`.
    pub fn single(ip: Ip) -> IpRange {
        IpRange {
            v6: ip.v6,
            low: ip.bits,
            high: ip.bits,
        }
    }
}

impl fmt::Display for Ip {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.v6 {
            write!(f, "{}", Ipv6Addr::from(self.bits))
        } else {
            let b = (self.bits as u32).to_be_bytes();
            write!(f, "{}.{}.{}.{}", b[0], b[1], b[2], b[3])
        }
    }
}

/// Parses `s` as an IP address literal, or returns `None` when it is not one.
pub fn parse_ip(s: &str) -> Option<Ip> {
    if looks_like_ipv4(s) {
        return parse_ipv4(s);
    }
    if looks_like_ipv6(s) {
        let addr: Ipv6Addr = s.parse().ok()?;
        if let Some(v4) = addr.to_ipv4_mapped() {
            return Some(Ip {
                v6: false,
                bits: u128::from(u32::from(v4)),
            });
        }
        return Some(Ip {
            v6: true,
            bits: u128::from(addr),
        });
    }
    None
}

/// `[0-9]+\.[0-9]+\.[0-9]+\.[0-9]+`
fn looks_like_ipv4(s: &str) -> bool {
    let parts: Vec<&str> = s.split('.').collect();
    parts.len() == 4
        && parts
            .iter()
            .all(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// `[0-9a-fA-F:]*:[0-9a-fA-F:]*`
fn looks_like_ipv6(s: &str) -> bool {
    s.contains(':') && s.bytes().all(|b| b == b':' || b.is_ascii_hexdigit())
}

fn parse_ipv4(s: &str) -> Option<Ip> {
    // Java's literal parser gives up on texts longer than 15 characters.
    if s.len() > 15 {
        return None;
    }
    let mut bits = 0u32;
    for part in s.split('.') {
        let value: u32 = part.parse().ok()?;
        if value > 255 {
            return None;
        }
        bits = (bits << 8) | value;
    }
    Some(Ip {
        v6: false,
        bits: u128::from(bits),
    })
}

/// Parses a `cidr` operand such as `10.0.0.0/24`.
pub fn parse_cidr(text: &str) -> Result<IpRange, String> {
    // Java's String.split drops trailing empty pieces.
    let mut pieces: Vec<&str> = text.split('/').collect();
    while pieces.len() > 1 && pieces.last() == Some(&"") {
        pieces.pop();
    }
    let [address, mask] = pieces[..] else {
        return Err("malformed CIDR, one '/' required".into());
    };
    let mask_bits = parse_java_int(mask).ok_or("malformed CIDR, mask bits must be an integer")?;
    if mask_bits < 0 {
        return Err("malformed CIDR, mask bits must not be negative".into());
    }
    let ip = parse_ip(address).ok_or_else(|| format!("invalid IP address: {address}"))?;
    let width: i64 = if ip.v6 { 128 } else { 32 };
    if mask_bits >= width {
        return Err(format!(
            "{} mask bits must be < {width}",
            if ip.v6 { "IPv6" } else { "IPv4" }
        ));
    }
    let host_bits = (width - mask_bits) as u32;
    let host_mask = if host_bits >= 128 {
        u128::MAX
    } else {
        (1u128 << host_bits) - 1
    };
    Ok(IpRange {
        v6: ip.v6,
        low: ip.bits,
        high: ip.bits | host_mask,
    })
}

/// `Integer.parseInt`: an optional sign and decimal digits, within 32 bits.
fn parse_java_int(s: &str) -> Option<i64> {
    let digits = s.strip_prefix(['+', '-']).unwrap_or(s);
    if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let value: i64 = s.parse().ok()?;
    (i64::from(i32::MIN)..=i64::from(i32::MAX))
        .contains(&value)
        .then_some(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn in_cidr(cidr: &str, ip: &str) -> bool {
        let range = parse_cidr(cidr).unwrap();
        parse_ip(ip).is_some_and(|ip| range.contains(ip))
    }

    #[test]
    fn cidr_membership_matches_the_reference() {
        assert!(in_cidr("10.0.0.0/24", "10.0.0.255"));
        assert!(!in_cidr("10.0.0.0/24", "10.0.1.0"));
        assert!(in_cidr("10.0.0.0/24", "010.0.0.1"));
        assert!(in_cidr("2001:db8::/32", "2001:DB8::1"));
        assert!(!in_cidr("10.0.0.0/24", "::ffff:10.0.0.1"));
        assert!(in_cidr("10.0.0.0/24", "::ffff:a00:1"));
        assert!(!in_cidr("10.0.0.0/8", "::a00:1"));
        assert!(in_cidr("10.0.0.5/24", "10.0.0.9"));
        assert!(!in_cidr("10.0.0.5/24", "10.0.0.1"));
        assert!(!in_cidr("fe80::/10", "fe80::1%eth0"));
        assert!(in_cidr("0.0.0.0/0", "1.2.3.4"));
    }

    #[test]
    fn bad_cidrs_are_rejected() {
        for bad in [
            "10.0.0.0/33",
            "10.0.0.1/32",
            "2001:db8::1/128",
            "10.0.0.1",
            "10.0.0/24",
            "300.0.0.0/8",
            "10.0.0.0/-1",
            "abc/8",
            "10.0.0.0/8/8",
            "::ffff:0:0/96",
            "/8",
        ] {
            assert!(parse_cidr(bad).is_err(), "{bad}");
        }
        assert!(parse_cidr("10.0.0.0/+8").is_ok());
    }
}
