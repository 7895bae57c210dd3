//! Which addresses a media fetch may reach: public ones, the account's own servers, the hosts
//! the operator listed, or anything when the operator lifted the guard.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use url::Url;

/// Whether an address is on the public internet as far as server-side request forgery goes:
/// not loopback, private, link-local, unspecified, shared (CGNAT), multicast, broadcast,
/// reserved or documentation space, and not an IPv6 form that carries such an IPv4 address
/// (IPv4-mapped, IPv4-compatible, NAT64, 6to4, Teredo).
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local() // 169.254/16, cloud metadata included
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || a == 0
        || (a == 100 && (64..128).contains(&b)) // shared address space 100.64/10 (CGNAT)
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || (a == 192 && b == 0 && c == 2) // documentation
        || (a == 198 && b == 51 && c == 100)
        || (a == 203 && b == 0 && c == 113)
        || (a == 198 && (18..20).contains(&b)) // benchmarking 198.18/15
        || a >= 240)
}

fn v4_at(octets: &[u8; 16], at: usize) -> Ipv4Addr {
    Ipv4Addr::new(octets[at], octets[at + 1], octets[at + 2], octets[at + 3])
}

fn is_public_v6(v6: Ipv6Addr) -> bool {
    if let Some(v4) = v6.to_ipv4_mapped() {
        return is_public_v4(v4);
    }
    let s = v6.segments();
    let o = v6.octets();
    if v6.is_loopback() || v6.is_unspecified() || v6.is_multicast() {
        return false;
    }
    // IPv4-compatible ::a.b.c.d (deprecated, still routed by some stacks).
    if s[..6] == [0; 6] {
        return is_public_v4(v4_at(&o, 12));
    }
    // NAT64: the well-known prefix carries the IPv4 target; the local-use one is private.
    if s[..6] == [0x64, 0xff9b, 0, 0, 0, 0] {
        return is_public_v4(v4_at(&o, 12));
    }
    if s[0] == 0x64 && s[1] == 0xff9b && s[2] == 1 {
        return false;
    }
    // 6to4 2002:a.b.c.d::/48.
    if s[0] == 0x2002 {
        return is_public_v4(v4_at(&o, 2));
    }
    // Teredo 2001:0::/32: the client's IPv4 address is stored inverted in the last 32 bits.
    if s[0] == 0x2001 && s[1] == 0 {
        let client = Ipv4Addr::new(!o[12], !o[13], !o[14], !o[15]);
        return is_public_v4(v4_at(&o, 4)) && is_public_v4(client);
    }
    !((s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || s[0] == 0x0100 && s[1..4] == [0, 0, 0]) // discard-only 100::/64
}

/// A host that media may be fetched from whatever its address: compared by name
/// (case-insensitive, without a trailing dot) or by address, never by port.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TrustedHost {
    Name(String),
    Ip(IpAddr),
}

impl TrustedHost {
    /// Reads `entry` as a host name, an IP address (IPv6 with or without brackets), a
    /// `host:port`, or a URL whose host is taken. `None` when there is no host in it.
    pub fn parse(entry: &str) -> Option<Self> {
        let entry = entry.trim();
        if entry.is_empty() {
            return None;
        }
        if entry.contains("://") {
            return Url::parse(entry).ok().as_ref().and_then(Self::of_url);
        }
        let bare = entry.trim_start_matches('[').trim_end_matches(']');
        if let Ok(ip) = bare.parse::<IpAddr>() {
            return Some(Self::Ip(ip));
        }
        // `host:port` or `[v6]:port`: parse as the authority of a URL.
        Url::parse(&format!("http://{entry}/"))
            .ok()
            .as_ref()
            .and_then(Self::of_url)
    }

    /// The host of `url`.
    pub fn of_url(url: &Url) -> Option<Self> {
        match url.host()? {
            url::Host::Domain(d) => {
                let name = d.trim_end_matches('.').to_ascii_lowercase();
                // `http://10.0.0.1x` is a domain to `url`; an all-numeric one never is.
                (!name.is_empty()).then_some(Self::Name(name))
            }
            url::Host::Ipv4(ip) => Some(Self::Ip(ip.into())),
            url::Host::Ipv6(ip) => Some(Self::Ip(ip.into())),
        }
    }
}

impl std::fmt::Display for TrustedHost {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Name(name) => f.write_str(name),
            Self::Ip(ip) => write!(f, "{ip}"),
        }
    }
}

