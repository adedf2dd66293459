//! `mocks`: runs every fake upstream on its own, each on a loopback port:
//! Vertex AI (Gemini Live, generateContent, service-account auth), Bedrock
//! Runtime (Nova Sonic, Converse, InvokeModel), Secrets Manager (with the
//! Vertex service-account key stored), SNS, the identity provider (JWKS and
//! minted tokens), the App Store / Google Play purchase checks and the e-mail
//! API. The local stack starts the same mocks in-process. Prints one JSON line
//! with each mock's URLs and the environment a function needs to use them,
//! then serves until Ctrl-C or SIGTERM.

use anyhow::Context as _;
use clap::Parser;
use mocks::bedrock::BedrockConfig;
use mocks::identity::IdentityConfig;
use mocks::upstreams::{Upstreams, UpstreamsConfig};
use mocks::vertex::VertexConfig;

/// Fake upstreams speaking the real wire protocols.
#[derive(Debug, Parser)]
#[command(version, about)]
struct Args {
    /// Port of the Vertex AI mock (0: any free port).
    #[arg(long, env = "MOCKS_VERTEX_PORT", default_value_t = 0)]
    vertex_port: u16,
    /// Port of the Secrets Manager mock (0: any free port).
    #[arg(long, env = "MOCKS_SECRETS_PORT", default_value_t = 0)]
    secrets_port: u16,
    /// Port of the Bedrock Runtime mock (0: any free port).
    #[arg(long, env = "MOCKS_BEDROCK_PORT", default_value_t = 0)]
    bedrock_port: u16,
    /// Port of the SNS mock (0: any free port).
    #[arg(long, env = "MOCKS_SNS_PORT", default_value_t = 0)]
    sns_port: u16,
    /// Port of the identity provider mock (0: any free port).
    #[arg(long, env = "MOCKS_IDENTITY_PORT", default_value_t = 0)]
    identity_port: u16,
    /// Port of the App Store / Google Play mock (0: any free port).
    #[arg(long, env = "MOCKS_STORES_PORT", default_value_t = 0)]
    stores_port: u16,
    /// Port of the e-mail API mock (0: any free port).
    #[arg(long, env = "MOCKS_EMAIL_PORT", default_value_t = 0)]
    email_port: u16,
    /// Divides every upstream time limit (>= 1).
    #[arg(long, env = "MOCKS_TIME_SCALE", default_value_t = 1.0)]
    time_scale: f64,
    /// Google Cloud project of the mock service account.
    #[arg(long, env = "MOCKS_GCP_PROJECT", default_value = "speechgate-local")]
    project: String,
    /// Store the Vertex service-account key in Secrets Manager under this name.
    #[arg(
        long,
        env = "MOCKS_GCP_SECRET_NAME",
        default_value = "gemini-vertex-ai-credentials"
    )]
    gcp_secret_name: String,
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::from_default_env())
        .with_writer(std::io::stderr)
        .init();
    let args = Args::parse();
    let upstreams = Upstreams::start(UpstreamsConfig {
        vertex: VertexConfig {
            port: args.vertex_port,
            time_scale: args.time_scale,
            project: args.project.clone(),
            ..VertexConfig::default()
        },
        bedrock: BedrockConfig {
            port: args.bedrock_port,
            time_scale: args.time_scale,
            ..BedrockConfig::default()
        },
        identity: IdentityConfig {
            port: args.identity_port,
            ..IdentityConfig::default()
        },
        secrets_port: args.secrets_port,
        sns_port: args.sns_port,
        stores_port: args.stores_port,
        email_port: args.email_port,
    })
    .await?;
    upstreams.secrets.put_secret(
        &args.gcp_secret_name,
        &upstreams.vertex.service_account_json(),
    );
    let mut env = upstreams.environment();
    env.insert(
        "GCP_CREDENTIALS_SECRET".to_owned(),
        args.gcp_secret_name.clone(),
    );
    let ready = serde_json::json!({
        "vertex": {
            "base_url_template": upstreams.vertex.base_url_template(),
            "control_url": format!("{}/_mock/vertex/", upstreams.vertex.base_url()),
            "project": args.project,
        },
        "secrets": {
            "base_url": upstreams.secrets.base_url(),
            "control_url": format!("{}/_mock/secrets/", upstreams.secrets.base_url()),
            "gcp_secret_name": args.gcp_secret_name,
        },
        "bedrock": {
            "base_url": upstreams.bedrock.base_url(),
            "control_url": format!("{}/_mock/bedrock/", upstreams.bedrock.base_url()),
        },
        "sns": {
            "base_url": upstreams.sns.base_url(),
            "control_url": format!("{}/_mock/sns/", upstreams.sns.base_url()),
        },
        "identity": {
            "base_url": upstreams.identity.base_url(),
            "jwks_url": upstreams.identity.jwks_url(),
            "issuer": upstreams.identity.issuer(),
            "control_url": format!("{}/_mock/identity/", upstreams.identity.base_url()),
        },
        "stores": {
            "base_url": upstreams.stores.base_url(),
            "control_url": format!("{}/_mock/stores/", upstreams.stores.base_url()),
        },
        "email": {
            "base_url": upstreams.email.base_url(),
            "control_url": format!("{}/_mock/email/", upstreams.email.base_url()),
        },
        "time_scale": args.time_scale,
        // What the backend's functions need in their environment to use the mocks.
        "env": env,
    });
    println!("{ready}");
    shutdown_signal().await?;
    upstreams.stop().await;
    Ok(())
}

async fn shutdown_signal() -> anyhow::Result<()> {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .context("installing the SIGTERM handler")?;
    tokio::select! {
        signal = tokio::signal::ctrl_c() => signal.context("waiting for Ctrl-C")?,
        _ = terminate.recv() => {}
    }
    Ok(())
}
