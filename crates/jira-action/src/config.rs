//! Configuration: a TOML file, overridden by environment variables and
//! flags (see `cli`). Every field has a default that suits the sandbox.

use std::collections::{BTreeMap, HashSet};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use secrecy::SecretString;
use serde::Deserialize;
use url::Url;

/// How jira-action authenticates to Jira.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "kebab-case")]
pub enum AuthMode {
    /// Forward the caller's `Authorization` header unchanged (Glean's
    /// OAUTH_ADMIN or OAUTH_USER: Glean holds the token).
    #[default]
    Passthrough,
    /// Use the server's own `email:api_token` (HTTP Basic); the caller's
    /// header is not forwarded.
    ApiToken,
    /// The server holds an admin's Atlassian OAuth 2.0 (3LO) connection,
    /// made once with `jira-action oauth login`, and refreshes it itself;
    /// calls go through the gateway `api.atlassian.com/ex/jira/<cloudId>`.
    Oauth,
    /// Data Center and Server (8.14 and later): the server's own personal
    /// access token, sent as `Authorization: Bearer`.
    Pat,
    /// Data Center and Server: the server's own username and password
    /// (HTTP Basic), for servers without personal access tokens.
    Password,
}

impl AuthMode {
    /// A credential of the server's own that never changes while it runs
    /// (an API token, a personal access token, a password): one shared
    /// client, shared caches.
    pub fn is_static_server_credential(self) -> bool {
        matches!(
            self,
            AuthMode::ApiToken | AuthMode::Pat | AuthMode::Password
        )
    }
}

/// Which Jira the server talks to, as configured: `auto` asks
/// `GET /rest/api/2/serverInfo` once at start.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum FlavorSetting {
    #[default]
    Auto,
    Cloud,
    #[serde(rename = "datacenter")]
    #[value(name = "datacenter")]
    DataCenter,
}

impl FlavorSetting {
    /// The flavour, when it is not left to detection.
    pub fn fixed(self) -> Option<jira::Flavor> {
        match self {
            FlavorSetting::Auto => None,
            FlavorSetting::Cloud => Some(jira::Flavor::Cloud),
            FlavorSetting::DataCenter => Some(jira::Flavor::DataCenter),
        }
    }
}

/// How the `description` field is read.
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum DescriptionFormat {
    /// CommonMark + GFM, as models write it.
    #[default]
    Markdown,
    /// Plain text: blank lines separate paragraphs, newlines are kept.
    Plain,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    pub listen: SocketAddr,
    /// The server's public base URL, for the OpenAPI `servers` entry and
    /// the manifest. Defaults to `http://{listen}`.
    pub public_url: Option<Url>,
    pub jira: JiraConfig,
    pub cache: CacheConfig,
    pub limits: LimitsConfig,
    pub description_format: DescriptionFormat,
    pub glean: GleanConfig,
    pub access: AccessConfig,
    /// What to do when Jira will not let the tool set the reporter.
    pub reporter_policy: ReporterPolicy,
    /// Per-project settings, by project key or id.
    pub projects: BTreeMap<String, ProjectSettings>,
    pub store: StoreConfig,
    pub audit: AuditConfig,
    /// `auth = "oauth"`: the admin's OAuth app.
    pub oauth: OAuthConfig,
    /// The MCP endpoint (`/mcp`) and `jira-action mcp` (stdio).
    pub mcp: McpConfig,
    /// The deprecated keys this configuration was read with, each saying
    /// what to write instead: logged at start, and a warning in `doctor`,
    /// which an admin runs without reading the logs.
    #[serde(skip)]
    pub deprecations: Vec<String>,
}

/// Who may call `/mcp`, and how a call names its person.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpConfig {
    /// Keys a client presents as `Authorization: Bearer <key>`; several so
    /// that they can be rotated. Prefer `JIRA_ACTION_MCP_API_KEYS`
    /// (comma-separated). None: every call to `/mcp` is refused.
    pub api_keys: Vec<SecretString>,
    /// The header naming the person a call is for (Glean fills a header
    /// of the admin's choosing with the user's email).
    pub user_header: String,
    /// `jira-action mcp` (stdio): the person every call is for, when
    /// `--user` is not given.
    pub stdio_user: Option<String>,
    /// Sign-in: OAuth 2.1 for `/mcp`, each person signing in themselves.
    pub oauth: McpOAuthConfig,
}

/// Where people sign in when an MCP client signs them in (OAuth 2.1):
/// jira-action is the authorization server of `/mcp` and hands the login
/// itself to Atlassian (`read:me`).
#[derive(Clone, Debug, PartialEq, Eq, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Upstream {
    /// Atlassian's OAuth 2.0 (3LO), scope `read:me`: the account id is the
    /// person (Jira Cloud only).
    #[default]
    Atlassian,
    /// An OpenID Connect provider by issuer URL (Okta, Entra ID, Google):
    /// its verified email is the person, found in Jira as on the Glean
    /// path (Cloud and Data Center).
    Oidc,
}

/// `[mcp.oauth]`: sign-in for `/mcp`. Off unless `enabled`; API keys keep
/// working beside it.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct McpOAuthConfig {
    pub enabled: bool,
    pub upstream: Upstream,
    /// The sign-in app's client id: its own Atlassian OAuth app (the
    /// single scope `read:me`, the callback
    /// `<public_url>/oauth/atlassian/callback`), or the app registered
    /// with the OpenID Connect provider (callback
    /// `<public_url>/oauth/oidc/callback`).
    pub client_id: Option<String>,
    /// Prefer the environment variable `JIRA_ACTION_MCP_OAUTH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// Atlassian's authorization server (`/authorize`, `/oauth/token`).
    pub auth_url: Url,
    /// Where `GET /me` is.
    pub api_url: Url,
    /// The OpenID Connect provider's issuer (upstream `oidc`), exactly as
    /// its discovery document's `issuer` says it: kept as written, since a
    /// URL parser would add a trailing slash the comparison must not see.
    pub issuer: Option<String>,
    /// Lifetime of the access tokens jira-action issues.
    #[serde(with = "humantime_serde")]
    pub access_token_ttl: Duration,
    /// How long an unused refresh token stays good (each refresh rotates it).
    #[serde(with = "humantime_serde")]
    pub refresh_token_ttl: Duration,
    /// How long a person has from `authorize` to the consent, and a client
    /// from the consent to redeeming its code.
    #[serde(with = "humantime_serde")]
    pub authorization_ttl: Duration,
    /// Whether clients may register themselves (RFC 7591), as Glean's MCP
    /// host and most assistants do.
    pub dynamic_registration: bool,
    /// Clients known in advance.
    pub clients: Vec<ConfiguredClient>,
    /// Whether a client id may be the HTTPS URL of the client's metadata
    /// document (Client ID Metadata Documents, which the MCP authorization
    /// specification prefers to registration).
    pub client_metadata_documents: bool,
    /// The hosts whose metadata documents are fetched; empty: any public
    /// host.
    pub client_metadata_hosts: Vec<String>,
    /// Development only: fetch metadata documents over `http` and from
    /// loopback and private addresses (a test's or the sandbox's
    /// `http://127.0.0.1` server). Off, those are refused (SSRF).
    pub allow_private_client_metadata: bool,
    /// How long fetching one metadata document may take, all told.
    #[serde(with = "humantime_serde")]
    pub client_metadata_timeout: Duration,
}

/// A client listed in the configuration.
#[derive(Clone, Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfiguredClient {
    pub client_id: String,
    /// Shown on the consent page.
    pub name: Option<String>,
    pub redirect_uris: Vec<String>,
}

impl Default for McpOAuthConfig {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("a valid constant"));
        McpOAuthConfig {
            enabled: false,
            upstream: Upstream::Atlassian,
            client_id: None,
            client_secret: None,
            auth_url: url("https://auth.atlassian.com"),
            api_url: url("https://api.atlassian.com"),
            issuer: None,
            access_token_ttl: Duration::from_secs(3_600),
            refresh_token_ttl: Duration::from_secs(30 * 86_400),
            authorization_ttl: Duration::from_secs(600),
            dynamic_registration: true,
            clients: Vec::new(),
            client_metadata_documents: true,
            client_metadata_hosts: Vec::new(),
            allow_private_client_metadata: false,
            client_metadata_timeout: Duration::from_millis(5_000),
        }
    }
}

