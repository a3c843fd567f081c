//! Where the server may connect on a user's word (R35): a mounted API, a front-end database, a
//! webhook. Every such address goes through one allow-list from the configuration — host names
//! (`api.example.gov.cn`, `*.gov.cn`) and address ranges (`10.20.0.0/16`, `127.0.0.1`) — and an
//! address not on it is refused. Loopback, private, link-local and other special addresses are
//! refused unless a listed range holds them, even when a listed name resolves to them (DNS
//! rebinding); the addresses checked are the ones connected to, and redirects are not followed.

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;
use yishu_types::{Error, ErrorCode};

/// One entry of the allow-list.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Rule {
    /// A host name; `*.gov.cn` holds every name under gov.cn.
    Host(String),
    /// An address range (an address alone is its /32 or /128).
    Net(IpAddr, u8),
}

/// The allow-list. The default (empty) list allows nothing.
#[derive(Debug, Clone, Default)]
pub struct Outbound {
    rules: Vec<Rule>,
}

fn refused(msg: String) -> Error {
    Error::new(ErrorCode::Forbidden, msg)
}

/// Loopback, private (RFC 1918, ULA), link-local, carrier-grade NAT, unspecified, multicast,
/// broadcast and documentation addresses: never reached unless a listed range holds them.
pub fn is_special(ip: IpAddr) -> bool {
    match ip {
        IpAddr::V4(a) => {
            let o = a.octets();
            a.is_loopback()
                || a.is_private()
                || a.is_link_local()
                || a.is_unspecified()
                || a.is_multicast()
                || a.is_broadcast()
                || a.is_documentation()
                || o[0] == 0
                || (o[0] == 100 && (64..128).contains(&o[1]))
        }
        IpAddr::V6(a) => {
            let s = a.segments();
            a.is_loopback()
                || a.is_unspecified()
                || a.is_multicast()
                || (s[0] & 0xfe00) == 0xfc00
                || (s[0] & 0xffc0) == 0xfe80
                || a.to_ipv4_mapped()
                    .is_some_and(|v4| is_special(IpAddr::V4(v4)))
        }
    }
}

fn in_net(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(a), IpAddr::V4(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u32::MAX << (32 - bits.min(32))
            };
            (u32::from(a) & mask) == (u32::from(n) & mask)
        }
        (IpAddr::V6(a), IpAddr::V6(n)) => {
            let mask = if bits == 0 {
                0
            } else {
                u128::MAX << (128 - bits.min(128))
            };
            (u128::from(a) & mask) == (u128::from(n) & mask)
        }
        _ => false,
    }
}

