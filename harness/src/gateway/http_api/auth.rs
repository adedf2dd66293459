//! HTTP API authorizers, as API Gateway applies them before the integration:
//!
//! - **JWT**: the token from the identity source (an optional `Bearer `
//!   prefix is dropped), signed with RS256/RS384/RS512 by a key of the JWKS,
//!   with `iss` equal to the issuer, `aud` or `client_id` one of the
//!   audiences, an `exp` not past (`nbf` and `iat` checked when present), and
//!   one of the route's `AuthorizationScopes` in `scope`/`scp` when it names
//!   any. A missing or invalid token: 401 with `www-authenticate` naming the
//!   fault; a valid one without the scope: 403. The claims (values as
//!   strings) and scopes go to `requestContext.authorizer.jwt`. Locally every
//!   JWT authorizer reads the identity mock's JWKS (fetched, cached, fetched
//!   again for an unknown `kid`).
//! - **Lambda** (REQUEST): every identity source must be present, or 401
//!   without a call; a simple response `{"isAuthorized", "context"}` or an
//!   IAM policy decides; an answer of neither shape is a 500. The context
//!   goes to `requestContext.authorizer.lambda` (format 2.0).

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation};
use serde_json::{Map, Value, json};
use tokio::sync::Mutex;

use crate::gateway::policy::{Decision, MAX_AUTHORIZER_RESPONSE, evaluate};

/// What an authorizer decided.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Verdict {
    /// Allowed: the value for `requestContext.authorizer`.
    Allow(Value),
    /// 401, with the `www-authenticate` value (JWT) or none (Lambda).
    Unauthorized(Option<String>),
    /// 403.
    Forbidden,
    /// 500: the authorizer failed or answered in no known shape.
    Failed(String),
}

/// The keys JWT authorizers check signatures with.
#[derive(Debug)]
pub(crate) struct JwtKeys {
    jwks_url: Option<String>,
    client: reqwest::Client,
    cached: Mutex<Option<JwkSet>>,
}

impl JwtKeys {
    /// Keys from a JWKS document at `jwks_url` (none: every token is refused).
    pub(crate) fn new(jwks_url: Option<String>) -> Self {
        Self {
            jwks_url,
            client: reqwest::Client::new(),
            cached: Mutex::new(None),
        }
    }

    async fn fetch(&self) -> Result<JwkSet, String> {
        let url = self
            .jwks_url
            .as_deref()
            .ok_or("no JWKS is configured for JWT authorizers")?;
        let response = self
            .client
            .get(url)
            .send()
            .await
            .map_err(|e| format!("JWKS {url}: {e}"))?;
        if !response.status().is_success() {
            return Err(format!("JWKS {url} answered {}", response.status()));
        }
        response
            .json::<JwkSet>()
            .await
            .map_err(|e| format!("JWKS {url} is not a JWK set: {e}"))
    }

    /// Keys already known (tests), with no JWKS to fetch more from.
    #[cfg(test)]
    fn known(set: JwkSet) -> Self {
        let keys = Self::new(None);
        *keys.cached.try_lock().expect("new") = Some(set);
        keys
    }

    /// The key with this `kid` (the JWKS is fetched again when it lacks it).
    async fn key(&self, kid: &str) -> Result<DecodingKey, String> {
        let mut cached = self.cached.lock().await;
        let known = cached.as_ref().and_then(|set| set.find(kid)).cloned();
        let jwk = match known {
            Some(jwk) => jwk,
            None => {
                let set = self.fetch().await?;
                let jwk = set.find(kid).cloned();
                *cached = Some(set);
                jwk.ok_or_else(|| format!("no key {kid:?} in the issuer's JWKS"))?
            }
        };
        DecodingKey::from_jwk(&jwk).map_err(|e| format!("key {kid:?}: {e}"))
    }
}

fn claim_text(value: &Value) -> String {
    match value {
        Value::String(text) => text.clone(),
        other => other.to_string(),
    }
}

fn token_scopes(claims: &Map<String, Value>) -> Vec<String> {
    match claims.get("scope").or_else(|| claims.get("scp")) {
        Some(Value::String(text)) => text.split_whitespace().map(str::to_owned).collect(),
        Some(Value::Array(items)) => items.iter().map(claim_text).collect(),
        _ => Vec::new(),
    }
}

fn invalid_token(description: &str) -> Verdict {
    let description = description.replace('"', "'");
    Verdict::Unauthorized(Some(format!(
        "Bearer error=\"invalid_token\" error_description=\"{description}\""
    )))
}

