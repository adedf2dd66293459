//! What a handler reads from a request, with precise errors: the JSON body
//! (size limit, media type, syntax, shape and types through
//! `serde_path_to_error`, so a wrong type names its field), query
//! parameters, the bearer token, and field validation helpers.

use http::HeaderMap;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Deserializer};
use serde_json::Value;

use super::problem::{ApiError, ApiResult, FieldError};

/// The largest JSON body a route accepts unless it says otherwise (64 KiB).
pub const MAX_JSON_BODY: usize = 64 * 1024;

/// One request, independent of how it arrived (API Gateway event, test).
#[derive(Debug, Clone, Default)]
pub struct ApiRequest {
    /// Method, upper case.
    pub method: String,
    /// Path without the stage (`/api/health`).
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body bytes.
    pub body: Vec<u8>,
    /// The API's base URL as the client called it (`https://{domain}/{stage}`).
    pub base_url: String,
}

fn media_type(value: &str) -> String {
    value
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase()
}

/// Makes serde's message about a field readable: (field path, message).
fn field_error(path: &str, message: &str) -> FieldError {
    let join = |name: &str| {
        if path.is_empty() || path == "." {
            name.to_owned()
        } else {
            format!("{path}.{name}")
        }
    };
    let quoted = |rest: &str| rest.split('`').nth(1).unwrap_or_default().to_owned();
    if let Some(rest) = message.strip_prefix("missing field ") {
        return FieldError::new(join(&quoted(rest)), "is required");
    }
    if let Some(rest) = message.strip_prefix("unknown field ") {
        let name = quoted(rest);
        // The path already ends at the unknown field.
        let field = if path.rsplit('.').next() == Some(name.as_str()) {
            path.to_owned()
        } else {
            join(&name)
        };
        return FieldError::new(field, "is not an allowed field");
    }
    let field = if path.is_empty() || path == "." {
        "body".to_owned()
    } else {
        path.to_owned()
    };
    let message = message
        .split(" at line ")
        .next()
        .unwrap_or(message)
        .to_owned();
    FieldError::new(field, message)
}

impl ApiRequest {
    /// A header's value.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The token of `Authorization: Bearer <token>`.
    pub fn bearer_token(&self) -> Option<&str> {
        let value = self.header("authorization")?;
        let (scheme, token) = value.split_once(' ')?;
        let token = token.trim();
        (scheme.eq_ignore_ascii_case("bearer") && !token.is_empty()).then_some(token)
    }

    /// The last value of a query parameter.
    pub fn query_value(&self, name: &str) -> Option<&str> {
        self.query
            .iter()
            .rev()
            .find(|(key, _)| key == name)
            .map(|(_, value)| value.as_str())
    }

    /// `limit` as a page size from 1 to `max` (default `default`).
    pub fn page_size(&self, default: i32, max: i32) -> ApiResult<i32> {
        match self.query_value("limit") {
            None => Ok(default),
            Some(text) => match text.parse::<i32>() {
                Ok(n) if (1..=max).contains(&n) => Ok(n),
                _ => Err(ApiError::field(
                    "limit",
                    format!("must be a whole number from 1 to {max}"),
                )),
            },
        }
    }

    /// The body as JSON of type `T` (at most `limit` bytes).
    pub fn json<T: DeserializeOwned>(&self, limit: usize) -> ApiResult<T> {
        if self.body.len() > limit {
            return Err(ApiError::PayloadTooLarge { limit });
        }
        if self.body.iter().all(u8::is_ascii_whitespace) {
            return Err(ApiError::field("body", "a JSON object is required"));
        }
        let json_type = self
            .header("content-type")
            .map(media_type)
            .is_some_and(|t| {
                t == "application/json" || (t.starts_with("application/") && t.ends_with("+json"))
            });
        if !json_type {
            return Err(ApiError::UnsupportedMediaType);
        }
        let value: Value = serde_json::from_slice(&self.body)
            .map_err(|e| ApiError::MalformedJson(e.to_string()))?;
        if !value.is_object() {
            return Err(ApiError::field("body", "must be a JSON object"));
        }
        serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            ApiError::fields(vec![field_error(&path, &e.inner().to_string())])
        })
    }
}

/// For optional body fields (`#[serde(default, deserialize_with = "present")]`):
/// an absent field is `None`, and `null` is refused like any other wrong type,
/// as the contract documents these fields as strings, not nullable.
pub fn present<'de, D, T>(deserializer: D) -> Result<Option<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    T::deserialize(deserializer).map(Some)
}

/// Collects field errors and fails with all of them at once.
#[derive(Debug, Default)]
pub struct Checks {
    errors: Vec<FieldError>,
}

/// Whether `text` looks like an e-mail address (one `@`, a dotted domain, no spaces).
pub fn is_email(text: &str) -> bool {
    let Some((local, domain)) = text.split_once('@') else {
        return false;
    };
    (3..=254).contains(&text.len())
        && !local.is_empty()
        && local.len() <= 64
        && !domain.contains('@')
        && domain.contains('.')
        && !domain.starts_with('.')
        && !domain.ends_with('.')
        && !text.chars().any(|c| c.is_whitespace() || c.is_control())
}

impl Checks {
    /// Records an error.
    pub fn fail(&mut self, field: &str, message: impl Into<String>) {
        self.errors.push(FieldError::new(field, message));
    }

