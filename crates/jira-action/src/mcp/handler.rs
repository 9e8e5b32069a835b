//! The MCP server: the tool list (generated from the core's types, like
//! the OpenAPI document) and each call handed to the core's pipeline.

use std::borrow::Cow;
use std::sync::Arc;

use axum::http::HeaderMap;
use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, ContentBlock, Implementation,
    ListToolsResult, PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
    ToolAnnotations,
};
use rmcp::service::{RequestContext, RoleServer};
use rmcp::{ErrorData, ServerHandler};
use serde::Serialize;
use serde_json::Value;

use crate::app::AppState;
use crate::http::door;
use crate::tools::create_issue::CreatedIssue;
use crate::tools::describe_project::ProjectDescription;
use crate::tools::schema::{self, CreateIssueArgs, DescribeProjectArgs};
use crate::tools::{
    self, Authenticated, CreateIssue, Credentials, DescribeProject, Finished, FrontDoor, Operation,
    Principal, Request,
};

/// One MCP server; the HTTP door makes one per request (stateless).
#[derive(Clone)]
pub struct Handler {
    state: Arc<AppState>,
    /// stdio: the person every call is for. HTTP: `None`, the person is
    /// named by `mcp.user_header` on each request.
    stdio_user: Option<String>,
}

impl Handler {
    pub fn http(state: Arc<AppState>) -> Handler {
        Handler {
            state,
            stdio_user: None,
        }
    }

    /// `jira-action mcp`: every call is for `user` (validated at start).
    pub fn stdio(state: Arc<AppState>, user: String) -> Handler {
        Handler {
            state,
            stdio_user: Some(user),
        }
    }

    /// The core's request for one call.
    fn request(
        &self,
        arguments: serde_json::Map<String, Value>,
        ctx: &RequestContext<RoleServer>,
    ) -> Request {
        let headers = ctx
            .extensions
            .get::<axum::http::request::Parts>()
            .map(|parts| &parts.headers);
        let client = ctx
            .client_info()
            .map(|info| info.name)
            .or_else(|| headers.and_then(user_agent))
            .map(|name| printable(&name, 64));
        match (&self.stdio_user, headers) {
            (Some(user), _) => Request {
                door: FrontDoor::Mcp,
                client,
                request_id: uuid::Uuid::new_v4().to_string(),
                authenticated: Authenticated::Local,
                principal: Ok(Principal::Email(user.clone())),
                credentials: Credentials::Server,
                idempotency_key: Ok(None),
                arguments: Ok(arguments),
                deadline: None,
            },
            (None, headers) => {
                let signed_in = ctx
                    .extensions
                    .get::<axum::http::request::Parts>()
                    .and_then(|parts| parts.extensions.get::<crate::signin::SignedIn>());
                let empty = HeaderMap::new();
                let headers = headers.unwrap_or(&empty);
                let name = &self.state.config().mcp.user_header;
                // A signed-in person is who their token says, whatever the
                // headers claim; the client is the one they granted.
                let (authenticated, principal, client) = match signed_in {
                    Some(crate::signin::SignedIn(grant)) => (
                        Authenticated::SignIn,
                        Ok(grant.principal()),
                        Some(grant.client_id.clone()),
                    ),
                    None => (
                        Authenticated::ApiKey,
                        door::person(headers, name, name).map(Principal::Email),
                        client,
                    ),
                };
                Request {
                    door: FrontDoor::Mcp,
                    client,
                    request_id: door::request_id(headers),
                    authenticated,
                    principal,
                    credentials: Credentials::Server,
                    idempotency_key: door::idempotency_key(headers),
                    arguments: Ok(arguments),
                    deadline: ctx
                        .extensions
                        .get::<axum::http::request::Parts>()
                        .and_then(|parts| parts.extensions.get::<crate::http::CallDeadline>())
                        .map(|d| d.0),
                }
            }
        }
    }
}

impl ServerHandler for Handler {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(
                Implementation::new("jira-action", env!("CARGO_PKG_VERSION"))
                    .with_title("Jira issues, filed for the person asking"),
            )
            .with_instructions(INSTRUCTIONS)
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(tool_list()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let core = self.request(arguments, &context);
        let state = Arc::clone(&self.state);
        let result = match request.name.as_ref() {
            CreateIssue::NAME => {
                let finished = tools::run::<CreateIssue>(Arc::clone(&state), core).await;
                answer(&state, finished, created_text)
            }
            DescribeProject::NAME => {
                let finished = tools::run::<DescribeProject>(Arc::clone(&state), core).await;
                answer(&state, finished, described_text)
            }
            other => {
                return Err(ErrorData::invalid_params(
                    format!(
                        "no tool named {other:?}; this server has create_issue and describe_project"
                    ),
                    None,
                ));
            }
        };
        Ok(result.into())
    }
}

