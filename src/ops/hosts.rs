//! Which `Host` the listener answers to: the defence against DNS rebinding.
//!
//! A page the analyst opens can point its own name at 127.0.0.1 once loaded; the browser then
//! lets that page read whatever the name answers, and the hit log would answer. The one thing
//! such a request cannot hide is the name it was sent to, in `Host`. So the listener answers
//! only to names it was told are its own: its address, `localhost`, the host of
//! `web.base_url` and `web.allowed_hosts`. An address written as such (`10.0.0.5:9477`)
//! cannot be rebound, which is why a listener on an unspecified address (`0.0.0.0`) takes
//! any address on its port.
//!
//! Pure: it reads strings and answers yes or no.

use std::net::{IpAddr, SocketAddr};

use crate::config::HostPort;

/// The hosts one listener answers to.
#[derive(Clone, Debug)]
pub struct AllowedHosts {
    /// The bound address, with the port the system chose.
    listen: SocketAddr,
    /// `web.base_url`'s host (any port: a proxy in front may or may not write one) and
    /// `web.allowed_hosts`.
    named: Vec<HostPort>,
}

impl AllowedHosts {
    pub fn new(listen: SocketAddr, base_url: Option<&str>, allowed: &[HostPort]) -> Self {
        let mut named: Vec<HostPort> = base_url
            .and_then(|b| url::Url::parse(b).ok())
            .and_then(|u| u.host_str().and_then(HostPort::parse))
            .map(|h| HostPort {
                host: h.host,
                port: None,
            })
            .into_iter()
            .collect();
        named.extend(allowed.iter().cloned());
        AllowedHosts { listen, named }
    }

    /// Whether a request whose `Host` (or absolute URI's authority) is `host` may be
    /// answered.
    pub fn admits(&self, host: &str) -> bool {
        let Some(asked) = HostPort::parse(host) else {
            return false;
        };
        // An address is taken with or without the port: no page can rebind an address, and
        // clients other than browsers (probes, proxies) may leave the port out.
        if let Ok(ip) = asked.host.parse::<IpAddr>()
            && asked.port.is_none_or(|port| port == self.listen.port())
            && (ip == self.listen.ip() || self.listen.ip().is_unspecified())
        {
            return true;
        }
        // No port is http's 80, which is this listener's only if it listens there; a
        // browser omits the port exactly then.
        if asked.host == "localhost" && asked.port.unwrap_or(80) == self.listen.port() {
            return true;
        }
        self.named.iter().any(|allowed| {
            allowed.host == asked.host
                && allowed
                    .port
                    .is_none_or(|port| port == asked.port.unwrap_or(80))
        })
    }

    /// What the listener answers to, for the refusal and the log.
    pub fn describe(&self) -> String {
        let mut names = vec![
            self.listen.to_string(),
            format!("localhost:{}", self.listen.port()),
        ];
        names.extend(self.named.iter().map(ToString::to_string));
        names.join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hosts(listen: &str, base_url: Option<&str>, allowed: &[&str]) -> AllowedHosts {
        let allowed: Vec<HostPort> = allowed
            .iter()
            .map(|a| HostPort::parse(a).expect("a host"))
            .collect();
        AllowedHosts::new(listen.parse().expect("an address"), base_url, &allowed)
    }

    #[test]
    fn the_listen_address_and_localhost_on_its_port_are_admitted() {
        let on_loopback = hosts("127.0.0.1:9477", None, &[]);
        for host in [
            "127.0.0.1:9477",
            "127.0.0.1",
            "localhost:9477",
            "LOCALHOST:9477",
            "localhost.:9477",
        ] {
            assert!(on_loopback.admits(host), "{host}");
        }
        for host in [
            "evil.example:9477",
            "127.0.0.1.nip.io:9477",
            "localhost:80",
            "localhost",
            "127.0.0.1:9478",
            "127.0.0.2:9477",
            "[::1]:9477",
            "user@127.0.0.1:9477",
            "",
            "127.0.0.1:9477/x",
        ] {
            assert!(!on_loopback.admits(host), "{host:?}");
        }
        let on_port_80 = hosts("127.0.0.1:80", None, &[]);
        assert!(on_port_80.admits("127.0.0.1") && on_port_80.admits("localhost"));
        let v6 = hosts("[::1]:9477", None, &[]);
        assert!(v6.admits("[::1]:9477") && !v6.admits("127.0.0.1:9477"));
    }

    #[test]
    fn an_unspecified_address_admits_any_address_on_its_port_but_no_other_name() {
        let anywhere = hosts("0.0.0.0:9477", None, &[]);
        assert!(anywhere.admits("10.0.0.5:9477") && anywhere.admits("192.0.2.7:9477"));
        assert!(anywhere.admits("10.0.0.5"));
        assert!(!anywhere.admits("10.0.0.5:8080"));
        assert!(!anywhere.admits("intranet.example:9477"));
    }

    #[test]
    fn the_base_url_host_and_allowed_hosts_are_admitted() {
        let proxied = hosts(
            "127.0.0.1:9477",
            Some("https://Watch.Example.org/log"),
            &["wf.internal", "jump.example:8000", "[fd00::5]"],
        );
        for host in [
            "watch.example.org",
            "watch.example.org:443",
            "wf.internal:9477",
            "wf.internal",
            "jump.example:8000",
            "[fd00::5]:1234",
        ] {
            assert!(proxied.admits(host), "{host}");
        }
        for host in ["jump.example:8001", "jump.example", "other.example.org"] {
            assert!(!proxied.admits(host), "{host}");
        }
    }
}
