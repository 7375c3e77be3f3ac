//! The client's address: the TCP peer, or, when the peer is a configured trusted proxy, the
//! address that proxy (and any trusted proxies before it) reports in the header they write
//! (`X-Forwarded-For` by default, or `Forwarded`). Used for login throttling and logs; never for authorisation.

use std::net::IpAddr;

use axum::http::HeaderMap;

/// An address range such as `10.0.0.0/8`, `::1/128` or a single address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Cidr {
    network: IpAddr,
    prefix: u8,
}

impl Cidr {
    /// Parses `ADDR` or `ADDR/PREFIX`.
    pub fn parse(text: &str) -> Option<Self> {
        let (addr, prefix) = match text.trim().split_once('/') {
            Some((addr, prefix)) => (addr, Some(prefix.parse::<u8>().ok()?)),
            None => (text.trim(), None),
        };
        let network: IpAddr = addr.parse().ok()?;
        let max = if network.is_ipv4() { 32 } else { 128 };
        let prefix = prefix.unwrap_or(max);
        (prefix <= max).then_some(Self { network, prefix })
    }

    /// Whether `ip` lies in the range (an IPv4-mapped IPv6 address counts as IPv4).
    pub fn contains(&self, ip: IpAddr) -> bool {
        match (self.network, ip.to_canonical()) {
            (IpAddr::V4(net), IpAddr::V4(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            (IpAddr::V6(net), IpAddr::V6(ip)) => {
                prefix_eq(&net.octets(), &ip.octets(), self.prefix)
            }
            _ => false,
        }
    }
}

fn prefix_eq(a: &[u8], b: &[u8], prefix: u8) -> bool {
    let full = usize::from(prefix / 8);
    if a[..full] != b[..full] {
        return false;
    }
    let rest = prefix % 8;
    if rest == 0 {
        return true;
    }
    let mask = 0xffu8 << (8 - rest);
    a[full] & mask == b[full] & mask
}

/// The client's address as seen through `trusted` proxies: walking the forwarded chain from the
/// nearest hop, the first address that is not a trusted proxy. An untrusted peer's headers are
/// ignored (anyone can send them); a malformed chain stops at the last trusted hop.
pub fn client_ip(peer: IpAddr, headers: &HeaderMap, proxies: &Proxies) -> IpAddr {
    let peer = peer.to_canonical();
    let is_trusted = |ip: IpAddr| proxies.trust(ip);
    if !is_trusted(peer) {
        return peer;
    }
    let chain = forwarded_chain(headers, proxies.header);
    let mut client = peer;
    for hop in chain.iter().rev() {
        let Some(ip) = hop else {
            return client;
        };
        client = ip.to_canonical();
        if !is_trusted(client) {
            return client;
        }
    }
    client
}

/// Whether the client reached the nearest trusted proxy over HTTPS: the proto that proxy wrote
/// (the last `proto=` of `Forwarded`, or the last value of `X-Forwarded-Proto`, following the
/// configured header). Untrusted peers' headers are ignored; the server itself speaks plain HTTP.
pub fn is_https(peer: IpAddr, headers: &HeaderMap, proxies: &Proxies) -> bool {
    if !proxies.trust(peer.to_canonical()) {
        return false;
    }
    let last = |name: &str| {
        headers
            .get_all(name)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .last()
            .map(str::to_owned)
    };
    let proto = match proxies.header {
        ForwardedHeader::Forwarded => last("forwarded").and_then(|element| {
            element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("proto")
                    .then(|| value.trim().trim_matches('"').to_owned())
            })
        }),
        ForwardedHeader::XForwardedFor => last("x-forwarded-proto"),
    };
    proto.is_some_and(|p| p.trim().eq_ignore_ascii_case("https"))
}

/// Which header the trusted proxies write. Reading only that one matters: a proxy that appends
/// to `X-Forwarded-For` passes a client's own `Forwarded` header through untouched (and the other
/// way round), so preferring whichever is present would let a client pick its address.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ForwardedHeader {
    /// `X-Forwarded-For` (nginx, HAProxy, most ingress controllers, cloud load balancers).
    XForwardedFor,
    /// `Forwarded: for=` (RFC 7239).
    Forwarded,
}

/// The trusted proxies and the header they write.
#[derive(Clone, Debug)]
pub struct Proxies {
    /// Peers whose forwarding header is believed.
    pub ranges: Vec<Cidr>,
    /// The header they write.
    pub header: ForwardedHeader,
}

impl Proxies {
    /// No trusted proxies: the TCP peer is the client.
    pub fn none() -> Self {
        Self {
            ranges: Vec::new(),
            header: ForwardedHeader::XForwardedFor,
        }
    }

    fn trust(&self, ip: IpAddr) -> bool {
        self.ranges.iter().any(|c| c.contains(ip))
    }
}

