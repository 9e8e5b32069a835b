//! `POST /create_issue`: the tool itself.

use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use jira::{Auth, CallTally, EntityProperty, IdRef, JiraClient, NewIssue, NewIssueFields};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::submit::{self, Marker};
use super::trail::{self, Go, Identity, Trace};
use super::{Error, REQUEST_ID};
use crate::app::AppState;
use crate::config::{AuthMode, DescriptionFormat, ReporterPolicy};
use crate::glean::contract::{AssigneeRef, CreateIssueInput, IssueRef};
use crate::glean::email;
use crate::resolve::{self, UserMatch, fields};
use crate::store::AuditRecord;

/// The header naming the person the issue is filed for.
pub const USER_EMAIL: &str = "glean-user-email";

pub async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Response {
    let started = Instant::now();
    let signature = if state.verifier.is_some() {
        "verified"
    } else {
        "unchecked"
    };
    let tally = Arc::new(CallTally::default());
    let mut guard = Unfinished {
        state: Arc::clone(&state),
        trace: Some(Trace::new(&headers, signature)),
        tally: Arc::clone(&tally),
    };
    let result = match guard.trace.as_mut() {
        Some(trace) => {
            let work =
                jira::CALL_TALLY.scope(Arc::clone(&tally), run(&state, &headers, body, trace));
            match tokio::time::timeout(state.config.request_timeout(), work).await {
                Ok(result) => result,
                Err(_) => Err(Error::Timeout),
            }
        }
        None => Err(Error::Internal("no trace".into())),
    };
    // Jira refused the server's OAuth token (revoked early, or expired
    // sooner than it said): the next request gets a refreshed one.
    if let (Some(tokens), Err(Error::Jira(jira::Error::Api { status: 401, .. }))) =
        (&state.tokens, &result)
    {
        tokens.refused().await;
    }
    let in_store = match guard.trace.take() {
        Some(trace) => trace.finish(&state, &result, tally.calls()).await,
        None => Duration::ZERO,
    };
    let mut response = result.map(Json).into_response();
    let timing = Timing::of(started.elapsed(), &tally, in_store);
    state.metrics.observe(
        "jira_action_request_added_seconds",
        &[("route", "/create_issue")],
        timing.added,
    );
    if let Ok(value) = HeaderValue::from_str(&timing.header()) {
        response.headers_mut().insert("server-timing", value);
    }
    response
}

/// Where a request's time went, for the `Server-Timing` header and the
/// added-time histogram: an operator (or the benchmark) can tell Jira's
/// latency from jira-action's own without correlating logs.
struct Timing {
    jira: Duration,
    pause: Duration,
    store: Duration,
    added: Duration,
}

impl Timing {
    fn of(total: Duration, tally: &CallTally, store: Duration) -> Timing {
        let (jira, pause) = (tally.calling(), tally.pausing());
        Timing {
            jira,
            pause,
            store,
            added: total.saturating_sub(jira + pause),
        }
    }

    /// `jira` (calls to Jira), `pause` (rate limit and retry back-off),
    /// `store` (claims and the audit record) and `app` (everything but
    /// `jira` and `pause`, so `store` included), in milliseconds as the
    /// header's `dur` wants.
    fn header(&self) -> String {
        let ms = |d: Duration| d.as_secs_f64() * 1000.0;
        format!(
            "jira;dur={:.3}, pause;dur={:.3}, store;dur={:.3}, app;dur={:.3}",
            ms(self.jira),
            ms(self.pause),
            ms(self.store),
            ms(self.added)
        )
    }
}

/// A request's trace until it is written. When the caller hangs up, hyper
/// drops the handler mid-request; this still ends the claim (as uncertain:
/// the create may have been sent) and writes the audit record.
struct Unfinished {
    state: Arc<AppState>,
    trace: Option<Trace>,
    tally: Arc<CallTally>,
}

impl Drop for Unfinished {
    fn drop(&mut self) {
        if let Some(trace) = self.trace.take()
            && let Ok(runtime) = tokio::runtime::Handle::try_current()
        {
            let state = Arc::clone(&self.state);
            let calls = self.tally.calls();
            runtime.spawn(async move { trace.abandoned(&state, calls).await });
        }
    }
}

/// Who is asking, and the Jira client with the credentials to use.
pub struct Caller {
    /// The `Glean-User-Email`, validated and lowercased.
    pub email: String,
    pub jira: JiraClient,
    pub request_id: String,
    /// The request's identity (see `trail::Identity`), stable across its
    /// retries: what the issue property names.
    pub idempotency_key: String,
    /// An earlier attempt with this identity may have reached Jira (it died
    /// holding the claim, or its outcome was unknown): look for the issue
    /// before creating it.
    pub recovering: bool,
}

