//! Which addresses a model download may reach (SSRF): by default only public ones. Every name,
//! also after a redirect, is resolved through [`PublicResolver`], which drops loopback, private,
//! link-local (cloud metadata), shared, multicast and unspecified addresses; address literals
//! in the URL and in redirects are checked by [`check_url`]. `models.allow_private_urls` lifts
//! both, for a mirror on the admin's own network.

use std::net::{IpAddr, SocketAddr};

use http_client::Url;
use http_client::dns::{Addrs, Name, Resolve, Resolving};

/// What every refusal says (a redirect's or the resolver's refusal reaches the caller as the
/// text of a client error, so this marks it).
pub const NOT_PUBLIC: &str = "is not a public address";

/// At most this many redirects are followed.
pub const MAX_REDIRECTS: usize = 5;

/// Whether `ip` is an address on the public internet.
pub fn is_public(ip: IpAddr) -> bool {
    match ip.to_canonical() {
        IpAddr::V4(v4) => {
            let [a, b, ..] = v4.octets();
            !(v4.is_loopback()
                || v4.is_private()
                || v4.is_link_local()
                || v4.is_unspecified()
                || v4.is_broadcast()
                || v4.is_multicast()
                || v4.is_documentation()
                || a == 0
                || (a == 100 && (64..128).contains(&b)) // shared address space (CGNAT)
                || (a == 192 && b == 0 && v4.octets()[2] == 0) // IETF protocol assignments
                || a >= 240)
        }
        IpAddr::V6(v6) => {
            // IPv6 forms that carry an IPv4 address (NAT64, 6to4, IPv4-compatible) are as
            // public as the address they carry.
            if let Some(v4) = embedded_v4(v6) {
                return is_public(IpAddr::V4(v4));
            }
            let first = v6.segments()[0];
            !(v6.is_loopback()
                || v6.is_unspecified()
                || v6.is_multicast()
                || (first & 0xfe00) == 0xfc00 // unique local
                || (first & 0xffc0) == 0xfe80 // link-local
                || first == 0x2001 && v6.segments()[1] == 0x0db8) // documentation
        }
    }
}

/// The IPv4 address inside a NAT64 (`64:ff9b::/96`, `64:ff9b:1::/48`), 6to4 (`2002::/16`) or
/// IPv4-compatible (`::a.b.c.d`) address.
fn embedded_v4(v6: std::net::Ipv6Addr) -> Option<std::net::Ipv4Addr> {
    let s = v6.segments();
    let o = v6.octets();
    let tail = std::net::Ipv4Addr::new(o[12], o[13], o[14], o[15]);
    if s[0] == 0x64 && s[1] == 0xff9b && (s[2..6] == [0, 0, 0, 0] || s[2] == 1) {
        return Some(tail);
    }
    if s[0] == 0x2002 {
        return Some(std::net::Ipv4Addr::new(o[2], o[3], o[4], o[5]));
    }
    if s[..6] == [0; 6] && !v6.is_loopback() && !v6.is_unspecified() {
        return Some(tail);
    }
    None
}

/// Checks a URL before it is fetched (the first one and every redirect target): http or https,
/// and an address literal must be public unless `allow_private`. Names are checked when they
/// are resolved.
pub fn check_url(url: &Url, allow_private: bool) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!(
            "only http and https URLs can be installed, not {}",
            url.scheme()
        ));
    }
    let Some(host) = url.host_str() else {
        return Err("the URL has no host".into());
    };
    let literal: Option<IpAddr> = host
        .trim_start_matches('[')
        .trim_end_matches(']')
        .parse()
        .ok();
    if let Some(ip) = literal
        && !allow_private
        && !is_public(ip)
    {
        return Err(refusal(ip));
    }
    Ok(())
}

fn refusal(ip: IpAddr) -> String {
    format!(
        "{ip} {NOT_PUBLIC}; downloads from the server's own network need \
         models.allow_private_urls = true"
    )
}

/// A resolver that answers only with public addresses, and fails for a name that has none.
pub struct PublicResolver;

impl Resolve for PublicResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let found: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = found
                .iter()
                .copied()
                .filter(|a| is_public(a.ip()))
                .collect();
            if public.is_empty() {
                let ip = found.first().map(SocketAddr::ip);
                let message = match ip {
                    Some(ip) => format!("{host} resolves to {}", refusal(ip)),
                    None => format!("{host} has no address"),
                };
                return Err(message.into());
            }
            let addrs: Addrs = Box::new(public.into_iter());
            Ok(addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn private_and_special_addresses_are_not_public() {
        for ip in [
            "127.0.0.1",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "0.0.0.0",
            "255.255.255.255",
            "224.0.0.1",
            "::1",
            "::",
            "fd00::1",
            "fe80::1",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
        ] {
            assert!(!is_public(ip.parse().unwrap()), "{ip}");
        }
        for ip in [
            "8.8.8.8",
            "151.101.1.1",
            "2a00:1450:4001::1",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(is_public(ip.parse().unwrap()), "{ip}");
        }
    }

    #[test]
    fn urls_are_checked_by_scheme_and_literal() {
        let check = |u: &str, allow| check_url(&Url::parse(u).unwrap(), allow);
        assert!(check("https://example.com/m.safetensors", false).is_ok());
        assert!(check("http://127.0.0.1:8080/m", false).is_err());
        assert!(check("http://[::1]/m", false).is_err());
        assert!(check("http://169.254.169.254/latest/meta-data", false).is_err());
        assert!(check("http://127.0.0.1:8080/m", true).is_ok());
        assert!(check("file:///etc/passwd", true).is_err());
        assert!(check("ftp://example.com/m", false).is_err());
    }
}