/// The forwarded addresses, client first, from `header` only. An entry that is not an address
/// (`unknown`, an obfuscated name) is None.
fn forwarded_chain(headers: &HeaderMap, header: ForwardedHeader) -> Vec<Option<IpAddr>> {
    if header == ForwardedHeader::Forwarded {
        let forwarded: Vec<&str> = headers
            .get_all("forwarded")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .collect();
        let mut chain = Vec::new();
        for element in forwarded.iter().flat_map(|v| v.split(',')) {
            let for_value = element.split(';').find_map(|pair| {
                let (key, value) = pair.split_once('=')?;
                key.trim()
                    .eq_ignore_ascii_case("for")
                    .then_some(value.trim())
            });
            chain.push(for_value.and_then(parse_node));
        }
        return chain;
    }
    headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|entry| parse_node(entry.trim()))
        .collect()
}

/// `1.2.3.4`, `1.2.3.4:5678`, `"[::1]:80"`, `[::1]`, `::1`.
fn parse_node(text: &str) -> Option<IpAddr> {
    let text = text.trim_matches('"');
    if let Ok(ip) = text.parse() {
        return Some(ip);
    }
    if let Some(rest) = text.strip_prefix('[') {
        return rest.split(']').next()?.parse().ok();
    }
    let (host, _port) = text.rsplit_once(':')?;
    host.parse().ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (k, v) in pairs {
            map.append(*k, v.parse().unwrap());
        }
        map
    }

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn ranges_parse_and_match() {
        let net = Cidr::parse("10.1.0.0/16").unwrap();
        assert!(net.contains(ip("10.1.200.3")));
        assert!(!net.contains(ip("10.2.0.1")));
        assert!(net.contains(ip("::ffff:10.1.0.9")));
        assert!(Cidr::parse("fd00::/8").unwrap().contains(ip("fd12::1")));
        assert!(Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.1")));
        assert!(!Cidr::parse("127.0.0.1").unwrap().contains(ip("127.0.0.2")));
        assert!(Cidr::parse("10.0.0.0/33").is_none());
        assert!(Cidr::parse("nonsense").is_none());
        assert!(Cidr::parse("0.0.0.0/0").unwrap().contains(ip("8.8.8.8")));
    }

    fn xff(ranges: &[&str]) -> Proxies {
        Proxies {
            ranges: ranges.iter().map(|r| Cidr::parse(r).unwrap()).collect(),
            header: ForwardedHeader::XForwardedFor,
        }
    }

    #[test]
    fn headers_count_only_from_trusted_peers() {
        let trusted = xff(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-for", "203.0.113.7")]);
        assert_eq!(
            client_ip(ip("198.51.100.1"), &h, &trusted),
            ip("198.51.100.1")
        );
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        assert_eq!(
            client_ip(ip("10.0.0.5"), &h, &Proxies::none()),
            ip("10.0.0.5")
        );
    }

    #[test]
    fn https_is_read_from_trusted_proxies_only() {
        let trusted = xff(&["10.0.0.0/8"]);
        let h = headers(&[("x-forwarded-proto", "https")]);
        assert!(is_https(ip("10.0.0.5"), &h, &trusted));
        assert!(!is_https(ip("192.0.2.1"), &h, &trusted));
        // The proxy appended its own value after the client's.
        let h = headers(&[("x-forwarded-proto", "https, http")]);
        assert!(!is_https(ip("10.0.0.5"), &h, &trusted));
        let rfc = Proxies {
            header: ForwardedHeader::Forwarded,
            ..trusted.clone()
        };
        let h = headers(&[("forwarded", "for=1.2.3.4;proto=https")]);
        assert!(is_https(ip("10.0.0.5"), &h, &rfc));
        assert!(
            !is_https(ip("10.0.0.5"), &h, &trusted),
            "not the configured header"
        );
        assert!(!is_https(ip("10.0.0.5"), &headers(&[]), &trusted));
    }

    #[test]
    fn a_spoofed_left_entry_does_not_win() {
        let trusted = xff(&["10.0.0.0/8"]);
        // The client sent "1.1.1.1" itself; the proxy appended the real address.
        let h = headers(&[("x-forwarded-for", "1.1.1.1, 203.0.113.7, 10.0.0.9")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        // A client's own Forwarded header is ignored when the proxy writes X-Forwarded-For.
        let h = headers(&[
            ("forwarded", "for=198.51.100.9"),
            ("x-forwarded-for", "203.0.113.7"),
        ]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("203.0.113.7"));
        let rfc = Proxies {
            header: ForwardedHeader::Forwarded,
            ..trusted.clone()
        };
        let h = headers(&[
            ("forwarded", "for=1.1.1.1"),
            (
                "forwarded",
                "for=\"[2001:db8::1]:4711\";proto=https, for=10.0.0.9",
            ),
        ]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &rfc), ip("2001:db8::1"));
        let h = headers(&[("x-forwarded-for", "203.0.113.7, unknown")]);
        assert_eq!(client_ip(ip("10.0.0.5"), &h, &trusted), ip("10.0.0.5"));
    }
}
