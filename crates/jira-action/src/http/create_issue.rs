//! `POST /create_issue`: the tool itself.

use std::sync::Arc;

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use jira::{Auth, EntityProperty, IdRef, JiraClient, NewIssue, NewIssueFields};
use secrecy::SecretString;
use serde_json::{Value, json};

use super::submit::{self, Marker};
use super::{Error, REQUEST_ID};
use crate::app::AppState;
use crate::config::{AuthMode, DescriptionFormat, ReporterPolicy};
use crate::glean::contract::{AssigneeRef, CreateIssueInput, IssueRef};
use crate::glean::email;
use crate::resolve::{self, UserMatch, fields};

/// The header naming the person the issue is filed for.
pub const USER_EMAIL: &str = "glean-user-email";

pub async fn handle(
    State(state): State<Arc<AppState>>,
    headers: HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let deadline = state.config.request_timeout();
    match tokio::time::timeout(deadline, create(&state, &headers, body)).await {
        Ok(result) => result,
        Err(_) => Err(Error::Timeout),
    }
}

/// Who is asking, and the Jira client with the credentials to use.
pub struct Caller {
    /// The `Glean-User-Email`, validated and lowercased.
    pub email: String,
    pub jira: JiraClient,
    pub request_id: String,
}

async fn create(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Value>, Error> {
    let caller = identify(state, headers)?;
    let input = read_body(state, headers, body)?;
    let prepared = prepare(state, &caller, input).await?;
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
    Ok(Json(answer))
}

/// The caller and the credentials, checked before the body is read.
fn identify(state: &AppState, headers: &HeaderMap) -> Result<Caller, Error> {
    let email = caller_email(headers)?;
    if !state.config.access.caller_allowed(&email) {
        return Err(Error::CallerNotAllowed);
    }
    let jira = jira_for(state, headers)?;
    let request_id = headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    Ok(Caller {
        email,
        jira,
        request_id,
    })
}

fn read_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Result<Bytes, BytesRejection>,
) -> Result<CreateIssueInput, Error> {
    check_content_type(headers)?;
    let body = body.map_err(|rejection| {
        if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
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

    let description = input.description.as_deref().and_then(|text| {
        let doc = match state.config.description_format {
            DescriptionFormat::Markdown => adf::from_markdown(text),
            DescriptionFormat::Plain => adf::from_plain_text(text),
        };
        (!doc.is_empty()).then(|| doc.to_value())
    });
    let marker = Marker {
        request_id: caller.request_id.clone(),
        // Until requests carry an idempotency key, the request id marks them.
        idempotency_key: caller.request_id.clone(),
    };
    let issue = NewIssue {
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
            reporter: reporter_set.then(|| IdRef::new(reporter)),
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
    let sent = match serde_json::to_value(&issue.fields) {
        Ok(Value::Object(map)) => map,
        _ => {
            return Err(Error::Internal(
                "fields do not serialize to an object".into(),
            ));
        }
    };
    let problems = fields::check(&meta, &sent);
    if !problems.is_empty() {
        return Err(Error::InvalidFields(problems));
    }
    Ok(Prepared {
        issue,
        marker,
        reporter_set,
    })
}

fn caller_email(headers: &HeaderMap) -> Result<String, Error> {
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
fn jira_for(state: &AppState, headers: &HeaderMap) -> Result<JiraClient, Error> {
    match state.config.jira.auth {
        AuthMode::ApiToken => Ok(state.jira.clone()),
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
