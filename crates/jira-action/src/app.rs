//! Building the server from its configuration, and running it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use jira::{ApiBase, Auth, ClientConfig, Flavor, JiraClient, RetryPolicy};
use serde_json::Value;
use tokio::net::TcpListener;
use tokio::sync::{Semaphore, oneshot};
use tokio::task::JoinHandle;
use url::Url;

use crate::config::{AuthMode, Config, FlavorSetting, GleanKeys, JiraCredentials};
use crate::glean::signature::{KeySource, Verifier};
use crate::glean::{manifest, openapi};
use crate::health::Readiness;
use crate::http::refusals::{self, Refusals};
use crate::metrics::Metrics;
use crate::oauth::TokenManager;
use crate::oauth::crypto::TokenCipher;
use crate::resolve::Resolver;
use crate::server::ConnectionLimits;
use crate::store::{Clock, Store, system_clock};

/// Everything a request handler needs, shared by all requests; built
/// once by [`AppState::new`] and read through its accessors.
pub struct AppState {
    config: Config,
    /// The Jira client with the server's own credentials (none in
    /// passthrough mode, where each request brings its own).
    jira: JiraClient,
    resolver: Resolver,
    in_flight: Arc<Semaphore>,
    /// Open client connections (against `limits.max_connections`).
    connections: Arc<Semaphore>,
    /// The cap `connections` started with.
    max_connections: usize,
    /// `None` only when unsigned calls are explicitly allowed.
    verifier: Option<Verifier>,
    openapi: Value,
    openapi_yaml: String,
    manifest: Value,
    /// Idempotency claims and the audit trail.
    store: Store,
    /// What `/metrics` exports; the Jira client reports its calls here.
    metrics: Arc<Metrics>,
    /// `/readyz`'s checks, Jira's cached.
    readiness: Readiness,
    /// `oauth` mode: the connection whose access token every call uses.
    tokens: Option<Arc<TokenManager>>,
    /// Refused signatures, counted until their summary is written.
    refusals: Arc<Refusals>,
    /// "Now" for idempotency claims and settle times (see
    /// `jira.outcome_settle`); the system clock unless a test moves it.
    clock: Clock,
    /// Sign-in for `/mcp` (`[mcp.oauth]`), when on.
    signin: Option<Arc<crate::signin::SignIn>>,
}

/// Read-only access: the state is shared by every request and never
/// changes after it is built.
impl AppState {
    pub fn config(&self) -> &Config {
        &self.config
    }

    pub fn jira(&self) -> &JiraClient {
        &self.jira
    }

    pub fn resolver(&self) -> &Resolver {
        &self.resolver
    }

    pub fn in_flight(&self) -> &Arc<Semaphore> {
        &self.in_flight
    }

    pub fn connections(&self) -> &Arc<Semaphore> {
        &self.connections
    }

    pub fn max_connections(&self) -> usize {
        self.max_connections
    }

    pub fn verifier(&self) -> &Option<Verifier> {
        &self.verifier
    }

    pub fn openapi(&self) -> &Value {
        &self.openapi
    }

    pub fn openapi_yaml(&self) -> &str {
        &self.openapi_yaml
    }

    pub fn manifest(&self) -> &Value {
        &self.manifest
    }

    pub fn store(&self) -> &Store {
        &self.store
    }

    pub fn metrics(&self) -> &Arc<Metrics> {
        &self.metrics
    }

    pub fn readiness(&self) -> &Readiness {
        &self.readiness
    }

    pub fn tokens(&self) -> &Option<Arc<TokenManager>> {
        &self.tokens
    }

    pub fn refusals(&self) -> &Arc<Refusals> {
        &self.refusals
    }

    pub fn clock(&self) -> &Clock {
        &self.clock
    }

    pub fn signin(&self) -> &Option<Arc<crate::signin::SignIn>> {
        &self.signin
    }
}

