//! The request Glean sends to `POST /create_issue`: flat JSON fields, read
//! leniently where a model or a person may write a value either way (an id
//! or a name, a number or a numeric string) and strictly everywhere else.

use serde_json::{Map, Value};

use crate::tools::Error;

/// Every field the handler accepts; the OpenAPI document lists the same.
pub const FIELD_NAMES: &[&str] = &[
    "pid",
    "issuetype",
    "summary",
    "priority",
    "components",
    "description",
    "assignee",
    "labels",
    "duedate",
    "parent",
];

/// The fields without which no issue can be created.
pub const REQUIRED_FIELDS: &[&str] = &["pid", "issuetype", "summary"];

/// Jira's limit on a summary, in characters.
pub const SUMMARY_MAX_CHARS: usize = 255;

/// A project reference as the caller gave it.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum ProjectRef {
    Id(String),
    Key(String),
}

/// An issue type or component: an id when numeric, otherwise a name.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IdOrName {
    Id(String),
    Name(String),
}

/// Who to assign: an email to resolve, or an account id to use as is.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum AssigneeRef {
    Email(String),
    AccountId(String),
}

/// A create request, validated and normalised.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CreateIssueInput {
    pub project: ProjectRef,
    pub issue_type: IdOrName,
    pub summary: String,
    /// 1 (highest) to 5 (lowest).
    pub priority: Option<u8>,
    pub components: Vec<IdOrName>,
    pub description: Option<String>,
    pub assignee: Option<AssigneeRef>,
    pub labels: Vec<String>,
    /// `YYYY-MM-DD`, a real calendar date.
    pub duedate: Option<String>,
    /// The parent issue (for sub-tasks, or an epic): a key or an id.
    pub parent: Option<IssueRef>,
}

/// An existing issue, by key (`PROJ-123`) or id.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum IssueRef {
    Id(String),
    Key(String),
}

impl CreateIssueInput {
    /// Parses and validates the body. Errors name the field at fault.
    pub fn parse(body: &[u8]) -> Result<CreateIssueInput, Error> {
        CreateIssueInput::from_fields(arguments(body)?)
    }

    /// Validates the fields of a JSON object (a body, or an MCP call's
    /// arguments).
    pub fn from_fields(mut fields: Map<String, Value>) -> Result<CreateIssueInput, Error> {
        if let Some(unknown) = fields.keys().find(|k| !FIELD_NAMES.contains(&k.as_str())) {
            return Err(Error::UnknownField(truncate(unknown, 64)));
        }
        let project = parse_project(required(&mut fields, "pid")?, "pid")?;
        let issue_type = parse_issue_type(required(&mut fields, "issuetype")?)?;
        let summary = parse_summary(required(&mut fields, "summary")?)?;
        let priority = optional(&mut fields, "priority")
            .map(parse_priority)
            .transpose()?;
        let components = optional(&mut fields, "components")
            .map(parse_components)
            .transpose()?
            .unwrap_or_default();
        let description = optional(&mut fields, "description")
            .map(|v| string(v, "description"))
            .transpose()?
            .filter(|d| !d.trim().is_empty());
        let assignee = optional(&mut fields, "assignee")
            .map(parse_assignee)
            .transpose()?
            .flatten();
        let labels = optional(&mut fields, "labels")
            .map(parse_labels)
            .transpose()?
            .unwrap_or_default();
        let duedate = optional(&mut fields, "duedate")
            .map(parse_date)
            .transpose()?
            .flatten();
        let parent = optional(&mut fields, "parent")
            .map(parse_parent)
            .transpose()?
            .flatten();
        Ok(CreateIssueInput {
            project,
            issue_type,
            summary,
            priority,
            components,
            description,
            assignee,
            labels,
            duedate,
            parent,
        })
    }
}

/// A body as the JSON object of a tool's arguments.
pub fn arguments(body: &[u8]) -> Result<Map<String, Value>, Error> {
    if body.iter().all(u8::is_ascii_whitespace) {
        return Err(Error::EmptyBody);
    }
    let value: Value =
        serde_json::from_slice(body).map_err(|e| Error::InvalidJson(e.to_string()))?;
    match value {
        Value::Object(fields) => Ok(fields),
        _ => Err(Error::InvalidJson("expected an object".into())),
    }
}

/// A required field; `null` counts as missing.
fn required(fields: &mut Map<String, Value>, name: &'static str) -> Result<Value, Error> {
    optional(fields, name).ok_or(Error::MissingField(name))
}

