//! Reading issues: `GET issue`, issue properties and JQL search.

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
                &ctx.base,
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
    let jql =
        Jql::compile(&params.jql, &world, &store, &ctx.caller).map_err(ApiError::bad_request)?;
    // Issues of projects the caller cannot browse are not found.
    let mut found = jql.run(&store);
    found.retain(|issue| ctx.caller.browses(&issue.project_key));
    // The index lags the creates (see `Sim::set_search_lag`).
    let lag = sim.search_lag();
    if !lag.is_zero() {
        let now = std::time::SystemTime::now();
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
                &ctx.base,
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
