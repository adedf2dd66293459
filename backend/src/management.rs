//! The API Gateway management API (`@connections`) through
//! aws-sdk-apigatewaymanagement: post a message to a connection, read a
//! connection's info, close it. The endpoint is `APIGW_ENDPOINT` when set
//! (seed 000's variable; the local stack points it at its emulator), else
//! built from the event's `domainName` and `stage` (`https://{domainName}/{stage}`,
//! or `http://` for a loopback domain such as the local stack's `127.0.0.1:PORT`).

use std::collections::HashMap;
use std::sync::Mutex;

use aws_lambda_events::apigw::ApiGatewayWebsocketProxyRequestContext;
use aws_sdk_apigatewaymanagement::Client;
use aws_sdk_apigatewaymanagement::error::{DisplayErrorContext, SdkError};
use aws_sdk_apigatewaymanagement::primitives::Blob;

/// Why a management call failed.
#[derive(Debug, thiserror::Error)]
pub enum ManagementError {
    /// 410: the connection is gone (the client left, or it is still in `$connect`).
    #[error("GoneException: connection {0} is gone")]
    Gone(String),
    /// 413: the message is over 128 KB.
    #[error("PayloadTooLargeException: message of {0} bytes is over the 128 KB limit")]
    TooLarge(usize),
    /// 403: not allowed (missing `execute-api:ManageConnections`, wrong stage).
    #[error("ForbiddenException: {0}")]
    Forbidden(String),
    /// The event does not say where the API is.
    #[error(
        "no management endpoint: set APIGW_ENDPOINT or pass an event with domainName and stage"
    )]
    NoEndpoint,
    /// Anything else (network, throttling).
    #[error("management API call failed: {0}")]
    Other(String),
}

fn classify<E, R>(connection_id: &str, size: usize, error: &SdkError<E, R>) -> ManagementError
where
    E: aws_sdk_apigatewaymanagement::error::ProvideErrorMetadata + std::error::Error + 'static,
    R: std::fmt::Debug,
{
    let code = error
        .as_service_error()
        .and_then(|e| e.code())
        .map(str::to_owned);
    match code.as_deref() {
        Some("GoneException") => ManagementError::Gone(connection_id.to_owned()),
        Some("PayloadTooLargeException") => ManagementError::TooLarge(size),
        Some("ForbiddenException") => {
            ManagementError::Forbidden(DisplayErrorContext(error).to_string())
        }
        _ => ManagementError::Other(DisplayErrorContext(error).to_string()),
    }
}

/// The management endpoint for an event's connection.
pub fn endpoint_for(
    context: &ApiGatewayWebsocketProxyRequestContext,
) -> Result<String, ManagementError> {
    if let Ok(endpoint) = std::env::var("APIGW_ENDPOINT")
        && !endpoint.is_empty()
    {
        return Ok(endpoint);
    }
    let domain = context
        .domain_name
        .as_deref()
        .ok_or(ManagementError::NoEndpoint)?;
    let stage = context
        .stage
        .as_deref()
        .ok_or(ManagementError::NoEndpoint)?;
    Ok(endpoint_from_domain(domain, stage))
}

/// `https://{domain}/{stage}`, or `http://` for a loopback domain with a port.
pub fn endpoint_from_domain(domain: &str, stage: &str) -> String {
    let host = domain.rsplit_once(':').map_or(domain, |(host, _)| host);
    let loopback = matches!(host, "127.0.0.1" | "localhost" | "[::1]");
    let scheme = if loopback { "http" } else { "https" };
    format!("{scheme}://{domain}/{stage}")
}

/// What GET @connections/{id} answers.
#[derive(Debug, Clone, serde::Serialize)]
pub struct ConnectionInfo {
    /// When the client connected (ISO-8601).
    pub connected_at: Option<String>,
    /// When the connection last carried a message (ISO-8601).
    pub last_active_at: Option<String>,
    /// Client address.
    pub source_ip: Option<String>,
    /// Client user agent.
    pub user_agent: Option<String>,
}

/// Management API clients, one per endpoint, built from one SDK config.
#[derive(Debug)]
pub struct Connections {
    config: aws_config::SdkConfig,
    clients: Mutex<HashMap<String, Client>>,
}

impl Connections {
    /// Clients built from this SDK config (credentials, region, retries).
    pub fn new(config: aws_config::SdkConfig) -> Self {
        Self {
            config,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// The client for an endpoint (built once, then reused).
    pub fn client(&self, endpoint: &str) -> Client {
        let mut clients = self.clients.lock().expect("clients lock");
        clients
            .entry(endpoint.to_owned())
            .or_insert_with(|| {
                let config = aws_sdk_apigatewaymanagement::config::Builder::from(&self.config)
                    .endpoint_url(endpoint)
                    .build();
                Client::from_conf(config)
            })
            .clone()
    }

    /// Posts raw bytes to a connection.
    pub async fn post(
        &self,
        endpoint: &str,
        connection_id: &str,
        data: Vec<u8>,
    ) -> Result<(), ManagementError> {
        let size = data.len();
        self.client(endpoint)
            .post_to_connection()
            .connection_id(connection_id)
            .data(Blob::new(data))
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(connection_id, size, &e))
    }

    /// Posts a JSON value to a connection.
    pub async fn post_json(
        &self,
        endpoint: &str,
        connection_id: &str,
        message: &serde_json::Value,
    ) -> Result<(), ManagementError> {
        self.post(endpoint, connection_id, message.to_string().into_bytes())
            .await
    }

    /// Reads a connection's info.
    pub async fn info(
        &self,
        endpoint: &str,
        connection_id: &str,
    ) -> Result<ConnectionInfo, ManagementError> {
        let answer = self
            .client(endpoint)
            .get_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map_err(|e| classify(connection_id, 0, &e))?;
        let identity = answer.identity();
        Ok(ConnectionInfo {
            connected_at: answer.connected_at().map(|t| t.to_string()),
            last_active_at: answer.last_active_at().map(|t| t.to_string()),
            source_ip: identity.and_then(|i| i.source_ip()).map(str::to_owned),
            user_agent: identity.and_then(|i| i.user_agent()).map(str::to_owned),
        })
    }

    /// Closes a connection (the gateway then runs `$disconnect`).
    pub async fn close(&self, endpoint: &str, connection_id: &str) -> Result<(), ManagementError> {
        self.client(endpoint)
            .delete_connection()
            .connection_id(connection_id)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| classify(connection_id, 0, &e))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoints_from_domains() {
        assert_eq!(
            endpoint_from_domain("abc.execute-api.us-east-1.amazonaws.com", "production"),
            "https://abc.execute-api.us-east-1.amazonaws.com/production"
        );
        assert_eq!(
            endpoint_from_domain("127.0.0.1:4510", "dev"),
            "http://127.0.0.1:4510/dev"
        );
        assert_eq!(
            endpoint_from_domain("localhost:4510", "dev"),
            "http://localhost:4510/dev"
        );
        assert_eq!(
            endpoint_from_domain("ws.example.com", "dev"),
            "https://ws.example.com/dev"
        );
    }
}