/// Whether a fetch from `host` (as written in the URL) that resolved to `ip` passes: a public
/// address always does; a non-public one only when the name or that very address is trusted.
pub(crate) fn admits(trusted: &[TrustedHost], host: Option<&TrustedHost>, ip: IpAddr) -> bool {
    if is_public(ip) {
        return true;
    }
    let by_name = host.is_some_and(|h| matches!(h, TrustedHost::Name(_)) && trusted.contains(h));
    let ip = match ip {
        IpAddr::V6(v6) => v6.to_ipv4_mapped().map_or(IpAddr::V6(v6), IpAddr::V4),
        v4 => v4,
    };
    by_name || trusted.contains(&TrustedHost::Ip(ip))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(s: &str) -> IpAddr {
        s.parse().expect("ip")
    }

    #[test]
    fn non_public_addresses_in_every_form() {
        for private in [
            "127.0.0.1",
            "127.0.0.2",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "0.0.0.0",
            "100.64.0.1",
            "100.127.255.254",
            "255.255.255.255",
            "224.0.0.1",
            "198.18.0.1",
            "192.0.2.1",
            "::1",
            "::",
            "fe80::1",
            "fd00::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
            "::ffff:169.254.169.254",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "64:ff9b::7f00:1",
            "64:ff9b:1::1",
            "2002:7f00:1::",
            "2002:a00:1::1",
            "2002:a9fe:a9fe::",
            // Teredo with client 127.0.0.1 (inverted: 80ff:fffe).
            "2001:0:4136:e378:8000:63bf:80ff:fffe",
            "2001:db8::1",
        ] {
            assert!(
                !is_public(ip(private)),
                "{private} must not count as public"
            );
        }
        for public in [
            "1.1.1.1",
            "8.8.8.8",
            "100.128.0.1",
            "2606:4700:4700::1111",
            "::ffff:1.1.1.1",
            "64:ff9b::101:101",
            "2002:101:101::1",
            // Teredo with server 65.54.227.120 and client 1.1.1.1 (inverted fefe:fefe).
            "2001:0:4136:e378:8000:63bf:fefe:fefe",
        ] {
            assert!(is_public(ip(public)), "{public} is public");
        }
    }

    #[test]
    fn trusted_hosts_parse_from_names_addresses_and_urls() {
        let name = |s: &str| Some(TrustedHost::Name(s.into()));
        assert_eq!(
            TrustedHost::parse("IM.Example.com."),
            name("im.example.com")
        );
        assert_eq!(TrustedHost::parse("minio:9000"), name("minio"));
        assert_eq!(
            TrustedHost::parse("ws://10.0.0.5:10001/ws"),
            Some(TrustedHost::Ip(ip("10.0.0.5")))
        );
        assert_eq!(
            TrustedHost::parse("[::1]"),
            Some(TrustedHost::Ip(ip("::1")))
        );
        assert_eq!(
            TrustedHost::parse("[fd00::5]:9000"),
            Some(TrustedHost::Ip(ip("fd00::5")))
        );
        assert_eq!(TrustedHost::parse("  "), None);
        assert_eq!(TrustedHost::parse("http://"), None);
    }

    #[test]
    fn trust_is_by_name_or_exact_address_never_by_neighbourhood() {
        let trusted = [
            TrustedHost::Ip(ip("127.0.0.1")),
            TrustedHost::Name("minio.lan".into()),
        ];
        let own = TrustedHost::Ip(ip("127.0.0.1"));
        assert!(admits(&trusted, Some(&own), ip("127.0.0.1")));
        assert!(admits(&trusted, None, ip("::ffff:127.0.0.1")));
        // Another address on the same machine is not the account's server.
        let canary = TrustedHost::Ip(ip("127.0.0.2"));
        assert!(!admits(&trusted, Some(&canary), ip("127.0.0.2")));
        let minio = TrustedHost::Name("minio.lan".into());
        assert!(admits(&trusted, Some(&minio), ip("10.9.9.9")));
        let other = TrustedHost::Name("evil.example".into());
        assert!(!admits(&trusted, Some(&other), ip("10.9.9.9")));
        // A name resolving to the trusted address itself is that server.
        assert!(admits(&trusted, Some(&other), ip("127.0.0.1")));
        assert!(admits(&[], Some(&other), ip("1.1.1.1")));
    }
}
