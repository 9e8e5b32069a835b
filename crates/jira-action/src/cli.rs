//! The command line: `serve`, and the documents Glean is registered with.

use std::convert::Infallible;
use std::fmt;
use std::io::IsTerminal;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand, ValueEnum};
use secrecy::SecretString;
use url::Url;

use crate::config::{AuthMode, Config, FlavorSetting, GleanKeys, Overrides};
use crate::glean::{manifest, openapi};

/// A secret given as a flag or environment variable (a token, a client
/// secret, an `Authorization` header): `{:?}` prints `[redacted]`.
#[derive(Clone)]
pub struct SecretArg(pub String);

impl FromStr for SecretArg {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<SecretArg, Infallible> {
        Ok(SecretArg(s.to_owned()))
    }
}

impl fmt::Debug for SecretArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("[redacted]")
    }
}

/// A store URL given as a flag or environment variable: `{:?}` prints it
/// without its password.
#[derive(Clone)]
pub struct StoreUrlArg(pub String);

impl FromStr for StoreUrlArg {
    type Err = Infallible;
    fn from_str(s: &str) -> Result<StoreUrlArg, Infallible> {
        Ok(StoreUrlArg(s.to_owned()))
    }
}

impl fmt::Debug for StoreUrlArg {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&crate::app::redact(&self.0), f)
    }
}

#[derive(Debug, Parser)]
#[command(
    name = "jira-action",
    version,
    about = "A Glean tool that files Jira issues on people's behalf."
)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the tool (POST /create_issue).
    Serve(Box<ServeArgs>),
    /// Print the OpenAPI document to register the tool with in Glean.
    Openapi {
        /// The tool's public base URL, as Glean will call it.
        #[arg(long)]
        url: Url,
        /// Print JSON instead of YAML.
        #[arg(long)]
        json: bool,
    },
    /// Check the configured site: token, permissions, create screens,
    /// email visibility, rate limits, latency, Glean key, store. Exits
    /// non-zero when any check fails.
    Doctor(Box<DoctorArgs>),
    /// Print the audit trail: who filed what, when, through the assistant.
    Audit(Box<crate::audit::cli::AuditArgs>),
    /// Write a consistent copy of an SQLite store, also while it is in use.
    Backup(Box<crate::audit::cli::BackupArgs>),
    /// The server's own OAuth 2.0 (3LO) connection to Jira (`auth = oauth`).
    #[command(subcommand)]
    Oauth(OAuthCommand),
    /// Serve the tools over MCP on stdin/stdout, for an assistant on this
    /// machine (Claude Desktop, Cursor): every call is for one person.
    /// `mcp grants` and `mcp revoke` manage sign-in grants.
    Mcp(Box<McpArgs>),
    /// Ask a running server's `/healthz` and exit non-zero unless it
    /// answers 200: a container health check needs no curl beside it.
    Healthcheck {
        /// The liveness URL to ask.
        #[arg(
            long,
            env = "JIRA_ACTION_HEALTHCHECK_URL",
            default_value = "http://127.0.0.1:8080/healthz"
        )]
        url: Url,
        /// Give up after this many seconds.
        #[arg(long, default_value_t = 5)]
        timeout_secs: u64,
    },
    /// Print the (legacy) Glean tool manifest.
    Manifest {
        #[arg(long)]
        url: Url,
        #[arg(long, value_enum, default_value = "passthrough")]
        auth: AuthMode,
    },
}

#[derive(Debug, Subcommand)]
enum OAuthCommand {
    /// Connect: prints the consent URL, receives the redirect on the app's
    /// loopback redirect URI, picks the site and stores the sealed tokens.
    Login {
        #[command(flatten)]
        config: Box<ConfigArgs>,
        /// The site to connect (https://<site>.atlassian.net or its cloud
        /// id) when the account reaches several; otherwise asked.
        #[arg(long)]
        site: Option<String>,
        /// How long to wait for the consent, in seconds.
        #[arg(long, default_value_t = 300)]
        wait_secs: u64,
    },
    /// Print the stored connection: site, scopes, expiry, last refresh.
    Status {
        #[command(flatten)]
        config: Box<ConfigArgs>,
    },
}

