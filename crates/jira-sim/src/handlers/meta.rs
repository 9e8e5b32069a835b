//! Metadata: projects, components, priorities, create metadata and
//! `mypermissions`.

use axum::Extension;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::config::Permission;
use crate::handlers::create::caller_screen;
use crate::http::{ApiError, Caller, Ctx, Query, SiteBase, json_response};
use crate::model::{CustomFieldKind, IssueType, Project};
use crate::render::{self, Base};
use crate::sim::{Sim, World, read};

const CREATEMETA_MAX: usize = 200;
const DC_CREATEMETA_MAX: usize = 200;
const PROJECT_SEARCH_MAX: usize = 100;

/// A project the caller can see, else Jira's 404.
fn visible_project<'w>(
    world: &'w World,
    caller: &Caller,
    id_or_key: &str,
) -> Result<&'w Project, ApiError> {
    world
        .project(id_or_key)
        .filter(|project| caller.browses(&project.key))
        .ok_or_else(|| {
            let what = if id_or_key.bytes().all(|b| b.is_ascii_digit()) {
                "id"
            } else {
                "key"
            };
            ApiError::not_found(format!(
                "No project could be found with {what} '{id_or_key}'."
            ))
        })
}

fn page_params(query: &Query, max_limit: usize) -> Result<(usize, usize), ApiError> {
    let start = query.int("startAt", 0)?;
    let max = query.int("maxResults", 50)?;
    if max > max_limit {
        return Err(ApiError::bad_request(format!(
            "Parameter 'maxResults' must not exceed the limit '{max_limit}'"
        )));
    }
    Ok((start, max))
}

/// Create metadata's page: Cloud refuses more than 200 per page; Data
/// Center takes at most [`DC_CREATEMETA_MAX`], 50 by default like Cloud.
fn createmeta_page(query: &Query, dc: bool) -> Result<(usize, usize), ApiError> {
    if dc {
        let start = query.int("startAt", 0)?;
        let max = query.int("maxResults", 50)?;
        Ok((start, max.min(DC_CREATEMETA_MAX)))
    } else {
        page_params(query, CREATEMETA_MAX)
    }
}

/// Data Center's paged answer (`values`, `isLast`), as its createmeta
/// gives it.
fn dc_page(start: usize, max: usize, total: usize, values: Vec<Value>) -> Value {
    json!({
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": start.saturating_add(max) >= total,
        "values": values,
    })
}

/// Data Center: `GET project`, every project the caller can browse as a
/// plain array (no paging), by name as Jira lists them.
pub(crate) async fn project_list(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let world = read(&sim.inner.world);
    let mut projects: Vec<&Project> = world
        .projects
        .iter()
        .filter(|p| ctx.caller.browses(&p.key))
        .collect();
    projects.sort_by(|a, b| a.name.cmp(&b.name));
    let list: Vec<Value> = projects
        .iter()
        .map(|p| {
            let mut v = render::project_ref(p, ctx.links());
            v["expand"] = json!("description,lead,url,projectKeys");
            v
        })
        .collect();
    json_response(StatusCode::OK, Value::Array(list))
}

/// The version Data Center mode reports: a 9.12 Long Term Support
/// release.
const DC_VERSION: [u32; 3] = [9, 12, 4];

/// `GET serverInfo` (no authentication, as on Jira): Cloud reports its
/// rolling `1001.0.0-SNAPSHOT`, Data Center a 9.x version; both
/// Data Center and Server say `deploymentType: "Server"`.
pub(crate) async fn server_info(
    State(sim): State<Sim>,
    Extension(SiteBase(base)): Extension<SiteBase>,
) -> Response {
    let now = crate::time::format_jira(crate::time::now_ms());
    let body = match sim.inner.flavor {
        crate::config::Flavor::DataCenter => {
            let [major, minor, patch] = DC_VERSION;
            json!({
                "baseUrl": base,
                "version": format!("{major}.{minor}.{patch}"),
                "versionNumbers": DC_VERSION,
                "deploymentType": "Server",
                "buildNumber": major * 100_000 + minor * 1_000 + patch,
                "buildDate": "2024-10-01T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "0000000000000000000000000000000000000000",
                "serverTitle": "Jira",
            })
        }
        crate::config::Flavor::Cloud => {
            let url = sim.inner.site_url.clone().unwrap_or(base);
            json!({
                "baseUrl": url,
                "version": "1001.0.0-SNAPSHOT",
                "versionNumbers": [1001, 0, 0],
                "deploymentType": "Cloud",
                "buildNumber": 100_300,
                "buildDate": "2026-11-30T00:00:00.000+0000",
                "serverTime": now,
                "scmInfo": "0000000000000000000000000000000000000000",
                "serverTitle": "Jira",
                "defaultLocale": {"locale": "en_US"},
            })
        }
    };
    json_response(StatusCode::OK, body)
}

