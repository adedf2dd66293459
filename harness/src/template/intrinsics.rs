//! Evaluation of CloudFormation intrinsic functions (`Ref`, `Fn::GetAtt`,
//! `Fn::Sub`, `Fn::Join`, `Fn::If`, condition functions, ...) against the
//! local stack's parameter values and physical ids.
//!
//! Everything the local stack needs resolves to plain JSON; what it cannot
//! honour (`Fn::ImportValue`, `Fn::Transform`, `Fn::Cidr`, ...) is an error
//! that names the resource and the construct.

use std::collections::BTreeMap;

use base64::Engine as _;
use serde_json::{Map, Value};

use super::TemplateError;

/// Physical identity of one resource: what `Ref` returns and what each
/// `Fn::GetAtt` attribute returns.
#[derive(Debug, Clone, Default)]
pub(crate) struct ResourceIds {
    /// The value of `Ref` on the resource.
    pub reference: String,
    /// Attribute values by name (`Arn`, `ApiEndpoint`, ...).
    pub attributes: BTreeMap<String, String>,
}

/// Everything intrinsic functions can refer to.
#[derive(Debug, Clone, Default)]
pub(crate) struct Scope {
    /// Parameter values after defaults and overrides (strings, or arrays for list types).
    pub parameters: BTreeMap<String, Value>,
    /// Pseudo parameters (`AWS::Region`, `AWS::AccountId`, ...).
    pub pseudo: BTreeMap<String, Value>,
    /// Evaluated conditions.
    pub conditions: BTreeMap<String, bool>,
    /// The template's `Mappings` section.
    pub mappings: Map<String, Value>,
    /// Resource ids by logical id (only resources whose condition holds).
    pub resources: BTreeMap<String, ResourceIds>,
}

/// Where a value sits, for error messages: the resource (or section) and the property.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Site<'a> {
    /// Logical id of the resource, or the section name (`Conditions`, `Outputs`).
    pub resource: &'a str,
    /// Property path inside it.
    pub property: &'a str,
}

impl Site<'_> {
    fn unsupported(&self, construct: &str) -> TemplateError {
        TemplateError::Unsupported {
            resource: self.resource.to_owned(),
            construct: format!("{construct} (in {})", self.property),
        }
    }

    fn invalid(&self, message: impl Into<String>) -> TemplateError {
        TemplateError::Invalid {
            resource: self.resource.to_owned(),
            message: format!("{}: {}", self.property, message.into()),
        }
    }
}

impl Scope {
    /// Resolves every intrinsic function in `value`. `None` means the value is
    /// `AWS::NoValue` and the property must be dropped.
    pub(crate) fn resolve(
        &self,
        value: &Value,
        site: Site<'_>,
    ) -> Result<Option<Value>, TemplateError> {
        match value {
            Value::Array(items) => {
                let mut out = Vec::with_capacity(items.len());
                for item in items {
                    if let Some(resolved) = self.resolve(item, site)? {
                        out.push(resolved);
                    }
                }
                Ok(Some(Value::Array(out)))
            }
            Value::Object(object) if object.len() == 1 => {
                let (key, argument) = object.iter().next().expect("one entry");
                if key == "Ref" || key.starts_with("Fn::") {
                    self.function(key, argument, site)
                } else {
                    self.resolve_object(object, site)
                }
            }
            Value::Object(object) => self.resolve_object(object, site),
            other => Ok(Some(other.clone())),
        }
    }

    /// Resolves a value that must be present (not `AWS::NoValue`).
    pub(crate) fn resolve_required(
        &self,
        value: &Value,
        site: Site<'_>,
    ) -> Result<Value, TemplateError> {
        self.resolve(value, site)?
            .ok_or_else(|| site.invalid("AWS::NoValue where a value is required"))
    }

