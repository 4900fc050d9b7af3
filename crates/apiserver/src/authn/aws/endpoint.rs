//! STS endpoints a cluster trusts, and matching a presigned URL against them.

use std::net::IpAddr;

use super::AwsAuthError;

/// One trusted STS endpoint: where presigned GetCallerIdentity URLs may point.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct StsEndpoint {
    pub scheme: Scheme,
    /// Lower-case host name or address (IPv6 without brackets).
    pub host: String,
    pub port: u16,
    /// The path a presigned request must have: `/` unless the base URL names one.
    pub path: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scheme {
    Http,
    Https,
}

impl StsEndpoint {
    /// Parse a base URL from the config file. Plain http is accepted only for loopback
    /// endpoints: a token sent in the clear elsewhere could be replayed by anyone on the path.
    pub fn parse(url: &str) -> Result<StsEndpoint, AwsAuthError> {
        let invalid = |why: &str| AwsAuthError::Config(format!("stsEndpoints: {url:?} {why}"));
        let uri: http::Uri = url.parse().map_err(|_| invalid("is not a URL"))?;
        let endpoint = Self::from_uri(&uri).ok_or_else(|| invalid("must be an http(s) URL"))?;
        if uri.query().is_some() {
            return Err(invalid("must not have a query"));
        }
        if endpoint.scheme == Scheme::Http && !is_loopback(&endpoint.host) {
            return Err(invalid(
                "uses http for a host that is not loopback (use https)",
            ));
        }
        Ok(endpoint)
    }

    fn from_uri(uri: &http::Uri) -> Option<StsEndpoint> {
        let scheme = match uri.scheme_str()? {
            s if s.eq_ignore_ascii_case("https") => Scheme::Https,
            s if s.eq_ignore_ascii_case("http") => Scheme::Http,
            _ => return None,
        };
        let authority = uri.authority()?;
        if authority.as_str().contains('@') {
            return None;
        }
        let host = authority
            .host()
            .trim_start_matches('[')
            .trim_end_matches(']')
            .to_ascii_lowercase();
        if host.is_empty() {
            return None;
        }
        let port = authority.port_u16().unwrap_or(match scheme {
            Scheme::Http => 80,
            Scheme::Https => 443,
        });
        let path = match uri.path() {
            "" => "/".to_string(),
            p if p.ends_with('/') => p.to_string(),
            p => format!("{p}/"),
        };
        Some(StsEndpoint {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Whether a presigned URL is aimed at this endpoint (scheme, host, port and path).
    pub fn matches(&self, uri: &http::Uri) -> bool {
        let Some(candidate) = Self::from_uri(uri) else {
            return false;
        };
        // A presigned URL's path is exactly the endpoint's (from_uri adds a trailing slash,
        // so compare the raw path too: "/x" and "/x/" are different requests).
        let raw_path = if uri.path().is_empty() {
            "/"
        } else {
            uri.path()
        };
        candidate == *self && raw_path == self.path
    }
}

fn is_loopback(host: &str) -> bool {
    host == "localhost"
        || host.ends_with(".localhost")
        || host.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> http::Uri {
        s.parse().unwrap()
    }

    #[test]
    fn http_is_only_for_loopback() {
        assert!(StsEndpoint::parse("http://127.0.0.1:8443").is_ok());
        assert!(StsEndpoint::parse("http://[::1]:8443").is_ok());
        assert!(StsEndpoint::parse("http://localhost:8443").is_ok());
        assert!(StsEndpoint::parse("http://sts.example.com:8443").is_err());
        assert!(StsEndpoint::parse("https://sts.example.com").is_ok());
        assert!(StsEndpoint::parse("ftp://127.0.0.1").is_err());
        assert!(StsEndpoint::parse("not a url").is_err());
        assert!(StsEndpoint::parse("http://127.0.0.1:1/?x=1").is_err());
    }

    #[test]
    fn presigned_urls_must_match_scheme_host_port_and_path() {
        let endpoint = StsEndpoint::parse("http://127.0.0.1:8443").unwrap();
        assert!(endpoint.matches(&uri("http://127.0.0.1:8443/?Action=GetCallerIdentity")));
        assert!(!endpoint.matches(&uri("https://127.0.0.1:8443/?Action=GetCallerIdentity")));
        assert!(!endpoint.matches(&uri("http://127.0.0.2:8443/?Action=GetCallerIdentity")));
        assert!(!endpoint.matches(&uri("http://127.0.0.1:8444/?Action=GetCallerIdentity")));
        assert!(!endpoint.matches(&uri("http://127.0.0.1:8443/other/?Action=x")));
        assert!(!endpoint.matches(&uri("http://user@127.0.0.1:8443/?Action=x")));
        let https = StsEndpoint::parse("https://STS.example.com").unwrap();
        assert!(https.matches(&uri("https://sts.example.com:443/")));
        assert!(https.matches(&uri("https://sts.example.com/")));
    }
}
