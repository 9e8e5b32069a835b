//! The legacy Glean action manifest. Today an admin enters the same fields
//! in Glean's UI (Platform > Tools); serving it keeps older deployments
//! working and documents the values to enter.

use serde_json::{Value, json};

use crate::config::AuthMode;

pub fn document(public_url: &str, auth: AuthMode) -> Value {
    let base = public_url.trim_end_matches('/');
    let auth = match auth {
        // Glean holds an admin's Atlassian OAuth token and sends it along.
        AuthMode::Passthrough => json!({
            "type": "OAUTH_ADMIN",
            "client_url": "https://auth.atlassian.com/authorize?audience=api.atlassian.com&prompt=consent",
            "scopes": ["write:jira-work", "read:jira-work", "read:jira-user", "offline_access"],
            "authorization_url": "https://auth.atlassian.com/oauth/token",
        }),
        // The server holds its own Jira credentials (Glean's signature
        // proves the call comes from Glean).
        AuthMode::ApiToken | AuthMode::Oauth | AuthMode::Pat | AuthMode::Password => {
            json!({ "type": "NONE" })
        }
    };
    json!({
        "type": "ACTION",
        "name": "CreateJiraIssue",
        "displayName": "Create Jira Issue",
        "description": "Creates a Jira issue for the user, who becomes its reporter. Give the project, the issue type and a one-line summary; optionally a priority from 1 (highest) to 5 (lowest), components, a Markdown description and an assignee's email. Returns the new issue's URL.",
        "enablePreview": true,
        "actionType": "EXECUTION",
        "logoUrl": format!("{base}/logo.png"),
        "auth": auth,
        "openapi": format!("{base}/openapi.yaml"),
    })
}