/// An optional field; `null` counts as absent (models often send nulls).
fn optional(fields: &mut Map<String, Value>, name: &'static str) -> Option<Value> {
    fields.remove(name).filter(|v| !v.is_null())
}

fn invalid(field: &'static str, message: impl Into<String>) -> Error {
    Error::InvalidField {
        field,
        message: message.into(),
    }
}

fn string(value: Value, field: &'static str) -> Result<String, Error> {
    match value {
        Value::String(s) => Ok(s),
        other => Err(invalid(
            field,
            format!("expected a string, got {}", kind(&other)),
        )),
    }
}

/// A string, or an integer written as a number (ids often are).
fn string_or_integer(value: Value, field: &'static str) -> Result<String, Error> {
    match value {
        Value::Number(n) if n.is_u64() => Ok(n.to_string()),
        Value::String(s) => Ok(s.trim().to_owned()),
        other => Err(invalid(
            field,
            format!("expected a string or an integer, got {}", kind(&other)),
        )),
    }
}

fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn is_numeric_id(s: &str) -> bool {
    !s.is_empty() && s.len() <= 18 && s.bytes().all(|b| b.is_ascii_digit())
}

/// Jira project keys: a letter, then letters, digits or underscores.
fn is_project_key(s: &str) -> bool {
    let mut bytes = s.bytes();
    s.len() <= 255
        && bytes.next().is_some_and(|b| b.is_ascii_alphabetic())
        && bytes.all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// A project id or key; `field` names the argument for the message.
pub fn parse_project(value: Value, field: &'static str) -> Result<ProjectRef, Error> {
    let pid = string_or_integer(value, field)?;
    if is_numeric_id(&pid) {
        Ok(ProjectRef::Id(pid))
    } else if is_project_key(&pid) {
        Ok(ProjectRef::Key(pid.to_ascii_uppercase()))
    } else {
        Err(invalid(
            field,
            "expected a project id (e.g. 10000) or key (e.g. PROJ)",
        ))
    }
}

fn parse_issue_type(value: Value) -> Result<IdOrName, Error> {
    let given = string_or_integer(value, "issuetype")?;
    id_or_name(given, "issuetype")
}

fn id_or_name(given: String, field: &'static str) -> Result<IdOrName, Error> {
    if given.is_empty() {
        Err(invalid(field, "must not be empty"))
    } else if is_numeric_id(&given) {
        Ok(IdOrName::Id(given))
    } else if given.chars().count() > 255 || given.chars().any(char::is_control) {
        Err(invalid(field, "not a valid id or name"))
    } else {
        Ok(IdOrName::Name(given))
    }
}

fn parse_summary(value: Value) -> Result<String, Error> {
    let summary = string(value, "summary")?;
    let summary = summary.trim();
    if summary.is_empty() {
        return Err(invalid("summary", "must not be empty"));
    }
    if summary.contains(['\n', '\r']) {
        return Err(invalid(
            "summary",
            "must be one line (Jira does not allow newlines in a summary)",
        ));
    }
    let chars = summary.chars().count();
    if chars > SUMMARY_MAX_CHARS {
        return Err(invalid(
            "summary",
            format!("is {chars} characters long; Jira allows at most {SUMMARY_MAX_CHARS}"),
        ));
    }
    Ok(summary.to_owned())
}

fn parse_priority(value: Value) -> Result<u8, Error> {
    let level = match &value {
        Value::Number(n) => n.as_u64(),
        Value::String(s) => s.trim().parse::<u64>().ok(),
        _ => None,
    };
    match level {
        Some(level @ 1..=5) => Ok(level as u8),
        _ => Err(invalid(
            "priority",
            "expected an integer from 1 (highest) to 5 (lowest). Valid choices: 1, 2, 3, 4, 5.",
        )),
    }
}

fn parse_components(value: Value) -> Result<Vec<IdOrName>, Error> {
    let items: Vec<String> = match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| string_or_integer(v, "components"))
            .collect::<Result<_, _>>()?,
        other => string_or_integer(other, "components")?
            .split(',')
            .map(str::to_owned)
            .collect(),
    };
    let mut components = Vec::new();
    for item in items {
        let item = item.trim().to_owned();
        if item.is_empty() {
            continue;
        }
        let component = id_or_name(item, "components")?;
        if !components.contains(&component) {
            components.push(component);
        }
    }
    if components.len() > 50 {
        return Err(invalid("components", "at most 50 components"));
    }
    Ok(components)
}

