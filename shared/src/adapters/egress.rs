//! The outbound HTTP port's adapter, the same on both backends: it refuses
//! what the platform must never reach on a builder's behalf — loopback,
//! link-local (cloud metadata at 169.254.169.254 among them), private,
//! shared and unspecified addresses — whether the URL names one, a name
//! resolves to one, or a redirect leads to one. The allow-list setting
//! (`NOCODE_HTTP_ALLOW`, [`AllowList`]) opens chosen ones, for a platform
//! whose workflows call its own network.
//!
//! A name is resolved by the client's own resolver, which drops the whole
//! answer when any address in it is refused, so the address connected to
//! is one that was checked (no second lookup to rebind).

use async_trait::async_trait;
use bytes::Bytes;
use reqwest::dns::{Addrs, Name, Resolve, Resolving};
use std::net::{IpAddr, Ipv4Addr, SocketAddr};
use std::sync::Arc;

use crate::config::AllowList;
use crate::ports::http::{MAX_BODY, Outbound, OutboundError, OutboundRequest, OutboundResponse};

/// Most redirects one request follows.
const MAX_REDIRECTS: usize = 5;

/// Why an address is refused, if it is.
pub fn refused(ip: IpAddr) -> Option<&'static str> {
    match ip {
        IpAddr::V4(v4) => refused_v4(v4),
        IpAddr::V6(v6) => {
            if let Some(v4) = v6.to_ipv4_mapped() {
                return refused_v4(v4);
            }
            let first = v6.segments()[0];
            if v6.is_loopback() {
                Some("a loopback address")
            } else if v6.is_unspecified() {
                Some("the unspecified address")
            } else if first & 0xffc0 == 0xfe80 {
                Some("a link-local address")
            } else if first & 0xfe00 == 0xfc00 {
                // fc00::/7, fd00:ec2::254 (the EC2 metadata service) among them.
                Some("a private address")
            } else if v6.is_multicast() {
                Some("a multicast address")
            } else {
                None
            }
        }
    }
}

fn refused_v4(ip: Ipv4Addr) -> Option<&'static str> {
    let [a, b, ..] = ip.octets();
    if ip.is_loopback() {
        Some("a loopback address")
    } else if ip.is_link_local() {
        Some("a link-local address (cloud metadata lives there)")
    } else if ip.is_private() {
        Some("a private address")
    } else if ip.is_unspecified() || a == 0 {
        Some("the unspecified network")
    } else if a == 100 && (64..128).contains(&b) {
        Some("a shared (carrier-grade NAT) address")
    } else if ip.is_broadcast() || ip.is_multicast() {
        Some("a broadcast or multicast address")
    } else {
        None
    }
}

/// The outbound client; one per process.
#[derive(Clone)]
pub struct Egress {
    client: reqwest::Client,
    allow: Arc<AllowList>,
}

impl std::fmt::Debug for Egress {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Egress")
            .field("allow", &self.allow)
            .finish()
    }
}

struct GuardedResolver {
    allow: Arc<AllowList>,
}

impl Resolve for GuardedResolver {
    fn resolve(&self, name: Name) -> Resolving {
        let allow = Arc::clone(&self.allow);
        let host = name.as_str().to_string();
        Box::pin(async move {
            let found: Vec<SocketAddr> = tokio::net::lookup_host((host.as_str(), 0))
                .await
                .map_err(|e| format!("`{host}` does not resolve: {e}"))?
                .collect();
            for addr in &found {
                if let Some(why) = refused(addr.ip()).filter(|_| !allow.allows(addr.ip())) {
                    return Err(format!("`{host}` resolves to {}, {why}", addr.ip()).into());
                }
            }
            Ok(Box::new(found.into_iter()) as Addrs)
        })
    }
}

/// Checks a URL's scheme and, when its host is an address, the address.
fn check_url(url: &reqwest::Url, allow: &AllowList) -> Result<(), String> {
    if !matches!(url.scheme(), "http" | "https") {
        return Err(format!("`{}` is no http or https URL", url.scheme()));
    }
    let ip = match url.host() {
        Some(url::Host::Ipv4(v4)) => IpAddr::V4(v4),
        Some(url::Host::Ipv6(v6)) => IpAddr::V6(v6),
        Some(url::Host::Domain(_)) => return Ok(()),
        None => return Err("the URL has no host".into()),
    };
    match refused(ip).filter(|_| !allow.allows(ip)) {
        Some(why) => Err(format!("{ip} is {why}, which workflows may not call")),
        None => Ok(()),
    }
}

impl Egress {
    /// A client refusing private addresses but those `allow` opens.
    pub fn new(allow: AllowList) -> Self {
        let allow = Arc::new(allow);
        let policy_allow = Arc::clone(&allow);
        let redirects = reqwest::redirect::Policy::custom(move |attempt| {
            if attempt.previous().len() >= MAX_REDIRECTS {
                return attempt.error(format!("more than {MAX_REDIRECTS} redirects"));
            }
            match check_url(attempt.url(), &policy_allow) {
                Ok(()) => attempt.follow(),
                Err(why) => attempt.error(format!("a redirect leads to {why}")),
            }
        });
        let client = reqwest::Client::builder()
            .dns_resolver(Arc::new(GuardedResolver {
                allow: Arc::clone(&allow),
            }))
            .redirect(redirects)
            .user_agent(concat!("nocode-workflows/", env!("CARGO_PKG_VERSION")))
            .build()
            .unwrap_or_default();
        Self { client, allow }
    }
}