/// Identifies the caller, reads the body, claims the request's identity
/// (or replays the first answer), then creates.
async fn run(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
    trace: &mut Trace,
) -> Result<Value, Error> {
    let mut caller = identify(state, headers).await?;
    let input = read_body(state, headers, body)?;
    trace.input(state, &input);
    let given_key = trail::idempotency_header(headers)?;
    let identity = Identity::of(&caller.email, given_key.as_deref(), &input);
    caller.idempotency_key = identity.key.clone();
    match trace.claim(state, &caller.email, &identity).await? {
        Go::Replay(answer) => {
            state.metrics.duplicate_absorbed();
            tracing::info!(key = ?answer["key"], "repeat of a finished request; answering as before");
            Ok(answer)
        }
        Go::Ahead { recovering } => {
            caller.recovering = recovering;
            create(state, &caller, input, &mut trace.record).await
        }
    }
}

/// Prepares and submits the issue; notes in the audit record what it
/// resolved.
async fn create(
    state: &AppState,
    caller: &Caller,
    input: CreateIssueInput,
    record: &mut AuditRecord,
) -> Result<Value, Error> {
    let prepared = prepare(state, caller, input).await?;
    let fields = &prepared.issue.fields;
    record.project = Some(prepared.project_key.clone());
    record.reporter = Some(prepared.reporter_account.clone());
    record.assignee = fields.assignee.as_ref().map(|a| a.id.clone());
    record.issue_type = Some(fields.issuetype.id.clone());
    let created = submit::submit(
        &caller.jira,
        &prepared.issue,
        &prepared.marker,
        prepared
            .issue
            .fields
            .reporter
            .as_ref()
            .map(|r| r.id.as_str()),
        caller.recovering,
    )
    .await?;
    let url = caller.jira.browse_url(&created.key);
    tracing::info!(key = %created.key, "issue created");
    let mut answer = json!({ "resultURL": url, "key": created.key });
    if !prepared.reporter_set {
        answer["reporterSet"] = json!(false);
        answer["message"] = json!(
            "Created, but Jira would not let the tool set you as reporter, so the reporter is the tool's account. A Jira admin can fix this by adding Reporter to the create screen and granting Modify Reporter."
        );
    }
    Ok(answer)
}

/// The caller and the credentials, checked before the body is read.
async fn identify(state: &AppState, headers: &HeaderMap) -> Result<Caller, Error> {
    let email = caller_email(headers)?;
    if !state.config.access.caller_allowed(&email) {
        return Err(Error::CallerNotAllowed);
    }
    let jira = jira_for(state, headers).await?;
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Caller {
        email,
        jira,
        request_id,
        // Set once the body is read.
        idempotency_key: String::new(),
        recovering: false,
    })
}

fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<CreateIssueInput, Error> {
    check_content_type(headers)?;
    let body = body.map_err(|rejection| {
        if super::body_timed_out(&rejection) {
            Error::RequestTimeout
        } else if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
            Error::PayloadTooLarge(state.config.limits.max_body_bytes)
        } else {
            Error::InvalidJson(rejection.body_text())
        }
    })?;
    CreateIssueInput::parse(&body)
}

/// A create request that Jira should accept.
pub struct Prepared {
    pub issue: NewIssue,
    pub marker: Marker,
    /// For the audit record: the project's key and the reporter's account
    /// (also when the policy created without setting it).
    pub project_key: String,
    pub reporter_account: String,
    /// False when the reporter policy let the create go ahead without it.
    pub reporter_set: bool,
}

