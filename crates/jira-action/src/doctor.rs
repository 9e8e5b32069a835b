//! `jira-action doctor`: the troubleshooting list, run against the
//! configured site, as a table of checks with what to fix.

use std::time::{Duration, Instant};

use jira::{Auth, Flavor, JiraClient};
use secrecy::SecretString;

use crate::config::{AuthMode, Config, GleanKeys, ReporterPolicy};
use crate::resolve::users::{self, UserMatch};
use crate::store::{Store, StoreError};

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Pass,
    Warn,
    Fail,
    /// Not applicable here, or nothing to check with.
    Skip,
}

impl Status {
    fn label(self) -> &'static str {
        match self {
            Status::Pass => "pass",
            Status::Warn => "warn",
            Status::Fail => "FAIL",
            Status::Skip => "skip",
        }
    }
}

#[derive(Clone, Debug)]
pub struct Finding {
    pub check: String,
    pub status: Status,
    pub detail: String,
}

fn finding(check: impl Into<String>, status: Status, detail: impl Into<String>) -> Finding {
    Finding {
        check: check.into(),
        status,
        detail: detail.into(),
    }
}

/// What to check beyond the configuration.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Emails to resolve as Glean would (`--email`).
    pub emails: Vec<String>,
    /// Passthrough mode: the `Authorization` header Glean would forward.
    pub authorization: Option<SecretString>,
}

/// The permissions the tool's account needs, and what each is for.
const PERMISSIONS: [(&str, &str); 5] = [
    ("BROWSE_PROJECTS", "Browse Projects"),
    ("CREATE_ISSUES", "Create Issues"),
    ("MODIFY_REPORTER", "Modify Reporter"),
    ("ASSIGN_ISSUES", "Assign Issues"),
    ("USER_PICKER", "Browse users and groups (global)"),
];

/// How the table names each Jira.
fn flavor_label(flavor: Flavor) -> &'static str {
    match flavor {
        Flavor::Cloud => "Jira Cloud",
        Flavor::DataCenter => "Jira Data Center / Server",
    }
}

/// How long one check may spend retrying Jira.
const CHECK_BUDGET: Duration = Duration::from_secs(5);
/// At most this many projects are checked when no allow-list names them.
const MAX_PROJECTS: usize = 10;

/// Runs every check; the order is the order of the table.
pub async fn run(config: &Config, options: &Options) -> Vec<Finding> {
    let mut out = Vec::new();
    if let Err(err) = config.validate() {
        out.push(finding("configuration", Status::Fail, err.to_string()));
        return out;
    }
    out.push(match config.deprecations.as_slice() {
        [] => finding("configuration", Status::Pass, "valid"),
        deprecations => finding(
            "configuration",
            Status::Warn,
            format!("valid, with deprecated keys: {}", deprecations.join("; ")),
        ),
    });
    // Settled as the server settles it at start, so that every check below
    // speaks the Jira's own API.
    let mut config = config.clone();
    let flavor = match crate::app::resolve_flavor(&mut config).await {
        Ok((flavor, how)) => {
            out.push(finding(
                "jira flavour",
                Status::Pass,
                format!("{} ({how})", flavor_label(flavor)),
            ));
            flavor
        }
        Err(err) => {
            out.push(finding("jira flavour", Status::Fail, format!("{err:#}")));
            out.push(glean_key(&config).await);
            out.push(store(&config, Store::open(&config.store.url, 1).await).await);
            return out;
        }
    };
    let config = &config;
    // One pool for every check: the OAuth connection is read from the same
    // store whose writability is checked last.
    let opened = Store::open(&config.store.url, 1).await;
    let oauth = if config.jira.auth() == AuthMode::Oauth {
        let (found, connection) = oauth_connection(config, &opened).await;
        out.push(found);
        let Some(connection) = connection else {
            out.push(glean_key(config).await);
            out.push(store(config, opened).await);
            return out;
        };
        Some(connection)
    } else {
        None
    };
    let client = crate::app::jira_client(config, oauth.as_ref().map(|(tokens, _)| tokens));
    match client {
        Ok(client) => {
            let client = match oauth {
                Some((_, token)) => client.with_auth(Auth::Bearer(token)),
                None => client,
            };
            jira_checks(config, options, flavor, client, &mut out).await
        }
        Err(err) => out.push(finding(
            "jira client",
            Status::Fail,
            format!("{err:#}. Fix: check jira.url and the credentials"),
        )),
    }
    out.push(glean_key(config).await);
    out.push(store(config, opened).await);
    out
}

