//! A typed async client for the Jira REST API: Cloud (v3) and Data Center
//! or Server (v2), behind one interface ([`Flavor`]).
//!
//! One pooled `reqwest` client (rustls) per process, connect and request
//! timeouts, typed errors parsed from Jira's `{errorMessages, errors}` body,
//! and a retry policy that only repeats what Jira provably did not apply.
//! The rest of jira-action talks to Jira only through [`JiraClient`], so
//! the simulator, the sandbox and Jira itself share one code path.

mod auth;
mod client;
mod error;
mod flavor;
mod limiter;
mod model;
mod oauth;
mod observe;
mod retry;

pub use auth::Auth;
pub use client::{ApiBase, CALL_TALLY, Call, CallTally, ClientConfig, JiraClient};
pub use error::{Error, ErrorBody};
pub use flavor::Flavor;
pub use model::*;
pub use oauth::{OAuthApp, OAuthError, TokenSet};
pub use observe::{CallObserver, CallRecord, Observer, RateLimitInfo};
pub use retry::{RetryPolicy, with_retry_budget};