    /// Resolves a value and renders it as a string (numbers and booleans stringified).
    pub(crate) fn resolve_string(
        &self,
        value: &Value,
        site: Site<'_>,
    ) -> Result<String, TemplateError> {
        let resolved = self.resolve_required(value, site)?;
        scalar_string(&resolved)
            .ok_or_else(|| site.invalid(format!("expected a string, got {resolved}")))
    }

    fn resolve_object(
        &self,
        object: &Map<String, Value>,
        site: Site<'_>,
    ) -> Result<Option<Value>, TemplateError> {
        let mut out = Map::new();
        for (key, value) in object {
            if let Some(resolved) = self.resolve(value, site)? {
                out.insert(key.clone(), resolved);
            }
        }
        Ok(Some(Value::Object(out)))
    }

    fn function(
        &self,
        name: &str,
        argument: &Value,
        site: Site<'_>,
    ) -> Result<Option<Value>, TemplateError> {
        match name {
            "Ref" => self.reference(argument, site),
            "Fn::GetAtt" => self.get_att(argument, site).map(Some),
            "Fn::Sub" => self.sub(argument, site).map(|s| Some(Value::String(s))),
            "Fn::Join" => self.join(argument, site).map(|s| Some(Value::String(s))),
            "Fn::If" => self.if_(argument, site),
            "Fn::Select" => self.select(argument, site).map(Some),
            "Fn::Split" => self.split(argument, site).map(Some),
            "Fn::FindInMap" => self.find_in_map(argument, site).map(Some),
            "Fn::Base64" => {
                let text = self.resolve_string(argument, site)?;
                Ok(Some(Value::String(
                    base64::engine::general_purpose::STANDARD.encode(text),
                )))
            }
            "Fn::GetAZs" => {
                let region = self.pseudo_string("AWS::Region");
                Ok(Some(Value::Array(
                    ["a", "b", "c"]
                        .iter()
                        .map(|z| Value::String(format!("{region}{z}")))
                        .collect(),
                )))
            }
            "Fn::Equals" | "Fn::Not" | "Fn::And" | "Fn::Or" => self
                .condition_value(&single(name, argument), site)
                .map(|b| Some(Value::Bool(b))),
            other => Err(site.unsupported(other)),
        }
    }

    fn pseudo_string(&self, name: &str) -> String {
        self.pseudo
            .get(name)
            .and_then(scalar_string)
            .unwrap_or_default()
    }

    fn reference(&self, argument: &Value, site: Site<'_>) -> Result<Option<Value>, TemplateError> {
        let Value::String(name) = argument else {
            return Err(site.invalid(format!("Ref takes a name, got {argument}")));
        };
        if name == "AWS::NoValue" {
            return Ok(None);
        }
        if let Some(value) = self.pseudo.get(name) {
            return Ok(Some(value.clone()));
        }
        if name.starts_with("AWS::") {
            return Err(site.unsupported(&format!("pseudo parameter {name}")));
        }
        if let Some(value) = self.parameters.get(name) {
            return Ok(Some(value.clone()));
        }
        if let Some(ids) = self.resources.get(name) {
            return Ok(Some(Value::String(ids.reference.clone())));
        }
        Err(TemplateError::UnknownReference {
            resource: site.resource.to_owned(),
            name: name.clone(),
        })
    }

    fn get_att(&self, argument: &Value, site: Site<'_>) -> Result<Value, TemplateError> {
        let parts = match argument {
            Value::Array(parts) if parts.len() == 2 => parts,
            _ => {
                return Err(site.invalid(format!(
                    "Fn::GetAtt takes [Resource, Attribute], got {argument}"
                )));
            }
        };
        let resource = self.resolve_string(&parts[0], site)?;
        let attribute = self.resolve_string(&parts[1], site)?;
        self.attribute(&resource, &attribute, site)
            .map(Value::String)
    }