async fn jira_checks(
    config: &Config,
    options: &Options,
    flavor: Flavor,
    client: JiraClient,
    out: &mut Vec<Finding>,
) {
    let client = match (config.jira.auth(), &options.authorization) {
        (AuthMode::ApiToken | AuthMode::Oauth | AuthMode::Pat | AuthMode::Password, _) => client,
        (AuthMode::Passthrough, Some(header)) => client.with_auth(Auth::Header(header.clone())),
        (AuthMode::Passthrough, None) => {
            out.push(reachable(&client).await);
            out.push(finding(
                "token",
                Status::Skip,
                "passthrough: the server holds no token. Pass --authorization 'Bearer <token>' (or JIRA_ACTION_DOCTOR_AUTHORIZATION) to check Glean's credentials",
            ));
            out.push(latency(config, &client).await);
            out.push(headroom(&client));
            return;
        }
    };
    let token = token(flavor, &client).await;
    let valid = token.status == Status::Pass;
    out.push(token);
    if !valid {
        return;
    }
    out.push(scopes(config, &client, options).await);
    let projects = projects(config, &client).await;
    match projects {
        Ok(projects) if projects.is_empty() => out.push(finding(
            "projects",
            Status::Fail,
            "no project is visible to the tool's account. Fix: grant it Browse Projects in the projects Glean should file to",
        )),
        Ok(projects) => {
            out.push(global_permissions(&client).await);
            for key in &projects {
                out.push(project_permissions(config, &client, key).await);
            }
            for key in &projects {
                out.push(reporter_on_screen(config, &client, key).await);
            }
        }
        Err(err) => out.push(finding(
            "projects",
            Status::Fail,
            format!("cannot list projects: {err}"),
        )),
    }
    if options.emails.is_empty() {
        out.push(finding(
            "email visibility",
            Status::Skip,
            "pass --email someone@yourcompany.com (repeatable) to resolve sample people",
        ));
    }
    for email in &options.emails {
        out.push(email_visibility(flavor, &client, email).await);
    }
    out.push(latency(config, &client).await);
    out.push(headroom(&client));
}

async fn bounded<T>(future: impl std::future::Future<Output = T>) -> T {
    jira::with_retry_budget(CHECK_BUDGET, future).await
}

async fn reachable(client: &JiraClient) -> Finding {
    match bounded(client.myself()).await {
        Ok(_) | Err(jira::Error::Api { .. } | jira::Error::RateLimited { .. }) => finding(
            "jira reachable",
            Status::Pass,
            "Jira answers (passthrough: any answer counts)",
        ),
        Err(err) => finding(
            "jira reachable",
            Status::Fail,
            format!("{err}. Fix: check jira.url and that this host can reach it (proxy, firewall)"),
        ),
    }
}

async fn token(flavor: Flavor, client: &JiraClient) -> Finding {
    let fix = match flavor {
        Flavor::Cloud => {
            "create an API token at https://id.atlassian.com/manage-profile/security/api-tokens for jira.email and set JIRA_ACTION_API_TOKEN (OAuth: reconnect the tool in Glean)"
        }
        Flavor::DataCenter => {
            "as the tool's account, create a token in Jira (Profile > Personal Access Tokens) and set JIRA_ACTION_JIRA_PAT (password mode: check jira.username and JIRA_ACTION_JIRA_PASSWORD)"
        }
    };
    match bounded(client.myself()).await {
        Ok(me) => finding(
            "token",
            Status::Pass,
            format!("valid: acting as {} ({})", me.display_name, me.account_id),
        ),
        Err(jira::Error::Api { status: 401, .. }) => finding(
            "token",
            Status::Fail,
            format!("Jira refused the credentials (401). Fix: {fix}"),
        ),
        Err(err) => finding(
            "token",
            Status::Fail,
            format!("{err}. Fix: check jira.url and that this host can reach Jira"),
        ),
    }
}

