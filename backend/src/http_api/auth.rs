//! Accounts and sessions (seed 002): register (bcrypt hash, e-mail unique
//! through a claim item written in the same transaction as the user),
//! login (a 24-hour session in the sessions table, keyed by the SHA-256 of
//! the bearer token so the table never holds a usable token), logout,
//! profile; and [`authenticate`], which every signed-in route calls. An
//! expired session is refused even before DynamoDB's TTL deletes it.

use std::sync::OnceLock;

use aws_sdk_dynamodb::types::{Put, TransactWriteItem};
use serde::Deserialize;
use serde_json::{Value, json};

use super::input::{ApiRequest, Checks, MAX_JSON_BODY};
use super::problem::{ApiError, ApiResult, internal};
use super::store::{
    self, Item, conditional_failed, delete_item, get_bool, get_item, get_n, get_s, n, s,
    store_error,
};
use super::{ApiResponse, HttpDeps, entitlements};
use crate::clock;

/// How long a login session lives (seed 002: 24 hours).
pub(crate) const SESSION_TTL_SECONDS: i64 = 24 * 60 * 60;

/// `last_accessed` is refreshed at most this often (each refresh is a write).
const TOUCH_INTERVAL_SECONDS: i64 = 300;

/// The `session_type` of login sessions in the shared sessions table.
pub(crate) const LOGIN_SESSION: &str = "login";

/// Marks the users-table item that reserves an e-mail address.
pub(crate) const EMAIL_CLAIM: &str = "email_claim";

/// Failed sign-ins to one address within [`LOGIN_FAILURE_WINDOW_SECONDS`]
/// after which every sign-in to it is refused with 429 until the window ends
/// (password guessing; unknown addresses count alike, so the limit tells
/// nothing about which addresses have accounts).
pub(crate) const MAX_FAILED_LOGINS: i64 = 5;

/// How long failed sign-ins are counted, from the first one.
pub(crate) const LOGIN_FAILURE_WINDOW_SECONDS: i64 = 15 * 60;

/// The `session_type` of failed sign-in counters in the sessions table.
pub(crate) const LOGIN_THROTTLE: &str = "login_throttle";

/// The signed-in caller.
#[derive(Debug, Clone)]
pub(crate) struct Principal {
    /// The user.
    pub user_id: String,
    /// Their e-mail address.
    pub email: String,
    /// `user` or `admin`.
    pub role: String,
    /// The session's id (the token's digest).
    pub session_id: String,
    /// The user item.
    pub user: Item,
}

impl Principal {
    /// Whether the user has the admin role.
    pub(crate) fn is_admin(&self) -> bool {
        self.role == "admin"
    }
}

/// The users-table key that reserves `email`.
pub(crate) fn email_claim_key(email: &str) -> String {
    format!("email#{email}")
}

/// A normalised e-mail address (trimmed, lower case).
pub(crate) fn normalise_email(email: &str) -> String {
    email.trim().to_lowercase()
}

/// Hashes a password with bcrypt at `cost`, off the async threads.
pub(crate) async fn hash_password(cost: u32, password: &str) -> ApiResult<String> {
    let password = password.to_owned();
    tokio::task::spawn_blocking(move || bcrypt::hash(password, cost))
        .await
        .map_err(|e| internal("bcrypt task", e))?
        .map_err(|e| internal("bcrypt hash", e))
}

/// Whether `password` matches `hash` (false for a malformed hash).
pub(crate) async fn verify_password(password: &str, hash: &str) -> bool {
    let (password, hash) = (password.to_owned(), hash.to_owned());
    tokio::task::spawn_blocking(move || bcrypt::verify(password, &hash).unwrap_or(false))
        .await
        .unwrap_or(false)
}

/// A hash to verify against when the e-mail is unknown, so that a login
/// takes as long whether or not the account exists.
async fn dummy_hash(cost: u32) -> String {
    static DUMMY: OnceLock<String> = OnceLock::new();
    if let Some(hash) = DUMMY.get() {
        return hash.clone();
    }
    let hash = hash_password(cost, "speechgate-timing-equaliser")
        .await
        .unwrap_or_default();
    DUMMY.get_or_init(|| hash).clone()
}

/// The profile a client sees (never the password hash).
pub(crate) fn profile_json(user: &Item, tier: &str) -> Value {
    json!({
        "user_id": get_s(user, "user_id"),
        "email": get_s(user, "email"),
        "full_name": get_s(user, "full_name"),
        "subscription_tier": tier,
        "role": get_s(user, "role").unwrap_or("user"),
        "verified": get_bool(user, "verified").unwrap_or(false),
        "created_at": get_s(user, "created_at"),
    })
}

