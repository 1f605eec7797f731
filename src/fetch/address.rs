//! Which addresses a redirect may lead to. A feed URL an analyst configured is trusted, even on
//! the operator's own network; a redirect from a public server is not: followed to a loopback,
//! private or link-local address (a cloud's metadata service at 169.254.169.254, an admin page
//! on 127.0.0.1), it would make the fetcher read the operator's network for a stranger and
//! ingest the answer. So once a fetch has been answered from a public address, every later hop
//! must connect to a public one too. The judgement is on addresses, never names: a name is
//! checked on what it resolves to, at the moment of connecting (see [`PublicOnly`]).

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;

/// Whether `ip` is on the public internet: not loopback, private (RFC 1918, unique local),
/// link-local, carrier-grade NAT, unspecified, broadcast, multicast, documentation or
/// benchmarking space. An IPv4 address written as IPv6 is judged as IPv4.
pub fn is_public(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(v4) => is_public_v4(v4),
        IpAddr::V6(v6) => match v6.to_ipv4_mapped() {
            Some(v4) => is_public_v4(v4),
            None => is_public_v6(v6),
        },
    }
}

fn is_public_v4(ip: Ipv4Addr) -> bool {
    let [a, b, c, _] = ip.octets();
    !(ip.is_loopback()
        || ip.is_private()
        || ip.is_link_local()
        || ip.is_unspecified()
        || ip.is_broadcast()
        || ip.is_multicast()
        || ip.is_documentation()
        // "This network" and carrier-grade NAT (shared address space).
        || a == 0
        || (a == 100 && (64..128).contains(&b))
        // IETF protocol assignments, benchmarking, and the reserved top of the space.
        || (a == 192 && b == 0 && c == 0)
        || (a == 198 && (b == 18 || b == 19))
        || a >= 240)
}

fn is_public_v6(ip: Ipv6Addr) -> bool {
    let first = ip.segments()[0];
    !(ip.is_loopback()
        || ip.is_unspecified()
        || ip.is_multicast()
        // Unique local (fc00::/7) and link-local (fe80::/10).
        || (first & 0xfe00) == 0xfc00
        || (first & 0xffc0) == 0xfe80
        // Documentation (2001:db8::/32).
        || (first == 0x2001 && ip.segments()[1] == 0x0db8)
        // IPv4-compatible and NAT64 forms carry an IPv4 address that may be anything.
        || ip.segments()[..6].iter().all(|&s| s == 0)
        || (first == 0x0064 && ip.segments()[1] == 0xff9b))
}

/// What counts as public: [`is_public`], and the addresses a test declares public.
#[derive(Clone, Debug, Default)]
pub struct Publicness {
    also_public: Arc<[IpAddr]>,
}

impl Publicness {
    pub fn new(also_public: &[IpAddr]) -> Publicness {
        Publicness {
            also_public: also_public.into(),
        }
    }

    pub fn judge(&self, ip: IpAddr) -> bool {
        is_public(ip) || self.also_public.contains(&ip)
    }
}

/// A name that resolved to no public address, where only public ones may be connected to.
#[derive(Debug, thiserror::Error)]
#[error("{name} resolves to no public address ({addresses})")]
pub struct NotPublic {
    pub name: String,
    pub addresses: String,
    pub first: Option<IpAddr>,
}

/// A resolver that keeps only public addresses, for the hops that must stay public: the check
/// and the connection use the same answer, so a name cannot resolve to a public address for
/// the check and a private one for the connection.
#[derive(Debug)]
pub struct PublicOnly {
    pub publicness: Publicness,
}

impl reqwest::dns::Resolve for PublicOnly {
    fn resolve(&self, name: reqwest::dns::Name) -> reqwest::dns::Resolving {
        let publicness = self.publicness.clone();
        let host = name.as_str().to_owned();
        Box::pin(async move {
            let all: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0)).await?.collect();
            let public: Vec<SocketAddr> = all
                .iter()
                .copied()
                .filter(|a| publicness.judge(a.ip()))
                .collect();
            if public.is_empty() {
                let shown: Vec<String> = all.iter().map(|a| a.ip().to_string()).collect();
                return Err(Box::new(NotPublic {
                    name: host,
                    addresses: if shown.is_empty() {
                        "none".to_owned()
                    } else {
                        shown.join(", ")
                    },
                    first: all.first().map(SocketAddr::ip),
                })
                    as Box<dyn std::error::Error + Send + Sync>);
            }
            Ok(Box::new(public.into_iter()) as reqwest::dns::Addrs)
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_operators_network_and_special_ranges_are_not_public() {
        let private = [
            "127.0.0.1",
            "127.8.9.10",
            "10.1.2.3",
            "172.16.0.1",
            "172.31.255.254",
            "192.168.1.1",
            "169.254.169.254",
            "100.64.0.1",
            "100.127.255.254",
            "0.0.0.0",
            "0.1.2.3",
            "255.255.255.255",
            "224.0.0.1",
            "192.0.2.1",
            "198.18.0.1",
            "240.0.0.1",
            "::1",
            "::",
            "fc00::1",
            "fd12:3456::1",
            "fe80::1",
            "ff02::1",
            "2001:db8::1",
            "::ffff:127.0.0.1",
            "::ffff:10.0.0.1",
            "::127.0.0.1",
            "64:ff9b::a00:1",
        ];
        for text in private {
            let ip: IpAddr = text.parse().expect(text);
            assert!(!is_public(ip), "{text} judged public");
        }
        let public = [
            "8.8.8.8",
            "1.1.1.1",
            "172.32.0.1",
            "100.128.0.1",
            "93.184.216.34",
            "2606:4700::1111",
            "::ffff:8.8.8.8",
        ];
        for text in public {
            let ip: IpAddr = text.parse().expect(text);
            assert!(is_public(ip), "{text} judged not public");
        }
    }

    #[test]
    fn a_test_may_declare_an_address_public() {
        let loopback: IpAddr = "127.0.0.1".parse().expect("ip");
        assert!(!Publicness::default().judge(loopback));
        assert!(Publicness::new(&[loopback]).judge(loopback));
        assert!(!Publicness::new(&[loopback]).judge("127.0.0.2".parse().expect("ip")));
    }

    #[tokio::test]
    async fn a_name_of_the_local_machine_resolves_to_nothing_connectable() {
        use reqwest::dns::Resolve;
        let resolver = PublicOnly {
            publicness: Publicness::default(),
        };
        // `localhost` comes from the hosts file: no network is asked.
        let name: reqwest::dns::Name = "localhost".parse().expect("name");
        let error = match resolver.resolve(name).await {
            Ok(_) => panic!("localhost judged public"),
            Err(error) => error,
        };
        let not_public = error.downcast_ref::<NotPublic>().expect("NotPublic");
        assert_eq!(not_public.name, "localhost");
        assert!(
            not_public.first.is_some_and(|ip| ip.is_loopback()),
            "{not_public}"
        );
    }
}
