//! Who the client is: CIDR ranges, IPv4-mapped normalisation, and the client IP behind trusted
//! proxies (the rightmost X-Forwarded-For hop that is not itself a trusted proxy).

use std::fmt;
use std::net::IpAddr;

use http::HeaderMap;

/// An address range such as `192.0.2.0/24` or `2001:db8::/32`; a bare address is a single host.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

/// Why a text is not a [`Cidr`]; each message quotes the text as written.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CidrError {
    #[error("{text:?} is not an address or CIDR range")]
    NotAnAddress { text: String },
    #[error("{text:?}: the prefix length must be 0 to {max}")]
    PrefixLength { text: String, max: u8 },
    #[error("{text:?} has host bits set; did you mean {network}?")]
    HostBitsSet { text: String, network: Cidr },
}

impl Cidr {
    pub fn parse(text: &str) -> Result<Cidr, CidrError> {
        let (address, prefix) = match text.split_once('/') {
            Some((address, prefix)) => (address, Some(prefix)),
            None => (text, None),
        };
        let address: IpAddr = address
            .trim()
            .parse()
            .map_err(|_| CidrError::NotAnAddress {
                text: text.to_string(),
            })?;
        let address = normalise(address);
        let max = if address.is_ipv4() { 32 } else { 128 };
        let prefix = match prefix {
            None => max,
            Some(p) => p
                .trim()
                .parse::<u8>()
                .ok()
                .filter(|p| *p <= max)
                .ok_or_else(|| CidrError::PrefixLength {
                    text: text.to_string(),
                    max,
                })?,
        };
        let cidr = Cidr {
            network: address,
            prefix,
        };
        if mask(cidr.network, prefix) != bits(cidr.network) {
            return Err(CidrError::HostBitsSet {
                text: text.to_string(),
                network: Cidr {
                    network: from_bits(address, mask(address, prefix)),
                    prefix,
                },
            });
        }
        Ok(cidr)
    }

    pub fn contains(&self, address: IpAddr) -> bool {
        let address = normalise(address);
        address.is_ipv4() == self.network.is_ipv4()
            && mask(address, self.prefix) == bits(self.network)
    }
}

impl fmt::Display for Cidr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.network, self.prefix)
    }
}

fn bits(address: IpAddr) -> u128 {
    match address {
        IpAddr::V4(v4) => u128::from(u32::from(v4)),
        IpAddr::V6(v6) => u128::from(v6),
    }
}

fn from_bits(like: IpAddr, value: u128) -> IpAddr {
    match like {
        IpAddr::V4(_) => IpAddr::V4(std::net::Ipv4Addr::from(value as u32)),
        IpAddr::V6(_) => IpAddr::V6(std::net::Ipv6Addr::from(value)),
    }
}

fn mask(address: IpAddr, prefix: u8) -> u128 {
    let width: u32 = if address.is_ipv4() { 32 } else { 128 };
    let prefix = u32::from(prefix).min(width);
    let keep = if prefix == 0 {
        0
    } else {
        u128::MAX << (width - prefix)
    };
    let all = if width == 32 {
        u128::from(u32::MAX)
    } else {
        u128::MAX
    };
    bits(address) & keep & all
}

/// `::ffff:192.0.2.1` is `192.0.2.1`: a dual-stack listener reports IPv4 peers that way.
pub fn normalise(address: IpAddr) -> IpAddr {
    match address {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(address, IpAddr::V4),
        IpAddr::V4(_) => address,
    }
}

pub fn any_contains(ranges: &[Cidr], address: IpAddr) -> bool {
    ranges.iter().any(|range| range.contains(address))
}

/// The client's address. The peer is the client unless it is a trusted proxy; then the
/// X-Forwarded-For hops are read from the right, and the first one that is not a trusted proxy is
/// the client. A hop that does not parse ends the walk at the last trusted address, which no
/// allowlist of real senders contains: a mangled header fails closed.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, trusted: &[Cidr]) -> IpAddr {
    let mut client = normalise(peer);
    if !any_contains(trusted, client) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|value| value.to_str().ok())
        .flat_map(|value| value.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(address) = hop.parse::<IpAddr>() else {
            return client;
        };
        client = normalise(address);
        if !any_contains(trusted, client) {
            return client;
        }
    }
    client
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().expect("address")
    }

    #[test]
    fn ranges_parse_and_match() {
        let v4 = Cidr::parse("192.0.2.0/24").expect("cidr");
        assert!(v4.contains(ip("192.0.2.255")));
        assert!(!v4.contains(ip("192.0.3.0")));
        assert!(
            v4.contains(ip("::ffff:192.0.2.9")),
            "IPv4-mapped addresses are normalised"
        );
        let v6 = Cidr::parse("2001:db8::/32").expect("cidr");
        assert!(v6.contains(ip("2001:db8:1::5")));
        assert!(!v6.contains(ip("2001:db9::1")));
        assert!(!v6.contains(ip("192.0.2.1")));
        assert!(Cidr::parse("10.1.2.3")
            .expect("host")
            .contains(ip("10.1.2.3")));
        assert!(Cidr::parse("0.0.0.0/0")
            .expect("all")
            .contains(ip("8.8.8.8")));
        for bad in [
            "192.0.2.1/24",
            "192.0.2.0/33",
            "nope",
            "10.0.0.0/x",
            "2001:db8::1/129",
        ] {
            assert!(Cidr::parse(bad).is_err(), "{bad}");
        }
        assert!(Cidr::parse("192.0.2.1/24")
            .unwrap_err()
            .to_string()
            .contains("192.0.2.0/24"));
    }

    fn headers(values: &[&str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for value in values {
            map.append("x-forwarded-for", value.parse().expect("value"));
        }
        map
    }

    #[test]
    fn the_rightmost_untrusted_hop_is_the_client() {
        let trusted = [Cidr::parse("10.0.0.0/8").expect("cidr")];
        let peer = ip("10.0.0.2");
        assert_eq!(
            client_ip(ip("203.0.113.5"), &headers(&["198.51.100.1"]), &trusted),
            ip("203.0.113.5"),
            "untrusted peers are the client"
        );
        assert_eq!(
            client_ip(peer, &headers(&["203.0.113.5"]), &trusted),
            ip("203.0.113.5")
        );
        assert_eq!(
            client_ip(
                peer,
                &headers(&["198.51.100.1, 203.0.113.5, 10.0.0.9"]),
                &trusted
            ),
            ip("203.0.113.5"),
            "a forged leftmost hop is ignored"
        );
        assert_eq!(
            client_ip(peer, &headers(&["198.51.100.1", "203.0.113.5"]), &trusted),
            ip("203.0.113.5"),
            "several header lines form one list"
        );
        assert_eq!(client_ip(peer, &headers(&[]), &trusted), peer);
        assert_eq!(
            client_ip(peer, &headers(&["garbage, 10.0.0.7"]), &trusted),
            ip("10.0.0.7"),
            "a mangled hop stops at the last trusted one"
        );
        assert_eq!(
            client_ip(
                ip("::ffff:10.0.0.2"),
                &headers(&["::ffff:203.0.113.5"]),
                &trusted
            ),
            ip("203.0.113.5")
        );
    }
}
