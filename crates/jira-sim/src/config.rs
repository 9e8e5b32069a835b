//! How a simulator is set up: the site, who may call it and how it
//! behaves where Jira's behaviour is not pinned down.

use std::time::Duration;

use crate::demo;
use crate::model::Site;

/// Which Jira the simulator is: the REST API version, the shapes, the
/// authentication and the endpoints all follow from it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Flavor {
    /// Jira Cloud: REST v3 (`/rest/api/3/...`), account ids, ADF.
    #[default]
    Cloud,
    /// Jira Data Center (9.x): REST v2 (`/rest/api/2/...`), usernames,
    /// wiki markup, personal access tokens.
    DataCenter,
}

/// Everything a [`Sim`](crate::Sim) starts from. `Default` is the demo
/// site ([`Site::demo`] with 100 generated users) with the demo
/// credentials.
#[derive(Clone, Debug)]
pub struct SimConfig {
    pub site: Site,
    /// The site's cloud id: the `{cloudId}` of gateway URLs
    /// (`/ex/jira/{cloudId}/rest/api/3/...`) and the `id` of
    /// `accessible-resources`.
    pub cloud_id: String,
    /// The site's `name` in `accessible-resources`.
    pub site_name: String,
    /// The site URL reported by `accessible-resources` (where people
    /// browse issues). `None`: the URL the request came in on.
    pub site_url: Option<String>,
    /// Added to every request (settable later with
    /// [`Sim::set_latency`](crate::Sim::set_latency)).
    pub latency: Duration,
    pub credentials: Vec<Credential>,
    /// The `scopes` `accessible-resources` reports for bearer tokens.
    pub oauth_scopes: Vec<String>,
    /// What `user/search` answers a caller without Browse users and
    /// groups.
    pub user_search_denied: UserSearchDenied,
    /// How `user/search` matches emails hidden by profile visibility.
    pub hidden_email_match: HiddenEmailMatch,
    /// The OAuth 2.0 (3LO) authorization server: apps, token lifetimes.
    pub oauth: crate::oauth::OAuthConfig,
    /// Check every ADF document (description, text areas) against
    /// Atlassian's JSON schema, as Jira does. Benchmarks may turn it off:
    /// the check costs more than the rest of a create.
    pub validate_adf: bool,
    /// Keep the bodies (the ADF description and the request as sent) of
    /// only this many of the latest issues; older ones keep everything
    /// else (key, summary, people, properties, times), which is what
    /// searches and a harness's checks read. Bounds a long run's memory.
    /// `None`: keep every body.
    pub retain_bodies: Option<usize>,
    /// Room for this many issues from the start. A harness that knows how
    /// many it will create sets it: growing the store past a few hundred
    /// thousand issues stalls every request for a fraction of a second
    /// while it is copied, which then reaches the server as a burst.
    pub expected_issues: usize,
    /// Cloud or Data Center.
    pub flavor: Flavor,
    /// Where the application lives on its host (e.g. `/jira`, as Data
    /// Center servers often run): every path, `self` link and base URL is
    /// under it, and anything outside it answers 404. `None`: the root.
    pub context_path: Option<String>,
}

impl Default for SimConfig {
    fn default() -> SimConfig {
        SimConfig {
            site: Site::demo(100),
            cloud_id: demo::CLOUD_ID.to_owned(),
            site_name: "demo".to_owned(),
            site_url: None,
            latency: Duration::ZERO,
            credentials: demo::credentials(),
            oauth_scopes: [
                "read:jira-work",
                "write:jira-work",
                "read:jira-user",
                "offline_access",
            ]
            .iter()
            .map(|s| (*s).to_owned())
            .collect(),
            user_search_denied: UserSearchDenied::Empty,
            hidden_email_match: HiddenEmailMatch::Prefix,
            oauth: crate::oauth::OAuthConfig::default(),
            validate_adf: true,
            retain_bodies: None,
            expected_issues: 0,
            flavor: Flavor::Cloud,
            context_path: None,
        }
    }
}

/// `user/search` for a caller without the Browse users and groups global
/// permission.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum UserSearchDenied {
    /// `200 []`: what Atlassian documents ("calls by users without the
    /// required permission return empty search results").
    #[default]
    Empty,
    /// `403` with an error body.
    Forbidden,
}

/// How `user/search` treats emails hidden by profile visibility. Jira
/// never returns them, but a query can still find their owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum HiddenEmailMatch {
    /// Like visible ones: the query matches the start of the email, so
    /// `sam@example.com` also finds `sam@example.com.au` (and a caller
    /// cannot tell which of the two matched exactly).
    #[default]
    Prefix,
    /// Only the whole email matches, as Atlassian documents for its user
    /// picker ("partial matches of the email address will not find the
    /// user").
    ExactOnly,
}

