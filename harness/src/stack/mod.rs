//! The local stack: everything backend/template.yaml declares, running on
//! this machine. DynamoDB Local with the template's tables, the Lambda
//! emulator with each function's real binary, one API Gateway emulator per
//! WebSocket API, one REST API emulator per REST API, one HTTP API emulator
//! per HTTP API, and the mock upstreams
//! (Vertex AI, Secrets Manager, Bedrock Runtime, SNS, an identity provider
//! for JWT authorizers, app store receipt checks, e-mail), wired
//! so the functions' clients reach them through endpoint overrides.

mod endpoints;
mod functions;
pub(crate) mod model_log;
mod upstreams;

use functions::function_spec;
pub use upstreams::Mocks;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use tokio::net::TcpListener;

use crate::cost::collect::StackMeters;
use crate::dynamodb::local::{DynamoDbLocal, Storage};
use crate::dynamodb::meter::MeteringProxy;
use crate::dynamodb::{self, DynamoError};
use crate::gateway::http_api::{HttpApiGateway, HttpApiSettings, MAX_HTTP_PAYLOAD_BYTES};
use crate::gateway::rest::{MAX_PAYLOAD_BYTES, RestGateway, RestSettings};
use crate::gateway::{GatewayError, GatewaySettings, Limits, WebSocketGateway};
use crate::lambda::{EmulatorSettings, FunctionSpec, LambdaEmulator, LambdaError};
use crate::template::{self, LoadOptions, Template, TemplateError};
use crate::time_scale::TimeScale;

/// Where the stack's DynamoDB comes from.
#[derive(Debug, Clone)]
pub enum DynamoSource {
    /// DynamoDB Local fetched into this cache directory and started with Java.
    Local {
        /// Cache directory.
        cache_dir: PathBuf,
    },
    /// An endpoint that already runs (tables are created in it).
    Endpoint(String),
    /// A DynamoDB Local without `-sharedDb` that other stacks use too (see
    /// [`dynamodb::shared`]): this stack's set-up and functions use an access
    /// key of their own, so its tables and items are its own.
    Shared {
        /// `http://127.0.0.1:PORT`.
        endpoint: String,
    },
    /// The `amazon/dynamodb-local` image through testcontainers (needs a Docker engine).
    #[cfg(feature = "docker")]
    Docker,
}

/// The DynamoDB this stack started (and must stop).
#[derive(Debug)]
enum RunningDynamo {
    Local(Box<DynamoDbLocal>),
    #[cfg(feature = "docker")]
    Docker(Box<dynamodb::docker::DockerDynamo>),
}