/// The user with this e-mail address (through `email-index`).
pub(crate) async fn find_user_by_email(deps: &HttpDeps, email: &str) -> ApiResult<Option<Item>> {
    let items =
        store::query_all(&deps.db, &deps.tables.users, "email-index", "email", email).await?;
    Ok(items.into_iter().next())
}

/// Starts a login session for a user: the bearer token and its expiry (epoch s).
pub(crate) async fn create_session(
    deps: &HttpDeps,
    user_id: &str,
    via: &str,
) -> ApiResult<(String, i64)> {
    let token = store::random_token();
    let now = clock::now_epoch_s();
    let expires_at = now + SESSION_TTL_SECONDS;
    let item: Item = [
        ("session_id", s(store::digest(&token))),
        ("user_id", s(user_id)),
        ("session_type", s(LOGIN_SESSION)),
        ("created_via", s(via)),
        ("created_at", n(now)),
        ("last_accessed", n(now)),
        ("expires_at", n(expires_at)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    store::put_item(&deps.db, &deps.tables.sessions, item).await?;
    Ok((token, expires_at))
}

/// The answer to a successful login (password or QR).
pub(crate) async fn session_answer(deps: &HttpDeps, user: &Item, via: &str) -> ApiResult<Value> {
    let user_id = get_s(user, "user_id").unwrap_or_default().to_owned();
    let (token, expires_at) = create_session(deps, &user_id, via).await?;
    let tier = entitlements::effective_tier(deps, user).await?;
    Ok(json!({
        "session_token": token,
        "token_type": "Bearer",
        "expires_at": expires_at,
        "expires_in": SESSION_TTL_SECONDS,
        "user": profile_json(user, tier.as_str()),
    }))
}

/// The caller's session and user, or 401.
pub(crate) async fn authenticate(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<Principal> {
    let token = request
        .bearer_token()
        .ok_or_else(|| ApiError::Unauthorized("Authentication required".into()))?;
    if token.len() > 512 {
        return Err(ApiError::Unauthorized("Invalid session".into()));
    }
    let session_id = store::digest(token);
    let session = get_item(&deps.db, &deps.tables.sessions, "session_id", &session_id)
        .await?
        .filter(|item| get_s(item, "session_type") == Some(LOGIN_SESSION))
        .ok_or_else(|| ApiError::Unauthorized("Invalid session".into()))?;
    let now = clock::now_epoch_s();
    if get_n(&session, "expires_at").unwrap_or(0) <= now {
        delete_item(&deps.db, &deps.tables.sessions, "session_id", &session_id).await?;
        return Err(ApiError::Unauthorized("Session expired".into()));
    }
    let user_id = get_s(&session, "user_id").unwrap_or_default().to_owned();
    let Some(user) = get_item(&deps.db, &deps.tables.users, "user_id", &user_id).await? else {
        // The session of a deleted account (a GDPR delete cut short after
        // the user item went): it must not outlive the account.
        delete_item(&deps.db, &deps.tables.sessions, "session_id", &session_id).await?;
        return Err(ApiError::Unauthorized("Invalid session".into()));
    };
    if get_n(&session, "last_accessed").unwrap_or(0) + TOUCH_INTERVAL_SECONDS < now {
        deps.db
            .update_item()
            .table_name(&deps.tables.sessions)
            .key("session_id", s(&session_id))
            .update_expression("SET last_accessed = :now")
            .condition_expression("attribute_exists(session_id)")
            .expression_attribute_values(":now", n(now))
            .send()
            .await
            .map_err(|e| {
                if conditional_failed(&e) {
                    // Signed out (or expired and deleted) meanwhile.
                    ApiError::Unauthorized("Invalid session".into())
                } else {
                    store_error("touch session", e)
                }
            })?;
    }
    Ok(Principal {
        email: get_s(&user, "email").unwrap_or_default().to_owned(),
        role: get_s(&user, "role").unwrap_or("user").to_owned(),
        user_id,
        session_id,
        user,
    })
}

/// [`authenticate`], and 403 unless the user has the admin role.
pub(crate) async fn require_admin(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<Principal> {
    let principal = authenticate(deps, request).await?;
    if !principal.is_admin() {
        return Err(ApiError::Forbidden("Administrator role required".into()));
    }
    Ok(principal)
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RegisterBody {
    email: String,
    password: String,
    #[serde(default)]
    full_name: Option<String>,
}

/// `POST /api/auth/register`.
pub(crate) async fn register(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let body: RegisterBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.email("email", body.email.trim());
    checks.password("password", &body.password);
    if let Some(name) = &body.full_name {
        checks.text("full_name", name, 1, 100);
    }
    checks.finish()?;
    let email = normalise_email(&body.email);
    let hash = hash_password(deps.settings.bcrypt_cost, &body.password).await?;
    let user_id = store::new_id();
    let now = clock::now_rfc3339_millis();
    let role = if deps.settings.admin_emails.contains(&email) {
        "admin"
    } else {
        "user"
    };
    let mut user: Item = [
        ("user_id", s(&user_id)),
        ("email", s(&email)),
        ("password_hash", s(hash)),
        ("subscription_tier", s("free")),
        ("role", s(role)),
        ("created_at", s(&now)),
        ("updated_at", s(&now)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    user.insert(
        "verified".into(),
        aws_sdk_dynamodb::types::AttributeValue::Bool(false),
    );
    if let Some(name) = &body.full_name {
        user.insert("full_name".into(), s(name.trim()));
    }
    let claim: Item = [
        ("user_id", s(email_claim_key(&email))),
        ("item_type", s(EMAIL_CLAIM)),
        ("owner_user_id", s(&user_id)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect();
    let put = |item: Item| -> ApiResult<TransactWriteItem> {
        let put = Put::builder()
            .table_name(&deps.tables.users)
            .set_item(Some(item))
            .condition_expression("attribute_not_exists(user_id)")
            .build()
            .map_err(|e| internal("build put", e))?;
        Ok(TransactWriteItem::builder().put(put).build())
    };
    let written = deps
        .db
        .transact_write_items()
        .transact_items(put(claim)?)
        .transact_items(put(user.clone())?)
        .send()
        .await;
    if let Err(error) = written {
        let cancelled = error
            .as_service_error()
            .is_some_and(|e| e.is_transaction_canceled_exception());
        return Err(if cancelled {
            ApiError::Conflict("An account with this email already exists".into())
        } else {
            store_error("register", error)
        });
    }
    Ok(ApiResponse::json(
        201,
        &json!({"user": profile_json(&user, "free")}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct LoginBody {
    email: String,
    password: String,
}

/// `POST /api/auth/login`: 401 "Invalid email or password" for a wrong
/// password and an unknown address alike.
pub(crate) async fn login(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let body: LoginBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("email", &body.email, 1, 254);
    checks.text("password", &body.password, 1, 1024);
    checks.finish()?;
    let email = normalise_email(&body.email);
    let throttled = check_login_throttle(deps, &email).await?;
    let user = if super::input::is_email(&email) {
        find_user_by_email(deps, &email).await?
    } else {
        None
    };
    let refused = || ApiError::Unauthorized("Invalid email or password".into());
    let Some(user) = user else {
        let _ = verify_password(&body.password, &dummy_hash(deps.settings.bcrypt_cost).await).await;
        record_login_failure(deps, &email).await?;
        return Err(refused());
    };
    let hash = get_s(&user, "password_hash").unwrap_or_default();
    if !verify_password(&body.password, hash).await {
        record_login_failure(deps, &email).await?;
        return Err(refused());
    }
    if throttled {
        delete_item(
            &deps.db,
            &deps.tables.sessions,
            "session_id",
            &login_throttle_key(&email),
        )
        .await?;
    }
    Ok(ApiResponse::json(
        200,
        &session_answer(deps, &user, "password").await?,
    ))
}

/// The sessions-table key counting `email`'s failed sign-ins (a digest: the
/// table never holds the address; the item expires with its window).
pub(crate) fn login_throttle_key(email: &str) -> String {
    format!("login-failures#{}", store::digest(email))
}

/// 429 while `email` is over [`MAX_FAILED_LOGINS`]; whether a counter exists.
async fn check_login_throttle(deps: &HttpDeps, email: &str) -> ApiResult<bool> {
    let key = login_throttle_key(email);
    let Some(item) = get_item(&deps.db, &deps.tables.sessions, "session_id", &key).await? else {
        return Ok(false);
    };
    let now = clock::now_epoch_s();
    let until = get_n(&item, "expires_at").unwrap_or(0);
    if until > now && get_n(&item, "failures").unwrap_or(0) >= MAX_FAILED_LOGINS {
        return Err(ApiError::TooManyRequests {
            detail: "Too many failed sign-in attempts; try again later".into(),
            retry_after: u64::try_from(until - now).unwrap_or(1),
        });
    }
    Ok(true)
}

/// Counts a failed sign-in: within the current window, or in a new one when
/// there is none or it has ended (DynamoDB's TTL deletes it later).
async fn record_login_failure(deps: &HttpDeps, email: &str) -> ApiResult<()> {
    let key = login_throttle_key(email);
    let now = clock::now_epoch_s();
    let counted = deps
        .db
        .update_item()
        .table_name(&deps.tables.sessions)
        .key("session_id", s(&key))
        .update_expression("ADD failures :one SET session_type = :type, expires_at = if_not_exists(expires_at, :end)")
        .condition_expression("attribute_not_exists(session_id) OR expires_at > :now")
        .expression_attribute_values(":one", n(1))
        .expression_attribute_values(":type", s(LOGIN_THROTTLE))
        .expression_attribute_values(":end", n(now + LOGIN_FAILURE_WINDOW_SECONDS))
        .expression_attribute_values(":now", n(now))
        .send()
        .await;
    match counted {
        Ok(_) => Ok(()),
        Err(e) if conditional_failed(&e) => {
            let item: Item = [
                ("session_id", s(&key)),
                ("session_type", s(LOGIN_THROTTLE)),
                ("failures", n(1)),
                ("expires_at", n(now + LOGIN_FAILURE_WINDOW_SECONDS)),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_owned(), v))
            .collect();
            store::put_item(&deps.db, &deps.tables.sessions, item).await
        }
        Err(e) => Err(store_error("count a failed sign-in", e)),
    }
}

/// `POST /api/auth/logout`: ends the caller's session.
pub(crate) async fn logout(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    delete_item(
        &deps.db,
        &deps.tables.sessions,
        "session_id",
        &principal.session_id,
    )
    .await?;
    Ok(ApiResponse::no_content())
}

/// `GET /api/profile`.
pub(crate) async fn profile(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let tier = entitlements::effective_tier(deps, &principal.user).await?;
    Ok(ApiResponse::json(
        200,
        &json!({"user": profile_json(&principal.user, tier.as_str())}),
    ))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct ProfileBody {
    full_name: String,
}

/// `PUT /api/profile`: the name (the only field a user edits).
pub(crate) async fn update_profile(
    deps: &HttpDeps,
    request: &ApiRequest,
) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let body: ProfileBody = request.json(MAX_JSON_BODY)?;
    let mut checks = Checks::default();
    checks.text("full_name", &body.full_name, 1, 100);
    checks.finish()?;
    let updated = deps
        .db
        .update_item()
        .table_name(&deps.tables.users)
        .key("user_id", s(&principal.user_id))
        .update_expression("SET full_name = :name, updated_at = :now")
        .condition_expression("attribute_exists(user_id)")
        .expression_attribute_values(":name", s(body.full_name.trim()))
        .expression_attribute_values(":now", s(clock::now_rfc3339_millis()))
        .return_values(aws_sdk_dynamodb::types::ReturnValue::AllNew)
        .send()
        .await;
    let user = match updated {
        Ok(out) => out.attributes.unwrap_or_default(),
        Err(e) if conditional_failed(&e) => {
            return Err(ApiError::Unauthorized("Invalid session".into()));
        }
        Err(e) => return Err(store_error("update profile", e)),
    };
    let tier = entitlements::effective_tier(deps, &user).await?;
    Ok(ApiResponse::json(
        200,
        &json!({"user": profile_json(&user, tier.as_str())}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn bcrypt_round_trip_at_a_low_cost() {
        let hash = hash_password(4, "correct horse").await.unwrap();
        assert!(hash.starts_with("$2b$04$"));
        assert!(verify_password("correct horse", &hash).await);
        assert!(!verify_password("wrong horse", &hash).await);
        assert!(!verify_password("x", "not a hash").await);
    }

    #[test]
    fn profiles_never_show_the_hash() {
        let user: Item = [
            ("user_id".to_owned(), s("u1")),
            ("email".to_owned(), s("a@example.com")),
            ("password_hash".to_owned(), s("$2b$12$secret")),
        ]
        .into_iter()
        .collect();
        let profile = profile_json(&user, "free");
        assert!(!profile.to_string().contains("secret"));
        assert_eq!(profile["role"], "user");
        assert_eq!(email_claim_key("a@example.com"), "email#a@example.com");
        assert_eq!(normalise_email("  A@Example.COM "), "a@example.com");
    }
}
