//! `POST /rest/api/3/issue` (Data Center: `POST /rest/api/2/issue`):
//! validation as Jira does it, then storage. Data Center differs only in
//! its values: user fields by `{"name"}`, text areas and the description
//! as wiki markup strings.
//!
//! Order, as on Jira: the project and issue type first (nothing else can
//! be checked without them), then the Create issues permission, then every
//! field against the caller's create screen, all field errors in one
//! answer.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::time::SystemTime;

use axum::Extension;
use axum::body::Bytes;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde_json::{Map, Value, json};

use crate::config::Permission;
use crate::http::{ApiError, Caller, Ctx, json_response};
use crate::model::{CreateScreen, CustomFieldKind, IssueType, Project};
use crate::sim::{IssueStore, Sim, StoredIssue, World, read, write};

/// Top-level keys of Jira's `IssueUpdateBean`; anything else is rejected.
const TOP_LEVEL: [&str; 5] = [
    "fields",
    "update",
    "properties",
    "transition",
    "historyMetadata",
];

const ADF_ERROR: &str =
    "Operation value must be an Atlassian Document (see the Atlassian Document Format)";
/// Data Center's answer to a non-string where wiki markup goes.
const STRING_ERROR: &str = "Operation value must be a string";
const REPORTER_NOT_A_USER: &str = "The reporter specified is not a user.";
const SUMMARY_REQUIRED: &str = "You must specify a summary of the issue.";
const PROPERTY_VALUE_MAX: usize = 32_768;

/// Checks a value against Atlassian's ADF JSON schema; with the check
/// turned off ([`crate::SimConfig::validate_adf`]), only that it is a
/// document at all.
fn validate_adf(full: bool, value: &Value) -> Result<(), ()> {
    if full {
        adf::schema::validate(value).map_err(drop)
    } else if value.get("type").and_then(Value::as_str) == Some("doc") {
        Ok(())
    } else {
        Err(())
    }
}

fn not_on_screen(field: &str) -> String {
    format!("Field '{field}' cannot be set. It is not on the appropriate screen, or unknown.")
}

pub(crate) async fn create_issue(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let json_body = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("application/json"));
    if !json_body {
        return ApiError::new(StatusCode::UNSUPPORTED_MEDIA_TYPE)
            .message("Unsupported Media Type: send the issue as application/json.")
            .into_response();
    }
    let request: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(e) => {
            return ApiError::bad_request(format!("Unexpected character in the request body: {e}"))
                .into_response();
        }
    };
    match create(&sim, &ctx.caller, request, body) {
        Ok((id, key)) => {
            let url = format!("{}/issue/{id}", ctx.links());
            json_response(
                StatusCode::CREATED,
                json!({ "id": id, "key": key, "self": url }),
            )
        }
        Err(e) => e.into_response(),
    }
}

