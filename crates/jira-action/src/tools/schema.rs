//! The tools' arguments and answers as Rust types, from which both the
//! OpenAPI document Glean registers and the MCP tool list are generated,
//! so the two doors can never describe different fields.
//!
//! The types show the canonical form of each field; the parser
//! ([`CreateIssueInput::from_fields`](crate::glean::contract::CreateIssueInput::from_fields))
//! is more lenient (ids as numbers, components as a list), and a test
//! holds that it accepts exactly the fields these types name.

use schemars::JsonSchema;
use schemars::generate::SchemaSettings;
use serde_json::{Map, Value};

/// The arguments of `create_issue` (and the body of `POST /create_issue`).
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used; the parser reads the fields.
pub struct CreateIssueArgs {
    /// The project: its id (e.g. 10000) or key (e.g. PROJ).
    #[schemars(extend("x-glean-typehint" = "JiraProjectID", "example" = "10000"))]
    pid: String,
    /// The issue type: its id (e.g. 10001) or name (e.g. Task, Bug, Story).
    #[schemars(extend("x-glean-typehint" = "JiraIssueType", "example" = "10001"))]
    issuetype: String,
    /// The issue's title: one line, at most 255 characters.
    #[schemars(extend(
        "x-glean-typehint" = "Content",
        "minLength" = 1,
        "maxLength" = 255,
        "pattern" = "^[^\\r\\n]*\\S[^\\r\\n]*$",
        "example" = "Login page returns 500 after password reset"
    ))]
    summary: String,
    /// Priority from 1 (highest) to 5 (lowest).
    #[schemars(extend(
        "x-glean-typehint" = "JiraIssuePriority",
        "minimum" = 1,
        "maximum" = 5,
        "example" = 3
    ))]
    priority: Option<i64>,
    /// Component ids or names, comma-separated.
    #[schemars(extend("x-glean-typehint" = "JiraComponentId", "example" = "Backend"))]
    components: Option<String>,
    /// The issue's body, in Markdown.
    #[schemars(extend(
        "x-glean-typehint" = "Content",
        "example" = "Steps to reproduce:\n\n1. Reset the password\n2. Log in\n\n**Expected:** the dashboard."
    ))]
    description: Option<String>,
    /// Email address (or Jira account id) of the person to assign the issue to.
    #[schemars(extend("x-glean-typehint" = "EmailAddress", "example" = "alice@example.com"))]
    assignee: Option<String>,
    /// Labels, comma-separated (spaces inside a label become hyphens).
    #[schemars(extend("example" = "customer-reported"))]
    labels: Option<String>,
    /// Due date as YYYY-MM-DD.
    #[schemars(extend("format" = "date", "example" = "2030-01-31"))]
    duedate: Option<String>,
    /// Key of the parent issue (e.g. PROJ-123): required for sub-tasks; an epic for other issue types.
    #[schemars(extend("x-glean-typehint" = "JiraIssueId"))]
    parent: Option<String>,
}

/// The arguments of `describe_project`.
#[derive(JsonSchema)]
#[schemars(deny_unknown_fields)]
#[allow(dead_code)] // Only its schema is used; the parser reads the fields.
pub struct DescribeProjectArgs {
    /// The project: its key (e.g. PROJ) or id (e.g. 10000).
    #[schemars(extend("example" = "DEMO"))]
    project: String,
}

/// The schema of `T` as a plain JSON object: every subschema inlined, an
/// optional field just its type (a `null` is read as absent anyway), and
/// no `$schema` or `title`, which neither OpenAPI 3.0 nor MCP wants here.
fn schema_of<T: JsonSchema>(nulls: Nulls) -> Map<String, Value> {
    let settings = SchemaSettings::draft2020_12().with(|s| {
        s.inline_subschemas = true;
        s.meta_schema = None;
    });
    let mut value = settings
        .into_generator()
        .into_root_schema_for::<T>()
        .to_value();
    if nulls == Nulls::Absent {
        tidy(&mut value);
    }
    match value {
        Value::Object(mut object) => {
            object.remove("title");
            object
        }
        _ => Map::new(),
    }
}

/// Whether a type's optional fields can be `null` on the wire.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Nulls {
    /// Arguments (a `null` reads as absent) and answers that skip absent
    /// fields: an optional field is just its type.
    Absent,
    /// Answers that send `null`: the schema must allow it.
    Sent,
}

