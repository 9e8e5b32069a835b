//! The create screen, checked before the create: what Jira would refuse is
//! found here, all at once, with the allowed values, and nothing is sent.

use std::collections::BTreeSet;

use jira::FieldMeta;
use serde::Serialize;
use serde_json::{Map, Value};

/// The fields every create sets, which every screen has.
const ALWAYS_SET: [&str; 3] = ["project", "issuetype", "summary"];

/// One thing wrong with the fields we would send.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Problem {
    /// The Jira field id (`priority`, `customfield_10050`, …).
    pub field: String,
    /// The field's name on this site.
    pub name: String,
    pub message: String,
    /// The values Jira accepts, when it lists them.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub allowed: Vec<String>,
}

/// Whether the credentials may set the reporter: Jira lists `reporter` in
/// create metadata only when it is on the screen and the caller has the
/// Modify Reporter permission.
pub fn reporter_settable(meta: &[FieldMeta]) -> bool {
    meta.iter().any(|f| f.field_id == "reporter")
}

/// Every problem with `fields` (the create's `fields` object) against the
/// screen: fields not on it, values outside `allowedValues`, required
/// fields missing. Empty means Jira should accept it.
pub fn check(meta: &[FieldMeta], fields: &Map<String, Value>) -> Vec<Problem> {
    let mut problems = Vec::new();
    for (id, value) in fields {
        if ALWAYS_SET.contains(&id.as_str()) {
            continue;
        }
        let Some(field) = meta.iter().find(|f| &f.field_id == id) else {
            problems.push(Problem {
                field: id.clone(),
                name: id.clone(),
                message: format!(
                    "`{id}` is not on this project's create screen for this issue type (or the tool's account may not set it); a Jira admin can add it to the screen"
                ),
                allowed: Vec::new(),
            });
            continue;
        };
        if let Some(allowed) = &field.allowed_values {
            let refused: Vec<String> = chosen(value)
                .into_iter()
                .filter(|choice| !allowed.iter().any(|a| matches_choice(a, choice)))
                .map(describe)
                .collect();
            if !refused.is_empty() {
                problems.push(Problem {
                    field: id.clone(),
                    name: field.name.clone(),
                    message: format!("{} does not allow {}", field.name, refused.join(", ")),
                    allowed: allowed.iter().map(describe).collect(),
                });
            }
        }
    }
    let set: BTreeSet<&str> = fields.keys().map(String::as_str).collect();
    for field in meta {
        let id = field.field_id.as_str();
        if field.required
            && !field.has_default_value
            && !set.contains(id)
            && !ALWAYS_SET.contains(&id)
            && id != "reporter"
        {
            problems.push(Problem {
                field: id.to_owned(),
                name: field.name.clone(),
                message: format!(
                    "{} is required in this project; the tool's operator can set a default for it (projects.<KEY>.defaults)",
                    field.name
                ),
                allowed: field
                    .allowed_values
                    .iter()
                    .flatten()
                    .map(describe)
                    .collect(),
            });
        }
    }
    problems
}

/// The values a field's JSON selects: an object, or each of an array.
fn chosen(value: &Value) -> Vec<&Value> {
    match value {
        Value::Array(items) => items.iter().filter(|v| v.is_object()).collect(),
        Value::Object(_) => vec![value],
        _ => Vec::new(),
    }
}

/// `{"id"}` matches by id; `{"name"}` or `{"value"}` by name or value.
fn matches_choice(allowed: &Value, choice: &Value) -> bool {
    let same = |key: &str| {
        choice
            .get(key)
            .and_then(Value::as_str)
            .is_some_and(|wanted| allowed.get(key).and_then(Value::as_str) == Some(wanted))
    };
    same("id") || same("name") || same("value")
}

/// `High (id 2)`-style text for a value Jira lists.
fn describe(value: &Value) -> String {
    let label = ["name", "value", "key"]
        .iter()
        .find_map(|k| value.get(*k).and_then(Value::as_str));
    let id = value.get("id").and_then(Value::as_str);
    match (label, id) {
        (Some(label), Some(id)) => format!("{label} (id {id})"),
        (Some(label), None) => label.to_owned(),
        (None, Some(id)) => format!("id {id}"),
        (None, None) => value.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn meta(id: &str, required: bool, allowed: Option<Value>) -> FieldMeta {
        serde_json::from_value(json!({
            "fieldId": id, "name": id.to_uppercase(), "required": required,
            "hasDefaultValue": false, "allowedValues": allowed,
        }))
        .expect("meta")
    }

    fn fields(value: Value) -> Map<String, Value> {
        value.as_object().expect("object").clone()
    }

    #[test]
    fn a_matching_screen_has_no_problems() {
        let screen = [
            meta("summary", true, None),
            meta("reporter", true, None),
            meta(
                "priority",
                false,
                Some(json!([{"id": "1", "name": "Highest"}, {"id": "3", "name": "Medium"}])),
            ),
            meta(
                "components",
                false,
                Some(json!([{"id": "10100", "name": "Backend"}])),
            ),
        ];
        let sent = fields(json!({
            "project": {"id": "1"}, "issuetype": {"id": "2"}, "summary": "s",
            "priority": {"id": "3"}, "components": [{"id": "10100"}], "reporter": {"id": "abc"},
        }));
        assert_eq!(check(&screen, &sent), vec![]);
        assert!(reporter_settable(&screen));
    }

    #[test]
    fn every_problem_is_reported_at_once() {
        let screen = [
            meta("summary", true, None),
            meta(
                "priority",
                false,
                Some(json!([{"id": "3", "name": "Medium"}])),
            ),
            meta(
                "customfield_10050",
                true,
                Some(json!([{"id": "1", "value": "Red"}, {"id": "2", "value": "Blue"}])),
            ),
        ];
        let sent = fields(json!({
            "project": {"id": "1"}, "issuetype": {"id": "2"}, "summary": "s",
            "priority": {"id": "1"}, "labels": ["x"],
        }));
        let problems = check(&screen, &sent);
        let by_field: Vec<&str> = problems.iter().map(|p| p.field.as_str()).collect();
        assert_eq!(by_field, ["priority", "labels", "customfield_10050"]);
        assert_eq!(problems[0].allowed, ["Medium (id 3)"]);
        assert_eq!(problems[2].allowed, ["Red (id 1)", "Blue (id 2)"]);
        assert!(!reporter_settable(&screen));
    }
}
