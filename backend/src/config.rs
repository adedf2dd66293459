//! Reading a function's configuration from its environment, the one way
//! every function does: a blank variable counts as unset, required values
//! name the missing variable, and a value with a default falls back to it
//! when unset ([`EnvVars::parsed_or`]) or, where a function refuses to start
//! on a bad value, fails with the variable named ([`EnvVars::parsed`]).

use std::str::FromStr;

/// A configuration problem (the function cannot start).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    /// A required variable is not set.
    #[error("environment variable {0} is required")]
    Missing(String),
    /// A variable does not parse.
    #[error("environment variable {0}={1:?} is not valid")]
    Invalid(String, String),
}

/// A variable's value by name.
type Lookup<'a> = dyn Fn(&str) -> Option<String> + 'a;

/// Environment variables, from the process or any lookup (tests).
pub struct EnvVars<'a> {
    lookup: Box<Lookup<'a>>,
}

impl std::fmt::Debug for EnvVars<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("EnvVars")
    }
}

impl EnvVars<'static> {
    /// The process's environment.
    pub fn process() -> Self {
        Self::from_lookup(|name| std::env::var(name).ok())
    }
}

impl<'a> EnvVars<'a> {
    /// Variables from `lookup`.
    pub fn from_lookup(lookup: impl Fn(&str) -> Option<String> + 'a) -> Self {
        Self {
            lookup: Box::new(lookup),
        }
    }

    /// The value, if set and not blank.
    pub fn optional(&self, name: &str) -> Option<String> {
        (self.lookup)(name).filter(|value| !value.trim().is_empty())
    }

    /// The value, or `default` when unset.
    pub fn text(&self, name: &str, default: &str) -> String {
        self.optional(name).unwrap_or_else(|| default.to_owned())
    }

    /// The value; an error naming the variable when unset.
    pub fn required(&self, name: &str) -> Result<String, ConfigError> {
        self.optional(name)
            .ok_or_else(|| ConfigError::Missing(name.to_owned()))
    }

    /// The parsed value, or `default` when unset or not parseable.
    pub fn parsed_or<T: FromStr>(&self, name: &str, default: T) -> T {
        self.optional(name)
            .and_then(|text| text.trim().parse().ok())
            .unwrap_or(default)
    }

    /// The parsed value, `default` when unset; an error when it does not parse.
    pub fn parsed<T: FromStr>(&self, name: &str, default: T) -> Result<T, ConfigError> {
        match self.optional(name) {
            None => Ok(default),
            Some(text) => text
                .trim()
                .parse()
                .map_err(|_| ConfigError::Invalid(name.to_owned(), text)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn blank_is_unset_and_bad_numbers_fall_back_or_fail() {
        let vars = EnvVars::from_lookup(|name| match name {
            "BLANK" => Some(" ".into()),
            "NUMBER" => Some(" 42".into()),
            "WORD" => Some("many".into()),
            _ => None,
        });
        assert_eq!(vars.optional("BLANK"), None);
        assert_eq!(vars.text("BLANK", "fallback"), "fallback");
        assert_eq!(
            vars.required("UNSET"),
            Err(ConfigError::Missing("UNSET".into()))
        );
        assert_eq!(vars.parsed_or("NUMBER", 7), 42);
        assert_eq!(vars.parsed_or("WORD", 7), 7);
        assert_eq!(vars.parsed("UNSET", 7), Ok(7));
        assert_eq!(
            vars.parsed::<u32>("WORD", 7),
            Err(ConfigError::Invalid("WORD".into(), "many".into()))
        );
    }
}
