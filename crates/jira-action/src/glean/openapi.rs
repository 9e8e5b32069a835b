//! The OpenAPI document Glean registers the tool with: one path, flat
//! fields, Glean's type hints. It describes exactly what
//! [`contract::CreateIssueInput::parse`](super::contract::CreateIssueInput::parse)
//! accepts (a test sends the document's own examples through the handler).

use serde_json::{Value, json};

use super::contract::{REQUIRED_FIELDS, SUMMARY_MAX_CHARS};

/// The document, with `public_url` as its only server.
pub fn document(public_url: &str) -> Value {
    json!({
        "openapi": "3.0.3",
        "info": {
            "title": "Create Jira issue",
            "version": env!("CARGO_PKG_VERSION"),
            "description": "Creates a Jira issue for the person asking, who becomes its reporter.",
        },
        "servers": [{ "url": public_url.trim_end_matches('/') }],
        "paths": {
            "/create_issue": {
                "post": {
                    "operationId": "createIssue",
                    "summary": "Create a Jira issue reported by the requesting user",
                    "description": "Creates an issue in a Jira project. The user named in Glean-User-Email becomes the reporter. Returns the issue's URL.",
                    "parameters": [{
                        "name": "Glean-User-Email",
                        "in": "header",
                        "required": true,
                        "schema": { "type": "string", "format": "email" },
                        "description": "Email of the Glean user the issue is created for (its reporter).",
                    }],
                    "requestBody": {
                        "required": true,
                        "content": { "application/json": { "schema": request_schema() } },
                    },
                    "responses": responses(),
                },
            },
        },
        "components": {
            "schemas": {
                "CreateIssueResponse": {
                    "type": "object",
                    "required": ["resultURL", "key"],
                    "properties": {
                        "resultURL": {
                            "type": "string",
                            "x-glean-typehint": "ResultUrl",
                            "description": "URL of the created issue.",
                        },
                        "key": { "type": "string", "description": "The issue key, e.g. PROJ-123." },
                    },
                },
                "Error": {
                    "type": "object",
                    "required": ["error", "message"],
                    "properties": {
                        "error": { "type": "string", "description": "A stable error code." },
                        "message": { "type": "string", "description": "What went wrong and what to do." },
                    },
                },
            },
        },
    })
}

fn request_schema() -> Value {
    json!({
        "type": "object",
        "additionalProperties": false,
        "required": REQUIRED_FIELDS,
        "properties": {
            "pid": {
                "type": "string",
                "x-glean-typehint": "JiraProjectID",
                "description": "The project: its id (e.g. 10000) or key (e.g. PROJ).",
                "example": "10000",
            },
            "issuetype": {
                "type": "string",
                "x-glean-typehint": "JiraIssueType",
                "description": "The issue type: its id (e.g. 10001) or name (e.g. Task, Bug, Story).",
                "example": "10001",
            },
            "summary": {
                "type": "string",
                "x-glean-typehint": "Content",
                "minLength": 1,
                "maxLength": SUMMARY_MAX_CHARS,
                "pattern": "^[^\\r\\n]*\\S[^\\r\\n]*$",
                "description": "The issue's title: one line, at most 255 characters.",
                "example": "Login page returns 500 after password reset",
            },
            "priority": {
                "type": "integer",
                "x-glean-typehint": "JiraIssuePriority",
                "minimum": 1,
                "maximum": 5,
                "description": "Priority from 1 (highest) to 5 (lowest).",
                "example": 3,
            },
            "components": {
                "type": "string",
                "x-glean-typehint": "JiraComponentId",
                "description": "Component ids or names, comma-separated.",
                "example": "Backend",
            },
            "description": {
                "type": "string",
                "x-glean-typehint": "Content",
                "description": "The issue's body, in Markdown.",
                "example": "Steps to reproduce:\n\n1. Reset the password\n2. Log in\n\n**Expected:** the dashboard.",
            },
            "assignee": {
                "type": "string",
                "x-glean-typehint": "EmailAddress",
                "description": "Email address (or Jira account id) of the person to assign the issue to.",
                "example": "alice@example.com",
            },
            "labels": {
                "type": "string",
                "description": "Labels, comma-separated (spaces inside a label become hyphens).",
                "example": "customer-reported",
            },
            "duedate": {
                "type": "string",
                "format": "date",
                "description": "Due date as YYYY-MM-DD.",
                "example": "2030-01-31",
            },
            "parent": {
                "type": "string",
                "x-glean-typehint": "JiraIssueId",
                "description": "Key of the parent issue (e.g. PROJ-123): required for sub-tasks; an epic for other issue types.",
            },
        },
    })
}

fn responses() -> Value {
    let error = |description: &str| {
        json!({
            "description": description,
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/Error" } } },
        })
    };
    json!({
        "200": {
            "description": "The issue was created (or had been, for a repeated request).",
            "content": { "application/json": { "schema": { "$ref": "#/components/schemas/CreateIssueResponse" } } },
        },
        "400": error("The request cannot work as sent: the message names the field and the valid choices."),
        "401": error("Missing or refused credentials, or an invalid Glean signature."),
        "403": error("Jira or the tool's access rules forbid this."),
        "409": error("Ambiguous user, or a conflicting repeated request."),
        "413": error("The body is too large."),
        "429": error("Jira is rate limiting; retry later."),
        "502": error("Jira failed."),
        "503": error("The tool is overloaded; retry shortly."),
        "504": error("Jira did not answer in time."),
    })
}