impl Default for McpConfig {
    fn default() -> Self {
        McpConfig {
            api_keys: Vec::new(),
            user_header: "Glean-User-Email".to_owned(),
            stdio_user: None,
            oauth: McpOAuthConfig::default(),
        }
    }
}

/// The Atlassian OAuth 2.0 (3LO) app the server uses in `oauth` mode, as
/// registered in the developer console.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct OAuthConfig {
    pub client_id: Option<String>,
    /// Prefer the environment variable `JIRA_ACTION_OAUTH_CLIENT_SECRET`.
    pub client_secret: Option<SecretString>,
    /// Where `/authorize` and `/oauth/token` are.
    pub auth_url: Url,
    /// The API gateway (`/ex/jira/<cloudId>`, `accessible-resources`).
    pub api_url: Url,
    /// The app's callback URL; `oauth login` listens on it, so it must be
    /// a loopback address (`http://127.0.0.1:PORT/...`).
    pub redirect_uri: Url,
    pub scopes: Vec<String>,
    /// Refresh the access token this long before it expires.
    #[serde(with = "humantime_serde")]
    pub refresh_margin: Duration,
    /// The base64 AES-256 key that seals the stored tokens. Prefer the
    /// environment variable `JIRA_ACTION_TOKEN_KEY`; every process sharing
    /// the store needs the same key.
    pub token_key: Option<SecretString>,
}

impl Default for OAuthConfig {
    fn default() -> Self {
        let url = |s: &str| Url::parse(s).unwrap_or_else(|_| unreachable!("a valid constant"));
        OAuthConfig {
            client_id: None,
            client_secret: None,
            auth_url: url("https://auth.atlassian.com"),
            api_url: url("https://api.atlassian.com"),
            redirect_uri: url("http://127.0.0.1:8765/oauth/callback"),
            // What create needs, plus offline_access for refresh tokens.
            scopes: [
                "read:jira-work",
                "write:jira-work",
                "read:jira-user",
                "offline_access",
            ]
            .map(String::from)
            .to_vec(),
            refresh_margin: Duration::from_secs(300),
            token_key: None,
        }
    }
}

impl OAuthConfig {
    /// The app, once `client_id` and `client_secret` are set.
    pub fn app(&self) -> Result<jira::OAuthApp, ConfigError> {
        let (Some(client_id), Some(client_secret)) = (&self.client_id, &self.client_secret) else {
            return Err(ConfigError::Invalid(
                "auth = oauth needs oauth.client_id and oauth.client_secret (JIRA_ACTION_OAUTH_CLIENT_SECRET)".into(),
            ));
        };
        Ok(jira::OAuthApp {
            client_id: client_id.clone(),
            client_secret: client_secret.clone(),
            auth_url: self.auth_url.clone(),
            redirect_uri: self.redirect_uri.clone(),
            scopes: self.scopes.clone(),
        })
    }
}

/// Where idempotency claims and the audit trail are kept, and how repeats
/// are recognised. `{:?}` hides the URL's password.
#[derive(Clone, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct StoreConfig {
    /// `postgres://…` (shared by several processes), `sqlite://PATH`, or a
    /// plain file path (SQLite, created on first start).
    pub url: String,
    pub max_connections: u32,
    /// How long a repeat of a request gets the first answer back.
    #[serde(with = "humantime_serde")]
    pub idempotency_window: Duration,
    /// How long a repeat waits for the same request in progress elsewhere
    /// before answering 409 `request_in_progress`.
    #[serde(with = "humantime_serde")]
    pub wait_for_in_progress: Duration,
    /// How long a request in progress blocks its repeats. A holder that
    /// dies (SIGKILL) blocks them no longer than this; it must exceed
    /// `limits.request_timeout`, or a slow holder could be taken over.
    /// Default: the request timeout plus 5 seconds.
    #[serde(with = "humantime_serde")]
    pub lease: Option<Duration>,
}

/// The audit trail: one record per request to `POST /create_issue`.
#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AuditConfig {
    /// Records older than this are deleted by a periodic task.
    #[serde(with = "humantime_serde")]
    pub retention: Duration,
    /// Keep issue descriptions in the records (off: they may be sensitive).
    pub record_descriptions: bool,
    /// How often the retention task runs.
    #[serde(with = "humantime_serde")]
    pub purge_interval: Duration,
}

impl std::fmt::Debug for StoreConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let StoreConfig {
            url,
            max_connections,
            idempotency_window,
            wait_for_in_progress,
            lease,
        } = self;
        f.debug_struct("StoreConfig")
            .field("url", &crate::app::redact(url))
            .field("max_connections", max_connections)
            .field("idempotency_window", idempotency_window)
            .field("wait_for_in_progress", wait_for_in_progress)
            .field("lease", lease)
            .finish()
    }
}

impl Default for StoreConfig {
    fn default() -> Self {
        StoreConfig {
            url: "jira-action.db".to_owned(),
            max_connections: 8,
            idempotency_window: Duration::from_secs(600),
            wait_for_in_progress: Duration::from_millis(10_000),
            lease: None,
        }
    }
}

impl Default for AuditConfig {
    fn default() -> Self {
        AuditConfig {
            retention: Duration::from_secs(90 * 86_400),
            record_descriptions: false,
            purge_interval: Duration::from_secs(3_600),
        }
    }
}

/// When the reporter cannot be set (not on the create screen, or no
/// Modify Reporter permission).
#[derive(Clone, Copy, Debug, Default, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "kebab-case")]
pub enum ReporterPolicy {
    /// Refuse: nothing is created without the reporter that was asked for.
    #[default]
    Require,
    /// Create the issue as the tool's account and say so in the answer.
    Creator,
}

#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ProjectSettings {
    /// Values for fields this project requires that the contract does not
    /// carry, as Jira's create takes them, e.g.
    /// `customfield_10050 = { id = "10100" }`.
    pub defaults: serde_json::Map<String, serde_json::Value>,
}

/// `[glean]`, typed: at most one source of Glean's signing key.
/// Verification is on unless `allow_unsigned` says otherwise, explicitly.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(try_from = "GleanFile")]
pub struct GleanConfig {
    /// `None`: nothing configured, which only a server without Glean's
    /// door (`jira-action mcp`) accepts.
    pub keys: Option<GleanKeys>,
}

/// Where Glean's signing key comes from.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum GleanKeys {
    /// A file with the key: PEM, or the base64 DER Glean publishes.
    File(PathBuf),
    /// The Glean backend (`https://<instance>-be.glean.com`); the key is
    /// fetched from `{url}/api/tools/v1/verification_key`.
    Url(Url),
    /// No key: calls are accepted without a valid signature (development
    /// only).
    Unsigned,
}

/// `[glean]` as written: three keys, of which one may be set.
#[derive(Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
struct GleanFile {
    key_file: Option<PathBuf>,
    url: Option<Url>,
    allow_unsigned: bool,
}

impl TryFrom<GleanFile> for GleanConfig {
    type Error = String;

    fn try_from(file: GleanFile) -> Result<GleanConfig, String> {
        let keys = match (file.key_file, file.url, file.allow_unsigned) {
            (None, None, false) => None,
            (Some(path), None, false) => Some(GleanKeys::File(path)),
            (None, Some(url), false) => Some(GleanKeys::Url(url)),
            (None, None, true) => Some(GleanKeys::Unsigned),
            (key_file, url, unsigned) => {
                let given: Vec<&str> = [
                    key_file.is_some().then_some("glean.key_file"),
                    url.is_some().then_some("glean.url"),
                    unsigned.then_some("glean.allow_unsigned"),
                ]
                .into_iter()
                .flatten()
                .collect();
                return Err(format!(
                    "{} are all set: keep one source of Glean's key",
                    given.join(" and ")
                ));
            }
        };
        Ok(GleanConfig { keys })
    }
}