#[async_trait]
impl Outbound for Egress {
    async fn send(&self, request: OutboundRequest) -> Result<OutboundResponse, OutboundError> {
        let OutboundRequest {
            method,
            url,
            headers,
            body,
            timeout,
        } = request;
        let url = url.as_str();
        let method = method.as_str();
        let parsed = reqwest::Url::parse(url)
            .map_err(|e| OutboundError::Refused(format!("`{url}` is not a URL: {e}")))?;
        check_url(&parsed, &self.allow).map_err(OutboundError::Refused)?;
        let method = reqwest::Method::from_bytes(method.as_bytes())
            .map_err(|_| OutboundError::Refused(format!("`{method}` is no HTTP method")))?;
        let mut request = self.client.request(method, parsed).timeout(timeout);
        for (name, value) in &headers {
            request = request.header(name.as_str(), value.as_str());
        }
        if let Some(body) = body {
            request = request.body(body);
        }
        let response = request.send().await.map_err(describe)?;
        let status = response.status().as_u16();
        let mut headers: Vec<(String, String)> = Vec::new();
        for (name, value) in response.headers() {
            let value = String::from_utf8_lossy(value.as_bytes()).to_string();
            match headers.iter_mut().find(|(n, _)| n == name.as_str()) {
                Some((_, existing)) => {
                    existing.push_str(", ");
                    existing.push_str(&value);
                }
                None => headers.push((name.as_str().to_string(), value)),
            }
        }
        let mut body = Vec::new();
        let mut response = response;
        while let Some(chunk) = response.chunk().await.map_err(describe)? {
            if body.len() + chunk.len() > MAX_BODY {
                return Err(OutboundError::Failed(format!(
                    "the response body is larger than {MAX_BODY} bytes"
                )));
            }
            body.extend_from_slice(&chunk);
        }
        Ok(OutboundResponse {
            status,
            headers,
            body: Bytes::from(body),
        })
    }
}

/// A failed request, said plainly: the refusal of an address or redirect
/// is named as such.
fn describe(error: reqwest::Error) -> OutboundError {
    let mut text = error.to_string();
    let mut source = std::error::Error::source(&error);
    while let Some(inner) = source {
        text = format!("{text}: {inner}");
        source = inner.source();
    }
    if text.contains("resolves to") || text.contains("a redirect leads to") {
        // The guard's own words, without reqwest's framing.
        let start = text
            .find('`')
            .or_else(|| text.find("a redirect leads to"))
            .unwrap_or(0);
        return OutboundError::Refused(text[start..].to_string());
    }
    if error.is_timeout() {
        return OutboundError::Failed("the request timed out".into());
    }
    OutboundError::Failed(text)
}

#[cfg(test)]
mod tests {
    use super::*;

    use std::net::Ipv6Addr;
    use std::time::Duration;

    fn ip(text: &str) -> IpAddr {
        text.parse().unwrap_or(IpAddr::V6(Ipv6Addr::UNSPECIFIED))
    }

    #[test]
    fn internal_addresses_are_refused() {
        for bad in [
            "127.0.0.1",
            "169.254.169.254",
            "10.1.2.3",
            "172.16.0.1",
            "192.168.1.1",
            "0.0.0.0",
            "100.64.0.1",
            "::1",
            "fe80::1",
            "fd00:ec2::254",
            "::ffff:127.0.0.1",
        ] {
            assert!(refused(ip(bad)).is_some(), "{bad}");
        }
        for good in ["93.184.216.34", "2606:4700::1111", "8.8.8.8"] {
            assert_eq!(refused(ip(good)), None, "{good}");
        }
    }

    #[test]
    fn the_allow_list_opens_ranges() {
        use crate::config::AllowList;
        let allow = AllowList::parse("127.0.0.1, 10.0.0.0/8").unwrap_or_default();
        assert!(allow.allows(ip("127.0.0.1")));
        assert!(allow.allows(ip("10.200.0.1")));
        assert!(!allow.allows(ip("127.0.0.2")));
        assert!(!allow.allows(ip("169.254.169.254")));
        assert!(AllowList::parse("not-an-address").is_err());
        assert!(AllowList::parse("10.0.0.0/33").is_err());
    }

    #[test]
    fn urls_naming_internal_addresses_are_refused() {
        let none = AllowList::default();
        let url = |u: &str| reqwest::Url::parse(u).unwrap_or_else(|e| panic!("{e}"));
        assert!(check_url(&url("http://169.254.169.254/latest/meta-data"), &none).is_err());
        assert!(check_url(&url("http://[::1]:8080/"), &none).is_err());
        assert!(check_url(&url("ftp://example.com/"), &none).is_err());
        assert!(check_url(&url("https://example.com/"), &none).is_ok());
    }

    #[tokio::test]
    async fn a_name_resolving_to_loopback_is_refused() {
        let egress = Egress::new(AllowList::default());
        let refused = egress
            .send(OutboundRequest {
                method: "GET".into(),
                url: "http://localhost:9/".into(),
                headers: Vec::new(),
                body: None,
                timeout: Duration::from_secs(2),
            })
            .await;
        match refused {
            Err(OutboundError::Refused(why)) => assert!(why.contains("loopback"), "{why}"),
            other => panic!("expected a refusal, got {other:?}"),
        }
    }
}