    /// Text of `min..=max` characters that is not blank.
    pub fn text(&mut self, field: &str, value: &str, min: usize, max: usize) {
        let count = value.chars().count();
        if value.trim().is_empty() && min > 0 {
            self.fail(field, "must not be blank");
        } else if count < min || count > max {
            self.fail(field, format!("must be {min} to {max} characters"));
        } else if value
            .chars()
            .any(|c| c.is_control() && !matches!(c, '\n' | '\r' | '\t'))
        {
            self.fail(field, "must not contain control characters");
        }
    }

    /// An e-mail address.
    pub fn email(&mut self, field: &str, value: &str) {
        if !is_email(value) {
            self.fail(field, "must be an e-mail address");
        }
    }

    /// A password bcrypt can hash whole: 8 to 72 bytes.
    pub fn password(&mut self, field: &str, value: &str) {
        if value.chars().count() < 8 {
            self.fail(field, "must be at least 8 characters");
        } else if value.len() > 72 {
            self.fail(field, "must be at most 72 bytes");
        }
    }

    /// Fails with every recorded error.
    pub fn finish(self) -> ApiResult<()> {
        if self.errors.is_empty() {
            Ok(())
        } else {
            Err(ApiError::fields(self.errors))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde::Deserialize;

    #[derive(Debug, Deserialize)]
    #[serde(deny_unknown_fields)]
    #[allow(dead_code)]
    struct Login {
        email: String,
        password: String,
        nested: Option<Nested>,
    }

    #[derive(Debug, Deserialize)]
    #[allow(dead_code)]
    struct Nested {
        n: u8,
    }

    fn request(content_type: Option<&str>, body: &str) -> ApiRequest {
        let mut headers = HeaderMap::new();
        if let Some(t) = content_type {
            headers.insert("content-type", t.parse().unwrap());
        }
        ApiRequest {
            headers,
            body: body.as_bytes().to_vec(),
            ..ApiRequest::default()
        }
    }

    fn error_of(content_type: Option<&str>, body: &str) -> ApiError {
        request(content_type, body).json::<Login>(100).unwrap_err()
    }

    #[test]
    fn each_kind_of_bad_body_gets_its_error() {
        const JSON: Option<&str> = Some("application/json; charset=utf-8");
        assert!(matches!(
            error_of(JSON, "{\"email\":"),
            ApiError::MalformedJson(_)
        ));
        assert!(matches!(
            error_of(Some("text/plain"), "{}"),
            ApiError::UnsupportedMediaType
        ));
        assert!(matches!(
            error_of(None, "{}"),
            ApiError::UnsupportedMediaType
        ));
        assert!(matches!(
            error_of(JSON, &" ".repeat(101)),
            ApiError::PayloadTooLarge { limit: 100 }
        ));
        let field = |body: &str| match error_of(JSON, body) {
            ApiError::Validation { errors, .. } => {
                (errors[0].field.clone(), errors[0].message.clone())
            }
            other => panic!("{other:?}"),
        };
        assert_eq!(
            field(""),
            ("body".into(), "a JSON object is required".into())
        );
        assert_eq!(
            field("[1]"),
            ("body".into(), "must be a JSON object".into())
        );
        assert_eq!(
            field("{\"password\":\"x\"}"),
            ("email".into(), "is required".into())
        );
        assert_eq!(
            field("{\"email\":5,\"password\":\"x\"}"),
            (
                "email".into(),
                "invalid type: integer `5`, expected a string".into()
            )
        );
        assert_eq!(
            field("{\"email\":\"a\",\"password\":\"x\",\"admin\":true}").0,
            "admin"
        );
        assert_eq!(
            field("{\"email\":\"a\",\"password\":\"x\",\"nested\":{\"n\":300}}").0,
            "nested.n"
        );
        assert!(
            request(JSON, "{\"email\":\"a\",\"password\":\"b\"}")
                .json::<Login>(100)
                .is_ok()
        );
    }

    #[test]
    fn checks_collect_every_error() {
        let mut checks = Checks::default();
        checks.email("email", "not-an-address");
        checks.password("password", "short");
        checks.text("name", "   ", 1, 10);
        match checks.finish() {
            Err(ApiError::Validation { errors, .. }) => assert_eq!(errors.len(), 3),
            other => panic!("{other:?}"),
        }
        assert!(is_email("candidate@example.com"));
        for bad in [
            "a@b",
            "@example.com",
            "a b@example.com",
            "a@@example.com",
            "a@example.",
        ] {
            assert!(!is_email(bad), "{bad}");
        }
    }

    #[test]
    fn bearer_and_query() {
        let mut request = request(None, "");
        request
            .headers
            .insert("authorization", "bearer abc".parse().unwrap());
        request.query = vec![("limit".into(), "5".into()), ("limit".into(), "0".into())];
        assert_eq!(request.bearer_token(), Some("abc"));
        assert!(request.page_size(20, 100).is_err());
        request.query.pop();
        assert_eq!(request.page_size(20, 100).unwrap(), 5);
        request
            .headers
            .insert("authorization", "Basic abc".parse().unwrap());
        assert_eq!(request.bearer_token(), None);
    }

    proptest! {
        #[test]
        fn arbitrary_bodies_never_panic(body in proptest::collection::vec(any::<u8>(), 0..200)) {
            let request = ApiRequest {
                headers: [(http::header::CONTENT_TYPE, "application/json".parse().unwrap())].into_iter().collect(),
                body,
                ..ApiRequest::default()
            };
            let _ = request.json::<Login>(150);
        }
    }
}