    fn attribute(
        &self,
        resource: &str,
        attribute: &str,
        site: Site<'_>,
    ) -> Result<String, TemplateError> {
        let ids = self
            .resources
            .get(resource)
            .ok_or_else(|| TemplateError::UnknownReference {
                resource: site.resource.to_owned(),
                name: resource.to_owned(),
            })?;
        ids.attributes.get(attribute).cloned().ok_or_else(|| {
            site.unsupported(&format!(
                "Fn::GetAtt {resource}.{attribute} (attribute not modelled locally)"
            ))
        })
    }

    fn sub(&self, argument: &Value, site: Site<'_>) -> Result<String, TemplateError> {
        let (template, variables) = match argument {
            Value::String(s) => (s.as_str(), Map::new()),
            Value::Array(parts) if parts.len() == 2 => {
                let Value::String(s) = &parts[0] else {
                    return Err(site.invalid("Fn::Sub's first element must be a string"));
                };
                let Some(Value::Object(vars)) = self.resolve(&parts[1], site)? else {
                    return Err(site.invalid("Fn::Sub's second element must be a map"));
                };
                (s.as_str(), vars)
            }
            other => {
                return Err(site.invalid(format!(
                    "Fn::Sub takes a string or [string, map], got {other}"
                )));
            }
        };
        let mut out = String::with_capacity(template.len());
        let mut rest = template;
        while let Some(start) = rest.find("${") {
            out.push_str(&rest[..start]);
            let after = &rest[start + 2..];
            let end = after
                .find('}')
                .ok_or_else(|| site.invalid(format!("unclosed ${{ in {template:?}")))?;
            let name = &after[..end];
            if let Some(literal) = name.strip_prefix('!') {
                out.push_str("${");
                out.push_str(literal);
                out.push('}');
            } else if let Some(value) = variables.get(name) {
                out.push_str(
                    &scalar_string(value)
                        .ok_or_else(|| site.invalid(format!("${{{name}}} is not a scalar")))?,
                );
            } else if let Some((resource, attribute)) = name.split_once('.') {
                out.push_str(&self.attribute(resource, attribute, site)?);
            } else {
                let value = self
                    .reference(&Value::String(name.to_owned()), site)?
                    .unwrap_or_default();
                out.push_str(
                    &scalar_string(&value)
                        .ok_or_else(|| site.invalid(format!("${{{name}}} is not a scalar")))?,
                );
            }
            rest = &after[end + 1..];
        }
        out.push_str(rest);
        Ok(out)
    }

    fn join(&self, argument: &Value, site: Site<'_>) -> Result<String, TemplateError> {
        let Value::Array(parts) = argument else {
            return Err(site.invalid("Fn::Join takes [delimiter, [values]]"));
        };
        let [delimiter, values] = parts.as_slice() else {
            return Err(site.invalid("Fn::Join takes [delimiter, [values]]"));
        };
        let delimiter = self.resolve_string(delimiter, site)?;
        let Some(Value::Array(values)) = self.resolve(values, site)? else {
            return Err(site.invalid("Fn::Join's second element must be a list"));
        };
        let strings = values
            .iter()
            .map(|v| {
                scalar_string(v)
                    .ok_or_else(|| site.invalid(format!("Fn::Join value {v} is not a scalar")))
            })
            .collect::<Result<Vec<_>, _>>()?;
        Ok(strings.join(&delimiter))
    }

    fn if_(&self, argument: &Value, site: Site<'_>) -> Result<Option<Value>, TemplateError> {
        let Value::Array(parts) = argument else {
            return Err(site.invalid("Fn::If takes [condition, then, else]"));
        };
        let [condition, then, otherwise] = parts.as_slice() else {
            return Err(site.invalid("Fn::If takes [condition, then, else]"));
        };
        let Value::String(condition) = condition else {
            return Err(site.invalid("Fn::If's condition must be a condition name"));
        };
        let holds =
            *self
                .conditions
                .get(condition)
                .ok_or_else(|| TemplateError::UnknownReference {
                    resource: site.resource.to_owned(),
                    name: condition.clone(),
                })?;
        self.resolve(if holds { then } else { otherwise }, site)
    }

