//! The identity provider over HTTP: the JWKS document verifies the tokens it
//! mints (with the `jsonwebtoken` crate, as the backend verifies them), the
//! token endpoint hands out valid tokens, rotation publishes a second key,
//! fetches are counted, and an outage answers 503.

use crate::common::http;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode};
use mocks::identity::{IdentityConfig, IdentityMock};
use serde_json::Value;

fn validation(mock: &IdentityMock, alg: Algorithm) -> Validation {
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[mock.issuer()]);
    validation.set_audience(&[mock.audience()]);
    validation
}

async fn jwks(mock: &IdentityMock) -> (u16, String) {
    http(&mock.base_url(), "GET", "/.well-known/jwks.json", &[], "").await
}

#[tokio::test]
async fn jwks_verifies_minted_tokens_and_rotation_keeps_old_keys() {
    let mock = IdentityMock::start(IdentityConfig::default())
        .await
        .unwrap();
    let (status, body) = http(
        &mock.base_url(),
        "GET",
        "/_mock/identity/token?sub=alice",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let answer: Value = serde_json::from_str(&body).unwrap();
    let token = answer["token"].as_str().unwrap().to_owned();

    let (status, body) = jwks(&mock).await;
    assert_eq!(status, 200);
    let set: JwkSet = serde_json::from_str(&body).unwrap();
    let jwk = set
        .find(&mock.current_kid())
        .expect("current key published");
    let key = DecodingKey::from_jwk(jwk).unwrap();
    let claims = decode::<Value>(&token, &key, &validation(&mock, Algorithm::RS256))
        .unwrap()
        .claims;
    assert_eq!(claims["sub"], "alice");

    let old_kid = mock.current_kid();
    let (status, body) = http(&mock.base_url(), "POST", "/_mock/identity/rotate", &[], "").await;
    assert_eq!(status, 200);
    let new_kid = serde_json::from_str::<Value>(&body).unwrap()["kid"]
        .as_str()
        .unwrap()
        .to_owned();
    assert_eq!(mock.current_kid(), new_kid);
    let set: JwkSet = serde_json::from_str(&jwks(&mock).await.1).unwrap();
    assert!(set.find(&old_kid).is_some() && set.find(&new_kid).is_some());
    assert_eq!(mock.jwks_requests(), 2);

    let (status, body) = http(
        &mock.base_url(),
        "GET",
        "/_mock/identity/token?sub=bob&alg=HS256&lifetime=60",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 200);
    let token = serde_json::from_str::<Value>(&body).unwrap()["token"]
        .as_str()
        .unwrap()
        .to_owned();
    let secret = DecodingKey::from_secret(mock.hs256_secret().as_bytes());
    assert!(decode::<Value>(&token, &secret, &validation(&mock, Algorithm::HS256)).is_ok());

    let (status, _) = http(
        &mock.base_url(),
        "GET",
        "/_mock/identity/token?sub=x&alg=none",
        &[],
        "",
    )
    .await;
    assert_eq!(status, 400, "the token endpoint only mints valid tokens");

    let (_, stats) = http(&mock.base_url(), "GET", "/_mock/identity/stats", &[], "").await;
    assert_eq!(
        serde_json::from_str::<Value>(&stats).unwrap()["jwks_requests"],
        2
    );
    mock.stop().await;
}

#[tokio::test]
async fn an_outage_answers_503() {
    let mock = IdentityMock::start(IdentityConfig::default())
        .await
        .unwrap();
    mock.set_jwks_available(false);
    assert_eq!(jwks(&mock).await.0, 503);
    mock.set_jwks_available(true);
    assert_eq!(jwks(&mock).await.0, 200);
    assert_eq!(mock.jwks_requests(), 2);
    mock.stop().await;
}
