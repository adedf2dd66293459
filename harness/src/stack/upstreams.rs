//! The mock upstreams of the local stack (Vertex AI, Secrets Manager, Bedrock
//! Runtime, SNS, the identity provider, app stores, e-mail): started with the
//! stack, seeded from the template, and named to the functions through
//! endpoint overrides.

use super::*;

/// The mock upstreams the functions talk to.
#[derive(Debug)]
pub struct Mocks {
    /// Vertex AI (Gemini Live, generateContent).
    pub vertex: VertexMock,
    /// Secrets Manager.
    pub secrets: SecretsMock,
    /// Bedrock Runtime (Nova Sonic, Converse, InvokeModel).
    pub bedrock: BedrockMock,
    /// SNS.
    pub sns: SnsMock,
    /// The identity provider of JWT authorizers (JWKS, HS256 secret, tokens).
    pub identity: IdentityMock,
    /// App Store `verifyReceipt` and Google Play purchase checks.
    pub stores: StoresMock,
    /// The e-mail API (SendGrid's v3 shape).
    pub email: EmailMock,
}

impl Mocks {
    pub(super) async fn start(options: &StackOptions) -> Result<Self, StackError> {
        let vertex = VertexMock::start(VertexConfig {
            time_scale: options.time_scale.factor(),
            ..VertexConfig::default()
        })
        .await
        .map_err(|source| StackError::Mock {
            mock: "vertex",
            source,
        })?;
        for (speech, text) in &options.transcripts {
            vertex.register_transcript(*speech, text.clone());
        }
        let secrets = SecretsMock::start(0)
            .await
            .map_err(|source| StackError::Mock {
                mock: "secrets",
                source,
            })?;
        let bedrock = BedrockMock::start(BedrockConfig {
            time_scale: options.time_scale.factor(),
            ..BedrockConfig::default()
        })
        .await
        .map_err(|source| StackError::Mock {
            mock: "bedrock",
            source,
        })?;
        for (speech, text) in &options.transcripts {
            bedrock.add_transcript(*speech, text.clone());
        }
        let sns = SnsMock::start(0).await.map_err(|source| StackError::Mock {
            mock: "sns",
            source,
        })?;
        let identity = IdentityMock::start(IdentityConfig::default())
            .await
            .map_err(|source| StackError::Mock {
                mock: "identity",
                source,
            })?;
        let stores = StoresMock::start(0, "")
            .await
            .map_err(|source| StackError::Mock {
                mock: "stores",
                source,
            })?;
        let email = EmailMock::start(0)
            .await
            .map_err(|source| StackError::Mock {
                mock: "email",
                source,
            })?;
        Ok(Self {
            vertex,
            secrets,
            bedrock,
            sns,
            identity,
            stores,
            email,
        })
    }

    /// Endpoint overrides for every function.
    pub(super) fn environment(&self) -> BTreeMap<String, String> {
        [
            ("VERTEX_BASE_URL_TEMPLATE", self.vertex.base_url_template()),
            ("AWS_ENDPOINT_URL_SECRETS_MANAGER", self.secrets.base_url()),
            ("AWS_ENDPOINT_URL_BEDROCK_RUNTIME", self.bedrock.base_url()),
            ("AWS_ENDPOINT_URL_SNS", self.sns.base_url()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
    }

    /// Stores what the template's functions expect in Secrets Manager: the GCP
    /// service account under every `GCP_CREDENTIALS_SECRET` and
    /// `GOOGLE_PLAY_CREDENTIALS_SECRET` they name; and gives the App Store
    /// mock the `APPLE_SHARED_SECRET` they send.
    pub(super) fn seed_secrets(&self, template: &Template) {
        let account = self.vertex.service_account_json();
        for function in template.functions.values() {
            for variable in ["GCP_CREDENTIALS_SECRET", "GOOGLE_PLAY_CREDENTIALS_SECRET"] {
                if let Some(name) = function.environment.get(variable) {
                    self.secrets.put_secret(name, &account);
                }
            }
            if let Some(secret) = function.environment.get("APPLE_SHARED_SECRET") {
                self.stores.set_apple_shared_secret(secret);
            }
        }
    }

    /// Points the JWT authorizers at the identity mock: its HS256 secret
    /// under every `JWT_SECRET_NAME`, and minted tokens carrying the
    /// template's `JWT_ISSUER` / `JWT_AUDIENCE`.
    pub(super) fn seed_identity(&self, template: &Template) {
        for function in template.functions.values() {
            let env = &function.environment;
            if let Some(name) = env.get("JWT_SECRET_NAME").filter(|n| !n.is_empty()) {
                self.secrets.put_secret(name, &self.identity.hs256_secret());
            }
            if let (Some(issuer), Some(audience)) = (env.get("JWT_ISSUER"), env.get("JWT_AUDIENCE"))
            {
                self.identity.set_issuer_and_audience(issuer, audience);
            }
        }
    }

    /// Local URLs for the upstream variables a function declares (only those:
    /// a function that does not call a store, send mail or verify JWTs from a
    /// JWKS gets none of them).
    pub(super) fn declared_overrides(
        &self,
        declared: &BTreeMap<String, String>,
    ) -> BTreeMap<String, String> {
        [
            ("JWKS_URL", self.identity.jwks_url()),
            ("APPLE_VERIFY_URL", self.stores.apple_verify_url()),
            (
                "APPLE_SANDBOX_VERIFY_URL",
                self.stores.apple_sandbox_verify_url(),
            ),
            ("GOOGLE_PLAY_API_URL", self.stores.base_url()),
            ("EMAIL_API_URL", self.email.base_url()),
        ]
        .into_iter()
        .filter(|(name, _)| declared.contains_key(*name))
        .map(|(name, url)| (name.to_owned(), url))
        .collect()
    }

    pub(super) async fn stop(self) {
        self.identity.stop().await;
        self.vertex.stop().await;
        self.secrets.stop().await;
        self.bedrock.stop().await;
        self.sns.stop().await;
        self.stores.stop().await;
        self.email.stop().await;
    }
}