    fn select(&self, argument: &Value, site: Site<'_>) -> Result<Value, TemplateError> {
        let Value::Array(parts) = argument else {
            return Err(site.invalid("Fn::Select takes [index, list]"));
        };
        let [index, list] = parts.as_slice() else {
            return Err(site.invalid("Fn::Select takes [index, list]"));
        };
        let index: usize = self
            .resolve_string(index, site)?
            .parse()
            .map_err(|_| site.invalid("Fn::Select index is not a number"))?;
        let Some(Value::Array(list)) = self.resolve(list, site)? else {
            return Err(site.invalid("Fn::Select's second element must be a list"));
        };
        list.get(index)
            .cloned()
            .ok_or_else(|| site.invalid(format!("Fn::Select index {index} out of range")))
    }

    fn split(&self, argument: &Value, site: Site<'_>) -> Result<Value, TemplateError> {
        let Value::Array(parts) = argument else {
            return Err(site.invalid("Fn::Split takes [delimiter, string]"));
        };
        let [delimiter, text] = parts.as_slice() else {
            return Err(site.invalid("Fn::Split takes [delimiter, string]"));
        };
        let delimiter = self.resolve_string(delimiter, site)?;
        let text = self.resolve_string(text, site)?;
        Ok(Value::Array(
            text.split(delimiter.as_str())
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ))
    }

    fn find_in_map(&self, argument: &Value, site: Site<'_>) -> Result<Value, TemplateError> {
        let Value::Array(parts) = argument else {
            return Err(site.invalid("Fn::FindInMap takes [map, top key, second key]"));
        };
        let keys = parts
            .iter()
            .map(|p| self.resolve_string(p, site))
            .collect::<Result<Vec<_>, _>>()?;
        let [map, top, second] = keys.as_slice() else {
            return Err(site.invalid("Fn::FindInMap takes [map, top key, second key]"));
        };
        self.mappings
            .get(map)
            .and_then(|m| m.get(top))
            .and_then(|m| m.get(second))
            .cloned()
            .ok_or_else(|| site.invalid(format!("Fn::FindInMap: no {map}.{top}.{second}")))
    }

    /// Evaluates a condition expression (`Fn::Equals`, `Fn::Not`, `Fn::And`,
    /// `Fn::Or`, `{"Condition": name}`).
    pub(crate) fn condition_value(
        &self,
        value: &Value,
        site: Site<'_>,
    ) -> Result<bool, TemplateError> {
        let Value::Object(object) = value else {
            return match value {
                Value::Bool(b) => Ok(*b),
                Value::String(s) if s == "true" || s == "false" => Ok(s == "true"),
                other => Err(site.invalid(format!("{other} is not a condition"))),
            };
        };
        let Some((name, argument)) = object.iter().next().filter(|_| object.len() == 1) else {
            return Err(site.invalid("a condition is a single condition function"));
        };
        let list = |min: usize, max: usize| -> Result<&Vec<Value>, TemplateError> {
            match argument {
                Value::Array(items) if (min..=max).contains(&items.len()) => Ok(items),
                _ => Err(site.invalid(format!("{name} takes {min} to {max} arguments"))),
            }
        };
        match name.as_str() {
            "Condition" => {
                let Value::String(other) = argument else {
                    return Err(site.invalid("Condition takes a condition name"));
                };
                self.conditions
                    .get(other)
                    .copied()
                    .ok_or_else(|| TemplateError::UnknownReference {
                        resource: site.resource.to_owned(),
                        name: other.clone(),
                    })
            }
            "Fn::Equals" => {
                let items = list(2, 2)?;
                let left = self.resolve_required(&items[0], site)?;
                let right = self.resolve_required(&items[1], site)?;
                Ok(scalar_string(&left).unwrap_or_else(|| left.to_string())
                    == scalar_string(&right).unwrap_or_else(|| right.to_string()))
            }
            "Fn::Not" => Ok(!self.condition_value(&list(1, 1)?[0], site)?),
            "Fn::And" => {
                for item in list(2, 10)? {
                    if !self.condition_value(item, site)? {
                        return Ok(false);
                    }
                }
                Ok(true)
            }
            "Fn::Or" => {
                for item in list(2, 10)? {
                    if self.condition_value(item, site)? {
                        return Ok(true);
                    }
                }
                Ok(false)
            }
            other => Err(site.unsupported(&format!("{other} in a condition"))),
        }
    }
}