impl AppState {
    pub fn new(
        config: Config,
        public_url: &str,
        store: Store,
        tokens: Option<Arc<TokenManager>>,
        clock: Clock,
        verifier: Option<Verifier>,
    ) -> anyhow::Result<AppState> {
        let metrics = Arc::new(Metrics::default());
        let observer = jira::Observer(Arc::clone(&metrics) as Arc<dyn jira::CallObserver>);
        let jira = jira_client_observed(&config, Some(observer), tokens.as_deref())?;
        let readiness = Readiness::default();
        // A write that changes nothing live (expired rows only), so a
        // read-only or unreachable database makes the server unready.
        let probe = store.clone();
        readiness.set_store_check(Arc::new(move || {
            let store = probe.clone();
            Box::pin(async move {
                store
                    .purge(Duration::MAX)
                    .await
                    .map(drop)
                    .map_err(|e| e.to_string())
            })
        }));
        let openapi = openapi::document(public_url);
        let max_connections = crate::server::connection_cap(config.limits.max_connections);
        let signin = match config.mcp.oauth.enabled {
            true => Some(Arc::new(crate::signin::SignIn::new(
                &config.mcp.oauth,
                public_url,
            )?)),
            false => None,
        };
        Ok(AppState {
            signin,
            connections: Arc::new(Semaphore::new(max_connections)),
            max_connections,
            verifier,
            resolver: Resolver::new(&config.cache, &config.access),
            in_flight: Arc::new(Semaphore::new(config.limits.max_concurrent_requests)),
            openapi_yaml: openapi::yaml(&openapi)
                .context("cannot write the OpenAPI document as YAML")?,
            openapi,
            manifest: manifest::document(public_url, config.jira.auth()),
            jira,
            config,
            store,
            metrics,
            readiness,
            tokens,
            refusals: Arc::new(Refusals::default()),
            clock,
        })
    }
}

/// The verifier for the configured key source; a key file is read and
/// checked now, so a bad key stops the start rather than every request.
pub(crate) fn signature_verifier(config: &Config) -> anyhow::Result<Option<Verifier>> {
    let source = match &config.glean.keys {
        Some(GleanKeys::File(path)) => {
            let key = std::fs::read_to_string(path)
                .with_context(|| format!("cannot read the Glean key {}", path.display()))?;
            KeySource::Pem(key)
        }
        Some(GleanKeys::Url(url)) => KeySource::Url(url.clone()),
        Some(GleanKeys::Unsigned) => {
            tracing::warn!("Glean signatures are NOT verified (allow_unsigned)");
            return Ok(None);
        }
        None => anyhow::bail!("no Glean verification key configured"),
    };
    let http = reqwest::Client::builder()
        .connect_timeout(Duration::from_secs(5))
        .timeout(Duration::from_secs(10))
        .redirect(reqwest::redirect::Policy::none())
        .build()?;
    Ok(Some(Verifier::new(source, http)?))
}

/// The Jira client for the configured URL form and credentials.
/// In `oauth` mode, `tokens` is the stored connection: it names the site
/// and cloud id, and each call is given its current access token.
pub fn jira_client(config: &Config, tokens: Option<&TokenManager>) -> anyhow::Result<JiraClient> {
    jira_client_observed(config, None, tokens)
}

/// [`jira_client`], reporting every call to `observer` (metrics).
pub fn jira_client_observed(
    config: &Config,
    observer: Option<jira::Observer>,
    tokens: Option<&TokenManager>,
) -> anyhow::Result<JiraClient> {
    let jira = &config.jira;
    let mut client_config = match (&jira.credentials, tokens) {
        (JiraCredentials::Oauth, Some(tokens)) => {
            let mut client_config = ClientConfig::new(ApiBase::Gateway {
                api_url: config.oauth.api_url.clone(),
                cloud_id: tokens.cloud_id.clone(),
            });
            client_config.site_url = Some(
                Url::parse(&tokens.site_url)
                    .with_context(|| format!("the stored site URL {}", tokens.site_url))?,
            );
            client_config
        }
        (JiraCredentials::Oauth, None) => anyhow::bail!("auth = oauth without an OAuth connection"),
        _ => {
            // Not required when the file is read: `--sandbox` sets it later.
            let url = jira
                .url
                .clone()
                .context("jira.url is required outside the sandbox: set it in the file or JIRA_ACTION_JIRA_URL (--jira-url)")?;
            let mut client_config = ClientConfig::new(api_base(&url, jira.discover_cloud_id)?);
            client_config.site_url = jira.site_url.clone();
            client_config
        }
    };
    client_config.connect_timeout = jira.connect_timeout;
    client_config.request_timeout = jira.request_timeout;
    client_config.retry = RetryPolicy {
        budget: jira.retry_budget,
        ..RetryPolicy::default()
    };
    client_config.max_requests_per_second = jira.max_requests_per_second;
    client_config.observer = observer;
    // `auto` is resolved by `open` before any client is built for serving;
    // a client built before that (detection itself) speaks Cloud's v3
    // only where nothing depends on it.
    client_config.flavor = flavor_of(config);
    Ok(JiraClient::new(
        client_config,
        jira.credentials.client_auth(),
    )?)
}