/// `"type": ["string", "null"]` becomes `"type": "string"`, throughout.
fn tidy(value: &mut Value) {
    match value {
        Value::Object(object) => {
            if let Some(Value::Array(types)) = object.get("type") {
                let kept: Vec<Value> = types.iter().filter(|t| *t != "null").cloned().collect();
                if let [single] = kept.as_slice() {
                    object.insert("type".into(), single.clone());
                }
            }
            object.remove("nullable");
            object.values_mut().for_each(tidy);
        }
        Value::Array(items) => items.iter_mut().for_each(tidy),
        _ => {}
    }
}

/// For the OpenAPI 3.0 document: Glean's type hints and `example` kept.
pub fn openapi_schema<T: JsonSchema>() -> Value {
    Value::Object(schema_of::<T>(Nulls::Absent))
}

/// For MCP (JSON Schema 2020-12): `example` becomes `examples`, and
/// Glean's `x-glean-*` hints go, since other clients do not know them.
pub fn mcp_schema<T: JsonSchema>() -> Map<String, Value> {
    mcp(schema_of::<T>(Nulls::Absent))
}

/// [`mcp_schema`] for an answer whose optional fields are sent as `null`.
pub fn mcp_schema_with_nulls<T: JsonSchema>() -> Map<String, Value> {
    mcp(schema_of::<T>(Nulls::Sent))
}

fn mcp(schema: Map<String, Value>) -> Map<String, Value> {
    let mut value = Value::Object(schema);
    for_mcp(&mut value);
    match value {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

fn for_mcp(value: &mut Value) {
    match value {
        Value::Object(object) => {
            object.retain(|key, _| !key.starts_with("x-glean-"));
            if let Some(example) = object.remove("example") {
                object.insert("examples".into(), Value::Array(vec![example]));
            }
            object.values_mut().for_each(for_mcp);
        }
        Value::Array(items) => items.iter_mut().for_each(for_mcp),
        _ => {}
    }
}

/// The names of the properties a schema describes.
pub fn property_names(schema: &Map<String, Value>) -> Vec<String> {
    schema
        .get("properties")
        .and_then(Value::as_object)
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default()
}

/// The names a schema requires.
pub fn required_names(schema: &Map<String, Value>) -> Vec<String> {
    schema
        .get("required")
        .and_then(Value::as_array)
        .map(|r| {
            r.iter()
                .filter_map(Value::as_str)
                .map(str::to_owned)
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::glean::contract::{CreateIssueInput, FIELD_NAMES, REQUIRED_FIELDS};

    fn sorted(mut names: Vec<String>) -> Vec<String> {
        names.sort();
        names
    }

    #[test]
    fn both_doors_describe_exactly_the_fields_the_parser_accepts() {
        let openapi = match openapi_schema::<CreateIssueArgs>() {
            Value::Object(object) => object,
            _ => Map::new(),
        };
        let mcp = mcp_schema::<CreateIssueArgs>();
        let accepted = sorted(FIELD_NAMES.iter().map(|s| s.to_string()).collect());
        let required = sorted(REQUIRED_FIELDS.iter().map(|s| s.to_string()).collect());
        for schema in [&openapi, &mcp] {
            assert_eq!(sorted(property_names(schema)), accepted);
            assert_eq!(sorted(required_names(schema)), required);
            assert_eq!(
                schema.get("additionalProperties"),
                Some(&Value::Bool(false))
            );
        }
        // Every example the OpenAPI document shows is accepted as is.
        let mut example = Map::new();
        for (name, property) in openapi["properties"].as_object().into_iter().flatten() {
            if let Some(value) = property.get("example") {
                example.insert(name.clone(), value.clone());
            }
        }
        assert!(CreateIssueInput::from_fields(example).is_ok());
    }

    #[test]
    fn optional_fields_are_plain_types_and_mcp_loses_glean_hints() {
        let mcp = mcp_schema::<CreateIssueArgs>();
        let priority = &mcp["properties"]["priority"];
        assert_eq!(priority["type"], "integer");
        assert_eq!(priority["examples"], serde_json::json!([3]));
        assert!(!Value::Object(mcp.clone()).to_string().contains("x-glean"));
        let openapi = openapi_schema::<CreateIssueArgs>();
        assert_eq!(
            openapi["properties"]["pid"]["x-glean-typehint"],
            "JiraProjectID"
        );
        assert_eq!(openapi["properties"]["components"]["type"], "string");
    }
}
