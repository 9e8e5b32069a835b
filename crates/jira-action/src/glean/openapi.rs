//! The OpenAPI document Glean registers the tool with: one path, flat
//! fields, Glean's type hints. Its schemas are generated from the types in
//! [`tools::schema`](crate::tools::schema), as the MCP tool list is, and
//! describe exactly what the parser accepts (a test sends the document's
//! own examples through the handler).

use serde_json::{Value, json};

use crate::tools::create_issue::CreatedIssue;
use crate::tools::schema;

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
                "CreateIssueResponse": schema::openapi_schema::<CreatedIssue>(),
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

/// The document as YAML, as Glean admins paste it: plain keys, block layout.
pub fn yaml(document: &Value) -> Result<String, serde_saphyr::ser::Error> {
    serde_saphyr::to_string(&Yaml11Safe(document))
}

/// Quotes the strings a YAML 1.1 reader would take for a date (the
/// `duedate` example, `2030-01-31`): YAML 1.2 reads them as strings
/// either way, but many OpenAPI tools still read YAML 1.1, and a date
/// there would not be the string the JSON form has.
struct Yaml11Safe<'a>(&'a Value);

impl serde::Serialize for Yaml11Safe<'_> {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self.0 {
            Value::String(text) if looks_like_a_date(text) => {
                serde_saphyr::DoubleQuoted(text.as_str()).serialize(serializer)
            }
            Value::Array(items) => serializer.collect_seq(items.iter().map(Yaml11Safe)),
            Value::Object(map) => {
                serializer.collect_map(map.iter().map(|(key, value)| (key, Yaml11Safe(value))))
            }
            other => other.serialize(serializer),
        }
    }
}

/// `YYYY-MM-DD` at the start: YAML 1.1's timestamps all begin so.
fn looks_like_a_date(text: &str) -> bool {
    let bytes = text.as_bytes();
    bytes.len() >= 8
        && bytes[..4].iter().all(u8::is_ascii_digit)
        && bytes[4] == b'-'
        && bytes[5..].iter().take_while(|b| b.is_ascii_digit()).count() >= 1
        && text[5..].contains('-')
}

/// Generated from the same type as the MCP tool's `inputSchema`.
fn request_schema() -> Value {
    schema::openapi_schema::<schema::CreateIssueArgs>()
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_quoted_for_yaml_1_1_readers() {
        let document = json!({"example": "2030-01-31", "name": "plain", "count": 3});
        let yaml = yaml(&document).expect("serialises");
        assert!(yaml.contains("example: \"2030-01-31\""), "{yaml}");
        assert!(yaml.contains("name: plain"), "{yaml}");
        assert!(yaml.contains("count: 3"), "{yaml}");
        let parsed: Value = serde_saphyr::from_str(&yaml).expect("parses");
        assert_eq!(parsed, document);
    }

    #[test]
    fn the_yaml_reads_back_as_the_json_document() {
        let document = document("https://tools.example.com/jira/");
        let yaml = yaml(&document).expect("serialises");
        let parsed: Value = serde_saphyr::from_str(&yaml).expect("parses");
        assert_eq!(parsed, document);
        // Plain keys, list items on the line of their first key.
        assert!(yaml.starts_with("openapi: 3.0.3\n"), "{yaml}");
        assert!(
            yaml.contains("\nservers:\n- url: https://tools.example.com/jira\n"),
            "{yaml}"
        );
        assert!(yaml.contains("\n  /create_issue:\n"), "{yaml}");
    }
}
