//! Every mock at once, as one set of upstreams: what the `mocks` binary runs
//! on its own and the harness's local stack runs in-process. Each mock gets
//! its own loopback port; [`Upstreams::environment`] names the endpoint
//! overrides a function needs to reach them.

use std::collections::BTreeMap;

use crate::bedrock::{BedrockConfig, BedrockMock};
use crate::email::EmailMock;
use crate::identity::{IdentityConfig, IdentityMock};
use crate::secrets::SecretsMock;
use crate::sns::SnsMock;
use crate::stores::StoresMock;
use crate::vertex::{VertexConfig, VertexMock};

/// How to start the upstreams (ports 0: free ones).
#[derive(Debug, Clone, Default)]
pub struct UpstreamsConfig {
    /// The Vertex AI mock.
    pub vertex: VertexConfig,
    /// The Bedrock Runtime mock.
    pub bedrock: BedrockConfig,
    /// The identity provider mock.
    pub identity: IdentityConfig,
    /// Port of the Secrets Manager mock.
    pub secrets_port: u16,
    /// Port of the SNS mock.
    pub sns_port: u16,
    /// Port of the App Store / Google Play mock.
    pub stores_port: u16,
    /// Port of the e-mail API mock.
    pub email_port: u16,
}

/// A mock that could not start.
#[derive(Debug, thiserror::Error)]
#[error("starting the {mock} mock: {source}")]
pub struct StartError {
    /// Which mock.
    pub mock: &'static str,
    /// Why.
    #[source]
    pub source: std::io::Error,
}

/// The running mocks.
#[derive(Debug)]
pub struct Upstreams {
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

impl Upstreams {
    /// Starts every mock.
    pub async fn start(config: UpstreamsConfig) -> Result<Self, StartError> {
        fn named(mock: &'static str) -> impl FnOnce(std::io::Error) -> StartError {
            move |source| StartError { mock, source }
        }
        Ok(Self {
            vertex: VertexMock::start(config.vertex)
                .await
                .map_err(named("vertex"))?,
            secrets: SecretsMock::start(config.secrets_port)
                .await
                .map_err(named("secrets"))?,
            bedrock: BedrockMock::start(config.bedrock)
                .await
                .map_err(named("bedrock"))?,
            sns: SnsMock::start(config.sns_port)
                .await
                .map_err(named("sns"))?,
            identity: IdentityMock::start(config.identity)
                .await
                .map_err(named("identity"))?,
            stores: StoresMock::start(config.stores_port, "")
                .await
                .map_err(named("stores"))?,
            email: EmailMock::start(config.email_port)
                .await
                .map_err(named("email"))?,
        })
    }

    /// The endpoint overrides every function gets: the AWS SDK's
    /// `AWS_ENDPOINT_URL_*` for Secrets Manager, Bedrock Runtime and SNS, and
    /// `VERTEX_BASE_URL_TEMPLATE` for Vertex AI.
    pub fn environment(&self) -> BTreeMap<String, String> {
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

    /// Stops every mock.
    pub async fn stop(self) {
        self.identity.stop().await;
        self.vertex.stop().await;
        self.secrets.stop().await;
        self.bedrock.stop().await;
        self.sns.stop().await;
        self.stores.stop().await;
        self.email.stop().await;
    }
}
