//! Sending the create, exactly once.
//!
//! When Jira's answer is lost (a timeout, a dropped connection, a 5xx) the
//! issue may or may not exist. Guessing either way is wrong: retrying may
//! duplicate it, giving up may lose it. Every create carries an issue
//! property naming its request; on an unknown outcome the server searches
//! this reporter's recent issues in the project for that property and
//! returns the issue if it is there. If it is not, the create is **not**
//! sent again in this request: Jira may commit a create after the client
//! gave up on it, and its search is eventually consistent, so "not found
//! yet" does not mean "not created". The caller gets 504
//! `jira_outcome_unknown` with a `Retry-After`; the claim stays uncertain,
//! and a repeat after `jira.outcome_settle` (time for the create to land
//! and for search to see it) looks again and only then creates.
//!
//! On Data Center, search returns no properties and JQL reaches them only
//! through an app that indexes them, so the same JQL finds the candidates
//! (this reporter, this project, the last minutes) and each one's property
//! is read on its own (`issue/{key}/properties/jira-action`).
//!
//! The lookup is a JQL search (`search/jql`) because nothing else finds an
//! issue by what the client knows of it: the key and id are in the lost
//! answer, and `reconcileIssues` (read-your-writes for search) takes issue
//! ids; issue-property JQL (`issue.property[...]`) works on Cloud only for
//! properties an app declares for indexing, and reads the same index. Hence
//! the settle time rather than a quicker second look. The lookup reads all
//! of the reporter's issues in the project from the last minutes (a busy
//! reporter's lost issue may be behind many newer ones); past
//! `LOOKUP_LIMIT` it proves nothing, and nothing is created.

use std::time::Duration;

use jira::{CreatedIssue, JiraClient, NewIssue, PropertySearch};
use serde_json::{Value, json};

use super::Error;

/// The issue property that marks an issue as filed by jira-action.
pub const ISSUE_PROPERTY: &str = "jira-action";

/// How far back the lookup searches: a lost answer is noticed within the
/// request timeout, so a few minutes is ample and keeps the search small.
const LOOKBACK_MINUTES: u32 = 10;

/// The most of the reporter's recent issues in the project the lookup
/// reads (in pages of 100, newest first) before it gives up: a search cut
/// short proves nothing, so then the create is not sent again either.
const LOOKUP_LIMIT: usize = 2_000;

/// Jira's search index may lag a create by a moment: the lookup tries
/// twice, this far apart, before concluding the issue does not exist.
const LOOKUP_ATTEMPTS: u32 = 2;
const LOOKUP_PAUSE: Duration = Duration::from_millis(750);

/// What identifies one requested issue across retries.
#[derive(Clone, Debug)]
pub struct Marker {
    pub request_id: String,
    /// Stable across retries of the same request (unlike the request id).
    pub idempotency_key: String,
}

impl Marker {
    /// The issue property value set at creation.
    pub fn property_value(&self) -> Value {
        json!({ "requestId": self.request_id, "idempotencyKey": self.idempotency_key })
    }

    /// Whether an issue's `jira-action` property names this request.
    fn matches(&self, property: &Value) -> bool {
        property.get("idempotencyKey").and_then(Value::as_str)
            == Some(self.idempotency_key.as_str())
    }
}

/// Creates the issue; on an unknown outcome, finds it or answers
/// [`Error::OutcomeUnknown`] (never a second create in the same request). `reporter` is the account id set as reporter (None when the
/// reporter policy let the create go ahead as the tool's account).
/// `recovering` when an earlier attempt of this request may have reached
/// Jira (its server died holding the claim): then look before creating.
/// `settle` is how long the caller is told to wait when the outcome stays
/// unknown (`jira.outcome_settle`).
pub async fn submit(
    jira: &JiraClient,
    issue: &NewIssue,
    marker: &Marker,
    reporter: Option<&str>,
    recovering: bool,
    settle: Duration,
) -> Result<CreatedIssue, Error> {
    let unknown = || Error::OutcomeUnknown {
        retry_after_secs: u64::try_from(settle.as_millis().div_ceil(1000))
            .unwrap_or(u64::MAX)
            .max(1),
    };
    if recovering {
        match find(jira, issue, reporter, marker).await {
            Ok(Lookup::Found(found)) => {
                tracing::info!(key = %found.key, "an earlier attempt had created the issue");
                return Ok(found);
            }
            Ok(Lookup::Absent) => tracing::info!("no earlier attempt reached Jira; creating"),
            Ok(Lookup::Inconclusive) => {
                tracing::warn!(
                    "too many recent issues to rule the earlier attempt out; not creating"
                );
                return Err(unknown());
            }
            // Not knowing whether the earlier attempt created it, creating
            // could duplicate: refuse, and let the caller retry.
            Err(lookup) => return Err(lookup.into()),
        }
    }
    let first = match jira.create_issue(issue).await {
        Ok(created) => return Ok(created),
        Err(err) if err.outcome_unknown() => err,
        Err(err) => return Err(err.into()),
    };
    tracing::warn!(cause = %first, "create outcome unknown; looking for the issue");
    match find(jira, issue, reporter, marker).await {
        Ok(Lookup::Found(found)) => {
            tracing::info!(key = %found.key, "the lost create had succeeded");
            Ok(found)
        }
        Ok(Lookup::Absent | Lookup::Inconclusive) => {
            // It may still land, or search may not see it yet: creating
            // again now could make two. A repeat looks once it has settled.
            tracing::info!("the lost create is not visible (yet); not creating again");
            Err(unknown())
        }
        Err(lookup) => {
            tracing::warn!(cause = %lookup, "lookup failed; not creating again");
            Err(unknown())
        }
    }
}

/// What the lookup learnt.
enum Lookup {
    Found(CreatedIssue),
    /// Every recent issue of the reporter in the project was read.
    Absent,
    /// More than [`LOOKUP_LIMIT`] of them: not found among those read.
    Inconclusive,
}

async fn find(
    jira: &JiraClient,
    issue: &NewIssue,
    reporter: Option<&str>,
    marker: &Marker,
) -> Result<Lookup, jira::Error> {
    let who = match reporter {
        Some(account_id) => format!("reporter = \"{}\"", jql_escape(account_id)),
        None => "creator = currentUser()".to_owned(),
    };
    let project_id = &issue.fields.project.id;
    let jql = format!(
        "project = {project_id} AND {who} AND created >= -{LOOKBACK_MINUTES}m ORDER BY created DESC"
    );
    let mut lookup = Lookup::Absent;
    for attempt in 1..=LOOKUP_ATTEMPTS {
        match jira
            .find_by_property(
                &jql,
                ISSUE_PROPERTY,
                LOOKUP_LIMIT,
                &issue.fields.summary,
                |value| marker.matches(value),
            )
            .await?
        {
            PropertySearch::Found(found) => {
                return Ok(Lookup::Found(CreatedIssue {
                    id: found.id,
                    key: found.key,
                    self_url: String::new(),
                }));
            }
            PropertySearch::NotAmong(read) if read > LOOKUP_LIMIT => {
                lookup = Lookup::Inconclusive;
            }
            PropertySearch::NotAmong(_) => {}
        }
        if attempt < LOOKUP_ATTEMPTS {
            tokio::time::sleep(LOOKUP_PAUSE).await;
        }
    }
    Ok(lookup)
}

/// Account ids are `[A-Za-z0-9:-]` (usernames on Data Center may hold
/// more), and the JQL string is built, so quote what could end it.
fn jql_escape(value: &str) -> String {
    value.replace('\\', "\\\\").replace('"', "\\\"")
}