#[derive(Debug, Args)]
struct DoctorArgs {
    #[command(flatten)]
    common: ConfigArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    glean: GleanArgs,
    /// An email to resolve as Glean would send it (repeatable).
    #[arg(long = "email")]
    emails: Vec<String>,
    /// Passthrough mode: the Authorization header Glean forwards
    /// (e.g. "Bearer <token>"), to check its permissions.
    #[arg(long, env = "JIRA_ACTION_DOCTOR_AUTHORIZATION", hide_env_values = true)]
    authorization: Option<SecretArg>,
}

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
struct McpArgs {
    #[command(subcommand)]
    grants: Option<crate::signin::cli::GrantsCommand>,
    #[command(flatten)]
    common: ConfigArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    /// The person every call is for (their email); or `mcp.stdio_user`.
    #[arg(long, env = "JIRA_ACTION_MCP_USER")]
    user: Option<String>,
}

/// What every command that opens the application reads: the configuration
/// file, and the flags that say how to reach Jira and the store.
#[derive(Debug, Args)]
struct ConfigArgs {
    /// TOML configuration file.
    #[arg(long, env = "JIRA_ACTION_CONFIG")]
    config: Option<PathBuf>,
    /// Jira REST base: https://<site>.atlassian.net or https://api.atlassian.com/ex/jira/<cloudId>.
    #[arg(long, env = "JIRA_ACTION_JIRA_URL")]
    jira_url: Option<Url>,
    /// The site URL for browse links (defaults to the Jira URL).
    #[arg(long, env = "JIRA_ACTION_SITE_URL")]
    site_url: Option<Url>,
    #[arg(long, value_enum, env = "JIRA_ACTION_AUTH")]
    auth: Option<AuthMode>,
    /// api-token mode: the Atlassian account email.
    #[arg(long, env = "JIRA_ACTION_API_EMAIL")]
    api_email: Option<String>,
    /// api-token mode: the API token (prefer the environment variable).
    #[arg(long, env = "JIRA_ACTION_API_TOKEN", hide_env_values = true)]
    api_token: Option<SecretArg>,
    /// Which Jira: cloud, datacenter (Data Center or Server), or auto (ask serverInfo at start).
    /// With --sandbox: which the embedded simulator plays.
    #[arg(long, value_enum, env = "JIRA_ACTION_JIRA_FLAVOR")]
    flavor: Option<FlavorSetting>,
    /// pat mode (Data Center): the personal access token (prefer the environment variable).
    #[arg(long, env = "JIRA_ACTION_JIRA_PAT", hide_env_values = true)]
    jira_pat: Option<SecretArg>,
    /// password mode (Data Center): the Jira username.
    #[arg(long, env = "JIRA_ACTION_JIRA_USERNAME")]
    jira_username: Option<String>,
    /// password mode (Data Center): the password (prefer the environment variable).
    #[arg(long, env = "JIRA_ACTION_JIRA_PASSWORD", hide_env_values = true)]
    jira_password: Option<SecretArg>,
    /// The store: postgres://…, sqlite://PATH or a file path.
    #[arg(long, env = "JIRA_ACTION_STORE_URL", hide_env_values = true)]
    store_url: Option<StoreUrlArg>,
    /// oauth mode: the OAuth app's client id.
    #[arg(long, env = "JIRA_ACTION_OAUTH_CLIENT_ID")]
    oauth_client_id: Option<String>,
    /// oauth mode: the OAuth app's secret (prefer the environment variable).
    #[arg(long, env = "JIRA_ACTION_OAUTH_CLIENT_SECRET", hide_env_values = true)]
    oauth_client_secret: Option<SecretArg>,
}

/// The embedded Jira simulator (`serve`, `mcp` and `doctor`).
#[derive(Debug, Args)]
struct SandboxArgs {
    /// Run against an embedded Jira simulator with a demo site (implies --allow-unsigned).
    #[arg(long)]
    sandbox: bool,
    /// Number of demo users in the sandbox's directory.
    #[arg(long, default_value_t = 300)]
    sandbox_users: usize,
}

