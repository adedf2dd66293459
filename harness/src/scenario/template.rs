//! `${name}` substitution in scenario values: strings anywhere in a JSON
//! message, query values and headers. `$${` escapes a literal `${`. An
//! unknown name is an error that names it.

use std::collections::BTreeMap;

use serde_json::Value;

/// Why a substitution failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum TemplateError {
    /// `${name}` with no such variable.
    #[error("unknown variable ${{{0}}}")]
    Unknown(String),
    /// `${` without `}`.
    #[error("unclosed ${{ in {0:?}")]
    Unclosed(String),
}

/// Variables in scope.
pub(crate) type Vars = BTreeMap<String, String>;

/// Substitutes in a string.
pub(crate) fn render(text: &str, vars: &Vars) -> Result<String, TemplateError> {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(start) = rest.find("${") {
        if start > 0 && rest.as_bytes()[start - 1] == b'$' {
            out.push_str(&rest[..start - 1]);
            out.push_str("${");
            rest = &rest[start + 2..];
            continue;
        }
        out.push_str(&rest[..start]);
        let after = &rest[start + 2..];
        let end = after
            .find('}')
            .ok_or_else(|| TemplateError::Unclosed(text.to_owned()))?;
        let name = &after[..end];
        out.push_str(
            vars.get(name)
                .ok_or_else(|| TemplateError::Unknown(name.to_owned()))?,
        );
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

/// Substitutes in every string of a JSON value (keys included). A string that
/// is exactly one `${name}` whose value parses as JSON number or boolean stays a string:
/// scenarios write typed values literally.
pub(crate) fn render_value(value: &Value, vars: &Vars) -> Result<Value, TemplateError> {
    Ok(match value {
        Value::String(text) => Value::String(render(text, vars)?),
        Value::Array(items) => Value::Array(
            items
                .iter()
                .map(|v| render_value(v, vars))
                .collect::<Result<_, _>>()?,
        ),
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(k, v)| Ok((render(k, vars)?, render_value(v, vars)?)))
                .collect::<Result<_, TemplateError>>()?,
        ),
        other => other.clone(),
    })
}

/// Renders variable definitions that may refer to earlier ones and to built-ins.
pub(crate) fn resolve_definitions(
    definitions: &BTreeMap<String, String>,
    builtins: &Vars,
) -> Result<Vars, TemplateError> {
    let mut vars = builtins.clone();
    let mut pending: Vec<(&String, &String)> = definitions.iter().collect();
    while !pending.is_empty() {
        let before = pending.len();
        let mut still = Vec::new();
        for (name, text) in pending {
            match render(text, &vars) {
                Ok(value) => {
                    vars.insert(name.clone(), value);
                }
                Err(TemplateError::Unknown(missing)) if definitions.contains_key(&missing) => {
                    still.push((name, text))
                }
                Err(other) => return Err(other),
            }
        }
        if still.len() == before {
            return Err(TemplateError::Unknown(still[0].0.clone()));
        }
        pending = still;
    }
    Ok(vars)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn vars() -> Vars {
        [("session", "3"), ("user", "u-3")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect()
    }

    #[test]
    fn substitutes_and_escapes() {
        assert_eq!(
            render("id-${session}-${user}", &vars()).unwrap(),
            "id-3-u-3"
        );
        assert_eq!(render("$${literal}", &vars()).unwrap(), "${literal}");
        assert_eq!(
            render("${nope}", &vars()),
            Err(TemplateError::Unknown("nope".into()))
        );
        assert!(matches!(
            render("${open", &vars()),
            Err(TemplateError::Unclosed(_))
        ));
        let message = json!({"action": "start_speaking", "user_id": "${user}", "n": 1});
        assert_eq!(
            render_value(&message, &vars()).unwrap(),
            json!({"action": "start_speaking", "user_id": "u-3", "n": 1})
        );
    }

    #[test]
    fn definitions_refer_to_each_other() {
        let defs: BTreeMap<String, String> = [("b", "${a}-b"), ("a", "a${session}")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        let resolved = resolve_definitions(&defs, &vars()).unwrap();
        assert_eq!(resolved["b"], "a3-b");
        let cyclic: BTreeMap<String, String> = [("x", "${y}"), ("y", "${x}")]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v.to_owned()))
            .collect();
        assert!(resolve_definitions(&cyclic, &vars()).is_err());
    }
}
