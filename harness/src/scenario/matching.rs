//! Matching received messages against `expect` steps: dotted field paths
//! (`assessment.criteria.pronunciation.band`, array indexes as numbers) and
//! matchers (literal equality, regex, presence, one-of, numeric bounds, JSON type).

use std::collections::BTreeMap;

use serde_json::Value;

use super::model::{Matcher, Operator};

/// The value at a dotted path.
pub fn lookup<'a>(message: &'a Value, path: &str) -> Option<&'a Value> {
    path.split('.').try_fold(message, |node, part| match node {
        Value::Array(items) => part.parse::<usize>().ok().and_then(|i| items.get(i)),
        _ => node.get(part),
    })
}

fn json_type(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_i64() || n.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

fn operator_holds(operator: &Operator, value: Option<&Value>) -> Result<bool, String> {
    if let Some(present) = operator.present
        && value.is_some() != present
    {
        return Ok(false);
    }
    let Some(value) = value else {
        return Ok(operator.present == Some(false));
    };
    if let Some(pattern) = &operator.regex {
        let regex =
            regex::Regex::new(pattern).map_err(|e| format!("bad regex {pattern:?}: {e}"))?;
        if !value.as_str().is_some_and(|s| regex.is_match(s)) {
            return Ok(false);
        }
    }
    if let Some(options) = &operator.one_of
        && !options.contains(value)
    {
        return Ok(false);
    }
    if let Some(min) = operator.gte
        && !value.as_f64().is_some_and(|v| v >= min)
    {
        return Ok(false);
    }
    if let Some(max) = operator.lte
        && !value.as_f64().is_some_and(|v| v <= max)
    {
        return Ok(false);
    }
    if let Some(kind) = &operator.json_type {
        let actual = json_type(value);
        if actual != kind && !(kind == "number" && actual == "integer") {
            return Ok(false);
        }
    }
    Ok(true)
}

/// Whether one matcher holds for the value at its path.
pub fn matcher_holds(matcher: &Matcher, value: Option<&Value>) -> Result<bool, String> {
    match matcher {
        Matcher::Literal(expected) => Ok(value == Some(expected)),
        Matcher::Operator(operator) => operator_holds(operator, value),
    }
}

/// Whether every matcher holds; `Err` for a malformed matcher.
pub fn matches(message: &Value, fields: &BTreeMap<String, Matcher>) -> Result<bool, String> {
    for (path, matcher) in fields {
        if !matcher_holds(matcher, lookup(message, path))? {
            return Ok(false);
        }
    }
    Ok(true)
}

/// The fields that do not match, for failure messages.
pub fn mismatches(message: &Value, fields: &BTreeMap<String, Matcher>) -> Vec<String> {
    fields
        .iter()
        .filter(|(path, matcher)| !matcher_holds(matcher, lookup(message, path)).unwrap_or(false))
        .map(|(path, matcher)| {
            let got = lookup(message, path).map_or("(absent)".to_owned(), Value::to_string);
            format!(
                "{path}: expected {}, got {got}",
                serde_json::to_string(matcher).unwrap_or_default()
            )
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn fields(value: Value) -> BTreeMap<String, Matcher> {
        serde_json::from_value(value).unwrap()
    }

    #[test]
    fn literal_and_operators() {
        let message = json!({"type": "assessment_complete", "assessment": {"overall_band": 6.5, "criteria": [{"band": 7}]}, "region": "us-central1"});
        assert!(matches(&message, &fields(json!({"type": "assessment_complete"}))).unwrap());
        assert!(
            matches(
                &message,
                &fields(json!({"assessment.overall_band": {"gte": 0, "lte": 9}}))
            )
            .unwrap()
        );
        assert!(matches(&message, &fields(json!({"assessment.criteria.0.band": 7}))).unwrap());
        assert!(matches(&message, &fields(json!({"region": {"regex": "^us-"}}))).unwrap());
        assert!(
            matches(
                &message,
                &fields(json!({"region": {"one_of": ["us-central1", "europe-west1"]}}))
            )
            .unwrap()
        );
        assert!(matches(&message, &fields(json!({"missing": {"present": false}}))).unwrap());
        assert!(matches(&message, &fields(json!({"assessment": {"type": "object"}}))).unwrap());
        assert!(!matches(&message, &fields(json!({"type": "error"}))).unwrap());
        assert!(
            !matches(
                &message,
                &fields(json!({"assessment.overall_band": {"gte": 7}}))
            )
            .unwrap()
        );
        assert!(matches(&message, &fields(json!({"region": {"regex": "("}}))).is_err());
        let problems = mismatches(&message, &fields(json!({"type": "error"})));
        assert!(problems[0].contains("expected \"error\""), "{problems:?}");
    }
}