impl SandboxArgs {
    /// Starts the simulator when asked and points `config` at it; the
    /// handle keeps it running.
    async fn prepare(
        &self,
        config: &mut Config,
    ) -> anyhow::Result<Option<crate::sandbox::Sandbox>> {
        if !self.sandbox {
            return Ok(None);
        }
        // A key given beside --sandbox is still checked.
        if config.glean.keys.is_none() {
            config.glean.keys = Some(GleanKeys::Unsigned);
        }
        crate::sandbox::prepare(config, self.sandbox_users)
            .await
            .map(Some)
    }
}

/// How Glean's signatures are checked (`serve` and `doctor`).
#[derive(Debug, Args)]
struct GleanArgs {
    /// Glean's public key: a PEM file, or a file with the base64 DER Glean publishes.
    #[arg(long, env = "JIRA_ACTION_GLEAN_KEY")]
    glean_key: Option<PathBuf>,
    /// The Glean backend (https://<instance>-be.glean.com) to fetch the key from.
    #[arg(long, env = "JIRA_ACTION_GLEAN_URL")]
    glean_url: Option<Url>,
    /// Accept calls without a valid Glean signature (development only).
    #[arg(long)]
    allow_unsigned: bool,
}

/// The keys that each name a source of Glean's key; at most one is set.
const GLEAN_SOURCES: [&str; 3] = ["glean.key_file", "glean.url", "glean.allow_unsigned"];

/// Sets `key`, one of [`GLEAN_SOURCES`], and removes the file's others.
fn replace_glean_source(
    overrides: &mut Overrides,
    key: &'static str,
    value: impl Into<toml::Value>,
) {
    for other in GLEAN_SOURCES.into_iter().filter(|other| *other != key) {
        overrides.remove(other);
    }
    overrides.set(key, value);
}

impl GleanArgs {
    /// A key source given here replaces the file's.
    fn overrides(&self, overrides: &mut Overrides) {
        if let Some(path) = &self.glean_key {
            replace_glean_source(overrides, "glean.key_file", path.display().to_string());
        }
        if let Some(url) = &self.glean_url {
            replace_glean_source(overrides, "glean.url", url.as_str());
        }
        if self.allow_unsigned {
            replace_glean_source(overrides, "glean.allow_unsigned", true);
        }
    }
}

/// `serve`: everything the HTTP server reads.
#[derive(Debug, Args)]
struct ServeArgs {
    #[command(flatten)]
    common: ConfigArgs,
    #[command(flatten)]
    sandbox: SandboxArgs,
    #[command(flatten)]
    glean: GleanArgs,
    /// Address to listen on (port 0 picks a free port; the bound address is printed).
    #[arg(long, env = "JIRA_ACTION_LISTEN")]
    listen: Option<SocketAddr>,
    /// The tool's public base URL (for the OpenAPI document and manifest).
    #[arg(long, env = "JIRA_ACTION_PUBLIC_URL")]
    public_url: Option<Url>,
    /// API keys of the MCP endpoint, comma-separated (prefer the environment variable).
    #[arg(
        long,
        env = "JIRA_ACTION_MCP_API_KEYS",
        hide_env_values = true,
        value_delimiter = ','
    )]
    mcp_api_keys: Vec<SecretArg>,
    /// Sign-in for /mcp: the sign-in app's secret, Atlassian's or the
    /// OpenID Connect provider's (prefer the environment variable).
    #[arg(
        long,
        env = "JIRA_ACTION_MCP_OAUTH_CLIENT_SECRET",
        hide_env_values = true
    )]
    mcp_oauth_client_secret: Option<SecretArg>,
}

impl ServeArgs {
    fn config(&self) -> anyhow::Result<Config> {
        let mut overrides = self.common.overrides();
        self.glean.overrides(&mut overrides);
        overrides
            .set_some("listen", self.listen.map(|a| a.to_string()))
            .set_some("public_url", self.public_url.as_ref().map(Url::as_str));
        let keys: Vec<toml::Value> = self
            .mcp_api_keys
            .iter()
            .map(|key| key.0.trim())
            .filter(|key| !key.is_empty())
            .map(toml::Value::from)
            .collect();
        if !keys.is_empty() {
            overrides.set("mcp.api_keys", keys);
        }
        overrides.set_some(
            "mcp.oauth.client_secret",
            self.mcp_oauth_client_secret.as_ref().map(|s| s.0.as_str()),
        );
        self.common.load(&overrides)
    }
}