/// OAuth tokens carry scopes; an API token has the account's rights.
async fn scopes(config: &Config, client: &JiraClient, options: &Options) -> Finding {
    let bearer = config.jira.auth() == AuthMode::Oauth
        || config.jira.auth() == AuthMode::Passthrough
            && options.authorization.as_ref().is_some_and(|h| {
                use secrecy::ExposeSecret;
                h.expose_secret()
                    .trim_start()
                    .to_ascii_lowercase()
                    .starts_with("bearer ")
            });
    if matches!(config.jira.auth(), AuthMode::Pat | AuthMode::Password) {
        return finding(
            "scopes",
            Status::Skip,
            "Data Center credentials have no scopes: the account's permissions apply (see below)",
        );
    }
    if !bearer {
        return finding(
            "scopes",
            Status::Skip,
            "API token: no scopes, the account's permissions apply (see below)",
        );
    }
    const NEEDED: [&str; 3] = ["read:jira-work", "write:jira-work", "read:jira-user"];
    match bounded(client.accessible_resources()).await {
        Ok(sites) => {
            let site = config.jira.site_url.as_ref().map(|u| u.as_str());
            let site = site.unwrap_or_default().trim_end_matches('/');
            let Some(found) = sites
                .iter()
                .find(|s| s.url.trim_end_matches('/').eq_ignore_ascii_case(site))
                .or_else(|| sites.first())
            else {
                return finding(
                    "scopes",
                    Status::Fail,
                    "the token reaches no Jira site. Fix: reconnect the tool in Glean with an account of the site",
                );
            };
            let missing: Vec<&str> = NEEDED
                .iter()
                .copied()
                .filter(|s| !found.scopes.iter().any(|have| have == s))
                .collect();
            if missing.is_empty() {
                finding("scopes", Status::Pass, NEEDED.join(", "))
            } else {
                finding(
                    "scopes",
                    Status::Fail,
                    format!(
                        "missing {}. Fix: add them to the OAuth app in developer.atlassian.com and reconnect",
                        missing.join(", ")
                    ),
                )
            }
        }
        Err(err) => finding("scopes", Status::Warn, format!("cannot read scopes: {err}")),
    }
}

/// The allow-listed projects, or the first few visible ones.
async fn projects(config: &Config, client: &JiraClient) -> Result<Vec<String>, jira::Error> {
    if !config.access.projects.is_empty() {
        return Ok(config.access.projects.entries().to_vec());
    }
    let found = bounded(client.search_projects(MAX_PROJECTS as u32)).await?;
    Ok(found
        .into_iter()
        .map(|p| p.key)
        .take(MAX_PROJECTS)
        .collect())
}

async fn global_permissions(client: &JiraClient) -> Finding {
    let check = "permission USER_PICKER";
    match bounded(client.my_permissions(None, &["USER_PICKER"])).await {
        Ok(granted) if granted.has("USER_PICKER") => {
            finding(check, Status::Pass, "Browse users and groups")
        }
        Ok(_) => finding(
            check,
            Status::Fail,
            "no Browse users and groups: reporters cannot be found by email. Fix: Jira admin > System > Global permissions, grant it to the tool's account",
        ),
        Err(err) => finding(check, Status::Fail, err.to_string()),
    }
}

async fn project_permissions(config: &Config, client: &JiraClient, key: &str) -> Finding {
    let check = format!("permissions {key}");
    let keys: Vec<&str> = PERMISSIONS.iter().map(|(k, _)| *k).collect();
    let granted = match bounded(client.my_permissions(Some(key), &keys)).await {
        Ok(granted) => granted,
        Err(err) => return finding(check, Status::Fail, err.to_string()),
    };
    let missing: Vec<(&str, &str)> = PERMISSIONS
        .iter()
        .copied()
        .filter(|(k, _)| *k != "USER_PICKER" && !granted.has(k))
        .collect();
    if missing.is_empty() {
        return finding(
            check,
            Status::Pass,
            "Browse, Create, Modify Reporter, Assign",
        );
    }
    let names: Vec<&str> = missing.iter().map(|(_, name)| *name).collect();
    let fatal = missing.iter().any(|(k, _)| match *k {
        "BROWSE_PROJECTS" | "CREATE_ISSUES" => true,
        "MODIFY_REPORTER" => config.reporter_policy == ReporterPolicy::Require,
        _ => false,
    });
    finding(
        check,
        if fatal { Status::Fail } else { Status::Warn },
        format!(
            "missing {}. Fix: Project settings > Permissions of {key}: grant them to the tool's account (or its role)",
            names.join(", ")
        ),
    )
}

