//! A minimal YAML writer for JSON values (block style, every string
//! double-quoted as JSON), so the OpenAPI document needs no YAML library.
//! JSON's string escapes are valid in YAML's double-quoted scalars.

use serde_json::Value;

pub fn to_yaml(value: &Value) -> String {
    let mut out = String::new();
    write_value(&mut out, value, 0);
    out
}

fn scalar(value: &Value) -> String {
    // Serializing a scalar cannot fail.
    serde_json::to_string(value).unwrap_or_default()
}

fn is_empty_collection(value: &Value) -> bool {
    matches!(value, Value::Object(m) if m.is_empty())
        || matches!(value, Value::Array(a) if a.is_empty())
}

fn write_value(out: &mut String, value: &Value, indent: usize) {
    match value {
        Value::Object(map) if !map.is_empty() => {
            for (key, child) in map {
                push_indent(out, indent);
                out.push_str(&scalar(&Value::String(key.clone())));
                out.push(':');
                write_child(out, child, indent);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for item in items {
                push_indent(out, indent);
                out.push('-');
                write_child(out, item, indent);
            }
        }
        other => {
            push_indent(out, indent);
            out.push_str(&scalar(other));
            out.push('\n');
        }
    }
}

fn write_child(out: &mut String, child: &Value, indent: usize) {
    if (child.is_object() || child.is_array()) && !is_empty_collection(child) {
        out.push('\n');
        write_value(out, child, indent + 2);
    } else {
        out.push(' ');
        out.push_str(&scalar(child));
        out.push('\n');
    }
}

fn push_indent(out: &mut String, indent: usize) {
    out.extend(std::iter::repeat_n(' ', indent));
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn writes_nested_maps_and_lists() {
        let yaml = to_yaml(&json!({"a": {"b": [1, "x\ny", {"c": true}], "e": []}, "d": null}));
        assert_eq!(
            yaml,
            "\"a\":\n  \"b\":\n    - 1\n    - \"x\\ny\"\n    -\n      \"c\": true\n  \"e\": []\n\"d\": null\n"
        );
    }
}
