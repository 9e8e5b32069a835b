//! Jira's JSON shapes for the resources the simulator returns.

use serde_json::{Map, Value, json};

use std::fmt;

use crate::config::Flavor;
use crate::model::{Component, CustomFieldKind, IssueType, Priority, Project, User};
use crate::sim::{IssueStore, StoredIssue, World};
use crate::time;

/// Where links point: the site's base URL (with any context path) and,
/// as its `Display`, the REST API root of the flavor under it
/// (`{site}/rest/api/3` or `{site}/rest/api/2`). Written without copying,
/// so Cloud's links cost what they did.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Base<'a> {
    pub(crate) site: &'a str,
    pub(crate) flavor: Flavor,
}

impl Base<'_> {
    pub(crate) fn dc(self) -> bool {
        self.flavor == Flavor::DataCenter
    }
}

impl fmt::Display for Base<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let api = match self.flavor {
            Flavor::Cloud => "/rest/api/3",
            Flavor::DataCenter => "/rest/api/2",
        };
        write!(f, "{}{api}", self.site)
    }
}

fn encode_component(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn initials(name: &str) -> String {
    let initials: String = name
        .split_whitespace()
        .filter_map(|w| w.chars().next())
        .take(2)
        .flat_map(char::to_uppercase)
        .collect();
    if initials.is_empty() {
        "U".to_owned()
    } else {
        initials
    }
}

fn user_avatars(user: &User) -> Value {
    let base = format!(
        "https://avatar-management--avatars.us-west-2.prod.public.atl-paas.net/initials/{}-3.png",
        encode_component(&initials(&user.display_name))
    );
    json!({
        "48x48": format!("{base}?size=48&s=48"),
        "24x24": format!("{base}?size=24&s=24"),
        "16x16": format!("{base}?size=16&s=16"),
        "32x32": format!("{base}?size=32&s=32"),
    })
}

/// A user as Jira shows it to others: `emailAddress` only when visible
/// (or when `show_email`, for the user's own `myself`).
pub(crate) fn user(user: &User, base: Base<'_>, show_email: bool) -> Value {
    if base.dc() {
        return user_dc(user, base);
    }
    let mut v = json!({
        "self": format!("{base}/user?accountId={}", encode_component(&user.account_id)),
        "accountId": user.account_id,
        "accountType": user.account_type.as_str(),
        "avatarUrls": user_avatars(user),
        "displayName": user.display_name,
        "active": user.active,
    });
    if let Some(email) = &user.email
        && (user.email_visible || show_email)
    {
        v["emailAddress"] = json!(email);
    }
    if let Some(tz) = &user.time_zone {
        v["timeZone"] = json!(tz);
        v["locale"] = json!("en_US");
    }
    v
}

/// Data Center serves avatars itself, by owner.
fn user_avatars_dc(user: &User, base: Base<'_>) -> Value {
    let url = |size: &str| {
        format!(
            "{}/secure/useravatar?size={size}&ownerId={}",
            base.site,
            encode_component(&user.key)
        )
    };
    json!({
        "48x48": url("large"),
        "24x24": url("small"),
        "16x16": url("xsmall"),
        "32x32": url("medium"),
    })
}

/// A user as Data Center shows it: username and key, no account id. Data
/// Center's email visibility is one global setting, here "public" (its
/// default), so `emailAddress` is always there when the user has one.
fn user_dc(user: &User, base: Base<'_>) -> Value {
    let mut v = json!({
        "self": format!("{base}/user?username={}", encode_component(&user.name)),
        "key": user.key,
        "name": user.name,
        "avatarUrls": user_avatars_dc(user, base),
        "displayName": user.display_name,
        "active": user.active,
    });
    if let Some(email) = &user.email {
        v["emailAddress"] = json!(email);
    }
    if let Some(tz) = &user.time_zone {
        v["timeZone"] = json!(tz);
    }
    v
}

pub(crate) fn issue_type(t: &IssueType, base: Base<'_>) -> Value {
    let avatar = match t.id.as_str() {
        _ if t.subtask => 10316,
        _ if t.hierarchy_level > 0 => 10307,
        _ => match t.name.as_str() {
            "Bug" => 10303,
            "Story" => 10315,
            _ => 10318,
        },
    };
    let mut v = json!({
        "self": format!("{base}/issuetype/{}", t.id),
        "id": t.id,
        "description": t.description,
        "iconUrl": format!("{}/rest/api/2/universal_avatar/view/type/issuetype/avatar/{avatar}?size=medium", base.site),
        "name": t.name,
        "subtask": t.subtask,
        "avatarId": avatar,
        "hierarchyLevel": t.hierarchy_level,
    });
    if base.dc()
        && let Value::Object(map) = &mut v
    {
        // Data Center's issue types have no hierarchy levels.
        map.remove("hierarchyLevel");
    }
    v
}

pub(crate) fn priority(p: &Priority, base: Base<'_>) -> Value {
    json!({
        "self": format!("{base}/priority/{}", p.id),
        "statusColor": p.status_color,
        "description": p.description,
        "iconUrl": format!("{}/images/icons/priorities/{}.svg", base.site, p.name.to_lowercase()),
        "name": p.name,
        "id": p.id,
    })
}

/// A priority as `priority/search` returns it (with `isDefault`).
pub(crate) fn priority_with_default(p: &Priority, base: Base<'_>) -> Value {
    let mut v = priority(p, base);
    v["isDefault"] = json!(p.is_default);
    v
}

/// A priority as an issue field shows it.
fn priority_ref(p: &Priority, base: Base<'_>) -> Value {
    json!({
        "self": format!("{base}/priority/{}", p.id),
        "iconUrl": format!("{}/images/icons/priorities/{}.svg", base.site, p.name.to_lowercase()),
        "name": p.name,
        "id": p.id,
    })
}

/// A component as the components endpoint and `project` return it.
pub(crate) fn component(c: &Component, project: &Project, base: Base<'_>) -> Value {
    json!({
        "self": format!("{base}/component/{}", c.id),
        "id": c.id,
        "name": c.name,
        "description": c.description,
        "assigneeType": "PROJECT_DEFAULT",
        "realAssigneeType": "PROJECT_DEFAULT",
        "isAssigneeTypeValid": false,
        "project": project.key,
        "projectId": project.id.parse::<u64>().map(Value::from).unwrap_or_else(|_| json!(project.id)),
    })
}

/// A component as an issue field and create metadata show it.
pub(crate) fn component_ref(c: &Component, base: Base<'_>) -> Value {
    json!({
        "self": format!("{base}/component/{}", c.id),
        "id": c.id,
        "name": c.name,
    })
}

fn project_avatars(p: &Project, base: Base<'_>) -> Value {
    let url = |size: &str| {
        format!(
            "{}/secure/projectavatar?size={size}&pid={}",
            base.site, p.id
        )
    };
    json!({
        "48x48": url("large"),
        "24x24": url("small"),
        "16x16": url("xsmall"),
        "32x32": url("medium"),
    })
}

/// A project as issue fields and project search show it.
pub(crate) fn project_ref(p: &Project, base: Base<'_>) -> Value {
    let mut v = json!({
        "self": format!("{base}/project/{}", p.id),
        "id": p.id,
        "key": p.key,
        "name": p.name,
        "projectTypeKey": "software",
        "simplified": false,
        "avatarUrls": project_avatars(p, base),
    });
    if base.dc()
        && let Value::Object(map) = &mut v
    {
        map.remove("simplified");
    }
    v
}

/// `GET /project/{projectIdOrKey}` (description, lead, issue types and
/// components are in Jira's default response).
pub(crate) fn project(p: &Project, world: &World, base: Base<'_>) -> Value {
    let lead = p
        .lead_account_id
        .as_deref()
        .and_then(|id| world.directory.get(id))
        .map(|u| user(u, base, false));
    let issue_types: Vec<Value> = p
        .issue_type_ids
        .iter()
        .filter_map(|id| world.issue_type(id))
        .map(|t| issue_type(t, base))
        .collect();
    let components: Vec<Value> = p.components.iter().map(|c| component(c, p, base)).collect();
    let mut v = json!({
        "expand": "description,lead,issueTypes,url,projectKeys,permissions,insight",
        "self": format!("{base}/project/{}", p.id),
        "id": p.id,
        "key": p.key,
        "description": p.description,
        "components": components,
        "issueTypes": issue_types,
        "assigneeType": "UNASSIGNED",
        "versions": [],
        "name": p.name,
        "roles": {},
        "avatarUrls": project_avatars(p, base),
        "projectTypeKey": "software",
        "simplified": false,
        "style": "classic",
        "isPrivate": false,
        "properties": {},
    });
    if let Some(lead) = lead {
        v["lead"] = lead;
    }
    if base.dc()
        && let Value::Object(map) = &mut v
    {
        // Cloud-only: team-managed projects, privacy, project properties.
        for key in ["simplified", "style", "isPrivate", "properties"] {
            map.remove(key);
        }
        map.insert("archived".into(), json!(false));
    }
    v
}

fn status(base: Base<'_>) -> Value {
    json!({
        "self": format!("{base}/status/10000"),
        "description": "",
        "iconUrl": format!("{}/", base.site),
        "name": "To Do",
        "id": "10000",
        "statusCategory": {
            "self": format!("{base}/statuscategory/2"),
            "id": 2,
            "key": "new",
            "colorName": "blue-gray",
            "name": "To Do",
        },
    })
}

/// Which fields a read returns (`fields` parameter).
pub(crate) struct FieldSelection {
    all: bool,
    include: Vec<String>,
    exclude: Vec<String>,
}

impl FieldSelection {
    /// From the `fields` values; `default_all` when none are given
    /// (`GET issue`: all; search: ids only).
    pub(crate) fn parse(list: &[String], default_all: bool) -> FieldSelection {
        let mut sel = FieldSelection {
            all: false,
            include: Vec::new(),
            exclude: Vec::new(),
        };
        for item in list {
            match item.as_str() {
                "*all" | "*navigable" => sel.all = true,
                "id" => {}
                s => match s.strip_prefix('-') {
                    Some(excluded) => sel.exclude.push(excluded.to_owned()),
                    None => sel.include.push(s.to_owned()),
                },
            }
        }
        if list.is_empty() {
            sel.all = default_all;
        } else if sel.include.is_empty() && !sel.exclude.is_empty() {
            // "-description": every navigable field but description.
            sel.all = true;
        }
        sel
    }

    pub(crate) fn id_only(&self) -> bool {
        !self.all && self.include.is_empty()
    }

    fn wants(&self, field: &str) -> bool {
        (self.all || self.include.iter().any(|f| f == field))
            && !self.exclude.iter().any(|f| f == field)
    }
}

fn user_field(world: &World, account_id: Option<&str>, base: Base<'_>) -> Value {
    account_id
        .and_then(|id| world.directory.get(id))
        .map(|u| user(u, base, false))
        .unwrap_or(Value::Null)
}

/// The `fields` object of an issue.
fn issue_fields(
    world: &World,
    store: &IssueStore,
    issue: &StoredIssue,
    base: Base<'_>,
) -> Map<String, Value> {
    let project = world.project(&issue.project_id);
    let mut f = Map::new();
    f.insert("summary".into(), json!(issue.summary));
    f.insert(
        "project".into(),
        project.map(|p| project_ref(p, base)).unwrap_or(Value::Null),
    );
    f.insert(
        "issuetype".into(),
        world
            .issue_type(&issue.issue_type_id)
            .map(|t| issue_type(t, base))
            .unwrap_or(Value::Null),
    );
    f.insert(
        "priority".into(),
        issue
            .priority_id
            .as_deref()
            .and_then(|id| world.priority(id))
            .map(|p| priority_ref(p, base))
            .unwrap_or(Value::Null),
    );
    let components: Vec<Value> = issue
        .component_ids
        .iter()
        .filter_map(|id| project.and_then(|p| p.components.iter().find(|c| c.id == *id)))
        .map(|c| component_ref(c, base))
        .collect();
    f.insert("components".into(), json!(components));
    f.insert(
        "description".into(),
        issue.description.clone().unwrap_or(Value::Null),
    );
    f.insert(
        "assignee".into(),
        user_field(world, issue.assignee.as_deref(), base),
    );
    f.insert(
        "reporter".into(),
        user_field(world, issue.reporter.as_deref(), base),
    );
    f.insert(
        "creator".into(),
        user_field(world, Some(&issue.creator), base),
    );
    f.insert("labels".into(), json!(issue.labels));
    f.insert("duedate".into(), json!(issue.duedate));
    if let Some(parent) = issue.parent_id.as_deref().and_then(|id| store.find(id)) {
        f.insert(
            "parent".into(),
            json!({
                "id": parent.id,
                "key": parent.key,
                "self": format!("{base}/issue/{}", parent.id),
                "fields": {
                    "summary": parent.summary,
                    "status": status(base),
                    "priority": parent.priority_id.as_deref().and_then(|id| world.priority(id)).map(|p| priority_ref(p, base)),
                    "issuetype": world.issue_type(&parent.issue_type_id).map(|t| issue_type(t, base)),
                },
            }),
        );
    }
    let created = time::format_jira(time::to_ms(issue.created));
    f.insert("created".into(), json!(created));
    f.insert("updated".into(), json!(created));
    f.insert("status".into(), status(base));
    for (id, value) in &issue.custom_fields {
        let rendered = match world.custom_field(id).map(|d| d.kind) {
            Some(CustomFieldKind::Select) => option_json(value, id, base),
            Some(CustomFieldKind::MultiSelect) => Value::Array(
                value
                    .as_array()
                    .map(|a| a.iter().map(|o| option_json(o, id, base)).collect())
                    .unwrap_or_default(),
            ),
            Some(CustomFieldKind::User) => {
                let directory = &world.directory;
                let found = match (value.get("accountId"), value.get("name")) {
                    (Some(Value::String(id)), _) => directory.get(id),
                    (_, Some(Value::String(name))) => directory.by_name(name),
                    _ => None,
                };
                found.map(|u| user(u, base, false)).unwrap_or(Value::Null)
            }
            _ => value.clone(),
        };
        f.insert(id.clone(), rendered);
    }
    f
}

fn option_json(option: &Value, field_id: &str, base: Base<'_>) -> Value {
    let id = option.get("id").and_then(Value::as_str).unwrap_or_default();
    let custom_id = field_id.trim_start_matches("customfield_");
    json!({
        "self": format!("{base}/customFieldOption/{id}"),
        "value": option.get("value"),
        "id": id,
        "customFieldId": custom_id,
    })
}

/// An issue as `GET issue` and search return it.
pub(crate) fn issue(
    world: &World,
    store: &IssueStore,
    issue: &StoredIssue,
    base: Base<'_>,
    selection: &FieldSelection,
    properties: &[String],
    id_only_shape: bool,
) -> Value {
    let mut v = if id_only_shape && selection.id_only() {
        json!({"id": issue.id})
    } else {
        let fields: Map<String, Value> = issue_fields(world, store, issue, base)
            .into_iter()
            .filter(|(k, _)| selection.wants(k))
            .collect();
        json!({
            "expand": "renderedFields,names,schema,operations,editmeta,changelog,versionedRepresentations",
            "id": issue.id,
            "self": format!("{base}/issue/{}", issue.id),
            "key": issue.key,
            "fields": fields,
        })
    };
    if !properties.is_empty() {
        let all = properties.iter().any(|p| p == "*all");
        let props: Map<String, Value> = issue
            .properties
            .iter()
            .filter(|(k, _)| all || properties.iter().any(|p| p == *k))
            .map(|(k, val)| (k.clone(), val.clone()))
            .collect();
        v["properties"] = Value::Object(props);
    }
    v
}