/// `body` is the request as received, kept with the issue; `request` is
/// its parse.
fn create(
    sim: &Sim,
    caller: &Caller,
    mut request: Value,
    body: Bytes,
) -> Result<(String, String), ApiError> {
    let Some(top) = request.as_object() else {
        return Err(ApiError::bad_request(
            "Can not deserialize instance of com.atlassian.jira.rest.v2.issue.IssueUpdateBean out of a non-object token",
        ));
    };
    if let Some(key) = top.keys().find(|k| !TOP_LEVEL.contains(&k.as_str())) {
        return Err(ApiError::bad_request(format!(
            "Unrecognized field \"{key}\" (Class com.atlassian.jira.rest.v2.issue.IssueUpdateBean), not marked as ignorable"
        )));
    }
    // Borrowed unless `update` adds to it: copying a large ADF description
    // is most of a create's cost.
    let mut fields = match top.get("fields") {
        None | Some(Value::Null) => Cow::Owned(Map::new()),
        Some(Value::Object(m)) => Cow::Borrowed(m),
        Some(_) => {
            return Err(ApiError::bad_request(
                "Can not deserialize instance of java.util.HashMap out of a non-object token (through reference chain: IssueUpdateBean[\"fields\"])",
            ));
        }
    };
    merge_update(&mut fields, top.get("update"))?;
    let properties = parse_properties(top.get("properties"))?;

    let world = read(&sim.inner.world);
    let project = match resolve_project(&world, caller, fields.get("project")) {
        Ok(p) => p,
        Err(mut errors) => {
            if fields.get("issuetype").is_none_or(Value::is_null) {
                errors.insert("issuetype".into(), "Specify an issue type".into());
            }
            return Err(ApiError::fields(errors));
        }
    };
    if !caller.has(Permission::CreateIssues) {
        return Err(ApiError::new(StatusCode::FORBIDDEN)
            .message("You do not have permission to create issues in this project."));
    }
    let issue_type = resolve_issue_type(&world, project, fields.get("issuetype"))
        .map_err(|message| ApiError::fields(BTreeMap::from([("issuetype".to_owned(), message)])))?;

    let screen = caller_screen(project, issue_type, caller);
    let dc = sim.inner.flavor == crate::config::Flavor::DataCenter;
    let caller_name = if dc {
        world
            .directory
            .get(&caller.account_id)
            .map(|u| u.name.clone())
    } else {
        None
    };

    let mut issue = StoredIssue {
        id: String::new(),
        key: String::new(),
        project_id: project.id.clone(),
        project_key: project.key.clone(),
        issue_type_id: issue_type.id.clone(),
        summary: String::new(),
        description: None,
        priority_id: default_priority(&world, project),
        component_ids: Vec::new(),
        assignee: None,
        reporter: Some(caller.account_id.clone()),
        creator: caller.account_id.clone(),
        reporter_name: caller_name,
        assignee_name: None,
        labels: Vec::new(),
        duedate: None,
        parent_id: None,
        parent_key: None,
        custom_fields: BTreeMap::new(),
        properties,
        created: SystemTime::now(),
        request: body,
    };
    let mut errors = BTreeMap::new();
    {
        let store = read(&sim.inner.issues);
        let ctx = FieldCtx {
            world: &world,
            store: &store,
            project,
            issue_type,
            validate_adf: sim.inner.validate_adf,
            dc,
        };
        for (id, value) in fields.iter() {
            if id == "project" || id == "issuetype" {
                continue;
            }
            if !screen.has(id) {
                errors.insert(id.clone(), not_on_screen(id));
                continue;
            }
            if let Err(message) = ctx.set(&mut issue, id, value) {
                errors.insert(id.clone(), message);
            }
        }
    }
    for field in &screen.fields {
        // A sub-task's missing parent gets Jira's own message below.
        let subtask_parent = issue_type.subtask && field == "parent";
        if screen.is_required(field)
            && !subtask_parent
            && !errors.contains_key(field)
            && is_empty(&issue, field)
        {
            errors.insert(field.clone(), required_message(&world, field));
        }
    }
    if issue_type.subtask && issue.parent_id.is_none() && !errors.contains_key("parent") {
        errors.insert(
            "parent".into(),
            "Issue type is a sub-task but parent issue key or id not specified.".into(),
        );
    }
    if !errors.is_empty() {
        return Err(ApiError::fields(errors));
    }
    drop(world);
    if issue.description.is_some() {
        // Moved, not copied: from `update`'s merge if there was one, else
        // from the request, now that nothing borrows it.
        let merged = match &mut fields {
            Cow::Owned(merged) => merged.remove("description"),
            Cow::Borrowed(_) => None,
        };
        drop(fields);
        issue.description = merged.or_else(|| {
            request
                .get_mut("fields")
                .and_then(Value::as_object_mut)
                .and_then(|fields| fields.remove("description"))
        });
    }
    Ok(write(&sim.inner.issues).insert(issue))
}

