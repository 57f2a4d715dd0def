//! The client's address, for the login throttle and the per-address connection cap: the
//! socket peer's, or the `X-Forwarded-For` entry added by the nearest trusted proxy when the
//! peer is one of `ZGLD_TRUSTED_PROXIES` (never the header of an untrusted peer, which
//! anyone can write).

use std::net::{IpAddr, SocketAddr};

use axum::{
    extract::{ConnectInfo, FromRequestParts},
    http::{request::Parts, HeaderMap},
};

use crate::{error::ApiError, state::AppState};

/// A proxy address or network allowed to name the client in `X-Forwarded-For`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TrustedNet {
    addr: IpAddr,
    prefix: u8,
}

impl TrustedNet {
    /// `10.0.0.5`, `10.0.0.0/8`, `::1`, `fd00::/8`.
    pub fn parse(s: &str) -> Option<Self> {
        let s = s.trim();
        let (a, p) = match s.split_once('/') {
            Some((a, p)) => (a, Some(p.parse::<u8>().ok()?)),
            None => (s, None),
        };
        let addr: IpAddr = a.parse().ok()?;
        let max = if addr.is_ipv4() { 32 } else { 128 };
        let prefix = p.unwrap_or(max);
        (prefix <= max).then_some(TrustedNet { addr, prefix })
    }

    pub fn contains(&self, ip: IpAddr) -> bool {
        let ip = canonical(ip);
        match (self.addr, ip) {
            (IpAddr::V4(n), IpAddr::V4(a)) => {
                let mask = u32::MAX
                    .checked_shl(32 - u32::from(self.prefix))
                    .unwrap_or(0);
                u32::from(n) & mask == u32::from(a) & mask
            }
            (IpAddr::V6(n), IpAddr::V6(a)) => {
                let mask = u128::MAX
                    .checked_shl(128 - u32::from(self.prefix))
                    .unwrap_or(0);
                u128::from(n) & mask == u128::from(a) & mask
            }
            _ => false,
        }
    }
}

/// Parses `ZGLD_TRUSTED_PROXIES` (comma separated); `Err` names the bad entry.
pub fn parse_list(s: &str) -> Result<Vec<TrustedNet>, String> {
    s.split(',')
        .map(str::trim)
        .filter(|e| !e.is_empty())
        .map(|e| TrustedNet::parse(e).ok_or_else(|| e.to_owned()))
        .collect()
}

/// IPv4-mapped IPv6 (`::ffff:1.2.3.4`) is the IPv4 address.
fn canonical(ip: IpAddr) -> IpAddr {
    match ip {
        IpAddr::V6(v6) => v6
            .to_ipv4_mapped()
            .map(IpAddr::V4)
            .unwrap_or(IpAddr::V6(v6)),
        v4 => v4,
    }
}

/// The client's address given the socket peer and the request headers: walk
/// `X-Forwarded-For` from the right while the hop that added the entry is trusted.
pub fn resolve(peer: IpAddr, headers: &HeaderMap, trusted: &[TrustedNet]) -> IpAddr {
    let mut client = canonical(peer);
    if !trusted.iter().any(|t| t.contains(client)) {
        return client;
    }
    let hops: Vec<&str> = headers
        .get_all("x-forwarded-for")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .collect();
    for hop in hops.iter().rev() {
        let Ok(ip) = hop.parse::<IpAddr>() else { break };
        client = canonical(ip);
        if !trusted.iter().any(|t| t.contains(client)) {
            break;
        }
    }
    client
}

/// The request's client address (`-` when the server was not given the socket peer, as in
/// router-level tests).
#[derive(Clone, Debug)]
pub struct ClientAddr(pub String);

impl FromRequestParts<AppState> for ClientAddr {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, ApiError> {
        let peer = parts
            .extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Ok(ClientAddr(match peer {
            Some(ip) => resolve(ip, &parts.headers, &state.settings.trusted_proxies).to_string(),
            None => "-".into(),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn ip(s: &str) -> IpAddr {
        s.parse().unwrap_or(IpAddr::from([0, 0, 0, 0]))
    }

    #[test]
    fn forwarded_for_counts_only_from_trusted_proxies() {
        let trusted = parse_list("10.0.0.0/8, 127.0.0.1").unwrap_or_default();
        assert_eq!(trusted.len(), 2);
        let mut h = HeaderMap::new();
        h.insert(
            "x-forwarded-for",
            HeaderValue::from_static("6.6.6.6, 1.2.3.4, 10.1.1.1"),
        );
        // From an untrusted peer the header is ignored.
        assert_eq!(resolve(ip("8.8.8.8"), &h, &trusted), ip("8.8.8.8"));
        // From a trusted proxy: the right-most untrusted hop (the spoofable left part is not used).
        assert_eq!(resolve(ip("127.0.0.1"), &h, &trusted), ip("1.2.3.4"));
        assert_eq!(resolve(ip("::ffff:10.0.0.9"), &h, &trusted), ip("1.2.3.4"));
        assert_eq!(
            resolve(ip("127.0.0.1"), &HeaderMap::new(), &trusted),
            ip("127.0.0.1")
        );
        assert!(parse_list("10.0.0.0/33").is_err());
        assert!(parse_list("nonsense").is_err());
        assert!(TrustedNet::parse("::/0").is_some_and(|n| n.contains(ip("2001:db8::1"))));
    }
}