impl Outbound {
    /// Reads the configured entries; a malformed one is named.
    pub fn new<S: AsRef<str>>(entries: &[S]) -> Result<Outbound, Error> {
        let mut rules = Vec::new();
        for e in entries {
            let e = e.as_ref().trim();
            if e.is_empty() {
                continue;
            }
            let bad = || {
                Error::new(
                    ErrorCode::ConfigInvalid,
                    format!(
                        "outbound.allow: '{e}' is neither a host name, *.domain, an address nor a range like 10.0.0.0/8"
                    ),
                )
            };
            let (addr, bits) = match e.split_once('/') {
                Some((a, b)) => (a, Some(b.parse::<u8>().map_err(|_| bad())?)),
                None => (e, None),
            };
            if let Ok(ip) = addr.parse::<IpAddr>() {
                let max = if ip.is_ipv4() { 32 } else { 128 };
                let bits = bits.unwrap_or(max);
                if bits > max {
                    return Err(bad());
                }
                rules.push(Rule::Net(ip, bits));
            } else if bits.is_none()
                && e.trim_start_matches("*.")
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '.')
            {
                rules.push(Rule::Host(e.to_ascii_lowercase()));
            } else {
                return Err(bad());
            }
        }
        Ok(Outbound { rules })
    }

    fn host_listed(&self, host: &str) -> bool {
        let host = host.to_ascii_lowercase();
        self.rules.iter().any(|r| match r {
            Rule::Host(h) => match h.strip_prefix("*.") {
                Some(domain) => host.ends_with(&format!(".{domain}")),
                None => *h == host,
            },
            Rule::Net(..) => false,
        })
    }

    fn net_listed(&self, ip: IpAddr) -> bool {
        self.rules.iter().any(|r| match r {
            Rule::Net(n, bits) => in_net(ip, *n, *bits),
            Rule::Host(_) => false,
        })
    }

    /// The addresses `host:port` may be reached at, or why not: the host listed by name or
    /// every address it resolves to in a listed range, and no special address outside one.
    pub async fn check(&self, host: &str, port: u16) -> Result<Vec<SocketAddr>, Error> {
        let host = host.trim_start_matches('[').trim_end_matches(']');
        let addrs: Vec<SocketAddr> = match host.parse::<IpAddr>() {
            Ok(ip) => vec![SocketAddr::new(ip, port)],
            Err(_) => tokio::net::lookup_host((host, port))
                .await
                .map_err(|e| {
                    Error::new(
                        ErrorCode::InvalidInput,
                        format!("cannot resolve {host}: {e}"),
                    )
                })?
                .collect(),
        };
        if addrs.is_empty() {
            return Err(Error::new(
                ErrorCode::InvalidInput,
                format!("{host} resolves to no address"),
            ));
        }
        let by_name = self.host_listed(host);
        for a in &addrs {
            let ip = a.ip();
            if is_special(ip) && !self.net_listed(ip) {
                return Err(refused(format!(
                    "outbound connections to {host} ({ip}) are refused: loopback, private and other internal addresses are reached only when outbound.allow in the configuration lists their range"
                )));
            }
            if !by_name && !self.net_listed(ip) {
                return Err(refused(format!(
                    "outbound connections to {host} are refused: it is not on the outbound.allow list of the configuration"
                )));
            }
        }
        Ok(addrs)
    }

    /// Checks an http(s) URL and returns a client pinned to the addresses checked, following no
    /// redirect, and the parsed URL.
    pub async fn http(
        &self,
        url: &str,
        timeout: Duration,
    ) -> Result<(reqwest::Client, reqwest::Url), Error> {
        let u = reqwest::Url::parse(url)
            .map_err(|e| Error::field("url", format!("'{url}' is not a URL: {e}")))?;
        if !matches!(u.scheme(), "http" | "https") {
            return Err(Error::field(
                "url",
                format!("'{url}' is not an http:// or https:// address"),
            ));
        }
        let host = u
            .host_str()
            .ok_or_else(|| Error::field("url", format!("'{url}' names no host")))?
            .to_string();
        let port = u.port_or_known_default().unwrap_or(80);
        let addrs = self.check(&host, port).await?;
        let client = reqwest::Client::builder()
            .timeout(timeout)
            .redirect(reqwest::redirect::Policy::none())
            .resolve_to_addrs(&host, &addrs)
            .build()
            .map_err(|e| Error::new(ErrorCode::Internal, format!("http client: {e}")))?;
        Ok((client, u))
    }

    /// Checks a database URL's host (SQLite files are local and not an outbound connection).
    pub async fn database(&self, url: &str) -> Result<(), Error> {
        if url.starts_with("sqlite:") {
            return Ok(());
        }
        let u = reqwest::Url::parse(url)
            .map_err(|e| Error::field("url", format!("the database address is not a URL: {e}")))?;
        let host = u.host_str().unwrap_or("localhost").to_string();
        let port = u.port().unwrap_or(match u.scheme() {
            "mysql" | "mariadb" => 3306,
            _ => 5432,
        });
        self.check(&host, port).await.map(|_| ())
    }
}

/// A redirect answer is refused with where it pointed, so the user lists the final address.
pub fn no_redirect(r: &reqwest::Response) -> Result<(), Error> {
    if r.status().is_redirection() {
        let to = r
            .headers()
            .get(reqwest::header::LOCATION)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("?");
        return Err(Error::new(
            ErrorCode::InvalidInput,
            format!(
                "{} answered a redirect to {to}; redirects are not followed: give the final address",
                r.url()
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn only_listed_places_and_no_internal_ones_by_accident() {
        let none = Outbound::default();
        assert!(none.check("127.0.0.1", 80).await.is_err());
        assert!(
            none.check("8.8.8.8", 80).await.is_err(),
            "empty list: nothing"
        );
        let o = Outbound::new(&["8.8.8.0/24", "*.gov.cn", "127.0.0.1"]).unwrap();
        assert!(o.check("8.8.8.8", 443).await.is_ok());
        assert!(o.check("127.0.0.1", 80).await.is_ok());
        assert!(o.check("127.0.0.2", 80).await.is_err());
        for internal in [
            "10.0.0.1",
            "192.168.1.1",
            "169.254.169.254",
            "::1",
            "fd00::1",
            "100.64.0.1",
            "0.0.0.0",
        ] {
            let e = o.check(internal, 80).await.unwrap_err();
            assert_eq!(e.code, ErrorCode::Forbidden, "{internal}");
        }
        // A listed name that resolves to an internal address is still refused.
        let local = Outbound::new(&["localhost"]).unwrap();
        assert!(
            local
                .check("localhost", 80)
                .await
                .unwrap_err()
                .message
                .contains("internal")
        );
        assert!(Outbound::new(&["10.0.0.0/99"]).is_err());
        assert!(Outbound::new(&["http://x"]).is_err());
        assert!(
            o.http("ftp://x.gov.cn/", Duration::from_secs(1))
                .await
                .is_err()
        );
    }
}