/// Applies `update`'s `set` and `add` operations as if they were in
/// `fields`; copies `fields` only when there is an `update` to apply.
fn merge_update(
    fields: &mut Cow<'_, Map<String, Value>>,
    update: Option<&Value>,
) -> Result<(), ApiError> {
    let update = match update {
        None | Some(Value::Null) => return Ok(()),
        Some(Value::Object(u)) => u,
        Some(_) => {
            return Err(ApiError::bad_request(
                "update must be an object of operation lists.",
            ));
        }
    };
    let fields = fields.to_mut();
    let mut errors = BTreeMap::new();
    for (field, ops) in update {
        if fields.contains_key(field) {
            errors.insert(
                field.clone(),
                format!("Field '{field}' cannot be set in both fields and update."),
            );
            continue;
        }
        let Some(ops) = ops.as_array() else {
            errors.insert(field.clone(), "data was not an array".into());
            continue;
        };
        for op in ops {
            let Some((name, value)) = op.as_object().and_then(|o| o.iter().next()) else {
                errors.insert(field.clone(), "data was not an object".into());
                continue;
            };
            match name.as_str() {
                "set" => {
                    fields.insert(field.clone(), value.clone());
                }
                "add" => match fields.entry(field.clone()).or_insert_with(|| json!([])) {
                    Value::Array(items) => items.push(value.clone()),
                    _ => {
                        errors.insert(field.clone(), "data was not an array".into());
                    }
                },
                other => {
                    errors.insert(
                        field.clone(),
                        format!("Operation '{other}' is not supported on create by the simulator."),
                    );
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(ApiError::fields(errors))
    }
}

fn parse_properties(value: Option<&Value>) -> Result<BTreeMap<String, Value>, ApiError> {
    let items = match value {
        None | Some(Value::Null) => return Ok(BTreeMap::new()),
        Some(Value::Array(items)) => items,
        Some(_) => {
            return Err(ApiError::bad_request(
                "properties must be an array of {key, value}.",
            ));
        }
    };
    let mut properties = BTreeMap::new();
    for item in items {
        let key = item.get("key").and_then(Value::as_str).unwrap_or_default();
        if key.is_empty() {
            return Err(ApiError::bad_request("The property key cannot be empty."));
        }
        if key.chars().count() > 255 {
            return Err(ApiError::bad_request(
                "The property key cannot be longer than 255 characters.",
            ));
        }
        let value = item.get("value").cloned().unwrap_or(Value::Null);
        if value.to_string().len() > PROPERTY_VALUE_MAX {
            return Err(ApiError::bad_request(format!(
                "The property value cannot be longer than {PROPERTY_VALUE_MAX} bytes."
            )));
        }
        properties.insert(key.to_owned(), value);
    }
    Ok(properties)
}

/// An id given as a JSON string or number.
fn id_of(value: &Value, key: &str) -> Option<String> {
    match value.get(key)? {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn resolve_project<'w>(
    world: &'w World,
    caller: &Caller,
    value: Option<&Value>,
) -> Result<&'w Project, BTreeMap<String, String>> {
    let invalid = || {
        BTreeMap::from([(
            "project".to_owned(),
            "Specify a valid project ID or key".to_owned(),
        )])
    };
    let value = value.ok_or_else(invalid)?;
    let found = if let Some(id) = id_of(value, "id") {
        world.projects.iter().find(|p| p.id == id)
    } else if let Some(key) = value.get("key").and_then(Value::as_str) {
        world.projects.iter().find(|p| p.key == key)
    } else {
        None
    };
    // A project the caller cannot browse does not exist for them.
    found
        .filter(|project| caller.browses(&project.key))
        .ok_or_else(invalid)
}

fn resolve_issue_type<'w>(
    world: &'w World,
    project: &Project,
    value: Option<&Value>,
) -> Result<&'w IssueType, String> {
    let value = match value {
        None | Some(Value::Null) => return Err("Specify an issue type".into()),
        Some(v) => v,
    };
    let in_project = |t: &&IssueType| project.issue_type_ids.contains(&t.id);
    let found = if let Some(id) = id_of(value, "id") {
        world
            .issue_types
            .iter()
            .filter(in_project)
            .find(|t| t.id == id)
    } else if let Some(name) = value.get("name").and_then(Value::as_str) {
        world
            .issue_types
            .iter()
            .filter(in_project)
            .find(|t| t.name.eq_ignore_ascii_case(name))
    } else {
        None
    };
    found.ok_or_else(|| "The issue type selected is invalid.".into())
}

fn default_priority(world: &World, project: &Project) -> Option<String> {
    world
        .priorities
        .iter()
        .find(|p| p.is_default && project.allows_priority(&p.id))
        .or_else(|| {
            world
                .priorities
                .iter()
                .find(|p| project.allows_priority(&p.id))
        })
        .map(|p| p.id.clone())
}

fn field_name(world: &World, field: &str) -> String {
    match field {
        "summary" => "Summary".into(),
        "issuetype" => "Issue Type".into(),
        "project" => "Project".into(),
        "reporter" => "Reporter".into(),
        "description" => "Description".into(),
        "priority" => "Priority".into(),
        "components" => "Components".into(),
        "assignee" => "Assignee".into(),
        "labels" => "Labels".into(),
        "duedate" => "Due date".into(),
        "parent" => "Parent".into(),
        other => world
            .custom_field(other)
            .map(|f| f.name.clone())
            .unwrap_or_else(|| other.to_owned()),
    }
}

fn required_message(world: &World, field: &str) -> String {
    if field == "summary" {
        SUMMARY_REQUIRED.into()
    } else {
        format!("{} is required.", field_name(world, field))
    }
}

/// Whether a required field ended up without a value.
fn is_empty(issue: &StoredIssue, field: &str) -> bool {
    match field {
        "summary" => issue.summary.trim().is_empty(),
        "issuetype" | "project" => false,
        "reporter" => issue.reporter.is_none(),
        "description" => issue.description.is_none(),
        "priority" => issue.priority_id.is_none(),
        "components" => issue.component_ids.is_empty(),
        "assignee" => issue.assignee.is_none(),
        "labels" => issue.labels.is_empty(),
        "duedate" => issue.duedate.is_none(),
        "parent" => issue.parent_id.is_none(),
        other => issue.custom_fields.get(other).is_none_or(|v| {
            v.is_null() || v.as_array().is_some_and(Vec::is_empty) || v.as_str() == Some("")
        }),
    }
}

/// What a field's value is checked against.
struct FieldCtx<'a> {
    world: &'a World,
    store: &'a IssueStore,
    project: &'a Project,
    issue_type: &'a IssueType,
    validate_adf: bool,
    /// Data Center's value formats.
    dc: bool,
}