pub(crate) async fn project(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path(project): Path<String>,
) -> Response {
    let world = read(&sim.inner.world);
    match visible_project(&world, &ctx.caller, &project) {
        Ok(p) => json_response(StatusCode::OK, render::project(p, &world, ctx.links())),
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn project_components(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path(project): Path<String>,
) -> Response {
    let world = read(&sim.inner.world);
    match visible_project(&world, &ctx.caller, &project) {
        Ok(p) => {
            let components: Vec<Value> = p
                .components
                .iter()
                .map(|c| render::component(c, p, ctx.links()))
                .collect();
            json_response(StatusCode::OK, Value::Array(components))
        }
        Err(e) => e.into_response(),
    }
}

pub(crate) async fn project_search(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        // Jira caps maxResults at 100 here rather than rejecting it.
        (Ok(s), Ok(m)) => (s, m.min(PROJECT_SEARCH_MAX)),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let needed = match query.get("action").unwrap_or("view") {
        "view" | "browse" | "edit" => Permission::BrowseProjects,
        "create" => Permission::CreateIssues,
        other => {
            return ApiError::bad_request(format!("Invalid action '{other}'.")).into_response();
        }
    };
    let text = query.get("query").map(str::to_lowercase);
    let keys = query.list("keys");
    let ids = query.list("id");
    let world = read(&sim.inner.world);
    let mut projects: Vec<&Project> = world
        .projects
        .iter()
        .filter(|p| ctx.caller.browses(&p.key) && ctx.caller.has(needed))
        .filter(|p| {
            text.as_deref().is_none_or(|t| {
                p.key.to_lowercase().contains(t) || p.name.to_lowercase().contains(t)
            })
        })
        .filter(|p| keys.is_empty() || keys.contains(&p.key))
        .filter(|p| ids.is_empty() || ids.contains(&p.id))
        .collect();
    projects.sort_by(|a, b| a.key.cmp(&b.key));
    let total = projects.len();
    let values: Vec<Value> = projects
        .iter()
        .skip(start)
        .take(max)
        .map(|p| {
            let mut v = render::project_ref(p, ctx.links());
            v["expand"] = json!("description,lead,issueTypes,url,projectKeys,permissions,insight");
            v["style"] = json!("classic");
            v["isPrivate"] = json!(false);
            v["properties"] = json!({});
            v
        })
        .collect();
    let is_last = start.saturating_add(max) >= total;
    let mut body = json!({
        "self": format!("{}/rest/api/3/project/search?startAt={start}&maxResults={max}", ctx.base),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = json!(format!(
            "{}/rest/api/3/project/search?startAt={}&maxResults={max}",
            ctx.base,
            start + max
        ));
    }
    json_response(StatusCode::OK, body)
}

pub(crate) async fn priorities(State(sim): State<Sim>, Extension(ctx): Extension<Ctx>) -> Response {
    let world = read(&sim.inner.world);
    let list: Vec<Value> = world
        .priorities
        .iter()
        .map(|p| render::priority(p, ctx.links()))
        .collect();
    json_response(StatusCode::OK, Value::Array(list))
}

pub(crate) async fn priority_search(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let ids = query.list("id");
    let project_ids = query.list("projectId");
    let name = query.get("priorityName").map(str::to_lowercase);
    let only_default = query.get("onlyDefault") == Some("true");
    let world = read(&sim.inner.world);
    let projects: Vec<&Project> = project_ids
        .iter()
        .filter_map(|id| world.projects.iter().find(|p| p.id == *id))
        .collect();
    let matching: Vec<Value> = world
        .priorities
        .iter()
        .filter(|p| ids.is_empty() || ids.contains(&p.id))
        .filter(|p| projects.is_empty() || projects.iter().any(|pr| pr.allows_priority(&p.id)))
        .filter(|p| {
            name.as_deref()
                .is_none_or(|n| p.name.to_lowercase().contains(n))
        })
        .filter(|p| !only_default || p.is_default)
        .map(|p| render::priority_with_default(p, ctx.links()))
        .collect();
    let total = matching.len();
    let values: Vec<Value> = matching.into_iter().skip(start).take(max).collect();
    let is_last = start.saturating_add(max) >= total;
    let mut body = json!({
        "self": format!("{}/rest/api/3/priority/search?startAt={start}&maxResults={max}", ctx.base),
        "maxResults": max,
        "startAt": start,
        "total": total,
        "isLast": is_last,
        "values": values,
    });
    if !is_last {
        body["nextPage"] = json!(format!(
            "{}/rest/api/3/priority/search?startAt={}&maxResults={max}",
            ctx.base,
            start + max
        ));
    }
    json_response(StatusCode::OK, body)
}

/// The issue types the caller may create in the project (none without
/// Create issues).
fn creatable_types<'w>(world: &'w World, project: &Project, caller: &Caller) -> Vec<&'w IssueType> {
    if !caller.has(Permission::CreateIssues) {
        return Vec::new();
    }
    project
        .issue_type_ids
        .iter()
        .filter_map(|id| world.issue_type(id))
        .collect()
}

pub(crate) async fn createmeta_issue_types(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path(project): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match createmeta_page(&query, ctx.dc()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let world = read(&sim.inner.world);
    let project = match visible_project(&world, &ctx.caller, &project) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let types = creatable_types(&world, project, &ctx.caller);
    let page: Vec<Value> = types
        .iter()
        .skip(start)
        .take(max)
        .map(|t| render::issue_type(t, ctx.links()))
        .collect();
    if ctx.dc() {
        return json_response(StatusCode::OK, dc_page(start, max, types.len(), page));
    }
    json_response(
        StatusCode::OK,
        json!({
            "maxResults": max,
            "startAt": start,
            "total": types.len(),
            "issueTypes": page,
        }),
    )
}

pub(crate) async fn createmeta_fields(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path((project, issue_type)): Path<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match createmeta_page(&query, ctx.dc()) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let world = read(&sim.inner.world);
    let project = match visible_project(&world, &ctx.caller, &project) {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let Some(issue_type) = creatable_types(&world, project, &ctx.caller)
        .into_iter()
        .find(|t| t.id == issue_type)
    else {
        return ApiError::not_found(format!(
            "Issue type with id '{issue_type}' does not exist or you do not have permission to see it."
        ))
        .into_response();
    };
    let screen = caller_screen(project, issue_type, &ctx.caller);
    let fields: Vec<Value> = screen
        .fields
        .iter()
        .map(|id| {
            field_meta(
                &world,
                project,
                issue_type,
                id,
                screen.is_required(id),
                ctx.links(),
            )
        })
        .collect();
    let total = fields.len();
    let page: Vec<Value> = fields.into_iter().skip(start).take(max).collect();
    if ctx.dc() {
        return json_response(StatusCode::OK, dc_page(start, max, total, page));
    }
    json_response(
        StatusCode::OK,
        json!({
            "maxResults": max,
            "startAt": start,
            "total": total,
            "fields": page,
        }),
    )
}

/// One field's create metadata (`FieldCreateMetadata`).
fn field_meta(
    world: &World,
    project: &Project,
    issue_type: &IssueType,
    id: &str,
    required: bool,
    base: Base<'_>,
) -> Value {
    let system = |kind: &str| json!({"type": kind, "system": id});
    let mut has_default = false;
    let mut extra = serde_json::Map::new();
    let (name, schema, operations): (String, Value, Vec<&str>) = match id {
        "summary" => ("Summary".into(), system("string"), vec!["set"]),
        "description" => ("Description".into(), system("string"), vec!["set"]),
        "issuetype" => {
            extra.insert(
                "allowedValues".into(),
                json!([render::issue_type(issue_type, base)]),
            );
            ("Issue Type".into(), system("issuetype"), vec![])
        }
        "project" => {
            extra.insert(
                "allowedValues".into(),
                json!([render::project_ref(project, base)]),
            );
            ("Project".into(), system("project"), vec!["set"])
        }
        "reporter" => {
            has_default = true;
            extra.insert(
                "autoCompleteUrl".into(),
                json!(if base.dc() {
                    format!("{base}/user/search?username=")
                } else {
                    format!("{base}/user/search?query=")
                }),
            );
            ("Reporter".into(), system("user"), vec!["set"])
        }
        "assignee" => {
            extra.insert(
                "autoCompleteUrl".into(),
                json!(if base.dc() {
                    format!(
                        "{base}/user/assignable/search?project={}&username=",
                        project.key
                    )
                } else {
                    format!(
                        "{base}/user/assignable/search?project={}&query=",
                        project.key
                    )
                }),
            );
            ("Assignee".into(), system("user"), vec!["set"])
        }
        "priority" => {
            let allowed: Vec<Value> = world
                .priorities
                .iter()
                .filter(|p| project.allows_priority(&p.id))
                .map(|p| render::priority(p, base))
                .collect();
            extra.insert("allowedValues".into(), json!(allowed));
            if let Some(default) = world
                .priorities
                .iter()
                .find(|p| p.is_default && project.allows_priority(&p.id))
            {
                has_default = true;
                extra.insert("defaultValue".into(), render::priority(default, base));
            }
            ("Priority".into(), system("priority"), vec!["set"])
        }
        "components" => {
            let allowed: Vec<Value> = project
                .components
                .iter()
                .map(|c| render::component_ref(c, base))
                .collect();
            extra.insert("allowedValues".into(), json!(allowed));
            (
                "Components".into(),
                json!({"type": "array", "items": "component", "system": "components"}),
                vec!["add", "set", "remove"],
            )
        }
        "labels" => {
            extra.insert(
                "autoCompleteUrl".into(),
                json!(format!("{base}/rest/api/1.0/labels/suggest?query=")),
            );
            (
                "Labels".into(),
                json!({"type": "array", "items": "string", "system": "labels"}),
                vec!["add", "set", "remove"],
            )
        }
        "duedate" => ("Due date".into(), system("date"), vec!["set"]),
        "parent" => ("Parent".into(), system("issuelink"), vec!["set"]),
        other => match world.custom_field(other) {
            Some(def) => {
                let custom = |kind: &str| json!({"type": kind, "custom": def.kind.custom_uri(), "customId": def.custom_id()});
                let options = || -> Value {
                    def.options
                        .iter()
                        .map(|o| {
                            json!({
                                "self": format!("{base}/customFieldOption/{}", o.id),
                                "value": o.value,
                                "id": o.id,
                            })
                        })
                        .collect()
                };
                let (schema, ops) = match def.kind {
                    CustomFieldKind::Select => {
                        extra.insert("allowedValues".into(), options());
                        (custom("option"), vec!["set"])
                    }
                    CustomFieldKind::MultiSelect => {
                        extra.insert("allowedValues".into(), options());
                        let mut schema = custom("array");
                        schema["items"] = json!("option");
                        (schema, vec!["add", "set", "remove"])
                    }
                    CustomFieldKind::TextField | CustomFieldKind::TextArea => {
                        (custom("string"), vec!["set"])
                    }
                    CustomFieldKind::Number => (custom("number"), vec!["set"]),
                    CustomFieldKind::User => {
                        extra.insert(
                            "autoCompleteUrl".into(),
                            json!(if base.dc() {
                                format!("{base}/user/picker?query=")
                            } else {
                                format!("{base}/user/search?query=")
                            }),
                        );
                        (custom("user"), vec!["set"])
                    }
                };
                (def.name.clone(), schema, ops)
            }
            None => (other.to_owned(), system("any"), vec!["set"]),
        },
    };
    let mut v = json!({
        "required": required,
        "schema": schema,
        "name": name,
        "key": id,
        "fieldId": id,
        "hasDefaultValue": has_default,
        "operations": operations,
    });
    if let Value::Object(map) = &mut v {
        map.extend(extra);
    }
    v
}

/// Jira's permission keys the simulator knows: `(key, id, name, type)`.
const PERMISSIONS: [(&str, &str, &str, &str); 22] = [
    ("ADMINISTER", "0", "Administer Jira", "GLOBAL"),
    ("SYSTEM_ADMIN", "44", "Administer Jira", "GLOBAL"),
    ("USER_PICKER", "27", "Browse users and groups", "GLOBAL"),
    (
        "CREATE_SHARED_OBJECTS",
        "22",
        "Share dashboards and filters",
        "GLOBAL",
    ),
    (
        "MANAGE_GROUP_FILTER_SUBSCRIPTIONS",
        "24",
        "Manage group filter subscriptions",
        "GLOBAL",
    ),
    ("BULK_CHANGE", "33", "Make bulk changes", "GLOBAL"),
    (
        "ADMINISTER_PROJECTS",
        "23",
        "Administer Projects",
        "PROJECT",
    ),
    ("BROWSE_PROJECTS", "10", "Browse Projects", "PROJECT"),
    ("CREATE_ISSUES", "11", "Create Issues", "PROJECT"),
    ("EDIT_ISSUES", "12", "Edit Issues", "PROJECT"),
    ("ASSIGN_ISSUES", "13", "Assign Issues", "PROJECT"),
    ("RESOLVE_ISSUES", "14", "Resolve Issues", "PROJECT"),
    ("ADD_COMMENTS", "15", "Add Comments", "PROJECT"),
    ("DELETE_ISSUES", "16", "Delete Issues", "PROJECT"),
    ("ASSIGNABLE_USER", "17", "Assignable User", "PROJECT"),
    ("CLOSE_ISSUES", "18", "Close Issues", "PROJECT"),
    ("CREATE_ATTACHMENTS", "19", "Create Attachments", "PROJECT"),
    ("WORK_ON_ISSUES", "20", "Work On Issues", "PROJECT"),
    ("LINK_ISSUES", "21", "Link Issues", "PROJECT"),
    ("SCHEDULE_ISSUES", "28", "Schedule Issues", "PROJECT"),
    ("MODIFY_REPORTER", "30", "Modify Reporter", "PROJECT"),
    ("TRANSITION_ISSUES", "46", "Transition Issues", "PROJECT"),
];

pub(crate) async fn my_permissions(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let keys = query.list("permissions");
    if keys.is_empty() {
        return ApiError::bad_request("The permissions parameter is required.").into_response();
    }
    let world = read(&sim.inner.world);
    let project = query.get("projectId").or_else(|| query.get("projectKey"));
    if let Some(project) = project
        && let Err(e) = visible_project(&world, &ctx.caller, project)
    {
        return e.into_response();
    }
    if let Some(issue) = query.get("issueId").or_else(|| query.get("issueKey")) {
        let store = read(&sim.inner.issues);
        if !store
            .find(issue)
            .is_some_and(|found| ctx.caller.browses(&found.project_key))
        {
            return ApiError::not_found(
                "Issue does not exist or you do not have permission to see it.",
            )
            .into_response();
        }
    }
    let assignable = world
        .directory
        .get(&ctx.caller.account_id)
        .is_some_and(|u| u.can_be_assigned());
    let mut permissions = serde_json::Map::new();
    for key in &keys {
        let Some((key, id, name, kind)) = PERMISSIONS.iter().find(|p| p.0 == key.as_str()) else {
            return ApiError::bad_request(format!("The permission key '{key}' is not valid."))
                .into_response();
        };
        let have = match Permission::from_key(key) {
            Some(p) => ctx.caller.has(p),
            None => *key == "ASSIGNABLE_USER" && assignable,
        };
        permissions.insert(
            (*key).to_owned(),
            json!({
                "id": id,
                "key": key,
                "name": name,
                "type": kind,
                "description": format!("Ability to {}.", name.to_lowercase()),
                "havePermission": have,
            }),
        );
    }
    json_response(StatusCode::OK, json!({"permissions": permissions}))
}
