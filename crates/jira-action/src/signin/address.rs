//! Which addresses a fetch the server makes on a stranger's say-so (a
//! client's metadata document) may reach: public unicast only, so a client
//! id cannot make the server call into its own network (SSRF). The DNS
//! resolver below applies the check to the very addresses the connection
//! then uses, so a name that resolves differently a moment later (DNS
//! rebinding) gains nothing.

use std::error::Error;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};

use reqwest::dns::{Addrs, Name, Resolve, Resolving};

/// Whether `ip` is a public unicast address.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => is_public_v6(v6),
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    let special = a == 0 // "this network", 0.0.0.0 included
        || ip.is_loopback() // 127.0.0.0/8
        || ip.is_private() // RFC 1918
        || ip.is_link_local() // 169.254.0.0/16, cloud metadata services
        || (a == 100 && (64..128).contains(&b)) // CGNAT 100.64.0.0/10
        || (a == 192 && b == 0 && c == 0) // IETF protocol assignments
        || ip.is_documentation()
        || (a == 198 && (b == 18 || b == 19)) // benchmarking 198.18.0.0/15
        || ip.is_multicast()
        || a >= 240; // reserved, and the broadcast address
    !special
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    if let Some(v4) = embedded_v4(ip) {
        return is_public_v4(v4);
    }
    let s = ip.segments();
    let special = ip.is_unspecified()
        || ip.is_loopback()
        || ip.is_multicast()
        || (s[0] & 0xfe00) == 0xfc00 // unique local fc00::/7
        || (s[0] & 0xffc0) == 0xfe80 // link-local fe80::/10
        || (s[0] & 0xffc0) == 0xfec0 // site-local fec0::/10 (deprecated)
        || (s[0] == 0x2001 && s[1] == 0x0db8) // documentation
        || (s[0] == 0x2001 && s[1] == 0) // Teredo: hides its IPv4 address
        || (s[0] == 0x0100 && s[1..4] == [0, 0, 0]); // discard-only 100::/64
    !special
}

/// The IPv4 address an IPv6 address carries: IPv4-mapped (`::ffff:a.b.c.d`),
/// IPv4-compatible (`::a.b.c.d`), NAT64 (`64:ff9b::a.b.c.d`) and 6to4
/// (`2002:aabb:ccdd::`) forms reach that IPv4 address, so they are judged
/// by it.
fn embedded_v4(ip: Ipv6Addr) -> Option<Ipv4Addr> {
    let s = ip.segments();
    let o = ip.octets();
    match s {
        [0, 0, 0, 0, 0, 0xffff, _, _]
        | [0, 0, 0, 0, 0, 0, _, _]
        | [0x64, 0xff9b, 0, 0, 0, 0, _, _] => Some(Ipv4Addr::new(o[12], o[13], o[14], o[15])),
        [0x2002, ..] => Some(Ipv4Addr::new(o[2], o[3], o[4], o[5])),
        _ => None,
    }
}

/// A name resolved only to addresses that are not public.
#[derive(Debug, thiserror::Error)]
#[error("{host} resolves to {address}, which is not a public address")]
pub struct NotPublic {
    pub host: String,
    pub address: IpAddr,
}

/// reqwest's DNS resolver for metadata fetches: the system's answer, refused
/// whole when any address in it is not public (a name that mixes public and
/// private addresses is not one to trust). `allow_private` (development)
/// lets every address through.
pub struct PublicOnly {
    pub allow_private: bool,
}

impl Resolve for PublicOnly {
    fn resolve(&self, name: Name) -> Resolving {
        let allow_private = self.allow_private;
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let addresses: Vec<SocketAddr> =
                tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            if !allow_private && let Some(bad) = addresses.iter().find(|a| !is_public(a.ip())) {
                let refusal: Box<dyn Error + Send + Sync> = Box::new(NotPublic {
                    address: bad.ip(),
                    host,
                });
                return Err(refusal);
            }
            let addresses: Addrs = Box::new(addresses.into_iter());
            Ok(addresses)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn public(address: &str) -> bool {
        is_public(address.parse().expect(address))
    }

    #[test]
    fn public_addresses_pass() {
        for address in [
            "8.8.8.8",
            "1.1.1.1",
            "100.63.255.255",
            "100.128.0.0",
            "172.32.0.1",
            "192.0.1.1",
            "198.20.0.1",
            "2606:4700:4700::1111",
            "::ffff:8.8.8.8",
            "64:ff9b::808:808",
            "2002:808:808::1",
        ] {
            assert!(public(address), "{address}");
        }
    }

    #[test]
    fn loopback_private_link_local_and_other_special_addresses_are_refused() {
        for address in [
            // IPv4: unspecified, "this network", loopback, RFC 1918,
            // link-local (cloud metadata), CGNAT, protocol assignments,
            // documentation, benchmarking, multicast, reserved, broadcast.
            "0.0.0.0",
            "0.1.2.3",
            "127.0.0.1",
            "127.255.255.254",
            "10.0.0.1",
            "172.16.0.1",
            "172.31.255.255",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.255",
            "192.0.0.8",
            "192.0.2.1",
            "198.51.100.1",
            "203.0.113.1",
            "198.18.0.1",
            "198.19.255.255",
            "224.0.0.1",
            "239.255.255.250",
            "240.0.0.1",
            "255.255.255.255",
            // IPv6: unspecified, loopback, unique local, link-local,
            // site-local, multicast, documentation, Teredo, discard.
            "::",
            "::1",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "febf::1",
            "fec0::1",
            "ff02::1",
            "2001:db8::1",
            "2001:0:4136:e378::1",
            "100::1",
            // IPv6 forms that carry a refused IPv4 address.
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::ffff:169.254.169.254",
            "::127.0.0.1",
            "64:ff9b::a00:1",
            "2002:a00:1::1",
            "2002:7f00:1::",
        ] {
            assert!(!public(address), "{address}");
        }
    }

    #[tokio::test]
    async fn the_resolver_refuses_a_name_of_a_loopback_address_unless_allowed() {
        let resolve = |allow_private| {
            PublicOnly { allow_private }.resolve("localhost".parse().expect("a name"))
        };
        let refused = resolve(false).await.err().expect("refused");
        assert!(refused.downcast_ref::<NotPublic>().is_some(), "{refused}");
        let allowed: Vec<SocketAddr> = resolve(true).await.expect("resolves").collect();
        assert!(allowed.iter().all(|a| a.ip().is_loopback()), "{allowed:?}");
        assert!(!allowed.is_empty());
    }
}
