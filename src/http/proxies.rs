//! The client's address behind a load balancer: the peer's, unless the peer is a trusted proxy,
//! in which case `X-Forwarded-For` says who it forwarded for.
//!
//! `X-Forwarded-For` is a list each proxy appends its own peer to, so only its right end can be
//! believed: the client is the right-most address that is not a trusted proxy. A client that
//! writes its own header puts its lies on the left, where they are never read; a request from an
//! untrusted peer is taken at its word of nothing (its header is ignored).

use std::net::IpAddr;

use ipnet::IpNet;
use poem::Request;

/// The proxies whose `X-Forwarded-For` is believed (`http.trusted_proxies`).
#[derive(Clone, Debug, Default)]
pub struct TrustedProxies(Vec<IpNet>);

impl TrustedProxies {
    /// The proxies from their addresses or networks (`10.0.0.7`, `10.0.0.0/8`, `fd00::/8`).
    ///
    /// # Errors
    /// When an entry is neither.
    pub fn parse(entries: &[String]) -> anyhow::Result<Self> {
        entries
            .iter()
            .map(|entry| {
                let entry = entry.trim();
                entry
                    .parse::<IpNet>()
                    .or_else(|_| entry.parse::<IpAddr>().map(IpNet::from))
                    .map_err(|_| anyhow::anyhow!("http.trusted_proxies: `{entry}` is not an IP address or network"))
            })
            .collect::<anyhow::Result<_>>()
            .map(Self)
    }

    fn trusts(&self, ip: IpAddr) -> bool {
        self.0.iter().any(|net| net.contains(&ip))
    }

    /// The client of `peer`, which sent the `X-Forwarded-For` values `forwarded` (in order).
    pub fn client(&self, peer: IpAddr, forwarded: &[&str]) -> IpAddr {
        let mut client = peer;
        let hops = forwarded.iter().rev().flat_map(|value| value.rsplit(','));
        for hop in hops {
            if !self.trusts(client) {
                break;
            }
            match hop.trim().parse::<IpAddr>() {
                Ok(ip) => client = ip,
                // Garbage from a trusted proxy's own peer: that peer is the client.
                Err(_) => break,
            }
        }
        client
    }

    /// The client of `req`; `None` when the request has no network peer.
    pub fn client_of(&self, req: &Request) -> Option<IpAddr> {
        let peer = req.remote_addr().as_socket_addr().map(std::net::SocketAddr::ip)?;
        let forwarded: Vec<&str> =
            req.headers().get_all("x-forwarded-for").iter().filter_map(|v| v.to_str().ok()).collect();
        Some(self.client(peer, &forwarded))
    }
}

/// The client of `req`, by the proxies the routes were given (none: the peer).
pub fn client_ip(req: &Request) -> Option<IpAddr> {
    match req.data::<TrustedProxies>() {
        Some(proxies) => proxies.client_of(req),
        None => TrustedProxies::default().client_of(req),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn only_a_trusted_peer_is_believed_and_only_from_the_right() {
        let proxies = TrustedProxies::parse(&["10.0.0.0/8".to_owned(), "192.168.1.1".to_owned()]).unwrap_or_default();
        // No trusted proxy: the header is ignored.
        assert_eq!(proxies.client(ip("203.0.113.9"), &["198.51.100.1"]), ip("203.0.113.9"));
        // One load balancer: the address it saw.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["198.51.100.1"]), ip("198.51.100.1"));
        // A client's own header on the left is never read past the first untrusted hop.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["1.2.3.4, 198.51.100.1"]), ip("198.51.100.1"));
        // Two trusted hops, in one header or two.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["198.51.100.1, 192.168.1.1"]), ip("198.51.100.1"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &["198.51.100.1", "192.168.1.1"]), ip("198.51.100.1"));
        // Garbage after a trusted hop: the trusted hop's peer is the last address believed.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["nonsense"]), ip("10.1.2.3"));
        // Only trusted hops: the left-most of them.
        assert_eq!(proxies.client(ip("10.1.2.3"), &["10.9.9.9"]), ip("10.9.9.9"));
        assert_eq!(proxies.client(ip("10.1.2.3"), &[]), ip("10.1.2.3"));
    }

    #[test]
    fn entries_are_addresses_or_networks() {
        assert!(TrustedProxies::parse(&["10.0.0.0/8".to_owned(), "::1".to_owned(), " 127.0.0.1 ".to_owned()]).is_ok());
        let error = TrustedProxies::parse(&["lb.internal".to_owned()]).err().map(|e| e.to_string());
        assert!(error.is_some_and(|e| e.contains("lb.internal")));
    }
}