/// Resolves every name to a Jira id, builds the create request and checks
/// it against the create screen. Nothing is written to Jira here.
async fn prepare(
    state: &AppState,
    caller: &Caller,
    input: CreateIssueInput,
) -> Result<Prepared, Error> {
    let jira = &caller.jira;
    // Independent lookups run together; each is a cache hit when warm.
    let (project, reporter, assignee) = tokio::join!(
        state.resolver.project(jira, &input.project),
        state.resolver.user(jira, &caller.email),
        resolve_assignee(state, jira, input.assignee.as_ref()),
    );
    let project = project?;
    if !state
        .config
        .access
        .project_allowed(&project.id, &project.key)
    {
        return Err(Error::ProjectNotAllowed(project.key.clone()));
    }
    let reporter = match reporter? {
        UserMatch::Found { account_id, .. } => account_id,
        UserMatch::NotFound => return Err(Error::ReporterNotFound(caller.email.clone())),
        UserMatch::Ambiguous(candidates) => {
            return Err(Error::ReporterAmbiguous {
                email: caller.email.clone(),
                candidates,
            });
        }
    };
    let assignee = assignee?;
    let issue_type = resolve::issue_type_id(&project, &input.issue_type)?;
    let components = resolve::component_ids(&project, &input.components)?;
    let meta = state
        .resolver
        .create_meta(jira, &project.id, &issue_type)
        .await?;
    let reporter_set = fields::reporter_settable(&meta);
    if !reporter_set && state.config.reporter_policy == ReporterPolicy::Require {
        return Err(Error::ReporterNotSettable(project.key.clone()));
    }
    let extra = state
        .config
        .project(&project.id, &project.key)
        .map(|settings| settings.defaults.clone())
        .unwrap_or_default();

    let description = match input.description.as_deref() {
        Some(text) => {
            let doc = match state.config.description_format {
                DescriptionFormat::Markdown => adf::from_markdown(text),
                DescriptionFormat::Plain => adf::from_plain_text(text),
            };
            match doc.is_empty() {
                true => None,
                false => Some(
                    serde_json::value::to_raw_value(&doc)
                        .map_err(|e| Error::Internal(format!("ADF: {e}")))?,
                ),
            }
        }
        None => None,
    };
    let marker = Marker {
        request_id: caller.request_id.clone(),
        idempotency_key: caller.idempotency_key.clone(),
    };
    let mut issue = NewIssue {
        fields: NewIssueFields {
            project: IdRef::new(project.id.clone()),
            issuetype: IdRef::new(issue_type),
            summary: input.summary,
            priority: input
                .priority
                .map(|p| IdRef::new(state.config.priority_id(p))),
            components: components.into_iter().map(IdRef::new).collect(),
            description,
            assignee: assignee.map(IdRef::new),
            reporter: reporter_set.then(|| IdRef::new(reporter.clone())),
            labels: input.labels,
            duedate: input.duedate,
            parent: input.parent.map(|parent| match parent {
                IssueRef::Key(key) => json!({ "key": key }),
                IssueRef::Id(id) => json!({ "id": id }),
            }),
            extra,
        },
        properties: vec![EntityProperty {
            key: submit::ISSUE_PROPERTY.to_owned(),
            value: marker.property_value(),
        }],
    };
    let problems = fields::check(&meta, &fields_to_check(&mut issue.fields)?);
    if !problems.is_empty() {
        return Err(Error::InvalidFields(problems));
    }
    Ok(Prepared {
        issue,
        marker,
        project_key: project.key.clone(),
        reporter_account: reporter,
        reporter_set,
    })
}

/// The fields as the create sends them, for the check against the create
/// screen. The description is only there or not (it has no allowed values),
/// so it stands in as `null` instead of being copied into a `Value`.
fn fields_to_check(fields: &mut NewIssueFields) -> Result<serde_json::Map<String, Value>, Error> {
    let description = fields.description.take();
    let sent = serde_json::to_value(&*fields);
    fields.description = description;
    match sent {
        Ok(Value::Object(mut map)) => {
            if fields.description.is_some() {
                map.insert("description".to_owned(), Value::Null);
            }
            Ok(map)
        }
        _ => Err(Error::Internal(
            "fields do not serialize to an object".into(),
        )),
    }
}

pub(super) fn caller_email(headers: &HeaderMap) -> Result<String, Error> {
    let mut values = headers.get_all(USER_EMAIL).iter();
    let value = values.next().ok_or(Error::MissingUserEmail)?;
    if values.next().is_some() {
        return Err(Error::InvalidUserEmail("the header is repeated".into()));
    }
    let text = value
        .to_str()
        .map_err(|_| Error::InvalidUserEmail("not ASCII".into()))?;
    email::parse(text).map_err(|reason| Error::InvalidUserEmail(reason.into()))
}

/// The Jira client with the credentials this request uses.
async fn jira_for(state: &AppState, headers: &HeaderMap) -> Result<JiraClient, Error> {
    match state.config.jira.auth {
        AuthMode::ApiToken => Ok(state.jira.clone()),
        AuthMode::Oauth => {
            let tokens = state.tokens.as_deref().ok_or(Error::OAuthReconsentNeeded)?;
            let token = tokens.access_token().await?;
            Ok(state.jira.with_auth(Auth::Bearer(token)))
        }
        AuthMode::Passthrough => {
            let value = headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.to_str().ok())
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .ok_or(Error::MissingCredentials)?;
            Ok(state
                .jira
                .with_auth(Auth::Header(SecretString::from(value.to_owned()))))
        }
    }
}

fn check_content_type(headers: &HeaderMap) -> Result<(), Error> {
    let content_type = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default();
    let essence = content_type.split(';').next().unwrap_or_default().trim();
    if essence.eq_ignore_ascii_case("application/json") {
        Ok(())
    } else {
        Err(Error::InvalidContentType)
    }
}

async fn resolve_assignee(
    state: &AppState,
    jira: &JiraClient,
    assignee: Option<&AssigneeRef>,
) -> Result<Option<String>, Error> {
    match assignee {
        None => Ok(None),
        // Jira itself refuses an account id that cannot be assigned.
        Some(AssigneeRef::AccountId(id)) => Ok(Some(id.clone())),
        Some(AssigneeRef::Email(email)) => match state.resolver.user(jira, email).await? {
            UserMatch::Found { account_id, .. } => Ok(Some(account_id)),
            UserMatch::NotFound => Err(Error::AssigneeNotFound(email.clone())),
            UserMatch::Ambiguous(candidates) => Err(Error::AssigneeAmbiguous {
                given: email.clone(),
                candidates,
            }),
        },
    }
}