/// A value-enum flag as the file writes it (the same kebab-case names).
fn enum_name(value: &impl ValueEnum) -> Option<String> {
    value
        .to_possible_value()
        .map(|possible| possible.get_name().to_owned())
}

impl ConfigArgs {
    /// What these flags (or their environment variables) set.
    fn overrides(&self) -> Overrides {
        let mut overrides = Overrides::default();
        overrides
            .set_some("jira.url", self.jira_url.as_ref().map(Url::as_str))
            .set_some("jira.site_url", self.site_url.as_ref().map(Url::as_str))
            .set_some("jira.auth", self.auth.as_ref().and_then(enum_name))
            .set_some("jira.email", self.api_email.as_deref())
            .set_some(
                "jira.api_token",
                self.api_token.as_ref().map(|s| s.0.as_str()),
            )
            .set_some("jira.flavor", self.flavor.as_ref().and_then(enum_name))
            .set_some("jira.pat", self.jira_pat.as_ref().map(|s| s.0.as_str()))
            .set_some("jira.username", self.jira_username.as_deref())
            .set_some(
                "jira.password",
                self.jira_password.as_ref().map(|s| s.0.as_str()),
            )
            .set_some("store.url", self.store_url.as_ref().map(|s| s.0.as_str()))
            .set_some("oauth.client_id", self.oauth_client_id.as_deref())
            .set_some(
                "oauth.client_secret",
                self.oauth_client_secret.as_ref().map(|s| s.0.as_str()),
            );
        overrides
    }

    /// The file with `overrides` laid over it.
    fn load(&self, overrides: &Overrides) -> anyhow::Result<Config> {
        Ok(Config::load(self.config.as_deref(), overrides)?)
    }

    fn config(&self) -> anyhow::Result<Config> {
        self.load(&self.overrides())
    }
}

pub fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Serve(args) => {
            init_logging();
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(serve(*args))
        }
        Command::Openapi { url, json } => {
            let document = openapi::document(url.as_str());
            if json {
                println!("{}", serde_json::to_string_pretty(&document)?);
            } else {
                print!("{}", openapi::yaml(&document)?);
            }
            Ok(())
        }
        Command::Doctor(args) => {
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            let failed = runtime.block_on(doctor(*args))?;
            if failed {
                std::process::exit(1);
            }
            Ok(())
        }
        Command::Audit(args) => store_runtime()?.block_on(crate::audit::cli::audit(*args)),
        Command::Backup(args) => store_runtime()?.block_on(crate::audit::cli::backup(*args)),
        Command::Oauth(command) => {
            init_logging();
            store_runtime()?.block_on(oauth(command))
        }
        Command::Mcp(mut args) => {
            init_logging();
            if let Some(command) = args.grants.take() {
                return store_runtime()?.block_on(crate::signin::cli::run(command));
            }
            let runtime = tokio::runtime::Builder::new_multi_thread()
                .enable_all()
                .build()
                .context("cannot start the async runtime")?;
            runtime.block_on(mcp_stdio(*args))
        }
        Command::Healthcheck { url, timeout_secs } => {
            store_runtime()?.block_on(healthcheck(url, Duration::from_secs(timeout_secs)))
        }
        Command::Manifest { url, auth } => {
            let document = manifest::document(url.as_str(), auth);
            println!("{}", serde_json::to_string_pretty(&document)?);
            Ok(())
        }
    }
}

async fn healthcheck(url: Url, timeout: Duration) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(timeout)
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let response = client
        .get(url.clone())
        .send()
        .await
        .with_context(|| format!("{url} did not answer"))?;
    anyhow::ensure!(
        response.status() == reqwest::StatusCode::OK,
        "{url} answered {}",
        response.status()
    );
    Ok(())
}

fn store_runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")
}

