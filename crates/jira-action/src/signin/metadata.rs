//! Client ID Metadata Documents (draft-ietf-oauth-client-id-metadata-document,
//! which the MCP authorization specification prefers to registration): a
//! client id that is an HTTPS URL names a JSON document of the client's
//! metadata, fetched when the client first shows up and kept in a bounded
//! cache as long as its `Cache-Control` says (within limits).
//!
//! The URL is a stranger's, so the fetch is fenced (SSRF): HTTPS only,
//! public addresses only (checked on the addresses connected to, see
//! [`super::address`]), the configured hosts only if any are, no redirects,
//! no proxy, at most [`MAX_BYTES`] read, a time limit on the whole fetch,
//! JSON only. A document that fails any check is never cached.

use std::sync::Arc;
use std::time::{Duration, Instant};

use moka::Expiry;
use moka::future::Cache;
use reqwest::header::{self, HeaderMap};
use serde_json::Value;
use url::{Host, Url};

use super::Client;
use super::address::{self, NotPublic, PublicOnly};
use crate::config::McpOAuthConfig;

/// The most of a document read: the draft suggests 5 kilobytes.
pub const MAX_BYTES: usize = 5 * 1024;

/// How long a document is kept when its answer says nothing, and at most.
const DEFAULT_TTL: Duration = Duration::from_secs(5 * 60);
const MAX_TTL: Duration = Duration::from_secs(24 * 60 * 60);

/// Documents kept at once.
const CACHE_CAPACITY: u64 = 1_000;

/// Why a client id URL gave no usable client. `Display` is the sentence
/// the person sees on the page.
#[derive(Clone, Debug, thiserror::Error)]
pub enum Refusal {
    #[error("its address must be an https URL")]
    NotHttps,
    #[error(
        "its address is not a valid client id URL (it needs a path, and no fragment, user name, password or . or .. segments)"
    )]
    BadUrl,
    #[error("{0} is not one of the hosts this server accepts applications from")]
    HostNotAllowed(String),
    #[error(
        "its address leads to {0}, a private or local network address this server does not fetch from"
    )]
    NotPublic(String),
    #[error(
        "its address answered with a redirect; a client's metadata must be at its address itself"
    )]
    Redirected,
    #[error("its address answered with HTTP status {0}")]
    Status(u16),
    #[error("its metadata is larger than {MAX_BYTES} bytes")]
    TooBig,
    #[error("its address did not answer in time")]
    Timeout,
    #[error("its address could not be reached")]
    Unreachable,
    #[error("its address did not answer with a JSON document")]
    NotJson,
    #[error("its metadata names another client id ({0})")]
    ClientIdMismatch(String),
    #[error("its metadata is not valid: {0}")]
    Invalid(&'static str),
}

impl Refusal {
    /// The `reason` label of `jira_action_signin_refusals_total`.
    pub fn reason(&self) -> &'static str {
        match self {
            Refusal::NotHttps => "client_metadata_not_https",
            Refusal::BadUrl => "client_metadata_bad_url",
            Refusal::HostNotAllowed(_) => "client_metadata_host_not_allowed",
            Refusal::NotPublic(_) => "client_metadata_not_public",
            Refusal::Redirected => "client_metadata_redirected",
            Refusal::Status(_) => "client_metadata_status",
            Refusal::TooBig => "client_metadata_too_big",
            Refusal::Timeout => "client_metadata_timeout",
            Refusal::Unreachable => "client_metadata_unreachable",
            Refusal::NotJson => "client_metadata_not_json",
            Refusal::ClientIdMismatch(_) => "client_metadata_client_id_mismatch",
            Refusal::Invalid(_) => "client_metadata_invalid",
        }
    }
}

/// Whether a client id is meant as a metadata document's URL (and so is
/// fetched, or refused with a reason, rather than looked up).
pub fn is_url(client_id: &str) -> bool {
    client_id.starts_with("https://") || client_id.starts_with("http://")
}

/// A document that passed every check, and how long to keep it.
#[derive(Clone)]
struct Fetched {
    client: Arc<Client>,
    ttl: Duration,
}

struct KeepFor;

