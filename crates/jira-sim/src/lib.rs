//! A Jira Cloud REST API (v3) simulator for tests, benchmarks and the
//! sandbox: the endpoints jira-action uses, with Jira's shapes, validation
//! messages, error bodies and authentication, plus call counters and
//! injectable faults (rate limits, 5xx, delays, lost responses).
//!
//! Every API path answers under both URL forms: the site form
//! (`{base}/rest/api/3/...`, Basic API token or Bearer) and the OAuth
//! gateway form (`{base}/ex/jira/{cloudId}/rest/api/3/...`, Bearer only);
//! `GET /oauth/token/accessible-resources` answers at the root (Bearer
//! only).
//!
//! ```no_run
//! # async fn demo() -> std::io::Result<()> {
//! use jira_sim::{Endpoint, Fault, FaultKind, Sim, SimConfig};
//!
//! let handle = Sim::spawn(SimConfig::default()).await?;
//! // The next create is applied but its response is lost.
//! handle.sim.push_fault(Fault::once(Endpoint::CreateIssue, FaultKind::ApplyThenDrop));
//! println!("Jira at {} and {}", handle.base_url(), handle.gateway_url());
//! # Ok(()) }
//! ```
//!
//! With [`SimConfig::flavor`] set to [`Flavor::DataCenter`] it is a Jira
//! Data Center 9 server instead: REST v2 only (`{base}/rest/api/2/...`,
//! v3 and the gateway answer 404), personal access tokens (Bearer) or
//! Basic `username:password`, users by username and key, wiki markup
//! descriptions, Data Center's create metadata, search and project list.
//! [`SimConfig::context_path`] puts everything under a path such as
//! `/jira`. `GET serverInfo` answers in both, without authentication.
//!
//! The demo site, its fixed users, ids and credentials are documented in
//! [`demo`].
//!
//! Where Jira's behaviour is not documented, the simulator picks the
//! stricter or the observed behaviour and says so in the docs of the item
//! concerned; [`SimConfig`] makes the uncertain ones configurable.

mod config;
pub mod demo;
mod directory;
mod fault;
mod handlers;
mod http;
mod jql;
mod model;
mod oauth;
mod render;
mod sim;
mod time;

pub use config::{
    Credential, CredentialKind, Flavor, HiddenEmailMatch, Permission, SimConfig, UserSearchDenied,
};
pub use fault::{Endpoint, Fault, FaultKind};
pub use model::{
    AccountType, Component, CreateScreen, CustomField, CustomFieldKind, FieldOption, IssueType,
    Priority, Project, Site, User,
};
pub use oauth::{OAuthClient, OAuthConfig};
pub use sim::{Sim, SimHandle, StoredIssue};