/// Optional allow-lists. Empty means everyone / every project. Both are
/// compiled when the configuration is read, so a request compares, never
/// parses, and a malformed entry stops the server at start.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct AccessConfig {
    /// Exact emails (`alice@example.com`) and/or domains (`example.com` or
    /// `@example.com`) whose users may file issues.
    pub callers: CallerAllowList,
    /// Project keys or ids that may receive issues.
    pub projects: ProjectAllowList,
}

impl AccessConfig {
    /// Whether `email` (lowercased) may use the tool.
    pub fn caller_allowed(&self, email: &str) -> bool {
        self.callers.allows(email)
    }

    /// Whether the project with this id and key may receive issues.
    pub fn project_allowed(&self, id: &str, key: &str) -> bool {
        self.projects.allows(id, key)
    }
}

/// `access.callers`: exact emails and whole domains, lowercased.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct CallerAllowList {
    emails: HashSet<String>,
    domains: HashSet<String>,
}

impl CallerAllowList {
    /// Whether `email` is listed, or its domain is (case-insensitively).
    pub fn allows(&self, email: &str) -> bool {
        if self.emails.is_empty() && self.domains.is_empty() {
            return true;
        }
        let email: std::borrow::Cow<'_, str> = match email.bytes().any(|b| b.is_ascii_uppercase()) {
            true => email.to_ascii_lowercase().into(),
            false => email.into(),
        };
        let domain = email.rsplit_once('@').map(|(_, d)| d).unwrap_or_default();
        self.emails.contains(email.as_ref()) || self.domains.contains(domain)
    }
}

impl TryFrom<Vec<String>> for CallerAllowList {
    type Error = String;

    /// `alice@example.com` is one person; `example.com` and `@example.com`
    /// are everyone in that domain (not its subdomains).
    fn try_from(rules: Vec<String>) -> Result<Self, Self::Error> {
        let mut list = CallerAllowList::default();
        for rule in rules {
            let rule = rule.trim().to_ascii_lowercase();
            let malformed = || format!("access.callers: {rule:?} is neither an email nor a domain");
            if rule.is_empty() || rule.contains(char::is_whitespace) {
                return Err(malformed());
            }
            match rule.strip_prefix('@') {
                Some(domain) if !domain.is_empty() && !domain.contains('@') => {
                    list.domains.insert(domain.to_owned());
                }
                Some(_) => return Err(malformed()),
                None => match rule.split_once('@') {
                    None => {
                        list.domains.insert(rule);
                    }
                    Some((local, domain))
                        if !local.is_empty() && !domain.is_empty() && !domain.contains('@') =>
                    {
                        list.emails.insert(rule);
                    }
                    Some(_) => return Err(malformed()),
                },
            }
        }
        Ok(list)
    }
}

impl<const N: usize> From<[&str; N]> for CallerAllowList {
    /// For tests and examples; panics on an entry the file would refuse.
    #[allow(clippy::expect_used, reason = "a literal list written in code")]
    fn from(rules: [&str; N]) -> Self {
        CallerAllowList::try_from(rules.map(str::to_owned).to_vec()).expect("valid access.callers")
    }
}

/// `access.projects`: project keys (any case) and ids, trimmed.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(try_from = "Vec<String>")]
pub struct ProjectAllowList(Vec<String>);

impl ProjectAllowList {
    /// Whether the project with this id and key is listed (or none is).
    pub fn allows(&self, id: &str, key: &str) -> bool {
        self.0.is_empty()
            || self
                .0
                .iter()
                .any(|p| p == id || p.eq_ignore_ascii_case(key))
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The entries as configured (trimmed).
    pub fn entries(&self) -> &[String] {
        &self.0
    }
}

impl TryFrom<Vec<String>> for ProjectAllowList {
    type Error = String;

    fn try_from(entries: Vec<String>) -> Result<Self, Self::Error> {
        entries
            .into_iter()
            .map(|entry| match entry.trim() {
                "" => Err("access.projects: an empty entry (write a project key or id)".to_owned()),
                trimmed => Ok(trimmed.to_owned()),
            })
            .collect::<Result<_, _>>()
            .map(ProjectAllowList)
    }
}

impl<const N: usize> From<[&str; N]> for ProjectAllowList {
    fn from(entries: [&str; N]) -> Self {
        ProjectAllowList(entries.iter().map(|e| e.trim().to_owned()).collect())
    }
}

/// `[jira]`, typed: the server's credential is one [`JiraCredentials`],
/// built when the file is read, so a missing one stops the start there
/// and nothing later asks whether a field is set.
#[derive(Clone, Debug, Deserialize)]
#[serde(try_from = "JiraFile")]
pub struct JiraConfig {
    /// Each key is described where it is read, on `JiraFile` (this
    /// struct is built from it, so it takes no serde attributes).
    pub url: Option<Url>,
    pub site_url: Option<Url>,
    pub discover_cloud_id: bool,
    pub flavor: FlavorSetting,
    pub credentials: JiraCredentials,
    pub connect_timeout: Duration,
    pub request_timeout: Duration,
    pub retry_budget: Duration,
    pub outcome_settle: Option<Duration>,
    pub max_requests_per_second: f64,
    pub priorities: BTreeMap<String, String>,
}

/// `[jira]` as written: every credential key optional, whatever the
/// mode; [`JiraConfig`] is what the rest of the server sees.
#[derive(Deserialize)]
#[serde(default, deny_unknown_fields)]
struct JiraFile {
    /// The REST API's base: a site (`https://<site>.atlassian.net`) or the
    /// OAuth gateway (`https://api.atlassian.com/ex/jira/<cloudId>`).
    /// With `https://api.atlassian.com` alone the cloud id of `site_url` is
    /// discovered once from `accessible-resources`.
    url: Option<Url>,
    /// The site, for browse links. Defaults to `url` when that is a site.
    site_url: Option<Url>,
    /// Look up the cloud id of `site_url` in the gateway's
    /// `accessible-resources` (implied when `url` is `https://api.atlassian.com`).
    discover_cloud_id: bool,
    /// `cloud`, `datacenter` (Data Center or Server), or `auto`: read
    /// `serverInfo` once at start and say which it found.
    flavor: FlavorSetting,
    auth: AuthMode,
    /// `api-token` mode: the Atlassian account email the token belongs to.
    email: Option<String>,
    /// `api-token` mode: the API token. Prefer the environment variable
    /// `JIRA_ACTION_API_TOKEN` to a file.
    api_token: Option<SecretString>,
    /// `pat` mode: the personal access token. Prefer the environment
    /// variable `JIRA_ACTION_JIRA_PAT` to a file.
    pat: Option<SecretString>,
    /// `password` mode: the Jira username.
    username: Option<String>,
    /// `password` mode: its password. Prefer `JIRA_ACTION_JIRA_PASSWORD`.
    password: Option<SecretString>,
    #[serde(with = "humantime_serde")]
    connect_timeout: Duration,
    #[serde(with = "humantime_serde")]
    request_timeout: Duration,
    /// The most time one Glean request may spend waiting to retry Jira.
    #[serde(with = "humantime_serde")]
    retry_budget: Duration,
    /// After a create whose outcome is unknown (a timeout, a 5xx, a dropped
    /// connection), how long a retry waits before it looks for the issue:
    /// time for Jira to commit the create and for its search to see it.
    /// Retries before then get 504 `jira_outcome_unknown` with the time
    /// left as `Retry-After`. Default: `request_timeout` + 5 s.
    #[serde(with = "humantime_serde")]
    outcome_settle: Option<Duration>,
    /// Client-side limit on calls per second to the Jira site, so bursts
    /// never reach Jira's own limits; calls wait for a slot (within the
    /// retry budget). 0 turns it off.
    max_requests_per_second: f64,
    /// Glean priority (1 highest .. 5 lowest) to this site's priority id.
    /// Default: the number itself is the id.
    priorities: BTreeMap<String, String>,
}

/// The server's own credential to Jira, holding exactly what its mode
/// needs. `{:?}` prints no secret.
#[derive(Clone, Debug, Default)]
pub enum JiraCredentials {
    /// Each call brings its own (`auth = "passthrough"`).
    #[default]
    Passthrough,
    /// `auth = "api-token"`: Cloud, HTTP Basic.
    ApiToken { email: String, token: SecretString },
    /// `auth = "oauth"`: the stored connection's access token, set per
    /// call (the app itself is `[oauth]`).
    Oauth,
    /// `auth = "pat"`: Data Center, `Authorization: Bearer`.
    Pat { token: SecretString },
    /// `auth = "password"`: Data Center, HTTP Basic.
    Password {
        username: String,
        password: SecretString,
    },
}

impl JiraCredentials {
    /// The mode these credentials are for.
    pub fn mode(&self) -> AuthMode {
        match self {
            JiraCredentials::Passthrough => AuthMode::Passthrough,
            JiraCredentials::ApiToken { .. } => AuthMode::ApiToken,
            JiraCredentials::Oauth => AuthMode::Oauth,
            JiraCredentials::Pat { .. } => AuthMode::Pat,
            JiraCredentials::Password { .. } => AuthMode::Password,
        }
    }