async fn reporter_on_screen(config: &Config, client: &JiraClient, key: &str) -> Finding {
    let check = format!("reporter on screen {key}");
    let project = match bounded(client.project(key)).await {
        Ok(project) => project,
        Err(err) => return finding(check, Status::Fail, err.to_string()),
    };
    let mut without = Vec::new();
    for issue_type in &project.issue_types {
        match bounded(client.create_meta_fields(&project.id, &issue_type.id)).await {
            Ok(fields) if fields.iter().any(|f| f.field_id == "reporter") => {}
            Ok(_) => without.push(issue_type.name.clone()),
            Err(err) => return finding(check, Status::Fail, err.to_string()),
        }
    }
    if without.is_empty() {
        return finding(
            check,
            Status::Pass,
            format!("{} issue types", project.issue_types.len()),
        );
    }
    let status = match config.reporter_policy {
        ReporterPolicy::Require => Status::Fail,
        ReporterPolicy::Creator => Status::Warn,
    };
    finding(
        check,
        status,
        format!(
            "not settable for {}. Fix: add Reporter to the create screen of those issue types and grant Modify Reporter",
            without.join(", ")
        ),
    )
}

async fn email_visibility(flavor: Flavor, client: &JiraClient, email: &str) -> Finding {
    let check = format!("email {email}");
    let email = email.trim().to_ascii_lowercase();
    let found = match bounded(client.search_users(&email, users::SEARCH_LIMIT)).await {
        Ok(found) => found,
        Err(err) => return finding(check, Status::Fail, err.to_string()),
    };
    match users::pick(&email, &found) {
        UserMatch::Found {
            account_id,
            display_name,
        } => {
            let visible = found.iter().any(|u| {
                u.account_id == account_id
                    && u.email_address
                        .as_deref()
                        .is_some_and(|e| e.eq_ignore_ascii_case(&email))
            });
            if visible {
                finding(
                    check,
                    Status::Pass,
                    format!("{display_name}, email visible"),
                )
            } else {
                let fix = match flavor {
                    Flavor::Cloud => {
                        "set email visibility to Anyone in the Atlassian profile, or turn on the organisation's email visibility for apps"
                    }
                    Flavor::DataCenter => {
                        "Jira administration > System > General configuration: set User email visibility to Public"
                    }
                };
                finding(
                    check,
                    Status::Warn,
                    format!(
                        "{display_name}, found only with the email hidden: works, but a longer address with the same start would make it ambiguous. Fix: {fix}"
                    ),
                )
            }
        }
        UserMatch::NotFound => finding(
            check,
            Status::Fail,
            "no active Jira user has this email. Fix: invite the person to the site, or give the tool's account Browse users and groups",
        ),
        UserMatch::Ambiguous(names) => finding(
            check,
            Status::Fail,
            format!(
                "several accounts match ({}). Fix: make the emails visible so the exact one wins",
                names.join(", ")
            ),
        ),
    }
}

/// The median of three `myself` calls (any answer counts: it is timing).
async fn latency(config: &Config, client: &JiraClient) -> Finding {
    let mut times = Vec::new();
    for _ in 0..3 {
        let started = Instant::now();
        let result = jira::with_retry_budget(Duration::ZERO, client.myself()).await;
        if let Err(
            err @ (jira::Error::Timeout | jira::Error::Connect(_) | jira::Error::Transport(_)),
        ) = result
        {
            return finding("jira latency", Status::Fail, err.to_string());
        }
        times.push(started.elapsed());
    }
    times.sort();
    let median = times[1];
    let timeout = config.jira.request_timeout;
    let detail = format!("median {} ms", median.as_millis());
    if median * 2 > timeout {
        finding(
            "jira latency",
            Status::Fail,
            format!(
                "{detail}, over half of jira.request_timeout ({} ms): requests will time out. Fix: check the network path to Jira, or raise the timeout",
                timeout.as_millis()
            ),
        )
    } else if median > Duration::from_secs(1) {
        finding(
            "jira latency",
            Status::Warn,
            format!("{detail}: slow; Glean gives up on slow tools"),
        )
    } else {
        finding("jira latency", Status::Pass, detail)
    }
}

/// From the rate-limit headers of the calls made above.
fn headroom(client: &JiraClient) -> Finding {
    let check = "rate-limit headroom";
    let Some(info) = client.last_rate_limit() else {
        return finding(
            check,
            Status::Pass,
            "no rate-limit headers seen (far from the limits)",
        );
    };
    let mut parts = Vec::new();
    if let (Some(left), Some(limit)) = (info.remaining, info.limit) {
        parts.push(format!("{left}/{limit} left"));
    } else if let Some(left) = info.remaining {
        parts.push(format!("{left} left"));
    }
    if let Some(points) = &info.ratelimit {
        parts.push(format!("RateLimit {points}"));
    }
    if let Some(reason) = &info.reason {
        parts.push(format!("reason {reason}"));
    }
    let detail = parts.join(", ");
    let exhausted = info.remaining == Some(0) || info.points_remaining == Some(0);
    let near = info.near_limit == Some(true) || info.headroom().is_some_and(|h| h < 0.2);
    if exhausted {
        finding(
            check,
            Status::Fail,
            format!(
                "{detail}: Jira is rate limiting now. Fix: lower jira.max_requests_per_second, find other heavy users of the site's API"
            ),
        )
    } else if near {
        finding(
            check,
            Status::Warn,
            format!("{detail}: near the limit. Fix: lower jira.max_requests_per_second"),
        )
    } else {
        finding(check, Status::Pass, detail)
    }
}

