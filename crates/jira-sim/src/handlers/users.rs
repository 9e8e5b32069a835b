//! Users: `user/search`, `users/search`, `myself`, and the OAuth
//! `accessible-resources`.

use axum::Extension;
use axum::extract::{RawQuery, State};
use axum::response::{IntoResponse, Response};
use http::StatusCode;
use serde_json::{Value, json};

use crate::config::{Permission, UserSearchDenied};
use crate::http::{ApiError, Ctx, Query, json_response};
use crate::render;
use crate::sim::{Sim, read};

/// `user/search` looks at most at the first 1000 matches.
const USER_SEARCH_WINDOW: usize = 1000;
const USERS_SEARCH_MAX: usize = 1000;

fn no_user_permission() -> ApiError {
    ApiError::new(StatusCode::FORBIDDEN)
        .message("Browse users and groups permission is required to view users.")
}

pub(crate) async fn user_search(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(USER_SEARCH_WINDOW)),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    if query.get("username").is_some() {
        return ApiError::bad_request(
            "The username query parameter is no longer supported: use query or accountId.",
        )
        .into_response();
    }
    if query.get("property").is_some() {
        return ApiError::bad_request("The simulator does not support searching by property.")
            .into_response();
    }
    let text = query.get("query").filter(|q| !q.trim().is_empty());
    let account_id = query.get("accountId").filter(|a| !a.is_empty());
    let (text, account_id) = match (text, account_id) {
        (Some(_), Some(_)) => {
            return ApiError::bad_request(
                "The query parameter and the accountId parameter cannot be used together.",
            )
            .into_response();
        }
        (None, None) => {
            return ApiError::bad_request(
                "The query parameter or the accountId parameter or the property parameter must be provided.",
            )
            .into_response();
        }
        pair => pair,
    };
    if !ctx.caller.has(Permission::UserPicker) {
        return match sim.inner.user_search_denied {
            UserSearchDenied::Empty => json_response(StatusCode::OK, json!([])),
            UserSearchDenied::Forbidden => no_user_permission().into_response(),
        };
    }
    let world = read(&sim.inner.world);
    let directory = &world.directory;
    let users: Vec<Value> = match (text, account_id) {
        (_, Some(id)) => directory
            .get(id)
            .filter(|u| u.active)
            .map(|u| render::user(u, ctx.links(), false))
            .into_iter()
            .skip(start)
            .take(max)
            .collect(),
        (Some(text), None) => {
            let limit = start.saturating_add(max).min(USER_SEARCH_WINDOW);
            directory
                .search(text, sim.inner.hidden_email_match, limit)
                .into_iter()
                .skip(start)
                .take(max)
                .map(|i| render::user(&directory.users()[i], ctx.links(), false))
                .collect()
        }
        (None, None) => Vec::new(),
    };
    json_response(StatusCode::OK, Value::Array(users))
}

/// Data Center's `user/search` looks at the first 100 matches only
/// (`startAt + maxResults`).
const DC_USER_SEARCH_WINDOW: usize = 100;

/// Data Center: `GET user/search?username=` matches usernames, emails and
/// display names by prefix; active users only unless `includeInactive`
/// (and `includeActive=false` leaves the active ones out).
pub(crate) async fn user_search_dc(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    let Some(text) = query.get("username").filter(|q| !q.trim().is_empty()) else {
        return ApiError::bad_request("The username query parameter was not provided")
            .into_response();
    };
    let flag = |key: &str, default: bool| match query.get(key) {
        Some(v) => v.eq_ignore_ascii_case("true"),
        None => default,
    };
    let include_active = flag("includeActive", true);
    let include_inactive = flag("includeInactive", false);
    if !ctx.caller.has(Permission::UserPicker) {
        return match sim.inner.user_search_denied {
            UserSearchDenied::Empty => json_response(StatusCode::OK, json!([])),
            UserSearchDenied::Forbidden => no_user_permission().into_response(),
        };
    }
    let world = read(&sim.inner.world);
    let directory = &world.directory;
    let limit = start.saturating_add(max).min(DC_USER_SEARCH_WINDOW);
    let users: Vec<Value> = directory
        .search_dc(text, include_active, include_inactive, limit)
        .into_iter()
        .skip(start)
        .take(max)
        .map(|i| render::user(&directory.users()[i], ctx.links(), false))
        .collect();
    json_response(StatusCode::OK, Value::Array(users))
}

pub(crate) async fn users_search(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
    RawQuery(raw): RawQuery,
) -> Response {
    let query = Query::parse(raw.as_deref());
    let (start, max) = match (query.int("startAt", 0), query.int("maxResults", 50)) {
        (Ok(s), Ok(m)) => (s, m.min(USERS_SEARCH_MAX)),
        (Err(e), _) | (_, Err(e)) => return e.into_response(),
    };
    if !ctx.caller.has(Permission::UserPicker) {
        return no_user_permission().into_response();
    }
    let world = read(&sim.inner.world);
    let users: Vec<Value> = world
        .directory
        .users()
        .iter()
        .skip(start)
        .take(max)
        .map(|u| render::user(u, ctx.links(), false))
        .collect();
    json_response(StatusCode::OK, Value::Array(users))
}

pub(crate) async fn myself(State(sim): State<Sim>, Extension(ctx): Extension<Ctx>) -> Response {
    let world = read(&sim.inner.world);
    let Some(user) = world.directory.get(&ctx.caller.account_id) else {
        return ApiError::new(StatusCode::UNAUTHORIZED)
            .message(
                "You are not authenticated. Authentication required to perform this operation.",
            )
            .into_response();
    };
    let mut body = render::user(user, ctx.links(), true);
    if ctx.dc() {
        body["deleted"] = json!(false);
        body["locale"] = json!("en_US");
    }
    body["groups"] = json!({"size": 1, "items": []});
    body["applicationRoles"] = json!({"size": 1, "items": []});
    body["expand"] = json!("groups,applicationRoles");
    json_response(StatusCode::OK, body)
}

pub(crate) async fn accessible_resources(
    State(sim): State<Sim>,
    Extension(ctx): Extension<Ctx>,
) -> Response {
    let url = sim
        .inner
        .site_url
        .clone()
        .unwrap_or_else(|| ctx.host_base.clone());
    json_response(
        StatusCode::OK,
        json!([{
            "id": sim.inner.cloud_id,
            "name": sim.inner.site_name,
            "url": url,
            "scopes": sim.inner.oauth_scopes,
            "avatarUrl": "https://site-admin-avatar-cdn.prod.public.atl-paas.net/avatars/240/rocket.png",
        }]),
    )
}