/// Checks a JWT for an authorizer and a route.
pub(crate) async fn check_jwt(
    keys: &JwtKeys,
    token: Option<&str>,
    issuer: &str,
    audience: &[String],
    route_scopes: &[String],
) -> Verdict {
    let Some(token) = token.map(str::trim).filter(|t| !t.is_empty()) else {
        return Verdict::Unauthorized(Some("Bearer".to_owned()));
    };
    let token = match token.get(..7) {
        Some(prefix) if prefix.eq_ignore_ascii_case("bearer ") => token[7..].trim(),
        _ => token,
    };
    let header = match jsonwebtoken::decode_header(token) {
        Ok(header) => header,
        Err(e) => return invalid_token(&format!("the token is not a JWT: {e}")),
    };
    if !matches!(
        header.alg,
        Algorithm::RS256 | Algorithm::RS384 | Algorithm::RS512
    ) {
        return invalid_token(&format!(
            "signing algorithm {:?} is not supported (RS256, RS384, RS512)",
            header.alg
        ));
    }
    let Some(kid) = header.kid.as_deref() else {
        return invalid_token("the token has no kid");
    };
    let key = match keys.key(kid).await {
        Ok(key) => key,
        Err(e) => return invalid_token(&e),
    };
    let mut validation = Validation::new(header.alg);
    validation.set_issuer(&[issuer]);
    validation.validate_aud = false;
    validation.validate_nbf = true;
    validation.leeway = 0;
    validation.set_required_spec_claims(&["exp", "iss"]);
    let claims = match jsonwebtoken::decode::<Map<String, Value>>(token, &key, &validation) {
        Ok(data) => data.claims,
        Err(e) => return invalid_token(&format!("{e}")),
    };
    let audiences: Vec<String> = match claims.get("aud") {
        Some(Value::Array(items)) => items.iter().map(claim_text).collect(),
        Some(value) => vec![claim_text(value)],
        None => Vec::new(),
    };
    let client_id = claims.get("client_id").map(claim_text);
    let audience_ok = audiences
        .iter()
        .chain(client_id.iter())
        .any(|a| audience.contains(a));
    if !audience_ok {
        return invalid_token("neither aud nor client_id is an audience of the authorizer");
    }
    let scopes = token_scopes(&claims);
    if !route_scopes.is_empty() && !scopes.iter().any(|s| route_scopes.contains(s)) {
        return Verdict::Forbidden;
    }
    let claims: Map<String, Value> = claims
        .iter()
        .map(|(name, value)| (name.clone(), Value::String(claim_text(value))))
        .collect();
    let scopes = if scopes.is_empty() {
        Value::Null
    } else {
        json!(scopes)
    };
    Verdict::Allow(json!({"jwt": {"claims": claims, "scopes": scopes}}))
}

