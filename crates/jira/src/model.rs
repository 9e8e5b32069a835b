//! The parts of Jira's resources that jira-action reads or writes. Unknown
//! fields are ignored so that Jira adding fields never breaks us.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A Jira user as `user/search` returns it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct User {
    pub account_id: String,
    /// `atlassian`, `app` or `customer`.
    #[serde(default)]
    pub account_type: String,
    /// Absent or null when the user's privacy settings hide it.
    #[serde(default)]
    pub email_address: Option<String>,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub active: bool,
}

impl User {
    /// A real, active person: only these may be reporter or assignee.
    pub fn is_active_person(&self) -> bool {
        self.active && self.account_type == "atlassian"
    }
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct IssueType {
    pub id: String,
    pub name: String,
    #[serde(default)]
    pub subtask: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Component {
    pub id: String,
    pub name: String,
}

/// A project with the issue types and components it offers.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Project {
    pub id: String,
    pub key: String,
    pub name: String,
    #[serde(default)]
    pub issue_types: Vec<IssueType>,
    #[serde(default)]
    pub components: Vec<Component>,
}

/// One page of `project/search`.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProjectPage {
    #[serde(default)]
    pub values: Vec<ProjectSummary>,
    #[serde(default)]
    pub is_last: bool,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct ProjectSummary {
    pub id: String,
    pub key: String,
    pub name: String,
}

#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct Priority {
    pub id: String,
    pub name: String,
}

/// The answer to a create: `201 {id, key, self}`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct CreatedIssue {
    pub id: String,
    pub key: String,
    #[serde(rename = "self")]
    pub self_url: String,
}

/// `GET /myself`.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct Myself {
    pub account_id: String,
    #[serde(default)]
    pub display_name: String,
    #[serde(default)]
    pub email_address: Option<String>,
}

/// One site an OAuth token may reach (`oauth/token/accessible-resources`).
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
pub struct AccessibleResource {
    /// The cloud id.
    pub id: String,
    pub name: String,
    pub url: String,
    #[serde(default)]
    pub scopes: Vec<String>,
}

/// A reference by id, as Jira's create accepts for most fields.
#[derive(Clone, Debug, Serialize, PartialEq, Eq)]
pub struct IdRef {
    pub id: String,
}

impl IdRef {
    pub fn new(id: impl Into<String>) -> IdRef {
        IdRef { id: id.into() }
    }
}

/// An issue property set at creation (`properties` on create).
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct EntityProperty {
    pub key: String,
    pub value: Value,
}

/// The fields of a new issue, typed for what jira-action sets; anything a
/// site additionally needs goes in `extra` (custom fields by id).
#[derive(Clone, Debug, Serialize)]
pub struct NewIssueFields {
    pub project: IdRef,
    pub issuetype: IdRef,
    pub summary: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub priority: Option<IdRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub components: Vec<IdRef>,
    /// An ADF document, already serialised: it is the largest part of a
    /// create and goes into the body as it is, never through a `Value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Box<serde_json::value::RawValue>>,
    /// User fields take `{"id": accountId}` (Atlassian's documented form).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<IdRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<IdRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duedate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `POST /rest/api/3/issue`.
#[derive(Clone, Debug, Serialize)]
pub struct NewIssue {
    pub fields: NewIssueFields,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub properties: Vec<EntityProperty>,
}

/// One field of a create screen, from create metadata.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FieldMeta {
    pub field_id: String,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub required: bool,
    #[serde(default)]
    pub has_default_value: bool,
    #[serde(default)]
    pub schema: Option<FieldSchema>,
    /// Present for fields with a closed set of values (priority,
    /// components, select lists, …): each has an `id` and a `name` or
    /// `value`.
    #[serde(default)]
    pub allowed_values: Option<Vec<Value>>,
}

#[derive(Clone, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct FieldSchema {
    #[serde(default, rename = "type")]
    pub kind: String,
    #[serde(default)]
    pub items: Option<String>,
    #[serde(default)]
    pub system: Option<String>,
    #[serde(default)]
    pub custom: Option<String>,
}

/// One page of `createmeta/{project}/issuetypes/{id}`. The spec names the
/// array `fields`, and also lists `results`; either is read.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldMetaPage {
    #[serde(default)]
    pub fields: Vec<FieldMeta>,
    #[serde(default)]
    pub results: Vec<FieldMeta>,
    #[serde(default)]
    pub total: Option<u64>,
}

/// An issue as `search/jql` returns it, with the properties asked for.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FoundIssue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct SearchPage {
    #[serde(default)]
    pub issues: Vec<FoundIssue>,
    #[serde(default)]
    pub next_page_token: Option<String>,
}

/// `GET /mypermissions`: each permission asked for, held or not.
#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
pub struct MyPermissions {
    #[serde(default)]
    pub permissions: std::collections::BTreeMap<String, PermissionGrant>,
}

impl MyPermissions {
    /// Whether the credentials hold `key` (absent means no).
    pub fn has(&self, key: &str) -> bool {
        self.permissions
            .get(key)
            .is_some_and(|grant| grant.have_permission)
    }
}

#[derive(Clone, Debug, Default, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PermissionGrant {
    #[serde(default)]
    pub have_permission: bool,
}
