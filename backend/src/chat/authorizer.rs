//! The chat API's Lambda REQUEST authorizer on `$connect`
//! (`{env}-websocket-authorizer`, binary `chat-authorizer`). API Gateway
//! passes the JWT from `?token=` (identity source
//! `route.request.querystring.token`; without it API Gateway answers 401
//! itself). A verified token gets an Allow policy for the method ARN and a
//! context that reaches every later event of the connection as
//! `requestContext.authorizer`: `userId` (the token's `sub`),
//! `tokenExpiresAt`, `tokenAlgorithm`. A refused token makes the function
//! fail with the error message `Unauthorized`, which API Gateway turns into
//! a 401 (a Deny policy would give 403). Keys that cannot be had fail with
//! another error: a 500, since the token may be fine.
//!
//! Tokens and secrets are never logged; refusals log their reason.

use aws_lambda_events::apigw::{
    ApiGatewayCustomAuthorizerPolicy, ApiGatewayCustomAuthorizerRequestTypeRequest,
    ApiGatewayCustomAuthorizerResponse,
};
use aws_lambda_events::iam::{IamPolicyEffect, IamPolicyStatement};
use lambda_runtime::{Diagnostic, LambdaEvent};
use serde_json::{Value, json};

use super::jwt::{VerifiedToken, Verifier, VerifyError};

/// The error message API Gateway maps to 401.
pub const UNAUTHORIZED: &str = "Unauthorized";
/// The query parameter that carries the token.
pub const TOKEN_PARAMETER: &str = "token";

/// The authorizer's dependencies, built once per instance.
#[derive(Debug)]
pub struct AuthorizerDeps {
    /// Token verification with cached keys.
    pub verifier: Verifier,
}

/// The failure API Gateway answers with 401.
pub fn unauthorized() -> Diagnostic {
    Diagnostic {
        error_type: UNAUTHORIZED.to_owned(),
        error_message: UNAUTHORIZED.to_owned(),
    }
}

/// The Allow answer for a verified token.
pub fn allow(token: &VerifiedToken, method_arn: &str) -> ApiGatewayCustomAuthorizerResponse<Value> {
    let mut statement = IamPolicyStatement::default();
    statement.action = vec!["execute-api:Invoke".to_owned()];
    statement.effect = IamPolicyEffect::Allow;
    statement.resource = vec![method_arn.to_owned()];
    let mut policy = ApiGatewayCustomAuthorizerPolicy::default();
    policy.version = Some("2012-10-17".to_owned());
    policy.statement = vec![statement];
    let mut response = ApiGatewayCustomAuthorizerResponse::default();
    response.principal_id = Some(token.user_id.clone());
    response.policy_document = policy;
    response.context = json!({
        "userId": token.user_id,
        "tokenExpiresAt": token.expires_at,
        "tokenAlgorithm": token.algorithm,
    });
    response
}

/// Handles one authorizer request.
pub async fn handle(
    deps: &AuthorizerDeps,
    event: LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest>,
) -> Result<ApiGatewayCustomAuthorizerResponse<Value>, Diagnostic> {
    let request = event.payload;
    let request_id = request
        .request_context
        .request_id
        .clone()
        .unwrap_or_default();
    let Some(method_arn) = request.method_arn.as_deref() else {
        tracing::error!("authorizer request without methodArn");
        return Err(Diagnostic {
            error_type: "InvalidAuthorizerRequest".to_owned(),
            error_message: "the request has no methodArn".to_owned(),
        });
    };
    let token = request
        .query_string_parameters
        .first(TOKEN_PARAMETER)
        .unwrap_or_default();
    match deps.verifier.verify(token).await {
        Ok(verified) => {
            tracing::info!(
                request = %request_id,
                user = %verified.user_id,
                algorithm = verified.algorithm,
                "token accepted"
            );
            Ok(allow(&verified, method_arn))
        }
        Err(VerifyError::Refused(reason)) => {
            tracing::info!(request = %request_id, reason = %reason, "token refused");
            Err(unauthorized())
        }
        Err(VerifyError::KeysUnavailable(problem)) => {
            tracing::error!(request = %request_id, "cannot verify tokens: {problem}");
            Err(Diagnostic {
                error_type: "KeysUnavailable".to_owned(),
                error_message: "verification keys are unavailable".to_owned(),
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chat::jwt::{DEFAULT_LEEWAY_SECONDS, JwtSettings};
    use crate::chat::keys::HmacSecret;
    use mocks::identity::{DEFAULT_AUDIENCE, DEFAULT_ISSUER, IdentityKeys, LOCAL_HS256_SECRET};

    const ARN: &str = "arn:aws:execute-api:us-east-1:123456789012:abcdef1234/production/$connect";

    fn deps() -> AuthorizerDeps {
        AuthorizerDeps {
            verifier: Verifier::new(
                JwtSettings {
                    issuer: DEFAULT_ISSUER.into(),
                    audience: DEFAULT_AUDIENCE.into(),
                    leeway_seconds: DEFAULT_LEEWAY_SECONDS,
                },
                Some(HmacSecret::configured(LOCAL_HS256_SECRET.as_bytes())),
                None,
            ),
        }
    }

    /// The event as API Gateway sends it (aws_lambda_events' WebSocket fixture shape).
    fn event(query: Value) -> LambdaEvent<ApiGatewayCustomAuthorizerRequestTypeRequest> {
        let payload = serde_json::from_value(json!({
            "type": "REQUEST",
            "methodArn": ARN,
            "headers": {"Host": "abcdef1234.execute-api.us-east-1.amazonaws.com"},
            "multiValueHeaders": {},
            "queryStringParameters": query,
            "stageVariables": {},
            "requestContext": {
                "apiId": "abcdef1234", "connectedAt": 1_655_103_417_248_i64,
                "connectionId": "TWegAcC4EowCHnA=", "eventType": "CONNECT",
                "routeKey": "$connect", "stage": "production",
                "requestTimeEpoch": 1_655_103_417_249_i64
            }
        }))
        .unwrap();
        LambdaEvent::new(payload, lambda_runtime::Context::default())
    }

    #[tokio::test]
    async fn allow_carries_the_user_and_the_method_arn() {
        let keys =
            IdentityKeys::generate(DEFAULT_ISSUER, DEFAULT_AUDIENCE, LOCAL_HS256_SECRET).unwrap();
        let token = keys.hs256_token("user-42").unwrap();
        let answer = handle(&deps(), event(json!({"token": token})))
            .await
            .unwrap();
        let answer = serde_json::to_value(answer).unwrap();
        assert_eq!(answer["principalId"], "user-42");
        assert_eq!(answer["context"]["userId"], "user-42");
        assert_eq!(answer["context"]["tokenAlgorithm"], "HS256");
        assert!(answer["context"]["tokenExpiresAt"].is_i64());
        let statement = &answer["policyDocument"]["Statement"][0];
        assert_eq!(answer["policyDocument"]["Version"], "2012-10-17");
        assert_eq!(statement["Effect"], "Allow");
        assert_eq!(statement["Action"], json!(["execute-api:Invoke"]));
        assert_eq!(statement["Resource"], json!([ARN]));
    }

    #[tokio::test]
    async fn missing_and_bad_tokens_are_unauthorized() {
        for query in [
            json!({}),
            json!({"token": ""}),
            json!({"token": "not-a-jwt"}),
        ] {
            let error = handle(&deps(), event(query)).await.unwrap_err();
            assert_eq!(error.error_message, UNAUTHORIZED);
        }
    }
}
