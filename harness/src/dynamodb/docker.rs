//! DynamoDB Local as AWS's `amazon/dynamodb-local` image, through
//! testcontainers, where a Docker engine answers (`--dynamodb docker`).
//! `DYNAMODB_LOCAL_IMAGE` (`name:tag`) picks another image.

use testcontainers::core::{IntoContainerPort, WaitFor};
use testcontainers::runners::AsyncRunner;
use testcontainers::{ContainerAsync, GenericImage, ImageExt};

use super::DynamoError;

/// A running DynamoDB Local container (removed on drop).
pub struct DockerDynamo {
    container: ContainerAsync<GenericImage>,
    endpoint: String,
}

impl std::fmt::Debug for DockerDynamo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DockerDynamo")
            .field("endpoint", &self.endpoint)
            .finish_non_exhaustive()
    }
}

impl DockerDynamo {
    /// Starts the image in memory and waits for its banner.
    pub async fn start() -> Result<Self, DynamoError> {
        let image = std::env::var("DYNAMODB_LOCAL_IMAGE")
            .unwrap_or_else(|_| "amazon/dynamodb-local:latest".to_owned());
        let (name, tag) = image.rsplit_once(':').unwrap_or((image.as_str(), "latest"));
        let container = GenericImage::new(name, tag)
            .with_exposed_port(8000.tcp())
            .with_wait_for(WaitFor::message_on_stdout("Initializing DynamoDB Local"))
            .with_cmd([
                "-jar",
                "DynamoDBLocal.jar",
                "-inMemory",
                "-sharedDb",
                "-disableTelemetry",
            ])
            .start()
            .await
            .map_err(|e| {
                DynamoError::Start(format!("Docker engine not usable for {image}: {e}"))
            })?;
        let port = container
            .get_host_port_ipv4(8000.tcp())
            .await
            .map_err(|e| DynamoError::Start(format!("container port: {e}")))?;
        Ok(Self {
            container,
            endpoint: format!("http://127.0.0.1:{port}"),
        })
    }

    /// Its endpoint.
    pub fn endpoint(&self) -> &str {
        &self.endpoint
    }

    /// Stops and removes the container.
    pub async fn stop(self) {
        let _ = self.container.rm().await;
    }
}

/// Whether a Docker engine answers (the socket or `DOCKER_HOST` responds to a ping).
pub async fn engine_answers() -> bool {
    let Ok(output) = tokio::process::Command::new("docker")
        .args(["info", "--format", "{{.ServerVersion}}"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .output()
        .await
    else {
        return false;
    };
    output.status.success() && !output.stdout.trim_ascii().is_empty()
}
