//! YAML loading for CloudFormation templates: turns the short intrinsic tags
//! (`!Ref`, `!Sub`, `!GetAtt`, ...) into their long JSON forms (`{"Ref": ...}`,
//! `{"Fn::Sub": ...}`) so the rest of the reader works on plain JSON values.

use serde_json::{Map, Number, Value};
use serde_yaml_ng::Value as Yaml;

use super::TemplateError;

/// Parses a template document (YAML or JSON, which is YAML) into JSON with
/// intrinsic functions in their long form.
pub(crate) fn parse(text: &str) -> Result<Value, TemplateError> {
    let yaml: Yaml =
        serde_yaml_ng::from_str(text).map_err(|e| TemplateError::Syntax(e.to_string()))?;
    convert(yaml, "")
}

/// Converts one YAML node; `path` names where it sits, for error messages.
fn convert(node: Yaml, path: &str) -> Result<Value, TemplateError> {
    Ok(match node {
        Yaml::Null => Value::Null,
        Yaml::Bool(b) => Value::Bool(b),
        Yaml::Number(n) => number(&n, path)?,
        Yaml::String(s) => Value::String(s),
        Yaml::Sequence(items) => Value::Array(
            items
                .into_iter()
                .enumerate()
                .map(|(i, item)| convert(item, &format!("{path}/{i}")))
                .collect::<Result<_, _>>()?,
        ),
        Yaml::Mapping(mapping) => {
            let mut object = Map::new();
            for (key, value) in mapping {
                let key = match key {
                    Yaml::String(s) => s,
                    Yaml::Number(n) => n.to_string(),
                    Yaml::Bool(b) => b.to_string(),
                    other => {
                        return Err(TemplateError::Syntax(format!(
                            "{path}: mapping key {other:?} is not a string"
                        )));
                    }
                };
                let child = convert(value, &format!("{path}/{key}"))?;
                object.insert(key, child);
            }
            Value::Object(object)
        }
        Yaml::Tagged(tagged) => {
            let tag = tagged.tag.to_string();
            let name = tag.trim_start_matches('!');
            let inner = convert(tagged.value, path)?;
            long_form(name, inner, path)?
        }
    })
}

fn number(n: &serde_yaml_ng::Number, path: &str) -> Result<Value, TemplateError> {
    if let Some(i) = n.as_i64() {
        return Ok(Value::Number(i.into()));
    }
    if let Some(u) = n.as_u64() {
        return Ok(Value::Number(u.into()));
    }
    n.as_f64()
        .and_then(Number::from_f64)
        .map(Value::Number)
        .ok_or_else(|| TemplateError::Syntax(format!("{path}: number {n} is not finite")))
}

/// Maps a short-form tag to its long form.
fn long_form(tag: &str, inner: Value, path: &str) -> Result<Value, TemplateError> {
    let key = match tag {
        "Ref" => "Ref".to_owned(),
        "Condition" => "Condition".to_owned(),
        "GetAtt" => {
            // `!GetAtt Resource.Attribute` splits at the first dot.
            let inner = match inner {
                Value::String(s) => match s.split_once('.') {
                    Some((resource, attribute)) => Value::Array(vec![
                        Value::String(resource.to_owned()),
                        Value::String(attribute.to_owned()),
                    ]),
                    None => {
                        return Err(TemplateError::Syntax(format!(
                            "{path}: !GetAtt {s} needs the form Resource.Attribute"
                        )));
                    }
                },
                other => other,
            };
            return Ok(single("Fn::GetAtt", inner));
        }
        "Sub" | "Join" | "If" | "Equals" | "Not" | "And" | "Or" | "Select" | "Split"
        | "FindInMap" | "Base64" | "Cidr" | "ImportValue" | "GetAZs" | "Transform" | "Length"
        | "ToJsonString" => format!("Fn::{tag}"),
        other => {
            return Err(TemplateError::Syntax(format!(
                "{path}: unknown YAML tag !{other}"
            )));
        }
    };
    Ok(single(&key, inner))
}

fn single(key: &str, value: Value) -> Value {
    let mut object = Map::new();
    object.insert(key.to_owned(), value);
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn short_forms_become_long_forms() {
        let doc = parse(
            "A: !Ref Foo\nB: !GetAtt Fn.Arn\nC: !Sub '${X}-y'\nD: !If [Cond, 1, !Ref AWS::NoValue]\n",
        )
        .unwrap();
        assert_eq!(
            doc,
            json!({
                "A": {"Ref": "Foo"},
                "B": {"Fn::GetAtt": ["Fn", "Arn"]},
                "C": {"Fn::Sub": "${X}-y"},
                "D": {"Fn::If": ["Cond", 1, {"Ref": "AWS::NoValue"}]}
            })
        );
    }

    #[test]
    fn unknown_tag_is_an_error() {
        let err = parse("A: !Bogus x\n").unwrap_err();
        assert!(err.to_string().contains("!Bogus"), "{err}");
    }

    #[test]
    fn getatt_without_dot_is_an_error() {
        assert!(parse("A: !GetAtt Foo\n").is_err());
    }
}