impl Expiry<String, Fetched> for KeepFor {
    fn expire_after_create(&self, _: &String, value: &Fetched, _: Instant) -> Option<Duration> {
        Some(value.ttl)
    }
}

/// The fetcher and its cache.
pub struct Documents {
    http: reqwest::Client,
    cache: Cache<String, Fetched>,
    hosts: Vec<String>,
    allow_private: bool,
}

impl std::fmt::Debug for Documents {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Documents")
            .field("hosts", &self.hosts)
            .field("allow_private", &self.allow_private)
            .finish_non_exhaustive()
    }
}

impl Documents {
    pub fn new(config: &McpOAuthConfig) -> reqwest::Result<Documents> {
        let timeout = config.client_metadata_timeout;
        let http = reqwest::Client::builder()
            .dns_resolver(Arc::new(PublicOnly {
                allow_private: config.allow_private_client_metadata,
            }))
            .no_proxy()
            .redirect(reqwest::redirect::Policy::none())
            .connect_timeout(timeout)
            .timeout(timeout)
            .build()?;
        Ok(Documents {
            http,
            cache: Cache::builder()
                .max_capacity(CACHE_CAPACITY)
                .expire_after(KeepFor)
                .build(),
            hosts: config
                .client_metadata_hosts
                .iter()
                .map(|h| h.to_ascii_lowercase())
                .collect(),
            allow_private: config.allow_private_client_metadata,
        })
    }

    /// The client a metadata URL describes: from the cache, else fetched
    /// and checked. Concurrent requests for one URL share one fetch.
    pub(super) async fn client(&self, client_id: &str) -> Result<Arc<Client>, Refusal> {
        let url = self.checked_url(client_id)?;
        self.cache
            .try_get_with(client_id.to_owned(), self.fetch(client_id, url))
            .await
            .map(|fetched| fetched.client)
            .map_err(|refusal| (*refusal).clone())
    }

    /// The URL rules of the draft (section 3), the scheme, the allow-list,
    /// and, for an address literal, the address.
    fn checked_url(&self, client_id: &str) -> Result<Url, Refusal> {
        let url = Url::parse(client_id).map_err(|_| Refusal::BadUrl)?;
        match url.scheme() {
            "https" => {}
            "http" if self.allow_private => {}
            _ => return Err(Refusal::NotHttps),
        }
        let path = client_id
            .split_once("://")
            .and_then(|(_, rest)| rest.split_once('/'))
            .map(|(_, path)| path.split(['?', '#']).next().unwrap_or_default())
            .unwrap_or_default();
        if path.is_empty()
            || path
                .split('/')
                .any(|segment| segment == "." || segment == "..")
            || client_id.contains('#')
            || !url.username().is_empty()
            || url.password().is_some()
        {
            return Err(Refusal::BadUrl);
        }
        let host = url.host_str().ok_or(Refusal::BadUrl)?.to_ascii_lowercase();
        if !self.hosts.is_empty() && !self.hosts.contains(&host) {
            return Err(Refusal::HostNotAllowed(host));
        }
        // Address literals are never resolved, so the resolver's check
        // would not see them.
        let literal = match url.host() {
            Some(Host::Ipv4(ip)) => Some(ip.into()),
            Some(Host::Ipv6(ip)) => Some(ip.into()),
            _ => None,
        };
        if let Some(ip) = literal
            && !self.allow_private
            && !address::is_public(ip)
        {
            return Err(Refusal::NotPublic(ip.to_string()));
        }
        Ok(url)
    }