impl FieldCtx<'_> {
    /// Validates one field's value and stores it in `issue`; `Err` is
    /// Jira's message for the field.
    fn set(&self, issue: &mut StoredIssue, id: &str, value: &Value) -> Result<(), String> {
        match id {
            "summary" => {
                let Value::String(s) = value else {
                    return if value.is_null() {
                        Err(SUMMARY_REQUIRED.into())
                    } else {
                        Err("Operation value must be a string".into())
                    };
                };
                if s.trim().is_empty() {
                    return Err(SUMMARY_REQUIRED.into());
                }
                if s.chars().count() > 255 {
                    return Err("Summary must be less than 255 characters.".into());
                }
                if s.contains('\n') || s.contains('\r') {
                    return Err(
                        "The summary is invalid because it contains newline characters.".into(),
                    );
                }
                issue.summary = s.clone();
            }
            "description" => {
                if value.is_null() {
                    issue.description = None;
                } else if self.dc {
                    // Wiki markup: a string, kept exactly as sent.
                    if !value.is_string() {
                        return Err(STRING_ERROR.into());
                    }
                    issue.description = Some(Value::Null);
                } else {
                    validate_adf(self.validate_adf, value).map_err(|()| ADF_ERROR.to_owned())?;
                    // A placeholder: `create` moves the document in once
                    // the request is no longer borrowed.
                    issue.description = Some(Value::Null);
                }
            }
            "priority" => issue.priority_id = self.priority(value)?,
            "components" => issue.component_ids = self.components(value)?,
            "assignee" if self.dc => {
                let user = match dc_user_ref(value)? {
                    DcUser::None => None,
                    DcUser::Name(name) => {
                        let user = self
                            .world
                            .directory
                            .by_name(&name)
                            .ok_or_else(|| format!("User '{name}' does not exist."))?;
                        if !user.can_be_assigned() {
                            return Err(format!("User '{name}' cannot be assigned issues."));
                        }
                        Some(user)
                    }
                    DcUser::NotAName(text) => {
                        return Err(format!("User '{text}' does not exist."));
                    }
                };
                issue.assignee = user.map(|u| u.account_id.clone());
                issue.assignee_name = user.map(|u| u.name.clone());
            }
            "reporter" if self.dc => {
                let user = match dc_user_ref(value)? {
                    DcUser::None => None,
                    DcUser::Name(name) => {
                        let user = self
                            .world
                            .directory
                            .by_name(&name)
                            .ok_or_else(|| REPORTER_NOT_A_USER.to_owned())?;
                        if !user.active {
                            return Err("The reporter specified is not an active user.".into());
                        }
                        Some(user)
                    }
                    DcUser::NotAName(_) => return Err(REPORTER_NOT_A_USER.into()),
                };
                issue.reporter = user.map(|u| u.account_id.clone());
                issue.reporter_name = user.map(|u| u.name.clone());
            }
            "assignee" => {
                issue.assignee = match user_ref(value)? {
                    None => None,
                    Some(id) if id == "-1" => None,
                    Some(id) => {
                        let user = self
                            .world
                            .directory
                            .get(&id)
                            .ok_or_else(|| format!("Account ID {id} does not exist."))?;
                        if !user.can_be_assigned() {
                            return Err(format!("User '{id}' cannot be assigned issues."));
                        }
                        Some(id)
                    }
                };
            }
            "reporter" => {
                issue.reporter = match user_ref(value)? {
                    None => None,
                    Some(id) => {
                        let user = self
                            .world
                            .directory
                            .get(&id)
                            .ok_or_else(|| format!("Account ID {id} does not exist."))?;
                        if !user.active {
                            return Err("The reporter specified is not an active user.".into());
                        }
                        Some(id)
                    }
                };
            }
            "labels" => issue.labels = labels(value)?,
            "duedate" => {
                issue.duedate = match value {
                    Value::Null => None,
                    Value::String(s) if crate::time::is_valid_date(s) => Some(s.clone()),
                    Value::String(s) => return Err(format!("Error parsing date string: {s}")),
                    other => return Err(format!("Error parsing date string: {other}")),
                };
            }
            "parent" => {
                let parent = self.parent(value)?;
                issue.parent_id = parent.as_ref().map(|p| p.0.clone());
                issue.parent_key = parent.map(|p| p.1);
            }
            other => match self.custom(other, value)? {
                Some(v) => {
                    issue.custom_fields.insert(other.to_owned(), v);
                }
                None => {
                    issue.custom_fields.remove(other);
                }
            },
        }
        Ok(())
    }

    fn priority(&self, value: &Value) -> Result<Option<String>, String> {
        const FORMAT: &str = "Specify the Priority (id or name) in the string format";
        let priority = match value {
            Value::Null => return Ok(None),
            Value::Object(o) => match (o.get("id"), o.get("name")) {
                (Some(Value::String(id)), _) => self.world.priority(id),
                (Some(_), _) => return Err(FORMAT.into()),
                (None, Some(Value::String(name))) => {
                    self.world.priorities.iter().find(|p| p.name == *name)
                }
                _ => return Err(FORMAT.into()),
            },
            _ => return Err("data was not an object".into()),
        };
        priority
            .filter(|p| self.project.allows_priority(&p.id))
            .map(|p| Some(p.id.clone()))
            .ok_or_else(|| "The priority selected is invalid.".into())
    }

    fn components(&self, value: &Value) -> Result<Vec<String>, String> {
        let items = match value {
            Value::Null => return Ok(Vec::new()),
            Value::Array(items) => items,
            _ => return Err("data was not an array".into()),
        };
        let mut ids = Vec::new();
        for item in items {
            if !item.is_object() {
                return Err("data was not an object".into());
            }
            let component = if let Some(id) = id_of(item, "id") {
                self.project
                    .components
                    .iter()
                    .find(|c| c.id == id)
                    .ok_or_else(|| format!("Component with id '{id}' does not exist."))?
            } else if let Some(name) = item.get("name").and_then(Value::as_str) {
                self.project
                    .components
                    .iter()
                    .find(|c| c.name == name)
                    .ok_or_else(|| format!("Component name '{name}' is not valid"))?
            } else {
                return Err("Component id or name is required.".into());
            };
            if !ids.contains(&component.id) {
                ids.push(component.id.clone());
            }
        }
        Ok(ids)
    }

    /// `(id, key)` of a valid parent.
    fn parent(&self, value: &Value) -> Result<Option<(String, String)>, String> {
        if value.is_null() {
            return Ok(None);
        }
        if !value.is_object() {
            return Err("data was not an object".into());
        }
        let reference = value
            .get("key")
            .and_then(Value::as_str)
            .map(str::to_owned)
            .or_else(|| id_of(value, "id"))
            .ok_or_else(|| "Could not find issue by id or key.".to_owned())?;
        let parent = self
            .store
            .find(&reference)
            .ok_or_else(|| "Could not find issue by id or key.".to_owned())?;
        let parent_level = self
            .world
            .issue_type(&parent.issue_type_id)
            .map_or(0, |t| t.hierarchy_level);
        if parent_level != self.issue_type.hierarchy_level + 1 {
            return Err("Given parent issue does not belong to appropriate hierarchy.".into());
        }
        if self.issue_type.subtask && parent.project_id != self.project.id {
            return Err("Sub-tasks must be created in the same project as the parent.".into());
        }
        Ok(Some((parent.id.clone(), parent.key.clone())))
    }

    /// A custom (or other screen) field's stored value; `None` clears it.
    fn custom(&self, id: &str, value: &Value) -> Result<Option<Value>, String> {
        let Some(def) = self.world.custom_field(id) else {
            // Another system field put on the screen: kept as sent.
            return Ok((!value.is_null()).then(|| value.clone()));
        };
        if value.is_null() {
            return Ok(None);
        }
        let option = |v: &Value| -> Result<Value, String> {
            if !v.is_object() {
                return Err("data was not an object".into());
            }
            let found = if let Some(oid) = id_of(v, "id") {
                def.options
                    .iter()
                    .find(|o| o.id == oid)
                    .ok_or_else(|| format!("Option id '{oid}' is not valid"))?
            } else {
                let text = v.get("value").and_then(Value::as_str).unwrap_or_default();
                def.options
                    .iter()
                    .find(|o| o.value == text)
                    .ok_or_else(|| format!("Option value '{text}' is not valid"))?
            };
            Ok(json!({"id": found.id, "value": found.value}))
        };
        match def.kind {
            CustomFieldKind::Select => option(value).map(Some),
            CustomFieldKind::MultiSelect => {
                let items = value.as_array().ok_or("data was not an array")?;
                let options = items.iter().map(option).collect::<Result<Vec<_>, _>>()?;
                Ok(Some(Value::Array(options)))
            }
            CustomFieldKind::TextField => match value {
                Value::String(s) if s.chars().count() > 255 => {
                    Err("Text fields must not exceed 255 characters in length.".into())
                }
                Value::String(_) => Ok(Some(value.clone())),
                _ => Err("Operation value must be a string".into()),
            },
            CustomFieldKind::TextArea if self.dc => match value {
                Value::String(_) => Ok(Some(value.clone())),
                _ => Err(STRING_ERROR.into()),
            },
            CustomFieldKind::TextArea => {
                validate_adf(self.validate_adf, value).map_err(|()| ADF_ERROR.to_owned())?;
                Ok(Some(value.clone()))
            }
            CustomFieldKind::Number => {
                if value.is_number() {
                    Ok(Some(value.clone()))
                } else {
                    Err("Operation value must be a number".into())
                }
            }
            CustomFieldKind::User if self.dc => match dc_user_ref(value)? {
                DcUser::None => Ok(None),
                DcUser::Name(name) => match self.world.directory.by_name(&name) {
                    Some(user) if user.active => Ok(Some(json!({"name": user.name}))),
                    _ => Err(format!("User '{name}' was not found in the system.")),
                },
                DcUser::NotAName(text) => {
                    Err(format!("User '{text}' was not found in the system."))
                }
            },
            CustomFieldKind::User => match user_ref(value)? {
                None => Ok(None),
                Some(id) => match self.world.directory.get(&id) {
                    Some(user) if user.active => Ok(Some(json!({"accountId": id}))),
                    _ => Err(format!("Account ID {id} does not exist.")),
                },
            },
        }
    }
}