/// Why DynamoDB cannot be killed or restarted.
#[derive(Debug, thiserror::Error)]
pub enum DynamoControlError {
    /// The stack did not start DynamoDB Local itself (an endpoint or Docker).
    #[error("this stack does not run DynamoDB Local itself")]
    NotLocal,
    /// DynamoDB Local would not start again.
    #[error(transparent)]
    Restart(#[from] DynamoError),
}

impl RunningDynamo {
    async fn stop(self) {
        match self {
            RunningDynamo::Local(local) => local.stop().await,
            #[cfg(feature = "docker")]
            RunningDynamo::Docker(container) => container.stop().await,
        }
    }
}

/// How to start the stack.
#[derive(Debug, Clone)]
pub struct StackOptions {
    /// The template.
    pub template: PathBuf,
    /// Stack name, region, account and parameter overrides.
    pub load: LoadOptions,
    /// The time scale.
    pub time_scale: TimeScale,
    /// First port for the APIs (0: free ports everywhere).
    pub port: u16,
    /// DynamoDB.
    pub dynamodb: DynamoSource,
    /// Where the function binaries are.
    pub functions_dir: PathBuf,
    /// Extra environment for every function (endpoint overrides of mocks, log level).
    pub function_env: BTreeMap<String, String>,
    /// Keep every invocation's event in its record.
    pub capture_events: bool,
    /// Gateway limits (scenario time).
    pub limits: Limits,
    /// Utterances the speech mocks recognise (speech duration, transcript):
    /// the scenario clips' sidecar transcripts.
    pub transcripts: Vec<(Duration, String)>,
    /// Keep DynamoDB Local's data in a temporary folder instead of memory,
    /// so [`LocalStack::kill_dynamodb`] and [`LocalStack::restart_dynamodb`]
    /// lose nothing (the reliability suite). Only for [`DynamoSource::Local`].
    pub persistent_dynamodb: bool,
}

impl StackOptions {
    /// Defaults for a template: free ports, DynamoDB Local from the cache, real time.
    pub fn new(template: impl Into<PathBuf>) -> Self {
        Self {
            template: template.into(),
            load: LoadOptions::default(),
            time_scale: TimeScale::REAL_TIME,
            port: 0,
            dynamodb: DynamoSource::Local {
                cache_dir: dynamodb::local::cache_dir(),
            },
            functions_dir: default_functions_dir(),
            function_env: BTreeMap::new(),
            capture_events: false,
            limits: Limits::default(),
            transcripts: Vec::new(),
            persistent_dynamodb: false,
        }
    }
}

/// Why the stack could not start.
#[derive(Debug, thiserror::Error)]
pub enum StackError {
    /// The template.
    #[error(transparent)]
    Template(#[from] TemplateError),
    /// DynamoDB.
    #[error(transparent)]
    Dynamo(#[from] DynamoError),
    /// The Lambda emulator.
    #[error(transparent)]
    Lambda(#[from] LambdaError),
    /// A gateway.
    #[error(transparent)]
    Gateway(#[from] GatewayError),
    /// Seed data (backend/seed-data/*.json).
    #[error(transparent)]
    SeedData(#[from] crate::seed_data::SeedError),
    /// The DynamoDB metering proxy.
    #[error("starting the DynamoDB metering proxy: {0}")]
    MeteringProxy(std::io::Error),
    /// A mock upstream.
    #[error("starting the {mock} mock: {source}")]
    Mock {
        /// Which.
        mock: &'static str,
        /// The cause.
        source: std::io::Error,
    },
}

/// The directory with the function binaries when none is given: the one the
/// running executable sits in (`target/<profile>`; tests run from `deps/`,
/// examples from `examples/`).
pub fn default_functions_dir() -> PathBuf {
    let exe = std::env::current_exe().unwrap_or_default();
    let dir = exe.parent().map(Path::to_path_buf).unwrap_or_default();
    if dir
        .file_name()
        .is_some_and(|n| n == "deps" || n == "examples")
    {
        dir.parent().map(Path::to_path_buf).unwrap_or(dir)
    } else {
        dir
    }
}

/// The running stack.
///
/// # Example
/// Start everything a SAM template declares (DynamoDB Local with its tables,
/// the mocks, the Lambda emulator running the function binaries, the API
/// Gateway emulators), talk to a WebSocket API, read what was billed, stop:
/// ```no_run
/// use harness::{LocalStack, StackOptions, TimeScale};
///
/// # #[tokio::main(flavor = "current_thread")]
/// # async fn main() -> Result<(), Box<dyn std::error::Error>> {
/// let mut options = StackOptions::new("backend/template.yaml");
/// // Every time limit (API Gateway's, Lambda's, the models') divided by 12.
/// options.time_scale = TimeScale::new(12.0)?;
/// let stack = LocalStack::start(options).await?;
/// let speaking = stack
///     .websocket("SpeakingWebSocketApi")
///     .expect("the template declares it");
/// println!("connect a client to {}", speaking.url());
/// println!("DynamoDB Local (metered) at {}", stack.dynamodb_endpoint());
/// println!("Vertex AI mock at {}", stack.mocks().vertex.base_url());
/// let meters = stack.stop_metered().await;
/// println!("{meters:?}");
/// # Ok(())
/// # }
/// ```
#[derive(Debug)]
pub struct LocalStack {
    template: Template,
    dynamodb: tokio::sync::Mutex<Option<RunningDynamo>>,
    /// The `-dbPath` folder of a persistent DynamoDB Local (removed on drop).
    _dynamodb_dir: Option<tempfile::TempDir>,
    dynamodb_endpoint: String,
    /// The access key of this stack's set-up and functions.
    dynamodb_access_key: String,
    dynamodb_meter: MeteringProxy,
    lambda: LambdaEmulator,
    gateways: BTreeMap<String, WebSocketGateway>,
    rest_gateways: BTreeMap<String, RestGateway>,
    http_gateways: BTreeMap<String, HttpApiGateway>,
    mocks: Mocks,
    time_scale: TimeScale,
}

impl LocalStack {
    /// Starts everything the template declares.
    pub async fn start(options: StackOptions) -> Result<Self, StackError> {
        let template = template::load_file(&options.template, &options.load)?;
        // A model past its end of life fails every call, locally as in the
        // cloud: say so before anything runs.
        let today = chrono::Utc::now().date_naive();
        for warning in template::lifecycle::model_warnings(&template, today) {
            tracing::warn!("{warning}");
        }
        let mut dynamodb_dir = None;
        let (dynamodb, dynamodb_endpoint) = match &options.dynamodb {
            DynamoSource::Local { cache_dir } => {
                let installation = dynamodb::local::install(cache_dir).await?;
                let storage = if options.persistent_dynamodb {
                    let dir = tempfile::Builder::new()
                        .prefix("speechgate-dynamodb-")
                        .tempdir()
                        .map_err(|e| DynamoError::Start(format!("no temporary folder: {e}")))?;
                    let storage = Storage::Dir(dir.path().to_path_buf());
                    dynamodb_dir = Some(dir);
                    storage
                } else {
                    Storage::InMemory
                };
                let running = DynamoDbLocal::start_with(&installation, storage).await?;
                tracing::info!("DynamoDB Local answered after {:?}", running.started_in());
                let endpoint = running.endpoint().to_owned();
                (Some(RunningDynamo::Local(Box::new(running))), endpoint)
            }
            DynamoSource::Endpoint(url) | DynamoSource::Shared { endpoint: url } => {
                (None, url.clone())
            }
            #[cfg(feature = "docker")]
            DynamoSource::Docker => {
                let running = dynamodb::docker::DockerDynamo::start().await?;
                let endpoint = running.endpoint().to_owned();
                (Some(RunningDynamo::Docker(Box::new(running))), endpoint)
            }
        };
        let dynamodb_access_key = match &options.dynamodb {
            DynamoSource::Shared { .. } => dynamodb::shared::access_key_for_new_stack(),
            _ => functions::ACCESS_KEY.to_owned(),
        };
        let client =
            dynamodb::client_as(&dynamodb_endpoint, &template.region, &dynamodb_access_key).await;
        dynamodb::create_tables(&client, template.tables.values()).await?;
        let seeded = crate::seed_data::load_dir(
            &client,
            &template,
            &crate::seed_data::dir_for(&options.template),
        )
        .await?;
        tracing::info!(?seeded, "seed data loaded");
        // The functions reach DynamoDB through the metering proxy; the
        // stack's own set-up above does not count.
        let dynamodb_meter = MeteringProxy::start(&dynamodb_endpoint)
            .await
            .map_err(StackError::MeteringProxy)?;
        let function_dynamodb_endpoint = dynamodb_meter.endpoint();
        let mocks = upstreams::start(&options).await?;
        upstreams::seed_secrets(&mocks, &template);
        upstreams::seed_identity(&mocks, &template);
        let mock_env = mocks.environment();

        // Bind the API listeners first: functions must know their local URLs.
        // Ports, when fixed: WebSocket APIs, then REST APIs, then HTTP APIs.
        let api_ids: Vec<(&str, &str, bool)> = template
            .websocket_apis
            .values()
            .map(|a| (a.logical_id.as_str(), a.api_id.as_str(), true))
            .chain(
                template
                    .rest_apis
                    .values()
                    .map(|a| (a.logical_id.as_str(), a.api_id.as_str(), false)),
            )
            .chain(
                template
                    .http_apis
                    .values()
                    .map(|a| (a.logical_id.as_str(), a.api_id.as_str(), false)),
            )
            .collect();
        let mut listeners = BTreeMap::new();
        let mut rewrites = Vec::new();
        for (index, (logical_id, api_id, websocket)) in api_ids.into_iter().enumerate() {
            let port = if options.port == 0 {
                0
            } else {
                options.port + u16::try_from(index).unwrap_or(0)
            };
            let bind_error = |source| GatewayError::Bind {
                api: logical_id.to_owned(),
                source,
            };
            let listener = TcpListener::bind(("127.0.0.1", port))
                .await
                .map_err(bind_error)?;
            let addr = listener.local_addr().map_err(bind_error)?;
            let host = format!("{api_id}.execute-api.{}.amazonaws.com", template.region);
            rewrites.push((format!("https://{host}"), format!("http://{addr}")));
            if websocket {
                rewrites.push((format!("wss://{host}"), format!("ws://{addr}")));
            }
            listeners.insert(logical_id.to_owned(), listener);
        }

        let specs = template
            .functions
            .values()
            .map(|f| {
                let mut mock_env = mock_env.clone();
                mock_env.extend(upstreams::declared_overrides(&mocks, &f.environment));
                function_spec(
                    &template,
                    f,
                    &options,
                    (&function_dynamodb_endpoint, &dynamodb_access_key),
                    &rewrites,
                    &mock_env,
                )
            })
            .collect();
        let lambda = LambdaEmulator::new(
            specs,
            EmulatorSettings {
                time_scale: options.time_scale,
                capture_events: options.capture_events,
            },
        )?;
        let settings = GatewaySettings {
            time_scale: options.time_scale,
            region: template.region.clone(),
            account_id: template.account_id.clone(),
            limits: options.limits.clone(),
        };
        let rest_settings = RestSettings {
            time_scale: options.time_scale,
            account_id: template.account_id.clone(),
            max_payload_bytes: MAX_PAYLOAD_BYTES,
        };
        let http_settings = HttpApiSettings {
            time_scale: options.time_scale,
            account_id: template.account_id.clone(),
            region: template.region.clone(),
            max_payload_bytes: MAX_HTTP_PAYLOAD_BYTES,
            jwks_url: Some(mocks.identity.jwks_url()),
        };
        let mut gateways = BTreeMap::new();
        let mut rest_gateways = BTreeMap::new();
        let mut http_gateways = BTreeMap::new();
        for (logical_id, listener) in listeners {
            let lambda = lambda.clone();
            if let Some(api) = template.websocket_apis.get(&logical_id) {
                let gateway =
                    WebSocketGateway::start(api.clone(), lambda, settings.clone(), listener)
                        .await?;
                gateways.insert(logical_id, gateway);
            } else if let Some(api) = template.rest_apis.get(&logical_id) {
                let gateway =
                    RestGateway::start(api.clone(), lambda, rest_settings.clone(), listener)
                        .await?;
                rest_gateways.insert(logical_id, gateway);
            } else {
                let api = template.http_apis[&logical_id].clone();
                let gateway =
                    HttpApiGateway::start(api, lambda, http_settings.clone(), listener).await?;
                http_gateways.insert(logical_id, gateway);
            }
        }
        Ok(Self {
            template,
            dynamodb: tokio::sync::Mutex::new(dynamodb),
            _dynamodb_dir: dynamodb_dir,
            dynamodb_endpoint,
            dynamodb_access_key,
            dynamodb_meter,
            lambda,
            gateways,
            rest_gateways,
            http_gateways,
            mocks,
            time_scale: options.time_scale,
        })
    }

    /// The resolved template.
    pub fn template(&self) -> &Template {
        &self.template
    }

    /// The Lambda emulator (invocation records, logs).
    pub fn lambda(&self) -> &LambdaEmulator {
        &self.lambda
    }

    /// The DynamoDB endpoint.
    pub fn dynamodb_endpoint(&self) -> &str {
        &self.dynamodb_endpoint
    }

    /// The access key of this stack's set-up and functions.
    pub fn dynamodb_access_key(&self) -> &str {
        &self.dynamodb_access_key
    }

    /// A client that sees this stack's tables (its access key: see
    /// [`DynamoSource::Shared`]).
    pub async fn dynamodb_client(&self) -> aws_sdk_dynamodb::Client {
        dynamodb::client_as(
            &self.dynamodb_endpoint,
            &self.template.region,
            &self.dynamodb_access_key,
        )
        .await
    }

    /// The metering proxy the functions reach DynamoDB through (readings,
    /// fault hook).
    pub fn dynamodb_meter(&self) -> &MeteringProxy {
        &self.dynamodb_meter
    }

    /// How long DynamoDB Local took to start (when this stack started it with Java).
    pub fn dynamodb_start_time(&self) -> Option<Duration> {
        match &*self.dynamodb.try_lock().ok()? {
            Some(RunningDynamo::Local(local)) => Some(local.started_in()),
            _ => None,
        }
    }

    /// Kills DynamoDB Local (SIGKILL) and leaves it down: the functions'
    /// calls fail at the metering proxy (502) until [`Self::restart_dynamodb`].
    pub async fn kill_dynamodb(&self) -> Result<(), DynamoControlError> {
        match &mut *self.dynamodb.lock().await {
            Some(RunningDynamo::Local(local)) => {
                local.kill().await;
                Ok(())
            }
            _ => Err(DynamoControlError::NotLocal),
        }
    }

    /// Starts DynamoDB Local again on its port (the endpoint does not
    /// change). Its data survives only with [`StackOptions::persistent_dynamodb`].
    pub async fn restart_dynamodb(&self) -> Result<Duration, DynamoControlError> {
        match &mut *self.dynamodb.lock().await {
            Some(RunningDynamo::Local(local)) => {
                local.restart().await?;
                Ok(local.started_in())
            }
            _ => Err(DynamoControlError::NotLocal),
        }
    }

    /// The mock upstreams.
    pub fn mocks(&self) -> &Mocks {
        &self.mocks
    }

    /// The models' own conversation logs (the mocks' control APIs).
    pub fn model_log_source(&self) -> crate::turns::ModelLogSource {
        model_log::source(self.mocks.vertex.base_url(), self.mocks.bedrock.base_url())
    }

    /// A WebSocket API by logical id.
    pub fn websocket(&self, logical_id: &str) -> Option<&WebSocketGateway> {
        self.gateways.get(logical_id)
    }

    /// A REST API by logical id.
    pub fn rest(&self, logical_id: &str) -> Option<&RestGateway> {
        self.rest_gateways.get(logical_id)
    }

    /// An HTTP API by logical id.
    pub fn http_api(&self, logical_id: &str) -> Option<&HttpApiGateway> {
        self.http_gateways.get(logical_id)
    }

    /// Stops everything: closes sockets (each gets `$disconnect`), kills every
    /// function instance, stops DynamoDB Local.
    pub async fn stop(self) {
        let _ = self.stop_metered().await;
    }

    /// [`Self::stop`], returning what the stack metered, read once the
    /// gateways have closed (so the last `$disconnect` invocations and the
    /// sessions' owners are over and recorded) and before the rest stops.
    pub async fn stop_metered(self) -> StackMeters {
        let mut websocket = BTreeMap::new();
        for (name, gateway) in self.gateways {
            websocket.insert(name, gateway.shutdown_metered().await);
        }
        let mut http_apis = BTreeMap::new();
        for (name, gateway) in self.rest_gateways {
            http_apis.insert(name, gateway.shutdown_metered().await);
        }
        for (name, gateway) in self.http_gateways {
            http_apis.insert(name, gateway.shutdown_metered().await);
        }
        let meters = StackMeters {
            time_scale: self.time_scale.factor(),
            invocations: self.lambda.records(),
            websocket,
            http_apis,
            dynamodb: self.dynamodb_meter.reading(),
            secrets: self.mocks.secrets.calls(),
            vertex: self.mocks.vertex.usage(),
            vertex_sessions: self.mocks.vertex.sessions(),
            bedrock: self.mocks.bedrock.usage(),
        };
        self.lambda.shutdown().await;
        self.mocks.stop().await;
        self.dynamodb_meter.stop().await;
        if let Some(dynamodb) = self.dynamodb.into_inner() {
            dynamodb.stop().await;
        }
        meters
    }
}

#[cfg(test)]
mod tests {
    use super::functions::rewrite;

    #[test]
    fn api_urls_are_rewritten() {
        let rewrites = vec![(
            "https://abc.execute-api.us-east-1.amazonaws.com".to_owned(),
            "http://127.0.0.1:5000".to_owned(),
        )];
        assert_eq!(
            rewrite(
                "https://abc.execute-api.us-east-1.amazonaws.com/production",
                &rewrites
            ),
            "http://127.0.0.1:5000/production"
        );
        assert_eq!(rewrite("unrelated", &rewrites), "unrelated");
    }
}