/// Renders a scalar JSON value as CloudFormation would stringify it.
pub(crate) fn scalar_string(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        Value::Bool(b) => Some(b.to_string()),
        _ => None,
    }
}

fn single(key: &str, value: &Value) -> Value {
    let mut object = Map::new();
    object.insert(key.to_owned(), value.clone());
    Value::Object(object)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn scope() -> Scope {
        let mut scope = Scope::default();
        scope.parameters.insert("Stage".into(), json!("production"));
        scope
            .pseudo
            .insert("AWS::Region".into(), json!("us-east-1"));
        scope
            .pseudo
            .insert("AWS::AccountId".into(), json!("000000000000"));
        scope.conditions.insert("IsProd".into(), true);
        let mut ids = ResourceIds {
            reference: "abc123".into(),
            ..Default::default()
        };
        ids.attributes
            .insert("ApiEndpoint".into(), "wss://abc123.example".into());
        scope.resources.insert("Api".into(), ids);
        scope
    }

    const SITE: Site<'static> = Site {
        resource: "R",
        property: "P",
    };

    #[test]
    fn sub_substitutes_refs_attributes_and_escapes() {
        let value = json!({"Fn::Sub": "${Api.ApiEndpoint}/${Stage}/${AWS::Region}/${!Literal}"});
        assert_eq!(
            scope().resolve(&value, SITE).unwrap().unwrap(),
            json!("wss://abc123.example/production/us-east-1/${Literal}")
        );
    }

    #[test]
    fn sub_with_variable_map() {
        let value = json!({"Fn::Sub": ["${A}-${Stage}", {"A": {"Ref": "Api"}}]});
        assert_eq!(
            scope().resolve(&value, SITE).unwrap().unwrap(),
            json!("abc123-production")
        );
    }

    #[test]
    fn join_if_and_novalue() {
        let value = json!({
            "x": {"Fn::Join": ["-", ["a", {"Ref": "Stage"}, 3]]},
            "y": {"Fn::If": ["IsProd", {"Ref": "AWS::NoValue"}, "dev"]},
            "z": [1, {"Ref": "AWS::NoValue"}, 2]
        });
        assert_eq!(
            scope().resolve(&value, SITE).unwrap().unwrap(),
            json!({"x": "a-production-3", "z": [1, 2]})
        );
    }

    #[test]
    fn unsupported_construct_names_resource_and_construct() {
        let err = scope()
            .resolve(&json!({"Fn::ImportValue": "Other"}), SITE)
            .unwrap_err();
        let text = err.to_string();
        assert!(
            text.contains("R") && text.contains("Fn::ImportValue"),
            "{text}"
        );
    }

    #[test]
    fn unknown_reference_is_named() {
        let err = scope()
            .resolve(&json!({"Ref": "Missing"}), SITE)
            .unwrap_err();
        assert!(err.to_string().contains("Missing"));
    }

    #[test]
    fn conditions_evaluate() {
        let s = scope();
        let c = json!({"Fn::And": [{"Fn::Equals": [{"Ref": "Stage"}, "production"]}, {"Fn::Not": [{"Condition": "IsProd"}]}]});
        assert!(!s.condition_value(&c, SITE).unwrap());
        let c = json!({"Fn::Or": [{"Fn::Equals": ["a", "b"]}, {"Condition": "IsProd"}]});
        assert!(s.condition_value(&c, SITE).unwrap());
    }
}
