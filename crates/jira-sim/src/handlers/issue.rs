//! Reading issues: `GET issue`, issue properties and JQL search (Cloud's
//! `search/jql`, Data Center's `search`).

use axum::Extension;
use axum::body::Bytes;
use axum::extract::{Path, RawQuery, State};
use axum::response::{IntoResponse, Response};
use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::StatusCode;
use serde_json::{Value, json};

use crate::http::{ApiError, Ctx, Query, json_response};
use crate::jql::Jql;
use crate::render::{self, FieldSelection};
use crate::sim::write;
use crate::sim::{Sim, read};

const ISSUE_NOT_FOUND: &str = "Issue does not exist or you do not have permission to see it.";
const MAX_SEARCH_RESULTS: usize = 5000;

pub(crate) async fn get_issue(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path(issue): Path<String>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let selection = FieldSelection::parse(&query.list("fields"), true);
    let properties = query.list("properties");
    let world = read(&sim.inner.world);
    let store = read(&sim.inner.issues);
    match store
        .find(&issue)
        .filter(|found| ctx.caller.browses(&found.project_key))
    {
        Some(found) => json_response(
            StatusCode::OK,
            render::issue(
                &world,
                &store,
                found,
                ctx.links(),
                &selection,
                &properties,
                false,
            ),
        ),
        None => ApiError::not_found(ISSUE_NOT_FOUND).into_response(),
    }
}

pub(crate) async fn get_property(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path((issue, property)): Path<(String, String)>,
) -> Response {
    let store = read(&sim.inner.issues);
    let Some(found) = store
        .find(&issue)
        .filter(|found| ctx.caller.browses(&found.project_key))
    else {
        return ApiError::not_found(ISSUE_NOT_FOUND).into_response();
    };
    match found.properties.get(&property) {
        Some(value) => json_response(StatusCode::OK, json!({"key": property, "value": value})),
        None => ApiError::not_found(format!(
            "The property with key '{property}' does not exist."
        ))
        .into_response(),
    }
}

const PROPERTY_VALUE_MAX: usize = 32_768;

/// Data Center: `PUT issue/{key}/properties/{propertyKey}` with the value
/// as the body (any JSON): 201 when new, 200 when replaced. Entity
/// properties exist on Data Center; Cloud's simulator sets them only at
/// create (this route is not served there).
pub(crate) async fn put_property(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    Path((issue, property)): Path<(String, String)>,
    body: Bytes,
) -> Response {
    let value: Value = match serde_json::from_slice(&body) {
        Ok(v) => v,
        Err(_) => {
            return ApiError::bad_request("The property value must be a valid JSON.")
                .into_response();
        }
    };
    if property.chars().count() > 255 {
        return ApiError::bad_request("The property key cannot be longer than 255 characters.")
            .into_response();
    }
    if body.len() > PROPERTY_VALUE_MAX {
        return ApiError::bad_request(format!(
            "The property value cannot be longer than {PROPERTY_VALUE_MAX} bytes."
        ))
        .into_response();
    }
    let mut store = write(&sim.inner.issues);
    let Some(found) = store
        .find_mut(&issue)
        .filter(|found| ctx.caller.browses(&found.project_key))
    else {
        return ApiError::not_found(ISSUE_NOT_FOUND).into_response();
    };
    match found.properties.insert(property, value) {
        None => StatusCode::CREATED.into_response(),
        Some(_) => StatusCode::OK.into_response(),
    }
}

/// Data Center's `GET search?jql=&startAt=&maxResults=&fields=`: offset
/// pages with a total. Without `fields`, every navigable field (Data
/// Center's default). Issue properties are never returned, and JQL on
/// `issue.property[...]` is refused: a stock Data Center indexes no
/// property (an app must declare the index).
pub(crate) async fn search_dc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(DC_SEARCH_MAX)),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let jql = query.get("jql").unwrap_or_default();
    if let Some(field) = property_clause(jql) {
        return ApiError::bad_request(format!(
            "Field '{field}' does not exist or you do not have permission to view it."
        ))
        .into_response();
    }
    let selection = FieldSelection::parse(&query.list("fields"), true);
    let world = read(&sim.inner.world);
    let store = read(&sim.inner.issues);
    let compiled = match Jql::compile(jql, &world, &store, &ctx.caller, ctx.flavor) {
        Ok(c) => c,
        Err(e) => return ApiError::bad_request(e).into_response(),
    };
    let mut found = compiled.run(&store);
    found.retain(|issue| ctx.caller.browses(&issue.project_key));
    let lag = sim.search_lag();
    if !lag.is_zero() {
        let now = sim.now();
        found.retain(|issue| issue.created + lag <= now);
    }
    let issues: Vec<Value> = found
        .iter()
        .skip(start)
        .take(max)
        .map(|issue| render::issue(&world, &store, issue, ctx.links(), &selection, &[], false))
        .collect();
    json_response(
        StatusCode::OK,
        json!({
            "expand": "schema,names",
            "startAt": start,
            "maxResults": max,
            "total": found.len(),
            "issues": issues,
        }),
    )
}

/// Data Center's `jira.search.views.default.max`.
const DC_SEARCH_MAX: usize = 1000;

