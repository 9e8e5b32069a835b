//! `serve --sandbox`: the server against an embedded Jira simulator with a
//! demo site, so that one command shows the whole tool working.
//!
//! The simulator is linked only with the `sandbox` Cargo feature (on by
//! default); a server built without it refuses `--sandbox` with a message.

use std::net::SocketAddr;

use crate::config::Config;

/// The demo site's admin credentials (the simulator's defaults).
pub const SANDBOX_EMAIL: &str = "admin@example.com";
pub const SANDBOX_TOKEN: &str = "sandbox-token";

/// The running simulator; it stops when this is dropped.
pub struct Sandbox {
    #[cfg(feature = "sandbox")]
    _sim: jira_sim::SimHandle,
}

/// Starts the simulator and points the configuration at it: Jira Cloud,
/// or with `jira.flavor = "datacenter"` (`--flavor datacenter`) a Data
/// Center server under the context path `/jira`, reached with the demo
/// admin's personal access token.
#[cfg(feature = "sandbox")]
pub async fn prepare(config: &mut Config, users: usize) -> anyhow::Result<Sandbox> {
    use crate::config::{FlavorSetting, JiraCredentials, StoreConfig};
    use jira_sim::{Flavor, Sim, SimConfig, Site, demo};
    use secrecy::SecretString;

    let data_center = config.jira.flavor == FlavorSetting::DataCenter;
    let sim = Sim::spawn(SimConfig {
        site: Site::demo(users),
        flavor: if data_center {
            Flavor::DataCenter
        } else {
            Flavor::Cloud
        },
        context_path: data_center.then(|| "/jira".to_owned()),
        ..SimConfig::default()
    })
    .await?;
    let url = url::Url::parse(&sim.base_url())?;
    config.jira.url = Some(url.clone());
    config.jira.site_url = Some(url);
    if data_center {
        config.jira.credentials = JiraCredentials::Pat {
            token: SecretString::from(demo::ADMIN_PAT.to_owned()),
        };
    } else {
        // Pinned rather than detected: the sandbox knows what it started.
        config.jira.flavor = FlavorSetting::Cloud;
        config.jira.credentials = JiraCredentials::ApiToken {
            email: SANDBOX_EMAIL.to_owned(),
            token: SecretString::from(SANDBOX_TOKEN.to_owned()),
        };
        enable_sign_in(config, &sim.base_url())?;
    }
    // A fresh store per run, in the temp dir: the simulator starts empty,
    // so answers remembered from an earlier run would name issues that no
    // longer exist.
    if config.store.url == StoreConfig::default().url {
        let path =
            std::env::temp_dir().join(format!("jira-action-sandbox-{}.db", std::process::id()));
        for stale in ["", "-wal", "-shm"] {
            let _ = std::fs::remove_file(format!("{}{stale}", path.display()));
        }
        config.store.url = path.display().to_string();
    }
    tracing::info!(
        jira = %sim.base_url(),
        users,
        flavor = if data_center { "datacenter" } else { "cloud" },
        "sandbox: embedded Jira simulator started"
    );
    Ok(Sandbox { _sim: sim })
}

/// This build has no simulator to start.
#[cfg(not(feature = "sandbox"))]
pub async fn prepare(_config: &mut Config, _users: usize) -> anyhow::Result<Sandbox> {
    anyhow::bail!(
        "--sandbox is not available: this jira-action was built without the `sandbox` feature \
         (cargo build --features sandbox, or without --no-default-features)"
    )
}

/// Sign-in for `/mcp` with the simulator as Atlassian: a person picks a
/// demo person on its sign-in page. Settings already given are kept (an
/// `[mcp.oauth]` that is on, e.g. against a real Atlassian app).
#[cfg(feature = "sandbox")]
fn enable_sign_in(config: &mut Config, sim_url: &str) -> anyhow::Result<()> {
    use jira_sim::demo;
    use secrecy::SecretString;

    let oauth = &mut config.mcp.oauth;
    if oauth.enabled {
        return Ok(());
    }
    oauth.enabled = true;
    oauth.client_id = Some(demo::OAUTH_CLIENT_ID.to_owned());
    oauth.client_secret = Some(SecretString::from(demo::OAUTH_CLIENT_SECRET.to_owned()));
    oauth.auth_url = url::Url::parse(sim_url)?;
    oauth.api_url = url::Url::parse(sim_url)?;
    Ok(())
}

/// What to paste to see it work; `sign_in` when `/mcp` also takes
/// sign-in tokens.
pub fn banner(addr: SocketAddr, mcp_key: &str, sign_in: bool) -> String {
    let sign_in = match sign_in {
        true => format!(
            r#"
Or sign in, as each person would: point an OAuth-capable MCP client at http://{addr}/mcp
with no headers (Claude Code: claude mcp add --transport http jira http://{addr}/mcp).
It gets 401 with the protected-resource metadata, registers, and opens a browser on the
simulator's stand-in for Atlassian's sign-in: pick a demo person (Alice, the admin, ...),
then Allow on jira-action's consent page. Issues it files have that person as reporter.
"#
        ),
        false => String::new(),
    };
    format!(
        r#"
Sandbox: an embedded Jira simulator with the demo site (projects DEMO and OPS).
Glean request signatures are NOT checked in the sandbox.

Create an issue as alice@example.com:

curl -s http://{addr}/create_issue \
  -H 'Content-Type: application/json' \
  -H 'Glean-User-Email: alice@example.com' \
  -d '{{"pid": "DEMO", "issuetype": "Task", "summary": "Printer on floor 3 is jammed", "priority": 3, "components": "Backend", "description": "It **jams** on every *duplex* job.\n\n- tried power cycle\n- tried new paper"}}'

The same tools over MCP (Streamable HTTP) at http://{addr}/mcp
MCP API key (development, this run only): {mcp_key}

List the tools:

curl -s http://{addr}/mcp \
  -H 'Authorization: Bearer {mcp_key}' \
  -H 'Glean-User-Email: alice@example.com' \
  -H 'Content-Type: application/json' -H 'Accept: application/json, text/event-stream' \
  -H 'MCP-Protocol-Version: 2025-11-25' \
  -d '{{"jsonrpc": "2.0", "id": 1, "method": "tools/list"}}'

An MCP client's configuration (Claude, Cursor and others that take a URL and headers):

{{"mcpServers": {{"jira": {{"type": "http", "url": "http://{addr}/mcp",
  "headers": {{"Authorization": "Bearer {mcp_key}", "Glean-User-Email": "alice@example.com"}}}}}}}}
{sign_in}"#
    )
}