    async fn fetch(&self, client_id: &str, url: Url) -> Result<Fetched, Refusal> {
        let mut response = self
            .http
            .get(url)
            .header(header::ACCEPT, "application/json")
            .send()
            .await
            .map_err(failed)?;
        let status = response.status();
        if status.is_redirection() {
            return Err(Refusal::Redirected);
        }
        if status != reqwest::StatusCode::OK {
            return Err(Refusal::Status(status.as_u16()));
        }
        if !is_json(response.headers()) {
            return Err(Refusal::NotJson);
        }
        if response
            .content_length()
            .is_some_and(|length| length > MAX_BYTES as u64)
        {
            return Err(Refusal::TooBig);
        }
        let ttl = keep_for(response.headers());
        let mut body = Vec::new();
        while let Some(chunk) = response.chunk().await.map_err(failed)? {
            if body.len() + chunk.len() > MAX_BYTES {
                return Err(Refusal::TooBig);
            }
            body.extend_from_slice(&chunk);
        }
        let document: Value = serde_json::from_slice(&body).map_err(|_| Refusal::NotJson)?;
        let client = validate(client_id, &document)?;
        tracing::info!(client = %client_id, "client metadata document fetched");
        Ok(Fetched {
            client: Arc::new(client),
            ttl,
        })
    }
}

/// A failed request, by what the person can be told.
fn failed(err: reqwest::Error) -> Refusal {
    if err.is_timeout() {
        return Refusal::Timeout;
    }
    let mut source = std::error::Error::source(&err);
    while let Some(cause) = source {
        if let Some(refused) = cause.downcast_ref::<NotPublic>() {
            return Refusal::NotPublic(refused.address.to_string());
        }
        source = cause.source();
    }
    tracing::info!(cause = %err, "client metadata fetch failed");
    Refusal::Unreachable
}

/// `application/json` or an `application/…+json` type.
fn is_json(headers: &HeaderMap) -> bool {
    let Some(value) = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
    else {
        return false;
    };
    let essence = value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    essence == "application/json"
        || (essence.starts_with("application/") && essence.ends_with("+json"))
}