async fn serve(args: ServeArgs) -> anyhow::Result<()> {
    let mut config = args.config()?;
    // Kept alive for as long as the server runs.
    let _sim = args.sandbox.prepare(&mut config).await?;
    // The sandbox's MCP endpoint takes a development key, printed below,
    // unless keys were configured.
    let mcp_key = match args.sandbox.sandbox && config.mcp.api_keys.is_empty() {
        true => {
            let key = format!("sandbox-{}", uuid::Uuid::new_v4().simple());
            config.mcp.api_keys = vec![SecretString::from(key.clone())];
            key
        }
        false => "<one of the configured mcp.api_keys>".to_owned(),
    };
    config.validate()?;
    let sandbox = args.sandbox.sandbox;
    let sign_in = config.mcp.oauth.enabled;
    let store_url = config.store.url.clone();
    let mut server = crate::app::start(config).await?;
    let addr = server.addr;
    tracing::info!(%addr, "listening");
    println!("jira-action listening on http://{addr}");
    if sandbox {
        println!("{}", crate::sandbox::banner(addr, &mcp_key, sign_in));
        println!("The audit trail: jira-action audit --store-url {store_url}\n");
    }
    let stop = server.stop_handle();
    tokio::spawn(async move {
        shutdown_signal().await;
        tracing::info!("shutting down");
        if let Some(stop) = stop {
            let _ = stop.send(());
        }
    });
    server.wait().await
}

/// `jira-action mcp`: the MCP tools on stdin/stdout (logs on stderr).
async fn mcp_stdio(args: McpArgs) -> anyhow::Result<()> {
    use rmcp::ServiceExt as _;
    let mut config = args.common.config()?;
    let _sim = args.sandbox.prepare(&mut config).await?;
    config.validate_without_glean()?;
    if config.jira.credentials.is_passthrough() {
        anyhow::bail!(
            "jira-action mcp needs server-held Jira credentials: set auth = api-token or oauth (--auth)"
        );
    }
    let user = args
        .user
        .clone()
        .or_else(|| config.mcp.stdio_user.clone())
        .context("name the person the calls are for: --user EMAIL (or mcp.stdio_user)")?;
    let user = crate::glean::email::parse(&user).map_err(|reason| {
        anyhow::anyhow!("--user {user:?} is not one plain email address ({reason})")
    })?;
    let public_url = config
        .public_url
        .as_ref()
        .map(|u| u.as_str().to_owned())
        .unwrap_or_else(|| format!("http://{}", config.listen));
    let (state, retention) = crate::app::open_without_glean(config, &public_url).await?;
    tracing::info!(%user, "MCP on stdio");
    let served = crate::mcp::Handler::stdio(state, user)
        .serve(rmcp::transport::stdio())
        .await
        .context("MCP on stdio")?;
    let ended = served.waiting().await;
    retention.abort();
    ended.context("MCP on stdio")?;
    Ok(())
}

async fn oauth(command: OAuthCommand) -> anyhow::Result<()> {
    match command {
        OAuthCommand::Login {
            config,
            site,
            wait_secs,
        } => {
            let config = config.config()?;
            let app = config.oauth.app()?;
            let cipher = crate::app::token_cipher(&config)?;
            let store = crate::store::Store::open(&config.store.url, 1).await?;
            let chosen = crate::oauth::login::login(
                &app,
                &config.oauth.api_url,
                &store,
                &cipher,
                site.as_deref(),
                &TerminalPrompt,
                std::time::Duration::from_secs(wait_secs),
            )
            .await;
            store.close().await;
            let chosen = chosen?;
            println!("Connected to {} (cloud id {}).", chosen.url, chosen.id);
            println!("Servers with auth = \"oauth\" and this store now use it.");
            Ok(())
        }
        OAuthCommand::Status { config } => {
            let config = config.config()?;
            let store = crate::store::Store::open(&config.store.url, 1).await?;
            let row = store.oauth_get().await;
            store.close().await;
            let Some(row) = row? else {
                println!("Not connected: run `jira-action oauth login`.");
                std::process::exit(1);
            };
            // Whether this machine's key opens the stored tokens.
            let key = match crate::app::token_cipher(&config) {
                Ok(cipher) => match cipher.open(&row.access_token) {
                    Ok(_) => "opens the stored tokens".to_owned(),
                    Err(err) => format!("does NOT open the stored tokens ({err})"),
                },
                Err(err) => format!("not available ({err})"),
            };
            let now = crate::store::now_ms();
            let expiry = if row.expires_at_ms > now {
                format!("in {} s", (row.expires_at_ms - now) / 1000)
            } else {
                format!(
                    "{} s ago (refreshed on the next request)",
                    (now - row.expires_at_ms) / 1000
                )
            };
            print!(
                "site          {}\ncloud id      {}\nscopes        {}\nstatus        {}\naccess token  expires {} ({})\nlast refresh  {}\nrefresh token {}\ntoken key     {}\n",
                row.site_url,
                row.cloud_id,
                row.scopes,
                row.status,
                crate::store::rfc3339(row.expires_at_ms),
                expiry,
                crate::store::rfc3339(row.refreshed_at_ms),
                if row.refresh_token.is_some() {
                    "stored"
                } else {
                    "none (offline_access missing: the connection ends when the access token expires)"
                },
                key,
            );
            if row.status != crate::oauth::STATUS_OK {
                println!("Re-consent needed: run `jira-action oauth login`.");
                std::process::exit(1);
            }
            Ok(())
        }
    }
}