    pub fn is_passthrough(&self) -> bool {
        matches!(self, JiraCredentials::Passthrough)
    }

    /// The Jira client's own `Authorization`: the one place a mode
    /// becomes a header. None where each call brings (passthrough) or is
    /// given (oauth, see `TokenManager::access_token`) its own.
    pub fn client_auth(&self) -> jira::Auth {
        match self {
            JiraCredentials::Passthrough | JiraCredentials::Oauth => jira::Auth::None,
            JiraCredentials::ApiToken { email, token } => jira::Auth::Basic {
                email: email.clone(),
                token: token.clone(),
            },
            JiraCredentials::Pat { token } => jira::Auth::Bearer(token.clone()),
            JiraCredentials::Password { username, password } => jira::Auth::Basic {
                email: username.clone(),
                token: password.clone(),
            },
        }
    }
}

impl JiraConfig {
    /// The configured mode.
    pub fn auth(&self) -> AuthMode {
        self.credentials.mode()
    }
}

/// A credential key its mode needs, or what to set: the key, the
/// environment variable and the flag.
fn required<T>(value: Option<T>, key: &str, mode: &str, env: &str) -> Result<T, String> {
    value.ok_or_else(|| {
        format!("jira.{key} is required when jira.auth = \"{mode}\": set it in the file or {env}")
    })
}

impl TryFrom<JiraFile> for JiraConfig {
    type Error = String;

