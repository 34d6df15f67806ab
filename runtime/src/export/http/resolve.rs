//! Name resolution for the exporters' HTTP client without a thread per request.
//!
//! ureq resolves the host before every request, pooled connection or not, and with a timeout
//! set (the exporters always set one) its default resolver spawns a thread for each lookup: a
//! thread created and destroyed per batch, measured as the largest part of an export on
//! loopback (`runtime/benches/README.md`, issue 25). Here an IP address is used as written, and
//! a name is looked up (by ureq's resolver, in its thread, under the timeout) at most once per
//! [`FRESH`] for the host and port the exporter sends to.

use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use ureq::config::Config;
use ureq::http::Uri;
use ureq::unversioned::resolver::{DefaultResolver, ResolvedSocketAddrs, Resolver};
use ureq::unversioned::transport::NextTimeout;

/// How long a looked-up name's addresses are reused. Connections are pooled anyway, so this
/// bounds only how late a new connection follows a DNS change.
pub(crate) const FRESH: Duration = Duration::from_secs(30);

/// Resolves IP literals without a lookup and caches the last name's addresses for [`FRESH`].
#[derive(Debug, Default)]
pub(crate) struct CachingResolver {
    last: Mutex<Option<Lookup>>,
}

#[derive(Debug)]
struct Lookup {
    host_port: String,
    at: Instant,
    addrs: ResolvedSocketAddrs,
}

impl CachingResolver {
    /// The address an IP-literal URI names (`http://127.0.0.1:4318`, `http://[::1]:4318`).
    fn literal(&self, uri: &Uri) -> Option<ResolvedSocketAddrs> {
        let authority = uri.authority()?;
        let host = authority.host();
        let host = host
            .strip_prefix('[')
            .and_then(|h| h.strip_suffix(']'))
            .unwrap_or(host);
        let ip: IpAddr = host.parse().ok()?;
        let port = authority.port_u16().or_else(|| match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => Some(443),
            s if s.eq_ignore_ascii_case("http") => Some(80),
            _ => None,
        })?;
        let mut addrs = self.empty();
        addrs.push(SocketAddr::new(ip, port));
        Some(addrs)
    }
}

impl Resolver for CachingResolver {
    fn resolve(
        &self,
        uri: &Uri,
        config: &Config,
        timeout: NextTimeout,
    ) -> Result<ResolvedSocketAddrs, ureq::Error> {
        if let Some(addrs) = self.literal(uri) {
            return Ok(addrs);
        }
        let host_port = uri.authority().map(|a| a.as_str()).unwrap_or_default();
        let now = Instant::now();
        let mut last = self.last.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(l) = last.as_ref()
            && l.host_port == host_port
            && now.duration_since(l.at) < FRESH
        {
            return Ok(l.addrs.clone());
        }
        let addrs = DefaultResolver::default().resolve(uri, config, timeout)?;
        *last = Some(Lookup {
            host_port: host_port.to_owned(),
            at: now,
            addrs: addrs.clone(),
        });
        Ok(addrs)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn resolve(r: &CachingResolver, url: &str) -> Result<Vec<SocketAddr>, ureq::Error> {
        let uri: Uri = url.parse().unwrap();
        let config = Config::default();
        let timeout = NextTimeout {
            after: std::time::Duration::from_secs(5).into(),
            reason: ureq::Timeout::Resolve,
            per_read: None,
            per_write: None,
        };
        r.resolve(&uri, &config, timeout)
            .map(|a| a.iter().copied().collect())
    }

    #[test]
    fn ip_literals_are_used_as_written_with_the_scheme_s_port() {
        let r = CachingResolver::default();
        let v4: SocketAddr = "127.0.0.1:4318".parse().unwrap();
        assert_eq!(
            resolve(&r, "http://127.0.0.1:4318/v1/traces").unwrap(),
            [v4]
        );
        let v6: SocketAddr = "[::1]:443".parse().unwrap();
        assert_eq!(resolve(&r, "https://[::1]/v1/traces").unwrap(), [v6]);
        let http: SocketAddr = "10.1.2.3:80".parse().unwrap();
        assert_eq!(resolve(&r, "http://10.1.2.3/api/v2/spans").unwrap(), [http]);
        // Nothing was looked up, so nothing is cached.
        assert!(r.last.lock().unwrap().is_none());
    }

    #[test]
    fn a_name_is_looked_up_once_then_reused_until_stale() {
        let r = CachingResolver::default();
        let first = resolve(&r, "http://localhost:4318/v1/traces").unwrap();
        assert!(
            first
                .iter()
                .all(|a| a.ip().is_loopback() && a.port() == 4318)
        );
        let at = r.last.lock().unwrap().as_ref().unwrap().at;
        assert_eq!(
            resolve(&r, "http://localhost:4318/v1/traces").unwrap(),
            first
        );
        assert_eq!(
            r.last.lock().unwrap().as_ref().unwrap().at,
            at,
            "not looked up again"
        );
        // Another port is another lookup.
        let other = resolve(&r, "http://localhost:9411/api/v2/spans").unwrap();
        assert!(other.iter().all(|a| a.port() == 9411));
        // A stale entry is looked up again.
        r.last.lock().unwrap().as_mut().unwrap().at -= FRESH;
        resolve(&r, "http://localhost:9411/api/v2/spans").unwrap();
        assert!(r.last.lock().unwrap().as_ref().unwrap().at > at);
    }

    #[test]
    fn an_unknown_name_is_an_error_not_a_cached_answer() {
        let r = CachingResolver::default();
        assert!(resolve(&r, "http://no-such-host.invalid:4318/").is_err());
        assert!(r.last.lock().unwrap().is_none());
    }
}