/// The first `issue.property[...]` field of a query, as written.
fn property_clause(jql: &str) -> Option<&str> {
    let at = jql.to_ascii_lowercase().find("issue.property")?;
    let rest = &jql[at..];
    let end = rest
        .find(|c: char| c.is_whitespace() || matches!(c, '=' | '!' | '<' | '>' | '~'))
        .unwrap_or(rest.len());
    Some(&rest[..end])
}

/// The search parameters, from the query string or the JSON body.
struct SearchParams {
    jql: String,
    next_page_token: Option<String>,
    max_results: Option<usize>,
    fields: Vec<String>,
    properties: Vec<String>,
}

pub(crate) async fn search_get(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let max_results = match query.get("maxResults") {
        None => None,
        Some(_) => match query.int("maxResults", 50) {
            Ok(n) => Some(n),
            Err(e) => return e.into_response(),
        },
    };
    let params = SearchParams {
        jql: query.get("jql").unwrap_or_default().to_owned(),
        next_page_token: query.get("nextPageToken").map(str::to_owned),
        max_results,
        fields: query.list("fields"),
        properties: query.list("properties"),
    };
    search(&sim, &ctx, params).unwrap_or_else(IntoResponse::into_response)
}

pub(crate) async fn search_post(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    body: Bytes,
) -> Response {
    let body: Value = match serde_json::from_slice(&body) {
        Ok(Value::Object(o)) => Value::Object(o),
        Ok(_) | Err(_) => {
            return ApiError::bad_request("The request body must be a JSON object.")
                .into_response();
        }
    };
    let strings = |key: &str| -> Result<Vec<String>, ApiError> {
        match body.get(key) {
            None | Some(Value::Null) => Ok(Vec::new()),
            Some(Value::Array(items)) => items
                .iter()
                .map(|v| {
                    v.as_str().map(str::to_owned).ok_or_else(|| {
                        ApiError::bad_request(format!("'{key}' must be an array of strings."))
                    })
                })
                .collect(),
            Some(_) => Err(ApiError::bad_request(format!(
                "'{key}' must be an array of strings."
            ))),
        }
    };
    let fields = match strings("fields") {
        Ok(f) => f
            .iter()
            .flat_map(|f| f.split(','))
            .map(|f| f.trim().to_owned())
            .collect(),
        Err(e) => return e.into_response(),
    };
    let properties = match strings("properties") {
        Ok(p) => p,
        Err(e) => return e.into_response(),
    };
    let max_results = match body.get("maxResults") {
        None | Some(Value::Null) => None,
        Some(v) => match v.as_u64().and_then(|n| usize::try_from(n).ok()) {
            Some(n) => Some(n),
            None => {
                return ApiError::bad_request("'maxResults' must be a non-negative integer.")
                    .into_response();
            }
        },
    };
    let params = SearchParams {
        jql: body
            .get("jql")
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned(),
        next_page_token: body
            .get("nextPageToken")
            .and_then(Value::as_str)
            .map(str::to_owned),
        max_results,
        fields,
        properties,
    };
    search(&sim, &ctx, params).unwrap_or_else(IntoResponse::into_response)
}

fn encode_token(offset: usize) -> String {
    URL_SAFE_NO_PAD.encode(format!("offset:{offset}"))
}

fn decode_token(token: &str) -> Option<usize> {
    let bytes = URL_SAFE_NO_PAD.decode(token).ok()?;
    String::from_utf8(bytes)
        .ok()?
        .strip_prefix("offset:")?
        .parse()
        .ok()
}

fn search(sim: &Sim, ctx: &Ctx, params: SearchParams) -> Result<Response, ApiError> {
    if params.properties.len() > 5 {
        return Err(ApiError::bad_request(
            "You can request at most 5 issue properties.",
        ));
    }
    let offset = match params.next_page_token.as_deref() {
        None | Some("") => 0,
        Some(token) => decode_token(token)
            .ok_or_else(|| ApiError::bad_request("The nextPageToken is invalid."))?,
    };
    let max = params
        .max_results
        .unwrap_or(50)
        .clamp(1, MAX_SEARCH_RESULTS);
    let selection = FieldSelection::parse(&params.fields, false);
    let world = read(&sim.inner.world);
    let store = read(&sim.inner.issues);
    let jql = Jql::compile(&params.jql, &world, &store, &ctx.caller, ctx.flavor)
        .map_err(ApiError::bad_request)?;
    // Issues of projects the caller cannot browse are not found.
    let mut found = jql.run(&store);
    found.retain(|issue| ctx.caller.browses(&issue.project_key));
    // The index lags the creates (see `Sim::set_search_lag`).
    let lag = sim.search_lag();
    if !lag.is_zero() {
        let now = sim.now();
        found.retain(|issue| issue.created + lag <= now);
    }
    let page: Vec<Value> = found
        .iter()
        .skip(offset)
        .take(max)
        .map(|issue| {
            render::issue(
                &world,
                &store,
                issue,
                ctx.links(),
                &selection,
                &params.properties,
                true,
            )
        })
        .collect();
    let is_last = offset.saturating_add(max) >= found.len();
    let mut body = json!({"issues": page, "isLast": is_last});
    if !is_last {
        body["nextPageToken"] = json!(encode_token(offset + max));
    }
    Ok(json_response(StatusCode::OK, body))
}