/// How a credential authenticates.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum CredentialKind {
    /// `Authorization: Basic base64(email:token)` (API token; site URLs
    /// only). The email matches case-insensitively.
    Basic { email: String, token: String },
    /// `Authorization: Bearer token` (OAuth access token; site and gateway
    /// URLs).
    Bearer { token: String },
    /// Data Center: `Authorization: Bearer token` (personal access token).
    /// Never accepted as a Basic password, as on Jira.
    Pat { token: String },
    /// Data Center: `Authorization: Basic base64(username:password)`. The
    /// username matches case-insensitively, as Jira's do.
    Password { username: String, password: String },
}

/// The permissions the simulator checks.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Permission {
    /// Project permission: see projects and their issues.
    BrowseProjects,
    /// Project permission: create issues.
    CreateIssues,
    /// Project permission: set the assignee (without it `assignee` is off
    /// the caller's create screen).
    AssignIssues,
    /// Project permission: set the reporter (without it `reporter` is off
    /// the caller's create screen).
    ModifyReporter,
    /// Global permission "Browse users and groups" (`USER_PICKER`).
    UserPicker,
}

impl Permission {
    pub const ALL: [Permission; 5] = [
        Permission::BrowseProjects,
        Permission::CreateIssues,
        Permission::AssignIssues,
        Permission::ModifyReporter,
        Permission::UserPicker,
    ];

    /// Jira's permission key (as `mypermissions` takes and returns it).
    pub fn key(self) -> &'static str {
        match self {
            Permission::BrowseProjects => "BROWSE_PROJECTS",
            Permission::CreateIssues => "CREATE_ISSUES",
            Permission::AssignIssues => "ASSIGN_ISSUES",
            Permission::ModifyReporter => "MODIFY_REPORTER",
            Permission::UserPicker => "USER_PICKER",
        }
    }

    pub fn from_key(key: &str) -> Option<Permission> {
        Permission::ALL.into_iter().find(|p| p.key() == key)
    }

    pub(crate) fn bit(self) -> u8 {
        1 << (self as u8)
    }
}

/// A credential the simulator accepts: whose it is and what it may do.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Credential {
    pub kind: CredentialKind,
    /// The account the credential acts as; must be an active user of the
    /// site, else requests with it get 401. Empty for Data Center
    /// credentials, which name their user by [`Credential::username`].
    pub account_id: String,
    /// Data Center: the username the credential acts as (its identity
    /// there); `None` for Cloud credentials.
    pub username: Option<String>,
    pub permissions: Vec<Permission>,
    /// The projects (keys) its project permissions apply to, as a Jira
    /// permission scheme grants them per project; `None`: every project.
    /// A project outside them does not exist for the credential: `404` on
    /// the project, left out of project and issue searches.
    pub projects: Option<Vec<String>>,
}

impl Credential {
    /// An API token (Basic) with every permission.
    pub fn basic(email: &str, token: &str, account_id: &str) -> Credential {
        Credential {
            kind: CredentialKind::Basic {
                email: email.to_owned(),
                token: token.to_owned(),
            },
            account_id: account_id.to_owned(),
            username: None,
            permissions: Permission::ALL.to_vec(),
            projects: None,
        }
    }

    /// An OAuth access token (Bearer) with every permission.
    pub fn bearer(token: &str, account_id: &str) -> Credential {
        Credential {
            kind: CredentialKind::Bearer {
                token: token.to_owned(),
            },
            account_id: account_id.to_owned(),
            username: None,
            permissions: Permission::ALL.to_vec(),
            projects: None,
        }
    }

    /// Data Center: a personal access token (Bearer) of `username`, with
    /// every permission.
    pub fn pat(token: &str, username: &str) -> Credential {
        Credential {
            kind: CredentialKind::Pat {
                token: token.to_owned(),
            },
            account_id: String::new(),
            username: Some(username.to_owned()),
            permissions: Permission::ALL.to_vec(),
            projects: None,
        }
    }

    /// Data Center: Basic `username:password`, with every permission.
    pub fn password(username: &str, password: &str) -> Credential {
        Credential {
            kind: CredentialKind::Password {
                username: username.to_owned(),
                password: password.to_owned(),
            },
            account_id: String::new(),
            username: Some(username.to_owned()),
            permissions: Permission::ALL.to_vec(),
            projects: None,
        }
    }

    /// The same credential with exactly these permissions.
    pub fn with_permissions(mut self, permissions: &[Permission]) -> Credential {
        self.permissions = permissions.to_vec();
        self
    }

    /// The same credential with its project permissions in these
    /// projects (keys) only.
    pub fn in_projects(mut self, keys: &[&str]) -> Credential {
        self.projects = Some(keys.iter().map(|k| (*k).to_owned()).collect());
        self
    }

    /// The same credential without one permission.
    pub fn without(mut self, permission: Permission) -> Credential {
        self.permissions.retain(|p| *p != permission);
        self
    }
}
