//! What `harness up` prints when the stack is ready: every API's URL, stage
//! and routes, DynamoDB, the tables, the functions and the mocks, as one
//! JSON line.

use serde_json::{Value, json};

use super::LocalStack;

impl LocalStack {
    /// The one line `harness up` prints: every endpoint by name.
    pub fn endpoints(&self) -> Value {
        let apis: serde_json::Map<String, Value> = self
            .gateways
            .iter()
            .map(|(name, gateway)| {
                let api = gateway.api();
                (
                    name.clone(),
                    json!({
                        "name": api.name,
                        "api_id": api.api_id,
                        "url": gateway.url(),
                        "stages": api.stages,
                        "connections": format!("{}/@connections", gateway.management_endpoint()),
                        "routes": api.routes.keys().collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        let rest_apis: serde_json::Map<String, Value> = self
            .rest_gateways
            .iter()
            .map(|(name, gateway)| {
                let api = gateway.api();
                let routes: Vec<String> = api
                    .routes
                    .iter()
                    .map(|r| format!("{} {}", r.method, r.path))
                    .collect();
                (
                    name.clone(),
                    json!({
                        "name": api.name,
                        "api_id": api.api_id,
                        "url": gateway.url(),
                        "stage": api.stage,
                        "routes": routes,
                    }),
                )
            })
            .collect();
        let http_apis: serde_json::Map<String, Value> = self
            .http_gateways
            .iter()
            .map(|(name, gateway)| {
                let api = gateway.api();
                let routes: Vec<String> = api.routes.iter().map(|r| r.key()).collect();
                (
                    name.clone(),
                    json!({
                        "name": api.name,
                        "api_id": api.api_id,
                        "url": gateway.url(),
                        "stage": api.stage,
                        "routes": routes,
                        "authorizers": api.authorizers.keys().collect::<Vec<_>>(),
                    }),
                )
            })
            .collect();
        json!({
            "event": "ready",
            "websocket_apis": apis,
            "rest_apis": rest_apis,
            "http_apis": http_apis,
            "dynamodb": self.dynamodb_endpoint,
            "dynamodb_access_key": self.dynamodb_access_key,
            "dynamodb_metering_proxy": self.dynamodb_meter.endpoint(),
            "tables": self.template.tables.values().map(|t| &t.table_name).collect::<Vec<_>>(),
            "functions": self.template.functions.keys().collect::<Vec<_>>(),
            "mocks": {
                "vertex": self.mocks.vertex.base_url_template(),
                "secrets_manager": self.mocks.secrets.base_url(),
                "bedrock_runtime": self.mocks.bedrock.base_url(),
                "sns": self.mocks.sns.base_url(),
                "identity": self.mocks.identity.base_url(),
                "stores": self.mocks.stores.base_url(),
                "email": self.mocks.email.base_url(),
            },
            "time_scale": self.time_scale.factor(),
        })
    }
}