    fn try_from(mut file: JiraFile) -> Result<JiraConfig, String> {
        let credentials = match file.auth {
            AuthMode::Passthrough => JiraCredentials::Passthrough,
            AuthMode::Oauth => JiraCredentials::Oauth,
            AuthMode::ApiToken => JiraCredentials::ApiToken {
                email: required(
                    file.email.take(),
                    "email",
                    "api-token",
                    "JIRA_ACTION_API_EMAIL (--api-email)",
                )?,
                token: required(
                    file.api_token.take(),
                    "api_token",
                    "api-token",
                    "JIRA_ACTION_API_TOKEN (--api-token)",
                )?,
            },
            AuthMode::Pat => JiraCredentials::Pat {
                token: required(
                    file.pat.take(),
                    "pat",
                    "pat",
                    "JIRA_ACTION_JIRA_PAT (--jira-pat)",
                )?,
            },
            AuthMode::Password => JiraCredentials::Password {
                username: required(
                    file.username.take(),
                    "username",
                    "password",
                    "JIRA_ACTION_JIRA_USERNAME (--jira-username)",
                )?,
                password: required(
                    file.password.take(),
                    "password",
                    "password",
                    "JIRA_ACTION_JIRA_PASSWORD (--jira-password)",
                )?,
            },
        };
        Ok(JiraConfig::with_credentials(file, credentials))
    }
}

impl JiraConfig {
    /// The file's settings other than its credential keys, with
    /// `credentials` (what [`JiraConfig`]'s read and its default share).
    fn with_credentials(file: JiraFile, credentials: JiraCredentials) -> JiraConfig {
        JiraConfig {
            url: file.url,
            site_url: file.site_url,
            discover_cloud_id: file.discover_cloud_id,
            flavor: file.flavor,
            credentials,
            connect_timeout: file.connect_timeout,
            request_timeout: file.request_timeout,
            retry_budget: file.retry_budget,
            outcome_settle: file.outcome_settle,
            max_requests_per_second: file.max_requests_per_second,
            priorities: file.priorities,
        }
    }
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct CacheConfig {
    /// How long a resolved user (email → account) is reused.
    #[serde(with = "humantime_serde")]
    pub user_ttl: Duration,
    /// How long "no such user" or "ambiguous" is remembered: shorter, so a
    /// newly invited user can file soon.
    #[serde(with = "humantime_serde")]
    pub negative_ttl: Duration,
    /// How long a project's issue types and components are reused.
    #[serde(with = "humantime_serde")]
    pub project_ttl: Duration,
    pub max_users: u64,
    pub max_projects: u64,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct LimitsConfig {
    pub max_body_bytes: usize,
    /// The whole request, Jira calls included; Glean gives up on slow tools.
    #[serde(with = "humantime_serde")]
    pub request_timeout: Duration,
    pub max_concurrent_requests: usize,
    /// Once a request's first byte has arrived, its headers must be
    /// complete within this, or the connection is closed.
    #[serde(with = "humantime_serde")]
    pub header_read_timeout: Duration,
    /// A connection with no request in progress is closed after this long
    /// without a byte (keep-alive included).
    #[serde(with = "humantime_serde")]
    pub idle_timeout: Duration,
    /// The most open client connections; further ones wait in the listen
    /// backlog until one closes. Lowered at start to fit the process's
    /// open-file limit.
    pub max_connections: usize,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            listen: SocketAddr::from(([127, 0, 0, 1], 8080)),
            public_url: None,
            jira: JiraConfig::default(),
            cache: CacheConfig::default(),
            limits: LimitsConfig::default(),
            description_format: DescriptionFormat::default(),
            glean: GleanConfig::default(),
            access: AccessConfig::default(),
            reporter_policy: ReporterPolicy::default(),
            projects: BTreeMap::new(),
            store: StoreConfig::default(),
            audit: AuditConfig::default(),
            oauth: OAuthConfig::default(),
            mcp: McpConfig::default(),
            deprecations: Vec::new(),
        }
    }
}

impl Default for JiraFile {
    fn default() -> Self {
        JiraFile {
            url: None,
            site_url: None,
            discover_cloud_id: false,
            flavor: FlavorSetting::default(),
            auth: AuthMode::default(),
            email: None,
            api_token: None,
            pat: None,
            username: None,
            password: None,
            connect_timeout: Duration::from_millis(5_000),
            request_timeout: Duration::from_millis(10_000),
            retry_budget: Duration::from_millis(20_000),
            outcome_settle: None,
            max_requests_per_second: 20.0,
            priorities: BTreeMap::new(),
        }
    }
}

impl Default for JiraConfig {
    fn default() -> Self {
        JiraConfig::with_credentials(JiraFile::default(), JiraCredentials::Passthrough)
    }
}

impl Default for CacheConfig {
    fn default() -> Self {
        CacheConfig {
            user_ttl: Duration::from_secs(3_600),
            negative_ttl: Duration::from_secs(60),
            project_ttl: Duration::from_secs(600),
            max_users: 100_000,
            max_projects: 1_000,
        }
    }
}

impl Default for LimitsConfig {
    fn default() -> Self {
        LimitsConfig {
            max_body_bytes: 64 * 1024,
            request_timeout: Duration::from_millis(25_000),
            max_concurrent_requests: 1_024,
            header_read_timeout: Duration::from_millis(10_000),
            idle_timeout: Duration::from_millis(60_000),
            max_connections: 10_000,
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {path}: {source}")]
    Read {
        path: String,
        source: std::io::Error,
    },
    #[error("invalid configuration in {path}: {source}")]
    Parse {
        path: String,
        source: Box<toml::de::Error>,
    },
    #[error("invalid configuration: {0}")]
    Invalid(String),
}

/// The keys that were bare numbers before durations took units (`"30s"`,
/// `"500ms"`, `"90d"`): section, old key, its unit's suffix, new key. The
/// old keys are still read, with a warning at start.
const DEPRECATED_DURATIONS: &[(&str, &str, &str, &str)] = &[
    ("jira", "connect_timeout_ms", "ms", "connect_timeout"),
    ("jira", "request_timeout_ms", "ms", "request_timeout"),
    ("jira", "retry_budget_ms", "ms", "retry_budget"),
    ("jira", "outcome_settle_ms", "ms", "outcome_settle"),
    ("limits", "request_timeout_ms", "ms", "request_timeout"),
    (
        "limits",
        "header_read_timeout_ms",
        "ms",
        "header_read_timeout",
    ),
    ("limits", "idle_timeout_ms", "ms", "idle_timeout"),
    ("cache", "user_ttl_secs", "s", "user_ttl"),
    ("cache", "negative_ttl_secs", "s", "negative_ttl"),
    ("cache", "project_ttl_secs", "s", "project_ttl"),
    ("audit", "retention_days", "d", "retention"),
    ("audit", "purge_interval_secs", "s", "purge_interval"),
    (
        "store",
        "idempotency_window_secs",
        "s",
        "idempotency_window",
    ),
    (
        "store",
        "wait_for_in_progress_ms",
        "ms",
        "wait_for_in_progress",
    ),
    ("store", "lease_secs", "s", "lease"),
    ("oauth", "refresh_margin_secs", "s", "refresh_margin"),
    (
        "mcp.oauth",
        "access_token_ttl_secs",
        "s",
        "access_token_ttl",
    ),
    (
        "mcp.oauth",
        "refresh_token_ttl_secs",
        "s",
        "refresh_token_ttl",
    ),
    (
        "mcp.oauth",
        "authorization_ttl_secs",
        "s",
        "authorization_ttl",
    ),
    (
        "mcp.oauth",
        "client_metadata_timeout_ms",
        "ms",
        "client_metadata_timeout",
    ),
];

/// Each deprecated key, dotted, with the key that replaces it.
pub fn deprecated_keys() -> impl Iterator<Item = (String, String)> {
    DEPRECATED_DURATIONS
        .iter()
        .map(|(section, old, _, new)| (format!("{section}.{old}"), format!("{section}.{new}")))
}

/// Rewrites each deprecated key into its successor with the same meaning
/// (`request_timeout_ms = 500` is `request_timeout = "500ms"`); both
/// given is an error naming both. Returns a warning for each rewritten.
fn rewrite_deprecated(table: &mut toml::Table) -> Result<Vec<String>, ConfigError> {
    let mut warnings = Vec::new();
    for (section, old, suffix, new) in DEPRECATED_DURATIONS {
        // Not a table: the typed read says so.
        let Some(at) = section
            .split('.')
            .try_fold(&mut *table, |at, part| at.get_mut(part)?.as_table_mut())
        else {
            continue;
        };
        let Some(value) = at.remove(*old) else {
            continue;
        };
        if at.contains_key(*new) {
            return Err(ConfigError::Invalid(format!(
                "{section}.{old} and {section}.{new} are both set: keep {section}.{new} \
                 ({section}.{old} is its deprecated form)"
            )));
        }
        let Some(number) = value.as_integer().filter(|n| *n >= 0) else {
            return Err(ConfigError::Invalid(format!(
                "{section}.{old} must be a whole number (or write {section}.{new} = \"30s\")"
            )));
        };
        let duration = format!("{number}{suffix}");
        warnings.push(format!(
            "{section}.{old} is deprecated: write {section}.{new} = \"{duration}\""
        ));
        at.insert((*new).to_owned(), toml::Value::String(duration));
    }
    Ok(warnings)
}

/// What flags and environment variables set, laid over the file's keys
/// before the one typed read, so a value is checked the same wherever it
/// came from. clap already reads each flag's variable; figment would add
/// little, since the variables' names follow no single pattern. No
/// `Debug`: the values include secrets.
#[derive(Default)]
pub struct Overrides(Vec<(&'static str, Option<toml::Value>)>);

impl Overrides {
    /// Sets the dotted `key` (e.g. `jira.api_token`).
    pub fn set(&mut self, key: &'static str, value: impl Into<toml::Value>) -> &mut Overrides {
        self.0.push((key, Some(value.into())));
        self
    }

    /// Sets `key` when a value was given.
    pub fn set_some<T: Into<toml::Value>>(
        &mut self,
        key: &'static str,
        value: Option<T>,
    ) -> &mut Overrides {
        if let Some(value) = value {
            self.set(key, value);
        }
        self
    }

    /// Removes the file's `key`: a flag that replaces one setting with
    /// another (a Glean key file instead of a key URL).
    pub fn remove(&mut self, key: &'static str) -> &mut Overrides {
        self.0.push((key, None));
        self
    }

    fn apply(&self, table: &mut toml::Table) -> Result<(), ConfigError> {
        for (key, value) in &self.0 {
            let mut parts: Vec<&str> = key.split('.').collect();
            let Some(last) = parts.pop() else { continue };
            let mut at = &mut *table;
            for part in parts {
                let entry = at
                    .entry(part)
                    .or_insert_with(|| toml::Value::Table(toml::Table::new()));
                at = match entry {
                    toml::Value::Table(inner) => inner,
                    _ => {
                        return Err(ConfigError::Invalid(format!(
                            "{part} must be a table, to set {key}"
                        )));
                    }
                };
            }
            match value {
                Some(value) => at.insert(last.to_owned(), value.clone()),
                None => at.remove(last),
            };
        }
        Ok(())
    }
}

/// A configuration file's text, and its name for messages.
fn read_file(path: &Path) -> Result<(String, String), ConfigError> {
    let source = path.display().to_string();
    match std::fs::read_to_string(path) {
        Ok(text) => Ok((text, source)),
        Err(e) => Err(ConfigError::Read {
            path: source,
            source: e,
        }),
    }
}

/// A TOML error in `source`, as the start reports it.
fn parse_error(source: &str) -> impl Fn(toml::de::Error) -> ConfigError + '_ {
    move |e| ConfigError::Parse {
        path: source.to_owned(),
        source: Box::new(e),
    }
}

impl Config {
    /// The file (or nothing: every default), `overrides` laid over it,
    /// read into types once.
    pub fn load(path: Option<&Path>, overrides: &Overrides) -> Result<Config, ConfigError> {
        let Some(path) = path else {
            return Config::read("", "flags and environment", overrides);
        };
        let (text, source) = read_file(path)?;
        Config::read(&text, &source, overrides)
    }

    pub fn from_file(path: &Path) -> Result<Config, ConfigError> {
        Config::load(Some(path), &Overrides::default())
    }

    /// `[store]` alone, for the commands that open only the store
    /// (`audit`, `backup`): the rest of the file, credentials that only
    /// the server's environment supplies included, is not theirs to check.
    pub fn store_from_file(path: &Path) -> Result<StoreConfig, ConfigError> {
        let (text, source) = read_file(path)?;
        let mut table = toml::from_str::<toml::Table>(&text).map_err(parse_error(&source))?;
        rewrite_deprecated(&mut table)?;
        match table.remove("store") {
            Some(store) => store.try_into().map_err(parse_error(&source)),
            None => Ok(StoreConfig::default()),
        }
    }

    /// A file's text alone (tests and examples).
    pub fn from_toml(text: &str) -> Result<Config, ConfigError> {
        Config::read(text, "the text", &Overrides::default())
    }

    /// `text` (from `source`, for messages) with `overrides` laid over it.
    fn read(text: &str, source: &str, overrides: &Overrides) -> Result<Config, ConfigError> {
        let mut table = toml::from_str::<toml::Table>(text).map_err(parse_error(source))?;
        overrides.apply(&mut table)?;
        let deprecations = rewrite_deprecated(&mut table)?;
        for warning in &deprecations {
            tracing::warn!(source, "{warning}");
        }
        let mut config: Config = toml::Value::Table(table)
            .try_into()
            .map_err(parse_error(source))?;
        config.deprecations = deprecations;
        Ok(config)
    }

    /// Checks what serde cannot: combinations of settings.
    pub fn validate(&self) -> Result<(), ConfigError> {
        self.validate_without_glean()?;
        if self.glean.keys.is_none() {
            return Err(ConfigError::Invalid(
                "no Glean verification key: set glean.key_file (--glean-key) or glean.url (--glean-url), \
                 or, for development only, allow_unsigned (--allow-unsigned)"
                    .into(),
            ));
        }
        Ok(())
    }

    /// [`Config::validate`] for a server without Glean's door (`jira-action
    /// mcp` on stdio): no call comes through Glean there, so no Glean key
    /// is needed.
    pub fn validate_without_glean(&self) -> Result<(), ConfigError> {
        let jira = &self.jira;
        if jira.auth() == AuthMode::Oauth {
            // The site and cloud id come from the stored connection.
            self.oauth.app()?;
        } else if jira.url.is_none() {
            return Err(ConfigError::Invalid(
                "jira.url (--jira-url) is required outside the sandbox".into(),
            ));
        }
        match (jira.auth(), jira.flavor) {
            (AuthMode::Pat | AuthMode::Password, FlavorSetting::Cloud) => {
                return Err(ConfigError::Invalid(
                    "auth = pat and auth = password are for Jira Data Center and Server; on Cloud use api-token or oauth (or set jira.flavor = \"datacenter\")".into(),
                ));
            }
            (AuthMode::ApiToken | AuthMode::Oauth, FlavorSetting::DataCenter) => {
                return Err(ConfigError::Invalid(
                    "auth = api-token and auth = oauth are for Jira Cloud; on Data Center use pat, password or passthrough".into(),
                ));
            }
            _ => {}
        }
        for (level, id) in &jira.priorities {
            let level_ok = level.parse::<u8>().is_ok_and(|l| (1..=5).contains(&l));
            if !level_ok || id.trim().is_empty() {
                return Err(ConfigError::Invalid(format!(
                    "jira.priorities: {level} = {id:?} (keys are 1 to 5, values priority ids)"
                )));
            }
        }
        let limits = &self.limits;
        if limits.max_body_bytes == 0
            || limits.max_concurrent_requests == 0
            || limits.header_read_timeout.is_zero()
            || limits.idle_timeout.is_zero()
            || limits.max_connections == 0
        {
            return Err(ConfigError::Invalid(
                "limits must be greater than zero".into(),
            ));
        }
        if self.lease() <= self.request_timeout() {
            return Err(ConfigError::Invalid(
                "store.lease must exceed limits.request_timeout, or a slow request could be taken over and create twice".into(),
            ));
        }
        if self.store.wait_for_in_progress >= self.limits.request_timeout {
            return Err(ConfigError::Invalid(
                "store.wait_for_in_progress must be less than limits.request_timeout, so that a repeat gets request_in_progress rather than a timeout".into(),
            ));
        }
        crate::store::Location::parse(&self.store.url)
            .map_err(|e| ConfigError::Invalid(format!("store.url: {e}")))?;
        self.validate_sign_in()?;
        Ok(())
    }

    /// `[mcp.oauth]`: an upstream that can name the person on this Jira.
    pub(crate) fn validate_sign_in(&self) -> Result<(), ConfigError> {
        let oauth = &self.mcp.oauth;
        if !oauth.enabled {
            return Ok(());
        }
        match oauth.upstream {
            Upstream::Oidc => match oauth.issuer.as_deref().map(Url::parse) {
                Some(Ok(issuer)) if is_issuer_url(&issuer) => {}
                Some(_) => {
                    return Err(ConfigError::Invalid(
                        "mcp.oauth.issuer must be an https URL (http only on a loopback address, for tests)".into(),
                    ));
                }
                None => {
                    return Err(ConfigError::Invalid(
                        "mcp.oauth.upstream = \"oidc\" needs mcp.oauth.issuer: the provider's issuer URL".into(),
                    ));
                }
            },
            Upstream::Atlassian if self.jira.flavor == FlavorSetting::DataCenter => {
                return Err(ConfigError::Invalid(
                    "mcp.oauth.upstream = \"atlassian\" names people by Atlassian account id, which Jira Data Center does not have; use upstream = \"oidc\" with your OpenID Connect provider there".into(),
                ));
            }
            Upstream::Atlassian => {}
        }
        if self.jira.credentials.is_passthrough() {
            return Err(ConfigError::Invalid(
                "mcp.oauth needs server-held Jira credentials (auth = api-token or oauth): /mcp is off in passthrough mode".into(),
            ));
        }
        if oauth.client_id.is_none() || oauth.client_secret.is_none() {
            return Err(ConfigError::Invalid(
                "mcp.oauth needs client_id and client_secret (JIRA_ACTION_MCP_OAUTH_CLIENT_SECRET): the sign-in app registered with Atlassian or the OpenID Connect provider".into(),
            ));
        }
        if oauth.access_token_ttl.is_zero()
            || oauth.refresh_token_ttl.is_zero()
            || oauth.authorization_ttl.is_zero()
            || oauth.client_metadata_timeout.is_zero()
        {
            return Err(ConfigError::Invalid(
                "mcp.oauth lifetimes and client_metadata_timeout must be greater than zero".into(),
            ));
        }
        Ok(())
    }

    /// The settings of a project, found by key or id.
    pub fn project(&self, id: &str, key: &str) -> Option<&ProjectSettings> {
        self.projects.get(key).or_else(|| self.projects.get(id))
    }

    /// The Jira priority id for a Glean priority 1..=5.
    pub fn priority_id(&self, level: u8) -> String {
        self.jira
            .priorities
            .get(&level.to_string())
            .cloned()
            .unwrap_or_else(|| level.to_string())
    }

    pub fn request_timeout(&self) -> Duration {
        self.limits.request_timeout
    }

    /// How long after a create with an unknown outcome its request may be
    /// looked up again (see `jira.outcome_settle`).
    pub fn outcome_settle(&self) -> Duration {
        self.jira
            .outcome_settle
            .unwrap_or(self.jira.request_timeout + Duration::from_secs(5))
    }

    /// How long a request in progress holds its identity (see `lease`).
    pub fn lease(&self) -> Duration {
        self.store
            .lease
            .unwrap_or(self.request_timeout() + Duration::from_secs(5))
    }
}

/// An issuer jira-action may trust: HTTPS, or plain HTTP to this machine
/// (the tests' provider). OpenID Connect Discovery requires `https`.
fn is_issuer_url(issuer: &Url) -> bool {
    match issuer.scheme() {
        "https" => issuer.host().is_some(),
        "http" => matches!(
            issuer.host(),
            Some(url::Host::Domain("localhost"))
                | Some(url::Host::Ipv4(std::net::Ipv4Addr::LOCALHOST))
                | Some(url::Host::Ipv6(std::net::Ipv6Addr::LOCALHOST))
        ),
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_full_file() {
        let config = Config::from_toml(
            r#"
            listen = "0.0.0.0:9000"
            description_format = "plain"
            [jira]
            url = "https://example.atlassian.net"
            auth = "api-token"
            email = "bot@example.com"
            api_token = "secret"
            [jira.priorities]
            1 = "10000"
            [cache]
            user_ttl_secs = 10
            [glean]
            url = "https://acme-be.glean.com"
            "#,
        )
        .expect("valid config");
        assert_eq!(config.listen.port(), 9000);
        assert_eq!(config.jira.auth(), AuthMode::ApiToken);
        assert_eq!(config.priority_id(1), "10000");
        assert_eq!(config.priority_id(2), "2");
        assert_eq!(config.cache.user_ttl, Duration::from_secs(10));
        assert_eq!(config.cache.negative_ttl, Duration::from_secs(60));
        assert_eq!(config.description_format, DescriptionFormat::Plain);
        config.validate().expect("consistent");
    }

    #[test]
    fn rejects_unknown_keys_and_bad_combinations() {
        assert!(Config::from_toml("lisen = \"127.0.0.1:1\"").is_err());
        // A missing credential stops the read itself, naming what to set.
        let missing =
            Config::from_toml("[jira]\nurl = \"https://x.atlassian.net\"\nauth = \"api-token\"\n")
                .expect_err("no email, no token");
        assert!(
            missing.to_string().contains(
                "jira.email is required when jira.auth = \"api-token\": set it in the file or JIRA_ACTION_API_EMAIL"
            ),
            "{missing}"
        );
        let config = Config::from_toml(
            "[jira]\nurl = \"https://x.atlassian.net\"\n[jira.priorities]\n7 = \"1\"\n",
        )
        .expect("parses");
        assert!(config.validate().is_err());
    }

    #[test]
    fn each_mode_names_the_credential_it_misses() {
        for (file, message) in [
            (
                "auth = \"api-token\"\nemail = \"a@b.c\"",
                "jira.api_token is required when jira.auth = \"api-token\": set it in the file or JIRA_ACTION_API_TOKEN (--api-token)",
            ),
            (
                "auth = \"pat\"",
                "jira.pat is required when jira.auth = \"pat\": set it in the file or JIRA_ACTION_JIRA_PAT",
            ),
            (
                "auth = \"password\"\npassword = \"p\"",
                "jira.username is required when jira.auth = \"password\"",
            ),
            (
                "auth = \"password\"\nusername = \"u\"",
                "jira.password is required when jira.auth = \"password\"",
            ),
        ] {
            let error = Config::from_toml(&format!("[jira]\n{file}\n"))
                .expect_err(file)
                .to_string();
            assert!(error.contains(message), "{file}: {error}");
        }
        let config =
            Config::from_toml("[jira]\nauth = \"password\"\nusername = \"u\"\npassword = \"p\"\n")
                .expect("complete");
        assert!(matches!(
            config.jira.credentials,
            JiraCredentials::Password { ref username, .. } if username == "u"
        ));
        assert!(matches!(
            config.jira.credentials.client_auth(),
            jira::Auth::Basic { ref email, .. } if email == "u"
        ));
        assert!(matches!(
            Config::default().jira.credentials,
            JiraCredentials::Passthrough
        ));
    }

    #[test]
    fn flags_and_environment_are_laid_over_the_file() {
        let file = "listen = \"0.0.0.0:9000\"\n[jira]\nurl = \"https://file.atlassian.net\"\n\
                    auth = \"api-token\"\nemail = \"file@example.com\"\n";
        // The file alone lacks the token; the environment completes it.
        assert!(Config::from_toml(file).is_err());
        let mut overrides = Overrides::default();
        overrides
            .set("jira.api_token", "from-env")
            .set("jira.url", "https://flag.atlassian.net/")
            .set("store.url", "postgres://db/jira")
            .set_some("public_url", None::<&str>);
        let config = Config::read(file, "test", &overrides).expect("complete");
        assert_eq!(config.listen.port(), 9000, "the file's, untouched");
        assert_eq!(
            config.jira.url.as_ref().map(Url::as_str),
            Some("https://flag.atlassian.net/")
        );
        assert_eq!(config.store.url, "postgres://db/jira");
        assert!(config.public_url.is_none());
        match &config.jira.credentials {
            JiraCredentials::ApiToken { email, token } => {
                use secrecy::ExposeSecret as _;
                assert_eq!(email, "file@example.com");
                assert_eq!(token.expose_secret(), "from-env");
            }
            other => panic!("{other:?}"),
        }
        // A flag's value is checked as the file's would be.
        let mut bad = Overrides::default();
        bad.set("jira.auth", "kerberos");
        assert!(Config::read(file, "test", &bad).is_err());
        let mut removed = Overrides::default();
        removed.remove("listen").set("jira.api_token", "t");
        let config = Config::read(file, "test", &removed).expect("the default");
        assert_eq!(config.listen.port(), 8080);
    }

    #[test]
    fn store_and_audit_settings_parse_and_are_checked() {
        let config = Config::from_toml(
            "[jira]\nurl = \"https://x.atlassian.net\"\n[glean]\nallow_unsigned = true\n\
             [store]\nurl = \"postgres://db/jira\"\nidempotency_window_secs = 60\n\
             [audit]\nretention_days = 30\nrecord_descriptions = true\n",
        )
        .expect("parses");
        assert_eq!(config.store.url, "postgres://db/jira");
        assert_eq!(config.store.idempotency_window, Duration::from_secs(60));
        assert_eq!(config.audit.retention, Duration::from_secs(30 * 86_400));
        assert!(config.audit.record_descriptions);
        assert_eq!(config.lease(), Duration::from_secs(30));
        config.validate().expect("consistent");
        let mut short = config.clone();
        short.store.lease = Some(Duration::from_secs(10));
        assert!(short.validate().is_err(), "a lease shorter than a request");
        let mut long_wait = config.clone();
        long_wait.store.wait_for_in_progress = Duration::from_secs(60);
        assert!(long_wait.validate().is_err());
        let mut bad = config;
        bad.store.url = "mysql://db/jira".into();
        assert!(bad.validate().is_err());
        assert_eq!(Config::default().store.url, "jira-action.db");
    }

    #[test]
    fn durations_take_units_and_the_deprecated_keys_keep_their_meaning() {
        let config = Config::from_toml(
            "[jira]\nrequest_timeout = \"1m 30s\"\nretry_budget = \"500ms\"\n\
             [limits]\nidle_timeout = \"2s\"\n[audit]\nretention = \"7days\"\n\
             [mcp.oauth]\naccess_token_ttl = \"1h\"\n",
        )
        .expect("durations with units");
        assert_eq!(config.jira.request_timeout, Duration::from_secs(90));
        assert_eq!(config.jira.retry_budget, Duration::from_millis(500));
        assert_eq!(config.limits.idle_timeout, Duration::from_secs(2));
        assert_eq!(config.audit.retention, Duration::from_secs(7 * 86_400));
        assert_eq!(
            config.mcp.oauth.access_token_ttl,
            Duration::from_secs(3_600)
        );
        assert!(Config::from_toml("[jira]\nrequest_timeout = \"soon\"\n").is_err());

        // The old keys: a number of ms, s or days, as before.
        let old = Config::from_toml(
            "[jira]\nrequest_timeout_ms = 1500\noutcome_settle_ms = 0\n\
             [cache]\nuser_ttl_secs = 10\n[audit]\nretention_days = 30\n\
             [store]\nlease_secs = 40\nwait_for_in_progress_ms = 250\n\
             [mcp.oauth]\nclient_metadata_timeout_ms = 200\n",
        )
        .expect("deprecated keys still read");
        assert_eq!(old.jira.request_timeout, Duration::from_millis(1_500));
        assert_eq!(old.jira.outcome_settle, Some(Duration::ZERO));
        assert_eq!(old.cache.user_ttl, Duration::from_secs(10));
        assert_eq!(old.audit.retention, Duration::from_secs(30 * 86_400));
        assert_eq!(old.lease(), Duration::from_secs(40));
        assert_eq!(old.store.wait_for_in_progress, Duration::from_millis(250));
        assert_eq!(
            old.mcp.oauth.client_metadata_timeout,
            Duration::from_millis(200)
        );
        // Kept for `doctor`, one line each, saying what to write.
        assert_eq!(old.deprecations.len(), 7, "{:?}", old.deprecations);
        assert!(
            old.deprecations.contains(
                &"store.lease_secs is deprecated: write store.lease = \"40s\"".to_owned()
            ),
            "{:?}",
            old.deprecations
        );
        assert!(config.deprecations.is_empty());
        let mut table: toml::Table =
            toml::from_str("[limits]\nidle_timeout_ms = 300\n").expect("toml");
        let warnings = rewrite_deprecated(&mut table).expect("one key");
        assert_eq!(
            warnings,
            ["limits.idle_timeout_ms is deprecated: write limits.idle_timeout = \"300ms\""]
        );

        // Both forms of one key: which would win is not guessed.
        let both = Config::from_toml("[store]\nlease_secs = 40\nlease = \"40s\"\n")
            .expect_err("both given")
            .to_string();
        assert!(
            both.contains("store.lease_secs and store.lease are both set"),
            "{both}"
        );
        let not_a_number = Config::from_toml("[jira]\nretry_budget_ms = \"2s\"\n")
            .expect_err("the old key takes a number")
            .to_string();
        assert!(
            not_a_number.contains("jira.retry_budget_ms"),
            "{not_a_number}"
        );
        // The defaults, unchanged by the rename.
        let defaults = Config::default();
        assert_eq!(defaults.limits.request_timeout, Duration::from_secs(25));
        assert_eq!(defaults.audit.retention, Duration::from_secs(90 * 86_400));
        assert_eq!(defaults.outcome_settle(), Duration::from_secs(15));
        assert_eq!(defaults.lease(), Duration::from_secs(30));
    }

    #[test]
    fn allow_lists_match_emails_and_domains() {
        let access: AccessConfig = toml::from_str(
            r#"
            callers = ["boss@corp.com", " Example.com", "@team.io"]
            projects = ["DEMO", "10001 "]
            "#,
        )
        .unwrap();
        assert!(access.caller_allowed("boss@corp.com"));
        assert!(!access.caller_allowed("other@corp.com"));
        assert!(access.caller_allowed("anyone@example.com"));
        assert!(!access.caller_allowed("anyone@notexample.com"));
        assert!(!access.caller_allowed("anyone@sub.example.com"));
        assert!(access.caller_allowed("x@team.io"));
        assert!(access.project_allowed("10000", "DEMO"));
        assert!(access.project_allowed("10001", "OPS"));
        assert!(!access.project_allowed("10002", "HR"));
        assert!(access.caller_allowed("Boss@Corp.com"));
        assert!(AccessConfig::default().caller_allowed("a@b.c"));
        assert!(AccessConfig::default().project_allowed("1", "A"));
    }

    #[test]
    fn malformed_allow_list_entries_stop_the_server_at_start() {
        for (callers, projects) in [
            ("[\"\"]", "[]"),
            ("[\"a b@example.com\"]", "[]"),
            ("[\"@\"]", "[]"),
            ("[\"a@b@c\"]", "[]"),
            ("[\"@a@b\"]", "[]"),
            ("[]", "[\" \"]"),
        ] {
            let text = format!("callers = {callers}\nprojects = {projects}\n");
            let error = toml::from_str::<AccessConfig>(&text)
                .unwrap_err()
                .to_string();
            assert!(error.contains("access."), "{text}: {error}");
        }
    }

    #[test]
    fn refuses_to_start_without_a_key_source_unless_told() {
        let mut config =
            Config::from_toml("[jira]\nurl = \"https://x.atlassian.net\"\n").expect("parses");
        assert_eq!(config.glean.keys, None);
        assert!(config.validate().is_err());
        assert!(
            config.validate_without_glean().is_ok(),
            "no Glean door, no key"
        );
        config.glean.keys = Some(GleanKeys::Url(
            "https://acme-be.glean.com".parse().expect("url"),
        ));
        assert!(config.validate().is_ok());
        config.glean.keys = Some(GleanKeys::Unsigned);
        assert!(config.validate().is_ok());
    }

    #[test]
    fn one_glean_key_source_is_read_and_two_are_refused() {
        for (file, keys) in [
            ("key_file = \"k.pem\"", GleanKeys::File("k.pem".into())),
            (
                "url = \"https://acme-be.glean.com\"",
                GleanKeys::Url("https://acme-be.glean.com".parse().expect("url")),
            ),
            ("allow_unsigned = true", GleanKeys::Unsigned),
        ] {
            let config = Config::from_toml(&format!("[glean]\n{file}\n")).expect(file);
            assert_eq!(config.glean.keys, Some(keys), "{file}");
        }
        let explicit = Config::from_toml("[glean]\nkey_file = \"k.pem\"\nallow_unsigned = false\n")
            .expect("allow_unsigned = false is no source");
        assert_eq!(explicit.glean.keys, Some(GleanKeys::File("k.pem".into())));
        for (file, named) in [
            (
                "key_file = \"k.pem\"\nurl = \"https://acme-be.glean.com\"",
                "glean.key_file and glean.url",
            ),
            (
                "url = \"https://acme-be.glean.com\"\nallow_unsigned = true",
                "glean.url and glean.allow_unsigned",
            ),
        ] {
            let error = Config::from_toml(&format!("[glean]\n{file}\n"))
                .expect_err(file)
                .to_string();
            assert!(error.contains(named), "{file}: {error}");
        }
        // A source given by flag replaces the file's.
        let mut flag = Overrides::default();
        flag.set("glean.url", "https://flag-be.glean.com")
            .remove("glean.key_file");
        let config = Config::read("[glean]\nkey_file = \"k.pem\"\n", "test", &flag)
            .expect("the flag's source alone");
        assert_eq!(
            config.glean.keys,
            Some(GleanKeys::Url(
                "https://flag-be.glean.com".parse().expect("url")
            ))
        );
    }

    #[test]
    fn sign_in_is_off_by_default_and_checked_when_on() {
        let base = "[jira]\nurl = \"https://x.atlassian.net\"\nauth = \"api-token\"\nemail = \"a@b.c\"\napi_token = \"t\"\n[glean]\nallow_unsigned = true\n";
        let config = Config::from_toml(base).expect("parses");
        assert!(!config.mcp.oauth.enabled);
        assert_eq!(
            config.mcp.oauth.access_token_ttl,
            Duration::from_secs(3_600)
        );
        config.validate().expect("consistent");
        let on = format!(
            "{base}[mcp.oauth]\nenabled = true\nclient_id = \"id\"\nclient_secret = \"s\"\n\
             [[mcp.oauth.clients]]\nclient_id = \"c\"\nredirect_uris = [\"https://a.example/cb\"]\n"
        );
        let config = Config::from_toml(&on).expect("parses");
        config.validate().expect("consistent");
        assert_eq!(config.mcp.oauth.clients[0].client_id, "c");
        // Metadata documents: on, any public host, no private addresses.
        assert!(config.mcp.oauth.client_metadata_documents);
        assert!(config.mcp.oauth.client_metadata_hosts.is_empty());
        assert!(!config.mcp.oauth.allow_private_client_metadata);
        let mut no_time = config.clone();
        no_time.mcp.oauth.client_metadata_timeout = Duration::ZERO;
        assert!(no_time.validate().is_err());
        let mut no_secret = config.clone();
        no_secret.mcp.oauth.client_secret = None;
        assert!(no_secret.validate().is_err());
        let mut oidc = config.clone();
        oidc.mcp.oauth.upstream = Upstream::Oidc;
        assert!(oidc.validate().is_err(), "oidc needs an issuer");
        for refused in ["http://login.example.com", "not a url", "ftp://127.0.0.1"] {
            oidc.mcp.oauth.issuer = Some(refused.into());
            assert!(oidc.validate().is_err(), "{refused}");
        }
        oidc.mcp.oauth.issuer = Some("https://login.example.com/tenant".into());
        oidc.validate().expect("an https issuer");
        oidc.mcp.oauth.issuer = Some("http://127.0.0.1:8080".into());
        oidc.validate().expect("a loopback issuer");
        let mut passthrough = config.clone();
        passthrough.jira.credentials = JiraCredentials::Passthrough;
        assert!(passthrough.validate().is_err());
        let mut data_center = config;
        data_center.jira.credentials = JiraCredentials::Pat {
            token: SecretString::from("p"),
        };
        data_center.jira.flavor = FlavorSetting::DataCenter;
        let refused = data_center.validate().expect_err("no account ids there");
        assert!(refused.to_string().contains("Data Center"), "{refused}");
        // An OpenID Connect provider names people by email: fine there.
        data_center.mcp.oauth.upstream = Upstream::Oidc;
        data_center.mcp.oauth.issuer = Some("https://login.example.com".into());
        data_center.validate().expect("oidc on Data Center");
    }

    #[test]
    fn debug_prints_no_secret() {
        let config = Config::from_toml(
            "[jira]\nauth = \"api-token\"\nemail = \"a@b.c\"\napi_token = \"hunter2-token\"\n\
             [oauth]\nclient_secret = \"oauth-secret-77\"\ntoken_key = \"token-key-88\"\n\
             [store]\nurl = \"postgres://u:store-pw-99@h/db\"\n",
        )
        .expect("parses");
        let printed = format!("{config:?}");
        for secret in [
            "hunter2-token",
            "oauth-secret-77",
            "token-key-88",
            "store-pw-99",
        ] {
            assert!(!printed.contains(secret), "{secret} in {printed}");
        }
        assert!(printed.contains("postgres://u:***@h/db"), "{printed}");
    }
}