fn parse_assignee(value: Value) -> Result<Option<AssigneeRef>, Error> {
    let given = string(value, "assignee")?;
    let given = given.trim();
    if given.is_empty() {
        return Ok(None);
    }
    if given.contains('@') {
        return crate::glean::email::parse(given)
            .map(|email| Some(AssigneeRef::Email(email)))
            .map_err(|reason| {
                invalid("assignee", format!("not a valid email address ({reason})"))
            });
    }
    let valid_account_id = given.len() <= 128
        && given
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || matches!(b, b':' | b'-' | b'_'));
    if valid_account_id {
        Ok(Some(AssigneeRef::AccountId(given.to_owned())))
    } else {
        Err(invalid(
            "assignee",
            "expected an email address or a Jira account id",
        ))
    }
}

/// Labels, comma-separated (or a JSON array). Jira labels cannot contain
/// spaces, so a space inside a label becomes a hyphen (`needs triage` →
/// `needs-triage`) rather than failing at Jira.
fn parse_labels(value: Value) -> Result<Vec<String>, Error> {
    let items: Vec<String> = match value {
        Value::Array(items) => items
            .into_iter()
            .map(|v| string(v, "labels"))
            .collect::<Result<_, _>>()?,
        other => string(other, "labels")?
            .split(',')
            .map(str::to_owned)
            .collect(),
    };
    let mut labels: Vec<String> = Vec::new();
    for item in items {
        let label = item.split_whitespace().collect::<Vec<_>>().join("-");
        if label.is_empty() {
            continue;
        }
        if label.chars().count() > 255 || label.chars().any(char::is_control) {
            return Err(invalid(
                "labels",
                "each label is at most 255 characters, without control characters",
            ));
        }
        if !labels.contains(&label) {
            labels.push(label);
        }
    }
    if labels.len() > 50 {
        return Err(invalid("labels", "at most 50 labels"));
    }
    Ok(labels)
}

/// `YYYY-MM-DD`, checked to be a real date (Jira answers a cryptic error
/// for 2025-02-30).
fn parse_date(value: Value) -> Result<Option<String>, Error> {
    let text = string(value, "duedate")?;
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let bad = || invalid("duedate", "expected a date as YYYY-MM-DD, e.g. 2026-12-31");
    let parts: Vec<&str> = text.split('-').collect();
    let [year, month, day] = parts.as_slice() else {
        return Err(bad());
    };
    let digits = |s: &str, len: usize| s.len() == len && s.bytes().all(|b| b.is_ascii_digit());
    if !(digits(year, 4) && digits(month, 2) && digits(day, 2)) {
        return Err(bad());
    }
    let (year, month, day): (u32, u32, u32) = (
        year.parse().map_err(|_| bad())?,
        month.parse().map_err(|_| bad())?,
        day.parse().map_err(|_| bad())?,
    );
    let leap = (year % 4 == 0 && year % 100 != 0) || year % 400 == 0;
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return Err(bad()),
    };
    if year < 1900 || day == 0 || day > days_in_month {
        return Err(bad());
    }
    Ok(Some(text.to_owned()))
}

/// An issue key (`PROJ-123`, any case) or a numeric id.
fn parse_parent(value: Value) -> Result<Option<IssueRef>, Error> {
    let given = string_or_integer(value, "parent")?;
    if given.is_empty() {
        return Ok(None);
    }
    if is_numeric_id(&given) {
        return Ok(Some(IssueRef::Id(given)));
    }
    let valid_key = given
        .rsplit_once('-')
        .is_some_and(|(project, number)| is_project_key(project) && is_numeric_id(number));
    if valid_key {
        Ok(Some(IssueRef::Key(given.to_ascii_uppercase())))
    } else {
        Err(invalid("parent", "expected an issue key such as PROJ-123"))
    }
}