/// `oauth login` on a terminal: prints the URL, asks which site.
struct TerminalPrompt;

impl crate::oauth::login::Prompt for TerminalPrompt {
    fn open(&self, url: &Url) {
        println!("Open this URL in a browser and grant access:\n\n  {url}\n");
        println!("Waiting for the redirect to the app's redirect URI...");
    }

    fn choose(&self, sites: &[jira::AccessibleResource]) -> Option<usize> {
        println!("The account reaches several Jira sites:");
        for (n, site) in sites.iter().enumerate() {
            println!("  {}. {} ({})", n + 1, site.url, site.name);
        }
        print!("Which one (1-{})? ", sites.len());
        use std::io::Write as _;
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        std::io::stdin().read_line(&mut answer).ok()?;
        let n: usize = answer.trim().parse().ok()?;
        (1..=sites.len()).contains(&n).then(|| n - 1)
    }
}

/// Prints the table; true when a check failed.
async fn doctor(args: DoctorArgs) -> anyhow::Result<bool> {
    let mut overrides = args.common.overrides();
    args.glean.overrides(&mut overrides);
    let mut config = args.common.load(&overrides)?;
    let _sim = args.sandbox.prepare(&mut config).await?;
    let options = crate::doctor::Options {
        emails: args.emails,
        authorization: args.authorization.map(|a| SecretString::from(a.0)),
    };
    let findings = crate::doctor::run(&config, &options).await;
    print!("{}", crate::doctor::render(&findings));
    Ok(crate::doctor::failed(&findings))
}

async fn shutdown_signal() {
    let ctrl_c = tokio::signal::ctrl_c();
    #[cfg(unix)]
    {
        let mut term =
            match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(term) => term,
                Err(_) => {
                    let _ = ctrl_c.await;
                    return;
                }
            };
        tokio::select! {
            _ = ctrl_c => {}
            _ = term.recv() => {}
        }
    }
    #[cfg(not(unix))]
    let _ = ctrl_c.await;
}