/// How long the answer may be kept, from its `Cache-Control`: nothing for
/// `no-store` or `no-cache`, `max-age` up to [`MAX_TTL`], else
/// [`DEFAULT_TTL`].
fn keep_for(headers: &HeaderMap) -> Duration {
    let mut ttl = DEFAULT_TTL;
    for directive in headers
        .get_all(header::CACHE_CONTROL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
    {
        let directive = directive.trim().to_ascii_lowercase();
        if directive == "no-store" || directive == "no-cache" {
            return Duration::ZERO;
        }
        if let Some(seconds) = directive
            .strip_prefix("max-age=")
            .and_then(|s| s.trim_matches('"').parse::<u64>().ok())
        {
            ttl = Duration::from_secs(seconds).min(MAX_TTL);
        }
    }
    ttl
}

/// The document's rules (draft section 4): it names itself, lists its
/// redirect URIs (under the rules registration has), and is a public
/// client: no shared secret, no secret-based authentication.
fn validate(client_id: &str, document: &Value) -> Result<Client, Refusal> {
    if !document.is_object() {
        return Err(Refusal::NotJson);
    }
    match document["client_id"].as_str() {
        Some(id) if id == client_id => {}
        Some(other) => return Err(Refusal::ClientIdMismatch(other.chars().take(200).collect())),
        None => return Err(Refusal::Invalid("it has no client_id")),
    }
    if document.get("client_secret").is_some() || document.get("client_secret_expires_at").is_some()
    {
        return Err(Refusal::Invalid(
            "it holds a client secret, which a public document cannot",
        ));
    }
    match document["token_endpoint_auth_method"].as_str() {
        None | Some("none") => {}
        Some(_) => {
            return Err(Refusal::Invalid(
                "token_endpoint_auth_method must be none: this server has public clients only",
            ));
        }
    }
    let redirect_uris = super::redirect::registrable_list(&document["redirect_uris"])
        .ok_or(Refusal::Invalid(super::redirect::REGISTRABLE_RULE))?;
    Ok(Client {
        id: client_id.to_owned(),
        name: super::display_name(&document["client_name"]).unwrap_or_else(|| client_id.to_owned()),
        redirect_uris,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn documents(hosts: &[&str], allow_private: bool) -> Documents {
        let config = McpOAuthConfig {
            client_metadata_hosts: hosts.iter().map(|h| (*h).to_owned()).collect(),
            allow_private_client_metadata: allow_private,
            ..McpOAuthConfig::default()
        };
        Documents::new(&config).expect("client")
    }

    #[test]
    fn client_id_urls_follow_the_drafts_rules() {
        let any = documents(&[], false);
        assert!(
            any.checked_url("https://app.example.com/client.json")
                .is_ok()
        );
        assert!(
            any.checked_url("https://app.example.com:8443/c?v=1")
                .is_ok()
        );
        for (url, why) in [
            ("http://app.example.com/client.json", "NotHttps"),
            ("ftp://app.example.com/client.json", "NotHttps"),
            ("https://app.example.com", "BadUrl"),
            ("https://app.example.com/", "BadUrl"),
            ("https://app.example.com/a/../client.json", "BadUrl"),
            ("https://app.example.com/./client.json", "BadUrl"),
            ("https://app.example.com/client.json#x", "BadUrl"),
            ("https://user:pw@app.example.com/client.json", "BadUrl"),
            ("https://127.0.0.1/client.json", "NotPublic"),
            ("https://[::ffff:10.0.0.1]/client.json", "NotPublic"),
            ("https://2130706433/client.json", "NotPublic"),
        ] {
            let refusal = any.checked_url(url).expect_err(url);
            assert!(
                format!("{refusal:?}").starts_with(why),
                "{url}: {refusal:?}"
            );
        }
        let listed = documents(&["Clients.Example.com"], false);
        assert!(
            listed
                .checked_url("https://clients.example.com/c.json")
                .is_ok()
        );
        assert!(matches!(
            listed.checked_url("https://other.example.com/c.json"),
            Err(Refusal::HostNotAllowed(host)) if host == "other.example.com"
        ));
        let development = documents(&[], true);
        assert!(
            development
                .checked_url("http://127.0.0.1:8080/c.json")
                .is_ok()
        );
    }

    #[test]
    fn documents_name_themselves_and_are_public_clients() {
        let id = "https://app.example.com/client.json";
        let good = json!({"client_id": id, "client_name": "App\u{7}", "redirect_uris": ["https://app.example.com/cb"]});
        let client = validate(id, &good).expect("valid");
        assert_eq!(client.name, "App");
        assert_eq!(client.redirect_uris, ["https://app.example.com/cb"]);
        let with = |key: &str, value: Value| {
            let mut document = good.clone();
            document[key] = value;
            validate(id, &document).expect_err("refused")
        };
        assert!(matches!(
            with("client_id", json!("https://evil.example.com/client.json")),
            Refusal::ClientIdMismatch(_)
        ));
        assert!(matches!(
            with("client_secret", json!("s")),
            Refusal::Invalid(_)
        ));
        assert!(matches!(
            with("token_endpoint_auth_method", json!("client_secret_basic")),
            Refusal::Invalid(_)
        ));
        assert!(matches!(
            with("redirect_uris", json!([])),
            Refusal::Invalid(_)
        ));
        assert!(matches!(
            with("redirect_uris", json!(["http://app.example.com/cb"])),
            Refusal::Invalid(_)
        ));
        assert!(validate(id, &json!({"redirect_uris": ["https://a.example/cb"]})).is_err());
        assert!(validate(id, &json!(["not", "an", "object"])).is_err());
    }

    #[test]
    fn cache_control_decides_how_long_a_document_is_kept() {
        let headers = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CACHE_CONTROL, value.parse().expect("header"));
            headers
        };
        assert_eq!(keep_for(&HeaderMap::new()), DEFAULT_TTL);
        assert_eq!(
            keep_for(&headers("public, max-age=60")),
            Duration::from_secs(60)
        );
        assert_eq!(keep_for(&headers("max-age=99999999")), MAX_TTL);
        assert_eq!(keep_for(&headers("no-store")), Duration::ZERO);
        assert_eq!(keep_for(&headers("max-age=60, no-cache")), Duration::ZERO);
    }

    #[test]
    fn only_json_is_read() {
        let with = |value: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::CONTENT_TYPE, value.parse().expect("header"));
            is_json(&headers)
        };
        assert!(with("application/json"));
        assert!(with("application/json; charset=utf-8"));
        assert!(with("application/oauth-client+json"));
        assert!(!with("text/html"));
        assert!(!with("application/jsonp"));
        assert!(!is_json(&HeaderMap::new()));
    }
}