fn truncate(s: &str, max: usize) -> String {
    s.chars().take(max).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(json: &str) -> Result<CreateIssueInput, Error> {
        CreateIssueInput::parse(json.as_bytes())
    }

    fn code(json: &str) -> &'static str {
        match parse(json) {
            Ok(_) => "ok",
            Err(err) => err.code(),
        }
    }

    #[test]
    fn accepts_ids_and_names_numbers_and_strings() {
        let input = parse(
            r#"{"pid":10000,"issuetype":"Bug","summary":" Fix it ","priority":"2",
                "components":"Backend, 10101,,Backend","assignee":"Bob@Example.com"}"#,
        )
        .expect("valid");
        assert_eq!(input.project, ProjectRef::Id("10000".into()));
        assert_eq!(input.issue_type, IdOrName::Name("Bug".into()));
        assert_eq!(input.summary, "Fix it");
        assert_eq!(input.priority, Some(2));
        assert_eq!(
            input.components,
            vec![
                IdOrName::Name("Backend".into()),
                IdOrName::Id("10101".into())
            ]
        );
        assert_eq!(
            input.assignee,
            Some(AssigneeRef::Email("bob@example.com".into()))
        );
        let input =
            parse(r#"{"pid":"demo","issuetype":10001,"summary":"x","assignee":"712020:abc-DEF"}"#)
                .expect("valid");
        assert_eq!(input.project, ProjectRef::Key("DEMO".into()));
        assert_eq!(input.issue_type, IdOrName::Id("10001".into()));
        assert_eq!(
            input.assignee,
            Some(AssigneeRef::AccountId("712020:abc-DEF".into()))
        );
    }

    #[test]
    fn refuses_what_cannot_work() {
        assert_eq!(code(""), "empty_body");
        assert_eq!(code("  \n"), "empty_body");
        assert_eq!(code("{"), "invalid_json");
        assert_eq!(code("[]"), "invalid_json");
        assert_eq!(code(r#"{"pid":"A","issuetype":1}"#), "missing_field");
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":null}"#),
            "missing_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","x":1}"#),
            "unknown_field"
        );
        assert_eq!(
            code(r#"{"pid":"../x","issuetype":1,"summary":"s"}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"a\nb"}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"  "}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":true,"summary":"s"}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","priority":6}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","priority":0}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","priority":2.5}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","assignee":"Bob <b@x.com>"}"#),
            "invalid_field"
        );
        assert_eq!(
            code(r#"{"pid":"A","issuetype":1,"summary":"s","assignee":"not an id!"}"#),
            "invalid_field"
        );
    }

    #[test]
    fn summary_limit_counts_characters_not_bytes() {
        let ok = format!(
            r#"{{"pid":"A","issuetype":1,"summary":"{}"}}"#,
            "é".repeat(255)
        );
        assert_eq!(code(&ok), "ok");
        let long = format!(
            r#"{{"pid":"A","issuetype":1,"summary":"{}"}}"#,
            "é".repeat(256)
        );
        assert_eq!(code(&long), "invalid_field");
    }

    #[test]
    fn labels_dates_and_parents() {
        let input = parse(
            r#"{"pid":"A","issuetype":1,"summary":"s","labels":"needs triage, ui,,ui","duedate":"2028-02-29","parent":"demo-12"}"#,
        )
        .expect("valid");
        assert_eq!(input.labels, vec!["needs-triage", "ui"]);
        assert_eq!(input.duedate.as_deref(), Some("2028-02-29"));
        assert_eq!(input.parent, Some(IssueRef::Key("DEMO-12".into())));
        let input =
            parse(r#"{"pid":"A","issuetype":1,"summary":"s","labels":["a","b c"],"parent":10042}"#)
                .expect("valid");
        assert_eq!(input.labels, vec!["a", "b-c"]);
        assert_eq!(input.parent, Some(IssueRef::Id("10042".into())));
        for bad in [
            r#""duedate":"2027-02-29""#,
            r#""duedate":"2026-13-01""#,
            r#""duedate":"26-1-1""#,
            r#""duedate":"tomorrow""#,
            r#""parent":"DEMO""#,
            r#""parent":"../1""#,
            r#""labels":5"#,
        ] {
            let body = format!(r#"{{"pid":"A","issuetype":1,"summary":"s",{bad}}}"#);
            assert_eq!(code(&body), "invalid_field", "{bad}");
        }
    }

    #[test]
    fn empty_optional_fields_are_absent() {
        let input = parse(
            r#"{"pid":"A","issuetype":1,"summary":"s","description":"  ","assignee":"","components":"","priority":null}"#,
        )
        .expect("valid");
        assert_eq!(input.description, None);
        assert_eq!(input.assignee, None);
        assert!(input.components.is_empty());
        assert_eq!(input.priority, None);
    }
}