async fn glean_key(config: &Config) -> Finding {
    let check = "glean key";
    if matches!(config.glean.keys, None | Some(GleanKeys::Unsigned)) {
        return finding(
            check,
            Status::Warn,
            "no key configured: signatures are NOT verified (allow_unsigned). Fix: set glean.url or glean.key_file",
        );
    }
    let verifier = match crate::app::signature_verifier(config) {
        Ok(Some(verifier)) => verifier,
        Ok(None) => return finding(check, Status::Warn, "signatures are not verified"),
        Err(err) => return finding(check, Status::Fail, format!("{err:#}")),
    };
    match verifier.prefetch().await {
        Ok(()) => finding(check, Status::Pass, "key loaded"),
        Err(err) => finding(
            check,
            Status::Fail,
            format!(
                "{err}. Fix: check glean.url (https://<instance>-be.glean.com) and that this host can reach it"
            ),
        ),
    }
}

/// `oauth` mode: the stored connection, and a valid access token from it
/// (refreshed if it was due, exactly as the server would).
async fn oauth_connection(
    config: &Config,
    opened: &Result<Store, StoreError>,
) -> (Finding, Option<(crate::oauth::TokenManager, SecretString)>) {
    let check = "oauth connection";
    let store = match opened {
        Ok(store) => store,
        Err(err) => {
            return (
                finding(check, Status::Fail, format!("{err}. Fix: check store.url")),
                None,
            );
        }
    };
    let tokens = match crate::app::open_oauth(config, store, crate::store::system_clock()).await {
        Ok(tokens) => tokens,
        Err(err) => {
            return (
                finding(
                    check,
                    Status::Fail,
                    format!(
                        "{err:#}. Fix: set JIRA_ACTION_TOKEN_KEY and the app's credentials, then run `jira-action oauth login`"
                    ),
                ),
                None,
            );
        }
    };
    match tokens.access_token().await {
        Ok(token) => {
            let detail = format!("connected to {}", tokens.site_url);
            (finding(check, Status::Pass, detail), Some((tokens, token)))
        }
        Err(err) => (
            finding(
                check,
                Status::Fail,
                format!("{err}. Fix: run `jira-action oauth login` (consent again)"),
            ),
            None,
        ),
    }
}

async fn store(config: &Config, opened: Result<Store, StoreError>) -> Finding {
    let check = "store";
    let url = crate::app::redact(&config.store.url);
    let store = match opened {
        Ok(store) => store,
        Err(err) => return finding(check, Status::Fail, format!("cannot open {url}: {err}")),
    };
    // Deletes only expired rows: a write that changes nothing live.
    let result = store.purge(Duration::MAX).await;
    store.close().await;
    match result {
        Ok(_) => finding(check, Status::Pass, format!("{} writable", store.backend())),
        Err(err) => finding(
            check,
            Status::Fail,
            format!(
                "{url} is not writable: {err}. Fix: check the file's permissions or the database role"
            ),
        ),
    }
}

/// The aligned table `CHECK | STATUS | DETAIL / FIX`.
pub fn render(findings: &[Finding]) -> String {
    use comfy_table::{ContentLineStyle, LineStyle, Table, TableStyle};
    let columns = ContentLineStyle::none().junction('|');
    let mut table = Table::new();
    table
        .load_style(
            TableStyle::new()
                .header_lines(columns)
                .header_separator(LineStyle::none().fill('-').junction('+'))
                .content_lines(columns),
        )
        .set_header(["CHECK", "STATUS", "DETAIL / FIX"]);
    for f in findings {
        table.add_row([f.check.as_str(), f.status.label(), f.detail.as_str()]);
    }
    if let Some(check) = table.column_mut(0) {
        // Flush left, as the table starts the output.
        check.set_padding((0, 1));
    }
    table.trim_fmt() + "\n"
}

/// True when any check failed (the exit code is then non-zero).
pub fn failed(findings: &[Finding]) -> bool {
    findings.iter().any(|f| f.status == Status::Fail)
}
