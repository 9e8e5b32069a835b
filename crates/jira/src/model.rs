//! The parts of Jira's resources that jira-action reads or writes. Unknown
//! fields are ignored so that Jira adding fields never breaks us.

use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

/// A Jira user as `user/search` returns it.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase", try_from = "WireUser")]
pub struct User {
    /// What names the user in this Jira's user fields: the account id on
    /// Cloud; on Data Center, which has no account ids, the username.
    pub account_id: String,
    /// `atlassian`, `app` or `customer` (Cloud). Data Center users, which
    /// have no type, read as `atlassian`.
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

/// A user as either Jira sends it: Cloud with `accountId` (and
/// `accountType`), Data Center with `name` (the username) and `key`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireUser {
    #[serde(default)]
    account_id: Option<String>,
    #[serde(default)]
    name: Option<String>,
    #[serde(default)]
    account_type: Option<String>,
    #[serde(default)]
    email_address: Option<String>,
    #[serde(default)]
    display_name: String,
    #[serde(default)]
    active: bool,
}

impl TryFrom<WireUser> for User {
    type Error = &'static str;

    fn try_from(wire: WireUser) -> Result<User, &'static str> {
        let (account_id, account_type) = match (wire.account_id, wire.name) {
            (Some(id), _) => (id, wire.account_type.unwrap_or_default()),
            (None, Some(name)) => (name, "atlassian".to_owned()),
            (None, None) => return Err("a user without accountId or name"),
        };
        Ok(User {
            account_id,
            account_type,
            email_address: wire.email_address,
            display_name: wire.display_name,
            active: wire.active,
        })
    }
}

impl TryFrom<WireUser> for Myself {
    type Error = &'static str;

    fn try_from(wire: WireUser) -> Result<Myself, &'static str> {
        let user = User::try_from(wire)?;
        Ok(Myself {
            account_id: user.account_id,
            display_name: user.display_name,
            email_address: user.email_address,
        })
    }
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
#[serde(rename_all = "camelCase", try_from = "WireUser")]
pub struct Myself {
    /// The account id on Cloud, the username on Data Center.
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

/// A user in a user field: `{"id": accountId}` on Cloud (Atlassian's
/// documented form), `{"name": username}` on Data Center.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum UserRef {
    AccountId(String),
    Username(String),
}

impl UserRef {
    /// The account id or username.
    pub fn as_str(&self) -> &str {
        match self {
            UserRef::AccountId(id) | UserRef::Username(id) => id,
        }
    }

    /// The JSON a user field takes.
    pub fn to_json(&self) -> Value {
        match self {
            UserRef::AccountId(id) => serde_json::json!({ "id": id }),
            UserRef::Username(name) => serde_json::json!({ "name": name }),
        }
    }
}

impl Serialize for UserRef {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = serializer.serialize_map(Some(1))?;
        match self {
            UserRef::AccountId(id) => map.serialize_entry("id", id)?,
            UserRef::Username(name) => map.serialize_entry("name", name)?,
        }
        map.end()
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
    /// An ADF document (Cloud) or a JSON string of wiki markup (Data
    /// Center), already serialised: it is the largest part of a create and
    /// goes into the body as it is, never through a `Value`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub description: Option<Box<serde_json::value::RawValue>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub assignee: Option<UserRef>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub reporter: Option<UserRef>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub labels: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub duedate: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parent: Option<Value>,
    #[serde(flatten)]
    pub extra: Map<String, Value>,
}

/// The body of `POST /rest/api/{3,2}/issue`.
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

/// One page of `createmeta/{project}/issuetypes/{id}`. Cloud's spec names
/// the array `fields`, and also lists `results`; Data Center's is `values`
/// (with `isLast`); any is read.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct FieldMetaPage {
    #[serde(default)]
    pub fields: Vec<FieldMeta>,
    #[serde(default)]
    pub results: Vec<FieldMeta>,
    #[serde(default)]
    pub values: Vec<FieldMeta>,
    #[serde(default)]
    pub total: Option<u64>,
    #[serde(default)]
    pub is_last: Option<bool>,
}

/// An issue as `search/jql` returns it, with the properties asked for.
#[derive(Clone, Debug, Deserialize, PartialEq)]
pub struct FoundIssue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub properties: Map<String, Value>,
}

/// One page of Data Center's `GET /search` (offset paging, no issue
/// properties).
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub(crate) struct OffsetSearchPage {
    #[serde(default)]
    pub issues: Vec<OffsetSearchIssue>,
    #[serde(default)]
    pub total: Option<u64>,
}

#[derive(Clone, Debug, Deserialize)]
pub(crate) struct OffsetSearchIssue {
    pub id: String,
    pub key: String,
    #[serde(default)]
    pub fields: SummaryField,
}

#[derive(Clone, Debug, Default, Deserialize)]
pub(crate) struct SummaryField {
    #[serde(default)]
    pub summary: String,
}

/// `GET /serverInfo`: which Jira this is.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct ServerInfo {
    /// `Cloud`, or `Server` (Data Center and Server).
    #[serde(default)]
    pub deployment_type: String,
    #[serde(default)]
    pub version: String,
    #[serde(default)]
    pub base_url: String,
}

impl ServerInfo {
    pub fn flavor(&self) -> crate::Flavor {
        crate::Flavor::from_deployment_type(&self.deployment_type)
    }
}

/// What a search by issue property found.
#[derive(Clone, Debug, PartialEq)]
pub enum PropertySearch {
    /// The first issue whose property matched.
    Found(FoundIssue),
    /// None of the issues read matched; this many were read (the search
    /// stops one past its limit, so more than the limit means "cut short").
    NotAmong(usize),
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