/// What the model reads first.
const INSTRUCTIONS: &str = "Files Jira issues for the person you are working for, who becomes the issue's reporter. \
Call describe_project first when you do not know a project's issue types, components or required fields; then create_issue. \
A repeat of the same create_issue call returns the first issue instead of filing another. \
A refusal says what to change (error, message and, where there are some, the valid choices).";

/// The tools, with schemas generated from the same types as the OpenAPI
/// document's.
pub fn tool_list() -> Vec<Tool> {
    vec![
        Tool::new_with_raw(
            CreateIssue::NAME,
            Some(Cow::Borrowed(
                "Create a Jira issue reported by the person asking. Returns the issue's URL and key. Names are resolved (project key or id, issue type name or id, component names), the description is Markdown, and every field problem is reported at once with the valid choices. Idempotent: repeating a call returns the first issue.",
            )),
            Arc::new(schema::mcp_schema::<CreateIssueArgs>()),
        )
        .with_title("Create a Jira issue")
        .with_raw_output_schema(Arc::new(schema::mcp_schema::<CreatedIssue>()))
        .with_annotations(
            ToolAnnotations::new()
                .read_only(false)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
        Tool::new_with_raw(
            DescribeProject::NAME,
            Some(Cow::Borrowed(
                "Describe a Jira project for create_issue: its issue types, priorities (1-5) and components, and per issue type the fields its create screen requires, with their allowed values.",
            )),
            Arc::new(schema::mcp_schema::<DescribeProjectArgs>()),
        )
        .with_title("Describe a Jira project")
        .with_raw_output_schema(Arc::new(
            schema::mcp_schema_with_nulls::<ProjectDescription>(),
        ))
        .with_annotations(
            ToolAnnotations::new()
                .read_only(true)
                .destructive(false)
                .idempotent(true)
                .open_world(true),
        ),
    ]
}

/// A tool result: `structuredContent` with the answer (or the refusal's
/// `error`, `message` and details, flagged `isError`), and a short text
/// for clients that read only text.
fn answer<T: Serialize>(
    state: &AppState,
    finished: Finished<T>,
    text: fn(&T) -> String,
) -> CallToolResult {
    crate::http::door::observe_added(state, crate::mcp::PATH, &finished.timing);
    match finished.result {
        Ok(output) => match serde_json::to_value(&output) {
            Ok(value) => {
                let mut result = CallToolResult::structured(value);
                result.content = vec![ContentBlock::text(text(&output))];
                result
            }
            Err(err) => refusal(&tools::Error::Internal(format!("answer: {err}"))),
        },
        Err(err) => refusal(&err),
    }
}

fn refusal(err: &tools::Error) -> CallToolResult {
    let problem = err.problem();
    if problem.kind == tools::Kind::Internal || problem.kind == tools::Kind::Unavailable {
        tracing::warn!(error = problem.code, cause = %err, "tool call failed");
    } else {
        tracing::info!(error = problem.code, "tool call refused");
    }
    let mut text = format!("{} (error: {})", problem.message, problem.code);
    if let Some(seconds) = problem.retry_after_secs {
        text.push_str(&format!(" Retry after {seconds} s."));
    }
    let mut result = CallToolResult::structured_error(problem.to_json());
    result.content = vec![ContentBlock::text(text)];
    result
}

fn created_text(created: &CreatedIssue) -> String {
    let mut text = format!("Created {}: {}", created.key, created.result_url);
    if let Some(message) = &created.message {
        text.push_str(&format!(". {message}"));
    }
    text
}

fn described_text(project: &ProjectDescription) -> String {
    let types: Vec<&str> = project
        .issue_types
        .iter()
        .map(|t| t.name.as_str())
        .collect();
    let components: Vec<&str> = project.components.iter().map(|c| c.name.as_str()).collect();
    format!(
        "Project {} ({}): issue types {}; components {}. The structured content lists the required fields per issue type.",
        project.key,
        project.name,
        types.join(", "),
        if components.is_empty() {
            "none".to_owned()
        } else {
            components.join(", ")
        },
    )
}

fn user_agent(headers: &HeaderMap) -> Option<String> {
    headers
        .get(axum::http::header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

/// At most `max` printable characters: a client's name goes into logs and
/// the audit trail.
fn printable(name: &str, max: usize) -> String {
    name.chars().filter(|c| !c.is_control()).take(max).collect()
}