/// The flavour a configuration names: the fixed one, Cloud for OAuth
/// (Atlassian's gateway is Cloud only), else Cloud until detected.
pub fn flavor_of(config: &Config) -> Flavor {
    match (config.jira.auth(), config.jira.flavor.fixed()) {
        (AuthMode::Oauth, _) => Flavor::Cloud,
        (AuthMode::Pat | AuthMode::Password, None) => Flavor::DataCenter,
        (_, Some(flavor)) => flavor,
        (_, None) => Flavor::Cloud,
    }
}

/// Settles `jira.flavor = "auto"`: asks `GET /rest/api/2/serverInfo` once
/// (which both Cloud and Data Center answer) and fixes the flavour in the
/// configuration, so that everything built from it agrees. A Jira that
/// cannot be asked stops the start with what to set instead. Returns the
/// flavour and how it was settled, for `doctor` to show.
pub async fn resolve_flavor(config: &mut Config) -> anyhow::Result<(Flavor, String)> {
    // OAuth reaches Cloud only (through Atlassian's gateway). PAT and
    // password name Data Center too, but are still checked against the
    // Jira, so that a PAT configured for a Cloud site stops the start.
    if config.jira.flavor != FlavorSetting::Auto || config.jira.auth() == AuthMode::Oauth {
        let flavor = flavor_of(config);
        tracing::info!(flavor = %flavor, "Jira flavour (configured)");
        config.jira.flavor = setting(flavor);
        return Ok((flavor, "configured".into()));
    }
    // Asked anonymously, as Jira answers serverInfo to anyone: a wrong
    // credential is then reported as such later, not as an unknown Jira.
    let client = jira_client(config, None)?.with_auth(Auth::None);
    let info = client.server_info().await.with_context(|| {
        "jira.flavor = auto: cannot read the Jira's serverInfo; set jira.flavor (--flavor) to cloud or datacenter"
    })?;
    let flavor = info.flavor();
    tracing::info!(
        flavor = %flavor,
        deployment_type = %info.deployment_type,
        version = %info.version,
        "Jira flavour (detected from serverInfo)"
    );
    if flavor == Flavor::Cloud
        && config.jira.auth().is_static_server_credential()
        && config.jira.auth() != AuthMode::ApiToken
    {
        anyhow::bail!("this Jira is Cloud: auth = pat or password is for Data Center and Server");
    }
    if flavor == Flavor::DataCenter && config.jira.auth() == AuthMode::ApiToken {
        anyhow::bail!(
            "this Jira is Data Center or Server (serverInfo says {}): use auth = pat, password or passthrough",
            info.deployment_type
        );
    }
    config.jira.flavor = setting(flavor);
    let how = format!(
        "detected: serverInfo says {} {}",
        info.deployment_type, info.version
    );
    Ok((flavor, how))
}

fn setting(flavor: Flavor) -> FlavorSetting {
    match flavor {
        Flavor::Cloud => FlavorSetting::Cloud,
        Flavor::DataCenter => FlavorSetting::DataCenter,
    }
}

/// `…/ex/jira/<cloudId>` is the OAuth gateway with a known cloud id; the
/// gateway's bare origin (or `discover_cloud_id`) means the cloud id of the
/// site is looked up; anything else is a site.
fn api_base(url: &Url, discover: bool) -> anyhow::Result<ApiBase> {
    let segments: Vec<&str> = url
        .path_segments()
        .map(|s| s.filter(|s| !s.is_empty()).collect())
        .unwrap_or_default();
    if let Some(at) = segments.windows(2).position(|w| w == ["ex", "jira"]) {
        let cloud_id = segments
            .get(at + 2)
            .context("the gateway URL needs a cloud id after /ex/jira/")?;
        let mut api_url = url.clone();
        api_url.set_path(&segments[..at].join("/"));
        return Ok(ApiBase::Gateway {
            api_url,
            cloud_id: (*cloud_id).to_owned(),
        });
    }
    if discover || url.host_str() == Some("api.atlassian.com") {
        return Ok(ApiBase::GatewayDiscover {
            api_url: url.clone(),
        });
    }
    Ok(ApiBase::Site(url.clone()))
}

