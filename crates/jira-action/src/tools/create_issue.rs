//! `create_issue`: files one Jira issue for the person asking, with them
//! as its reporter, exactly once.

use jira::{EntityProperty, Flavor, IdRef, NewIssue, NewIssueFields};
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value, json};

use super::submit::{self, Marker};
use super::{Caller, Error, Operation, identity};
use crate::app::AppState;
use crate::config::{Config, DescriptionFormat, ReporterPolicy};
use crate::glean::contract::{AssigneeRef, CreateIssueInput, IssueRef};
use crate::resolve::{self, UserMatch, fields};
use crate::store::AuditRecord;

/// The operation.
pub struct CreateIssue;

/// What `create_issue` answers: the issue's URL and key.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct CreatedIssue {
    /// URL of the created issue.
    #[serde(rename = "resultURL")]
    #[schemars(extend("x-glean-typehint" = "ResultUrl"))]
    pub result_url: String,
    /// The issue key, e.g. PROJ-123.
    pub key: String,
    /// `false` when Jira would not let the tool set the reporter and the
    /// reporter policy let the create go ahead as the tool's account.
    #[serde(
        rename = "reporterSet",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub reporter_set: Option<bool>,
    /// A sentence for the person, when there is something to tell.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub message: Option<String>,
}

impl Operation for CreateIssue {
    const NAME: &'static str = "create_issue";
    const WRITES: bool = true;
    type Input = CreateIssueInput;
    type Output = CreatedIssue;

    fn parse(arguments: Map<String, Value>) -> Result<CreateIssueInput, Error> {
        CreateIssueInput::from_fields(arguments)
    }

    fn canonical(input: &CreateIssueInput) -> Value {
        identity::canonical(input)
    }

    fn note_input(input: &CreateIssueInput, record: &mut AuditRecord, config: &Config) {
        record.summary = Some(input.summary.clone());
        if config.audit.record_descriptions {
            record.description = input.description.clone();
        }
    }

    fn note_output(output: &CreatedIssue, record: &mut AuditRecord) {
        record.issue_key = Some(output.key.clone());
        record.issue_url = Some(output.result_url.clone());
    }

    async fn run(
        state: &AppState,
        caller: &Caller,
        input: CreateIssueInput,
        record: &mut AuditRecord,
    ) -> Result<CreatedIssue, Error> {
        create(state, caller, input, record).await
    }
}

/// Prepares and submits the issue; notes in the audit record what it
/// resolved.
async fn create(
    state: &AppState,
    caller: &Caller,
    input: CreateIssueInput,
    record: &mut AuditRecord,
) -> Result<CreatedIssue, Error> {
    let prepared = prepare(state, caller, input).await?;
    let fields = &prepared.issue.fields;
    record.project = Some(prepared.project_key.clone());
    record.reporter = Some(prepared.reporter_account.clone());
    record.assignee = fields.assignee.as_ref().map(|a| a.as_str().to_owned());
    record.issue_type = Some(fields.issuetype.id.clone());
    let created = submit::submit(
        &caller.jira,
        &prepared.issue,
        &prepared.marker,
        prepared.issue.fields.reporter.as_ref().map(|r| r.as_str()),
        caller.recovering,
        state.config().outcome_settle(),
    )
    .await?;
    let result_url = caller.jira.browse_url(&created.key);
    tracing::info!(key = %created.key, "issue created");
    let mut answer = CreatedIssue {
        result_url,
        key: created.key,
        reporter_set: None,
        message: None,
    };
    if !prepared.reporter_set {
        answer.reporter_set = Some(false);
        answer.message = Some(
            "Created, but Jira would not let the tool set you as reporter, so the reporter is the tool's account. A Jira admin can fix this by adding Reporter to the create screen and granting Modify Reporter.".to_owned(),
        );
    }
    Ok(answer)
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
        state.resolver().project(jira, caller.scope, &input.project),
        reporter_of(state, caller),
        resolve_assignee(state, caller, input.assignee.as_ref()),
    );
    let project = project?;
    if !state
        .config()
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
        .resolver()
        .create_meta(jira, caller.scope, &project.id, &issue_type)
        .await?;
    let reporter_set = fields::reporter_settable(&meta);
    if !reporter_set && state.config().reporter_policy == ReporterPolicy::Require {
        return Err(Error::ReporterNotSettable(project.key.clone()));
    }
    let extra = state
        .config()
        .project(&project.id, &project.key)
        .map(|settings| settings.defaults.clone())
        .unwrap_or_default();

    let description = match input.description.as_deref() {
        Some(text) => description(
            caller.jira.flavor(),
            state.config().description_format,
            text,
        )?,
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
                .map(|p| IdRef::new(state.config().priority_id(p))),
            components: components.into_iter().map(IdRef::new).collect(),
            description,
            assignee: assignee.map(|id| caller.jira.user_ref(id)),
            reporter: reporter_set.then(|| caller.jira.user_ref(reporter.clone())),
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

/// The reporter: a signed-in person's own account (checked active on this
/// site), else the account the caller's email finds.
async fn reporter_of(state: &AppState, caller: &Caller) -> Result<UserMatch, Error> {
    match &caller.account_id {
        Some(account_id) => {
            state
                .resolver()
                .account(&caller.jira, caller.scope, account_id)
                .await
        }
        None => {
            state
                .resolver()
                .user(&caller.jira, caller.scope, &caller.email)
                .await
        }
    }
}

async fn resolve_assignee(
    state: &AppState,
    caller: &Caller,
    assignee: Option<&AssigneeRef>,
) -> Result<Option<String>, Error> {
    let jira = &caller.jira;
    match assignee {
        None => Ok(None),
        // Jira itself refuses an account id that cannot be assigned.
        Some(AssigneeRef::AccountId(id)) => Ok(Some(id.clone())),
        Some(AssigneeRef::Email(email)) => {
            match state.resolver().user(jira, caller.scope, email).await? {
                UserMatch::Found { account_id, .. } => Ok(Some(account_id)),
                UserMatch::NotFound => Err(Error::AssigneeNotFound(email.clone())),
                UserMatch::Ambiguous(candidates) => Err(Error::AssigneeAmbiguous {
                    given: email.clone(),
                    candidates,
                }),
            }
        }
    }
}

/// The description as the Jira takes it: ADF on Cloud, wiki markup (a
/// JSON string) on Data Center. `None` when nothing would show.
fn description(
    flavor: Flavor,
    format: DescriptionFormat,
    text: &str,
) -> Result<Option<Box<serde_json::value::RawValue>>, Error> {
    let raw = match flavor {
        Flavor::Cloud => {
            let doc = match format {
                DescriptionFormat::Markdown => adf::from_markdown(text),
                DescriptionFormat::Plain => adf::from_plain_text(text),
            };
            if doc.is_empty() {
                return Ok(None);
            }
            serde_json::value::to_raw_value(&doc)
        }
        Flavor::DataCenter => {
            let markup = match format {
                DescriptionFormat::Markdown => wiki::from_markdown(text),
                DescriptionFormat::Plain => wiki::from_plain_text(text),
            };
            if markup.trim().is_empty() {
                return Ok(None);
            }
            serde_json::value::to_raw_value(&markup)
        }
    };
    raw.map(Some)
        .map_err(|e| Error::Internal(format!("description: {e}")))
}
