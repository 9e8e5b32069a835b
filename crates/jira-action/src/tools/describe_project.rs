//! `describe_project`: what a model needs to fill `create_issue` right the
//! first time: a project's issue types, priorities and components, and per
//! issue type the fields its create screen requires, with their allowed
//! values. Read-only; it uses the caches of the create path, so asking
//! before creating costs the create nothing.

use jira::FieldMeta;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::{Caller, Error, Operation};
use crate::app::AppState;
use crate::glean::contract::ProjectRef;
use crate::store::AuditRecord;

/// The operation.
pub struct DescribeProject;

/// A project, as `create_issue` can file into it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct ProjectDescription {
    pub id: String,
    /// What `pid` takes (the id works too).
    pub key: String,
    pub name: String,
    pub issue_types: Vec<IssueTypeDescription>,
    /// What `priority` takes: 1 (highest) to 5 (lowest), and the Jira
    /// priority each stands for here.
    pub priorities: Vec<PriorityChoice>,
    /// What `components` takes (ids or names).
    pub components: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct IssueTypeDescription {
    /// What `issuetype` takes (the name works too).
    pub id: String,
    pub name: String,
    /// Sub-tasks need `parent`.
    pub subtask: bool,
    /// The fields this issue type's create screen requires and Jira has no
    /// default for.
    pub required_fields: Vec<RequiredField>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct RequiredField {
    /// The Jira field id, e.g. `priority` or `customfield_10050`.
    pub field: String,
    pub name: String,
    /// The `create_issue` argument that sets it; `null` when none does
    /// (then the operator's per-project default must, or the create is
    /// refused).
    pub argument: Option<String>,
    /// Whether the operator configured a default for it.
    pub has_configured_default: bool,
    /// The values Jira accepts, when it lists them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub allowed_values: Vec<Choice>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct Choice {
    pub id: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize, JsonSchema)]
pub struct PriorityChoice {
    /// The value to pass as `priority`.
    pub priority: u8,
    /// The Jira priority's id.
    pub id: String,
    /// Its name, when the create screen lists it.
    pub name: Option<String>,
}

impl Operation for DescribeProject {
    const NAME: &'static str = "describe_project";
    const WRITES: bool = false;
    type Input = ProjectRef;
    type Output = ProjectDescription;

    fn parse(mut arguments: Map<String, Value>) -> Result<ProjectRef, Error> {
        if let Some(unknown) = arguments.keys().find(|k| k.as_str() != "project") {
            return Err(Error::UnknownField(unknown.chars().take(64).collect()));
        }
        let given = arguments
            .remove("project")
            .filter(|v| !v.is_null())
            .ok_or(Error::MissingField("project"))?;
        crate::glean::contract::parse_project(given, "project")
    }

    async fn run(
        state: &AppState,
        caller: &Caller,
        project: ProjectRef,
        _record: &mut AuditRecord,
    ) -> Result<ProjectDescription, Error> {
        let jira = &caller.jira;
        let project = state
            .resolver()
            .project(jira, caller.scope, &project)
            .await?;
        if !state
            .config()
            .access
            .project_allowed(&project.id, &project.key)
        {
            return Err(Error::ProjectNotAllowed(project.key.clone()));
        }
        let defaults = state
            .config()
            .project(&project.id, &project.key)
            .map(|settings| settings.defaults.clone())
            .unwrap_or_default();
        let mut issue_types = Vec::new();
        let mut priority_names: Vec<Choice> = Vec::new();
        for issue_type in &project.issue_types {
            let meta = state
                .resolver()
                .create_meta(jira, caller.scope, &project.id, &issue_type.id)
                .await?;
            if priority_names.is_empty() {
                priority_names = meta
                    .iter()
                    .find(|f| f.field_id == "priority")
                    .map(choices)
                    .unwrap_or_default();
            }
            issue_types.push(IssueTypeDescription {
                id: issue_type.id.clone(),
                name: issue_type.name.clone(),
                subtask: issue_type.subtask,
                required_fields: meta
                    .iter()
                    .filter(|f| f.required && !f.has_default_value)
                    .map(|f| RequiredField {
                        field: f.field_id.clone(),
                        name: f.name.clone(),
                        argument: argument_for(&f.field_id).map(str::to_owned),
                        has_configured_default: defaults.contains_key(&f.field_id),
                        allowed_values: choices(f),
                    })
                    .collect(),
            });
        }
        let priorities = (1..=5)
            .map(|level| {
                let id = state.config().priority_id(level);
                let name = priority_names
                    .iter()
                    .find(|c| c.id == id)
                    .map(|c| c.name.clone());
                PriorityChoice {
                    priority: level,
                    id,
                    name,
                }
            })
            .collect();
        Ok(ProjectDescription {
            id: project.id.clone(),
            key: project.key.clone(),
            name: project.name.clone(),
            issue_types,
            priorities,
            components: project
                .components
                .iter()
                .map(|c| Choice {
                    id: c.id.clone(),
                    name: c.name.clone(),
                })
                .collect(),
        })
    }
}

/// The `create_issue` argument that sets a Jira field, if any does; the
/// reporter is the caller and the tool sets it.
fn argument_for(field: &str) -> Option<&'static str> {
    Some(match field {
        "project" => "pid",
        "issuetype" => "issuetype",
        "summary" => "summary",
        "description" => "description",
        "priority" => "priority",
        "components" => "components",
        "assignee" => "assignee",
        "labels" => "labels",
        "duedate" => "duedate",
        "parent" => "parent",
        "reporter" => "(the person asking)",
        _ => return None,
    })
}

/// A field's allowed values as id and name (`value` for select options).
fn choices(field: &FieldMeta) -> Vec<Choice> {
    field
        .allowed_values
        .iter()
        .flatten()
        .filter_map(|v| {
            let id = v.get("id")?.as_str()?.to_owned();
            let name = v
                .get("name")
                .or_else(|| v.get("value"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Some(Choice { id, name })
        })
        .collect()
}