/// A running server: its address, and a way to stop it.
pub struct RunningServer {
    pub addr: SocketAddr,
    pub state: Arc<AppState>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<std::io::Result<()>>,
    retention: JoinHandle<()>,
    refusals: JoinHandle<()>,
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.retention.abort();
        self.refusals.abort();
    }
}

impl RunningServer {
    /// Stops accepting, lets requests in progress finish, and waits.
    pub async fn shutdown(mut self) -> anyhow::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        self.wait_and_flush().await
    }

    /// Runs until the server stops by itself.
    pub async fn wait(mut self) -> anyhow::Result<()> {
        self.wait_and_flush().await
    }

    /// Waits for the server, then writes the refused signatures' summary
    /// of the minute in progress.
    async fn wait_and_flush(&mut self) -> anyhow::Result<()> {
        (&mut self.task).await??;
        let state = &self.state;
        refusals::write(&state.store, state.refusals.take_all()).await;
        Ok(())
    }

    /// The handle that stops the server when sent to.
    pub fn stop_handle(&mut self) -> Option<oneshot::Sender<()>> {
        self.stop.take()
    }
}

/// Binds `config.listen` (port 0 picks a free port) and serves.
pub async fn start(config: Config) -> anyhow::Result<RunningServer> {
    start_with_clock(config, system_clock()).await
}

/// [`start`] with "now" taken from `clock` (idempotency windows and
/// leases, settle times, OAuth token expiry): tests move it by hand.
pub async fn start_with_clock(config: Config, clock: Clock) -> anyhow::Result<RunningServer> {
    let listener = TcpListener::bind(config.listen)
        .await
        .with_context(|| format!("cannot listen on {}", config.listen))?;
    let addr = listener.local_addr()?;
    let public_url = config
        .public_url
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| format!("http://{addr}"));
    let (state, retention) = open_with_clock(config, &public_url, clock, GleanDoor::Open).await?;
    let public = Url::parse(&public_url).with_context(|| format!("public URL {public_url}"))?;
    let router = crate::http::router(Arc::clone(&state), &public);
    let refusals = tokio::spawn(refusals::flush_every_minute(
        Arc::clone(&state.refusals),
        state.store.clone(),
    ));
    let (stop, stopped) = oneshot::channel::<()>();
    let limits = &state.config.limits;
    let connection_limits = ConnectionLimits {
        header_read_timeout: limits.header_read_timeout,
        idle_timeout: limits.idle_timeout,
    };
    let task = tokio::spawn(crate::server::serve(
        listener,
        router,
        connection_limits,
        Arc::clone(&state.connections),
        Arc::clone(&state.metrics),
        async {
            let _ = stopped.await;
        },
    ));
    Ok(RunningServer {
        addr,
        state,
        stop: Some(stop),
        task,
        retention,
        refusals,
    })
}

/// The application without a listener and without Glean's door, for
/// `jira-action mcp` (stdio): the store (and its retention task, which the
/// caller keeps), the OAuth connection, the state; no Glean key.
pub async fn open_without_glean(
    config: Config,
    public_url: &str,
) -> anyhow::Result<(Arc<AppState>, JoinHandle<()>)> {
    open_with_clock(config, public_url, system_clock(), GleanDoor::Closed).await
}

/// Whether the application serves Glean's door, whose calls need the
/// signature verifier.
#[derive(Clone, Copy, PartialEq, Eq)]
enum GleanDoor {
    Open,
    Closed,
}

