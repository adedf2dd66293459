//! Vertex AI for the speaking API: service-account credentials ([`auth`]),
//! the Gemini Live WebSocket client ([`live`]) and `generateContent`
//! ([`generate`]). Regional endpoints come from a base URL template with a
//! `{region}` placeholder (`VERTEX_BASE_URL_TEMPLATE`, default
//! `https://{region}-aiplatform.googleapis.com`).

pub(crate) mod auth;
pub(crate) mod generate;
pub mod live;

/// The default base URL template.
pub const DEFAULT_BASE_URL: &str = "https://{region}-aiplatform.googleapis.com";
