//! Subscription tiers (seed 002's `subscription_tier`: free, writing,
//! speaking, full) and the store products that grant them. A user's tier is
//! the union of the tier an admin set on the user and every unexpired
//! entitlement a verified purchase wrote; assessments check it here.

use serde_json::{Value, json};

use super::auth::{Principal, authenticate};
use super::input::ApiRequest;
use super::problem::{ApiError, ApiResult};
use super::store::{self, Item, get_n, get_s};
use super::{ApiResponse, HttpDeps};
use crate::clock;

/// A subscription tier.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Tier {
    /// Reading and listening practice.
    Free,
    /// Plus writing assessments.
    Writing,
    /// Plus speaking assessments.
    Speaking,
    /// Everything.
    Full,
}

/// What a tier unlocks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Feature {
    /// Writing assessments (Nova Micro).
    Writing,
    /// Speaking assessments (the WebSocket APIs).
    Speaking,
}

impl Tier {
    /// The stored and answered name.
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Tier::Free => "free",
            Tier::Writing => "writing",
            Tier::Speaking => "speaking",
            Tier::Full => "full",
        }
    }

    /// Parses a stored name.
    pub(crate) fn parse(text: &str) -> Option<Self> {
        [Tier::Free, Tier::Writing, Tier::Speaking, Tier::Full]
            .into_iter()
            .find(|t| t.as_str() == text)
    }

    /// Whether it unlocks `feature`.
    pub(crate) fn allows(self, feature: Feature) -> bool {
        matches!(
            (self, feature),
            (Tier::Full, _)
                | (Tier::Writing, Feature::Writing)
                | (Tier::Speaking, Feature::Speaking)
        )
    }

    /// The smallest tier that unlocks everything both unlock.
    pub(crate) fn union(self, other: Tier) -> Tier {
        let writing = self.allows(Feature::Writing) || other.allows(Feature::Writing);
        let speaking = self.allows(Feature::Speaking) || other.allows(Feature::Speaking);
        match (writing, speaking) {
            (true, true) => Tier::Full,
            (true, false) => Tier::Writing,
            (false, true) => Tier::Speaking,
            (false, false) => Tier::Free,
        }
    }
}

/// The store products (the same ids on the App Store and Google Play) and their tiers.
pub(crate) const PRODUCTS: [(&str, Tier); 3] = [
    ("ielts_writing_monthly", Tier::Writing),
    ("ielts_speaking_monthly", Tier::Speaking),
    ("ielts_full_monthly", Tier::Full),
];

/// The tier a product grants.
pub(crate) fn product_tier(product_id: &str) -> Option<Tier> {
    PRODUCTS
        .iter()
        .find(|(id, _)| *id == product_id)
        .map(|(_, tier)| *tier)
}

/// Whether an entitlement item is in force now.
pub(crate) fn is_active(item: &Item, now_ms: i64) -> bool {
    get_n(item, "expires_at_ms").is_some_and(|expiry| expiry > now_ms)
}

/// An entitlement as clients see it.
pub(crate) fn entitlement_json(item: &Item, now_ms: i64) -> Value {
    json!({
        "entitlement_id": get_s(item, "entitlement_id"),
        "store": get_s(item, "store"),
        "product_id": get_s(item, "product_id"),
        "tier": get_s(item, "tier"),
        "expires_at_ms": get_n(item, "expires_at_ms"),
        "status": if is_active(item, now_ms) { "active" } else { "expired" },
        "updated_at": get_s(item, "updated_at"),
    })
}

/// The user's entitlement items.
pub(crate) async fn user_entitlements(deps: &HttpDeps, user_id: &str) -> ApiResult<Vec<Item>> {
    store::query_all(
        &deps.db,
        &deps.tables.entitlements,
        "user_id-index",
        "user_id",
        user_id,
    )
    .await
}

/// The tier a user has now.
pub(crate) async fn effective_tier(deps: &HttpDeps, user: &Item) -> ApiResult<Tier> {
    let base = get_s(user, "subscription_tier")
        .and_then(Tier::parse)
        .unwrap_or(Tier::Free);
    let user_id = get_s(user, "user_id").unwrap_or_default();
    let now = clock::now_epoch_ms();
    Ok(user_entitlements(deps, user_id)
        .await?
        .iter()
        .filter(|item| is_active(item, now))
        .filter_map(|item| get_s(item, "tier").and_then(Tier::parse))
        .fold(base, Tier::union))
}

/// 403 unless the caller's tier unlocks `feature`.
pub(crate) async fn require(
    deps: &HttpDeps,
    principal: &Principal,
    feature: Feature,
) -> ApiResult<Tier> {
    let tier = effective_tier(deps, &principal.user).await?;
    if tier.allows(feature) {
        return Ok(tier);
    }
    let (what, plans) = match feature {
        Feature::Writing => ("Writing assessments", "writing or full"),
        Feature::Speaking => ("Speaking assessments", "speaking or full"),
    };
    Err(ApiError::EntitlementRequired(format!(
        "{what} need the {plans} plan; your plan is {}",
        tier.as_str()
    )))
}

/// `GET /api/entitlements`.
pub(crate) async fn list(deps: &HttpDeps, request: &ApiRequest) -> ApiResult<ApiResponse> {
    let principal = authenticate(deps, request).await?;
    let tier = effective_tier(deps, &principal.user).await?;
    let now = clock::now_epoch_ms();
    let items: Vec<Value> = user_entitlements(deps, &principal.user_id)
        .await?
        .iter()
        .map(|item| entitlement_json(item, now))
        .collect();
    Ok(ApiResponse::json(
        200,
        &json!({"subscription_tier": tier.as_str(), "entitlements": items}),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_combine_by_what_they_unlock() {
        assert_eq!(Tier::Writing.union(Tier::Speaking), Tier::Full);
        assert_eq!(Tier::Free.union(Tier::Writing), Tier::Writing);
        assert_eq!(Tier::Full.union(Tier::Free), Tier::Full);
        assert!(!Tier::Free.allows(Feature::Writing));
        assert!(!Tier::Speaking.allows(Feature::Writing));
        assert!(Tier::Full.allows(Feature::Speaking));
        for tier in [Tier::Free, Tier::Writing, Tier::Speaking, Tier::Full] {
            assert_eq!(Tier::parse(tier.as_str()), Some(tier));
            assert_eq!(tier.union(tier), tier);
        }
        assert_eq!(product_tier("ielts_full_monthly"), Some(Tier::Full));
        assert_eq!(product_tier("other"), None);
    }

    #[test]
    fn expiry_decides_activity() {
        let item: Item = [("expires_at_ms".to_owned(), store::n(1_000))]
            .into_iter()
            .collect();
        assert!(is_active(&item, 999));
        assert!(!is_active(&item, 1_000));
        assert!(!is_active(&Item::new(), 0));
    }
}