/// The application without a listener, on `clock` (see [`start_with_clock`]).
async fn open_with_clock(
    mut config: Config,
    public_url: &str,
    clock: Clock,
    glean: GleanDoor,
) -> anyhow::Result<(Arc<AppState>, JoinHandle<()>)> {
    resolve_flavor(&mut config).await?;
    // Again now that the flavour is known: Atlassian sign-in is refused on
    // Data Center, however it was found to be one.
    config.validate_sign_in()?;
    let store = Store::open(&config.store.url, config.store.max_connections)
        .await
        .with_context(|| format!("cannot open the store {}", redact(&config.store.url)))?;
    tracing::info!(backend = store.backend(), "store ready");
    let retention = tokio::spawn(enforce_retention(
        store.clone(),
        config.audit.retention,
        config.audit.purge_interval.max(Duration::from_secs(1)),
    ));
    let tokens = match config.jira.credentials {
        JiraCredentials::Oauth => Some(Arc::new(
            open_oauth(&config, &store, Arc::clone(&clock)).await?,
        )),
        _ => None,
    };
    let verifier = match glean {
        GleanDoor::Open => signature_verifier(&config)?,
        GleanDoor::Closed => None,
    };
    let state = Arc::new(AppState::new(
        config, public_url, store, tokens, clock, verifier,
    )?);
    Ok((state, retention))
}

/// The OAuth connection `jira-action oauth login` stored; without one the
/// server does not start, since it could create nothing.
pub async fn open_oauth(
    config: &Config,
    store: &Store,
    clock: Clock,
) -> anyhow::Result<TokenManager> {
    let app = config.oauth.app()?;
    let cipher = token_cipher(config)?;
    let margin = config.oauth.refresh_margin;
    let tokens = TokenManager::open(app, store.clone(), cipher, margin, clock)
        .await
        .context("auth = oauth")?;
    if tokens.reconsent_needed() {
        tracing::error!(
            "the stored OAuth connection needs consent again: an admin must run `jira-action oauth login`"
        );
    }
    tracing::info!(site = %tokens.site_url, "OAuth connection loaded");
    Ok(tokens)
}

/// The key sealing stored OAuth tokens: `oauth.token_key`, or the
/// environment variable `JIRA_ACTION_TOKEN_KEY`.
pub fn token_cipher(config: &Config) -> anyhow::Result<TokenCipher> {
    Ok(match &config.oauth.token_key {
        Some(key) => TokenCipher::from_base64(key)?,
        None => TokenCipher::from_env()?,
    })
}

/// Deletes audit records past their retention and idempotency rows past
/// their window, now and then every `interval`. Several processes sharing
/// a database may all run it: the deletes are idempotent.
async fn enforce_retention(store: Store, retention: Duration, interval: Duration) {
    loop {
        match store.purge(retention).await {
            Ok((0, 0)) => {}
            Ok((audit, idempotency)) => {
                tracing::info!(audit, idempotency, "retention: old records deleted");
            }
            Err(err) => tracing::warn!(cause = %err, "retention: purge failed"),
        }
        tokio::time::sleep(interval).await;
    }
}

/// A store URL fit for logs and errors: without its password.
pub fn redact(url: &str) -> String {
    match Url::parse(url) {
        Ok(mut parsed) if parsed.password().is_some() => {
            let _ = parsed.set_password(Some("***"));
            parsed.to_string()
        }
        _ => url.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(url: &str, discover: bool) -> ApiBase {
        api_base(&Url::parse(url).expect("url"), discover).expect("base")
    }

    #[test]
    fn tells_the_url_forms_apart() {
        assert!(matches!(
            base("https://x.atlassian.net", false),
            ApiBase::Site(_)
        ));
        match base("https://api.atlassian.com/ex/jira/abc-123/", false) {
            ApiBase::Gateway { api_url, cloud_id } => {
                assert_eq!(cloud_id, "abc-123");
                assert_eq!(api_url.as_str(), "https://api.atlassian.com/");
            }
            other => panic!("unexpected {other:?}"),
        }
        assert!(matches!(
            base("https://api.atlassian.com", false),
            ApiBase::GatewayDiscover { .. }
        ));
        assert!(matches!(
            base("http://127.0.0.1:1", true),
            ApiBase::GatewayDiscover { .. }
        ));
        assert!(
            api_base(
                &Url::parse("https://api.atlassian.com/ex/jira/").expect("url"),
                false
            )
            .is_err()
        );
    }
}