/// JSON logs for machines, readable ones on a terminal; `RUST_LOG` filters.
fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr);
    if std::io::stderr().is_terminal() {
        builder.init();
    } else {
        builder.json().init();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parses(args: &[&str]) -> bool {
        Cli::try_parse_from(std::iter::once("jira-action").chain(args.iter().copied())).is_ok()
    }

    #[test]
    fn each_command_takes_only_the_flags_it_uses() {
        // The server's own flags.
        assert!(parses(&[
            "serve",
            "--listen",
            "127.0.0.1:0",
            "--public-url",
            "https://t.example.com"
        ]));
        assert!(parses(&[
            "serve",
            "--sandbox",
            "--glean-key",
            "k.pem",
            "--mcp-api-keys",
            "a,b"
        ]));
        // doctor checks the Glean key and may run on the sandbox, but listens nowhere.
        assert!(parses(&[
            "doctor",
            "--sandbox",
            "--glean-url",
            "https://g.example.com",
            "--email",
            "a@b.c"
        ]));
        assert!(!parses(&["doctor", "--listen", "127.0.0.1:0"]));
        assert!(!parses(&["doctor", "--mcp-api-keys", "a"]));
        // The stdio server: Jira and the store, no listener, no keys.
        assert!(parses(&[
            "mcp",
            "--sandbox",
            "--user",
            "a@b.c",
            "--store-url",
            "x.db"
        ]));
        assert!(!parses(&[
            "mcp",
            "--user",
            "a@b.c",
            "--listen",
            "127.0.0.1:0"
        ]));
        assert!(!parses(&["mcp", "--user", "a@b.c", "--glean-key", "k.pem"]));
        // The OAuth connection: Jira, OAuth and the store only.
        assert!(parses(&[
            "oauth",
            "status",
            "--config",
            "c.toml",
            "--store-url",
            "x.db"
        ]));
        assert!(parses(&[
            "oauth",
            "login",
            "--oauth-client-id",
            "id",
            "--site",
            "s"
        ]));
        assert!(!parses(&["oauth", "status", "--listen", "127.0.0.1:0"]));
        assert!(!parses(&["oauth", "login", "--sandbox"]));
        assert!(!parses(&["oauth", "status", "--allow-unsigned"]));
    }

    #[test]
    fn flags_complete_and_override_the_file() {
        let dir = tempfile::tempdir().expect("a temp dir");
        let path = dir.path().join("jira-action.toml");
        std::fs::write(
            &path,
            "listen = \"0.0.0.0:9000\"\n[jira]\nurl = \"https://file.atlassian.net\"\n\
             auth = \"passthrough\"\n[glean]\nurl = \"https://acme-be.glean.com\"\n",
        )
        .expect("written");
        let path = path.display().to_string();
        let serve = |extra: &[&str]| {
            let args = ["jira-action", "serve", "--config", path.as_str()]
                .into_iter()
                .chain(extra.iter().copied());
            match Cli::try_parse_from(args).expect("parses").command {
                Command::Serve(args) => args.config(),
                _ => unreachable!("serve"),
            }
        };
        let config = serve(&[
            "--auth",
            "pat",
            "--flavor",
            "datacenter",
            "--jira-pat",
            "pat-1",
            "--listen",
            "127.0.0.1:0",
            "--glean-key",
            "k.pem",
            "--mcp-api-keys",
            "a, ,b",
        ])
        .expect("complete");
        assert_eq!(config.listen.port(), 0);
        assert_eq!(config.jira.flavor, FlavorSetting::DataCenter);
        assert!(matches!(
            config.jira.credentials,
            crate::config::JiraCredentials::Pat { .. }
        ));
        assert_eq!(
            config.jira.url.as_ref().map(Url::as_str),
            Some("https://file.atlassian.net/"),
            "what no flag names stays the file's"
        );
        assert_eq!(config.mcp.api_keys.len(), 2);
        assert_eq!(
            config.glean.keys,
            Some(GleanKeys::File(PathBuf::from("k.pem"))),
            "the flag's key source replaces the file's"
        );
        // A mode whose credential neither file nor flag gives stops here.
        let missing = serve(&["--auth", "password", "--jira-username", "u"])
            .expect_err("no password")
            .to_string();
        assert!(missing.contains("jira.password is required"), "{missing}");
    }

    #[test]
    fn debug_of_the_arguments_prints_no_secret() {
        let store = "postgres://u:store-pw-3@h/db";
        let commands: [&[&str]; 4] = [
            &[
                "serve",
                "--api-token",
                "api-token-1",
                "--oauth-client-secret",
                "client-secret-2",
                "--store-url",
                store,
            ],
            &[
                "doctor",
                "--authorization",
                "Bearer doctor-token-4",
                "--store-url",
                store,
            ],
            &["audit", "--store-url", store],
            &["oauth", "login", "--oauth-client-secret", "client-secret-2"],
        ];
        for command in commands {
            let args = std::iter::once("jira-action").chain(command.iter().copied());
            let cli = Cli::try_parse_from(args).expect("parses");
            let printed = format!("{cli:?}");
            for secret in [
                "api-token-1",
                "client-secret-2",
                "store-pw-3",
                "doctor-token-4",
            ] {
                assert!(!printed.contains(secret), "{secret} in {printed}");
            }
        }
    }
}