/// Reads a Lambda authorizer's answer: a simple response, or an IAM policy
/// for `route_arn`. `v2` places the context under `lambda`, as format 2.0 does.
pub(crate) fn lambda_verdict(body: &[u8], simple: bool, route_arn: &str, v2: bool) -> Verdict {
    if !simple {
        return match evaluate(body, route_arn) {
            Decision::Allow(context) if v2 => Verdict::Allow(json!({"lambda": context})),
            Decision::Allow(context) => Verdict::Allow(Value::Object(context)),
            Decision::Deny => Verdict::Forbidden,
            Decision::Invalid(fault) => Verdict::Failed(fault),
        };
    }
    if body.len() > MAX_AUTHORIZER_RESPONSE {
        return Verdict::Failed(format!(
            "authorizer response of {} bytes exceeds 8 KB",
            body.len()
        ));
    }
    let Ok(Value::Object(answer)) = serde_json::from_slice::<Value>(body) else {
        return Verdict::Failed("the authorizer's simple response is not a JSON object".into());
    };
    match answer.get("isAuthorized") {
        Some(Value::Bool(true)) => {
            let context = match answer.get("context") {
                None | Some(Value::Null) => Map::new(),
                Some(Value::Object(context)) => context.clone(),
                Some(other) => {
                    return Verdict::Failed(format!(
                        "the authorizer's context is {other}, not an object"
                    ));
                }
            };
            Verdict::Allow(json!({"lambda": context}))
        }
        Some(Value::Bool(false)) => Verdict::Forbidden,
        other => Verdict::Failed(format!(
            "the authorizer's simple response has isAuthorized {}, not a boolean",
            other.map_or("missing".to_owned(), Value::to_string)
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simple_responses_allow_deny_or_fail() {
        let arn = "arn:aws:execute-api:us-east-1:1:api/$default/GET/x";
        assert_eq!(
            lambda_verdict(
                br#"{"isAuthorized":true,"context":{"user":"alice"}}"#,
                true,
                arn,
                true
            ),
            Verdict::Allow(json!({"lambda": {"user": "alice"}}))
        );
        assert_eq!(
            lambda_verdict(br#"{"isAuthorized":false}"#, true, arn, true),
            Verdict::Forbidden
        );
        for bad in [&br#"{"isAuthorized":"yes"}"#[..], b"[]", b"{}"] {
            assert!(
                matches!(lambda_verdict(bad, true, arn, true), Verdict::Failed(_)),
                "{}",
                String::from_utf8_lossy(bad)
            );
        }
        let policy = json!({
            "principalId": "alice",
            "policyDocument": {"Version": "2012-10-17", "Statement": [
                {"Action": "execute-api:Invoke", "Effect": "Allow", "Resource": arn}
            ]},
            "context": {"tier": "pro"},
        });
        let Verdict::Allow(allowed) =
            lambda_verdict(policy.to_string().as_bytes(), false, arn, true)
        else {
            panic!("the policy allows the route");
        };
        assert_eq!(allowed["lambda"]["tier"], "pro");
    }

    #[test]
    fn scopes_come_from_scope_or_scp() {
        let claims = json!({"scope": "read write"});
        assert_eq!(token_scopes(claims.as_object().unwrap()), ["read", "write"]);
        let claims = json!({"scp": ["a", "b"]});
        assert_eq!(token_scopes(claims.as_object().unwrap()), ["a", "b"]);
    }

    use mocks::identity::{IdentityKeys, Signer, TokenSpec};

    const ISSUER: &str = "https://issuer.example";

    fn new_provider() -> (IdentityKeys, JwtKeys) {
        let provider = IdentityKeys::generate(ISSUER, "app", "secret").unwrap();
        let set: JwkSet = serde_json::from_value(provider.jwks()).unwrap();
        (provider, JwtKeys::known(set))
    }

    fn token(provider: &IdentityKeys, edit: impl FnOnce(&mut Value)) -> String {
        let mut claims = provider.claims("alice", 600);
        edit(&mut claims);
        provider
            .mint(&TokenSpec {
                alg: "RS256".into(),
                kid: Some(provider.current_kid().to_owned()),
                claims,
                signer: Signer::Rsa(provider.current_kid().to_owned()),
            })
            .unwrap()
    }

    async fn check(keys: &JwtKeys, token: &str, scopes: &[&str]) -> Verdict {
        let scopes: Vec<String> = scopes.iter().map(|s| (*s).to_owned()).collect();
        check_jwt(keys, Some(token), ISSUER, &["app".to_owned()], &scopes).await
    }

    fn is_invalid(verdict: &Verdict) -> bool {
        matches!(verdict, Verdict::Unauthorized(Some(c)) if c.contains("invalid_token"))
    }

    #[tokio::test]
    async fn a_valid_token_passes_with_its_claims_as_strings() {
        let (provider, keys) = new_provider();
        let Verdict::Allow(context) = check(&keys, &token(&provider, |_| {}), &[]).await else {
            panic!("a valid token is allowed");
        };
        assert_eq!(context["jwt"]["claims"]["sub"], "alice");
        assert!(context["jwt"]["claims"]["exp"].is_string());
        assert!(context["jwt"]["scopes"].is_null());
        let bearer = format!("Bearer {}", token(&provider, |_| {}));
        assert!(matches!(
            check(&keys, &bearer, &[]).await,
            Verdict::Allow(_)
        ));
        let by_client = token(&provider, |c| {
            c["aud"] = json!("other");
            c["client_id"] = json!("app");
        });
        assert!(
            matches!(check(&keys, &by_client, &[]).await, Verdict::Allow(_)),
            "client_id stands for aud"
        );
    }

    #[tokio::test]
    async fn wrong_audience_issuer_expiry_algorithm_or_key_is_unauthorized() {
        let (provider, keys) = new_provider();
        let cases = [
            token(&provider, |c| c["aud"] = json!("other")),
            token(&provider, |c| c["iss"] = json!("https://elsewhere.example")),
            token(&provider, |c| {
                c["exp"] = json!(c["iat"].as_i64().unwrap() - 5)
            }),
            token(&provider, |c| {
                c["nbf"] = json!(c["iat"].as_i64().unwrap() + 300)
            }),
            token(&provider, |c| {
                c.as_object_mut().unwrap().remove("exp");
            }),
            provider.hs256_token("alice").unwrap(),
        ];
        for (index, bad) in cases.iter().enumerate() {
            let verdict = check(&keys, bad, &[]).await;
            assert!(is_invalid(&verdict), "case {index}: {verdict:?}");
        }
        let (stranger, _) = new_provider();
        let foreign = token(&stranger, |_| {});
        assert!(
            is_invalid(&check(&keys, &foreign, &[]).await),
            "a key the JWKS lacks"
        );
    }

    #[tokio::test]
    async fn a_route_with_scopes_wants_one_of_them() {
        let (provider, keys) = new_provider();
        let plain = token(&provider, |_| {});
        assert_eq!(
            check(&keys, &plain, &["probe:read"]).await,
            Verdict::Forbidden
        );
        let scoped = token(&provider, |c| c["scope"] = json!("a probe:read"));
        let Verdict::Allow(context) = check(&keys, &scoped, &["probe:read"]).await else {
            panic!("the scope is there");
        };
        assert_eq!(context["jwt"]["scopes"], json!(["a", "probe:read"]));
    }

    #[tokio::test]
    async fn a_missing_or_malformed_token_is_unauthorized_without_fetching_keys() {
        let keys = JwtKeys::new(None);
        assert_eq!(
            check_jwt(&keys, None, "iss", &[], &[]).await,
            Verdict::Unauthorized(Some("Bearer".into()))
        );
        let Verdict::Unauthorized(Some(challenge)) =
            check_jwt(&keys, Some("Bearer not.a.jwt"), "iss", &[], &[]).await
        else {
            panic!("a malformed token is unauthorized");
        };
        assert!(challenge.contains("invalid_token"), "{challenge}");
    }
}