/// The account id of a user field: `{"id"}` (Atlassian's documented form)
/// or `{"accountId"}`. Other references (`name`, `emailAddress`) are
/// ignored under GDPR strict mode, leaving the field empty.
fn user_ref(value: &Value) -> Result<Option<String>, String> {
    match value {
        Value::Null => Ok(None),
        Value::Object(o) => Ok(o
            .get("id")
            .or_else(|| o.get("accountId"))
            .and_then(Value::as_str)
            .map(str::to_owned)),
        _ => Err("data was not an object".into()),
    }
}

/// A Data Center user field's value.
enum DcUser {
    /// `null`, `{"name": null}` or `{"name": ""}`: no user.
    None,
    Name(String),
    /// Anything else that is an object (`{"accountId"}`, `{"id"}`,
    /// `{"key"}` alone): Data Center finds users by name only; the text
    /// is what was given, for the message.
    NotAName(String),
}

/// Data Center sets users as `{"name": "<username>"}`.
fn dc_user_ref(value: &Value) -> Result<DcUser, String> {
    let Value::Object(o) = value else {
        return if value.is_null() {
            Ok(DcUser::None)
        } else {
            Err("data was not an object".into())
        };
    };
    match o.get("name") {
        Some(Value::String(name)) if !name.is_empty() => Ok(DcUser::Name(name.clone())),
        Some(Value::String(_)) | Some(Value::Null) => Ok(DcUser::None),
        Some(_) => Err("data was not a string".into()),
        None => {
            let given = o
                .values()
                .find_map(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            Ok(DcUser::NotAName(given))
        }
    }
}

fn labels(value: &Value) -> Result<Vec<String>, String> {
    let items = match value {
        Value::Null => return Ok(Vec::new()),
        Value::Array(items) => items,
        _ => return Err("data was not an array".into()),
    };
    let mut labels: Vec<String> = Vec::new();
    for item in items {
        let Value::String(label) = item else {
            return Err("Operation value must be a string".into());
        };
        if label.is_empty() {
            continue;
        }
        if label.chars().any(char::is_whitespace) {
            return Err(format!(
                "The label '{label}' contains spaces which is invalid."
            ));
        }
        if label.chars().count() > 255 {
            return Err(format!(
                "The label '{label}' exceeds the maximum length for a single label of 255 characters."
            ));
        }
        if !labels.contains(label) {
            labels.push(label.clone());
        }
    }
    Ok(labels)
}

/// The caller's create screen: without Modify reporter or Assign issues,
/// `reporter` or `assignee` is not on it (create and create metadata
/// agree).
pub(crate) fn caller_screen(
    project: &Project,
    issue_type: &IssueType,
    caller: &Caller,
) -> CreateScreen {
    let mut screen = project.screen_for(issue_type);
    if !caller.has(Permission::ModifyReporter) {
        screen = screen.without("reporter");
    }
    if !caller.has(Permission::AssignIssues) {
        screen = screen.without("assignee");
    }
    screen
}
