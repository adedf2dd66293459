//! The model ids the mock serves: Nova Sonic for the bidirectional stream,
//! the Nova text models (directly or through a cross-region inference
//! profile such as `us.`) for Converse and InvokeModel.

/// Nova Sonic model ids.
pub const SONIC_MODELS: &[&str] = &["amazon.nova-sonic-v1:0", "amazon.nova-2-sonic-v1:0"];

/// Nova text model ids (without an inference-profile prefix).
pub const TEXT_MODELS: &[&str] = &[
    "amazon.nova-micro-v1:0",
    "amazon.nova-lite-v1:0",
    "amazon.nova-pro-v1:0",
    "amazon.nova-premier-v1:0",
    "amazon.nova-2-lite-v1:0",
];

/// Cross-region inference profile prefixes.
const PROFILE_PREFIXES: &[&str] = &["us.", "eu.", "apac.", "us-gov.", "global."];

/// Whether `model_id` is a Nova Sonic model.
pub fn is_sonic(model_id: &str) -> bool {
    SONIC_MODELS.contains(&model_id)
}

/// Whether `model_id` is a Nova text model or an inference profile for one.
pub fn is_text(model_id: &str) -> bool {
    let base = PROFILE_PREFIXES
        .iter()
        .find_map(|prefix| model_id.strip_prefix(prefix))
        .unwrap_or(model_id);
    TEXT_MODELS.contains(&base)
}

/// The largest `maxTokens` a text model accepts.
pub fn max_output_tokens(model_id: &str) -> u32 {
    if model_id.contains("premier") {
        32_000
    } else {
        10_000
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids() {
        assert!(is_sonic("amazon.nova-sonic-v1:0"));
        assert!(is_sonic("amazon.nova-2-sonic-v1:0"));
        assert!(!is_sonic("amazon.nova-micro-v1:0"));
        assert!(is_text("amazon.nova-micro-v1:0"));
        assert!(is_text("us.amazon.nova-micro-v1:0"));
        assert!(is_text("eu.amazon.nova-lite-v1:0"));
        assert!(!is_text("xx.amazon.nova-micro-v1:0"));
        assert!(!is_text("anthropic.claude-v2"));
    }
}
